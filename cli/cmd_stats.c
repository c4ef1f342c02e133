/* pgolf stats: the record significance tests from per-seed scores. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fileio.h"
#include "cli/commands.h"
#include "packager/record.h"
#include "records/history.h"
#include "stats/judge.h"

#define MAX_SCORES 4096

typedef struct {
    double v[MAX_SCORES];
    size_t n;
} num_list;

/* Appends the comma-separated numbers of s; `what` names the list in errors. */
static int parse_list(const char *s, num_list *l, const char *what)
{
    char *copy = strdup(s), *save = NULL;
    int rc = 0;
    if (!copy)
        return pg_fail("%s: out of memory", what);
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char *end;
        errno = 0;
        double v = strtod(tok, &end);
        if (errno || end == tok || *end || !isfinite(v)) {
            rc = pg_fail("%s: '%s' is not a number", what, tok);
            break;
        }
        if (l->n == MAX_SCORES) {
            rc = pg_fail("%s: more than %d values", what, MAX_SCORES);
            break;
        }
        l->v[l->n++] = v;
    }
    free(copy);
    return rc;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Per-seed val_bpb and val_loss of a records folder (with tree: of a records tree's
 * current SOTA). */
static int scores_from_record(const char *path, int tree, num_list *bpb, num_list *loss,
                              int *have_loss)
{
    char dir[PG_PATH_MAX];
    pg_record r;
    snprintf(dir, sizeof dir, "%s", path);
    if ((tree && pg_history_current_sota(path, dir, sizeof dir) != 0) ||
        pg_record_load(dir, &r) != 0)
        return -1;
    if (r.nseeds == 0) {
        pg_record_free(&r);
        return pg_fail("%s: no per-seed scores in its logs or submission.json", dir);
    }
    for (size_t i = 0; i < r.nseeds && bpb->n < MAX_SCORES; i++) {
        bpb->v[bpb->n++] = r.seeds[i].val_bpb;
        loss->v[loss->n++] = r.seeds[i].val_loss;
        if (!r.seeds[i].has_loss)
            *have_loss = 0;
    }
    pg_record_free(&r);
    return 0;
}

/* Combinations of flags pg_judge cannot use, each named with the flag that fixes it. */
static int check_flags(const pg_judge_opts *o, size_t n, int have_losses, int have_sota)
{
    if (pg_judge_check_opts(o) != 0)
        return -1;
    if (n < 2)
        return 0; /* pg_judge says a test needs two scores */
    if (!have_sota)
        return pg_fail("stats: no SOTA to test against: give --sota X, --sota-scores A,B,... or "
                       "--sota-record DIR");
    if (o->scores_are_loss && o->threshold_is_bpb)
        return pg_fail("stats: --metric loss tests val_loss in nats, so the threshold is in "
                       "nats: drop --threshold-bpb");
    if (!o->scores_are_loss && !o->threshold_is_bpb && o->threshold > 0 && !have_losses)
        return pg_fail("stats: cannot convert %g nats to BPB without each seed's val_loss: give "
                       "--losses L1,L2,... (or records folders with val_loss), or "
                       "--threshold-bpb to take the threshold as BPB",
                       o->threshold);
    return 0;
}

int cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {{"losses", required_argument, 0, 'l'},
                                         {"sota", required_argument, 0, 's'},
                                         {"sota-scores", required_argument, 0, 'S'},
                                         {"sota-record", required_argument, 0, 'R'},
                                         {"threshold", required_argument, 0, 't'},
                                         {"threshold-bpb", no_argument, 0, 'b'},
                                         {"metric", required_argument, 0, 'm'},
                                         {"alpha", required_argument, 0, 'a'},
                                         {"power", required_argument, 0, 'p'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    static num_list scores, losses, sota_scores, sota_losses, tmp;
    scores.n = losses.n = sota_scores.n = sota_losses.n = 0;
    pg_judge_opts o;
    pg_judge_opts_default(&o);
    double sota = NAN;
    int as_json = 0, have_sota_scores = 0, sota_from_record = 0, have_loss = 1, c;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        int bad = 0;
        tmp.n = 0;
        switch (c) {
        case 'l': bad = parse_list(optarg, &losses, "--losses"); break;
        case 's':
            bad = parse_list(optarg, &tmp, "--sota");
            if (!bad && tmp.n != 1)
                return pg_cli_usage_error("stats", "--sota takes one number");
            sota = tmp.v[0];
            break;
        case 'S':
            bad = parse_list(optarg, &sota_scores, "--sota-scores");
            have_sota_scores = 1;
            break;
        case 'R': {
            int unused = 1;
            bad = scores_from_record(optarg, 1, &sota_scores, &sota_losses, &unused);
            have_sota_scores = sota_from_record = 1;
            break;
        }
        case 't':
            bad = parse_list(optarg, &tmp, "--threshold");
            if (!bad && tmp.n != 1)
                return pg_cli_usage_error("stats", "--threshold takes one number");
            o.threshold = tmp.v[0];
            break;
        case 'b': o.threshold_is_bpb = 1; break;
        case 'm':
            if (strcmp(optarg, "bpb") == 0)
                o.scores_are_loss = 0;
            else if (strcmp(optarg, "loss") == 0)
                o.scores_are_loss = 1;
            else
                return pg_cli_usage_error("stats", "--metric must be bpb or loss");
            break;
        case 'a':
            bad = parse_list(optarg, &tmp, "--alpha");
            o.alpha = tmp.n ? tmp.v[0] : NAN;
            break;
        case 'p':
            bad = parse_list(optarg, &tmp, "--power");
            o.power = tmp.n ? tmp.v[0] : NAN;
            break;
        case 'j': as_json = 1; break;
        default: return pg_cli_usage_error("stats", "bad option");
        }
        if (bad)
            return pg_cli_error();
    }
    int from_records = 0;
    tmp.n = 0;
    for (int i = optind; i < argc; i++) {
        if (is_dir(argv[i])) {
            if (scores_from_record(argv[i], 0, &scores, &tmp, &have_loss) != 0)
                return pg_cli_error();
            for (size_t k = 0; k < tmp.n && losses.n < MAX_SCORES; k++)
                losses.v[losses.n++] = tmp.v[k];
            tmp.n = 0;
            from_records = 1;
        } else if (parse_list(argv[i], &scores, "score") != 0) {
            return pg_cli_error();
        }
    }
    if (scores.n == 0)
        return pg_cli_usage_error("stats", "no scores given");
    if (!from_records && losses.n && losses.n != scores.n)
        return pg_cli_usage_error("stats", "--losses has %zu values for %zu scores", losses.n,
                                  scores.n);
    /* records and --losses give both metrics: --metric loss tests the val_loss of each
     * seed (without --losses, the scores given are in the --metric unit) */
    const double *loss_pairs = losses.n == scores.n && have_loss ? losses.v : NULL;
    if (o.scores_are_loss && from_records && !have_loss)
        return pg_cli_usage_error("stats", "--metric loss: the records folders give no val_loss "
                                           "for every seed");
    if (o.scores_are_loss && loss_pairs)
        memcpy(scores.v, losses.v, scores.n * sizeof *scores.v);
    if (o.scores_are_loss && sota_from_record)
        memcpy(sota_scores.v, sota_losses.v, sota_scores.n * sizeof *sota_scores.v);
    if (check_flags(&o, scores.n, loss_pairs != NULL, isfinite(sota) || have_sota_scores) != 0)
        return pg_cli_error();
    pg_judgement j;
    if (pg_judge(scores.v, loss_pairs, scores.n, sota, have_sota_scores ? sota_scores.v : NULL,
                 sota_scores.n, &o, &j) != 0)
        return pg_cli_error();
    if (as_json)
        return pg_cli_print_json(pg_judgement_json(&j, &o));
    pg_judgement_print(&j, &o, stdout);
    return 0;
}
