/* The stages of `pgolf run` (pipeline/run.h): what each reads, its parameters and what it
 * writes. Shared by the engine (run.c), the stages (run_stages.c) and the report
 * (run_report.c). */
#ifndef PG_RUN_STAGES_H
#define PG_RUN_STAGES_H
#include <jansson.h>
#include "pipeline/run.h"
typedef struct pg_run_state pg_run_state;
typedef struct pg_stage pg_stage;
struct pg_stage {
    char id[48];         /* "train/seed42" */
    const char *kind;    /* "train" */
    long seed;           /* per-seed stages */
    char dir[48];        /* the RUN_DIR-relative directory it owns */
    json_t *params;      /* the settings it depends on */
    int resume;          /* set by the engine: continue an interrupted stage */
    /* appends {path, bytes, sha256} of every file it reads */
    int (*inputs)(pg_run_state *r, pg_stage *s, json_t *list);
    /* does the work, appending {path, bytes, sha256, reproducible} of every file written */
    int (*run)(pg_run_state *r, pg_stage *s, json_t *outputs);
};
struct pg_run_state {
    const pg_run_config *c;
    const pg_run_opts *o;
    const char *dir;
    json_t *manifest, *versions;
    double t0;
};
/* Rank 0 of a launched run: orders the other ranks to train h in dir beside it. */
int pg_run_order_train(pg_dist *d, const pg_hparams *h, const char *dir, int resume);
/* The stages of a configuration, in order; each params is the caller's to release. */
int pg_run_plan(pg_run_state *r, pg_stage *plan, int *n);
/* Appends the record of a file: `recorded` is absolute or relative to RUN_DIR. reproducible
 * < 0 records an input, 0/1 an output (1: the same bits on every run; 0: holds wall-clock
 * times). */
int pg_run_add_file(pg_run_state *r, json_t *list, const char *recorded, int reproducible);
/* RUN_DIR/rel, malloc'ed; NULL (message) when out of memory. */
char *pg_run_path(const pg_run_state *r, const char *rel);
/* Parses RUN_DIR/rel; NULL (message naming the file and line) on failure. */
json_t *pg_run_load_json(const pg_run_state *r, const char *rel);
/* The stats stage (run_report.c): the significance test and the final report. */
int pg_run_stats_inputs(pg_run_state *r, pg_stage *s, json_t *list);
int pg_run_stats(pg_run_state *r, pg_stage *s, json_t *outputs);
/* Prints stats/report.txt. */
int pg_run_print_report(pg_run_state *r);
#endif
