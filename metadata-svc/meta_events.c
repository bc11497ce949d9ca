/* meta_events.c — the StatusEvent publisher of metadata-svc.
 *
 * A pub0 socket is safe to send on from many threads; nng_send copies the
 * bytes into a message and queues it for every connected subscriber without
 * waiting (NNG_FLAG_NONBLOCK: a full queue drops rather than stalls a request).
 * The sequence number is taken and the message queued under one mutex, so a
 * subscriber receives seq strictly increasing (a gap means it lost messages);
 * since the caller publishes one image's events in commit order, that order
 * is also the commit order per image.
 */
#include "meta_events.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "ip_log.h"
#include "ip_rpc.h"

struct meta_events {
    nng_socket sock;
    pthread_mutex_t mu; /* seq and the send, together */
    int64_t seq;
};

ip_status meta_events_new(const char *url, meta_events **out)
{
    int rv;
    *out = NULL;
    meta_events *ev = calloc(1, sizeof(*ev));
    if (ev == NULL)
        return IP_RESOURCE_EXHAUSTED;
    pthread_mutex_init(&ev->mu, NULL);
    if ((rv = nng_pub0_open(&ev->sock)) != 0) {
        ip_log(IP_LOG_ERROR, "events.open_failed", IP_LS("err", nng_strerror(rv)));
        pthread_mutex_destroy(&ev->mu);
        free(ev);
        return IP_INTERNAL;
    }
    /* Room for bursts: a subscriber that reads a little late loses nothing. */
    nng_socket_set_int(ev->sock, NNG_OPT_SENDBUF, 1024);
    if ((rv = nng_listen(ev->sock, url, NULL, 0)) != 0) {
        ip_log(IP_LOG_ERROR, "events.listen_failed", IP_LS("url", url),
               IP_LS("err", nng_strerror(rv)));
        nng_close(ev->sock);
        pthread_mutex_destroy(&ev->mu);
        free(ev);
        return IP_UNAVAILABLE;
    }
    ip_log(IP_LOG_INFO, "events.listening", IP_LS("url", url));
    *out = ev;
    return IP_OK;
}

void meta_events_free(meta_events *ev)
{
    if (ev == NULL)
        return;
    if (!ip_rpc_close_bounded(ev->sock, "events"))
        return; /* stuck in nng: left behind */
    pthread_mutex_destroy(&ev->mu);
    free(ev);
}

void meta_events_publish(meta_events *ev, Imageproc__StatusEvent *e)
{
    uint8_t stackbuf[512];
    uint8_t *buf = stackbuf;
    pthread_mutex_lock(&ev->mu);
    e->seq = ++ev->seq;
    size_t len = imageproc__status_event__get_packed_size(e);
    if (len > sizeof(stackbuf) && (buf = malloc(len)) == NULL) {
        pthread_mutex_unlock(&ev->mu);
        ip_log(IP_LOG_ERROR, "events.publish_failed", IP_LS("image_id", e->id),
               IP_LS("err", "out of memory"));
        return;
    }
    imageproc__status_event__pack(e, buf);
    int rv = nng_send(ev->sock, buf, len, NNG_FLAG_NONBLOCK);
    pthread_mutex_unlock(&ev->mu);
    if (rv != 0)
        ip_log(IP_LOG_WARN, "events.publish_failed", IP_LS("image_id", e->id),
               IP_LS("err", nng_strerror(rv)));
    if (buf != stackbuf)
        free(buf);
}
