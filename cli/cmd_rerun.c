/* pgolf rerun: re-runs a records folder's own train_gpt.py per seed in scratch copies and
 * reports whether its claims reproduce. This executes the submission's code. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/parse.h"
#include "packager/record.h"
#include "pipeline/spawn.h"
#include "records/reproduce.h"

#define MAX_ENV 256
#define MAX_SEEDS 64

/* NAME=VALUE pairs, a later one replacing an earlier one of the same name. */
typedef struct {
    char *v[MAX_ENV];
    size_t n;
} env_list;

static int env_put(env_list *e, const char *name, size_t nlen, const char *value)
{
    for (size_t i = 0; i < e->n; i++)
        if (strncmp(e->v[i], name, nlen) == 0 && e->v[i][nlen] == '=') {
            free(e->v[i]);
            e->v[i] = e->v[--e->n];
            break;
        }
    if (e->n == MAX_ENV)
        return pg_fail("more than %d environment settings", MAX_ENV);
    size_t vlen = strlen(value);
    char *s = malloc(nlen + vlen + 2);
    if (!s)
        return pg_fail("out of memory");
    memcpy(s, name, nlen);
    s[nlen] = '=';
    memcpy(s + nlen + 1, value, vlen + 1);
    e->v[e->n++] = s;
    return 0;
}

static int env_put_pair(env_list *e, const char *pair)
{
    const char *eq = strchr(pair, '=');
    if (!eq || eq == pair)
        return pg_fail("--env %s: expected NAME=VALUE", pair);
    return env_put(e, pair, (size_t)(eq - pair), eq + 1);
}

static void env_free(env_list *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    e->n = 0;
}

/* A setting of the original machine that must not be copied: paths, ranks, ids. */
static int machine_bound(const char *name)
{
    static const char *const words[] = {"PATH", "DIR", "FILE", "RANK", "WORLD_SIZE", "RUN_ID",
                                        "MASTER_", "CUDA_VISIBLE"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strstr(name, words[i]))
            return 1;
    return 0;
}

/* The README's run command: NAME=VALUE words before train_gpt.py on a line naming it
 * (placeholders "..." and the seed left out). */
static int env_from_readme(const pg_record *r, env_list *e)
{
    unsigned char *text;
    size_t len;
    if (!r->readme.present || pg_read_file(r->readme.path, 1 << 22, &text, &len) != 0)
        return 0;
    int rc = 0;
    for (char *line = (char *)text, *nl; rc == 0 && line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!strstr(line, "train_gpt.py"))
            continue;
        for (char *w = strtok(line, " \t`$"); w && rc == 0; w = strtok(NULL, " \t`$")) {
            char *eq = strchr(w, '=');
            size_t k = eq ? (size_t)(eq - w) : 0;
            int name_ok = k > 0 && (w[0] < '0' || w[0] > '9');
            for (size_t i = 0; i < k; i++)
                name_ok &= (w[i] >= 'A' && w[i] <= 'Z') || (w[i] >= '0' && w[i] <= '9') || w[i] == '_';
            if (name_ok && strcmp(eq + 1, "...") != 0 && strncmp(w, "SEED=", 5) != 0 &&
                !machine_bound(w))
                rc = env_put(e, w, k, eq + 1);
        }
    }
    free(text);
    return rc;
}

/* The log's settings: its config:NAME=VALUE lines and its hyperparameter dump, names in
 * upper case, less what belongs to the original machine. */
static int env_from_log(const pg_log_summary *l, env_list *e)
{
    char **set;
    int n, rc = 0;
    for (int i = 0; i < l->nconfig && rc == 0; i++) {
        char name[48], value[80];
        pg_log_config_setting(&l->config[i], name, sizeof name, value, sizeof value);
        if (strcmp(name, "SEED") != 0 && !machine_bound(name) && !strchr(value, ' '))
            rc = env_put(e, name, strlen(name), value);
    }
    if (rc == 0 && pg_log_settings(l->path, &set, &n) == 0) {
        for (int i = 0; i < n && rc == 0; i++) {
            const char *eq = strchr(set[i], '=');
            if (eq && !machine_bound(set[i]))
                rc = env_put(e, set[i], (size_t)(eq - set[i]), eq + 1);
        }
        pg_log_settings_free(set, n);
    }
    return rc;
}

