/* stor_s3_object.c — the object calls of the S3 client (stor_s3.h): PUT,
 * GET, HEAD, multi-object delete and delete by prefix.
 *
 * Each call describes its request (stor_s3_req) and hands it to
 * stor_s3_perform, which signs, sends and retries it; all of them are
 * idempotent. A GET's body is handed over to the caller without a copy (or,
 * with a sink, was written into the caller's own buffer in the first place); a
 * ranged GET asks HEAD first for the object's size (objects are written once,
 * so it cannot change in between) and sends Range: bytes=a-b. A
 * multi-object delete sends at most 1000 keys a request (S3's limit) in
 * Quiet mode, so the answer lists only the keys that failed. A prefix delete
 * lists the keys with ListObjectsV2, one page of up to 1000 at a time, and
 * deletes each page before asking for the next, following the continuation
 * token; a deadline taken at the start bounds all the requests together.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_time.h"
#include "stor_s3_internal.h"
#include "stor_s3_text.h"

#define DELETE_BATCH 1000 /* S3's limit per multi-object delete */

static void info_from(const stor_s3_resp *r, stor_obj_info *info)
{
    if (!info)
        return;
    info->size = r->content_length;
    snprintf(info->content_type, sizeof info->content_type, "%s", r->content_type);
    snprintf(info->etag, sizeof info->etag, "%s", r->etag);
}

/* ------------------------------------------------------------ one object */

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
    stor_s3_resp resp = {0};
    const char *ct = content_type && content_type[0] ? content_type : "application/octet-stream";
    stor_s3_req rq = {.method = "PUT",
                      .key = key,
                      .body = data,
                      .body_len = len,
                      .content_type = ct,
                      .cache_control = cache_control,
                      .payload_sha256 = sha256_hex,
                      .idempotent = true,
                      .max_body = STOR_S3_XML_MAX};
    ip_status st = stor_s3_perform(s3, &rq, &resp, budget_ms, err, errlen);
    if (st == IP_OK && info) {
        info->size = (int64_t)len;
        snprintf(info->content_type, sizeof info->content_type, "%s", ct);
        snprintf(info->etag, sizeof info->etag, "%s", resp.etag);
    }
    stor_s3_resp_reset(&resp, 0);
    return st;
}

/* The body of a successful answer handed over to the caller. */
static void hand_over(stor_s3_resp *r, void **data, size_t *len, bool *borrowed)
{
    *data = r->body;
    *len = r->len;
    *borrowed = r->borrowed;
    r->body = NULL;
    r->borrowed = false;
}

static ip_status get_whole(stor_s3 *s3, const char *key, size_t max_bytes, stor_s3_sink sink,
                           void *ud, void **data, size_t *len, bool *borrowed, stor_obj_info *info,
                           int64_t budget_ms, char *err, size_t errlen)
{
    stor_s3_resp resp = {.sink = sink, .sink_ud = ud};
    stor_s3_req rq = {.method = "GET", .key = key, .idempotent = true, .max_body = max_bytes};
    *data = NULL;
    *len = 0;
    *borrowed = false;
    ip_status st = stor_s3_perform(s3, &rq, &resp, budget_ms, err, errlen);
    if (st == IP_OK) {
        info_from(&resp, info);
        if (info)
            info->size = (int64_t)resp.len;
        hand_over(&resp, data, len, borrowed);
    }
    stor_s3_resp_reset(&resp, 0);
    return st;
}

ip_status stor_s3_get(stor_s3 *s3, const char *key, size_t max_bytes, void **data, size_t *len,
                      stor_obj_info *info, int64_t budget_ms, char *err, size_t errlen)
{
    bool borrowed;
    return get_whole(s3, key, max_bytes, NULL, NULL, data, len, &borrowed, info, budget_ms, err,
                     errlen);
}

/* The range [offset, offset + n) of an answer that ignored the Range header
 * (200 with the whole object) moved to the front of its body. */
static void keep_range(stor_s3_resp *r, uint64_t offset, uint64_t len)
{
    uint64_t total = r->len;
    uint64_t n = len == 0 || len > total - offset ? total - offset : len;
    memmove(r->body, r->body + offset, (size_t)n);
    r->len = (size_t)n;
}

/* A 416 answer: an empty object read from 0 (no bytes), else an offset at or
 * past the end. */
static ip_status range_not_satisfiable(stor_s3 *s3, const char *key, uint64_t offset,
                                       int64_t total, stor_obj_info *info, int64_t budget_ms,
                                       char *err, size_t errlen)
{
    if (offset == 0 && total <= 0)
        return stor_s3_head(s3, key, info, budget_ms, err, errlen);
    ip_errorf(err, errlen, "s3 GET %s: offset %llu is at or past the end of the object (%lld bytes)",
              key, (unsigned long long)offset, (long long)total);
    return IP_INVALID_ARGUMENT;
}

