#include "packager/record.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fileio.h"
#include "packager/claims.h"

#define SUBMISSION_MAX_BYTES ((size_t)16 << 20)

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Sorted names in dir accepted by keep (NULL keeps all but dot entries). */
static int list_dir(const char *dir, int (*keep)(const char *dir, const char *name), char ***out,
                    size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return pg_fail("%s: cannot open directory", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int oom = 0;
    while (!oom && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || (keep && !keep(dir, e->d_name)))
            continue;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            char **g = realloc(names, ncap * sizeof *names);
            if (!g) {
                oom = 1;
                break;
            }
            names = g;
            cap = ncap;
        }
        if (!(names[n] = strdup(e->d_name)))
            oom = 1;
        else
            n++;
    }
    closedir(d);
    if (oom) {
        free_list(names, n);
        return pg_fail("%s: out of memory listing the directory", dir);
    }
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    *out = names;
    *count = n;
    return 0;
}

static int is_log(const char *dir, const char *name)
{
    (void)dir;
    size_t n = strlen(name);
    return n > 4 && (strcmp(name + n - 4, ".log") == 0 || strcmp(name + n - 4, ".txt") == 0) &&
           strcmp(name, "requirements.txt") != 0;
}

static int is_subdir(const char *dir, const char *name)
{
    char p[PATH_MAX];
    struct stat st;
    int n = snprintf(p, sizeof p, "%s/%s", dir, name);
    return n > 0 && (size_t)n < sizeof p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Paths of the logs in dir and in its subfolders (e.g. logs/), sorted per folder. */
static int list_logs(const char *dir, char ***out, size_t *count)
{
    char **top, **subs;
    size_t nt, ns;
    if (list_dir(dir, is_log, &top, &nt) != 0)
        return -1;
    if (list_dir(dir, is_subdir, &subs, &ns) != 0)
        ns = 0, subs = NULL;
    char **paths = malloc((nt + 1) * sizeof *paths);
    size_t n = 0;
    for (size_t i = 0; paths && i < nt; i++)
        paths[n++] = pg_path_join(dir, top[i]);
    for (size_t s = 0; paths && s < ns; s++) {
        char *sub = pg_path_join(dir, subs[s]), **in;
        size_t ni;
        if (list_dir(sub, is_log, &in, &ni) == 0) {
            char **g = realloc(paths, (n + ni + 1) * sizeof *g);
            for (size_t i = 0; g && i < ni; i++)
                g[n++] = pg_path_join(sub, in[i]);
            paths = g;
            free_list(in, ni);
        }
        free(sub);
    }
    free_list(top, nt);
    free_list(subs, ns);
    if (!paths)
        return pg_fail("%s: out of memory listing logs", dir);
    *out = paths;
    *count = n;
    return 0;
}

static double json_num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int is_submission(const char *dir, const char *name)
{
    (void)dir;
    size_t n = strlen(name);
    return strncmp(name, "submission", 10) == 0 && n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* submission.json, else the first submission*.json (e.g. submission_ternary.json). */
static char *submission_path(const char *dir)
{
    char **names;
    size_t n;
    char *path = NULL;
    if (list_dir(dir, is_submission, &names, &n) == 0 && n > 0) {
        size_t pick = 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(names[i], "submission.json") == 0)
                pick = i;
        path = pg_path_join(dir, names[pick]);
        free_list(names, n);
    }
    return path ? path : pg_path_join(dir, "submission.json");
}

static int load_submission(pg_record *r)
{
    char *path = submission_path(r->dir);
    if (!path)
        return pg_fail("%s: out of memory", r->dir);
    snprintf(r->submission_path, sizeof r->submission_path, "%s", path);
    json_error_t e;
    struct stat st;
    unsigned char *text = NULL;
    size_t len;
    /* only a path that is not there is "missing"; a directory, a FIFO or a symlink loop
     * is named as what it is */
    if (lstat(path, &st) != 0 && errno == ENOENT) {
        snprintf(r->submission_problem, sizeof r->submission_problem, "%s: missing", path);
    } else if (pg_read_file(path, SUBMISSION_MAX_BYTES, &text, &len) != 0) {
        snprintf(r->submission_problem, sizeof r->submission_problem, "%s", pg_errmsg());
    } else if (!(r->submission = json_loadb((const char *)text, len, 0, &e))) {
        snprintf(r->submission_problem, sizeof r->submission_problem, "%s:%d: invalid JSON: %s",
                 path, e.line, e.text);
    } else if (!json_is_object(r->submission)) {
        snprintf(r->submission_problem, sizeof r->submission_problem, "%s: not a JSON object",
                 path);
        json_decref(r->submission);
        r->submission = NULL;
    }
    free(text);
    free(path);
    if (!r->submission)
        return 0;
    r->claimed_bpb = json_num(r->submission, "val_bpb");
    r->claimed_loss = json_num(r->submission, "val_loss");
    const char *track = json_string_value(json_object_get(r->submission, "track"));
    if (track)
        snprintf(r->track, sizeof r->track, "%s", track);
    const char *date = json_string_value(json_object_get(r->submission, "date"));
    if (date && strlen(date) >= 10 && isdigit((unsigned char)date[0]) && date[4] == '-')
        snprintf(r->date, sizeof r->date, "%.10s", date);
    return 0;
}

static int add_log_problem(pg_record *r, const char *msg)
{
    char **g = realloc(r->log_problems, (r->nlog_problems + 1) * sizeof *g);
    if (g)
        r->log_problems = g;
    if (!g || !(g[r->nlog_problems] = strdup(msg)))
        return pg_fail("%s: out of memory", r->dir);
    r->nlog_problems++;
    return 0;
}

static void seed_from_eval(pg_seed_result *s, const pg_log_summary *l, const pg_log_eval *e)
{
    s->has_seed = l->seed.line != 0;
    s->seed = (long)l->seed.value;
    s->val_bpb = e->val_bpb;
    s->val_loss = e->val_loss;
    s->has_loss = 1;
    s->artifact_bytes = l->artifact_bytes.line ? l->artifact_bytes.value : -1;
    s->steps = l->steps.line ? l->steps.value : -1;
    s->train_ms = l->train_ms.line ? l->train_ms.value : -1;
    pg_log_num t = pg_log_eval_seconds(l);
    s->eval_s = t.line ? t.value : -1;
    snprintf(s->source, sizeof s->source, "%s:%d", l->path, e->line);
}

static int seed_taken(const pg_record *r, const pg_log_summary *l)
{
    for (size_t i = 0; i < r->nseeds; i++)
        if (l->seed.line && r->seeds[i].has_seed && r->seeds[i].seed == (long)l->seed.value)
            return 1;
    return 0;
}

/* A claim that is one run's score: that run, then the same evaluation (tag) of each
 * other seed, as READMEs test the seeds they ran. */
static void seeds_like_one_run(pg_record *r, pg_eval_ref one)
{
    const pg_log_summary *l = &r->logs[one.log];
    const char *tag = l->evals[one.eval].tag;
    seed_from_eval(&r->seeds[r->nseeds++], l, &l->evals[one.eval]);
    for (size_t i = 0; i < r->nlogs; i++) {
        const pg_log_summary *o = &r->logs[i];
        if ((int)i == one.log || !o->seed.line || seed_taken(r, o))
            continue;
        for (int e = o->nevals; e-- > 0;)
            if (strcmp(o->evals[e].tag, tag) == 0) {
                seed_from_eval(&r->seeds[r->nseeds++], o, &o->evals[e]);
                break;
            }
    }
}

/* The runs the val_bpb claim rests on, with the matched evaluation; without a matched
 * claim, every run with its last final evaluation (no log is dropped). */
static int seeds_from_logs(pg_record *r)
{
    r->seeds = calloc(r->nlogs ? r->nlogs : 1, sizeof *r->seeds);
    if (!r->seeds)
        return pg_fail("%s: out of memory", r->dir);
    const pg_claim_match *m = &r->bpb_match;
    if (m->kind == PG_CLAIM_MEAN) {
        for (size_t i = 0; i < m->nrefs && i < r->nlogs; i++) {
            const pg_log_summary *l = &r->logs[m->refs[i].log];
            seed_from_eval(&r->seeds[r->nseeds++], l, &l->evals[m->refs[i].eval]);
        }
    } else if (m->kind == PG_CLAIM_ONE_RUN) {
        seeds_like_one_run(r, m->refs[0]);
    } else {
        for (size_t i = 0; i < r->nlogs; i++)
            if (r->logs[i].nevals)
                seed_from_eval(&r->seeds[r->nseeds++], &r->logs[i],
                               &r->logs[i].evals[r->logs[i].nevals - 1]);
    }
    r->seeds_from_logs = r->nseeds > 0;
    return 0;
}

static int seeds_from_submission(pg_record *r)
{
    json_t *sr = r->submission ? json_object_get(r->submission, "seed_results") : NULL;
    if (!json_is_object(sr))
        return 0;
    const char *key;
    json_t *v;
    pg_seed_result *seeds = calloc(json_object_size(sr) + 1, sizeof *seeds);
    size_t n = 0;
    if (!seeds)
        return pg_fail("%s: out of memory", r->dir);
    json_object_foreach(sr, key, v)
    {
        double bpb = json_num(v, "val_bpb");
        if (!isfinite(bpb))
            continue;
        pg_seed_result *s = &seeds[n++];
        char *end;
        s->seed = strtol(key, &end, 10);
        s->has_seed = end != key && *end == '\0';
        s->val_bpb = bpb;
        s->val_loss = json_num(v, "val_loss");
        s->has_loss = isfinite(s->val_loss);
        double b = json_num(v, "artifact_bytes"), st = json_num(v, "steps"),
               ev = json_num(v, "eval_time_s");
        s->artifact_bytes = isfinite(b) ? b : -1;
        s->steps = isfinite(st) ? st : -1;
        s->train_ms = -1;
        s->eval_s = isfinite(ev) ? ev : -1;
        snprintf(s->source, sizeof s->source, "%s", r->submission_path);
    }
    free(r->seeds);
    r->seeds = seeds;
    r->nseeds = n;
    return 0;
}

int pg_record_load(const char *dir, pg_record *r)
{
    memset(r, 0, sizeof *r);
    r->claimed_bpb = r->claimed_loss = NAN;
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    size_t dl = strlen(r->dir);
    while (dl > 1 && r->dir[dl - 1] == '/')
        r->dir[--dl] = '\0';
    const char *slash = strrchr(r->dir, '/');
    snprintf(r->name, sizeof r->name, "%.255s", slash ? slash + 1 : r->dir);
    /* parent folder name as the track */
    if (slash && slash > r->dir) {
        const char *ps = slash - 1;
        while (ps > r->dir && ps[-1] != '/')
            ps--;
        int len = (int)(slash - ps);
        if (len > 6 && strncmp(ps, "track_", 6) == 0)
            snprintf(r->track, sizeof r->track, "%.*s", len - 6, ps + 6);
        else
            snprintf(r->track, sizeof r->track, "%.*s", len, ps);
    }
    if (strlen(r->name) >= 10 && r->name[4] == '-')
        snprintf(r->date, sizeof r->date, "%.10s", r->name);
    char **names = NULL;
    size_t n = 0;
    if (list_logs(r->dir, &names, &n) != 0)
        return -1;
    int rc = load_submission(r);
    if (rc == 0)
        rc = pg_readme_load(r->dir, &r->readme);
    r->logs = rc == 0 ? calloc(n ? n : 1, sizeof *r->logs) : NULL;
    for (size_t i = 0; r->logs && rc == 0 && i < n; i++) {
        if (pg_log_parse(names[i], &r->logs[r->nlogs]) == 0)
            r->nlogs++;
        else
            rc = add_log_problem(r, pg_errmsg());
    }
    free_list(names, n);
    if (rc == 0 && (!r->logs || pg_claims_match(r) != 0))
        rc = pg_fail("%s: out of memory loading the folder", r->dir);
    if (rc == 0)
        rc = seeds_from_logs(r);
    if (rc == 0 && !r->seeds_from_logs)
        rc = seeds_from_submission(r);
    if (rc != 0)
        pg_record_free(r);
    return rc;
}

void pg_record_free(pg_record *r)
{
    json_decref(r->submission);
    free(r->logs);
    for (size_t i = 0; i < r->nlog_problems; i++)
        free(r->log_problems[i]);
    free(r->log_problems);
    free(r->seeds);
    free(r->seed_claims);
    free(r->log_claimed);
    pg_readme_free(&r->readme);
    memset(r, 0, sizeof *r);
}

int pg_record_scores(const pg_record *r, double *bpb, double *loss, int *all_have_loss)
{
    *all_have_loss = r->nseeds > 0;
    for (size_t i = 0; i < r->nseeds; i++) {
        bpb[i] = r->seeds[i].val_bpb;
        loss[i] = r->seeds[i].val_loss;
        if (!r->seeds[i].has_loss)
            *all_have_loss = 0;
    }
    return (int)r->nseeds;
}

static int is_track(const char *dir, const char *name)
{
    return strncmp(name, "track_", 6) == 0 && is_subdir(dir, name);
}

int pg_is_records_tree(const char *path)
{
    char **tracks;
    size_t nt;
    if (list_dir(path, is_track, &tracks, &nt) != 0)
        return 0;
    free_list(tracks, nt);
    return nt > 0;
}

void pg_track_norm(const pg_record *r, char *out, size_t n)
{
    size_t i = 0;
    for (; r->track[i] && i + 1 < n; i++)
        out[i] = r->track[i] == '-' ? '_' : (char)tolower((unsigned char)r->track[i]);
    out[i] = '\0';
}

int pg_is_record_track(const pg_record *r)
{
    char t[128];
    pg_track_norm(r, t, sizeof t);
    return strstr(t, "non_record") == NULL && strstr(t, "unlimited") == NULL;
}

int pg_records_tree_list(const char *tree, char ***dirs, size_t *count)
{
    *dirs = NULL;
    *count = 0;
    char **tracks;
    size_t nt;
    if (list_dir(tree, is_track, &tracks, &nt) != 0)
        return -1;
    if (nt == 0) {
        free_list(tracks, nt);
        return pg_fail("%s: no track_* folders (expected TREE/track_<name>/<date>_<name>/)", tree);
    }
    char **out = NULL;
    size_t n = 0;
    int rc = 0;
    for (size_t t = 0; t < nt && rc == 0; t++) {
        char *tdir = pg_path_join(tree, tracks[t]);
        char **recs;
        size_t nr;
        if (!tdir || list_dir(tdir, is_subdir, &recs, &nr) != 0) {
            rc = tdir ? -1 : pg_fail("%s: out of memory", tree);
            free(tdir);
            break;
        }
        char **g = realloc(out, (n + nr + 1) * sizeof *out);
        if (g)
            out = g;
        size_t added = 0;
        for (; g && added < nr && (out[n] = pg_path_join(tdir, recs[added])); added++)
            n++;
        if (added < nr)
            rc = pg_fail("%s: out of memory", tree);
        free_list(recs, nr);
        free(tdir);
    }
    free_list(tracks, nt);
    if (rc != 0) {
        free_list(out, n);
        return -1;
    }
    *dirs = out;
    *count = n;
    return 0;
}
