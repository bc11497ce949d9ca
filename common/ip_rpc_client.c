/* ip_rpc_client.c — calling a protobuf-c service over nng REQ (see ip_rpc.h).
 *
 * One REQ socket for the client's life, dialled to every address of the
 * comma list with NNG_FLAG_NONBLOCK (a server that is down at start is fine:
 * nng keeps redialling, between RECONNMINT and RECONNMAXT). A call has a
 * context and an aio of its own for its whole life; it sends with the time
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
 *
 * Replies. The envelope is read as a view of the received message
 * (ip_pbview.h: a large `output` stays in it), so a plain call copies a large
 * output once (protobuf-c's unpack of it); ip_rpc_invoke_view copies none of
 * its large bytes fields and hands the message to the caller in an
 * ip_rpc_view with the output.
 */
#include "ip_rpc.h"
#include "ip_rpc_internal.h"

#include <nng/nng.h>
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
#include "ip_pbview.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "rpc.pb-c.h"
#include "ip_text.h"

#define IP_RPC_DEFAULT_TIMEOUT_MS 5000
/* How long a call waits for a connection when none is up (see the header essay). */
#define IP_RPC_CONNECT_WAIT_MS 300
/* How long past its deadline a call waits for nng before cancelling, and then
 * before abandoning the operation (see call_wait). */
#define IP_RPC_STUCK_MS 1000

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

/* Frees the memory of a client whose socket is closed (or never opened). */
static void client_destroy(ip_rpc_client *c)
{
    free(c->urls);
    free(c->pipes);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    for (int k = 0; k < IP_RPC_SHARDS; k++)
        pthread_mutex_destroy(&c->shards[k].mu);
    free(c);
}

/* Sets the socket options (see the file header) and the pipe callbacks. */
static int client_configure(ip_rpc_client *c)
{
    int rv;
    if ((rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, c->max_msg)) != 0 ||
        /* No resends: see "Resends" at the top of this file. */
        (rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
        (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 50)) != 0 ||
        (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 1000)) != 0 ||
        (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, pipe_event, c)) != 0 ||
        (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_event, c)) != 0)
        return rv;
    return 0;
}

ip_status ip_rpc_client_new(const ProtobufCServiceDescriptor *svc, const ip_rpc_client_opts *opts,
                            ip_rpc_client **out)
{
    *out = NULL;
    if (svc == NULL || opts == NULL || opts->urls == NULL)
        return IP_INVALID_ARGUMENT;
    ip_status st;
    int rv;
    ip_rpc_metrics_get();
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
        client_destroy(c);
        return IP_RESOURCE_EXHAUSTED;
    }
    if ((rv = nng_req0_open(&c->sock)) != 0) {
        ip_log(IP_LOG_ERROR, "rpc.client_failed", IP_LS("err", nng_strerror(rv)));
        client_destroy(c);
        return IP_INTERNAL;
    }
    if ((rv = client_configure(c)) != 0) {
        ip_log(IP_LOG_ERROR, "rpc.client_failed", IP_LS("err", nng_strerror(rv)));
        st = IP_INTERNAL;
    } else {
        st = ip_rpc_dial_list(c->sock, opts->urls);
    }
    if (st != IP_OK) {
        nng_close(c->sock);
        client_destroy(c);
        return st;
    }
    *out = c;
    return IP_OK;
}

/* The nng half of freeing a client: the pooled contexts, then the socket.
 * nng_close runs the last REM_POST callbacks (they take c->mu) and returns
 * only when every pipe is gone, so nothing touches c afterwards. */
static void client_teardown(void *arg)
{
    ip_rpc_client *c = arg;
    for (int k = 0; k < IP_RPC_SHARDS; k++) {
        for (int i = 0; i < c->shards[k].npool; i++)
            slot_free(c->shards[k].pool[i]);
        c->shards[k].npool = 0;
    }
    nng_close(c->sock);
}

