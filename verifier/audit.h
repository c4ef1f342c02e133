/* Causality audit by measurement (DESIGN §5): score the stream, then alter every token
 * after position T and score again. A legal eval's loss for target i (stream[i+1] given
 * stream[..i]) depends only on the artifact and tokens <= i, so every per-token loss of
 * a target before T must come out bit-identical. Works for any scorer: standard,
 * sliding, score-first TTT, and any illegal variant a test builds. */
#ifndef PG_AUDIT_H
#define PG_AUDIT_H

#include <stddef.h>
#include <stdint.h>

/* Fills per_token[0 .. targets) for the stream; returns 0 or -1 (message). */
typedef int (*pg_scorer)(void *ctx, const uint16_t *stream, size_t n, double *per_token);

typedef struct {
    size_t at;          /* targets < at must not change */
    size_t targets;     /* targets scored */
    long first_diff;    /* first target < at whose loss changed, -1 if none */
    double before, after; /* its two losses */
    int changed_after;  /* some target >= at changed (the alteration was seen) */
} pg_audit_result;

/* targets: number of targets the scorer fills. Tokens stream[at+1 ..] are altered. */
int pg_audit_causality(pg_scorer score, void *ctx, const uint16_t *stream, size_t n,
                       size_t targets, int vocab, size_t at, pg_audit_result *r);

#endif
