/* Structure-aware checkpoints and artifacts. The input is a kind byte ('A' for an
 * artifact, anything else a checkpoint), the header JSON up to the first NUL, then the
 * payload; the harness frames and seals them (lengths, SHA-256) as the writers do, so
 * every mutation gets past the checksum to the config, the tables and the decoders. */
#include <stdlib.h>
#include <string.h>

#include "common/container.h"
#include "kernels/checkpoint.h"
#include "packager/artifact.h"
#include "tests/fuzz/fuzz.h"

static const pg_container_kind kCkpt = {PG_CKPT_MAGIC, PG_CKPT_VERSION, "checkpoint"};
static const pg_container_kind kArt = {PG_ART_MAGIC, PG_ART_VERSION, "artifact"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int art = data[0] == 'A';
    const uint8_t *parts[2];
    size_t lens[2];
    size_t n = fz_split(data + 1, size - 1, 0, parts, lens, 2);
    char *header = strndup((const char *)parts[0], lens[0]);
    size_t plen = n == 2 ? lens[1] : 0, total;
    unsigned char *payload, *buf = header ? pg_container_build(art ? &kArt : &kCkpt, header, plen,
                                                               &payload, &total)
                                          : NULL;
    free(header);
    if (!buf)
        abort();
    if (plen)
        memcpy(payload, parts[1], plen);
    pg_container_seal(buf, total);
    pg_model m;
    json_t *hdr;
    if (art ? pg_artifact_decode("fuzz.art", buf, total, &m, &hdr) == 0
            : pg_checkpoint_decode("fuzz.ckpt", buf, total, &m, &hdr, NULL, 0) == 0) {
        json_decref(hdr);
        pg_model_free(&m);
    }
    free(buf);
    return 0;
}
