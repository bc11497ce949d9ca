/* meta_service.c — the Metadata RPC handlers and the ordering of events.
 *
 * The handlers are those of the typed server generated from the .proto
 * (ip_metadata_impl, ip_rpc_stubs.h): each gets its own request and reply
 * types. Each checks its request, canonicalises the image id, calls the
 * store, and fills the reply from the store's results (allocated from the
 * call's memory, released after the reply is sent: nothing is freed by hand).
 * The writes whose reply is the image (MarkProcessing, FinishImage,
 * FailImage, MarkEnqueued, RetryImage) share one path, write_image.
 * FinishImage may carry the variants: each that changed is published as
 * PutVariant publishes it, in the order given, then the image's status; a
 * regeneration's FinishImage publishes the image (ready) once. MarkProcessing
 * replies with the presets in force too. CreateImage publishes only a row it
 * made: a duplicate or a replayed idempotency record wrote nothing. The
 * sweep (ListStale) and the purges (ClaimPurges, FinishPurge) publish no
 * events: they change no image's status; nor do the API keys, the presets
 * and ListRegenerate, whose handlers are in meta_service_admin.c.
 *
 * ORDERING OF EVENTS
 * An event must leave in the order its change committed, per image. Two
 * writers of one image are serialised by PostgreSQL's row lock, but the lock
 * is released at COMMIT, before either thread publishes, so the later commit
 * could be published first. Each write therefore runs under an in-process
 * mutex chosen by the image id (one of META_STRIPES, by a hash of the id's
 * bytes) from before its transaction begins until its event is sent. Writers
 * of one image in this process thus commit and publish one at a time; writers
 * of different images rarely share a stripe. The stripe is always taken
 * before a pool connection, never while holding one, so the two cannot
 * deadlock. (Several metadata-svc processes each order their own writes;
 * a subscriber of several publishers sees each one's order.)
 */
#include "meta_service.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <events.pb-c.h>
#include <metadata.pb-c.h>

#include "ip_keys.h"
#include "ip_log.h"
#include "ip_rpc.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "ip_variants.h"
#include "meta_events.h"
#include "meta_service_internal.h"
#include "meta_validate.h"

#define META_MAX_WAIT_MS 10000 /* longest wait for a connection when a call has no deadline */

/* ------------------------------------------------------------- helpers */

static void *call_alloc(void *arena, size_t n)
{
    return ip_rpc_call_alloc(arena, n);
}

/* Sets up the store context for one call; IP_DEADLINE_EXCEEDED when no time is left. */
ip_status meta_svc_ctx_init(meta_ctx *cx, ip_rpc_call *call)
{
    memset(cx, 0, sizeof(*cx));
    cx->alloc = call_alloc;
    cx->arena = call;
    int64_t left = ip_rpc_call_remaining_ms(call);
    if (left <= 0) {
        ip_rpc_call_errorf(call, "deadline passed before the call started");
        return IP_DEADLINE_EXCEEDED;
    }
    cx->timeout_ms = left > META_MAX_WAIT_MS ? META_MAX_WAIT_MS : (int)left;
    cx->deadline_ms = ip_mono_ms() + cx->timeout_ms;
    return IP_OK;
}

/* Reports a failed call: the message to the caller, and a log line for the
 * failures that are ours or the database's (transient ones, bugs, exhaustion),
 * not for a caller's bad or stale request. */
ip_status meta_svc_fail(ip_rpc_call *call, ip_status st, const char *msg, const char *image_id)
{
    ip_rpc_call_errorf(call, "%s", msg);
    if (ip_status_is_transient(st) || st == IP_INTERNAL || st == IP_RESOURCE_EXHAUSTED)
        ip_log(st == IP_INTERNAL ? IP_LOG_ERROR : IP_LOG_WARN, "rpc.failed",
               IP_LS("method", ip_rpc_call_method(call)), IP_LS("image_id", image_id),
               IP_LS("request_id", ip_rpc_call_request_id(call)), IP_LS("code", ip_strerror(st)),
               IP_LS("err", msg));
    return st;
}

