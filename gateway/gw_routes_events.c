/* gw_routes_events.c — GET /events: live status over Server-Sent Events.
 *
 * The optional `id` filter (gw_query_events) is handed to the SSE hub
 * (gw_events.c), whose streaming response then lives as long as the client
 * stays; when the hub refuses (too many clients, or the gateway is stopping)
 * the answer is 503 with Retry-After.
 */
#include "gw_events.h"
#include "gw_handlers.h"
#include "gw_response.h"

enum MHD_Result gw_handle_events(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    gw_args args;
    char detail[256];
    const char *param = NULL;
    gw_events_query q;
    if (!gw_req_args(conn, &args))
        return gw_send_problem(conn, rq, 400, "too many query parameters", NULL);
    if (gw_query_events(args.kv, args.n, &q, &param, detail, sizeof detail) != IP_OK)
        return gw_send_problem(conn, rq, 400, detail, param);
    struct MHD_Response *r = gw_events_response(app->events, conn, &q);
    if (!r)
        return gw_send_problem_h(conn, rq, 503,
                                 "too many live-status clients (or the gateway is stopping); "
                                 "reconnect later",
                                 NULL, "Retry-After", "5");
    return gw_queue(conn, rq, 200, r);
}
