/* gw_routes_upload.c — POST /upload.
 *
 * The first call, with the headers only, makes the body's receiver
 * (gw_receive.c), which may refuse the upload right there (413 by
 * Content-Length, 400/415 by Content-Type): libmicrohttpd then answers without
 * reading the body. Once the body is in, the handler takes the steps in the
 * order of their cost: on the HTTP thread the receiver's verdict and the file,
 * and `ops` (the form field wins over the query; default every variant); then
 * on the work pool (gw_offload: the connection is suspended meanwhile) the
 * image check — the type from the bytes (415) and the header read by libvips
 * against the limits (422) —, the Kafka breaker (503 at once while Kafka was
 * just seen down) and gw_upload_store (503 with everything undone on a
 * dependency's failure; 503 busy when the PutObject message does not fit the
 * memory budget); back on the HTTP thread, the answer, and once it is queued
 * the upload's MarkEnqueued goes to the pool (gw_upload_mark_later).
 * 202 carries id, status, created_at, ops, links (under the public prefix
 * that nginx passes in X-Forwarded-Prefix) and owner_token: a new secret per
 * upload (ip_access_new_secret), shown this once; only its hash goes into
 * the row (CreateImage's owner_hash), and it is never logged. Every refusal is
 * counted in gw_uploads_total{result="refused",reason} and logged once.
 *
 * WHO MAY UPLOAD is decided at the headers too, before the receiver exists:
 * a malformed, unknown or revoked credential is 401, and with
 * IP_GATEWAY_UPLOAD_NEEDS_KEY a caller without an upload-scope key is 401
 * (none sent) or 403 — so a closed deployment refuses an anonymous 50 MB
 * upload without reading it. So is a malformed Idempotency-Key (400).
 *
 * IDEMPOTENCY KEYS. An upload with `Idempotency-Key` is recorded, scoped by
 * the caller's API key id ("" without a key), with the first answer's status
 * and body sealed by the bytes (gw_idem.h: the owner token inside is never
 * stored in the clear). On the work pool, once the image check passed and
 * the bytes' SHA-256 is known, GetIdempotency looks the (scope, key) up: a
 * record with the same SHA-256 is answered again — its status, its body
 * opened, its Location and `Idempotent-Replayed: true` — and one with other
 * bytes is 422 (type …:idempotency-key-reused); nothing is stored either
 * way. Otherwise the 202's body is built before the store (id and
 * created_at from gw_upload_begin, the owner token) and CreateImage records
 * it with the row; a concurrent request with the same key that committed
 * first comes back as CreateImage's replay and is answered the same way.
 *
 * DUPLICATES. An upload with an API key whose bytes an image of that key
 * already has is answered with that image: 200 {id, status, created_at, ops,
 * links, duplicate: true} and its Location, no owner token, nothing stored —
 * unless on_duplicate=new (query or form field; the form wins, like ops).
 * ListImages(sha256, key_id) finds it before anything is written, and
 * CreateImage's dedupe (under its lock) settles uploads that race. Uploads
 * without a key are never deduplicated: each is its own owner, and
 * answering one with another's image would tell a stranger which bytes
 * were uploaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_handlers.h"
#include "gw_idem.h"
#include "gw_json.h"
#include "gw_kafka.h"
#include "gw_receive.h"
#include "gw_response.h"
#include "gw_sniff.h"
#include "gw_upload.h"
#include "ip_access.h"
#include "ip_log.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"

/* The problem type (and metrics reason) of an Idempotency-Key sent again
 * with other bytes. */
#define IDEM_REUSED_TYPE "urn:imageprocessor:problem:idempotency-key-reused"
#define IDEM_REUSED "idempotency_key_reused"

static enum MHD_Result refused(gw_app *app, struct MHD_Connection *conn, gw_req *rq,
                               const gw_refusal *ref)
{
    if (ref->status == 503 && !strcmp(ref->reason, "busy"))
        ip_metric_add(app->m.memory_refusals, NULL, 1);
    char lv[64];
    snprintf(lv, sizeof lv, "refused,%s", ref->reason);
    ip_metric_add(app->m.uploads, lv, 1);
    ip_log(IP_LOG_INFO, "upload.refused", IP_LI("status", ref->status),
           IP_LS("reason", ref->reason), IP_LS("detail", ref->detail));
    bool retry = ref->status == 503;
    return gw_send_refusal_typed(conn, rq, ref->status, ref->type, ref->reason, ref->detail,
                                 ref->param, retry ? "Retry-After" : NULL, retry ? "2" : NULL);
}

