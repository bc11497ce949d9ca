/* proc_job.c — one ProcessJob against metadata-svc and storage-svc.
 *
 * HOW IT WORKS
 * MarkProcessing tells metadata-svc the image is being worked on, takes the
 * lease (lease_until = now + IP_JOB_LEASE_MS; a sweep requeues an image whose
 * lease ran out) and, on the first run of a delivery, counts one more run; it
 * answers with the row, whose requested variants are the truth about which to
 * make (the job's are used only if the row names none). An image already
 * ready is a redelivered job whose outcome was recorded: nothing more is
 * done. An image with more runs than IP_JOB_MAX_ATTEMPTS is poison: its
 * earlier deliveries killed or lost their processor, so this one does no work
 * and the consumer dead-letters it. Otherwise the original is fetched, the
 * variants are made in one decode (proc_variants.c), all of them are stored
 * at once (proc_job_store.c: one PutObject each, in parallel) at their keys
 * (ip_keys.h: v/<id>/<variant>.<ext>) with a long-lived Cache-Control, and,
 * only once every put succeeded, one FinishImage carrying the variants
 * records them all and closes the image in a single transaction: a row never
 * names an object that is not there. All of these calls are idempotent, so
 * running a job again gives the same keys and the same rows.
 *
 * A run keeps what it receives in a job_run: every reply joins the run's
 * list and is freed once, when the run ends (job_run_fini), so no step frees
 * by hand on its way out. The original's bytes are the one exception: they
 * are decoded where they arrived (a view into the RPC reply, not a copy) and
 * let go right after the decode, before the uploads.
 *
 * FAILURES
 * Each RPC status is read once, by proc_policy_classify; of the parallel
 * puts, the first failed one in variant order is the one read, as if they
 * had been sent one after another (the others' objects stay, as a
 * sequential run would have left the earlier ones: a rerun overwrites them). NOT_FOUND from
 * metadata-svc means the image was deleted meanwhile, so whatever this job
 * stored under v/<id>/ is deleted and the job ends. A transient status ends
 * the run WAIT and an INTERNAL one RETRY, naming the service whose call
 * failed; nothing final is recorded, and the consumer runs the job again
 * (WAIT uses no attempt, RETRY counts one). Anything else, and every decode
 * failure, is permanent and recorded at once with FailImage and the reason.
 * Recording is itself a call: a FinishImage or FailImage that fails
 * transiently ends the run WAIT like any other call, so the outcome is
 * recorded by a later run before the consumer stores the offset.
 */
#include "proc_job.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "image.pb-c.h"
#include "ip_keys.h"
#include "ip_log.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "ip_variants.h"
#include "proc_job_store.h"

static const char *const outcome_names[PROC_JOB_OUTCOME_COUNT] = {
    [PROC_JOB_READY] = "ready",     [PROC_JOB_FAILED] = "failed", [PROC_JOB_DELETED] = "deleted",
    [PROC_JOB_INVALID] = "invalid", [PROC_JOB_WAIT] = "wait",     [PROC_JOB_RETRY] = "retry",
    [PROC_JOB_POISON] = "poison",
};

const char *proc_outcome_name(proc_outcome o)
{
    return (unsigned)o < PROC_JOB_OUTCOME_COUNT ? outcome_names[o] : "unknown";
}

/* The replies one run can receive: MarkProcessing, PutObject per variant,
 * FinishImage, FailImage, DeleteObjects (GetObject's is freed early), with
 * room to spare. */
#define JOB_MAX_REPLIES (8 + 2 * IP_VARIANT_COUNT)

/* One run of one job: what it holds until it ends, and where its outcome goes. */
typedef struct job_run {
    const proc_job_ctx *ctx;
    const char *id; /* borrowed from the job */
    ProtobufCMessage *replies[JOB_MAX_REPLIES];
    int n_replies;
    proc_variants vars;
    char keys[IP_VARIANT_COUNT][IP_KEY_MAX]; /* where vars.v[i] was stored */
    char okey[IP_KEY_MAX];                   /* the original's key when nobody named it */
    char msg[384];                           /* the last call's message (server or transport) */
    char e[512];          /* the last failed call: "<Method>: <status>: <message>" */
    proc_job_result *res; /* the caller's report; res->out is the run's outcome */
    /* when each step ended (ip_mono_us), for the job.steps debug line */
    int64_t t_start, t_marked, t_got, t_made, t_stored, t_finished;
} job_run;

