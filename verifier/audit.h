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

/* Document independence by measurement: documents are the spans between `bos` tokens
 * (a document's targets are those at its positions, the last one predicting the next
 * BOS). The document holding position `at` (or the next one with an interior) has every
 * token between its BOS and the next altered to another non-BOS id; an evaluation that
 * scores documents independently must give every other document's targets bit-identical
 * losses. */
typedef struct {
    size_t doc_start, doc_end; /* the altered document's positions [start, end) */
    size_t documents;          /* documents in the scored targets */
    long first_diff;           /* first target outside it whose loss changed, -1 if none */
    double before, after;
    int changed_inside;        /* some target of the altered document changed */
} pg_doc_audit_result;

int pg_audit_documents(pg_scorer score, void *ctx, const uint16_t *stream, size_t n,
                       size_t targets, int vocab, int bos, size_t at, pg_doc_audit_result *r);

/* Audits of an evaluation that scores in its own order (the records' TTT): the scorer also
 * fills order[0 .. targets), each target's place in its schedule (smaller: scored
 * earlier; UINT64_MAX: not scored). The schedule may depend on the documents' lengths (the
 * records sort by them), so the alterations keep every BOS where it is, other tokens
 * become other non-BOS ids, and both runs must give the same order.
 *
 * pg_audit_future: the tokens after `at` in its document are altered (other documents
 * are the order audit's). The alteration is first seen when the earliest-scored target
 * of them is scored; every target before `at` scored earlier, or in that same step when
 * it is `at`'s own, must keep its loss bit-identical.
 *
 * pg_audit_order: the document holding `at` (or the next with an interior) is altered.
 * Every other target scored no later than the document's first scored target must keep
 * its loss; targets scored after it that changed are counted (a dependence on documents
 * scored earlier, as a warm-started A or a global phase makes), not failed. */
typedef int (*pg_order_scorer)(void *ctx, const uint16_t *stream, size_t n, double *per_token,
                               uint64_t *order);

typedef struct {
    size_t alt_start, alt_end; /* the altered positions [start, end) */
    uint64_t first_seen;       /* the schedule's place where the alteration is first seen */
    size_t protected_targets;  /* targets that must not change */
    long first_diff;           /* first of them whose loss changed, -1 if none */
    double before, after;
    size_t later_changed;      /* changed targets scored later, outside the altered tokens */
    size_t later_docs;         /* documents they belong to */
    int changed_inside;        /* some target whose tokens were altered changed */
} pg_order_audit_result;

int pg_audit_future(pg_order_scorer score, void *ctx, const uint16_t *stream, size_t n,
                    size_t targets, int vocab, int bos, size_t at, pg_order_audit_result *r);
int pg_audit_order(pg_order_scorer score, void *ctx, const uint16_t *stream, size_t n,
                   size_t targets, int vocab, int bos, size_t at, pg_order_audit_result *r);

#endif
