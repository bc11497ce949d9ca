/* gw_routes.c — the dispatch: one table of the API's routes, and the two
 * libmicrohttpd callbacks that carry a request through it.
 *
 * HOW A REQUEST FLOWS. libmicrohttpd calls gw_routes_access() first with the
 * headers only: a gw_req is made and its route matched, and a route that
 * receives a body (POST /upload) starts receiving it — which may answer at
 * once (413 by Content-Length, 400/415 by Content-Type) before any body byte
 * is read. Then once per chunk of body: an upload feeds its receiver, which
 * enforces the limits as bytes arrive; any other route's body is read and
 * ignored. Then once more with no data: the method is checked against the
 * route's (405 with Allow), the caller is identified from its Authorization
 * header (gw_identify: a malformed, unknown or revoked credential is 401 on
 * every route, so a client learns that its key is wrong even where none is
 * needed) and the route's handler answers. gw_routes_done()
 * records the metrics and frees the request, running its deferred cleanups.
 *
 * WORK OFF THE HTTP THREAD. A handler whose work waits on S3 or Kafka (the
 * upload's checks and store, the first chunk of a download, DELETE's purge)
 * calls gw_offload: the connection is suspended, then the job is submitted
 * to the bounded work pool (a full queue: resumed at once, 503 busy). The
 * worker runs the job, which leaves its result in the request, and resumes
 * the connection; libmicrohttpd then calls gw_routes_access again for the
 * same request and the handler's `then` queues the answer on the HTTP thread.
 * A suspended connection is not closed by libmicrohttpd, so the request
 * outlives its job; at shutdown the pool drains before the daemon stops.
 *
 * THE TABLE. Each route has its path (the /image/{id} and /webhooks/{id}
 * routes are matched by pattern), its metrics label, the Allow header and a
 * handler per method; a method without a handler is 405. A route with a
 * body_max keeps a POST's body (up to that bound) in the request for its
 * handler (POST /webhooks' JSON). HEAD is served by the GET handler
 * (libmicrohttpd leaves the body out) where the table allows it.
 *
 * ERRORS. Every 4xx/5xx is problem+json with a detail a person can act on; a
 * bad parameter or id names itself in `param`. Dependencies that fail are 503,
 * never 500 for a request's fault.
 */
#include "gw_routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_handlers.h"
#include "gw_receive.h"
#include "gw_response.h"
#include "gw_work.h"
#include "ip_log.h"
#include "ip_time.h"

typedef struct route_def {
    const char *path;  /* exact path; NULL: matched by pattern */
    const char *name;  /* metrics label */
    const char *allow; /* the Allow header of a 405 */
    gw_handler get, head, post, del;
    gw_handler begin; /* with the headers only, for a route that receives a body */
    size_t body_max;  /* > 0: the body of a POST is kept in rq->body up to this many bytes */
} route_def;

static const route_def routes[GW_R_COUNT] = {
    [GW_R_UNKNOWN] = {.path = NULL, .name = "unknown", .allow = NULL},
    [GW_R_UPLOAD] = {"/upload", "upload", "POST", .post = gw_handle_upload,
                     .begin = gw_handle_upload_begin},
    [GW_R_IMAGE] = {NULL, "image", "GET, HEAD, DELETE", .get = gw_handle_image_get,
                    .head = gw_handle_image_get, .del = gw_handle_image_delete},
    [GW_R_INFO] = {NULL, "image_info", "GET, HEAD", .get = gw_handle_image_info,
                   .head = gw_handle_image_info},
    [GW_R_RETRY] = {NULL, "image_retry", "POST", .post = gw_handle_image_retry},
    [GW_R_IMAGES] = {"/images", "images", "GET, HEAD", .get = gw_handle_images,
                     .head = gw_handle_images},
    [GW_R_EVENTS] = {"/events", "events", "GET", .get = gw_handle_events},
    [GW_R_HEALTHZ] = {"/healthz", "healthz", "GET, HEAD", .get = gw_handle_healthz,
                      .head = gw_handle_healthz},
    [GW_R_READYZ] = {"/readyz", "readyz", "GET, HEAD", .get = gw_handle_readyz,
                     .head = gw_handle_readyz},
    [GW_R_METRICS] = {"/metrics", "metrics", "GET, HEAD", .get = gw_handle_metrics,
                      .head = gw_handle_metrics},
    [GW_R_OPENAPI] = {"/openapi.json", "openapi", "GET, HEAD", .get = gw_handle_openapi,
                      .head = gw_handle_openapi},
    [GW_R_CONFIG] = {"/config", "config", "GET, HEAD", .get = gw_handle_config,
                     .head = gw_handle_config},
    [GW_R_ACCESS] = {"/access", "access", "GET, HEAD", .get = gw_handle_access,
                     .head = gw_handle_access},
    [GW_R_WEBHOOKS] = {"/webhooks", "webhooks", "GET, HEAD, POST", .get = gw_handle_webhooks_list,
                       .head = gw_handle_webhooks_list, .post = gw_handle_webhook_create,
                       .body_max = GW_WEBHOOK_BODY_MAX},
    [GW_R_WEBHOOK] = {NULL, "webhook", "GET, HEAD, DELETE", .get = gw_handle_webhook_get,
                      .head = gw_handle_webhook_get, .del = gw_handle_webhook_delete},
    [GW_R_DELIVERIES] = {NULL, "webhook_deliveries", "GET, HEAD",
                         .get = gw_handle_webhook_deliveries, .head = gw_handle_webhook_deliveries},
    [GW_R_RESEND] = {NULL, "webhook_resend", "POST", .post = gw_handle_webhook_resend},
};