/* `detail` may be ref->detail itself (a validator wrote it there). */
static void refusal_set(gw_refusal *ref, unsigned status, const char *reason, const char *param,
                        const char *detail)
{
    ref->status = status;
    ref->reason = reason;
    ref->param = param;
    ref->type = NULL;
    if (detail != ref->detail)
        snprintf(ref->detail, sizeof ref->detail, "%s", detail);
}

/* The access rule of uploads, at the headers; false with the answer in *ret. */
static bool may_upload(gw_app *app, struct MHD_Connection *conn, gw_req *rq, enum MHD_Result *ret)
{
    if (!gw_identify(app, conn, rq, ret)) { /* 401, or 503: the key could not be looked up */
        ip_metric_add(app->m.uploads,
                      rq->status == 503 ? "refused,unavailable" : "refused,unauthorized", 1);
        return false;
    }
    gw_verdict v = gw_auth_may_upload(&rq->caller, app->cfg.upload_needs_key);
    if (v.status == 0)
        return true;
    ip_metric_add(app->m.uploads, v.status == 401 ? "refused,unauthorized" : "refused,forbidden",
                  1);
    ip_log(IP_LOG_INFO, "upload.refused", IP_LI("status", v.status), IP_LS("reason", "access"),
           IP_LS("caller", rq->caller.label));
    *ret = gw_send_verdict(conn, rq, v);
    return false;
}

enum MHD_Result gw_handle_upload_begin(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    enum MHD_Result ret;
    if (!may_upload(app, conn, rq, &ret))
        return ret; /* answered before the body is read */
    const char *ikey = gw_req_header(conn, "Idempotency-Key");
    if (ikey && !gw_idem_key_valid(ikey)) {
        gw_refusal ref = {.status = 400, .reason = "bad_request", .param = "Idempotency-Key"};
        snprintf(ref.detail, sizeof ref.detail,
                 "Idempotency-Key must be 1 to 255 visible ASCII characters (0x21-0x7e, no "
                 "spaces)");
        return refused(app, conn, rq, &ref);
    }
    gw_receive_limits lim = {.max_bytes = (size_t)app->cfg.upload_max_bytes};
    rq->rx = gw_receive_new(&lim, gw_req_header(conn, "Content-Type"),
                            gw_req_header(conn, "Content-Length"));
    if (!rq->rx)
        return MHD_NO;
    const gw_refusal *ref = gw_receive_refusal(rq->rx);
    /* Answered before the body is read (libmicrohttpd then closes the
     * connection instead of reading it). */
    return ref ? refused(app, conn, rq, ref) : MHD_YES;
}

/* The upload's bytes, filename, ops and on_duplicate from the body and the
 * query (a form field wins over the query). */
static bool read_upload(struct MHD_Connection *conn, gw_req *rq, gw_upload_in *in,
                        gw_on_duplicate *on_dup, gw_refusal *ref)
{
    const gw_refusal *r = gw_receive_refusal(rq->rx);
    if (r) {
        *ref = *r;
        return false;
    }
    gw_args args;
    const char *param = NULL, *ops_query = NULL, *dup_query = NULL;
    if (!gw_req_args(conn, &args)) {
        refusal_set(ref, 400, "bad_request", NULL, "too many query parameters");
        return false;
    }
    if (gw_query_upload(args.kv, args.n, &ops_query, &dup_query, &param, ref->detail,
                        sizeof ref->detail) != IP_OK) {
        refusal_set(ref, 400, "bad_request", param, ref->detail);
        return false;
    }
    gw_received body;
    if ((r = gw_receive_finish(rq->rx, &body)) != NULL) {
        *ref = *r;
        return false;
    }
    const char *ops = body.ops ? body.ops : ops_query;
    in->ops = GW_UPLOAD_DEFAULT_OPS;
    if (ops && gw_ops_parse(ops, &in->ops, ref->detail, sizeof ref->detail) != IP_OK) {
        refusal_set(ref, 400, "bad_request", "ops", ref->detail);
        return false;
    }
    const char *dup = body.on_duplicate ? body.on_duplicate : dup_query;
    if (dup && gw_on_duplicate_parse(dup, on_dup, ref->detail, sizeof ref->detail) != IP_OK) {
        refusal_set(ref, 400, "bad_request", "on_duplicate", ref->detail);
        return false;
    }
    in->data = body.data;
    in->len = body.len;
    in->filename = body.filename;
    return true;
}

