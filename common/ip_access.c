/* ip_access.c — owner tokens and API keys: making them, recognising their
 * form, hashing and comparing them, and the names and masks of scopes.
 *
 * A secret is a prefix ("ipo_" for an owner token, "ipk_" for an API key) and
 * the base64url spelling, without padding, of 32 bytes from getrandom(2): 43
 * characters. Its hash, the only thing stored or sent between the services, is
 * the lowercase hex SHA-256 (OpenSSL EVP) of the whole secret, prefix
 * included, so the two kinds never share a hash. Hashes are compared with
 * CRYPTO_memcmp, whose time does not depend on where two hashes differ: a
 * caller probing with guessed secrets learns nothing from how long a refusal
 * takes. Nothing here logs; a caller that must name a secret logs
 * ip_access_prefix() of it.
 *
 * Scopes are the ApiScope enum of proto/metadata.proto; this file holds their
 * one spelling ("read", "upload", "delete", "admin") for the command line,
 * REST and PostgreSQL. A set of scopes is a mask of 1u << scope, and admin
 * grants every scope.
 */
#include "ip_access.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define SECRET_BYTES 32
#define SECRET_B64_LEN 43 /* base64url of 32 bytes, no padding */
#define PREFIX_LEN 4      /* "ipo_" / "ipk_" */

_Static_assert(PREFIX_LEN + SECRET_B64_LEN == IP_SECRET_LEN, "secret length");
_Static_assert(sizeof(IP_OWNER_TOKEN_PREFIX) - 1 == PREFIX_LEN, "owner prefix length");
_Static_assert(sizeof(IP_API_KEY_PREFIX) - 1 == PREFIX_LEN, "key prefix length");

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ------------------------------------------------------------------ secrets */

/* Fills buf with n bytes from the kernel's generator; false when it gives none. */
static bool random_bytes(unsigned char *buf, size_t n)
{
    while (n > 0) {
        ssize_t r = getrandom(buf, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        buf += r;
        n -= (size_t)r;
    }
    return true;
}

/* base64url of in[0..n) without padding into out (NUL-terminated); out must
 * hold (4 * n + 2) / 3 + 1 bytes. */
static void b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
        out[o++] = b64url[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
    }
    out[o] = '\0';
}

static const char *kind_prefix(ip_secret_kind kind)
{
    switch (kind) {
    case IP_SECRET_OWNER:
        return IP_OWNER_TOKEN_PREFIX;
    case IP_SECRET_KEY:
        return IP_API_KEY_PREFIX;
    default:
        return NULL;
    }
}

ip_status ip_access_new_secret(ip_secret_kind kind, char out[IP_SECRET_MAX])
{
    unsigned char raw[SECRET_BYTES];
    const char *prefix = kind_prefix(kind);
    out[0] = '\0';
    if (prefix == NULL)
        return IP_INVALID_ARGUMENT;
    if (!random_bytes(raw, sizeof raw))
        return IP_INTERNAL;
    memcpy(out, prefix, PREFIX_LEN);
    b64url_encode(raw, sizeof raw, out + PREFIX_LEN);
    OPENSSL_cleanse(raw, sizeof raw);
    return IP_OK;
}

static bool is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

ip_secret_kind ip_access_kind(const char *secret)
{
    if (secret == NULL || strnlen(secret, IP_SECRET_MAX) != IP_SECRET_LEN)
        return IP_SECRET_NONE;
    for (size_t i = PREFIX_LEN; i < IP_SECRET_LEN; i++)
        if (!is_b64url(secret[i]))
            return IP_SECRET_NONE;
    if (memcmp(secret, IP_OWNER_TOKEN_PREFIX, PREFIX_LEN) == 0)
        return IP_SECRET_OWNER;
    if (memcmp(secret, IP_API_KEY_PREFIX, PREFIX_LEN) == 0)
        return IP_SECRET_KEY;
    return IP_SECRET_NONE;
}

/* ------------------------------------------------------------------ hashes */

