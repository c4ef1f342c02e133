/* Checkpoint files as they come: framing, config, tensor table and the training extras. */
#include <stdlib.h>

#include "kernels/checkpoint.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pg_model m;
    json_t *meta;
    if (pg_checkpoint_decode("fuzz.ckpt", data, size, &m, &meta, NULL, 0) != 0)
        return 0;
    json_decref(meta);
    pg_model_free(&m);
    /* the optimizer state train --resume loads */
    pg_ckpt_extra ex[3] = {{"optim.adam_m", NULL}, {"optim.adam_v", NULL}, {"optim.muon_buf", NULL}};
    if (pg_checkpoint_decode("fuzz.ckpt", data, size, &m, NULL, ex, 3) == 0) {
        for (int i = 0; i < 3; i++)
            free(ex[i].data);
        pg_model_free(&m);
    }
    return 0;
}
