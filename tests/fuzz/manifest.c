/* Run manifests: JSON, format, version and digest as found, then the schema checks again
 * with the digest recomputed so that mutations of the stages reach them. */
#include <jansson.h>
#include <stdlib.h>

#include "pipeline/manifest.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root;
    if (pg_manifest_parse("manifest.json", (const char *)data, size, &root) == 0) {
        json_decref(root);
        return 0;
    }
    json_error_t e;
    if (!(root = json_loadb((const char *)data, size, 0, &e)))
        return 0;
    if (json_is_object(root)) {
        char hex[PG_SHA256_HEX_LEN];
        pg_manifest_digest(root, hex);
        json_object_set_new(root, "digest", json_string(hex));
        size_t i;
        json_t *s;
        if (pg_manifest_check("manifest.json", root) == 0)
            json_array_foreach(json_object_get(root, "stages"), i, s)
            {
                /* a checked stage is found by its id */
                if (!pg_manifest_stage(root, json_string_value(json_object_get(s, "id"))))
                    abort();
            }
    }
    json_decref(root);
    return 0;
}
