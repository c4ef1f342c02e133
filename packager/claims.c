#include "packager/claims.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define MAX_COMBOS 4096

int pg_decimals(double v)
{
    for (int d = 0; d < 8; d++) {
        double s = pow(10.0, d);
        if (fabs(round(v * s) / s - v) < 1e-11)
            return d;
    }
    return 8;
}

double pg_claim_tol(double claim, int value_decimals)
{
    int d = pg_decimals(claim);
    if (value_decimals < d)
        d = value_decimals;
    return 0.5 * pow(10.0, -d) + 1e-9;
}

static const pg_log_eval *ev(const pg_record *r, pg_eval_ref x)
{
    return &r->logs[x.log].evals[x.eval];
}

static double metric(const pg_log_eval *e, int loss)
{
    return loss ? e->val_loss : e->val_bpb;
}

static int decimals_of(const pg_log_eval *e, int loss)
{
    return loss ? e->loss_decimals : e->bpb_decimals;
}

/* Seed groups: logs with the same seed form one group; a log with no seed is its own. */
static int group_of(const pg_record *r, int log)
{
    const pg_log_summary *l = &r->logs[log];
    if (!l->seed.line)
        return log;
    for (int i = 0; i < log; i++)
        if (r->logs[i].seed.line && r->logs[i].seed.value == l->seed.value)
            return group_of(r, i);
    return log;
}

static int groups(const pg_record *r, int *g)
{
    int n = 0;
    for (size_t i = 0; i < r->nlogs; i++)
        if (r->logs[i].nevals && group_of(r, (int)i) == (int)i)
            g[n++] = (int)i;
    return n;
}

/* Tries every choice of one `tag` evaluation per seed group whose mean equals claim. */
static int mean_by_tag(const pg_record *r, const int *g, int ng, const char *tag, int loss,
                       pg_claim_match *m)
{
    pg_eval_ref cand[PG_MAX_REFS][8];
    int nc[PG_MAX_REFS];
    long combos = 1;
    for (int k = 0; k < ng; k++) {
        nc[k] = 0;
        for (size_t i = 0; i < r->nlogs; i++) {
            if (group_of(r, (int)i) != g[k])
                continue;
            for (int e = 0; e < r->logs[i].nevals && nc[k] < 8; e++)
                if (strcmp(r->logs[i].evals[e].tag, tag) == 0)
                    cand[k][nc[k]++] = (pg_eval_ref){(int)i, e};
        }
        if (nc[k] == 0)
            return 0;
        combos *= nc[k];
        if (combos > MAX_COMBOS)
            return 0;
    }
    for (long c = 0; c < combos; c++) {
        long rest = c;
        double sum = 0;
        int dec = 8;
        for (int k = 0; k < ng; k++) {
            const pg_log_eval *e = ev(r, cand[k][rest % nc[k]]);
            sum += metric(e, loss);
            if (decimals_of(e, loss) < dec)
                dec = decimals_of(e, loss);
            rest /= nc[k];
        }
        double mean = sum / ng, tol = pg_claim_tol(m->claim, dec);
        if (fabs(mean - m->claim) <= tol) {
            rest = c;
            for (int k = 0; k < ng; k++) {
                m->refs[k] = cand[k][rest % nc[k]];
                rest /= nc[k];
            }
            m->nrefs = (size_t)ng;
            m->kind = PG_CLAIM_MEAN;
            m->value = mean;
            m->tol = tol;
            return 1;
        }
    }
    return 0;
}

static int mean_of_groups(const pg_record *r, int loss, pg_claim_match *m)
{
    int g[PG_MAX_REFS], ng = groups(r, g);
    if (ng < 2)
        return 0;
    /* the most precise evaluations first: a claim rests on an _exact line rather than
     * on its rounded twin */
    int top = 0;
    for (size_t i = 0; i < r->nlogs; i++)
        for (int e = 0; e < r->logs[i].nevals; e++)
            top = decimals_of(&r->logs[i].evals[e], loss) > top
                      ? decimals_of(&r->logs[i].evals[e], loss)
                      : top;
    for (int d = top; d >= 0; d--)
        for (size_t i = 0; i < r->nlogs; i++)
            for (int e = 0; e < r->logs[i].nevals; e++)
                if (decimals_of(&r->logs[i].evals[e], loss) == d &&
                    mean_by_tag(r, g, ng, r->logs[i].evals[e].tag, loss, m))
                    return 1;
    return 0;
}