/* The path segment at `seg` (up to '/' or the end) into id, cut at 63
 * bytes (too long for any id: validation answers 400); NULL when empty,
 * else where it ends. */
static const char *segment(const char *seg, char id[64])
{
    const char *slash = strchr(seg, '/');
    size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
    if (n == 0)
        return NULL;
    memcpy(id, seg, n > 63 ? 63 : n);
    id[n > 63 ? 63 : n] = '\0';
    return seg + n;
}

/* /webhooks/{id}[/deliveries[/{delivery_id}/resend]] (after "/webhooks/"). */
static gw_route match_webhook(const char *seg, char id[64], char id2[64])
{
    const char *rest = segment(seg, id);
    if (!rest)
        return GW_R_UNKNOWN;
    if (!*rest)
        return GW_R_WEBHOOK;
    if (strcmp(rest, "/deliveries") == 0)
        return GW_R_DELIVERIES;
    if (strncmp(rest, "/deliveries/", 12) != 0)
        return GW_R_UNKNOWN;
    rest = segment(rest + 12, id2);
    if (rest && strcmp(rest, "/resend") == 0)
        return GW_R_RESEND;
    return GW_R_UNKNOWN;
}

gw_route gw_route_match(const char *path, char id[64])
{
    char id2[64];
    return gw_route_match_ids(path, id, id2);
}

gw_route gw_route_match_ids(const char *path, char id[64], char id2[64])
{
    id[0] = '\0';
    id2[0] = '\0';
    if (!path)
        return GW_R_UNKNOWN;
    if (strncmp(path, "/api/", 5) == 0)
        path += 4;
    for (int r = 0; r < GW_R_COUNT; r++)
        if (routes[r].path && strcmp(path, routes[r].path) == 0)
            return (gw_route)r;
    if (strncmp(path, "/webhooks/", 10) == 0) {
        gw_route r = match_webhook(path + 10, id, id2);
        if (r == GW_R_UNKNOWN)
            id[0] = id2[0] = '\0';
        return r;
    }
    if (strncmp(path, "/image/", 7) != 0)
        return GW_R_UNKNOWN;
    const char *rest = segment(path + 7, id);
    if (!rest)
        return GW_R_UNKNOWN;
    if (!*rest)
        return GW_R_IMAGE;
    if (strcmp(rest, "/info") == 0)
        return GW_R_INFO;
    if (strcmp(rest, "/retry") == 0)
        return GW_R_RETRY;
    return GW_R_UNKNOWN;
}

const char *gw_route_name(gw_route r)
{
    return (unsigned)r < GW_R_COUNT ? routes[r].name : routes[GW_R_UNKNOWN].name;
}

static gw_handler handler_for(const route_def *def, const char *method)
{
    if (!strcmp(method, "GET"))
        return def->get;
    if (!strcmp(method, "HEAD"))
        return def->head;
    if (!strcmp(method, "POST"))
        return def->post;
    if (!strcmp(method, "DELETE"))
        return def->del;
    return NULL;
}

