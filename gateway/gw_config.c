/* gw_config.c — the gateway's one configuration table (ip_config), its
 * metrics, and the start/stop order of its parts.
 *
 * The variables the gateway shares with other services (addresses, RPC
 * limits, Kafka, the upload and pixel limits, the log level) come from
 * ip_settings.h, so their defaults and bounds are the same everywhere; the
 * IP_GATEWAY_* and IP_WEBHOOK_* ones are the gateway's own. Background
 * threads run beside the HTTP daemon: the sweep (gw_sweep.c), the purger
 * (gw_purge.c) and the webhook dispatcher (gw_webhook_dispatch.c), and
 * the work pool (gw_work.c) takes what waits on S3 or Kafka off the HTTP
 * threads. IP_GATEWAY_MEMORY_BYTES is the limit of the process's memory
 * budget (ip_budget.h).
 *
 * STOP ORDER. SSE clients are resumed and ended, then the work pool stops
 * taking jobs and drains (each job is bounded by its RPC deadline and resumes
 * its connection), and only then is the HTTP daemon stopped: a job never
 * resumes a connection of a stopped daemon. A step that takes 500 ms or more
 * is logged ("gateway.stop_slow" with the step), so a slow exit names the part
 * that held it; the nng teardowns are bounded (ip_rpc_run_bounded).
 */
#include <stddef.h>

#include "gw_app.h"
#include "gw_events.h"
#include "gw_http.h"
#include "gw_kafka.h"
#include "gw_purge.h"
#include "gw_sweep.h"
#include "gw_webhook_dispatch.h"
#include "gw_work.h"
#include "ip_budget.h"
#include "ip_log.h"
#include "ip_settings.h"
#include "ip_time.h"
#include "metadata.pb-c.h"
#include "storage.pb-c.h"

