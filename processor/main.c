/* main.c — processor: the Kafka consumer that makes the variants.
 *
 * Start-up: read the configuration table, set up logging and signals,
 * initialise libvips (cache off, concurrency and decode budget from the
 * table, GLib logs routed into ip_log), make the Metadata and Storage RPC
 * clients, serve /metrics and /healthz, then consume the jobs topic and the
 * low-priority regeneration topic until SIGTERM/SIGINT:
 * stop fetching, finish the jobs in flight, commit, leave the group, exit 0.
 */
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "ip_config.h"
#include "ip_lifecycle.h"
#include "ip_log.h"
#include "ip_metrics.h"
#include "ip_rpc.h"
#include "ip_settings.h"
#include "metadata.pb-c.h"
#include "proc_consumer.h"
#include "proc_job.h"
#include "proc_variants.h"
#include "proc_watermark.h"
#include "storage.pb-c.h"

typedef struct proc_config {
    char *brokers;
    char *topic;
    char *dlq_topic;
    char *regen_topic;
    char *group;
    int64_t session_timeout_ms;
    char *metadata_url;
    char *storage_url;
    int64_t rpc_timeout_ms;
    int64_t rpc_max_msg;
    int64_t workers;
    int64_t regen_workers;
    char *metrics_listen;
    int64_t pixel_limit;
    ip_admit_limits admit;
    int64_t max_attempts;
    int64_t backoff_ms;
    int64_t backoff_max_ms;
    int64_t retry_horizon_ms;
    int64_t lease_ms;
    int64_t vips_concurrency;
    int64_t decode_budget_mb;
    int64_t malloc_arenas;
    char *log_level;
} proc_config;

/* A processor-only variable; the shared ones come from ip_settings.h. */
#define V(name, type, def, lo, hi, field, help)                                                    \
    {                                                                                              \
        name, type, def, lo, hi, false, offsetof(proc_config, field), help                         \
    }

