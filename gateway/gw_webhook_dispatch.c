/* gw_webhook_dispatch.c — the dispatcher threads: claim, send, report.
 *
 * HOW IT WORKS. Each thread loops: ClaimDeliveries(GW_WEBHOOK_CLAIM_BATCH,
 * gw_webhook_claim_ms), then for each delivery one attempt
 * (gw_webhook_send, signed with the attempt's own timestamp) and
 * FinishDelivery with its outcome. A failed attempt is due again after
 * gw_webhook_backoff_ms(attempts) — the contract's 1 s .. 24 h applied —
 * and metadata-svc marks it failed instead when that is past its horizon
 * (IP_WEBHOOK_RETRY_HORIZON_MS from its creation or last resend).
 *
 * DELIVERY GUARANTEE. At least once: a FinishDelivery that is lost (the
 * gateway dies, metadata-svc is down) leaves the claim to run out, and the
 * delivery is attempted again, possibly by another gateway, with the same
 * webhook-id so that receivers can drop the repeat. The claim is one
 * attempt's timeout plus 30 s, so it cannot run out while its attempt is
 * under way.
 *
 * IDLE AND WAKE. A thread that found nothing waits IP_WEBHOOK_POLL_MS on a
 * condition variable. gw_webhook_dispatch_wake (called by the status event
 * subscriber for ready, failed and deleted events) bumps a generation
 * counter and broadcasts: a thread compares the generation it saw before its
 * claim, so a wake that comes while it is claiming is not lost.
 *
 * OUTAGES. When a claim fails (metadata-svc down) the failure is logged once
 * for all threads until a claim succeeds again (then the recovery is logged),
 * counted in gw_webhook_claim_errors_total every time, and the thread waits
 * the poll interval.
 *
 * SHUTDOWN. The stop flag is set and the threads woken; an attempt under way
 * sees the flag in libcurl's progress callback and ends within about a second;
 * its delivery is reported as due again after the shortest retry, so another
 * gateway (or this one, restarted) picks it up at once rather than when the
 * claim runs out.
 */
#include "gw_webhook_dispatch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_webhook_send.h"
#include "ip_log.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"
#include "metadata.pb-c.h"

/* FinishDelivery's bounds on retry_after_ms (proto/webhook.proto). */
#define RETRY_AFTER_MIN_MS 1000
#define RETRY_AFTER_MAX_MS 86400000

struct gw_webhook_dispatch {
    gw_app *app;
    atomic_bool stop;
    atomic_bool outage; /* the last claim of any thread failed (logged once) */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    uint64_t generation; /* under mu: bumped by every wake */
    int nthreads;
    pthread_t *threads;
};

int64_t gw_webhook_backoff_ms(int64_t base_ms, int64_t max_ms, int attempts, uint32_t rnd)
{
    if (base_ms < 1)
        base_ms = 1;
    if (max_ms < base_ms)
        max_ms = base_ms;
    int64_t d = ip_backoff_cap(base_ms, max_ms, attempts - 1);
    int64_t half = d / 2;
    return half + (int64_t)(rnd % (uint64_t)(d - half + 1));
}

int64_t gw_webhook_claim_ms(const gw_config *cfg)
{
    return cfg->webhook_timeout_ms + 30000;
}

void gw_webhook_dispatch_wake(gw_webhook_dispatch *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    d->generation++;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->mu);
}

static uint64_t generation_now(gw_webhook_dispatch *d)
{
    pthread_mutex_lock(&d->mu);
    uint64_t g = d->generation;
    pthread_mutex_unlock(&d->mu);
    return g;
}

/* Waits up to ms, or until a wake after generation `seen`, or the stop. */
static void idle(gw_webhook_dispatch *d, uint64_t seen, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&d->mu);
    while (!atomic_load(&d->stop) && d->generation == seen)
        if (pthread_cond_timedwait(&d->cond, &d->mu, &until) != 0)
            break;
    pthread_mutex_unlock(&d->mu);
}

