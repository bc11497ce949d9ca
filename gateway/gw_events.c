/* gw_events.c — the SSE hub.
 *
 * CONCURRENCY. One mutex guards the client list and every client's buffer and
 * flags. The content reader (an MHD thread) takes bytes from its client's
 * buffer; when the buffer is empty it marks the client suspended and calls
 * MHD_suspend_connection() before returning 0 — both under the mutex. The
 * producers (subscriber thread, heartbeat, close) append and, if the client is
 * marked suspended, clear the mark and call MHD_resume_connection() — also
 * under the mutex. So a resume always follows its suspend, and a connection is
 * never resumed twice. A suspended connection cannot be closed by MHD, so the
 * pointer stays valid while the mark is set; the client leaves the list in the
 * response's free callback, when MHD is done with it.
 */
#include "gw_events.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_json.h"
#include "gw_webhook_dispatch.h"
#include "ip_log.h"
#include "ip_rpc.h"
#include "ip_time.h"

typedef struct sse_client {
    struct sse_client *next, *prev;
    gw_events *hub;
    struct MHD_Connection *conn;
    char *buf;
    size_t len, cap;
    bool suspended, dropped;
    int nids;
    char ids[GW_MAX_EVENT_IDS][37];
} sse_client;

struct gw_events {
    gw_app *app;
    pthread_mutex_t mu;
    sse_client *clients;
    int nclients;
    bool closing;
    atomic_bool stop;
    pthread_t thread;
    bool thread_started;
    nng_socket sock;
    bool sock_open;
};

/* Under hub->mu. */
static void client_wake(sse_client *c)
{
    if (c->suspended) {
        c->suspended = false;
        MHD_resume_connection(c->conn);
    }
}

/* Under hub->mu. Appends or drops the client when over its bound. */
static void client_append(sse_client *c, const char *s, size_t n)
{
    if (c->dropped)
        return;
    size_t bound = (size_t)c->hub->app->cfg.sse_buffer_bytes;
    if (c->len + n > bound) {
        c->dropped = true;
        free(c->buf);
        c->buf = NULL;
        c->len = c->cap = 0;
        ip_metric_add(c->hub->app->m.sse_dropped, NULL, 1);
        ip_log(IP_LOG_WARN, "sse.client_dropped", IP_LI("bound", (long long)bound));
        client_wake(c);
        return;
    }
    if (c->len + n > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + n)
            cap *= 2;
        char *nb = realloc(c->buf, cap);
        if (!nb) {
            c->dropped = true;
            client_wake(c);
            return;
        }
        c->buf = nb;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, s, n);
    c->len += n;
    client_wake(c);
}

