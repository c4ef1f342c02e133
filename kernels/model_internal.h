/* What the model's files share (kernels/model.c: parameters and activations;
 * model_lora.c: the adapters; model_block.c: one block; model_stack.c: the layer list
 * with its skips and lanes, the embedding and the head). Not for use outside them. */
#ifndef PG_MODEL_INTERNAL_H
#define PG_MODEL_INTERNAL_H

#include "kernels/model.h"

/* rms_norm's eps is the machine epsilon of the compute type (kernels/real.h). */
#define PG_RMS_EPS PG_REAL_EPS

/* The tensor behind `param` (a pointer into m->params) in `base`, an array laid out
 * like m->params (a gradient or optimizer state). */
static inline pg_real *pg_model_same(const pg_model *m, pg_real *base, const pg_real *param)
{
    return base + (param - m->params);
}

/* The views of physical layer l's tensors in `base`, an array laid out like m->params. */
pg_block_views pg_model_block_views(const pg_model *m, pg_real *base, int l);

/* The saved activations of virtual step k (distinct per step with keep_layers, else
 * shared). */
typedef struct {
    pg_real *x_in, *x_mix, *attn_in, *attn_rstd, *q_lin, *k_lin, *v, *qn, *q, *k, *q_rstd,
        *k_rstd, *att_state, *att_raw, *att_xsa, *att, *attn_out, *x_attn, *mlp_in, *mlp_rstd, *fc_out,
        *act, *mlp_out, *x_out, *lane1_in, *lane1_out, *branch_m;
} pg_layer_acts;

pg_layer_acts pg_layer_at(pg_acts *a, int k);

/* A bf16-mode rounding point (pg_acts_set_bf16): x rounded when the mode is on. */
static inline void pg_bf16_point(const pg_acts *a, pg_real *x, size_t n)
{
    if (a->bf16)
        a->be->round_bf16(x, n);
}

/* One step of the layer list: physical layer l at virtual step k. */
typedef struct {
    int k, l;
    double ln_scale; /* the normed inputs' factor: 1/sqrt(l+1) with LN_SCALE, else 1 */
    int xsa;         /* l is one of the last XSA_LAST_N layers */
    pg_head_gate_kind gate; /* the output gate (gate.suffix NULL: none) */
} pg_step;

pg_step pg_model_step(const pg_model *m, int k, int l);

/* The physical layer of each virtual step of m's passes (the recurrence skipped while
 * loops_off); returns the step count. */
int pg_model_layer_list(const pg_model *m, int *list);

/* Blocks (model_block.c). The sequential block: x_out from x_in. The parallel block:
 * lane 0 (x_in, x_out) and lane 1 (lane1_in, lane1_out). Backwards take the outputs'
 * gradients; the sequential one writes the input's into g_in (may alias g_out), the
 * parallel one writes lane 0's into g0 and lane 1's into g1 in place. */
void pg_block_forward(const pg_model *m, pg_acts *a, const pg_step *st);
void pg_block_backward(const pg_model *m, pg_acts *a, const pg_step *st, const pg_block_views *gw,
                       const pg_real *g_out, pg_real *g_in);
void pg_parallel_block_forward(const pg_model *m, pg_acts *a, const pg_step *st);
void pg_parallel_block_backward(const pg_model *m, pg_acts *a, const pg_step *st,
                                const pg_block_views *gw, pg_real *grad, pg_real *g0,
                                pg_real *g1);

/* LoRA (model_lora.c): out [N][width] += step k's adapter `t` (PG_LORA_*) of x [N][D];
 * k = -1 with t = PG_LORA_TARGETS is the head's. The backward accumulates the adapter's
 * gradients and dx += its input gradient; no-ops where that adapter is absent. */
void pg_lora_forward(const pg_model *m, pg_acts *a, int k, int t, int N, const pg_real *x,
                     pg_real *out);
void pg_lora_backward(const pg_model *m, pg_acts *a, int k, int t, int N, const pg_real *x,
                      const pg_real *dout, pg_real *dx);

#endif
