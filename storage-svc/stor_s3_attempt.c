/* stor_s3_attempt.c — one attempt of a request on the calling thread's CURL
 * handle, and what its outcome means.
 *
 * HOW IT WORKS
 * stor_s3_attempt resets the handle (curl_easy_reset keeps the connection
 * cache, so the thread's connection to S3 stays alive between calls), sets
 * this attempt's options — URL, SigV4 with the client's keys, the built
 * headers, timeouts cut to the budget left, the body to send — runs it, logs
 * one s3.request line (with the connections it had to open, which the
 * keep-alive tests count) and translates the outcome. This file is the edge
 * where libcurl and HTTP become ip_status, so the retry loop
 * (stor_s3_retry.c) can decide from the status alone:
 *   connection refused, reset, nothing received, timed out -> IP_UNAVAILABLE;
 *   a body over the cap -> IP_RESOURCE_EXHAUSTED; other curl failures ->
 *   IP_INTERNAL; 2xx -> IP_OK; S3's error answers by status and Code
 *   (map_http: 5xx -> IP_UNAVAILABLE, 404 -> IP_NOT_FOUND, credentials and
 *   403 -> IP_FAILED_PRECONDITION, ...), as stor_s3.h lists them.
 *
 * LIMITS
 * Response bodies are capped (the caller's max for GET, a fixed size for XML
 * answers); a 2xx body over the cap aborts the transfer, and a Content-Length
 * over it refuses the answer before any byte of the body arrives, so an
 * oversized object never sits in memory. An error answer keeps its first
 * 64 KiB. Uploads are read from the caller's buffer with no copy beyond
 * libcurl's send buffer. A 2xx body whose length Content-Length announced
 * goes, when the call has a sink (stor_s3_get_into), straight into the
 * sink's buffer, allocated once at that length; otherwise into a buffer of
 * our own sized from Content-Length.
 */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ip_log.h"
#include "ip_time.h"
#include "stor_s3_internal.h"
#include "stor_s3_text.h"

#define NET_BUFFER (512L * 1024L)    /* libcurl receive and send buffers */
#define ERROR_BODY_MAX (64u * 1024u) /* what is kept of a non-2xx answer */

/* ------------------------------------------------------------ the answer */

typedef struct upload_src {
    const char *p;
    size_t left;
} upload_src;

