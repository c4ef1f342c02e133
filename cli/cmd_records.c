/* pgolf records: the leaderboard history of a records tree. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "cli/commands.h"
#include "records/history.h"

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* The seeds of a record; NULL when out of memory. */
static json_t *seeds_json(const pg_history_entry *e)
{
    json_t *seeds = json_array();
    for (size_t i = 0; seeds && i < e->rec.nseeds; i++) {
        const pg_seed_result *s = &e->rec.seeds[i];
        json_t *row = json_pack(
            "{s:o, s:f, s:o, s:o, s:s}", "seed", s->has_seed ? json_integer(s->seed) : json_null(),
            "val_bpb", s->val_bpb, "val_loss", s->has_loss ? json_real(s->val_loss) : json_null(),
            "artifact_bytes",
            s->artifact_bytes >= 0 ? json_integer((json_int_t)s->artifact_bytes) : json_null(),
            "source", s->source);
        if (json_array_append_new(seeds, row) != 0) {
            json_decref(seeds);
            seeds = NULL;
        }
    }
    return seeds;
}

/* Copies keys of a judgement's JSON into o; threshold: 0.005 nats, or 0 (unshifted). */
static int copy_judgement(json_t *o, const pg_judgement *jd, double threshold, double alpha,
                          const char *const *keys, size_t nkeys)
{
    pg_judge_opts opts;
    pg_judge_opts_default(&opts);
    opts.alpha = alpha;
    opts.threshold = threshold;
    json_t *j = pg_judgement_json(jd, &opts);
    int rc = j ? 0 : -1;
    for (size_t k = 0; rc == 0 && k < nkeys; k++) {
        json_t *v = json_object_get(j, keys[k]);
        if (v && json_object_set(o, keys[k], v) != 0)
            rc = -1;
    }
    json_decref(j);
    return rc;
}

static int set_null_test(json_t *o, const char *verdict)
{
    return json_object_set_new(o, "t", json_null()) == 0 &&
                   json_object_set_new(o, "df", json_null()) == 0 &&
                   json_object_set_new(o, "p", json_null()) == 0 &&
                   json_object_set_new(o, "verdict", json_string(verdict)) == 0
               ? 0
               : -1;
}

/* The thresholded test (top-level t, df, p, verdict, thresholds, welch) and the unshifted
 * one ("unshifted"), or why there is none. */
static int add_judgement(json_t *o, const pg_history_entry *e, double alpha)
{
    static const char *const thresholded[] = {"t", "df", "p", "verdict", "threshold_nats",
                                              "threshold_bpb", "threshold_note",
                                              "tokens_per_byte", "welch"};
    static const char *const plain[] = {"t", "df", "p", "verdict", "welch"};
    if (!e->unshifted)
        return set_null_test(o, "unscored") == 0 &&
                       json_object_set_new(o, "reason", json_string(e->reason)) == 0 &&
                       json_object_set_new(o, "unshifted", json_null()) == 0
                   ? 0
                   : -1;
    int rc = e->scored ? copy_judgement(o, &e->j, 0.005, alpha, thresholded, 9)
                       : set_null_test(o, "untested");
    if (rc == 0 && !e->scored)
        rc = json_object_set_new(o, "threshold_reason", json_string(e->threshold_reason));
    json_t *u = json_object();
    if (rc == 0 && (!u || copy_judgement(u, &e->j0, 0, alpha, plain, 5) != 0))
        rc = -1;
    if (rc == 0)
        rc = json_object_set_new(o, "unshifted", u);
    else
        json_decref(u);
    return rc;
}

/* The leaderboard row a record matched, or null. */
static json_t *board_json(const pg_history_entry *e)
{
    if (!e->board.line)
        return json_null();
    return json_pack("{s:s, s:f, s:s, s:i, s:b}", "run", e->board.run, "score", e->board.score,
                     "date", e->board.date, "line", e->board.line, "record_track",
                     e->board.record_track);
}

/* One record of the history; NULL when out of memory. */
static json_t *entry_json(const pg_history_entry *e, double alpha)
{
    json_t *seeds = seeds_json(e);
    json_t *stated = isfinite(e->stated_sota)
                         ? json_pack("{s:f, s:i}", "value", e->stated_sota, "line", e->stated_line)
                         : json_null();
    json_t *o = json_pack(
        "{s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:b, s:b}", "record",
        e->rec.name, "date", e->date, "val_bpb", num_or_null(e->score), "logs_mean_bpb",
        num_or_null(e->logs_mean), "seeds", seeds, "seeds_source",
        e->rec.seeds_from_logs ? "logs" : "submission.json", "sota_before",
        num_or_null(e->sota_before), "sota_record",
        e->sota_name[0] ? json_string(e->sota_name) : json_null(), "sota_source",
        e->sota_source[0] ? json_string(e->sota_source) : json_null(), "stated_sota", stated,
        "leaderboard", board_json(e), "claim_check", e->claim_check, "flagged", e->flagged,
        "record_track", e->record_track);
    if (o && (add_judgement(o, e, alpha) != 0 ||
              (e->rec.submission_problem[0] &&
               json_object_set_new(o, "submission_problem",
                                   json_string(e->rec.submission_problem)) != 0))) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* {track: [record, ...]}; NULL when out of memory. */
static json_t *tracks_json(const pg_track_history *t, size_t nt, double alpha)
{
    json_t *tracks = json_object();
    for (size_t k = 0; tracks && k < nt; k++) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < t[k].n; i++)
            if (json_array_append_new(arr, entry_json(&t[k].e[i], alpha)) != 0) {
                json_decref(arr);
                arr = NULL;
            }
        if (json_object_set_new(tracks, t[k].name, arr) != 0) {
            json_decref(tracks);
            tracks = NULL;
        }
    }
    return tracks;
}

