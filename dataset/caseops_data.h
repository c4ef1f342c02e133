/* The records' CaseOps data preparation (their prepare_caseops_data.py): documents from a
 * JSON-lines file (one {"text": ...} object or JSON string per line), each CaseOps-
 * transformed (dataset/caseops.h), encoded by the tokenizer (dataset/sp_encode.h) behind a
 * BOS, the first `val_docs` documents to fineweb_val_*.bin with their byte sidecar
 * fineweb_val_bytes_*.bin (per token the original text's UTF-8 bytes: 0 for BOS and for
 * operator pieces), the rest to fineweb_train_*.bin, `shard_tokens` tokens per shard (the
 * last of each split shorter). The folder is built beside `out` and renamed into place
 * when complete; an existing `out` is refused. */
#ifndef PG_CASEOPS_DATA_H
#define PG_CASEOPS_DATA_H

#include <stddef.h>

typedef struct {
    const char *docs, *tokenizer, *out;
    long val_docs;     /* 10,000 in the records */
    long shard_tokens; /* 10,000,000 in the records */
    int progress;      /* rate and ETA on stderr */
} pg_caseops_data_opts;

typedef struct {
    long docs, val_docs;
    size_t train_tokens, val_tokens, val_bytes;
    int train_shards, val_shards;
} pg_caseops_data_report;

int pg_caseops_prepare(const pg_caseops_data_opts *o, pg_caseops_data_report *r);

#endif