void stor_s3_resp_reset(stor_s3_resp *r, size_t max)
{
    if (!r->borrowed)
        free(r->body);
    stor_s3_sink sink = r->sink;
    void *sink_ud = r->sink_ud;
    memset(r, 0, sizeof *r);
    r->sink = sink;
    r->sink_ud = sink_ud;
    r->max = max;
    r->content_length = -1;
    r->range_total = -1;
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
    stor_s3_resp *r = ud;
    size_t n = size * nmemb;
    if (!ok_status(r->status)) {
        /* An error answer is small XML: keep its start, drop the rest. */
        size_t room = r->len < ERROR_BODY_MAX ? ERROR_BODY_MAX - r->len : 0;
        if (n > room) {
            if (room && on_write(ptr, 1, room, ud) != room)
                return 0;
            return n;
        }
    } else if (r->len + n > r->max) {
        r->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (r->len + n + 1 > r->cap && r->body == NULL && r->sink && ok_status(r->status) &&
        r->content_length >= 0 && (uint64_t)r->content_length >= n &&
        (uint64_t)r->content_length <= r->max) {
        /* The whole body at once, where the caller wants it. */
        char *nb = r->sink(r->sink_ud, (size_t)r->content_length + 1);
        if (nb) {
            r->body = nb;
            r->cap = (size_t)r->content_length + 1;
            r->borrowed = true;
        }
    }
    if (r->len + n + 1 > r->cap) {
        size_t want = r->cap ? r->cap * 2 : 16 * 1024;
        if (r->content_length >= 0 && (size_t)r->content_length + 1 > want &&
            (size_t)r->content_length <= (ok_status(r->status) ? r->max : ERROR_BODY_MAX))
            want = (size_t)r->content_length + 1;
        while (want < r->len + n + 1)
            want *= 2;
        /* A borrowed buffer (more bytes than Content-Length said) is left for one of our own. */
        char *nb = r->borrowed ? malloc(want) : realloc(r->body, want);
        if (!nb)
            return 0;
        if (r->borrowed)
            memcpy(nb, r->body, r->len);
        r->borrowed = false;
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

/* Content-Length: remembered, and an answer over the cap refused before any
 * byte of its body arrives. Returns false to abort the transfer. */
static bool on_content_length(stor_s3_resp *r, const char *v, size_t vl)
{
    char tmp[32];
    header_value(v, vl, tmp, sizeof tmp, false);
    char *end;
    long long cl = strtoll(tmp, &end, 10);
    if (end == tmp || *end != '\0' || cl < 0)
        return true;
    r->content_length = cl;
    if (ok_status(r->status) && (uint64_t)cl > r->max) {
        r->too_big = true;
        return false;
    }
    return true;
}

/* Content-Range: "bytes a-b/total" (206) or "bytes *\/total" (416): the total. */
static void on_content_range(stor_s3_resp *r, const char *v, size_t vl)
{
    char tmp[96];
    header_value(v, vl, tmp, sizeof tmp, false);
    const char *slash = strchr(tmp, '/');
    if (strncmp(tmp, "bytes ", 6) != 0 || !slash)
        return;
    char *end;
    long long total = strtoll(slash + 1, &end, 10);
    if (end != slash + 1 && *end == '\0' && total >= 0)
        r->range_total = total;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    stor_s3_resp *r = ud;
    size_t n = size * nitems;
    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue, say): forget the last one's headers. */
        const char *sp = memchr(buf, ' ', n);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        r->etag[0] = r->content_type[0] = '\0';
        r->content_length = -1;
        r->range_total = -1;
        return n;
    }
    const char *colon = memchr(buf, ':', n);
    if (!colon)
        return n;
    size_t nl = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vl = n - nl - 1;
    if (nl == 4 && strncasecmp(buf, "ETag", 4) == 0)
        header_value(v, vl, r->etag, sizeof r->etag, true);
    else if (nl == 12 && strncasecmp(buf, "Content-Type", 12) == 0)
        header_value(v, vl, r->content_type, sizeof r->content_type, false);
    else if (nl == 13 && strncasecmp(buf, "Content-Range", 13) == 0)
        on_content_range(r, v, vl);
    else if (nl == 14 && strncasecmp(buf, "Content-Length", 14) == 0 &&
             !on_content_length(r, v, vl))
        return 0;
    return n;
}

/* ------------------------------------------------------------ translation */

/* The curl failures that mean S3 could not be reached or did not answer. */
static bool unreachable_curl(CURLcode rc)
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
static ip_status map_http(const stor_s3_resp *r, const char *what, char *err, size_t errlen)
{
    char code[64], msg[384];
    stor_xml_error_parse(r->body, r->len, code, sizeof code, msg, sizeof msg);
    const char *c = code[0] ? code : "-";
    const char *m = msg[0] ? msg : "(no message)";
    long st = r->status;

    if (credential_code(code)) {
        ip_errorf(err, errlen, "s3 %s: credentials rejected (%s): %s", what, c, m);
        return IP_FAILED_PRECONDITION;
    }
    if (st == 404) {
        if (strcmp(code, "NoSuchBucket") == 0) {
            ip_errorf(err, errlen, "s3 %s: bucket missing (%s): %s", what, c, m);
            return IP_FAILED_PRECONDITION;
        }
        ip_errorf(err, errlen, "s3 %s: not found", what);
        return IP_NOT_FOUND;
    }
    if (st == 403) {
        ip_errorf(err, errlen, "s3 %s: access denied (%s): %s", what, c, m);
        return IP_FAILED_PRECONDITION;
    }
    if (st >= 500) {
        ip_errorf(err, errlen, "s3 %s: server error %ld (%s): %s", what, st, c, m);
        return IP_UNAVAILABLE;
    }
    if (st == 409 || st == 412) {
        ip_errorf(err, errlen, "s3 %s: conflict %ld (%s): %s", what, st, c, m);
        return IP_FAILED_PRECONDITION;
    }
    if (st >= 400) {
        ip_errorf(err, errlen, "s3 %s: rejected %ld (%s): %s", what, st, c, m);
        return IP_INVALID_ARGUMENT;
    }
    ip_errorf(err, errlen, "s3 %s: unexpected status %ld", what, st);
    return IP_INTERNAL;
}

/* A file-backed S3 (versitygw's posix backend) keeps a key's folders as real
 * directories and removes a folder when its last object is deleted. A PUT
 * that makes the same folder at that moment fails with 409
 * ExistingObjectIsDirectory although nothing is wrong with its key (our keys
 * never end in '/', so they are never folders themselves); a moment later it
 * succeeds. So that one conflict is transient. */
static bool racing_folder(const stor_s3_req *rq, const stor_s3_resp *r)
{
    if (r->status != 409 || !rq->key || strcmp(rq->method, "PUT") != 0)
        return false;
    char code[64], msg[8];
    stor_xml_error_parse(r->body, r->len, code, sizeof code, msg, sizeof msg);
    return strcmp(code, "ExistingObjectIsDirectory") == 0;
}

/* The status of a finished attempt (see the top of the file). */
static ip_status classify(CURLcode rc, const char *cerr, const stor_s3_req *rq,
                          const stor_s3_resp *resp, const char *what, char *err, size_t errlen)
{
    if (rc != CURLE_OK) {
        const char *why = cerr[0] ? cerr : curl_easy_strerror(rc);
        if (resp->too_big) {
            ip_errorf(err, errlen, "s3 %s: object larger than %zu bytes", what, rq->max_body);
            return IP_RESOURCE_EXHAUSTED;
        }
        if (unreachable_curl(rc)) {
            ip_errorf(err, errlen, "s3 %s: unreachable: %s", what, why);
            return IP_UNAVAILABLE;
        }
        ip_errorf(err, errlen, "s3 %s: %s", what, why);
        return IP_INTERNAL;
    }
    if (ok_status(resp->status))
        return IP_OK;
    ip_status st = map_http(resp, what, err, errlen);
    return racing_folder(rq, resp) ? IP_UNAVAILABLE : st;
}

/* ------------------------------------------------------------ one attempt */

/* The options every attempt has: where, who, how long, where the answer goes. */
static void setopt_common(CURL *c, const stor_s3 *s3, const stor_s3_built *b, stor_s3_resp *resp,
                          char *cerr, int64_t left_ms)
{
    curl_easy_reset(c); /* keeps the connection cache */
    curl_easy_setopt(c, CURLOPT_URL, b->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s3->sigv4);
    curl_easy_setopt(c, CURLOPT_USERNAME, s3->access_key);
    curl_easy_setopt(c, CURLOPT_PASSWORD, s3->secret_key);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, b->hdrs);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(left_ms < s3->connect_timeout_ms ? left_ms : s3->connect_timeout_ms));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left_ms);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, NET_BUFFER);
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, NET_BUFFER);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
}

