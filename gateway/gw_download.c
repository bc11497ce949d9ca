/* gw_download.c — streaming an object in chunks (gw_download.h).
 *
 * HOW IT WORKS. gw_download_start charges 2 × chunk to the budget and hands
 * the first fetch to the work pool (gw_offload): GetObject(key, offset 0,
 * length chunk) gives the object's size and its first bytes. Back on the
 * HTTP thread the answer is a callback response of that size. A chunk is
 * held as a view of its reply message (ip_storage_get_object_view): its
 * bytes are never copied out of the message before they are handed to
 * libmicrohttpd. The reader hands out the chunk it holds; when the client
 * has taken all of it, the reader frees it, submits the fetch of the next range to the work pool
 * (past the queue's bound: a download admitted is finished, and each has at
 * most one fetch in flight), suspends the connection and returns 0. The worker stores the reply (or
 * marks the download failed) and resumes the connection; libmicrohttpd calls
 * the reader again. A failure ends the body with
 * MHD_CONTENT_READER_END_WITH_ERROR: the client sees fewer bytes than the
 * Content-Length promised.
 *
 * CONCURRENCY. `mu` guards the chunk, the flags and the references. The
 * reader submits the fetch and suspends the connection under the lock, and
 * the worker stores and resumes under it, so a resume always follows its
 * suspend and is never doubled (as the SSE hub does it, gw_events.c). While a
 * fetch is in flight the connection is suspended and cannot be closed, so
 * the response is not freed under the worker; still the worker holds a
 * reference, as the response and the request do, and the last one out frees
 * the download (after the worker's resume libmicrohttpd may free the
 * response at once, while the worker still returns from the lock).
 */
#include "gw_download.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_handlers.h"
#include "gw_response.h"
#include "gw_work.h"
#include "ip_budget.h"
#include "ip_keys.h"
#include "ip_log.h"
#include "ip_rpc_stubs.h"

typedef struct download {
    gw_app *app;
    struct MHD_Connection *conn;
    pthread_mutex_t mu;
    int refs;
    int64_t charged; /* 2 × chunk, for the download's life */
    char key[IP_KEY_MAX];
    char ctype[128], etag[128], cache[64], vary[32];
    uint64_t size, chunk_bytes;
    const Imageproc__GetObjectReply *chunk; /* the bytes held, from chunk_off: a view of */
    ip_rpc_view *chunk_hold;                /* this reply message */
    uint64_t chunk_off;
    uint64_t next_off;  /* the range a fetch asks for */
    ip_status first_st; /* the first fetch's status */
    char err[256];
    bool failed;
} download;