static void job_run_init(job_run *r, const proc_job_ctx *ctx, const char *id, proc_job_result *res)
{
    memset(r, 0, sizeof(*r));
    memset(res, 0, sizeof(*res));
    r->ctx = ctx;
    r->id = id;
    r->res = res;
    res->out = PROC_JOB_WAIT;
}

static void job_run_fini(job_run *r)
{
    proc_variants_fini(&r->vars);
    for (int i = 0; i < r->n_replies; i++)
        protobuf_c_message_free_unpacked(r->replies[i], NULL);
    r->n_replies = 0;
}

/* A call's message made elsewhere (a parallel put's slot) as
 * the run's last message. */
static void job_take_msg(job_run *r, const char *msg)
{
    size_t n = strnlen(msg, sizeof(r->msg) - 1);
    memcpy(r->msg, msg, n);
    r->msg[n] = '\0';
}

/* Takes the result of one typed call: `keep` (the reply, or NULL) stays with
 * the run until it ends; a failure is written to r->e. Returns `st`. */
static ip_status job_check(job_run *r, const char *method, ip_status st, void *keep)
{
    if (keep) {
        assert(r->n_replies < JOB_MAX_REPLIES);
        if (r->n_replies < JOB_MAX_REPLIES) /* else leaked, never freed under a reader */
            r->replies[r->n_replies++] = keep;
    }
    if (st != IP_OK)
        snprintf(r->e, sizeof(r->e), "%s: %s: %s", method, ip_strerror(st), r->msg);
    return st;
}

/* The call to `dep` in r->e failed with `st`, transient or INTERNAL: the run
 * ends WAIT or RETRY with that reason. */
static proc_outcome job_again(job_run *r, ip_status st, proc_dep dep)
{
    r->res->dep = dep;
    snprintf(r->res->err, sizeof(r->res->err), "%s", r->e);
    return proc_policy_classify(st) == PROC_CALL_TRANSIENT ? PROC_JOB_WAIT : PROC_JOB_RETRY;
}

static bool worth_again(ip_status st)
{
    proc_call_class k = proc_policy_classify(st);
    return k == PROC_CALL_TRANSIENT || k == PROC_CALL_ATTEMPT;
}

/* The image is gone: removes every object under v/<id>/ (this job's and any
 * earlier attempt's). */
static proc_outcome job_remove_written(job_run *r)
{
    char prefix[IP_KEY_MAX];
    (void)ip_key_variant_prefix(prefix, r->id); /* the id is a UUID: it fits */
    Imageproc__DeleteObjectsRequest req = IMAGEPROC__DELETE_OBJECTS_REQUEST__INIT;
    req.prefix = prefix;
    Imageproc__DeleteObjectsReply *rep = NULL;
    ip_status st =
        ip_storage_delete_objects(r->ctx->stor, &req, &rep, NULL, r->msg, sizeof(r->msg));
    if (job_check(r, "DeleteObjects", st, rep) != IP_OK) {
        if (worth_again(st))
            return job_again(r, st, PROC_DEP_STORAGE);
        snprintf(r->res->err, sizeof(r->res->err), "image deleted; removing its variants: %s",
                 r->e);
        return PROC_JOB_DELETED;
    }
    ip_log(IP_LOG_INFO, "job.deleted_meanwhile", IP_LS("image_id", r->id),
           IP_LI("objects_removed", rep->deleted));
    snprintf(r->res->err, sizeof(r->res->err), "image deleted meanwhile");
    return PROC_JOB_DELETED;
}

