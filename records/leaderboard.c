#include "records/leaderboard.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/parse.h"

#define README_MAX_BYTES ((size_t)16 << 20)
#define MAX_ROWS 100000
#define MAX_CELLS 16
#define FIND_DAYS 3

/* Days since 1970-01-01 of a YYYY-MM-DD date (proleptic Gregorian); 0 when malformed. */
static int date_days(const char *s, long *days)
{
    int y, m, d, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 || m < 1 || m > 12 ||
        d < 1 || d > 31)
        return 0;
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    *days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    return 1;
}

/* Splits a table line "| a | b |" into trimmed cells (the line is modified). */
static int split_cells(char *line, char **cells)
{
    int n = 0;
    char *p = strchr(line, '|');
    while (p && n < MAX_CELLS) {
        char *start = p + 1, *end = strchr(start, '|');
        if (!end)
            break;
        *end = '\0';
        while (isspace((unsigned char)*start) || *start == '*')
            start++;
        char *e = start + strlen(start);
        while (e > start && (isspace((unsigned char)e[-1]) || e[-1] == '*'))
            *--e = '\0';
        cells[n++] = start;
        p = end;
    }
    return n;
}

typedef struct {
    int run, score, date, info; /* column indices, -1 when absent */
    int record_track;
    int rows;
} table_cols;

/* A header row names Score and Date; the other columns are optional. */
static int header_cols(char **cells, int n, table_cols *t)
{
    t->run = t->score = t->date = t->info = -1;
    for (int i = 0; i < n; i++) {
        if (strcasecmp(cells[i], "run") == 0)
            t->run = i;
        else if (strcasecmp(cells[i], "score") == 0)
            t->score = i;
        else if (strcasecmp(cells[i], "date") == 0)
            t->date = i;
        else if (strcasecmp(cells[i], "info") == 0)
            t->info = i;
    }
    return t->score >= 0 && t->date >= 0;
}

/* The folder named by a link "records/<track>/<folder>/...", with %20 as a space. */
static void link_folder(const char *cell, char *out, size_t cap)
{
    out[0] = '\0';
    const char *p = strstr(cell, "records/track_");
    if (!p || !(p = strchr(p + 8, '/')))
        return;
    size_t k = 0;
    for (p++; *p && *p != '/' && *p != ')' && k + 1 < cap; p++) {
        if (strncmp(p, "%20", 3) == 0) {
            out[k++] = ' ';
            p += 2;
        } else {
            out[k++] = *p;
        }
    }
    out[k] = '\0';
}

static int digits_after_point(const char *s)
{
    const char *dot = strchr(s, '.');
    int n = 0;
    while (dot && isdigit((unsigned char)dot[1 + n]))
        n++;
    return n;
}

/* One data row into *r; a one-line error naming FILE:LINE when a cell is malformed. */
static int parse_row(const char *name, int ln, char **cells, int n, const table_cols *t,
                     pg_board_row *r)
{
    memset(r, 0, sizeof *r);
    if (t->score >= n || t->date >= n)
        return pg_fail("%s:%d: leaderboard row has %d cells, the header names %d or more", name,
                       ln, n, (t->score > t->date ? t->score : t->date) + 1);
    char *end;
    r->score = strtod(cells[t->score], &end);
    if (end == cells[t->score] || *end || !isfinite(r->score) || r->score <= 0 || r->score > 10)
        return pg_fail("%s:%d: score '%s' is not a val_bpb in (0, 10]", name, ln, cells[t->score]);
    long days;
    if (!date_days(cells[t->date], &days))
        return pg_fail("%s:%d: date '%s' is not YYYY-MM-DD", name, ln, cells[t->date]);
    snprintf(r->date, sizeof r->date, "%.10s", cells[t->date]);
    r->decimals = digits_after_point(cells[t->score]);
    snprintf(r->run, sizeof r->run, "%s", t->run >= 0 && t->run < n ? cells[t->run] : "");
    link_folder(t->info >= 0 && t->info < n ? cells[t->info] : cells[n - 1], r->folder,
                sizeof r->folder);
    r->record_track = t->record_track;
    r->row = t->rows;
    r->line = ln;
    return 0;
}

static int add_row(pg_leaderboard *b, const pg_board_row *r, size_t *cap)
{
    if (b->n == MAX_ROWS)
        return pg_fail("%s: more than %d leaderboard rows", b->path, MAX_ROWS);
    if (b->n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 64;
        pg_board_row *g = realloc(b->rows, ncap * sizeof *g);
        if (!g)
            return pg_fail("%s: out of memory", b->path);
        b->rows = g;
        *cap = ncap;
    }
    b->rows[b->n++] = *r;
    return 0;
}

