/* ip_rpc.c — protobuf-c services over nng REQ/REP (see ip_rpc.h).
 *
 * SERVER. One REP socket, NNG_OPT_RECVMAXSZ set, and `workers` threads. Each
 * thread owns one nng context and one aio and runs a plain loop: receive,
 * serve, send, each step finished with nng_aio_wait. Handlers therefore run
 * on our threads (they may block on SQL or HTTP) and never on nng's callback
 * threads, and no aio is ever freed or its context closed while an operation
 * is pending on it (the nng 1.5.2 bugs in INFRA.md). Serving a request means:
 * unpack the RpcRequest envelope, look the method up in the service
 * descriptor, refuse it when its deadline has passed, unpack the input, give
 * the handler a zeroed output message and a per-call arena, pack the output
 * into an RpcReply. Every failure along the way becomes an error reply; a
 * request too large for NNG_OPT_RECVMAXSZ never reaches us (nng drops its pipe).
 *
 * Closing: a flag under the server mutex, then every worker blocked in a
 * receive has its aio cancelled; workers busy with a call finish it and send
 * the reply, see the flag and leave. Only after every thread is joined is the
 * socket closed and are the aios freed.
 *
 * CLIENT. One REQ socket for the client's life, dialled to every address of
 * the comma list with NNG_FLAG_NONBLOCK (a server that is down at start is
 * fine: nng keeps redialling, between RECONNMINT and RECONNMAXT). A call has
 * a context and an aio of its own for its whole life; it sends with the time
 * left before its deadline as the aio timeout, then receives with what is
 * left, each step finished with nng_aio_wait. Opening a context and allocating
 * an aio cost a few microseconds under nng's global locks, so a call that got
 * its reply hands its (now idle) pair to a small pool for a later call; after
 * any failure the context is closed and the aio freed instead.
 *
 * Resends. REQ re-sends a request that got no reply after
 * NNG_OPT_REQ_RESENDTIME (60 s by default), so a slow call would run twice
 * on the server. We set it to NNG_DURATION_INFINITE, which turns the timer
 * off: every call has a deadline and its caller decides whether to retry.
 * nng still re-queues a request whose pipe closed before the reply came (the
 * server went away); it goes out again only when a server is connected again
 * before the deadline, and then to a server that had not seen it complete.
 *
 * "No server". A REQ send with no connected pipe waits in nng's queue until
 * its timeout, which would turn "server down" into DEADLINE_EXCEEDED after the
 * whole deadline. So the client counts its connected pipes with
 * nng_pipe_notify (ADD_POST adds the pipe's id, REM_POST removes it) and keeps
 * the calls in flight on lists (sharded, so callers rarely share a mutex). A
 * call that finds no pipe waits at most IP_RPC_CONNECT_WAIT_MS for one (a
 * fresh client is usually still dialling), then fails with UNAVAILABLE. When
 * the last pipe goes, every call in flight is marked lost and its aio
 * cancelled, so it returns UNAVAILABLE at once instead of waiting out its
 * deadline. The callback zeroes the pipe count before sweeping the lists, and
 * a call re-reads the count after registering, so none is missed. A call
 * starts each nng operation under its list's lock after checking `lost`, and
 * the sweep sets `lost` and cancels under the same lock: an operation never
 * starts while its aio is being cancelled (nng 1.5.2 can lose an operation
 * started during a cancel, and its aio then never completes).
 */
#include "ip_rpc.h"
#include "ip_rpc_internal.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ip_log.h"
#include "ip_metrics.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "rpc.pb-c.h"

#define IP_RPC_DEFAULT_WORKERS 32
#define IP_RPC_DEFAULT_TIMEOUT_MS 5000
/* How long a call waits for a connection when none is up (see the header essay). */
#define IP_RPC_CONNECT_WAIT_MS 300
/* Longest a worker waits for a reply to be taken by a slow or stuck peer. */
#define IP_RPC_SEND_TIMEOUT_MS 10000
#define IP_RPC_PING "$ping"
/* How long past its deadline a call waits for nng before cancelling, and then
 * before abandoning the operation (see call_wait). */
#define IP_RPC_STUCK_MS 1000

static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;
static ip_metric *m_server_calls, *m_server_seconds, *m_client_calls;

static void metrics_register(void)
{
    static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,    0.25,  0.5,    1,     2.5,  5,     10};
    m_server_calls =
        ip_metric_counter("ip_rpc_server_calls_total", "RPC calls served.", "service,method,code");
    m_server_seconds =
        ip_metric_histogram("ip_rpc_server_seconds", "Time to serve an RPC call, seconds.",
                            "service,method", buckets, sizeof buckets / sizeof buckets[0]);
    m_client_calls =
        ip_metric_counter("ip_rpc_client_calls_total", "RPC calls made.", "service,method,code");
}

static ip_status status_from_code(int code)
{
    return code >= 0 && code < IP_STATUS_COUNT ? (ip_status)code : IP_INTERNAL;
}

/* ================================================================ wire */

