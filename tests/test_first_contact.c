/* First contact: the README's main-job command, exactly as the README writes it, run in a
 * fresh clone of the commit (its install step finds every package present and changes
 * nothing), must succeed and end with the line the README says it ends with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util.h"

/* The README's one shell line that runs `./pgolf run`, and the text in backticks after
 * "its last line begins " (what the README promises the command prints last). */
static void readme_promise(char *cmd, size_t cmd_len, char *last, size_t last_len)
{
    char *text = t_read_text(t_repo_path("README.md"));
    ck_assert_ptr_nonnull(text);
    cmd[0] = last[0] = 0;
    for (char *line = text; line && *line;) {
        char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (!cmd[0] && n < cmd_len && strstr(line, "./pgolf run") && memchr(line, '&', n))
            snprintf(cmd, cmd_len, "%.*s", (int)n, line);
        line = end ? end + 1 : NULL;
    }
    for (char *c = text; *c; c++) /* the sentence may wrap */
        if (*c == '\n')
            *c = ' ';
    const char *key = "its last line begins `";
    char *p = strstr(text, key);
    ck_assert_msg(p, "README.md does not say what the main command's last line begins with");
    p += strlen(key);
    char *q = strchr(p, '`');
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_lt((size_t)(q - p), last_len);
    snprintf(last, last_len, "%.*s", (int)(q - p), p);
    free(text);
    ck_assert_msg(cmd[0], "README.md has no command line running ./pgolf run");
}

START_TEST(test_readme_main_command)
{
#if defined(__SANITIZE_ADDRESS__)
    T_SKIP("the README's command builds and runs the plain build: checked by `make check`");
#endif
    char cmd[1024], last[256], sh[4096];
    readme_promise(cmd, sizeof cmd, last, sizeof last);
    ck_assert_msg(!strchr(cmd, '\''), "the README's command has a quote: %s", cmd);
    snprintf(sh, sizeof sh, "git -C '%s' rev-parse --verify -q HEAD >/dev/null 2>&1", t_root());
    if (system(sh) != 0)
        T_SKIP("the source tree is not a git checkout: no commit to clone");
    /* the install step must have nothing to do: the suite never asks for root */
    snprintf(sh, sizeof sh, "'%s' --check >/dev/null", t_repo_path(".ci/install-deps"));
    if (system(sh) != 0)
        T_SKIP("a package of .ci/apt-packages is missing: run .ci/install-deps first");
    char clone[1100];
    snprintf(clone, sizeof clone, "%s", t_tmp_path("first_contact"));
    snprintf(sh, sizeof sh, "rm -rf '%s' && git clone -q '%s' '%s'", clone, t_root(), clone);
    ck_assert_int_eq(system(sh), 0);
    /* the command as written; only the environment is the test's (its own root, make's
     * job count) */
    snprintf(sh, sizeof sh,
             "cd '%s' && env -u PGOLF_ROOT -u PGOLF_BIN MAKEFLAGS=-j2 sh -c '%s' > out.txt 2>&1",
             clone, cmd);
    int st = system(sh);
    snprintf(sh, sizeof sh, "%s/out.txt", clone);
    char *out = t_read_text(sh);
    ck_assert_ptr_nonnull(out);
    size_t n = strlen(out);
    while (n && out[n - 1] == '\n')
        out[--n] = 0;
    char *tail = strrchr(out, '\n');
    tail = tail ? tail + 1 : out;
    ck_assert_msg(st == 0, "the README's command `%s` failed: %s", cmd,
                  n > 3000 ? out + n - 3000 : out);
    ck_assert_msg(strncmp(tail, last, strlen(last)) == 0,
                  "the README's command ended with '%s', the README says '%s'", tail, last);
    free(out);
    snprintf(sh, sizeof sh, "rm -rf '%s'", clone);
    ck_assert_int_eq(system(sh), 0);
}
END_TEST

Suite *suite_first_contact(void)
{
    Suite *s = suite_create("first_contact");
    TCase *tc = tcase_create("first_contact");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_readme_main_command);
    suite_add_tcase(s, tc);
    return s;
}
