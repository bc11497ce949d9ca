/* gw_events.h — live status: metadata-svc's StatusEvents fanned out over SSE.
 *
 * A subscriber thread receives packed StatusEvents on nng SUB (subscribed to
 * everything) and appends each, formatted as an SSE `status` event, to the
 * buffer of every client whose id filter matches, resuming the clients'
 * suspended connections. Each client's buffer is bounded; a client that falls
 * that far behind is dropped (its connection ends), never the gateway. A
 * heartbeat comment goes to every client at the configured interval.
 */
#ifndef GW_EVENTS_H
#define GW_EVENTS_H

#include <microhttpd.h>

#include "events.pb-c.h"
#include "gw_app.h"
#include "gw_query.h"

/* Starts the subscriber thread (dialling asynchronously: metadata-svc may be down). */
ip_status gw_events_new(gw_app *app, gw_events **out);
/* Refuses new clients, ends every client's stream (resuming the suspended
 * ones) and stops the subscriber. Call before stopping the HTTP daemon. */
void gw_events_close(gw_events *ev);
void gw_events_free(gw_events *ev);

/* A streaming text/event-stream response for a new client on `conn` with the
 * filter `q` (copied). NULL when refused (closing, or too many clients). The
 * caller queues and destroys it as any response. */
struct MHD_Response *gw_events_response(gw_events *ev, struct MHD_Connection *conn,
                                        const gw_events_query *q);

/* Delivers one event to the clients (the subscriber thread does this). */
void gw_events_publish(gw_events *ev, const Imageproc__StatusEvent *e);

#endif