static ip_status get_range(stor_s3 *s3, const char *key, uint64_t offset, uint64_t len,
                           size_t max_bytes, stor_s3_sink sink, void *ud, void **data,
                           size_t *out_len, bool *borrowed, stor_obj_info *info, int64_t budget_ms,
                           char *err, size_t errlen)
{
    *data = NULL;
    *out_len = 0;
    *borrowed = false;
    char range[64];
    if (len == 0)
        snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)offset);
    else
        snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)offset,
                 (unsigned long long)(offset + len - 1));
    stor_s3_resp resp = {.sink = sink, .sink_ud = ud};
    stor_s3_req rq = {
        .method = "GET", .key = key, .range = range, .idempotent = true, .max_body = max_bytes};
    ip_status st = stor_s3_perform(s3, &rq, &resp, budget_ms, err, errlen);
    if (st != IP_OK && resp.status == 416) {
        int64_t total = resp.range_total;
        stor_s3_resp_reset(&resp, 0);
        return range_not_satisfiable(s3, key, offset, total, info, budget_ms, err, errlen);
    }
    if (st == IP_OK && resp.status != 206) {
        /* The whole object: a server that ignores Range. */
        resp.range_total = (int64_t)resp.len;
        if (offset >= resp.len && !(offset == 0 && resp.len == 0)) {
            int64_t total = resp.range_total;
            stor_s3_resp_reset(&resp, 0);
            return range_not_satisfiable(s3, key, offset, total, info, budget_ms, err, errlen);
        }
        keep_range(&resp, offset, len);
    }
    if (st == IP_OK && resp.range_total < 0) {
        ip_errorf(err, errlen, "s3 GET %s: a 206 answer without Content-Range", key);
        st = IP_INTERNAL;
    }
    if (st == IP_OK) {
        info_from(&resp, info);
        if (info)
            info->size = resp.range_total;
        hand_over(&resp, data, out_len, borrowed);
    }
    stor_s3_resp_reset(&resp, 0);
    return st;
}

ip_status stor_s3_get_range(stor_s3 *s3, const char *key, uint64_t offset, uint64_t len,
                            size_t max_bytes, void **data, size_t *out_len, stor_obj_info *info,
                            int64_t budget_ms, char *err, size_t errlen)
{
    bool borrowed;
    return get_range(s3, key, offset, len, max_bytes, NULL, NULL, data, out_len, &borrowed, info,
                     budget_ms, err, errlen);
}

ip_status stor_s3_get_into(stor_s3 *s3, const char *key, uint64_t offset, uint64_t len,
                           size_t max_bytes, stor_s3_sink sink, void *ud, void **data,
                           size_t *out_len, bool *borrowed, stor_obj_info *info, int64_t budget_ms,
                           char *err, size_t errlen)
{
    if (offset == 0 && len == 0)
        return get_whole(s3, key, max_bytes, sink, ud, data, out_len, borrowed, info, budget_ms,
                         err, errlen);
    return get_range(s3, key, offset, len, max_bytes, sink, ud, data, out_len, borrowed, info,
                     budget_ms, err, errlen);
}

ip_status stor_s3_head(stor_s3 *s3, const char *key, stor_obj_info *info, int64_t budget_ms,
                       char *err, size_t errlen)
{
    stor_s3_resp resp = {0};
    /* A HEAD answer has no body: its Content-Length is the object's, never capped. */
    stor_s3_req rq = {.method = "HEAD", .key = key, .idempotent = true, .max_body = SIZE_MAX};
    ip_status st = stor_s3_perform(s3, &rq, &resp, budget_ms, err, errlen);
    if (st == IP_OK)
        info_from(&resp, info);
    stor_s3_resp_reset(&resp, 0);
    return st;
}

/* ------------------------------------------------------------ deletes */

/* The status of a multi-object delete whose first failed key has S3's `code`. */
static ip_status delete_code_status(const char *code)
{
    if (strcmp(code, "AccessDenied") == 0)
        return IP_FAILED_PRECONDITION;
    if (strcmp(code, "InternalError") == 0 || strcmp(code, "SlowDown") == 0)
        return IP_UNAVAILABLE;
    return IP_INTERNAL;
}

/* Deletes up to DELETE_BATCH keys in one request; adds to *deleted the keys
 * S3 reported no error for. */
