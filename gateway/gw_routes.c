/* gw_routes.c — every route of the REST API.
 *
 * HOW A REQUEST FLOWS. libmicrohttpd calls gw_routes_access() first with the
 * headers only (a gw_req is made and the route matched; an upload whose
 * Content-Length is over the limit, or whose Content-Type cannot be an upload,
 * is answered right there, before any body byte is read), then once per chunk
 * of body (an upload feeds the multipart parser or the raw buffer, enforcing
 * the size limit as bytes arrive; once a request has failed, the rest of its
 * body is read and dropped), then once more with no data: the route's handler
 * runs and queues the answer. gw_routes_done() records metrics and frees.
 *
 * ERRORS. Every 4xx/5xx is problem+json with a detail a person can act on; a
 * bad parameter or id names itself in `param`. Dependencies that fail are 503
 * (UNAVAILABLE/DEADLINE_EXCEEDED/other), never 500 for a request's fault.
 *
 * GET /image/{id} BEHIND NGINX. When IP_GATEWAY_ACCEL is on and the request
 * came through the proxy (it carries X-Forwarded-Prefix or X-Forwarded-For),
 * a ready variant is answered with X-Accel-Redirect: <location><key> and no
 * body; nginx fetches the bytes from the bucket. Direct requests, and the
 * private original always, get the bytes from storage-svc.
 */
#include "gw_routes.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_app.h"
#include "gw_events.h"
#include "gw_http.h"
#include "gw_json.h"
#include "gw_kafka.h"
#include "gw_multipart.h"
#include "gw_problem.h"
#include "gw_query.h"
#include "gw_sniff.h"
#include "gw_upload.h"
#include "ip_log.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "metadata.pb-c.h"
#include "storage.pb-c.h"

extern const char gw_openapi_json[];
extern const unsigned long gw_openapi_json_len;

#define MULTIPART_OVERHEAD (64 * 1024)

/* Bytes of upload bodies held by requests in progress, against
 * IP_GATEWAY_UPLOAD_MEMORY_BYTES: beyond it a new chunk is refused with 503,
 * so many slow uploads at once cannot take the process's memory. */
static _Atomic int64_t upload_bytes_held;
#define MAX_QUERY_ARGS 64

typedef struct gw_req {
    gw_route route;
    char id[64];
    int64_t start_us;
    unsigned status;
    bool first_done;
    bool responded;
    /* upload */
    bool is_upload;
    bool raw;
    char raw_type[64];
    size_t size_hint; /* Content-Length of a raw upload, within the limit */
    gw_multipart *mp;
    char *body;
    size_t body_len, body_cap;
    int64_t held; /* this request's share of upload_bytes_held */
    unsigned err_status;
    char err_detail[256];
    const char *err_reason;
} gw_req;

/* ------------------------------------------------------------ responses */

static enum MHD_Result queue(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                             struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    rq->status = status;
    rq->responded = true;
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                 const char *ctype, char *body, size_t len, bool owned)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    return queue(conn, rq, status, r);
}

static enum MHD_Result send_problem_h(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                      const char *detail, const char *param, const char *hname,
                                      const char *hval)
{
    size_t len = 0;
    char *body = gw_problem_json((int)status, detail, param, &len);
    if (!body)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/problem+json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (hname)
        MHD_add_response_header(r, hname, hval);
    return queue(conn, rq, status, r);
}

static enum MHD_Result send_problem(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                    const char *detail, const char *param)
{
    return send_problem_h(conn, rq, status, detail, param, NULL, NULL);
}

static enum MHD_Result send_json_h(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                   json_t *j, const char *h1, const char *v1, const char *h2,
                                   const char *v2)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return send_problem(conn, rq, 500, "the answer could not be encoded", NULL);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (h1)
        MHD_add_response_header(r, h1, v1);
    if (h2)
        MHD_add_response_header(r, h2, v2);
    return queue(conn, rq, status, r);
}

static enum MHD_Result send_json(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                 json_t *j)
{
    return send_json_h(conn, rq, status, j, NULL, NULL, NULL, NULL);
}

/* A dependency's failure as the client sees it. */
static enum MHD_Result send_dependency(struct MHD_Connection *conn, gw_req *rq, const char *what,
                                       ip_status st)
{
    char d[200];
    snprintf(d, sizeof d, "the %s is not available right now (%s); try again shortly", what,
             ip_strerror(st));
    return send_problem_h(conn, rq, 503, d, NULL, "Retry-After", "2");
}

