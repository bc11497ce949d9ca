/* gw_routes_image.c — one image: GET /image/{id} (its bytes), GET
 * /image/{id}/info (its JSON) and DELETE /image/{id}.
 *
 * Every handler first checks the id (400 naming `id` unless it is a UUID) and
 * asks metadata-svc for the row; the reply is handed to the request, which
 * frees it when the answer has been sent, so no exit frees it by hand.
 *
 * GET /image/{id}. `variant` picks a variant by name, or `original`; without
 * it the requested variant of highest serve_rank (ip_variants.h) is served:
 * watermarked, else resized, else thumbnail. A variant that was not requested
 * is 404; failed, 422 with its reason; not ready yet, 202 with the info and
 * Retry-After. A ready variant has a file per stored format (gw_files.h):
 * `format` forces one (404 naming `format` when the variant has no file of
 * it), else the Accept header chooses (gw_accept.h: WebP or AVIF only when
 * named, else the primary JPEG or PNG), and every answer chosen that way
 * carries Vary: Accept (the 200s, redirected or not, and the 304s), so a
 * cache keeps one copy per Accept. Content-Type is the chosen file's. The
 * ETag is per image, variant, preset version and format (the bytes of a key
 * never change), so If-None-Match answers 304. When IP_GATEWAY_ACCEL is on
 * and the request came through the proxy (it carries X-Forwarded-Prefix or
 * X-Forwarded-For), a ready variant is answered with X-Accel-Redirect:
 * <location><key> and no body; nginx fetches the bytes from the bucket.
 * Direct requests, and the private original always, get the bytes from
 * storage-svc streamed in chunks (gw_download.c): never the whole object in
 * memory, each chunk fetched on the work pool.
 *
 * DELETE /image/{id}. DeleteImage removes the row (every API path answers 404
 * from then on) and, in the same transaction, records a purge of the image's
 * objects; its reply names them (keys and the variant prefix). The request
 * then tries the purge itself on the work pool (gw_purge_now: DeleteObjects
 * bounded by IP_GATEWAY_DELETE_WAIT_MS, then FinishPurge): 204 when that succeeded,
 * else 202 {"id", "status": "deleting"} and the purger (gw_purge.c) finishes
 * it. A second DELETE finds no row: 404.
 *
 * WHO MAY (gw_auth.h). The original: the image's owner token or an admin
 * key. DELETE: the owner token (checked against the row's owner_hash, so
 * GetImage comes first for it) or a key with delete or admin scope; an image
 * from before owners only by a key. An anonymous caller gets 401, a valid
 * credential that does not grant it 403; both before anything changes.
 *
 * POST /image/{id}/retry. A failed image back to the queue, as `imgctl retry`
 * does it: the owner token (GetImage first) or an admin key; the Kafka breaker
 * (503 while Kafka was just seen down, before the row changes); RetryImage
 * (404 unknown, 409 when the image is not failed), which makes the row
 * pending; then on the work pool its job (gw_job.c: attempt 1, the requested
 * variants) and MarkEnqueued. 202 with the image's info. A job that Kafka did
 * not take leaves the row pending and never enqueued, which the sweep
 * enqueues after IP_GATEWAY_SWEEP_AGE_MS: still 202, and logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_accept.h"
#include "gw_download.h"
#include "gw_files.h"
#include "gw_handlers.h"
#include "gw_job.h"
#include "gw_json.h"
#include "gw_json_write.h"
#include "gw_kafka.h"
#include "gw_response.h"
#include "gw_purge.h"
#include "ip_keys.h"
#include "ip_log.h"
#include "ip_rpc_stubs.h"
#include "ip_uuid.h"

/* The image's info document (gw_json_write.h), with one extra header
 * (hname NULL: none). */
static enum MHD_Result send_info(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                 const Imageproc__Image *img, const char *hname, const char *hval)
{
    gw_jbuf jb;
    gw_jbuf_init(&jb, GW_JSON_INFO_FIRST, GW_JSON_MAX_BYTES);
    gw_image_info_write(&jb, img);
    return gw_send_jbuf_h(conn, rq, status, &jb, NULL, hname, hval);
}