void ip_rpc_client_free(ip_rpc_client *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->closing, true);
    pthread_cond_broadcast(&c->cv); /* calls waiting for a connection give up */
    while (atomic_load(&c->ncalls) > 0) {
        struct timespec ts = ip_rpc_time_after_ms(CLOCK_REALTIME, 10);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
    /* No call is left: the pooled contexts are idle. If the teardown is stuck
     * in nng (see ip_rpc_run_bounded), nng's callbacks may still come and the
     * helper still holds c: c is left behind. */
    if (!ip_rpc_run_bounded(client_teardown, c, c->svc->name))
        return;
    client_destroy(c);
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
        struct timespec ts = ip_rpc_time_after_ms(CLOCK_REALTIME, left);
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
        ip_errorf(errbuf, errlen, "no server connected at %s", c->urls);
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
            ip_errorf(errbuf, errlen, "context: %s", nng_strerror(rv));
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
        ip_errorf(errbuf, errlen, "no server connected at %s", c->urls);
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
        ip_errorf(errbuf, errlen, "connection to the server lost");
        return IP_UNAVAILABLE;
    }
    if (rv == NNG_ETIMEDOUT) {
        ip_errorf(errbuf, errlen, "deadline exceeded (%s)", step);
        return IP_DEADLINE_EXCEEDED;
    }
    ip_errorf(errbuf, errlen, "%s failed: %s", step, nng_strerror(rv));
    return IP_UNAVAILABLE;
}

/* Sends `*msg` on f's context with the time left before the deadline. *msg
 * becomes NULL once the message is no longer ours: sent (nng owns it), or
 * left with an abandoned slot; on other failures it stays ours. */
static ip_status call_send(inflight *f, nng_msg **msg, int64_t deadline_mono, char *errbuf,
                           size_t errlen)
{
    int rv;
    int64_t left = deadline_mono - ip_mono_ms();
    if (left <= 0) {
        ip_errorf(errbuf, errlen, "deadline exceeded (before send)");
        return IP_DEADLINE_EXCEEDED;
    }
    nng_aio_set_timeout(f->aio, (nng_duration)left);
    nng_aio_set_msg(f->aio, *msg);
    if (!call_start(f, f->slot->ctx, true)) {
        nng_aio_set_msg(f->aio, NULL);
        return call_error(f, NNG_ECANCELED, "send", errbuf, errlen);
    }
    if (!call_wait(f, deadline_mono)) {
        *msg = NULL; /* nng may still hold it: leaked with the slot */
        ip_errorf(errbuf, errlen, "deadline exceeded (send never completed)");
        return IP_DEADLINE_EXCEEDED;
    }
    if ((rv = nng_aio_result(f->aio)) != 0) {
        /* On failure the message is still ours. */
        nng_aio_set_msg(f->aio, NULL);
        return call_error(f, rv, "send", errbuf, errlen);
    }
    *msg = NULL; /* sent: nng owns it */
    return IP_OK;
}

/* Receives the reply to the request just sent on f's context. On IP_OK
 * *reply is the message (owned by the caller) and the context is idle again. */
static ip_status call_receive(inflight *f, int64_t deadline_mono, nng_msg **reply, char *errbuf,
                              size_t errlen)
{
    int rv;
    int64_t left = deadline_mono - ip_mono_ms();
    if (left <= 0)
        left = 1; /* still collect a reply that is already here */
    nng_aio_set_timeout(f->aio, (nng_duration)left);
    if (!call_start(f, f->slot->ctx, false))
        return call_error(f, NNG_ECANCELED, "receive", errbuf, errlen);
    if (!call_wait(f, deadline_mono)) {
        ip_errorf(errbuf, errlen, "deadline exceeded (receive never completed)");
        return IP_DEADLINE_EXCEEDED;
    }
    if ((rv = nng_aio_result(f->aio)) != 0)
        return call_error(f, rv, "receive", errbuf, errlen);
    *reply = nng_aio_get_msg(f->aio);
    nng_aio_set_msg(f->aio, NULL);
    return IP_OK;
}

struct ip_rpc_view {
    nng_msg *msg;          /* the reply, which the output's slices point into */
    ProtobufCMessage *out; /* a view of msg */
};

/* Reads a reply envelope (borrowed): the server's status and message, and on
 * OK the output unpacked by `out_desc` into *output (owned by the caller;
 * neither is used when out_desc is NULL). With `view`, the output's large
 * bytes fields are slices of msg (free it with ip_pbview_free over msg's
 * body); otherwise it is a plain protobuf-c message. The envelope itself is
 * always read as a view, so the output is copied at most once. A reply that
 * does not unpack is IP_INTERNAL. */
