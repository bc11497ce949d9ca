/* main.c — storage-svc: the Storage RPC service in front of one S3 bucket.
 *
 * Start-up: read the configuration table, set up logging and signals, make
 * the S3 client, make sure the bucket exists with the application's policy
 * (ip_bucket_policy_json from common/ip_keys.h; waiting up to
 * IP_S3_START_WAIT_MS for S3 to answer; wrong credentials end the process at
 * once with S3's reason in the log), then serve `service Storage` (the typed
 * server of ip_rpc_stubs.h) until SIGTERM/SIGINT, finish the calls in flight
 * and exit 0. The shared settings come from common/ip_settings.h.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ip_config.h"
#include "ip_keys.h"
#include "ip_lifecycle.h"
#include "ip_log.h"
#include "ip_rpc.h"
#include "ip_settings.h"
#include "ip_time.h"
#include "stor_s3.h"
#include "stor_service.h"

/* Room kept in an RPC message for everything but the object's bytes. */
#define ENVELOPE_ROOM (64 * 1024)

typedef struct stor_config {
    char *rpc_url;
    char *endpoint;
    char *region;
    char *bucket;
    char *access_key;
    char *secret_key;
    int64_t upload_max_bytes;
    int64_t workers;
    int64_t max_msg_bytes;
    char *log_level;
    int64_t connect_timeout_ms;
    int64_t timeout_ms;
    int64_t retries;
    int64_t start_wait_ms;
} stor_config;

#define V(name, type, def, lo, hi, secret, field, help)                                            \
    {                                                                                              \
        name, type, def, lo, hi, secret, offsetof(stor_config, field), help                        \
    }

static const ip_cfg_var config_table[] = {
    IP_SETTING_STORAGE_RPC_URL(offsetof(stor_config, rpc_url)),
    V("IP_S3_ENDPOINT", IP_CFG_STRING, "http://127.0.0.1:19000", 0, 0, false, endpoint,
      "S3 endpoint, path-style"),
    V("IP_S3_REGION", IP_CFG_STRING, "us-east-1", 0, 0, false, region, "S3 region for SigV4"),
    IP_SETTING_S3_BUCKET(offsetof(stor_config, bucket)),
    V("IP_S3_ACCESS_KEY", IP_CFG_STRING, "imageproc-local", 0, 0, true, access_key,
      "S3 access key"),
    V("IP_S3_SECRET_KEY", IP_CFG_STRING, "imageproc-local-secret", 0, 0, true, secret_key,
      "S3 secret key"),
    IP_SETTING_UPLOAD_MAX_BYTES(offsetof(stor_config, upload_max_bytes)),
    IP_SETTING_RPC_WORKERS(offsetof(stor_config, workers)),
    IP_SETTING_RPC_MAX_MSG_BYTES(offsetof(stor_config, max_msg_bytes)),
    IP_SETTING_LOG_LEVEL(offsetof(stor_config, log_level)),
    V("IP_S3_CONNECT_TIMEOUT_MS", IP_CFG_INT, "2000", 10, 600000, false, connect_timeout_ms,
      "S3 connect timeout"),
    V("IP_S3_TIMEOUT_MS", IP_CFG_INT, "60000", 100, 3600000, false, timeout_ms,
      "S3 call timeout when the caller sets no deadline"),
    V("IP_S3_RETRIES", IP_CFG_INT, "3", 0, 10, false, retries,
      "extra attempts of idempotent S3 calls on connection errors and 5xx"),
    V("IP_S3_START_WAIT_MS", IP_CFG_INT, "30000", 0, 600000, false, start_wait_ms,
      "how long start-up waits for S3 to answer"),
};
#define N_CONFIG (sizeof config_table / sizeof config_table[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: storage-svc [--help | --config-vars]\n"
                 "Serves the Storage RPC service (proto/storage.proto) over nng in front of\n"
                 "one S3 bucket. Configuration comes from the environment:\n\n");
    ip_config_print_vars(out, config_table, N_CONFIG);
}

/* Reads and checks the table (ip_config_start), then the limits that depend
 * on each other. False when anything is wrong, already logged; the caller
 * frees cfg either way. */
static bool load_config(stor_config *cfg)
{
    if (!ip_config_start(config_table, N_CONFIG, cfg, "storage-svc"))
        return false;
    if (cfg->upload_max_bytes + ENVELOPE_ROOM > cfg->max_msg_bytes) {
        ip_log(IP_LOG_ERROR, "config.invalid",
               IP_LS("err", "IP_RPC_MAX_MSG_BYTES must exceed IP_UPLOAD_MAX_BYTES by 64 KiB "
                            "(an object at the upload limit must fit in one RPC message)"));
        return false;
    }
    return true;
}

