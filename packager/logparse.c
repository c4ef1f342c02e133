#include "packager/logparse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/parse.h"
#include "common/text.h"

#define PG_LOG_MAX_BYTES ((size_t)256 << 20)

/* Finds `key` (e.g. "val_loss:") in the line, skips blanks, parses a number.
 * A key must start the line or follow a non-identifier character. */
static int find_num(const char *line, const char *key, double *out)
{
    size_t kl = strlen(key);
    for (const char *p = strstr(line, key); p; p = strstr(p + 1, key)) {
        if (p != line && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
            continue;
        const char *q = p + kl;
        while (*q == ' ' || *q == '\t')
            q++;
        char *end;
        double v = strtod(q, &end);
        if (end != q) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* A seed is an integer a double holds exactly (|seed| <= 2^53), so that callers may
 * convert it back to a long; anything else is not a seed. */
/* A seed: an integer a double holds exactly (|v| <= 2^53), so converting it back to a
 * long is defined. *end (may be NULL) gets the first character after it. */
static int parse_seed(const char *p, double *out, char **end)
{
    char *e;
    errno = 0;
    long long v = strtoll(p, &e, 10);
    if (end)
        *end = e;
    if (e == p || errno == ERANGE || v > (1LL << 53) || v < -(1LL << 53))
        return 0;
    *out = (double)v;
    return 1;
}

static void set(pg_log_num *n, double v, int line)
{
    n->value = v;
    n->line = line;
}

/* "... : N bytes" at the end of a size line. */
static int bytes_after_colon(const char *line, double *out)
{
    const char *b = strstr(line, " bytes");
    if (!b)
        return 0;
    const char *p = b;
    while (p > line && (isdigit((unsigned char)p[-1]) || p[-1] == ','))
        p--;
    if (p == b)
        return 0;
    char digits[32];
    size_t n = 0;
    for (const char *q = p; q < b && n + 1 < sizeof digits; q++)
        if (*q != ',')
            digits[n++] = *q;
    digits[n] = '\0';
    *out = strtod(digits, NULL);
    return 1;
}

/* Digits after the decimal point of the number starting at q. */
static int decimals_at(const char *q)
{
    while (*q == ' ' || *q == '-' || *q == '+' || isdigit((unsigned char)*q))
        q++;
    if (*q != '.')
        return 0;
    int n = 0;
    while (isdigit((unsigned char)*++q))
        n++;
    return n;
}

static int num_decimals(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    return p ? decimals_at(p + strlen(key)) : 0;
}

/* Skips "n" digits at p; returns the end or NULL. */
static const char *digits(const char *p, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)p[i]))
            return NULL;
    return p + n;
}

/* A leading timestamp: "[anything] ", "2026-04-01 12:00:00[.123][Z] ", "12:00:00[.1] ",
 * a unix time "1776142348[.135] " (ten digits: never a step line's "N/M"), with an
 * optional " - " / " | " after it. */
static char *strip_stamp(char *line)
{
    char *p = line;
    const char *unix_end = digits(p, 10);
    if (unix_end && *unix_end == '.')
        while (isdigit((unsigned char)*++unix_end))
            ;
    if (*p == '[' && strchr(p, ']')) {
        p = strchr(p, ']') + 1;
    } else if (unix_end && (*unix_end == ' ' || *unix_end == '\t')) {
        p = (char *)unix_end;
    } else {
        const char *q = digits(p, 4);
        if (q && q[0] == '-' && digits(q + 1, 2) && q[3] == '-' && digits(q + 4, 2) &&
            (q[6] == ' ' || q[6] == 'T'))
            q += 7;
        else
            q = p;
        const char *t = digits(q, 2);
        if (t && t[0] == ':' && digits(t + 1, 2) && t[3] == ':' && digits(t + 4, 2)) {
            t += 6;
            if (*t == '.' || *t == ',')
                while (isdigit((unsigned char)*++t))
                    ;
            if (*t == 'Z')
                t++;
            if (*t == ' ' || *t == '\t')
                p = (char *)t;
        }
    }
    if (p == line)
        return line;
    while (*p == ' ' || *p == '\t' || *p == '-' || *p == '|')
        p++;
    return p;
}