/* The envelopes are written by hand around the message they carry, so a
 * large input or output is packed once, straight into the nng message,
 * instead of packed, copied into the envelope and packed again. The bytes are
 * those protobuf-c would write (fields in number order, proto3 defaults left
 * out); ip_rpc_test checks that. Reading stays with protobuf-c. */

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Size of a length-delimited field (tag < 128) holding n bytes; 0 when empty. */
static size_t len_field_size(size_t n)
{
    return n == 0 ? 0 : 1 + varint_len(n) + n;
}

static uint8_t *put_len_field(uint8_t *p, uint8_t tag, const void *data, size_t n)
{
    if (n == 0)
        return p;
    *p++ = tag;
    p = put_varint(p, n);
    if (data != NULL)
        memcpy(p, data, n);
    return p + n;
}

size_t ip_rpc_request_size(const char *method, size_t input_len, const char *request_id,
                           int64_t deadline_ms)
{
    return len_field_size(strlen(method)) + len_field_size(input_len) +
           len_field_size(strlen(request_id)) +
           (deadline_ms != 0 ? 1 + varint_len((uint64_t)deadline_ms) : 0);
}

void ip_rpc_write_request(uint8_t *p, const char *method, const ProtobufCMessage *input,
                          size_t input_len, const char *request_id, int64_t deadline_ms)
{
    p = put_len_field(p, 0x0a, method, strlen(method)); /* 1: method */
    if (input_len > 0) {                                /* 2: input, packed in place */
        *p++ = 0x12;
        p = put_varint(p, input_len);
        p += protobuf_c_message_pack(input, p);
    }
    p = put_len_field(p, 0x1a, request_id, strlen(request_id)); /* 3: request_id */
    if (deadline_ms != 0) {                                     /* 4: deadline_ms */
        *p++ = 0x20;
        p = put_varint(p, (uint64_t)deadline_ms);
    }
}

uint8_t *ip_rpc_pack_request(const char *method, const ProtobufCMessage *input,
                             const char *request_id, int64_t deadline_ms, size_t *len)
{
    size_t il = input != NULL ? protobuf_c_message_get_packed_size(input) : 0;
    size_t n = ip_rpc_request_size(method, il, request_id, deadline_ms);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL)
        return NULL;
    ip_rpc_write_request(buf, method, input, il, request_id, deadline_ms);
    *len = n;
    return buf;
}

uint8_t *ip_rpc_pack_reply(int code, const char *message, const ProtobufCMessage *output,
                           const char *request_id, size_t *len)
{
    size_t ol = output != NULL ? protobuf_c_message_get_packed_size(output) : 0;
    size_t n = ip_rpc_reply_size(code, message, ol, request_id);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL)
        return NULL;
    ip_rpc_write_reply(buf, code, message, output, ol, request_id);
    *len = n;
    return buf;
}

size_t ip_rpc_reply_size(int code, const char *message, size_t output_len, const char *request_id)
{
    return (code != 0 ? 1 + varint_len((uint64_t)(int64_t)code) : 0) +
           len_field_size(strlen(message)) + len_field_size(output_len) +
           len_field_size(strlen(request_id));
}

void ip_rpc_write_reply(uint8_t *p, int code, const char *message, const ProtobufCMessage *output,
                        size_t output_len, const char *request_id)
{
    if (code != 0) { /* 1: code (an enum: negative values sign-extended, as protobuf-c does) */
        *p++ = 0x08;
        p = put_varint(p, (uint64_t)(int64_t)code);
    }
    p = put_len_field(p, 0x12, message, strlen(message)); /* 2: message */
    if (output_len > 0) {                                 /* 3: output, packed in place */
        *p++ = 0x1a;
        p = put_varint(p, output_len);
        p += protobuf_c_message_pack(output, p);
    }
    put_len_field(p, 0x22, request_id, strlen(request_id)); /* 4: request_id */
}

/* ================================================================ closing */

/* The absolute time ms milliseconds from now on clock clk, as the timed waits
 * (pthread_cond_timedwait, pthread_timedjoin_np, sem_clockwait) take it. */
