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
    /* a source archive made earlier (pg_source_archive); when set, source_root is unused */
    const unsigned char *source_archive;
    size_t source_archive_len;
    /* one artifact file per run directory, made earlier; when NULL each run's final.ckpt
     * is quantized with `plan` and compressed here */
    const char *const *artifacts;
    pg_quant_plan plan;
    const char *scheme_name;
} pg_package_opts;

int pg_package(const char *const *run_dirs, int nruns, const pg_package_opts *o);

#endif
