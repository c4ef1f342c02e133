/* `pgolf run`: the staged pipeline (DESIGN §7)
 *
 *   data -> build -> train/seedS -> quantize/seedS -> compress/seedS -> eval/seedS
 *        -> package -> stats
 *
 * eval/seedS scores the compressed artifact once (standard, sliding, TTT as configured);
 * package writes the records folder from the artifacts, the training logs and those
 * scores (the roundtrip lines are eval.json's standard numbers), evaluating nothing.
 *
 * Each stage's inputs (files, by SHA-256), parameters and the build's versions hash to a
 * key; a stage whose key matches a completed manifest entry with its outputs intact is
 * skipped. Outputs are written atomically and the manifest is rewritten (atomically)
 * when a stage starts and ends, so a run killed at any point resumes with the same
 * command: completed stages are kept, a training stage continues from its last
 * checkpoint, any other interrupted stage starts again.
 *
 * RUN_DIR layout (each stage owns its directory and starts it afresh, except a training
 * stage that resumes): manifest.json, data/data.json, build/{sources.lzma,build.json},
 * train/seedS/{train.log,state.ckpt,final.ckpt}, quantize/seedS/model.art (raw blocks),
 * compress/seedS/model.art, eval/seedS/eval.json, records/ (the records folder),
 * stats/{report.json,report.txt}. */
#ifndef PG_RUN_H
#define PG_RUN_H
#include <signal.h>
#include <stdio.h>
#include "common/dist.h"
#include "pipeline/runconfig.h"
typedef struct {
    const char *run_dir;
    const char *source_root; /* the pgolf sources the build stage archives */
    int use_cache;           /* 0: run every stage (replay) */
    int refresh;             /* accept changed input files: re-run what depends on them */
    int force;               /* accept other settings than the run's: replace its results */
    FILE *out;               /* stage lines, progress and the report */
    volatile sig_atomic_t *stop; /* set by a SIGINT handler: stop cleanly */
    /* where training and the evaluations compute (NULL: the CPU); a backend other than
     * the CPU is a parameter of the train and eval stages, so results never mix */
    const struct pg_backend *backend;
    /* a launched run's group (NULL: one process): this is rank 0, and every train stage
     * that runs is trained by all ranks (pg_run_follow on the others) */
    pg_dist *dist;
} pg_run_opts;
/* Runs the pipeline. Fails (message) on bad inputs, a RUN_DIR that is not a compatible
 * pgolf run, a run made with other settings (unless force: its results would be
 * replaced), a recorded file that changed (unless refresh), a failing stage, or an
 * interruption ("interrupted ..."). The same settings resume or skip what is done. */
int pg_run(const pg_run_config *c, const pg_run_opts *o);
/* Checks the files recorded for the completed stages of a manifest against the disk (only
 * the inputs from outside RUN_DIR when external_only). For each mismatch calls
 * report(ctx, stage_id, path, recorded_sha, now_sha or NULL when missing, is_output).
 * Returns the number of mismatches, or -1 (message) when out of memory. */
typedef void (*pg_run_mismatch_fn)(void *ctx, const char *stage, const char *path,
                                   const char *recorded, const char *now, int is_output);
int pg_run_check_files(const char *run_dir, const json_t *manifest, int external_only,
                       pg_run_mismatch_fn report, void *ctx);
/* Where a recorded path is: absolute outside RUN_DIR, relative to it inside (malloc'ed;
 * NULL with a message when out of memory). */
char *pg_run_disk_path(const char *run_dir, const char *recorded);
/* The versions a stage key covers: pg_versions_json() plus this executable's SHA-256;
 * NULL (message) when out of memory. */
json_t *pg_run_versions(void);
/* The other ranks of a launched run: train each stage rank 0 orders, until it releases
 * them (pg_run_release, with pg_run's status). A training stops when rank 0's does (an
 * interrupt there), whatever *stop says here. Fails (message) when a training fails,
 * rank 0 is lost, or rank 0's run failed. */
int pg_run_follow(pg_dist *d, const struct pg_backend *be, volatile sig_atomic_t *stop);
int pg_run_release(pg_dist *d, int status);

#endif