static int is_ident(const char *p, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)p[0]) || p[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)p[i]) || p[i] == '_'))
            return 0;
    return 1;
}

/* "seed:N", "seed=N", "seed N", "seed: N" as a token anywhere, or " s:N" (short form). */
static int printed_seed(const char *line, double *out)
{
    static const char *keys[] = {"seed", "s:"};
    for (int k = 0; k < 2; k++)
        for (const char *p = strstr(line, keys[k]); p; p = strstr(p + 1, keys[k])) {
            if (p != line && (isalnum((unsigned char)p[-1]) || p[-1] == '_' ||
                              (k == 1 && p[-1] != ' ')))
                continue;
            const char *q = p + strlen(keys[k]);
            if (k == 0) {
                if (*q != ':' && *q != '=' && *q != ' ')
                    continue;
                while (*q == ' ' || *q == ':' || *q == '=')
                    q++;
            }
            char *end;
            double v;
            if (parse_seed(q, &v, &end) &&
                (isspace((unsigned char)*end) || *end == '\0' || *end == ','))
                return (*out = v), 1;
        }
    return 0;
}

/* "seedN", "seed_N", "seed-N", "seed=N" in a file name. */
static int name_seed(const char *name, double *out)
{
    const char *base = strrchr(name, '/');
    for (const char *p = strstr(base ? base : name, "seed"); p; p = strstr(p + 1, "seed")) {
        const char *q = p + 4;
        if (*q == '_' || *q == '-' || *q == '=')
            q++;
        if (isdigit((unsigned char)*q) && parse_seed(q, out, NULL))
            return 1;
    }
    return 0;
}

/* Hyperparameters printed before training: "key: value" (one per line) or tokens
 * "key=value" / "key:value". Values with '/' (paths, step counters) are skipped; the
 * first occurrence of a key wins. */
static void add_config(pg_log_summary *s, const char *key, size_t kl, const char *val, size_t vl,
                       int ln)
{
    if (!is_ident(key, kl) || vl == 0 || memchr(val, '/', vl) || kl >= sizeof s->config[0].key)
        return;
    for (int i = 0; i < s->nconfig; i++)
        if (strlen(s->config[i].key) == kl && strncmp(s->config[i].key, key, kl) == 0)
            return;
    if (s->nconfig == PG_LOG_MAX_CONFIG)
        return;
    pg_log_config *c = &s->config[s->nconfig++];
    snprintf(c->key, sizeof c->key, "%.*s", (int)kl, key);
    snprintf(c->value, sizeof c->value, "%.*s", (int)vl, val);
    c->line = ln;
}

static void parse_config(pg_log_summary *s, const char *line, int ln)
{
    const char *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *tok = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        size_t tl = (size_t)(p - tok), kl = strcspn(tok, ":=");
        if (kl >= tl)
            continue;
        const char *val = tok + kl + 1;
        size_t vl = tl - kl - 1;
        if (vl == 0 && *p) { /* "key: value" */
            const char *v = p;
            while (*v == ' ' || *v == '\t')
                v++;
            val = v;
            vl = strlen(v);
            while (vl && isspace((unsigned char)val[vl - 1]))
                vl--;
            add_config(s, tok, kl, val, vl, ln);
            return;
        }
        while (vl && (val[vl - 1] == ',' || val[vl - 1] == ';'))
            vl--;
        add_config(s, tok, kl, val, vl, ln);
    }
}

static void add_eval(pg_log_summary *s, const char *line, double loss, double bpb, int ln)
{
    if (s->nevals == PG_LOG_MAX_EVALS) {
        s->evals_dropped++;
        return;
    }
    pg_log_eval *e = &s->evals[s->nevals++];
    const char *vl = strstr(line, "val_loss");
    /* the words before val_loss that are not key:value pairs */
    size_t n = 0;
    for (const char *w = line; w < vl;) {
        size_t wl = strcspn(w, " \t");
        if (w + wl > vl)
            wl = (size_t)(vl - w);
        if (wl && !memchr(w, ':', wl) && !memchr(w, '=', wl) && n + wl + 2 < sizeof e->tag)
            n += (size_t)snprintf(e->tag + n, sizeof e->tag - n, "%s%.*s", n ? " " : "", (int)wl, w);
        w += wl;
        while (w < vl && (*w == ' ' || *w == '\t'))
            w++;
    }
    if (n == 0)
        snprintf(e->tag, sizeof e->tag, "final");
    e->val_loss = loss;
    e->val_bpb = bpb;
    e->loss_decimals = num_decimals(line, "val_loss:");
    e->bpb_decimals = num_decimals(line, "val_bpb:");
    e->eval_s = -1;
    e->line = ln;
}

