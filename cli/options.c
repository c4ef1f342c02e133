/* Flag and environment checks shared by the subcommands: long options must be spelled in
 * full (getopt_long would take --seed for --seeds), and an environment variable that is
 * one or two edits from a setting's name, or carries a settings prefix, is named in a
 * warning, because pgolf would otherwise ignore it without a word. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/err.h"
#include "kernels/backend.h"
#include "pipeline/runconfig.h"

extern char **environ;

static int edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 63 || nb > 63)
        return 99;
    int d[64][64];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[na][nb];
}

int pg_cli_getopt(int argc, char **argv, const struct option *opts)
{
    for (int i = optind > 0 ? optind : 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (strncmp(a, "--", 2) != 0)
            continue;
        size_t n = strcspn(a + 2, "=");
        const struct option *hit = NULL, *near = NULL;
        for (const struct option *o = opts; o->name; o++) {
            if (strlen(o->name) == n && strncmp(o->name, a + 2, n) == 0)
                hit = o;
            else if (!near && strncmp(o->name, a + 2, n) == 0)
                near = o; /* the abbreviation getopt_long would have taken */
        }
        if (!hit) {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(n < 60 ? n : 60), a + 2);
            for (const struct option *o = opts; o->name && !near; o++)
                if (edit_distance(o->name, name) <= 2)
                    near = o;
            if (near)
                fprintf(stderr, "pgolf: --%s is not an option here; did you mean --%s? (long "
                                "options must be spelled in full)\n",
                        name, near->name);
            else
                fprintf(stderr, "pgolf: --%s is not an option here\n", name);
            return '?';
        }
        if (hit->has_arg == required_argument && a[2 + n] != '=')
            i++; /* its value may itself start with "--" */
    }
    return getopt_long(argc, argv, "", opts, NULL);
}

/* Environment variables pgolf reads that are not settings. */
static int known_other(const char *name)
{
    static const char *const other[] = {"RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                                        "DATA_PATH", "TOKENIZER_PATH", "RUN_ID", NULL};
    for (int i = 0; other[i]; i++)
        if (strcmp(name, other[i]) == 0)
            return 1;
    return strncmp(name, "PGOLF_", 6) == 0 || strncmp(name, "OMP_", 4) == 0 ||
           strncmp(name, "OMPI_", 5) == 0 || strncmp(name, "PMI_", 4) == 0 ||
           strncmp(name, "TORCHELASTIC_", 13) == 0;
}

int pg_cli_warn_env_settings(FILE *err)
{
    pg_run_config c;
    pg_run_config_preset(&c, "baseline", ".");
    pg_settings_bind b[PG_RUN_TABLES];
    int nt = pg_run_config_bind(&c, b), warned = 0;
    for (char **e = environ; e && *e; e++) {
        char name[64];
        size_t n = strcspn(*e, "=");
        if (n == 0 || n >= sizeof name)
            continue;
        memcpy(name, *e, n);
        name[n] = 0;
        if (known_other(name))
            continue;
        const char *best = NULL;
        int best_d = 99, known = 0, prefixed = 0;
        for (int t = 0; t < nt && !known; t++)
            for (size_t i = 0; i < b[t].table->n && !known; i++) {
                const char *s = b[t].table->rows[i].name;
                if (strcmp(s, name) == 0) {
                    known = 1;
                    break;
                }
                int d = edit_distance(s, name);
                if (d < best_d) {
                    best_d = d;
                    best = s;
                }
                /* TTT_, RUN_, MUON_, ... : the setting's first word and the name's agree */
                size_t p = strcspn(s, "_");
                if (s[p] == '_' && strncmp(s, name, p + 1) == 0 && strlen(name) > p + 1)
                    prefixed = 1;
            }
        int close = (best_d == 1 && n >= 4) || (best_d == 2 && n >= 8);
        if (known || (!close && !prefixed))
            continue;
        if (close)
            fprintf(err, "pgolf: warning: environment variable %s is not a setting; did you "
                         "mean %s? ('pgolf help settings' lists them)\n",
                    name, best);
        else
            fprintf(err, "pgolf: warning: environment variable %s looks like a setting but is "
                         "not one ('pgolf help settings' lists them)\n",
                    name);
        warned++;
    }
    return warned;
}

/* A pgolf tree: its sources' makefile and the shipped sample. */
static int is_tree(const char *dir)
{
    char p[PATH_MAX + 32];
    struct stat st;
    snprintf(p, sizeof p, "%s/GNUmakefile", dir);
    if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    snprintf(p, sizeof p, "%s/data/sample", dir);
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int pg_cli_root(char *out, size_t n)
{
    const char *env = getenv("PGOLF_ROOT");
    char exe_dir[PATH_MAX], share[PATH_MAX + 32], *abs;
    if (env && *env) {
        if (!(abs = realpath(env, NULL)))
            return pg_fail("%s: cannot resolve $PGOLF_ROOT: %s", env, strerror(errno));
        snprintf(out, n, "%s", abs);
        free(abs);
        return 0;
    }
    ssize_t len = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 1);
    exe_dir[len > 0 ? len : 0] = '\0';
    char *slash = strrchr(exe_dir, '/');
    if (slash)
        *slash = '\0';
    snprintf(share, sizeof share, "%s/../share/pgolf", exe_dir);
    const char *candidates[] = {exe_dir, share, "."};
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++)
        if (candidates[i][0] && is_tree(candidates[i]) && (abs = realpath(candidates[i], NULL))) {
            snprintf(out, n, "%s", abs);
            free(abs);
            return 0;
        }
    return pg_fail("cannot find pgolf's sources and sample data (looked beside the executable "
                   "in %s, in %s and in .): set PGOLF_ROOT to the pgolf source directory or "
                   "run make install",
                   exe_dir[0] ? exe_dir : "(unknown)", share);
}

int pg_cli_backend(const char *cmd, const char *flag, const pg_backend **be)
{
    const char *name = flag ? flag : getenv("PGOLF_BACKEND");
    const char *from = flag ? "--backend" : "PGOLF_BACKEND";
    if (!name || !*name)
        name = "cpu";
    if (strcmp(name, "cpu") && strcmp(name, "cuda") && strcmp(name, "auto"))
        return pg_cli_usage_error(cmd, "%s '%s': must be cpu, cuda or auto", from, name);
    char note[400];
    if (pg_backend_select(name, be, note, sizeof note) != 0)
        return pg_cli_error();
    if (note[0])
        fprintf(stderr, "pgolf: note: %s\n", note);
    return 0;
}