/* The method and, for PUT and POST, the body. GET is libcurl's default. */
static void setopt_method(CURL *c, const stor_s3_req *rq, upload_src *src)
{
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, src);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
    } else if (strcmp(rq->method, "DELETE") == 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
}

ip_status stor_s3_attempt(const stor_s3 *s3, CURL *c, const stor_s3_req *rq, const stor_s3_built *b,
                          stor_s3_resp *resp, int64_t left_ms, int attempt, char *err,
                          size_t errlen)
{
    stor_s3_resp_reset(resp, rq->max_body);
    upload_src src = {rq->body, rq->body_len};
    char cerr[CURL_ERROR_SIZE] = "";
    setopt_common(c, s3, b, resp, cerr, left_ms);
    setopt_method(c, rq, &src);

    int64_t t0 = ip_mono_us();
    CURLcode rc = curl_easy_perform(c);
    long http = 0, conns = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
    if (rc == CURLE_OK)
        resp->status = http;
    ip_log(IP_LOG_DEBUG, "s3.request", IP_LS("method", rq->method),
           IP_LS("key", rq->key ? rq->key : ""), IP_LI("status", http),
           IP_LS("curl", rc == CURLE_OK ? "ok" : curl_easy_strerror(rc)), IP_LI("attempt", attempt),
           IP_LI("new_conns", conns), IP_LF("ms", (double)(ip_mono_us() - t0) / 1000.0));

    ip_status st = classify(rc, cerr, rq, resp, b->what, err, errlen);
    /* The handle keeps pointers to this attempt's buffers: drop them. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_READDATA, NULL);
    return st;
}
