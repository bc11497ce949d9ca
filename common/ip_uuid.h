/* ip_uuid.h — UUIDs: v7 for new images (they sort by creation time), v4 for
 * request ids, and a strict parser for the canonical text form.
 */
#ifndef IP_UUID_H
#define IP_UUID_H

#include <stdbool.h>
#include <stdint.h>

#define IP_UUID_STRLEN 36 /* without the terminating NUL */

typedef struct ip_uuid {
    uint8_t b[16];
} ip_uuid;

/* A UUIDv7 (RFC 9562): 48-bit Unix ms, random rest; monotonic within a process. */
void ip_uuid_v7(ip_uuid *out);
/* A random UUIDv4. */
void ip_uuid_v4(ip_uuid *out);

/* Parses exactly 36 characters 8-4-4-4-12 of hex digits (either case), any
 * version. Returns false on anything else (length, characters, NULL). */
bool ip_uuid_parse(const char *s, ip_uuid *out);

/* True when `s` parses. */
bool ip_uuid_valid(const char *s);

/* Writes the lowercase canonical form and a NUL into out (37 bytes). */
void ip_uuid_format(const ip_uuid *u, char out[IP_UUID_STRLEN + 1]);

/* Convenience: a new v7 / v4 id written as text into out (37 bytes). */
void ip_uuid_v7_str(char out[IP_UUID_STRLEN + 1]);
void ip_uuid_v4_str(char out[IP_UUID_STRLEN + 1]);

#endif