/* ------------------------------------------------------------ helpers */

typedef struct kv_list {
    gw_kv kv[MAX_QUERY_ARGS];
    size_t n;
    bool overflow;
} kv_list;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    kv_list *l = cls;
    if (l->n >= MAX_QUERY_ARGS) {
        l->overflow = true;
        return MHD_NO;
    }
    l->kv[l->n].key = key ? key : "";
    l->kv[l->n].value = value ? value : "";
    l->n++;
    return MHD_YES;
}

static bool get_args(struct MHD_Connection *conn, kv_list *l)
{
    l->n = 0;
    l->overflow = false;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, l);
    return !l->overflow;
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* The public prefix ("/api") from X-Forwarded-Prefix when it is a plain path. */
static const char *public_prefix(struct MHD_Connection *conn)
{
    const char *p = header(conn, "X-Forwarded-Prefix");
    if (!p || p[0] != '/' || strlen(p) > 64)
        return "";
    for (const char *c = p; *c; c++)
        if (!(*c == '/' || *c == '-' || *c == '_' || *c == '.' || (*c >= 'a' && *c <= 'z') ||
              (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
            return "";
    return strcmp(p, "/") == 0 ? "" : p;
}

static bool check_id(struct MHD_Connection *conn, gw_req *rq, char out[37], enum MHD_Result *ret)
{
    ip_uuid u;
    if (!ip_uuid_parse(rq->id, &u)) {
        *ret = send_problem(conn, rq, 400,
                            "the image id in the path must be a UUID such as "
                            "0190f2a4-5b6c-7d8e-9f00-112233445566",
                            "id");
        return false;
    }
    ip_uuid_format(&u, out);
    return true;
}

/* GetImage; *img owned by the caller (free with protobuf_c_message_free_unpacked
 * on the reply, returned in *reply). */
static ip_status get_image(gw_app *app, const char *id, Imageproc__GetImageReply **reply)
{
    Imageproc__GetImageRequest rq = IMAGEPROC__GET_IMAGE_REQUEST__INIT;
    rq.id = (char *)id;
    char err[256];
    ProtobufCMessage *out = NULL;
    ip_status st = ip_rpc_invoke(app->meta, "GetImage", &rq.base, &out, NULL, err, sizeof err);
    if (st == IP_OK && (!out || !((Imageproc__GetImageReply *)out)->image)) {
        if (out)
            protobuf_c_message_free_unpacked(out, NULL);
        return IP_NOT_FOUND;
    }
    if (st != IP_OK && st != IP_NOT_FOUND)
        ip_log(IP_LOG_WARN, "rpc.get_image_failed", IP_LS("image_id", id), IP_LS("err", err));
    *reply = (Imageproc__GetImageReply *)out;
    return st;
}

static const char *format_mime(const char *format, const char *key)
{
    const char *f = format && *format ? format : NULL;
    if (!f && key) {
        const char *dot = strrchr(key, '.');
        f = dot ? dot + 1 : NULL;
    }
    if (!f)
        return "application/octet-stream";
    if (!strcmp(f, "jpeg") || !strcmp(f, "jpg"))
        return "image/jpeg";
    if (!strcmp(f, "png"))
        return "image/png";
    if (!strcmp(f, "webp"))
        return "image/webp";
    if (!strcmp(f, "avif"))
        return "image/avif";
    if (!strcmp(f, "gif"))
        return "image/gif";
    return "application/octet-stream";
}

/* ------------------------------------------------------------ upload */

static void upload_refuse(gw_req *rq, unsigned status, const char *reason, const char *detail)
{
    if (rq->err_status)
        return;
    rq->err_status = status;
    rq->err_reason = reason;
    snprintf(rq->err_detail, sizeof rq->err_detail, "%s", detail);
}

static enum MHD_Result upload_refused(gw_app *app, struct MHD_Connection *conn, gw_req *rq,
                                      unsigned status, const char *reason, const char *detail,
                                      const char *param);

/* First call of POST /upload: headers only. Returns true when the request was
 * answered already (413 by Content-Length, 400/415 by Content-Type). */
static bool upload_begin(gw_app *app, struct MHD_Connection *conn, gw_req *rq, enum MHD_Result *ret)
{
    size_t max = (size_t)app->cfg.upload_max_bytes;
    rq->is_upload = true;
    const char *ct = header(conn, "Content-Type");
    char detail[256];
    if (!ct || !*ct) {
        upload_refuse(rq, 400, "bad_request",
                      "send multipart/form-data with a file part, or the image bytes with an "
                      "image/* Content-Type");
    } else if (strncasecmp(ct, "multipart/form-data", 19) == 0) {
        char boundary[GW_BOUNDARY_MAX + 1];
        if (gw_multipart_boundary(ct, boundary) != IP_OK) {
            upload_refuse(rq, 400, "bad_request",
                          "the multipart/form-data Content-Type has no valid boundary parameter");
        } else {
            gw_mp_limits lim = {.max_file_bytes = max};
            const char *clh = header(conn, "Content-Length");
            if (clh) {
                unsigned long long hint = strtoull(clh, NULL, 10);
                lim.size_hint = hint < max ? (size_t)hint : max;
            }
            rq->mp = gw_multipart_new(boundary, &lim);
            if (!rq->mp)
                upload_refuse(rq, 503, "unavailable", "out of memory; try again later");
        }
    } else if (strncasecmp(ct, "image/", 6) == 0) {
        rq->raw = true;
        snprintf(rq->raw_type, sizeof rq->raw_type, "%s", ct);
    } else {
        snprintf(detail, sizeof detail,
                 "Content-Type %.60s cannot be an upload: send multipart/form-data with a file "
                 "part, or the image bytes with an image/* Content-Type",
                 ct);
        upload_refuse(rq, 415, "unsupported_type", detail);
    }
    const char *cl = header(conn, "Content-Length");
    if (cl && !rq->err_status) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        size_t allowed = rq->raw ? max : max + MULTIPART_OVERHEAD;
        if (*end == '\0' && rq->raw && n <= max)
            rq->size_hint = (size_t)n;
        if (*end == '\0' && n > allowed) {
            snprintf(detail, sizeof detail,
                     "the body is %llu bytes; uploads are limited to %zu bytes", n, max);
            upload_refuse(rq, 413, "too_large", detail);
        }
    }
    /* Refusals known from the headers are answered before the body is read.
     * (libmicrohttpd then closes the connection instead of reading it.) */
    if (rq->err_status) {
        *ret = upload_refused(app, conn, rq, rq->err_status, rq->err_reason, rq->err_detail, NULL);
        return true;
    }
    return false;
}

static void upload_release(gw_req *rq)
{
    if (rq->held) {
        atomic_fetch_sub(&upload_bytes_held, rq->held);
        rq->held = 0;
    }
}

static void upload_chunk(gw_app *app, gw_req *rq, const char *data, size_t n)
{
    if (rq->err_status)
        return;
    int64_t total = atomic_fetch_add(&upload_bytes_held, (int64_t)n) + (int64_t)n;
    rq->held += (int64_t)n;
    if (total > app->cfg.upload_memory_bytes) {
        upload_refuse(rq, 503, "busy",
                      "the gateway is receiving too many uploads at once; retry in a moment");
        upload_release(rq);
        free(rq->body);
        rq->body = NULL;
        rq->body_len = rq->body_cap = 0;
        return;
    }
    if (rq->mp) {
        gw_mp_result r = gw_multipart_feed(rq->mp, data, n);
        if (r == GW_MP_TOO_LARGE) {
            char d[160];
            snprintf(d, sizeof d, "the file is larger than the upload limit of %lld bytes",
                     (long long)app->cfg.upload_max_bytes);
            upload_refuse(rq, 413, "too_large", d);
        } else if (r == GW_MP_BAD) {
            upload_refuse(rq, 400, "bad_request", gw_multipart_error(rq->mp));
        }
        return;
    }
    size_t max = (size_t)app->cfg.upload_max_bytes;
    if (n > max - rq->body_len) {
        char d[160];
        snprintf(d, sizeof d, "the body is larger than the upload limit of %zu bytes", max);
        upload_refuse(rq, 413, "too_large", d);
        free(rq->body);
        rq->body = NULL;
        rq->body_len = rq->body_cap = 0;
        return;
    }
    if (rq->body_len + n > rq->body_cap) {
        size_t cap = rq->body_cap ? rq->body_cap : 64 * 1024;
        if (!rq->body_cap && rq->size_hint > cap)
            cap = rq->size_hint;
        while (cap < rq->body_len + n)
            cap *= 2;
        if (cap > max)
            cap = max;
        char *nb = realloc(rq->body, cap);
        if (!nb) {
            upload_refuse(rq, 503, "unavailable", "out of memory; try again later");
            return;
        }
        rq->body = nb;
        rq->body_cap = cap;
    }
    memcpy(rq->body + rq->body_len, data, n);
    rq->body_len += n;
}

static enum MHD_Result upload_refused(gw_app *app, struct MHD_Connection *conn, gw_req *rq,
                                      unsigned status, const char *reason, const char *detail,
                                      const char *param)
{
    char lv[64];
    snprintf(lv, sizeof lv, "refused,%s", reason);
    ip_metric_add(app->m.uploads, lv, 1);
    ip_log(IP_LOG_INFO, "upload.refused", IP_LI("status", status), IP_LS("reason", reason),
           IP_LS("detail", detail));
    if (status == 503)
        return send_problem_h(conn, rq, status, detail, param, "Retry-After", "2");
    return send_problem(conn, rq, status, detail, param);
}

static enum MHD_Result upload_finish(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    if (rq->err_status)
        return upload_refused(app, conn, rq, rq->err_status, rq->err_reason, rq->err_detail, NULL);
    kv_list args;
    char detail[256];
    const char *param = NULL;
    const char *ops_q = NULL;
    if (!get_args(conn, &args))
        return upload_refused(app, conn, rq, 400, "bad_request", "too many query parameters", NULL);
    if (gw_query_upload(args.kv, args.n, &ops_q, &param, detail, sizeof detail) != IP_OK)
        return upload_refused(app, conn, rq, 400, "bad_request", detail, param);

    const char *filename = "";
    const char *ops_s = ops_q;
    char *data = NULL;
    size_t len = 0;
    if (rq->mp) {
        if (gw_multipart_finish(rq->mp) != GW_MP_OK)
            return upload_refused(app, conn, rq, 400, "bad_request", gw_multipart_error(rq->mp),
                                  NULL);
        if (!gw_multipart_has_file(rq->mp))
            return upload_refused(app, conn, rq, 400, "bad_request",
                                  "the form has no part named file: send the image as the "
                                  "file field",
                                  "file");
        if (gw_multipart_ops(rq->mp))
            ops_s = gw_multipart_ops(rq->mp);
        filename = gw_multipart_filename(rq->mp);
        data = gw_multipart_take_file(rq->mp, &len);
        rq->body = data; /* freed with the request */
        rq->body_len = len;
    } else {
        data = rq->body;
        len = rq->body_len;
    }
    if (!data || len == 0)
        return upload_refused(app, conn, rq, 400, "bad_request",
                              rq->mp ? "the file part is empty (0 bytes)"
                                     : "the body is empty: send the image bytes",
                              "file");
    unsigned ops = GW_OP_ALL;
    if (ops_s && gw_ops_parse(ops_s, &ops, detail, sizeof detail) != IP_OK)
        return upload_refused(app, conn, rq, 400, "bad_request", detail, "ops");

    int64_t t_recv = ip_now_us();
    gw_img_type t = gw_sniff(data, len);
    if (t == GW_IMG_NONE)
        return upload_refused(app, conn, rq, 415, "unsupported_type",
                              "the file is not a supported image: JPEG, PNG, WebP, GIF, AVIF, "
                              "HEIC or TIFF (the type is read from the bytes, not the name or "
                              "Content-Type)",
                              NULL);
    gw_img_header hdr;
    ip_status st = gw_image_header(data, len, app->cfg.pixel_limit, &hdr, detail, sizeof detail);
    if (st == IP_RESOURCE_EXHAUSTED)
        return upload_refused(app, conn, rq, 422, "pixel_limit", detail, NULL);
    if (st != IP_OK)
        return upload_refused(app, conn, rq, 422, "unreadable", detail, NULL);

    if (gw_kafka_recently_failed(app->kafka))
        return upload_refused(app, conn, rq, 503, "unavailable",
                              "the job queue (Kafka) is not available; try again later", NULL);
    gw_upload_in in = {.data = data,
                       .len = len,
                       .filename = filename,
                       .content_type = gw_img_mime(t),
                       .ops = ops,
                       .width = hdr.width,
                       .height = hdr.height};
    gw_upload_out out;
    int64_t t_checked = ip_now_us();
    st = gw_upload_store(app, &in, &out, detail, sizeof detail);
    if (st != IP_OK)
        return upload_refused(app, conn, rq, 503, "unavailable", detail, NULL);

    ip_metric_add(app->m.uploads, "accepted,", 1);
    ip_metric_add(app->m.upload_bytes, NULL, (double)len);
    ip_log(IP_LOG_INFO, "upload.accepted", IP_LS("image_id", out.id),
           IP_LS("type", in.content_type), IP_LI("bytes", (long long)len),
           IP_LI("ms", (ip_now_us() - rq->start_us) / 1000),
           IP_LF("recv_ms", (t_recv - rq->start_us) / 1e3),
           IP_LF("check_ms", (t_checked - t_recv) / 1e3), IP_LF("put_ms", out.put_us / 1e3),
           IP_LF("create_ms", out.create_us / 1e3), IP_LF("enqueue_ms", out.enqueue_us / 1e3),
           IP_LF("mark_ms", out.mark_us / 1e3));
    const char *pfx = public_prefix(conn);
    char self[160], info[160], events[200];
    snprintf(self, sizeof self, "%s/image/%s", pfx, out.id);
    snprintf(info, sizeof info, "%s/image/%s/info", pfx, out.id);
    snprintf(events, sizeof events, "%s/events?id=%s", pfx, out.id);
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(out.id));
    json_object_set_new(j, "status", json_string("pending"));
    json_object_set_new(j, "created_at", gw_json_time(out.created_at_us));
    json_t *oa = json_array();
    for (int i = 0; i < 3; i++)
        if (ops & (1u << i))
            json_array_append_new(oa, json_string(gw_op_names[i]));
    json_object_set_new(j, "ops", oa);
    json_t *links = json_object();
    json_object_set_new(links, "self", json_string(self));
    json_object_set_new(links, "info", json_string(info));
    json_object_set_new(links, "events", json_string(events));
    json_object_set_new(j, "links", links);
    return send_json_h(conn, rq, 202, j, "Location", info, NULL, NULL);
}

/* ------------------------------------------------------------ images */

static enum MHD_Result image_get(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    enum MHD_Result ret;
    char id[37], detail[256];
    if (!check_id(conn, rq, id, &ret))
        return ret;
    kv_list args;
    const char *variant = NULL, *param = NULL;
    if (!get_args(conn, &args))
        return send_problem(conn, rq, 400, "too many query parameters", NULL);
    if (gw_query_variant(args.kv, args.n, &variant, &param, detail, sizeof detail) != IP_OK)
        return send_problem(conn, rq, 400, detail, param);

    Imageproc__GetImageReply *reply = NULL;
    ip_status st = get_image(app, id, &reply);
    if (st == IP_NOT_FOUND)
        return send_problem(conn, rq, 404, "no image has this id (it may have been deleted)", NULL);
    if (st != IP_OK)
        return send_dependency(conn, rq, "metadata service", st);
    const Imageproc__Image *img = reply->image;
    const char *key = NULL, *ctype = NULL;
    char etag[80], keybuf[48];
    bool original = variant && strcmp(variant, "original") == 0;
    if (original) {
        snprintf(keybuf, sizeof keybuf, "o/%s", id);
        key = keybuf;
        ctype = img->content_type && *img->content_type ? img->content_type
                                                        : "application/octet-stream";
        snprintf(etag, sizeof etag, "\"o-%s\"", id);
    } else {
        if (!variant) {
            static const char *const pref[3] = {"watermarked", "resized", "thumbnail"};
            for (int i = 0; i < 3 && !variant; i++)
                for (size_t k = 0; k < img->n_ops; k++)
                    if (strcmp(img->ops[k], pref[i]) == 0)
                        variant = pref[i];
            if (!variant)
                variant = "thumbnail";
        }
        bool requested = false;
        for (size_t k = 0; k < img->n_ops; k++)
            if (strcmp(img->ops[k], variant) == 0)
                requested = true;
        const Imageproc__Variant *v = gw_image_variant(img, variant);
        if (!requested && !v) {
            snprintf(detail, sizeof detail,
                     "the variant %s was not requested for this image (ops at upload)", variant);
            protobuf_c_message_free_unpacked(&reply->base, NULL);
            return send_problem(conn, rq, 404, detail, "variant");
        }
        if (v && v->status == IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED) {
            snprintf(detail, sizeof detail, "the %s variant failed: %s", variant,
                     v->error && *v->error ? v->error
                                           : (img->error && *img->error ? img->error : "unknown"));
            protobuf_c_message_free_unpacked(&reply->base, NULL);
            return send_problem(conn, rq, 422, detail, NULL);
        }
        if (!v || v->status != IMAGEPROC__VARIANT_STATUS__VARIANT_READY || !v->object_key ||
            !*v->object_key) {
            if (img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED) {
                snprintf(detail, sizeof detail, "processing failed: %s",
                         img->error && *img->error ? img->error : "unknown reason");
                protobuf_c_message_free_unpacked(&reply->base, NULL);
                return send_problem(conn, rq, 422, detail, NULL);
            }
            json_t *j = gw_image_info_json(img);
            protobuf_c_message_free_unpacked(&reply->base, NULL);
            return send_json_h(conn, rq, 202, j, "Retry-After", "1", NULL, NULL);
        }
        key = v->object_key;
        ctype = format_mime(v->format, v->object_key);
        snprintf(etag, sizeof etag, "\"v-%s-%s\"", id, variant);
    }
    const char *inm = header(conn, "If-None-Match");
    if (inm && (strstr(inm, etag) || strcmp(inm, "*") == 0)) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "ETag", etag);
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        protobuf_c_message_free_unpacked(&reply->base, NULL);
        return queue(conn, rq, 304, r);
    }
    bool proxied = header(conn, "X-Forwarded-Prefix") || header(conn, "X-Forwarded-For");
    if (!original && app->cfg.accel && proxied) {
        char loc[512];
        snprintf(loc, sizeof loc, "%s%s", app->cfg.accel_location, key);
        struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "X-Accel-Redirect", loc);
        MHD_add_response_header(r, "Content-Type", ctype);
        MHD_add_response_header(r, "ETag", etag);
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        protobuf_c_message_free_unpacked(&reply->base, NULL);
        return queue(conn, rq, 200, r);
    }
    char keycopy[256], ctcopy[96];
    snprintf(keycopy, sizeof keycopy, "%s", key);
    snprintf(ctcopy, sizeof ctcopy, "%s", ctype);
    ctype = ctcopy;
    protobuf_c_message_free_unpacked(&reply->base, NULL);
    Imageproc__GetObjectRequest go = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
    go.key = keycopy;
    ProtobufCMessage *out = NULL;
    char err[256];
    st = ip_rpc_invoke(app->stor, "GetObject", &go.base, &out, NULL, err, sizeof err);
    if (st == IP_NOT_FOUND)
        return send_problem(conn, rq, 404, "the image's bytes are gone (it was just deleted)",
                            NULL);
    if (st != IP_OK)
        return send_dependency(conn, rq, "object storage", st);
    Imageproc__GetObjectReply *gr = (Imageproc__GetObjectReply *)out;
    char *bytes = malloc(gr->data.len ? gr->data.len : 1);
    if (!bytes) {
        protobuf_c_message_free_unpacked(out, NULL);
        return send_dependency(conn, rq, "gateway's memory", IP_RESOURCE_EXHAUSTED);
    }
    memcpy(bytes, gr->data.data, gr->data.len);
    size_t blen = gr->data.len;
    protobuf_c_message_free_unpacked(out, NULL);
    struct MHD_Response *r = MHD_create_response_from_buffer(blen, bytes, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(bytes);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Cache-Control", original ? "private, no-cache" : "no-cache");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    return queue(conn, rq, 200, r);
}