/* A heading naming non-record or unlimited-compute submissions opens the other table. */
static int heading_is_record_track(const char *line)
{
    return !pg_contains_nocase(line, "non-record") && !pg_contains_nocase(line, "non record") &&
           !pg_contains_nocase(line, "unlimited");
}

static int cmp_chrono(const void *a, const void *b)
{
    const pg_board_row *x = *(pg_board_row *const *)a, *y = *(pg_board_row *const *)b;
    int c = strcmp(x->date, y->date);
    if (c)
        return c;
    if (x->record_track != y->record_track)
        return y->record_track - x->record_track;
    return y->row - x->row; /* lower rows came first */
}

static int number_chrono(pg_leaderboard *b)
{
    pg_board_row **order = malloc((b->n ? b->n : 1) * sizeof *order);
    if (!order)
        return pg_fail("%s: out of memory", b->path);
    for (size_t i = 0; i < b->n; i++)
        order[i] = &b->rows[i];
    qsort(order, b->n, sizeof *order, cmp_chrono);
    for (size_t i = 0; i < b->n; i++)
        order[i]->chrono = (int)i;
    free(order);
    return 0;
}

int pg_leaderboard_parse_text(const char *name, const char *text, size_t len, pg_leaderboard *b)
{
    memset(b, 0, sizeof *b);
    snprintf(b->path, sizeof b->path, "%s", name);
    char *copy = strndup(text, len);
    if (!copy)
        return pg_fail("%s: out of memory", name);
    table_cols t = {.record_track = 1};
    int in_table = 0, tables = 0, ln = 0, rc = 0, record_heading = 1;
    size_t cap = 0;
    for (char *line = copy, *next; line && rc == 0; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        ln++;
        while (*line == ' ')
            line++;
        if (*line == '#')
            record_heading = heading_is_record_track(line);
        if (*line != '|') {
            in_table = 0;
            continue;
        }
        char *cells[MAX_CELLS];
        int n = split_cells(line, cells);
        if (n > 0 && strspn(cells[0], "-: ") == strlen(cells[0]) && cells[0][0])
            continue; /* the |---| separator */
        if (!in_table) {
            in_table = header_cols(cells, n, &t) ? 1 : -1;
            t.record_track = record_heading;
            t.rows = 0;
            tables += in_table == 1;
            continue;
        }
        pg_board_row r;
        if (in_table == 1 && (rc = parse_row(name, ln, cells, n, &t, &r)) == 0) {
            rc = add_row(b, &r, &cap);
            t.rows++;
        }
    }
    free(copy);
    if (rc == 0 && tables == 0)
        rc = pg_fail("%s: no leaderboard table (a | Run | Score | ... | Date | Info | table)", name);
    if (rc == 0)
        rc = number_chrono(b);
    if (rc != 0)
        pg_leaderboard_free(b);
    return rc;
}

int pg_leaderboard_load(const char *readme, pg_leaderboard *b)
{
    unsigned char *buf;
    size_t len;
    memset(b, 0, sizeof *b);
    if (pg_read_file(readme, README_MAX_BYTES, &buf, &len) != 0)
        return -1;
    int rc = pg_leaderboard_parse_text(readme, (const char *)buf, len, b);
    free(buf);
    return rc;
}

void pg_leaderboard_free(pg_leaderboard *b)
{
    free(b->rows);
    b->rows = NULL;
    b->n = 0;
}

/* Whether score, shown to the row's decimals, is the row's score. */
static int same_score(const pg_board_row *r, double score)
{
    return fabs(score - r->score) <= 0.5 * pow(10.0, -r->decimals) + 1e-9;
}

const pg_board_row *pg_leaderboard_find(const pg_leaderboard *b, const char *folder,
                                        int record_track, double score, const char *date)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->rows[i].folder[0] && strcmp(b->rows[i].folder, folder) == 0)
            return &b->rows[i];
    long day, best_gap = FIND_DAYS + 1, d;
    const pg_board_row *best = NULL;
    if (!isfinite(score) || !date_days(date, &day))
        return NULL;
    for (size_t i = 0; i < b->n; i++) {
        const pg_board_row *r = &b->rows[i];
        if (r->record_track != record_track || !same_score(r, score) || !date_days(r->date, &d))
            continue;
        long gap = labs(d - day);
        if (gap < best_gap) {
            best_gap = gap;
            best = r;
        }
    }
    return best;
}

const pg_board_row *pg_leaderboard_sota_before(const pg_leaderboard *b, const pg_board_row *r,
                                               const char *date)
{
    const pg_board_row *best = NULL;
    for (size_t i = 0; i < b->n; i++) {
        const pg_board_row *x = &b->rows[i];
        int earlier = r ? x->chrono < r->chrono : strcmp(x->date, date) < 0;
        if (x->record_track && earlier && (!best || x->score < best->score))
            best = x;
    }
    return best;
}
