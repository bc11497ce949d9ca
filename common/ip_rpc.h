/* ip_rpc.h — protobuf-c services over nng REQ/REP, gRPC-style.
 *
 * A request is a packed RpcRequest (proto/rpc.proto): the method name as in the
 * .proto `service` block, the packed input, a request id and an absolute
 * deadline. The reply is a packed RpcReply: a code (= ip_status), a message and
 * the packed output. The method "$ping" is answered by the transport itself.
 *
 * Server: serves one ProtobufCServiceDescriptor on a REP socket with `workers`
 * contexts in flight at once. For each request it unpacks the input by the
 * method's descriptor, allocates and initialises the output message, calls the
 * handler, packs the output and replies. Handlers may block (SQL, HTTP); they
 * run on the server's own threads, never on nng's callback threads. A request
 * that does not unpack, names an unknown method or is past its deadline is
 * answered with an error; the server keeps serving.
 *
 * Large payloads are not copied out of nng messages: the server hands its
 * handlers an input whose large bytes fields point into the request message,
 * and ip_rpc_invoke_view gives a caller the same kind of output, held until
 * ip_rpc_view_release. Both ends pack a message once, straight into the nng
 * message that is sent, and a handler may read a payload straight into its
 * reply message (ip_rpc_call_reply_bytes), which then goes out uncopied.
 *
 * Client: thread-safe; every call uses its own context and aio (recycled
 * after a clean reply, closed after a failure) and has a deadline. No reply by the deadline ->
 * IP_DEADLINE_EXCEEDED; never a hang. No server connected -> IP_UNAVAILABLE promptly: a call that
 * finds no connection waits at most 300 ms for one (a fresh client is still dialling), and a call
 * in flight when the last connection drops fails at once. The client counts its connections with
 * nng_pipe_notify; see ip_rpc_client.c. nng redials by itself after a server restart (every
 * 50 ms .. 1 s).
 * `urls` may list several addresses of one service (comma-separated); nng spreads calls over the
 * connected ones. NNG_OPT_RECVMAXSZ is set on both ends (max_msg_bytes); an oversized request or
 * reply makes nng drop the connection, which the caller sees as IP_UNAVAILABLE; a request over the
 * client's own limit is IP_RESOURCE_EXHAUSTED without any I/O.
 *
 * No hang, even when nng misbehaves: a call waits for nng at most 1 s past its
 * deadline, then cancels, and 1 s later gives up with DEADLINE_EXCEEDED
 * ("rpc.call_abandoned", the context leaked); never seen in the tests.
 *
 * Resends: the REQ resend timer is off (NNG_OPT_REQ_RESENDTIME =
 * NNG_DURATION_INFINITE), so a slow call is never run twice behind the
 * caller's back. nng still re-sends a request whose connection closed before
 * the reply, to another connected server of the list; callers that retry make
 * their calls idempotent (callers make the ids).
 *
 * Logs: the server writes "rpc.served" (debug) or "rpc.failed" (info; error
 * for INTERNAL and RESOURCE_EXHAUSTED) with rpc_service, method, request_id,
 * code, err and ms. Metrics (ip_metrics): ip_rpc_server_calls_total
 * {service,method,code}, ip_rpc_server_seconds{service,method} (histogram) and
 * ip_rpc_client_calls_total{service,method,code}; unknown method names count
 * as "unknown".
 */
#ifndef IP_RPC_H
#define IP_RPC_H

#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_status.h"

#define IP_RPC_DEFAULT_MAX_MSG (64u * 1024u * 1024u)

/* ---------------------------------------------------------------- server */

typedef struct ip_rpc_server ip_rpc_server;
typedef struct ip_rpc_call ip_rpc_call; /* one request being served */

/* A method implementation. `input` is the unpacked request (borrowed, freed by
 * the server after the call). `output` was allocated and initialised by the
 * server; the handler fills its fields with memory from ip_rpc_call_alloc /
 * ip_rpc_call_strdup / ip_rpc_call_memdup (or static constants), which is
 * released after the reply is packed. Returns IP_OK, or the error status with
 * a message set by ip_rpc_call_errorf (the output is then not sent). */
typedef ip_status (*ip_rpc_handler)(void *user, ip_rpc_call *call, const ProtobufCMessage *input,
                                    ProtobufCMessage *output);

typedef struct ip_rpc_server_opts {
    const char *url;      /* "tcp://127.0.0.1:7101" (listens) */
    int workers;          /* contexts/threads serving at once; <= 0 means 32 */
    size_t max_msg_bytes; /* 0 means IP_RPC_DEFAULT_MAX_MSG */
} ip_rpc_server_opts;

/* Starts serving `svc`. `handlers` has svc->n_methods entries in the order of
 * svc->methods (a NULL entry answers INTERNAL "not implemented"); it and `user`
 * are borrowed for the server's life. */
ip_status ip_rpc_server_new(const ProtobufCServiceDescriptor *svc, const ip_rpc_handler *handlers,
                            void *user, const ip_rpc_server_opts *opts, ip_rpc_server **out);

/* Stops accepting, lets calls in flight finish (up to 30 s; a worker still busy
 * then is left running and the server is not freed: "rpc.worker_stuck"),
 * closes the socket. Idempotent.
 * Bounded: if nng_close deadlocks (nng 1.5.2 issue #1543, rare, with traffic
 * in flight) it gives up after 10 s, logs "rpc.close_stuck" and leaves the
 * socket behind, so a service always gets to exit. ip_rpc_client_free does the
 * same (and then leaves the client's memory behind too). */
void ip_rpc_server_close(ip_rpc_server *srv);
/* Closes (if needed) and frees. NULL does nothing. */
void ip_rpc_server_free(ip_rpc_server *srv);

