#define _POSIX_C_SOURCE 200809L
#include "common/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define PLAIN_INTERVAL_S 5.0
#define TTY_INTERVAL_S 0.1
#define BAR_WIDTH 24

double pg_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void pg_progress_start(pg_progress *p, const char *label, const char *unit, size_t total)
{
    p->label = label;
    p->unit = unit;
    p->total = total;
    p->t0 = p->last_print = pg_now_seconds();
    p->tty = isatty(fileno(stderr));
}

static void print_line(pg_progress *p, size_t done, const char *extra, int final)
{
    double el = pg_now_seconds() - p->t0;
    double rate = el > 0 ? (double)done / el : 0;
    double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
    double frac = p->total ? (double)done / (double)p->total : 1;
    if (p->tty) {
        char bar[BAR_WIDTH + 1];
        int fill = (int)(frac * BAR_WIDTH);
        for (int i = 0; i < BAR_WIDTH; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        fprintf(stderr, "\r%s [%s] %zu/%zu %s %5.1f%% %.1f %s/s ETA %.0fs%s%s\033[K%s", p->label,
                bar, done, p->total, p->unit, 100 * frac, rate, p->unit, eta, extra ? " " : "",
                extra ? extra : "", final ? "\n" : "");
    } else {
        fprintf(stderr, "%s: %zu/%zu %s (%.1f%%) %.1f %s/s elapsed %.1fs ETA %.0fs%s%s\n",
                p->label, done, p->total, p->unit, 100 * frac, rate, p->unit, el, eta,
                extra ? " " : "", extra ? extra : "");
    }
    fflush(stderr);
}

void pg_progress_update(pg_progress *p, size_t done, const char *extra)
{
    double now = pg_now_seconds();
    if (now - p->last_print < (p->tty ? TTY_INTERVAL_S : PLAIN_INTERVAL_S))
        return;
    p->last_print = now;
    print_line(p, done, extra, 0);
}

void pg_progress_finish(pg_progress *p, const char *extra)
{
    print_line(p, p->total, extra, 1);
}
