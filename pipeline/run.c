#define _XOPEN_SOURCE 700 /* nftw */
#include "pipeline/run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "kernels/backend.h"
#include "common/fileio.h"
#include "common/progress.h"
#include "common/buildinfo.h"
#include "pipeline/manifest.h"
#include "pipeline/run_stages.h"

json_t *pg_run_versions(void)
{
    json_t *v = pg_versions_json();
    char hex[PG_SHA256_HEX_LEN] = "unknown";
    if (pg_sha256_file("/proc/self/exe", hex) != 0)
        snprintf(hex, sizeof hex, "unknown");
    if (!v || json_object_set_new(v, "executable_sha256", json_string(hex)) != 0) {
        json_decref(v);
        pg_fail("out of memory collecting the build's versions");
        return NULL;
    }
    return v;
}

static int check_list(const char *run_dir, const char *id, json_t *list, int is_output,
                      int external_only, pg_run_mismatch_fn report, void *ctx)
{
    size_t i;
    json_t *f;
    int bad = 0;
    json_array_foreach(list, i, f)
    {
        const char *rec = json_string_value(json_object_get(f, "path"));
        const char *sha = json_string_value(json_object_get(f, "sha256"));
        if (external_only && rec[0] != '/')
            continue;
        char *p = pg_run_disk_path(run_dir, rec);
        if (!p)
            return -1;
        json_t *now = pg_file_record(p, rec);
        const char *now_sha = now ? json_string_value(json_object_get(now, "sha256")) : NULL;
        if (!now_sha || strcmp(now_sha, sha) != 0) {
            report(ctx, id, p, sha, now_sha, is_output);
            bad++;
        }
        json_decref(now);
        free(p);
    }
    return bad;
}

int pg_run_check_files(const char *run_dir, const json_t *manifest, int external_only,
                       pg_run_mismatch_fn report, void *ctx)
{
    size_t i;
    json_t *s;
    int bad = 0;
    json_array_foreach(json_object_get(manifest, "stages"), i, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "status")), "done") != 0)
            continue;
        const char *id = json_string_value(json_object_get(s, "id"));
        int in = check_list(run_dir, id, json_object_get(s, "inputs"), 0, external_only, report, ctx);
        int out = external_only ? 0
                                : check_list(run_dir, id, json_object_get(s, "outputs"), 1, 0,
                                             report, ctx);
        if (in < 0 || out < 0)
            return -1;
        bad += in + out;
    }
    return bad;
}

/* The first mismatch becomes the error message. */
static void fail_on_mismatch(void *ctx, const char *stage, const char *path, const char *recorded,
                             const char *now, int is_output)
{
    int *first = ctx;
    if (!*first)
        return;
    *first = 0;
    if (now)
        pg_fail("%s: SHA-256 differs from the manifest (recorded %.16s..., now %.16s...), %s of "
                "stage %s; nothing was changed (pass --refresh to re-run what depends on it)",
                path, recorded, now, is_output ? "an output" : "an input", stage);
    else
        pg_fail("%s: missing (recorded in the manifest as %s of stage %s, sha256 %.16s...); "
                "nothing was changed (pass --refresh to re-run what depends on it)",
                path, is_output ? "an output" : "an input", stage, recorded);
}

/* A temp file of an atomic write ("<name>.tmp.<pid>") that a killed run left behind. */
static int remove_if_stale_temp(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    const char *t = strstr(path + ftw->base, ".tmp.");
    if (flag != FTW_F || !t || !t[5] || strspn(t + 5, "0123456789") != strlen(t + 5))
        return 0;
    return remove(path) == 0 ? 0 : pg_fail("%s: cannot remove a stale temp file", path);
}

/* Refuses a RUN_DIR that holds files but no manifest (not a pgolf run). */
static int check_fresh_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : pg_fail("%s: cannot open: %s", dir, strerror(errno));
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, ".lock"))
            n++;
    closedir(d);
    if (n)
        return pg_fail("%s: not empty and has no %s: not a pgolf run directory; nothing was "
                       "changed (choose a new --out)",
                       dir, PG_MANIFEST_NAME);
    return 0;
}

