/* The box build's source shrinkers (docs/box.md) on sources made here: the lexer's
 * tokens, unused functions dropped (and only those), identifiers renamed so that a program
 * compiled before and after prints the same, blanks squeezed without merging tokens; and
 * packager/box/extern_names.txt holding every system-header name the box sources use. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "packager/ctoken.h"
#include "packager/minify.h"
#include "packager/rename.h"
#include "packager/treeshake.h"
#include "tests/util.h"

static pg_csource source(const char *path, const char *text, int fixed)
{
    pg_csource s = {.path = path, .text = strdup(text), .len = strlen(text), .fixed = fixed};
    ck_assert_ptr_nonnull(s.text);
    return s;
}

START_TEST(test_tokens)
{
    const char *in = "#include <sys/stat.h>\n#define F(x) (x##1) /* c */\nint a=1.5e+3;\\\n"
                     "char*s=\"a\\\"b\";\n#if defined(G)\n";
    pg_token *t;
    size_t n;
    ck_assert_int_eq(pg_c_tokens("t.c", in, strlen(in), &t, &n), 0);
    /* # include <sys/stat.h> | # define F ( x ) ( x # # 1 ) | int a = 1.5e+3 ; | char * s =
     * "a\"b" ; | # if defined ( G ) */
    ck_assert_uint_eq(n, 3 + 12 + 5 + 6 + 6);
    ck_assert_int_eq(t[2].kind, PG_TOK_HEADER);
    ck_assert_int_eq(t[2].len, strlen("<sys/stat.h>"));
    ck_assert(t[3].head && t[4].head && t[4].line == PG_LINE_DEFINE && !t[5].head);
    ck_assert(t[15].line_first && t[15].line == PG_LINE_CODE && pg_tok_is(in, &t[15], "int"));
    ck_assert_int_eq(t[18].kind, PG_TOK_NUMBER);
    ck_assert_uint_eq(t[18].len, 6); /* 1.5e+3 is one pp-number... */
    ck_assert_int_eq(t[24].kind, PG_TOK_LITERAL); /* ...and the backslash-newline joins lines */
    ck_assert(!t[20].line_first && t[27].line == PG_LINE_COND && pg_tok_is(in, &t[30], "G"));
    free(t);
    ck_assert_int_ne(pg_c_tokens("t.c", "int a; /* open", 14, &t, &n), 0);
    ck_assert_str_eq(pg_errmsg(), "t.c: unterminated comment");
    ck_assert_int_ne(pg_c_tokens("t.c", "char c = 'x;\n", 13, &t, &n), 0);
    ck_assert_str_eq(pg_errmsg(), "t.c: unterminated character literal");
}
END_TEST

/* Dead functions go with their prototypes and what only they called; what anything names
 * (a call, a table, a fixed source, a macro) stays. */
START_TEST(test_drop_unused)
{
    pg_csource s[] = {
        source("a.h", "int used(int x);\nint dead(int x);\nvoid by_table(void);\n"
                      "void by_device(void);\nint by_macro(void);\n", 0),
        source("a.c", "#include \"a.h\"\nstatic int helper(int x)\n{\nreturn x + 1;\n}\n"
                      "int dead(int x)\n{\nif (x) {\nreturn dead(x - 1);\n}\nreturn helper(x);\n}\n"
                      "int used(int x) { return x * 2; }\nvoid by_table(void) {}\n"
                      "void by_device(void) {}\nint by_macro(void) { return 3; }\n"
                      "static void (*const table[])(void) = {by_table};\n"
                      "#define CALL by_macro()\nint main(void) { return used(CALL) + (table != 0); }\n",
               0),
        source("k.cu", "extern \"C\" void k(void) { by_device(); }\n", 1),
        source("odd.c", "int lone(void) { return 1; }\nint broken(void) { {\n", 0),
        /* shapes left alone although unused: an attribute before the name, a second
         * declarator, a struct defined with the function, a #define inside */
        source("shapes.c", "static __attribute__((cold)) int cold_one(void) { return 1; }\n"
                           "static int counter, lone_helper(void);\n"
                           "struct pt { int x; } *make_pt(void) { return 0; }\n"
                           "static int with_macro(void)\n{\n#define SQ(x) ((x) * (x))\nreturn 0;\n}\n",
               0),
    };
    const char *shapes = strdup(s[4].text);
    size_t removed;
    ck_assert_int_eq(pg_c_drop_unused(s, 5, &removed), 0);
    ck_assert_uint_eq(removed, 2); /* dead, then helper */
    ck_assert_str_eq(s[0].text, "int used(int x);\nvoid by_table(void);\nvoid by_device(void);\n"
                                "int by_macro(void);\n");
    ck_assert_ptr_null(strstr(s[1].text, "helper"));
    ck_assert_ptr_null(strstr(s[1].text, "dead"));
    const char *kept[] = {"int used(int x) {", "void by_table(void) {}", "void by_device(void) {}",
                          "int by_macro(void) {", "int main(void)"};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        ck_assert_msg(strstr(s[1].text, kept[i]), "lost %s: %s", kept[i], s[1].text);
    ck_assert_str_eq(s[3].text, "int lone(void) { return 1; }\nint broken(void) { {\n");
    ck_assert_str_eq(s[4].text, shapes);
    free((char *)shapes);
    for (size_t i = 0; i < 5; i++)
        free(s[i].text);
}
END_TEST