static const ip_cfg_var config_table[] = {
    IP_SETTING_KAFKA_BROKERS(offsetof(proc_config, brokers)),
    IP_SETTING_KAFKA_TOPIC(offsetof(proc_config, topic)),
    IP_SETTING_KAFKA_DLQ_TOPIC(offsetof(proc_config, dlq_topic)),
    IP_SETTING_KAFKA_REGEN_TOPIC(offsetof(proc_config, regen_topic)),
    V("IP_KAFKA_GROUP", IP_CFG_STRING, "processor", 0, 0, group, "consumer group"),
    V("IP_KAFKA_SESSION_TIMEOUT_MS", IP_CFG_INT, "10000", 6000, 300000, session_timeout_ms,
      "group session timeout: how soon a dead processor's partitions move"),
    IP_SETTING_METADATA_RPC_URL(offsetof(proc_config, metadata_url)),
    IP_SETTING_STORAGE_RPC_URL(offsetof(proc_config, storage_url)),
    IP_SETTING_RPC_TIMEOUT_MS(offsetof(proc_config, rpc_timeout_ms)),
    IP_SETTING_RPC_MAX_MSG_BYTES(offsetof(proc_config, rpc_max_msg)),
    V("IP_PROCESSOR_WORKERS", IP_CFG_INT, "0", 0, 256, workers,
      "jobs processed at once (0 = number of cores)"),
    V("IP_PROCESSOR_REGEN_WORKERS", IP_CFG_INT, "0", 0, 256, regen_workers,
      "regenerations processed at once at most (0 = IP_PROCESSOR_WORKERS - 1, at least 1): "
      "the other workers stay free for uploads"),
    V("IP_PROCESSOR_METRICS_LISTEN", IP_CFG_STRING, "127.0.0.1:9103", 0, 0, metrics_listen,
      "address of /metrics and /healthz (\"off\" = none)"),
    IP_SETTING_PIXEL_LIMIT(offsetof(proc_config, pixel_limit)),
    IP_SETTINGS_ADMIT(offsetof(proc_config, admit)),
    V("IP_JOB_MAX_ATTEMPTS", IP_CFG_INT, "5", 1, 100, max_attempts,
      "runs of a job ending in an internal error, or deliveries that lost their processor, "
      "before it goes to the DLQ (transient failures use none)"),
    V("IP_JOB_BACKOFF_MS", IP_CFG_INT, "500", 1, 600000, backoff_ms,
      "first retry delay of a job; doubles up to IP_JOB_BACKOFF_MAX_MS, full jitter"),
    V("IP_JOB_BACKOFF_MAX_MS", IP_CFG_INT, "30000", 1, 3600000, backoff_max_ms,
      "longest retry delay of a job (keep it under IP_JOB_LEASE_MS)"),
    V("IP_JOB_RETRY_HORIZON_MS", IP_CFG_INT, "86400000", 100, 2592000000, retry_horizon_ms,
      "how long a job retries transient failures before its image fails"),
    V("IP_JOB_LEASE_MS", IP_CFG_INT, "60000", 1000, 86400000, lease_ms,
      "lease a job run takes on its image (MarkProcessing); the sweep requeues an image "
      "whose lease ran out"),
    V("IP_PROCESSOR_VIPS_CONCURRENCY", IP_CFG_INT, "0", 0, 64, vips_concurrency,
      "libvips threads per image (0 = cores / jobs running, set as each job starts, so a "
      "job running alone uses every core)"),
    V("IP_PROCESSOR_DECODE_BUDGET_MB", IP_CFG_INT, "320", 16, 65536, decode_budget_mb,
      "decode memory of all jobs at once; a larger single image is refused"),
    V("IP_PROCESSOR_MALLOC_ARENAS", IP_CFG_INT, "2", 0, 64, malloc_arenas,
      "glibc malloc arenas (M_ARENA_MAX; 0 = glibc default)"),
    IP_SETTING_LOG_LEVEL(offsetof(proc_config, log_level)),
};
#define N_CONFIG (sizeof config_table / sizeof config_table[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: processor [--help | --config-vars]\n"
                 "Consumes ProcessJob messages (proto/job.proto) from Kafka and makes the\n"
                 "thumbnail, resized and watermarked variants with libvips. A job whose\n"
                 "calls fail with unavailable or deadline_exceeded (a dependency down or\n"
                 "slow) keeps its place in its partition and runs again after a backoff\n"
                 "(IP_JOB_BACKOFF_MS doubling up to IP_JOB_BACKOFF_MAX_MS, with jitter),\n"
                 "using no attempt, for up to IP_JOB_RETRY_HORIZON_MS. A run ending in an\n"
                 "internal error counts an attempt; after IP_JOB_MAX_ATTEMPTS of them, past\n"
                 "the horizon, or when the job's deliveries lost their processor more than\n"
                 "IP_JOB_MAX_ATTEMPTS times (poison), the job goes to IP_KAFKA_DLQ_TOPIC and\n"
                 "its image fails with the reason. Any other failure fails the image at\n"
                 "once. /healthz (IP_PROCESSOR_METRICS_LISTEN) says what jobs wait on.\n"
                 "Regenerations (imgctl regenerate) come on IP_KAFKA_REGEN_TOPIC and run only\n"
                 "while IP_KAFKA_TOPIC has nothing waiting: its uploads go first (an empty\n"
                 "IP_KAFKA_REGEN_TOPIC reads no regeneration topic).\n"
                 "Configuration comes from the environment:\n\n");
    ip_config_print_vars(out, config_table, N_CONFIG);
}

static bool stop_requested(void *arg)
{
    (void)arg;
    int sig = ip_lifecycle_wait(0);
    if (sig != 0) {
        ip_log(IP_LOG_INFO, "processor.signal", IP_LI("signal", sig));
        return true;
    }
    return false;
}

/* Reads and checks the table, then sets the log level and the malloc arenas.
 * False when anything is wrong, already logged. */
static bool configure(proc_config *cfg)
{
    if (!ip_config_start(config_table, N_CONFIG, cfg, "processor"))
        return false;
    if (cfg->malloc_arenas > 0)
        mallopt(M_ARENA_MAX, (int)cfg->malloc_arenas);
    return true;
}

/* What the processor runs on; released by services_stop in reverse order. */
typedef struct proc_services {
    bool vips_up;
    ip_rpc_client *meta, *stor;
    ip_metrics_http *http;
} proc_services;