/* torchrun over the logged world size when torchrun is on PATH, else one python3 */
static void default_launcher(const pg_record *r, char *buf, size_t cap)
{
    long world = 1;
    for (size_t i = 0; i < r->nlogs; i++)
        if (r->logs[i].world_size.line && r->logs[i].world_size.value > world)
            world = (long)r->logs[i].world_size.value;
    const char *path = getenv("PATH");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path ? path : "");
    for (char *d = strtok(dir, ":"); d; d = strtok(NULL, ":")) {
        char p[4200];
        snprintf(p, sizeof p, "%s/torchrun", d);
        if (access(p, X_OK) == 0) {
            snprintf(buf, cap, "torchrun --standalone --nproc_per_node=%ld", world);
            return;
        }
    }
    snprintf(buf, cap, "python3");
}

static int parse_seeds(const char *s, long *seeds, size_t *n)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    *n = 0;
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        if (*n == MAX_SEEDS)
            return pg_fail("--seeds: more than %d seeds", MAX_SEEDS);
        if (pg_parse_long(t, "--seeds", -2147483647L, 2147483647L, &seeds[(*n)++]) != 0)
            return -1;
    }
    return *n ? 0 : pg_fail("--seeds: no seed given");
}

/* One seed: a scratch copy, the launcher, the log kept in out. */
static int rerun_seed(const char *dir, const char *out, long seed, const char *launcher,
                      const env_list *base, double timeout, pg_rerun_seed *s)
{
    memset(s, 0, sizeof *s);
    s->seed = seed;
    char work[1200], label[64], cmd[2200];
    snprintf(work, sizeof work, "%s/seed_%ld", out, seed);
    snprintf(s->log, sizeof s->log, "%s/seed_%ld.log", out, seed);
    snprintf(label, sizeof label, "rerun seed %ld", seed);
    snprintf(cmd, sizeof cmd, "%s train_gpt.py", launcher);
    env_list e = {{0}, 0};
    char seed_text[32];
    snprintf(seed_text, sizeof seed_text, "%ld", seed);
    int rc = pg_copy_tree(dir, work);
    for (size_t i = 0; rc == 0 && i < base->n; i++)
        rc = env_put_pair(&e, base->v[i]);
    if (rc == 0)
        rc = env_put(&e, "SEED", 4, seed_text);
    pg_spawn_result res;
    if (rc == 0) {
        fprintf(stderr, "%s: %s in %s (log %s)\n", label, cmd, work, s->log);
        rc = pg_spawn_shell(cmd, work, e.v, e.n, s->log, timeout, label, &res);
    }
    env_free(&e);
    if (rc != 0)
        return -1;
    s->ran = res.exited && res.status == 0;
    if (res.timed_out)
        snprintf(s->failure, sizeof s->failure, "timed out after %.0f s and was killed", timeout);
    else if (!res.exited)
        snprintf(s->failure, sizeof s->failure, "was ended by signal %d", res.status);
    else if (res.status != 0)
        snprintf(s->failure, sizeof s->failure, "crashed: exit status %d", res.status);
    s->parsed = pg_log_parse(s->log, &s->s) == 0;
    fprintf(stderr, "%s: %s after %.1f s\n", label, s->ran ? "finished" : s->failure, res.seconds);
    return 0;
}

/* DIR for the re-runs: created, or an existing one without a report; never inside the
 * records folder (which is not written). */
static int make_out(const char *out, const char *dir)
{
    /* where out is or would be: its parent's real path and its last part */
    char parent[1200], *slash;
    snprintf(parent, sizeof parent, "%s", out);
    while ((slash = strrchr(parent, '/')) && slash[1] == '\0' && slash != parent)
        *slash = '\0';
    slash = strrchr(parent, '/');
    const char *last = slash ? slash + 1 : parent;
    char base[1200];
    snprintf(base, sizeof base, "%s", slash ? (slash == parent ? "/" : parent) : ".");
    if (slash && slash != parent)
        base[slash - parent] = '\0';
    char *rp = realpath(base, NULL), *rd = realpath(dir, NULL);
    char where[2600];
    snprintf(where, sizeof where, "%s/%s", rp ? rp : base, last);
    size_t k = rd ? strlen(rd) : 0;
    int inside = rd && strncmp(where, rd, k) == 0 && (where[k] == '/' || where[k] == '\0');
    free(rp);
    free(rd);
    if (inside)
        return pg_fail("--out %s is inside %s: the records folder is never written", out, dir);
    if (mkdir(out, 0755) != 0 && errno != EEXIST)
        return pg_fail("%s: cannot create: %s", out, strerror(errno));
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/report.json", out);
    if (access(probe, F_OK) == 0)
        return pg_fail("%s: already holds a re-run (report.json); pick another --out", out);
    return 0;
}

