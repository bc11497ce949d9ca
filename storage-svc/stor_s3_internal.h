/* stor_s3_internal.h — what the files of the S3 client share; callers use
 * stor_s3.h only.
 *
 * The client is split by role, one job per file:
 *   stor_s3.c          the client: its settings and the per-thread CURL handles;
 *   stor_s3_request.c  building a request once per call: URL, payload hash,
 *                      the headers SigV4 signs;
 *   stor_s3_attempt.c  one attempt on the thread's handle: libcurl options,
 *                      the answer read into a stor_s3_resp, and the
 *                      translation of curl codes and HTTP answers into ip_status;
 *   stor_s3_retry.c    stor_s3_perform: build, then attempts with backoff while
 *                      the failure is transient and the budget lasts;
 *   stor_s3_object.c   the object calls (PUT, GET, HEAD, deletes, listing);
 *   stor_s3_bucket.c   bucket set-up (HEAD, create, the caller's policy).
 * Everything here runs on the calling thread and touches only that thread's
 * handle; the client itself is read-only after stor_s3_new except for the
 * list of handles, which `mu` guards.
 */
#ifndef STOR_S3_INTERNAL_H
#define STOR_S3_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_text.h"
#include "ip_status.h"
#include "stor_s3.h"

#define STOR_S3_XML_MAX (16u * 1024u * 1024u) /* cap on an XML answer (a list page is ~300 KiB) */

/* One thread's CURL easy handle, kept in the client's pthread key. */
typedef struct stor_s3_handle stor_s3_handle;
struct stor_s3_handle {
    CURL *curl;
    stor_s3 *owner;
    stor_s3_handle *prev, *next; /* the client's list, under owner->mu */
    uint64_t rng;                /* jitter state of this thread's backoff */
};

struct stor_s3 {
    char *endpoint, *region, *bucket, *access_key, *secret_key;
    char *sigv4; /* "aws:amz:<region>:s3" */
    long connect_timeout_ms, timeout_ms;
    int retries;
    pthread_key_t key;
    pthread_mutex_t mu; /* guards handles */
    stor_s3_handle *handles;
};

/* One S3 request as the calls describe it. Every pointer is borrowed for the
 * call. */
typedef struct stor_s3_req {
    const char *method; /* GET HEAD PUT DELETE POST */
    const char *key;    /* object key (unencoded), NULL for the bucket */
    const char *query;  /* canonical query, NULL or "" for none */
    const void *body;   /* PUT/POST body */
    size_t body_len;
    const char *content_type; /* sent and signed when not NULL */
    const char *cache_control;
    const char *payload_sha256; /* hex SHA-256 of the body from the caller; NULL: hashed here */
    const char *range;          /* a GET's "bytes=a-b", sent as Range; NULL: none */
    bool content_md5;           /* send Content-MD5 of the body */
    bool idempotent;            /* may be retried (see stor_s3_retry.c) */
    size_t max_body;            /* cap on a 2xx answer's body */
} stor_s3_req;

/* The answer of the last attempt. */
typedef struct stor_s3_resp {
    long status;       /* HTTP status, 0 when none */
    char *body;        /* owned (or the sink's when borrowed), NUL-terminated when not NULL */
    stor_s3_sink sink; /* where a 2xx body of known length goes; NULL: body is ours */
    void *sink_ud;     /* (both kept by stor_s3_resp_reset) */
    bool borrowed;     /* body is the sink's buffer */
    size_t len, cap, max;
    bool too_big;
    int64_t content_length; /* -1 unknown */
    int64_t range_total;    /* the whole object's size from Content-Range (206, 416); -1 none */
    char etag[128];
    char content_type[256];
} stor_s3_resp;

/* A request built once per call and sent by every attempt. */
typedef struct stor_s3_built {
    char what[128];          /* "PUT o/x" or "GET images?location=", for messages */
    char *url;               /* owned */
    struct curl_slist *hdrs; /* owned */
} stor_s3_built;

/* ------------------------------------------------ stor_s3.c */

/* The calling thread's handle, made on its first call; NULL on out of memory.
 * Owned by the client (freed when the thread exits or by stor_s3_free). */
stor_s3_handle *stor_s3_handle_get(stor_s3 *s3);

/* The next pseudo-random number of this thread's jitter. */
uint64_t stor_s3_handle_rand(stor_s3_handle *h);

/* The monotonic time (ip_mono_ms) at which a call of `budget_ms` must end;
 * budget_ms <= 0 means the client's timeout. */
int64_t stor_s3_deadline_ms(const stor_s3 *s3, int64_t budget_ms);

/* ------------------------------------------------ stor_s3_request.c */

/* Builds the URL (endpoint/bucket[/key][?query], the key encoded by the S3
 * rules) and the headers of `rq` into *out. IP_RESOURCE_EXHAUSTED on out of
 * memory, IP_INTERNAL when a digest fails, with err set; nothing to release
 * then. On IP_OK release with stor_s3_request_fini. */
ip_status stor_s3_request_build(const stor_s3 *s3, const stor_s3_req *rq, stor_s3_built *out,
                                char *err, size_t errlen);

/* Releases what stor_s3_request_build made. Safe on a zeroed struct. */
void stor_s3_request_fini(stor_s3_built *b);

/* ------------------------------------------------ stor_s3_attempt.c */

/* Frees resp's body (unless borrowed) and empties it for an answer capped at
 * `max` bytes; the sink stays. */
void stor_s3_resp_reset(stor_s3_resp *r, size_t max);

/* Sends `b` once on `c` (the calling thread's handle) with at most left_ms
 * for the whole attempt, reads the answer into resp (reset here) and returns
 * it translated: IP_OK for a 2xx answer, else the status and err as
 * described in stor_s3.h. `attempt` numbers the attempt for the log. */
ip_status stor_s3_attempt(const stor_s3 *s3, CURL *c, const stor_s3_req *rq, const stor_s3_built *b,
                          stor_s3_resp *resp, int64_t left_ms, int attempt, char *err,
                          size_t errlen);

/* ------------------------------------------------ stor_s3_retry.c */

/* Runs `rq` within budget_ms, retrying as stor_s3_retry.c describes. On IP_OK
 * resp holds a 2xx answer; otherwise err says why. resp is reset here and
 * must be released with stor_s3_resp_reset(resp, 0) by the caller either
 * way. */
ip_status stor_s3_perform(stor_s3 *s3, const stor_s3_req *rq, stor_s3_resp *resp, int64_t budget_ms,
                          char *err, size_t errlen);

#endif
