/* gw_job.h — an image's job on the queue: producing it (ProcessJob on
 * IP_KAFKA_TOPIC, keyed by the image id so one image's jobs keep their order)
 * and recording that Kafka took it (MarkEnqueued). The upload (gw_upload.c)
 * and the sweep (gw_sweep.c) both go through these. */
#ifndef GW_JOB_H
#define GW_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_app.h"
#include "ip_variants.h"

/* Produces the ProcessJob of image `id` (original key from ip_keys.h, the
 * sniffed `content_type`, the requested `kinds[0..nkinds)`, `attempt`) and
 * waits for Kafka's acknowledgement; *enqueued_at_us is when the wait ended.
 * Everything is borrowed. IP_OK: acknowledged. Else the producer's status
 * (transient when Kafka is down or slow) with the reason in err. */
ip_status gw_job_enqueue(gw_app *app, const char *id, const char *content_type,
                         const ip_variant_kind *kinds, size_t nkinds, int attempt,
                         int64_t *enqueued_at_us, char *err, size_t errlen);

/* MarkEnqueued(id, enqueued_at_us, requeue): records that the job is queued.
 * With `requeue` (the sweep) a processing image whose lease ran out goes back
 * to pending too. metadata-svc's status, its message in err. */
ip_status gw_job_mark_enqueued(gw_app *app, const char *id, int64_t enqueued_at_us, bool requeue,
                               char *err, size_t errlen);

#endif
