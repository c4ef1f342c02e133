/* Line charts as SVG documents, the one drawing code behind every plot pgolf writes
 * (loss curves of a records folder, the leaderboard history): axes with ticks at round
 * values and labels with units, a light grid, any number of series, and a legend. */
#ifndef PG_CHART_H
#define PG_CHART_H

#include <stddef.h>

#include "common/text.h"

typedef struct {
    const char *label;  /* legend entry; NULL keeps the series out of the legend */
    const char *colour; /* "#1f77b4" */
    int line;           /* joins the points in order */
    int dashed;         /* the line dashed */
    double marker;      /* > 0: a circle of this radius at each point */
    const double *x, *y;
    size_t n;
    const char *const *titles;   /* per point: a tooltip, or NULL */
    const unsigned char *hollow; /* per point: 1 draws its marker hollow and red, or NULL */
} pg_chart_series;

typedef struct {
    const char *title, *x_label, *y_label;
    int x_dates; /* x holds days since 1970-01-01; ticks read YYYY-MM-DD */
    int has_y_top; /* the y axis ends at y_top; the series are clipped to the plot area */
    double y_top;
    const pg_chart_series *series;
    size_t nseries;
    const char *const *notes; /* lines under the legend entries */
    size_t nnotes;
} pg_chart;

/* The chart as a whole SVG document appended to out. Points that are not finite are
 * skipped; fails (naming `what`) when no series has a finite point. */
int pg_chart_svg(const pg_chart *c, pg_text *out, const char *what);

/* A colour of a fixed palette for series i. */
const char *pg_chart_colour(size_t i);

#endif
