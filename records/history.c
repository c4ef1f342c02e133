#include "records/history.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* READMEs state the record rule as 0.005 nats. */
#define THRESHOLD_NATS 0.005

/* submission.json's date as written ("2026-03-19T10:00:00Z"), or "". */
static const char *full_date(const pg_record *r)
{
    const char *d = r->submission ? json_string_value(json_object_get(r->submission, "date")) : NULL;
    return d ? d : "";
}

/* Time order: by date; within a date, leaderboard rows in the leaderboard's time order,
 * then records it does not list, by submission.json's full date and by name. */
static int cmp_entry(const void *a, const void *b)
{
    const pg_history_entry *x = a, *y = b;
    int c = strcmp(x->date, y->date);
    if (c)
        return c;
    int xl = x->board.line > 0, yl = y->board.line > 0;
    if (xl != yl)
        return yl - xl;
    if (xl && x->board.chrono != y->board.chrono)
        return x->board.chrono - y->board.chrono;
    c = strcmp(full_date(&x->rec), full_date(&y->rec));
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

/* The record's scores, claim check, track and stated comparison. */
static void describe_entry(pg_history_entry *e)
{
    const pg_record *r = &e->rec;
    double sum = 0;
    for (size_t k = 0; k < r->nseeds; k++)
        sum += r->seeds[k].val_bpb;
    e->logs_mean = r->nseeds ? sum / (double)r->nseeds : NAN;
    e->score = isfinite(r->claimed_bpb) ? r->claimed_bpb : e->logs_mean;
    check_claim(e);
    e->record_track = pg_is_record_track(r);
    e->candidate = e->record_track && (strcmp(e->claim_check, "mean") == 0 ||
                                       strcmp(e->claim_check, "single_seed") == 0);
    snprintf(e->date, sizeof e->date, "%s", r->date);
    e->stated_sota = r->readme.stated_sota;
    e->stated_line = r->readme.stated_sota_line;
    e->sota_before = e->sota_after = NAN;
}

/* One test against the SOTA: threshold 0 (unshifted, in BPB) or in nats converted with
 * the record's own tokens/byte. Returns pg_judge's status. */
static int run_test(const pg_history_entry *e, const double *bpb, const double *loss,
                    const double *sota_bpb, size_t n_sota, double threshold_nats, double alpha,
                    pg_judgement *j)
{
    pg_judge_opts o;
    pg_judge_opts_default(&o);
    o.alpha = alpha;
    o.threshold = threshold_nats;
    o.threshold_is_bpb = threshold_nats == 0; /* zero is zero in either unit */
    return pg_judge(bpb, threshold_nats == 0 ? NULL : loss, e->rec.nseeds, e->sota_before,
                    n_sota >= 2 ? sota_bpb : NULL, n_sota, &o, j);
}

/* The tests of a record against the SOTA before it (sota: the SOTA's folder, for Welch's
 * test, or NULL); fails only when out of memory. */
static int judge_entry(pg_history_entry *e, const pg_record *sota, double alpha)
{
    const pg_record *r = &e->rec;
    if (!e->record_track) {
        snprintf(e->reason, sizeof e->reason, "non-record track: no SOTA to beat");
        return 0;
    }
    if (!isfinite(e->sota_before)) {
        snprintf(e->reason, sizeof e->reason, "no earlier record-track score: no SOTA to beat");
        return 0;
    }
    if (r->nseeds < 2) {
        snprintf(e->reason, sizeof e->reason, "%zu seed%s with a score: a t-test needs 2",
                 r->nseeds, r->nseeds == 1 ? "" : "s");
        return 0;
    }
    size_t n_sota = sota ? sota->nseeds : 0;
    double *bpb = malloc(r->nseeds * sizeof *bpb), *loss = malloc(r->nseeds * sizeof *loss);
    double *sbpb = malloc((n_sota + 1) * sizeof *sbpb), *sloss = malloc((n_sota + 1) * sizeof *sloss);
    int rc = bpb && loss && sbpb && sloss ? 0 : pg_fail("%s: out of memory", r->dir);
    int have_loss, unused;
    if (rc == 0) {
        pg_record_scores(r, bpb, loss, &have_loss);
        if (sota)
            pg_record_scores(sota, sbpb, sloss, &unused);
        e->unshifted = run_test(e, bpb, loss, sbpb, n_sota, 0, alpha, &e->j0) == 0;
        if (!e->unshifted)
            snprintf(e->reason, sizeof e->reason, "%s", pg_errmsg());
    }
    if (rc == 0 && e->unshifted && !have_loss)
        snprintf(e->threshold_reason, sizeof e->threshold_reason,
                 "tokens/byte unknown (no val_loss per seed): 0.005 nats cannot be put in BPB, "
                 "and no BPB threshold is put in its place");
    else if (rc == 0 && e->unshifted)
        e->scored = run_test(e, bpb, loss, sbpb, n_sota, THRESHOLD_NATS, alpha, &e->j) == 0;
    if (rc == 0 && e->unshifted && !e->scored && !e->threshold_reason[0])
        snprintf(e->threshold_reason, sizeof e->threshold_reason, "%s", pg_errmsg());
    free(bpb);
    free(loss);
    free(sbpb);
    free(sloss);
    return rc;
}

/* Loads every record folder of the tree with its claim checked. */
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
        describe_entry(e);
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
    *out = all;
    return 0;
}

