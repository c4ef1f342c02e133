#include "records/history.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static int cmp_entry(const void *a, const void *b)
{
    const pg_history_entry *x = a, *y = b;
    int c = strcmp(x->rec.date, y->rec.date);
    return c ? c : strcmp(x->rec.name, y->rec.name);
}

static void check_claim(pg_history_entry *e)
{
    const pg_record *r = &e->rec;
    if (r->nseeds == 0) {
        e->claim_check = "no_seeds";
        return;
    }
    if (!isfinite(r->claimed_bpb)) {
        e->claim_check = "no_claim";
        return;
    }
    if (fabs(r->claimed_bpb - e->logs_mean) <= PG_CLAIM_TOL) {
        e->claim_check = "mean";
        return;
    }
    for (size_t i = 0; i < r->nseeds; i++)
        if (fabs(r->claimed_bpb - r->seeds[i].val_bpb) <= PG_CLAIM_TOL) {
            e->claim_check = "single_seed";
            e->flagged = r->claimed_bpb < e->logs_mean - PG_CLAIM_TOL;
            return;
        }
    e->claim_check = "unsupported";
    e->flagged = r->claimed_bpb < e->logs_mean;
}

/* The test of a record against the SOTA before it; fails only when out of memory. */
static int judge_entry(pg_history_entry *e, const pg_history_entry *sota, double alpha)
{
    const pg_record *r = &e->rec;
    if (!sota) {
        snprintf(e->reason, sizeof e->reason, "first record of the track: no SOTA to beat");
        return 0;
    }
    if (r->nseeds < 2) {
        snprintf(e->reason, sizeof e->reason, "%zu seed%s with a score: a t-test needs 2",
                 r->nseeds, r->nseeds == 1 ? "" : "s");
        return 0;
    }
    const pg_record *sr = &sota->rec;
    double *bpb = malloc(r->nseeds * sizeof *bpb), *loss = malloc(r->nseeds * sizeof *loss);
    double *sbpb = malloc((sr->nseeds + 1) * sizeof *sbpb);
    double *sloss = malloc((sr->nseeds + 1) * sizeof *sloss);
    if (!bpb || !loss || !sbpb || !sloss) {
        free(bpb);
        free(loss);
        free(sbpb);
        free(sloss);
        return pg_fail("%s: out of memory", r->dir);
    }
    int have_loss, unused;
    pg_record_scores(r, bpb, loss, &have_loss);
    pg_record_scores(sr, sbpb, sloss, &unused);
    pg_judge_opts o;
    pg_judge_opts_default(&o);
    o.alpha = alpha;
    /* 0.005 nats in BPB at the record's own tokens/byte; without per-seed val_loss the
     * threshold is taken as BPB, as the early records did */
    o.threshold_is_bpb = !have_loss;
    if (pg_judge(bpb, have_loss ? loss : NULL, r->nseeds, e->sota_before,
                 sr->nseeds >= 2 ? sbpb : NULL, sr->nseeds, &o, &e->j) == 0)
        e->scored = 1;
    else
        snprintf(e->reason, sizeof e->reason, "%s", pg_errmsg());
    free(bpb);
    free(loss);
    free(sbpb);
    free(sloss);
    return 0;
}

/* Loads every record folder of the tree, with its claim checked; sorted by date. */
static int load_entries(const char *tree, pg_history_entry **out, size_t *loaded)
{
    char **dirs;
    size_t n;
    *loaded = 0;
    if (pg_records_tree_list(tree, &dirs, &n) != 0)
        return -1;
    pg_history_entry *all = calloc(n ? n : 1, sizeof *all);
    int rc = all ? 0 : pg_fail("%s: out of memory", tree);
    for (size_t i = 0; i < n && rc == 0; i++) {
        pg_history_entry *e = &all[*loaded];
        if ((rc = pg_record_load(dirs[i], &e->rec)) != 0)
            break;
        (*loaded)++;
        double sum = 0;
        for (size_t k = 0; k < e->rec.nseeds; k++)
            sum += e->rec.seeds[k].val_bpb;
        e->logs_mean = e->rec.nseeds ? sum / (double)e->rec.nseeds : NAN;
        e->score = isfinite(e->rec.claimed_bpb) ? e->rec.claimed_bpb : e->logs_mean;
        check_claim(e);
    }
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
    if (rc != 0) {
        for (size_t i = 0; all && i < *loaded; i++)
            pg_record_free(&all[i].rec);
        free(all);
        *loaded = 0;
        return -1;
    }
    qsort(all, *loaded, sizeof *all, cmp_entry);
    *out = all;
    return 0;
}

/* Groups the entries by track, keeping date order inside each (takes the records). */
static int group_tracks(const char *tree, pg_history_entry *all, size_t loaded,
                        pg_track_history **tracks, size_t *ntracks)
{
    pg_track_history *t = calloc(loaded ? loaded : 1, sizeof *t);
    size_t nt = 0, i = 0;
    for (; t && i < loaded; i++) {
        size_t k = 0;
        while (k < nt && strcmp(t[k].name, all[i].rec.track) != 0)
            k++;
        if (k == nt) {
            snprintf(t[nt].name, sizeof t[nt].name, "%s", all[i].rec.track);
            if (!(t[nt].e = calloc(loaded, sizeof(pg_history_entry))))
                break;
            nt++;
        }
        t[k].e[t[k].n++] = all[i];
    }
    if (!t || i < loaded) { /* out of memory: release what was not grouped */
        for (; i < loaded; i++)
            pg_record_free(&all[i].rec);
        pg_history_free(t, nt);
        return pg_fail("%s: out of memory", tree);
    }
    *tracks = t;
    *ntracks = nt;
    return 0;
}

int pg_history_build(const char *tree, double alpha, pg_track_history **tracks, size_t *ntracks)
{
    *tracks = NULL;
    *ntracks = 0;
    pg_history_entry *all;
    size_t loaded;
    pg_track_history *t = NULL;
    size_t nt = 0;
    if (load_entries(tree, &all, &loaded) != 0)
        return -1;
    int rc = group_tracks(tree, all, loaded, &t, &nt);
    free(all);
    if (rc != 0)
        return -1;
    for (size_t k = 0; k < nt && rc == 0; k++) {
        const pg_history_entry *best = NULL;
        for (size_t i = 0; i < t[k].n && rc == 0; i++) {
            pg_history_entry *e = &t[k].e[i];
            e->sota_before = best ? best->score : NAN;
            e->sota_name = best ? best->rec.name : NULL;
            rc = judge_entry(e, best, alpha);
            if (isfinite(e->score) && (!best || e->score < best->score))
                best = e;
            e->sota_after = best ? best->score : NAN;
        }
    }
    if (rc != 0) {
        pg_history_free(t, nt);
        return -1;
    }
    *tracks = t;
    *ntracks = nt;
    return 0;
}

void pg_history_free(pg_track_history *tracks, size_t ntracks)
{
    for (size_t k = 0; k < ntracks; k++) {
        for (size_t i = 0; i < tracks[k].n; i++)
            pg_record_free(&tracks[k].e[i].rec);
        free(tracks[k].e);
    }
    free(tracks);
}
