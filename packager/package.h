/* A records folder in the challenge's layout from pgolf training runs (DESIGN §3, §6):
 * README.md (what, how to run, results per seed with mean and std, a loss-curve SVG per
 * seed), submission.json, the per-seed logs, train_gpt.py (self-extracting) and each
 * seed's artifact. The byte ledger of every seed is checked before anything is written;
 * the same inputs give byte-identical files. */
#ifndef PG_PACKAGE_H
#define PG_PACKAGE_H

#include "packager/artifact.h"

typedef struct {
    const char *out_dir;
    const char *name, *author, *github_id, *date, *track, *blurb;
    const char *source_root; /* pgolf sources for train_gpt.py */
    pg_quant_plan plan;
    const char *scheme_name;
} pg_package_opts;

int pg_package(const char *const *run_dirs, int nruns, const pg_package_opts *o);

#endif