/* The S3 client of `cfg` into *out (stor_s3_free); a failure is logged. */
static ip_status make_s3(const stor_config *cfg, stor_s3 **out)
{
    stor_s3_opts so = {
        .endpoint = cfg->endpoint,
        .region = cfg->region,
        .bucket = cfg->bucket,
        .access_key = cfg->access_key,
        .secret_key = cfg->secret_key,
        .connect_timeout_ms = (long)cfg->connect_timeout_ms,
        .timeout_ms = (long)cfg->timeout_ms,
        .retries = (int)cfg->retries,
    };
    ip_status st = stor_s3_new(&so, out);
    if (st != IP_OK)
        ip_log(IP_LOG_ERROR, "s3.client_failed", IP_LS("status", ip_strerror(st)),
               IP_LS("err", "bad S3 settings (endpoint, region or bucket name)"));
    return st;
}

/* Runs stor_s3_ensure_bucket until it settles: while S3 does not answer (a
 * transient failure) it tries again every 500 ms until IP_S3_START_WAIT_MS;
 * wrong credentials and any other failure end it at once. */
static ip_status wait_for_bucket(stor_s3 *s3, const stor_config *cfg, const char *policy)
{
    int64_t until = ip_mono_ms() + cfg->start_wait_ms;
    char err[512];
    for (;;) {
        ip_status st = stor_s3_ensure_bucket(s3, policy, cfg->timeout_ms, err, sizeof err);
        if (st == IP_OK) {
            ip_log(IP_LOG_INFO, "s3.bucket_ready", IP_LS("bucket", cfg->bucket),
                   IP_LS("endpoint", cfg->endpoint));
            return IP_OK;
        }
        if (st == IP_FAILED_PRECONDITION) {
            ip_log(IP_LOG_ERROR, "s3.credentials_rejected", IP_LS("bucket", cfg->bucket),
                   IP_LS("endpoint", cfg->endpoint), IP_LS("err", err));
            return st;
        }
        if (!ip_status_is_transient(st) || ip_mono_ms() >= until) {
            ip_log(IP_LOG_ERROR, "s3.bucket_failed", IP_LS("bucket", cfg->bucket),
                   IP_LS("endpoint", cfg->endpoint), IP_LS("status", ip_strerror(st)),
                   IP_LS("err", err));
            return st;
        }
        ip_log(IP_LOG_WARN, "s3.waiting", IP_LS("endpoint", cfg->endpoint), IP_LS("err", err));
        struct timespec ts = {0, 500 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Makes sure the bucket and its policy (ip_keys.h: only variants are public)
 * are in place, waiting while S3 does not answer. Returns IP_OK, or the
 * failure already logged. */
static ip_status prepare_bucket(stor_s3 *s3, const stor_config *cfg)
{
    char *policy = ip_bucket_policy_json(cfg->bucket);
    if (!policy) {
        ip_log(IP_LOG_ERROR, "s3.bucket_failed", IP_LS("bucket", cfg->bucket),
               IP_LS("err", "no policy for this bucket name (invalid name, or out of memory)"));
        return IP_RESOURCE_EXHAUSTED;
    }
    ip_status st = wait_for_bucket(s3, cfg, policy);
    free(policy);
    return st;
}

int main(int argc, char **argv)
{
    int rc = 1;
    stor_config cfg = {0};
    stor_s3 *s3 = NULL;
    ip_rpc_server *srv = NULL;

    if (argc > 1) {
        if (strcmp(argv[1], "--config-vars") == 0) {
            ip_config_print_vars(stdout, config_table, N_CONFIG);
            return 0;
        }
        usage(strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }

    ip_lifecycle_init();
    /* Object buffers of a few MiB come and go with every call. By default
     * glibc serves them with fresh mmaps (or trims them back to the kernel)
     * and every call then pays a page fault per 4 KiB while copying. Keep
     * such buffers on the heap for reuse; only objects over 32 MiB map. */
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    if (!load_config(&cfg) || make_s3(&cfg, &s3) != IP_OK || prepare_bucket(s3, &cfg) != IP_OK)
        goto done;

    /* A GET reply carries the object plus its envelope. */
    size_t max_msg = (size_t)cfg.max_msg_bytes;
    stor_service svc = {
        .s3 = s3,
        .upload_max_bytes = (size_t)cfg.upload_max_bytes,
        .get_max_bytes = max_msg - ENVELOPE_ROOM,
    };
    ip_rpc_server_opts ro = {
        .url = cfg.rpc_url, .workers = (int)cfg.workers, .max_msg_bytes = max_msg};
    ip_status st = stor_service_serve(&svc, &ro, &srv);
    if (st != IP_OK) {
        ip_log(IP_LOG_ERROR, "storage.listen_failed", IP_LS("url", cfg.rpc_url),
               IP_LS("status", ip_strerror(st)));
        goto done;
    }
    ip_log(IP_LOG_INFO, "storage.started", IP_LS("url", cfg.rpc_url),
           IP_LI("workers", cfg.workers));

    int sig;
    while ((sig = ip_lifecycle_wait(-1)) == 0)
        ;
    ip_log(IP_LOG_INFO, "storage.stopping", IP_LI("signal", sig));
    rc = 0;

done:
    ip_rpc_server_free(srv); /* joins the workers: their curl handles go with them */
    stor_s3_free(s3);
    ip_config_free(config_table, N_CONFIG, &cfg);
    if (rc == 0)
        ip_log(IP_LOG_INFO, "storage.stopped");
    return rc;
}