static enum MHD_Result image_info(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    enum MHD_Result ret;
    char id[37];
    if (!check_id(conn, rq, id, &ret))
        return ret;
    Imageproc__GetImageReply *reply = NULL;
    ip_status st = get_image(app, id, &reply);
    if (st == IP_NOT_FOUND)
        return send_problem(conn, rq, 404, "no image has this id (it may have been deleted)", NULL);
    if (st != IP_OK)
        return send_dependency(conn, rq, "metadata service", st);
    json_t *j = gw_image_info_json(reply->image);
    protobuf_c_message_free_unpacked(&reply->base, NULL);
    return send_json(conn, rq, 200, j);
}

static enum MHD_Result image_delete(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    enum MHD_Result ret;
    char id[37], err[256];
    if (!check_id(conn, rq, id, &ret))
        return ret;
    Imageproc__DeleteImageRequest dr = IMAGEPROC__DELETE_IMAGE_REQUEST__INIT;
    dr.id = id;
    ProtobufCMessage *out = NULL;
    ip_status st = ip_rpc_invoke(app->meta, "DeleteImage", &dr.base, &out, NULL, err, sizeof err);
    if (st == IP_NOT_FOUND)
        return send_problem(conn, rq, 404, "no image has this id (it may have been deleted)", NULL);
    if (st != IP_OK)
        return send_dependency(conn, rq, "metadata service", st);
    Imageproc__DeleteImageReply *rep = (Imageproc__DeleteImageReply *)out;
    char okey[48], prefix[48];
    snprintf(okey, sizeof okey, "o/%s", id);
    snprintf(prefix, sizeof prefix, "v/%s/", id);
    size_t nk = rep ? rep->n_object_keys : 0;
    char **keys = calloc(nk + 1, sizeof *keys);
    if (keys) {
        for (size_t i = 0; i < nk; i++)
            keys[i] = rep->object_keys[i];
        keys[nk] = okey;
        Imageproc__DeleteObjectsRequest rq2 = IMAGEPROC__DELETE_OBJECTS_REQUEST__INIT;
        rq2.keys = keys;
        rq2.n_keys = nk + 1;
        rq2.prefix = prefix;
        ProtobufCMessage *o2 = NULL;
        st = ip_rpc_invoke(app->stor, "DeleteObjects", &rq2.base, &o2, NULL, err, sizeof err);
        if (o2)
            protobuf_c_message_free_unpacked(o2, NULL);
        if (st != IP_OK)
            ip_log(IP_LOG_ERROR, "delete.objects_failed", IP_LS("image_id", id), IP_LS("err", err));
        free(keys);
    }
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    ip_log(IP_LOG_INFO, "image.deleted", IP_LS("image_id", id));
    struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    return queue(conn, rq, 204, r);
}

