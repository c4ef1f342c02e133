/* A child process for `pgolf rerun`: a shell command run in a folder with added
 * environment, its output in a log file, in its own process group, bounded by a timeout
 * (then the whole group is killed: TERM, KILL 5 s later). It never outlives its caller's
 * wait. */
#ifndef PG_SPAWN_H
#define PG_SPAWN_H

#include <stddef.h>

typedef struct {
    int exited;    /* it ended by itself (exit status in status) */
    int status;    /* exit status, or the signal that ended it */
    int timed_out; /* killed at the timeout */
    double seconds;
} pg_spawn_result;

/* `sh -c command` in dir with env[0..nenv) ("NAME=VALUE") set on top of the caller's,
 * stdout and stderr to log_path (created); progress lines on stderr every 30 s naming
 * label. Fails (message) only when it could not start. */
int pg_spawn_shell(const char *command, const char *dir, char *const *env, size_t nenv,
                   const char *log_path, double timeout_s, const char *label, pg_spawn_result *r);

/* Copies the tree src to dst (which must not exist) with `cp -R`, src unchanged. */
int pg_copy_tree(const char *src, const char *dst);

#endif