/* The admission check and the header read (gw_sniff.h): 415 or 422 with the
 * reason; else the type and size for the row. */
static bool check_image(gw_app *app, gw_upload_in *in, gw_refusal *ref)
{
    gw_img_verdict v;
    if (!gw_image_check(in->data, in->len, &app->cfg.admit, &v)) {
        refusal_set(ref, v.status, v.reason, NULL, v.detail);
        return false;
    }
    in->content_type = v.mime;
    in->width = v.width;
    in->height = v.height;
    return true;
}

/* How the upload is answered when it is not refused. */
typedef enum answer_kind {
    ANSWER_ACCEPTED = 0, /* 202: stored, committed, queued */
    ANSWER_DUPLICATE,    /* 200: the key's image with these bytes */
    ANSWER_REPLAY,       /* the first answer to this Idempotency-Key, again */
} answer_kind;

/* What the upload's work on the pool leaves for its answer. */
typedef struct upload_job {
    gw_upload_in in;
    gw_refusal ref; /* status 0: answered as `kind` says */
    gw_upload_out out;
    int64_t t_recv, t_checked;
    char owner_token[IP_SECRET_MAX];     /* the 202's owner_token; wiped with the job */
    char owner_hash[IP_ACCESS_HASH_MAX]; /* what the row keeps */
    /* From the HTTP thread: the caller's key id ("" without a key; also the
     * idempotency scope), the Idempotency-Key ("" none), on_duplicate and
     * the public prefix of the links. */
    char key_id[37];
    char idem_key[GW_IDEM_KEY_MAX + 1];
    gw_on_duplicate on_dup;
    char prefix[72];
    char sha[65];          /* the bytes' SHA-256, when the lookups needed it */
    gw_idem_secret secret; /* seals and opens this upload's first answer */
    answer_kind kind;
    /* ACCEPTED and REPLAY: the body as sent (it holds the owner token: wiped
     * and freed with the job), its status and Location. */
    char *body;
    size_t body_len;
    unsigned status;
    char location[200];
    /* DUPLICATE: the image found. */
    char dup_id[37];
    Imageproc__ImageStatus dup_status;
    int64_t dup_created_at_us;
    unsigned dup_ops;
    unsigned char sealed[GW_IDEM_SEALED_MAX];
} upload_job;

/* The job's end with the request: the owner token does not outlive it. */
static void upload_job_free(void *arg)
{
    upload_job *job = arg;
    explicit_bzero(job->owner_token, sizeof job->owner_token);
    if (job->body) {
        explicit_bzero(job->body, job->body_len);
        free(job->body);
    }
    explicit_bzero(&job->secret, sizeof job->secret);
    gw_upload_out_clear(&job->out);
    free(job);
}

static void links_set(const char *pfx, const char *id, char *self, char *info, char *events,
                      size_t n)
{
    snprintf(self, n, "%s/image/%s", pfx, id);
    snprintf(info, n, "%s/image/%s/info", pfx, id);
    snprintf(events, n, "%s/events?id=%s", pfx, id);
}

/* The 202's body, made before the store: the record keeps it sealed, and the
 * answer sends these very bytes. */
static bool accepted_body(upload_job *job)
{
    char self[200], events[200];
    links_set(job->prefix, job->out.id, self, job->location, events, sizeof self);
    json_t *j = json_pack("{s:s,s:s,s:o,s:o,s:{s:s,s:s,s:s},s:s}", "id", job->out.id, "status",
                          "pending", "created_at", gw_json_time(job->out.created_at_us), "ops",
                          gw_variant_names_json(job->in.ops), "links", "self", self, "info",
                          job->location, "events", events, "owner_token", job->owner_token);
    job->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    job->body_len = job->body ? strlen(job->body) : 0;
    job->status = 202;
    return job->body != NULL;
}