static const char not_found[] = "no image has this id (it may have been deleted)";

/* The path's id as a canonical UUID in out; else answers 400 into *ret. */
static bool check_id(struct MHD_Connection *conn, gw_req *rq, char out[37], enum MHD_Result *ret)
{
    ip_uuid u;
    if (!ip_uuid_parse(rq->id, &u)) {
        *ret = gw_send_problem(conn, rq, 400,
                               "the image id in the path must be a UUID such as "
                               "0190f2a4-5b6c-7d8e-9f00-112233445566",
                               "id");
        return false;
    }
    ip_uuid_format(&u, out);
    return true;
}

/* GetImage of `id`: true with *img borrowed from the reply, which the request
 * frees when it ends; else the answer (404, 503) is queued into *ret. */
static bool get_image(gw_app *app, struct MHD_Connection *conn, gw_req *rq, const char *id,
                      const Imageproc__Image **img, enum MHD_Result *ret)
{
    Imageproc__GetImageRequest in = IMAGEPROC__GET_IMAGE_REQUEST__INIT;
    in.id = (char *)id;
    Imageproc__GetImageReply *reply = NULL;
    char err[256];
    ip_status st = ip_metadata_get_image(app->meta, &in, &reply, NULL, err, sizeof err);
    gw_req_defer_message(rq, reply);
    if (st == IP_NOT_FOUND || (st == IP_OK && !reply->image)) {
        *ret = gw_send_problem(conn, rq, 404, not_found, NULL);
        return false;
    }
    if (st != IP_OK) {
        ip_log(IP_LOG_WARN, "rpc.get_image_failed", IP_LS("image_id", id), IP_LS("err", err));
        *ret = gw_send_dependency(conn, rq, "metadata service", st);
        return false;
    }
    *img = reply->image;
    return true;
}

/* The owner hash an owner action is judged against: the row's, read only
 * when the caller is an owner token (a key's scopes do not depend on the
 * image). true with *owner_hash set (NULL for a key or anonymous caller);
 * else the answer (404, 503) is queued into *ret. */
static bool owner_hash_for_caller(gw_app *app, struct MHD_Connection *conn, gw_req *rq,
                                  const char *id, const char **owner_hash, enum MHD_Result *ret)
{
    *owner_hash = NULL;
    if (!gw_auth_is_owner(&rq->caller))
        return true;
    const Imageproc__Image *img = NULL;
    if (!get_image(app, conn, rq, id, &img, ret))
        return false;
    *owner_hash = img->owner_hash;
    return true;
}

/* A refusal by the access rules, logged with the caller's label (never a secret). */
static enum MHD_Result denied(struct MHD_Connection *conn, gw_req *rq, gw_verdict v, const char *id)
{
    ip_log(IP_LOG_INFO, "auth.denied", IP_LS("route", gw_route_name(rq->route)),
           IP_LS("image_id", id), IP_LS("caller", rq->caller.label), IP_LI("status", v.status));
    return gw_send_verdict(conn, rq, v);
}

/* ------------------------------------------------------------ GET /image/{id} */

/* The object GET /image/{id} answers with. */
typedef struct image_object {
    bool original;
    bool negotiated;   /* chosen by Accept: the answer varies with it */
    const char *key;   /* borrowed from the image's record, or keybuf */
    const char *ctype; /* Content-Type */
    char keybuf[IP_KEY_MAX];
    char etag[128];
} image_object;

/* Without ?variant=: the requested variant that ranks highest to serve; the
 * first of the table when the record names none. */
static ip_variant_kind default_variant(const Imageproc__Image *img)
{
    const ip_variant_def *best = NULL;
    for (size_t i = 0; i < img->n_requested; i++) {
        const ip_variant_def *d = ip_variant_get(img->requested[i]);
        if (d && (!best || d->serve_rank > best->serve_rank))
            best = d;
    }
    return best ? best->kind : ip_variants[0].kind;
}

static const char *error_or(const char *error, const char *fallback)
{
    return error && *error ? error : fallback;
}

