#include "common/chart.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"

#define W 900
#define H 460
#define ML 80 /* margins around the plot area; the legend sits in the right one */
#define MR 210
#define MT 40
#define MB 62
#define TICKS 6

typedef struct {
    double lo, hi, step;
    int decimals;
} axis;

const char *pg_chart_colour(size_t i)
{
    static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd",
                                          "#8c564b", "#e377c2", "#17becf", "#bcbd22"};
    return palette[i % (sizeof palette / sizeof palette[0])];
}

/* 1, 2 or 5 times a power of ten, near span / TICKS. */
static double nice_step(double span)
{
    double raw = span / TICKS, p = pow(10.0, floor(log10(raw))), f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/* Ticks at round values covering [lo, hi]; a flat range is widened. */
static axis make_axis(double lo, double hi, double min_step)
{
    if (hi - lo < 1e-12)
        lo -= 0.5 * fmax(fabs(lo), 1) * 0.1, hi += 0.5 * fmax(fabs(hi), 1) * 0.1;
    axis a;
    a.step = fmax(nice_step(hi - lo), min_step);
    a.lo = floor(lo / a.step) * a.step;
    a.hi = ceil(hi / a.step) * a.step;
    a.decimals = 0;
    while (a.decimals < 8 && fabs(a.step * pow(10, a.decimals) - round(a.step * pow(10, a.decimals))) > 1e-6)
        a.decimals++;
    return a;
}

/* The number of steps between the first and the last tick. */
static int ticks(const axis *a)
{
    return (int)lround((a->hi - a->lo) / a->step);
}

static double px(const axis *a, double x)
{
    return ML + (x - a->lo) / (a->hi - a->lo) * (W - ML - MR);
}

static double py(const axis *a, double y)
{
    return MT + (a->hi - y) / (a->hi - a->lo) * (H - MT - MB);
}

/* The finite range of every series; 0 when there is no finite point. */
static int data_range(const pg_chart *c, double *x0, double *x1, double *y0, double *y1)
{
    *x0 = *y0 = INFINITY;
    *x1 = *y1 = -INFINITY;
    for (size_t k = 0; k < c->nseries; k++)
        for (size_t i = 0; i < c->series[k].n; i++) {
            double x = c->series[k].x[i], y = c->series[k].y[i];
            if (!isfinite(x) || !isfinite(y))
                continue;
            *x0 = fmin(*x0, x), *x1 = fmax(*x1, x), *y0 = fmin(*y0, y), *y1 = fmax(*y1, y);
        }
    return isfinite(*x0);
}

static void x_tick_label(const pg_chart *c, const axis *a, double v, char *out, size_t n)
{
    if (c->x_dates) {
        time_t ts = (time_t)llround(v * 86400.0);
        struct tm tm;
        gmtime_r(&ts, &tm);
        strftime(out, n, "%Y-%m-%d", &tm);
    } else {
        snprintf(out, n, "%.*f", a->decimals, v);
    }
}

static void draw_axes(const pg_chart *c, const axis *ax, const axis *ay, pg_text *t)
{
    for (int i = 0; i <= ticks(ay); i++) {
        double v = ay->lo + i * ay->step;
        pg_text_printf(t, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                          "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
                          "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n",
                       ML, W - MR, py(ay, v), py(ay, v), ML - 5, ML, py(ay, v), py(ay, v), ML - 8,
                       py(ay, v) + 4, ay->decimals, v);
    }
    for (int i = 0; i <= ticks(ax); i++) {
        double v = ax->lo + i * ax->step;
        char lab[32];
        x_tick_label(c, ax, v, lab, sizeof lab);
        pg_text_printf(t, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#e5e5e5\"/>"
                          "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#333\"/>"
                          "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                       px(ax, v), px(ax, v), MT, H - MB, px(ax, v), px(ax, v), H - MB, H - MB + 5,
                       px(ax, v), H - MB + 19, lab);
    }
    pg_text_printf(t, "<polyline fill=\"none\" stroke=\"#333\" points=\"%d,%d %d,%d %d,%d\"/>\n",
                   ML, MT, ML, H - MB, W - MR, H - MB);
    pg_text_printf(t, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (ML + W - MR) / 2, H - 18);
    pg_text_xml(t, c->x_label);
    pg_text_printf(t, "</text>\n<text x=\"18\" y=\"%d\" transform=\"rotate(-90 18 %d)\" "
                      "text-anchor=\"middle\">", (MT + H - MB) / 2, (MT + H - MB) / 2);
    pg_text_xml(t, c->y_label);
    pg_text_printf(t, "</text>\n<text x=\"%d\" y=\"24\" font-size=\"15\">", ML);
    pg_text_xml(t, c->title);
    pg_text_printf(t, "</text>\n");
}

static void draw_series(const pg_chart_series *s, const axis *ax, const axis *ay, pg_text *t)
{
    if (s->line) {
        pg_text_printf(t, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"%s points=\"",
                       s->colour, s->dashed ? " stroke-dasharray=\"6 4\"" : "");
        for (size_t i = 0; i < s->n; i++)
            if (isfinite(s->x[i]) && isfinite(s->y[i]))
                pg_text_printf(t, "%.1f,%.1f ", px(ax, s->x[i]), py(ay, s->y[i]));
        pg_text_printf(t, "\"/>\n");
    }
    for (size_t i = 0; s->marker > 0 && i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i]))
            continue;
        int hollow = s->hollow && s->hollow[i];
        pg_text_printf(t, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%g\" fill=\"%s\" stroke=\"%s\" "
                          "stroke-width=\"1.5\">",
                       px(ax, s->x[i]), py(ay, s->y[i]), s->marker, hollow ? "white" : s->colour,
                       hollow ? "#d62728" : s->colour);
        if (s->titles && s->titles[i]) {
            pg_text_printf(t, "<title>");
            pg_text_xml(t, s->titles[i]);
            pg_text_printf(t, "</title>");
        }
        pg_text_printf(t, "</circle>\n");
    }
}

