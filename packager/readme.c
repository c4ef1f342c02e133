#include "packager/readme.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"

#define README_MAX_BYTES ((size_t)4 << 20)
#define SOTA_REACH 160 /* a stated SOTA follows its keyword within this many characters */

/* Words after which a line compares with something else: what follows is not the
 * README's own result. Strong ones name the SOTA; weak ones need the number right after. */
static const char *const STRONG[] = {"sota", "leaderboard", "previous", "prior record", "merged",
                                     "baseline", "beat"};
static const char *const WEAK[] = {" vs", "versus", "against"};
static const char *const STOP[] = {"delta", "improvement"};
/* Lines about the model before quantization or TTT state no claim. */
static const char *const SKIP[] = {"pre-quant", "pre quant", "prequant", "pre-ttt", "pre ttt"};
/* Words allowed between a weak comparison word and its number ("vs SOTA (1.2244"). */
static const char *const FILLER[] = {"sota", "the", "current", "leaderboard", "record",
                                     "baseline", "merged"};

#define COUNT(a) (sizeof(a) / sizeof *(a))

/* Earliest match at or after `from` of any word of the list (at a word start). */
static const char *first_of(const char *low, const char *const *words, size_t n)
{
    const char *best = NULL;
    for (size_t i = 0; i < n; i++)
        for (const char *p = strstr(low, words[i]); p; p = strstr(p + 1, words[i])) {
            int start = words[i][0] == ' ' || p == low || !isalnum((unsigned char)p[-1]);
            const char *after = p + strlen(words[i]);
            int end = words[i][0] != ' ' || !isalpha((unsigned char)*after);
            if (start && end) {
                if (!best || p < best)
                    best = p;
                break;
            }
        }
    return best;
}

/* The next unsigned number at or after s (before stop): not part of a word, a PR number
 * or a signed delta. Sets *at past it and *dec to its decimals. */
static int next_number(const char *line, const char *s, const char *stop, const char **at,
                       double *v, int *dec)
{
    for (const char *p = s; p < stop; p++) {
        if (!isdigit((unsigned char)*p))
            continue;
        char prev = p > line ? p[-1] : ' ';
        if (isalnum((unsigned char)prev) || strchr("._#-+", prev) ||
            (p - line >= 3 && (unsigned char)p[-1] == 0x92 && (unsigned char)p[-3] == 0xe2)) {
            while (p + 1 < stop && (isdigit((unsigned char)p[1]) || p[1] == '.'))
                p++;
            continue;
        }
        char *end;
        *v = strtod(p, &end);
        const char *dot = memchr(p, '.', (size_t)(end - p));
        *dec = dot ? (int)(end - dot - 1) : 0;
        *at = end;
        return 1;
    }
    return 0;
}

static int add_number(pg_readme *r, pg_readme_kind kind, double v, int dec, int line, int mean)
{
    pg_readme_number *g = realloc(r->v, (r->n + 1) * sizeof *g);
    if (!g)
        return pg_fail("%s: out of memory", r->path);
    r->v = g;
    g[r->n++] = (pg_readme_number){kind, v, dec, line, mean};
    return 0;
}

