/* gw_sweep.c — putting images whose job was lost back on the queue, and the
 * ticker threads that run the gateway's background passes.
 *
 * WHAT IS STALE. ListStale returns three kinds of rows: pending and never
 * enqueued, created more than IP_GATEWAY_SWEEP_AGE_MS ago (a gateway died
 * between CreateImage and the produce); pending and enqueued more than
 * IP_GATEWAY_SWEEP_ENQUEUED_AGE_MS ago (the job was lost on the way); and
 * processing rows whose lease ran out (the processor that held it died). For
 * each the sweep produces a fresh job — the variants requested on the row,
 * attempt one more than the runs the row counts, and at least 2 — and then
 * MarkEnqueued(requeue=true), which also puts an expired processing row back
 * to pending (one whose lease was renewed meanwhile is left alone).
 *
 * SEVERAL GATEWAYS. Every gateway sweeps. ListStale claims the rows it
 * returns for 2 × IP_GATEWAY_SWEEP_INTERVAL_MS, so another sweeper skips
 * them; a pass stops taking new rows after one interval, well inside its
 * claim. A duplicate job (a claim that ran out, a row enqueued by its upload
 * just as it was listed) is harmless: the processor's work is idempotent.
 *
 * A pending row never enqueued whose original is not in the bucket is not
 * enqueued but removed: an upload that failed after CreateImage committed,
 * and whose undo could not reach metadata-svc to delete the row (the
 * original was removed), leaves exactly that (gw_upload.c). A row is only
 * made after its original is stored, so no upload in progress looks so.
 *
 * FAILURES. A transient failure (Kafka or metadata-svc down or slow) ends
 * the pass: the rest would fail alike, each waiting out a deadline. Their
 * claims run out and a later pass takes them again.
 */
#include "gw_sweep.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "gw_job.h"
#include "gw_purge.h"
#include "ip_log.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"

/* A pending row that was never enqueued and whose original is not in the
 * bucket is what an undone upload leaves when DeleteImage failed: its row
 * goes now (with a purge of whatever it names). *gone tells whether it was
 * such a row. Returns a transient status that should end the pass, else
 * IP_OK. */
static ip_status remove_if_no_original(gw_app *app, const Imageproc__Image *img, bool *gone)
{
    char err[256] = "";
    *gone = false;
    if (img->status != IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING || img->enqueued_at_us != 0 ||
        !img->original_key || !img->original_key[0])
        return IP_OK;
    Imageproc__HeadObjectRequest hq = IMAGEPROC__HEAD_OBJECT_REQUEST__INIT;
    hq.key = img->original_key;
    Imageproc__HeadObjectReply *hr = NULL;
    ip_status st = ip_storage_head_object(app->stor, &hq, &hr, NULL, err, sizeof err);
    if (hr)
        imageproc__head_object_reply__free_unpacked(hr, NULL);
    if (st != IP_NOT_FOUND)
        return ip_status_is_transient(st) ? st : IP_OK;
    ip_status purge_st = IP_OK; /* a failed purge is finished by the purger */
    char purge_err[256] = "";
    st = gw_purge_delete_row(app, img->id, &purge_st, err, sizeof err, purge_err,
                             sizeof purge_err);
    if (st != IP_OK && st != IP_NOT_FOUND)
        return ip_status_is_transient(st) ? st : IP_OK;
    *gone = true;
    ip_log(IP_LOG_INFO, "sweep.removed_without_original", IP_LS("image_id", img->id));
    return IP_OK;
}

/* Re-enqueues one stale image. Returns the status that should end the pass
 * (a transient one), else IP_OK; *produced tells whether its job went out. */