/* The mean over given refs (the seed entries' runs, or the val_bpb match's runs). */
static int mean_of_refs(const pg_record *r, const pg_eval_ref *refs, size_t n, int loss,
                        pg_claim_match *m)
{
    if (n == 0)
        return 0;
    double sum = 0;
    int dec = 8;
    for (size_t i = 0; i < n; i++) {
        sum += metric(ev(r, refs[i]), loss);
        if (decimals_of(ev(r, refs[i]), loss) < dec)
            dec = decimals_of(ev(r, refs[i]), loss);
    }
    double mean = sum / (double)n, tol = pg_claim_tol(m->claim, dec);
    if (fabs(mean - m->claim) > tol)
        return 0;
    memcpy(m->refs, refs, n * sizeof *refs);
    m->nrefs = n;
    m->kind = n == 1 ? PG_CLAIM_ONE_RUN : PG_CLAIM_MEAN;
    m->value = mean;
    m->tol = tol;
    return 1;
}

static int one_run(const pg_record *r, int loss, pg_claim_match *m)
{
    for (size_t i = r->nlogs; i-- > 0;)
        for (int e = r->logs[i].nevals; e-- > 0;) {
            const pg_log_eval *x = &r->logs[i].evals[e];
            double tol = pg_claim_tol(m->claim, decimals_of(x, loss));
            if (fabs(metric(x, loss) - m->claim) <= tol) {
                m->refs[0] = (pg_eval_ref){(int)i, e};
                m->nrefs = 1;
                m->kind = PG_CLAIM_ONE_RUN;
                m->value = metric(x, loss);
                m->tol = tol;
                return 1;
            }
        }
    return 0;
}

static void find_best(const pg_record *r, int loss, pg_claim_match *m)
{
    m->best = (pg_eval_ref){-1, -1};
    for (size_t i = 0; i < r->nlogs; i++)
        for (int e = 0; e < r->logs[i].nevals; e++) {
            double v = metric(&r->logs[i].evals[e], loss);
            if (isfinite(v) && (m->best.log < 0 || v < m->best_value)) {
                m->best = (pg_eval_ref){(int)i, e};
                m->best_value = v;
            }
        }
}

static void seed_refs(const pg_record *r, pg_eval_ref *refs, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < r->nseed_claims && *n < PG_MAX_REFS; i++) {
        if (strncmp(r->seed_claims[i].name, "seed_results.", 13) != 0)
            continue;
        if (r->seed_claims[i].how > PG_SEED_OTHER) {
            *n = 0;
            return;
        }
        refs[(*n)++] = r->seed_claims[i].ref;
    }
}

static void match_claim(const pg_record *r, int loss, pg_claim_match *m)
{
    m->claim = loss ? r->claimed_loss : r->claimed_bpb;
    m->kind = PG_CLAIM_NONE;
    m->nrefs = 0;
    find_best(r, loss, m);
    if (!isfinite(m->claim) || m->best.log < 0)
        return;
    pg_eval_ref refs[PG_MAX_REFS];
    size_t n;
    seed_refs(r, refs, &n);
    if (mean_of_refs(r, refs, n, loss, m))
        return;
    if (loss && mean_of_refs(r, r->bpb_match.refs, r->bpb_match.nrefs, 1, m))
        return;
    if (mean_of_groups(r, loss, m) || one_run(r, loss, m))
        return;
    m->tol = pg_claim_tol(m->claim, decimals_of(ev(r, m->best), loss));
    m->kind = m->claim < m->best_value - m->tol ? PG_CLAIM_BETTER_THAN_ALL : PG_CLAIM_UNMATCHED;
}

/* The seed a log states, else the one its file name states. */
static int log_has_seed(const pg_log_summary *l, const char *key)
{
    const pg_log_num *sd = l->printed_seed.line ? &l->printed_seed : &l->name_seed;
    char k[32];
    snprintf(k, sizeof k, "%ld", (long)sd->value);
    return sd->line && strcmp(k, key) == 0;
}

