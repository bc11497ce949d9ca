/* proc_job.c — one ProcessJob against metadata-svc and storage-svc.
 *
 * HOW IT WORKS
 * MarkProcessing tells metadata-svc the image is being worked on and answers
 * with the row, whose ops are the truth about which variants to make (the
 * job's ops are used only if the row has none). An image already ready is a
 * redelivered job whose outcome was recorded: nothing more is done. The
 * original is fetched, the variants are made in one decode
 * (proc_variants.c), each is stored at v/<id>/<variant>.<ext> with a
 * long-lived Cache-Control, then recorded with PutVariant, and FinishImage
 * closes the image. All of these calls are idempotent, so running a job again
 * gives the same keys and the same rows.
 *
 * FAILURES
 * Each RPC status is classified once (classify): UNAVAILABLE,
 * DEADLINE_EXCEEDED and INTERNAL are transient (the consumer retries the job
 * with backoff, then sends it to the DLQ); NOT_FOUND from metadata-svc means
 * the image was deleted meanwhile, so whatever this job stored under
 * v/<id>/ is deleted and the job ends; anything else, and every decode
 * failure, is permanent and recorded at once with FailImage and the reason.
 */
#include "proc_job.h"

#include <stdio.h>
#include <string.h>

#include "image.pb-c.h"
#include "ip_log.h"
#include "ip_uuid.h"
#include "metadata.pb-c.h"
#include "storage.pb-c.h"

static const char *const outcome_names[PROC_JOB_OUTCOME_COUNT] = {
    [PROC_JOB_READY] = "ready",         [PROC_JOB_FAILED] = "failed",
    [PROC_JOB_DELETED] = "deleted",     [PROC_JOB_INVALID] = "invalid",
    [PROC_JOB_TRANSIENT] = "transient",
};

const char *proc_outcome_name(proc_outcome o)
{
    return (unsigned)o < PROC_JOB_OUTCOME_COUNT ? outcome_names[o] : "unknown";
}

typedef enum rpc_class { RPC_OK, RPC_GONE, RPC_TRANSIENT, RPC_PERMANENT } rpc_class;

static rpc_class classify(ip_status st)
{
    switch (st) {
    case IP_OK:
        return RPC_OK;
    case IP_NOT_FOUND:
        return RPC_GONE;
    case IP_UNAVAILABLE:
    case IP_DEADLINE_EXCEEDED:
    case IP_INTERNAL:
        return RPC_TRANSIENT;
    default:
        return RPC_PERMANENT;
    }
}

/* ip_rpc_invoke with the failure written as "<method>: <status>: <message>". */
static ip_status call(ip_rpc_client *c, const char *method, const ProtobufCMessage *in,
                      ProtobufCMessage **out, char *err, size_t errlen)
{
    char msg[384] = "";
    *out = NULL;
    ip_status st = ip_rpc_invoke(c, method, in, out, NULL, msg, sizeof(msg));
    if (st != IP_OK && err && errlen)
        snprintf(err, errlen, "%s: %s: %s", method, ip_strerror(st), msg);
    return st;
}

static void msg_free(ProtobufCMessage *m)
{
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

/* The image is gone: removes every object under v/<id>/ (this job's and any
 * earlier attempt's). */
static proc_outcome remove_written(const proc_job_ctx *ctx, const char *id, char *err,
                                   size_t errlen)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "v/%s/", id);
    Imageproc__DeleteObjectsRequest req = IMAGEPROC__DELETE_OBJECTS_REQUEST__INIT;
    req.prefix = prefix;
    ProtobufCMessage *rep = NULL;
    char e[512];
    ip_status st = call(ctx->stor, "DeleteObjects", &req.base, &rep, e, sizeof(e));
    int deleted = st == IP_OK ? ((Imageproc__DeleteObjectsReply *)rep)->deleted : 0;
    msg_free(rep);
    if (st != IP_OK) {
        snprintf(err, errlen, "image deleted; removing its variants: %s", e);
        return classify(st) == RPC_TRANSIENT ? PROC_JOB_TRANSIENT : PROC_JOB_DELETED;
    }
    ip_log(IP_LOG_INFO, "job.deleted_meanwhile", IP_LS("image_id", id),
           IP_LI("objects_removed", deleted));
    snprintf(err, errlen, "image deleted meanwhile");
    return PROC_JOB_DELETED;
}

