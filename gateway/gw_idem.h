/* gw_idem.h — idempotent uploads: the Idempotency-Key header's form, and the
 * first answer's body sealed so that only a request with the same bytes can
 * read it back.
 *
 * The record of an upload with an Idempotency-Key (IdempotencyRecord, kept by
 * metadata-svc) holds the first 202's body, owner token included. The body
 * is stored sealed: AES-256-GCM under a key derived from the uploaded bytes,
 * SHA-256("imageprocessor idempotency v1" 0x00 || bytes), which is not the
 * plain SHA-256 that the record and the row keep — the database alone cannot
 * open it, a retry carrying the same bytes can. The nonce is 12 random bytes;
 * the additional data is scope 0x00 key, so a sealed body moved to another
 * record does not open. sealed = nonce || ciphertext || tag.
 */
#ifndef GW_IDEM_H
#define GW_IDEM_H

#include <stdbool.h>
#include <stddef.h>

#include "ip_status.h"

#define GW_IDEM_KEY_MAX 255 /* the header's longest value */
#define GW_IDEM_NONCE_BYTES 12
#define GW_IDEM_TAG_BYTES 16
#define GW_IDEM_OVERHEAD (GW_IDEM_NONCE_BYTES + GW_IDEM_TAG_BYTES)
#define GW_IDEM_SEALED_MAX 8192 /* what a record may hold (sql/0005) */
#define GW_IDEM_BODY_MAX (GW_IDEM_SEALED_MAX - GW_IDEM_OVERHEAD)

/* The key that seals an upload's first answer (32 bytes). */
typedef struct gw_idem_secret {
    unsigned char k[32];
} gw_idem_secret;

/* True when `v` is a usable Idempotency-Key: 1..255 bytes, each 0x21..0x7e. */
bool gw_idem_key_valid(const char *v);

/* One pass over the uploaded bytes: their SHA-256 as 64 lowercase hex digits
 * (what the row and the record keep) and, when `secret` is not NULL, the
 * sealing key derived from them. */
void gw_idem_digest(const void *data, size_t len, char sha_hex[65], gw_idem_secret *secret);

/* Seals `body` (blen bytes, at most GW_IDEM_BODY_MAX) for the record (scope,
 * key) into `out` (cap bytes, at least blen + GW_IDEM_OVERHEAD); *outlen set.
 * IP_INVALID_ARGUMENT when it does not fit, IP_INTERNAL when the library or
 * the random source fails. */
ip_status gw_idem_seal(const gw_idem_secret *secret, const char *scope, const char *key,
                       const void *body, size_t blen, unsigned char *out, size_t cap,
                       size_t *outlen);

/* Opens what gw_idem_seal made into `out` (cap bytes; the text is
 * NUL-terminated, so cap must exceed the body's length); *outlen set. Any
 * mismatch — other bytes (so another secret), another scope or key, a
 * changed or cut sealed text — is IP_FAILED_PRECONDITION with `out` emptied;
 * a body that does not fit `out`, IP_INVALID_ARGUMENT. */
ip_status gw_idem_open(const gw_idem_secret *secret, const char *scope, const char *key,
                       const unsigned char *sealed, size_t slen, char *out, size_t cap,
                       size_t *outlen);

#endif