/* Checks an id field and writes its canonical lowercase form into out. */
ip_status meta_svc_canon_id(ip_rpc_call *call, const char *id, const char *field,
                            char out[IP_UUID_STRLEN + 1], ip_uuid *u)
{
    char err[128];
    ip_status st = meta_check_id(id, field, err, sizeof(err));
    if (st != IP_OK)
        return meta_svc_fail(call, st, err, NULL);
    ip_uuid_parse(id, u);
    ip_uuid_format(u, out);
    return IP_OK;
}

static pthread_mutex_t *stripe_of(meta_service *svc, const ip_uuid *u)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ u->b[i]) * 16777619u;
    return &svc->stripes[h % META_STRIPES];
}

static void publish(meta_service *svc, const char *id, Imageproc__ImageStatus status,
                    ip_variant_kind variant, Imageproc__VariantStatus vstatus, int64_t at_us,
                    const char *error, bool deleted)
{
    Imageproc__StatusEvent e = IMAGEPROC__STATUS_EVENT__INIT;
    e.id = (char *)id;
    e.status = status;
    e.variant_kind = variant;
    e.variant_status = vstatus;
    e.at_us = at_us;
    e.error = (char *)(error ? error : "");
    e.deleted = deleted;
    meta_events_publish(svc->events, &e);
}

static void publish_image(meta_service *svc, const Imageproc__Image *img)
{
    publish(svc, img->id, img->status, IP_VARIANT_NONE,
            IMAGEPROC__VARIANT_STATUS__VARIANT_STATUS_UNSPECIFIED, img->updated_at_us, img->error,
            false);
}

/* The writes whose reply is the image row and whose event is the row's status. */
typedef enum image_write {
    WRITE_PROCESSING, /* MarkProcessing */
    WRITE_FINISH,     /* FinishImage */
    WRITE_FAIL,       /* FailImage */
    WRITE_ENQUEUED,   /* MarkEnqueued */
    WRITE_RETRY,      /* RetryImage */
} image_write;

/* What a write reads from its request beside the id. */
typedef struct write_args {
    const char *error;            /* FailImage: the reason */
    int64_t enqueued_at_us;       /* MarkEnqueued: when Kafka acknowledged */
    bool requeue;                 /* MarkEnqueued: a sweep's re-enqueue */
    int64_t lease_ms;             /* MarkProcessing: the lease */
    bool new_delivery;            /* MarkProcessing: counts a run */
    bool regenerate;              /* MarkProcessing, FinishImage: a regeneration of a ready image */
    meta_finish_req finish;       /* FinishImage: recorded before the close */
    meta_variant_change *changes; /* FinishImage: one per variant, for their events */
} write_args;

/* The write's own fields (`id` canonical); IP_OK or INVALID_ARGUMENT with the
 * message in err. */
static ip_status check_write(image_write w, const char *id, const write_args *a, char *err,
                             size_t errlen)
{
    ip_status st;
    if (w == WRITE_FAIL)
        return meta_check_text(a->error, "error", err, errlen);
    if (w == WRITE_PROCESSING)
        return meta_check_lease(a->lease_ms, err, errlen);
    if (w == WRITE_FINISH) {
        const meta_finish_req *f = &a->finish;
        if ((st = meta_check_finish(id, f->variants, f->n_variants, f->regenerate, err, errlen)) !=
            IP_OK)
            return st;
        return meta_check_placeholder(f->thumbhash, f->dominant_color, err, errlen);
    }
    if (w == WRITE_ENQUEUED && (a->enqueued_at_us < 0 || a->enqueued_at_us > META_MAX_US)) {
        snprintf(err, errlen, "enqueued_at_us: out of range");
        return IP_INVALID_ARGUMENT;
    }
    return IP_OK;
}

