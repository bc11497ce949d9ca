/* gw_routes_service.c — the routes about the service rather than images:
 * GET /healthz (the process answers), GET /readyz (metadata-svc, storage-svc
 * and Kafka answer within a second each; 503 naming which do not), GET
 * /metrics (Prometheus text), GET /openapi.json (the document embedded at
 * build time) and GET /config (what the page needs to know: the variants with
 * their titles, the default ops of an upload and the limits this gateway
 * enforces; the same for the process's life, so clients may cache it a
 * minute).
 */
#include <stdio.h>
#include <string.h>

#include "gw_handlers.h"
#include "gw_json.h"
#include "gw_kafka.h"
#include "gw_response.h"
#include "gw_upload.h"

extern const char gw_openapi_json[];
extern const unsigned long gw_openapi_json_len;

enum MHD_Result gw_handle_healthz(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    (void)app;
    return gw_send_json(conn, rq, 200, json_pack("{s:s}", "status", "ok"));
}

enum MHD_Result gw_handle_readyz(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    ip_status sm = ip_rpc_ping(app->meta, 1000);
    ip_status ss = ip_rpc_ping(app->stor, 1000);
    ip_status sk = gw_kafka_ping(app->kafka, 1000);
    if (sm == IP_OK && ss == IP_OK && sk == IP_OK) {
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
