/* The file framing shared by checkpoints and artifacts:
 *
 *   magic (8 bytes) | u32 version | u32 header_len | header JSON | u64 payload_len
 *   | payload | SHA-256 of every byte before it
 *
 * (little-endian). Parsing checks the magic, version, that the declared lengths fill the
 * file exactly, the checksum and the header JSON, each failure a one-line message naming
 * the file. */
#ifndef PG_CONTAINER_H
#define PG_CONTAINER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *magic; /* 8 characters */
    uint32_t version;
    const char *kind;  /* "checkpoint", "artifact": used in messages */
} pg_container_kind;

void pg_put_le(unsigned char *p, uint64_t v, int n);
uint64_t pg_get_le(const unsigned char *p, int n);

/* A file image with the header in place and room for plen payload bytes at *payload;
 * fill the payload, then pg_container_seal. NULL when out of memory. */
unsigned char *pg_container_build(const pg_container_kind *k, const char *header, size_t plen,
                                  unsigned char **payload, size_t *total);
void pg_container_seal(unsigned char *buf, size_t total);

/* Verifies buf (the whole file) and returns the header (new reference) and the payload
 * (pointing into buf). */
int pg_container_parse(const pg_container_kind *k, const char *path, const unsigned char *buf,
                       size_t len, json_t **hdr, const unsigned char **payload, size_t *plen);

#endif
