/* ip_keys.h — the storage contract: object keys and the bucket policy.
 *
 * One bucket holds everything. An original is at "o/<id>" and stays private;
 * a variant is at "v/<id>/<variant>.<ext>" (ext from ip_variants.h's format
 * table; "v/<id>/<variant>.v<N>.<ext>" when made by preset version N >= 2, so
 * the bytes of a key never change) and anyone may read it; a watermark logo
 * is at "p/logo/<sha256>.png" (private, like originals): the bucket policy grants anonymous
 * s3:GetObject on the keys under "v/" and nothing else. nginx serves "v/<rest>" as
 * "/media/<rest>". Every part that names an object builds the name here, and
 * the policy text comes only from here (storage-svc applies it at its start,
 * under compose too; scripts/stack, which sets up the native S3 before the
 * services, takes it from `imgctl bucket-policy`).
 *
 * Builders write into a caller's buffer of IP_KEY_MAX bytes and return
 * IP_INVALID_ARGUMENT when an id or part does not fit. Pure, thread-safe.
 */
#ifndef IP_KEYS_H
#define IP_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "ip_status.h"
#include "ip_variants.h"

/* Room for any key built here (ids are at most 64 bytes). */
#define IP_KEY_MAX 128
#define IP_KEY_ID_MAX 64

#define IP_KEY_ORIGINAL_PREFIX "o/" /* private */
#define IP_KEY_PUBLIC_PREFIX "v/"   /* public read, served under /media/ */
#define IP_MEDIA_PATH_PREFIX "/media/"
#define IP_KEY_LOGO_PREFIX "p/logo/" /* private */

/* "o/<id>". */
ip_status ip_key_original(char buf[IP_KEY_MAX], const char *id);
/* "v/<id>/<variant>.<ext>". */
ip_status ip_key_variant(char buf[IP_KEY_MAX], const char *id, ip_variant_kind kind,
                         const ip_format_def *fmt);
/* The key of a variant made by preset version `preset_version`: as
 * ip_key_variant for version <= 1, "v/<id>/<variant>.v<N>.<ext>" above. */
ip_status ip_key_variant_version(char buf[IP_KEY_MAX], const char *id, ip_variant_kind kind,
                                 const ip_format_def *fmt, int preset_version);
/* "p/logo/<sha256>.png" for the lowercase hex SHA-256 of a logo's bytes. */
ip_status ip_key_logo(char buf[IP_KEY_MAX], const char *sha256_hex);
/* True when `key` has exactly the form ip_key_logo makes. */
bool ip_key_is_logo(const char *key);
/* "v/<id>/": every variant of an image, for a prefix delete. */
ip_status ip_key_variant_prefix(char buf[IP_KEY_MAX], const char *id);

/* True when `key` lies in the public part of the bucket ("v/" and more). */
bool ip_key_is_public(const char *key);
/* "/media/<id>/<variant>.<ext>" for a public key; owned (free()); NULL when
 * `key` is not public or on out of memory. */
char *ip_key_media_path(const char *key);

/* The bucket policy for `bucket` as JSON: anyone may s3:GetObject on the
 * keys under "v/" of `bucket`, nothing else. Owned (free()); NULL on out of
 * memory or when `bucket` is not a valid S3 bucket name (3-63 characters of
 * a-z, 0-9, '.', '-'). */
char *ip_bucket_policy_json(const char *bucket);

#endif