static ip_status requeue_one(gw_app *app, const Imageproc__Image *img, bool *produced)
{
    char err[256] = "";
    bool gone = false;
    *produced = false;
    ip_status gst = remove_if_no_original(app, img, &gone);
    if (gst != IP_OK || gone)
        return gst;
    int attempt = img->runs + 1 < 2 ? 2 : img->runs + 1;
    int64_t at = 0;
    ip_status st = gw_job_enqueue(app, img->id, img->content_type, img->requested, img->n_requested,
                                  attempt, &at, err, sizeof err);
    if (st != IP_OK) {
        ip_log(IP_LOG_WARN, "sweep.enqueue_failed", IP_LS("image_id", img->id), IP_LS("err", err));
        return ip_status_is_transient(st) ? st : IP_OK;
    }
    *produced = true;
    ip_metric_add(app->m.requeued, NULL, 1);
    ip_log(IP_LOG_INFO, "sweep.requeued", IP_LS("image_id", img->id), IP_LI("attempt", attempt),
           IP_LS("status", img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING ? "processing"
                                                                                    : "pending"));
    /* The job is in Kafka: a failure here leaves the row's enqueued_at old and
     * the sweep produces it once more later, which is harmless. */
    st = gw_job_mark_enqueued(app, img->id, at, true, err, sizeof err);
    if (st != IP_OK)
        ip_log(IP_LOG_WARN, "sweep.mark_enqueued_failed", IP_LS("image_id", img->id),
               IP_LS("err", err));
    return ip_status_is_transient(st) ? st : IP_OK;
}

ip_status gw_sweep_once(gw_app *app, int *requeued)
{
    *requeued = 0;
    char err[256] = "";
    const gw_config *cfg = &app->cfg;
    Imageproc__ListStaleRequest rq = IMAGEPROC__LIST_STALE_REQUEST__INIT;
    rq.older_than_us = cfg->sweep_age_ms * 1000;
    rq.limit = GW_SWEEP_BATCH;
    rq.enqueued_older_than_us = cfg->sweep_enqueued_age_ms * 1000;
    rq.expired_leases = true;
    rq.claim_ms = 2 * cfg->sweep_interval_ms;
    Imageproc__ListStaleReply *r = NULL;
    ip_status st = ip_metadata_list_stale(app->meta, &rq, &r, NULL, err, sizeof err);
    if (st != IP_OK) {
        ip_log(IP_LOG_WARN, "sweep.list_failed", IP_LS("err", err));
        return st;
    }
    int64_t until = ip_mono_ms() + cfg->sweep_interval_ms;
    for (size_t i = 0; i < r->n_images && ip_mono_ms() < until; i++) {
        bool produced = false;
        st = requeue_one(app, r->images[i], &produced);
        *requeued += produced;
        if (st != IP_OK)
            break;
    }
    imageproc__list_stale_reply__free_unpacked(r, NULL);
    return st;
}

/* ------------------------------------------------------------ the ticker */

struct gw_ticker {
    gw_app *app;
    int64_t interval_ms;
    gw_tick_fn fn;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC: a wall-clock step does not skip or rush a pass */
    bool stop;
};

static void *ticker_main(void *arg)
{
    gw_ticker *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        int64_t ns = dl.tv_nsec + t->interval_ms * 1000000LL;
        dl.tv_sec += ns / 1000000000LL;
        dl.tv_nsec = ns % 1000000000LL;
        while (!t->stop && pthread_cond_timedwait(&t->cv, &t->mu, &dl) == 0) {
        }
        if (t->stop)
            break;
        pthread_mutex_unlock(&t->mu);
        t->fn(t->app);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

ip_status gw_ticker_new(gw_app *app, const char *name, int64_t interval_ms, gw_tick_fn fn,
                        gw_ticker **out)
{
    gw_ticker *t = calloc(1, sizeof *t);
    if (!t)
        return IP_RESOURCE_EXHAUSTED;
    *t = (gw_ticker){.app = app, .interval_ms = interval_ms, .fn = fn};
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
        ip_log(IP_LOG_ERROR, "ticker.start_failed", IP_LS("name", name));
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        free(t);
        return IP_INTERNAL;
    }
    *out = t;
    return IP_OK;
}

void gw_ticker_free(gw_ticker *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
}
