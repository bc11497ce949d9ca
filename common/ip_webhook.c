/* ip_webhook.c — event and state names, subscription secrets, the Standard
 * Webhooks signature and the form check of a subscription URL.
 *
 * A secret is "whsec_" followed by the standard base64 (with padding) of
 * 24..64 bytes; new ones are IP_WEBHOOK_SECRET_BYTES from getrandom(2). The
 * HMAC key is the decoded bytes, never the text. A signature is "v1," and the
 * standard base64 of HMAC-SHA256(key, id "." timestamp "." body), computed
 * with OpenSSL's EVP_MAC; verification recomputes it and compares the
 * base64 text of each "v1," entry of the header with CRYPTO_memcmp, so the
 * time a refusal takes says nothing about where a guess went wrong. The
 * decoded key lives on the stack and is wiped with OPENSSL_cleanse.
 *
 * The URL check looks at form only (scheme, host, no userinfo, no fragment,
 * printable ASCII without spaces, a length bound); whether an address may be
 * connected to is decided by the sender when it connects.
 */
#include "ip_webhook.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#define KEY_MIN 24
#define KEY_MAX 64
#define PREFIX_LEN (sizeof(IP_WEBHOOK_SECRET_PREFIX) - 1)
#define SIG_B64_LEN 44 /* base64 of 32 bytes */

_Static_assert(PREFIX_LEN + (KEY_MAX + 2) / 3 * 4 < IP_WEBHOOK_SECRET_MAX, "secret bound");
_Static_assert(3 + SIG_B64_LEN < IP_WEBHOOK_SIGNATURE_MAX, "signature bound");
_Static_assert(IP_WEBHOOK_SECRET_BYTES >= KEY_MIN && IP_WEBHOOK_SECRET_BYTES <= KEY_MAX,
               "new secret size");

/* ------------------------------------------------------------------- names */

static const char *const event_names[] = {
    [IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_READY] = "image.ready",
    [IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_FAILED] = "image.failed",
    [IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_DELETED] = "image.deleted",
};
#define EVENT_END ((int)(sizeof event_names / sizeof event_names[0]))

const char *ip_webhook_event_name(Imageproc__WebhookEvent e)
{
    if ((int)e <= 0 || (int)e >= EVENT_END)
        return NULL;
    return event_names[e];
}

Imageproc__WebhookEvent ip_webhook_event_parse(const char *name)
{
    if (name == NULL)
        return IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_EVENT_UNSPECIFIED;
    for (int i = 1; i < EVENT_END; i++) {
        const char *full = event_names[i];
        /* the short form is the part after "image." */
        if (strcmp(name, full) == 0 || strcmp(name, full + 6) == 0)
            return (Imageproc__WebhookEvent)i;
    }
    return IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_EVENT_UNSPECIFIED;
}

static const char *const state_names[] = {
    [IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING] = "pending",
    [IMAGEPROC__DELIVERY_STATE__DELIVERY_DELIVERED] = "delivered",
    [IMAGEPROC__DELIVERY_STATE__DELIVERY_FAILED] = "failed",
    [IMAGEPROC__DELIVERY_STATE__DELIVERY_CANCELLED] = "cancelled",
};
#define STATE_END ((int)(sizeof state_names / sizeof state_names[0]))

const char *ip_delivery_state_name(Imageproc__DeliveryState s)
{
    if ((int)s <= 0 || (int)s >= STATE_END)
        return NULL;
    return state_names[s];
}

/* ----------------------------------------------------------------- secrets */

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

static bool is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Decodes the base64 text after the prefix of `secret` into key[KEY_MAX];
 * the key length, or -1 when the form is wrong (alphabet, padding, length). */
