/* gw_upload.c — the write path of an upload, with undo.
 *
 * ORDER AND UNDO. First ReserveUpload records a purge of the original due in
 * RESERVE_MS, which CreateImage drops with the row: a gateway that dies
 * after storing the original and before the row leaves nothing behind for
 * long (the purger removes it). The original's SHA-256 (the row keeps it and
 * the PUT sends it as its payload hash) is computed on a thread of its own
 * while the reservation's round trip runs; PutObject starts once both are
 * done, so the reservation is always committed before the original can
 * exist. The original is written next (PutObject o/<id>), then the row
 * (CreateImage, status pending, enqueued_at unset), then the job is produced
 * and the call waits for Kafka's acknowledgement (gw_job.c). That is what
 * the 202 promises: stored, committed, acknowledged. A failure of
 * PutObject, CreateImage or the produce undoes everything before it and the
 * client gets 503: DeleteImage removes the row and records a purge of its
 * objects, which is run at once and, if storage-svc fails it, finished later
 * by the purger (gw_purge.c); without a row the original is removed directly
 * (and the reservation, still there, purges it again in case a PutObject
 * that timed out lands late). If DeleteImage itself fails (metadata-svc went
 * away after CreateImage committed), the original is removed all the same
 * and the row stays pending and never enqueued: the sweep finds it without
 * its original and removes it (gw_sweep.c).
 *
 * DUPLICATES AND IDEMPOTENCY KEYS. CreateImage may write nothing: with
 * dedupe it answers an image of the same API key with the same bytes
 * (existing), and with an idempotency record it answers the record another
 * request with the same key committed first (replay) — both checked under a
 * lock in metadata-svc, so concurrent uploads make one image. The original
 * just stored under the new id is then removed at once (an undo with no
 * row) and the caller answers from what came back.
 *
 * AFTER THE ANSWER. MarkEnqueued records the job's time on the row once the
 * 202 is queued (gw_upload_mark_later, on the work pool): it is not part of
 * the promise. If it fails, is refused by a full pool, or the gateway dies
 * first, the row keeps enqueued_at unset; if it is still pending after
 * IP_GATEWAY_SWEEP_AGE_MS the sweep enqueues it once more, which is harmless
 * (the processor's work is idempotent), and a processed one is left alone.
 * If the gateway dies between CreateImage and the produce, the row stays
 * pending and never enqueued: ListStale finds it after
 * IP_GATEWAY_SWEEP_AGE_MS and the sweep (gw_sweep.c) produces its job.
 */
#include "gw_upload.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_job.h"
#include "gw_purge.h"
#include "gw_work.h"
#include "ip_budget.h"
#include "ip_keys.h"
#include "ip_log.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"
#include "ip_uuid.h"

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The original's digest, computed on a thread of its own while the caller
 * waits for ReserveUpload (the hash is CPU, the reservation a round trip). */
typedef struct sha_job {
    const void *data;
    size_t len;
    char hex[65];
    pthread_t thread;
    bool threaded; /* false: the thread could not start; hashed inline */
} sha_job;

static void *sha_main(void *arg)
{
    sha_job *j = arg;
    sha256_hex(j->data, j->len, j->hex);
    return NULL;
}

static void sha_start(sha_job *j, const void *data, size_t len)
{
    j->data = data;
    j->len = len;
    j->threaded = pthread_create(&j->thread, NULL, sha_main, j) == 0;
    if (!j->threaded)
        sha256_hex(data, len, j->hex);
}

static void sha_wait(sha_job *j)
{
    if (j->threaded)
        pthread_join(j->thread, NULL);
    j->threaded = false;
}

/* Best effort: removes the row (when `row`) and the objects of `id`. A row
 * removed here leaves a purge record (DeleteImage), which is run and finished
 * at once; when that fails the purger finishes it ("deferred"). Without a row
 * (none was made, or metadata-svc did not answer) the original and the
 * variant prefix are removed directly. */
static void undo(gw_app *app, const char *id, bool row)
{
    ip_status row_st = IP_NOT_FOUND, obj_st = IP_OK;
    char err[256] = "", err2[256] = "";
    if (row)
        row_st = gw_purge_delete_row(app, id, &obj_st, err, sizeof err, err2, sizeof err2);
    if (row_st != IP_OK)
        obj_st = gw_purge_objects(app, id, NULL, 0, NULL, 0, err2, sizeof err2);
    bool row_gone = row_st == IP_OK || row_st == IP_NOT_FOUND;
    const char *result = row_gone && obj_st == IP_OK ? "done"
                         : row_st == IP_OK           ? "deferred"
                                                     : "failed";
    ip_metric_add(app->m.undo, result, 1);
    ip_log(row_gone ? IP_LOG_INFO : IP_LOG_ERROR, "upload.undone", IP_LS("image_id", id),
           IP_LS("result", result), IP_LS("row", ip_strerror(row_st)),
           IP_LS("objects", ip_strerror(obj_st)), IP_LS("err", err[0] ? err : err2));
}

