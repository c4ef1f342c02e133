/* The baseline GPT of DESIGN §4: parameter layout with the reference's tensor names,
 * deterministic init, and the one graph of the forward pass (logits, per-token losses)
 * and the backward pass. The graph only calls the backend table (kernels/backend.h):
 * parameters, gradients and activations are the backend's memory, and model.c holds no
 * arithmetic of its own. All parameters live in one pg_real array; views point into it,
 * so a gradient or optimizer-state array of the same size gets the same views. A model
 * lives on one backend: init and the LoRA reset draw on the host and copy the result to
 * it, and pg_model_read_params / pg_model_write_params are the only other ways across. */
#ifndef PG_MODEL_H
#define PG_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"
#include "kernels/config.h"
#include "kernels/real.h"

#define PG_TENSOR_NAME_MAX 64

/* Optimizer groups of the reference: the tied embedding (Adam, TIED_EMBED_LR), 2-D block
 * matrices (Muon, MATRIX_LR), and vectors, scalars, control tensors and skip_weights
 * (Adam, SCALAR_LR). */
enum { PG_GROUP_EMBED = 0, PG_GROUP_MATRIX = 1, PG_GROUP_SCALAR = 2 };

typedef struct {
    char name[PG_TENSOR_NAME_MAX];
    int group;    /* PG_GROUP_* */
    int ndim;     /* 1 or 2 */
    int shape[2]; /* shape[1] is 1 for vectors */
    size_t offset, numel;
} pg_tensor_info;

typedef struct {
    pg_real *c_q, *c_k, *c_v, *attn_proj, *q_gain; /* attn.c_q.weight ... attn.q_gain */
    pg_real *fc, *mlp_proj;                        /* mlp.fc.weight, mlp.proj.weight */
    pg_real *attn_scale, *mlp_scale, *resid_mix;   /* resid_mix is [2][dim] */
    pg_real *attn_gate; /* the output gate's W [heads][window] (pg_config_head_gate), or NULL */
} pg_block_views;

typedef struct {
    pg_real *tok_emb;      /* [vocab][dim], tied with the output head */
    pg_real *skip_weights; /* [nskip][dim] (pg_config_num_skips) */
    pg_real *skip_gates;   /* [nskip][dim] with SKIP_GATES_ENABLED, else NULL */
    pg_real *par_post;     /* parallel_post_lambdas [L][2][2] (branch, lane), else NULL */
    pg_real *par_resid;    /* parallel_resid_lambdas [L][2] (lane), else NULL */
    pg_real *smear_w;      /* smear_gate.weight [1][window] with SMEAR_GATE_ENABLED, else NULL */
    pg_real *smear_lambda; /* smear_lambda [1] */
    pg_block_views *blocks;
} pg_param_views;

/* Low-rank adapters (LoRA TTT), one set per step of the virtual layer list (as the
 * records'): out += scale * (x A^T) B^T on c_q, c_v and, as chosen, c_k, the attention's
 * output (reading the normed block input, as the records' o adapter), the MLP (a parallel
 * adapter on its normed input) and the head (on the final normed x, before the softcap).
 * The tensors live in one array `p` (gradients in `g`): per step, for each present target
 * in the order q, k, v, o, mlp, A [r][D] then B [out][r]; then the head's A [r][D] and
 * B [V][r]. `h` keeps each target's scale * x A^T for the backward pass. */
enum { PG_LORA_Q, PG_LORA_K, PG_LORA_V, PG_LORA_O, PG_LORA_MLP, PG_LORA_TARGETS };

typedef struct {
    int rank;
    int k, o, mlp, head; /* adapters besides q and v (which always have one) */
    double scale;        /* alpha / rank in the records; 1 for the March q/v adapters */
} pg_lora_spec;

typedef struct {
    const pg_backend *be;
    pg_lora_spec spec;
    int rank, max_rows;
    size_t per_layer, n;
    long off[PG_LORA_TARGETS]; /* offset of the target's A inside a step's set; -1: none */
    int out[PG_LORA_TARGETS];  /* the target's output width */
    size_t head_off;           /* the head's A, after every step's set */
    pg_real *p, *g;
    int steps;  /* virtual layers */
    pg_real *h; /* [steps * PG_LORA_TARGETS + 1][max_rows][rank] */
} pg_lora;

