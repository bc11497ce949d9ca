/* ip_job.c — building and packing the Kafka job (see ip_job.h). */
#include "ip_job.h"

#include <stdbool.h>
#include <stdlib.h>

#include "ip_keys.h"
#include "ip_text.h"
#include "ip_time.h"
#include "job.pb-c.h"

/* The one packing of both kinds of job. */
static ip_status pack_job(const char *id, const char *original_key, const char *content_type,
                          const ip_variant_kind *kinds, size_t nkinds, int attempt, bool regenerate,
                          uint8_t **buf, size_t *len, char *err, size_t errlen)
{
    char key[IP_KEY_MAX];
    *buf = NULL;
    *len = 0;
    if (original_key == NULL || original_key[0] == '\0') {
        if (ip_key_original(key, id) != IP_OK) {
            ip_errorf(err, errlen, "image id %.64s makes no object key", id ? id : "");
            return IP_INVALID_ARGUMENT;
        }
        original_key = key;
    }
    Imageproc__ProcessJob job = IMAGEPROC__PROCESS_JOB__INIT;
    job.id = (char *)id;
    job.original_key = (char *)original_key;
    job.content_type = (char *)content_type;
    job.requested = (Imageproc__VariantKind *)kinds;
    job.n_requested = nkinds;
    job.attempt = attempt;
    job.enqueued_at_us = ip_now_us();
    job.regenerate = regenerate;
    size_t n = imageproc__process_job__get_packed_size(&job);
    uint8_t *b = malloc(n ? n : 1);
    if (b == NULL) {
        ip_errorf(err, errlen, "out of memory");
        return IP_RESOURCE_EXHAUSTED;
    }
    imageproc__process_job__pack(&job, b);
    *buf = b;
    *len = n;
    return IP_OK;
}

ip_status ip_job_pack(const char *id, const char *original_key, const char *content_type,
                      const ip_variant_kind *kinds, size_t nkinds, int attempt, uint8_t **buf,
                      size_t *len, char *err, size_t errlen)
{
    return pack_job(id, original_key, content_type, kinds, nkinds, attempt, false, buf, len, err,
                    errlen);
}

ip_status ip_job_pack_regenerate(const char *id, const char *original_key, const char *content_type,
                                 const ip_variant_kind *kinds, size_t nkinds, uint8_t **buf,
                                 size_t *len, char *err, size_t errlen)
{
    return pack_job(id, original_key, content_type, kinds, nkinds, 1, true, buf, len, err, errlen);
}
