#include "verifier/audit.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* The stream's per-token losses and those of an altered copy: what every audit compares. */
typedef struct {
    uint16_t *alt; /* the copy, for the caller to alter */
    double *base, *again;
} scored_pair;

static int pair_alloc(scored_pair *p, const uint16_t *stream, size_t n, size_t targets,
                      const char *audit)
{
    p->alt = malloc(n * sizeof *p->alt);
    p->base = malloc(targets * sizeof *p->base);
    p->again = malloc(targets * sizeof *p->again);
    if (!p->alt || !p->base || !p->again)
        return pg_fail("out of memory for the %s audit", audit);
    memcpy(p->alt, stream, n * sizeof *p->alt);
    return 0;
}

static int pair_score(scored_pair *p, pg_scorer score, void *ctx, const uint16_t *stream, size_t n)
{
    return score(ctx, stream, n, p->base) != 0 || score(ctx, p->alt, n, p->again) != 0 ? -1 : 0;
}

static int same_loss(const scored_pair *p, size_t i)
{
    return memcmp(&p->base[i], &p->again[i], sizeof p->base[i]) == 0;
}

static void pair_free(scored_pair *p)
{
    free(p->alt);
    free(p->base);
    free(p->again);
}

int pg_audit_causality(pg_scorer score, void *ctx, const uint16_t *stream, size_t n,
                       size_t targets, int vocab, size_t at, pg_audit_result *r)
{
    memset(r, 0, sizeof *r);
    r->at = at;
    r->targets = targets;
    r->first_diff = -1;
    if (at == 0 || at >= targets)
        return pg_fail("audit position %zu must be inside the %zu scored targets", at, targets);
    if (vocab < 2)
        return pg_fail("audit needs a vocabulary of at least 2 tokens");
    scored_pair p = {0};
    int rc = pair_alloc(&p, stream, n, targets, "causality");
    /* every token after `at` becomes a different, valid id */
    for (size_t j = at + 1; rc == 0 && j < n; j++)
        p.alt[j] = (uint16_t)((stream[j] + 1 + (j * 7919) % (size_t)(vocab - 1)) % (size_t)vocab);
    if (rc == 0)
        rc = pair_score(&p, score, ctx, stream, n);
    for (size_t i = 0; rc == 0 && i < at; i++)
        if (!same_loss(&p, i)) {
            r->first_diff = (long)i;
            r->before = p.base[i];
            r->after = p.again[i];
            break;
        }
    for (size_t i = at; rc == 0 && i < targets && !r->changed_after; i++)
        r->changed_after = !same_loss(&p, i);
    pair_free(&p);
    return rc;
}

int pg_audit_documents(pg_scorer score, void *ctx, const uint16_t *stream, size_t n,
                       size_t targets, int vocab, int bos, size_t at, pg_doc_audit_result *r)
{
    memset(r, 0, sizeof *r);
    r->first_diff = -1;
    if (vocab < 3 || bos < 0 || bos >= vocab)
        return pg_fail("document audit needs a vocabulary of at least 3 tokens and BOS_ID=%d "
                       "inside it", bos);
    if (at >= targets)
        return pg_fail("audit position %zu must be inside the %zu scored targets", at, targets);
    for (size_t i = 0; i < targets; i++)
        r->documents += i == 0 || stream[i] == bos;
    /* the document holding `at`, or the first after it with tokens between its bounds */
    size_t s = at, e;
    while (s > 0 && stream[s] != bos)
        s--;
    for (;;) {
        for (e = s + 1; e < targets && stream[e] != bos; e++)
            ;
        if (e - s >= 3 || e >= targets)
            break;
        s = e;
    }
    if (e - s < 3 || r->documents < 2)
        return pg_fail("document audit: the scored targets hold %zu documents, none after "
                       "position %zu with tokens to alter and another document beside it",
                       r->documents, at);
    r->doc_start = s;
    r->doc_end = e;
    scored_pair p = {0};
    int rc = pair_alloc(&p, stream, n, targets, "document");
    /* the interior s+1 .. e-1 becomes other ids, none of them BOS */
    for (size_t j = s + 1; rc == 0 && j < e; j++) {
        size_t v = (stream[j] + 1 + (j * 7919) % (size_t)(vocab - 1)) % (size_t)vocab;
        while (v == (size_t)bos || v == stream[j])
            v = (v + 1) % (size_t)vocab;
        p.alt[j] = (uint16_t)v;
    }
    if (rc == 0)
        rc = pair_score(&p, score, ctx, stream, n);
    for (size_t i = 0; rc == 0 && i < targets; i++) {
        int same = same_loss(&p, i);
        if (i >= s && i < e)
            r->changed_inside |= !same;
        else if (!same && r->first_diff < 0) {
            r->first_diff = (long)i;
            r->before = p.base[i];
            r->after = p.again[i];
        }
    }
    pair_free(&p);
    return rc;
}