int cmd_rerun(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"seeds", required_argument, 0, 's'},
                                         {"launcher", required_argument, 0, 'l'},
                                         {"env", required_argument, 0, 'e'},
                                         {"timeout", required_argument, 0, 't'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    const char *out = NULL, *launcher = NULL, *seeds_arg = NULL, *extra[MAX_ENV];
    size_t nextra = 0;
    long timeout = 3600;
    int as_json = 0, c;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 's': seeds_arg = optarg; break;
        case 'l': launcher = optarg; break;
        case 'e':
            if (nextra == MAX_ENV)
                return pg_cli_usage_error("rerun", "too many --env flags");
            extra[nextra++] = optarg;
            break;
        case 't':
            if (pg_parse_long(optarg, "--timeout", 1, 7 * 86400, &timeout) != 0)
                return pg_cli_error();
            break;
        case 'j': as_json = 1; break;
        default: return pg_cli_usage_error("rerun", "bad option");
        }
    }
    if (optind + 1 != argc || !out)
        return pg_cli_usage_error("rerun", "needs RECORD_DIR and --out DIR");
    const char *dir = argv[optind];
    pg_record rec;
    if (pg_record_load(dir, &rec) != 0)
        return pg_cli_error();
    long seeds[MAX_SEEDS];
    size_t nseeds = 0;
    int rc = seeds_arg ? parse_seeds(seeds_arg, seeds, &nseeds) : 0;
    if (rc == 0 && !seeds_arg && !(nseeds = pg_reproduce_claimed_seeds(&rec, seeds, MAX_SEEDS)))
        rc = pg_fail("%s: no logged seed to re-run (give --seeds)", dir);
    char launch[512];
    if (launcher)
        snprintf(launch, sizeof launch, "%s", launcher);
    else
        default_launcher(&rec, launch, sizeof launch);
    /* the environment: the README's command, the first seed's log, then --env */
    env_list env = {{0}, 0};
    const pg_log_summary *l0 = rc == 0 ? pg_reproduce_log_of(&rec, seeds[0]) : NULL;
    if (rc == 0)
        rc = env_from_readme(&rec, &env);
    if (rc == 0 && l0)
        rc = env_from_log(l0, &env);
    for (size_t i = 0; rc == 0 && i < nextra; i++)
        rc = env_put_pair(&env, extra[i]);
    if (rc == 0)
        rc = make_out(out, dir);
    pg_rerun_seed *runs = rc == 0 ? calloc(nseeds, sizeof *runs) : NULL;
    if (rc == 0 && !runs)
        rc = pg_fail("out of memory");
    if (rc != 0) {
        env_free(&env);
        pg_record_free(&rec);
        return pg_cli_error();
    }
    fprintf(stderr, "pgolf rerun executes %s/train_gpt.py, the submission's own code, in "
                    "scratch copies under %s (the folder itself is not written)\n"
                    "  launcher: %s\n  timeout per seed: %ld s\n  seeds:",
            dir, out, launch, timeout);
    for (size_t i = 0; i < nseeds; i++)
        fprintf(stderr, " %ld", seeds[i]);
    fprintf(stderr, "\n  environment (SEED per seed):\n");
    for (size_t i = 0; i < env.n; i++)
        fprintf(stderr, "    %s\n", env.v[i]);
    for (size_t i = 0; rc == 0 && i < nseeds; i++)
        rc = rerun_seed(dir, out, seeds[i], launch, &env, (double)timeout, &runs[i]);
    pg_checks checks = {0};
    if (rc == 0)
        pg_reproduce_report(&rec, runs, nseeds, &checks);
    json_t *report = rc == 0 ? pg_verify_json(&rec, &checks, 1) : NULL;
    char path[1200];
    snprintf(path, sizeof path, "%s/report.json", out);
    char *text = report ? json_dumps(report, JSON_INDENT(1)) : NULL;
    if (rc == 0 && (!text || pg_write_file_atomic(path, text, strlen(text)) != 0))
        rc = text ? -1 : pg_fail("out of memory");
    if (rc == 0 && as_json) {
        rc = pg_cli_print_json(json_incref(report));
    } else if (rc == 0) {
        for (size_t i = 0; i < checks.n; i++)
            printf("%-7s %-28s %s\n", pg_check_status_name(checks.v[i].status), checks.v[i].name,
                   checks.v[i].evidence);
    }
    int reproduced = 0;
    for (size_t i = 0; i < checks.n; i++)
        if (strcmp(checks.v[i].name, "reproduce.verdict") == 0)
            reproduced = checks.v[i].status == PG_CHECK_PASS;
    free(text);
    json_decref(report);
    pg_checks_free(&checks);
    free(runs);
    env_free(&env);
    pg_record_free(&rec);
    if (rc != 0)
        return pg_cli_error();
    return reproduced ? 0 : 1;
}