static void download_unref(download *d)
{
    pthread_mutex_lock(&d->mu);
    bool last = --d->refs == 0;
    pthread_mutex_unlock(&d->mu);
    if (!last)
        return;
    ip_rpc_view_release(d->chunk_hold);
    ip_budget_give(d->charged);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

static void unref_cb(void *arg)
{
    download_unref(arg);
}

/* GetObject of [off, off + chunk) into *out, a view of the reply that *hold
 * keeps (ip_rpc_view_release). Runs on the work pool. */
static ip_status fetch(download *d, uint64_t off, const Imageproc__GetObjectReply **out,
                       ip_rpc_view **hold)
{
    Imageproc__GetObjectRequest in = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
    in.key = d->key;
    in.offset = off;
    in.length = d->chunk_bytes;
    *out = NULL;
    ip_status st =
        ip_storage_get_object_view(d->app->stor, &in, out, hold, NULL, d->err, sizeof d->err);
    if (st == IP_OK &&
        (!(*out)->info || (off < (uint64_t)(*out)->info->size_bytes && (*out)->data.len == 0))) {
        snprintf(d->err, sizeof d->err, "GetObject answered no bytes at offset %llu",
                 (unsigned long long)off);
        st = IP_INTERNAL;
    }
    if (st == IP_OK && (*out)->data.len > d->chunk_bytes) {
        snprintf(d->err, sizeof d->err,
                 "GetObject answered %zu bytes for a range of %llu (storage-svc without ranges?)",
                 (*out)->data.len, (unsigned long long)d->chunk_bytes);
        st = IP_INTERNAL;
    }
    if (st != IP_OK && *hold) {
        ip_rpc_view_release(*hold);
        *hold = NULL;
        *out = NULL;
    }
    return st;
}

/* ------------------------------------------------------------ later chunks */

static void fetch_next(void *arg)
{
    download *d = arg;
    const Imageproc__GetObjectReply *reply = NULL;
    ip_rpc_view *hold = NULL;
    ip_status st = fetch(d, d->next_off, &reply, &hold);
    pthread_mutex_lock(&d->mu);
    if (st == IP_OK) {
        d->chunk = reply;
        d->chunk_hold = hold;
        d->chunk_off = d->next_off;
    } else {
        d->failed = true;
        ip_log(IP_LOG_WARN, "download.failed", IP_LS("key", d->key),
               IP_LI("offset", (long long)d->next_off), IP_LI("size", (long long)d->size),
               IP_LS("err", d->err));
    }
    MHD_resume_connection(d->conn);
    pthread_mutex_unlock(&d->mu);
    download_unref(d);
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    download *d = cls;
    pthread_mutex_lock(&d->mu);
    if (d->failed) {
        pthread_mutex_unlock(&d->mu);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (d->chunk && pos >= d->chunk_off && pos - d->chunk_off < d->chunk->data.len) {
        size_t off = (size_t)(pos - d->chunk_off);
        size_t n = d->chunk->data.len - off;
        if (n > max)
            n = max;
        memcpy(buf, d->chunk->data.data + off, n);
        pthread_mutex_unlock(&d->mu);
        return (ssize_t)n;
    }
    /* The chunk is used up: fetch the next range off this thread. */
    if (d->chunk) {
        ip_rpc_view_release(d->chunk_hold);
        d->chunk_hold = NULL;
        d->chunk = NULL;
    }
    d->next_off = pos;
    d->refs++;
    if (!gw_work_submit_more(d->app->work, fetch_next, d)) {
        d->refs--;
        d->failed = true;
        ip_log(IP_LOG_WARN, "download.failed", IP_LS("key", d->key),
               IP_LI("offset", (long long)pos), IP_LS("err", "the work pool is closing"));
        pthread_mutex_unlock(&d->mu);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    MHD_suspend_connection(d->conn);
    pthread_mutex_unlock(&d->mu);
    return 0;
}

/* ------------------------------------------------------------ the first chunk */

static void first_work(gw_app *app, gw_req *rq)
{
    (void)app;
    download *d = rq->job;
    const Imageproc__GetObjectReply *reply = NULL;
    ip_rpc_view *hold = NULL;
    d->first_st = fetch(d, 0, &reply, &hold);
    if (d->first_st == IP_OK) {
        d->chunk = reply;
        d->chunk_hold = hold;
        d->size = (uint64_t)reply->info->size_bytes;
    }
}

static enum MHD_Result first_then(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    (void)app;
    download *d = rq->job;
    if (d->first_st == IP_NOT_FOUND)
        return gw_send_problem(conn, rq, 404, "the image's bytes are gone (it was just deleted)",
                               NULL);
    if (d->first_st != IP_OK) {
        ip_log(IP_LOG_WARN, "download.failed", IP_LS("key", d->key), IP_LI("offset", 0),
               IP_LS("err", d->err));
        return gw_send_dependency(conn, rq, "object storage", d->first_st);
    }
    d->conn = conn;
    pthread_mutex_lock(&d->mu);
    d->refs++; /* the response's */
    pthread_mutex_unlock(&d->mu);
    struct MHD_Response *r =
        MHD_create_response_from_callback(d->size, 64 * 1024, reader, d, unref_cb);
    if (!r) {
        download_unref(d);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", d->ctype);
    MHD_add_response_header(r, "ETag", d->etag);
    MHD_add_response_header(r, "Cache-Control", d->cache);
    if (d->vary[0])
        MHD_add_response_header(r, "Vary", d->vary);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    return gw_queue(conn, rq, 200, r);
}

enum MHD_Result gw_download_start(gw_app *app, struct MHD_Connection *conn, gw_req *rq,
                                  const gw_download_head *head)
{
    int64_t chunk = app->cfg.download_chunk_bytes;
    if (!ip_budget_try(2 * chunk)) {
        ip_metric_add(app->m.memory_refusals, NULL, 1);
        return gw_send_problem_h(conn, rq, 503,
                                 "the gateway is holding too much data at once (uploads and "
                                 "downloads); retry in a moment",
                                 NULL, "Retry-After", "2");
    }
    download *d = calloc(1, sizeof *d);
    if (!d) {
        ip_budget_give(2 * chunk);
        return MHD_NO;
    }
    pthread_mutex_init(&d->mu, NULL);
    d->app = app;
    d->refs = 1; /* the request's */
    d->charged = 2 * chunk;
    d->chunk_bytes = (uint64_t)chunk;
    snprintf(d->key, sizeof d->key, "%s", head->key);
    snprintf(d->ctype, sizeof d->ctype, "%s", head->content_type);
    snprintf(d->etag, sizeof d->etag, "%s", head->etag);
    snprintf(d->cache, sizeof d->cache, "%s", head->cache_control);
    snprintf(d->vary, sizeof d->vary, "%s", head->vary ? head->vary : "");
    gw_req_defer(rq, unref_cb, d);
    rq->job = d;
    return gw_offload(app, conn, rq, first_work, first_then);
}