/* FailImage(id, reason); see proc_job_fail_image. */
static proc_outcome job_fail(job_run *r, const char *reason)
{
    char why[sizeof(r->res->err)]; /* `reason` may be r->e or res->err: the call rewrites them */
    snprintf(why, sizeof(why), "%s", reason);
    Imageproc__FailImageRequest req = IMAGEPROC__FAIL_IMAGE_REQUEST__INIT;
    req.id = (char *)r->id;
    req.error = why;
    Imageproc__FailImageReply *rep = NULL;
    ip_status st = ip_metadata_fail_image(r->ctx->meta, &req, &rep, NULL, r->msg, sizeof(r->msg));
    switch (proc_policy_classify(job_check(r, "FailImage", st, rep))) {
    case PROC_CALL_OK:
        snprintf(r->res->err, sizeof(r->res->err), "%s", why);
        return PROC_JOB_FAILED;
    case PROC_CALL_GONE:
        return job_remove_written(r);
    case PROC_CALL_TRANSIENT:
    case PROC_CALL_ATTEMPT:
        return job_again(r, st, PROC_DEP_METADATA);
    default:
        /* metadata-svc refuses to record it; nothing more this job can do. */
        ip_log(IP_LOG_ERROR, "job.fail_not_recorded", IP_LS("image_id", r->id),
               IP_LS("reason", why), IP_LS("err", r->e));
        snprintf(r->res->err, sizeof(r->res->err), "%.600s (not recorded: %.400s)", why, r->e);
        return PROC_JOB_FAILED;
    }
}

proc_outcome proc_job_fail_image(const proc_job_ctx *ctx, const char *id, const char *reason,
                                 proc_job_result *res)
{
    job_run r;
    job_run_init(&r, ctx, id, res);
    res->out = job_fail(&r, reason);
    job_run_fini(&r);
    return res->out;
}

/* Ends the run after the failed call to `dep` in r->e with status `st`:
 * NOT_FOUND from metadata-svc (the image deleted meanwhile) removes what was
 * written; a transient or INTERNAL status leaves the job for another run;
 * anything else, and storage-svc's NOT_FOUND (the original is missing),
 * fails the image. Sets res->out; returns false, so that a step can
 * `return job_stop_on(...)`. */
static bool job_stop_on(job_run *r, ip_status st, proc_dep dep)
{
    switch (proc_policy_classify(st)) {
    case PROC_CALL_GONE:
        r->res->out = dep == PROC_DEP_METADATA ? job_remove_written(r) : job_fail(r, r->e);
        break;
    case PROC_CALL_TRANSIENT:
    case PROC_CALL_ATTEMPT:
        r->res->out = job_again(r, st, dep);
        break;
    default:
        r->res->out = job_fail(r, r->e);
        break;
    }
    return false;
}

/* The set of kinds[0..n); the first kind that is not a variant is reported
 * in `bad`. */
static unsigned requested_mask(const Imageproc__VariantKind *kinds, size_t n, char *bad,
                               size_t badlen)
{
    unsigned mask = 0;
    for (size_t i = 0; i < n; i++) {
        if (ip_variant_get(kinds[i]))
            mask |= ip_variant_bit(kinds[i]);
        else if (bad[0] == '\0')
            snprintf(bad, badlen, "unknown variant kind %d", (int)kinds[i]);
    }
    return mask;
}

/* Poison: more runs than the attempts allow. Logged; the consumer
 * dead-letters the job. */
static bool job_poison(job_run *r, int runs)
{
    snprintf(r->res->err, sizeof(r->res->err),
             "killed or lost its processor %d times (runs %d > IP_JOB_MAX_ATTEMPTS %d)", runs - 1,
             runs, r->ctx->max_attempts);
    ip_log(IP_LOG_ERROR, "job.poison", IP_LS("image_id", r->id), IP_LI("runs", runs),
           IP_LI("max_attempts", r->ctx->max_attempts));
    r->res->out = PROC_JOB_POISON;
    return false;
}

/* Step 1: MarkProcessing (lease, runs). Gives the variants to make and the
 * original's key (the job's, else the row's, else the layout's); false when
 * the run ends here (already ready, poison, nothing valid requested, or the
 * call failed). */
