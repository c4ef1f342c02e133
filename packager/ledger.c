#include "packager/ledger.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"

int pg_ledger_code_bytes(const char *code_path, long long *bytes)
{
    struct stat st;
    if (stat(code_path, &st) != 0)
        return pg_fail("%s: cannot stat code file: %s", code_path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return pg_fail("%s: code is not a regular file", code_path);
    *bytes = (long long)st.st_size;
    return 0;
}

void pg_ledger_compute(pg_ledger *l, long long code_bytes, long long model_bytes)
{
    l->code_bytes = code_bytes;
    l->model_bytes = model_bytes;
    l->total = code_bytes + model_bytes;
    l->remaining = PG_SUBMISSION_CAP - l->total;
}

void pg_ledger_print(const pg_ledger *l, const char *tag, FILE *out)
{
    fprintf(out, "Serialized model %s: %lld bytes\n", tag, l->model_bytes);
    fprintf(out, "Code size: %lld bytes\n", l->code_bytes);
    fprintf(out, "Total submission size %s: %lld bytes\n", tag, l->total);
}

void pg_ledger_print_budget(const pg_ledger *l, const pg_pack_stats *st, FILE *out)
{
    int order[PG_NUM_QGROUPS];
    for (int g = 0; g < PG_NUM_QGROUPS; g++)
        order[g] = g;
    for (int i = 1; i < PG_NUM_QGROUPS; i++) /* insertion sort, largest first */
        for (int j = i; j > 0 && st->compressed[order[j]] > st->compressed[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    fprintf(out, "budget: cap 16,000,000 bytes, used %lld, %s %lld\n", l->total,
            l->remaining >= 0 ? "remaining" : "OVER BY", l->remaining >= 0 ? l->remaining : -l->remaining);
    for (int i = 0; i < PG_NUM_QGROUPS; i++) {
        int g = order[i];
        fprintf(out, "budget: %-8s %10zu bytes (%5.1f%% of the model)\n",
                pg_qgroup_name((pg_qgroup)g), st->compressed[g],
                l->model_bytes > 0 ? 100.0 * (double)st->compressed[g] / (double)l->model_bytes : 0.0);
    }
    fprintf(out, "budget: code     %10lld bytes\n", l->code_bytes);
}
