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
#include "gw_query.h"
#include "ip_log.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "job.pb-c.h"
#include "metadata.pb-c.h"
#include "storage.pb-c.h"

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static ip_status enqueue(gw_app *app, const char *id, const char *content_type, char **ops,
                         size_t nops, int attempt, int64_t *enqueued_at, char *err, size_t errlen)
{
    char key[48];
    snprintf(key, sizeof key, "o/%s", id);
    Imageproc__ProcessJob job = IMAGEPROC__PROCESS_JOB__INIT;
    job.id = (char *)id;
    job.original_key = key;
    job.content_type = (char *)content_type;
    job.ops = ops;
    job.n_ops = nops;
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
    ProtobufCMessage *out = NULL;
    ip_status st = ip_rpc_invoke(app->meta, "MarkEnqueued", &rq.base, &out, NULL, err, errlen);
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return st;
}

/* Best effort: removes o/<id> and anything under v/<id>/. */
static ip_status delete_objects(gw_app *app, const char *id)
{
    char okey[48], prefix[48], err[256];
    snprintf(okey, sizeof okey, "o/%s", id);
    snprintf(prefix, sizeof prefix, "v/%s/", id);
    char *keys[1] = {okey};
    Imageproc__DeleteObjectsRequest rq = IMAGEPROC__DELETE_OBJECTS_REQUEST__INIT;
    rq.keys = keys;
    rq.n_keys = 1;
    rq.prefix = prefix;
    ProtobufCMessage *out = NULL;
    ip_status st = ip_rpc_invoke(app->stor, "DeleteObjects", &rq.base, &out, NULL, err, sizeof err);
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return st;
}

static void undo(gw_app *app, const char *id, bool row)
{
    ip_status st1 = IP_OK, st2;
    char err[256] = "";
    if (row) {
        Imageproc__DeleteImageRequest rq = IMAGEPROC__DELETE_IMAGE_REQUEST__INIT;
        rq.id = (char *)id;
        ProtobufCMessage *out = NULL;
        st1 = ip_rpc_invoke(app->meta, "DeleteImage", &rq.base, &out, NULL, err, sizeof err);
        if (out)
            protobuf_c_message_free_unpacked(out, NULL);
        if (st1 == IP_NOT_FOUND)
            st1 = IP_OK;
    }
    st2 = delete_objects(app, id);
    bool ok = st1 == IP_OK && st2 == IP_OK;
    ip_metric_add(app->m.undo, ok ? "done" : "failed", 1);
    ip_log(ok ? IP_LOG_INFO : IP_LOG_ERROR, ok ? "upload.undone" : "upload.undo_failed",
           IP_LS("image_id", id), IP_LS("row", ip_strerror(st1)),
           IP_LS("objects", ip_strerror(st2)), IP_LS("err", err));
}

ip_status gw_upload_store(gw_app *app, const gw_upload_in *in, gw_upload_out *out, char *detail,
                          size_t dlen)
{
    char err[256] = "";
    ip_status st;
    ip_uuid_v7_str(out->id);
    out->created_at_us = ip_now_us();
    const char *id = out->id;
    char okey[48];
    snprintf(okey, sizeof okey, "o/%s", id);

    char *ops[3];
    size_t nops = 0;
    for (int i = 0; i < 3; i++)
        if (in->ops & (1u << i))
            ops[nops++] = (char *)gw_op_names[i];

    Imageproc__PutObjectRequest put = IMAGEPROC__PUT_OBJECT_REQUEST__INIT;
    put.key = okey;
    put.data.data = (uint8_t *)in->data;
    put.data.len = in->len;
    put.content_type = (char *)in->content_type;
    /* The digest stored with the row doubles as the PUT's payload hash:
     * storage-svc does not hash the bytes again, and S3 checks them against it. */
    char sha[65];
    int64_t t0 = ip_mono_us();
    sha256_hex(in->data, in->len, sha);
    put.content_sha256 = sha;
    ProtobufCMessage *reply = NULL;
    st = ip_rpc_invoke(app->stor, "PutObject", &put.base, &reply, NULL, err, sizeof err);
    if (reply)
        protobuf_c_message_free_unpacked(reply, NULL);
    reply = NULL;
    if (st != IP_OK) {
        snprintf(detail, dlen, "object storage is not available (%s); try again later",
                 ip_strerror(st));
        ip_log(IP_LOG_WARN, "upload.put_failed", IP_LS("image_id", id), IP_LS("err", err));
        undo(app, id, false);
        return IP_UNAVAILABLE;
    }

    int64_t t1 = ip_mono_us();
    out->put_us = t1 - t0;
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    img.id = (char *)id;
    img.created_at_us = out->created_at_us;
    img.updated_at_us = out->created_at_us;
    img.filename = (char *)(in->filename ? in->filename : "");
    img.content_type = (char *)in->content_type;
    img.size_bytes = (int64_t)in->len;
    img.width = in->width;
    img.height = in->height;
    img.sha256 = sha;
    img.ops = ops;
    img.n_ops = nops;
    img.status = IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING;
    img.original_key = okey;
    Imageproc__CreateImageRequest cr = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    cr.image = &img;
    st = ip_rpc_invoke(app->meta, "CreateImage", &cr.base, &reply, NULL, err, sizeof err);
    if (st == IP_OK && reply) {
        Imageproc__CreateImageReply *crr = (Imageproc__CreateImageReply *)reply;
        if (crr->image && crr->image->created_at_us)
            out->created_at_us = crr->image->created_at_us;
    }
    if (reply)
        protobuf_c_message_free_unpacked(reply, NULL);
    reply = NULL;
    if (st != IP_OK) {
        snprintf(detail, dlen, "the metadata service is not available (%s); try again later",
                 ip_strerror(st));
        ip_log(IP_LOG_WARN, "upload.create_failed", IP_LS("image_id", id), IP_LS("err", err));
        /* A create that timed out may still have committed: delete the row too. */
        undo(app, id, true);
        return IP_UNAVAILABLE;
    }

    int64_t t2 = ip_mono_us();
    out->create_us = t2 - t1;
    int64_t enq_at = 0;
    st = enqueue(app, id, in->content_type, ops, nops, 1, &enq_at, err, sizeof err);
    if (st != IP_OK) {
        snprintf(detail, dlen, "the job queue is not available (%s); try again later", err);
        ip_log(IP_LOG_WARN, "upload.enqueue_failed", IP_LS("image_id", id), IP_LS("err", err));
        undo(app, id, true);
        return IP_UNAVAILABLE;
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
    ProtobufCMessage *out = NULL;
    ip_status st = ip_rpc_invoke(app->meta, "ListStale", &rq.base, &out, NULL, err, sizeof err);
    if (st != IP_OK)
        return st;
    Imageproc__ListStaleReply *r = (Imageproc__ListStaleReply *)out;
    for (size_t i = 0; i < r->n_images; i++) {
        Imageproc__Image *img = r->images[i];
        int64_t at = 0;
        st =
            enqueue(app, img->id, img->content_type, img->ops, img->n_ops, 2, &at, err, sizeof err);
        if (st != IP_OK) {
            ip_log(IP_LOG_WARN, "sweep.enqueue_failed", IP_LS("image_id", img->id),
                   IP_LS("err", err));
            break;
        }
        mark_enqueued(app, img->id, at, err, sizeof err);
        ip_log(IP_LOG_INFO, "sweep.requeued", IP_LS("image_id", img->id));
        ip_metric_add(app->m.requeued, NULL, 1);
        (*requeued)++;
    }
    protobuf_c_message_free_unpacked(out, NULL);
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
