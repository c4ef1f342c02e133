/* pgolf run, pgolf replay, pgolf status: the staged pipeline and its manifest. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/err.h"
#include "common/fileio.h"
#include "kernels/backend.h"
#include "pipeline/manifest.h"
#include "pipeline/run.h"
#include "train/launch.h"

#define MAX_SETS 128

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
    static const char msg[] = "\npgolf: interrupt: stopping after the current step (Ctrl-C "
                              "again aborts at once)\n";
    ssize_t unused = write(2, msg, sizeof msg - 1);
    (void)unused;
}

static void catch_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills as usual */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

/* The pgolf sources (build stage, tiny preset data), malloc'ed. */
static char *repo_root(void)
{
    char buf[PATH_MAX];
    return pg_cli_root(buf, sizeof buf) == 0 ? strdup(buf) : NULL;
}

static int finish_run(int rc)
{
    if (rc == 0)
        return 0;
    fprintf(stderr, "pgolf: %s\n", pg_errmsg());
    return interrupted ? 130 : 1;
}

static int set_run(void *cfg, const char *name, const char *value)
{
    return pg_run_config_set(cfg, name, value);
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {{"preset", required_argument, 0, 'p'},
                                         {"config", required_argument, 0, 'c'},
                                         {"seeds", required_argument, 0, 'S'},
                                         {"set", required_argument, 0, 's'},
                                         {"sota", required_argument, 0, 'o'},
                                         {"sota-record", required_argument, 0, 'R'},
                                         {"out", required_argument, 0, 'O'},
                                         {"refresh", no_argument, 0, 'f'},
                                         {"force", no_argument, 0, 'F'},
                                         PG_CLI_BACKEND_OPTION,
                                         {0, 0, 0, 0}};
    pg_cli_warn_env_settings(stderr);
    const char *preset = "tiny", *config = NULL, *seeds = NULL, *sota = NULL, *record = NULL;
    const char *out = NULL, *sets[MAX_SETS], *backend = NULL;
    int nsets = 0, refresh = 0, force = 0, c;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'p': preset = optarg; break;
        case 'c': config = optarg; break;
        case 'S': seeds = optarg; break;
        case 's':
            if (nsets == MAX_SETS)
                return pg_cli_usage_error("run", "too many --set flags");
            sets[nsets++] = optarg;
            break;
        case 'o': sota = optarg; break;
        case 'R': record = optarg; break;
        case 'O': out = optarg; break;
        case 'f': refresh = 1; break;
        case 'F': force = 1; break;
        case 'K': backend = optarg; break;
        default: return pg_cli_usage_error("run", "bad option");
        }
    }
    if (optind != argc)
        return pg_cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
    const pg_backend *be;
    int brc = pg_cli_backend("run", backend, &be);
    if (brc != 0)
        return brc;
    char *root = repo_root();
    if (!root)
        return pg_cli_error();
    pg_run_config cfg;
    if (pg_run_config_preset(&cfg, preset, root) != 0 ||
        (config && pg_run_config_load_file(&cfg, config) != 0) ||
        pg_run_config_from_env(&cfg) != 0) {
        free(root);
        return pg_cli_error();
    }
    int rc = pg_cli_apply_sets("run", "--set", sets, nsets, set_run, &cfg);
    if (rc == 0 && ((seeds && pg_run_config_set(&cfg, "RUN_SEEDS", seeds) != 0) ||
                    (sota && pg_run_config_set(&cfg, "RUN_SOTA", sota) != 0) ||
                    (record && pg_run_config_set(&cfg, "RUN_SOTA_RECORD", record) != 0) ||
                    pg_run_config_finish(&cfg) != 0))
        rc = pg_cli_error();
    if (rc != 0) {
        free(root);
        return rc;
    }
    char default_out[64];
    snprintf(default_out, sizeof default_out, "runs/%s", preset);
    /* under torchrun / mpirun: rank 0 runs the pipeline, the others train beside it */
    pg_dist dist;
    int joined;
    if (pg_train_join_launch(be, &dist, &joined) != 0) {
        free(root);
        return pg_cli_error();
    }
    if (joined && dist.rank != 0) {
        free(root);
        catch_sigint(); /* a launcher interrupts every rank: rank 0 decides */
        rc = pg_run_follow(&dist, be, &interrupted);
        pg_dist_close(&dist);
        return rc != 0 ? pg_cli_error() : 0;
    }
    pg_run_opts o = {.run_dir = out ? out : default_out, .source_root = root, .use_cache = 1,
                     .refresh = refresh, .force = force, .out = stdout, .stop = &interrupted,
                     .backend = be, .dist = joined ? &dist : NULL};
    catch_sigint();
    rc = pg_run(&cfg, &o);
    free(root);
    if (joined) {
        if (pg_run_release(&dist, rc) != 0 && rc == 0)
            rc = -1;
        pg_dist_close(&dist);
    }
    return finish_run(rc);
}

