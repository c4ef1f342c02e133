/* Artifact files as they come: framing, config, tensor and block tables, decoding. */
#include "packager/artifact.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pg_model m;
    json_t *info;
    if (pg_artifact_decode("fuzz.art", data, size, &m, &info) == 0) {
        json_decref(info);
        pg_model_free(&m);
    }
    return 0;
}
