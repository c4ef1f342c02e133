/* pgolf selftest: a backend's ops against the CPU reference (kernels/selftest.c). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/commands.h"
#include "common/err.h"
#include "kernels/backend.h"
#include "kernels/selftest.h"

/* Exit status of a selftest that could not run here (automake's "skipped"). */
#define EXIT_SKIP 77

static void print_table(const pg_selftest_report *r, const char *device)
{
    printf("%-24s %-9s %-5s %12s %12s %9s  %s\n", "op", "shape", "mode", "max_abs", "max_rel",
           "tol", "result");
    for (int i = 0; i < r->n; i++) {
        const pg_selftest_row *w = &r->rows[i];
        printf("%-24s %-9s %-5s %12.3e %12.3e %9.1e  %s\n", w->op, w->shape, w->mode, w->max_abs,
               w->max_rel, w->tol, w->pass ? "PASS" : "FAIL");
    }
    printf("selftest: %d checks, %d failed (%s against the CPU reference)\n", r->n, r->failures,
           device);
}

static json_t *report_json(const pg_selftest_report *r, const char *backend, const char *device)
{
    json_t *rows = json_array();
    for (int i = 0; rows && i < r->n; i++) {
        const pg_selftest_row *w = &r->rows[i];
        json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:b}", "op", w->op,
                                              "shape", w->shape, "mode", w->mode, "max_abs",
                                              w->max_abs, "max_rel", w->max_rel, "tol", w->tol,
                                              "pass", w->pass));
    }
    return json_pack("{s:s, s:s, s:i, s:i, s:o}", "backend", backend, "device", device, "checks",
                     r->n, "failed", r->failures, "rows", rows);
}

int cmd_selftest(int argc, char **argv)
{
    static const struct option opts[] = {{"backend", required_argument, 0, 'b'},
                                         {"json", no_argument, 0, 'j'},
                                         {"tiny", no_argument, 0, 't'},
                                         {0, 0, 0, 0}};
    const char *name = "cuda";
    int as_json = 0, tiny = 0, c;
    optind = 1;
    while ((c = pg_cli_getopt(argc, argv, opts)) != -1) {
        if (c == 'b')
            name = optarg;
        else if (c == 'j')
            as_json = 1;
        else if (c == 't')
            tiny = 1;
        else
            return pg_cli_usage_error("selftest", "bad option");
    }
    if (optind != argc)
        return pg_cli_usage_error("selftest", "unexpected argument '%s'", argv[optind]);
    const pg_backend *be;
    char note[300];
    if (strcmp(name, "cpu") && strcmp(name, "cuda") && strcmp(name, "auto"))
        return pg_cli_usage_error("selftest", "--backend must be cpu, cuda or auto");
    if (pg_backend_select(name, &be, note, sizeof note) != 0) {
        printf("SKIP: pgolf selftest: %s\n", pg_errmsg());
        return EXIT_SKIP;
    }
    if (note[0])
        fprintf(stderr, "pgolf: %s\n", note);
    char device[300];
    be->describe(device, sizeof device);
    int (*set_bf16)(int) = be->linear_bf16;
    pg_selftest_report r;
    if (pg_selftest_ops(pg_backend_cpu(), be, !tiny, set_bf16, &r) != 0)
        return pg_cli_error();
    if (pg_selftest_model(pg_backend_cpu(), be, !tiny, set_bf16, &r) != 0) {
        pg_selftest_report_free(&r);
        return pg_cli_error();
    }
    int rc;
    if (as_json)
        rc = pg_cli_print_json(report_json(&r, be->name, device));
    else {
        print_table(&r, device);
        rc = 0;
    }
    if (rc == 0 && r.failures)
        rc = 1;
    pg_selftest_report_free(&r);
    return rc;
}
