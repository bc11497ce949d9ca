/* stor_s3.c — the S3 client (see stor_s3.h for the contract).
 *
 * HOW IT WORKS
 * Each call describes one S3 request (method, key, canonical query, body,
 * headers) and hands it to s3_perform(), which runs it on the calling
 * thread's own CURL easy handle. The handle is made on the thread's first call
 * and kept in a pthread key, so a worker thread reuses its kept-alive
 * connection for every later call (curl_easy_reset keeps the connection
 * cache). Handles are also listed in the client so stor_s3_free can release
 * the ones whose threads are still alive; a thread that exits first releases
 * its own through the key's destructor.
 *
 * Signing: libcurl computes the SigV4 Authorization header (CURLOPT_AWS_SIGV4)
 * over the method, the path as written (PATH_AS_IS, keys encoded here by the
 * S3 rules), the query string as written (built canonical by
 * stor_canonical_query) and the headers we add. libcurl 7.88 hashes only
 * POSTFIELDS, so x-amz-content-sha256 is always set here to the hex SHA-256 of
 * the body, and libcurl takes the payload hash from that header. A PUT whose
 * caller already hashed the body (stor_s3_put_hashed) sends the caller's hash
 * instead of hashing 2 MiB again; S3 checks the body against it either way.
 *
 * RETRIES
 * A request marked idempotent (every object call, the listing and the
 * multi-object delete: repeating any of them gives the same end state) is
 * tried again when the connection failed (refused, reset, nothing received,
 * timed out) or S3 answered 5xx. The wait doubles from 50 ms up to 1 s with
 * jitter, and no attempt starts when the call's budget would run out during
 * the wait. Bucket creation and the policy are not retried: start-up decides
 * what to do with their failure. A 4xx is not retried: it will not change.
 * The one exception is an object PUT answered 409 ExistingObjectIsDirectory,
 * which a file-backed S3 gives while a concurrent delete removes the folder
 * the PUT is making (see racing_folder); it is retried like a 5xx.
 *
 * LIMITS
 * Response bodies are capped (the caller's max for GET, a fixed size for XML
 * answers); a 2xx body over the cap aborts the transfer, so an oversized
 * object never sits in memory. Uploads are read from the caller's buffer with
 * no copy beyond libcurl's send buffer.
 */
#include "stor_s3.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ip_log.h"
#include "ip_time.h"
#include "stor_s3_text.h"

#define XML_MAX (16u * 1024u * 1024u) /* cap on an XML answer (a list page is ~300 KiB) */
#define DELETE_BATCH 1000             /* S3's limit per multi-object delete */
#define NET_BUFFER (512L * 1024L)     /* libcurl receive and send buffers */

typedef struct tl_handle tl_handle;
struct tl_handle {
    CURL *curl;
    stor_s3 *owner;
    tl_handle *prev, *next;
    uint64_t rng; /* jitter state */
};

struct stor_s3 {
    char *endpoint, *region, *bucket, *access_key, *secret_key;
    char *sigv4; /* "aws:amz:<region>:s3" */
    long connect_timeout_ms, timeout_ms;
    int retries;
    pthread_key_t key;
    pthread_mutex_t mu; /* guards handles */
    tl_handle *handles;
};

/* ------------------------------------------------------------ handles */

static void tl_release(tl_handle *h)
{
    curl_easy_cleanup(h->curl);
    free(h);
}

/* Key destructor: the thread is exiting, unlist and free its handle. */
static void tl_destroy(void *p)
{
    tl_handle *h = p;
    stor_s3 *s3 = h->owner;
    pthread_mutex_lock(&s3->mu);
    if (h->prev)
        h->prev->next = h->next;
    else
        s3->handles = h->next;
    if (h->next)
        h->next->prev = h->prev;
    pthread_mutex_unlock(&s3->mu);
    tl_release(h);
}

