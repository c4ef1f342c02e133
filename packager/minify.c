#include "packager/minify.h"

#include <stdlib.h>

#include "common/err.h"

static int blank(char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\v'; }

int pg_c_minify(const char *name, const char *in, size_t n, char **out, size_t *out_n)
{
    char *o = malloc(n + 1);
    if (!o)
        return pg_fail("%s: out of memory", name);
    size_t k = 0, i = 0;
    int line_start = 1, pending_blank = 0, continued = 0;
    while (i < n) {
        char c = in[i];
        if (c == '/' && i + 1 < n && (in[i + 1] == '/' || in[i + 1] == '*')) {
            if (in[i + 1] == '/') { /* to the end of the line (kept) */
                while (i < n && in[i] != '\n')
                    i++;
            } else {
                size_t j = i + 2;
                while (j + 1 < n && !(in[j] == '*' && in[j + 1] == '/'))
                    j++;
                if (j + 1 >= n) {
                    free(o);
                    return pg_fail("%s: unterminated comment", name);
                }
                i = j + 2;
                pending_blank = !line_start; /* a comment separates tokens */
            }
            continue;
        }
        if (c == '\n') {
            if (!line_start)
                o[k++] = '\n';
            continued = k >= 2 && o[k - 2] == '\\';
            line_start = 1;
            pending_blank = 0;
            i++;
            continue;
        }
        if (blank(c) || c == '\r') {
            pending_blank = !line_start || continued; /* keeps "a \<newline> b" apart */
            i++;
            continue;
        }
        if (pending_blank)
            o[k++] = ' ';
        pending_blank = 0;
        line_start = 0;
        if (c == '"' || c == '\'') { /* a literal, copied as it is */
            size_t j = i + 1;
            while (j < n && in[j] != c && in[j] != '\n')
                j += in[j] == '\\' ? 2 : 1;
            if (j >= n || in[j] != c) {
                free(o);
                return pg_fail("%s: unterminated %s literal", name, c == '"' ? "string" : "character");
            }
            for (; i <= j; i++)
                o[k++] = in[i];
            continue;
        }
        o[k++] = c;
        i++;
    }
    if (!line_start)
        o[k++] = '\n';
    o[k] = '\0';
    *out = o;
    *out_n = k;
    return 0;
}
