#include "pipeline/runconfig.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/parse.h"

int pg_run_config_preset(pg_run_config *c, const char *preset, const char *repo_root)
{
    memset(c, 0, sizeof *c);
    pg_ttt_opts_default(&c->ttt_opts);
    c->threshold = 0.005;
    c->alpha = 0.01;
    snprintf(c->quant, sizeof c->quant, "int8");
    snprintf(c->author, sizeof c->author, "pgolf");
    snprintf(c->github_id, sizeof c->github_id, "pgolf");
    snprintf(c->track, sizeof c->track, "non_record_cpu");
    c->seeds[0] = 42, c->seeds[1] = 1337, c->seeds[2] = 2025;
    c->nseeds = 3;
    if (strcmp(preset, "baseline") == 0) {
        pg_hparams_default(&c->h);
        c->sliding_stride = 64;
        snprintf(c->sota, sizeof c->sota, "none");
        snprintf(c->name, sizeof c->name, "pgolf baseline");
        return 0;
    }
    if (strcmp(preset, "tiny") != 0)
        return pg_fail("unknown preset '%s' (tiny or baseline)", preset);
    /* A schedule short enough for the whole pipeline to end within a minute on 2 cores. */
    pg_hparams_tiny(&c->h, repo_root);
    c->h.iterations = 40;
    c->h.warmdown_iters = 15;
    c->h.train_batch_tokens = 2048;
    c->h.val_loss_every = 0;
    c->h.train_log_every = 10;
    c->h.muon_momentum_warmup_steps = 10;
    c->h.checkpoint_every = 10;
    c->sliding_stride = 32;
    c->ttt = 1;
    c->ttt_opts.chunk_tokens = 4096;
    c->ttt_opts.epochs = 1;
    c->ttt_opts.lr = 0.03;
    c->ttt_opts.freeze_blocks = 0;
    snprintf(c->sota, sizeof c->sota, "unigram");
    snprintf(c->name, sizeof c->name, "pgolf tiny sample run");
    return 0;
}

static int set_string(char *dst, size_t cap, const char *name, const char *value)
{
    if (strlen(value) >= cap)
        return pg_fail("%s is longer than %zu characters", name, cap - 1);
    if (strpbrk(value, "\r\n"))
        return pg_fail("%s must be one line", name);
    snprintf(dst, cap, "%s", value);
    return 0;
}

static int parse_double(const char *name, const char *value, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (errno || end == value || *end || !isfinite(v) || v < lo || v > hi)
        return pg_fail("%s=%s must be a number in [%g, %g]", name, value, lo, hi);
    *out = v;
    return 0;
}

static int parse_seeds(pg_run_config *c, const char *value)
{
    char buf[512];
    if (set_string(buf, sizeof buf, "RUN_SEEDS", value) != 0)
        return -1;
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long v;
        if (n == PG_RUN_MAX_SEEDS)
            return pg_fail("RUN_SEEDS: more than %d seeds", PG_RUN_MAX_SEEDS);
        if (pg_parse_long(tok, "RUN_SEEDS", 0, 2147483647L, &v) != 0)
            return -1;
        for (int i = 0; i < n; i++)
            if (c->seeds[i] == v)
                return pg_fail("RUN_SEEDS: seed %ld is listed twice", v);
        c->seeds[n++] = v;
    }
    if (n == 0)
        return pg_fail("RUN_SEEDS needs at least one seed");
    c->nseeds = n;
    return 0;
}

static int valid_date(const char *d)
{
    if (strlen(d) != 10 || d[4] != '-' || d[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)d[i]))
            return 0;
    return 1;
}

int pg_run_config_set(pg_run_config *c, const char *name, const char *value)
{
    if (strncmp(name, "TTT_", 4) == 0)
        return pg_ttt_set(&c->ttt_opts, name, value);
    if (strncmp(name, "RUN_", 4) != 0) {
        if (strcmp(name, "SEED") == 0)
            return pg_fail("SEED is per stage in a run: set RUN_SEEDS (or --seeds)");
        return pg_hparams_set(&c->h, name, value);
    }
    const char *k = name + 4;
    double d;
    if (strcmp(k, "SEEDS") == 0)
        return parse_seeds(c, value);
    if (strcmp(k, "QUANT") == 0) {
        if (strcmp(value, "int8") != 0 && strcmp(value, "mixed") != 0)
            return pg_fail("RUN_QUANT=%s must be int8 or mixed", value);
        return set_string(c->quant, sizeof c->quant, name, value);
    }
    if (strcmp(k, "SLIDING_STRIDE") == 0)
        return pg_parse_long(value, name, 0, 1 << 20, &c->sliding_stride);
    if (strcmp(k, "TTT_STRIDE") == 0)
        return pg_parse_long(value, name, 0, 1 << 20, &c->ttt_stride);
    if (strcmp(k, "TTT") == 0 || strcmp(k, "THRESHOLD_BPB") == 0) {
        long v;
        if (pg_parse_long(value, name, 0, 1, &v) != 0)
            return -1;
        if (strcmp(k, "TTT") == 0)
            c->ttt = (int)v;
        else
            c->threshold_bpb = (int)v;
        return 0;
    }
    if (strcmp(k, "SOTA") == 0) {
        if (strcmp(value, "unigram") != 0 && strcmp(value, "none") != 0 &&
            parse_double(name, value, 0, 1e6, &d) != 0)
            return pg_fail("RUN_SOTA=%s must be a val_bpb, 'unigram' or 'none'", value);
        return set_string(c->sota, sizeof c->sota, name, value);
    }
    if (strcmp(k, "SOTA_RECORD") == 0)
        return set_string(c->sota_record, sizeof c->sota_record, name, value);
    if (strcmp(k, "THRESHOLD") == 0)
        return parse_double(name, value, 0, 1e3, &c->threshold);
    if (strcmp(k, "ALPHA") == 0) {
        if (parse_double(name, value, 0, 1, &d) != 0 || d <= 0 || d >= 1)
            return pg_fail("RUN_ALPHA=%s must be in (0, 1)", value);
        c->alpha = d;
        return 0;
    }
    if (strcmp(k, "NAME") == 0)
        return set_string(c->name, sizeof c->name, name, value);
    if (strcmp(k, "AUTHOR") == 0)
        return set_string(c->author, sizeof c->author, name, value);
    if (strcmp(k, "GITHUB_ID") == 0)
        return set_string(c->github_id, sizeof c->github_id, name, value);
    if (strcmp(k, "TRACK") == 0)
        return set_string(c->track, sizeof c->track, name, value);
    if (strcmp(k, "DATE") == 0) {
        if (*value && !valid_date(value))
            return pg_fail("RUN_DATE=%s is not YYYY-MM-DD", value);
        return set_string(c->date, sizeof c->date, name, value);
    }
    return pg_fail("unknown run setting %s", name);
}

