/* Runs inputs through one harness without libFuzzer, for `make check`: every file named
 * and every file in a folder named (a missing path is skipped: a harness may have no
 * regressions yet) goes through LLVMFuzzerTestOneInput once, in sorted order. A crash
 * ends the run; FUZZ_REPLAY_VERBOSE=1 prints each input's path before it runs. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fileio.h"
#include "tests/fuzz/fuzz.h"

#define REPLAY_MAX_BYTES ((size_t)64 << 20)

static int replay_file(const char *path, int verbose)
{
    unsigned char *buf;
    size_t len;
    if (pg_read_file(path, REPLAY_MAX_BYTES, &buf, &len) != 0) {
        fprintf(stderr, "replay: %s\n", pg_errmsg());
        return -1;
    }
    if (verbose)
        fprintf(stderr, "replay: %s\n", path);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

/* The files of dir in sorted order, each replayed; returns how many, or -1. */
static int replay_dir(const char *dir, int verbose)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        return 0;
    int count = 0;
    for (int i = 0; i < n; i++) {
        char *p = names[i]->d_name[0] == '.' ? NULL : pg_path_join(dir, names[i]->d_name);
        struct stat st;
        if (p && stat(p, &st) == 0 && S_ISREG(st.st_mode))
            count = count < 0 || replay_file(p, verbose) != 0 ? -1 : count + 1;
        free(p);
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    int verbose = getenv("FUZZ_REPLAY_VERBOSE") != NULL, total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int n = stat(argv[i], &st) != 0  ? 0 /* missing */
                : S_ISDIR(st.st_mode)    ? replay_dir(argv[i], verbose)
                : replay_file(argv[i], verbose) == 0 ? 1
                                                     : -1;
        if (n < 0)
            return 1;
        total += n;
    }
    printf("%s: %d inputs replayed\n", argv[0], total);
    return 0;
}