/* The duplicate's answer from the image found. */
static void duplicate_set(upload_job *job, const Imageproc__Image *img)
{
    job->kind = ANSWER_DUPLICATE;
    snprintf(job->dup_id, sizeof job->dup_id, "%s", img->id ? img->id : "");
    job->dup_status = img->status;
    job->dup_created_at_us = img->created_at_us;
    job->dup_ops = ip_variant_mask_of(img->requested, img->n_requested);
}

/* A record of this (scope, key): the same bytes get its answer again, other
 * bytes 422. */
static void answer_record(upload_job *job, const Imageproc__IdempotencyRecord *r)
{
    if (!r->request_sha256 || strcmp(r->request_sha256, job->sha) != 0) {
        refusal_set(&job->ref, 422, IDEM_REUSED, "Idempotency-Key",
                    "this Idempotency-Key was used with other bytes within the last 24 hours; "
                    "send a new key for a new upload");
        job->ref.type = IDEM_REUSED_TYPE;
        return;
    }
    char *body = malloc(GW_IDEM_BODY_MAX + 1);
    size_t n = 0;
    if (!body) {
        refusal_set(&job->ref, 503, "busy", NULL, "out of memory; retry in a moment");
        return;
    }
    if (gw_idem_open(&job->secret, job->key_id, job->idem_key, r->response.data, r->response.len,
                     body, GW_IDEM_BODY_MAX + 1, &n) != IP_OK) {
        free(body);
        ip_log(IP_LOG_ERROR, "upload.replay_unreadable", IP_LS("image_id", r->image_id));
        refusal_set(&job->ref, 500, "internal", "Idempotency-Key",
                    "the first answer to this Idempotency-Key could not be read back");
        return;
    }
    job->kind = ANSWER_REPLAY;
    job->body = body;
    job->body_len = n;
    job->status = r->status >= 200 && r->status <= 299 ? (unsigned)r->status : 202;
    /* The first answer's Location: its links.info. */
    json_t *j = json_loadb(body, n, 0, NULL);
    const char *info = NULL;
    json_unpack(j, "{s:{s:s}}", "links", "info", &info);
    if (info && strlen(info) < sizeof job->location)
        snprintf(job->location, sizeof job->location, "%s", info);
    else
        snprintf(job->location, sizeof job->location, "%s/image/%s/info", job->prefix,
                 r->image_id ? r->image_id : "");
    json_decref(j);
}

/* GetIdempotency(scope, key). True when the job has its answer (a replay, a
 * 422, or a 503); false: no record, go on. */
static bool idem_lookup(gw_app *app, upload_job *job)
{
    Imageproc__GetIdempotencyRequest q = IMAGEPROC__GET_IDEMPOTENCY_REQUEST__INIT;
    q.scope = job->key_id;
    q.key = job->idem_key;
    Imageproc__GetIdempotencyReply *r = NULL;
    char err[256] = "";
    ip_status st = ip_metadata_get_idempotency(app->meta, &q, &r, NULL, err, sizeof err);
    bool answered = true;
    if (st == IP_NOT_FOUND || (st == IP_OK && !r->record)) {
        answered = false;
    } else if (st != IP_OK) {
        ip_log(IP_LOG_WARN, "upload.idempotency_failed", IP_LS("err", err));
        char d[200];
        snprintf(d, sizeof d, "the metadata service is not available (%s); try again later",
                 ip_strerror(st));
        refusal_set(&job->ref, 503, "unavailable", NULL, d);
    } else {
        answer_record(job, r->record);
    }
    if (r)
        imageproc__get_idempotency_reply__free_unpacked(r, NULL);
    return answered;
}

/* ListImages(sha256, key_id, 1): an image of the caller's key with these
 * bytes. True when the job has its answer (the duplicate, or a 503). */
