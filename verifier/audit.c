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