static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    sse_client *c = cls;
    gw_events *hub = c->hub;
    pthread_mutex_lock(&hub->mu);
    if (c->dropped) {
        pthread_mutex_unlock(&hub->mu);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (c->len > 0) {
        size_t n = c->len < max ? c->len : max;
        memcpy(out, c->buf, n);
        memmove(c->buf, c->buf + n, c->len - n);
        c->len -= n;
        pthread_mutex_unlock(&hub->mu);
        return (ssize_t)n;
    }
    if (hub->closing) {
        pthread_mutex_unlock(&hub->mu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    c->suspended = true;
    MHD_suspend_connection(c->conn);
    pthread_mutex_unlock(&hub->mu);
    return 0;
}

static void reader_free(void *cls)
{
    sse_client *c = cls;
    gw_events *hub = c->hub;
    pthread_mutex_lock(&hub->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        hub->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    hub->nclients--;
    ip_metric_set(hub->app->m.sse_clients, NULL, hub->nclients);
    pthread_mutex_unlock(&hub->mu);
    free(c->buf);
    free(c);
}

struct MHD_Response *gw_events_response(gw_events *hub, struct MHD_Connection *conn,
                                        const gw_events_query *q)
{
    sse_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->hub = hub;
    c->conn = conn;
    c->nids = q ? q->nids : 0;
    if (c->nids)
        memcpy(c->ids, q->ids, sizeof c->ids);
    pthread_mutex_lock(&hub->mu);
    if (hub->closing || hub->nclients >= hub->app->cfg.sse_max_clients) {
        pthread_mutex_unlock(&hub->mu);
        free(c);
        return NULL;
    }
    static const char hello[] = "retry: 3000\n: connected\n\n";
    client_append(c, hello, sizeof hello - 1);
    c->next = hub->clients;
    if (hub->clients)
        hub->clients->prev = c;
    hub->clients = c;
    hub->nclients++;
    ip_metric_set(hub->app->m.sse_clients, NULL, hub->nclients);
    pthread_mutex_unlock(&hub->mu);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, reader, c, reader_free);
    if (!r) {
        reader_free(c);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-cache, no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    return r;
}

static bool client_wants(const sse_client *c, const char *id)
{
    if (c->nids == 0)
        return true;
    for (int i = 0; i < c->nids; i++)
        if (strcmp(c->ids[i], id) == 0)
            return true;
    return false;
}

void gw_events_publish(gw_events *hub, const Imageproc__StatusEvent *e)
{
    char *data = gw_event_json(e);
    if (!data)
        return;
    size_t dl = strlen(data);
    char *msg = malloc(dl + 64);
    if (!msg) {
        free(data);
        return;
    }
    int n =
        snprintf(msg, dl + 64, "event: status\nid: %lld\ndata: %s\n\n", (long long)e->seq, data);
    free(data);
    const char *id = e->id ? e->id : "";
    pthread_mutex_lock(&hub->mu);
    for (sse_client *c = hub->clients; c; c = c->next)
        if (client_wants(c, id))
            client_append(c, msg, (size_t)n);
    pthread_mutex_unlock(&hub->mu);
    free(msg);
}

static void heartbeat(gw_events *hub)
{
    static const char hb[] = ": heartbeat\n\n";
    pthread_mutex_lock(&hub->mu);
    for (sse_client *c = hub->clients; c; c = c->next)
        client_append(c, hb, sizeof hb - 1);
    pthread_mutex_unlock(&hub->mu);
}

static void *sub_main(void *arg)
{
    gw_events *hub = arg;
    int64_t next_hb = ip_mono_ms() + hub->app->cfg.sse_heartbeat_ms;
    while (!atomic_load(&hub->stop)) {
        void *buf = NULL;
        size_t sz = 0;
        int rv = nng_recv(hub->sock, &buf, &sz, NNG_FLAG_ALLOC);
        if (rv == 0) {
            Imageproc__StatusEvent *e = imageproc__status_event__unpack(NULL, sz, buf);
            nng_free(buf, sz);
            if (e) {
                ip_metric_add(hub->app->m.events, NULL, 1);
                gw_events_publish(hub, e);
                /* the change's webhook deliveries, if any, are committed */
                if (e->deleted || e->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY ||
                    e->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED)
                    gw_webhook_dispatch_wake(hub->app->webhooks);
                imageproc__status_event__free_unpacked(e, NULL);
            } else {
                ip_log(IP_LOG_WARN, "events.bad_message", IP_LI("bytes", (long long)sz));
            }
        } else if (rv == NNG_ECLOSED) {
            break;
        }
        int64_t now = ip_mono_ms();
        if (now >= next_hb) {
            heartbeat(hub);
            next_hb = now + hub->app->cfg.sse_heartbeat_ms;
        }
    }
    return NULL;
}

ip_status gw_events_new(gw_app *app, gw_events **out)
{
    gw_events *hub = calloc(1, sizeof *hub);
    if (!hub)
        return IP_RESOURCE_EXHAUSTED;
    hub->app = app;
    pthread_mutex_init(&hub->mu, NULL);
    int rv;
    if ((rv = nng_sub0_open(&hub->sock)) != 0)
        goto fail;
    hub->sock_open = true;
    int tick = (int)(app->cfg.sse_heartbeat_ms < 1000 ? app->cfg.sse_heartbeat_ms : 1000);
    if ((rv = nng_socket_set(hub->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0 ||
        (rv = nng_socket_set_ms(hub->sock, NNG_OPT_RECVTIMEO, tick)) != 0 ||
        (rv = nng_socket_set_size(hub->sock, NNG_OPT_RECVMAXSZ, 1024 * 1024)) != 0 ||
        (rv = nng_socket_set_ms(hub->sock, NNG_OPT_RECONNMAXT, 2000)) != 0)
        goto fail;
    /* Every metadata-svc publishes the events of the writes it served. */
    if (ip_rpc_dial_list(hub->sock, app->cfg.metadata_events_url) != IP_OK) {
        rv = NNG_EADDRINVAL;
        goto fail;
    }
    if (pthread_create(&hub->thread, NULL, sub_main, hub) != 0) {
        rv = NNG_ENOMEM;
        goto fail;
    }
    hub->thread_started = true;
    *out = hub;
    return IP_OK;
fail:
    ip_log(IP_LOG_ERROR, "events.start_failed", IP_LS("err", nng_strerror(rv)),
           IP_LS("url", app->cfg.metadata_events_url));
    if (hub->sock_open)
        nng_close(hub->sock);
    pthread_mutex_destroy(&hub->mu);
    free(hub);
    return IP_INVALID_ARGUMENT;
}

void gw_events_close(gw_events *hub)
{
    if (!hub)
        return;
    pthread_mutex_lock(&hub->mu);
    hub->closing = true;
    for (sse_client *c = hub->clients; c; c = c->next)
        client_wake(c);
    pthread_mutex_unlock(&hub->mu);
    atomic_store(&hub->stop, true);
    if (hub->thread_started) {
        pthread_join(hub->thread, NULL);
        hub->thread_started = false;
    }
}

void gw_events_free(gw_events *hub)
{
    if (!hub)
        return;
    gw_events_close(hub);
    if (hub->sock_open && !ip_rpc_close_bounded(hub->sock, "events"))
        return; /* stuck in nng: the hub is left behind with the socket */
    pthread_mutex_destroy(&hub->mu);
    free(hub);
}
