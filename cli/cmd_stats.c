/* pgolf stats: the record significance tests from per-seed scores. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "cli/commands.h"
#include "packager/record.h"
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

/* Per-seed val_bpb and val_loss of a records folder. */
static int scores_from_record(const char *dir, num_list *bpb, num_list *loss, int *have_loss)
{
    pg_record r;
    if (pg_record_load(dir, &r) != 0)
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
            bad = scores_from_record(optarg, &sota_scores, &sota_losses, &unused);
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
            if (scores_from_record(argv[i], &scores, &tmp, &have_loss) != 0)
                return pg_cli_error();
            for (size_t k = 0; k < tmp.n; k++)
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
    /* records give both metrics; --metric loss tests the val_loss of each seed */
    if (o.scores_are_loss && from_records)
        for (size_t i = 0; i < scores.n; i++)
            scores.v[i] = losses.v[i];
    if (o.scores_are_loss && sota_from_record)
        for (size_t i = 0; i < sota_scores.n; i++)
            sota_scores.v[i] = sota_losses.v[i];
    const double *loss_pairs = losses.n == scores.n && have_loss ? losses.v : NULL;
    pg_judgement j;
    if (pg_judge(scores.v, loss_pairs, scores.n, sota, have_sota_scores ? sota_scores.v : NULL,
                 sota_scores.n, &o, &j) != 0)
        return pg_cli_error();
    if (as_json)
        return pg_cli_print_json(pg_judgement_json(&j, &o));
    pg_judgement_print(&j, &o, stdout);
    return 0;
}
