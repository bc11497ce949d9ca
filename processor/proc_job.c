/* proc_job.c — one ProcessJob against metadata-svc and storage-svc.
 *
 * HOW IT WORKS
 * MarkProcessing tells metadata-svc the image is being worked on, takes the
 * lease (lease_until = now + IP_JOB_LEASE_MS; a sweep requeues an image whose
 * lease ran out) and, on the first run of a delivery, counts one more run; it
 * answers with the row, whose requested variants are the truth about which to
 * make (the job's are used only if the row names none), and with the current
 * preset of every kind, which decides each variant's box, fit, formats,
 * qualities and watermark (the settings' defaults stand in for a kind the
 * reply lacks). An image already ready is a redelivered job whose outcome
 * was recorded: nothing more is done. An image with more runs than
 * IP_JOB_MAX_ATTEMPTS is poison: its earlier deliveries killed or lost their
 * processor, so this one does no work and the consumer dead-letters it.
 * Otherwise the logos the presets name are taken from the process's cache
 * or fetched (HeadObject, refused over 4 MiB before any byte is fetched,
 * then GetObject) and kept there (proc_logo.c), the original is fetched, the
 * variants and the placeholder are made in one decode (proc_variants.c),
 * every file of every variant (primary, WebP, AVIF) is stored at once
 * (proc_job_store.c: one PutObject each, in parallel) at its key (ip_keys.h:
 * v/<id>/<variant>.<ext>, or .v<N>.<ext> for preset version N >= 2) with a
 * long-lived Cache-Control, and, only once every put succeeded, one
 * FinishImage carrying the variants (files primary first, preset versions)
 * and the placeholder records them all and closes the image in a single
 * transaction: a row never names an object that is not there. All of these
 * calls are idempotent, so running a job again gives the same keys and the
 * same rows.
 *
 * REGENERATION
 * A job with `regenerate` sends MarkProcessing and FinishImage with
 * regenerate=true: the image must be ready, and stays ready and served
 * throughout (no status, lease or runs change; no poison check, as runs do
 * not count). FAILED_PRECONDITION or NOT_FOUND from either (the image is not
 * ready, or gone) ends the job SKIPPED, logged and counted, and the files it
 * stored are removed, except those the image's row already names (a
 * regeneration at an unchanged preset version writes the keys in use). A
 * permanent failure (a logo that cannot be had, an original that no longer
 * decodes) is logged and counted and ends SKIPPED too: never FailImage.
 * Transient and INTERNAL failures are retried like any job's.
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
 *
 * METRICS
 * proc_encode_seconds{format}: the wall time of each file's encode;
 * proc_regenerations_total{outcome}: done, skipped, failed, and dropped (the
 * consumer gave up retrying, proc_retry.c).
 */
#include "proc_job.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "image.pb-c.h"
#include "ip_keys.h"
#include "ip_log.h"
#include "ip_metrics.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "ip_variants.h"
#include "proc_job_store.h"
#include "proc_logo.h"

static const char *const outcome_names[PROC_JOB_OUTCOME_COUNT] = {
    [PROC_JOB_READY] = "ready",     [PROC_JOB_FAILED] = "failed",   [PROC_JOB_DELETED] = "deleted",
    [PROC_JOB_INVALID] = "invalid", [PROC_JOB_WAIT] = "wait",       [PROC_JOB_RETRY] = "retry",
    [PROC_JOB_POISON] = "poison",   [PROC_JOB_SKIPPED] = "skipped",
};

static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;
static ip_metric *m_encode, *m_regen;

static void metrics_init(void)
{
    static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
    m_encode =
        ip_metric_histogram("proc_encode_seconds", "wall time of one file's encode, by format",
                            "format", buckets, sizeof(buckets) / sizeof(buckets[0]));
    m_regen = ip_metric_counter("proc_regenerations_total",
                                "regeneration jobs ended, by outcome (done, skipped: the image "
                                "not ready or gone, failed: permanent, dropped: out of retries)",
                                "outcome");
    static const char *const outcomes[] = {"done", "skipped", "failed", "dropped"};
    for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
        ip_metric_add(m_regen, outcomes[i], 0);
}