/* libvips, the Metadata and Storage clients, /metrics and /healthz. */
static bool services_start(const proc_config *cfg, const char *argv0, proc_services *sv)
{
    if (VIPS_INIT(argv0) != 0) {
        ip_log(IP_LOG_ERROR, "vips.init_failed", IP_LS("err", vips_error_buffer()));
        return false;
    }
    sv->vips_up = true;
    ip_log_route_glib();
    proc_variants_global_init((int)cfg->vips_concurrency, cfg->decode_budget_mb << 20);

    ip_rpc_client_opts mo = {.urls = cfg->metadata_url,
                             .timeout_ms = (int)cfg->rpc_timeout_ms,
                             .max_msg_bytes = (size_t)cfg->rpc_max_msg};
    ip_rpc_client_opts so = {.urls = cfg->storage_url,
                             .timeout_ms = (int)cfg->rpc_timeout_ms,
                             .max_msg_bytes = (size_t)cfg->rpc_max_msg};
    ip_status st = ip_rpc_client_new(&imageproc__metadata__descriptor, &mo, &sv->meta);
    if (st == IP_OK)
        st = ip_rpc_client_new(&imageproc__storage__descriptor, &so, &sv->stor);
    if (st != IP_OK) {
        ip_log(IP_LOG_ERROR, "rpc.client_failed", IP_LS("status", ip_strerror(st)));
        return false;
    }

    if (strcmp(cfg->metrics_listen, "off") != 0 && cfg->metrics_listen[0] != '\0') {
        st = ip_metrics_http_new(cfg->metrics_listen, &sv->http);
        if (st != IP_OK) {
            ip_log(IP_LOG_ERROR, "metrics.listen_failed", IP_LS("listen", cfg->metrics_listen),
                   IP_LS("status", ip_strerror(st)));
            return false;
        }
    }
    return true;
}

static void services_stop(proc_services *sv)
{
    ip_metrics_http_free(sv->http);
    ip_rpc_client_free(sv->stor);
    ip_rpc_client_free(sv->meta);
    if (sv->vips_up) {
        proc_watermark_free();
        vips_shutdown();
    }
}

/* Consumes until SIGTERM/SIGINT; true on a clean stop. */
/* The body of /healthz: the consumer's waits as JSON (ip_metrics_health_fn). */
static char *health_body(void *consumer)
{
    return proc_consumer_health_json(consumer);
}

static bool consume(const proc_config *cfg, const proc_services *sv)
{
    proc_settings settings;
    proc_settings_default(&settings);
    settings.pixel_limit = cfg->pixel_limit;
    settings.admit = cfg->admit;
    settings.admit.pixels = cfg->pixel_limit;
    proc_job_ctx job = {.meta = sv->meta,
                        .stor = sv->stor,
                        .settings = &settings,
                        .lease_ms = cfg->lease_ms,
                        .max_attempts = (int)cfg->max_attempts};

    proc_consumer_opts co = {
        .brokers = cfg->brokers,
        .topic = cfg->topic,
        .dlq_topic = cfg->dlq_topic,
        .regen_topic = cfg->regen_topic,
        .group = cfg->group,
        .workers = (int)cfg->workers,
        .regen_workers = (int)cfg->regen_workers,
        .vips_threads_adapt = cfg->vips_concurrency == 0,
        .max_attempts = (int)cfg->max_attempts,
        .backoff_ms = (int)cfg->backoff_ms,
        .backoff_max_ms = (int)cfg->backoff_max_ms,
        .retry_horizon_ms = cfg->retry_horizon_ms,
        .session_timeout_ms = (int)cfg->session_timeout_ms,
        .job = &job,
    };
    proc_consumer *consumer = NULL;
    char err[512] = "";
    if (proc_consumer_new(&co, &consumer, err, sizeof(err)) != IP_OK) {
        ip_log(IP_LOG_ERROR, "kafka.consumer_failed", IP_LS("err", err));
        return false;
    }
    /* /healthz says what the consumer waits on, if anything. */
    ip_metrics_http_set_health(sv->http, health_body, consumer);
    bool ok = proc_consumer_run(consumer, stop_requested, NULL) == IP_OK;
    ip_metrics_http_set_health(sv->http, NULL, NULL);
    proc_consumer_free(consumer);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "--config-vars") == 0) {
            ip_config_print_vars(stdout, config_table, N_CONFIG);
            return 0;
        }
        usage(strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }

    ip_lifecycle_init();
    proc_config cfg = {0};
    proc_services sv = {0};
    int rc = configure(&cfg) && services_start(&cfg, argv[0], &sv) && consume(&cfg, &sv) ? 0 : 1;
    services_stop(&sv);
    ip_config_free(config_table, N_CONFIG, &cfg);
    if (rc == 0)
        ip_log(IP_LOG_INFO, "processor.exit");
    return rc;
}