static bool job_mark(job_run *r, const Imageproc__ProcessJob *job, bool new_delivery,
                     unsigned *mask, const char **key)
{
    Imageproc__MarkProcessingRequest req = IMAGEPROC__MARK_PROCESSING_REQUEST__INIT;
    req.id = (char *)r->id;
    req.lease_ms = r->ctx->lease_ms;
    req.new_delivery = new_delivery;
    Imageproc__MarkProcessingReply *rep = NULL;
    ip_status st =
        ip_metadata_mark_processing(r->ctx->meta, &req, &rep, NULL, r->msg, sizeof(r->msg));
    if (job_check(r, "MarkProcessing", st, rep) != IP_OK)
        return job_stop_on(r, st, PROC_DEP_METADATA);
    const Imageproc__Image *img = rep->image;
    r->res->marked = true;
    r->res->runs = img ? img->runs : 0;
    if (img && img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY) {
        ip_log(IP_LOG_INFO, "job.already_ready", IP_LS("image_id", r->id));
        r->res->out = PROC_JOB_READY;
        return false;
    }
    /* A failed image's redelivered job is not poison: its outcome is recorded. */
    if (img && img->status != IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED &&
        proc_policy_is_poison(img->runs, r->ctx->max_attempts))
        return job_poison(r, img->runs);
    char bad[128] = "";
    *mask = img && img->n_requested
                ? requested_mask(img->requested, img->n_requested, bad, sizeof(bad))
                : requested_mask(job->requested, job->n_requested, bad, sizeof(bad));
    if (bad[0] || *mask == 0) {
        r->res->out = job_fail(r, bad[0] ? bad : "no variants requested");
        return false;
    }
    if (job->original_key && job->original_key[0])
        *key = job->original_key;
    else if (img && img->original_key && img->original_key[0])
        *key = img->original_key;
    else
        *key = ip_key_original(r->okey, r->id) == IP_OK ? r->okey : "";
    return true;
}

/* Steps 2 and 3: the original, then the variants of `mask` from one decode
 * into r->vars. A decode failure fails the image with its reason. */
static bool job_make(job_run *r, const char *key, unsigned mask)
{
    Imageproc__GetObjectRequest req = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
    req.key = (char *)key;
    const Imageproc__GetObjectReply *obj = NULL;
    ip_rpc_view *held = NULL;
    ip_status st = ip_storage_get_object_view(r->ctx->stor, &req, &obj, &held, NULL, r->msg,
                                              sizeof(r->msg));
    if (job_check(r, "GetObject", st, NULL) != IP_OK)
        return job_stop_on(r, st, PROC_DEP_STORAGE);
    r->t_got = ip_mono_us();
    char reason[512];
    st = proc_variants_make(obj->data.data, obj->data.len, mask, r->ctx->settings, &r->vars, reason,
                            sizeof(reason));
    /* The original can be large: it goes before the uploads, not with the run. */
    ip_rpc_view_release(held);
    if (st != IP_OK) {
        ip_log(IP_LOG_WARN, "job.decode_failed", IP_LS("image_id", r->id),
               IP_LS("status", ip_strerror(st)), IP_LS("err", reason));
        r->res->out = job_fail(r, reason);
        return false;
    }
    return true;
}

/* Step 4: every variant to its key, immutable for caches, all at once
 * (proc_job_store.c). The answers are read in variant order: the first
 * failure ends the run as if the puts had been sent one after another. */
static bool job_store(job_run *r)
{
    proc_put puts[IP_VARIANT_COUNT];
    for (int i = 0; i < r->vars.n; i++) {
        const proc_variant *v = &r->vars.v[i];
        (void)ip_key_variant(r->keys[i], r->id, v->kind, v->format); /* a UUID id fits */
        puts[i] = (proc_put){.key = r->keys[i],
                             .data = v->data,
                             .len = v->len,
                             .content_type = v->format->content_type,
                             .cache_control = PROC_CACHE_CONTROL};
    }
    r->t_made = ip_mono_us();
    proc_put_all(r->ctx->stor, puts, r->vars.n);
    r->t_stored = ip_mono_us();
    int failed = -1;
    for (int i = 0; i < r->vars.n; i++) {
        (void)job_check(r, "PutObject", IP_OK, puts[i].rep);
        if (puts[i].st != IP_OK && failed < 0)
            failed = i;
    }
    if (failed < 0)
        return true;
    job_take_msg(r, puts[failed].msg);
    (void)job_check(r, "PutObject", puts[failed].st, NULL);
    return job_stop_on(r, puts[failed].st, PROC_DEP_STORAGE);
}

