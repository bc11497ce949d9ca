/* gw_upload.h — storing an accepted upload: the original, the row and the
 * job, undone together when a step fails. */
#ifndef GW_UPLOAD_H
#define GW_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "gw_app.h"
#include "ip_variants.h"
#include "metadata.pb-c.h"

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
    const char *sha256;       /* hex SHA-256 of data when the caller has it; NULL: made here */
    const char *key_id;       /* the uploading API key's id, stored with the row; NULL: none */
    bool dedupe;              /* with key_id: an image of that key with these bytes is the
                               * answer (CreateImage's dedupe, checked under its lock) */
    /* Recorded with the row: its key, status and sealed response (scope,
     * request_sha256 and image_id are those of the row); NULL: none. */
    const Imageproc__IdempotencyRecord *idem;
} gw_upload_in;

typedef struct gw_upload_out {
    char id[37];
    int64_t created_at_us;
    int64_t enqueued_at_us; /* when Kafka acknowledged the job (gw_upload_mark_later) */
    int64_t put_us, create_us, enqueue_us; /* how long each step took */
    /* Set (owned; gw_upload_out_clear) when CreateImage wrote nothing: the
     * image of the same key with the same bytes (in->dedupe), or the record
     * another request with the same Idempotency-Key made first. The original
     * just stored was removed again; no job was produced. */
    Imageproc__Image *existing;
    Imageproc__IdempotencyRecord *replay;
} gw_upload_out;

/* A new upload's id (UUIDv7) and created_at, which the row will keep: the
 * caller may build its answer from them before gw_upload_store. */
void gw_upload_begin(gw_upload_out *out);

/* Frees what gw_upload_store left in out->existing and out->replay. */
void gw_upload_out_clear(gw_upload_out *out);

/* ReserveUpload (the original's SHA-256 computed meanwhile unless in->sha256
 * has it) -> PutObject(o/<id>) -> CreateImage -> produce the job and wait for
 * Kafka, for the id gw_upload_begin made (made here when out->id is "").
 * IP_OK: the upload is accepted (stored, committed, acknowledged); the
 * caller then answers and calls gw_upload_mark_later — unless out->existing
 * or out->replay is set: then nothing stays stored and nothing is queued. IP_RESOURCE_EXHAUSTED:
 * the PutObject message (the original's size) does not fit the memory budget (ip_budget.h; charged
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
