/* A records folder in the challenge's layout from pgolf training runs (DESIGN §3, §6):
 * the per-seed logs (train.log with the byte ledger, the evaluations' settings and score
 * lines appended),
 * train_gpt.py (self-extracting), each seed's artifact, and README.md, submission.json and
 * loss.svg from the shared writer (submission.h). Everything it writes comes from its
 * inputs: it quantizes, evaluates and looks up nothing. The byte ledger of every seed is
 * checked before anything final is written; the same inputs give byte-identical files. */
#ifndef PG_PACKAGE_H
#define PG_PACKAGE_H

#include <stddef.h>

#include "kernels/final_eval.h"

/* One seed: its training run, its artifact and that artifact's score. */
typedef struct {
    const char *run_dir;           /* holds train.log (seed, steps, times, loss curve) */
    const unsigned char *artifact; /* the compressed artifact's bytes */
    size_t artifact_len;
    /* the artifact's final evaluations (kernels/final_eval.h): the log's score lines; the
     * last one run is the README's and submission.json's score */
    pg_final_scores scores;
} pg_package_seed;

typedef struct {
    const char *out_dir;
    const char *name, *author, *github_id, *date, *track, *blurb;
    const char *source_root; /* pgolf sources for train_gpt.py */
    /* a source archive made earlier (pg_source_archive); when set, source_root is unused */
    const unsigned char *source_archive;
    size_t source_archive_len;
    /* the training settings ("NAME=VALUE") baked into train_gpt.py; DATA_PATH,
     * TOKENIZER_PATH and INIT_CHECKPOINT are left out */
    const char *const *settings;
    int nsettings;
    const char *scheme_name;
    const pg_final_opts *evals; /* the evaluations train_gpt.py runs (baked in as settings) */
    const char *significance; /* README markdown: the test against the SOTA, or why none */
} pg_package_opts;

int pg_package(const pg_package_seed *seeds, int nseeds, const pg_package_opts *o);

#endif