/* The evaluation of logs accepted by `want` equal to bpb (the most precise one, so an
 * _exact line rather than its rounded twin), or the closest one. */
static int find_value(const pg_record *r, double bpb, int want, const char *key, pg_eval_ref *out)
{
    double best = INFINITY;
    int found_decimals = -1;
    for (size_t i = 0; i < r->nlogs; i++) {
        const pg_log_summary *l = &r->logs[i];
        int ok = want == 0 ? log_has_seed(l, key) : want == 1 ? !l->printed_seed.line : 1;
        for (int e = 0; ok && e < l->nevals; e++) {
            double d = fabs(l->evals[e].val_bpb - bpb);
            if (d <= pg_claim_tol(bpb, l->evals[e].bpb_decimals)) {
                if (l->evals[e].bpb_decimals > found_decimals) {
                    found_decimals = l->evals[e].bpb_decimals;
                    *out = (pg_eval_ref){(int)i, e};
                }
            } else if (want == 0 && found_decimals < 0 && d < best) {
                best = d;
                *out = (pg_eval_ref){(int)i, e};
            }
        }
    }
    return found_decimals >= 0;
}

static void resolve_seed(const pg_record *r, pg_seed_claim *c)
{
    c->ref = (pg_eval_ref){-1, -1};
    if (find_value(r, c->bpb, 0, c->key, &c->ref))
        c->how = PG_SEED_FOUND;
    else if (c->ref.log >= 0)
        c->how = PG_SEED_DIFFERS;
    else if (find_value(r, c->bpb, 1, c->key, &c->ref))
        c->how = PG_SEED_UNPRINTED;
    else if (find_value(r, c->bpb, 2, c->key, &c->ref))
        c->how = PG_SEED_OTHER;
    else
        c->how = PG_SEED_NOT_LOGGED;
}

static int add_seed_claims(pg_record *r, json_t *sr, const char *prefix)
{
    const char *key;
    json_t *v;
    json_object_foreach(sr, key, v)
    {
        json_t *b = json_object_get(v, "val_bpb");
        if (!json_is_number(b))
            continue;
        pg_seed_claim *g = realloc(r->seed_claims, (r->nseed_claims + 1) * sizeof *g);
        if (!g)
            return pg_fail("%s: out of memory for seed claims", r->dir);
        r->seed_claims = g;
        pg_seed_claim *c = &g[r->nseed_claims++];
        memset(c, 0, sizeof *c);
        snprintf(c->name, sizeof c->name, "%.50sseed_results.%.30s", prefix, key);
        snprintf(c->key, sizeof c->key, "%.31s", key);
        c->bpb = json_number_value(b);
        resolve_seed(r, c);
    }
    return 0;
}

static int seed_claims(pg_record *r)
{
    if (!r->submission)
        return 0;
    json_t *sr = json_object_get(r->submission, "seed_results");
    if (json_is_object(sr) && add_seed_claims(r, sr, "") != 0)
        return -1;
    const char *key;
    json_t *v;
    json_object_foreach(r->submission, key, v)
    {
        json_t *nested = json_is_object(v) ? json_object_get(v, "seed_results") : NULL;
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%.40s.", key);
        if (json_is_object(nested) && add_seed_claims(r, nested, prefix) != 0)
            return -1;
    }
    return 0;
}

static void mark(pg_record *r, const pg_eval_ref *refs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (refs[i].log >= 0)
            r->log_claimed[refs[i].log] = 1;
}

int pg_claims_match(pg_record *r)
{
    r->log_claimed = calloc(r->nlogs + 1, sizeof *r->log_claimed);
    if (!r->log_claimed || seed_claims(r) != 0)
        return pg_fail("%s: out of memory matching claims", r->dir);
    match_claim(r, 0, &r->bpb_match);
    match_claim(r, 1, &r->loss_match);
    mark(r, r->bpb_match.refs, r->bpb_match.nrefs);
    mark(r, r->loss_match.refs, r->loss_match.nrefs);
    for (size_t i = 0; i < r->nseed_claims; i++)
        if (r->seed_claims[i].how <= PG_SEED_OTHER)
            mark(r, &r->seed_claims[i].ref, 1);
    return 0;
}