static bool duplicate_lookup(gw_app *app, upload_job *job)
{
    Imageproc__ListImagesRequest q = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
    q.sha256 = job->sha;
    q.key_id = job->key_id;
    q.limit = 1;
    q.last_id = "";
    Imageproc__ListImagesReply *r = NULL;
    char err[256] = "";
    ip_status st = ip_metadata_list_images(app->meta, &q, &r, NULL, err, sizeof err);
    bool answered = false;
    if (st != IP_OK) {
        ip_log(IP_LOG_WARN, "upload.duplicate_check_failed", IP_LS("err", err));
        char d[200];
        snprintf(d, sizeof d, "the metadata service is not available (%s); try again later",
                 ip_strerror(st));
        refusal_set(&job->ref, 503, "unavailable", NULL, d);
        answered = true;
    } else if (r->n_images > 0) {
        const Imageproc__Image *img = r->images[0];
        /* Only ever this key's image with these bytes. */
        if (img->id && img->key_id && !strcmp(img->key_id, job->key_id) && img->sha256 &&
            !strcmp(img->sha256, job->sha)) {
            duplicate_set(job, img);
            answered = true;
        }
    }
    if (r)
        imageproc__list_images_reply__free_unpacked(r, NULL);
    return answered;
}

/* On the work pool: the image check, the Idempotency-Key and duplicate
 * lookups, the Kafka breaker, the store. */
static void upload_work(gw_app *app, gw_req *rq)
{
    upload_job *job = rq->job;
    if (!check_image(app, &job->in, &job->ref))
        return;
    bool idem = job->idem_key[0] != '\0';
    bool dedupe = job->key_id[0] && job->on_dup == GW_ON_DUP_EXISTING;
    if (idem || dedupe) { /* the store reuses the digest */
        gw_idem_digest(job->in.data, job->in.len, job->sha, idem ? &job->secret : NULL);
        job->in.sha256 = job->sha;
    }
    if (idem && idem_lookup(app, job))
        return;
    if (dedupe && duplicate_lookup(app, job))
        return;
    if (gw_kafka_recently_failed(app->kafka)) {
        refusal_set(&job->ref, 503, "unavailable", NULL,
                    "the job queue (Kafka) is not available; try again later");
        return;
    }
    job->t_checked = ip_now_us();
    gw_upload_begin(&job->out);
    if (!accepted_body(job)) {
        refusal_set(&job->ref, 503, "busy", NULL, "out of memory; retry in a moment");
        return;
    }
    Imageproc__IdempotencyRecord rec = IMAGEPROC__IDEMPOTENCY_RECORD__INIT;
    if (idem) {
        size_t slen = 0;
        if (gw_idem_seal(&job->secret, job->key_id, job->idem_key, job->body, job->body_len,
                         job->sealed, sizeof job->sealed, &slen) != IP_OK) {
            refusal_set(&job->ref, 503, "unavailable", NULL,
                        "the gateway could not seal the answer for the Idempotency-Key; try "
                        "again later");
            return;
        }
        rec.key = job->idem_key;
        rec.status = 202;
        rec.response.data = job->sealed;
        rec.response.len = slen;
        job->in.idem = &rec;
    }
    job->in.key_id = job->key_id;
    job->in.dedupe = dedupe;
    ip_status st =
        gw_upload_store(app, &job->in, &job->out, job->ref.detail, sizeof job->ref.detail);
    job->in.idem = NULL;
    if (st == IP_RESOURCE_EXHAUSTED)
        refusal_set(&job->ref, 503, "busy", NULL, job->ref.detail);
    else if (st != IP_OK)
        refusal_set(&job->ref, 503, "unavailable", NULL, job->ref.detail);
    else if (job->out.replay || job->out.existing) {
        /* CreateImage wrote nothing: the 202 built above is not the answer. */
        explicit_bzero(job->body, job->body_len);
        free(job->body);
        job->body = NULL;
        job->body_len = 0;
        if (job->out.replay)
            answer_record(job, job->out.replay);
        else
            duplicate_set(job, job->out.existing);
    }
    gw_upload_out_clear(&job->out);
}

/* `body` (copied) as application/json with its Location, and
 * Idempotent-Replayed when it is a replay. */
static enum MHD_Result send_body(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                 const char *body, size_t len, const char *location, bool replayed)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "Location", location);
    if (replayed)
        MHD_add_response_header(r, "Idempotent-Replayed", "true");
    return gw_queue(conn, rq, status, r);
}