/* Without a leaderboard: the best earlier record-track claim its logs support. */
static void sota_from_tree(pg_history_entry *all, size_t n, int *sota_of)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        pg_history_entry *e = &all[i];
        sota_of[i] = -1;
        if (!e->record_track)
            continue;
        if (best >= 0) {
            const pg_history_entry *s = &all[best];
            e->sota_before = s->score;
            snprintf(e->sota_name, sizeof e->sota_name, "%.159s", s->rec.name);
            snprintf(e->sota_source, sizeof e->sota_source, "%s", s->rec.dir);
            sota_of[i] = best;
        }
        if (e->candidate && (best < 0 || e->score < all[best].score))
            best = (int)i;
        e->sota_after = best >= 0 ? all[best].score : NAN;
    }
}

/* With a leaderboard: the best record-track row earlier in its time order (for a record
 * it does not list, the best row dated before it); Welch's test uses the seeds of the
 * tree's folder for that row when there is one. */
static void sota_from_board(pg_history_entry *all, size_t n, const pg_leaderboard *b,
                            int *sota_of)
{
    for (size_t i = 0; i < n; i++) {
        pg_history_entry *e = &all[i];
        sota_of[i] = -1;
        if (!e->record_track)
            continue;
        const pg_board_row *s =
            pg_leaderboard_sota_before(b, e->board.line ? &e->board : NULL, e->date);
        if (s) {
            e->sota_before = s->score;
            snprintf(e->sota_name, sizeof e->sota_name, "%s", s->run);
            snprintf(e->sota_source, sizeof e->sota_source, "%s:%d", b->path, s->line);
            for (size_t k = 0; k < n; k++)
                if (all[k].board.line == s->line)
                    sota_of[i] = (int)k;
        }
        double own = e->board.line && e->board.record_track ? e->board.score : NAN;
        e->sota_after = !s ? own : isfinite(own) && own < s->score ? own : s->score;
    }
}

static void match_board(pg_history_entry *all, size_t n, const pg_leaderboard *b)
{
    for (size_t i = 0; i < n; i++) {
        pg_history_entry *e = &all[i];
        const pg_board_row *row =
            pg_leaderboard_find(b, e->rec.name, e->record_track, e->score, e->rec.date);
        if (row) {
            e->board = *row;
            snprintf(e->date, sizeof e->date, "%s", row->date);
        }
    }
}

/* Groups the entries by track, keeping their order inside each (takes the records). */
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

/* Orders the entries, sets each one's SOTA and runs its tests. */
static int place_entries(pg_history_entry *all, size_t n, const pg_leaderboard *board,
                         double alpha)
{
    int *sota_of = malloc((n ? n : 1) * sizeof *sota_of);
    if (!sota_of)
        return pg_fail("out of memory ordering the records");
    if (board)
        match_board(all, n, board);
    qsort(all, n, sizeof *all, cmp_entry);
    if (board)
        sota_from_board(all, n, board, sota_of);
    else
        sota_from_tree(all, n, sota_of);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = judge_entry(&all[i], sota_of[i] >= 0 ? &all[sota_of[i]].rec : NULL, alpha);
    free(sota_of);
    return rc;
}

int pg_history_build(const char *tree, const pg_leaderboard *board, double alpha,
                     pg_track_history **tracks, size_t *ntracks)
{
    *tracks = NULL;
    *ntracks = 0;
    pg_history_entry *all;
    size_t loaded;
    if (load_entries(tree, &all, &loaded) != 0)
        return -1;
    if (place_entries(all, loaded, board, alpha) != 0) {
        for (size_t i = 0; i < loaded; i++)
            pg_record_free(&all[i].rec);
        free(all);
        return -1;
    }
    int rc = group_tracks(tree, all, loaded, tracks, ntracks);
    free(all);
    return rc;
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

int pg_history_current_sota(const char *path, char *dir, size_t cap)
{
    if (!pg_is_records_tree(path)) {
        snprintf(dir, cap, "%s", path);
        return 0;
    }
    pg_track_history *t;
    size_t nt;
    if (pg_history_build(path, NULL, 0.01, &t, &nt) != 0)
        return -1;
    const pg_history_entry *best = NULL;
    for (size_t k = 0; k < nt; k++)
        for (size_t i = 0; i < t[k].n; i++)
            if (t[k].e[i].candidate && (!best || t[k].e[i].score < best->score))
                best = &t[k].e[i];
    int rc = best ? 0
                  : pg_fail("%s: no record-track folder whose claimed val_bpb its logs support, "
                            "so the tree has no SOTA",
                            path);
    if (best)
        snprintf(dir, cap, "%s", best->rec.dir);
    pg_history_free(t, nt);
    return rc;
}