proc_outcome proc_job_fail_image(const proc_job_ctx *ctx, const char *id, const char *reason,
                                 char *err, size_t errlen)
{
    Imageproc__FailImageRequest req = IMAGEPROC__FAIL_IMAGE_REQUEST__INIT;
    req.id = (char *)id;
    req.error = (char *)reason;
    ProtobufCMessage *rep = NULL;
    char e[512];
    ip_status st = call(ctx->meta, "FailImage", &req.base, &rep, e, sizeof(e));
    msg_free(rep);
    switch (classify(st)) {
    case RPC_OK:
        snprintf(err, errlen, "%s", reason);
        return PROC_JOB_FAILED;
    case RPC_GONE:
        return remove_written(ctx, id, err, errlen);
    case RPC_TRANSIENT:
        snprintf(err, errlen, "%s", e);
        return PROC_JOB_TRANSIENT;
    default:
        /* metadata-svc refuses to record it; nothing more this job can do. */
        ip_log(IP_LOG_ERROR, "job.fail_not_recorded", IP_LS("image_id", id),
               IP_LS("reason", reason), IP_LS("err", e));
        snprintf(err, errlen, "%s (not recorded: %s)", reason, e);
        return PROC_JOB_FAILED;
    }
}

/* The outcome of a failed metadata/storage call in the middle of a job. */
static proc_outcome after_error(const proc_job_ctx *ctx, const char *id, ip_status st,
                                const char *e, bool metadata_call, char *err, size_t errlen)
{
    switch (classify(st)) {
    case RPC_GONE:
        if (metadata_call)
            return remove_written(ctx, id, err, errlen);
        /* storage NOT_FOUND (the original is missing): a permanent failure */
        return proc_job_fail_image(ctx, id, e, err, errlen);
    case RPC_TRANSIENT:
        snprintf(err, errlen, "%s", e);
        return PROC_JOB_TRANSIENT;
    default:
        return proc_job_fail_image(ctx, id, e, err, errlen);
    }
}

/* The ops mask from the row's ops, else the job's. Unknown names are
 * reported in `bad`. */
static unsigned ops_mask(char **ops, size_t n, char *bad, size_t badlen)
{
    unsigned mask = 0;
    for (size_t i = 0; i < n; i++) {
        proc_op op;
        if (proc_op_parse(ops[i], &op))
            mask |= PROC_OP_BIT(op);
        else if (bad[0] == '\0')
            snprintf(bad, badlen, "unknown variant \"%s\"", ops[i]);
    }
    return mask;
}