typedef struct {
    const pg_backend *be; /* where the parameters live and the graph runs */
    pg_model_config cfg;
    size_t num_params;
    int num_tensors;
    pg_tensor_info *tensors;
    pg_real *params;
    pg_param_views w;
    pg_lora *lora; /* NULL unless LoRA adapters are attached */
    /* 1: the NUM_LOOPS recurrence is skipped (the physical layers once, as the records
     * train before ENABLE_LOOPING_AT); a state of training, never saved */
    int loops_off;
} pg_model;

enum {
    PG_INIT_REFERENCE = 0, /* the reference's init: N(0, std) embedding, zero-init projections */
    PG_INIT_DENSE = 1      /* every tensor random (projections too, control tensors jittered);
                              for tests that must exercise every path of the forward */
};

/* A model with zero parameters on the CPU backend, or on `be`. */
int pg_model_create(pg_model *m, const pg_model_config *cfg);
int pg_model_create_on(pg_model *m, const pg_model_config *cfg, const pg_backend *be);
void pg_model_free(pg_model *m);
/* A deep copy on src's backend (for test-time training, which adapts weights in place). */
int pg_model_clone(pg_model *dst, const pg_model *src);
/* Moves m (no adapters attached) to backend be, keeping its parameters; on failure
 * (message) m is unchanged. */
int pg_model_to_backend(pg_model *m, const pg_backend *be);
/* All parameters to or from a host array of num_params reals, laid out like m->params. */
void pg_model_read_params(const pg_model *m, pg_real *host);
void pg_model_write_params(pg_model *m, const pg_real *host);
/* Fails (message) only when out of host memory for the draw. */
int pg_model_init(pg_model *m, uint64_t seed, int mode);
const pg_tensor_info *pg_model_find_tensor(const pg_model *m, const char *name);


/* Saved activations of one forward pass over B sequences of T positions. "Layer" below
 * is a step of the virtual layer list (pg_config_layer_list). With keep_layers the
 * per-layer buffers are distinct (as a backward pass needs); without, every step reuses
 * one set, which is all inference needs. */
typedef struct {
    const pg_backend *be;
    int B, T, keep_layers;
    int B_cap, T_cap; /* allocated shape; B and T may be set lower for a pass */
    pg_real *buf;
    /* model-level */
    pg_real *x0, *x0_rstd;         /* rms_norm(tok_emb[ids]) [BT][D], [BT] */
    pg_real *x_final, *final_rstd; /* final rms_norm output [BT][D], [BT] */
    pg_real *logits;               /* softcapped [BT][V] */
    double *losses;              /* [BT] */
    pg_real *rope_cos, *rope_sin;  /* [T][rope_dims/2], sin right after cos */
    int rope_rot;                  /* rope_dims */
    float rope_base;
    pg_real *skips;                /* encoder outputs kept for the U-Net skips [nskip][BT][D] */
    pg_real *lanes_out;            /* the parallel lanes combined [BT][D] (parallel only) */
    const pg_real *final_in;       /* the final norm's input (set by the forward) */
    /* per layer (index l * stride) */
    size_t stride_d, stride_kv, stride_f, stride_n, stride_nh, stride_nkv, stride_p;
    pg_real *x_in;        /* block input before resid mix [BT][D] */
    pg_real *x_mix;       /* after resid mix */
    pg_real *attn_in, *attn_rstd;
    pg_real *q_lin, *k_lin, *v; /* c_q/c_k/c_v outputs (v used as is) */
    pg_real *q, *k;             /* after qk rms_norm, RoPE and (q) q_gain */
    pg_real *q_rstd, *k_rstd;   /* [BT][H], [BT][KVH] */
    pg_real *qn;                /* q after rms_norm and RoPE, before q_gain */
    pg_real *att_state;         /* what attention_fwd keeps for the backward */
    pg_real *att_raw;           /* attention output [BT][D] (att itself without XSA) */
    pg_real *att_xsa;           /* after XSA (att_raw without it) */
    pg_real *att;               /* after the output gate (att_xsa without one): the
                                   projection's input [BT][D] */
    pg_real *attn_out;          /* after proj */
    pg_real *x_attn;            /* x after the attention residual */
    pg_real *mlp_in, *mlp_rstd;
    pg_real *fc_out, *act;      /* [BT][F] */
    pg_real *mlp_out;           /* after proj [BT][D] */
    pg_real *x_out;             /* block output (the parallel steps: lane 0's) */
    pg_real *lane1_in, *lane1_out; /* the parallel steps' second lane (parallel only) */
    pg_real *branch_m;          /* mlp_scale (.) mlp_out of a parallel step; x_attn holds
                                   attn_scale (.) attn_out there */
    /* backward scratch (keep_layers only) */
    pg_real *g_logits;          /* [BT][V] */
    pg_real *g_x, *g_x0;        /* residual stream and x0 gradients [BT][D] */
    pg_real *g_skips;           /* encoder outputs' gradients from the skips [nskip][BT][D] */
    pg_real *g_lane1;           /* the second lane's gradient [BT][D] (parallel only) */
    pg_real *g_gate[2];         /* the output gate's input and normed-input gradients (gates
                                   only) */
    pg_real *g_d[8];            /* [BT][D] temporaries (5, or 8 with parallel lanes) */
    pg_real *g_kv[3];           /* [BT][KVD] temporaries */
    pg_real *g_f[2];            /* [BT][F] */
    /* the pass's inputs, copied in by forward and backward */
    int *ids, *targets;         /* [BT] */
    int *span;                  /* [BT] the document masks (pg_acts_set_spans) */
    int span_on;
    int loss_from;              /* pg_acts_set_loss_from */
    int bf16;                   /* the forward rounds to bfloat16 (pg_acts_set_bf16) */
    /* workspace, sized once here so no op allocates: LoRA's output temporary ([BT][V] with
     * a head adapter, else [BT][D]) and input gradient [BT][D] (NULL without adapters),
     * then the largest scratch a backward op takes (keep_layers only) */
    pg_real *lora_tmp, *lora_dx, *scratch;
} pg_acts;