#define S(f) offsetof(gw_config, f)
const ip_cfg_var gw_config_vars[] = {
    {"IP_GATEWAY_LISTEN", IP_CFG_STRING, "127.0.0.1:8081", 0, 0, false, S(listen),
     "HTTP address of the REST API (host:port)"},
    IP_SETTING_METADATA_RPC_URL(S(metadata_rpc_url)),
    IP_SETTING_METADATA_EVENTS_URL(S(metadata_events_url)),
    IP_SETTING_STORAGE_RPC_URL(S(storage_rpc_url)),
    IP_SETTING_RPC_TIMEOUT_MS(S(rpc_timeout_ms)),
    IP_SETTING_RPC_MAX_MSG_BYTES(S(rpc_max_msg_bytes)),
    IP_SETTING_KAFKA_BROKERS(S(kafka_brokers)),
    IP_SETTING_KAFKA_TOPIC(S(kafka_topic)),
    {"IP_GATEWAY_KAFKA_TIMEOUT_MS", IP_CFG_INT, "5000", 500, 300000, false, S(kafka_timeout_ms),
     "how long an upload waits for Kafka's acknowledgement before 503"},
    IP_SETTING_UPLOAD_MAX_BYTES(S(upload_max_bytes)),
    {"IP_GATEWAY_MEMORY_BYTES", IP_CFG_INT, "1073741824", 1048576, 68719476736LL, false,
     S(memory_bytes),
     "the gateway's memory budget: upload bodies, the PutObject message and download chunks "
     "held at once by all requests (503 busy beyond)"},
    {"IP_GATEWAY_DOWNLOAD_CHUNK_BYTES", IP_CFG_INT, "1048576", 65536, 16777216, false,
     S(download_chunk_bytes),
     "bytes of an original (or a variant served directly) fetched from storage-svc at a time; "
     "twice this is charged to the budget per download"},
    {"IP_GATEWAY_WORKERS", IP_CFG_INT, "16", 1, 1024, false, S(workers),
     "threads of the work pool that runs what waits on S3 or Kafka (upload checks and store, "
     "download chunks, DELETE's purge)"},
    {"IP_GATEWAY_WORK_QUEUE", IP_CFG_INT, "256", 1, 65536, false, S(work_queue),
     "jobs waiting for a work pool thread at most (503 busy beyond)"},
    IP_SETTING_PIXEL_LIMIT(S(pixel_limit)),
    IP_SETTINGS_ADMIT(S(admit)),
    IP_SETTING_LOG_LEVEL(S(log_level)),
    {"IP_GATEWAY_THREADS", IP_CFG_INT, "16", 1, 256, false, S(threads),
     "HTTP worker threads (libmicrohttpd thread pool)"},
    {"IP_GATEWAY_MAX_CONNECTIONS", IP_CFG_INT, "1024", 16, 65536, false, S(max_connections),
     "open HTTP connections at most (SSE clients included)"},
    {"IP_GATEWAY_ACCEL", IP_CFG_BOOL, "true", 0, 0, false, S(accel),
     "answer GET /image/{id} for proxied requests (X-Forwarded-Prefix or X-Forwarded-For "
     "set) with X-Accel-Redirect instead of the bytes"},
    {"IP_GATEWAY_ACCEL_LOCATION", IP_CFG_STRING, "/_accel/", 0, 0, false, S(accel_location),
     "nginx internal location that proxies bucket keys (X-Accel-Redirect: <this><key>)"},
    {"IP_GATEWAY_SSE_HEARTBEAT_MS", IP_CFG_INT, "15000", 100, 600000, false, S(sse_heartbeat_ms),
     "SSE heartbeat comment interval"},
    {"IP_GATEWAY_SSE_BUFFER_BYTES", IP_CFG_INT, "262144", 1024, 67108864, false,
     S(sse_buffer_bytes), "bytes queued for one SSE client before it is dropped as too slow"},
    {"IP_GATEWAY_SSE_MAX_CLIENTS", IP_CFG_INT, "512", 1, 65536, false, S(sse_max_clients),
     "SSE clients at most (503 beyond)"},
    {"IP_GATEWAY_SWEEP_INTERVAL_MS", IP_CFG_INT, "10000", 100, 3600000, false, S(sweep_interval_ms),
     "how often stale images (job lost, lease run out) are re-enqueued; a pass claims its rows "
     "for twice this"},
    {"IP_GATEWAY_SWEEP_AGE_MS", IP_CFG_INT, "30000", 1000, 86400000, false, S(sweep_age_ms),
     "age after which a pending, never-enqueued upload counts as stale"},
    {"IP_GATEWAY_SWEEP_ENQUEUED_AGE_MS", IP_CFG_INT, "900000", 1000, 604800000, false,
     S(sweep_enqueued_age_ms),
     "time since its job was enqueued after which a still pending image is enqueued again"},
    {"IP_GATEWAY_PURGE_INTERVAL_MS", IP_CFG_INT, "2000", 100, 3600000, false, S(purge_interval_ms),
     "how often the purger claims the objects of deleted images still to remove"},
    {"IP_GATEWAY_DELETE_WAIT_MS", IP_CFG_INT, "2000", 100, 60000, false, S(delete_wait_ms),
     "how long DELETE /image/{id} waits for the objects' removal (204) before leaving it to "
     "the purger (202)"},
    {"IP_GATEWAY_UPLOAD_NEEDS_KEY", IP_CFG_BOOL, "false", 0, 0, false, S(upload_needs_key),
     "POST /upload needs an API key with upload (or admin) scope (a closed deployment); "
     "false: anyone may upload"},
    {"IP_WEBHOOK_DISPATCH", IP_CFG_BOOL, "true", 0, 0, false, S(webhook_dispatch),
     "this gateway runs a webhook dispatcher (sends the deliveries of the outbox; any number "
     "of gateways may)"},
    {"IP_WEBHOOK_POLL_MS", IP_CFG_INT, "1000", 50, 60000, false, S(webhook_poll_ms),
     "how long an idle dispatcher thread waits before it looks for due deliveries again (a "
     "status event wakes it sooner)"},
    {"IP_WEBHOOK_CONCURRENCY", IP_CFG_INT, "4", 1, 64, false, S(webhook_concurrency),
     "dispatcher threads: webhook requests this gateway sends at once"},
    {"IP_WEBHOOK_TIMEOUT_MS", IP_CFG_INT, "10000", 100, 120000, false, S(webhook_timeout_ms),
     "how long one webhook request may take in all (connect, send, answer)"},
    {"IP_WEBHOOK_RESPONSE_MAX_BYTES", IP_CFG_INT, "65536", 1024, 16777216, false,
     S(webhook_response_max_bytes),
     "bytes of a receiver's answer read at most; the rest is not read (a 2xx still counts)"},
    {"IP_WEBHOOK_RETRY_BASE_MS", IP_CFG_INT, "5000", 100, 3600000, false, S(webhook_retry_base_ms),
     "wait after the first failed attempt; doubled after each further one, with jitter "
     "(at least 1 s is applied)"},
    {"IP_WEBHOOK_RETRY_MAX_MS", IP_CFG_INT, "3600000", 100, 86400000, false,
     S(webhook_retry_max_ms), "longest wait between two attempts of a delivery"},
    {"IP_WEBHOOK_RETRY_HORIZON_MS", IP_CFG_INT, "86400000", 60000, 604800000, false,
     S(webhook_retry_horizon_ms),
     "a delivery is given up (failed) when its next attempt would come later than this after "
     "its creation or its last resend"},
    {"IP_WEBHOOK_ALLOW_PRIVATE", IP_CFG_BOOL, "true", 0, 0, false, S(webhook_allow_private),
     "webhooks may go to private addresses; false refuses loopback, RFC 1918, link-local, "
     "CGNAT, unique local, multicast and unspecified addresses (checked on the address "
     "connected to) and such literal urls at subscription"},
};
#undef S
const size_t gw_config_nvars = sizeof gw_config_vars / sizeof gw_config_vars[0];