/* One process per RUN_DIR at a time. Returns the lock's descriptor or -1. */
static int lock_dir(const char *dir)
{
    char *p = pg_path_join(dir, ".lock");
    if (!p)
        return pg_fail("%s/.lock: out of memory", dir);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        pg_fail("%s: %s", p, fd < 0 ? strerror(errno) : "another pgolf run is using this directory");
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    free(p);
    return fd;
}

static json_t *new_entry(const pg_stage *s)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:{}, s:{}, s:[], s:[]}", "id", s->id, "stage",
                     s->kind, "status", "pending", "key", "", "params", "versions", "inputs",
                     "outputs");
}

/* manifest entry e[key] = value (a new reference, released on failure). */
static int put(const pg_run_state *r, json_t *e, const char *key, json_t *value)
{
    if (json_object_set_new(e, key, value) == 0)
        return 0;
    return pg_fail("%s/%s: out of memory setting %s", r->dir, PG_MANIFEST_NAME, key);
}

/* Orders the manifest's entries as the plan, adding pending ones and dropping others. */
static int merge_plan(const pg_run_state *r, const pg_stage *plan, int n)
{
    json_t *stages = json_array();
    for (int i = 0; i < n && stages; i++) {
        json_t *e = pg_manifest_stage(r->manifest, plan[i].id);
        if (json_array_append_new(stages, e ? json_incref(e) : new_entry(&plan[i])) != 0) {
            json_decref(stages);
            stages = NULL;
        }
    }
    return put(r, r->manifest, "stages", stages);
}

/* Outputs recorded for a done entry still match the disk: 1, 0, or -1 (out of memory). */
static int outputs_intact(const char *run_dir, json_t *entry)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(entry, "outputs"), i, f)
    {
        const char *rec = json_string_value(json_object_get(f, "path"));
        char *p = pg_run_disk_path(run_dir, rec);
        if (!p)
            return -1;
        json_t *now = pg_file_record(p, rec);
        int same = now && json_equal(json_object_get(now, "sha256"), json_object_get(f, "sha256"));
        json_decref(now);
        free(p);
        if (!same)
            return 0;
    }
    return 1;
}

static int set_time(const pg_run_state *r, json_t *e, const char *field)
{
    char now[32];
    pg_utc_now(now);
    return put(r, e, field, json_string(now));
}

/* The entry of a stage that starts: its key, parameters, versions and inputs. */
static int start_entry(pg_run_state *r, const pg_stage *s, json_t *e, const char *key,
                       json_t *inputs)
{
    json_object_del(e, "error");
    json_object_del(e, "ended");
    return put(r, e, "inputs", inputs) == 0 && put(r, e, "status", json_string("running")) == 0 &&
                   put(r, e, "key", json_string(key)) == 0 &&
                   put(r, e, "params", json_incref(s->params)) == 0 &&
                   put(r, e, "versions", json_incref(r->versions)) == 0 &&
                   put(r, e, "outputs", json_array()) == 0 &&
                   put(r, e, "last_run", json_string("ran")) == 0 &&
                   set_time(r, e, "started") == 0
               ? pg_manifest_save(r->dir, r->manifest)
               : -1;
}

/* Records how a stage that ran ended; rc is its result. */
static int end_entry(pg_run_state *r, const pg_stage *s, json_t *e, int rc, json_t *outputs,
                     double wall, int index, int count)
{
    FILE *out = r->o->out;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", pg_errmsg());
    int stopped = rc != 0 && r->o->stop && *r->o->stop;
    int ok = put(r, e, "wall_s", json_real(round(wall * 1000) / 1000)) == 0 &&
             set_time(r, e, "ended") == 0;
    if (rc == 0) {
        if (!ok)
            json_decref(outputs);
        if (!ok || put(r, e, "outputs", outputs) != 0 ||
            put(r, e, "status", json_string("done")) != 0)
            return -1;
        if (out)
            fprintf(out, "[%2d/%d] %-18s done in %.1f s (run time %.1f s)\n", index, count, s->id,
                    wall, pg_now_seconds() - r->t0);
        return pg_manifest_save(r->dir, r->manifest);
    }
    json_decref(outputs);
    /* best effort: the stage's own error is the one to report */
    if (ok && put(r, e, "status", json_string(stopped ? "interrupted" : "failed")) == 0 &&
        put(r, e, "error", json_string(msg)) == 0)
        pg_manifest_save(r->dir, r->manifest);
    if (stopped)
        return pg_fail("interrupted during %s (%s); run the same command to resume", s->id, msg);
    return pg_fail("stage %s failed: %s", s->id, msg);
}

