/* pgolf checkpoint files (format in docs/checkpoint.md).
 *
 *   "PGOLFCKP" | u32 version | u32 header_len | header JSON | u64 payload_len | payload
 *   | SHA-256 of every byte before it
 *
 * The header holds the model config, free-form metadata and the tensor table
 * (name, shape, dtype f32, offset and size in the payload). Loading validates sizes,
 * the checksum and the table before any tensor is used. */
#ifndef PG_CHECKPOINT_H
#define PG_CHECKPOINT_H

#include <jansson.h>

#include "kernels/model.h"

#define PG_CKPT_MAGIC "PGOLFCKP"
#define PG_CKPT_VERSION 1

/* A named array laid out like the parameters (optimizer state), stored after the model
 * tensors in the table with shape [num_params]. */
typedef struct {
    const char *name;
    pg_real *data;
} pg_ckpt_extra;

/* Writes atomically; meta (may be NULL) is stored as the header's "meta" object. The
 * parameters and the extras' data are memory of m's backend. */
int pg_checkpoint_save(const char *path, const pg_model *m, const json_t *meta,
                       const pg_ckpt_extra *extras, int n_extras);

/* Creates *m (zeroed parameters) with the config of a checkpoint or artifact header;
 * messages name path. A config whose float32 parameters exceed max_bytes (the most the
 * file may decode to; `bound` says why, for the message) is refused before anything is
 * allocated. Shared by the checkpoint and artifact loaders. */
int pg_model_from_header(const char *path, const json_t *hdr, size_t max_bytes,
                         const char *bound, pg_model *m);

/* Creates *m on the CPU backend from the file (pg_model_to_backend moves it). *meta_out (if not NULL) gets a new reference to "meta".
 * Extra arrays in the file are validated but not loaded. */
int pg_checkpoint_load(const char *path, pg_model *m, json_t **meta_out);

/* Also loads the named extras into newly allocated host extras[i].data; a missing one fails
 * ("not a training checkpoint"). */
int pg_checkpoint_load_with(const char *path, pg_model *m, json_t **meta_out,
                            pg_ckpt_extra *extras, int n_extras);

/* pg_checkpoint_load_with on a file image already in memory (path names it). */
int pg_checkpoint_decode(const char *path, const unsigned char *buf, size_t len, pg_model *m,
                         json_t **meta_out, pg_ckpt_extra *extras, int n_extras);

#endif