/* A periodic or training step line: "step:N/M ...", "step N ...", "N/M ...". */
static int is_step_line(const char *line)
{
    if (strncmp(line, "step:", 5) == 0 || strncmp(line, "step ", 5) == 0)
        return 1;
    const char *p = line;
    while (isdigit((unsigned char)*p))
        p++;
    return p != line && *p == '/' && isdigit((unsigned char)p[1]);
}

/* The step of a step line ("step:N/M", "step: N/M", "N/M"); *max gets M (0 if absent). */
static int step_number(const char *line, double *n, double *max)
{
    const char *st = strstr(line, "step:");
    st = st ? st + 5 : isdigit((unsigned char)line[0]) ? line : NULL;
    if (!st)
        return 0;
    char *end;
    *n = strtod(st, &end);
    *max = 0;
    if (end == st)
        return 0;
    while (*end == ' ')
        end++;
    if (*end == '/')
        *max = strtod(end + 1, NULL);
    return 1;
}

static void parse_step(pg_log_summary *s, const char *line, int ln)
{
    double v, n, m;
    if (find_num(line, "train_time:", &v))
        set(&s->train_ms, v, ln);
    if (find_num(line, "step_avg:", &v))
        set(&s->step_avg_ms, v, ln);
    if (step_number(line, &n, &m)) {
        set(&s->steps, n, ln);
        if (m > 0)
            set(&s->max_steps, m, ln);
    }
    if (strncmp(line, "stopping_early", 14) == 0) {
        s->stopped_early = 1;
        s->stop_line = ln;
    }
}

static void parse_eval(pg_log_summary *s, const char *line, double v, double w, int ln)
{
    set(&s->val_loss, v, ln);
    set(&s->val_bpb, w, ln);
    size_t n = strcspn(line, " \t:");
    snprintf(s->final_tag, sizeof s->final_tag, "%.*s", (int)n, line);
    if (strncmp(line, "val_loss", 8) == 0)
        snprintf(s->final_tag, sizeof s->final_tag, "final");
    add_eval(s, line, v, w, ln);
    double et;
    s->eval_lines++;
    if (find_num(line, "eval_time:", &et)) {
        /* "eval_time:1401ms" or "eval_time:508.8s" */
        const char *u = strstr(line, "eval_time:");
        u += strspn(u + 10, " 0123456789.") + 10;
        double sec = strncmp(u, "ms", 2) == 0 ? et / 1000.0 : et;
        set(&s->eval_time_s, sec, ln);
        s->eval_time_sum_s += sec;
        s->eval_lines_timed++;
        if (s->evals_dropped == 0)
            s->evals[s->nevals - 1].eval_s = sec;
    }
}

/* Quantization calibration work: "GPTQ:collecting Hessians from calibration data". */
static int is_calibration(const char *line)
{
    return pg_contains_nocase(line, "gptq") || pg_contains_nocase(line, "calibrat") ||
           pg_contains_nocase(line, "hessian");
}

