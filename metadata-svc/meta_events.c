/* meta_events.c — the StatusEvent publisher of metadata-svc.
 *
 * A pub0 socket is safe to send on from many threads; nng_send copies the
 * bytes into a message and queues it for every connected subscriber without
 * waiting (NNG_FLAG_NONBLOCK: a full queue drops rather than stalls a request).
 * The sequence number is taken from an atomic counter at publish time; since
 * the caller publishes one image's events in commit order, seq increases in
 * commit order per image, and across images in publish order.
 */
#include "meta_events.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "ip_log.h"

struct meta_events {
    nng_socket sock;
    atomic_int_fast64_t seq;
};

ip_status meta_events_new(const char *url, meta_events **out)
{
    int rv;
    *out = NULL;
    meta_events *ev = calloc(1, sizeof(*ev));
    if (ev == NULL)
        return IP_RESOURCE_EXHAUSTED;
    atomic_init(&ev->seq, 0);
    if ((rv = nng_pub0_open(&ev->sock)) != 0) {
        ip_log(IP_LOG_ERROR, "events.open_failed", IP_LS("err", nng_strerror(rv)));
        free(ev);
        return IP_INTERNAL;
    }
    if ((rv = nng_listen(ev->sock, url, NULL, 0)) != 0) {
        ip_log(IP_LOG_ERROR, "events.listen_failed", IP_LS("url", url),
               IP_LS("err", nng_strerror(rv)));
        nng_close(ev->sock);
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
    nng_close(ev->sock);
    free(ev);
}

void meta_events_publish(meta_events *ev, Imageproc__StatusEvent *e)
{
    e->seq = atomic_fetch_add(&ev->seq, 1) + 1;
    size_t len = imageproc__status_event__get_packed_size(e);
    uint8_t stackbuf[512];
    uint8_t *buf = len <= sizeof(stackbuf) ? stackbuf : malloc(len);
    if (buf == NULL) {
        ip_log(IP_LOG_ERROR, "events.publish_failed", IP_LS("image_id", e->id),
               IP_LS("err", "out of memory"));
        return;
    }
    imageproc__status_event__pack(e, buf);
    int rv = nng_send(ev->sock, buf, len, NNG_FLAG_NONBLOCK);
    if (rv != 0)
        ip_log(IP_LOG_WARN, "events.publish_failed", IP_LS("image_id", e->id),
               IP_LS("err", nng_strerror(rv)));
    if (buf != stackbuf)
        free(buf);
}
