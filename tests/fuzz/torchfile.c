/* PyTorch model files as they come: wrappers (zlib, xz, zstd, brotli, BSHF), the zip, the
 * restricted unpickler, the three state-dict layouts and the mapping to a pgolf model. */
#include "packager/torchimport.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pg_torch_state st;
    if (pg_torch_decode("fuzz.pt", data, size, &st) != 0)
        return 0;
    pg_model m;
    if (pg_torch_to_model("fuzz.pt", &st, NULL, &m) == 0)
        pg_model_free(&m);
    pg_torch_state_free(&st);
    return 0;
}
