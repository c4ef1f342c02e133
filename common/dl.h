/* Libraries loaded at run time (dlopen) rather than linked: what a machine may lack or
 * ships under a name only its owner knows (NCCL, NVRTC, and the box build's libcrypto
 * and libzstd). */
#ifndef PG_DL_H
#define PG_DL_H

#include <stddef.h>

/* Opens the file the environment variable `env` names, else the first of `names` (NULL
 * terminated) that loads. NULL with a message naming the library (`what`), the file tried
 * and `env` when none loads. */
void *pg_dl_open(const char *env, const char *const *names, const char *what);

/* One symbol and where its address goes (a function pointer's address). */
typedef struct {
    const char *name;
    void *slot;
} pg_dl_sym;

/* Resolves every symbol; fails naming `what` and the first symbol missing (and closes
 * the library). */
int pg_dl_bind(void *lib, const char *what, const pg_dl_sym *syms, size_t n);

#endif
