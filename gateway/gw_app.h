/* gw_app.h — the gateway's configuration table and the state its parts share.
 *
 * One gw_app per process: the loaded configuration, the RPC clients for
 * metadata-svc and storage-svc, the Kafka producer, the SSE hub, the
 * background threads (the sweep, the purger and the webhook dispatcher), the
 * work pool and the HTTP
 * daemon. gw_app_start() brings them up in dependency order; gw_app_stop()
 * takes them down in reverse (SSE clients are resumed and ended, and the work
 * pool drained, before the daemon stops).
 */
#ifndef GW_APP_H
#define GW_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_admit.h"
#include "ip_config.h"
#include "ip_metrics.h"
#include "ip_rpc.h"
#include "ip_status.h"

typedef struct gw_config {
    char *listen;
    char *metadata_rpc_url;
    char *metadata_events_url;
    char *storage_rpc_url;
    int64_t rpc_timeout_ms;
    int64_t rpc_max_msg_bytes;
    char *kafka_brokers;
    char *kafka_topic;
    int64_t kafka_timeout_ms;
    int64_t upload_max_bytes;
    int64_t memory_bytes;         /* IP_GATEWAY_MEMORY_BYTES: the process's budget */
    int64_t download_chunk_bytes; /* IP_GATEWAY_DOWNLOAD_CHUNK_BYTES */
    int64_t workers;              /* IP_GATEWAY_WORKERS */
    int64_t work_queue;           /* IP_GATEWAY_WORK_QUEUE */
    int64_t pixel_limit;
    ip_admit_limits admit; /* IP_ADMIT_*; admit.pixels = pixel_limit */
    char *log_level;
    int64_t threads;
    int64_t max_connections;
    bool accel;
    char *accel_location;
    int64_t sse_heartbeat_ms;
    int64_t sse_buffer_bytes;
    int64_t sse_max_clients;
    int64_t sweep_interval_ms;
    int64_t sweep_age_ms;
    int64_t sweep_enqueued_age_ms;
    int64_t purge_interval_ms;
    int64_t delete_wait_ms;
    bool upload_needs_key; /* IP_GATEWAY_UPLOAD_NEEDS_KEY: uploads need an upload-scope key */
    /* IP_WEBHOOK_*: the webhook dispatcher (gw_webhook_dispatch.h) */
    bool webhook_dispatch;
    int64_t webhook_poll_ms;
    int64_t webhook_concurrency;
    int64_t webhook_timeout_ms;
    int64_t webhook_response_max_bytes;
    int64_t webhook_retry_base_ms;
    int64_t webhook_retry_max_ms;
    int64_t webhook_retry_horizon_ms;
    bool webhook_allow_private;
} gw_config;

extern const ip_cfg_var gw_config_vars[];
extern const size_t gw_config_nvars;

typedef struct gw_kafka gw_kafka;
typedef struct gw_events gw_events;
typedef struct gw_http gw_http;
typedef struct gw_ticker gw_ticker;
typedef struct gw_work gw_work;
typedef struct gw_webhook_dispatch gw_webhook_dispatch;

typedef struct gw_metrics {
    ip_metric *requests;                /* gw_http_requests_total{route,status} */
    ip_metric *latency;                 /* gw_http_request_duration_seconds{route} */
    ip_metric *uploads;                 /* gw_uploads_total{result,reason} */
    ip_metric *upload_bytes;            /* gw_upload_bytes_total */
    ip_metric *sse_clients;             /* gw_sse_clients */
    ip_metric *sse_dropped;             /* gw_sse_dropped_total */
    ip_metric *events;                  /* gw_status_events_total */
    ip_metric *requeued;                /* gw_sweep_requeued_total */
    ip_metric *undo;                    /* gw_upload_undo_total{result} */
    ip_metric *purges;                  /* gw_purges_total{by,result} */
    ip_metric *memory_used;             /* gw_memory_bytes */
    ip_metric *memory_peak;             /* gw_memory_peak_bytes */
    ip_metric *memory_refusals;         /* gw_memory_refusals_total */
    ip_metric *work_queued;             /* gw_work_queued */
    ip_metric *work_busy;               /* gw_work_busy */
    ip_metric *work_rejected;           /* gw_work_rejected_total */
    ip_metric *webhook_attempts;        /* gw_webhook_attempts_total{result} */
    ip_metric *webhook_attempt_seconds; /* gw_webhook_attempt_seconds */
    ip_metric *webhook_claim_errors;    /* gw_webhook_claim_errors_total */
} gw_metrics;

typedef struct gw_app {
    gw_config cfg;
    ip_rpc_client *meta;
    ip_rpc_client *stor;
    gw_kafka *kafka;
    gw_events *events;
    gw_ticker *sweeper;            /* gw_sweep_once every IP_GATEWAY_SWEEP_INTERVAL_MS */
    gw_ticker *purger;             /* gw_purge_once every IP_GATEWAY_PURGE_INTERVAL_MS */
    gw_webhook_dispatch *webhooks; /* NULL unless IP_WEBHOOK_DISPATCH */
    gw_work *work;                 /* the pool for what waits on S3 or Kafka (gw_work.h) */
    gw_http *http;
    gw_metrics m;
} gw_app;

/* Registers the gateway's metrics into app->m (idempotent). */
void gw_metrics_register(gw_metrics *m);
/* Sets the gauges read from elsewhere (the memory budget, the work pool)
 * just before the metrics are rendered. */
void gw_metrics_refresh(gw_app *app);

/* Starts every part with app->cfg loaded. On failure what started is stopped. */
ip_status gw_app_start(gw_app *app);
/* Stops and frees what gw_app_start made (not the config). Idempotent. */
void gw_app_stop(gw_app *app);

#endif