static ip_status reply_read(nng_msg *msg, const ProtobufCMessageDescriptor *out_desc,
                            ProtobufCMessage **output, bool view, char *errbuf, size_t errlen)
{
    ip_status st = IP_OK;
    const uint8_t *wire = nng_msg_body(msg);
    size_t wire_len = nng_msg_len(msg);
    Imageproc__RpcReply *reply = (Imageproc__RpcReply *)ip_pbview_unpack(
        &imageproc__rpc_reply__descriptor, wire_len, wire, IP_RPC_SLICE_MIN);
    if (reply == NULL) {
        ip_errorf(errbuf, errlen, "malformed reply envelope");
        return IP_INTERNAL;
    }
    if (reply->code != IMAGEPROC__RPC_CODE__RPC_OK) {
        st = ip_rpc_status_from_code((int)reply->code);
        if (st == IP_OK)
            st = IP_INTERNAL;
        ip_errorf(errbuf, errlen, "%s", reply->message[0] ? reply->message : ip_strerror(st));
    } else if (out_desc != NULL && output != NULL) {
        /* A view's slices must point into msg: an output small enough to
         * have been copied out of the envelope is unpacked plainly. */
        view = view && reply->output.len > 0 && reply->output.data >= wire &&
               reply->output.data < wire + wire_len;
        *output =
            view ? ip_pbview_unpack(out_desc, reply->output.len, reply->output.data,
                                    IP_RPC_SLICE_MIN)
                 : protobuf_c_message_unpack(out_desc, NULL, reply->output.len, reply->output.data);
        if (*output == NULL) {
            ip_errorf(errbuf, errlen, "reply output does not unpack as %s", out_desc->name);
            st = IP_INTERNAL;
        }
    }
    ip_pbview_free(&reply->base, wire, wire_len);
    return st;
}

/* The request's nng message, allocated in a function of its own so that one
 * LeakSanitizer suppression (scripts/lib/lsan.supp) can name it. nng 1.5.2's
 * REQ protocol can lose a request it owns: when a connection closes while
 * REQ hands the next queued request to it, the clone given to the closing
 * pipe's stopped aio is never completed (nni_aio_begin on a stopped aio
 * returns without running the callback that frees it; later nng releases run
 * it). The caller sees its call fail as usual; the message is lost inside
 * nng, once per such close. Every path where the message is still ours frees
 * it (call_raw). */
__attribute__((noinline)) static int rpc_request_msg_alloc(nng_msg **msg, size_t n)
{
    return nng_msg_alloc(msg, n);
}

/* One round trip: sends `method` with `input` (input_len bytes packed; NULL and
 * 0 for none) and unpacks the output by `out_desc` (NULL: output ignored).
 * With `hold`, the output is a view of the reply, which *hold keeps. */
static ip_status call_raw(ip_rpc_client *c, const char *method, const ProtobufCMessage *input,
                          size_t input_len, const ProtobufCMessageDescriptor *out_desc,
                          ProtobufCMessage **output, ip_rpc_view **hold, int timeout_ms,
                          const char *request_id, char *errbuf, size_t errlen)
{
    nng_msg *msg = NULL;
    inflight f = {.aio = NULL};
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
        ip_errorf(errbuf, errlen, "request of %zu bytes is over the %zu-byte limit", n, c->max_msg);
        return IP_RESOURCE_EXHAUSTED;
    }
    if (rpc_request_msg_alloc(&msg, n) != 0) {
        ip_errorf(errbuf, errlen, "out of memory");
        return IP_RESOURCE_EXHAUSTED;
    }
    ip_rpc_write_request(nng_msg_body(msg), method, input, input_len, request_id, deadline_ms);

    bool entered = false, replied = false;
    ip_status st = call_enter(c, &f, deadline_mono, errbuf, errlen);
    if (st == IP_OK) {
        entered = true;
        if ((st = call_send(&f, &msg, deadline_mono, errbuf, errlen)) == IP_OK &&
            (st = call_receive(&f, deadline_mono, &msg, errbuf, errlen)) == IP_OK) {
            replied = true; /* the context is idle again and may serve another call */
            st = reply_read(msg, out_desc, output, hold != NULL, errbuf, errlen);
            if (st == IP_OK && hold != NULL && (*hold = malloc(sizeof **hold)) == NULL) {
                ip_pbview_free(*output, nng_msg_body(msg), nng_msg_len(msg));
                *output = NULL;
                ip_errorf(errbuf, errlen, "out of memory");
                st = IP_RESOURCE_EXHAUSTED;
            } else if (st == IP_OK && hold != NULL) {
                (*hold)->msg = msg; /* kept for the output's slices */
                (*hold)->out = *output;
                msg = NULL;
            }
        }
    }

    char labels[256];
    snprintf(labels, sizeof labels, "%s,%s,%s", c->svc->name, method, ip_strerror(st));
    ip_metric_add(ip_rpc_metrics_get()->client_calls, labels, 1);
    if (msg != NULL)
        nng_msg_free(msg);
    if (entered)
        call_leave(c, &f, replied);
    return st;
}