/* "one-sample t=.. df=.. p=.. -> verdict; Welch t=.. p=.. -> verdict" */
static void print_tests(const char *label, const pg_judgement *j)
{
    printf("      %s one-sample t=%.2f df=%.0f p=%.3g -> %s", label, j->one.t, j->one.df, j->one.p,
           pg_verdict_name(j->verdict));
    if (j->has_welch)
        printf("; Welch (vs the SOTA's %zu seeds) t=%.2f df=%.1f p=%.3g -> %s", j->sota_s.n,
               j->welch.t, j->welch.df, j->welch.p, pg_verdict_name(j->welch_verdict));
    else
        printf("; Welch: the SOTA's seeds are not in the tree");
    printf("\n");
}

static void print_entry(const pg_history_entry *e, int with_board)
{
    printf("  %-10s %-52.52s val_bpb %.5f  %zu seed%s  claim %s%s\n", e->date, e->rec.name,
           e->score, e->rec.nseeds, e->rec.nseeds == 1 ? "" : "s", e->claim_check,
           e->flagged ? " [better than its logs]" : "");
    if (with_board && e->board.line)
        printf("      leaderboard: \"%s\" %.*f, %s (line %d)\n", e->board.run, e->board.decimals,
               e->board.score, e->board.date, e->board.line);
    else if (with_board)
        printf("      leaderboard: not listed\n");
    if (isfinite(e->sota_before))
        printf("      SOTA to beat: %.8g %s (%s)", e->sota_before, e->sota_name, e->sota_source);
    if (e->record_track && isfinite(e->stated_sota))
        printf("%sREADME states %.8g (line %d)%s\n", isfinite(e->sota_before) ? "; " : "      ",
               e->stated_sota, e->stated_line,
               !isfinite(e->sota_before)                          ? ""
               : fabs(e->stated_sota - e->sota_before) <= 5e-5 + 1e-9 ? ", the same"
                                                                  : ", another number");
    else if (e->record_track && isfinite(e->sota_before))
        printf("; the README states no comparison\n");
    if (!e->unshifted) {
        printf("      (%s)\n", e->reason);
        return;
    }
    if (e->scored) {
        char label[160];
        snprintf(label, sizeof label, "0.005 nats = %.6f BPB at %.5f tokens/byte:",
                 e->j.threshold_bpb, e->j.tokens_per_byte);
        print_tests(label, &e->j);
    } else {
        printf("      thresholded test not run: %s\n", e->threshold_reason);
    }
    print_tests("unshifted (threshold 0):", &e->j0);
}

static void print_history(const pg_track_history *t, size_t nt, const pg_leaderboard *board)
{
    for (size_t k = 0; k < nt; k++) {
        if (board)
            printf("track %s (%zu records; order, dates and SOTA from the leaderboard in %s)\n",
                   t[k].name, t[k].n, board->path);
        else
            printf("track %s (%zu records by date; SOTA: the best earlier record-track claim "
                   "its logs support)\n",
                   t[k].name, t[k].n);
        for (size_t i = 0; i < t[k].n; i++)
            print_entry(&t[k].e[i], board != NULL);
    }
}

int cmd_records(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"svg", required_argument, 0, 's'},
                                         {"alpha", required_argument, 0, 'a'},
                                         {"leaderboard", required_argument, 0, 'l'},
                                         {0, 0, 0, 0}};
    int as_json = 0, c;
    const char *svg = NULL, *readme = NULL;
    double alpha = 0.01;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'j')
            as_json = 1;
        else if (c == 's')
            svg = optarg;
        else if (c == 'l')
            readme = optarg;
        else if (c == 'a') {
            char *end;
            alpha = strtod(optarg, &end);
            if (*end || !(alpha > 0 && alpha < 1))
                return pg_cli_usage_error("records", "--alpha must be in (0, 1)");
        } else
            return pg_cli_usage_error("records", "bad option");
    }
    if (optind + 1 != argc)
        return pg_cli_usage_error("records", "needs exactly one TREE");
    pg_leaderboard board;
    if (readme && pg_leaderboard_load(readme, &board) != 0)
        return pg_cli_error();
    pg_track_history *t;
    size_t nt;
    int rc = pg_history_build(argv[optind], readme ? &board : NULL, alpha, &t, &nt);
    if (rc != 0) {
        if (readme)
            pg_leaderboard_free(&board);
        return pg_cli_error();
    }
    if (svg && pg_history_svg(svg, t, nt) != 0)
        rc = pg_cli_error();
    if (rc == 0 && as_json)
        rc = pg_cli_print_json(json_pack("{s:s, s:o, s:f, s:o}", "tree", argv[optind],
                                         "leaderboard", readme ? json_string(readme) : json_null(),
                                         "alpha", alpha, "tracks", tracks_json(t, nt, alpha)));
    else if (rc == 0)
        print_history(t, nt, readme ? &board : NULL);
    pg_history_free(t, nt);
    if (readme)
        pg_leaderboard_free(&board);
    return rc;
}
