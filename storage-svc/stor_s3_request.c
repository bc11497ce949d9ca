/* stor_s3_request.c — turning a stor_s3_req into the URL and headers that
 * libcurl sends and signs, once per call.
 *
 * SIGNING
 * libcurl computes the SigV4 Authorization header (CURLOPT_AWS_SIGV4, set
 * for every attempt in stor_s3_attempt.c) over the method, the path as
 * written (PATH_AS_IS; keys are encoded here by the S3 rules), the query
 * string as written (the callers build it canonical with
 * stor_canonical_query) and the headers built here. libcurl 7.88 hashes only
 * POSTFIELDS, so x-amz-content-sha256 is always set here to the hex SHA-256
 * of the body, and libcurl takes the payload hash from that header. A PUT
 * whose caller already hashed the body (stor_s3_put_hashed) sends the
 * caller's hash instead of hashing 2 MiB again; S3 checks the body against it
 * either way. A multi-object delete also carries Content-MD5, which S3
 * requires there.
 *
 * The URL and the header list do not change between attempts, so the retry
 * loop builds them once and every attempt borrows them.
 */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stor_s3_internal.h"
#include "stor_s3_text.h"

#define HEADER_LINE_MAX 512

/* ------------------------------------------------------------ digests */

static void hex_of(const unsigned char *md, unsigned n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Hex SHA-256 of the body into out[65]. */
static bool sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!EVP_Digest(data ? data : "", len, md, &n, EVP_sha256(), NULL) || n != 32)
        return false;
    hex_of(md, n, out);
    return true;
}

/* Base64 MD5 of the body into out[25] (Content-MD5). */
static bool md5_b64(const void *data, size_t len, char out[25])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!EVP_Digest(data ? data : "", len, md, &n, EVP_md5(), NULL) || n != 16)
        return false;
    return EVP_EncodeBlock((unsigned char *)out, md, 16) == 24;
}

/* ------------------------------------------------------------ building */

/* Appends one formatted header line; false on out of memory. */
static bool add_header(struct curl_slist **hdrs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool add_header(struct curl_slist **hdrs, const char *fmt, ...)
{
    char line[HEADER_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    struct curl_slist *t = curl_slist_append(*hdrs, line);
    if (!t)
        return false;
    *hdrs = t;
    return true;
}

/* endpoint/bucket[/key][?query]; false on out of memory. */
static bool build_url(const stor_s3 *s3, const stor_s3_req *rq, const char *query, char **url)
{
    char *enc_key = NULL;
    if (rq->key && !(enc_key = stor_uri_encode(rq->key, strlen(rq->key), true)))
        return false;
    int n = asprintf(url, "%s/%s%s%s%s%s", s3->endpoint, s3->bucket, enc_key ? "/" : "",
                     enc_key ? enc_key : "", query ? "?" : "", query ? query : "");
    free(enc_key);
    if (n < 0) {
        *url = NULL;
        return false;
    }
    return true;
}

/* The payload hash (always), content type, cache control, MD5, and no
 * "Expect: 100-continue" round trip before large bodies. */
static ip_status build_headers(const stor_s3_req *rq, stor_s3_built *b, char *err, size_t errlen)
{
    char sha[65], md5[25] = "";
    if (rq->payload_sha256 && rq->payload_sha256[0]) {
        snprintf(sha, sizeof sha, "%s", rq->payload_sha256);
    } else if (!sha256_hex(rq->body, rq->body_len, sha)) {
        ip_errorf(err, errlen, "s3 %s: sha256 failed", b->what);
        return IP_INTERNAL;
    }
    if (rq->content_md5 && !md5_b64(rq->body, rq->body_len, md5)) {
        ip_errorf(err, errlen, "s3 %s: md5 failed", b->what);
        return IP_INTERNAL;
    }
    bool has_cc = rq->cache_control && rq->cache_control[0];
    if (!add_header(&b->hdrs, "x-amz-content-sha256: %s", sha) ||
        (rq->content_type && !add_header(&b->hdrs, "Content-Type: %s", rq->content_type)) ||
        (has_cc && !add_header(&b->hdrs, "Cache-Control: %s", rq->cache_control)) ||
        (rq->content_md5 && !add_header(&b->hdrs, "Content-MD5: %s", md5)) ||
        (rq->range && !add_header(&b->hdrs, "Range: %s", rq->range)) ||
        !add_header(&b->hdrs, "%s", "Expect:")) {
        ip_errorf(err, errlen, "s3 %s: out of memory", b->what);
        return IP_RESOURCE_EXHAUSTED;
    }
    return IP_OK;
}

ip_status stor_s3_request_build(const stor_s3 *s3, const stor_s3_req *rq, stor_s3_built *b,
                                char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    const char *q = rq->query && rq->query[0] ? rq->query : NULL;
    snprintf(b->what, sizeof b->what, "%s %.60s%s%.24s", rq->method, rq->key ? rq->key : s3->bucket,
             q ? "?" : "", q ? q : "");
    ip_status st = IP_OK;
    if (!build_url(s3, rq, q, &b->url)) {
        ip_errorf(err, errlen, "s3 %s: out of memory", b->what);
        st = IP_RESOURCE_EXHAUSTED;
    } else {
        st = build_headers(rq, b, err, errlen);
    }
    if (st != IP_OK)
        stor_s3_request_fini(b);
    return st;
}

void stor_s3_request_fini(stor_s3_built *b)
{
    curl_slist_free_all(b->hdrs);
    free(b->url);
    b->hdrs = NULL;
    b->url = NULL;
}