static enum MHD_Result images_list(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    kv_list args;
    char detail[256];
    const char *param = NULL;
    gw_list_query q;
    if (!get_args(conn, &args))
        return send_problem(conn, rq, 400, "too many query parameters", NULL);
    if (gw_query_list(args.kv, args.n, &q, &param, detail, sizeof detail) != IP_OK)
        return send_problem(conn, rq, 400, detail, param);
    Imageproc__ListImagesRequest lr = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
    lr.last_created_at_us = q.has_cursor ? q.last_created_at_us : 0;
    lr.last_id = q.has_cursor ? q.last_id : "";
    lr.mode = q.mode;
    lr.limit = q.limit;
    ProtobufCMessage *out = NULL;
    char err[256];
    ip_status st = ip_rpc_invoke(app->meta, "ListImages", &lr.base, &out, NULL, err, sizeof err);
    if (st == IP_INVALID_ARGUMENT) {
        return send_problem(conn, rq, 400, err, NULL);
    }
    if (st != IP_OK)
        return send_dependency(conn, rq, "metadata service", st);
    Imageproc__ListImagesReply *rep = (Imageproc__ListImagesReply *)out;
    json_t *j = json_object();
    json_t *items = json_array();
    for (size_t i = 0; i < rep->n_images; i++)
        json_array_append_new(items, gw_image_item_json(rep->images[i], q.mode));
    json_object_set_new(j, "items", items);
    if (rep->has_more && rep->n_images > 0) {
        const Imageproc__Image *last = rep->images[rep->n_images - 1];
        json_t *next = json_object();
        json_object_set_new(next, "last_created_at", gw_json_time(last->created_at_us));
        json_object_set_new(next, "last_id", json_string(last->id));
        json_object_set_new(j, "next", next);
    } else {
        json_object_set_new(j, "next", json_null());
    }
    protobuf_c_message_free_unpacked(out, NULL);
    return send_json(conn, rq, 200, j);
}