static int secret_key(const char *secret, unsigned char key[KEY_MAX])
{
    if (secret == NULL || strncmp(secret, IP_WEBHOOK_SECRET_PREFIX, PREFIX_LEN) != 0)
        return -1;
    const char *b = secret + PREFIX_LEN;
    size_t n = strnlen(b, IP_WEBHOOK_SECRET_MAX);
    if (n == 0 || n % 4 != 0 || n > (KEY_MAX + 2) / 3 * 4)
        return -1;
    size_t pad = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '=') {
            if (i < n - 2)
                return -1;
            pad++;
        } else if (pad > 0 || !is_b64(b[i])) {
            return -1;
        }
    }
    unsigned char tmp[(KEY_MAX + 2) / 3 * 3];
    int got = EVP_DecodeBlock(tmp, (const unsigned char *)b, (int)n);
    if (got < 0) {
        OPENSSL_cleanse(tmp, sizeof tmp);
        return -1;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    int len = got - (int)pad;
    if (len < KEY_MIN || len > KEY_MAX) {
        OPENSSL_cleanse(tmp, sizeof tmp);
        return -1;
    }
    memcpy(key, tmp, (size_t)len);
    OPENSSL_cleanse(tmp, sizeof tmp);
    return len;
}

ip_status ip_webhook_new_secret(char out[IP_WEBHOOK_SECRET_MAX])
{
    unsigned char key[IP_WEBHOOK_SECRET_BYTES];
    out[0] = '\0';
    if (!random_bytes(key, sizeof key))
        return IP_INTERNAL;
    memcpy(out, IP_WEBHOOK_SECRET_PREFIX, PREFIX_LEN);
    EVP_EncodeBlock((unsigned char *)out + PREFIX_LEN, key, (int)sizeof key);
    OPENSSL_cleanse(key, sizeof key);
    return IP_OK;
}

bool ip_webhook_secret_valid(const char *secret)
{
    unsigned char key[KEY_MAX];
    int n = secret_key(secret, key);
    OPENSSL_cleanse(key, sizeof key);
    return n > 0;
}

/* -------------------------------------------------------------- signatures */

/* The base64 of the HMAC of one attempt into out[SIG_B64_LEN + 1]; false when
 * the secret is not valid or OpenSSL fails. */
static bool sign_b64(const char *secret, const char *msg_id, int64_t timestamp_s, const char *body,
                     size_t body_len, char out[SIG_B64_LEN + 1])
{
    unsigned char key[KEY_MAX];
    int klen = secret_key(secret, key);
    bool ok = false;
    out[0] = '\0';
    if (klen <= 0 || msg_id == NULL || (body == NULL && body_len > 0))
        goto done;
    char ts[24];
    int tn = snprintf(ts, sizeof ts, "%" PRId64, timestamp_s);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t mdlen = 0;
    ok = ctx != NULL && EVP_MAC_init(ctx, key, (size_t)klen, params) == 1 &&
         EVP_MAC_update(ctx, (const unsigned char *)msg_id, strlen(msg_id)) == 1 &&
         EVP_MAC_update(ctx, (const unsigned char *)".", 1) == 1 &&
         EVP_MAC_update(ctx, (const unsigned char *)ts, (size_t)tn) == 1 &&
         EVP_MAC_update(ctx, (const unsigned char *)".", 1) == 1 &&
         (body_len == 0 || EVP_MAC_update(ctx, (const unsigned char *)body, body_len) == 1) &&
         EVP_MAC_final(ctx, md, &mdlen, sizeof md) == 1 && mdlen == 32;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    if (ok)
        EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
done:
    OPENSSL_cleanse(key, sizeof key);
    return ok;
}

ip_status ip_webhook_sign(const char *secret, const char *msg_id, int64_t timestamp_s,
                          const char *body, size_t body_len, char out[IP_WEBHOOK_SIGNATURE_MAX])
{
    char b64[SIG_B64_LEN + 1];
    out[0] = '\0';
    if (!ip_webhook_secret_valid(secret) || msg_id == NULL)
        return IP_INVALID_ARGUMENT;
    if (!sign_b64(secret, msg_id, timestamp_s, body, body_len, b64))
        return IP_INTERNAL;
    snprintf(out, IP_WEBHOOK_SIGNATURE_MAX, "v1,%s", b64);
    return IP_OK;
}