/* A small generator per thread for the jitter (xorshift32). */
static uint32_t next_random(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x != 0 ? x : 0x9e3779b9u;
}

/* One attempt of one claimed delivery and its report. */
static void deliver(gw_webhook_dispatch *d, const Imageproc__WebhookDelivery *dv, uint32_t *rnd)
{
    gw_app *app = d->app;
    const gw_config *cfg = &app->cfg;
    gw_webhook_send_opts o = {.timeout_ms = cfg->webhook_timeout_ms,
                              .response_max_bytes = (size_t)cfg->webhook_response_max_bytes,
                              .allow_private = cfg->webhook_allow_private,
                              .stop = &d->stop};
    const char *body = dv->body != NULL ? dv->body : "";
    gw_webhook_attempt a;
    gw_webhook_send(dv->url, dv->secret, dv->id, ip_now_us() / 1000000, body, strlen(body), &o, &a);

    Imageproc__FinishDeliveryRequest rq = IMAGEPROC__FINISH_DELIVERY_REQUEST__INIT;
    rq.id = dv->id;
    rq.delivered = a.delivered;
    rq.status = a.status;
    rq.error = a.error;
    rq.duration_ms = a.duration_ms;
    int64_t retry_ms = 0;
    if (!a.delivered) {
        retry_ms =
            a.result == GW_WEBHOOK_STOPPED
                ? RETRY_AFTER_MIN_MS
                : gw_webhook_backoff_ms(cfg->webhook_retry_base_ms, cfg->webhook_retry_max_ms,
                                        dv->attempts, next_random(rnd));
        if (retry_ms < RETRY_AFTER_MIN_MS)
            retry_ms = RETRY_AFTER_MIN_MS;
        if (retry_ms > RETRY_AFTER_MAX_MS)
            retry_ms = RETRY_AFTER_MAX_MS;
        rq.retry_after_ms = retry_ms;
        rq.horizon_ms = cfg->webhook_retry_horizon_ms;
    }
    if (a.result != GW_WEBHOOK_STOPPED) {
        ip_metric_add(app->m.webhook_attempts, gw_webhook_result_name(a.result), 1);
        ip_metric_observe(app->m.webhook_attempt_seconds, NULL, a.duration_ms / 1000.0);
    }
    if (a.delivered)
        ip_log(IP_LOG_INFO, "webhook.delivered", IP_LS("delivery_id", dv->id),
               IP_LS("subscription_id", dv->subscription_id), IP_LS("image_id", dv->image_id),
               IP_LI("status", a.status), IP_LI("attempts", dv->attempts),
               IP_LI("ms", a.duration_ms));
    else
        ip_log(IP_LOG_WARN, "webhook.attempt_failed", IP_LS("delivery_id", dv->id),
               IP_LS("subscription_id", dv->subscription_id), IP_LS("image_id", dv->image_id),
               IP_LS("result", gw_webhook_result_name(a.result)), IP_LI("status", a.status),
               IP_LI("attempts", dv->attempts), IP_LI("ms", a.duration_ms),
               IP_LI("retry_after_ms", retry_ms), IP_LS("err", a.error));

    char err[256] = "";
    Imageproc__FinishDeliveryReply *r = NULL;
    ip_status st = ip_metadata_finish_delivery(app->meta, &rq, &r, NULL, err, sizeof err);
    if (st != IP_OK)
        /* the claim runs out and the delivery is attempted again */
        ip_log(IP_LOG_WARN, "webhook.finish_failed", IP_LS("delivery_id", dv->id),
               IP_LS("status", ip_strerror(st)), IP_LS("err", err));
    else if (r->delivery != NULL &&
             r->delivery->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_FAILED)
        ip_log(IP_LOG_WARN, "webhook.given_up", IP_LS("delivery_id", dv->id),
               IP_LS("subscription_id", dv->subscription_id), IP_LI("attempts", dv->attempts));
    if (r != NULL)
        imageproc__finish_delivery_reply__free_unpacked(r, NULL);
}

/* One claim and its deliveries; the number claimed, or -1 when the claim
 * failed. */