/* The checked manifest of an existing run, or NULL (message). */
static json_t *open_run(const char *dir)
{
    json_t *man;
    if (pg_manifest_load(dir, &man) == 0 && !man)
        pg_fail("%s: no %s: not a pgolf run directory", dir, PG_MANIFEST_NAME);
    return man;
}

/* ---- replay */

typedef struct {
    int identical, differ, timed;
    json_t *rows; /* NULL once out of memory */
} replay_tally;

static void compare_outputs(const json_t *orig, const json_t *again, replay_tally *t, FILE *out)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(orig, "stages"), i, s)
    {
        const char *id = json_string_value(json_object_get(s, "id"));
        json_t *s2 = pg_manifest_stage(again, id);
        size_t k;
        json_t *f;
        json_array_foreach(json_object_get(s, "outputs"), k, f)
        {
            const char *path = json_string_value(json_object_get(f, "path"));
            const char *h1 = json_string_value(json_object_get(f, "sha256"));
            const char *h2 = NULL;
            size_t q;
            json_t *g;
            json_array_foreach(json_object_get(s2, "outputs"), q, g)
            {
                if (strcmp(json_string_value(json_object_get(g, "path")), path) == 0)
                    h2 = json_string_value(json_object_get(g, "sha256"));
            }
            int repro = json_is_true(json_object_get(f, "reproducible"));
            int same = h2 && strcmp(h1, h2) == 0;
            const char *verdict = same ? "identical" : repro ? "DIFFERS" : "differs (wall-clock times)";
            if (same)
                t->identical++;
            else if (repro)
                t->differ++;
            else
                t->timed++;
            fprintf(out, "%-28s %-34s %s\n", verdict, path, h1);
            if (!same)
                fprintf(out, "%-28s %-34s %s\n", "", "  replay:", h2 ? h2 : "(not written)");
            if (t->rows && json_array_append_new(t->rows, json_pack("{s:s, s:s, s:s, s:s?, s:b, s:b}",
                                                                    "stage", id, "path", path,
                                                                    "recorded", h1, "replay", h2,
                                                                    "reproducible", repro,
                                                                    "identical", same)) != 0) {
                json_decref(t->rows);
                t->rows = NULL;
            }
        }
    }
}

static void count_mismatch(void *ctx, const char *stage, const char *path, const char *recorded,
                           const char *now, int is_output)
{
    int *first = ctx;
    (void)is_output;
    if (*first)
        pg_fail("%s: %s (recorded %.16s..., input of stage %s): replay needs the recorded "
                "inputs; nothing was written",
                path, now ? "SHA-256 differs from the manifest" : "missing", recorded, stage);
    *first = 0;
}

/* External inputs (absolute paths) must be as recorded for a replay to mean anything. */
static int check_inputs(const char *dir, const json_t *man)
{
    int first = 1;
    return pg_run_check_files(dir, man, 1, count_mismatch, &first) ? -1 : 0;
}

int cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {{"keep", no_argument, 0, 'k'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    int keep = 0, as_json = 0, c;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'k')
            keep = 1;
        else if (c == 'j')
            as_json = 1;
        else
            return pg_cli_usage_error("replay", "bad option");
    }
    if (optind + 1 != argc)
        return pg_cli_usage_error("replay", "needs one RUN_DIR");
    const char *dir = argv[optind];
    json_t *man = open_run(dir);
    if (!man)
        return pg_cli_error();
    pg_run_config cfg;
    pg_run_config_preset(&cfg, "baseline", ".");
    const char *name;
    json_t *v;
    int rc = check_inputs(dir, man);
    json_object_foreach(json_object_get(man, "settings"), name, v)
    {
        if (rc == 0 && pg_run_config_set(&cfg, name, json_string_value(v)) != 0)
            rc = pg_fail_prefix(dir);
    }
    /* the backend the run trained on (recorded in its train stages unless the CPU) */
    const pg_backend *be = NULL;
    const char *bname = NULL;
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(man, "stages"), i, st)
    {
        const char *kind = json_string_value(json_object_get(st, "kind"));
        if (!bname && kind && strcmp(kind, "train") == 0)
            bname = json_string_value(json_object_get(json_object_get(st, "params"), "backend"));
    }
    if (rc == 0 && pg_cli_backend("replay", bname ? bname : "cpu", &be) != 0)
        rc = -1;
    json_t *build = pg_manifest_stage(man, "build");
    const char *root = json_string_value(json_object_get(json_object_get(build, "params"), "source_root"));
    if (rc == 0 && (pg_run_config_finish(&cfg) != 0 || !root))
        rc = root ? -1 : pg_fail("%s: the manifest has no build stage", dir);
    if (rc != 0) {
        json_decref(man);
        return pg_cli_error();
    }
    json_t *now = pg_run_versions();
    if (!now) {
        json_decref(man);
        return pg_cli_error();
    }
    if (!json_equal(now, json_object_get(man, "versions")))
        fprintf(stderr, "pgolf replay: note: this pgolf build differs from the run's (see "
                        "versions in %s/%s)\n", dir, PG_MANIFEST_NAME);
    json_decref(now);
    const char *tmp = getenv("TMPDIR");
    char scratch[PG_PATH_MAX];
    snprintf(scratch, sizeof scratch, "%s/pgolf-replay-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch)) {
        json_decref(man);
        pg_fail("%s: cannot create a scratch directory", scratch);
        return pg_cli_error();
    }
    fprintf(stderr, "pgolf replay: re-running every stage of %s in %s\n", dir, scratch);
    pg_run_opts o = {.run_dir = scratch, .source_root = root, .use_cache = 0,
                     .out = as_json ? stderr : stdout, .stop = &interrupted, .backend = be};
    catch_sigint();
    if (pg_run(&cfg, &o) != 0) {
        json_decref(man);
        fprintf(stderr, "pgolf: replay: %s (scratch kept in %s)\n", pg_errmsg(), scratch);
        return interrupted ? 130 : 1;
    }
    json_t *again;
    replay_tally t = {0, 0, 0, json_array()};
    if (pg_manifest_load(scratch, &again) != 0 || !again) {
        json_decref(man);
        json_decref(t.rows);
        return pg_cli_error();
    }
    if (!as_json)
        printf("== replay of %s: outputs ==\n", dir);
    /* with --json the per-file lines go to stderr and stdout gets the JSON */
    compare_outputs(man, again, &t, as_json ? stderr : stdout);
    if (as_json)
        rc = pg_cli_print_json(json_pack("{s:s, s:i, s:i, s:i, s:o}", "run_dir", dir, "identical",
                                         t.identical, "differ", t.differ, "timed", t.timed,
                                         "outputs", t.rows));
    else
        json_decref(t.rows);
    fprintf(as_json ? stderr : stdout, "replay: %d identical, %d reproducible output%s differ, %d hold wall-clock times "
           "(logs, README, submission.json)\n",
           t.identical, t.differ, t.differ == 1 ? "" : "s", t.timed);
    if (!keep)
        pg_remove_tree(scratch);
    else
        fprintf(as_json ? stderr : stdout, "replay: scratch kept in %s\n", scratch);
    json_decref(again);
    json_decref(man);
    return rc ? rc : t.differ ? 1 : 0;
}

