/* ip_access.h — owner tokens and API keys: their form, their hash, their scopes.
 *
 * Two kinds of secret travel as `Authorization: Bearer <secret>`:
 *   - an owner token, "ipo_" + 43 base64url characters (256 random bits),
 *     made by the gateway for each upload and shown once in its 202;
 *   - an API key, "ipk_" + 43 base64url characters, made by `imgctl keys
 *     create` and shown once.
 * Only ip_access_hash() of a secret (hex SHA-256) is stored or sent between
 * the parts; a stored hash is compared with ip_access_hash_equal() (constant
 * time). A secret is never logged: log ip_access_prefix() of it at most.
 *
 * Scopes (ApiScope in proto/metadata.proto) have one name each on the command
 * line, in REST and in PostgreSQL: read, upload, delete, admin. A set of
 * scopes is a bit mask (1u << scope); admin implies every other.
 */
#ifndef IP_ACCESS_H
#define IP_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_status.h"
#include "metadata.pb-c.h"

#define IP_OWNER_TOKEN_PREFIX "ipo_"
#define IP_API_KEY_PREFIX "ipk_"
/* prefix (4) + 43 base64url characters + NUL */
#define IP_SECRET_LEN 47
#define IP_SECRET_MAX (IP_SECRET_LEN + 1)
/* 64 hex digits + NUL */
#define IP_ACCESS_HASH_MAX 65
/* what lists show of a key: its prefix and 8 characters */
#define IP_KEY_PREFIX_LEN 12

typedef enum ip_secret_kind {
    IP_SECRET_NONE = 0, /* not of either form */
    IP_SECRET_OWNER,
    IP_SECRET_KEY,
} ip_secret_kind;

/* A new secret of `kind` (256 bits from getrandom) into out[IP_SECRET_MAX].
 * IP_INTERNAL when the system gives no randomness. */
ip_status ip_access_new_secret(ip_secret_kind kind, char out[IP_SECRET_MAX]);

/* The kind of a presented secret by its form (prefix, length, alphabet). */
ip_secret_kind ip_access_kind(const char *secret);

/* hex SHA-256 of `secret` into out[IP_ACCESS_HASH_MAX]. */
void ip_access_hash(const char *secret, char out[IP_ACCESS_HASH_MAX]);

/* true when the two hex hashes are equal, in time independent of where they
 * differ. false when either is NULL or empty. */
bool ip_access_hash_equal(const char *a, const char *b);

/* The first IP_KEY_PREFIX_LEN characters of a key, for lists and logs. */
void ip_access_prefix(const char *secret, char out[IP_KEY_PREFIX_LEN + 1]);

/* Scope names: "read", "upload", "delete", "admin"; NULL for an unknown one. */
const char *ip_scope_name(Imageproc__ApiScope s);
/* IP_INVALID_ARGUMENT for a name that is not a scope. */
ip_status ip_scope_parse(const char *name, Imageproc__ApiScope *out);
/* "read,upload" → mask; IP_INVALID_ARGUMENT (err says which) for an unknown
 * or repeated name or an empty list. */
ip_status ip_scopes_parse_list(const char *list, uint32_t *mask, char *err, size_t errlen);
/* The mask of a key's scopes. */
uint32_t ip_scopes_mask(const Imageproc__ApiScope *scopes, size_t n);
/* true when `mask` grants `s` (admin grants everything). */
bool ip_scopes_allow(uint32_t mask, Imageproc__ApiScope s);

#endif
