/* The framing shared by checkpoints and artifacts: magic, version, lengths, checksum and
 * header JSON. */
#include <jansson.h>

#include "common/container.h"
#include "kernels/checkpoint.h"
#include "packager/artifact.h"
#include "tests/fuzz/fuzz.h"

static const pg_container_kind kKinds[] = {{PG_CKPT_MAGIC, PG_CKPT_VERSION, "checkpoint"},
                                           {PG_ART_MAGIC, PG_ART_VERSION, "artifact"}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t k = 0; k < sizeof kKinds / sizeof kKinds[0]; k++) {
        json_t *hdr;
        const unsigned char *payload;
        size_t plen;
        if (pg_container_parse(&kKinds[k], "fuzz", data, size, &hdr, &payload, &plen) == 0)
            json_decref(hdr);
    }
    return 0;
}
