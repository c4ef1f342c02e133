/* The artifact: a model's tensors quantized and compressed per tensor group (format in
 * docs/artifact.md).
 *
 *   "PGOLFART" | u32 version | u32 header_len | header JSON | u64 payload_len | payload
 *   | SHA-256 of every byte before it
 *
 * The header holds the model config, the tensor table (name, shape, scheme, group,
 * offset and size inside its group's raw block) and the block table (group, codec,
 * shuffle, raw size, offset and size in the payload). Loading checks sizes, the
 * checksum and both tables against the layout the config implies before decoding, and
 * decodes each block into exactly its declared size (bounded memory). */
#ifndef PG_ARTIFACT_H
#define PG_ARTIFACT_H

#include <jansson.h>

#include "common/decode_limit.h"
#include "kernels/model.h"
#include "packager/codec.h"
#include "packager/quantize.h"

#define PG_ART_MAGIC "PGOLFART"
#define PG_ART_VERSION 1
typedef enum { PG_GROUP_Q_EMBED = 0, PG_GROUP_Q_ATTN, PG_GROUP_Q_MLP, PG_GROUP_Q_CONTROL,
               PG_NUM_QGROUPS } pg_qgroup;

const char *pg_qgroup_name(pg_qgroup g);
pg_qgroup pg_tensor_qgroup(const char *tensor_name);

typedef struct {
    pg_qscheme scheme[PG_NUM_QGROUPS];
    int small_fp16; /* the reference's rule: tensors of <= 65,536 elements kept as fp16 */
} pg_quant_plan;

/* The reference's int8 export: int8_row, small tensors fp16, control tensors fp32. */
void pg_quant_plan_int8(pg_quant_plan *p);
/* Mixed: embedding int8_row, attention int6_row, MLP int5_row, control fp32. */
void pg_quant_plan_mixed(pg_quant_plan *p);
/* "GROUP=SCHEME" (e.g. "attn=int6_row"). */
int pg_quant_plan_set(pg_quant_plan *p, const char *assignment);
/* The scheme a tensor gets under the plan. */
pg_qscheme pg_quant_plan_scheme(const pg_quant_plan *p, const pg_tensor_info *t);

typedef struct {
    size_t raw[PG_NUM_QGROUPS], compressed[PG_NUM_QGROUPS];
    pg_codec codec[PG_NUM_QGROUPS];
    size_t file_bytes;
} pg_pack_stats;

/* Quantizes into an image whose blocks are stored raw (codec "raw"): the quantize stage's
 * output, loadable like any artifact. */
int pg_artifact_quantize(const char *path, const pg_model *m, const pg_quant_plan *p,
                         pg_pack_stats *stats, unsigned char **image);
/* Validates an artifact image and re-encodes its blocks with the smallest codec (the same
 * tensors, bit for bit). */
int pg_artifact_compress(const char *path, const unsigned char *buf, size_t len,
                         pg_pack_stats *stats, unsigned char **image);
/* pg_artifact_quantize then pg_artifact_compress: quantizes and compresses into a file image of stats->file_bytes bytes (malloc'ed);
 * path is only used in messages. */
int pg_artifact_encode(const char *path, const pg_model *m, const pg_quant_plan *p,
                       pg_pack_stats *stats, unsigned char **image);
/* pg_artifact_encode, then an atomic write. */
int pg_artifact_save(const char *path, const pg_model *m, const pg_quant_plan *p,
                     pg_pack_stats *stats);
/* Validates and dequantizes an artifact image already in memory (path names it). */
int pg_artifact_decode(const char *path, const unsigned char *buf, size_t len, pg_model *m,
                       json_t **info);
/* Reads, validates and dequantizes into a new model. info (may be NULL) gets the header. */
int pg_artifact_load(const char *path, pg_model *m, json_t **info);

#endif