static tl_handle *tl_get(stor_s3 *s3)
{
    tl_handle *h = pthread_getspecific(s3->key);
    if (h)
        return h;
    h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return NULL;
    }
    h->owner = s3;
    h->rng = (uint64_t)ip_mono_us() ^ ((uint64_t)(uintptr_t)h << 17) ^ 0x9E3779B97F4A7C15ull;
    if (pthread_setspecific(s3->key, h) != 0) {
        tl_release(h);
        return NULL;
    }
    pthread_mutex_lock(&s3->mu);
    h->next = s3->handles;
    if (s3->handles)
        s3->handles->prev = h;
    s3->handles = h;
    pthread_mutex_unlock(&s3->mu);
    return h;
}

static uint64_t tl_rand(tl_handle *h)
{
    uint64_t x = h->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    h->rng = x;
    return x;
}

/* ------------------------------------------------------------ client */

static char *dup_or_null(const char *s, bool *ok)
{
    char *d = strdup(s ? s : "");
    if (!d)
        *ok = false;
    return d;
}

static bool bucket_name_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
    }
    return true;
}

ip_status stor_s3_new(const stor_s3_opts *opts, stor_s3 **out)
{
    *out = NULL;
    if (!opts || !opts->endpoint || !opts->bucket || !bucket_name_ok(opts->bucket) ||
        !opts->region || !opts->region[0] || strchr(opts->region, ':'))
        return IP_INVALID_ARGUMENT;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return IP_INTERNAL;

    stor_s3 *s3 = calloc(1, sizeof *s3);
    if (!s3)
        return IP_RESOURCE_EXHAUSTED;
    bool ok = true;
    s3->endpoint = dup_or_null(opts->endpoint, &ok);
    s3->region = dup_or_null(opts->region, &ok);
    s3->bucket = dup_or_null(opts->bucket, &ok);
    s3->access_key = dup_or_null(opts->access_key, &ok);
    s3->secret_key = dup_or_null(opts->secret_key, &ok);
    if (ok && asprintf(&s3->sigv4, "aws:amz:%s:s3", opts->region) < 0) {
        s3->sigv4 = NULL;
        ok = false;
    }
    if (!ok) {
        free(s3->endpoint);
        free(s3->region);
        free(s3->bucket);
        free(s3->access_key);
        free(s3->secret_key);
        free(s3->sigv4);
        free(s3);
        curl_global_cleanup();
        return IP_RESOURCE_EXHAUSTED;
    }
    size_t el = strlen(s3->endpoint);
    while (el > 0 && s3->endpoint[el - 1] == '/')
        s3->endpoint[--el] = '\0';
    s3->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 2000;
    s3->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 60000;
    s3->retries = opts->retries >= 0 ? opts->retries : 3;
    pthread_mutex_init(&s3->mu, NULL);
    if (pthread_key_create(&s3->key, tl_destroy) != 0) {
        pthread_mutex_destroy(&s3->mu);
        free(s3->endpoint);
        free(s3->region);
        free(s3->bucket);
        free(s3->access_key);
        free(s3->secret_key);
        free(s3->sigv4);
        free(s3);
        curl_global_cleanup();
        return IP_INTERNAL;
    }
    *out = s3;
    return IP_OK;
}

void stor_s3_free(stor_s3 *s3)
{
    if (!s3)
        return;
    pthread_key_delete(s3->key); /* no destructor runs after this */
    pthread_mutex_lock(&s3->mu);
    tl_handle *h = s3->handles;
    s3->handles = NULL;
    pthread_mutex_unlock(&s3->mu);
    while (h) {
        tl_handle *next = h->next;
        tl_release(h);
        h = next;
    }
    pthread_mutex_destroy(&s3->mu);
    free(s3->endpoint);
    free(s3->region);
    free(s3->bucket);
    free(s3->access_key);
    explicit_bzero(s3->secret_key, strlen(s3->secret_key));
    free(s3->secret_key);
    free(s3->sigv4);
    free(s3);
    curl_global_cleanup();
}

/* ------------------------------------------------------------ hashing */

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

/* ------------------------------------------------------------ one request */

typedef struct s3_req {
    const char *method; /* GET HEAD PUT DELETE POST */
    const char *key;    /* object key (unencoded), NULL for the bucket */
    const char *query;  /* canonical query, NULL or "" for none */
    const void *body;   /* PUT/POST body */
    size_t body_len;
    const char *content_type; /* sent and signed when not NULL */
    const char *cache_control;
    const char *payload_sha256; /* hex SHA-256 of the body from the caller; NULL: hashed here */
    bool content_md5;           /* send Content-MD5 of the body */
    bool idempotent;
    size_t max_body; /* cap on a 2xx answer's body */
} s3_req;