/* Sizes, hardware, tokenizer and calibration facts. */
static void parse_facts(pg_log_summary *s, const char *line, int ln)
{
    double v;
    const char *ts = strstr(line, "Total submission");
    if (ts && bytes_after_colon(ts, &v))
        set(&s->artifact_bytes, v, ln);
    if (find_num(line, "budget:", &v) && strchr(strstr(line, "budget:"), '/'))
        set(&s->artifact_bytes, v, ln);
    if (strncmp(line, "Code size", 9) == 0 && bytes_after_colon(line, &v))
        set(&s->code_bytes, v, ln);
    if (strncmp(line, "Serialized model", 16) == 0 && bytes_after_colon(line, &v))
        set(&s->model_bytes, v, ln);
    if ((find_num(line, "world_size:", &v) || find_num(line, "world_size=", &v) ||
         find_num(line, "ws:", &v)) && !s->world_size.line)
        set(&s->world_size, v, ln);
    if ((find_num(line, "vocab_size:", &v) || find_num(line, "vocab_size=", &v)) &&
        !s->vocab_size.line)
        set(&s->vocab_size, v, ln);
    const char *tk = strstr(line, "fineweb_");
    if (tk && !s->vocab_size.line && isdigit((unsigned char)tk[8])) {
        char *end;
        v = strtod(tk + 8, &end);
        if (strncmp(end, "_bpe", 4) == 0)
            set(&s->vocab_size, v, ln);
    }
    if (!s->byte_sidecar_line && (strstr(line, "byte_sidecar") || strstr(line, "val_bytes_files")))
        s->byte_sidecar_line = ln;
    const char *h = strstr(line, "Hessians in ");
    if (h)
        set(&s->calib_s, strtod(h + 12, NULL), ln);
    if (s->stop_line && !s->after_stop_line && is_calibration(line))
        s->after_stop_line = ln;
    if (!s->force_stop_step.line && (find_num(line, "FORCE_STOP_STEP=", &v) ||
                                     find_num(line, "FORCE_STOP_STEP:", &v) ||
                                     find_num(line, "force_stop_step:", &v) ||
                                     find_num(line, "force_stop_step=", &v)))
        set(&s->force_stop_step, v, ln);
}

static void parse_line(pg_log_summary *s, char *raw, int ln)
{
    char *line = strip_stamp(raw);
    while (*line == ' ' || *line == '\t')
        line++;
    double v, w;
    int is_step = is_step_line(line);
    if (is_step || strncmp(line, "stopping_early", 14) == 0) {
        parse_step(s, line, ln);
        s->training_started = 1;
    }
    /* the configuration ends where warmup, training or an evaluation begins: progress
     * and timing values after it are not settings */
    if (strncmp(line, "warmup_step", 11) == 0 ||
        (find_num(line, "val_loss:", &v) && find_num(line, "val_bpb:", &w)))
        s->training_started = 1;
    double u;
    if (!s->nan_line && ((find_num(line, "train_loss:", &v) && !isfinite(v)) ||
                         (find_num(line, "val_loss:", &v) && !isfinite(v)) ||
                         (find_num(line, "val_bpb:", &u) && !isfinite(u))))
        s->nan_line = ln;
    int is_eval = find_num(line, "val_loss:", &v) && find_num(line, "val_bpb:", &w);
    if (is_eval && is_step) {
        set(&s->last_val_loss, v, ln);
        set(&s->last_val_bpb, w, ln);
    } else if (is_eval) {
        parse_eval(s, line, v, w, ln);
    }
    if (find_num(line, "total_eval_time:", &v))
        set(&s->total_eval_time_s, v, ln);
    parse_facts(s, line, ln);
    if (!s->printed_seed.line && !is_eval && printed_seed(line, &v))
        set(&s->printed_seed, v, ln);
    if (!s->training_started && !is_eval)
        parse_config(s, line, ln);
}

static int summary_line(void *ctx, char *line, int ln)
{
    parse_line(ctx, line, ln);
    return 0;
}

int pg_log_parse_text(const char *name, const char *text, size_t len, pg_log_summary *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", name);
    if (pg_each_line(text, len, summary_line, s, &s->lines) != 0)
        return pg_fail("%s: out of memory", name);
    double v;
    if (name_seed(name, &v))
        set(&s->name_seed, v, -1);
    s->seed = s->printed_seed.line ? s->printed_seed : s->name_seed;
    if (!s->val_bpb.line && !s->last_val_bpb.line && !s->train_ms.line && !s->artifact_bytes.line)
        return pg_fail("%s: no recognizable log lines (val_loss/val_bpb, step:N/M, sizes)", name);
    return 0;
}

