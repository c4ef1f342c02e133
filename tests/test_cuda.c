/* The CUDA backend's device module without a GPU (CUDA builds only): NVRTC, as the box
 * build uses it where nvcc is absent, compiles kernels/cuda/module.cu (as in the repository
 * and as train_gpt.py ships it), and the cubin has every kernel the host launchers launch
 * by name; a broken source or a missing NVRTC is one line naming the file. */
#include <dirent.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "kernels/cuda/backend_cuda.h"
#include "packager/selfextract.h"
#include "tests/util.h"

/* The module under root compiled with the attention for head_dim hd (0: none), if NVRTC
 * loads here (the toolkit's, on pgolf's run path); else a SKIP line. */
static int have_nvrtc_at(const char *root, int hd, unsigned char **image, size_t *len)
{
    if (pg_cuda_nvrtc_compile(root, 9, 0, hd, image, len) == 0)
        return 1;
    if (strstr(pg_errmsg(), "cannot load NVRTC")) {
        printf("SKIP: %s\n", pg_errmsg());
        return 0;
    }
    ck_abort_msg("NVRTC failed on the module: %s", pg_errmsg());
    return 0;
}

static int have_nvrtc(int hd, unsigned char **image, size_t *len)
{
    return have_nvrtc_at(t_root(), hd, image, len);
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

/* The module under root has every kernel the repository's launchers launch by name, and
 * the attention's entries only in its head_dim's module. */
static void check_every_kernel(const char *root)
{
    unsigned char *image, *att;
    size_t len, att_len;
    if (!have_nvrtc_at(root, 0, &image, &len) || !have_nvrtc_at(root, 32, &att, &att_len))
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

START_TEST(test_nvrtc_module_has_every_kernel)
{
    check_every_kernel(t_root());
}
END_TEST

/* The same for the module as train_gpt.py ships it: the box archive's sources (shrunk,
 * docs/box.md), unpacked as the script unpacks them. */
START_TEST(test_nvrtc_box_module_has_every_kernel)
{
    unsigned char *arc, *text = NULL;
    size_t alen, cap = (size_t)32 << 20, n = 0, in_pos = 0;
    ck_assert_int_eq(pg_source_archive(t_root(), &arc, &alen), 0);
    lzma_options_lzma opt;
    ck_assert_int_eq(lzma_lzma_preset(&opt, 9 | LZMA_PRESET_EXTREME), 0);
    lzma_filter f[] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    text = malloc(cap);
    ck_assert_int_eq(lzma_raw_buffer_decode(f, NULL, arc, &in_pos, alen, text, &n, cap), LZMA_OK);
    free(arc);
    const char *root = t_tmp_path("box_module");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
    const unsigned char *p = memchr(text, 0, n), *end = text + n; /* after the script's body */
    ck_assert_ptr_nonnull(p);
    for (p++; p < end;) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        ck_assert_ptr_nonnull(nl);
        char rel[256], path[1000];
        snprintf(rel, sizeof rel, "%.*s", (int)(nl - p), (const char *)p);
        size_t size = strtoul((const char *)nl + 1, NULL, 10);
        p = (const unsigned char *)strchr((const char *)nl + 1, '\n') + 1;
        snprintf(path, sizeof path, "%s/%s", root, rel);
        *strrchr(path, '/') = '\0';
        ck_assert_int_eq(pg_mkdir_p(path), 0);
        ck_assert_int_eq(pg_write_file_in(path, strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel,
                                          p, size), 0);
        p += size;
    }
    free(text);
    check_every_kernel(root);
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
    tcase_set_timeout(tc, 900); /* NVRTC compiles the module five times */
    tcase_add_test(tc, test_nvrtc_missing_library);
    tcase_add_test(tc, test_nvrtc_module_has_every_kernel);
    tcase_add_test(tc, test_nvrtc_box_module_has_every_kernel);
    tcase_add_test(tc, test_nvrtc_compile_error_names_the_file);
    suite_add_tcase(s, tc);
    return s;
}