void proc_job_count_regeneration(const char *outcome)
{
    pthread_once(&metrics_once, metrics_init);
    ip_metric_add(m_regen, outcome, 1);
}

static void count_encode(const proc_variants *vars)
{
    pthread_once(&metrics_once, metrics_init);
    for (int i = 0; i < vars->n; i++)
        for (int k = 0; k <= vars->v[i].n_more; k++) {
            proc_file f = proc_variant_file(&vars->v[i], k);
            ip_metric_observe(m_encode, f.format->name, (double)f.encode_us / 1e6);
        }
}

const char *proc_outcome_name(proc_outcome o)
{
    return (unsigned)o < PROC_JOB_OUTCOME_COUNT ? outcome_names[o] : "unknown";
}

/* The replies one run can receive: MarkProcessing, HeadObject per logo,
 * PutObject per file, FinishImage, FailImage, DeleteObjects (GetObject's are
 * freed early), with room to spare. */
#define JOB_MAX_FILES (IP_VARIANT_COUNT * PROC_FILES_MAX)
#define JOB_MAX_REPLIES (8 + IP_VARIANT_COUNT + JOB_MAX_FILES)

/* One run of one job: what it holds until it ends, and where its outcome goes. */
typedef struct job_run {
    const proc_job_ctx *ctx;
    const char *id; /* borrowed from the job */
    bool regen;     /* the job is a regeneration */
    ProtobufCMessage *replies[JOB_MAX_REPLIES];
    int n_replies;
    const Imageproc__Image *img;        /* the row MarkProcessing gave (in replies) */
    proc_recipe recipe;                 /* the presets (strings in replies) and logos */
    VipsImage *logos[IP_VARIANT_COUNT]; /* references held for recipe.logo */
    proc_variants vars;
    char keys[JOB_MAX_FILES][IP_KEY_MAX]; /* where each file was stored, in put order */
    int n_keys;
    char okey[IP_KEY_MAX]; /* the original's key when nobody named it */
    char msg[384];         /* the last call's message (server or transport) */
    char e[512];           /* the last failed call: "<Method>: <status>: <message>" */
    proc_job_result *res;  /* the caller's report; res->out is the run's outcome */
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
    for (int i = 0; i < IP_VARIANT_COUNT; i++)
        if (r->logos[i])
            g_object_unref(r->logos[i]);
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
    if (r->regen) {
        ip_log(IP_LOG_INFO, "job.regenerate_skipped", IP_LS("image_id", r->id),
               IP_LS("reason", "image deleted"));
        proc_job_count_regeneration("skipped");
        return PROC_JOB_SKIPPED;
    }
    return PROC_JOB_DELETED;
}

/* True when the row MarkProcessing gave names `key` among its files. */
static bool job_key_in_use(const job_run *r, const char *key)
{
    const Imageproc__Image *img = r->img;
    for (size_t i = 0; img && i < img->n_variants; i++) {
        const Imageproc__Variant *v = img->variants[i];
        if (v->object_key && strcmp(v->object_key, key) == 0)
            return true;
        for (size_t k = 0; k < v->n_files; k++)
            if (v->files[k]->object_key && strcmp(v->files[k]->object_key, key) == 0)
                return true;
    }
    return false;
}

/* A regeneration that is not done: the files this job stored that the row
 * does not name are removed (best effort: a leftover is only bytes), the
 * reason logged and counted (`counted` "skipped" or "failed"). */
