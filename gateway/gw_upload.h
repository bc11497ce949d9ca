/* gw_upload.h — storing an accepted upload: the original, the row and the
 * job, undone together when a step fails. */
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
    const char *owner_hash;   /* hex SHA-256 of the upload's owner token, stored with the row */
} gw_upload_in;

typedef struct gw_upload_out {
    char id[37];
    int64_t created_at_us;
    int64_t enqueued_at_us; /* when Kafka acknowledged the job (gw_upload_mark_later) */
    int64_t put_us, create_us, enqueue_us; /* how long each step took */
} gw_upload_out;

/* ReserveUpload (the original's SHA-256 computed meanwhile) -> PutObject(o/<id>)
 * -> CreateImage -> produce the job and wait for Kafka. IP_OK: the upload
 * is accepted (stored, committed, acknowledged); the caller then answers and
 * calls gw_upload_mark_later. IP_RESOURCE_EXHAUSTED: the PutObject message
 * (the original's size) does not fit the memory budget (ip_budget.h; charged
 * while the call runs); nothing was written. Any other status: a dependency
 * failed (detail says which) and what had been written was undone: no row,
 * no object (or a recorded purge that the purger finishes), and a job that
 * Kafka got after all finds no row and is dropped. */
ip_status gw_upload_store(gw_app *app, const gw_upload_in *in, gw_upload_out *out, char *detail,
                          size_t dlen);

/* MarkEnqueued for an accepted upload, on the work pool, after its answer
 * was queued: it is not part of what the 202 promises. When the pool refuses
 * it, or it fails, the sweep enqueues the image once more if it is still
 * pending after IP_GATEWAY_SWEEP_AGE_MS (harmless). */
void gw_upload_mark_later(gw_app *app, const gw_upload_out *out);

#endif