/* 200 with the image of the caller's key that has these bytes. */
static enum MHD_Result send_duplicate(struct MHD_Connection *conn, gw_req *rq,
                                      const upload_job *job)
{
    char self[200], info[200], events[200];
    links_set(job->prefix, job->dup_id, self, info, events, sizeof self);
    json_t *j =
        json_pack("{s:s,s:s,s:o,s:o,s:{s:s,s:s,s:s},s:b}", "id", job->dup_id, "status",
                  gw_image_status_name(job->dup_status), "created_at",
                  gw_json_time(job->dup_created_at_us), "ops", gw_variant_names_json(job->dup_ops),
                  "links", "self", self, "info", info, "events", events, "duplicate", 1);
    return gw_send_json_h(conn, rq, 200, j, NULL, "Location", info);
}

/* Back on the HTTP thread: the refusal, the duplicate, the replay, or 202. */
static enum MHD_Result upload_then(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    upload_job *job = rq->job;
    if (job->ref.status)
        return refused(app, conn, rq, &job->ref);
    const gw_upload_in *in = &job->in;
    const gw_upload_out *out = &job->out;
    if (job->kind == ANSWER_DUPLICATE) {
        ip_metric_add(app->m.uploads, "duplicate,", 1);
        ip_log(IP_LOG_INFO, "upload.duplicate", IP_LS("image_id", job->dup_id),
               IP_LS("caller", rq->caller.label), IP_LI("bytes", (long long)in->len));
        return send_duplicate(conn, rq, job);
    }
    if (job->kind == ANSWER_REPLAY) {
        ip_metric_add(app->m.uploads, "replayed,", 1);
        ip_log(IP_LOG_INFO, "upload.replayed", IP_LS("location", job->location),
               IP_LS("caller", rq->caller.label));
        return send_body(conn, rq, job->status, job->body, job->body_len, job->location, true);
    }
    ip_metric_add(app->m.uploads, "accepted,", 1);
    ip_metric_add(app->m.upload_bytes, NULL, (double)in->len);
    ip_log(
        IP_LOG_INFO, "upload.accepted", IP_LS("image_id", out->id), IP_LS("type", in->content_type),
        IP_LI("bytes", (long long)in->len), IP_LI("ms", (ip_now_us() - rq->start_us) / 1000),
        IP_LF("recv_ms", (job->t_recv - rq->start_us) / 1e3),
        IP_LF("check_ms", (job->t_checked - job->t_recv) / 1e3), IP_LF("put_ms", out->put_us / 1e3),
        IP_LF("create_ms", out->create_us / 1e3), IP_LF("enqueue_ms", out->enqueue_us / 1e3),
        IP_LB("idempotency_key", job->idem_key[0] != '\0'));
    enum MHD_Result ret = send_body(conn, rq, 202, job->body, job->body_len, job->location, false);
    gw_upload_mark_later(app, out); /* after the answer: not part of its promise */
    return ret;
}

enum MHD_Result gw_handle_upload(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    if (!rq->rx)
        return MHD_NO; /* gw_handle_upload_begin always runs first */
    upload_job *job = calloc(1, sizeof *job);
    if (!job)
        return MHD_NO;
    gw_req_defer(rq, upload_job_free, job);
    rq->job = job;
    if (!read_upload(conn, rq, &job->in, &job->on_dup, &job->ref))
        return refused(app, conn, rq, &job->ref);
    if (ip_access_new_secret(IP_SECRET_OWNER, job->owner_token) != IP_OK) {
        refusal_set(&job->ref, 503, "unavailable", NULL,
                    "the gateway could not make an owner token (no randomness); try again later");
        return refused(app, conn, rq, &job->ref);
    }
    ip_access_hash(job->owner_token, job->owner_hash);
    job->in.owner_hash = job->owner_hash;
    if (rq->caller.kind == GW_CALLER_KEY)
        snprintf(job->key_id, sizeof job->key_id, "%s", rq->caller.key_id);
    const char *ikey = gw_req_header(conn, "Idempotency-Key"); /* checked at the headers */
    if (ikey && gw_idem_key_valid(ikey))
        snprintf(job->idem_key, sizeof job->idem_key, "%s", ikey);
    snprintf(job->prefix, sizeof job->prefix, "%s", gw_req_public_prefix(conn));
    job->t_recv = ip_now_us();
    return gw_offload(app, conn, rq, upload_work, upload_then);
}