/* Runs or skips one stage, keeping the manifest current. */
static int do_stage(pg_run_state *r, pg_stage *s, int index, int count)
{
    FILE *out = r->o->out;
    json_t *inputs = json_array();
    char key[PG_SHA256_HEX_LEN];
    if (!inputs)
        return pg_fail("%s/%s: out of memory", r->dir, PG_MANIFEST_NAME);
    if (s->inputs(r, s, inputs) != 0 ||
        pg_stage_key(s->id, inputs, s->params, r->versions, key) != 0) {
        json_decref(inputs);
        return -1;
    }
    json_t *e = pg_manifest_stage(r->manifest, s->id);
    const char *status = json_string_value(json_object_get(e, "status"));
    int same_key = strcmp(json_string_value(json_object_get(e, "key")), key) == 0;
    int cached = r->o->use_cache && same_key && strcmp(status, "done") == 0
                     ? outputs_intact(r->dir, e)
                     : 0;
    if (cached != 0) {
        json_decref(inputs);
        if (cached < 0 || put(r, e, "last_run", json_string("cached")) != 0)
            return -1;
        if (out)
            fprintf(out, "[%2d/%d] %-18s cached (key %.12s: inputs, parameters and versions "
                         "unchanged)\n", index, count, s->id, key);
        return pg_manifest_save(r->dir, r->manifest);
    }
    /* a training stage killed or interrupted with the same key continues from its checkpoint;
     * any other stage starts again in an empty directory */
    s->resume = same_key && strcmp(s->kind, "train") == 0 &&
                (strcmp(status, "running") == 0 || strcmp(status, "interrupted") == 0);
    if (!s->resume && s->dir[0]) {
        char *d = pg_path_join(r->dir, s->dir);
        int rc = d ? pg_remove_tree(d) : pg_fail("%s/%s: out of memory", r->dir, s->dir);
        free(d);
        if (rc != 0) {
            json_decref(inputs);
            return -1;
        }
    }
    if (start_entry(r, s, e, key, inputs) != 0)
        return -1;
    if (out) {
        fprintf(out, "[%2d/%d] %-18s %s\n", index, count, s->id,
                s->resume ? "resuming from its checkpoint" : "running");
        fflush(out);
    }
    double t0 = pg_now_seconds();
    json_t *outputs = json_array();
    int rc = outputs ? s->run(r, s, outputs) : pg_fail("%s/%s: out of memory", r->dir, PG_MANIFEST_NAME);
    return end_entry(r, s, e, rc, outputs, pg_now_seconds() - t0, index, count);
}

/* Refuses to re-run an existing run with other settings: its done stages' outputs (the
 * checkpoints, the records folder, the report) would be replaced. Names what differs. */
static int check_same_settings(const pg_run_state *r, const pg_run_config *c)
{
    json_t *now = pg_run_config_settings(c);
    if (!now)
        return pg_fail("%s/%s: out of memory", r->dir, PG_MANIFEST_NAME);
    const json_t *was = json_object_get(r->manifest, "settings");
    char diff[400] = "";
    size_t len = 0;
    int n = 0;
    const char *name;
    json_t *v;
    json_object_foreach(now, name, v) {
        const char *old = json_string_value(json_object_get(was, name));
        const char *cur = json_string_value(v);
        if (old && cur && strcmp(old, cur) == 0)
            continue;
        if (n++ < 3 && len < sizeof diff)
            len += (size_t)snprintf(diff + len, sizeof diff - len, "%s%s %s -> %s",
                                    n > 1 ? ", " : "", name, old ? old : "(unset)",
                                    cur ? cur : "(unset)");
    }
    json_decref(now);
    if (n == 0)
        return 0;
    if (n > 3 && len < sizeof diff)
        snprintf(diff + len, sizeof diff - len, " and %d more", n - 3);
    return pg_fail("%s: holds a run made with other settings (%s); running here would replace "
                   "its results: pass --force to do that, or choose another --out",
                   r->dir, diff);
}