/* Compiles the sources in dir (file names of s) and returns the program's output. */
static char *build_and_run(const char *dir, const pg_csource *s, size_t n)
{
    char cmd[4096];
    int k = snprintf(cmd, sizeof cmd, "cd '%s' && cc -std=c11 -Wall -Werror -I. -o prog", dir);
    for (size_t i = 0; i < n; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, s[i].path);
        ck_assert_int_eq(pg_write_file_atomic(path, s[i].text, s[i].len), 0);
        if (strstr(s[i].path, ".c"))
            k += snprintf(cmd + k, sizeof cmd - (size_t)k, " %s", s[i].path);
    }
    snprintf(cmd + k, sizeof cmd - (size_t)k, " -lm && ./prog > out.txt");
    ck_assert_msg(system(cmd) == 0, "build failed in %s", dir);
    char out[1200];
    snprintf(out, sizeof out, "%s/out.txt", dir);
    size_t len;
    unsigned char *text = t_read_bytes(out, &len);
    text = realloc(text, len + 1);
    text[len] = 0;
    return (char *)text;
}

/* One map over both files, names shortened, literals and the kept names untouched: the
 * program prints the same before and after. */
START_TEST(test_rename_keeps_meaning)
{
    static const char *const header =
        "#ifndef MINE_H\n#define MINE_H\n#include <stdio.h>\n#define SCALE(v) ((v) * factor)\n"
        "#define SHOW(e) printf(\"%s = %d\\n\", #e, (e))\n"
        "typedef struct { int count; double weight; } tally;\nextern int factor;\n"
        "int total(const tally *t, int n);\n#endif\n";
    static const char *const lib =
        "#include \"mine.h\"\nint factor = 3;\nint total(const tally *t, int n)\n{\n"
        "int count = 0;\nfor (int i = 0; i < n; i++) count += SCALE(t[i].count);\nreturn count;\n}\n";
    static const char *const prog =
        "#include <math.h>\n#include \"mine.h\"\n#ifdef NOT_DEFINED_ANYWHERE\n#error no\n#endif\n"
        "int main(void)\n{\ntally t[2] = {{.count = 2, .weight = 0.5}, {.count = 5}};\n"
        "printf(\"count weight total\\n\");\nSHOW(total(t, 2));\n"
        "printf(\"%.3f\\n\", sqrt(t[0].weight));\nreturn 0;\n}\n";
    pg_csource s[] = {source("mine.h", header, 0), source("lib.c", lib, 0),
                      source("prog.c", prog, 0)};
    const char *dir = t_tmp_path("rename");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    char *before = build_and_run(dir, s, 3);
    const char keep[] = "printf\nsqrt\nFILE\n";
    size_t renamed;
    ck_assert_int_eq(pg_c_rename(s, 3, keep, strlen(keep), &renamed), 0);
    /* MINE_H SCALE v factor SHOW e tally count weight total t n i lib's count... */
    ck_assert_uint_ge(renamed, 12);
    char *after = build_and_run(dir, s, 3);
    /* SHOW's #e quotes the renamed call: the one place renaming shows */
    ck_assert_ptr_nonnull(strstr(before, "count weight total\ntotal(t, 2) = 21\n0.707\n"));
    ck_assert_ptr_nonnull(strstr(after, "count weight total\n"));
    ck_assert_ptr_nonnull(strstr(after, " = 21\n0.707\n"));
    ck_assert_ptr_null(strstr(s[0].text, "tally"));
    ck_assert_ptr_nonnull(strstr(s[2].text, "NOT_DEFINED_ANYWHERE")); /* not #defined: kept */
    ck_assert(strstr(s[2].text, "sqrt(") && strstr(s[2].text, "main(void)"));
    ck_assert_ptr_null(strstr(s[1].text, "factor"));
    free(before);
    free(after);
    for (size_t i = 0; i < 3; i++)
        free(s[i].text);
}
END_TEST

/* A fixed source keeps its text and every name in it, in the other sources too; the
 * operands of ## keep theirs (what is pasted at a use is renamed with the use), and so do
 * the words of a #pragma and of an attribute. */
