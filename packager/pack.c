#include "packager/pack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"

int pg_pack_model(const char *out, const pg_model *m, const pg_quant_plan *plan,
                  long long code_bytes, pg_pack_stats *st, pg_ledger *led)
{
    memset(st, 0, sizeof *st);
    memset(led, 0, sizeof *led);
    unsigned char *image;
    if (pg_artifact_encode(out, m, plan, st, &image) != 0) {
        st->file_bytes = 0;
        return -1;
    }
    pg_ledger_compute(led, code_bytes, (long long)st->file_bytes);
    int rc = led->total > PG_SUBMISSION_CAP
                 ? pg_fail("%s: submission would be %lld bytes (code %lld + model %lld), over "
                           "the 16,000,000-byte cap by %lld; nothing written",
                           out, led->total, led->code_bytes, led->model_bytes, -led->remaining)
                 : pg_write_file_atomic(out, image, st->file_bytes);
    free(image);
    return rc;
}

void pg_pack_tag(const char *scheme, const pg_pack_stats *st, char *tag, size_t n)
{
    size_t k = (size_t)snprintf(tag, n, "%s+", scheme);
    int first = 1;
    for (int g = 0; g < PG_NUM_QGROUPS && k < n; g++) {
        const char *cn = pg_codec_name(st->codec[g].id);
        int seen = 0;
        for (int e = 0; e < g; e++)
            seen |= strcmp(pg_codec_name(st->codec[e].id), cn) == 0;
        if (!seen) {
            k += (size_t)snprintf(tag + k, n - k, "%s%s", first ? "" : "/", cn);
            first = 0;
        }
    }
}