/* Steps 5 and 6: FinishImage with every stored variant, recorded and the
 * image closed in one call (one transaction); the row says whether the image
 * ended ready or failed (a variant recorded failed by an earlier run). */
static void job_finish(job_run *r)
{
    Imageproc__Variant vars[IP_VARIANT_COUNT];
    Imageproc__Variant *varp[IP_VARIANT_COUNT];
    for (int i = 0; i < r->vars.n; i++) {
        const proc_variant *v = &r->vars.v[i];
        Imageproc__Variant *var = &vars[i];
        *var = (Imageproc__Variant)IMAGEPROC__VARIANT__INIT;
        var->kind = v->kind;
        var->status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
        var->object_key = r->keys[i];
        var->width = v->width;
        var->height = v->height;
        var->size_bytes = (int64_t)v->len;
        var->format = (char *)v->format->name;
        varp[i] = var;
    }
    Imageproc__FinishImageRequest req = IMAGEPROC__FINISH_IMAGE_REQUEST__INIT;
    req.id = (char *)r->id;
    req.variants = varp;
    req.n_variants = (size_t)r->vars.n;
    Imageproc__FinishImageReply *rep = NULL;
    ip_status st = ip_metadata_finish_image(r->ctx->meta, &req, &rep, NULL, r->msg, sizeof(r->msg));
    if (job_check(r, "FinishImage", st, rep) != IP_OK) {
        job_stop_on(r, st, PROC_DEP_METADATA);
        return;
    }
    const Imageproc__Image *fin = rep->image;
    r->t_finished = ip_mono_us();
    r->res->out = PROC_JOB_READY;
    if (fin && fin->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED) {
        snprintf(r->res->err, sizeof(r->res->err), "%s", fin->error ? fin->error : "failed");
        r->res->out = PROC_JOB_FAILED;
    }
}

/* Where a finished run's time went, step by step, in microseconds (debug). */
static void job_log_steps(const job_run *r)
{
    ip_log(IP_LOG_DEBUG, "job.steps", IP_LS("image_id", r->id),
           IP_LI("mark_us", r->t_marked - r->t_start), IP_LI("get_us", r->t_got - r->t_marked),
           IP_LI("make_us", r->t_made - r->t_got), IP_LI("store_us", r->t_stored - r->t_made),
           IP_LI("finish_us", r->t_finished - r->t_stored));
}

proc_outcome proc_job_run(const proc_job_ctx *ctx, const Imageproc__ProcessJob *job,
                          bool new_delivery, proc_job_result *res)
{
    const char *id = job->id;
    job_run r;
    job_run_init(&r, ctx, id, res);
    if (!ip_uuid_valid(id)) {
        snprintf(res->err, sizeof(res->err), "job id \"%.40s\" is not a UUID", id ? id : "");
        res->out = PROC_JOB_INVALID;
        return res->out;
    }
    unsigned mask = 0;
    const char *key = NULL;
    /* 1. MarkProcessing: the lease, the runs, the row's requested variants
     *    and its status.
     * 2-3. The original, and the variants from one decode.
     * 4. Store every variant (at once), then 5-6. record them and close the
     *    image in one call: a row never names an object that is not there.
     * A step that ends the run has set res->out (and the reason in res->err). */
    r.t_start = ip_mono_us();
    bool go = job_mark(&r, job, new_delivery, &mask, &key);
    r.t_marked = ip_mono_us();
    if (go && job_make(&r, key, mask) && job_store(&r))
        job_finish(&r);
    if (r.t_finished != 0)
        job_log_steps(&r);
    job_run_fini(&r);
    return res->out;
}