static void draw_legend(const pg_chart *c, pg_text *t)
{
    int x = W - MR + 14, y = MT + 6;
    for (size_t k = 0; k < c->nseries; k++) {
        const pg_chart_series *s = &c->series[k];
        if (!s->label)
            continue;
        if (s->line)
            pg_text_printf(t, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" "
                              "stroke-width=\"2\"%s/>",
                           x, x + 26, y, y, s->colour, s->dashed ? " stroke-dasharray=\"6 4\"" : "");
        if (s->marker > 0)
            pg_text_printf(t, "<circle cx=\"%d\" cy=\"%d\" r=\"%g\" fill=\"%s\"/>", x + 13, y,
                           s->marker, s->colour);
        /* the legend column holds about 23 characters; a longer label is cut, whole in a
         * tooltip */
        char cut[32];
        snprintf(cut, sizeof cut, strlen(s->label) > 23 ? "%.20s..." : "%s", s->label);
        pg_text_printf(t, "<text x=\"%d\" y=\"%d\"><title>", x + 34, y + 4);
        pg_text_xml(t, s->label);
        pg_text_printf(t, "</title>");
        pg_text_xml(t, cut);
        pg_text_printf(t, "</text>\n");
        y += 20;
    }
    for (size_t i = 0; i < c->nnotes; i++, y += 16) {
        pg_text_printf(t, "<text x=\"%d\" y=\"%d\" font-size=\"11\">", x, y + 4);
        pg_text_xml(t, c->notes[i]);
        pg_text_printf(t, "</text>\n");
    }
}

int pg_chart_svg(const pg_chart *c, pg_text *out, const char *what)
{
    double x0, x1, y0, y1;
    if (!data_range(c, &x0, &x1, &y0, &y1))
        return pg_fail("%s: nothing to plot (no finite point)", what);
    if (c->has_y_top && c->y_top > y0)
        y1 = c->y_top;
    axis ax = make_axis(x0, x1, c->x_dates ? 1 : 0), ay = make_axis(y0, y1, 0);
    pg_text_printf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                        "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
                        "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                   W, H, W, H);
    draw_axes(c, &ax, &ay, out);
    pg_text_printf(out, "<defs><clipPath id=\"plot\"><rect x=\"%d\" y=\"%d\" width=\"%d\" "
                        "height=\"%d\"/></clipPath></defs>\n<g clip-path=\"url(#plot)\">\n",
                   ML, MT - 4, W - ML - MR + 4, H - MT - MB + 8);
    for (size_t k = 0; k < c->nseries; k++)
        draw_series(&c->series[k], &ax, &ay, out);
    pg_text_printf(out, "</g>\n");
    draw_legend(c, out);
    pg_text_printf(out, "</svg>\n");
    return out->oom ? pg_fail("%s: out of memory", what) : 0;
}
