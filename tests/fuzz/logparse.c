/* Training and eval logs in the challenge's shapes (pgolf's and train_gpt.py's): the
 * summary and the loss curves. */
#include <math.h>
#include <stdlib.h>

#include "packager/logparse.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pg_log_summary s;
    if (pg_log_parse_text("train_seed1337.log", (const char *)data, size, &s) == 0) {
        pg_log_num ev = pg_log_eval_seconds(&s);
        /* a field found is found on a line of the log (the seed may come from the name) */
        if (ev.line > s.lines || s.val_bpb.line > s.lines || s.seed.line < -1 ||
            s.seed.line > s.lines)
            abort();
    }
    /* the loss curves: as many points as step lines at most, each a number read */
    pg_log_curves c;
    if (pg_log_curves_text("train_seed1337.log", (const char *)data, size, &c) == 0) {
        if (c.train.n > size || c.val.n > size)
            abort();
        pg_log_curves_free(&c);
    }
    return 0;
}
