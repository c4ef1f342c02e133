#include "common/dl.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

void *pg_dl_open(const char *env, const char *const *names, const char *what)
{
    const char *path = getenv(env), *tried = path && *path ? path : names[0];
    void *h = NULL;
    if (path && *path)
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    for (int i = 0; !h && !(path && *path) && names[i]; i++)
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h)
        pg_fail("%s: cannot load %s (%s names the library file): %s", tried, what, env,
                dlerror());
    return h;
}

int pg_dl_bind(void *lib, const char *what, const pg_dl_sym *syms, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        void *p = dlsym(lib, syms[i].name);
        if (!p) {
            dlclose(lib);
            return pg_fail("%s lacks %s", what, syms[i].name);
        }
        memcpy(syms[i].slot, &p, sizeof p); /* object to function pointer, as POSIX allows */
    }
    return 0;
}