/* Every Accept line of the request, joined with commas as RFC 9110 reads
 * several lines of one field. */
typedef struct accept_text {
    char buf[GW_ACCEPT_MAX_BYTES + 1];
    size_t len;
    bool over; /* longer than GW_ACCEPT_MAX_BYTES: served as without one */
    bool any;
} accept_text;

static enum MHD_Result accept_line(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    accept_text *a = cls;
    if (!key || strcasecmp(key, "Accept") != 0 || !value)
        return MHD_YES;
    size_t vlen = strlen(value), need = vlen + (a->any ? 1 : 0);
    if (a->over || need > GW_ACCEPT_MAX_BYTES - a->len) {
        a->over = true;
        return MHD_NO;
    }
    if (a->any)
        a->buf[a->len++] = ',';
    memcpy(a->buf + a->len, value, vlen);
    a->len += vlen;
    a->buf[a->len] = '\0';
    a->any = true;
    return MHD_YES;
}

/* The request's Accept value; NULL when there is none or it is too long. */
static const char *request_accept(struct MHD_Connection *conn, accept_text *a)
{
    a->len = 0;
    a->buf[0] = '\0';
    a->over = a->any = false;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, accept_line, a);
    return a->any && !a->over ? a->buf : NULL;
}

/* "jpeg, webp": the formats of files[0..n) for an error sentence. */
static void format_list(const gw_file *files, size_t n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && at < len; i++) {
        int w = snprintf(buf + at, len - at, "%s%s", i ? ", " : "", files[i].fmt->name);
        if (w < 0)
            break;
        at += (size_t)w;
    }
}

/* Fills obj with the file of the ready variant v that `format` forces, or
 * else that the request's Accept chooses; false with a 404 queued into *ret
 * when v has no file of `format`. */
static bool pick_file(struct MHD_Connection *conn, gw_req *rq, const Imageproc__Image *img,
                      const Imageproc__Variant *v, const ip_format_def *format, image_object *obj,
                      enum MHD_Result *ret)
{
    const char *name = ip_variant_name(v->kind);
    gw_file files[IP_FORMAT_COUNT];
    size_t n = gw_variant_files(v, files), at = n;
    if (format) {
        for (size_t i = 0; i < n; i++)
            if (files[i].fmt == format)
                at = i;
        if (at == n) {
            char have[64], detail[256];
            format_list(files, n, have, sizeof have);
            snprintf(detail, sizeof detail,
                     "the %s variant is not stored as %s (it is stored as: %s)", name, format->name,
                     n ? have : "nothing yet");
            *ret = gw_send_problem(conn, rq, 404, detail, "format");
            return false;
        }
    } else if (n > 0) {
        const ip_format_def *fmts[IP_FORMAT_COUNT];
        for (size_t i = 0; i < n; i++)
            fmts[i] = files[i].fmt;
        accept_text accept;
        at = gw_accept_choose(request_accept(conn, &accept), fmts, n);
        obj->negotiated = true;
    }
    if (at < n) {
        obj->key = files[at].key;
        obj->ctype = files[at].fmt->content_type;
    } else { /* a ready record with no file of a known format: its key as it is */
        obj->key = v->object_key;
        obj->ctype = "application/octet-stream";
    }
    int version = gw_variant_preset_version(v);
    char suffix[48] = "";
    if (version > 1)
        snprintf(suffix, sizeof suffix, "-v%d", version);
    if (at < n && !ip_format_is_primary(files[at].fmt))
        snprintf(suffix + strlen(suffix), sizeof suffix - strlen(suffix), "-%s",
                 files[at].fmt->name);
    snprintf(obj->etag, sizeof obj->etag, "\"v-%s-%s%s\"", img->id, name, suffix);
    return true;
}

/* Fills obj with the ready variant `kind` of img, in the format `format`
 * forces (NULL: by Accept); else queues the answer (404 not requested or no
 * such format, 422 failed, 202 not ready) into *ret and returns false. */