START_TEST(test_rename_fixed_and_paste)
{
    pg_csource s[] = {
        source("k.cu", "extern \"C\" __global__ void scale_rows(float *rows) {}\n", 1),
        source("l.c", "#define CAT(a, b) a##b\nint CAT(scale_, rows_count);\n"
                      "const char *kernel = \"scale_rows\";\nvoid launch(void) { scale_rows(0); }\n"
                      "static float buf[4] __attribute__((aligned(16)));\n"
                      "float sum(int n)\n{\nfloat acc = 0;\n"
                      "#pragma omp parallel for reduction(+:acc)\n"
                      "for (int i = 0; i < n; i++) acc += buf[i % 4];\nreturn acc;\n}\n",
               0)};
    const char *cu = s[0].text;
    ck_assert_int_eq(pg_c_rename(s, 2, "", 0, NULL), 0);
    ck_assert_ptr_eq(s[0].text, cu);
    ck_assert_ptr_nonnull(strstr(s[1].text, "a##b"));
    ck_assert_ptr_nonnull(strstr(s[1].text, "\"scale_rows\""));
    ck_assert_ptr_nonnull(strstr(s[1].text, " scale_rows(0)"));
    ck_assert_ptr_null(strstr(s[1].text, "launch"));
    /* the pragma's clause and its variable, the attribute's word */
    ck_assert_ptr_nonnull(strstr(s[1].text, "#pragma omp parallel for reduction(+:acc)\n"));
    ck_assert_ptr_nonnull(strstr(s[1].text, "acc += "));
    ck_assert_ptr_nonnull(strstr(s[1].text, "__attribute__((aligned(16)))"));
    ck_assert_ptr_null(strstr(s[1].text, "buf"));
    for (size_t i = 0; i < 2; i++)
        free(s[i].text);
}
END_TEST

/* Blanks go except where two tokens would merge; directive lines stay whole. */
START_TEST(test_squeeze)
{
    const char *in = "#define F(x) (x + 1)\nint a = b + +c, d = e - -f, *g = &h;\n"
                     "p -> q; i++; x = y / *z; w = 1e+ 5;\nvoid v(int n, ...);\n"
                     "const char *s = L \"w\" \"x\";\nreturn a\n+\n+b;\n#if X\n#endif\nint z;\n";
    const char *want = "#define F(x) (x + 1)\nint a=b+ +c,d=e- -f,*g=&h;p->q;i++;x=y/ *z;"
                       "w=1e+ 5;void v(int n,...);const char*s=L \"w\" \"x\";return a+ +b;\n"
                       "#if X\n#endif\nint z;\n";
    char *out;
    size_t n;
    ck_assert_int_eq(pg_c_squeeze("t.c", in, strlen(in), &out, &n), 0);
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(n, strlen(want));
    free(out);
    ck_assert_int_eq(pg_c_squeeze("t.c", "", 0, &out, &n), 0);
    ck_assert_str_eq(out, "");
    free(out);
}
END_TEST

/* Every name the system headers here declare that the box sources use is in the committed
 * list (else the renamer would rename a libc or CUDA name): the list's script, re-run. */
START_TEST(test_extern_names_current)
{
    if (access("/usr/local/cuda/include/cuda_runtime_api.h", R_OK) != 0 ||
        access("/usr/local/cuda/include/nccl.h", R_OK) != 0) {
        printf("SKIP: packager/box/extern_names.txt check: no CUDA toolkit headers in "
               "/usr/local/cuda/include\n");
        return;
    }
    const char *fresh = t_tmp_path("extern_names.txt");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && CUDA_HOME=/usr/local/cuda sh packager/box/extern_names.sh > '%s' && "
             "LC_ALL=C comm -23 '%s' packager/box/extern_names.txt > '%s.missing'",
             t_root(), fresh, fresh, fresh);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s.missing", fresh);
    size_t len;
    unsigned char *missing = t_read_bytes(cmd, &len);
    ck_assert_msg(len == 0, "packager/box/extern_names.txt lacks (re-run its script): %.*s",
                  (int)(len > 500 ? 500 : len), (const char *)missing);
    free(missing);
}
END_TEST

Suite *suite_shrink(void)
{
    Suite *s = suite_create("shrink");
    TCase *tc = tcase_create("shrink");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_tokens);
    tcase_add_test(tc, test_drop_unused);
    tcase_add_test(tc, test_rename_keeps_meaning);
    tcase_add_test(tc, test_rename_fixed_and_paste);
    tcase_add_test(tc, test_squeeze);
    tcase_add_test(tc, test_extern_names_current);
    suite_add_tcase(s, tc);
    return s;
}
