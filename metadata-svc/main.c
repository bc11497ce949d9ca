/* metadata-svc — images and variants in PostgreSQL behind the Metadata RPC
 * service, with status events on nng PUB.
 *
 * main reads the configuration table, applies the schema migrations (retrying
 * while PostgreSQL is not up yet, until a signal), starts the service and
 * waits for SIGTERM/SIGINT; then it stops serving, lets calls in flight
 * finish and exits 0.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_config.h"
#include "ip_lifecycle.h"
#include "ip_log.h"
#include "ip_settings.h"
#include "meta_service.h"
#include "meta_store.h"

typedef struct meta_config {
    char *rpc_url;
    char *events_url;
    char *pg_dsn;
    int64_t pool_size;
    int64_t workers;
    int64_t max_msg_bytes;
    char *log_level;
} meta_config;

/* The settings shared with other parts come from ip_settings.h. */
static const ip_cfg_var config_table[] = {
    IP_SETTING_METADATA_RPC_URL(offsetof(meta_config, rpc_url)),
    IP_SETTING_METADATA_EVENTS_URL(offsetof(meta_config, events_url)),
    {"IP_PG_DSN", IP_CFG_STRING, "postgresql://imageproc:imageproc-local@127.0.0.1:55432/imageproc",
     0, 0, true, offsetof(meta_config, pg_dsn), "PostgreSQL connection string (libpq)"},
    {"IP_PG_POOL_SIZE", IP_CFG_INT, "8", 1, 256, false, offsetof(meta_config, pool_size),
     "PostgreSQL connections in the pool"},
    IP_SETTING_RPC_WORKERS(offsetof(meta_config, workers)),
    IP_SETTING_RPC_MAX_MSG_BYTES(offsetof(meta_config, max_msg_bytes)),
    IP_SETTING_LOG_LEVEL(offsetof(meta_config, log_level)),
};

#define NVARS (sizeof(config_table) / sizeof(config_table[0]))

static void usage(FILE *out)
{
    fprintf(out, "usage: metadata-svc [--config-vars | --help]\n"
                 "Serves the Metadata RPC service; configuration from the environment:\n\n");
    ip_config_print_vars(out, config_table, NVARS);
}

int main(int argc, char **argv)
{
    meta_config cfg = {0};
    meta_store *store = NULL;
    meta_service *svc = NULL;
    int rc = 1;

    if (argc > 1) {
        if (strcmp(argv[1], "--config-vars") == 0) {
            ip_config_print_vars(stdout, config_table, NVARS);
            return 0;
        }
        usage(strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }

    ip_lifecycle_init();
    if (!ip_config_start(config_table, NVARS, &cfg, "metadata-svc"))
        goto out;

    char err[256] = "";
    meta_store_opts so = {.dsn = cfg.pg_dsn, .pool_size = (int)cfg.pool_size};
    if (meta_store_new(&so, &store, err, sizeof(err)) != IP_OK) {
        ip_log(IP_LOG_ERROR, "store.init_failed", IP_LS("err", err));
        goto out;
    }

    /* The schema first; PostgreSQL may still be starting. */
    for (;;) {
        meta_ctx cx = {0};
        int applied = 0;
        ip_status st = meta_store_migrate(store, &cx, &applied);
        if (st == IP_OK) {
            ip_log(IP_LOG_INFO, "migrations.done", IP_LI("applied", applied));
            break;
        }
        ip_log(IP_LOG_WARN, "migrations.failed", IP_LS("code", ip_strerror(st)),
               IP_LS("err", cx.err));
        if (!ip_status_is_transient(st))
            goto out;
        if (ip_lifecycle_wait(1000) != 0) {
            rc = 0;
            goto out;
        }
    }

    meta_service_opts vo = {.rpc_url = cfg.rpc_url,
                            .events_url = cfg.events_url,
                            .workers = (int)cfg.workers,
                            .max_msg_bytes = (size_t)cfg.max_msg_bytes};
    ip_status st = meta_service_new(store, &vo, &svc);
    if (st != IP_OK) {
        ip_log(IP_LOG_ERROR, "service.start_failed", IP_LS("code", ip_strerror(st)),
               IP_LS("rpc_url", cfg.rpc_url), IP_LS("events_url", cfg.events_url));
        goto out;
    }
    ip_log(IP_LOG_INFO, "service.started", IP_LS("rpc_url", cfg.rpc_url),
           IP_LS("events_url", cfg.events_url), IP_LI("pool", cfg.pool_size));
    int sig = ip_lifecycle_wait(-1);
    ip_log(IP_LOG_INFO, "service.stopping", IP_LI("signal", sig));
    rc = 0;
out:
    meta_service_free(svc);
    meta_store_free(store);
    ip_config_free(config_table, NVARS, &cfg);
    if (rc == 0)
        ip_log(IP_LOG_INFO, "service.stopped");
    return rc;
}