static enum MHD_Result dispatch(gw_app *app, struct MHD_Connection *conn, gw_req *rq,
                                const char *method)
{
    if (rq->route == GW_R_UNKNOWN)
        return gw_send_problem(conn, rq, 404,
                               "no such path; see /api/openapi.json for the API's paths", NULL);
    const route_def *def = &routes[rq->route];
    gw_handler h = handler_for(def, method);
    if (!h) {
        char d[160];
        snprintf(d, sizeof d, "%.16s is not allowed here; allowed: %s", method, def->allow);
        return gw_send_problem_h(conn, rq, 405, d, NULL, "Allow", def->allow);
    }
    enum MHD_Result ret;
    if (!gw_identify(app, conn, rq, &ret))
        return ret;
    return h(app, conn, rq);
}

bool gw_identify(gw_app *app, struct MHD_Connection *conn, gw_req *rq, enum MHD_Result *ret)
{
    if (rq->identified)
        return true;
    char err[256] = "";
    ip_status st = gw_auth_identify(app->meta, gw_req_header(conn, "Authorization"), &rq->caller,
                                    err, sizeof err);
    if (st == IP_OK) {
        rq->identified = true;
        return true;
    }
    ip_log(IP_LOG_INFO, "auth.refused", IP_LS("route", gw_route_name(rq->route)),
           IP_LS("caller", rq->caller.label), IP_LS("err", err));
    if (st == IP_INVALID_ARGUMENT)
        *ret = gw_send_denied(conn, rq, 401, err, true);
    else
        *ret = gw_send_dependency(conn, rq, "metadata service", st);
    return false;
}

static void run_offloaded(void *arg)
{
    gw_req *rq = arg;
    struct MHD_Connection *conn = rq->conn;
    rq->work(rq->app, rq);
    MHD_resume_connection(conn); /* the request is the HTTP thread's again */
}

enum MHD_Result gw_offload(gw_app *app, struct MHD_Connection *conn, gw_req *rq, gw_req_work work,
                           gw_req_then then)
{
    rq->app = app;
    rq->conn = conn;
    rq->work = work;
    rq->then = then;
    rq->work_refused = false;
    MHD_suspend_connection(conn);
    if (!app->work || !gw_work_submit(app->work, run_offloaded, rq)) {
        rq->work_refused = true;
        ip_metric_add(app->m.work_rejected, NULL, 1);
        MHD_resume_connection(conn);
    }
    return MHD_YES;
}

/* The access handler's call after a job resumed the connection. */
static enum MHD_Result resumed(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    gw_req_then then = rq->then;
    rq->then = NULL;
    rq->work = NULL;
    if (rq->work_refused)
        return gw_send_problem_h(conn, rq, 503,
                                 "the gateway has too much work queued; retry in a moment", NULL,
                                 "Retry-After", "2");
    return then(app, conn, rq);
}

/* A chunk of a kept body (route_def.body_max): appended while it fits, else
 * the body is marked over its bound and dropped (the handler answers 413). */
static void keep_body(gw_req *rq, size_t max, const char *data, size_t n)
{
    if (rq->body_over)
        return;
    if (n > max - rq->body_len) {
        rq->body_over = true;
        free(rq->body);
        rq->body = NULL;
        rq->body_len = 0;
        return;
    }
    if (!rq->body) {
        rq->body = malloc(max + 1);
        if (!rq->body) {
            rq->body_over = true; /* out of memory: refused like an over-long body */
            return;
        }
    }
    memcpy(rq->body + rq->body_len, data, n);
    rq->body_len += n;
    rq->body[rq->body_len] = '\0';
}

enum MHD_Result gw_routes_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    gw_app *app = cls;
    gw_req *rq = *con_cls;
    if (!rq) {
        rq = gw_req_new(url);
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        const route_def *def = &routes[rq->route];
        if (def->begin && !strcmp(method, "POST"))
            return def->begin(app, conn, rq);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (rq->rx && !rq->responded)
            gw_receive_feed(rq->rx, upload_data, *upload_data_size);
        else if (routes[rq->route].body_max && !strcmp(method, "POST"))
            keep_body(rq, routes[rq->route].body_max, upload_data, *upload_data_size);
        *upload_data_size = 0; /* other routes: a body is read and ignored */
        return MHD_YES;
    }
    if (rq->responded)
        return MHD_YES;
    if (rq->then)
        return resumed(app, conn, rq);
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
    gw_req_free(rq);
    *con_cls = NULL;
}
