/*
 * infra.s3.signed_crud — the S3 endpoint (versitygw natively, MinIO under
 * compose) is real and checks signatures, reached the way storage-svc
 * reaches it: libcurl with CURLOPT_AWS_SIGV4. libcurl 7.88 hashes only
 * POSTFIELDS, so every request carries its own x-amz-content-sha256 (the hex
 * SHA-256 of the body; the empty-body hash for GET and DELETE).
 *   PUT  <bucket>/infra/<unique>   200
 *   GET  same                      200 and the same bytes
 *   GET  with a wrong secret       403 (the signature is checked)
 *   DELETE same                    204
 *   GET  same                      404
 */
#include <curl/curl.h>
#include <openssl/sha.h>
#include <string.h>

#include "infra_env.h"
#include "ip_testing.h"

struct buf {
    char *p;
    size_t n;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct buf *b = userp;
    size_t add = size * nmemb;
    char *p = realloc(b->p, b->n + add + 1);
    if (p == NULL)
        return 0;
    memcpy(p + b->n, data, add);
    b->p = p;
    b->n += add;
    b->p[b->n] = '\0';
    return add;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* One signed request. body may be NULL. Returns the HTTP status, -1 on a
 * transport error; the answer's body goes to *got (owned by the caller). */
static long s3_call(const char *method, const char *url, const char *secret, const char *body,
                    struct buf *got)
{
    const char *region = infra_env("IP_S3_REGION", "us-east-1");
    const char *access = infra_env("IP_S3_ACCESS_KEY", "imageproc-local");
    char sigv4[128], userpwd[256], hash_hdr[100], hex[65];
    long code = -1;
    struct curl_slist *hdrs = NULL;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return -1;

    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", region);
    snprintf(userpwd, sizeof userpwd, "%s:%s", access, secret);
    sha256_hex(body != NULL ? body : "", body != NULL ? strlen(body) : 0, hex);
    snprintf(hash_hdr, sizeof hash_hdr, "x-amz-content-sha256: %s", hex);
    hdrs = curl_slist_append(hdrs, hash_hdr);
    if (body != NULL)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, got);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    else
        fprintf(stderr, "%s %s: %s\n", method, url, curl_easy_strerror(rc));
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return code;
}

/* Frees the body of the last answer and makes room for the next. */
static void buf_reset(struct buf *b)
{
    free(b->p);
    *b = (struct buf){0};
}

static void test_signed_crud(void)
{
    const char *endpoint = infra_env("IP_S3_ENDPOINT", "http://127.0.0.1:19000");
    const char *bucket = infra_env("IP_S3_BUCKET", "images");
    const char *secret = infra_env("IP_S3_SECRET_KEY", "imageproc-local-secret");
    char name[96], url[512], body[256];
    struct buf got = {0};
    long code;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    infra_unique(name, sizeof name, "obj");
    snprintf(url, sizeof url, "%s/%s/infra/%s", endpoint, bucket, name);
    snprintf(body, sizeof body, "infra test object %s", name);

    code = s3_call("PUT", url, secret, body, &got);
    CHECKF(code == 200, "PUT %s: %ld %s", url, code, got.p ? got.p : "");
    buf_reset(&got);
    code = s3_call("GET", url, secret, NULL, &got);
    EXPECTF(code == 200, "GET %s: %ld %s", url, code, got.p ? got.p : "");
    EXPECTF(got.p != NULL && strcmp(got.p, body) == 0, "GET %s: bytes differ", url);
    buf_reset(&got);
    code = s3_call("GET", url, "not-the-secret", NULL, &got);
    EXPECTF(code == 403, "GET with a wrong secret: %ld (want 403)", code);
    buf_reset(&got);
    code = s3_call("DELETE", url, secret, NULL, &got);
    EXPECTF(code == 204, "DELETE %s: %ld %s", url, code, got.p ? got.p : "");
    buf_reset(&got);
    code = s3_call("GET", url, secret, NULL, &got);
    EXPECTF(code == 404, "GET after DELETE: %ld (want 404)", code);
    buf_reset(&got);
    curl_global_cleanup();
}

static const ip_test_case tests[] = {IP_TEST(signed_crud)};
IP_TEST_MAIN(tests)