bool ip_webhook_verify(const char *secret, const char *msg_id, int64_t timestamp_s,
                       const char *body, size_t body_len, const char *header)
{
    char want[SIG_B64_LEN + 1];
    if (header == NULL || !sign_b64(secret, msg_id, timestamp_s, body, body_len, want))
        return false;
    bool match = false;
    const char *p = header;
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == 3 + SIG_B64_LEN && strncmp(p, "v1,", 3) == 0 &&
            CRYPTO_memcmp(p + 3, want, SIG_B64_LEN) == 0)
            match = true; /* go on: the time does not tell which entry matched */
        p += n;
    }
    return match;
}

/* --------------------------------------------------------------------- url */

static ip_status url_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
    return IP_INVALID_ARGUMENT;
}

ip_status ip_webhook_url_check(const char *url, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (url == NULL || url[0] == '\0')
        return url_err(err, errlen, "the url is empty");
    size_t n = strnlen(url, IP_WEBHOOK_URL_MAX + 1);
    if (n > IP_WEBHOOK_URL_MAX)
        return url_err(err, errlen, "the url is longer than 2048 bytes");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f)
            return url_err(err, errlen,
                           "the url must not contain spaces, control or non-ASCII characters");
    }
    const char *rest;
    /* lowercase only: the spelling the store's CHECK and receivers' logs expect */
    if (strncmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        rest = url + 8;
    else
        return url_err(err, errlen, "the url's scheme must be http or https (lowercase)");
    if (strchr(url, '#') != NULL)
        return url_err(err, errlen, "the url must not have a fragment");
    size_t auth_len = strcspn(rest, "/?");
    const char *at = memchr(rest, '@', auth_len);
    if (at != NULL)
        return url_err(err, errlen, "the url must not carry a user name or password");
    if (auth_len == 0)
        return url_err(err, errlen, "the url has no host");
    /* host[:port], the host possibly an IPv6 literal in brackets */
    const char *host = rest, *port = NULL;
    size_t host_len;
    if (host[0] == '[') {
        const char *close = memchr(host, ']', auth_len);
        if (close == NULL || close == host + 1)
            return url_err(err, errlen, "the url's IPv6 address is not closed by ']'");
        for (const char *q = host + 1; q < close; q++)
            if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
                return url_err(err, errlen, "the url's IPv6 address is not valid");
        host_len = (size_t)(close - host) + 1;
        if (host_len < auth_len) {
            if (host[host_len] != ':')
                return url_err(err, errlen, "the url's host is not valid");
            port = host + host_len + 1;
        }
    } else {
        const char *colon = memchr(host, ':', auth_len);
        host_len = colon != NULL ? (size_t)(colon - host) : auth_len;
        if (colon != NULL)
            port = colon + 1;
        if (host_len == 0)
            return url_err(err, errlen, "the url has no host");
        for (size_t i = 0; i < host_len; i++) {
            char c = host[i];
            if (!isalnum((unsigned char)c) && c != '-' && c != '.' && c != '_')
                return url_err(err, errlen, "the url's host is not valid");
        }
    }
    if (port != NULL) {
        size_t plen = auth_len - (size_t)(port - rest);
        unsigned v = 0;
        if (plen == 0 || plen > 5)
            return url_err(err, errlen, "the url's port is not valid");
        for (size_t i = 0; i < plen; i++) {
            if (!isdigit((unsigned char)port[i]))
                return url_err(err, errlen, "the url's port is not valid");
            v = v * 10 + (unsigned)(port[i] - '0');
        }
        if (v == 0 || v > 65535)
            return url_err(err, errlen, "the url's port is not valid");
    }
    return IP_OK;
}