static int claim_and_send(gw_webhook_dispatch *d, uint32_t *rnd)
{
    gw_app *app = d->app;
    Imageproc__ClaimDeliveriesRequest rq = IMAGEPROC__CLAIM_DELIVERIES_REQUEST__INIT;
    rq.limit = GW_WEBHOOK_CLAIM_BATCH;
    rq.claim_ms = gw_webhook_claim_ms(&app->cfg);
    Imageproc__ClaimDeliveriesReply *r = NULL;
    char err[256] = "";
    ip_status st = ip_metadata_claim_deliveries(app->meta, &rq, &r, NULL, err, sizeof err);
    if (st != IP_OK) {
        ip_metric_add(app->m.webhook_claim_errors, NULL, 1);
        if (!atomic_exchange(&d->outage, true))
            ip_log(IP_LOG_WARN, "webhook.claim_failed", IP_LS("status", ip_strerror(st)),
                   IP_LS("err", err));
        return -1;
    }
    if (atomic_exchange(&d->outage, false))
        ip_log(IP_LOG_INFO, "webhook.claim_recovered");
    int n = (int)r->n_deliveries;
    for (size_t i = 0; i < r->n_deliveries; i++)
        deliver(d, r->deliveries[i], rnd);
    imageproc__claim_deliveries_reply__free_unpacked(r, NULL);
    return n;
}

typedef struct thread_arg {
    gw_webhook_dispatch *d;
    uint32_t seed;
} thread_arg;

static void *dispatch_main(void *arg)
{
    thread_arg ta = *(thread_arg *)arg;
    free(arg);
    gw_webhook_dispatch *d = ta.d;
    uint32_t rnd = ta.seed != 0 ? ta.seed : 1;
    while (!atomic_load(&d->stop)) {
        uint64_t seen = generation_now(d);
        int n = claim_and_send(d, &rnd);
        /* a full batch: there may be more due at once */
        if (n < GW_WEBHOOK_CLAIM_BATCH && !atomic_load(&d->stop))
            idle(d, n < 0 ? generation_now(d) : seen, d->app->cfg.webhook_poll_ms);
    }
    return NULL;
}

ip_status gw_webhook_dispatch_new(gw_app *app, gw_webhook_dispatch **out)
{
    *out = NULL;
    gw_webhook_dispatch *d = calloc(1, sizeof *d);
    if (d == NULL)
        return IP_RESOURCE_EXHAUSTED;
    d->app = app;
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    int want = (int)app->cfg.webhook_concurrency;
    d->threads = calloc((size_t)want, sizeof *d->threads);
    if (d->threads == NULL)
        goto fail;
    uint32_t seed = (uint32_t)ip_mono_us() ^ (uint32_t)(uintptr_t)d;
    for (int i = 0; i < want; i++) {
        thread_arg *ta = malloc(sizeof *ta);
        if (ta == NULL)
            goto fail;
        ta->d = d;
        ta->seed = seed + 0x9e3779b9u * (uint32_t)(i + 1);
        if (pthread_create(&d->threads[i], NULL, dispatch_main, ta) != 0) {
            free(ta);
            goto fail;
        }
        d->nthreads++;
    }
    ip_log(IP_LOG_INFO, "webhook.dispatcher_started", IP_LI("threads", d->nthreads),
           IP_LB("allow_private", app->cfg.webhook_allow_private));
    *out = d;
    return IP_OK;
fail:
    ip_log(IP_LOG_ERROR, "webhook.dispatcher_start_failed", IP_LI("threads", d->nthreads));
    gw_webhook_dispatch_free(d);
    return IP_RESOURCE_EXHAUSTED;
}

void gw_webhook_dispatch_free(gw_webhook_dispatch *d)
{
    if (d == NULL)
        return;
    atomic_store(&d->stop, true);
    gw_webhook_dispatch_wake(d);
    for (int i = 0; i < d->nthreads; i++)
        pthread_join(d->threads[i], NULL);
    free(d->threads);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