/* The manifest of this run: the existing one (checked) or a new one. */
static int open_manifest(pg_run_state *r, pg_run_config *c)
{
    if (pg_manifest_load(r->dir, &r->manifest) != 0)
        return -1;
    if (!r->manifest) {
        if (check_fresh_dir(r->dir) != 0)
            return -1;
        char now[32];
        pg_utc_now(now);
        r->manifest = json_pack("{s:s, s:i, s:s, s:s, s:{}, s:O, s:o, s:[]}", "format",
                                PG_MANIFEST_FORMAT, "version", PG_MANIFEST_VERSION, "pgolf",
                                pg_build_version(), "created", now, "settings", "versions",
                                r->versions, "host", pg_host_json(), "stages");
        return r->manifest ? 0 : pg_fail("%s/%s: out of memory", r->dir, PG_MANIFEST_NAME);
    }
    int first = 1;
    if (!r->o->refresh && pg_run_check_files(r->dir, r->manifest, 0, fail_on_mismatch, &first) != 0)
        return -1;
    /* RUN_DATE defaults to the day the run began, so a resumed run packages the same */
    if (!c->date[0]) {
        const char *created = json_string_value(json_object_get(r->manifest, "created"));
        snprintf(c->date, sizeof c->date, "%.10s", created);
    }
    return r->o->force ? 0 : check_same_settings(r, c);
}

/* Where this run computes: the backend's name and its own description of the device. */
/* Where the run computes: the backend, its description and the ranks training runs on. */
static json_t *backend_json(const pg_backend *be, const pg_dist *dist)
{
    char device[300];
    be->describe(device, sizeof device);
    return json_pack("{s:s, s:s, s:i}", "name", be->name, "device", device, "ranks",
                     dist ? dist->world : 1);
}

int pg_run(const pg_run_config *cfg, const pg_run_opts *o)
{
    pg_run_config c = *cfg;
    pg_run_state r = {.c = &c, .o = o, .dir = o->run_dir, .t0 = pg_now_seconds()};
    pg_stage plan[4 * PG_RUN_MAX_SEEDS + 8];
    int n = 0, rc = -1, lock = -1;
    if (!(r.versions = pg_run_versions()) || open_manifest(&r, &c) != 0)
        goto out;
    if (!c.date[0]) {
        char now[32];
        pg_utc_now(now);
        snprintf(c.date, sizeof c.date, "%.10s", now);
    }
    /* holding the lock, nothing else writes here: temp files are a killed run's */
    if (pg_mkdir_p(r.dir) != 0 || (lock = lock_dir(r.dir)) < 0 ||
        nftw(r.dir, remove_if_stale_temp, 16, FTW_PHYS) != 0)
        goto out;
    if (put(&r, r.manifest, "settings", pg_run_config_settings(&c)) != 0 ||
        put(&r, r.manifest, "versions", json_incref(r.versions)) != 0 ||
        put(&r, r.manifest, "host", pg_host_json()) != 0 ||
        put(&r, r.manifest, "backend", backend_json(o->backend ? o->backend : pg_backend_cpu(), o->dist)) != 0 ||
        pg_run_plan(&r, plan, &n) != 0 ||
        merge_plan(&r, plan, n) != 0 || pg_manifest_save(r.dir, r.manifest) != 0)
        goto out;
    if (o->out) {
        fprintf(o->out, "run: %s, %d stages, %d seed%s\n", r.dir, n, c.nseeds,
                c.nseeds > 1 ? "s" : "");
        fflush(o->out);
    }
    for (int i = 0; i < n; i++) {
        if (o->stop && *o->stop) {
            pg_fail("interrupted before %s; run the same command to resume", plan[i].id);
            goto out;
        }
        if (do_stage(&r, &plan[i], i + 1, n) != 0)
            goto out;
    }
    rc = pg_run_print_report(&r);
out:
    for (int i = 0; i < n; i++)
        json_decref(plan[i].params);
    if (lock >= 0)
        close(lock);
    json_decref(r.manifest);
    json_decref(r.versions);
    return rc;
}
