/* The leaderboard history as an SVG chart: per track, the SOTA as a step line over the
 * dates and every record as a dot (hollow red when its claim is better than its logs). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/chart.h"
#include "common/err.h"
#include "common/fileio.h"
#include "records/history.h"

static double day_of(const char *date)
{
    struct tm tm = {0};
    if (sscanf(date, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
        return NAN;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) / 86400.0;
}

/* One track's points: the SOTA step line (2n + 1 points) and the records (n). */
typedef struct {
    double *sx, *sy, *rx, *ry;
    size_t ns;
    char **titles;
    unsigned char *hollow;
    char sota_label[160], rec_label[160];
} track_points;

static int fill_track(const pg_track_history *t, const char *last_day_of_all, track_points *p)
{
    size_t n = t->n;
    p->sx = calloc(2 * n + 1, sizeof *p->sx), p->sy = calloc(2 * n + 1, sizeof *p->sy);
    p->rx = calloc(n + 1, sizeof *p->rx), p->ry = calloc(n + 1, sizeof *p->ry);
    p->titles = calloc(n + 1, sizeof *p->titles);
    p->hollow = calloc(n + 1, 1);
    if (!p->sx || !p->sy || !p->rx || !p->ry || !p->titles || !p->hollow)
        return -1;
    double prev = NAN;
    for (size_t i = 0; i < n; i++) {
        const pg_history_entry *e = &t->e[i];
        double d = day_of(e->rec.date);
        p->rx[i] = d;
        p->ry[i] = e->score;
        p->hollow[i] = (unsigned char)e->flagged;
        size_t len = strlen(e->rec.name) + 64;
        if (!(p->titles[i] = malloc(len)))
            return -1;
        snprintf(p->titles[i], len, "%s: %.5f%s", e->rec.name, e->score,
                 e->flagged ? " (claim better than its logs)" : "");
        if (!isfinite(d) || !isfinite(e->sota_after))
            continue;
        if (isfinite(prev))
            p->sx[p->ns] = d, p->sy[p->ns++] = prev;
        p->sx[p->ns] = d, p->sy[p->ns++] = e->sota_after;
        prev = e->sota_after;
    }
    if (isfinite(prev)) /* the SOTA holds to the last date of the chart */
        p->sx[p->ns] = day_of(last_day_of_all), p->sy[p->ns++] = prev;
    snprintf(p->sota_label, sizeof p->sota_label, "%.120s: SOTA", t->name);
    snprintf(p->rec_label, sizeof p->rec_label, "%.120s: records", t->name);
    return 0;
}

static void free_track(track_points *p, size_t n)
{
    for (size_t i = 0; p->titles && i < n; i++)
        free(p->titles[i]);
    free(p->sx), free(p->sy), free(p->rx), free(p->ry), free(p->titles), free(p->hollow);
}

/* The latest date of any record (for the end of the SOTA lines). */
static const char *last_date(const pg_track_history *tracks, size_t ntracks)
{
    const char *last = "";
    for (size_t k = 0; k < ntracks; k++)
        for (size_t i = 0; i < tracks[k].n; i++)
            if (isfinite(day_of(tracks[k].e[i].rec.date)) && strcmp(tracks[k].e[i].rec.date, last) > 0)
                last = tracks[k].e[i].rec.date;
    return last;
}

int pg_history_svg(const char *path, const pg_track_history *tracks, size_t ntracks)
{
    track_points *pts = calloc(ntracks + 1, sizeof *pts);
    pg_chart_series *series = calloc(2 * ntracks + 1, sizeof *series);
    int rc = pts && series ? 0 : -1;
    for (size_t k = 0; k < ntracks && rc == 0; k++) {
        rc = fill_track(&tracks[k], last_date(tracks, ntracks), &pts[k]);
        const char *col = pg_chart_colour(k);
        series[2 * k] = (pg_chart_series){.label = pts[k].sota_label, .colour = col, .line = 1,
                                          .x = pts[k].sx, .y = pts[k].sy, .n = pts[k].ns};
        series[2 * k + 1] = (pg_chart_series){
            .label = pts[k].rec_label, .colour = col, .marker = 4.5, .x = pts[k].rx,
            .y = pts[k].ry, .n = tracks[k].n, .titles = (const char *const *)pts[k].titles,
            .hollow = pts[k].hollow};
    }
    static const char *const notes[] = {"hollow red dot: the claim is better",
                                        "than its logs' mean supports"};
    pg_chart c = {.title = "Parameter Golf leaderboard: val_bpb by date (lower is better)",
                  .x_label = "date (UTC)", .y_label = "val_bpb (bits per byte)", .x_dates = 1,
                  .series = series, .nseries = 2 * ntracks, .notes = notes, .nnotes = 2};
    pg_text svg = {0};
    if (rc != 0)
        rc = pg_fail("%s: out of memory", path);
    else if ((rc = pg_chart_svg(&c, &svg, path)) == 0)
        rc = pg_write_file_atomic(path, svg.s, svg.n);
    for (size_t k = 0; pts && k < ntracks; k++)
        free_track(&pts[k], tracks[k].n);
    free(pts);
    free(series);
    pg_text_free(&svg);
    return rc;
}
