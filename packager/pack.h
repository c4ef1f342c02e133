/* A model to its submitted artifact: encode, check the byte ledger against the cap, then
 * write (DESIGN §6). Shared by `pgolf pack` and the box build's train_gpt.py. */
#ifndef PG_PACK_H
#define PG_PACK_H

#include <stddef.h>

#include "packager/ledger.h"

/* Encodes m under plan and writes out atomically, unless code_bytes + the artifact is over
 * PG_SUBMISSION_CAP (then a message and nothing written). st and led are filled whenever
 * the encoding succeeded (st->file_bytes > 0), also when over the cap. */
int pg_pack_model(const char *out, const pg_model *m, const pg_quant_plan *plan,
                  long long code_bytes, pg_pack_stats *st, pg_ledger *led);

/* "SCHEME+CODEC[/CODEC]": the reference's "int8+zlib" with the codecs the groups used. */
void pg_pack_tag(const char *scheme, const pg_pack_stats *st, char *tag, size_t n);

#endif