void gw_metrics_register(gw_metrics *m)
{
    static const double lat[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                 0.25,  0.5,    1,     2.5,  5,     10};
    m->requests = ip_metric_counter("gw_http_requests_total", "HTTP requests by route and status",
                                    "route,status");
    m->latency =
        ip_metric_histogram("gw_http_request_duration_seconds", "HTTP request latency by route",
                            "route", lat, sizeof lat / sizeof lat[0]);
    m->uploads = ip_metric_counter("gw_uploads_total", "uploads accepted or refused, by reason",
                                   "result,reason");
    m->upload_bytes =
        ip_metric_counter("gw_upload_bytes_total", "bytes of accepted originals", NULL);
    m->sse_clients = ip_metric_gauge("gw_sse_clients", "SSE clients connected", NULL);
    m->sse_dropped =
        ip_metric_counter("gw_sse_dropped_total", "SSE clients dropped as too slow", NULL);
    m->events = ip_metric_counter("gw_status_events_total", "status events received", NULL);
    m->requeued =
        ip_metric_counter("gw_sweep_requeued_total", "stale images re-enqueued by the sweep", NULL);
    m->undo =
        ip_metric_counter("gw_upload_undo_total",
                          "uploads rolled back, by outcome (done, deferred, failed)", "result");
    m->purges = ip_metric_counter("gw_purges_total",
                                  "purges of deleted images' objects, by who ran them (request, "
                                  "purger) and outcome (done, failed)",
                                  "by,result");
    m->memory_used =
        ip_metric_gauge("gw_memory_bytes", "bytes charged to the memory budget now", NULL);
    m->memory_peak = ip_metric_gauge("gw_memory_peak_bytes",
                                     "most bytes ever charged to the memory budget at once", NULL);
    m->memory_refusals = ip_metric_counter(
        "gw_memory_refusals_total",
        "requests refused (503 busy) because the memory budget was used up", NULL);
    m->work_queued = ip_metric_gauge("gw_work_queued", "jobs waiting for a work pool thread", NULL);
    m->work_busy = ip_metric_gauge("gw_work_busy", "work pool threads running a job", NULL);
    m->work_rejected = ip_metric_counter(
        "gw_work_rejected_total", "jobs refused (503 busy) because the work queue was full", NULL);
    static const double wh[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
    m->webhook_attempts = ip_metric_counter(
        "gw_webhook_attempts_total",
        "webhook attempts by result (delivered, http_error, timeout, connect_error, refused, "
        "redirect)",
        "result");
    m->webhook_attempt_seconds =
        ip_metric_histogram("gw_webhook_attempt_seconds", "duration of webhook attempts", NULL, wh,
                            sizeof wh / sizeof wh[0]);
    m->webhook_claim_errors =
        ip_metric_counter("gw_webhook_claim_errors_total",
                          "ClaimDeliveries calls that failed (metadata-svc unreachable)", NULL);
}

void gw_metrics_refresh(gw_app *app)
{
    ip_metric_set(app->m.memory_used, NULL, (double)ip_budget_used());
    ip_metric_set(app->m.memory_peak, NULL, (double)ip_budget_peak());
    if (app->work) {
        ip_metric_set(app->m.work_queued, NULL, (double)gw_work_queued(app->work));
        ip_metric_set(app->m.work_busy, NULL, (double)gw_work_busy(app->work));
    }
}

static void sweep_tick(gw_app *app)
{
    int requeued = 0;
    gw_sweep_once(app, &requeued);
}

static void purge_tick(gw_app *app)
{
    int done = 0, failed = 0;
    gw_purge_once(app, &done, &failed);
}

ip_status gw_app_start(gw_app *app)
{
    ip_status st;
    gw_metrics_register(&app->m);
    ip_budget_set_limit(app->cfg.memory_bytes);
    ip_rpc_client_opts mo = {.urls = app->cfg.metadata_rpc_url,
                             .timeout_ms = (int)app->cfg.rpc_timeout_ms,
                             .max_msg_bytes = (size_t)app->cfg.rpc_max_msg_bytes};
    if ((st = ip_rpc_client_new(&imageproc__metadata__descriptor, &mo, &app->meta)) != IP_OK)
        goto fail;
    ip_rpc_client_opts so = mo;
    so.urls = app->cfg.storage_rpc_url;
    if ((st = ip_rpc_client_new(&imageproc__storage__descriptor, &so, &app->stor)) != IP_OK)
        goto fail;
    if ((st = gw_kafka_new(app->cfg.kafka_brokers, app->cfg.kafka_topic,
                           (int)app->cfg.kafka_timeout_ms, &app->kafka)) != IP_OK)
        goto fail;
    /* before the events: the subscriber wakes the dispatcher */
    if (app->cfg.webhook_dispatch && (st = gw_webhook_dispatch_new(app, &app->webhooks)) != IP_OK)
        goto fail;
    if ((st = gw_events_new(app, &app->events)) != IP_OK)
        goto fail;
    if ((st = gw_ticker_new(app, "sweep", app->cfg.sweep_interval_ms, sweep_tick, &app->sweeper)) !=
        IP_OK)
        goto fail;
    if ((st = gw_ticker_new(app, "purger", app->cfg.purge_interval_ms, purge_tick, &app->purger)) !=
        IP_OK)
        goto fail;
    if ((st = gw_work_new((int)app->cfg.workers, (int)app->cfg.work_queue, &app->work)) != IP_OK)
        goto fail;
    if ((st = gw_http_new(app, &app->http)) != IP_OK)
        goto fail;
    return IP_OK;
fail:
    ip_log(IP_LOG_ERROR, "gateway.start_failed", IP_LS("err", ip_strerror(st)));
    gw_app_stop(app);
    return st;
}

/* Logs a stop step that took long (a part that holds the exit up is named). */
static void stop_step_done(const char *step, int64_t *t)
{
    int64_t now = ip_mono_ms();
    if (now - *t >= 500)
        ip_log(IP_LOG_WARN, "gateway.stop_slow", IP_LS("step", step), IP_LI("ms", now - *t));
    *t = now;
}

void gw_app_stop(gw_app *app)
{
    int64_t t = ip_mono_ms();
    if (app->events)
        gw_events_close(app->events); /* resumes and ends every SSE client */
    stop_step_done("events_close", &t);
    gw_work_close(app->work); /* drains: every job resumes its connection; nothing new starts */
    stop_step_done("work_close", &t);
    gw_http_free(app->http); /* a resumed upload may still submit: refused by the closed pool */
    app->http = NULL;
    stop_step_done("http", &t);
    gw_work_free(app->work);
    app->work = NULL;
    stop_step_done("work", &t);
    /* after gw_events_close: the subscriber that wakes it has ended */
    gw_webhook_dispatch_free(app->webhooks);
    app->webhooks = NULL;
    stop_step_done("webhooks", &t);
    gw_ticker_free(app->purger);
    app->purger = NULL;
    stop_step_done("purger", &t);
    gw_ticker_free(app->sweeper);
    app->sweeper = NULL;
    stop_step_done("sweeper", &t);
    gw_events_free(app->events);
    app->events = NULL;
    stop_step_done("events", &t);
    gw_kafka_free(app->kafka);
    app->kafka = NULL;
    stop_step_done("kafka", &t);
    ip_rpc_client_free(app->stor);
    app->stor = NULL;
    stop_step_done("storage_client", &t);
    ip_rpc_client_free(app->meta);
    app->meta = NULL;
    stop_step_done("metadata_client", &t);
}