/* ip_rpc_invoke and ip_rpc_invoke_view: `hold` NULL for a plain output. */
static ip_status invoke(ip_rpc_client *c, const char *method, const ProtobufCMessage *input,
                        ProtobufCMessage **output, ip_rpc_view **hold, const ip_rpc_call_opts *opts,
                        char *errbuf, size_t errlen)
{
    if (output != NULL)
        *output = NULL;
    if (c == NULL || method == NULL || output == NULL) {
        ip_errorf(errbuf, errlen, "bad arguments");
        return IP_INVALID_ARGUMENT;
    }
    const ProtobufCMethodDescriptor *md =
        protobuf_c_service_descriptor_get_method_by_name(c->svc, method);
    if (md == NULL) {
        ip_errorf(errbuf, errlen, "unknown method %s.%s", c->svc->name, method);
        return IP_INVALID_ARGUMENT;
    }
    if (input != NULL && input->descriptor != md->input) {
        ip_errorf(errbuf, errlen, "%s takes %s, not %s", method, md->input->name,
                  input->descriptor->name);
        return IP_INVALID_ARGUMENT;
    }
    size_t n = input != NULL ? protobuf_c_message_get_packed_size(input) : 0;
    if (n > c->max_msg) {
        ip_errorf(errbuf, errlen, "input of %zu bytes is over the %zu-byte limit", n, c->max_msg);
        return IP_RESOURCE_EXHAUSTED;
    }
    return call_raw(c, method, input, n, md->output, output, hold,
                    opts != NULL ? opts->timeout_ms : 0, opts != NULL ? opts->request_id : NULL,
                    errbuf, errlen);
}

ip_status ip_rpc_invoke(ip_rpc_client *c, const char *method, const ProtobufCMessage *input,
                        ProtobufCMessage **output, const ip_rpc_call_opts *opts, char *errbuf,
                        size_t errlen)
{
    return invoke(c, method, input, output, NULL, opts, errbuf, errlen);
}

ip_status ip_rpc_invoke_view(ip_rpc_client *c, const char *method, const ProtobufCMessage *input,
                             ProtobufCMessage **output, ip_rpc_view **hold,
                             const ip_rpc_call_opts *opts, char *errbuf, size_t errlen)
{
    if (hold == NULL) {
        if (output != NULL)
            *output = NULL;
        ip_errorf(errbuf, errlen, "bad arguments");
        return IP_INVALID_ARGUMENT;
    }
    *hold = NULL;
    return invoke(c, method, input, output, hold, opts, errbuf, errlen);
}

void ip_rpc_view_release(ip_rpc_view *hold)
{
    if (hold == NULL)
        return;
    ip_pbview_free(hold->out, nng_msg_body(hold->msg), nng_msg_len(hold->msg));
    nng_msg_free(hold->msg);
    free(hold);
}

ip_status ip_rpc_ping(ip_rpc_client *c, int timeout_ms)
{
    if (c == NULL)
        return IP_INVALID_ARGUMENT;
    return call_raw(c, IP_RPC_PING, NULL, 0, NULL, NULL, NULL, timeout_ms, NULL, NULL, 0);
}