pg_log_num pg_log_eval_seconds(const pg_log_summary *s)
{
    return s->total_eval_time_s.line ? s->total_eval_time_s : s->eval_time_s;
}

int pg_log_parse(const char *path, pg_log_summary *s)
{
    unsigned char *buf;
    size_t len;
    if (pg_read_file(path, PG_LOG_MAX_BYTES, &buf, &len) != 0)
        return -1;
    int rc = pg_log_parse_text(path, (const char *)buf, len, s);
    free(buf);
    return rc;
}

/* Appends one "NAME=VALUE" (len bytes at p) to the list. */
static int add_setting(const char *path, char ***list, int *n, const char *p, size_t len)
{
    char **g = realloc(*list, (size_t)(*n + 1) * sizeof **list);
    if (!g)
        return pg_fail("%s: out of memory", path);
    *list = g;
    if (!(g[*n] = strndup(p, len)))
        return pg_fail("%s: out of memory", path);
    (*n)++;
    return 0;
}

int pg_log_settings(const char *path, char ***settings, int *n)
{
    unsigned char *buf;
    size_t len;
    *settings = NULL;
    *n = 0;
    if (pg_read_file(path, PG_LOG_MAX_BYTES, &buf, &len) != 0)
        return -1;
    int rc = 0;
    for (const char *p = (const char *)buf, *end = p + len; p < end && rc == 0;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (ll > 7 && strncmp(p, "config:", 7) == 0)
            rc = add_setting(path, settings, n, p + 7, ll - 7);
        p += ll + 1;
    }
    free(buf);
    if (rc == 0 && *n == 0)
        rc = pg_fail("%s: no config: lines (not a pgolf train log)", path);
    if (rc != 0) {
        pg_log_settings_free(*settings, *n);
        *settings = NULL;
        *n = 0;
    }
    return rc;
}

void pg_log_settings_free(char **settings, int n)
{
    for (int i = 0; i < n; i++)
        free(settings[i]);
    free(settings);
}

static int add_point(pg_log_series *s, double step, double loss)
{
    if (s->n % 256 == 0) {
        double *a = realloc(s->step, (s->n + 256) * sizeof *a);
        if (a)
            s->step = a;
        double *b = a ? realloc(s->loss, (s->n + 256) * sizeof *b) : NULL;
        if (!b)
            return -1;
        s->loss = b;
    }
    s->step[s->n] = step;
    s->loss[s->n++] = loss;
    return 0;
}

/* One line's points: train_loss and the periodic val_loss of a step line. */
static int curve_line(void *ctx, char *raw, int ln)
{
    (void)ln;
    pg_log_curves *c = ctx;
    char *line = strip_stamp(raw);
    while (*line == ' ' || *line == '\t')
        line++;
    double step, max, v;
    if (!is_step_line(line) || !step_number(line, &step, &max))
        return 0;
    if (find_num(line, "train_loss:", &v) && add_point(&c->train, step, v) != 0)
        return -1;
    if (find_num(line, "val_loss:", &v) && add_point(&c->val, step, v) != 0)
        return -1;
    return 0;
}

int pg_log_curves_text(const char *name, const char *text, size_t len, pg_log_curves *c)
{
    memset(c, 0, sizeof *c);
    if (pg_each_line(text, len, curve_line, c, NULL) != 0) {
        pg_log_curves_free(c);
        return pg_fail("%s: out of memory reading the loss curves", name);
    }
    return 0;
}

void pg_log_curves_free(pg_log_curves *c)
{
    free(c->train.step);
    free(c->train.loss);
    free(c->val.step);
    free(c->val.loss);
    memset(c, 0, sizeof *c);
}

void pg_log_config_setting(const pg_log_config *c, char *name, size_t ncap, char *value,
                           size_t vcap)
{
    size_t k = 0;
    for (; c->key[k] && k + 1 < ncap; k++)
        name[k] = (char)toupper((unsigned char)c->key[k]);
    name[k] = '\0';
    const char *v = c->value;
    snprintf(value, vcap, "%s", strcmp(v, "True") == 0 ? "1" : strcmp(v, "False") == 0 ? "0" : v);
}
