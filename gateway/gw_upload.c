/* gw_upload.c — the write path of an upload, with undo.
 *
 * ORDER AND UNDO. The original is written first (PutObject o/<id>), then the
 * row (CreateImage, status pending, enqueued_at 0), then the job is produced
 * and the call waits for Kafka's acknowledgement, then MarkEnqueued records
 * it. A failure of PutObject, CreateImage or the produce undoes everything
 * before it (DeleteImage, DeleteObjects) and the client gets 503: nothing is
 * left. A failed MarkEnqueued does not undo: the job is already in Kafka and
 * the row exists, so the upload is accepted; the row keeps enqueued_at 0 and
 * the sweep may enqueue it once more, which is harmless (the processor's work
 * is idempotent). If the gateway dies between CreateImage and the produce,
 * the row stays pending and never enqueued: ListStale finds it after
 * IP_GATEWAY_SWEEP_AGE_MS and the sweep produces its job (attempt 2). Several
 * gateways may sweep the same row at once; a duplicate job is harmless too.
 */
#include "gw_upload.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_kafka.h"
#include "ip_keys.h"
#include "ip_log.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "job.pb-c.h"

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Produces the ProcessJob of image `id` and waits for Kafka's acknowledgement;
 * *enqueued_at is when the wait ended. */
static ip_status enqueue(gw_app *app, const char *id, const char *content_type,
                         const ip_variant_kind *kinds, size_t nkinds, int attempt,
                         int64_t *enqueued_at, char *err, size_t errlen)
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
    if (!buf)
        return IP_RESOURCE_EXHAUSTED;
    imageproc__process_job__pack(&job, buf);
    ip_status st = gw_kafka_produce(app->kafka, id, buf, n, err, errlen);
    free(buf);
    *enqueued_at = ip_now_us();
    return st;
}

static ip_status mark_enqueued(gw_app *app, const char *id, int64_t at, char *err, size_t errlen)
{
    Imageproc__MarkEnqueuedRequest rq = IMAGEPROC__MARK_ENQUEUED_REQUEST__INIT;
    rq.id = (char *)id;
    rq.enqueued_at_us = at;
    Imageproc__MarkEnqueuedReply *out = NULL;
    ip_status st = ip_metadata_mark_enqueued(app->meta, &rq, &out, NULL, err, errlen);
    if (out)
        imageproc__mark_enqueued_reply__free_unpacked(out, NULL);
    return st;
}

ip_status gw_purge_objects(gw_app *app, const char *id, char *const *keys, size_t n, char *err,
                           size_t errlen)
{
    char okey[IP_KEY_MAX], prefix[IP_KEY_MAX];
    if (ip_key_original(okey, id) != IP_OK || ip_key_variant_prefix(prefix, id) != IP_OK) {
        snprintf(err, errlen, "image id %.64s makes no object key", id);
        return IP_INVALID_ARGUMENT;
    }
    char **all = calloc(n + 1, sizeof *all);
    if (!all) {
        snprintf(err, errlen, "out of memory");
        return IP_RESOURCE_EXHAUSTED;
    }
    for (size_t i = 0; i < n; i++)
        all[i] = keys[i];
    all[n] = okey;
    Imageproc__DeleteObjectsRequest rq = IMAGEPROC__DELETE_OBJECTS_REQUEST__INIT;
    rq.keys = all;
    rq.n_keys = n + 1;
    rq.prefix = prefix;
    Imageproc__DeleteObjectsReply *out = NULL;
    ip_status st = ip_storage_delete_objects(app->stor, &rq, &out, NULL, err, errlen);
    if (out)
        imageproc__delete_objects_reply__free_unpacked(out, NULL);
    free(all);
    return st;
}

/* Best effort: removes the row (when `row`) and the objects of `id`. */
static void undo(gw_app *app, const char *id, bool row)
{
    ip_status st1 = IP_OK, st2;
    char err[256] = "", err2[256] = "";
    if (row) {
        Imageproc__DeleteImageRequest rq = IMAGEPROC__DELETE_IMAGE_REQUEST__INIT;
        rq.id = (char *)id;
        Imageproc__DeleteImageReply *out = NULL;
        st1 = ip_metadata_delete_image(app->meta, &rq, &out, NULL, err, sizeof err);
        if (out)
            imageproc__delete_image_reply__free_unpacked(out, NULL);
        if (st1 == IP_NOT_FOUND)
            st1 = IP_OK;
    }
    st2 = gw_purge_objects(app, id, NULL, 0, err2, sizeof err2);
    bool ok = st1 == IP_OK && st2 == IP_OK;
    ip_metric_add(app->m.undo, ok ? "done" : "failed", 1);
    ip_log(ok ? IP_LOG_INFO : IP_LOG_ERROR, ok ? "upload.undone" : "upload.undo_failed",
           IP_LS("image_id", id), IP_LS("row", ip_strerror(st1)),
           IP_LS("objects", ip_strerror(st2)), IP_LS("err", err[0] ? err : err2));
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
    Imageproc__CreateImageRequest cr = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    cr.image = &img;
    Imageproc__CreateImageReply *reply = NULL;
    ip_status st = ip_metadata_create_image(app->meta, &cr, &reply, NULL, err, errlen);
    if (st == IP_OK && reply->image && reply->image->created_at_us)
        out->created_at_us = reply->image->created_at_us;
    if (reply)
        imageproc__create_image_reply__free_unpacked(reply, NULL);
    if (st != IP_OK)
        ip_log(IP_LOG_WARN, "upload.create_failed", IP_LS("image_id", out->id), IP_LS("err", err));
    return st;
}

