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
#include "ip_keys.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"
#include "job.pb-c.h"

ip_status gw_job_enqueue(gw_app *app, const char *id, const char *content_type,
                         const ip_variant_kind *kinds, size_t nkinds, int attempt,
                         int64_t *enqueued_at_us, char *err, size_t errlen)
{
    char key[IP_KEY_MAX];
    if (ip_key_original(key, id) != IP_OK) {
        snprintf(err, errlen, "image id %.64s makes no object key", id);
        return IP_INVALID_ARGUMENT;
    }
    Imageproc__ProcessJob job = IMAGEPROC__PROCESS_JOB__INIT;
    job.id = (char *)id;
    job.original_key = key;
    job.content_type = (char *)content_type;
    job.requested = (Imageproc__VariantKind *)kinds;
    job.n_requested = nkinds;
    job.attempt = attempt;
    job.enqueued_at_us = ip_now_us();
    size_t n = imageproc__process_job__get_packed_size(&job);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return IP_RESOURCE_EXHAUSTED;
    }
    imageproc__process_job__pack(&job, buf);
    ip_status st = gw_kafka_produce(app->kafka, id, buf, n, err, errlen);
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
