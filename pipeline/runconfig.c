#include "pipeline/runconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/parse.h"

static int parse_seeds(void *obj, const char *value)
{
    pg_run_config *c = obj;
    char buf[512];
    if (strlen(value) >= sizeof buf)
        return pg_fail("RUN_SEEDS is longer than %zu characters", sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", value);
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

static void format_seeds(const void *obj, char *buf, size_t cap)
{
    const pg_run_config *c = obj;
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->nseeds && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%ld", i ? "," : "", c->seeds[i]);
}

static int check_sota(const char *value)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (strcmp(value, "unigram") == 0 || strcmp(value, "none") == 0 ||
        (!errno && end != value && !*end && v >= 0 && v <= 1e6))
        return 0;
    return pg_fail("RUN_SOTA=%s must be a val_bpb, 'unigram' or 'none'", value);
}

static int check_date(const char *d)
{
    int ok = !*d || (strlen(d) == 10 && d[4] == '-' && d[7] == '-');
    for (int i = 0; ok && d[i]; i++)
        ok = i == 4 || i == 7 || isdigit((unsigned char)d[i]);
    return ok ? 0 : pg_fail("RUN_DATE=%s is not YYYY-MM-DD", d);
}

#define ROW(n, t, f, d, lo, hi, o, h)                                                          \
    {.name = n, .type = t, .offset = offsetof(pg_run_config, f),                               \
     .size = sizeof(((pg_run_config *)0)->f), .def = d, .min = lo, .max = hi, .open = o,         \
     .readers = PG_READ_RUN, .help = h}
#define STR(n, f, d, h) ROW(n, PG_SET_STRING, f, d, 0, 0, 0, h)
static const pg_setting kRows[] = {
    {.name = "RUN_SEEDS", .type = PG_SET_CUSTOM, .def = "42,1337,2025", .readers = PG_READ_RUN,
     .parse = parse_seeds, .format = format_seeds,
     .help = "comma-separated seeds in [0, 2147483647] (at most 16): one train stage each"},
    {.name = "RUN_QUANT", .type = PG_SET_STRING, .offset = offsetof(pg_run_config, quant),
     .size = sizeof(((pg_run_config *)0)->quant), .def = "int8", .choices = "int8|mixed",
     .readers = PG_READ_RUN,
     .help = "quantization: int8 (the reference's export) or mixed (int8/int6/int5 groups)"},
    {.name = "RUN_SOTA", .type = PG_SET_STRING, .offset = offsetof(pg_run_config, sota),
     .size = sizeof(((pg_run_config *)0)->sota), .def = "none", .check = check_sota,
     .readers = PG_READ_RUN,
     .help = "what stats tests against: a val_bpb, unigram (the data's baseline) or none"},
    ROW("RUN_SOTA_RECORD", PG_SET_PATH, sota_record, "", 0, 0, 0,
        "a records folder or tree whose seeds are the SOTA (Welch's test too)"),
    ROW("RUN_THRESHOLD", PG_SET_DOUBLE, threshold, "0.005", 0, 1e3, 0,
        "improvement the significance test needs, in nats"),
    ROW("RUN_THRESHOLD_BPB", PG_SET_INT, threshold_bpb, "0", 0, 1, 0,
        "1: RUN_THRESHOLD is in BPB (as early records)"),
    ROW("RUN_ALPHA", PG_SET_DOUBLE, alpha, "0.01", 0, 1, PG_SET_MIN_OPEN | PG_SET_MAX_OPEN,
        "significance level of the test"),
    STR("RUN_NAME", name, "pgolf baseline", "submission.json name"),
    STR("RUN_AUTHOR", author, "pgolf", "submission.json author"),
    STR("RUN_GITHUB_ID", github_id, "pgolf", "submission.json github_id"),
    {.name = "RUN_DATE", .type = PG_SET_STRING, .offset = offsetof(pg_run_config, date),
     .size = sizeof(((pg_run_config *)0)->date), .def = "", .check = check_date,
     .readers = PG_READ_RUN, .help = "submission.json date, YYYY-MM-DD (empty: the run's first day)"},
    STR("RUN_TRACK", track, "non_record_cpu", "submission.json track"),
};
#undef ROW
#undef STR

const pg_settings_table pg_run_settings = {"pgolf run's own stages", kRows,
                                           sizeof kRows / sizeof kRows[0], 0};

int pg_run_config_bind(const pg_run_config *c, pg_settings_bind b[PG_RUN_TABLES])
{
    pg_run_config *m = (pg_run_config *)c;
    b[0] = (pg_settings_bind){&pg_train_settings, &m->h};
    b[1] = (pg_settings_bind){&pg_model_settings, &m->h.model};
    pg_final_opts_bind(&m->fin, b + 2);
    b[4] = (pg_settings_bind){&pg_run_settings, m};
    return PG_RUN_TABLES;
}

int pg_run_config_preset(pg_run_config *c, const char *preset, const char *repo_root)
{
    memset(c, 0, sizeof *c);
    pg_settings_bind b[PG_RUN_TABLES];
    pg_settings_defaults(b, pg_run_config_bind(c, b));
    if (strcmp(preset, "baseline") == 0)
        return 0;
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
    c->fin.sliding_stride = 32;
    c->fin.ttt = 1;
    c->fin.ttt_opts.chunk_tokens = 4096;
    c->fin.ttt_opts.epochs = 1;
    c->fin.ttt_opts.lr = 0.03;
    c->fin.ttt_opts.freeze_blocks = 0;
    snprintf(c->sota, sizeof c->sota, "unigram");
    snprintf(c->name, sizeof c->name, "pgolf tiny sample run");
    return 0;
}

int pg_run_config_set(pg_run_config *c, const char *name, const char *value)
{
    if (strcmp(name, "SEED") == 0)
        return pg_fail("SEED is per stage in a run: set RUN_SEEDS (or --seeds)");
    pg_settings_bind b[PG_RUN_TABLES];
    return pg_settings_set(b, pg_run_config_bind(c, b), name, value);
}

static int set_any(void *c, const char *name, const char *value)
{
    return pg_run_config_set(c, name, value);
}

int pg_run_config_load_file(pg_run_config *c, const char *path)
{
    return pg_parse_settings_file(path, set_any, c);
}

int pg_run_config_from_env(pg_run_config *c)
{
    pg_settings_bind b[PG_RUN_TABLES];
    return pg_settings_from_env(b, pg_run_config_bind(c, b));
}

/* Every PATH setting made absolute (DATA_PATH, TOKENIZER_PATH, ..., RUN_SOTA_RECORD). */
static int make_absolute(const pg_settings_bind *b, int n)
{
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < b[i].table->n; k++) {
            const pg_setting *s = &b[i].table->rows[k];
            char *path = (char *)b[i].obj + s->offset;
            if (s->type != PG_SET_PATH || !*path || path[0] == '/')
                continue;
            char *abs = realpath(path, NULL);
            if (!abs)
                return pg_fail("%s=%s: %s", s->name, path, strerror(errno));
            int rc = pg_settings_set(b, n, s->name, abs);
            free(abs);
            if (rc != 0)
                return -1;
        }
    return 0;
}

int pg_run_config_finish(pg_run_config *c)
{
    if (pg_hparams_validate(&c->h) != 0)
        return -1;
    if (pg_final_opts_check(&c->fin, c->h.model.seq_len) != 0)
        return -1;
    pg_settings_bind b[PG_RUN_TABLES];
    return make_absolute(b, pg_run_config_bind(c, b));
}

json_t *pg_run_config_settings(const pg_run_config *c)
{
    pg_settings_bind b[PG_RUN_TABLES];
    json_t *o = pg_settings_text_json(b, pg_run_config_bind(c, b));
    json_object_del(o, "SEED"); /* per stage */
    return o;
}

json_t *pg_run_config_train_settings(const pg_run_config *c, long seed)
{
    pg_hparams h = c->h;
    h.seed = seed;
    pg_settings_bind b[2] = {{&pg_train_settings, &h}, {&pg_model_settings, &h.model}};
    return pg_settings_text_json(b, 2);
}
