/* The numbers a records folder's README.md states about itself (val_bpb, val_loss, the
 * total submission bytes) and the SOTA it says it compared against, each with its line.
 * READMEs are prose: a number counts only next to its key ("val_bpb: 1.1194",
 * "Total submission size ...: 15,863,489 bytes", "# Record: 1.1570 BPB"); tables of
 * ablations or per-seed results, code blocks, pre-quantization / pre-TTT numbers and
 * the text after a comparison word ("vs", "SOTA", "previous", ...) are not claims. */
#ifndef PG_README_H
#define PG_README_H

#include <stddef.h>

typedef enum { PG_README_BPB, PG_README_LOSS, PG_README_BYTES } pg_readme_kind;

typedef struct {
    pg_readme_kind kind;
    double value;
    int decimals; /* digits after the point */
    int line;
    int mean;     /* the line speaks of a mean */
} pg_readme_number;

typedef struct {
    char path[600];
    int present;               /* README.md was read */
    pg_readme_number *v;
    size_t n;
    double stated_sota;        /* "previous SOTA 1.1234", "vs 1.2244": NAN when none */
    int stated_sota_line;
} pg_readme;

/* Reads dir/README.md; a missing or unreadable README leaves present 0 (not an error). */
int pg_readme_load(const char *dir, pg_readme *r);
int pg_readme_parse_text(const char *path, const char *text, size_t len, pg_readme *r);
void pg_readme_free(pg_readme *r);

#endif