void ip_access_hash(const char *secret, char out[IP_ACCESS_HASH_MAX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    const char *s = secret != NULL ? secret : "";
    out[0] = '\0';
    /* SHA-256 of a memory buffer fails only when OpenSSL cannot allocate. */
    if (EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return;
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * n] = '\0';
}

bool ip_access_hash_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return false;
    size_t la = strnlen(a, IP_ACCESS_HASH_MAX), lb = strnlen(b, IP_ACCESS_HASH_MAX);
    /* The length of a hash is no secret (always 64): only the bytes are
     * compared in constant time. */
    if (la == 0 || la != lb)
        return false;
    return CRYPTO_memcmp(a, b, la) == 0;
}

void ip_access_prefix(const char *secret, char out[IP_KEY_PREFIX_LEN + 1])
{
    size_t n = secret != NULL ? strnlen(secret, IP_KEY_PREFIX_LEN) : 0;
    if (n > 0)
        memcpy(out, secret, n);
    out[n] = '\0';
}

/* ------------------------------------------------------------------ scopes */

static const char *const scope_names[] = {
    [IMAGEPROC__API_SCOPE__API_SCOPE_READ] = "read",
    [IMAGEPROC__API_SCOPE__API_SCOPE_UPLOAD] = "upload",
    [IMAGEPROC__API_SCOPE__API_SCOPE_DELETE] = "delete",
    [IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN] = "admin",
};
#define SCOPE_END ((int)(sizeof scope_names / sizeof scope_names[0]))

const char *ip_scope_name(Imageproc__ApiScope s)
{
    if ((int)s <= 0 || (int)s >= SCOPE_END)
        return NULL;
    return scope_names[s];
}

/* The scope spelled by name[0..n); API_SCOPE_UNSPECIFIED for none. */
static Imageproc__ApiScope scope_by_name(const char *name, size_t n)
{
    for (int i = 1; i < SCOPE_END; i++)
        if (strlen(scope_names[i]) == n && memcmp(scope_names[i], name, n) == 0)
            return (Imageproc__ApiScope)i;
    return IMAGEPROC__API_SCOPE__API_SCOPE_UNSPECIFIED;
}

ip_status ip_scope_parse(const char *name, Imageproc__ApiScope *out)
{
    Imageproc__ApiScope s = name != NULL ? scope_by_name(name, strlen(name))
                                         : IMAGEPROC__API_SCOPE__API_SCOPE_UNSPECIFIED;
    if (s == IMAGEPROC__API_SCOPE__API_SCOPE_UNSPECIFIED)
        return IP_INVALID_ARGUMENT;
    *out = s;
    return IP_OK;
}

static uint32_t scope_bit(Imageproc__ApiScope s)
{
    return (int)s > 0 && (int)s < SCOPE_END ? 1u << s : 0;
}

static ip_status list_error(char *err, size_t errlen, const char *what, const char *name, size_t n)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s \"%.*s\" (scopes: read, upload, delete, admin)", what,
                 (int)(n > 40 ? 40 : n), name);
    return IP_INVALID_ARGUMENT;
}

ip_status ip_scopes_parse_list(const char *list, uint32_t *mask, char *err, size_t errlen)
{
    *mask = 0;
    if (list == NULL || list[0] == '\0') {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "no scopes (want some of read, upload, delete, admin)");
        return IP_INVALID_ARGUMENT;
    }
    uint32_t m = 0;
    for (const char *p = list;;) {
        size_t n = strcspn(p, ",");
        Imageproc__ApiScope s = scope_by_name(p, n);
        if (n == 0)
            return list_error(err, errlen, "empty scope name in", list, strlen(list));
        if (s == IMAGEPROC__API_SCOPE__API_SCOPE_UNSPECIFIED)
            return list_error(err, errlen, "unknown scope", p, n);
        if (m & scope_bit(s))
            return list_error(err, errlen, "scope given twice:", p, n);
        m |= scope_bit(s);
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    *mask = m;
    return IP_OK;
}

uint32_t ip_scopes_mask(const Imageproc__ApiScope *scopes, size_t n)
{
    uint32_t m = 0;
    for (size_t i = 0; scopes != NULL && i < n; i++)
        m |= scope_bit(scopes[i]);
    return m;
}

bool ip_scopes_allow(uint32_t mask, Imageproc__ApiScope s)
{
    uint32_t want = scope_bit(s);
    if (want == 0)
        return false;
    return (mask & want) != 0 || (mask & scope_bit(IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN)) != 0;
}
