/* The byte ledger of a submission (DESIGN §2, §6): code bytes (train_gpt.py and what it
 * carries) + compressed model bytes <= 16,000,000 (decimal). Sizes are what stat()
 * reports for the files, or the exact length of an image about to be written. */
#ifndef PG_LEDGER_H
#define PG_LEDGER_H

#include <stdio.h>

#include "packager/artifact.h"

#define PG_SUBMISSION_CAP 16000000LL

typedef struct {
    long long code_bytes, model_bytes, total, remaining; /* remaining = cap - total */
} pg_ledger;

/* Code bytes from a file (stat); fails naming the file. */
int pg_ledger_code_bytes(const char *code_path, long long *bytes);
void pg_ledger_compute(pg_ledger *l, long long code_bytes, long long model_bytes);
/* "Serialized model <tag>: B bytes", "Code size: B bytes",
 * "Total submission size <tag>: B bytes", in the reference's shapes. */
void pg_ledger_print(const pg_ledger *l, const char *tag, FILE *out);
/* Per group: compressed bytes and share of the model, largest first. */
void pg_ledger_print_budget(const pg_ledger *l, const pg_pack_stats *st, FILE *out);

#endif