static bool pick_variant(struct MHD_Connection *conn, gw_req *rq, const Imageproc__Image *img,
                         ip_variant_kind kind, const ip_format_def *format, image_object *obj,
                         enum MHD_Result *ret)
{
    const char *name = ip_variant_name(kind);
    bool requested = ip_variant_mask_of(img->requested, img->n_requested) & ip_variant_bit(kind);
    const Imageproc__Variant *v = gw_image_variant(img, kind);
    char detail[256];
    if (!requested && !v) {
        snprintf(detail, sizeof detail,
                 "the variant %s was not requested for this image (ops at upload)", name);
        *ret = gw_send_problem(conn, rq, 404, detail, "variant");
        return false;
    }
    if (v && v->status == IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED) {
        snprintf(detail, sizeof detail, "the %s variant failed: %s", name,
                 error_or(v->error, error_or(img->error, "unknown")));
        *ret = gw_send_problem(conn, rq, 422, detail, NULL);
        return false;
    }
    if (!v || v->status != IMAGEPROC__VARIANT_STATUS__VARIANT_READY || !v->object_key ||
        !*v->object_key) {
        if (img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED) {
            snprintf(detail, sizeof detail, "processing failed: %s",
                     error_or(img->error, "unknown reason"));
            *ret = gw_send_problem(conn, rq, 422, detail, NULL);
        } else {
            *ret = send_info(conn, rq, 202, img, "Retry-After", "1");
        }
        return false;
    }
    return pick_file(conn, rq, img, v, format, obj, ret);
}

static void pick_original(const Imageproc__Image *img, image_object *obj)
{
    obj->original = true;
    if (ip_key_original(obj->keybuf, img->id) != IP_OK)
        obj->keybuf[0] = '\0';
    obj->key = obj->keybuf;
    obj->ctype = error_or(img->content_type, "application/octet-stream");
    snprintf(obj->etag, sizeof obj->etag, "\"o-%s\"", img->id);
}

/* The object's bytes from storage-svc, streamed. */
static enum MHD_Result send_bytes(gw_app *app, struct MHD_Connection *conn, gw_req *rq,
                                  const image_object *obj)
{
    gw_download_head head = {.key = obj->key,
                             .content_type = obj->ctype,
                             .etag = obj->etag,
                             .cache_control = obj->original ? "private, no-cache" : "no-cache",
                             .vary = obj->negotiated ? "Accept" : NULL};
    return gw_download_start(app, conn, rq, &head);
}

/* 304 when the client has it; nginx fetches a public variant itself when the
 * request came through it; else the bytes. */
static enum MHD_Result send_object(gw_app *app, struct MHD_Connection *conn, gw_req *rq,
                                   const image_object *obj)
{
    const char *inm = gw_req_header(conn, "If-None-Match");
    if (inm && (strstr(inm, obj->etag) || strcmp(inm, "*") == 0)) {
        struct MHD_Response *r = gw_response_empty();
        if (r) {
            MHD_add_response_header(r, "ETag", obj->etag);
            MHD_add_response_header(r, "Cache-Control", "no-cache");
            if (obj->negotiated)
                MHD_add_response_header(r, "Vary", "Accept");
        }
        return gw_queue(conn, rq, 304, r);
    }
    bool proxied =
        gw_req_header(conn, "X-Forwarded-Prefix") || gw_req_header(conn, "X-Forwarded-For");
    if (!obj->original && app->cfg.accel && proxied) {
        char loc[512];
        snprintf(loc, sizeof loc, "%s%s", app->cfg.accel_location, obj->key);
        struct MHD_Response *r = gw_response_empty();
        if (r) {
            MHD_add_response_header(r, "X-Accel-Redirect", loc);
            MHD_add_response_header(r, "Content-Type", obj->ctype);
            MHD_add_response_header(r, "ETag", obj->etag);
            MHD_add_response_header(r, "Cache-Control", "no-cache");
            if (obj->negotiated) /* nginx keeps it: see the /_accel/ location */
                MHD_add_response_header(r, "Vary", "Accept");
        }
        return gw_queue(conn, rq, 200, r);
    }
    return send_bytes(app, conn, rq, obj);
}