/* Runs the write in the store. *changed: the row's status changed, or (for
 * MarkEnqueued, every acknowledgement of which is published) the write
 * happened. */
static ip_status run_write(meta_service *svc, meta_ctx *cx, image_write w, const char *id,
                           const write_args *a, Imageproc__Image **image, bool *changed)
{
    ip_status st;
    bool requeued = false;
    switch (w) {
    case WRITE_PROCESSING:
        return meta_store_mark_processing(svc->store, cx, id, a->lease_ms, a->new_delivery,
                                          a->regenerate, image, changed);
    case WRITE_FINISH:
        return meta_store_finish(svc->store, cx, id, &a->finish, a->changes, image, changed);
    case WRITE_FAIL:
        return meta_store_fail(svc->store, cx, id, a->error, image, changed);
    case WRITE_ENQUEUED:
        st = meta_store_mark_enqueued(svc->store, cx, id, a->enqueued_at_us, a->requeue, image,
                                      &requeued);
        *changed = st == IP_OK;
        if (requeued)
            ip_log(IP_LOG_INFO, "image.requeued", IP_LS("image_id", id));
        return st;
    case WRITE_RETRY:
        st = meta_store_retry(svc->store, cx, id, image);
        *changed = st == IP_OK;
        if (st == IP_OK)
            ip_log(IP_LOG_INFO, "image.retried", IP_LS("image_id", id));
        return st;
    }
    snprintf(cx->err, sizeof(cx->err), "unknown write %d", (int)w);
    return IP_INTERNAL;
}

/* Checks the request (the id, then the write's own fields), runs the write
 * under the image's stripe and publishes the row while still holding it: after
 * a change of status, and after every acknowledgement for MarkEnqueued.
 * *image is allocated from the call. */
static ip_status write_image(meta_service *svc, ip_rpc_call *call, image_write w,
                             const char *raw_id, const write_args *a, Imageproc__Image **image)
{
    char id[IP_UUID_STRLEN + 1], err[256];
    ip_uuid u;
    meta_ctx cx;
    ip_status st;
    bool changed = false;
    if ((st = meta_svc_canon_id(call, raw_id, "id", id, &u)) != IP_OK)
        return st;
    if ((st = check_write(w, id, a, err, sizeof(err))) != IP_OK)
        return meta_svc_fail(call, st, err, id);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    pthread_mutex_t *mu = stripe_of(svc, &u);
    pthread_mutex_lock(mu);
    st = run_write(svc, &cx, w, id, a, image, &changed);
    for (size_t i = 0; st == IP_OK && w == WRITE_FINISH && i < a->finish.n_variants; i++) {
        const meta_variant_change *c = &a->changes[i];
        if (c->changed)
            publish(svc, id, c->image_status, c->kind, c->status, c->at_us, c->error, false);
    }
    if (st == IP_OK && changed)
        publish_image(svc, *image);
    pthread_mutex_unlock(mu);
    return st == IP_OK ? IP_OK : meta_svc_fail(call, st, cx.err, id);
}

/* ------------------------------------------------------------- handlers */

/* CreateImage: a new row is published; a duplicate (existing) or a replayed
 * idempotency record wrote nothing and publishes nothing. The key's id (and
 * the record's scope, which equals it) reach the store in canonical form. */
