#include "verifier/audit.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

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
    uint16_t *alt = malloc(n * sizeof *alt);
    double *base = malloc(targets * sizeof *base), *again = malloc(targets * sizeof *again);
    int rc = -1;
    if (!alt || !base || !again) {
        pg_fail("out of memory for the causality audit");
        goto out;
    }
    memcpy(alt, stream, n * sizeof *alt);
    /* every token after `at` becomes a different, valid id */
    for (size_t j = at + 1; j < n; j++)
        alt[j] = (uint16_t)((stream[j] + 1 + (j * 7919) % (size_t)(vocab - 1)) % (size_t)vocab);
    if (score(ctx, stream, n, base) != 0 || score(ctx, alt, n, again) != 0)
        goto out;
    for (size_t i = 0; i < at; i++)
        if (memcmp(&base[i], &again[i], sizeof base[i]) != 0) {
            r->first_diff = (long)i;
            r->before = base[i];
            r->after = again[i];
            break;
        }
    for (size_t i = at; i < targets && !r->changed_after; i++)
        r->changed_after = memcmp(&base[i], &again[i], sizeof base[i]) != 0;
    rc = 0;
out:
    free(alt);
    free(base);
    free(again);
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
    uint16_t *alt = malloc(n * sizeof *alt);
    double *base = malloc(targets * sizeof *base), *again = malloc(targets * sizeof *again);
    int rc = -1;
    if (!alt || !base || !again) {
        pg_fail("out of memory for the document audit");
        goto out;
    }
    memcpy(alt, stream, n * sizeof *alt);
    /* the interior s+1 .. e-1 becomes other ids, none of them BOS */
    for (size_t j = s + 1; j < e; j++) {
        size_t v = (stream[j] + 1 + (j * 7919) % (size_t)(vocab - 1)) % (size_t)vocab;
        while (v == (size_t)bos || v == stream[j])
            v = (v + 1) % (size_t)vocab;
        alt[j] = (uint16_t)v;
    }
    if (score(ctx, stream, n, base) != 0 || score(ctx, alt, n, again) != 0)
        goto out;
    for (size_t i = 0; i < targets; i++) {
        int same = memcmp(&base[i], &again[i], sizeof base[i]) == 0;
        if (i >= s && i < e)
            r->changed_inside |= !same;
        else if (!same && r->first_diff < 0) {
            r->first_diff = (long)i;
            r->before = base[i];
            r->after = again[i];
        }
    }
    rc = 0;
out:
    free(alt);
    free(base);
    free(again);
    return rc;
}
