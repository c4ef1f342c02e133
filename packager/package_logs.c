#include "packager/package_logs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/text.h"

#define LOG_MAX_BYTES ((size_t)256 << 20)
#define CODE_MAX_BYTES ((size_t)64 << 20)
#define ARTIFACT_MAX_BYTES ((size_t)1 << 30)

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* A name pgolf verify reads as a log (*.log, *.txt, not requirements.txt). */
static int log_like(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && (strcmp(name + n - 4, ".log") == 0 || strcmp(name + n - 4, ".txt") == 0) &&
           strcmp(name, "requirements.txt") != 0;
}

/* The names the folder already uses (input paths in `from` for the message). */
typedef struct {
    const char *names[512];
    const char *from[512];
    int n;
} names_used;

static int claim_name(names_used *u, const char *name, const char *from)
{
    for (int i = 0; i < u->n; i++)
        if (strcmp(u->names[i], name) == 0)
            return pg_fail("%s and %s would both be %s in the records folder", u->from[i], from,
                           name);
    if (u->n == (int)(sizeof u->names / sizeof u->names[0]))
        return pg_fail("%s: too many files for one records folder", from);
    u->names[u->n] = name;
    u->from[u->n++] = from;
    return 0;
}

static int load_log(const pg_logs_opts *o, int i, pg_logs_package *p, names_used *used)
{
    const char *path = o->logs[i];
    pg_sub_seed *s = &p->seeds[i];
    s->source = path;
    if (pg_read_file(path, LOG_MAX_BYTES, &p->log_bytes[i], &p->log_lens[i]) != 0 ||
        pg_log_parse_text(path, (const char *)p->log_bytes[i], p->log_lens[i], &p->logs[i]) != 0 ||
        pg_sub_seed_from_log(s, &p->logs[i], o->score_tag) != 0)
        return -1;
    if (log_like(base_name(path)))
        snprintf(s->log_name, sizeof s->log_name, "%s", base_name(path));
    else
        snprintf(s->log_name, sizeof s->log_name, "train_seed%ld.log", s->seed);
    s->log_text = (const char *)p->log_bytes[i];
    s->log_len = p->log_lens[i];
    return claim_name(used, s->log_name, path);
}

/* Whether two model files share a name (then each is named "stem_seedS.ext"). */
static int artifact_names_clash(const pg_logs_opts *o)
{
    for (int i = 0; i < o->nartifacts; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(base_name(o->artifacts[i]), base_name(o->artifacts[j])) == 0)
                return 1;
    return 0;
}

/* The artifact's size is the model's; a log that states another size is refused. */
static int load_artifact(const pg_logs_opts *o, int i, int clash, pg_sub_seed *s,
                         names_used *used)
{
    const char *path = o->artifacts[i];
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return pg_fail("%s: no such model file (--with-artifacts)", path);
    if (s->model_line && s->model_bytes != (long long)st.st_size)
        return pg_fail("%s is %lld bytes but %s:%d says the model is %lld bytes (artifacts are "
                       "given in the order of the logs)",
                       path, (long long)st.st_size, s->source, s->model_line, s->model_bytes);
    s->model_bytes = (long long)st.st_size; /* the log's line, when it has one, stays cited */
    const char *b = base_name(path), *dot = strchr(b, '.');
    if (clash)
        snprintf(s->artifact_name, sizeof s->artifact_name, "%.*s_seed%ld%s",
                 (int)(dot ? dot - b : (long)strlen(b)), b, s->seed, dot ? dot : "");
    else
        snprintf(s->artifact_name, sizeof s->artifact_name, "%s", b);
    return claim_name(used, s->artifact_name, path);
}

static int load_code(const pg_logs_opts *o, pg_logs_package *p, names_used *used)
{
    for (int i = 0; i < o->ncode; i++) {
        if (pg_read_file(o->code[i], CODE_MAX_BYTES, &p->code_bytes[i], &p->code_lens[i]) != 0 ||
            claim_name(used, base_name(o->code[i]), o->code[i]) != 0)
            return -1;
        p->code_names[i] = (char *)base_name(o->code[i]);
        p->code_sizes[i] = (long long)p->code_lens[i];
        p->code_total += p->code_sizes[i];
    }
    return 0;
}

static int alloc_package(int n, int ncode, pg_logs_package *p)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->ncode = ncode;
    p->seeds = calloc((size_t)n, sizeof *p->seeds);
    p->logs = calloc((size_t)n, sizeof *p->logs);
    p->log_bytes = calloc((size_t)n, sizeof *p->log_bytes);
    p->log_lens = calloc((size_t)n, sizeof *p->log_lens);
    p->code_bytes = calloc((size_t)ncode, sizeof *p->code_bytes);
    p->code_lens = calloc((size_t)ncode, sizeof *p->code_lens);
    p->code_names = calloc((size_t)ncode, sizeof *p->code_names);
    p->code_sizes = calloc((size_t)ncode, sizeof *p->code_sizes);
    return p->seeds && p->logs && p->log_bytes && p->log_lens && p->code_bytes && p->code_lens &&
                   p->code_names && p->code_sizes
               ? 0
               : pg_fail("out of memory loading %d logs", n);
}