/* ---- audits in the evaluation's own order ---- */

typedef struct {
    scored_pair p;
    uint64_t *order, *order2;
} ordered_pair;

static int ordered_run(ordered_pair *o, pg_order_scorer score, void *ctx, const uint16_t *stream,
                       size_t n, size_t targets, const char *audit)
{
    o->order = malloc(targets * sizeof *o->order);
    o->order2 = malloc(targets * sizeof *o->order2);
    if (!o->order || !o->order2)
        return pg_fail("out of memory for the %s audit", audit);
    if (score(ctx, stream, n, o->p.base, o->order) != 0 ||
        score(ctx, o->p.alt, n, o->p.again, o->order2) != 0)
        return -1;
    if (memcmp(o->order, o->order2, targets * sizeof *o->order) != 0)
        return pg_fail("%s audit: the altered stream was scored in another order, though "
                       "every BOS stayed in place", audit);
    return 0;
}

static void ordered_free(ordered_pair *o)
{
    pair_free(&o->p);
    free(o->order);
    free(o->order2);
}

/* a different id for position j, never BOS */
static uint16_t other_id(const uint16_t *stream, size_t j, int vocab, int bos)
{
    size_t v = (stream[j] + 1 + (j * 7919) % (size_t)(vocab - 1)) % (size_t)vocab;
    while (v == (size_t)bos || v == stream[j])
        v = (v + 1) % (size_t)vocab;
    return (uint16_t)v;
}

/* Compares the two runs: targets that must not change (protect(i)), and the changed ones
 * scored later outside [alt_start, alt_end) counted by document. */
static void ordered_compare(const ordered_pair *o, const uint16_t *stream, size_t targets, int bos,
                            int (*protect)(const pg_order_audit_result *, const uint64_t *, size_t),
                            pg_order_audit_result *r)
{
    long last_doc = -1, doc = -1;
    for (size_t i = 0; i < targets; i++) {
        doc += stream[i] == bos;
        if (o->order[i] == UINT64_MAX)
            continue;
        int same = same_loss(&o->p, i), inside = i + 1 >= r->alt_start && i < r->alt_end;
        if (protect(r, o->order, i)) {
            r->protected_targets++;
            if (!same && r->first_diff < 0) {
                r->first_diff = (long)i;
                r->before = o->p.base[i];
                r->after = o->p.again[i];
            }
        } else if (inside) {
            r->changed_inside |= !same;
        } else if (!same) {
            r->later_changed++;
            r->later_docs += doc != last_doc;
            last_doc = doc;
        }
    }
}

static int protect_future(const pg_order_audit_result *r, const uint64_t *order, size_t i)
{
    return i < r->alt_start - 1 &&
           (order[i] < r->first_seen ||
            (order[i] == r->first_seen && order[r->alt_start - 1] == r->first_seen));
}