/* A step failed: undo what was written (the row too when `row`) and say which
 * dependency failed, and why, in `detail`. */
static ip_status store_failed(gw_app *app, const char *id, bool row, const char *what,
                              const char *why, char *detail, size_t dlen)
{
    snprintf(detail, dlen, "%s is not available (%s); try again later", what, why);
    undo(app, id, row);
    return IP_UNAVAILABLE;
}

/* How long an upload may take from its reservation to its row. The steps in
 * between are bounded by the RPC deadline (IP_RPC_TIMEOUT_MS, at most 10 min)
 * twice; a reservation claimed by a purger makes CreateImage refuse the id. */
#define RESERVE_MS (30 * 60 * 1000)

/* Step 0: ReserveUpload: the original is purged later unless its row comes. */
static ip_status reserve(gw_app *app, const char *id, const char *okey, char *err, size_t errlen)
{
    Imageproc__ReserveUploadRequest rq = IMAGEPROC__RESERVE_UPLOAD_REQUEST__INIT;
    rq.id = (char *)id;
    rq.original_key = (char *)okey;
    rq.purge_after_ms = RESERVE_MS;
    Imageproc__ReserveUploadReply *reply = NULL;
    ip_status st = ip_metadata_reserve_upload(app->meta, &rq, &reply, NULL, err, errlen);
    if (reply)
        imageproc__reserve_upload_reply__free_unpacked(reply, NULL);
    if (st != IP_OK)
        ip_log(IP_LOG_WARN, "upload.reserve_failed", IP_LS("image_id", id), IP_LS("err", err));
    return st;
}

/* Step 1: PutObject o/<id>, with the SHA-256 that the row keeps too. */
static ip_status put_original(gw_app *app, const gw_upload_in *in, const char *id, const char *okey,
                              const char *sha, char *err, size_t errlen)
{
    Imageproc__PutObjectRequest put = IMAGEPROC__PUT_OBJECT_REQUEST__INIT;
    put.key = (char *)okey;
    put.data.data = (uint8_t *)in->data;
    put.data.len = in->len;
    put.content_type = (char *)in->content_type;
    /* The digest stored with the row doubles as the PUT's payload hash:
     * storage-svc does not hash the bytes again, and S3 checks them against it. */
    put.content_sha256 = (char *)sha;
    Imageproc__PutObjectReply *reply = NULL;
    ip_status st = ip_storage_put_object(app->stor, &put, &reply, NULL, err, errlen);
    if (reply)
        imageproc__put_object_reply__free_unpacked(reply, NULL);
    if (st != IP_OK)
        ip_log(IP_LOG_WARN, "upload.put_failed", IP_LS("image_id", id), IP_LS("err", err));
    return st;
}

/* Step 2: CreateImage, status pending; out->created_at_us becomes the row's. */
static ip_status create_row(gw_app *app, const gw_upload_in *in, const char *okey, const char *sha,
                            const ip_variant_kind *kinds, size_t nkinds, gw_upload_out *out,
                            char *err, size_t errlen)
{
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    img.id = out->id;
    img.created_at_us = out->created_at_us;
    img.updated_at_us = out->created_at_us;
    img.filename = (char *)(in->filename ? in->filename : "");
    img.content_type = (char *)in->content_type;
    img.size_bytes = (int64_t)in->len;
    img.width = in->width;
    img.height = in->height;
    img.sha256 = (char *)sha;
    img.requested = (Imageproc__VariantKind *)kinds;
    img.n_requested = nkinds;
    img.status = IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING;
    img.original_key = (char *)okey;
    img.owner_hash = (char *)(in->owner_hash ? in->owner_hash : "");
    img.key_id = (char *)(in->key_id ? in->key_id : "");
    Imageproc__CreateImageRequest cr = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    cr.image = &img;
    cr.dedupe = in->dedupe && img.key_id[0];
    Imageproc__IdempotencyRecord rec;
    if (in->idem) {
        rec = *in->idem;
        rec.scope = img.key_id;
        rec.request_sha256 = (char *)sha;
        rec.image_id = out->id;
        cr.idempotency = &rec;
    }
    Imageproc__CreateImageReply *reply = NULL;
    ip_status st = ip_metadata_create_image(app->meta, &cr, &reply, NULL, err, errlen);
    if (st == IP_OK && reply->replay) { /* the key was taken: nothing was written */
        out->replay = reply->replay;
        reply->replay = NULL;
    } else if (st == IP_OK && reply->existing && reply->image) { /* nothing was written */
        out->existing = reply->image;
        reply->image = NULL;
    } else if (st == IP_OK && reply->image && reply->image->created_at_us) {
        out->created_at_us = reply->image->created_at_us;
    }
    if (reply)
        imageproc__create_image_reply__free_unpacked(reply, NULL);
    if (st != IP_OK)
        ip_log(IP_LOG_WARN, "upload.create_failed", IP_LS("image_id", out->id), IP_LS("err", err));
    return st;
}

