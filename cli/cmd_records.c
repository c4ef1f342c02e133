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

/* The test's numbers, or why there is none. */
static int add_judgement(json_t *o, const pg_history_entry *e, double alpha)
{
    if (!e->scored)
        return json_object_set_new(o, "t", json_null()) == 0 &&
                       json_object_set_new(o, "df", json_null()) == 0 &&
                       json_object_set_new(o, "p", json_null()) == 0 &&
                       json_object_set_new(o, "verdict", json_string("unscored")) == 0 &&
                       json_object_set_new(o, "reason", json_string(e->reason)) == 0
                   ? 0
                   : -1;
    pg_judge_opts opts;
    pg_judge_opts_default(&opts);
    opts.alpha = alpha;
    opts.threshold_is_bpb = !isfinite(e->j.tokens_per_byte);
    json_t *j = pg_judgement_json(&e->j, &opts);
    const char *keys[] = {"t", "df", "p", "verdict", "threshold_nats", "threshold_bpb",
                          "threshold_note", "welch"};
    int rc = j ? 0 : -1;
    for (size_t k = 0; rc == 0 && k < sizeof keys / sizeof keys[0]; k++) {
        json_t *v = json_object_get(j, keys[k]);
        if (v && json_object_set(o, keys[k], v) != 0)
            rc = -1;
    }
    json_decref(j);
    return rc;
}

/* One record of the history; NULL when out of memory. */
static json_t *entry_json(const pg_history_entry *e, double alpha)
{
    json_t *seeds = seeds_json(e);
    json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:o, s:s, s:b}", "record",
                          e->rec.name, "date", e->rec.date, "val_bpb", num_or_null(e->score),
                          "logs_mean_bpb", num_or_null(e->logs_mean), "seeds", seeds,
                          "seeds_source", e->rec.seeds_from_logs ? "logs" : "submission.json",
                          "sota_before", num_or_null(e->sota_before), "sota_record",
                          e->sota_name ? json_string(e->sota_name) : json_null(), "claim_check",
                          e->claim_check, "flagged", e->flagged);
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

static void print_table(const pg_track_history *t, size_t nt)
{
    for (size_t k = 0; k < nt; k++) {
        printf("track %s (%zu records)\n", t[k].name, t[k].n);
        printf("  %-10s %-44s %9s %5s %9s %8s %9s  %s\n", "date", "record", "val_bpb", "seeds",
               "sota", "t", "p", "verdict");
        for (size_t i = 0; i < t[k].n; i++) {
            const pg_history_entry *e = &t[k].e[i];
            char sota[16] = "-", tt[16] = "-", pp[16] = "-";
            if (isfinite(e->sota_before))
                snprintf(sota, sizeof sota, "%.5f", e->sota_before);
            if (e->scored) {
                snprintf(tt, sizeof tt, "%.2f", e->j.one.t);
                snprintf(pp, sizeof pp, "%.2g", e->j.one.p);
            }
            printf("  %-10s %-44.44s %9.5f %5zu %9s %8s %9s  %s%s\n", e->rec.date, e->rec.name,
                   e->score, e->rec.nseeds, sota, tt, pp,
                   e->scored ? pg_verdict_name(e->j.verdict) : "unscored",
                   e->flagged ? " [claim better than its logs]" : "");
            if (!e->scored)
                printf("  %10s   (%s)\n", "", e->reason);
        }
    }
}

int cmd_records(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"svg", required_argument, 0, 's'},
                                         {"alpha", required_argument, 0, 'a'},
                                         {0, 0, 0, 0}};
    int as_json = 0, c;
    const char *svg = NULL;
    double alpha = 0.01;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'j')
            as_json = 1;
        else if (c == 's')
            svg = optarg;
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
    pg_track_history *t;
    size_t nt;
    if (pg_history_build(argv[optind], alpha, &t, &nt) != 0)
        return pg_cli_error();
    int rc = 0;
    if (svg && pg_history_svg(svg, t, nt) != 0)
        rc = pg_cli_error();
    if (rc == 0 && as_json)
        rc = pg_cli_print_json(json_pack("{s:s, s:f, s:o}", "tree", argv[optind], "alpha", alpha,
                                         "tracks", tracks_json(t, nt, alpha)));
    else if (rc == 0)
        print_table(t, nt);
    pg_history_free(t, nt);
    return rc;
}
