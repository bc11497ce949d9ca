/* ip_job.h — the Kafka job (proto/job.proto), packed for a producer.
 *
 * Every part that puts an image on the queue (the gateway's upload and sweep,
 * imgctl's retry and DLQ replay) makes the same ProcessJob: the image id, its
 * original's key, the content type, the requested variants, the attempt and
 * the time it was queued. imgctl regenerate makes the same job with
 * regenerate set, for the regeneration topic. This builds and packs both in
 * one place.
 */
#ifndef IP_JOB_H
#define IP_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "ip_status.h"
#include "ip_variants.h"

/* The packed ProcessJob of image `id` into *buf (owned: free()) and *len.
 * `original_key` NULL or "" means the id's own (ip_key_original); enqueued_at
 * is now. IP_INVALID_ARGUMENT when the id makes no key, IP_RESOURCE_EXHAUSTED
 * out of memory; the reason in err either way. */
ip_status ip_job_pack(const char *id, const char *original_key, const char *content_type,
                      const ip_variant_kind *kinds, size_t nkinds, int attempt, uint8_t **buf,
                      size_t *len, char *err, size_t errlen);

/* As ip_job_pack, attempt 1, with regenerate set: remake the variants of a
 * ready image with the current presets (IP_KAFKA_REGEN_TOPIC). */
ip_status ip_job_pack_regenerate(const char *id, const char *original_key, const char *content_type,
                                 const ip_variant_kind *kinds, size_t nkinds, uint8_t **buf,
                                 size_t *len, char *err, size_t errlen);

#endif