static enum MHD_Result events(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    kv_list args;
    char detail[256];
    const char *param = NULL;
    gw_events_query q;
    if (!get_args(conn, &args))
        return send_problem(conn, rq, 400, "too many query parameters", NULL);
    if (gw_query_events(args.kv, args.n, &q, &param, detail, sizeof detail) != IP_OK)
        return send_problem(conn, rq, 400, detail, param);
    struct MHD_Response *r = gw_events_response(app->events, conn, &q);
    if (!r)
        return send_problem_h(conn, rq, 503,
                              "too many live-status clients (or the gateway is stopping); "
                              "reconnect later",
                              NULL, "Retry-After", "5");
    return queue(conn, rq, 200, r);
}

static enum MHD_Result readyz(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    ip_status sm = ip_rpc_ping(app->meta, 1000);
    ip_status ss = ip_rpc_ping(app->stor, 1000);
    ip_status sk = gw_kafka_ping(app->kafka, 1000);
    if (sm == IP_OK && ss == IP_OK && sk == IP_OK) {
        json_t *j = json_pack("{s:s,s:{s:s,s:s,s:s}}", "status", "ready", "checks", "metadata",
                              "ok", "storage", "ok", "kafka", "ok");
        return send_json(conn, rq, 200, j);
    }
    char d[256];
    snprintf(d, sizeof d, "not ready: metadata-svc %s, storage-svc %s, kafka %s", ip_strerror(sm),
             ip_strerror(ss), ip_strerror(sk));
    return send_problem_h(conn, rq, 503, d, NULL, "Retry-After", "2");
}