/* Per-call memory, zeroed, released when the call's reply has been sent. NULL only
 * when out of memory. */
void *ip_rpc_call_alloc(ip_rpc_call *call, size_t n);
char *ip_rpc_call_strdup(ip_rpc_call *call, const char *s);
void *ip_rpc_call_memdup(ip_rpc_call *call, const void *p, size_t n);
/* Hands `p` over to the call: free_fn(p) runs when the call ends (for buffers
 * made by libraries, e.g. a downloaded object). */
void ip_rpc_call_defer_free(ip_rpc_call *call, void *p, void (*free_fn)(void *));
/* n bytes inside the reply message itself, for one large top-level bytes
 * field of the output (e.g. an object read from S3 straight into it): set
 * the field to point at them (len <= n) and the reply is written around the
 * bytes without copying them. Per-call memory otherwise: used any other way
 * it is copied like any buffer, unused it is dropped with the call. A later
 * call returns the same buffer when n fits in it, else a new one (the old one
 * stays valid until the call ends). NULL when out of memory. */
void *ip_rpc_call_reply_bytes(ip_rpc_call *call, size_t n);
/* Sets the reply message for a failed call (printf-style). */
void ip_rpc_call_errorf(ip_rpc_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *ip_rpc_call_request_id(const ip_rpc_call *call); /* "" if none */
const char *ip_rpc_call_method(const ip_rpc_call *call);
int64_t ip_rpc_call_deadline_ms(const ip_rpc_call *call); /* absolute epoch ms; 0 = none */
/* Milliseconds left before the deadline (INT32_MAX-ish when none; <= 0 when past). */
int64_t ip_rpc_call_remaining_ms(const ip_rpc_call *call);

/* ---------------------------------------------------------------- client */

typedef struct ip_rpc_client ip_rpc_client;

typedef struct ip_rpc_client_opts {
    const char *urls;     /* comma-separated dial addresses of one service */
    int timeout_ms;       /* default deadline of a call; <= 0 means 5000 */
    size_t max_msg_bytes; /* 0 means IP_RPC_DEFAULT_MAX_MSG */
} ip_rpc_client_opts;

/* Per-call options; NULL means the client's defaults. */
typedef struct ip_rpc_call_opts {
    int timeout_ms;         /* <= 0 means the client's default */
    const char *request_id; /* NULL means a fresh UUIDv4 */
} ip_rpc_call_opts;

/* Makes a client for `svc` (borrowed; the generated descriptor is static).
 * Dials asynchronously: creating a client while the server is down succeeds. */
ip_status ip_rpc_client_new(const ProtobufCServiceDescriptor *svc, const ip_rpc_client_opts *opts,
                            ip_rpc_client **out);
/* Waits for calls in flight, closes, frees. NULL does nothing. */
void ip_rpc_client_free(ip_rpc_client *c);

/* Calls `method` with `input` (borrowed). On IP_OK, *output is the unpacked
 * reply, owned by the caller: free it with protobuf_c_message_free_unpacked(*output,
 * NULL). On failure *output is NULL and, if errbuf is not NULL, it holds a
 * NUL-terminated message (the server's, or the transport's). An unknown method
 * name is IP_INVALID_ARGUMENT without any I/O. */
ip_status ip_rpc_invoke(ip_rpc_client *c, const char *method, const ProtobufCMessage *input,
                        ProtobufCMessage **output, const ip_rpc_call_opts *opts, char *errbuf,
                        size_t errlen);

/* A reply held for a view (ip_rpc_invoke_view): the received message and the
 * output unpacked over it. */
typedef struct ip_rpc_view ip_rpc_view;

/* ip_rpc_invoke without copying large payloads out of the reply: on IP_OK,
 * *output's large top-level bytes fields (64 KiB and up, e.g. GetObjectReply's
 * data) point into the received message, which *hold keeps. *output is
 * valid, and must not be freed or changed, until ip_rpc_view_release(*hold),
 * which frees both. On failure *output and *hold are NULL (errbuf as for
 * ip_rpc_invoke). */
ip_status ip_rpc_invoke_view(ip_rpc_client *c, const char *method, const ProtobufCMessage *input,
                             ProtobufCMessage **output, ip_rpc_view **hold,
                             const ip_rpc_call_opts *opts, char *errbuf, size_t errlen);

/* Frees a view's output and its message. NULL does nothing. */
void ip_rpc_view_release(ip_rpc_view *hold);

/* Dials every address of the comma list `urls` on `sock` (blanks around items
 * ignored) without waiting for a connection; nng redials each by itself. For
 * any nng socket that takes a list of peers (the RPC client, the gateway's
 * status-event subscription). IP_INVALID_ARGUMENT, logged as "rpc.dial_failed"
 * with the address, when nng refuses one or the list names none. */
ip_status ip_rpc_dial_list(nng_socket sock, const char *urls);

/* Asks the server's transport for "$ping": IP_OK when some server answers in time. */
ip_status ip_rpc_ping(ip_rpc_client *c, int timeout_ms);

/* ------------------------------------------------------------- closing */

/* Runs fn(arg), a teardown that calls into nng, in a helper thread and waits
 * at most IP_RPC_CLOSE_WAIT_MS (10 s) for it (see ip_rpc_wire.c for why).
 * False when it did not return: it is left running in a detached thread,
 * "rpc.close_stuck" is logged with `what`, and the caller must leave behind
 * (never free) anything fn or nng's callbacks may still touch. */
bool ip_rpc_run_bounded(void (*fn)(void *), void *arg, const char *what);

/* ip_rpc_run_bounded of nng_close(sock). */
bool ip_rpc_close_bounded(nng_socket sock, const char *what);

#endif
