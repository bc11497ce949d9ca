/* ip_rpc_server.c — serving a protobuf-c service over nng REP (see ip_rpc.h).
 *
 * One REP socket, NNG_OPT_RECVMAXSZ set, and `workers` threads. Each thread
 * owns one nng context and one aio and runs a plain loop: receive, serve,
 * send, each step finished with nng_aio_wait. Handlers therefore run on our
 * threads (they may block on SQL or HTTP) and never on nng's callback
 * threads, and no aio is ever freed or its context closed while an operation
 * is pending on it (the nng 1.5.2 bugs in INFRA.md).
 *
 * Serving a request means: unpack the RpcRequest envelope, look the method up
 * in the service descriptor, refuse it when its deadline has passed, unpack
 * the input, give the handler a zeroed output message and a per-call arena,
 * pack the output into an RpcReply (ip_rpc_wire.c). Every failure along the
 * way becomes an error reply; a request too large for NNG_OPT_RECVMAXSZ never
 * reaches us (nng drops its pipe). Everything a call allocated (the arena,
 * buffers handed over with ip_rpc_call_defer_free, the error message) is
 * released together once the reply is packed.
 *
 * No copies of large payloads on the way in: a large envelope `input` and the
 * input's large top-level bytes fields (IP_RPC_SLICE_MIN and up, e.g. a
 * PutObject's data) are slices of the received nng message (ip_pbview.h),
 * which is freed only after the handler has returned and the reply is packed;
 * handlers never free their input, so the slices are invisible to them. The
 * reply is packed once, straight into an nng message of its exact size; or,
 * when the handler read its payload straight into the reply message
 * (ip_rpc_call_reply_bytes), written around the payload without copying it.
 *
 * Closing: a flag under the server mutex, then every worker blocked in a
 * receive has its aio cancelled; workers busy with a call finish it and send
 * the reply, see the flag and leave. Only after every thread is joined is the
 * socket closed and are the aios freed.
 */
#include "ip_rpc.h"
#include "ip_rpc_internal.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ip_log.h"
#include "ip_metrics.h"
#include "ip_pbview.h"
#include "ip_time.h"
#include "rpc.pb-c.h"

#define IP_RPC_DEFAULT_WORKERS 32
/* Longest a worker waits for a reply to be taken by a slow or stuck peer. */
#define IP_RPC_SEND_TIMEOUT_MS 10000
/* How long closing a server waits for the calls in flight. */
#define IP_RPC_JOIN_WAIT_MS 30000

typedef struct arena_block {
    struct arena_block *next;
    size_t cap, used;
    max_align_t data[];
} arena_block;

typedef struct deferred {
    struct deferred *next;
    void *p;
    void (*fn)(void *);
} deferred;

/* Room kept around ip_rpc_call_reply_bytes's buffer for the envelope and the
 * output's other fields (an ObjectInfo, a request id). A reply that needs
 * more is packed as usual. */
#define REPLY_HEAD_ROOM 4096
#define REPLY_TAIL_ROOM 512

struct ip_rpc_call {
    const char *method;
    const char *request_id;
    int64_t deadline_ms;
    arena_block *blocks;
    deferred *defers;
    char *errmsg;
    nng_msg *reply_msg;   /* ip_rpc_call_reply_bytes's, until it is sent */
    uint8_t *reply_bytes; /* in reply_msg at REPLY_HEAD_ROOM */
    size_t reply_cap;
};

typedef struct worker {
    struct ip_rpc_server *srv;
    pthread_t thread;
    bool started;
    bool ctx_open;
    nng_ctx ctx;
    nng_aio *aio;
    pthread_mutex_t mu; /* guards receiving; taken only by this worker and by close */
    bool mu_init;
    bool receiving; /* a receive is pending on aio */
} worker;

struct ip_rpc_server {
    const ProtobufCServiceDescriptor *svc;
    const ip_rpc_handler *handlers;
    void *user;
    size_t max_msg;
    nng_socket sock;
    bool sock_open;
    worker *workers;
    int nworkers;
    pthread_mutex_t mu; /* guards closing, closed */
    atomic_bool closing;
    bool closed;
    bool stuck; /* a worker did not finish in time on close */
};