/* ------------------------------------------------------------ dispatch */

static const char *allowed(gw_route r)
{
    switch (r) {
    case GW_R_UPLOAD:
        return "POST";
    case GW_R_IMAGE:
        return "GET, HEAD, DELETE";
    default:
        return "GET, HEAD";
    }
}

static bool method_ok(gw_route r, const char *m)
{
    bool get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    switch (r) {
    case GW_R_UPLOAD:
        return !strcmp(m, "POST");
    case GW_R_IMAGE:
        return get || !strcmp(m, "DELETE");
    case GW_R_EVENTS:
        return !strcmp(m, "GET");
    default:
        return get;
    }
}

static enum MHD_Result dispatch(gw_app *app, struct MHD_Connection *conn, gw_req *rq,
                                const char *method)
{
    if (rq->route == GW_R_UNKNOWN)
        return send_problem(conn, rq, 404,
                            "no such path; see /api/openapi.json for the API's paths", NULL);
    if (!method_ok(rq->route, method)) {
        char d[160];
        snprintf(d, sizeof d, "%.16s is not allowed here; allowed: %s", method, allowed(rq->route));
        return send_problem_h(conn, rq, 405, d, NULL, "Allow",
                              rq->route == GW_R_EVENTS ? "GET" : allowed(rq->route));
    }
    switch (rq->route) {
    case GW_R_UPLOAD:
        return upload_finish(app, conn, rq);
    case GW_R_IMAGE:
        return !strcmp(method, "DELETE") ? image_delete(app, conn, rq) : image_get(app, conn, rq);
    case GW_R_INFO:
        return image_info(app, conn, rq);
    case GW_R_IMAGES:
        return images_list(app, conn, rq);
    case GW_R_EVENTS:
        return events(app, conn, rq);
    case GW_R_HEALTHZ:
        return send_json(conn, rq, 200, json_pack("{s:s}", "status", "ok"));
    case GW_R_READYZ:
        return readyz(app, conn, rq);
    case GW_R_METRICS: {
        char *m = ip_metrics_render();
        if (!m)
            return send_dependency(conn, rq, "metrics registry", IP_RESOURCE_EXHAUSTED);
        return send_text(conn, rq, 200, "text/plain; version=0.0.4; charset=utf-8", m, strlen(m),
                         true);
    }
    case GW_R_OPENAPI:
        return send_text(conn, rq, 200, "application/json", (char *)gw_openapi_json,
                         (size_t)gw_openapi_json_len, false);
    case GW_R_UNKNOWN:
    default:
        return send_problem(conn, rq, 404, "no such path", NULL);
    }
}

