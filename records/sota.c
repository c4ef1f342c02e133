#include "records/sota.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fileio.h"
#include "packager/record.h"
#include "packager/submission.h"
#include "records/history.h"
#include "stats/judge.h"

#define README_MAX_BYTES ((size_t)16 << 20)

/* The track of the tree to take the SOTA from: `track`, else 10min_16mb, else the first. */
static const pg_track_history *pick_track(const pg_track_history *t, size_t n, const char *track)
{
    const pg_track_history *pick = n ? &t[0] : NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, "10min_16mb") == 0)
            pick = &t[i];
    for (size_t i = 0; track && i < n; i++)
        if (strcmp(t[i].name, track) == 0)
            pick = &t[i];
    return pick;
}

int pg_sota_record_dir(const char *path, const char *track, char *dir, size_t cap)
{
    char **dirs;
    size_t nd;
    struct stat st;
    char *probe = pg_path_join(path, "submission.json");
    if (!probe)
        return pg_fail("%s: out of memory", path);
    int folder = stat(probe, &st) == 0;
    free(probe);
    /* a folder without track_* subfolders is a records folder, not a tree */
    if (folder || pg_records_tree_list(path, &dirs, &nd) != 0) {
        snprintf(dir, cap, "%s", path);
        return 0;
    }
    for (size_t i = 0; i < nd; i++)
        free(dirs[i]);
    free(dirs);
    pg_track_history *tracks;
    size_t nt;
    if (pg_history_build(path, 0.01, &tracks, &nt) != 0)
        return -1;
    const pg_track_history *t = pick_track(tracks, nt, track);
    const pg_history_entry *best = NULL;
    for (size_t i = 0; t && i < t->n; i++)
        if (isfinite(t->e[i].score) && (!best || t->e[i].score < best->score))
            best = &t->e[i];
    int rc = best ? 0 : pg_fail("%s: no scored record in the tree", path);
    if (best)
        snprintf(dir, cap, "%s", best->rec.dir);
    pg_history_free(tracks, nt);
    return rc;
}

int pg_sota_from_value(double v, pg_sota *s)
{
    memset(s, 0, sizeof *s);
    if (!isfinite(v) || v <= 0)
        return pg_fail("--sota %g: the SOTA is a val_bpb above 0", v);
    s->value = v;
    snprintf(s->desc, sizeof s->desc, "the given SOTA val_bpb %.8g", v);
    return 0;
}

int pg_sota_from_records(const char *path, const char *track, pg_sota *s)
{
    memset(s, 0, sizeof *s);
    char dir[PG_PATH_MAX];
    pg_record rec;
    if (pg_sota_record_dir(path, track, dir, sizeof dir) != 0 || pg_record_load(dir, &rec) != 0)
        return -1;
    double *loss = calloc(rec.nseeds + 1, sizeof *loss);
    s->seeds = calloc(rec.nseeds + 1, sizeof *s->seeds);
    int all_loss, rc = 0;
    if (!loss || !s->seeds)
        rc = pg_fail("%s: out of memory", dir);
    else
        s->nseeds = (size_t)pg_record_scores(&rec, s->seeds, loss, &all_loss);
    double sum = 0;
    for (size_t i = 0; i < s->nseeds; i++)
        sum += s->seeds[i];
    s->value = s->nseeds ? sum / (double)s->nseeds : rec.claimed_bpb;
    snprintf(s->record, sizeof s->record, "%s", rec.name);
    if (rc == 0 && !isfinite(s->value))
        rc = pg_fail("%s: no per-seed scores and no claimed val_bpb", dir);
    snprintf(s->desc, sizeof s->desc, "the records folder `%.500s` (val_bpb %.8f, %s)", dir,
             s->value, s->nseeds >= 2 ? "the mean of its seeds" : s->nseeds ? "its one seed"
                                                                 : "its claim");
    free(loss);
    pg_record_free(&rec);
    if (rc != 0)
        pg_sota_free(s);
    return rc;
}

/* ---- the challenge README's leaderboard tables */

static int contains_nocase(const char *s, const char *word)
{
    for (; *s; s++) {
        size_t i = 0;
        while (word[i] && tolower((unsigned char)s[i]) == word[i])
            i++;
        if (!word[i])
            return 1;
    }
    return 0;
}

/* The cells of a table row "| a | b |", trimmed, into cells (up to max). */
static int split_row(char *row, char **cells, int max)
{
    int n = 0;
    char *p = row + 1; /* past the leading '|' */
    while (n < max) {
        char *bar = strchr(p, '|');
        if (!bar)
            break;
        *bar = '\0';
        while (isspace((unsigned char)*p))
            p++;
        char *e = p + strlen(p);
        while (e > p && isspace((unsigned char)e[-1]))
            *--e = '\0';
        cells[n++] = p;
        p = bar + 1;
    }
    return n;
}

typedef struct {
    int want_non_record;
    int in_board; /* inside a leaderboard section of the wanted kind */
    int score_col, run_col, date_col; /* -1 outside a table with a Score column */
    double best;
    char run[200], date[32];
    int line;
} board;

