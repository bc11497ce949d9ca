/* stor_service.c — `service Storage` over ip_rpc, backed by stor_s3.
 *
 * Every handler follows the same shape: check the request (an invalid key,
 * content type or size is INVALID_ARGUMENT before any I/O), compute the S3
 * budget from the call's deadline (leaving a little time to send the reply),
 * run the S3 call on this worker thread (stor_s3 keeps one kept-alive
 * connection per thread), and fill the reply from per-call memory. A GET's
 * body is read by libcurl straight into the reply message
 * (ip_rpc_call_reply_bytes) when S3 announces its length, so the transport
 * sends it without another copy; any other buffer is handed to the call and
 * freed after the reply is packed. Failures
 * carry stor_s3's message to the caller and are logged with the request id.
 */
#include "stor_service.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ip_log.h"
#include "ip_time.h"
#include "stor_s3_text.h"

#define REPLY_MARGIN_MS 25   /* time kept back from the deadline for the reply */
#define HEADER_VALUE_MAX 255 /* content type and cache control */
#define ERR_MAX 512          /* room for stor_s3's one-line reason */

/* The S3 budget for a call: its remaining time less the margin; 0 (the
 * client's default) when the caller set no deadline. */
static int64_t budget_of(ip_rpc_call *call)
{
    if (ip_rpc_call_deadline_ms(call) <= 0)
        return 0;
    int64_t left = ip_rpc_call_remaining_ms(call) - REPLY_MARGIN_MS;
    return left > 1 ? left : 1;
}

static ip_status check_key(ip_rpc_call *call, const char *what, const char *key)
{
    const char *why = NULL;
    if (stor_key_check(key, &why) != IP_OK) {
        ip_rpc_call_errorf(call, "%s: %s", what, why);
        return IP_INVALID_ARGUMENT;
    }
    return IP_OK;
}

static ip_status fail(ip_rpc_call *call, ip_status st, const char *key, const char *err)
{
    ip_rpc_call_errorf(call, "%s", err[0] ? err : ip_strerror(st));
    /* The transport logs every failed call (rpc.failed); this adds the key. */
    ip_log(IP_LOG_DEBUG, "storage.call_failed", IP_LS("method", ip_rpc_call_method(call)),
           IP_LS("request_id", ip_rpc_call_request_id(call)), IP_LS("key", key),
           IP_LS("status", ip_strerror(st)), IP_LS("err", err));
    return st;
}

static Imageproc__ObjectInfo *info_new(ip_rpc_call *call, const char *key, const stor_obj_info *oi)
{
    Imageproc__ObjectInfo *info = ip_rpc_call_alloc(call, sizeof *info);
    if (!info)
        return NULL;
    imageproc__object_info__init(info);
    info->key = ip_rpc_call_strdup(call, key);
    info->size_bytes = oi->size;
    info->content_type = ip_rpc_call_strdup(call, oi->content_type);
    info->etag = ip_rpc_call_strdup(call, oi->etag);
    if (!info->key || !info->content_type || !info->etag)
        return NULL;
    return info;
}

/* "" (or NULL), or exactly 64 lowercase hex digits. */
static bool sha256_hex_ok(const char *s)
{
    if (!s || !s[0])
        return true;
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')) || n >= 64)
            return false;
    return n == 64;
}

static ip_status oom(ip_rpc_call *call)
{
    ip_rpc_call_errorf(call, "out of memory");
    return IP_RESOURCE_EXHAUSTED;
}

/* The common end of PutObject, GetObject and HeadObject: a failed S3 call
 * becomes the error reply; a good one fills *slot with the object's info. */
static ip_status answer_info(ip_rpc_call *call, ip_status st, const char *key, const char *err,
                             const stor_obj_info *oi, Imageproc__ObjectInfo **slot)
{
    if (st != IP_OK)
        return fail(call, st, key, err);
    if (!(*slot = info_new(call, key, oi)))
        return oom(call);
    return IP_OK;
}

/* PutObject's checks, all before any I/O. */
static ip_status check_put(const stor_service *svc, ip_rpc_call *call,
                           const Imageproc__PutObjectRequest *rq)
{
    ip_status st;
    if ((st = check_key(call, "PutObject", rq->key)) != IP_OK)
        return st;
    if (rq->data.len > svc->upload_max_bytes) {
        ip_rpc_call_errorf(call, "PutObject: %zu bytes is over the upload limit of %zu bytes",
                           rq->data.len, svc->upload_max_bytes);
        return IP_INVALID_ARGUMENT;
    }
    if (!stor_header_value_ok(rq->content_type, HEADER_VALUE_MAX) ||
        !stor_header_value_ok(rq->cache_control, HEADER_VALUE_MAX)) {
        ip_rpc_call_errorf(call, "PutObject: content_type and cache_control must be printable "
                                 "ASCII of at most 255 bytes");
        return IP_INVALID_ARGUMENT;
    }
    if (!sha256_hex_ok(rq->content_sha256)) {
        ip_rpc_call_errorf(call, "PutObject: content_sha256 must be empty or the 64 lowercase hex "
                                 "digits of the data's SHA-256");
        return IP_INVALID_ARGUMENT;
    }
    return IP_OK;
}