typedef struct s3_resp {
    long status; /* HTTP status, 0 when none */
    char *body;  /* malloc'd, NUL-terminated when not NULL */
    size_t len, cap, max;
    bool too_big;
    int64_t content_length; /* -1 unknown */
    char etag[128];
    char content_type[256];
} s3_resp;

typedef struct upload_src {
    const char *p;
    size_t left;
} upload_src;

static void resp_reset(s3_resp *r, size_t max)
{
    free(r->body);
    memset(r, 0, sizeof *r);
    r->max = max;
    r->content_length = -1;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    upload_src *src = ud;
    size_t n = size * nitems;
    if (n > src->left)
        n = src->left;
    if (n) {
        memcpy(buf, src->p, n);
        src->p += n;
        src->left -= n;
    }
    return n;
}

static bool ok_status(long st)
{
    return st >= 200 && st < 300;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    s3_resp *r = ud;
    size_t n = size * nmemb;
    if (!ok_status(r->status)) {
        /* An error answer is small XML: keep its start, drop anything past 64 KiB. */
        size_t room = r->len < 64 * 1024 ? 64 * 1024 - r->len : 0;
        if (n > room) {
            if (room && on_write(ptr, 1, room, ud) != room)
                return 0;
            return n;
        }
    } else if (r->len + n > r->max) {
        r->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (r->len + n + 1 > r->cap) {
        size_t want = r->cap ? r->cap * 2 : 16 * 1024;
        if (r->content_length >= 0 && (size_t)r->content_length + 1 > want &&
            (size_t)r->content_length <= (ok_status(r->status) ? r->max : 64 * 1024))
            want = (size_t)r->content_length + 1;
        while (want < r->len + n + 1)
            want *= 2;
        char *nb = realloc(r->body, want);
        if (!nb)
            return 0;
        r->body = nb;
        r->cap = want;
    }
    memcpy(r->body + r->len, ptr, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

/* Copies a header value (trimmed, quotes removed for ETag) into out. */
static void header_value(const char *v, size_t n, char *out, size_t outlen, bool unquote)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (unquote && n >= 2 && v[0] == '"' && v[n - 1] == '"')
        v++, n -= 2;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    s3_resp *r = ud;
    size_t n = size * nitems;
    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue, say): forget the last one's headers. */
        const char *sp = memchr(buf, ' ', n);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        r->etag[0] = r->content_type[0] = '\0';
        r->content_length = -1;
        return n;
    }
    const char *colon = memchr(buf, ':', n);
    if (!colon)
        return n;
    size_t nl = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vl = n - nl - 1;
    if (nl == 4 && strncasecmp(buf, "ETag", 4) == 0) {
        header_value(v, vl, r->etag, sizeof r->etag, true);
    } else if (nl == 12 && strncasecmp(buf, "Content-Type", 12) == 0) {
        header_value(v, vl, r->content_type, sizeof r->content_type, false);
    } else if (nl == 14 && strncasecmp(buf, "Content-Length", 14) == 0) {
        char tmp[32];
        header_value(v, vl, tmp, sizeof tmp, false);
        char *end;
        long long cl = strtoll(tmp, &end, 10);
        if (end != tmp && *end == '\0' && cl >= 0) {
            r->content_length = cl;
            if (ok_status(r->status) && (uint64_t)cl > r->max) {
                r->too_big = true;
                return 0; /* refuse before any byte of the body arrives */
            }
        }
    }
    return n;
}

static bool transient_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
        return true;
    default:
        return false;
    }
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Error codes that say the credentials are wrong, whatever the HTTP status
 * (versitygw answers an unknown access key with 404 XAdminUserNotFound). */