int pg_logs_load(const pg_logs_opts *o, pg_logs_package *p)
{
    if (o->nlogs < 1 || o->ncode < 1)
        return pg_fail("package --logs needs at least one log and one --code file");
    if (o->nartifacts && o->nartifacts != o->nlogs)
        return pg_fail("%d --with-artifacts for %d logs: give one model file per log, in the "
                       "logs' order", o->nartifacts, o->nlogs);
    names_used used = {.names = {"README.md", "submission.json", "loss.svg"},
                       .from = {"the README", "submission.json", "the loss plot"}, .n = 3};
    int rc = alloc_package(o->nlogs, o->ncode, p);
    if (rc == 0)
        rc = load_code(o, p, &used);
    for (int i = 0; i < o->nlogs && rc == 0; i++)
        rc = load_log(o, i, p, &used);
    for (int i = 0; i < o->nartifacts && rc == 0; i++)
        rc = load_artifact(o, i, artifact_names_clash(o), &p->seeds[i], &used);
    for (int i = 0; i < o->nlogs && rc == 0 && !o->nartifacts; i++)
        if (!p->seeds[i].model_line)
            rc = pg_fail("%s: no model size line (\"Serialized model ...: N bytes\"); give the "
                         "model file with --with-artifacts",
                         o->logs[i]);
    if (rc == 0)
        rc = pg_sub_check(p->seeds, p->n, p->code_total, o->track);
    if (rc != 0)
        pg_logs_free(p);
    return rc;
}

static int copy_file(const char *from, const char *dir, const char *name)
{
    unsigned char *b;
    size_t n;
    if (pg_read_file(from, ARTIFACT_MAX_BYTES, &b, &n) != 0)
        return -1;
    int rc = pg_write_file_in(dir, name, b, n);
    free(b);
    return rc;
}

/* How each seed was run: the script with its seed, under the challenge's launcher. */
static void reproduce_text(const pg_logs_package *p, const pg_logs_opts *o, pg_text *t)
{
    pg_text_printf(t, "Each seed ran the code in this folder on %s, with the settings its log "
                      "prints:\n\n```sh\n",
                   o->hardware);
    for (int i = 0; i < p->n; i++)
        pg_text_printf(t, "SEED=%ld torchrun --standalone --nproc_per_node=8 %s\n",
                       p->seeds[i].seed, p->code_names[0]);
    pg_text_printf(t, "```");
}

int pg_logs_write(const pg_logs_package *p, const pg_logs_opts *o, const char *dir,
                  const char *significance)
{
    int rc = pg_mkdir_p(dir);
    for (int i = 0; i < p->n && rc == 0; i++) {
        rc = pg_write_file_in(dir, p->seeds[i].log_name, p->log_bytes[i], p->log_lens[i]);
        if (rc == 0 && p->seeds[i].artifact_name[0])
            rc = copy_file(o->artifacts[i], dir, p->seeds[i].artifact_name);
    }
    for (int i = 0; i < o->ncode && rc == 0; i++)
        rc = pg_write_file_in(dir, p->code_names[i], p->code_bytes[i], p->code_lens[i]);
    pg_text repro = {0};
    reproduce_text(p, o, &repro);
    pg_sub_info info = {.name = o->name, .author = o->author, .github_id = o->github_id,
                        .date = o->date, .track = o->track, .blurb = o->blurb,
                        .hardware = o->hardware, .code_names = (const char *const *)p->code_names,
                        .code_sizes = p->code_sizes, .ncode = o->ncode,
                        .code_bytes = p->code_total, .reproduce = repro.s,
                        .significance = significance};
    if (rc == 0)
        rc = repro.oom ? pg_fail("%s: out of memory", dir)
                       : pg_submission_write(dir, p->seeds, p->n, &info);
    pg_text_free(&repro);
    return rc;
}

void pg_logs_free(pg_logs_package *p)
{
    for (int i = 0; p->log_bytes && i < p->n; i++)
        free(p->log_bytes[i]);
    for (int i = 0; p->code_bytes && i < p->ncode; i++)
        free(p->code_bytes[i]);
    free(p->seeds);
    free(p->logs);
    free(p->log_bytes);
    free(p->log_lens);
    free(p->code_bytes);
    free(p->code_lens);
    free(p->code_names);
    free(p->code_sizes);
    memset(p, 0, sizeof *p);
}
