#include "packager/record.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fileio.h"

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

static double json_num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int load_submission(pg_record *r)
{
    char *path = pg_path_join(r->dir, "submission.json");
    if (!path)
        return pg_fail("%s: out of memory", r->dir);
    json_error_t e;
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(r->submission_problem, sizeof r->submission_problem, "%s: missing", path);
    } else if (!(r->submission = json_load_file(path, 0, &e))) {
        snprintf(r->submission_problem, sizeof r->submission_problem, "%s:%d: invalid JSON: %s",
                 path, e.line, e.text);
    } else if (!json_is_object(r->submission)) {
        snprintf(r->submission_problem, sizeof r->submission_problem, "%s: not a JSON object",
                 path);
        json_decref(r->submission);
        r->submission = NULL;
    }
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

static int name_has_seed(const pg_log_summary *l)
{
    const char *base = strrchr(l->path, '/');
    char want[40];
    snprintf(want, sizeof want, "seed%ld", (long)l->seed.value);
    return strstr(base ? base : l->path, want) != NULL;
}

static int seeds_from_logs(pg_record *r)
{
    r->seeds = calloc(r->nlogs ? r->nlogs : 1, sizeof *r->seeds);
    if (!r->seeds)
        return pg_fail("%s: out of memory", r->dir);
    for (size_t i = 0; i < r->nlogs; i++) {
        const pg_log_summary *l = &r->logs[i];
        if (!l->val_bpb.line)
            continue;
        /* the same seed in two logs (train.log and train_seedN.log): keep the named one */
        size_t j = 0;
        for (; j < r->nseeds; j++)
            if (l->seed.line && r->seeds[j].has_seed && r->seeds[j].seed == (long)l->seed.value)
                break;
        if (j < r->nseeds && !name_has_seed(l))
            continue;
        pg_seed_result *s = &r->seeds[j == r->nseeds ? r->nseeds++ : j];
        s->has_seed = l->seed.line != 0;
        s->seed = (long)l->seed.value;
        s->val_bpb = l->val_bpb.value;
        s->val_loss = l->val_loss.value;
        s->has_loss = 1;
        s->artifact_bytes = l->artifact_bytes.line ? l->artifact_bytes.value : -1;
        s->steps = l->steps.line ? l->steps.value : -1;
        s->train_ms = l->train_ms.line ? l->train_ms.value : -1;
        pg_log_num ev = pg_log_eval_seconds(l);
        s->eval_s = ev.line ? ev.value : -1;
        snprintf(s->source, sizeof s->source, "%s:%d", l->path, l->val_bpb.line);
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
        snprintf(s->source, sizeof s->source, "%s/submission.json", r->dir);
    }
    free(r->seeds);
    r->seeds = seeds;
    r->nseeds = n;
    return 0;
}

/* The logs named, parsed; those that do not parse are kept as problems. */
static int load_logs(pg_record *r, char **names, size_t n)
{
    r->logs = calloc(n ? n : 1, sizeof *r->logs);
    if (!r->logs)
        return pg_fail("%s: out of memory", r->dir);
    for (size_t i = 0; i < n; i++) {
        char *p = pg_path_join(r->dir, names[i]);
        if (!p)
            return pg_fail("%s: out of memory", r->dir);
        int rc = pg_log_parse(p, &r->logs[r->nlogs]) == 0 ? (r->nlogs++, 0)
                                                          : add_log_problem(r, pg_errmsg());
        free(p);
        if (rc != 0)
            return -1;
    }
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
    char **names;
    size_t n;
    if (list_dir(r->dir, is_log, &names, &n) != 0)
        return -1;
    int rc = load_submission(r) == 0 && load_logs(r, names, n) == 0 && seeds_from_logs(r) == 0 &&
                     (r->seeds_from_logs || seeds_from_submission(r) == 0)
                 ? 0
                 : -1;
    free_list(names, n);
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
