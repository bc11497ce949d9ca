/* proc_logo.h — watermark logos, decoded once and kept per process.
 *
 * A logo is a PNG in the private part of the bucket ("p/logo/<sha256>.png",
 * ip_keys.h). proc_logo_decode checks and decodes its bytes; the job fetches
 * them with storage-svc's GetObject the first time a preset names the key.
 * The decoded logos are kept in a small cache keyed by the key: keys are
 * content hashes, so a kept logo is never stale, and only the least
 * recently used is dropped when a new one needs room.
 */
#ifndef PROC_LOGO_H
#define PROC_LOGO_H

#include <stddef.h>
#include <vips/vips.h>

#include "ip_status.h"

#define PROC_LOGO_MAX_BYTES (4 * 1024 * 1024)
#define PROC_LOGO_MAX_SIDE 4096
#define PROC_LOGO_CACHE_SLOTS 8

/* Decodes the PNG `buf` into *out (a new reference: 8-bit sRGB with alpha,
 * in memory). IP_RESOURCE_EXHAUSTED for more than PROC_LOGO_MAX_BYTES or a
 * side over PROC_LOGO_MAX_SIDE, IP_INVALID_ARGUMENT for anything that is not
 * a PNG that decodes; `err` gets the reason. */
ip_status proc_logo_decode(const void *buf, size_t len, VipsImage **out, char *err, size_t errlen);

/* A new reference to the kept logo of `key`, or NULL. Thread-safe. */
VipsImage *proc_logo_cached(const char *key);

/* Keeps `im` (a reference is taken) as the logo of `key`. Thread-safe. */
void proc_logo_keep(const char *key, VipsImage *im);

/* Drops every kept logo (at exit, so leak checkers see no reference). */
void proc_logo_free(void);

#endif
