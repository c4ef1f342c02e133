/* pgolf package: a records folder in the official layout, from pgolf training runs or from
 * the logs of any train_gpt.py-style run.
 *
 * Runs (RUN_DIR...): each run's final.ckpt is quantized and compressed here and the
 * artifact scored on --data with --tokenizer (the standard eval, train_gpt.py's roundtrip
 * line); pg_package writes the folder with the first run's resolved configuration baked
 * into train_gpt.py. Logs (--logs LOG...): pg_logs_load reads the seeds, scores, sizes and
 * times from the logs and pg_logs_write copies them with the code. Both write README.md,
 * submission.json and loss.svg through the same writer, with the significance test
 * against the SOTA given (records/sota.c). The folder is built beside its final place and
 * moved there whole, so a failure leaves no half-written folder and an earlier result is
 * only replaced with --force. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/text.h"
#include "dataset/shard.h"
#include "dataset/tokenizer.h"
#include "kernels/checkpoint.h"
#include "kernels/final_eval.h"
#include "packager/artifact.h"
#include "packager/logparse.h"
#include "packager/package.h"
#include "packager/package_logs.h"
#include "records/sota.h"

#define MAX_FILES 256

typedef struct {
    const char *out, *data, *tok_path, *scheme, *source;
    const char *name, *author, *github_id, *date, *blurb, *hardware, *score_tag;
    char track[64];
    const char *sota_value, *sota_record, *leaderboard;
    const char *code[MAX_FILES], *artifacts[MAX_FILES];
    const char *eval_sets[MAX_FILES]; /* --eval-set NAME=VALUE */
    int ncode, nartifacts, neval_sets, logs, force;
    pg_final_opts evals; /* the evaluations RUN_DIR... are scored by */
} package_args;

/* ---- the SOTA and the README's significance section */

/* The SOTA named by --sota, --sota-record or --leaderboard (at most one); *have = 0 when
 * none is given. */
static int load_sota(const package_args *a, pg_sota *s, int *have)
{
    *have = 0;
    int given = !!a->sota_value + !!a->sota_record + !!a->leaderboard;
    if (given > 1)
        return pg_fail("give one of --sota, --sota-record and --leaderboard");
    if (given == 0)
        return 0;
    *have = 1;
    if (a->sota_record)
        return pg_sota_from_records(a->sota_record, s);
    if (a->leaderboard)
        return pg_sota_from_leaderboard(a->leaderboard, a->track, s);
    char *end;
    double v = strtod(a->sota_value, &end);
    if (end == a->sota_value || *end)
        return pg_fail("--sota %s: not a number (the SOTA's val_bpb)", a->sota_value);
    return pg_sota_from_value(v, s);
}

/* ---- pgolf runs */

/* The final evaluations of the dequantized artifact (the bytes as written). */
static int score_artifact(const char *name, pg_package_seed *s, const pg_tokenizer *tok,
                          const char *data, const pg_final_opts *evals)
{
    pg_model q;
    if (pg_artifact_decode(name, s->artifact, s->artifact_len, &q, NULL) != 0)
        return -1;
    pg_bpb_lut lut = {0};
    uint16_t *val = NULL;
    size_t nval;
    int rc = pg_bpb_lut_build(tok, q.cfg.vocab_size, &lut) == 0 &&
                     pg_shards_load(data, "val", q.cfg.vocab_size, &val, &nval) == 0 &&
                     pg_final_evals(&q, val, nval, &lut, evals, 0, &s->scores) == 0
                 ? 0
                 : -1;
    free(val);
    pg_bpb_lut_free(&lut);
    pg_model_free(&q);
    return rc;
}

/* One run: RUN_DIR/final.ckpt quantized with the plan, its artifact and score. */
static int prepare_seed(const char *dir, const pg_quant_plan *plan, const pg_tokenizer *tok,
                        const package_args *a, pg_package_seed *s, unsigned char **art)
{
    char *ck = pg_path_join(dir, "final.ckpt");
    if (!ck)
        return pg_fail("%s: out of memory", dir);
    pg_model m;
    pg_pack_stats st;
    int rc = pg_checkpoint_load(ck, &m, NULL);
    if (rc == 0) {
        rc = pg_artifact_encode(ck, &m, plan, &st, art);
        pg_model_free(&m);
    }
    if (rc == 0) {
        s->run_dir = dir;
        s->artifact = *art;
        s->artifact_len = st.file_bytes;
        rc = score_artifact(ck, s, tok, a->data, &a->evals);
    }
    free(ck);
    return rc;
}

/* The resolved configuration of the first run's train.log. */
static int run_settings(const char *dir, char ***settings, int *n)
{
    char *log = pg_path_join(dir, "train.log");
    int rc = log ? pg_log_settings(log, settings, n) : pg_fail("%s: out of memory", dir);
    free(log);
    return rc;
}