static ip_status h_create_image(void *user, ip_rpc_call *call,
                                const Imageproc__CreateImageRequest *req,
                                Imageproc__CreateImageReply *rep)
{
    meta_service *svc = user;
    char err[160], id[IP_UUID_STRLEN + 1], key_id[IP_UUID_STRLEN + 1] = "";
    unsigned requested = 0;
    ip_uuid u, k;
    meta_ctx cx;
    ip_status st = meta_check_create_request(req, &requested, err, sizeof(err));
    if (st != IP_OK)
        return meta_svc_fail(call, st, err, NULL);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    ip_uuid_parse(req->image->id, &u);
    ip_uuid_format(&u, id);
    if (ip_uuid_parse(req->image->key_id, &k))
        ip_uuid_format(&k, key_id);
    Imageproc__Image img = *req->image;
    img.id = id;
    img.key_id = key_id;
    Imageproc__IdempotencyRecord rec = IMAGEPROC__IDEMPOTENCY_RECORD__INIT;
    if (req->idempotency != NULL) {
        rec = *req->idempotency;
        rec.scope = key_id;
    }
    meta_create_req creq = {.image = &img,
                            .requested = requested,
                            .dedupe = req->dedupe,
                            .idempotency = req->idempotency != NULL ? &rec : NULL};
    meta_create_res res;

    pthread_mutex_t *mu = stripe_of(svc, &u);
    pthread_mutex_lock(mu);
    st = meta_store_create(svc->store, &cx, &creq, &res);
    if (st == IP_OK && !res.existing && res.replay == NULL)
        publish_image(svc, res.image);
    pthread_mutex_unlock(mu);
    if (st != IP_OK)
        return meta_svc_fail(call, st, cx.err, id);
    rep->image = res.image;
    rep->existing = res.existing;
    rep->replay = res.replay;
    if (res.replay != NULL)
        ip_log(IP_LOG_DEBUG, "upload.replayed", IP_LS("image_id", res.replay->image_id));
    else if (res.existing)
        ip_log(IP_LOG_DEBUG, "upload.duplicate", IP_LS("image_id", res.image->id),
               IP_LS("key_id", key_id));
    else
        ip_log(IP_LOG_DEBUG, "image.created", IP_LS("image_id", id));
    return IP_OK;
}