void *ip_rpc_call_alloc(ip_rpc_call *call, size_t n)
{
    size_t need = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (need == 0)
        need = sizeof(max_align_t);
    arena_block *b = call->blocks;
    if (b == NULL || b->cap - b->used < need) {
        size_t cap = need > 4096 ? need : 4096;
        b = malloc(sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = call->blocks;
        call->blocks = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += need;
    memset(p, 0, n);
    return p;
}

char *ip_rpc_call_strdup(ip_rpc_call *call, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = ip_rpc_call_alloc(call, n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

void *ip_rpc_call_memdup(ip_rpc_call *call, const void *p, size_t n)
{
    void *q = ip_rpc_call_alloc(call, n);
    if (q != NULL && n > 0)
        memcpy(q, p, n);
    return q;
}

void ip_rpc_call_defer_free(ip_rpc_call *call, void *p, void (*free_fn)(void *))
{
    if (p == NULL || free_fn == NULL)
        return;
    deferred *d = malloc(sizeof *d);
    if (d == NULL) {
        /* Cannot keep it until the reply is packed; the contract says the call
         * owns it, so the least bad choice is to leak rather than free early. */
        ip_log(IP_LOG_ERROR, "rpc.defer_free_oom");
        return;
    }
    d->p = p;
    d->fn = free_fn;
    d->next = call->defers;
    call->defers = d;
}

static void drop_reply_msg(void *m)
{
    nng_msg_free(m);
}

void *ip_rpc_call_reply_bytes(ip_rpc_call *call, size_t n)
{
    if (call->reply_msg != NULL && n <= call->reply_cap)
        return call->reply_bytes;
    nng_msg *m = NULL;
    if (n > SIZE_MAX - REPLY_HEAD_ROOM - REPLY_TAIL_ROOM ||
        nng_msg_alloc(&m, REPLY_HEAD_ROOM + n + REPLY_TAIL_ROOM) != 0)
        return NULL;
    if (call->reply_msg != NULL) /* the old buffer may still be in use: kept to the end */
        ip_rpc_call_defer_free(call, call->reply_msg, drop_reply_msg);
    call->reply_msg = m;
    call->reply_bytes = (uint8_t *)nng_msg_body(m) + REPLY_HEAD_ROOM;
    call->reply_cap = n;
    return call->reply_bytes;
}

void ip_rpc_call_errorf(ip_rpc_call *call, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    free(call->errmsg);
    call->errmsg = msg;
}

const char *ip_rpc_call_request_id(const ip_rpc_call *call)
{
    return call->request_id != NULL ? call->request_id : "";
}

const char *ip_rpc_call_method(const ip_rpc_call *call)
{
    return call->method != NULL ? call->method : "";
}

int64_t ip_rpc_call_deadline_ms(const ip_rpc_call *call)
{
    return call->deadline_ms;
}

int64_t ip_rpc_call_remaining_ms(const ip_rpc_call *call)
{
    if (call->deadline_ms <= 0)
        return INT32_MAX;
    return call->deadline_ms - ip_now_ms();
}

static void call_release(ip_rpc_call *call)
{
    while (call->defers != NULL) {
        deferred *d = call->defers;
        call->defers = d->next;
        d->fn(d->p);
        free(d);
    }
    while (call->blocks != NULL) {
        arena_block *b = call->blocks;
        call->blocks = b->next;
        free(b);
    }
    free(call->errmsg);
    call->errmsg = NULL;
    if (call->reply_msg != NULL)
        nng_msg_free(call->reply_msg);
    call->reply_msg = NULL;
}

/* One request being served: what serve_call decided, for the reply, the
 * metrics and the log line. */
typedef struct serving {
    ip_rpc_server *srv;
    int64_t t0;          /* ip_mono_us() on arrival */
    const uint8_t *wire; /* the request message's body (its slices point here) */
    size_t wire_len;
    Imageproc__RpcRequest *req; /* NULL when the envelope did not unpack; a view of wire */
    Imageproc__RpcReply reply;  /* code, message, request_id (borrowed) */
    ip_rpc_call call;           /* the handler's arena and error message */
    const ProtobufCMethodDescriptor *md;
    ProtobufCMessage *input;         /* a view of wire (large bytes fields are slices) */
    const ProtobufCMessage *out_msg; /* the handler's output, when it succeeded */
    size_t out_len;
    char msgbuf[256];
} serving;

static void serve_fail(serving *s, Imageproc__RpcCode code, const char *message)
{
    s->reply.code = code;
    s->reply.message = (char *)message;
}

/* Looks the method up, checks the deadline, unpacks the input and runs the
 * handler; the outcome is left in s->reply (and the output in s->out_msg). */
static void serve_call(serving *s)
{
    ip_rpc_server *srv = s->srv;
    Imageproc__RpcRequest *req = s->req;
    if (strcmp(req->method, IP_RPC_PING) == 0)
        return;
    const ProtobufCMethodDescriptor *md = s->md =
        protobuf_c_service_descriptor_get_method_by_name(srv->svc, req->method);
    if (md == NULL) {
        snprintf(s->msgbuf, sizeof s->msgbuf, "unknown method \"%.64s\" of %s", req->method,
                 srv->svc->name);
        serve_fail(s, IMAGEPROC__RPC_CODE__RPC_INVALID_ARGUMENT, s->msgbuf);
        return;
    }
    if (req->deadline_ms > 0 && req->deadline_ms <= ip_now_ms()) {
        serve_fail(s, IMAGEPROC__RPC_CODE__RPC_DEADLINE_EXCEEDED,
                   "deadline passed before the call started");
        return;
    }
    ip_rpc_handler h = srv->handlers[md - srv->svc->methods];
    if (h == NULL) {
        serve_fail(s, IMAGEPROC__RPC_CODE__RPC_INTERNAL, "not implemented");
        return;
    }
    s->input = ip_pbview_unpack(md->input, req->input.len, req->input.data, IP_RPC_SLICE_MIN);
    if (s->input == NULL) {
        snprintf(s->msgbuf, sizeof s->msgbuf, "input does not unpack as %s", md->input->name);
        serve_fail(s, IMAGEPROC__RPC_CODE__RPC_INVALID_ARGUMENT, s->msgbuf);
        return;
    }
    ProtobufCMessage *output = ip_rpc_call_alloc(&s->call, md->output->sizeof_message);
    if (output == NULL) {
        serve_fail(s, IMAGEPROC__RPC_CODE__RPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    protobuf_c_message_init(md->output, output);
    ip_status st = h(srv->user, &s->call, s->input, output);
    if (st != IP_OK) {
        serve_fail(s, (Imageproc__RpcCode)st,
                   s->call.errmsg != NULL ? s->call.errmsg : ip_strerror(st));
        return;
    }
    s->out_len = protobuf_c_message_get_packed_size(output);
    s->out_msg = output;
}

/* The reply envelope for s (NULL when out of memory). An output over the
 * server's message limit is replaced by RESOURCE_EXHAUSTED. */
static nng_msg *serve_reply(serving *s)
{
    Imageproc__RpcReply *reply = &s->reply;
    nng_msg *out = NULL;
    if (reply->code == IMAGEPROC__RPC_CODE__RPC_OK &&
        ip_rpc_reply_size(0, "", s->out_len, reply->request_id) > s->srv->max_msg)
        serve_fail(s, IMAGEPROC__RPC_CODE__RPC_RESOURCE_EXHAUSTED,
                   "reply larger than the message size limit");
    if (reply->code != IMAGEPROC__RPC_CODE__RPC_OK) {
        s->out_msg = NULL;
        s->out_len = 0;
    }
    if (s->out_msg != NULL && s->call.reply_msg != NULL) {
        /* The payload may already be in the reply message. */
        const ProtobufCMessageDescriptor *d = s->out_msg->descriptor;
        for (unsigned i = 0; i < d->n_fields; i++) {
            const ProtobufCFieldDescriptor *fd = &d->fields[i];
            const ProtobufCBinaryData *bd =
                (const ProtobufCBinaryData *)((const char *)s->out_msg + fd->offset);
            if (fd->type != PROTOBUF_C_TYPE_BYTES || fd->label == PROTOBUF_C_LABEL_REPEATED ||
                (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || bd->data != s->call.reply_bytes ||
                bd->len == 0 || bd->len > s->call.reply_cap)
                continue;
            if (!ip_rpc_write_reply_around(s->call.reply_msg, REPLY_HEAD_ROOM, reply->message,
                                           (ProtobufCMessage *)s->out_msg, fd, reply->request_id))
                break;
            out = s->call.reply_msg;
            s->call.reply_msg = NULL; /* sent with the reply */
            return out;
        }
    }
    size_t n = ip_rpc_reply_size((int)reply->code, reply->message, s->out_len, reply->request_id);
    if (nng_msg_alloc(&out, n) != 0)
        return NULL;
    ip_rpc_write_reply(nng_msg_body(out), (int)reply->code, reply->message, s->out_msg, s->out_len,
                       reply->request_id);
    return out;
}

/* Counts the call in the metrics and writes its log line. */
static void serve_record(const serving *s)
{
    const ip_rpc_metrics *m = ip_rpc_metrics_get();
    const char *svc = s->srv->svc->name;
    const Imageproc__RpcRequest *req = s->req;
    ip_status code = ip_rpc_status_from_code((int)s->reply.code);
    const char *mname = s->md != NULL                                          ? s->md->name
                        : req != NULL && strcmp(req->method, IP_RPC_PING) == 0 ? IP_RPC_PING
                        : req != NULL                                          ? "unknown"
                                                                               : "malformed";
    char labels[256];
    double secs = (double)(ip_mono_us() - s->t0) / 1e6;
    snprintf(labels, sizeof labels, "%s,%s", svc, mname);
    ip_metric_observe(m->server_seconds, labels, secs);
    snprintf(labels, sizeof labels, "%s,%s,%s", svc, mname, ip_strerror(code));
    ip_metric_add(m->server_calls, labels, 1);
    ip_log_level lv = code == IP_OK                                          ? IP_LOG_DEBUG
                      : code == IP_INTERNAL || code == IP_RESOURCE_EXHAUSTED ? IP_LOG_ERROR
                                                                             : IP_LOG_INFO;
    /* Names from the wire are bounded before they reach a log line. */
    char rid[72];
    snprintf(rid, sizeof rid, "%.64s", req != NULL ? req->request_id : "");
    ip_log(lv, code == IP_OK ? "rpc.served" : "rpc.failed", IP_LS("rpc_service", svc),
           IP_LS("method", mname), IP_LS("request_id", rid), IP_LS("code", ip_strerror(code)),
           IP_LS("err", code == IP_OK ? NULL : s->reply.message),
           IP_LF("ms", (double)(ip_mono_us() - s->t0) / 1000.0));
}

/* Serves one request; `in` stays owned by the caller. Returns the reply message
 * (NULL only when out of memory: the request then goes unanswered and the
 * caller's deadline covers it). */
static nng_msg *serve(ip_rpc_server *srv, nng_msg *in)
{
    serving s = {.srv = srv, .t0 = ip_mono_us(), .reply = IMAGEPROC__RPC_REPLY__INIT};
    s.wire = nng_msg_body(in);
    s.wire_len = nng_msg_len(in);
    s.req = (Imageproc__RpcRequest *)ip_pbview_unpack(&imageproc__rpc_request__descriptor,
                                                      s.wire_len, s.wire, IP_RPC_SLICE_MIN);
    if (s.req == NULL) {
        serve_fail(&s, IMAGEPROC__RPC_CODE__RPC_INVALID_ARGUMENT, "malformed request envelope");
    } else {
        s.call.method = s.req->method;
        s.call.request_id = s.req->request_id;
        s.call.deadline_ms = s.req->deadline_ms;
        s.reply.request_id = s.req->request_id;
        serve_call(&s);
    }
    nng_msg *out = serve_reply(&s);
    serve_record(&s);
    if (s.input != NULL) /* its slices point into the envelope's input */
        ip_pbview_free(s.input, s.req->input.data, s.req->input.len);
    call_release(&s.call);
    ip_pbview_free(s.req ? &s.req->base : NULL, s.wire, s.wire_len);
    return out;
}

uint8_t *ip_rpc_serve_buffer(const ProtobufCServiceDescriptor *svc, const ip_rpc_handler *handlers,
                             void *user, size_t max_msg, const void *data, size_t len,
                             size_t *reply_len)
{
    ip_rpc_metrics_get();
    ip_rpc_server srv = {.svc = svc, .handlers = handlers, .user = user, .max_msg = max_msg};
    nng_msg *in, *out;
    *reply_len = 0;
    if (nng_msg_alloc(&in, len) != 0)
        return NULL;
    if (len > 0)
        memcpy(nng_msg_body(in), data, len);
    out = serve(&srv, in);
    nng_msg_free(in);
    if (out == NULL)
        return NULL;
    uint8_t *buf = malloc(nng_msg_len(out) ? nng_msg_len(out) : 1);
    if (buf != NULL) {
        memcpy(buf, nng_msg_body(out), nng_msg_len(out));
        *reply_len = nng_msg_len(out);
    }
    nng_msg_free(out);
    return buf;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    ip_rpc_server *srv = w->srv;

    for (;;) {
        /* closing is set before close takes w->mu: either we see it here, or
         * close sees our receive pending and cancels it. */
        pthread_mutex_lock(&w->mu);
        if (atomic_load(&srv->closing)) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        nng_aio_set_timeout(w->aio, NNG_DURATION_INFINITE);
        w->receiving = true;
        nng_ctx_recv(w->ctx, w->aio);
        pthread_mutex_unlock(&w->mu);
        nng_aio_wait(w->aio);
        pthread_mutex_lock(&w->mu);
        w->receiving = false;
        pthread_mutex_unlock(&w->mu);
        int rv = nng_aio_result(w->aio);
        if (rv == NNG_ECLOSED)
            break;
        if (rv != 0) {
            if (rv != NNG_ECANCELED)
                ip_log(IP_LOG_WARN, "rpc.recv_failed", IP_LS("err", nng_strerror(rv)));
            continue;
        }

        nng_msg *in = nng_aio_get_msg(w->aio);
        nng_aio_set_msg(w->aio, NULL);
        nng_msg *out = serve(srv, in);
        nng_msg_free(in);
        if (out != NULL) {
            nng_aio_set_timeout(w->aio, IP_RPC_SEND_TIMEOUT_MS);
            nng_aio_set_msg(w->aio, out);
            nng_ctx_send(w->ctx, w->aio);
            nng_aio_wait(w->aio);
            if ((rv = nng_aio_result(w->aio)) != 0) {
                nng_msg_free(nng_aio_get_msg(w->aio));
                nng_aio_set_msg(w->aio, NULL);
                if (rv != NNG_ECLOSED)
                    ip_log(IP_LOG_WARN, "rpc.send_failed", IP_LS("err", nng_strerror(rv)));
            }
        }
    }
    return NULL;
}

ip_status ip_rpc_server_new(const ProtobufCServiceDescriptor *svc, const ip_rpc_handler *handlers,
                            void *user, const ip_rpc_server_opts *opts, ip_rpc_server **out)
{
    *out = NULL;
    if (svc == NULL || handlers == NULL || opts == NULL || opts->url == NULL)
        return IP_INVALID_ARGUMENT;
    ip_status st = IP_INTERNAL;
    int rv;
    ip_rpc_metrics_get();
    ip_rpc_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return IP_RESOURCE_EXHAUSTED;
    srv->svc = svc;
    srv->handlers = handlers;
    srv->user = user;
    srv->max_msg = opts->max_msg_bytes ? opts->max_msg_bytes : IP_RPC_DEFAULT_MAX_MSG;
    srv->nworkers = opts->workers > 0 ? opts->workers : IP_RPC_DEFAULT_WORKERS;
    pthread_mutex_init(&srv->mu, NULL);

    if ((rv = nng_rep0_open(&srv->sock)) != 0)
        goto nng_fail;
    srv->sock_open = true;
    if ((rv = nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, srv->max_msg)) != 0)
        goto nng_fail;
    if ((rv = nng_listen(srv->sock, opts->url, NULL, 0)) != 0) {
        ip_log(IP_LOG_ERROR, "rpc.listen_failed", IP_LS("url", opts->url),
               IP_LS("err", nng_strerror(rv)));
        st = rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP || rv == NNG_EINVAL ? IP_INVALID_ARGUMENT
                                                                           : IP_UNAVAILABLE;
        goto fail;
    }
    srv->workers = calloc((size_t)srv->nworkers, sizeof *srv->workers);
    if (srv->workers == NULL) {
        st = IP_RESOURCE_EXHAUSTED;
        goto fail;
    }
    for (int i = 0; i < srv->nworkers; i++) {
        worker *w = &srv->workers[i];
        w->srv = srv;
        pthread_mutex_init(&w->mu, NULL);
        w->mu_init = true;
        if ((rv = nng_aio_alloc(&w->aio, NULL, NULL)) != 0)
            goto nng_fail;
        if ((rv = nng_ctx_open(&w->ctx, srv->sock)) != 0)
            goto nng_fail;
        w->ctx_open = true;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            st = IP_RESOURCE_EXHAUSTED;
            goto fail;
        }
        w->started = true;
    }
    ip_log(IP_LOG_INFO, "rpc.listening", IP_LS("rpc_service", svc->name), IP_LS("url", opts->url),
           IP_LI("workers", srv->nworkers), IP_LI("max_msg_bytes", (long long)srv->max_msg));
    *out = srv;
    return IP_OK;

nng_fail:
    ip_log(IP_LOG_ERROR, "rpc.server_failed", IP_LS("err", nng_strerror(rv)));
    st = IP_INTERNAL;
fail:
    ip_rpc_server_free(srv);
    return st;
}

void ip_rpc_server_close(ip_rpc_server *srv)
{
    if (srv == NULL)
        return;
    pthread_mutex_lock(&srv->mu);
    if (srv->closed || atomic_load(&srv->closing)) {
        pthread_mutex_unlock(&srv->mu);
        return;
    }
    atomic_store(&srv->closing, true);
    pthread_mutex_unlock(&srv->mu);

    /* Workers waiting for a request stop now; workers serving one finish it,
     * send the reply, and stop at the top of their loop. */
    for (int i = 0; srv->workers != NULL && i < srv->nworkers; i++) {
        worker *w = &srv->workers[i];
        if (!w->mu_init)
            continue;
        pthread_mutex_lock(&w->mu);
        if (w->receiving)
            nng_aio_cancel(w->aio);
        pthread_mutex_unlock(&w->mu);
    }
    /* Handlers get IP_RPC_JOIN_WAIT_MS to finish. A worker still busy then (a
     * handler ignoring its deadline, or a receive nng failed to cancel) is
     * left running: closing the socket below fails its pending operation, and
     * the server's memory is then left behind for it (srv->stuck). */
    struct timespec until = ip_rpc_time_after_ms(CLOCK_REALTIME, IP_RPC_JOIN_WAIT_MS);
    for (int i = 0; srv->workers != NULL && i < srv->nworkers; i++) {
        if (!srv->workers[i].started)
            continue;
        if (pthread_timedjoin_np(srv->workers[i].thread, NULL, &until) == 0) {
            srv->workers[i].started = false;
            continue;
        }
        pthread_detach(srv->workers[i].thread);
        srv->stuck = true;
    }
    if (srv->stuck)
        ip_log(IP_LOG_ERROR, "rpc.worker_stuck", IP_LS("rpc_service", srv->svc->name),
               IP_LS("err", "a worker did not finish; the server is left behind"));
    /* Every joined worker has left: nothing is pending on its aio. */
    for (int i = 0; srv->workers != NULL && i < srv->nworkers; i++) {
        if (srv->workers[i].started)
            continue;
        if (srv->workers[i].ctx_open) {
            nng_ctx_close(srv->workers[i].ctx);
            srv->workers[i].ctx_open = false;
        }
    }
    if (srv->sock_open) {
        ip_rpc_close_bounded(srv->sock, srv->svc->name); /* the workers' aios are idle either way */
        srv->sock_open = false;
    }
    pthread_mutex_lock(&srv->mu);
    srv->closed = true;
    pthread_mutex_unlock(&srv->mu);
}

void ip_rpc_server_free(ip_rpc_server *srv)
{
    if (srv == NULL)
        return;
    ip_rpc_server_close(srv);
    if (srv->stuck)
        return; /* a detached worker still uses it */
    for (int i = 0; srv->workers != NULL && i < srv->nworkers; i++) {
        if (srv->workers[i].aio != NULL)
            nng_aio_free(srv->workers[i].aio);
        if (srv->workers[i].mu_init)
            pthread_mutex_destroy(&srv->workers[i].mu);
    }
    free(srv->workers);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}