void gw_upload_begin(gw_upload_out *out)
{
    ip_uuid_v7_str(out->id);
    out->created_at_us = ip_now_us();
}

void gw_upload_out_clear(gw_upload_out *out)
{
    if (out->existing)
        imageproc__image__free_unpacked(out->existing, NULL);
    if (out->replay)
        imageproc__idempotency_record__free_unpacked(out->replay, NULL);
    out->existing = NULL;
    out->replay = NULL;
}

ip_status gw_upload_store(gw_app *app, const gw_upload_in *in, gw_upload_out *out, char *detail,
                          size_t dlen)
{
    char err[256] = "", okey[IP_KEY_MAX];
    ip_variant_kind kinds[IP_VARIANT_COUNT];
    size_t nkinds = ip_variant_mask_kinds(in->ops, kinds);
    if (!out->id[0])
        gw_upload_begin(out);
    out->enqueued_at_us = 0;
    out->existing = NULL;
    out->replay = NULL;
    const char *id = out->id;
    if (ip_key_original(okey, id) != IP_OK)
        return IP_INTERNAL;

    int64_t t0 = ip_mono_us();
    /* The PutObject message is a second copy of the original while the call
     * runs: charged before anything is written, so a refusal leaves nothing
     * to undo. */
    int64_t msg_bytes = (int64_t)in->len + 1024;
    if (!ip_budget_try(msg_bytes)) {
        snprintf(detail, dlen,
                 "the gateway is holding too much data at once (uploads and downloads); retry "
                 "in a moment");
        return IP_RESOURCE_EXHAUSTED;
    }
    sha_job sha;
    if (in->sha256 && strlen(in->sha256) == 64) {
        sha.threaded = false;
        memcpy(sha.hex, in->sha256, sizeof sha.hex);
    } else {
        sha_start(&sha, in->data, in->len);
    }
    ip_status st = reserve(app, id, okey, err, sizeof err);
    sha_wait(&sha);
    if (st != IP_OK) {
        ip_budget_give(msg_bytes);
        snprintf(detail, dlen, "the metadata service is not available (%s); try again later",
                 ip_strerror(st));
        return IP_UNAVAILABLE;
    }
    st = put_original(app, in, id, okey, sha.hex, err, sizeof err);
    ip_budget_give(msg_bytes);
    if (st != IP_OK)
        return store_failed(app, id, false, "object storage", ip_strerror(st), detail, dlen);
    int64_t t1 = ip_mono_us();
    out->put_us = t1 - t0;
    st = create_row(app, in, okey, sha.hex, kinds, nkinds, out, err, sizeof err);
    if (st != IP_OK) /* one that timed out may still have committed: delete the row too */
        return store_failed(app, id, true, "the metadata service", ip_strerror(st), detail, dlen);
    int64_t t2 = ip_mono_us();
    out->create_us = t2 - t1;
    if (out->existing || out->replay) { /* no row: the original goes at once */
        undo(app, id, false);
        return IP_OK;
    }
    st = gw_job_enqueue(app, id, in->content_type, kinds, nkinds, 1, &out->enqueued_at_us, err,
                        sizeof err);
    if (st != IP_OK) {
        ip_log(IP_LOG_WARN, "upload.enqueue_failed", IP_LS("image_id", id), IP_LS("err", err));
        return store_failed(app, id, true, "the job queue", err, detail, dlen);
    }
    out->enqueue_us = ip_mono_us() - t2;
    return IP_OK;
}

/* What gw_upload_mark_later hands to the work pool. */
typedef struct mark_job {
    gw_app *app;
    char id[37];
    int64_t enqueued_at_us;
} mark_job;

static void mark_main(void *arg)
{
    mark_job *j = arg;
    char err[256] = "";
    int64_t t0 = ip_mono_us();
    ip_status st = gw_job_mark_enqueued(j->app, j->id, j->enqueued_at_us, false, err, sizeof err);
    if (st != IP_OK)
        ip_log(IP_LOG_WARN, "upload.mark_enqueued_failed", IP_LS("image_id", j->id),
               IP_LS("err", err));
    else
        ip_log(IP_LOG_DEBUG, "upload.marked", IP_LS("image_id", j->id),
               IP_LF("ms", (ip_mono_us() - t0) / 1e3));
    free(j);
}

void gw_upload_mark_later(gw_app *app, const gw_upload_out *out)
{
    mark_job *j = malloc(sizeof *j);
    if (j) {
        *j = (mark_job){.app = app, .enqueued_at_us = out->enqueued_at_us};
        memcpy(j->id, out->id, sizeof j->id);
        if (app->work && gw_work_submit(app->work, mark_main, j))
            return;
        free(j);
    }
    /* Not marked: the row keeps enqueued_at unset, and if it is still pending
     * after IP_GATEWAY_SWEEP_AGE_MS the sweep enqueues it once more, which is
     * harmless (the processor's work is idempotent). */
    ip_log(IP_LOG_WARN, "upload.mark_enqueued_failed", IP_LS("image_id", out->id),
           IP_LS("err", "the work pool did not take it"));
}
