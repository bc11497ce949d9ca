/* stor_s3.h — a small S3 client over libcurl, signed with SigV4.
 *
 * Path-style URLs (endpoint/bucket/key), SigV4 by libcurl (CURLOPT_AWS_SIGV4
 * "aws:amz:<region>:s3") with x-amz-content-sha256 set to the hex SHA-256 of
 * the body. One client serves any number of threads: each thread gets its own
 * CURL easy handle on first use (kept in thread-local storage), so every
 * worker keeps its connection to S3 alive between calls.
 *
 * Every call returns an ip_status with S3's answer translated:
 *   2xx -> IP_OK; 404 -> IP_NOT_FOUND (NoSuchBucket -> IP_FAILED_PRECONDITION);
 *   403 -> IP_FAILED_PRECONDITION with S3's message; other 4xx ->
 *   IP_INVALID_ARGUMENT; 5xx after the retries -> IP_UNAVAILABLE; connection
 *   refused, reset or timed out -> IP_UNAVAILABLE; anything else IP_INTERNAL.
 * When `err` is not NULL it receives a one-line reason ("" on success).
 *
 * `budget_ms` bounds the whole call, retries included (<= 0: the client's
 * configured transfer timeout). Idempotent calls (all object calls and the
 * multi-object delete) are retried with exponential backoff on connection
 * errors and 5xx answers while the budget lasts; bucket creation is not.
 *
 * The implementation is split by role (stor_s3_internal.h has the map):
 * stor_s3.c (client and handles), stor_s3_request.c (URL, headers, signing
 * setup), stor_s3_attempt.c (one attempt and the translation of its
 * outcome), stor_s3_retry.c (the retry loop), stor_s3_object.c and
 * stor_s3_bucket.c (the calls).
 */
#ifndef STOR_S3_H
#define STOR_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_status.h"

typedef struct stor_s3 stor_s3;

typedef struct stor_s3_opts {
    const char *endpoint; /* "http://127.0.0.1:19000" (no trailing slash needed) */
    const char *region;   /* "us-east-1" */
    const char *bucket;   /* "images" */
    const char *access_key;
    const char *secret_key;
    long connect_timeout_ms; /* <= 0: 2000 */
    long timeout_ms;         /* whole-call default; <= 0: 60000 */
    int retries;             /* extra attempts for idempotent calls; < 0: 3 */
} stor_s3_opts;

typedef struct stor_obj_info {
    int64_t size;
    char content_type[256];
    char etag[128]; /* quotes removed */
} stor_obj_info;

/* Makes a client; strings in `opts` are copied. Calls curl_global_init the
 * first time: call from main before other threads use libcurl. */
ip_status stor_s3_new(const stor_s3_opts *opts, stor_s3 **out);

/* Frees the client and every easy handle it made. No call may be running or
 * start afterwards. NULL does nothing. */
void stor_s3_free(stor_s3 *s3);

/* Makes the bucket when HEAD says it is missing, then sets its policy to
 * `policy_json` (the bucket policy document as S3 takes it, borrowed; NULL or
 * "" leaves the bucket's policy as it is). The client does not read the
 * policy: what is public is the caller's business (storage-svc passes
 * ip_bucket_policy_json from common/ip_keys.h). Creation and the policy are
 * not retried. A 403 (wrong keys) is IP_FAILED_PRECONDITION with S3's Code
 * and Message in err. */
ip_status stor_s3_ensure_bucket(stor_s3 *s3, const char *policy_json, int64_t budget_ms, char *err,
                                size_t errlen);

/* PUT `len` bytes at `key` (validated by the caller). content_type NULL or ""
 * -> application/octet-stream; cache_control NULL or "" -> none. On IP_OK
 * fills *info (size, content type, etag) when info is not NULL. */
ip_status stor_s3_put(stor_s3 *s3, const char *key, const void *data, size_t len,
                      const char *content_type, const char *cache_control, stor_obj_info *info,
                      int64_t budget_ms, char *err, size_t errlen);

/* stor_s3_put with the body's payload hash supplied by the caller: sha256_hex
 * (64 lowercase hex digits, checked by the caller) is sent as
 * x-amz-content-sha256 instead of hashing the body here; S3 checks the body
 * against it and refuses a mismatch (IP_INVALID_ARGUMENT). NULL or "" -> the
 * body is hashed here, exactly as stor_s3_put does. */
ip_status stor_s3_put_hashed(stor_s3 *s3, const char *key, const void *data, size_t len,
                             const char *content_type, const char *cache_control,
                             const char *sha256_hex, stor_obj_info *info, int64_t budget_ms,
                             char *err, size_t errlen);

/* GET `key`. On IP_OK *data is an owned malloc'd buffer (free(); NULL when the
 * object is empty) of *len bytes. An object over max_bytes is
 * IP_RESOURCE_EXHAUSTED and nothing is returned. */
ip_status stor_s3_get(stor_s3 *s3, const char *key, size_t max_bytes, void **data, size_t *len,
                      stor_obj_info *info, int64_t budget_ms, char *err, size_t errlen);

/* GET `len` bytes of `key` from `offset` (a Range request): the range is cut
 * at the object's end. On IP_OK *data is owned as with stor_s3_get, and
 * info->size is the whole object's size (from the answer's Content-Range: one
 * request); an offset at or past the end is IP_INVALID_ARGUMENT with err
 * saying so; an empty object with offset 0 gives no bytes. `len` 0: to the end; the
 * range at most max_bytes (IP_RESOURCE_EXHAUSTED beyond). */
ip_status stor_s3_get_range(stor_s3 *s3, const char *key, uint64_t offset, uint64_t len,
                            size_t max_bytes, void **data, size_t *out_len, stor_obj_info *info,
                            int64_t budget_ms, char *err, size_t errlen);

/* Where a GET's body may go: a buffer of n bytes (the body's length, from
 * Content-Length, plus one), or NULL for one of the client's own. */
typedef void *(*stor_s3_sink)(void *ud, size_t n);

/* stor_s3_get (offset and len 0) or stor_s3_get_range, with a 2xx body
 * whose length S3 announces written straight into sink(ud, length + 1).
 * *data is then that buffer (the sink's, not to be freed here or by the
 * caller's free()), and *borrowed true; otherwise *data is owned as with
 * stor_s3_get and *borrowed false. */
ip_status stor_s3_get_into(stor_s3 *s3, const char *key, uint64_t offset, uint64_t len,
                           size_t max_bytes, stor_s3_sink sink, void *ud, void **data,
                           size_t *out_len, bool *borrowed, stor_obj_info *info, int64_t budget_ms,
                           char *err, size_t errlen);

/* HEAD `key`: IP_OK with *info, or IP_NOT_FOUND. */
ip_status stor_s3_head(stor_s3 *s3, const char *key, stor_obj_info *info, int64_t budget_ms,
                       char *err, size_t errlen);

/* Deletes `keys` (n of them) with multi-object delete, 1000 per request.
 * Missing keys are not an error. *deleted counts the keys S3 reported no
 * error for. A per-key error (e.g. AccessDenied) makes the call fail. */
ip_status stor_s3_delete_keys(stor_s3 *s3, const char *const *keys, size_t n, int64_t *deleted,
                              int64_t budget_ms, char *err, size_t errlen);

/* Deletes every key under `prefix` (non-empty), listing with ListObjectsV2
 * and deleting page by page. *deleted counts the keys removed. */
ip_status stor_s3_delete_prefix(stor_s3 *s3, const char *prefix, int64_t *deleted,
                                int64_t budget_ms, char *err, size_t errlen);

#endif
