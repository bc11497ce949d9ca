/* gw_routes_service.c — the routes about the service rather than images:
 * GET /healthz (the process answers), GET /readyz (metadata-svc, storage-svc
 * and Kafka answer within a second each; 503 naming which do not), GET
 * /metrics (Prometheus text), GET /openapi.json (the document embedded at
 * build time) and GET /config (what the page needs to know: the variants with
 * their titles, the default ops of an upload and the limits this gateway
 * enforces; the same for the process's life, so clients may cache it a
 * minute).
 *
 * /metrics and /readyz's per-dependency details are for operators: anyone on
 * the gateway's own address, but a request that came through the public
 * proxy (nginx sets X-Forwarded-For) needs an admin key (gw_auth.h). Without
 * one, /metrics is 401/403 and /readyz answers its status only: 200
 * {"status":"ready"} or 503 without naming the dependency.
 */
#include <stdio.h>
#include <string.h>

#include "gw_handlers.h"
#include "gw_json.h"
#include "gw_kafka.h"
#include "gw_response.h"
#include "gw_upload.h"
#include "ip_access.h"

extern const char gw_openapi_json[];
extern const unsigned long gw_openapi_json_len;

enum MHD_Result gw_handle_healthz(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    (void)app;
    return gw_send_json(conn, rq, 200, json_pack("{s:s}", "status", "ok"));
}

/* The request came through the proxy (nginx sets X-Forwarded-For). */
static bool proxied(struct MHD_Connection *conn)
{
    return gw_req_header(conn, "X-Forwarded-For") != NULL;
}

enum MHD_Result gw_handle_readyz(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    ip_status sm = ip_rpc_ping(app->meta, 1000);
    ip_status ss = ip_rpc_ping(app->stor, 1000);
    ip_status sk = app->kafka ? gw_kafka_ping(app->kafka, 1000) : IP_UNAVAILABLE;
    bool ready = sm == IP_OK && ss == IP_OK && sk == IP_OK;
    if (gw_auth_may_see_internals(&rq->caller, proxied(conn)).status != 0) {
        if (ready)
            return gw_send_json(conn, rq, 200, json_pack("{s:s}", "status", "ready"));
        return gw_send_problem_h(conn, rq, 503, "not ready", NULL, "Retry-After", "2");
    }
    if (ready) {
        json_t *j = json_pack("{s:s,s:{s:s,s:s,s:s}}", "status", "ready", "checks", "metadata",
                              "ok", "storage", "ok", "kafka", "ok");
        return gw_send_json(conn, rq, 200, j);
    }
    char d[256];
    snprintf(d, sizeof d, "not ready: metadata-svc %s, storage-svc %s, kafka %s", ip_strerror(sm),
             ip_strerror(ss), ip_strerror(sk));
    return gw_send_problem_h(conn, rq, 503, d, NULL, "Retry-After", "2");
}

enum MHD_Result gw_handle_metrics(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    gw_verdict v = gw_auth_may_see_internals(&rq->caller, proxied(conn));
    if (v.status)
        return gw_send_verdict(conn, rq, v);
    gw_metrics_refresh(app);
    char *m = ip_metrics_render();
    if (!m)
        return gw_send_dependency(conn, rq, "metrics registry", IP_RESOURCE_EXHAUSTED);
    return gw_send_text(conn, rq, 200, "text/plain; version=0.0.4; charset=utf-8", m, strlen(m),
                        true);
}

enum MHD_Result gw_handle_openapi(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    (void)app;
    return gw_send_text(conn, rq, 200, "application/json", (char *)gw_openapi_json,
                        (size_t)gw_openapi_json_len, false);
}

enum MHD_Result gw_handle_config(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    json_t *j =
        gw_config_json(GW_UPLOAD_DEFAULT_OPS, app->cfg.upload_max_bytes, app->cfg.pixel_limit);
    return gw_send_json_h(conn, rq, 200, j, "public, max-age=60", NULL, NULL);
}

static const char *caller_kind(gw_caller_kind k)
{
    switch (k) {
    case GW_CALLER_OWNER:
        return "owner";
    case GW_CALLER_KEY:
        return "key";
    case GW_CALLER_ANONYMOUS:
    default:
        return "anonymous";
    }
}

enum MHD_Result gw_handle_access(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    const gw_caller *c = &rq->caller;
    json_t *scopes = json_array();
    for (int s = IMAGEPROC__API_SCOPE__API_SCOPE_READ; scopes && c->kind == GW_CALLER_KEY &&
                                                        s <= IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN;
         s++)
        if (c->scopes & (1u << s))
            json_array_append_new(scopes, json_string(ip_scope_name((Imageproc__ApiScope)s)));
    json_t *j = json_pack("{s:s,s:o*,s:b}", "kind", caller_kind(c->kind), "scopes", scopes,
                          "uploads_need_key", app->cfg.upload_needs_key);
    return gw_send_json_h(conn, rq, 200, j, "no-store", NULL, NULL);
}
