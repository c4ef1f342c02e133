/* The leaderboard history as an SVG line chart. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/fileio.h"
#include "records/history.h"

#define W 900
#define H 480
#define ML 70 /* margins */
#define MR 190
#define MT 40
#define MB 60

static double day_of(const char *date)
{
    struct tm tm = {0};
    if (sscanf(date, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
        return NAN;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) / 86400.0;
}

/* growable text; a failed allocation marks it (oom) and stops it growing */
typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} sbuf;

static void put(sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (s->oom || n < 0) {
        s->oom = 1;
        return;
    }
    if (s->len + (size_t)n >= s->cap) {
        size_t cap = 2 * s->cap + (size_t)n + 64;
        char *g = realloc(s->buf, cap);
        if (!g) {
            s->oom = 1;
            return;
        }
        s->buf = g;
        s->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

static void escape(sbuf *s, const char *text)
{
    for (; *text; text++) {
        if (*text == '<')
            put(s, "&lt;");
        else if (*text == '>')
            put(s, "&gt;");
        else if (*text == '&')
            put(s, "&amp;");
        else
            put(s, "%c", *text);
    }
}

int pg_history_svg(const char *path, const pg_track_history *tracks, size_t ntracks)
{
    static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"};
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t k = 0; k < ntracks; k++)
        for (size_t i = 0; i < tracks[k].n; i++) {
            double d = day_of(tracks[k].e[i].rec.date), v = tracks[k].e[i].score;
            if (!isfinite(d) || !isfinite(v))
                continue;
            x0 = fmin(x0, d), x1 = fmax(x1, d), y0 = fmin(y0, v), y1 = fmax(y1, v);
        }
    if (!isfinite(x0))
        return pg_fail("%s: no dated record with a score to plot", path);
    if (x1 - x0 < 1)
        x1 = x0 + 1;
    double pad = (y1 - y0) * 0.08 + 1e-3;
    y0 -= pad, y1 += pad;
#define PX(d) (ML + ((d) - x0) / (x1 - x0) * (W - ML - MR))
#define PY(v) (MT + (y1 - (v)) / (y1 - y0) * (H - MT - MB))
    sbuf s = {0};
    put(&s, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
    put(&s, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    put(&s, "<text x=\"%d\" y=\"22\" font-size=\"15\">Parameter Golf leaderboard: val_bpb by "
            "date (lower is better)</text>\n", ML);
    for (int g = 0; g <= 5; g++) {
        double v = y0 + (y1 - y0) * g / 5.0;
        put(&s, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.4f</text>\n",
            ML, W - MR, PY(v), PY(v), ML - 6, PY(v) + 4, v);
        double d = x0 + (x1 - x0) * g / 5.0;
        time_t ts = (time_t)(d * 86400.0);
        struct tm tm;
        gmtime_r(&ts, &tm);
        char lab[16];
        strftime(lab, sizeof lab, "%Y-%m-%d", &tm);
        put(&s, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", PX(d), H - MB + 18,
            lab);
    }
    put(&s, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", ML, W - MR,
        H - MB, H - MB);
    put(&s, "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">"
            "val_bpb</text>\n", (H - MB + MT) / 2, (H - MB + MT) / 2);
    for (size_t k = 0; k < ntracks; k++) {
        const char *col = colours[k % 5];
        /* SOTA as a step line over the track's dated records */
        put(&s, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
        double prev = NAN;
        for (size_t i = 0; i < tracks[k].n; i++) {
            const pg_history_entry *e = &tracks[k].e[i];
            double d = day_of(e->rec.date);
            if (!isfinite(d) || !isfinite(e->sota_after))
                continue;
            if (isfinite(prev))
                put(&s, "%.1f,%.1f ", PX(d), PY(prev));
            put(&s, "%.1f,%.1f ", PX(d), PY(e->sota_after));
            prev = e->sota_after;
        }
        if (isfinite(prev))
            put(&s, "%d,%.1f", W - MR, PY(prev));
        put(&s, "\"/>\n");
        for (size_t i = 0; i < tracks[k].n; i++) {
            const pg_history_entry *e = &tracks[k].e[i];
            double d = day_of(e->rec.date);
            if (!isfinite(d) || !isfinite(e->score))
                continue;
            put(&s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\" stroke=\"%s\" "
                    "stroke-width=\"2\"><title>", PX(d), PY(e->score),
                e->flagged ? "white" : col, e->flagged ? "#d62728" : col);
            escape(&s, e->rec.name);
            put(&s, ": %.5f%s</title></circle>\n", e->score,
                e->flagged ? " (claim better than its logs)" : "");
        }
        put(&s, "<rect x=\"%d\" y=\"%zu\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                "<text x=\"%d\" y=\"%zu\">", W - MR + 14, MT + 20 * k, col, W - MR + 32,
            MT + 20 * k + 11);
        escape(&s, tracks[k].name);
        put(&s, "</text>\n");
    }
    put(&s, "<circle cx=\"%d\" cy=\"%zu\" r=\"5\" fill=\"white\" stroke=\"#d62728\" "
            "stroke-width=\"2\"/><text x=\"%d\" y=\"%zu\">claim not supported</text>\n",
        W - MR + 20, MT + 20 * ntracks + 6, W - MR + 32, MT + 20 * ntracks + 11);
    put(&s, "<text x=\"%d\" y=\"%zu\">by its logs' mean</text>\n", W - MR + 32,
        MT + 20 * ntracks + 26);
    put(&s, "</svg>\n");
#undef PX
#undef PY
    int rc = s.oom ? pg_fail("%s: out of memory", path) : pg_write_file_atomic(path, s.buf, s.len);
    free(s.buf);
    return rc;
}