static proc_outcome job_regen_skip(job_run *r, const char *counted, const char *why)
{
    char reason[sizeof(r->res->err)]; /* `why` may be r->e: the delete rewrites it */
    snprintf(reason, sizeof(reason), "%s", why);
    char *keys[JOB_MAX_FILES];
    size_t n = 0;
    for (int i = 0; i < r->n_keys; i++)
        if (!job_key_in_use(r, r->keys[i]))
            keys[n++] = r->keys[i];
    if (n > 0) {
        Imageproc__DeleteObjectsRequest req = IMAGEPROC__DELETE_OBJECTS_REQUEST__INIT;
        req.keys = keys;
        req.n_keys = n;
        Imageproc__DeleteObjectsReply *rep = NULL;
        ip_status st =
            ip_storage_delete_objects(r->ctx->stor, &req, &rep, NULL, r->msg, sizeof(r->msg));
        if (job_check(r, "DeleteObjects", st, rep) != IP_OK)
            ip_log(IP_LOG_WARN, "job.regenerate_leftovers", IP_LS("image_id", r->id),
                   IP_LI("objects", (int64_t)n), IP_LS("err", r->e));
    }
    ip_log(strcmp(counted, "failed") == 0 ? IP_LOG_WARN : IP_LOG_INFO,
           strcmp(counted, "failed") == 0 ? "job.regenerate_failed" : "job.regenerate_skipped",
           IP_LS("image_id", r->id), IP_LS("reason", reason));
    proc_job_count_regeneration(counted);
    snprintf(r->res->err, sizeof(r->res->err), "regeneration %s: %.960s", counted, reason);
    return PROC_JOB_SKIPPED;
}

