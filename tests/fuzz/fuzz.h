/* Shared by the libFuzzer harnesses (one file per parser in tests/fuzz/) and the replay
 * driver that runs their corpora and regressions in `make check` without libFuzzer. */
#ifndef PG_FUZZ_H
#define PG_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Each harness defines this one entry point (libFuzzer's). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A private temporary directory of this process, removed at exit. */
const char *fz_tmpdir(void);

/* Writes len bytes to path; aborts when it cannot (the harness is broken, not the input). */
void fz_write(const char *path, const void *data, size_t len);

/* Splits data at every sep byte into at most max parts (the last keeps the rest);
 * returns the number of parts. */
size_t fz_split(const uint8_t *data, size_t size, uint8_t sep, const uint8_t **parts,
                size_t *lens, size_t max);

#endif