static bool credential_code(const char *code)
{
    static const char *const codes[] = {"InvalidAccessKeyId", "SignatureDoesNotMatch",
                                        "XAdminUserNotFound", "InvalidToken",
                                        "ExpiredToken",       "AuthorizationHeaderMalformed"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

/* Translates a finished S3 answer (non-2xx) into a status and message. */
static ip_status map_http(const s3_resp *r, const char *what, char *err, size_t errlen)
{
    char code[64], msg[384];
    stor_xml_error_parse(r->body, r->len, code, sizeof code, msg, sizeof msg);
    const char *c = code[0] ? code : "-";
    const char *m = msg[0] ? msg : "(no message)";
    long st = r->status;

    if (credential_code(code)) {
        set_err(err, errlen, "s3 %s: credentials rejected (%s): %s", what, c, m);
        return IP_FAILED_PRECONDITION;
    }

    if (st == 404) {
        if (strcmp(code, "NoSuchBucket") == 0) {
            set_err(err, errlen, "s3 %s: bucket missing (%s): %s", what, c, m);
            return IP_FAILED_PRECONDITION;
        }
        set_err(err, errlen, "s3 %s: not found", what);
        return IP_NOT_FOUND;
    }
    if (st == 403) {
        set_err(err, errlen, "s3 %s: access denied (%s): %s", what, c, m);
        return IP_FAILED_PRECONDITION;
    }
    if (st >= 500) {
        set_err(err, errlen, "s3 %s: server error %ld (%s): %s", what, st, c, m);
        return IP_UNAVAILABLE;
    }
    if (st == 409 || st == 412) {
        set_err(err, errlen, "s3 %s: conflict %ld (%s): %s", what, st, c, m);
        return IP_FAILED_PRECONDITION;
    }
    if (st >= 400) {
        set_err(err, errlen, "s3 %s: rejected %ld (%s): %s", what, st, c, m);
        return IP_INVALID_ARGUMENT;
    }
    set_err(err, errlen, "s3 %s: unexpected status %ld", what, st);
    return IP_INTERNAL;
}

/* A file-backed S3 (versitygw's posix backend) keeps a key's folders as real
 * directories and removes a folder when its last object is deleted. A PUT
 * that makes the same folder at that moment fails with 409
 * ExistingObjectIsDirectory although nothing is wrong with its key (our keys
 * never end in '/', so they are never folders themselves); a moment later it
 * succeeds. */
static bool racing_folder(const s3_resp *r)
{
    char code[64], msg[8];
    stor_xml_error_parse(r->body, r->len, code, sizeof code, msg, sizeof msg);
    return strcmp(code, "ExistingObjectIsDirectory") == 0;
}

/* Runs `rq` with retries as described at the top. On IP_OK resp holds a 2xx
 * answer; otherwise err says why. resp is reset here and must be released
 * with resp_reset(resp, 0) by the caller either way. */
static ip_status s3_perform(stor_s3 *s3, const s3_req *rq, s3_resp *resp, int64_t budget_ms,
                            char *err, size_t errlen)
{
    ip_status st = IP_INTERNAL;
    char *url = NULL, *enc_key = NULL;
    struct curl_slist *hdrs = NULL;
    char what[128];
    const char *q = rq->query && rq->query[0] ? rq->query : NULL;
    snprintf(what, sizeof what, "%s %.60s%s%.24s", rq->method, rq->key ? rq->key : s3->bucket,
             q ? "?" : "", q ? q : "");
    resp_reset(resp, rq->max_body);
    set_err(err, errlen, "%s", "");

    tl_handle *h = tl_get(s3);
    if (!h) {
        set_err(err, errlen, "s3 %s: out of memory for a curl handle", what);
        return IP_RESOURCE_EXHAUSTED;
    }
    CURL *c = h->curl;

    /* URL: endpoint/bucket[/key][?query] */
    if (rq->key) {
        enc_key = stor_uri_encode(rq->key, strlen(rq->key), true);
        if (!enc_key)
            goto oom;
    }
    if (asprintf(&url, "%s/%s%s%s%s%s", s3->endpoint, s3->bucket, enc_key ? "/" : "",
                 enc_key ? enc_key : "", q ? "?" : "", q ? q : "") < 0) {
        url = NULL;
        goto oom;
    }

    /* Headers: the payload hash (always), content type, cache control, MD5. */
    char sha[65], line[512];
    if (rq->payload_sha256 && rq->payload_sha256[0]) {
        snprintf(sha, sizeof sha, "%s", rq->payload_sha256);
    } else if (!sha256_hex(rq->body, rq->body_len, sha)) {
        set_err(err, errlen, "s3 %s: sha256 failed", what);
        goto done;
    }
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", sha);
    struct curl_slist *t = curl_slist_append(hdrs, line);
    if (!t)
        goto oom;
    hdrs = t;
    if (rq->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", rq->content_type);
        if (!(t = curl_slist_append(hdrs, line)))
            goto oom;
        hdrs = t;
    }
    if (rq->cache_control && rq->cache_control[0]) {
        snprintf(line, sizeof line, "Cache-Control: %s", rq->cache_control);
        if (!(t = curl_slist_append(hdrs, line)))
            goto oom;
        hdrs = t;
    }
    if (rq->content_md5) {
        char md5[25];
        if (!md5_b64(rq->body, rq->body_len, md5)) {
            set_err(err, errlen, "s3 %s: md5 failed", what);
            goto done;
        }
        snprintf(line, sizeof line, "Content-MD5: %s", md5);
        if (!(t = curl_slist_append(hdrs, line)))
            goto oom;
        hdrs = t;
    }
    /* No "Expect: 100-continue" round trip before large bodies. */
    if (!(t = curl_slist_append(hdrs, "Expect:")))
        goto oom;
    hdrs = t;

    int64_t deadline = ip_mono_ms() + (budget_ms > 0 ? budget_ms : s3->timeout_ms);
    long backoff = 50;
    for (int attempt = 0;; attempt++) {
        int64_t left = deadline - ip_mono_ms();
        if (left <= 0) {
            set_err(err, errlen, "s3 %s: timed out", what);
            st = IP_UNAVAILABLE;
            break;
        }
        resp_reset(resp, rq->max_body);
        upload_src src = {rq->body, rq->body_len};
        char cerr[CURL_ERROR_SIZE] = "";

        curl_easy_reset(c); /* keeps the connection cache */
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s3->sigv4);
        curl_easy_setopt(c, CURLOPT_USERNAME, s3->access_key);
        curl_easy_setopt(c, CURLOPT_PASSWORD, s3->secret_key);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(left < s3->connect_timeout_ms ? left : s3->connect_timeout_ms));
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_BUFFERSIZE, NET_BUFFER);
        curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, NET_BUFFER);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
        if (strcmp(rq->method, "HEAD") == 0) {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else if (strcmp(rq->method, "PUT") == 0) {
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &src);
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
        } else if (strcmp(rq->method, "POST") == 0) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        } else if (strcmp(rq->method, "DELETE") == 0) {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
        }

        int64_t t0 = ip_mono_us();
        CURLcode rc = curl_easy_perform(c);
        long http = 0, conns = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
        if (rc == CURLE_OK)
            resp->status = http;
        ip_log(IP_LOG_DEBUG, "s3.request", IP_LS("method", rq->method),
               IP_LS("key", rq->key ? rq->key : ""), IP_LI("status", http),
               IP_LS("curl", rc == CURLE_OK ? "ok" : curl_easy_strerror(rc)),
               IP_LI("attempt", attempt), IP_LI("new_conns", conns),
               IP_LF("ms", (double)(ip_mono_us() - t0) / 1000.0));

        bool again = false;
        if (rc != CURLE_OK) {
            if (resp->too_big) {
                set_err(err, errlen, "s3 %s: object larger than %zu bytes", what, rq->max_body);
                st = IP_RESOURCE_EXHAUSTED;
                break;
            }
            if (transient_curl(rc)) {
                set_err(err, errlen, "s3 %s: unreachable: %s", what,
                        cerr[0] ? cerr : curl_easy_strerror(rc));
                st = IP_UNAVAILABLE;
                again = true;
            } else {
                set_err(err, errlen, "s3 %s: %s", what, cerr[0] ? cerr : curl_easy_strerror(rc));
                st = IP_INTERNAL;
            }
        } else if (ok_status(http)) {
            st = IP_OK;
            break;
        } else {
            st = map_http(resp, what, err, errlen);
            again = http >= 500 || (http == 409 && rq->key && strcmp(rq->method, "PUT") == 0 &&
                                    racing_folder(resp));
        }

        if (!again || !rq->idempotent || attempt >= s3->retries)
            break;
        long wait = backoff / 2 + (long)(tl_rand(h) % (uint64_t)(backoff / 2 + 1));
        if (deadline - ip_mono_ms() <= wait)
            break;
        ip_log(IP_LOG_WARN, "s3.retry", IP_LS("method", rq->method),
               IP_LS("key", rq->key ? rq->key : ""), IP_LI("attempt", attempt + 1),
               IP_LI("wait_ms", wait), IP_LS("err", err ? err : ""));
        struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (backoff < 1000)
            backoff *= 2;
    }
    goto done;