enum MHD_Result gw_handle_image_get(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    enum MHD_Result ret;
    char id[37], detail[256];
    if (!check_id(conn, rq, id, &ret))
        return ret;
    gw_args args;
    gw_variant_choice choice;
    const char *param = NULL;
    if (!gw_req_args(conn, &args))
        return gw_send_problem(conn, rq, 400, "too many query parameters", NULL);
    if (gw_query_variant(args.kv, args.n, &choice, &param, detail, sizeof detail) != IP_OK)
        return gw_send_problem(conn, rq, 400, detail, param);
    const Imageproc__Image *img = NULL;
    if (!get_image(app, conn, rq, id, &img, &ret))
        return ret;
    image_object obj = {0};
    if (choice.original) {
        gw_verdict v = gw_auth_may_read_original(&rq->caller, img->owner_hash);
        if (v.status)
            return denied(conn, rq, v, id);
        pick_original(img, &obj);
    } else if (!pick_variant(conn, rq, img,
                             choice.kind != IP_VARIANT_NONE ? choice.kind : default_variant(img),
                             choice.format, &obj, &ret))
        return ret;
    return send_object(app, conn, rq, &obj);
}

/* ------------------------------------------------------------ info, delete */

enum MHD_Result gw_handle_image_info(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    enum MHD_Result ret;
    char id[37];
    if (!check_id(conn, rq, id, &ret))
        return ret;
    const Imageproc__Image *img = NULL;
    if (!get_image(app, conn, rq, id, &img, &ret))
        return ret;
    return send_info(conn, rq, 200, img, NULL, NULL);
}

/* DELETE's state between the HTTP thread and the work pool. */
typedef struct delete_job {
    char id[37];
    Imageproc__DeleteImageReply *reply; /* the request frees it */
    ip_status st;
    char err[256];
} delete_job;

/* On the work pool: the objects' removal and FinishPurge. */
static void delete_work(gw_app *app, gw_req *rq)
{
    delete_job *job = rq->job;
    job->st = gw_purge_now(app, job->id, job->reply->object_keys, job->reply->n_object_keys,
                           job->reply->purge_prefix, (int)app->cfg.delete_wait_ms, job->err,
                           sizeof job->err);
}

static enum MHD_Result delete_then(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    delete_job *job = rq->job;
    bool purged = job->st == IP_OK;
    ip_metric_add(app->m.purges, purged ? "request,done" : "request,failed", 1);
    ip_log(purged ? IP_LOG_INFO : IP_LOG_WARN, "image.deleted", IP_LS("image_id", job->id),
           IP_LB("purged", purged),
           IP_LS(purged ? NULL : "err", job->err)); /* NULL key: no field */
    if (purged)
        return gw_queue(conn, rq, 204, gw_response_empty());
    /* The row is gone; the objects are the purger's now. */
    return gw_send_json(conn, rq, 202,
                        json_pack("{s:s, s:s}", "id", job->id, "status", "deleting"));
}

enum MHD_Result gw_handle_image_delete(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    enum MHD_Result ret;
    char id[37], err[256] = "";
    if (!check_id(conn, rq, id, &ret))
        return ret;
    const char *owner_hash;
    if (!owner_hash_for_caller(app, conn, rq, id, &owner_hash, &ret))
        return ret;
    gw_verdict v = gw_auth_may_delete(&rq->caller, owner_hash);
    if (v.status)
        return denied(conn, rq, v, id);
    delete_job *job = calloc(1, sizeof *job);
    if (!job)
        return MHD_NO;
    gw_req_defer(rq, free, job);
    snprintf(job->id, sizeof job->id, "%s", id);
    Imageproc__DeleteImageRequest in = IMAGEPROC__DELETE_IMAGE_REQUEST__INIT;
    in.id = id;
    ip_status st = ip_metadata_delete_image(app->meta, &in, &job->reply, NULL, err, sizeof err);
    gw_req_defer_message(rq, job->reply);
    if (st == IP_NOT_FOUND)
        return gw_send_problem(conn, rq, 404, not_found, NULL);
    if (st != IP_OK)
        return gw_send_dependency(conn, rq, "metadata service", st);
    rq->job = job;
    /* A full work queue answers 503 busy: the row is gone and its purge is
     * recorded, so the purger removes the objects. */
    return gw_offload(app, conn, rq, delete_work, delete_then);
}

