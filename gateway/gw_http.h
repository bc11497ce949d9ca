/* gw_http.h — the HTTP daemon (libmicrohttpd) that serves the routes.
 *
 * A thread pool with internal polling (epoll) and suspend/resume allowed
 * (SSE). Handlers that call other services block their pool thread for the
 * call's duration; IP_GATEWAY_THREADS sets how many run at once. */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include "gw_app.h"

/* Starts serving app->cfg.listen with gw_routes_access (app borrowed for the
 * daemon's life). IP_INVALID_ARGUMENT: the address does not parse;
 * IP_UNAVAILABLE: the daemon did not start (the port is taken). */
ip_status gw_http_new(gw_app *app, gw_http **out);
/* Stops the daemon (call gw_events_close first) and frees. NULL does nothing. */
void gw_http_free(gw_http *h);

#endif
