/* A records folder from the logs of any train_gpt.py-style run (one log per seed, in the
 * shapes logparse.c reads), the counted code files and, when asked, the model artifacts:
 * the logs and code copied as they are, and README.md, submission.json and loss.svg from
 * the shared writer (submission.h). Loading checks everything (a seed and a final score
 * in every log, one log per seed, the same evaluation for every seed, the code files,
 * the byte cap) before anything is written. */
#ifndef PG_PACKAGE_LOGS_H
#define PG_PACKAGE_LOGS_H

#include "packager/submission.h"

typedef struct {
    const char *const *logs;
    int nlogs;
    const char *const *code; /* counted code files; the first is the script that is run */
    int ncode;
    const char *const *artifacts; /* NULL, or one model file per log, in the logs' order */
    int nartifacts;
    const char *score_tag; /* the evaluation that is the score; NULL: each log's last */
    const char *name, *author, *github_id, *date, *track, *blurb, *hardware;
} pg_logs_opts;

typedef struct {
    int n;
    pg_sub_seed *seeds;
    pg_log_summary *logs;
    unsigned char **log_bytes;
    size_t *log_lens;
    int ncode;
    unsigned char **code_bytes;
    size_t *code_lens;
    char **code_names;
    long long *code_sizes;
    long long code_total;
} pg_logs_package;

/* Reads and checks every input; fails naming the file and the problem. */
int pg_logs_load(const pg_logs_opts *o, pg_logs_package *p);
/* Writes the folder dir (created if missing); significance is the README's section. */
int pg_logs_write(const pg_logs_package *p, const pg_logs_opts *o, const char *dir,
                  const char *significance);
void pg_logs_free(pg_logs_package *p);

#endif
