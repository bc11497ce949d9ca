/* gw_job.c — producing an image's ProcessJob and recording it.
 *
 * The job is packed into one buffer and handed to the synchronous producer
 * (gw_kafka.c), which returns once Kafka has acknowledged it on every in-sync
 * replica or refused it. MarkEnqueued then stamps the row's enqueued_at; the
 * sweep reads that stamp to find jobs that never reached Kafka.
 */
#include "gw_job.h"

#include <stdio.h>
#include <stdlib.h>

#include "gw_kafka.h"
#include "ip_job.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"

ip_status gw_job_enqueue(gw_app *app, const char *id, const char *content_type,
                         const ip_variant_kind *kinds, size_t nkinds, int attempt,
                         int64_t *enqueued_at_us, char *err, size_t errlen)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    ip_status st =
        ip_job_pack(id, NULL, content_type, kinds, nkinds, attempt, &buf, &n, err, errlen);
    if (st != IP_OK)
        return st;
    st = gw_kafka_produce(app->kafka, id, buf, n, err, errlen);
    free(buf);
    *enqueued_at_us = ip_now_us();
    return st;
}

ip_status gw_job_mark_enqueued(gw_app *app, const char *id, int64_t enqueued_at_us, bool requeue,
                               char *err, size_t errlen)
{
    Imageproc__MarkEnqueuedRequest rq = IMAGEPROC__MARK_ENQUEUED_REQUEST__INIT;
    rq.id = (char *)id;
    rq.enqueued_at_us = enqueued_at_us;
    rq.requeue = requeue;
    Imageproc__MarkEnqueuedReply *out = NULL;
    ip_status st = ip_metadata_mark_enqueued(app->meta, &rq, &out, NULL, err, errlen);
    if (out)
        imageproc__mark_enqueued_reply__free_unpacked(out, NULL);
    return st;
}
