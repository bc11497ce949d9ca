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
 * upload without reading it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_handlers.h"
#include "gw_json.h"
#include "gw_kafka.h"
#include "gw_receive.h"
#include "gw_response.h"
#include "gw_sniff.h"
#include "gw_upload.h"
#include "ip_access.h"
#include "ip_log.h"
#include "ip_time.h"

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
    return gw_send_refusal(conn, rq, ref->status, ref->reason, ref->detail, ref->param,
                           retry ? "Retry-After" : NULL, retry ? "2" : NULL);
}

/* `detail` may be ref->detail itself (a validator wrote it there). */
static void refusal_set(gw_refusal *ref, unsigned status, const char *reason, const char *param,
                        const char *detail)
{
    ref->status = status;
    ref->reason = reason;
    ref->param = param;
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

/* The upload's bytes, filename and ops from the body and the query. */
static bool read_upload(struct MHD_Connection *conn, gw_req *rq, gw_upload_in *in, gw_refusal *ref)
{
    const gw_refusal *r = gw_receive_refusal(rq->rx);
    if (r) {
        *ref = *r;
        return false;
    }
    gw_args args;
    const char *param = NULL, *ops_query = NULL;
    if (!gw_req_args(conn, &args)) {
        refusal_set(ref, 400, "bad_request", NULL, "too many query parameters");
        return false;
    }
    if (gw_query_upload(args.kv, args.n, &ops_query, &param, ref->detail, sizeof ref->detail) !=
        IP_OK) {
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

static json_t *accepted_json(struct MHD_Connection *conn, const gw_upload_out *out, unsigned ops,
                             const char *owner_token, char *info, size_t infolen)
{
    const char *pfx = gw_req_public_prefix(conn);
    char self[160], events[200];
    snprintf(self, sizeof self, "%s/image/%s", pfx, out->id);
    snprintf(info, infolen, "%s/image/%s/info", pfx, out->id);
    snprintf(events, sizeof events, "%s/events?id=%s", pfx, out->id);
    return json_pack("{s:s,s:s,s:o,s:o,s:{s:s,s:s,s:s},s:s}", "id", out->id, "status", "pending",
                     "created_at", gw_json_time(out->created_at_us), "ops",
                     gw_variant_names_json(ops), "links", "self", self, "info", info, "events",
                     events, "owner_token", owner_token);
}

/* What the upload's work on the pool leaves for its answer. */
typedef struct upload_job {
    gw_upload_in in;
    gw_refusal ref; /* status 0: accepted, `out` filled */
    gw_upload_out out;
    int64_t t_recv, t_checked;
    char owner_token[IP_SECRET_MAX];     /* the 202's owner_token; wiped with the job */
    char owner_hash[IP_ACCESS_HASH_MAX]; /* what the row keeps */
} upload_job;

/* The job's end with the request: the owner token does not outlive it. */
static void upload_job_free(void *arg)
{
    upload_job *job = arg;
    explicit_bzero(job->owner_token, sizeof job->owner_token);
    free(job);
}

/* On the work pool: the image check, the Kafka breaker, the store. */
static void upload_work(gw_app *app, gw_req *rq)
{
    upload_job *job = rq->job;
    if (!check_image(app, &job->in, &job->ref))
        return;
    if (gw_kafka_recently_failed(app->kafka)) {
        refusal_set(&job->ref, 503, "unavailable", NULL,
                    "the job queue (Kafka) is not available; try again later");
        return;
    }
    job->t_checked = ip_now_us();
    ip_status st =
        gw_upload_store(app, &job->in, &job->out, job->ref.detail, sizeof job->ref.detail);
    if (st == IP_RESOURCE_EXHAUSTED)
        refusal_set(&job->ref, 503, "busy", NULL, job->ref.detail);
    else if (st != IP_OK)
        refusal_set(&job->ref, 503, "unavailable", NULL, job->ref.detail);
}

/* Back on the HTTP thread: the refusal, or 202. */
static enum MHD_Result upload_then(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    upload_job *job = rq->job;
    if (job->ref.status)
        return refused(app, conn, rq, &job->ref);
    const gw_upload_in *in = &job->in;
    const gw_upload_out *out = &job->out;
    ip_metric_add(app->m.uploads, "accepted,", 1);
    ip_metric_add(app->m.upload_bytes, NULL, (double)in->len);
    ip_log(
        IP_LOG_INFO, "upload.accepted", IP_LS("image_id", out->id), IP_LS("type", in->content_type),
        IP_LI("bytes", (long long)in->len), IP_LI("ms", (ip_now_us() - rq->start_us) / 1000),
        IP_LF("recv_ms", (job->t_recv - rq->start_us) / 1e3),
        IP_LF("check_ms", (job->t_checked - job->t_recv) / 1e3), IP_LF("put_ms", out->put_us / 1e3),
        IP_LF("create_ms", out->create_us / 1e3), IP_LF("enqueue_ms", out->enqueue_us / 1e3));
    char info[160];
    json_t *j = accepted_json(conn, out, in->ops, job->owner_token, info, sizeof info);
    enum MHD_Result ret = gw_send_json_h(conn, rq, 202, j, NULL, "Location", info);
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
    if (!read_upload(conn, rq, &job->in, &job->ref))
        return refused(app, conn, rq, &job->ref);
    if (ip_access_new_secret(IP_SECRET_OWNER, job->owner_token) != IP_OK) {
        refusal_set(&job->ref, 503, "unavailable", NULL,
                    "the gateway could not make an owner token (no randomness); try again later");
        return refused(app, conn, rq, &job->ref);
    }
    ip_access_hash(job->owner_token, job->owner_hash);
    job->in.owner_hash = job->owner_hash;
    job->t_recv = ip_now_us();
    return gw_offload(app, conn, rq, upload_work, upload_then);
}
