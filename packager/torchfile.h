/* Model files written by PyTorch (DESIGN §10), read without Python:
 *
 *  wrappers  detected by magic, not by name: a torch.save zip ("PK\3\4"); zlib, xz/lzma
 *            and zstd streams; a "BSHF" byte-shuffle header (4 magic bytes, the stride,
 *            then the shuffled bytes); brotli (no magic: tried last). Every decoder stops
 *            at pg_decode_bound_for(input) (common/decode_limit.h), so a bomb is an error.
 *  contents  a plain state dict (final_model.pt: fp32/bf16/fp16 tensors); the reference's
 *            int8_clean_per_row_v1 dict (final_model.int8.ptz); the later records'
 *            {"w": tensors, "m": meta} with NAME.q / NAME.scale per-row int8/int6 pairs.
 *
 * Quantized tensors are dequantized exactly as the reference does (q.float() * scale in
 * float32, then to the tensor's original dtype), and every tensor is handed over as
 * float32 values with its name and shape. */
#ifndef PG_TORCHFILE_H
#define PG_TORCHFILE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/model.h"
#include "packager/pickle.h"

/* The largest model file read: a float32 model of PG_MAX_PARAMS plus slack. */
#define PG_MODEL_FILE_MAX_BYTES (((size_t)PG_MAX_PARAMS) * 4 + ((size_t)64 << 20))

typedef struct {
    char name[PG_TENSOR_NAME_MAX];
    int ndim;
    int64_t shape[PG_PY_MAX_DIMS];
    size_t numel;
    float *data;
} pg_named_tensor;

typedef struct {
    char format[32];  /* "state_dict", "int8_clean_per_row_v1", "w_m_per_row" */
    char wrapper[32]; /* "none", "zlib", "xz", "zstd", "brotli", each maybe "+bshf" */
    pg_named_tensor *t;
    size_t n;
    size_t numel_left; /* while decoding: elements the file may still produce */
} pg_torch_state;

/* 1 when buf starts like a file pg_torch_decode reads by magic (zip, zlib, xz/lzma, zstd,
 * BSHF); brotli has no magic and is not claimed. */
int pg_torch_sniff(const uint8_t *buf, size_t len);

/* Decodes a file image; `path` names it in messages. */
int pg_torch_decode(const char *path, const uint8_t *buf, size_t len, pg_torch_state *out);
int pg_torch_load(const char *path, pg_torch_state *out);
void pg_torch_state_free(pg_torch_state *s);

#endif
