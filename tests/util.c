#include "tests/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fileio.h"

static char g_tmpdir[256];

const char *t_root(void)
{
    const char *r = getenv("PGOLF_ROOT");
    return r && *r ? r : ".";
}

static char *ring_buf(void)
{
    static char bufs[16][1024];
    static int next;
    return bufs[next++ % 16];
}

const char *t_repo_path(const char *rel)
{
    char *b = ring_buf();
    snprintf(b, 1024, "%s/%s", t_root(), rel);
    return b;
}

const char *t_shared_path(const char *rel)
{
    char *b = ring_buf();
    snprintf(b, 1024, "%s/../shared/data/%s", t_root(), rel);
    struct stat st;
    return stat(b, &st) == 0 ? b : NULL;
}

static void remove_tmpdir(void)
{
    if (g_tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "warning: could not remove %s\n", g_tmpdir);
    }
}

const char *t_tmpdir(void)
{
    if (!g_tmpdir[0]) {
        snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/pgolf-test-XXXXXX");
        if (!mkdtemp(g_tmpdir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(remove_tmpdir);
    }
    return g_tmpdir;
}

const char *t_tmp_path(const char *name)
{
    char *b = ring_buf();
    snprintf(b, 1024, "%s/%s", t_tmpdir(), name);
    return b;
}

char *t_read_text(const char *path)
{
    size_t len;
    unsigned char *d = t_read_bytes(path, &len);
    char *s = realloc(d, len + 1);
    s[len] = '\0';
    return s;
}

t_run_result t_pgolf(const char *fmt, ...)
{
    static t_run_result last;
    free(last.out);
    free(last.err);
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    const char *bin = getenv("PGOLF_BIN");
    /* own buffers: the caller's arguments may live in t_tmp_path's ring */
    char out_path[300], err_path[300];
    snprintf(out_path, sizeof out_path, "%s/run.out", t_tmpdir());
    snprintf(err_path, sizeof err_path, "%s/run.err", t_tmpdir());
    snprintf(cmd, sizeof cmd, "%s %s >'%s' 2>'%s' </dev/null", bin && *bin ? bin : "./pgolf", args,
             out_path, err_path);
    int st = system(cmd);
    last.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    last.out = t_read_text(out_path);
    last.err = t_read_text(err_path);
    return last;
}

int t_count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

void t_write_bytes(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_msg(fp != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

unsigned char *t_read_bytes(const char *path, size_t *len)
{
    unsigned char *d;
    ck_assert_msg(pg_read_file(path, (size_t)1 << 32, &d, len) == 0, "cannot read %s", path);
    return d;
}

json_t *t_load_json(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    ck_assert_msg(j != NULL, "%s: %s", path, e.text);
    return j;
}

void t_small_hparams(pg_hparams *h)
{
    pg_hparams_tiny(h, t_root());
    const char *sets[][2] = {{"NUM_LAYERS", "2"},         {"MODEL_DIM", "32"},
                             {"TRAIN_SEQ_LEN", "32"},     {"TRAIN_BATCH_TOKENS", "512"},
                             {"ITERATIONS", "16"},        {"WARMDOWN_ITERS", "6"},
                             {"VAL_LOSS_EVERY", "0"},     {"TRAIN_LOG_EVERY", "1"},
                             {"MUON_MOMENTUM_WARMUP_STEPS", "4"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        ck_assert_int_eq(pg_hparams_set(h, sets[i][0], sets[i][1]), 0);
}