static ip_status delete_batch(stor_s3 *s3, const char *const *keys, size_t n, int64_t *deleted,
                              int64_t budget_ms, char *err, size_t errlen)
{
    size_t blen = 0;
    char *body = stor_xml_delete_body(keys, n, &blen);
    if (!body) {
        ip_errorf(err, errlen, "s3 delete: out of memory");
        return IP_RESOURCE_EXHAUSTED;
    }
    stor_s3_resp resp = {0};
    stor_s3_req rq = {.method = "POST",
                      .query = "delete=",
                      .body = body,
                      .body_len = blen,
                      .content_type = "application/xml",
                      .content_md5 = true,
                      .idempotent = true,
                      .max_body = STOR_S3_XML_MAX};
    ip_status st = stor_s3_perform(s3, &rq, &resp, budget_ms, err, errlen);
    if (st == IP_OK) {
        char code[64] = "", msg[256] = "", key[256] = "";
        size_t failed = stor_xml_delete_result(resp.body ? resp.body : "", resp.len, key,
                                               sizeof key, code, sizeof code, msg, sizeof msg);
        *deleted += (int64_t)(n - (failed > n ? n : failed));
        if (failed) {
            ip_errorf(err, errlen, "s3 delete: %zu of %zu keys failed, first %s (%s): %s", failed,
                      n, key, code, msg);
            st = delete_code_status(code);
        }
    }
    stor_s3_resp_reset(&resp, 0);
    free(body);
    return st;
}

ip_status stor_s3_delete_keys(stor_s3 *s3, const char *const *keys, size_t n, int64_t *deleted,
                              int64_t budget_ms, char *err, size_t errlen)
{
    int64_t deadline = stor_s3_deadline_ms(s3, budget_ms);
    *deleted = 0;
    ip_errorf(err, errlen, "%s", "");
    for (size_t i = 0; i < n; i += DELETE_BATCH) {
        size_t m = n - i < DELETE_BATCH ? n - i : DELETE_BATCH;
        int64_t left = deadline - ip_mono_ms();
        if (left <= 0) {
            ip_errorf(err, errlen, "s3 delete: timed out after %lld keys", (long long)*deleted);
            return IP_UNAVAILABLE;
        }
        ip_status st = delete_batch(s3, keys + i, m, deleted, left, err, errlen);
        if (st != IP_OK)
            return st;
    }
    return IP_OK;
}

/* One ListObjectsV2 page of the keys under `prefix`, from `token` (NULL: the
 * first page). On IP_OK *keys (n of them) and *next (NULL on the last page)
 * are owned by the caller, as stor_xml_list_parse hands them out. */
static ip_status list_page(stor_s3 *s3, const char *prefix, const char *token, char ***keys,
                           size_t *n, char **next, int64_t budget_ms, char *err, size_t errlen)
{
    *keys = NULL;
    *n = 0;
    *next = NULL;
    stor_query_param qp[4] = {{"list-type", "2"}, {"max-keys", "1000"}, {"prefix", prefix}};
    size_t nq = 3;
    if (token)
        qp[nq++] = (stor_query_param){"continuation-token", token};
    char *query = stor_canonical_query(qp, nq);
    if (!query) {
        ip_errorf(err, errlen, "s3 list: out of memory");
        return IP_RESOURCE_EXHAUSTED;
    }
    stor_s3_resp resp = {0};
    stor_s3_req rq = {
        .method = "GET", .query = query, .idempotent = true, .max_body = STOR_S3_XML_MAX};
    ip_status st = stor_s3_perform(s3, &rq, &resp, budget_ms, err, errlen);
    free(query);
    if (st == IP_OK) {
        st = stor_xml_list_parse(resp.body ? resp.body : "", resp.len, keys, n, next);
        if (st != IP_OK)
            ip_errorf(err, errlen, "s3 list: malformed answer");
    }
    stor_s3_resp_reset(&resp, 0);
    return st;
}

static void free_keys(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

ip_status stor_s3_delete_prefix(stor_s3 *s3, const char *prefix, int64_t *deleted,
                                int64_t budget_ms, char *err, size_t errlen)
{
    int64_t deadline = stor_s3_deadline_ms(s3, budget_ms);
    ip_status st = IP_OK;
    char *token = NULL;
    *deleted = 0;
    ip_errorf(err, errlen, "%s", "");

    do {
        int64_t left = deadline - ip_mono_ms();
        if (left <= 0) {
            ip_errorf(err, errlen, "s3 delete prefix: timed out after %lld keys",
                      (long long)*deleted);
            st = IP_UNAVAILABLE;
            break;
        }
        char **keys = NULL, *next = NULL;
        size_t n = 0;
        st = list_page(s3, prefix, token, &keys, &n, &next, left, err, errlen);
        if (st == IP_OK && n > 0)
            st = stor_s3_delete_keys(s3, (const char *const *)keys, n, &(int64_t){0}, left, err,
                                     errlen);
        if (st == IP_OK)
            *deleted += (int64_t)n;
        free_keys(keys, n);
        free(token);
        token = next;
    } while (st == IP_OK && token);
    free(token);
    return st;
}