/* ------------------------------------------------------------ retry */

/* The retry's state between the HTTP thread and the work pool. */
typedef struct retry_job {
    const Imageproc__Image *img; /* RetryImage's reply (the request frees it) */
    ip_status st;
    char err[256];
} retry_job;

/* On the work pool: the job to Kafka, then MarkEnqueued. */
static void retry_work(gw_app *app, gw_req *rq)
{
    retry_job *job = rq->job;
    const Imageproc__Image *img = job->img;
    int64_t at = 0;
    job->st = gw_job_enqueue(app, img->id, img->content_type, img->requested, img->n_requested, 1,
                             &at, job->err, sizeof job->err);
    if (job->st == IP_OK &&
        gw_job_mark_enqueued(app, img->id, at, false, job->err, sizeof job->err) != IP_OK)
        ip_log(IP_LOG_WARN, "retry.mark_enqueued_failed", IP_LS("image_id", img->id),
               IP_LS("err", job->err));
}

static enum MHD_Result retry_then(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    (void)app;
    retry_job *job = rq->job;
    if (job->st != IP_OK) /* pending and never enqueued: the sweep enqueues it */
        ip_log(IP_LOG_WARN, "retry.enqueue_failed", IP_LS("image_id", job->img->id),
               IP_LS("err", job->err));
    ip_log(IP_LOG_INFO, "image.retried", IP_LS("image_id", job->img->id),
           IP_LS("caller", rq->caller.label), IP_LB("enqueued", job->st == IP_OK));
    return send_info(conn, rq, 202, job->img, NULL, NULL);
}

/* RetryImage: the row back to pending into job->img; else the answer (404,
 * 409, 503) into *ret. */
static bool retry_row(gw_app *app, struct MHD_Connection *conn, gw_req *rq, const char *id,
                      retry_job *job, enum MHD_Result *ret)
{
    Imageproc__RetryImageRequest in = IMAGEPROC__RETRY_IMAGE_REQUEST__INIT;
    in.id = (char *)id;
    Imageproc__RetryImageReply *reply = NULL;
    char err[256] = "";
    ip_status st = ip_metadata_retry_image(app->meta, &in, &reply, NULL, err, sizeof err);
    gw_req_defer_message(rq, reply);
    if (st == IP_NOT_FOUND || (st == IP_OK && !reply->image)) {
        *ret = gw_send_problem(conn, rq, 404, not_found, NULL);
        return false;
    }
    if (st == IP_FAILED_PRECONDITION) {
        *ret = gw_send_problem(conn, rq, 409,
                               "only a failed image can be retried; this one is not failed", NULL);
        return false;
    }
    if (st != IP_OK) {
        ip_log(IP_LOG_WARN, "rpc.retry_image_failed", IP_LS("image_id", id), IP_LS("err", err));
        *ret = gw_send_dependency(conn, rq, "metadata service", st);
        return false;
    }
    job->img = reply->image;
    return true;
}

enum MHD_Result gw_handle_image_retry(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    enum MHD_Result ret;
    char id[37];
    if (!check_id(conn, rq, id, &ret))
        return ret;
    const char *owner_hash;
    if (!owner_hash_for_caller(app, conn, rq, id, &owner_hash, &ret))
        return ret;
    gw_verdict v = gw_auth_may_retry(&rq->caller, owner_hash);
    if (v.status)
        return denied(conn, rq, v, id);
    if (gw_kafka_recently_failed(app->kafka))
        return gw_send_problem_h(conn, rq, 503,
                                 "the job queue (Kafka) is not available; try again later", NULL,
                                 "Retry-After", "2");
    retry_job *job = calloc(1, sizeof *job);
    if (!job)
        return MHD_NO;
    gw_req_defer(rq, free, job);
    if (!retry_row(app, conn, rq, id, job, &ret))
        return ret;
    rq->job = job;
    return gw_offload(app, conn, rq, retry_work, retry_then);
}