static ip_status put_object(void *user, ip_rpc_call *call, const Imageproc__PutObjectRequest *rq,
                            Imageproc__PutObjectReply *rp)
{
    stor_service *svc = user;
    char err[ERR_MAX] = "";
    stor_obj_info oi;
    ip_status st = check_put(svc, call, rq);
    if (st != IP_OK)
        return st;
    st = stor_s3_put_hashed(svc->s3, rq->key, rq->data.data, rq->data.len, rq->content_type,
                            rq->cache_control, rq->content_sha256, &oi, budget_of(call), err,
                            sizeof err);
    return answer_info(call, st, rq->key, err, &oi, &rp->info);
}

/* Where GetObject's body goes: into the reply message itself, so that the
 * bytes S3 sent are never copied again on their way to the caller. */
static void *reply_sink(void *call, size_t n)
{
    return ip_rpc_call_reply_bytes(call, n);
}

/* GetObject: the whole object, or the range [offset, offset + length) when
 * either is set (length 0: to the end); info.size_bytes is always the whole
 * object's size. */
static ip_status get_object(void *user, ip_rpc_call *call, const Imageproc__GetObjectRequest *rq,
                            Imageproc__GetObjectReply *rp)
{
    stor_service *svc = user;
    char err[ERR_MAX] = "";
    stor_obj_info oi;
    void *data = NULL;
    size_t len = 0;
    bool in_reply = false;
    ip_status st = check_key(call, "GetObject", rq->key);
    if (st != IP_OK)
        return st;
    st = stor_s3_get_into(svc->s3, rq->key, rq->offset, rq->length, svc->get_max_bytes, reply_sink,
                          call, &data, &len, &in_reply, &oi, budget_of(call), err, sizeof err);
    if (data && !in_reply)
        ip_rpc_call_defer_free(call, data, free); /* freed after the reply is packed */
    rp->data.data = data;
    rp->data.len = len;
    return answer_info(call, st, rq->key, err, &oi, &rp->info);
}

static ip_status head_object(void *user, ip_rpc_call *call, const Imageproc__HeadObjectRequest *rq,
                             Imageproc__HeadObjectReply *rp)
{
    stor_service *svc = user;
    char err[ERR_MAX] = "";
    stor_obj_info oi;
    ip_status st = check_key(call, "HeadObject", rq->key);
    if (st != IP_OK)
        return st;
    st = stor_s3_head(svc->s3, rq->key, &oi, budget_of(call), err, sizeof err);
    return answer_info(call, st, rq->key, err, &oi, &rp->info);
}

/* DeleteObjects' checks, all before any I/O. */
static ip_status check_delete(ip_rpc_call *call, const Imageproc__DeleteObjectsRequest *rq)
{
    ip_status st;
    for (size_t i = 0; i < rq->n_keys; i++)
        if ((st = check_key(call, "DeleteObjects key", rq->keys[i])) != IP_OK)
            return st;
    const char *why = NULL;
    if (rq->prefix && rq->prefix[0] && stor_prefix_check(rq->prefix, &why) != IP_OK) {
        ip_rpc_call_errorf(call, "DeleteObjects prefix: %s", why);
        return IP_INVALID_ARGUMENT;
    }
    return IP_OK;
}

static ip_status delete_objects(void *user, ip_rpc_call *call,
                                const Imageproc__DeleteObjectsRequest *rq,
                                Imageproc__DeleteObjectsReply *rp)
{
    stor_service *svc = user;
    char err[ERR_MAX] = "";
    int64_t by_key = 0, by_prefix = 0;
    ip_status st = check_delete(call, rq);
    if (st != IP_OK)
        return st;

    bool has_prefix = rq->prefix && rq->prefix[0];
    int64_t t0 = ip_mono_ms();
    if (rq->n_keys > 0) {
        st = stor_s3_delete_keys(svc->s3, (const char *const *)rq->keys, rq->n_keys, &by_key,
                                 budget_of(call), err, sizeof err);
        if (st != IP_OK)
            return fail(call, st, rq->keys[0], err);
    }
    if (has_prefix) {
        st = stor_s3_delete_prefix(svc->s3, rq->prefix, &by_prefix, budget_of(call), err,
                                   sizeof err);
        if (st != IP_OK)
            return fail(call, st, rq->prefix, err);
    }
    int64_t total = by_key + by_prefix;
    rp->deleted = total > INT32_MAX ? INT32_MAX : (int32_t)total;
    ip_log(IP_LOG_INFO, "storage.deleted", IP_LS("request_id", ip_rpc_call_request_id(call)),
           IP_LI("keys", rq->n_keys), IP_LS("prefix", has_prefix ? rq->prefix : ""),
           IP_LI("deleted", total), IP_LI("ms", ip_mono_ms() - t0));
    return IP_OK;
}

ip_status stor_service_serve(stor_service *svc, const ip_rpc_server_opts *opts, ip_rpc_server **out)
{
    svc->impl = (ip_storage_impl){
        .user = svc,
        .put_object = put_object,
        .get_object = get_object,
        .head_object = head_object,
        .delete_objects = delete_objects,
    };
    return ip_storage_server_new(&svc->impl, opts, out);
}