ip_status gw_upload_store(gw_app *app, const gw_upload_in *in, gw_upload_out *out, char *detail,
                          size_t dlen)
{
    char err[256] = "", okey[IP_KEY_MAX], sha[65];
    ip_variant_kind kinds[IP_VARIANT_COUNT];
    size_t nkinds = ip_variant_mask_kinds(in->ops, kinds);
    ip_uuid_v7_str(out->id);
    out->created_at_us = ip_now_us();
    const char *id = out->id;
    if (ip_key_original(okey, id) != IP_OK)
        return IP_INTERNAL;

    int64_t t0 = ip_mono_us();
    sha256_hex(in->data, in->len, sha);
    ip_status st = put_original(app, in, id, okey, sha, err, sizeof err);
    if (st != IP_OK)
        return store_failed(app, id, false, "object storage", ip_strerror(st), detail, dlen);
    int64_t t1 = ip_mono_us();
    out->put_us = t1 - t0;
    st = create_row(app, in, okey, sha, kinds, nkinds, out, err, sizeof err);
    if (st != IP_OK) /* one that timed out may still have committed: delete the row too */
        return store_failed(app, id, true, "the metadata service", ip_strerror(st), detail, dlen);
    int64_t t2 = ip_mono_us();
    out->create_us = t2 - t1;
    int64_t enq_at = 0;
    st = enqueue(app, id, in->content_type, kinds, nkinds, 1, &enq_at, err, sizeof err);
    if (st != IP_OK) {
        ip_log(IP_LOG_WARN, "upload.enqueue_failed", IP_LS("image_id", id), IP_LS("err", err));
        return store_failed(app, id, true, "the job queue", err, detail, dlen);
    }
    int64_t t3 = ip_mono_us();
    out->enqueue_us = t3 - t2;
    st = mark_enqueued(app, id, enq_at, err, sizeof err);
    out->mark_us = ip_mono_us() - t3;
    if (st != IP_OK)
        ip_log(IP_LOG_WARN, "upload.mark_enqueued_failed", IP_LS("image_id", id),
               IP_LS("err", err));
    return IP_OK;
}

ip_status gw_sweep_once(gw_app *app, int *requeued)
{
    *requeued = 0;
    char err[256] = "";
    Imageproc__ListStaleRequest rq = IMAGEPROC__LIST_STALE_REQUEST__INIT;
    rq.older_than_us = app->cfg.sweep_age_ms * 1000;
    rq.limit = 100;
    Imageproc__ListStaleReply *r = NULL;
    ip_status st = ip_metadata_list_stale(app->meta, &rq, &r, NULL, err, sizeof err);
    if (st != IP_OK)
        return st;
    for (size_t i = 0; i < r->n_images; i++) {
        Imageproc__Image *img = r->images[i];
        int64_t at = 0;
        st = enqueue(app, img->id, img->content_type, img->requested, img->n_requested, 2, &at, err,
                     sizeof err);
        if (st != IP_OK) {
            ip_log(IP_LOG_WARN, "sweep.enqueue_failed", IP_LS("image_id", img->id),
                   IP_LS("err", err));
            /* Kafka down or slow: the rest would fail alike; the next pass retries. */
            if (ip_status_is_transient(st))
                break;
            continue;
        }
        mark_enqueued(app, img->id, at, err, sizeof err);
        ip_log(IP_LOG_INFO, "sweep.requeued", IP_LS("image_id", img->id));
        ip_metric_add(app->m.requeued, NULL, 1);
        (*requeued)++;
    }
    imageproc__list_stale_reply__free_unpacked(r, NULL);
    return st;
}

struct gw_sweep {
    gw_app *app;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static void *sweep_main(void *arg)
{
    gw_sweep *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        int64_t ns = dl.tv_nsec + s->app->cfg.sweep_interval_ms * 1000000LL;
        dl.tv_sec += ns / 1000000000LL;
        dl.tv_nsec = ns % 1000000000LL;
        pthread_cond_timedwait(&s->cv, &s->mu, &dl);
        if (s->stop)
            break;
        pthread_mutex_unlock(&s->mu);
        int n = 0;
        gw_sweep_once(s->app, &n);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

ip_status gw_sweep_new(gw_app *app, gw_sweep **out)
{
    gw_sweep *s = calloc(1, sizeof *s);
    if (!s)
        return IP_RESOURCE_EXHAUSTED;
    s->app = app;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, sweep_main, s) != 0) {
        free(s);
        return IP_INTERNAL;
    }
    *out = s;
    return IP_OK;
}

void gw_sweep_free(gw_sweep *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
