#include "packager/logparse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"

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
static int parse_seed(const char *p, double *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (end == p || errno == ERANGE || v > (1LL << 53) || v < -(1LL << 53))
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

static void parse_line(pg_log_summary *s, char *line, int ln)
{
    while (*line == ' ' || *line == '\t')
        line++;
    double v, w;
    int is_step = strncmp(line, "step:", 5) == 0 || strncmp(line, "step ", 5) == 0;
    if (is_step || strncmp(line, "stopping_early", 14) == 0) {
        if (find_num(line, "train_time:", &v))
            set(&s->train_ms, v, ln);
        if (find_num(line, "step_avg:", &v))
            set(&s->step_avg_ms, v, ln);
        const char *st = strstr(line, "step:");
        if (st) {
            double n, m;
            char *end;
            n = strtod(st + 5, &end);
            if (end != st + 5) {
                set(&s->steps, n, ln);
                while (*end == ' ')
                    end++;
                if (*end == '/' && (m = strtod(end + 1, NULL)) > 0)
                    set(&s->max_steps, m, ln);
            }
        }
        if (line[0] == 's' && line[1] == 't' && line[2] == 'o')
            s->stopped_early = 1;
    }
    if ((find_num(line, "train_loss:", &v) || find_num(line, "val_loss:", &v)) && !isfinite(v) &&
        !s->nan_line)
        s->nan_line = ln;
    if (find_num(line, "val_loss:", &v) && find_num(line, "val_bpb:", &w)) {
        if (is_step) {
            set(&s->last_val_loss, v, ln);
            set(&s->last_val_bpb, w, ln);
        } else {
            set(&s->val_loss, v, ln);
            set(&s->val_bpb, w, ln);
            size_t n = strcspn(line, " \t:");
            snprintf(s->final_tag, sizeof s->final_tag, "%.*s", (int)n, line);
            if (strncmp(line, "val_loss", 8) == 0)
                snprintf(s->final_tag, sizeof s->final_tag, "final");
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
            }
        }
    }
    if (find_num(line, "total_eval_time:", &v))
        set(&s->total_eval_time_s, v, ln);
    if (strstr(line, "Total submission") && bytes_after_colon(strstr(line, "Total submission"), &v))
        set(&s->artifact_bytes, v, ln);
    if (strncmp(line, "Code size", 9) == 0 && bytes_after_colon(line, &v))
        set(&s->code_bytes, v, ln);
    if (strncmp(line, "Serialized model", 16) == 0 && bytes_after_colon(line, &v))
        set(&s->model_bytes, v, ln);
    if (!s->seed.line && (strncmp(line, "seed:", 5) == 0 || strncmp(line, "seed ", 5) == 0 ||
                          strncmp(line, "seed=", 5) == 0)) {
        const char *q = line + 5;
        while (*q == ' ' || *q == ':')
            q++;
        if (parse_seed(q, &v))
            set(&s->seed, v, ln);
    }
}

int pg_log_parse_text(const char *name, const char *text, size_t len, pg_log_summary *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", name);
    char *copy = malloc(len + 1);
    if (!copy)
        return pg_fail("%s: out of memory", name);
    memcpy(copy, text, len);
    copy[len] = '\0';
    int ln = 0;
    for (char *line = copy; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *cr = strchr(line, '\r');
        if (cr)
            *cr = '\0';
        parse_line(s, line, ++ln);
        line = nl ? nl + 1 : NULL;
    }
    free(copy);
    s->lines = ln;
    if (!s->seed.line) {
        const char *base = strrchr(name, '/');
        const char *p = strstr(base ? base : name, "seed");
        double v;
        if (p && isdigit((unsigned char)p[4]) && parse_seed(p + 4, &v))
            set(&s->seed, v, -1);
    }
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
