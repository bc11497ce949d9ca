/* gw_handlers.h — the route handlers the dispatch table (gw_routes.c) calls.
 *
 * A handler runs once the whole request has arrived, on a libmicrohttpd pool
 * thread; it may block on RPC calls (bounded by their deadlines). It queues
 * exactly one answer through gw_response.h and returns what that returned.
 * Memory it must keep until the answer is sent goes to the request
 * (gw_req_defer). The files: gw_routes_upload.c (POST /upload, including the
 * headers-only first call), gw_routes_image.c (/image/{id} and its /info),
 * gw_routes_images.c (the listing), gw_routes_events.c (SSE) and
 * gw_routes_service.c (health, readiness, metrics, the OpenAPI document, the
 * page's configuration).
 */
#ifndef GW_HANDLERS_H
#define GW_HANDLERS_H

#include <microhttpd.h>

#include "gw_app.h"
#include "gw_request.h"

typedef enum MHD_Result (*gw_handler)(gw_app *app, struct MHD_Connection *conn, gw_req *rq);

/* POST /upload, first call (headers only): makes the body's receiver; answers
 * at once when the headers already rule the upload out (413, 400, 415). */
enum MHD_Result gw_handle_upload_begin(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
/* POST /upload once the body is in: checks, stores, 202. */
enum MHD_Result gw_handle_upload(gw_app *app, struct MHD_Connection *conn, gw_req *rq);

enum MHD_Result gw_handle_image_get(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_image_delete(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_image_info(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_images(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_events(gw_app *app, struct MHD_Connection *conn, gw_req *rq);

enum MHD_Result gw_handle_healthz(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_readyz(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_metrics(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_openapi(gw_app *app, struct MHD_Connection *conn, gw_req *rq);
enum MHD_Result gw_handle_config(gw_app *app, struct MHD_Connection *conn, gw_req *rq);

#endif
