/* GPTQ's calibration statistics, as the records' collect_hessians gathers them: for each
 * matrix the export quantizes, H = X^T X of its input rows summed over the calibration
 * passes (every virtual step that runs a layer adds to that layer's H), then divided by
 * the number of passes. Inputs: c_q, c_k and c_v share the normed, LN-scaled attention
 * input; attn.proj reads the attention output after XSA and the gate; mlp.fc the normed
 * MLP input; mlp.proj the activation; the tied tok_emb the final norm's output. The sums
 * live on the model's backend (the backend's linear_bwd computes X^T X). Saved as a
 * container file (common/container.h, magic PGOLFHES) beside the checkpoint. */
#ifndef PG_HESSIAN_H
#define PG_HESSIAN_H

#include "kernels/model.h"

enum { PG_HESS_ATTN, PG_HESS_PROJ, PG_HESS_FC, PG_HESS_DOWN, PG_HESS_PER_LAYER };

typedef struct {
    const pg_backend *be;
    int layers, D, F;
    size_t per_layer; /* 3 D^2 + F^2 */
    pg_real *h;       /* layer l's at l * per_layer (attn, proj, fc [D][D], down [F][F]),
                         then the embedding's [D][D] */
    long passes;
} pg_hessians;

int pg_hessians_create(pg_hessians *hs, const pg_model *m);
void pg_hessians_free(pg_hessians *hs);
/* Adds the pass just run forward on a (keep_layers activations of m). */
void pg_hessians_add(pg_hessians *hs, const pg_model *m, pg_acts *a);
/* The Hessian of a tensor of m by its name ("blocks.3.attn.c_k.weight", "tok_emb.weight")
 * and its dimension; NULL when the export does not quantize it with one. Host memory of
 * a loaded file (pg_hessians_load) or the backend's. */
const pg_real *pg_hessian_of(const pg_hessians *hs, const char *name, int *dim);
/* Writes the sums divided by the passes (rank 0's file, atomically). */
int pg_hessians_save(const pg_hessians *hs, const char *path);
/* Reads a file for m's shape into host memory (be = the CPU). */
int pg_hessians_load(pg_hessians *hs, const char *path, const pg_model *m);

#endif
