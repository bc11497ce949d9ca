/* gw_upload.h — storing an accepted upload, purging an image's objects, and
 * the sweep that re-enqueues uploads whose job never reached Kafka. */
#ifndef GW_UPLOAD_H
#define GW_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "gw_app.h"
#include "ip_variants.h"

/* The variants made when an upload names none: all of them. */
#define GW_UPLOAD_DEFAULT_OPS IP_VARIANT_MASK_ALL

typedef struct gw_upload_in {
    const char *data; /* the original, borrowed */
    size_t len;
    const char *filename;     /* sanitised, may be "" */
    const char *content_type; /* sniffed */
    unsigned ops;             /* mask of ip_variant_bit(kind), not 0 */
    int width, height;        /* from the header */
} gw_upload_in;

typedef struct gw_upload_out {
    char id[37];
    int64_t created_at_us;
    int64_t put_us, create_us, enqueue_us, mark_us; /* how long each step took */
} gw_upload_out;

/* PutObject(o/<id>) -> CreateImage -> produce the job and wait for Kafka ->
 * MarkEnqueued. IP_OK: the upload is accepted. Any other status: a dependency
 * failed (detail says which) and what had been written was undone: no object,
 * no row (a job, if Kafka got one after all, finds no row and is dropped). */
ip_status gw_upload_store(gw_app *app, const gw_upload_in *in, gw_upload_out *out, char *detail,
                          size_t dlen);

/* DeleteObjects of the original of `id`, everything under its variant prefix
 * and `keys[0..n)` (borrowed; the variant keys metadata-svc knew, may be
 * none). The storage-svc status; `err` gets its message. */
ip_status gw_purge_objects(gw_app *app, const char *id, char *const *keys, size_t n, char *err,
                           size_t errlen);

/* One pass of the sweep: ListStale -> produce -> MarkEnqueued for each.
 * *requeued counts the images re-enqueued. A transient failure to produce
 * ends the pass (the next one retries); any other skips that image. */
ip_status gw_sweep_once(gw_app *app, int *requeued);

/* The sweep thread: gw_sweep_once every IP_GATEWAY_SWEEP_INTERVAL_MS. */
ip_status gw_sweep_new(gw_app *app, gw_sweep **out);
void gw_sweep_free(gw_sweep *s);

#endif
