/* lrzip streams (the best record's per-group container, DESIGN §11), decoded by the
 * lrzip program: its ZPAQ back end has no library to link. Debian's lrzip package
 * (lrzip 0.651) provides it; .ci/apt-packages installs it. */
#ifndef PG_LRZIP_H
#define PG_LRZIP_H

#include <stddef.h>
#include <stdint.h>

/* Decodes one stream through `lrzip -d` in a private scratch folder (removed after);
 * `what` names it in messages. Fails when lrzip is missing or refuses the stream, or
 * when the output exceeds limit bytes. *out is malloc'ed. */
int pg_lrzip_decode(const char *what, const uint8_t *in, size_t n, size_t limit, uint8_t **out,
                    size_t *out_n);

#endif