proc_outcome proc_job_run(const proc_job_ctx *ctx, const Imageproc__ProcessJob *job, char *err,
                          size_t errlen)
{
    err[0] = '\0';
    const char *id = job->id;
    if (!ip_uuid_valid(id)) {
        snprintf(err, errlen, "job id \"%.40s\" is not a UUID", id ? id : "");
        return PROC_JOB_INVALID;
    }
    proc_outcome out = PROC_JOB_TRANSIENT;
    ProtobufCMessage *mark = NULL, *obj = NULL;
    proc_variants vars = {0};
    char e[512] = "";

    /* 1. MarkProcessing: the row, its ops and its status. */
    Imageproc__MarkProcessingRequest mreq = IMAGEPROC__MARK_PROCESSING_REQUEST__INIT;
    mreq.id = (char *)id;
    ip_status st = call(ctx->meta, "MarkProcessing", &mreq.base, &mark, e, sizeof(e));
    if (st != IP_OK) {
        out = after_error(ctx, id, st, e, true, err, errlen);
        goto done;
    }
    const Imageproc__Image *img = ((Imageproc__MarkProcessingReply *)mark)->image;
    if (img && img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY) {
        ip_log(IP_LOG_INFO, "job.already_ready", IP_LS("image_id", id));
        out = PROC_JOB_READY;
        goto done;
    }
    char bad[128] = "";
    unsigned mask = img && img->n_ops ? ops_mask(img->ops, img->n_ops, bad, sizeof(bad))
                                      : ops_mask(job->ops, job->n_ops, bad, sizeof(bad));
    if (bad[0] || mask == 0) {
        out = proc_job_fail_image(ctx, id, bad[0] ? bad : "no variants requested", err, errlen);
        goto done;
    }

    /* 2. The original. */
    char okey[64];
    const char *key = job->original_key && job->original_key[0] ? job->original_key : NULL;
    if (!key && img && img->original_key && img->original_key[0])
        key = img->original_key;
    if (!key) {
        snprintf(okey, sizeof(okey), "o/%s", id);
        key = okey;
    }
    Imageproc__GetObjectRequest greq = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
    greq.key = (char *)key;
    st = call(ctx->stor, "GetObject", &greq.base, &obj, e, sizeof(e));
    if (st != IP_OK) {
        out = after_error(ctx, id, st, e, false, err, errlen);
        goto done;
    }

    /* 3. The variants, from one decode. */
    const ProtobufCBinaryData *data = &((Imageproc__GetObjectReply *)obj)->data;
    char reason[512];
    st = proc_variants_make(data->data, data->len, mask, ctx->settings, &vars, reason,
                            sizeof(reason));
    msg_free(obj);
    obj = NULL;
    if (st != IP_OK) {
        ip_log(IP_LOG_WARN, "job.decode_failed", IP_LS("image_id", id),
               IP_LS("status", ip_strerror(st)), IP_LS("err", reason));
        out = proc_job_fail_image(ctx, id, reason, err, errlen);
        goto done;
    }

    /* 4. Store every variant, then 5. record them: a row never names an
     * object that is not there. */
    char keys[PROC_OP_COUNT][96];
    for (int i = 0; i < vars.n; i++) {
        proc_variant *v = &vars.v[i];
        snprintf(keys[i], sizeof(keys[i]), "v/%s/%s.%s", id, proc_op_name(v->op), v->ext);
        Imageproc__PutObjectRequest preq = IMAGEPROC__PUT_OBJECT_REQUEST__INIT;
        preq.key = keys[i];
        preq.data.data = v->data;
        preq.data.len = v->len;
        preq.content_type = (char *)v->content_type;
        preq.cache_control = (char *)PROC_CACHE_CONTROL;
        ProtobufCMessage *rep = NULL;
        st = call(ctx->stor, "PutObject", &preq.base, &rep, e, sizeof(e));
        msg_free(rep);
        if (st != IP_OK) {
            out = after_error(ctx, id, st, e, false, err, errlen);
            goto done;
        }
    }
    for (int i = 0; i < vars.n; i++) {
        proc_variant *v = &vars.v[i];
        Imageproc__Variant var = IMAGEPROC__VARIANT__INIT;
        var.name = (char *)proc_op_name(v->op);
        var.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
        var.object_key = keys[i];
        var.width = v->width;
        var.height = v->height;
        var.size_bytes = (int64_t)v->len;
        var.format = (char *)v->format;
        Imageproc__PutVariantRequest vreq = IMAGEPROC__PUT_VARIANT_REQUEST__INIT;
        vreq.image_id = (char *)id;
        vreq.variant = &var;
        ProtobufCMessage *rep = NULL;
        st = call(ctx->meta, "PutVariant", &vreq.base, &rep, e, sizeof(e));
        msg_free(rep);
        if (st != IP_OK) {
            out = after_error(ctx, id, st, e, true, err, errlen);
            goto done;
        }
    }

    /* 6. Close the image. */
    Imageproc__FinishImageRequest freq = IMAGEPROC__FINISH_IMAGE_REQUEST__INIT;
    freq.id = (char *)id;
    ProtobufCMessage *frep = NULL;
    st = call(ctx->meta, "FinishImage", &freq.base, &frep, e, sizeof(e));
    if (st != IP_OK) {
        msg_free(frep);
        out = after_error(ctx, id, st, e, true, err, errlen);
        goto done;
    }
    const Imageproc__Image *fin = ((Imageproc__FinishImageReply *)frep)->image;
    out = PROC_JOB_READY;
    if (fin && fin->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED) {
        snprintf(err, errlen, "%s", fin->error ? fin->error : "failed");
        out = PROC_JOB_FAILED;
    }
    msg_free(frep);

done:
    proc_variants_fini(&vars);
    msg_free(obj);
    msg_free(mark);
    return out;
}
