/* Writes a pgolf model in the reference's official artifact format, so the official
 * train_gpt.py code path (torch.load + dequantize_state_dict_int8) can load it:
 * quantize_state_dict_int8's dict (int8_clean_per_row_v1: per-row int8 with fp16
 * scales for float tensors over 65,536 elements, a per-tensor scale for larger
 * non-matrices, small tensors kept as fp16 or, for control tensors, float32), pickled as
 * torch.save does (protocol 2, storages as zip members), in a zip, zlib level 9. */
#ifndef PG_TORCHEXPORT_H
#define PG_TORCHEXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/model.h"

/* The file image (*out malloc'ed). */
int pg_torch_export_int8(const pg_model *m, uint8_t **out, size_t *out_len);

#endif
