/* The restricted unpickler alone, on data.pkl bytes (no zip around them). */
#include "packager/pickle.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pg_pickle p;
    if (pg_pickle_load("fuzz.pkl", data, size, &p) == 0) {
        (void)pg_py_get(p.root, "__quant_format__");
        pg_pickle_free(&p);
    }
    return 0;
}
