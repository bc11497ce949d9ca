/* gw_handlers.h — the route handlers the dispatch table (gw_routes.c) calls.
 *
 * A handler runs once the whole request has arrived, on a libmicrohttpd pool
 * thread. It may call metadata-svc (bounded by the RPC deadline); anything
 * that waits on S3 or Kafka goes to the work pool with gw_offload. It queues
 * exactly one answer through gw_response.h (or hands the request to
 * gw_offload, whose `then` answers) and returns what that returned.
 * Memory it must keep until the answer is sent goes to the request
 * (gw_req_defer). The files: gw_routes_upload.c (POST /upload, including the
 * headers-only first call), gw_routes_image.c (/image/{id} and its /info),
 * gw_routes_images.c (the listing), gw_routes_events.c (SSE) and
 * gw_routes_service.c (health, readiness, metrics, the OpenAPI document, the
 * page's configuration) and gw_routes_webhooks.c (webhook subscriptions and
 * their delivery logs).
 */
#ifndef GW_HANDLERS_H
#define GW_HANDLERS_H

#include <microhttpd.h>

#include "gw_app.h"
#include "gw_request.h"

typedef enum MHD_Result (*gw_handler)(gw_app *app, struct MHD_Connection *conn, gw_req *rq);

/* Runs work(app, rq) on the work pool (app->work) with the connection
 * suspended, then then(app, conn, rq) on the HTTP thread to answer. The
 * connection is suspended first and the job submitted after, so the worker's
 * resume always follows the suspend. A full queue answers 503 "busy" (with
 * Retry-After) instead of calling `then`. State for both halves goes in
 * rq->job, freed by a deferred cleanup (gw_req_defer). */
enum MHD_Result gw_offload(gw_app *app, struct MHD_Connection *conn, gw_req *rq, gw_req_work work,
                           gw_req_then then);

/* The request's caller from its Authorization header into rq->caller, once
 * (later calls return true at once). false when the answer is already
 * queued into *ret: 401 (WWW-Authenticate) for a malformed, unknown or
 * revoked credential, 503 when metadata-svc could not look the key up. The
 * dispatch calls it before every handler; POST /upload at its headers. */
bool gw_identify(gw_app *app, struct MHD_Connection *conn, gw_req *rq, enum MHD_Result *ret);

/* POST /upload, first call (headers only): makes the body's receiver; answers
 * at once when the headers already rule the upload out (413, 400, 415). */
enum MHD_Result gw_handle_upload_begin(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
/* POST /upload once the body is in: checks, stores, 202. */
enum MHD_Result gw_handle_upload(gw_app *app, struct MHD_Connection *conn, gw_req *rq);

enum MHD_Result gw_handle_image_get(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_image_delete(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
/* POST /image/{id}/retry: a failed image back on the queue. */
enum MHD_Result gw_handle_image_retry(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_image_info(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_images(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_events(gw_app *app, struct MHD_Connection *conn, gw_req *rq);

enum MHD_Result gw_handle_healthz(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_readyz(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_metrics(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_openapi(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_config(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
/* GET /access: who the request's credential says the caller is
 * ({"kind","scopes","uploads_need_key"}), so a client (the page) can tell what
 * a key allows before it relies on it. */
enum MHD_Result gw_handle_access(gw_app *app, struct MHD_Connection *conn, gw_req *rq);

/* Webhook subscriptions (gw_routes_webhooks.c), every one for API keys only.
 * POST /webhooks: its JSON body, kept by the dispatch up to
 * GW_WEBHOOK_BODY_MAX bytes (more: 413). */
#define GW_WEBHOOK_BODY_MAX (16u * 1024u)
enum MHD_Result gw_handle_webhook_create(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_webhooks_list(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_webhook_get(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_webhook_delete(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
/* GET /webhooks/{id}/deliveries: the delivery log, newest first. */
enum MHD_Result gw_handle_webhook_deliveries(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
/* POST /webhooks/{id}/deliveries/{delivery_id}/resend. */
enum MHD_Result gw_handle_webhook_resend(gw_app *app, struct MHD_Connection *conn, gw_req *rq);

#endif