oom:
    set_err(err, errlen, "s3 %s: out of memory", what);
    st = IP_RESOURCE_EXHAUSTED;
done:
    /* The handle keeps pointers to our header list and buffers: drop them. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    free(url);
    free(enc_key);
    return st;
}

static void info_from(const s3_resp *r, stor_obj_info *info)
{
    if (!info)
        return;
    info->size = r->content_length;
    snprintf(info->content_type, sizeof info->content_type, "%s", r->content_type);
    snprintf(info->etag, sizeof info->etag, "%s", r->etag);
}

/* ------------------------------------------------------------ objects */

ip_status stor_s3_put(stor_s3 *s3, const char *key, const void *data, size_t len,
                      const char *content_type, const char *cache_control, stor_obj_info *info,
                      int64_t budget_ms, char *err, size_t errlen)
{
    return stor_s3_put_hashed(s3, key, data, len, content_type, cache_control, NULL, info,
                              budget_ms, err, errlen);
}

ip_status stor_s3_put_hashed(stor_s3 *s3, const char *key, const void *data, size_t len,
                             const char *content_type, const char *cache_control,
                             const char *sha256_hex, stor_obj_info *info, int64_t budget_ms,
                             char *err, size_t errlen)
{
    s3_resp resp = {0};
    const char *ct = content_type && content_type[0] ? content_type : "application/octet-stream";
    s3_req rq = {.method = "PUT",
                 .key = key,
                 .body = data,
                 .body_len = len,
                 .content_type = ct,
                 .cache_control = cache_control,
                 .payload_sha256 = sha256_hex,
                 .idempotent = true,
                 .max_body = XML_MAX};
    ip_status st = s3_perform(s3, &rq, &resp, budget_ms, err, errlen);
    if (st == IP_OK && info) {
        info->size = (int64_t)len;
        snprintf(info->content_type, sizeof info->content_type, "%s", ct);
        snprintf(info->etag, sizeof info->etag, "%s", resp.etag);
    }
    resp_reset(&resp, 0);
    return st;
}