enum MHD_Result gw_routes_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    gw_app *app = cls;
    gw_req *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        rq->start_us = ip_now_us();
        rq->route = gw_route_match(url, rq->id);
        *con_cls = rq;
        if (rq->route == GW_R_UPLOAD && !strcmp(method, "POST")) {
            enum MHD_Result ret;
            if (upload_begin(app, conn, rq, &ret))
                return ret;
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (rq->is_upload && !rq->responded)
            upload_chunk(app, rq, upload_data, *upload_data_size);
        *upload_data_size = 0; /* other routes: a body is read and ignored */
        return MHD_YES;
    }
    if (rq->responded)
        return MHD_YES;
    return dispatch(app, conn, rq, method);
}

void gw_routes_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    gw_app *app = cls;
    gw_req *rq = *con_cls;
    if (!rq)
        return;
    const char *name = gw_route_name(rq->route);
    char lv[64];
    snprintf(lv, sizeof lv, "%s,%u", name, rq->status ? rq->status : 499u);
    ip_metric_add(app->m.requests, lv, 1);
    if (rq->route != GW_R_EVENTS)
        ip_metric_observe(app->m.latency, name, (double)(ip_now_us() - rq->start_us) / 1e6);
    upload_release(rq);
    gw_multipart_free(rq->mp);
    free(rq->body);
    free(rq);
    *con_cls = NULL;
}
