#include "pipeline/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/progress.h"

/* The child: its own group, the folder, the environment, the log, then the shell. */
static void child(const char *command, const char *dir, char *const *env, size_t nenv, int fd)
{
    setpgid(0, 0);
    if (chdir(dir) != 0)
        _exit(126);
    for (size_t i = 0; i < nenv; i++)
        if (putenv(env[i]) != 0)
            _exit(126);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    _exit(127);
}

static void nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int pg_spawn_shell(const char *command, const char *dir, char *const *env, size_t nenv,
                   const char *log_path, double timeout_s, const char *label, pg_spawn_result *r)
{
    memset(r, 0, sizeof *r);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return pg_fail("%s: cannot create: %s", log_path, strerror(errno));
    fflush(NULL);
    double t0 = pg_now_seconds(), next = 30;
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        return pg_fail("%s: cannot start a process: %s", label, strerror(errno));
    }
    if (pid == 0)
        child(command, dir, env, nenv, fd);
    close(fd);
    setpgid(pid, pid); /* also here: no window where a kill could miss the group */
    int st = 0, killed = 0;
    double kill_at = timeout_s > 0 ? timeout_s : -1;
    for (;;) {
        pid_t got = waitpid(pid, &st, WNOHANG);
        if (got == pid)
            break;
        if (got < 0 && errno != EINTR)
            return pg_fail("%s: lost its process: %s", label, strerror(errno));
        double t = pg_now_seconds() - t0;
        if (kill_at > 0 && t >= kill_at) {
            kill(-pid, killed ? SIGKILL : SIGTERM);
            r->timed_out = 1;
            kill_at = t + 5; /* KILL if TERM is not enough */
            killed = 1;
        }
        if (t >= next) {
            if (timeout_s > 0)
                fprintf(stderr, "%s: running %.0f s of at most %.0f s\n", label, t, timeout_s);
            else
                fprintf(stderr, "%s: running %.0f s (no timeout)\n", label, t);
            next += 30;
        }
        nap(0.05);
    }
    kill(-pid, SIGKILL); /* anything it left behind in its group */
    r->seconds = pg_now_seconds() - t0;
    r->exited = WIFEXITED(st) && !r->timed_out;
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? WTERMSIG(st) : -1;
    return 0;
}

int pg_copy_tree(const char *src, const char *dst)
{
    struct stat sb;
    if (stat(dst, &sb) == 0)
        return pg_fail("%s: already exists", dst);
    pid_t pid = fork();
    if (pid < 0)
        return pg_fail("cannot start cp: %s", strerror(errno));
    if (pid == 0) {
        execlp("cp", "cp", "-R", "--", src, dst, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return pg_fail("cp: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return pg_fail("cannot copy %s to %s (cp exit %d)", src, dst,
                       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}
