/* Turns a PyTorch state dict (torchfile.h) of the baseline family or the records' family
 * (DESIGN §11) into a pgolf model.
 *
 * The reference's tensor names are pgolf's (the records' banks are split into them). The
 * shape comes from the tensors: vocab and width from tok_emb.weight, layers from
 * blocks.N, heads from q_gain, KV heads from c_k, the MLP width from mlp.fc, and the
 * records' switches from their tensors (skip_gates, the gates, SmearGate). What tensors
 * cannot tell (MLP activation, softcap, RoPE base and dims, loops, LN scale, XSA, the
 * lanes' start, training context) comes from the run's log ("num_heads:8" tokens and the
 * records' "  rope_dims: 16" hyperparameter dump, True/False as 1/0), then from
 * NAME=VALUE settings, else the baseline's defaults. A setting
 * that contradicts the tensors, a tensor pgolf does not know (an architecture beyond the
 * baseline family) or a missing one is an error listing the names. */
#ifndef PG_TORCHIMPORT_H
#define PG_TORCHIMPORT_H

#include "kernels/model.h"
#include "packager/torchfile.h"

typedef struct {
    const char *log_path;      /* may be NULL */
    const char *const *sets;   /* "NAME=VALUE" model settings */
    int nsets;
} pg_import_hints;

/* Creates *m from st (path names the file in messages); banked weights in st are split
 * into per-layer tensors first, in place. */
int pg_torch_to_model(const char *path, pg_torch_state *st, const pg_import_hints *h,
                      pg_model *m);

/* Reads any model file: a pgolf checkpoint, a pgolf artifact or a PyTorch file (by
 * magic). *what gets a short description ("pgolf checkpoint", "torch int8_clean_per_row_v1
 * (zlib)") when not NULL; meta (may be NULL) the checkpoint's metadata. */
int pg_model_file_load(const char *path, const pg_import_hints *h, pg_model *m, json_t **meta,
                       char *what, size_t what_cap);

#endif