ip_status stor_s3_get(stor_s3 *s3, const char *key, size_t max_bytes, void **data, size_t *len,
                      stor_obj_info *info, int64_t budget_ms, char *err, size_t errlen)
{
    s3_resp resp = {0};
    s3_req rq = {.method = "GET", .key = key, .idempotent = true, .max_body = max_bytes};
    *data = NULL;
    *len = 0;
    ip_status st = s3_perform(s3, &rq, &resp, budget_ms, err, errlen);
    if (st == IP_OK) {
        info_from(&resp, info);
        if (info)
            info->size = (int64_t)resp.len;
        *data = resp.body; /* handed over */
        *len = resp.len;
        resp.body = NULL;
    }
    resp_reset(&resp, 0);
    return st;
}

ip_status stor_s3_head(stor_s3 *s3, const char *key, stor_obj_info *info, int64_t budget_ms,
                       char *err, size_t errlen)
{
    s3_resp resp = {0};
    /* A HEAD answer has no body: its Content-Length is the object's, never capped. */
    s3_req rq = {.method = "HEAD", .key = key, .idempotent = true, .max_body = SIZE_MAX};
    ip_status st = s3_perform(s3, &rq, &resp, budget_ms, err, errlen);
    if (st == IP_OK)
        info_from(&resp, info);
    resp_reset(&resp, 0);
    return st;
}