/* FailImage(id, reason); see proc_job_fail_image. */
static proc_outcome job_fail(job_run *r, const char *reason)
{
    if (r->regen)
        return job_regen_skip(r, "failed", reason);
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
 * fails the image. A regeneration ends SKIPPED instead of failing the image,
 * and on FAILED_PRECONDITION from metadata-svc (the image is not ready).
 * Sets res->out; returns false, so that a step can
 * `return job_stop_on(...)`. */
static bool job_stop_on(job_run *r, ip_status st, proc_dep dep)
{
    if (r->regen && dep == PROC_DEP_METADATA && st == IP_FAILED_PRECONDITION) {
        r->res->out = job_regen_skip(r, "skipped", "image not ready");
        return false;
    }
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

/* The presets of the reply into r->recipe, over the settings' defaults. */
static void job_presets(job_run *r, const Imageproc__MarkProcessingReply *rep)
{
    proc_recipe_from_settings(r->ctx->settings, &r->recipe);
    for (size_t i = 0; i < rep->n_presets; i++)
        proc_recipe_set(&r->recipe, rep->presets[i]);
}

/* Step 1: MarkProcessing (lease, runs; for a regeneration only a read).
 * Gives the variants to make, their presets (in r->recipe) and the
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
    req.regenerate = r->regen;
    Imageproc__MarkProcessingReply *rep = NULL;
    ip_status st =
        ip_metadata_mark_processing(r->ctx->meta, &req, &rep, NULL, r->msg, sizeof(r->msg));
    if (job_check(r, "MarkProcessing", st, rep) != IP_OK)
        return job_stop_on(r, st, PROC_DEP_METADATA);
    const Imageproc__Image *img = rep->image;
    r->img = img;
    r->res->marked = true;
    r->res->runs = img ? img->runs : 0;
    job_presets(r, rep);
    if (r->regen) {
        /* metadata-svc answers FAILED_PRECONDITION for anything but ready */
    } else if (img && img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY) {
        ip_log(IP_LOG_INFO, "job.already_ready", IP_LS("image_id", r->id));
        r->res->out = PROC_JOB_READY;
        return false;
    }
    /* A failed image's redelivered job is not poison: its outcome is recorded. */
    if (!r->regen && img && img->status != IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED &&
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

/* The logo's size by HeadObject, refused before its bytes are fetched when
 * over PROC_LOGO_MAX_BYTES; a missing or too large logo fails the job
 * (permanent). */
static bool job_logo_size(job_run *r, const char *key)
{
    Imageproc__HeadObjectRequest req = IMAGEPROC__HEAD_OBJECT_REQUEST__INIT;
    req.key = (char *)key;
    Imageproc__HeadObjectReply *rep = NULL;
    ip_status st = ip_storage_head_object(r->ctx->stor, &req, &rep, NULL, r->msg, sizeof(r->msg));
    if (st == IP_NOT_FOUND) {
        snprintf(r->e, sizeof(r->e), "watermark logo %s: not found", key);
        r->res->out = job_fail(r, r->e);
        return false;
    }
    if (job_check(r, "HeadObject(logo)", st, rep) != IP_OK)
        return job_stop_on(r, st, PROC_DEP_STORAGE);
    int64_t size = rep->info ? rep->info->size_bytes : 0;
    if (size > PROC_LOGO_MAX_BYTES) {
        snprintf(r->e, sizeof(r->e), "watermark logo is %lld bytes, over the limit of %d (%s)",
                 (long long)size, PROC_LOGO_MAX_BYTES, key);
        r->res->out = job_fail(r, r->e);
        return false;
    }
    return true;
}

/* The logo of the preset of kind index `i`: kept by the process, or fetched
 * and kept. A logo that is missing, too large or not a PNG fails the job
 * with that reason (permanent). */
static bool job_logo(job_run *r, int i, const char *key)
{
    VipsImage *im = proc_logo_cached(key);
    if (!im) {
        if (!job_logo_size(r, key))
            return false;
        Imageproc__GetObjectRequest req = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
        req.key = (char *)key;
        const Imageproc__GetObjectReply *obj = NULL;
        ip_rpc_view *held = NULL;
        ip_status st = ip_storage_get_object_view(r->ctx->stor, &req, &obj, &held, NULL, r->msg,
                                                  sizeof(r->msg));
        if (st == IP_NOT_FOUND) {
            snprintf(r->e, sizeof(r->e), "watermark logo %s: not found", key);
            r->res->out = job_fail(r, r->e);
            return false;
        }
        if (job_check(r, "GetObject(logo)", st, NULL) != IP_OK)
            return job_stop_on(r, st, PROC_DEP_STORAGE);
        char reason[384];
        st = proc_logo_decode(obj->data.data, obj->data.len, &im, reason, sizeof(reason));
        ip_rpc_view_release(held);
        if (st != IP_OK) {
            snprintf(r->e, sizeof(r->e), "%s (%s)", reason, key);
            r->res->out = job_fail(r, r->e);
            return false;
        }
        proc_logo_keep(key, im);
    }
    r->logos[i] = im;
    r->recipe.logo[i] = im;
    return true;
}

/* The logos the presets of `mask` name. */
static bool job_logos(job_run *r, unsigned mask)
{
    for (int i = 0; i < IP_VARIANT_COUNT; i++) {
        const Imageproc__Watermark *wm = r->recipe.preset[i].watermark;
        if (!(mask & ip_variant_bit(ip_variants[i].kind)) || !wm || !wm->logo_key ||
            !wm->logo_key[0])
            continue;
        if (!job_logo(r, i, wm->logo_key))
            return false;
    }
    return true;
}

/* Steps 2 and 3: the logos, the original, then the variants of `mask` from
 * one decode into r->vars. A decode failure fails the image with its reason. */
static bool job_make(job_run *r, const char *key, unsigned mask)
{
    if (!job_logos(r, mask))
        return false;
    Imageproc__GetObjectRequest req = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
    req.key = (char *)key;
    const Imageproc__GetObjectReply *obj = NULL;
    ip_rpc_view *held = NULL;
    ip_status st =
        ip_storage_get_object_view(r->ctx->stor, &req, &obj, &held, NULL, r->msg, sizeof(r->msg));
    if (job_check(r, "GetObject", st, NULL) != IP_OK)
        return job_stop_on(r, st, PROC_DEP_STORAGE);
    r->t_got = ip_mono_us();
    char reason[512];
    st = proc_variants_make_with(obj->data.data, obj->data.len, mask, r->ctx->settings, &r->recipe,
                                 &r->vars, reason, sizeof(reason));
    /* The original can be large: it goes before the uploads, not with the run. */
    ip_rpc_view_release(held);
    if (st != IP_OK) {
        ip_log(IP_LOG_WARN, "job.decode_failed", IP_LS("image_id", r->id),
               IP_LS("status", ip_strerror(st)), IP_LS("err", reason));
        r->res->out = job_fail(r, reason);
        return false;
    }
    count_encode(&r->vars);
    return true;
}

/* Step 4: every file of every variant to its key (by its preset's
 * version), immutable for caches, all at once (proc_job_store.c). The
 * answers are read in put order: the first failure ends the run as if the
 * puts had been sent one after another. */
static bool job_store(job_run *r)
{
    proc_put puts[JOB_MAX_FILES];
    int n = 0;
    for (int i = 0; i < r->vars.n; i++) {
        const proc_variant *v = &r->vars.v[i];
        for (int k = 0; k <= v->n_more && n < JOB_MAX_FILES; k++, n++) {
            proc_file f = proc_variant_file(v, k);
            /* a UUID id fits */
            (void)ip_key_variant_version(r->keys[n], r->id, v->kind, f.format, v->preset_version);
            puts[n] = (proc_put){.key = r->keys[n],
                                 .data = f.data,
                                 .len = f.len,
                                 .content_type = f.format->content_type,
                                 .cache_control = PROC_CACHE_CONTROL};
        }
    }
    r->n_keys = n;
    r->t_made = ip_mono_us();
    proc_put_all(r->ctx->stor, puts, n);
    r->t_stored = ip_mono_us();
    int failed = -1;
    for (int i = 0; i < n; i++) {
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
    Imageproc__VariantFile files[JOB_MAX_FILES];
    Imageproc__VariantFile *filep[JOB_MAX_FILES];
    int n = 0; /* files in put order: r->keys[n] */
    for (int i = 0; i < r->vars.n; i++) {
        const proc_variant *v = &r->vars.v[i];
        Imageproc__Variant *var = &vars[i];
        *var = (Imageproc__Variant)IMAGEPROC__VARIANT__INIT;
        var->kind = v->kind;
        var->status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
        var->object_key = r->keys[n];
        var->width = v->width;
        var->height = v->height;
        var->size_bytes = (int64_t)v->len;
        var->format = (char *)v->format->name;
        var->preset_version = v->preset_version;
        var->files = &filep[n];
        for (int k = 0; k <= v->n_more && n < JOB_MAX_FILES; k++, n++) {
            proc_file f = proc_variant_file(v, k);
            files[n] = (Imageproc__VariantFile)IMAGEPROC__VARIANT_FILE__INIT;
            files[n].format = (char *)f.format->name;
            files[n].object_key = r->keys[n];
            files[n].size_bytes = (int64_t)f.len;
            filep[n] = &files[n];
            var->n_files++;
        }
        varp[i] = var;
    }
    Imageproc__FinishImageRequest req = IMAGEPROC__FINISH_IMAGE_REQUEST__INIT;
    req.id = (char *)r->id;
    req.variants = varp;
    req.n_variants = (size_t)r->vars.n;
    req.thumbhash = r->vars.placeholder.thumbhash;
    req.dominant_color = r->vars.placeholder.color;
    req.regenerate = r->regen;
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
    if (r->regen) {
        ip_log(IP_LOG_INFO, "job.regenerated", IP_LS("image_id", r->id), IP_LI("files", r->n_keys));
        proc_job_count_regeneration("done");
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
    r.regen = job->regenerate;
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
