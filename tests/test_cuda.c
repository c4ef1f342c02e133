/* The CUDA backend's device module without a GPU (CUDA builds only): NVRTC, as the box
 * build uses it where nvcc is absent, compiles kernels/cuda/module.cu, and the cubin has
 * every kernel the host launchers launch by name; a broken source or a missing NVRTC is
 * one line naming the file. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "kernels/cuda/backend_cuda.h"
#include "tests/util.h"

/* The module compiled with the attention for head_dim hd (0: none), if NVRTC loads here
 * (the toolkit's, on pgolf's run path); else a SKIP line. */
static int have_nvrtc(int hd, unsigned char **image, size_t *len)
{
    if (pg_cuda_nvrtc_compile(t_root(), 9, 0, hd, image, len) == 0)
        return 1;
    if (strstr(pg_errmsg(), "cannot load NVRTC")) {
        printf("SKIP: %s\n", pg_errmsg());
        return 0;
    }
    ck_abort_msg("NVRTC failed on the module: %s", pg_errmsg());
    return 0;
}

/* Adds to names every kernel named at a launch in text: PG_LAUNCH(name, PG_LAUNCH_N(name,
 * LAUNCH_COLS(name, and the quoted "flash_..." entry points. */
static int launched_names(const char *text, char names[][64], int n, int max)
{
    static const char *const marks[] = {"PG_LAUNCH(", "PG_LAUNCH_N(", "LAUNCH_COLS(", "{\"flash_"};
    for (size_t m = 0; m < sizeof marks / sizeof *marks; m++)
        for (const char *p = strstr(text, marks[m]); p; p = strstr(p + 1, marks[m])) {
            const char *at = p + strlen(marks[m]) - (m == 3 ? 6 : 0);
            size_t len = strspn(at, "abcdefghijklmnopqrstuvwxyz_0123456789");
            if (len == 0 || len >= 64 || strncmp(at, "name", len) == 0 || n == max)
                continue; /* the macros' own definitions */
            memcpy(names[n], at, len);
            names[n++][len] = '\0';
        }
    return n;
}

static int contains(const unsigned char *hay, size_t n, const char *needle, size_t k)
{
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return 1;
    return 0;
}

START_TEST(test_nvrtc_module_has_every_kernel)
{
    unsigned char *image, *att;
    size_t len, att_len;
    if (!have_nvrtc(0, &image, &len) || !have_nvrtc(32, &att, &att_len))
        return;
    ck_assert_uint_gt(len, 1000);
    ck_assert(memcmp(image, "\177ELF", 4) == 0 && memcmp(att, "\177ELF", 4) == 0); /* cubins */
    char names[128][64];
    int n = 0;
    DIR *d = opendir(t_repo_path("kernels/cuda"));
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l < 9 || strcmp(e->d_name + l - 9, "_launch.c") != 0)
            continue;
        char rel[128];
        snprintf(rel, sizeof rel, "kernels/cuda/%s", e->d_name);
        unsigned char *text;
        size_t tl;
        ck_assert_int_eq(pg_read_file(t_repo_path(rel), 1 << 20, &text, &tl), 0);
        n = launched_names((const char *)text, names, n, 128);
        free(text);
    }
    closedir(d);
    ck_assert_int_ge(n, 40); /* every launcher was read */
    int checked = 0;
    for (int i = 0; i < n; i++) {
        /* the attention's in its head_dim's module (the 64 and 128 ones: the same macro) */
        int flash = strncmp(names[i], "flash_", 6) == 0;
        if (flash && strcmp(names[i] + strlen(names[i]) - 3, "_32") != 0)
            continue;
        char sym[66] = {0}; /* the name with the NULs around it in the string table */
        size_t sl = strlen(names[i]) + 2;
        memcpy(sym + 1, names[i], sl - 2);
        ck_assert_msg(flash ? contains(att, att_len, sym, sl) : contains(image, len, sym, sl),
                      "kernel %s is launched but not in the module", names[i]);
        ck_assert_msg(!flash || !contains(image, len, sym, sl), "%s in the module without it",
                      names[i]);
        checked++;
    }
    ck_assert_int_ge(checked, 35); /* 31 kernels and the 4 attention entries */
    free(image);
    free(att);
}
END_TEST

START_TEST(test_nvrtc_compile_error_names_the_file)
{
    unsigned char *image;
    size_t len;
    if (!have_nvrtc(0, &image, &len))
        return;
    free(image);
    const char *root = t_tmp_path("broken_module");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/kernels/cuda", root);
    ck_assert_int_eq(pg_mkdir_p(dir), 0);
    ck_assert_int_eq(pg_write_file_in(dir, "module.cu", "extern \"C\" __global__ void k( {\n", 32),
                     0);
    ck_assert_int_eq(pg_cuda_nvrtc_compile(root, 9, 0, 0, &image, &len), -1);
    ck_assert_ptr_null(image);
    ck_assert_msg(strstr(pg_errmsg(), "broken_module/kernels/cuda/module.cu") &&
                      strstr(pg_errmsg(), "error") && !strchr(pg_errmsg(), '\n'),
                  "%s", pg_errmsg());
    ck_assert_int_eq(pg_cuda_nvrtc_compile(t_tmp_path("no_such_root"), 9, 0, 0, &image, &len), -1);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "no_such_root/kernels/cuda/module.cu"));
}
END_TEST

/* In a child: NVRTC stays loaded once loaded. */
START_TEST(test_nvrtc_missing_library)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("PGOLF_NVRTC", "/nonexistent/libnvrtc.so.12", 1);
        unsigned char *image;
        size_t len;
        int refused = pg_cuda_nvrtc_compile(t_root(), 9, 0, 0, &image, &len) == -1 &&
                      strstr(pg_errmsg(), "/nonexistent/libnvrtc.so.12: cannot load NVRTC") &&
                      strstr(pg_errmsg(), "PGOLF_NVRTC");
        if (!refused)
            fprintf(stderr, "nvrtc_missing_library: %s\n", pg_errmsg());
        _exit(refused ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a missing NVRTC was not refused");
}
END_TEST

Suite *suite_cuda(void)
{
    Suite *s = suite_create("cuda");
    TCase *tc = tcase_create("module");
    tcase_set_timeout(tc, 600); /* NVRTC compiles the module three times */
    tcase_add_test(tc, test_nvrtc_missing_library);
    tcase_add_test(tc, test_nvrtc_module_has_every_kernel);
    tcase_add_test(tc, test_nvrtc_compile_error_names_the_file);
    suite_add_tcase(s, tc);
    return s;
}
