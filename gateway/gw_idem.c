/* gw_idem.c — the Idempotency-Key's form and the sealed first answer.
 *
 * HOW IT WORKS. gw_idem_digest reads the upload once in 1 MiB steps and feeds
 * two SHA-256 contexts: the plain digest (kept by the row and the record) and
 * the sealing key, whose input starts with the label "imageprocessor
 * idempotency v1" and a 0x00 byte, so the two never coincide. Sealing is
 * AES-256-GCM (OpenSSL EVP) with a fresh random 12-byte nonce per record and
 * the additional data scope 0x00 key; the output is nonce || ciphertext ||
 * the 16-byte tag. Opening checks the tag before anything is handed out:
 * every mismatch fails the same way and leaves `out` empty.
 */
#include "gw_idem.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#define SEAL_LABEL "imageprocessor idempotency v1"

bool gw_idem_key_valid(const char *v)
{
    if (!v)
        return false;
    size_t n = 0;
    for (; v[n]; n++)
        if (n >= GW_IDEM_KEY_MAX || (unsigned char)v[n] < 0x21 || (unsigned char)v[n] > 0x7e)
            return false;
    return n > 0;
}

void gw_idem_digest(const void *data, size_t len, char sha_hex[65], gw_idem_secret *secret)
{
    static const char hex[] = "0123456789abcdef";
    EVP_MD_CTX *plain = EVP_MD_CTX_new(), *derived = secret ? EVP_MD_CTX_new() : NULL;
    unsigned char md[32];
    unsigned int mdlen = 0;
    bool ok = plain && EVP_DigestInit_ex(plain, EVP_sha256(), NULL) == 1;
    if (ok && secret)
        ok = derived && EVP_DigestInit_ex(derived, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(derived, SEAL_LABEL, sizeof SEAL_LABEL) == 1; /* with its NUL */
    const unsigned char *p = data;
    for (size_t off = 0; ok && off < len;) {
        size_t n = len - off < ((size_t)1 << 20) ? len - off : (size_t)1 << 20;
        ok = EVP_DigestUpdate(plain, p + off, n) == 1 &&
             (!secret || EVP_DigestUpdate(derived, p + off, n) == 1);
        off += n;
    }
    if (ok)
        ok = EVP_DigestFinal_ex(plain, md, &mdlen) == 1 && mdlen == 32;
    for (unsigned i = 0; i < 32; i++) {
        sha_hex[2 * i] = ok ? hex[md[i] >> 4] : '0';
        sha_hex[2 * i + 1] = ok ? hex[md[i] & 15] : '0';
    }
    sha_hex[64] = '\0';
    if (secret) {
        /* A library failure leaves a key no honest seal used: opens fail. */
        if (!ok || EVP_DigestFinal_ex(derived, secret->k, &mdlen) != 1 || mdlen != 32)
            memset(secret->k, 0, sizeof secret->k);
    }
    EVP_MD_CTX_free(plain);
    EVP_MD_CTX_free(derived);
}

/* The additional data: scope 0x00 key. */
static bool add_aad(EVP_CIPHER_CTX *c, const char *scope, const char *key)
{
    int n = 0;
    scope = scope ? scope : "";
    key = key ? key : "";
    return EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)scope, (int)strlen(scope)) == 1 &&
           EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)"", 1) == 1 &&
           EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)key, (int)strlen(key)) == 1;
}

ip_status gw_idem_seal(const gw_idem_secret *secret, const char *scope, const char *key,
                       const void *body, size_t blen, unsigned char *out, size_t cap,
                       size_t *outlen)
{
    *outlen = 0;
    if (blen > GW_IDEM_BODY_MAX || cap < blen + GW_IDEM_OVERHEAD)
        return IP_INVALID_ARGUMENT;
    unsigned char *nonce = out, *ct = out + GW_IDEM_NONCE_BYTES, *tag = ct + blen;
    if (RAND_bytes(nonce, GW_IDEM_NONCE_BYTES) != 1)
        return IP_INTERNAL;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    bool ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, GW_IDEM_NONCE_BYTES, NULL) == 1 &&
              EVP_EncryptInit_ex(c, NULL, NULL, secret->k, nonce) == 1 && add_aad(c, scope, key) &&
              EVP_EncryptUpdate(c, ct, &n, body, (int)blen) == 1 && (size_t)n == blen &&
              EVP_EncryptFinal_ex(c, ct + n, &fin) == 1 && fin == 0 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GW_IDEM_TAG_BYTES, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok)
        return IP_INTERNAL;
    *outlen = blen + GW_IDEM_OVERHEAD;
    return IP_OK;
}

ip_status gw_idem_open(const gw_idem_secret *secret, const char *scope, const char *key,
                       const unsigned char *sealed, size_t slen, char *out, size_t cap,
                       size_t *outlen)
{
    *outlen = 0;
    if (cap)
        out[0] = '\0';
    if (slen < GW_IDEM_OVERHEAD || slen > GW_IDEM_SEALED_MAX)
        return IP_FAILED_PRECONDITION;
    size_t blen = slen - GW_IDEM_OVERHEAD;
    if (cap <= blen)
        return IP_INVALID_ARGUMENT;
    const unsigned char *nonce = sealed, *ct = sealed + GW_IDEM_NONCE_BYTES, *tag = ct + blen;
    unsigned char tagcopy[GW_IDEM_TAG_BYTES];
    memcpy(tagcopy, tag, sizeof tagcopy);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    bool ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, GW_IDEM_NONCE_BYTES, NULL) == 1 &&
              EVP_DecryptInit_ex(c, NULL, NULL, secret->k, nonce) == 1 && add_aad(c, scope, key) &&
              EVP_DecryptUpdate(c, (unsigned char *)out, &n, ct, (int)blen) == 1 &&
              (size_t)n == blen &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GW_IDEM_TAG_BYTES, tagcopy) == 1 &&
              EVP_DecryptFinal_ex(c, (unsigned char *)out + n, &fin) == 1 && fin == 0;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        memset(out, 0, blen + 1 <= cap ? blen + 1 : cap); /* nothing unchecked leaves */
        return IP_FAILED_PRECONDITION;
    }
    out[blen] = '\0';
    *outlen = blen;
    return IP_OK;
}
