/* imgctl_requeue.c — one failed image back on the queue (`imgctl retry`, and
 * each image of `imgctl dlq replay`).
 *
 * ORDER. First the checks that change nothing: GetImage, to say plainly why
 * nothing is done for an image that is pending, processing or ready (or
 * gone), and a metadata request for IP_KAFKA_TOPIC, so that a Kafka that is
 * down fails the command before the row changes. Then:
 *   1. RetryImage: metadata-svc turns the failed row pending (error cleared,
 *      runs 0, failed variants pending, enqueued_at cleared); it refuses
 *      (FAILED_PRECONDITION) when the row is no longer failed, so two replays
 *      at once requeue an image once;
 *   2. a fresh ProcessJob from the row that RetryImage returned: attempt 1,
 *      the requested variants, the original's key and type, enqueued_at now;
 *      produced to IP_KAFKA_TOPIC keyed by the image id, and acknowledged
 *      (acks=all, idempotent). The key picks the partition, the same one the
 *      gateway's job of that image went to, so jobs of one image stay in order;
 *   3. MarkEnqueued with the time of the acknowledgement.
 * A stop after 1 (Kafka went away in between, or imgctl was killed) leaves
 * the image pending and never enqueued: the gateway's sweep enqueues such
 * rows (IP_GATEWAY_SWEEP_AGE_MS), so nothing is lost. A failed 3 leaves a job
 * on the queue and the row without enqueued_at: the sweep may enqueue it once
 * more, which is harmless (reprocessing writes the same keys and rows). Both
 * are said on stderr; only a failure up to 2 fails the command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgctl_internal.h"
#include "ip_job.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "job.pb-c.h"
#include "metadata.pb-c.h"

ip_status imgctl_requeue_init(imgctl_requeue *rq, const imgctl_env *env)
{
    memset(rq, 0, sizeof *rq);
    rq->env = env;
    rq->meta = imgctl_client(env, &imageproc__metadata__descriptor, env->metadata_url);
    return rq->meta != NULL ? IP_OK : IP_INVALID_ARGUMENT;
}

void imgctl_requeue_fini(imgctl_requeue *rq)
{
    imgctl_producer_free(rq->producer);
    ip_rpc_client_free(rq->meta);
    rq->producer = NULL;
    rq->meta = NULL;
}

static const char *status_word(Imageproc__ImageStatus s)
{
    switch (s) {
    case IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING:
        return "pending";
    case IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING:
        return "processing";
    case IMAGEPROC__IMAGE_STATUS__IMAGE_READY:
        return "ready";
    case IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED:
        return "failed";
    default:
        return "of no known status";
    }
}

/* A refusal: IMGCTL_FAILED on stderr when the image had to be failed,
 * else IMGCTL_SKIPPED on stdout. */
static imgctl_requeue_result refuse(const char *id, bool must_be_failed, const char *why)
{
    if (must_be_failed) {
        fprintf(stderr, "imgctl: %s: %s: nothing to retry\n", id, why);
        return IMGCTL_FAILED;
    }
    printf("%s: skipped: %s\n", id, why);
    return IMGCTL_SKIPPED;
}

/* The image's state before anything changes: IMGCTL_REQUEUED means "failed,
 * go on". */
static imgctl_requeue_result check_failed(imgctl_requeue *rq, const char *id, bool must_be_failed)
{
    char err[512], why[160];
    Imageproc__GetImageRequest in = IMAGEPROC__GET_IMAGE_REQUEST__INIT;
    in.id = (char *)id;
    Imageproc__GetImageReply *out = NULL;
    ip_status st = ip_metadata_get_image(rq->meta, &in, &out, NULL, err, sizeof err);
    if (st == IP_NOT_FOUND)
        return refuse(id, must_be_failed, "no such image (deleted?)");
    if (st != IP_OK) {
        fprintf(stderr, "imgctl: %s: GetImage: %s: %s\n", id, ip_strerror(st), err);
        return IMGCTL_FAILED;
    }
    imgctl_requeue_result r = IMGCTL_REQUEUED;
    Imageproc__ImageStatus s = out->image != NULL ? out->image->status : 0;
    if (s != IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED) {
        snprintf(why, sizeof why, must_be_failed ? "the image is %s, not failed" : "already %s",
                 status_word(s));
        r = refuse(id, must_be_failed, why);
    }
    imageproc__get_image_reply__free_unpacked(out, NULL);
    return r;
}

/* Whether the job topic can take a job now (the producer is made at the
 * first call). Said on stderr when not. */