/* "KEY: X", "KEY = X", "KEY X", "KEY (sliding): X" before cut. */
static int keyed_numbers(pg_readme *r, const char *low, const char *cut, const char *key,
                         pg_readme_kind kind, int ln, int mean)
{
    size_t kl = strlen(key);
    for (const char *p = strstr(low, key); p && p < cut; p = strstr(p + kl, key)) {
        if (p > low && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
            continue;
        const char *q = p + kl;
        if (*q == ' ' && q[1] == '(' && strchr(q, ')'))
            q = strchr(q, ')') + 1;
        while (*q == ' ')
            q++;
        if (*q == ':' || *q == '=')
            q++;
        else if (q == p + kl)
            continue; /* "val_bpb_std", "val_bpbX" */
        while (*q == ' ')
            q++;
        char *end;
        double v = strtod(q, &end);
        if (!isdigit((unsigned char)*q) || !(v > 0 && v < 50))
            continue;
        const char *dot = memchr(q, '.', (size_t)(end - q));
        if (add_number(r, kind, v, dot ? (int)(end - dot - 1) : 0, ln, mean) != 0)
            return -1;
    }
    return 0;
}

/* "# Record: 1.1570 BPB": a number followed by "bpb" in a title line. */
static int title_numbers(pg_readme *r, const char *low, const char *cut, int ln)
{
    const char *at = low;
    double v;
    int dec;
    while (next_number(low, at, cut, &at, &v, &dec)) {
        const char *q = at;
        while (*q == ' ')
            q++;
        if (strncmp(q, "bpb", 3) == 0 && !isalpha((unsigned char)q[3]) && dec > 0 &&
            add_number(r, PG_README_BPB, v, dec, ln, strstr(low, "mean") != NULL) != 0)
            return -1;
    }
    return 0;
}

/* "Total submission size ...: 15,863,489 bytes" (also in a table row). */
static int byte_numbers(pg_readme *r, const char *low, int ln)
{
    const char *k = strstr(low, "total submission");
    if (!k)
        k = strstr(low, "bytes_total");
    if (!k)
        return 0;
    for (const char *p = k; *p; p++) {
        if (!isdigit((unsigned char)*p))
            continue;
        char digits[24];
        size_t n = 0;
        for (; (isdigit((unsigned char)*p) || (*p == ',' && isdigit((unsigned char)p[1]))) &&
               n + 1 < sizeof digits;
             p++)
            if (*p != ',')
                digits[n++] = *p;
        digits[n] = '\0';
        /* the cap itself is a limit a README quotes, not its size */
        if (n >= 6 && *p != '.' && strcmp(digits, "16000000") != 0)
            return add_number(r, PG_README_BYTES, strtod(digits, NULL), 0, ln, 0);
        if (!*p)
            break;
    }
    return 0;
}

/* A BPB-like number: a score as READMEs print them. */
static int bpb_like(double v, int dec)
{
    return dec >= 3 && v >= 0.5 && v < 2.5;
}

/* The number a comparison word at p names: the first after a strong word (the last of a
 * chain "A -> B -> C"), or one right after a weak word. */
static int sota_after(const char *low, const char *p, int weak, double *out)
{
    const char *at = p + (weak ? strcspn(p + 1, " ") + 1 : 0), *stop = p + strlen(p);
    if (weak) {
        for (;;) {
            at += strspn(at, " (:[");
            size_t i = 0;
            while (i < COUNT(FILLER) && strncmp(at, FILLER[i], strlen(FILLER[i])) != 0)
                i++;
            if (i == COUNT(FILLER))
                break;
            at += strlen(FILLER[i]);
        }
        stop = at + 1;
    } else if (!strstr(p, "->") && !strstr(p, "\xe2\x86\x92") && stop > p + SOTA_REACH) {
        stop = p + SOTA_REACH;
    }
    int chain = !weak && (strstr(p, "->") || strstr(p, "\xe2\x86\x92"));
    double v;
    int dec, found = 0;
    while (next_number(low, at, stop, &at, &v, &dec))
        if (bpb_like(v, dec)) {
            *out = v;
            found = 1;
            if (!chain)
                break;
        }
    return found;
}

static void stated_sota(pg_readme *r, const char *low, int ln)
{
    const char *strong = first_of(low, STRONG, COUNT(STRONG));
    const char *weak = first_of(low, WEAK, COUNT(WEAK));
    double v;
    if ((strong && sota_after(low, strong, 0, &v)) || (weak && sota_after(low, weak, 1, &v))) {
        r->stated_sota = v;
        r->stated_sota_line = ln;
    }
}

/* One line outside code blocks: markup removed, lower case. */
static int parse_line(pg_readme *r, const char *raw, int ln)
{
    char low[2048];
    size_t n = 0;
    for (const char *p = raw; *p && n + 1 < sizeof low; p++)
        if (*p != '*' && *p != '`')
            low[n++] = (char)tolower((unsigned char)*p);
    low[n] = '\0';
    const char *s = low + strspn(low, " \t");
    int table = *s == '|';
    if (!table && !isfinite(r->stated_sota))
        stated_sota(r, low, ln);
    if (byte_numbers(r, low, ln) != 0)
        return -1;
    if (table || first_of(low, SKIP, COUNT(SKIP)))
        return 0;
    const char *cut = low + n;
    const char *const *lists[] = {STRONG, WEAK, STOP};
    size_t sizes[] = {COUNT(STRONG), COUNT(WEAK), COUNT(STOP)};
    for (int i = 0; i < 3; i++) {
        const char *c = first_of(low, lists[i], sizes[i]);
        if (c && c < cut)
            cut = c;
    }
    int mean = strstr(low, "mean") || strstr(low, "average");
    if (keyed_numbers(r, low, cut, "val_bpb", PG_README_BPB, ln, mean) != 0 ||
        keyed_numbers(r, low, cut, "val bpb", PG_README_BPB, ln, mean) != 0 ||
        keyed_numbers(r, low, cut, "val_loss", PG_README_LOSS, ln, mean) != 0 ||
        keyed_numbers(r, low, cut, "val loss", PG_README_LOSS, ln, mean) != 0)
        return -1;
    return *s == '#' ? title_numbers(r, low, cut, ln) : 0;
}

int pg_readme_parse_text(const char *path, const char *text, size_t len, pg_readme *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->present = 1;
    r->stated_sota = NAN;
    char *copy = strndup(text, len);
    if (!copy)
        return pg_fail("%s: out of memory", path);
    int ln = 0, code = 0, rc = 0;
    for (char *line = copy, *next; line && rc == 0; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        ln++;
        if (strncmp(line + strspn(line, " "), "```", 3) == 0)
            code = !code;
        else if (!code)
            rc = parse_line(r, line, ln);
    }
    free(copy);
    if (rc != 0)
        pg_readme_free(r);
    return rc;
}

int pg_readme_load(const char *dir, pg_readme *r)
{
    memset(r, 0, sizeof *r);
    r->stated_sota = NAN;
    char *path = pg_path_join(dir, "README.md");
    if (!path)
        return pg_fail("%s: out of memory", dir);
    unsigned char *buf;
    size_t len;
    int rc = 0;
    if (pg_read_file(path, README_MAX_BYTES, &buf, &len) == 0) {
        rc = pg_readme_parse_text(path, (const char *)buf, len, r);
        free(buf);
    } else {
        snprintf(r->path, sizeof r->path, "%s", path);
    }
    free(path);
    return rc;
}

void pg_readme_free(pg_readme *r)
{
    free(r->v);
    r->v = NULL;
    r->n = 0;
}