/* Deletes up to DELETE_BATCH keys in one request. */
static ip_status delete_batch(stor_s3 *s3, const char *const *keys, size_t n, int64_t *deleted,
                              int64_t budget_ms, char *err, size_t errlen)
{
    size_t blen = 0;
    char *body = stor_xml_delete_body(keys, n, &blen);
    if (!body) {
        set_err(err, errlen, "s3 delete: out of memory");
        return IP_RESOURCE_EXHAUSTED;
    }
    s3_resp resp = {0};
    s3_req rq = {.method = "POST",
                 .query = "delete=",
                 .body = body,
                 .body_len = blen,
                 .content_type = "application/xml",
                 .content_md5 = true,
                 .idempotent = true,
                 .max_body = XML_MAX};
    ip_status st = s3_perform(s3, &rq, &resp, budget_ms, err, errlen);
    if (st == IP_OK) {
        /* Quiet mode: the answer lists only the keys that failed. */
        char code[64] = "", msg[256] = "", key[256] = "";
        size_t failed = stor_xml_delete_result(resp.body ? resp.body : "", resp.len, key,
                                               sizeof key, code, sizeof code, msg, sizeof msg);
        *deleted += (int64_t)(n - (failed > n ? n : failed));
        if (failed) {
            set_err(err, errlen, "s3 delete: %zu of %zu keys failed, first %s (%s): %s", failed, n,
                    key, code, msg);
            st = strcmp(code, "AccessDenied") == 0 ? IP_FAILED_PRECONDITION
                 : (strcmp(code, "InternalError") == 0 || strcmp(code, "SlowDown") == 0)
                     ? IP_UNAVAILABLE
                     : IP_INTERNAL;
        }
    }
    resp_reset(&resp, 0);
    free(body);
    return st;
}

ip_status stor_s3_delete_keys(stor_s3 *s3, const char *const *keys, size_t n, int64_t *deleted,
                              int64_t budget_ms, char *err, size_t errlen)
{
    int64_t deadline = ip_mono_ms() + (budget_ms > 0 ? budget_ms : s3->timeout_ms);
    *deleted = 0;
    set_err(err, errlen, "%s", "");
    for (size_t i = 0; i < n; i += DELETE_BATCH) {
        size_t m = n - i < DELETE_BATCH ? n - i : DELETE_BATCH;
        int64_t left = deadline - ip_mono_ms();
        if (left <= 0) {
            set_err(err, errlen, "s3 delete: timed out after %lld keys", (long long)*deleted);
            return IP_UNAVAILABLE;
        }
        ip_status st = delete_batch(s3, keys + i, m, deleted, left, err, errlen);
        if (st != IP_OK)
            return st;
    }
    return IP_OK;
}

ip_status stor_s3_delete_prefix(stor_s3 *s3, const char *prefix, int64_t *deleted,
                                int64_t budget_ms, char *err, size_t errlen)
{
    int64_t deadline = ip_mono_ms() + (budget_ms > 0 ? budget_ms : s3->timeout_ms);
    ip_status st = IP_OK;
    char *token = NULL;
    *deleted = 0;
    set_err(err, errlen, "%s", "");

    for (;;) {
        int64_t left = deadline - ip_mono_ms();
        if (left <= 0) {
            set_err(err, errlen, "s3 delete prefix: timed out after %lld keys",
                    (long long)*deleted);
            st = IP_UNAVAILABLE;
            break;
        }
        stor_query_param qp[4] = {{"list-type", "2"}, {"max-keys", "1000"}, {"prefix", prefix}};
        size_t nq = 3;
        if (token)
            qp[nq++] = (stor_query_param){"continuation-token", token};
        char *query = stor_canonical_query(qp, nq);
        if (!query) {
            st = IP_RESOURCE_EXHAUSTED;
            break;
        }
        s3_resp resp = {0};
        s3_req rq = {.method = "GET", .query = query, .idempotent = true, .max_body = XML_MAX};
        st = s3_perform(s3, &rq, &resp, left, err, errlen);
        free(query);
        char **keys = NULL, *next = NULL;
        size_t n = 0;
        if (st == IP_OK) {
            st = stor_xml_list_parse(resp.body ? resp.body : "", resp.len, &keys, &n, &next);
            if (st != IP_OK)
                set_err(err, errlen, "s3 list: malformed answer");
        }
        resp_reset(&resp, 0);
        if (st == IP_OK && n > 0)
            st = stor_s3_delete_keys(s3, (const char *const *)keys, n, &(int64_t){0}, left, err,
                                     errlen);
        if (st == IP_OK)
            *deleted += (int64_t)n;
        for (size_t i = 0; i < n; i++)
            free(keys[i]);
        free(keys);
        free(token);
        token = next;
        if (st != IP_OK || !token)
            break;
    }
    free(token);
    return st;
}