static int protect_order(const pg_order_audit_result *r, const uint64_t *order, size_t i)
{
    return (i + 1 < r->alt_start || i >= r->alt_end) && order[i] <= r->first_seen;
}

/* Alters stream positions [a0, a1) (never to BOS), scores both streams and sets
 * r->first_seen to the earliest schedule place among targets [a0 - 1, a1): where an
 * altered token can first be seen. */
static int alter_and_run(ordered_pair *o, pg_order_scorer score, void *ctx, const uint16_t *stream,
                         size_t n, size_t targets, int vocab, int bos, size_t a0, size_t a1,
                         const char *audit, pg_order_audit_result *r)
{
    int rc = pair_alloc(&o->p, stream, n, targets, audit);
    r->alt_start = a0;
    r->alt_end = a1;
    for (size_t j = a0; rc == 0 && j < a1; j++)
        o->p.alt[j] = other_id(stream, j, vocab, bos);
    if (rc == 0)
        rc = ordered_run(o, score, ctx, stream, n, targets, audit);
    r->first_seen = UINT64_MAX;
    for (size_t i = a0 - 1; rc == 0 && i < a1 && i < targets; i++)
        r->first_seen = o->order[i] < r->first_seen ? o->order[i] : r->first_seen;
    return rc;
}

static int ordered_check(size_t targets, int vocab, int bos, size_t at, const char *audit)
{
    if (vocab < 3 || bos < 0 || bos >= vocab)
        return pg_fail("%s audit needs a vocabulary of at least 3 tokens and BOS_ID=%d inside it",
                       audit, bos);
    if (at == 0 || at >= targets)
        return pg_fail("audit position %zu must be inside the %zu scored targets", at, targets);
    return 0;
}

int pg_audit_future(pg_order_scorer score, void *ctx, const uint16_t *stream, size_t n,
                    size_t targets, int vocab, int bos, size_t at, pg_order_audit_result *r)
{
    memset(r, 0, sizeof *r);
    r->first_diff = -1;
    if (ordered_check(targets, vocab, bos, at, "future") != 0)
        return -1;
    size_t e = at + 1; /* the rest of `at`'s document */
    while (e < n && stream[e] != bos)
        e++;
    if (e == at + 1)
        return pg_fail("future audit: position %zu ends its document; no later token of it "
                       "to alter", at);
    ordered_pair o = {0};
    int rc = alter_and_run(&o, score, ctx, stream, n, targets, vocab, bos, at + 1, e, "future", r);
    if (rc == 0)
        ordered_compare(&o, stream, targets, bos, protect_future, r);
    ordered_free(&o);
    return rc;
}

int pg_audit_order(pg_order_scorer score, void *ctx, const uint16_t *stream, size_t n,
                   size_t targets, int vocab, int bos, size_t at, pg_order_audit_result *r)
{
    memset(r, 0, sizeof *r);
    r->first_diff = -1;
    if (ordered_check(targets, vocab, bos, at, "document order") != 0)
        return -1;
    size_t s = at, e;
    while (s > 0 && stream[s] != bos)
        s--;
    for (;;) { /* the document holding `at`, or the next with tokens between its bounds */
        for (e = s + 1; e < targets && stream[e] != bos; e++)
            ;
        if (e - s >= 3 || e >= targets)
            break;
        s = e;
    }
    if (e - s < 3)
        return pg_fail("document order audit: no document at or after position %zu has "
                       "tokens to alter", at);
    ordered_pair o = {0};
    int rc = alter_and_run(&o, score, ctx, stream, n, targets, vocab, bos, s + 1, e,
                           "document order", r);
    if (rc == 0) {
        if (r->first_seen == UINT64_MAX)
            rc = pg_fail("document order audit: the document at %zu..%zu is not scored", s, e);
        else
            ordered_compare(&o, stream, targets, bos, protect_order, r);
    }
    ordered_free(&o);
    return rc;
}