/* The runs' scores against the SOTA, as the README's section. */
static int runs_significance(const pg_package_seed *seeds, int n, const pg_sota *s, int have,
                             const char *track, pg_text *md)
{
    double *bpb = calloc((size_t)n, sizeof *bpb), *loss = calloc((size_t)n, sizeof *loss);
    int rc = bpb && loss ? 0 : pg_fail("out of memory");
    for (int i = 0; rc == 0 && i < n; i++) {
        const char *mode;
        const pg_eval_result *claim = pg_final_claim(&seeds[i].scores, &mode);
        bpb[i] = claim->val_bpb, loss[i] = claim->val_loss;
    }
    if (rc == 0)
        rc = pg_significance_markdown(bpb, loss, (size_t)n, have ? s : NULL, track, md);
    free(bpb);
    free(loss);
    return rc;
}

/* Scores every run, then writes the folder. */
static int package_runs(char *const *dirs, int n, const pg_quant_plan *plan, const package_args *a,
                        const pg_sota *sota, int have_sota, pg_package_opts *o)
{
    pg_package_seed *seeds = calloc((size_t)n, sizeof *seeds);
    unsigned char **arts = calloc((size_t)n, sizeof *arts);
    char **settings = NULL;
    int nsettings = 0, rc = -1;
    pg_tokenizer tok;
    pg_text md = {0};
    if (!seeds || !arts) {
        free(seeds);
        free(arts);
        return pg_fail("%s: out of memory", o->out_dir);
    }
    if (pg_tokenizer_load(a->tok_path, &tok) == 0) {
        rc = 0;
        for (int i = 0; i < n && rc == 0; i++)
            rc = prepare_seed(dirs[i], plan, &tok, a, &seeds[i], &arts[i]);
        pg_tokenizer_free(&tok);
    }
    if (rc == 0)
        rc = runs_significance(seeds, n, sota, have_sota, a->track, &md);
    if (rc == 0 && (rc = run_settings(dirs[0], &settings, &nsettings)) == 0) {
        o->settings = (const char *const *)settings;
        o->nsettings = nsettings;
        o->significance = md.s;
        rc = pg_package(seeds, n, o);
    }
    pg_text_free(&md);
    pg_log_settings_free(settings, nsettings);
    for (int i = 0; i < n; i++)
        free(arts[i]);
    free(arts);
    free(seeds);
    return rc;
}

/* ---- logs of any train_gpt.py run */

typedef struct {
    pg_logs_opts o;
    pg_logs_package p;
    pg_text significance;
} logs_job;

/* Reads and checks every log and code file and judges the seeds; writes nothing. */
static int prepare_logs(char *const *logs, int n, const package_args *a, const pg_sota *sota,
                        int have_sota, logs_job *job)
{
    job->o = (pg_logs_opts){.logs = (const char *const *)logs, .nlogs = n, .code = a->code,
                            .ncode = a->ncode, .artifacts = a->nartifacts ? a->artifacts : NULL,
                            .nartifacts = a->nartifacts, .score_tag = a->score_tag,
                            .name = a->name, .author = a->author, .github_id = a->github_id,
                            .date = a->date, .track = a->track, .blurb = a->blurb,
                            .hardware = a->hardware};
    if (pg_logs_load(&job->o, &job->p) != 0)
        return -1;
    double *bpb = calloc((size_t)n, sizeof *bpb), *loss = calloc((size_t)n, sizeof *loss);
    int rc = bpb && loss ? 0 : pg_fail("out of memory judging %d seeds", n);
    for (int i = 0; rc == 0 && i < n; i++)
        bpb[i] = job->p.seeds[i].score.val_bpb, loss[i] = job->p.seeds[i].score.val_loss;
    if (rc == 0)
        rc = pg_significance_markdown(bpb, loss, (size_t)n, have_sota ? sota : NULL, a->track,
                                      &job->significance);
    free(bpb);
    free(loss);
    return rc;
}

static int build_logs(void *ctx, const char *staging)
{
    logs_job *job = ctx;
    return pg_logs_write(&job->p, &job->o, staging, job->significance.s);
}

/* ---- the folder */

/* A records folder that already holds files is another result: kept unless --force. */
static int refuse_existing(const char *out, int force)
{
    DIR *d = opendir(out);
    if (!d)
        return 0;
    char names[160] = "";
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n++ < 3) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%.40s", l ? ", " : "", e->d_name);
        }
    }
    closedir(d);
    if (n == 0 || force)
        return 0;
    return pg_fail("%s already holds %d file%s (%s%s): that records folder would be replaced; "
                   "pass --force to replace it, or choose another --out",
                   out, n, n == 1 ? "" : "s", names, n > 3 ? ", ..." : "");
}