/* ------------------------------------------------------------ bucket */

ip_status stor_s3_ensure_bucket(stor_s3 *s3, int64_t budget_ms, char *err, size_t errlen)
{
    s3_resp resp = {0};
    char *body = NULL;
    s3_req head = {.method = "HEAD", .idempotent = true, .max_body = SIZE_MAX};
    ip_status st = s3_perform(s3, &head, &resp, budget_ms, err, errlen);

    if (st == IP_FAILED_PRECONDITION || st == IP_NOT_FOUND) {
        /* HEAD answers carry no body: ask again with a GET to learn S3's
         * reason (missing bucket, or keys it does not accept). */
        char code[64] = "", msg[384] = "";
        s3_req get = {
            .method = "GET", .query = "location=", .idempotent = true, .max_body = XML_MAX};
        ip_status gst = s3_perform(s3, &get, &resp, budget_ms, err, errlen);
        if (gst == IP_UNAVAILABLE) {
            st = gst;
            goto done;
        }
        if (gst != IP_OK)
            stor_xml_error_parse(resp.body, resp.len, code, sizeof code, msg, sizeof msg);
        if (gst == IP_OK || (resp.status == 404 && strcmp(code, "NoSuchBucket") == 0)) {
            st = gst == IP_OK ? IP_OK : IP_NOT_FOUND;
        } else {
            set_err(err, errlen, "s3 refused the credentials for bucket %s (%s): %s", s3->bucket,
                    code[0] ? code : "AccessDenied", msg[0] ? msg : "access denied");
            st = IP_FAILED_PRECONDITION;
            goto done;
        }
    }
    if (st == IP_NOT_FOUND) {
        if (strcmp(s3->region, "us-east-1") != 0 &&
            asprintf(&body,
                     "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                     "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>",
                     s3->region) < 0) {
            body = NULL;
            st = IP_RESOURCE_EXHAUSTED;
            goto done;
        }
        s3_req mk = {.method = "PUT",
                     .body = body,
                     .body_len = body ? strlen(body) : 0,
                     .content_type = body ? "application/xml" : NULL,
                     .max_body = XML_MAX};
        st = s3_perform(s3, &mk, &resp, budget_ms, err, errlen);
        if (st == IP_FAILED_PRECONDITION && resp.status == 409)
            st = IP_OK; /* made meanwhile by another instance */
        if (st != IP_OK)
            goto done;
        ip_log(IP_LOG_INFO, "s3.bucket_created", IP_LS("bucket", s3->bucket));
        free(body);
        body = NULL;
    } else if (st != IP_OK) {
        goto done;
    }

    /* Anyone may read the variants; nothing else (no listing, no originals). */
    if (asprintf(&body,
                 "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"PublicVariants\","
                 "\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"*\"]},"
                 "\"Action\":[\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::%s/v/*\"]}]}",
                 s3->bucket) < 0) {
        body = NULL;
        st = IP_RESOURCE_EXHAUSTED;
        goto done;
    }
    s3_req pol = {.method = "PUT",
                  .query = "policy=",
                  .body = body,
                  .body_len = strlen(body),
                  .content_type = "application/json",
                  .max_body = XML_MAX};
    st = s3_perform(s3, &pol, &resp, budget_ms, err, errlen);

done:
    resp_reset(&resp, 0);
    free(body);
    return st;
}
