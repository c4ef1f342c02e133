/* Writes a pgolf model as the April records' artifact (DESIGN §11), the file their
 * train_gpt.py loads: torch.save({"w": tensors, "m": kinds}) under the records' tensor
 * names, byte-shuffled ("BSHF", stride 2) and brotli-11 compressed. Each tensor, as
 * gptq_mixed_quantize routes it: the attention gates int8 per row when
 * GATED_ATTN_QUANT_GATE ("gate_int8_row"); tensors of at most KEEP_FLOAT_MAX_NUMEL
 * values as float16 ("passthrough (float16)"); the rest by GPTQ with the SD clip on their
 * Hessian (packager/gptq.h): EMBED_BITS for tok_emb, MATRIX_BITS otherwise, the clip
 * sigmas by family ("gptq (intN)"); then LQER on the LQER_TOP_K largest errors
 * ("+lqer_asym" when B's size is a multiple of LQER_ASYM_GROUP and asym is on, else
 * "+lqer"). */
#ifndef PG_TORCHEXPORT_RECORDS_H
#define PG_TORCHEXPORT_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "common/settings.h"
#include "kernels/hessian.h"
#include "kernels/model.h"

typedef struct {
    int matrix_bits, embed_bits;                           /* MATRIX_BITS, EMBED_BITS */
    double matrix_clip, embed_clip, mlp_clip, attn_clip;   /* *_CLIP_SIGMAS */
    int lqer_enabled, lqer_rank, lqer_top_k, lqer_factor_bits; /* LQER_* */
    int lqer_asym_enabled, lqer_asym_group;                /* LQER_ASYM_* */
    int quant_gate;                                        /* GATED_ATTN_QUANT_GATE */
    long keep_float_max_numel;                             /* KEEP_FLOAT_MAX_NUMEL (pgolf) */
} pg_records_quant;

/* The records' names, their code's defaults. */
extern const pg_settings_table pg_records_quant_settings;
void pg_records_quant_default(pg_records_quant *q);
/* The latest record's values (`--preset record`): int7 embedding, its clip sigmas, the
 * gates int8 per row. */
int pg_records_quant_record(pg_records_quant *q);

/* The compressed file image (*out malloc'ed); `log` (may be NULL) gets the records'
 * "Quantized weights:" summary. hs: Hessians for m's shape (pg_hessians_load). */
int pg_torch_export_records(const pg_model *m, const pg_hessians *hs, const pg_records_quant *q,
                            FILE *log, uint8_t **out, size_t *out_len);

#endif
