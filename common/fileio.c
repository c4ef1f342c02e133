#define _XOPEN_SOURCE 700 /* nftw */
#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"

static const char *file_kind(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket"
           : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" : "not a regular file";
}

FILE *pg_open_regular(const char *path)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked on the
     * open descriptor, so the file checked is the file read */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP)
            pg_fail("%s: cannot open: a loop of symbolic links (ELOOP)", path);
        else
            pg_fail("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        pg_fail("%s: is %s, not a regular file", path, file_kind(st.st_mode));
        close(fd);
        return NULL;
    }
    int flags = fcntl(fd, F_GETFL);
    FILE *fp = flags >= 0 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 ? fdopen(fd, "rb") : NULL;
    if (!fp) {
        pg_fail("%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return fp;
}

int pg_read_file(const char *path, size_t max_bytes, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    FILE *fp = pg_open_regular(path);
    if (!fp)
        return -1;
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        fclose(fp);
        return pg_fail("%s: cannot stat: %s", path, strerror(errno));
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        fclose(fp);
        return pg_fail("%s: file is %lld bytes, over the limit of %zu", path, (long long)st.st_size,
                       max_bytes);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n + 1);
    if (!buf) {
        fclose(fp);
        return pg_fail("%s: out of memory reading %zu bytes", path, n);
    }
    if (n && fread(buf, 1, n, fp) != n) {
        free(buf);
        fclose(fp);
        return pg_fail("%s: read error", path);
    }
    fclose(fp);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int pg_atomic_open(pg_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    af->path = strdup(path);
    size_t n = strlen(path) + 32;
    af->tmp_path = malloc(n);
    if (!af->path || !af->tmp_path) {
        pg_atomic_abort(af);
        return pg_fail("%s: out of memory", path);
    }
    snprintf(af->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp_path, "wb");
    if (!af->fp) {
        int e = errno;
        pg_atomic_abort(af);
        return pg_fail("%s: cannot create: %s", path, strerror(e));
    }
    return 0;
}

int pg_atomic_write(pg_atomic_file *af, const void *data, size_t len)
{
    if (af->failed)
        return -1;
    if (len && fwrite(data, 1, len, af->fp) != len) {
        af->failed = 1;
        return pg_fail("%s: write error: %s", af->path, strerror(errno));
    }
    return 0;
}

static void fsync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int pg_atomic_commit(pg_atomic_file *af)
{
    int rc = -1;
    if (af->failed)
        goto done;
    if (fflush(af->fp) != 0 || fsync(fileno(af->fp)) != 0) {
        pg_fail("%s: flush failed: %s", af->path, strerror(errno));
        goto done;
    }
    if (fclose(af->fp) != 0) {
        af->fp = NULL;
        pg_fail("%s: close failed: %s", af->path, strerror(errno));
        goto done;
    }
    af->fp = NULL;
    if (rename(af->tmp_path, af->path) != 0) {
        pg_fail("%s: rename failed: %s", af->path, strerror(errno));
        goto done;
    }
    fsync_parent_dir(af->path);
    free(af->tmp_path);
    af->tmp_path = NULL;
    rc = 0;
done:
    pg_atomic_abort(af);
    return rc;
}

void pg_atomic_abort(pg_atomic_file *af)
{
    if (af->fp)
        fclose(af->fp);
    if (af->tmp_path)
        unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->path);
    memset(af, 0, sizeof *af);
}

int pg_write_file_atomic(const char *path, const void *data, size_t len)
{
    pg_atomic_file af;
    if (pg_atomic_open(&af, path) != 0)
        return -1;
    if (pg_atomic_write(&af, data, len) != 0) {
        pg_atomic_abort(&af);
        return -1;
    }
    return pg_atomic_commit(&af);
}

char *pg_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int pg_mkdir_p(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return pg_fail("%s: out of memory", dir);
    int rc = 0;
    for (char *s = p + 1; rc == 0; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        struct stat st;
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            rc = pg_fail("%s: cannot create directory: %s", p, strerror(errno));
        else if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = pg_fail("%s: exists and is not a directory", p);
        *s = c;
        if (c == '\0')
            break;
    }
    free(p);
    return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

int pg_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return pg_fail("%s: cannot remove: %s", path, strerror(errno));
    return 0;
}

int pg_random_bytes(void *buf, size_t n)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t got = read(fd, buf, n);
    close(fd);
    return got == (ssize_t)n ? 0 : -1;
}

int pg_write_file_in(const char *dir, const char *name, const void *data, size_t len)
{
    char *p = pg_path_join(dir, name);
    int rc = p ? pg_write_file_atomic(p, data, len) : pg_fail("%s/%s: out of memory", dir, name);
    free(p);
    return rc;
}

int pg_dir_replace(const char *staging, const char *final)
{
    if (pg_remove_tree(final) != 0)
        return -1;
    if (rename(staging, final) != 0)
        return pg_fail("%s: cannot move the new folder into place: %s", final, strerror(errno));
    return 0;
}