static struct timespec time_after_ms(clockid_t clk, int64_t ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* nng 1.5.2 can deadlock in nng_close when a socket closes with traffic in
 * flight (nng issue #1543: its reaper waits for a task that was prepared but
 * never started). A service must still shut down, so sockets are closed by a
 * helper thread and waited for at most IP_RPC_CLOSE_WAIT_MS; if nng_close
 * does not return by then, the close is left to finish (or not) in that
 * detached thread, the socket is leaked and the event is logged.
 *
 * The wait is long enough for a close that is merely slow: under valgrind on a
 * loaded two-core machine a healthy nng_close (pipes torn down by nng's reaper
 * and task threads) was seen to take more than two seconds, and a wait of 2 s
 * then leaked a client that would have closed. A real #1543 hang never returns,
 * so a longer wait only delays the exit of a process that is stuck anyway. */
#define IP_RPC_CLOSE_WAIT_MS 10000
/* How long closing a server waits for the calls in flight. */
#define IP_RPC_JOIN_WAIT_MS 30000

typedef struct closer {
    nng_socket sock;
    sem_t done;
    atomic_int refs; /* the helper and the waiter; the last one frees */
} closer;

static void closer_release(closer *cl)
{
    if (atomic_fetch_sub(&cl->refs, 1) == 1) {
        sem_destroy(&cl->done);
        free(cl);
    }
}

static void *closer_main(void *arg)
{
    closer *cl = arg;
    nng_close(cl->sock);
    sem_post(&cl->done);
    closer_release(cl);
    return NULL;
}

/* Closes sock; false when nng_close did not return within the wait. */
static bool close_bounded(nng_socket sock)
{
    closer *cl = calloc(1, sizeof *cl);
    pthread_t t;
    if (cl == NULL) {
        nng_close(sock);
        return true;
    }
    cl->sock = sock;
    sem_init(&cl->done, 0, 0);
    atomic_store(&cl->refs, 2);
    if (pthread_create(&t, NULL, closer_main, cl) != 0) {
        sem_destroy(&cl->done);
        free(cl);
        nng_close(sock);
        return true;
    }
    pthread_detach(t);
    struct timespec ts = time_after_ms(CLOCK_MONOTONIC, IP_RPC_CLOSE_WAIT_MS);
    int rv;
    while ((rv = sem_clockwait(&cl->done, CLOCK_MONOTONIC, &ts)) != 0 && errno == EINTR)
        ;
    closer_release(cl);
    if (rv != 0)
        ip_log(IP_LOG_ERROR, "rpc.close_stuck",
               IP_LS("err", "nng_close did not return; the socket is left behind"));
    return rv == 0;
}

/* ================================================================ server */

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

struct ip_rpc_call {
    const char *method;
    const char *request_id;
    int64_t deadline_ms;
    arena_block *blocks;
    deferred *defers;
    char *errmsg;
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
}

/* Serves one request; `in` stays owned by the caller. Returns the reply message
 * (NULL only when out of memory: the request then goes unanswered and the
 * caller's deadline covers it). */
static nng_msg *serve(ip_rpc_server *srv, nng_msg *in)
{
    int64_t t0 = ip_mono_us();
    Imageproc__RpcReply reply = IMAGEPROC__RPC_REPLY__INIT;
    ip_rpc_call call = {0};
    const ProtobufCMethodDescriptor *md = NULL;
    ProtobufCMessage *input = NULL, *output = NULL;
    const ProtobufCMessage *out_msg = NULL;
    size_t out_len = 0;
    char msgbuf[256];
    nng_msg *out = NULL;

    Imageproc__RpcRequest *req =
        imageproc__rpc_request__unpack(NULL, nng_msg_len(in), nng_msg_body(in));
    if (req == NULL) {
        reply.code = IMAGEPROC__RPC_CODE__RPC_INVALID_ARGUMENT;
        reply.message = (char *)"malformed request envelope";
        goto done;
    }
    call.method = req->method;
    call.request_id = req->request_id;
    call.deadline_ms = req->deadline_ms;
    reply.request_id = req->request_id;

    if (strcmp(req->method, IP_RPC_PING) == 0)
        goto done;
    md = protobuf_c_service_descriptor_get_method_by_name(srv->svc, req->method);
    if (md == NULL) {
        reply.code = IMAGEPROC__RPC_CODE__RPC_INVALID_ARGUMENT;
        snprintf(msgbuf, sizeof msgbuf, "unknown method \"%.64s\" of %s", req->method,
                 srv->svc->name);
        reply.message = msgbuf;
        goto done;
    }
    if (req->deadline_ms > 0 && req->deadline_ms <= ip_now_ms()) {
        reply.code = IMAGEPROC__RPC_CODE__RPC_DEADLINE_EXCEEDED;
        reply.message = (char *)"deadline passed before the call started";
        goto done;
    }
    ip_rpc_handler h = srv->handlers[md - srv->svc->methods];
    if (h == NULL) {
        reply.code = IMAGEPROC__RPC_CODE__RPC_INTERNAL;
        reply.message = (char *)"not implemented";
        goto done;
    }
    input = protobuf_c_message_unpack(md->input, NULL, req->input.len, req->input.data);
    if (input == NULL) {
        reply.code = IMAGEPROC__RPC_CODE__RPC_INVALID_ARGUMENT;
        snprintf(msgbuf, sizeof msgbuf, "input does not unpack as %s", md->input->name);
        reply.message = msgbuf;
        goto done;
    }
    output = ip_rpc_call_alloc(&call, md->output->sizeof_message);
    if (output == NULL) {
        reply.code = IMAGEPROC__RPC_CODE__RPC_RESOURCE_EXHAUSTED;
        reply.message = (char *)"out of memory";
        goto done;
    }
    protobuf_c_message_init(md->output, output);
    ip_status st = h(srv->user, &call, input, output);
    if (st != IP_OK) {
        reply.code = (Imageproc__RpcCode)st;
        reply.message = call.errmsg != NULL ? call.errmsg : (char *)ip_strerror(st);
        goto done;
    }
    out_len = protobuf_c_message_get_packed_size(output);
    out_msg = output;

done:
    if (reply.code == IMAGEPROC__RPC_CODE__RPC_OK &&
        ip_rpc_reply_size(0, "", out_len, reply.request_id) > srv->max_msg) {
        reply.code = IMAGEPROC__RPC_CODE__RPC_RESOURCE_EXHAUSTED;
        reply.message = (char *)"reply larger than the message size limit";
    }
    if (reply.code != IMAGEPROC__RPC_CODE__RPC_OK) {
        out_msg = NULL;
        out_len = 0;
    }
    {
        size_t n = ip_rpc_reply_size((int)reply.code, reply.message, out_len, reply.request_id);
        if (nng_msg_alloc(&out, n) == 0)
            ip_rpc_write_reply(nng_msg_body(out), (int)reply.code, reply.message, out_msg, out_len,
                               reply.request_id);
        else
            out = NULL;
    }
    {
        ip_status code = status_from_code((int)reply.code);
        const char *mname = md != NULL                                             ? md->name
                            : req != NULL && strcmp(req->method, IP_RPC_PING) == 0 ? IP_RPC_PING
                            : req != NULL                                          ? "unknown"
                                                                                   : "malformed";
        char labels[256];
        double secs = (double)(ip_mono_us() - t0) / 1e6;
        snprintf(labels, sizeof labels, "%s,%s", srv->svc->name, mname);
        ip_metric_observe(m_server_seconds, labels, secs);
        snprintf(labels, sizeof labels, "%s,%s,%s", srv->svc->name, mname, ip_strerror(code));
        ip_metric_add(m_server_calls, labels, 1);
        ip_log_level lv = code == IP_OK                                          ? IP_LOG_DEBUG
                          : code == IP_INTERNAL || code == IP_RESOURCE_EXHAUSTED ? IP_LOG_ERROR
                                                                                 : IP_LOG_INFO;
        /* Names from the wire are bounded before they reach a log line. */
        char rid[72];
        snprintf(rid, sizeof rid, "%.64s", req != NULL ? req->request_id : "");
        ip_log(lv, code == IP_OK ? "rpc.served" : "rpc.failed",
               IP_LS("rpc_service", srv->svc->name), IP_LS("method", mname),
               IP_LS("request_id", rid), IP_LS("code", ip_strerror(code)),
               IP_LS("err", code == IP_OK ? NULL : reply.message),
               IP_LF("ms", (double)(ip_mono_us() - t0) / 1000.0));
    }
    if (input != NULL)
        protobuf_c_message_free_unpacked(input, NULL);
    call_release(&call);
    if (req != NULL)
        imageproc__rpc_request__free_unpacked(req, NULL);
    return out;
}

uint8_t *ip_rpc_serve_buffer(const ProtobufCServiceDescriptor *svc, const ip_rpc_handler *handlers,
                             void *user, size_t max_msg, const void *data, size_t len,
                             size_t *reply_len)
{
    pthread_once(&metrics_once, metrics_register);
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
    pthread_once(&metrics_once, metrics_register);
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
    struct timespec until = time_after_ms(CLOCK_REALTIME, IP_RPC_JOIN_WAIT_MS);
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
        close_bounded(srv->sock); /* the workers' aios are idle either way */
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

/* ================================================================ client */

/* A context and its aio, with the semaphore the aio's callback posts when an
 * operation completes. Kept in a shard's pool between calls. */
typedef struct slot {
    nng_ctx ctx;
    nng_aio *aio;
    sem_t done;
} slot;

typedef struct inflight {
    struct inflight *prev, *next;
    struct shard *shard;
    slot *slot;
    nng_aio *aio;     /* slot->aio */
    bool abandoned;   /* nng never completed an operation: the slot is leaked */
    atomic_bool lost; /* the last connection went while this call was in flight */
} inflight;

/* The calls in flight, spread over a few lists so that 64 callers do not all
 * queue on one mutex, each with a small pool of idle contexts. Padded to a
 * cache line each. */
#define IP_RPC_SHARDS 16
#define IP_RPC_POOL_PER_SHARD 8
typedef struct shard {
    pthread_mutex_t mu;
    inflight head;
    slot *pool[IP_RPC_POOL_PER_SHARD];
    int npool;
} __attribute__((aligned(64))) shard;

struct ip_rpc_client {
    const ProtobufCServiceDescriptor *svc;
    nng_socket sock;
    int timeout_ms;
    size_t max_msg;
    char *urls;

    pthread_mutex_t mu; /* guards pipes; with cv, the waits for a connection */
    pthread_cond_t cv;  /* a connection came up, or a call left while closing */
    uint32_t *pipes;    /* ids of the connected pipes */
    size_t cappipes;
    atomic_size_t npipes; /* written under mu, read anywhere */
    atomic_int ncalls;
    atomic_bool closing;
    atomic_uint next_shard;
    shard shards[IP_RPC_SHARDS];
};

static void slot_free(slot *sl);

static void pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    ip_rpc_client *c = arg;
    uint32_t id = (uint32_t)nng_pipe_id(p);
    pthread_mutex_lock(&c->mu);
    size_t n = atomic_load(&c->npipes);
    if (ev == NNG_PIPE_EV_ADD_POST) {
        if (n == c->cappipes) {
            size_t ncap = c->cappipes ? c->cappipes * 2 : 8;
            uint32_t *np = realloc(c->pipes, ncap * sizeof *np);
            if (np == NULL) {
                /* Unknown to us, the pipe still works: worst case a call
                 * reports UNAVAILABLE while it could have gone through. */
                pthread_mutex_unlock(&c->mu);
                return;
            }
            c->pipes = np;
            c->cappipes = ncap;
        }
        c->pipes[n] = id;
        atomic_store(&c->npipes, n + 1);
        pthread_cond_broadcast(&c->cv);
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        for (size_t i = 0; i < n; i++) {
            if (c->pipes[i] != id)
                continue;
            c->pipes[i] = c->pipes[n - 1];
            atomic_store(&c->npipes, n - 1);
            if (n - 1 > 0)
                break;
            /* The last connection is gone: fail every call in flight now
             * rather than at its deadline (see "No server" above). npipes is
             * 0 before any list is swept, so a call that registers after its
             * list was swept sees 0 when it checks again (call_enter). */
            for (int k = 0; k < IP_RPC_SHARDS; k++) {
                shard *sh = &c->shards[k];
                pthread_mutex_lock(&sh->mu);
                for (inflight *f = sh->head.next; f != &sh->head; f = f->next) {
                    atomic_store(&f->lost, true);
                    nng_aio_cancel(f->aio);
                }
                pthread_mutex_unlock(&sh->mu);
            }
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

ip_status ip_rpc_client_new(const ProtobufCServiceDescriptor *svc, const ip_rpc_client_opts *opts,
                            ip_rpc_client **out)
{
    *out = NULL;
    if (svc == NULL || opts == NULL || opts->urls == NULL)
        return IP_INVALID_ARGUMENT;
    ip_status st = IP_INTERNAL;
    int rv;
    bool sock_open = false;
    pthread_once(&metrics_once, metrics_register);
    /* The shards are cache-line aligned, so the client is too. */
    ip_rpc_client *c = aligned_alloc(_Alignof(ip_rpc_client), sizeof *c);
    if (c == NULL)
        return IP_RESOURCE_EXHAUSTED;
    memset(c, 0, sizeof *c);
    c->svc = svc;
    c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : IP_RPC_DEFAULT_TIMEOUT_MS;
    c->max_msg = opts->max_msg_bytes ? opts->max_msg_bytes : IP_RPC_DEFAULT_MAX_MSG;
    for (int k = 0; k < IP_RPC_SHARDS; k++) {
        pthread_mutex_init(&c->shards[k].mu, NULL);
        c->shards[k].head.next = c->shards[k].head.prev = &c->shards[k].head;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if ((c->urls = strdup(opts->urls)) == NULL) {
        st = IP_RESOURCE_EXHAUSTED;
        goto fail;
    }

    if ((rv = nng_req0_open(&c->sock)) != 0)
        goto nng_fail;
    sock_open = true;
    if ((rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, c->max_msg)) != 0 ||
        /* No resends: see "Resends" at the top of this file. */
        (rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
        (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 50)) != 0 ||
        (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 1000)) != 0 ||
        (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, pipe_event, c)) != 0 ||
        (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_event, c)) != 0)
        goto nng_fail;

    int ndial = 0;
    char *save = NULL;
    char *list = strdup(opts->urls);
    if (list == NULL) {
        st = IP_RESOURCE_EXHAUSTED;
        goto fail;
    }
    for (char *u = strtok_r(list, ",", &save); u != NULL; u = strtok_r(NULL, ",", &save)) {
        while (*u == ' ' || *u == '\t')
            u++;
        size_t n = strlen(u);
        while (n > 0 && (u[n - 1] == ' ' || u[n - 1] == '\t'))
            u[--n] = '\0';
        if (n == 0)
            continue;
        if ((rv = nng_dial(c->sock, u, NULL, NNG_FLAG_NONBLOCK)) != 0) {
            ip_log(IP_LOG_ERROR, "rpc.dial_failed", IP_LS("url", u),
                   IP_LS("err", nng_strerror(rv)));
            free(list);
            st = IP_INVALID_ARGUMENT;
            goto fail;
        }
        ndial++;
    }
    free(list);
    if (ndial == 0) {
        st = IP_INVALID_ARGUMENT;
        goto fail;
    }
    *out = c;
    return IP_OK;

nng_fail:
    ip_log(IP_LOG_ERROR, "rpc.client_failed", IP_LS("err", nng_strerror(rv)));
    st = IP_INTERNAL;
fail:
    if (sock_open)
        nng_close(c->sock);
    free(c->urls);
    free(c->pipes);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    for (int k = 0; k < IP_RPC_SHARDS; k++)
        pthread_mutex_destroy(&c->shards[k].mu);
    free(c);
    return st;
}

void ip_rpc_client_free(ip_rpc_client *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->closing, true);
    pthread_cond_broadcast(&c->cv); /* calls waiting for a connection give up */
    while (atomic_load(&c->ncalls) > 0) {
        struct timespec ts = time_after_ms(CLOCK_REALTIME, 10);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
    /* No call is left: the pooled contexts are idle. */
    for (int k = 0; k < IP_RPC_SHARDS; k++) {
        for (int i = 0; i < c->shards[k].npool; i++)
            slot_free(c->shards[k].pool[i]);
        c->shards[k].npool = 0;
    }
    /* nng_close runs the last REM_POST callbacks (they take c->mu) and returns
     * only when every pipe is gone, so nothing touches c afterwards. If it is
     * stuck (see close_bounded), callbacks may still come: c is left behind. */
    if (!close_bounded(c->sock))
        return;
    free(c->urls);
    free(c->pipes);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    for (int k = 0; k < IP_RPC_SHARDS; k++)
        pthread_mutex_destroy(&c->shards[k].mu);
    free(c);
}

__attribute__((format(printf, 3, 4))) static void set_err(char *errbuf, size_t errlen,
                                                          const char *fmt, ...)
{
    if (errbuf == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* Waits (bounded by IP_RPC_CONNECT_WAIT_MS and the deadline) for a connection.
 * True when one is up. */
static bool wait_for_pipe(ip_rpc_client *c, int64_t deadline_mono)
{
    int64_t until = ip_mono_ms() + IP_RPC_CONNECT_WAIT_MS;
    if (until > deadline_mono)
        until = deadline_mono;
    pthread_mutex_lock(&c->mu);
    while (atomic_load(&c->npipes) == 0 && !atomic_load(&c->closing)) {
        int64_t left = until - ip_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts = time_after_ms(CLOCK_REALTIME, left);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    bool up = atomic_load(&c->npipes) > 0 && !atomic_load(&c->closing);
    pthread_mutex_unlock(&c->mu);
    return up;
}

static void slot_done(void *arg)
{
    sem_post(&((slot *)arg)->done);
}

/* A new slot: an aio whose completion posts the semaphore, and a context. */
static int slot_new(ip_rpc_client *c, slot **out)
{
    slot *sl = calloc(1, sizeof *sl);
    if (sl == NULL)
        return NNG_ENOMEM;
    sem_init(&sl->done, 0, 0);
    int rv = nng_aio_alloc(&sl->aio, slot_done, sl);
    if (rv == 0 && (rv = nng_ctx_open(&sl->ctx, c->sock)) != 0)
        nng_aio_free(sl->aio);
    if (rv != 0) {
        sem_destroy(&sl->done);
        free(sl);
        return rv;
    }
    *out = sl;
    return 0;
}

static void slot_free(slot *sl)
{
    nng_ctx_close(sl->ctx);
    nng_aio_free(sl->aio); /* waits for a callback still running */
    sem_destroy(&sl->done);
    free(sl);
}

/* Waits for the operation started on f's aio. Normally nng completes it by
 * its timeout (the call's deadline). As a guard against an operation that nng
 * loses (see call_start), the wait is bounded: IP_RPC_STUCK_MS past the
 * deadline the operation is cancelled, and if it still does not complete
 * within IP_RPC_STUCK_MS more, the call gives up and abandons the slot (nng
 * may still refer to it, so it is leaked, never freed). Returns false then. */
static bool call_wait(inflight *f, int64_t deadline_mono)
{
    for (int round = 0; round < 2; round++) {
        int64_t until = deadline_mono + IP_RPC_STUCK_MS * (round + 1);
        for (;;) {
            struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000L};
            if (sem_clockwait(&f->slot->done, CLOCK_MONOTONIC, &ts) == 0)
                return true;
            if (errno != EINTR)
                break;
        }
        if (round == 0) {
            pthread_mutex_lock(&f->shard->mu);
            nng_aio_cancel(f->aio);
            pthread_mutex_unlock(&f->shard->mu);
        }
    }
    f->abandoned = true;
    ip_log(IP_LOG_ERROR, "rpc.call_abandoned",
           IP_LS("err", "nng did not complete an operation past the deadline"));
    return false;
}

/* Takes f off its list. With `recycle`, its slot (idle: the call completed
 * with a reply) goes back to the shard's pool when there is room; otherwise
 * its context is closed and its aio freed here, after the unlink, so the pipe
 * callback never sees a freed aio. An abandoned slot is left alone (leaked):
 * nng may still hold it. */
static void call_leave(ip_rpc_client *c, inflight *f, bool recycle)
{
    shard *sh = f->shard;
    pthread_mutex_lock(&sh->mu);
    f->prev->next = f->next;
    f->next->prev = f->prev;
    if (recycle && !f->abandoned && sh->npool < IP_RPC_POOL_PER_SHARD) {
        sh->pool[sh->npool++] = f->slot;
        f->slot = NULL;
    }
    pthread_mutex_unlock(&sh->mu);
    if (f->slot != NULL && !f->abandoned)
        slot_free(f->slot); /* nothing pending: every operation was waited for */
    f->slot = NULL;
    f->aio = NULL;
    if (atomic_fetch_sub(&c->ncalls, 1) == 1 && atomic_load(&c->closing)) {
        pthread_mutex_lock(&c->mu);
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
}

/* Registers call `f` on a list the pipe callback sweeps, with a context and an
 * aio (from the shard's pool, or new), once a connection is up. Returns IP_OK
 * with f registered, UNAVAILABLE (no connection) or another status with a
 * message in errbuf; f is not registered then. */
static ip_status call_enter(ip_rpc_client *c, inflight *f, int64_t deadline_mono, char *errbuf,
                            size_t errlen)
{
    if (atomic_load(&c->closing) ||
        (atomic_load(&c->npipes) == 0 && !wait_for_pipe(c, deadline_mono))) {
        set_err(errbuf, errlen, "no server connected at %s", c->urls);
        return IP_UNAVAILABLE;
    }
    atomic_store(&f->lost, false);
    f->slot = NULL;
    f->aio = NULL;
    f->abandoned = false;
    shard *sh = f->shard = &c->shards[atomic_fetch_add(&c->next_shard, 1) % IP_RPC_SHARDS];
    atomic_fetch_add(&c->ncalls, 1);
    pthread_mutex_lock(&sh->mu);
    if (sh->npool > 0)
        f->slot = sh->pool[--sh->npool];
    if (f->slot == NULL) {
        /* None idle: make one outside the lock, then register. */
        pthread_mutex_unlock(&sh->mu);
        int rv = slot_new(c, &f->slot);
        if (rv != 0) {
            atomic_fetch_sub(&c->ncalls, 1);
            set_err(errbuf, errlen, "context: %s", nng_strerror(rv));
            return rv == NNG_ECLOSED ? IP_UNAVAILABLE : IP_RESOURCE_EXHAUSTED;
        }
        pthread_mutex_lock(&sh->mu);
    }
    f->aio = f->slot->aio;
    f->next = sh->head.next;
    f->prev = &sh->head;
    sh->head.next->prev = f;
    sh->head.next = f;
    pthread_mutex_unlock(&sh->mu);
    /* The last connection may have gone between the check and the
     * registration, with the sweep missing us: look again. */
    if (atomic_load(&c->npipes) == 0) {
        call_leave(c, f, true);
        set_err(errbuf, errlen, "no server connected at %s", c->urls);
        return IP_UNAVAILABLE;
    }
    return IP_OK;
}

/* Starts a send (send=true) or receive on ctx unless the call is already lost.
 * Returns false when lost (nothing started). The start happens under the
 * shard lock, which the pipe callback also holds while it sets `lost` and
 * cancels: starting an operation on an aio while another thread cancels it
 * can lose the operation in nng 1.5.2 (its aio then never completes, and
 * nng_close of any socket hangs), so the two never overlap. */
static bool call_start(inflight *f, nng_ctx ctx, bool send)
{
    pthread_mutex_lock(&f->shard->mu);
    bool lost = atomic_load(&f->lost);
    if (!lost) {
        if (send)
            nng_ctx_send(ctx, f->aio);
        else
            nng_ctx_recv(ctx, f->aio);
    }
    pthread_mutex_unlock(&f->shard->mu);
    return !lost;
}

/* Maps a failed nng step to a status and message. */
static ip_status call_error(const inflight *f, int rv, const char *step, char *errbuf,
                            size_t errlen)
{
    if (atomic_load(&f->lost)) {
        set_err(errbuf, errlen, "connection to the server lost");
        return IP_UNAVAILABLE;
    }
    if (rv == NNG_ETIMEDOUT) {
        set_err(errbuf, errlen, "deadline exceeded (%s)", step);
        return IP_DEADLINE_EXCEEDED;
    }
    set_err(errbuf, errlen, "%s failed: %s", step, nng_strerror(rv));
    return IP_UNAVAILABLE;
}

/* One round trip: sends `method` with `input` (input_len bytes packed; NULL and
 * 0 for none) and unpacks the output by `out_desc` (NULL: output ignored). */
static ip_status call_raw(ip_rpc_client *c, const char *method, const ProtobufCMessage *input,
                          size_t input_len, const ProtobufCMessageDescriptor *out_desc,
                          ProtobufCMessage **output, int timeout_ms, const char *request_id,
                          char *errbuf, size_t errlen)
{
    ip_status st = IP_OK;
    int rv;
    nng_msg *msg = NULL;
    bool entered = false, replied = false;
    inflight f = {.aio = NULL};
    Imageproc__RpcReply *reply = NULL;
    char rid[IP_UUID_STRLEN + 1];

    if (output != NULL)
        *output = NULL;
    if (errbuf != NULL && errlen > 0)
        errbuf[0] = '\0';
    if (timeout_ms <= 0)
        timeout_ms = c->timeout_ms;
    int64_t deadline_mono = ip_mono_ms() + timeout_ms;
    if (request_id == NULL) {
        ip_uuid_v4_str(rid);
        request_id = rid;
    }

    int64_t deadline_ms = ip_now_ms() + timeout_ms;
    size_t n = ip_rpc_request_size(method, input_len, request_id, deadline_ms);
    if (n > c->max_msg) {
        set_err(errbuf, errlen, "request of %zu bytes is over the %zu-byte limit", n, c->max_msg);
        return IP_RESOURCE_EXHAUSTED;
    }
    if (nng_msg_alloc(&msg, n) != 0) {
        set_err(errbuf, errlen, "out of memory");
        return IP_RESOURCE_EXHAUSTED;
    }
    ip_rpc_write_request(nng_msg_body(msg), method, input, input_len, request_id, deadline_ms);

    if ((st = call_enter(c, &f, deadline_mono, errbuf, errlen)) != IP_OK)
        goto out;
    entered = true;

    int64_t left = deadline_mono - ip_mono_ms();
    if (left <= 0) {
        set_err(errbuf, errlen, "deadline exceeded (before send)");
        st = IP_DEADLINE_EXCEEDED;
        goto out;
    }
    nng_aio_set_timeout(f.aio, (nng_duration)left);
    nng_aio_set_msg(f.aio, msg);
    if (!call_start(&f, f.slot->ctx, true)) {
        nng_aio_set_msg(f.aio, NULL);
        st = call_error(&f, NNG_ECANCELED, "send", errbuf, errlen);
        goto out;
    }
    if (!call_wait(&f, deadline_mono)) {
        msg = NULL; /* nng may still hold it: leaked with the slot */
        set_err(errbuf, errlen, "deadline exceeded (send never completed)");
        st = IP_DEADLINE_EXCEEDED;
        goto out;
    }
    if ((rv = nng_aio_result(f.aio)) != 0) {
        /* On failure the message is still ours. */
        nng_aio_set_msg(f.aio, NULL);
        st = call_error(&f, rv, "send", errbuf, errlen);
        goto out;
    }
    msg = NULL; /* sent: nng owns it */

    left = deadline_mono - ip_mono_ms();
    if (left <= 0)
        left = 1; /* still collect a reply that is already here */
    nng_aio_set_timeout(f.aio, (nng_duration)left);
    if (!call_start(&f, f.slot->ctx, false)) {
        st = call_error(&f, NNG_ECANCELED, "receive", errbuf, errlen);
        goto out;
    }
    if (!call_wait(&f, deadline_mono)) {
        set_err(errbuf, errlen, "deadline exceeded (receive never completed)");
        st = IP_DEADLINE_EXCEEDED;
        goto out;
    }
    if ((rv = nng_aio_result(f.aio)) != 0) {
        st = call_error(&f, rv, "receive", errbuf, errlen);
        goto out;
    }
    msg = nng_aio_get_msg(f.aio);
    nng_aio_set_msg(f.aio, NULL);
    replied = true; /* the context is idle again and may serve another call */

    reply = imageproc__rpc_reply__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    if (reply == NULL) {
        set_err(errbuf, errlen, "malformed reply envelope");
        st = IP_INTERNAL;
        goto out;
    }
    if (reply->code != IMAGEPROC__RPC_CODE__RPC_OK) {
        st = status_from_code((int)reply->code);
        if (st == IP_OK)
            st = IP_INTERNAL;
        set_err(errbuf, errlen, "%s", reply->message[0] ? reply->message : ip_strerror(st));
        goto out;
    }
    if (out_desc != NULL && output != NULL) {
        *output = protobuf_c_message_unpack(out_desc, NULL, reply->output.len, reply->output.data);
        if (*output == NULL) {
            set_err(errbuf, errlen, "reply output does not unpack as %s", out_desc->name);
            st = IP_INTERNAL;
            goto out;
        }
    }

out : {
    char labels[256];
    snprintf(labels, sizeof labels, "%s,%s,%s", c->svc->name, method, ip_strerror(st));
    ip_metric_add(m_client_calls, labels, 1);
}
    if (reply != NULL)
        imageproc__rpc_reply__free_unpacked(reply, NULL);
    if (msg != NULL)
        nng_msg_free(msg);
    if (entered)
        call_leave(c, &f, replied);
    return st;
}

ip_status ip_rpc_invoke(ip_rpc_client *c, const char *method, const ProtobufCMessage *input,
                        ProtobufCMessage **output, const ip_rpc_call_opts *opts, char *errbuf,
                        size_t errlen)
{
    if (output != NULL)
        *output = NULL;
    if (c == NULL || method == NULL || output == NULL) {
        set_err(errbuf, errlen, "bad arguments");
        return IP_INVALID_ARGUMENT;
    }
    const ProtobufCMethodDescriptor *md =
        protobuf_c_service_descriptor_get_method_by_name(c->svc, method);
    if (md == NULL) {
        set_err(errbuf, errlen, "unknown method %s.%s", c->svc->name, method);
        return IP_INVALID_ARGUMENT;
    }
    if (input != NULL && input->descriptor != md->input) {
        set_err(errbuf, errlen, "%s takes %s, not %s", method, md->input->name,
                input->descriptor->name);
        return IP_INVALID_ARGUMENT;
    }
    size_t n = input != NULL ? protobuf_c_message_get_packed_size(input) : 0;
    if (n > c->max_msg) {
        set_err(errbuf, errlen, "input of %zu bytes is over the %zu-byte limit", n, c->max_msg);
        return IP_RESOURCE_EXHAUSTED;
    }
    return call_raw(c, method, input, n, md->output, output, opts != NULL ? opts->timeout_ms : 0,
                    opts != NULL ? opts->request_id : NULL, errbuf, errlen);
}

ip_status ip_rpc_ping(ip_rpc_client *c, int timeout_ms)
{
    if (c == NULL)
        return IP_INVALID_ARGUMENT;
    return call_raw(c, IP_RPC_PING, NULL, 0, NULL, NULL, timeout_ms, NULL, NULL, 0);
}