static ip_status h_get_image(void *user, ip_rpc_call *call, const Imageproc__GetImageRequest *req,
                             Imageproc__GetImageReply *rep)
{
    meta_service *svc = user;
    char id[IP_UUID_STRLEN + 1];
    ip_uuid u;
    meta_ctx cx;
    ip_status st;
    if ((st = meta_svc_canon_id(call, req->id, "id", id, &u)) != IP_OK ||
        (st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    st = meta_store_get(svc->store, &cx, id, &rep->image);
    return st == IP_OK ? IP_OK : meta_svc_fail(call, st, cx.err, id);
}

static ip_status h_list_images(void *user, ip_rpc_call *call,
                               const Imageproc__ListImagesRequest *req,
                               Imageproc__ListImagesReply *rep)
{
    meta_service *svc = user;
    char err[128], last_id[IP_UUID_STRLEN + 1] = "", key_id[IP_UUID_STRLEN + 1] = "";
    meta_list_query q = {0};
    meta_ctx cx;
    ip_status st = meta_check_list(req->last_created_at_us, req->last_id, req->with_variant,
                                   req->limit, &q.has_cursor, err, sizeof(err));
    if (st == IP_OK)
        st = meta_check_list_filters(req->sha256, req->key_id, err, sizeof(err));
    if (st != IP_OK)
        return meta_svc_fail(call, st, err, NULL);
    ip_uuid k;
    if (ip_uuid_parse(req->key_id, &k))
        ip_uuid_format(&k, key_id);
    q.sha256 = req->sha256;
    q.key_id = key_id;
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    if (q.has_cursor) {
        ip_uuid u;
        ip_uuid_parse(req->last_id, &u);
        ip_uuid_format(&u, last_id);
    }
    q.last_created_at_us = req->last_created_at_us;
    q.last_id = last_id;
    q.with_variant = req->with_variant;
    q.limit = req->limit;
    bool has_more = false;
    st = meta_store_list(svc->store, &cx, &q, &rep->images, &rep->n_images, &has_more);
    if (st != IP_OK)
        return meta_svc_fail(call, st, cx.err, NULL);
    rep->has_more = has_more;
    return IP_OK;
}

static ip_status h_mark_processing(void *user, ip_rpc_call *call,
                                   const Imageproc__MarkProcessingRequest *req,
                                   Imageproc__MarkProcessingReply *rep)
{
    meta_service *svc = user;
    write_args a = {.lease_ms = req->lease_ms,
                    .new_delivery = req->new_delivery,
                    .regenerate = req->regenerate};
    ip_status st = write_image(svc, call, WRITE_PROCESSING, req->id, &a, &rep->image);
    if (st != IP_OK)
        return st;
    /* The presets in force now: the job makes its variants with these. */
    meta_ctx cx;
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    st = meta_store_presets(svc->store, &cx, &rep->presets, &rep->n_presets, NULL);
    return st == IP_OK ? IP_OK : meta_svc_fail(call, st, cx.err, rep->image->id);
}

static ip_status h_put_variant(void *user, ip_rpc_call *call,
                               const Imageproc__PutVariantRequest *req,
                               Imageproc__PutVariantReply *rep)
{
    meta_service *svc = user;
    char id[IP_UUID_STRLEN + 1], err[256];
    ip_uuid u;
    meta_ctx cx;
    ip_status st;
    bool changed = false;
    if ((st = meta_svc_canon_id(call, req->image_id, "image_id", id, &u)) != IP_OK)
        return st;
    if ((st = meta_check_variant(id, req->variant, err, sizeof(err))) != IP_OK)
        return meta_svc_fail(call, st, err, id);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    Imageproc__ImageStatus image_status = IMAGEPROC__IMAGE_STATUS__IMAGE_STATUS_UNSPECIFIED;
    int64_t at_us = 0;
    pthread_mutex_t *mu = stripe_of(svc, &u);
    pthread_mutex_lock(mu);
    st = meta_store_put_variant(svc->store, &cx, id, req->variant, &rep->variant, &image_status,
                                &at_us, &changed);
    if (st == IP_OK && changed)
        publish(svc, id, image_status, rep->variant->kind, rep->variant->status, at_us,
                rep->variant->error, false);
    pthread_mutex_unlock(mu);
    return st == IP_OK ? IP_OK : meta_svc_fail(call, st, cx.err, id);
}

static ip_status h_finish_image(void *user, ip_rpc_call *call,
                                const Imageproc__FinishImageRequest *req,
                                Imageproc__FinishImageReply *rep)
{
    meta_variant_change changes[IP_VARIANT_COUNT];
    write_args a = {.finish = {.variants = req->variants,
                               .n_variants = req->n_variants,
                               .thumbhash = req->thumbhash,
                               .dominant_color = req->dominant_color,
                               .regenerate = req->regenerate},
                    .changes = req->n_variants <= IP_VARIANT_COUNT ? changes : NULL};
    return write_image(user, call, WRITE_FINISH, req->id, &a, &rep->image);
}

static ip_status h_fail_image(void *user, ip_rpc_call *call, const Imageproc__FailImageRequest *req,
                              Imageproc__FailImageReply *rep)
{
    write_args a = {.error = req->error};
    return write_image(user, call, WRITE_FAIL, req->id, &a, &rep->image);
}

static ip_status h_mark_enqueued(void *user, ip_rpc_call *call,
                                 const Imageproc__MarkEnqueuedRequest *req,
                                 Imageproc__MarkEnqueuedReply *rep)
{
    write_args a = {.enqueued_at_us = req->enqueued_at_us, .requeue = req->requeue};
    return write_image(user, call, WRITE_ENQUEUED, req->id, &a, &rep->image);
}

static ip_status h_retry_image(void *user, ip_rpc_call *call,
                               const Imageproc__RetryImageRequest *req,
                               Imageproc__RetryImageReply *rep)
{
    write_args a = {0};
    return write_image(user, call, WRITE_RETRY, req->id, &a, &rep->image);
}

static ip_status h_delete_image(void *user, ip_rpc_call *call,
                                const Imageproc__DeleteImageRequest *req,
                                Imageproc__DeleteImageReply *rep)
{
    meta_service *svc = user;
    char id[IP_UUID_STRLEN + 1];
    ip_uuid u;
    meta_ctx cx;
    ip_status st;
    if ((st = meta_svc_canon_id(call, req->id, "id", id, &u)) != IP_OK ||
        (st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    pthread_mutex_t *mu = stripe_of(svc, &u);
    pthread_mutex_lock(mu);
    st = meta_store_delete(svc->store, &cx, id, req->undo, &rep->object_keys, &rep->n_object_keys,
                           &rep->purge_prefix);
    if (st == IP_OK)
        publish(svc, id, IMAGEPROC__IMAGE_STATUS__IMAGE_STATUS_UNSPECIFIED, IP_VARIANT_NONE,
                IMAGEPROC__VARIANT_STATUS__VARIANT_STATUS_UNSPECIFIED, ip_now_us(), "", true);
    pthread_mutex_unlock(mu);
    if (st != IP_OK)
        return meta_svc_fail(call, st, cx.err, id);
    ip_log(IP_LOG_DEBUG, "image.deleted", IP_LS("image_id", id), IP_LB("undo", req->undo));
    return IP_OK;
}

static ip_status h_list_stale(void *user, ip_rpc_call *call, const Imageproc__ListStaleRequest *req,
                              Imageproc__ListStaleReply *rep)
{
    meta_service *svc = user;
    char err[128];
    meta_ctx cx;
    ip_status st = meta_check_stale(req->older_than_us, req->enqueued_older_than_us, req->limit,
                                    req->claim_ms, err, sizeof(err));
    if (st != IP_OK)
        return meta_svc_fail(call, st, err, NULL);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    meta_stale_query q = {.older_than_us = req->older_than_us,
                          .enqueued_older_than_us = req->enqueued_older_than_us,
                          .expired_leases = req->expired_leases,
                          .claim_ms = req->claim_ms,
                          .limit = req->limit};
    st = meta_store_list_stale(svc->store, &cx, &q, &rep->images, &rep->n_images);
    return st == IP_OK ? IP_OK : meta_svc_fail(call, st, cx.err, NULL);
}

static ip_status h_claim_purges(void *user, ip_rpc_call *call,
                                const Imageproc__ClaimPurgesRequest *req,
                                Imageproc__ClaimPurgesReply *rep)
{
    meta_service *svc = user;
    char err[128];
    meta_ctx cx;
    ip_status st = meta_check_claim(req->limit, req->claim_ms, err, sizeof(err));
    if (st != IP_OK)
        return meta_svc_fail(call, st, err, NULL);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    st = meta_store_claim_purges(svc->store, &cx, req->limit, req->claim_ms, &rep->purges,
                                 &rep->n_purges);
    return st == IP_OK ? IP_OK : meta_svc_fail(call, st, cx.err, NULL);
}

static ip_status h_finish_purge(void *user, ip_rpc_call *call,
                                const Imageproc__FinishPurgeRequest *req,
                                Imageproc__FinishPurgeReply *rep)
{
    (void)rep;
    meta_service *svc = user;
    char id[IP_UUID_STRLEN + 1], err[128];
    ip_uuid u;
    meta_ctx cx;
    ip_status st;
    if ((st = meta_svc_canon_id(call, req->image_id, "image_id", id, &u)) != IP_OK)
        return st;
    if ((st = meta_check_text(req->error, "error", err, sizeof(err))) != IP_OK)
        return meta_svc_fail(call, st, err, id);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    st = meta_store_finish_purge(svc->store, &cx, id, req->error);
    if (st != IP_OK)
        return meta_svc_fail(call, st, cx.err, id);
    if (req->error != NULL && req->error[0] != '\0')
        ip_log(IP_LOG_DEBUG, "purge.failed", IP_LS("image_id", id), IP_LS("err", req->error));
    return IP_OK;
}

static ip_status h_reserve_upload(void *user, ip_rpc_call *call,
                                  const Imageproc__ReserveUploadRequest *req,
                                  Imageproc__ReserveUploadReply *rep)
{
    (void)rep;
    meta_service *svc = user;
    char id[IP_UUID_STRLEN + 1], okey[IP_KEY_MAX];
    ip_uuid u;
    meta_ctx cx;
    ip_status st;
    if ((st = meta_svc_canon_id(call, req->id, "id", id, &u)) != IP_OK)
        return st;
    /* Only the id's own original may be reserved: a purge deletes what it names. */
    if (ip_key_original(okey, id) != IP_OK || req->original_key == NULL ||
        strcmp(req->original_key, okey) != 0)
        return meta_svc_fail(call, IP_INVALID_ARGUMENT, "original_key: want the id's original key",
                             id);
    if (req->purge_after_ms < 1000 || req->purge_after_ms > 86400000)
        return meta_svc_fail(call, IP_INVALID_ARGUMENT, "purge_after_ms: want 1000..86400000", id);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    st = meta_store_reserve_upload(svc->store, &cx, id, okey, req->purge_after_ms);
    return st == IP_OK ? IP_OK : meta_svc_fail(call, st, cx.err, id);
}

/* ------------------------------------------------------------- lifecycle */

ip_status meta_service_new(meta_store *store, const meta_service_opts *opts, meta_service **out)
{
    ip_status st;
    *out = NULL;
    meta_service *svc = calloc(1, sizeof(*svc));
    if (svc == NULL)
        return IP_RESOURCE_EXHAUSTED;
    svc->impl = (ip_metadata_impl){
        .user = svc,
        .create_image = h_create_image,
        .get_image = h_get_image,
        .list_images = h_list_images,
        .mark_processing = h_mark_processing,
        .put_variant = h_put_variant,
        .finish_image = h_finish_image,
        .fail_image = h_fail_image,
        .mark_enqueued = h_mark_enqueued,
        .delete_image = h_delete_image,
        .list_stale = h_list_stale,
        .claim_purges = h_claim_purges,
        .finish_purge = h_finish_purge,
        .reserve_upload = h_reserve_upload,
        .retry_image = h_retry_image,
        .create_api_key = meta_h_create_api_key,
        .list_api_keys = meta_h_list_api_keys,
        .revoke_api_key = meta_h_revoke_api_key,
        .lookup_api_key = meta_h_lookup_api_key,
        .get_presets = meta_h_get_presets,
        .set_preset = meta_h_set_preset,
        .list_regenerate = meta_h_list_regenerate,
        .create_webhook = meta_h_create_webhook,
        .list_webhooks = meta_h_list_webhooks,
        .get_webhook = meta_h_get_webhook,
        .delete_webhook = meta_h_delete_webhook,
        .list_deliveries = meta_h_list_deliveries,
        .resend_delivery = meta_h_resend_delivery,
        .claim_deliveries = meta_h_claim_deliveries,
        .finish_delivery = meta_h_finish_delivery,
        .get_idempotency = meta_h_get_idempotency,
    };
    svc->store = store;
    for (int i = 0; i < META_STRIPES; i++)
        pthread_mutex_init(&svc->stripes[i], NULL);
    if ((st = meta_events_new(opts->events_url, &svc->events)) != IP_OK)
        goto fail;
    ip_rpc_server_opts so = {
        .url = opts->rpc_url, .workers = opts->workers, .max_msg_bytes = opts->max_msg_bytes};
    if ((st = ip_metadata_server_new(&svc->impl, &so, &svc->server)) != IP_OK)
        goto fail;
    *out = svc;
    return IP_OK;
fail:
    meta_service_free(svc);
    return st;
}

void meta_service_free(meta_service *svc)
{
    if (svc == NULL)
        return;
    ip_rpc_server_free(svc->server); /* calls in flight finish before it returns */
    meta_events_free(svc->events);
    for (int i = 0; i < META_STRIPES; i++)
        pthread_mutex_destroy(&svc->stripes[i]);
    free(svc);
}
