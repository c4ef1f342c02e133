#include "common/container.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/sha256.h"

#define MAGIC_LEN 8
#define PREFIX_LEN (MAGIC_LEN + 4 + 4)

void pg_put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t pg_get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

unsigned char *pg_container_build(const pg_container_kind *k, const char *header, size_t plen,
                                  unsigned char **payload, size_t *total)
{
    size_t hlen = strlen(header);
    *total = PREFIX_LEN + hlen + 8 + plen + PG_SHA256_LEN;
    unsigned char *buf = malloc(*total);
    if (!buf)
        return NULL;
    memcpy(buf, k->magic, MAGIC_LEN);
    pg_put_le(buf + MAGIC_LEN, k->version, 4);
    pg_put_le(buf + MAGIC_LEN + 4, hlen, 4);
    memcpy(buf + PREFIX_LEN, header, hlen);
    pg_put_le(buf + PREFIX_LEN + hlen, plen, 8);
    *payload = buf + PREFIX_LEN + hlen + 8;
    return buf;
}

void pg_container_seal(unsigned char *buf, size_t total)
{
    pg_sha256(buf, total - PG_SHA256_LEN, buf + total - PG_SHA256_LEN);
}

int pg_container_parse(const pg_container_kind *k, const char *path, const unsigned char *buf,
                       size_t len, json_t **hdr, const unsigned char **payload, size_t *plen)
{
    *hdr = NULL;
    if (len < PREFIX_LEN || memcmp(buf, k->magic, MAGIC_LEN) != 0)
        return pg_fail("%s: not a pgolf %s (bad magic)", path, k->kind);
    uint32_t version = (uint32_t)pg_get_le(buf + MAGIC_LEN, 4);
    if (version != k->version)
        return pg_fail("%s: %s version %u is not supported (this pgolf reads %u)", path, k->kind,
                       version, k->version);
    size_t hlen = (size_t)pg_get_le(buf + MAGIC_LEN + 4, 4);
    if (hlen > len - PREFIX_LEN || len - PREFIX_LEN - hlen < 8 + PG_SHA256_LEN)
        return pg_fail("%s: truncated %s (%zu bytes; its header alone needs %zu)", path, k->kind,
                       len, PREFIX_LEN + hlen + 8 + PG_SHA256_LEN);
    uint64_t declared = pg_get_le(buf + PREFIX_LEN + hlen, 8);
    size_t room = len - PREFIX_LEN - hlen - 8 - PG_SHA256_LEN;
    if (declared != room)
        return pg_fail("%s: %s %s: payload declared %llu bytes, file holds %zu", path,
                       declared > room ? "truncated" : "oversized", k->kind,
                       (unsigned long long)declared, room);
    uint8_t digest[PG_SHA256_LEN];
    pg_sha256(buf, len - PG_SHA256_LEN, digest);
    if (memcmp(digest, buf + len - PG_SHA256_LEN, PG_SHA256_LEN) != 0)
        return pg_fail("%s: checksum mismatch: the %s is damaged", path, k->kind);
    json_error_t jerr;
    *hdr = json_loadb((const char *)buf + PREFIX_LEN, hlen, 0, &jerr);
    if (!*hdr)
        return pg_fail("%s: header JSON: %s", path, jerr.text);
    *payload = buf + PREFIX_LEN + hlen + 8;
    *plen = room;
    return 0;
}
