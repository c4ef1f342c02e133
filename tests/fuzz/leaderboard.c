/* The challenge README's leaderboard tables (pgolf package --leaderboard). */
#include <math.h>
#include <stdlib.h>

#include "records/sota.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const tracks[] = {"10min_16mb", "non_record_16mb"};
    for (int t = 0; t < 2; t++) {
        pg_sota s;
        /* a SOTA found is a positive finite score */
        if (pg_sota_from_leaderboard_text("README.md", (const char *)data, size, tracks[t], &s) == 0 &&
            !(isfinite(s.value) && s.value > 0))
            abort();
    }
    return 0;
}