static int set_any(void *c, const char *name, const char *value)
{
    return pg_run_config_set(c, name, value);
}

int pg_run_config_load_file(pg_run_config *c, const char *path)
{
    return pg_parse_settings_file(path, set_any, c);
}

static const char *const kRunNames[] = {
    "RUN_SEEDS", "RUN_QUANT", "RUN_SLIDING_STRIDE", "RUN_TTT", "RUN_TTT_STRIDE", "RUN_SOTA",
    "RUN_SOTA_RECORD", "RUN_THRESHOLD", "RUN_THRESHOLD_BPB", "RUN_ALPHA", "RUN_NAME",
    "RUN_AUTHOR", "RUN_GITHUB_ID", "RUN_DATE", "RUN_TRACK"};

int pg_run_config_from_env(pg_run_config *c)
{
    if (pg_hparams_from_env(&c->h) != 0 || pg_ttt_from_env(&c->ttt_opts) != 0)
        return -1;
    for (size_t i = 0; i < sizeof kRunNames / sizeof kRunNames[0]; i++) {
        const char *v = getenv(kRunNames[i]);
        if (v && *v && pg_run_config_set(c, kRunNames[i], v) != 0)
            return -1;
    }
    return 0;
}

static int make_absolute(char *path, const char *name)
{
    if (!*path || path[0] == '/')
        return 0;
    char *abs = realpath(path, NULL);
    if (!abs)
        return pg_fail("%s=%s: %s", name, path, strerror(errno));
    int rc = set_string(path, PG_PATH_MAX, name, abs);
    free(abs);
    return rc;
}

int pg_run_config_finish(pg_run_config *c)
{
    if (pg_hparams_validate(&c->h) != 0)
        return -1;
    int T = c->h.model.seq_len;
    if (c->sliding_stride > T || c->ttt_stride > T)
        return pg_fail("RUN_SLIDING_STRIDE=%ld and RUN_TTT_STRIDE=%ld must be <= TRAIN_SEQ_LEN=%d",
                       c->sliding_stride, c->ttt_stride, T);
    if (make_absolute(c->h.data_path, "DATA_PATH") != 0 ||
        make_absolute(c->h.tokenizer_path, "TOKENIZER_PATH") != 0 ||
        make_absolute(c->h.init_checkpoint, "INIT_CHECKPOINT") != 0 ||
        make_absolute(c->sota_record, "RUN_SOTA_RECORD") != 0)
        return -1;
    return 0;
}

/* {NAME: "value"} from the NAME=value lines of the training settings h and, when c is
 * not NULL, of c's TTT and RUN_* settings (then without SEED, which is per stage). */
static json_t *collect(const pg_hparams *h, const pg_run_config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return NULL;
    pg_hparams_print(h, mem, "");
    if (c) {
        pg_ttt_print(&c->ttt_opts, mem, "");
        fprintf(mem, "RUN_SEEDS=");
        for (int i = 0; i < c->nseeds; i++)
            fprintf(mem, "%s%ld", i ? "," : "", c->seeds[i]);
        fprintf(mem, "\nRUN_QUANT=%s\nRUN_SLIDING_STRIDE=%ld\nRUN_TTT=%d\nRUN_TTT_STRIDE=%ld\n"
                     "RUN_SOTA=%s\nRUN_SOTA_RECORD=%s\nRUN_THRESHOLD=%.17g\n"
                     "RUN_THRESHOLD_BPB=%d\nRUN_ALPHA=%.17g\nRUN_NAME=%s\nRUN_AUTHOR=%s\n"
                     "RUN_GITHUB_ID=%s\nRUN_DATE=%s\nRUN_TRACK=%s\n",
                c->quant, c->sliding_stride, c->ttt, c->ttt_stride, c->sota, c->sota_record,
                c->threshold, c->threshold_bpb, c->alpha, c->name, c->author, c->github_id,
                c->date, c->track);
    }
    fclose(mem);
    json_t *obj = json_object();
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        if (!c || strcmp(line, "SEED") != 0)
            json_object_set_new(obj, line, json_string(eq + 1));
    }
    free(text);
    return obj;
}

json_t *pg_run_config_settings(const pg_run_config *c)
{
    return collect(&c->h, c);
}

json_t *pg_run_config_train_settings(const pg_run_config *c, long seed)
{
    pg_hparams h = c->h;
    h.seed = seed;
    return collect(&h, NULL);
}