/* The highest folder of path that does not exist yet: what mkdir -p creates first. */
static void first_missing(const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s", path);
    for (;;) {
        char *slash = strrchr(out, '/');
        if (!slash || slash == out)
            return;
        *slash = '\0';
        struct stat st;
        if (stat(out, &st) == 0 || errno != ENOENT) { /* there, or not ours to remove */
            *slash = '/';
            return;
        }
    }
}

/* Builds the folder in DIR.tmp.PID with build(), then puts it in place of DIR; on failure
 * removes all it created (the staging folder and any parent it made). */
static int build_folder(const char *dir, int (*build)(void *ctx, const char *staging), void *ctx)
{
    char staging[PG_PATH_MAX + 32], created[PG_PATH_MAX + 32];
    snprintf(staging, sizeof staging, "%s.tmp.%ld", dir, (long)getpid());
    first_missing(staging, created, sizeof created);
    int rc = pg_mkdir_p(staging) == 0 ? build(ctx, staging) : -1;
    if (rc == 0)
        rc = pg_dir_replace(staging, dir);
    if (rc != 0) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", pg_errmsg());
        pg_remove_tree(created);
        pg_fail("%s", keep);
    }
    return rc;
}

typedef struct {
    char *const *inputs;
    int n;
    const package_args *a;
    const pg_sota *sota;
    int have_sota;
    const pg_quant_plan *plan;
    pg_package_opts *o;
} runs_job;

static int build_runs(void *ctx, const char *staging)
{
    runs_job *b = ctx;
    b->o->out_dir = staging;
    return package_runs(b->inputs, b->n, b->plan, b->a, b->sota, b->have_sota, b->o);
}

/* ---- options */

static int add_file(const char **list, int *n, const char *flag)
{
    if (*n == MAX_FILES)
        return pg_cli_usage_error("package", "more than %d %s files", MAX_FILES, flag);
    list[(*n)++] = optarg;
    return 0;
}

static int parse_args(int argc, char **argv, package_args *a)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},         {"data", required_argument, 0, 'D'},
        {"tokenizer", required_argument, 0, 'T'},   {"name", required_argument, 0, 'n'},
        {"author", required_argument, 0, 'a'},      {"github-id", required_argument, 0, 'g'},
        {"date", required_argument, 0, 'd'},        {"track", required_argument, 0, 't'},
        {"blurb", required_argument, 0, 'b'},       {"scheme", required_argument, 0, 's'},
        {"source", required_argument, 0, 'r'},      {"force", no_argument, 0, 'F'},
        {"logs", no_argument, 0, 'L'},              {"code", required_argument, 0, 'c'},
        {"with-artifacts", required_argument, 0, 'A'}, {"score", required_argument, 0, 'S'},
        {"hardware", required_argument, 0, 'H'},    {"sota", required_argument, 0, 'V'},
        {"sota-record", required_argument, 0, 'R'}, {"leaderboard", required_argument, 0, 'B'},
        {"eval-set", required_argument, 0, 'E'},   {0, 0, 0, 0}};
    const char *track = "10min_16mb";
    int c, rc = 0;
    optind = 1;
    while (rc == 0 && (c = pg_cli_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'F': a->force = 1; break;
        case 'L': a->logs = 1; break;
        case 'o': a->out = optarg; break;
        case 'D': a->data = optarg; break;
        case 'T': a->tok_path = optarg; break;
        case 'n': a->name = optarg; break;
        case 'a': a->author = optarg; break;
        case 'g': a->github_id = optarg; break;
        case 'd': a->date = optarg; break;
        case 't': track = optarg; break;
        case 'b': a->blurb = optarg; break;
        case 's': a->scheme = optarg; break;
        case 'r': a->source = optarg; break;
        case 'c': rc = add_file(a->code, &a->ncode, "--code"); break;
        case 'A': rc = add_file(a->artifacts, &a->nartifacts, "--with-artifacts"); break;
        case 'E': rc = add_file(a->eval_sets, &a->neval_sets, "--eval-set"); break;
        case 'S': a->score_tag = optarg; break;
        case 'H': a->hardware = optarg; break;
        case 'V': a->sota_value = optarg; break;
        case 'R': a->sota_record = optarg; break;
        case 'B': a->leaderboard = optarg; break;
        default: return pg_cli_usage_error("package", "bad option");
        }
    }
    if (rc == 0 && pg_track_canonical(track, a->track, sizeof a->track) != 0)
        rc = pg_cli_error();
    return rc;
}