/* ---- status */

typedef struct {
    const char *stage;
    char what[1200];
} stage_problem;

typedef struct {
    stage_problem p[256];
    int n;
} problems;

static void note_problem(void *ctx, const char *stage, const char *path, const char *recorded,
                         const char *now, int is_output)
{
    problems *ps = ctx;
    (void)recorded;
    for (int i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].stage, stage) == 0)
            return; /* the first problem of a stage says enough */
    if (ps->n == 256)
        return;
    ps->p[ps->n].stage = stage;
    snprintf(ps->p[ps->n].what, sizeof ps->p[ps->n].what, "%s %s %s",
             is_output ? "modified: output" : "stale: input", path,
             now ? "changed" : "is missing");
    ps->n++;
}

int cmd_status(int argc, char **argv)
{
    int as_json = argc == 3 && strcmp(argv[2], "--json") == 0;
    if (argc != 2 && !as_json)
        return pg_cli_usage_error("status", "needs RUN_DIR [--json]");
    const char *dir = argv[1];
    json_t *man = open_run(dir);
    if (!man)
        return pg_cli_error();
    static problems ps;
    ps.n = 0;
    json_t *now = NULL;
    if (pg_run_check_files(dir, man, 0, note_problem, &ps) < 0 || !(now = pg_run_versions())) {
        json_decref(man);
        return pg_cli_error();
    }
    int same_build = json_equal(now, json_object_get(man, "versions"));
    json_decref(now);
    json_t *rows = json_array();
    size_t i;
    json_t *s;
    if (!as_json)
        printf("run %s (created %s by pgolf %s)\n", dir,
               json_string_value(json_object_get(man, "created")),
               json_string_value(json_object_get(man, "pgolf")));
    json_array_foreach(json_object_get(man, "stages"), i, s)
    {
        const char *id = json_string_value(json_object_get(s, "id"));
        const char *st = json_string_value(json_object_get(s, "status"));
        const char *last = json_string_value(json_object_get(s, "last_run"));
        char state[1300];
        snprintf(state, sizeof state, "%s", st);
        if (strcmp(st, "done") == 0)
            snprintf(state, sizeof state, "%s", last && strcmp(last, "cached") == 0
                                                    ? "done (cached in the last run)"
                                                    : "done");
        if (strcmp(st, "running") == 0)
            snprintf(state, sizeof state, "interrupted (killed while running; resumes)");
        if (strcmp(st, "failed") == 0)
            snprintf(state, sizeof state, "failed: %s",
                     json_string_value(json_object_get(s, "error")));
        for (int k = 0; k < ps.n; k++)
            if (strcmp(ps.p[k].stage, id) == 0)
                snprintf(state, sizeof state, "%s", ps.p[k].what);
        json_t *wall = json_object_get(s, "wall_s");
        if (!as_json && wall)
            printf("  %-18s %7.1f s  %s\n", id, json_number_value(wall), state);
        else if (!as_json)
            printf("  %-18s %9s  %s\n", id, "", state);
        if (rows && json_array_append_new(rows, json_pack("{s:s, s:s, s:O?}", "id", id, "state",
                                                          state, "wall_s", wall)) != 0) {
            json_decref(rows);
            rows = NULL; /* the output's construction fails and says so */
        }
    }
    if (!as_json && !same_build)
        printf("note: this pgolf build differs from the run's; `pgolf run` would re-run every "
               "stage\n");
    int rc = 0;
    if (as_json)
        rc = pg_cli_print_json(json_pack("{s:s, s:b, s:o}", "run_dir", dir, "same_build",
                                         same_build, "stages", rows));
    else
        json_decref(rows);
    json_decref(man);
    return rc;
}