static void board_heading(board *b, const char *line)
{
    int non = contains_nocase(line, "non-record") || contains_nocase(line, "unlimited");
    b->in_board = contains_nocase(line, "leaderboard") && non == b->want_non_record;
    b->score_col = -1;
}

static void board_row(board *b, char *line, int ln)
{
    char *cells[32];
    int n = split_row(line, cells, 32);
    if (b->score_col < 0) { /* the header row */
        b->run_col = b->date_col = 0;
        for (int i = 0; i < n; i++) {
            if (strcmp(cells[i], "Score") == 0)
                b->score_col = i;
            if (strcmp(cells[i], "Date") == 0)
                b->date_col = i;
        }
        return;
    }
    if (b->score_col >= n)
        return;
    char *end;
    double v = strtod(cells[b->score_col], &end);
    if (end == cells[b->score_col] || !isfinite(v) || v <= 0 || (isfinite(b->best) && v >= b->best))
        return;
    b->best = v;
    b->line = ln;
    snprintf(b->run, sizeof b->run, "%s", b->run_col < n ? cells[b->run_col] : "");
    snprintf(b->date, sizeof b->date, "%s", b->date_col < n ? cells[b->date_col] : "");
}

static int board_line(void *ctx, char *line, int ln)
{
    board *b = ctx;
    if (line[0] == '#')
        board_heading(b, line);
    else if (line[0] == '|' && b->in_board)
        board_row(b, line, ln);
    else if (line[0] != '|')
        b->score_col = -1;
    return 0;
}

int pg_sota_from_leaderboard_text(const char *name, const char *text, size_t len,
                                  const char *track, pg_sota *s)
{
    memset(s, 0, sizeof *s);
    board b = {.want_non_record = pg_track_is_non_record(track), .score_col = -1, .best = NAN};
    if (pg_each_line(text, len, board_line, &b, NULL) != 0)
        return pg_fail("%s: out of memory", name);
    if (!isfinite(b.best))
        return pg_fail("%s: no %s leaderboard table with a Score column", name,
                       b.want_non_record ? "non-record" : "record-track");
    s->value = b.best;
    snprintf(s->desc, sizeof s->desc, "the leaderboard's best %s score, \"%.150s\" (%s), "
                                      "val_bpb %.8g at `%.300s:%d`",
             b.want_non_record ? "non-record" : "record-track", b.run, b.date, b.best, name,
             b.line);
    return 0;
}

int pg_sota_from_leaderboard(const char *readme, const char *track, pg_sota *s)
{
    unsigned char *buf;
    size_t len;
    memset(s, 0, sizeof *s);
    if (pg_read_file(readme, README_MAX_BYTES, &buf, &len) != 0)
        return -1;
    int rc = pg_sota_from_leaderboard_text(readme, (const char *)buf, len, track, s);
    free(buf);
    return rc;
}

void pg_sota_free(pg_sota *s)
{
    free(s->seeds);
    s->seeds = NULL;
    s->nseeds = 0;
}

/* ---- the README section */

static int judged(const double *bpb, const double *loss, size_t n, const pg_sota *s,
                  pg_text *out)
{
    pg_judge_opts o;
    pg_judgement j;
    pg_judge_opts_default(&o);
    if (pg_judge(bpb, loss, n, s->value, s->nseeds ? s->seeds : NULL, s->nseeds, &o, &j) != 0) {
        pg_text_printf(out, "The test could not be run: %s.", pg_errmsg());
        return 0;
    }
    char *printed = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&printed, &len);
    if (!mem)
        return pg_fail("significance: out of memory");
    pg_judgement_print(&j, &o, mem);
    fclose(mem);
    pg_text_printf(out, "**Verdict: %s** (one-sided one-sample t-test, p = %.3g%s)\n\n"
                        "```text\n%s```",
                   pg_verdict_name(j.verdict), j.one.p,
                   j.has_welch ? "; Welch's test below" : "", printed ? printed : "");
    free(printed);
    return 0;
}

int pg_significance_markdown(const double *bpb, const double *loss, size_t n, const pg_sota *s,
                             const char *track, pg_text *out)
{
    if (pg_track_is_non_record(track))
        pg_text_printf(out, "A non-record submission need not beat the SOTA; the test is for "
                            "information.\n\n");
    if (!s) {
        pg_text_printf(out, "No SOTA was given, so no test was run (give one with `--sota X`, "
                            "`--sota-record TREE` or `--leaderboard README.md`).");
        return out->oom ? pg_fail("significance: out of memory") : 0;
    }
    pg_text_printf(out, "Against %s. The record rule: beat the SOTA by at least 0.005 nats at "
                        "p < 0.01, by a one-sided one-sample t-test of the seeds against SOTA "
                        "- threshold (and Welch's t-test against the SOTA's own seeds when they "
                        "are known), the threshold converted to BPB at this submission's own "
                        "tokens per byte.\n\n",
                   s->desc);
    int rc = n < 2 ? (pg_text_printf(out, "One seed: the t-tests need at least two."), 0)
                   : judged(bpb, loss, n, s, out);
    return rc == 0 && out->oom ? pg_fail("significance: out of memory") : rc;
}
