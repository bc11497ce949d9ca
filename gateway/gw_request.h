/* gw_request.h — one HTTP request's state, from libmicrohttpd's first call to
 * its completion, and what handlers read from the request.
 *
 * A gw_req is made when the headers have arrived (gw_req_new) and freed when
 * libmicrohttpd reports the request complete (gw_req_free). Anything a handler
 * must release once the answer is sent — an RPC reply whose strings the
 * response or the log still use — is handed to the request with gw_req_defer
 * instead of being freed at each of the handler's exits; the deferred calls
 * run in reverse order in gw_req_free. One thread at a time touches a gw_req:
 * libmicrohttpd calls a connection's callbacks on one thread, and while the
 * request's work runs on the work pool (gw_offload) the connection is
 * suspended, so the worker has it alone until it resumes the connection.
 */
#ifndef GW_REQUEST_H
#define GW_REQUEST_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_auth.h"
#include "gw_query.h"
#include "gw_routes.h"

typedef struct gw_receive gw_receive;
struct gw_app;
struct gw_req;

/* The two halves of a request's work off the HTTP thread (gw_offload in
 * gw_handlers.h): `work` runs on the work pool, `then` answers on the HTTP
 * thread once the worker has resumed the connection. */
typedef void (*gw_req_work)(struct gw_app *app, struct gw_req *rq);
typedef enum MHD_Result (*gw_req_then)(struct gw_app *app, struct MHD_Connection *conn,
                                       struct gw_req *rq);

/* Deferred cleanups one request may hold (the handlers use at most three). */
#define GW_REQ_DEFER_MAX 8

typedef struct gw_req {
    gw_route route;
    char id[64];      /* the {id} of /image/{id}[/info] or /webhooks/{id}… as given, unchecked */
    char id2[64];     /* the {delivery_id} of /webhooks/{id}/deliveries/{delivery_id}/resend */
    /* The body of a route that reads one (POST /webhooks), up to the route's
     * bound; body_over: more was sent (the handler answers 413). Owned. */
    char *body;
    size_t body_len;
    bool body_over;
    int64_t start_us; /* wall clock at the headers, for the latency metric */
    unsigned status;  /* the status queued; 0 until then */
    bool responded;   /* an answer is queued: later callbacks only drain the body */
    gw_receive *rx;   /* POST /upload's body as it arrives; NULL otherwise */
    /* Who sent it (gw_identify in gw_handlers.h): set once, before the
     * handler runs (for POST /upload, at the headers). */
    gw_caller caller;
    bool identified;
    /* Work off the HTTP thread: set by gw_offload while the connection is
     * suspended; the worker touches the request only through `work`, and
     * only until it resumes the connection. */
    gw_req_work work;
    gw_req_then then;
    bool work_refused; /* the pool's queue was full: 503 busy instead of `then` */
    struct gw_app *app;
    struct MHD_Connection *conn;
    void *job; /* the handler's state for work and then (freed by a deferred cleanup) */
    size_t ndefer;
    struct {
        void (*fn)(void *);
        void *arg;
    } defer[GW_REQ_DEFER_MAX];
} gw_req;

/* A request for `url` with its route matched. Owned (gw_req_free); NULL when
 * out of memory. */
gw_req *gw_req_new(const char *url);
/* Runs the deferred cleanups (last first), frees the receiver and the
 * request. NULL does nothing. */
void gw_req_free(gw_req *rq);

/* fn(arg) runs when the request ends. At most GW_REQ_DEFER_MAX per request
 * (a programmer's bound: asserted). */
void gw_req_defer(gw_req *rq, void (*fn)(void *), void *arg);
/* Hands a protobuf-c message (an RPC reply, e.g. Imageproc__GetImageReply *)
 * to the request: it is freed when the request ends. NULL does nothing.
 * Returns `msg`. */
void *gw_req_defer_message(gw_req *rq, void *msg);

/* Query arguments of a request, decoded by libmicrohttpd (borrowed from the
 * connection for the request's life). */
#define GW_MAX_QUERY_ARGS 64
typedef struct gw_args {
    gw_kv kv[GW_MAX_QUERY_ARGS];
    size_t n;
    bool overflow; /* there were more */
} gw_args;

/* Collects the query arguments; false when there are more than
 * GW_MAX_QUERY_ARGS (the caller answers 400). */
bool gw_req_args(struct MHD_Connection *conn, gw_args *out);
/* A request header, or NULL. Borrowed from the connection. */
const char *gw_req_header(struct MHD_Connection *conn, const char *name);
/* The public path prefix ("/api") from X-Forwarded-Prefix when it is a plain
 * path, else "". Borrowed. */
const char *gw_req_public_prefix(struct MHD_Connection *conn);

#endif