static bool kafka_ready(imgctl_requeue *rq, const char *id)
{
    const imgctl_env *env = rq->env;
    char err[512];
    ip_status st = IP_OK;
    if (rq->producer == NULL)
        st = imgctl_producer_new(env->cfg->kafka_brokers, env->kafka_timeout_ms, &rq->producer, err,
                                 sizeof err);
    if (st == IP_OK)
        st = imgctl_producer_check_topic(rq->producer, env->cfg->kafka_topic, err, sizeof err);
    if (st != IP_OK)
        fprintf(stderr, "imgctl: %s: Kafka at %s cannot take the job (%s: %s); nothing changed\n",
                id, env->cfg->kafka_brokers, ip_strerror(st), err);
    return st == IP_OK;
}

/* Step 2: the job of `img` on the queue; *enqueued_at is when Kafka took it. */
static ip_status produce_job(imgctl_requeue *rq, const Imageproc__Image *img, int64_t *enqueued_at,
                             int32_t *partition, int64_t *offset, char *err, size_t errlen)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    ip_status st = ip_job_pack(img->id, img->original_key, img->content_type, img->requested,
                               img->n_requested, 1, &buf, &n, err, errlen);
    if (st != IP_OK)
        return st;
    st = imgctl_produce(rq->producer, rq->env->cfg->kafka_topic, img->id, buf, n, partition, offset,
                        err, errlen);
    free(buf);
    *enqueued_at = ip_now_us();
    return st;
}

/* Step 3; a failure is said and is not the command's failure (see above). */
static void mark_enqueued(imgctl_requeue *rq, const char *id, int64_t at)
{
    char err[512];
    Imageproc__MarkEnqueuedRequest in = IMAGEPROC__MARK_ENQUEUED_REQUEST__INIT;
    in.id = (char *)id;
    in.enqueued_at_us = at;
    Imageproc__MarkEnqueuedReply *out = NULL;
    ip_status st = ip_metadata_mark_enqueued(rq->meta, &in, &out, NULL, err, sizeof err);
    if (st != IP_OK)
        fprintf(stderr,
                "imgctl: %s: the job is on the queue, but MarkEnqueued failed (%s: %s); "
                "the sweep may enqueue it once more, which is harmless\n",
                id, ip_strerror(st), err);
    if (out != NULL)
        imageproc__mark_enqueued_reply__free_unpacked(out, NULL);
}

imgctl_requeue_result imgctl_requeue_image(imgctl_requeue *rq, const char *id, bool must_be_failed)
{
    imgctl_requeue_result r = check_failed(rq, id, must_be_failed);
    if (r != IMGCTL_REQUEUED)
        return r;
    if (!kafka_ready(rq, id))
        return IMGCTL_FAILED;

    char err[512];
    Imageproc__RetryImageRequest in = IMAGEPROC__RETRY_IMAGE_REQUEST__INIT;
    in.id = (char *)id;
    Imageproc__RetryImageReply *out = NULL;
    ip_status st = ip_metadata_retry_image(rq->meta, &in, &out, NULL, err, sizeof err);
    if (st == IP_FAILED_PRECONDITION || st == IP_NOT_FOUND) /* changed since GetImage */
        return refuse(id, must_be_failed, err);
    if (st != IP_OK || out->image == NULL) {
        fprintf(stderr, "imgctl: %s: RetryImage: %s: %s\n", id, ip_strerror(st),
                st != IP_OK ? err : "no image in the reply");
        if (out != NULL)
            imageproc__retry_image_reply__free_unpacked(out, NULL);
        return IMGCTL_FAILED;
    }

    int64_t at = 0, offset = 0;
    int32_t partition = 0;
    st = produce_job(rq, out->image, &at, &partition, &offset, err, sizeof err);
    imageproc__retry_image_reply__free_unpacked(out, NULL);
    if (st != IP_OK) {
        fprintf(stderr,
                "imgctl: %s: the image is pending again, but its job was not enqueued (%s: %s); "
                "the gateway's sweep will enqueue it\n",
                id, ip_strerror(st), err);
        return IMGCTL_FAILED;
    }
    mark_enqueued(rq, id, at);
    printf("%s: requeued: job attempt 1 on %s, partition %d, offset %lld\n", id,
           rq->env->cfg->kafka_topic, (int)partition, (long long)offset);
    return IMGCTL_REQUEUED;
}

int imgctl_cmd_retry(const imgctl_env *env, const char *id)
{
    if (!ip_uuid_valid(id)) {
        fprintf(stderr, "imgctl: retry takes an image id (a UUID), not \"%s\"\n", id);
        return IMGCTL_EXIT_USAGE;
    }
    imgctl_requeue rq;
    if (imgctl_requeue_init(&rq, env) != IP_OK)
        return IMGCTL_EXIT_USAGE;
    imgctl_requeue_result r = imgctl_requeue_image(&rq, id, true);
    imgctl_requeue_fini(&rq);
    return r == IMGCTL_REQUEUED ? IMGCTL_EXIT_OK : IMGCTL_EXIT_FAILED;
}
