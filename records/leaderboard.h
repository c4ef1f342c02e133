/* The challenge README's leaderboard tables (`| Run | Score | Author | Summary | Date |
 * Info |`): the record-track table under "## Leaderboard" and the non-record table under
 * a heading naming non-record or unlimited-compute submissions. Rows are listed best
 * first; time order is by date, and within a date the lower row came first (a row above
 * another beat it). */
#ifndef PG_LEADERBOARD_H
#define PG_LEADERBOARD_H

#include <stddef.h>

typedef struct {
    char run[160];     /* the Run column */
    double score;      /* val_bpb as listed */
    int decimals;      /* digits the score shows after the point */
    char date[16];     /* YYYY-MM-DD */
    char folder[256];  /* the records folder its Info link names, or "" (a PR link) */
    int record_track;  /* listed in the record-track table */
    int row;           /* 0-based row within its table, top first */
    int chrono;        /* position in time order over all rows */
    int line;          /* line in the README; 0 for "no row" */
} pg_board_row;

typedef struct {
    char path[600];
    pg_board_row *rows;
    size_t n;
} pg_leaderboard;

/* Reads the tables of a README; every malformed row is a one-line error naming
 * FILE:LINE. Fails when the file has no leaderboard table. */
int pg_leaderboard_load(const char *readme, pg_leaderboard *b);
int pg_leaderboard_parse_text(const char *name, const char *text, size_t len, pg_leaderboard *b);
void pg_leaderboard_free(pg_leaderboard *b);

/* The row listing a records folder: the one whose Info link names the folder, else a row
 * of the same table kind showing the same score (at the row's precision) dated within 3
 * days of date. NULL when none. */
const pg_board_row *pg_leaderboard_find(const pg_leaderboard *b, const char *folder,
                                        int record_track, double score, const char *date);

/* The best record-track row before a point in time: rows earlier in time order than
 * row `r`, or (r NULL) rows dated before `date`. NULL when none. */
const pg_board_row *pg_leaderboard_sota_before(const pg_leaderboard *b, const pg_board_row *r,
                                               const char *date);

#endif
