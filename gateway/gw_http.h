/* gw_http.h — the HTTP daemon (libmicrohttpd) that serves the routes.
 *
 * A thread pool with internal polling (epoll) and suspend/resume allowed
 * (SSE). Handlers that call other services block their pool thread for the
 * call's duration; IP_GATEWAY_THREADS sets how many run at once. */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include "gw_app.h"

ip_status gw_http_new(gw_app *app, gw_http **out);
/* Stops the daemon (call gw_events_close first) and frees. NULL does nothing. */
void gw_http_free(gw_http *h);

/* Route of a path (after an optional "/api" prefix), for dispatch and metrics. */
typedef enum gw_route {
    GW_R_UNKNOWN = 0,
    GW_R_UPLOAD,
    GW_R_IMAGE,
    GW_R_INFO,
    GW_R_IMAGES,
    GW_R_EVENTS,
    GW_R_HEALTHZ,
    GW_R_READYZ,
    GW_R_METRICS,
    GW_R_OPENAPI,
} gw_route;

/* Matches `path`; for GW_R_IMAGE and GW_R_INFO copies the id segment (at most
 * 63 bytes) into id. */
gw_route gw_route_match(const char *path, char id[64]);
const char *gw_route_name(gw_route r);

#endif