/* The flags each way of packaging needs and refuses. */
static int check_args(int argc, const package_args *a)
{
    if (!a->out || optind >= argc)
        return pg_cli_usage_error("package", "needs RUN_DIR... (or --logs LOG...) and --out DIR");
    if (a->logs) {
        if (a->data || a->tok_path || a->scheme || a->source || a->neval_sets)
            return pg_cli_usage_error("package", "--data, --tokenizer, --scheme, --source and "
                                                 "--eval-set are for RUN_DIR...; --logs takes "
                                                 "the logs' scores");
        if (a->ncode == 0 || !a->name || !a->author || !a->github_id)
            return pg_cli_usage_error("package", "--logs needs --code train_gpt.py, --name, "
                                                 "--author and --github-id");
        return 0;
    }
    if (a->ncode || a->nartifacts || a->score_tag || a->hardware)
        return pg_cli_usage_error("package", "--code, --with-artifacts, --score and --hardware "
                                             "go with --logs");
    if (!a->data || !a->tok_path)
        return pg_cli_usage_error("package", "needs RUN_DIR..., --out DIR, --data DIR and "
                                             "--tokenizer MODEL");
    if (strcmp(a->scheme, "int8") != 0 && strcmp(a->scheme, "mixed") != 0)
        return pg_cli_usage_error("package", "--scheme must be int8 or mixed");
    return 0;
}

static int set_eval(void *evals, const char *name, const char *value)
{
    pg_settings_bind b[PG_FINAL_TABLES];
    return pg_settings_set(b, pg_final_opts_bind(evals, b), name, value);
}

/* The evaluations of RUN_DIR...: the standard roundtrip, then RUN_SLIDING_STRIDE,
 * RUN_TTT and TTT_* from the environment and --eval-set. Returns an exit status. */
static int eval_settings(package_args *a)
{
    pg_final_opts_default(&a->evals);
    pg_settings_bind b[PG_FINAL_TABLES];
    if (!a->logs && pg_settings_from_env(b, pg_final_opts_bind(&a->evals, b)) != 0)
        return pg_cli_error();
    return pg_cli_apply_sets("package", "--eval-set", a->eval_sets, a->neval_sets, set_eval,
                             &a->evals);
}

/* Defaults that depend on the way of packaging. */
static void fill_defaults(package_args *a)
{
    if (!a->logs) {
        a->name = a->name ? a->name : "pgolf submission";
        a->author = a->author ? a->author : "unknown";
        a->github_id = a->github_id ? a->github_id : "unknown";
    }
    a->blurb = a->blurb ? a->blurb : a->logs ? "Packaged from its training logs by pgolf."
                                             : "Trained, quantized and packaged with pgolf.";
    a->hardware = a->hardware ? a->hardware : "8xH100 80GB SXM";
}

static int from_logs(char *const *logs, int n, const package_args *a, const pg_sota *sota,
                     int have_sota, const char *dir)
{
    logs_job job = {0};
    int rc = prepare_logs(logs, n, a, sota, have_sota, &job);
    if (rc == 0)
        rc = build_folder(dir, build_logs, &job);
    pg_text_free(&job.significance);
    pg_logs_free(&job.p);
    return rc;
}

static int from_runs(char *const *dirs, int n, const package_args *a, const pg_sota *sota,
                     int have_sota, const char *dir)
{
    char root[PATH_MAX];
    if (!a->source && pg_cli_root(root, sizeof root) != 0)
        return -1;
    pg_package_opts o = {.name = a->name, .author = a->author, .github_id = a->github_id,
                         .date = a->date, .track = a->track, .blurb = a->blurb,
                         .source_root = a->source ? a->source : root, .scheme_name = a->scheme,
                         .evals = &a->evals};
    pg_quant_plan plan;
    if (strcmp(a->scheme, "int8") == 0)
        pg_quant_plan_int8(&plan);
    else
        pg_quant_plan_mixed(&plan);
    runs_job job = {.inputs = dirs, .n = n, .a = a, .sota = sota, .have_sota = have_sota,
                    .plan = &plan, .o = &o};
    return build_folder(dir, build_runs, &job);
}

int cmd_package(int argc, char **argv)
{
    char today[16];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    package_args a = {.date = today};
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc;
    if (!a.logs && !a.scheme)
        a.scheme = "int8";
    if ((rc = check_args(argc, &a)) != 0 || (rc = eval_settings(&a)) != 0)
        return rc;
    fill_defaults(&a);
    char *dir = NULL;
    pg_sota sota = {0};
    int have_sota, n = argc - optind;
    rc = pg_records_folder(a.out, a.track, a.date, a.name, &dir) == 0 &&
                 refuse_existing(dir, a.force) == 0 && load_sota(&a, &sota, &have_sota) == 0
             ? (a.logs ? from_logs : from_runs)(argv + optind, n, &a, &sota, have_sota, dir)
             : -1;
    if (rc == 0)
        printf("%s: records folder for %d seed(s)\n", dir, n);
    free(dir);
    pg_sota_free(&sota);
    return rc == 0 ? 0 : pg_cli_error();
}
