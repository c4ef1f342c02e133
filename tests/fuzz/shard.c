/* Token shards: the header checks and token ids against the sample's vocab. */
#include <stdlib.h>

#include "dataset/shard.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint16_t *tokens;
    size_t n;
    if (pg_shard_parse("fuzz.bin", data, size, 1024, &tokens, &n) == 0) {
        if (pg_count_documents(tokens, n) > n)
            abort();
        free(tokens);
    }
    return 0;
}