/* Activations for passes of m (on m's backend) over up to B x T positions. */
int pg_acts_create(pg_acts *a, const pg_model *m, int B, int T, int keep_layers);
void pg_acts_free(pg_acts *a);
/* Sets the shape of the next pass; must fit the allocated B_cap x T_cap. */
int pg_acts_set_shape(pg_acts *a, int B, int T);
/* Documents packed in the sequences of the next passes: position t of sequence b attends
 * to positions span[b*T + t] .. t of it only (host array of B*T, each <= its t); NULL:
 * plain causal attention again. Only attention reads it: SmearGate still reaches across
 * (as the records' packed forward). */
void pg_acts_set_spans(pg_acts *a, const int *span);
/* The backwards that follow count only each sequence's positions >= from (the records'
 * TTT trains on the last chunk of a window); 0: every position. */
void pg_acts_set_loss_from(pg_acts *a, int from);
/* The bf16 mode of the forwards that follow (1) or float32 (0). It rounds to bfloat16
 * where the records' autocast leaves a bfloat16 tensor: each op's output (the linear
 * layers', the norms', the RoPE tables and rotations, the attention's, the residual
 * adds', the logits and the softcap), with the parameters rounded by the caller
 * (pg_model_round_bf16); the cross-entropy stays float32 (double here). Each op rounds
 * once where torch rounds after each of its elementary steps (x + s * d twice), so the two
 * agree to bfloat16's rounding, not bit for bit. Forward only: a backward after a bf16
 * forward is not defined. */
void pg_acts_set_bf16(pg_acts *a, int on);
/* Rounds every parameter of m to bfloat16 (the records' eval model casts each at use). */
void pg_model_round_bf16(pg_model *m);

/* Forward over ids [B*T]; with targets (may be NULL) fills losses and returns their sum,
 * else returns 0. Logits are always filled. */
double pg_model_forward(const pg_model *m, pg_acts *a, const int *ids, const int *targets);

/* Adapters for m as spec says over up to max_rows positions per pass; pg_lora_reset
 * draws every A (seeded: per step q and v interleaved, then k, o, mlp; the head's last)
 * and zeroes B, so a fresh adapter changes nothing; pg_lora_zero_b keeps A (the records'
 * warm start). */
int pg_lora_create(pg_lora *l, const pg_model *m, const pg_lora_spec *spec, int max_rows);
int pg_lora_reset(pg_lora *l, const pg_model *m, uint64_t seed);
void pg_lora_zero_b(pg_lora *l, const pg_model *m);
void pg_lora_free(pg_lora *l);

/* Backward of sum_r dloss * loss[r] after a forward with targets on acts made with
 * keep_layers; ACCUMULATES into grad (laid out like m->params), and into m->lora->g
 * when adapters are attached. */
void pg_model_backward(const pg_model *m, pg_acts *a, const int *ids, const int *targets,
                       pg_real *grad, double dloss);

#define PG_LAYER(a, field, stride, l) ((a)->field + (size_t)(l) * (a)->stride)

#endif
