/* lrzip streams through the lrzip program (lrzip.h). */
#include "packager/lrzip.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"

int pg_lrzip_decode(const char *what, const uint8_t *in, size_t n, size_t limit, uint8_t **out,
                    size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    const char *tmp = getenv("TMPDIR");
    char dir[PG_PATH_MAX], src[PG_PATH_MAX + 16], dst[PG_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/pgolf-lrzip-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return pg_fail("%s: cannot make a scratch folder for lrzip", what);
    snprintf(src, sizeof src, "%s/in.lrz", dir);
    snprintf(dst, sizeof dst, "%s/out", dir);
    int rc = pg_write_file_in(dir, "in.lrz", in, n);
    if (rc == 0) {
        char *const argv[] = {"lrzip", "-q", "-d", "-f", "-o", dst, src, NULL};
        int st = -1;
        pid_t pid = fork(), got = -1;
        if (pid == 0) {
            /* the output bounded by the kernel: a bigger file stops lrzip */
            struct rlimit fsize = {(rlim_t)limit + 1, (rlim_t)limit + 1};
            setrlimit(RLIMIT_FSIZE, &fsize);
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0) {
                dup2(null, 1);
                dup2(null, 2);
            }
            execvp("lrzip", argv);
            _exit(127);
        }
        while (pid > 0 && (got = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
            ;
        struct stat sb;
        if (got == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ)
            rc = pg_fail("%s: the lrzip stream decodes to more than the %zu bytes allowed",
                         what, limit);
        else if (got != pid || !WIFEXITED(st) || WEXITSTATUS(st) == 127)
            rc = pg_fail("%s: an lrzip stream needs the lrzip program, which did not run "
                         "(Debian package lrzip)", what);
        else if (WEXITSTATUS(st) != 0 || stat(dst, &sb) != 0)
            rc = pg_fail("%s: lrzip refused the stream (exit %d)", what, WEXITSTATUS(st));
        else if ((size_t)sb.st_size > limit)
            rc = pg_fail("%s: the lrzip stream decodes to %lld bytes, more than the %zu "
                         "allowed", what, (long long)sb.st_size, limit);
        else
            rc = pg_read_file(dst, limit, out, out_n);
    }
    unlink(src);
    unlink(dst);
    rmdir(dir);
    return rc;
}
