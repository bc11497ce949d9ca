/* gateway — the REST API of ImageProcessor.
 *
 * Loads the configuration table (gw_config.c), starts the parts (gw_app_start),
 * waits for SIGTERM/SIGINT and stops them in order; exit 0 on a clean stop.
 * `--config-vars` and `--help` print the configuration table. */
#include <curl/curl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "gw_app.h"
#include "ip_lifecycle.h"
#include "ip_log.h"
#include "ip_vips_admit.h"

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config-vars")) {
            ip_config_print_vars(stdout, gw_config_vars, gw_config_nvars);
            return 0;
        }
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("gateway: the ImageProcessor REST API (POST /upload, GET /image/{id}, "
                   "GET /images, GET /events, ...).\nConfiguration from the environment:\n");
            ip_config_print_vars(stdout, gw_config_vars, gw_config_nvars);
            return 0;
        }
        fprintf(stderr, "gateway: unknown argument %s (try --help)\n", argv[i]);
        return 2;
    }
    ip_lifecycle_init();
    /* Uploads and download chunks are multi-MiB buffers (bounded together by
     * IP_GATEWAY_MEMORY_BYTES): keep them on the heap instead of a fresh mmap
     * (and page faults) per request, and do not trim after each free. */
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    static gw_app app;
    if (!ip_config_start(gw_config_vars, gw_config_nvars, &app.cfg, "gateway")) {
        ip_config_free(gw_config_vars, gw_config_nvars, &app.cfg);
        return 1;
    }
    app.cfg.admit.pixels = app.cfg.pixel_limit;
    if (app.cfg.rpc_max_msg_bytes < app.cfg.upload_max_bytes + 1024 * 1024) {
        ip_log(IP_LOG_ERROR, "config.invalid",
               IP_LS("err", "IP_RPC_MAX_MSG_BYTES must exceed IP_UPLOAD_MAX_BYTES by 1 MiB "
                            "(an original travels to storage-svc in one message)"));
        ip_config_free(gw_config_vars, gw_config_nvars, &app.cfg);
        return 1;
    }
    if (app.cfg.rpc_max_msg_bytes < app.cfg.download_chunk_bytes + 64 * 1024) {
        ip_log(IP_LOG_ERROR, "config.invalid",
               IP_LS("err", "IP_RPC_MAX_MSG_BYTES must exceed IP_GATEWAY_DOWNLOAD_CHUNK_BYTES by "
                            "64 KiB (a chunk travels from storage-svc in one message)"));
        ip_config_free(gw_config_vars, gw_config_nvars, &app.cfg);
        return 1;
    }
    if (VIPS_INIT(argv[0]) != 0) {
        ip_log(IP_LOG_ERROR, "vips.init_failed");
        return 1;
    }
    ip_vips_restrict();
    /* before any thread: the webhook dispatcher's libcurl handles */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ip_log(IP_LOG_ERROR, "curl.init_failed");
        return 1;
    }
    ip_log_route_glib();
    vips_cache_set_max(0);
    vips_concurrency_set(1);
    if (gw_app_start(&app) != IP_OK) {
        curl_global_cleanup();
        ip_config_free(gw_config_vars, gw_config_nvars, &app.cfg);
        return 1;
    }
    ip_log(IP_LOG_INFO, "gateway.started");
    int sig;
    while ((sig = ip_lifecycle_wait(-1)) == 0) {
    }
    ip_log(IP_LOG_INFO, "gateway.stopping", IP_LI("signal", sig));
    gw_app_stop(&app);
    curl_global_cleanup();
    vips_shutdown();
    ip_config_free(gw_config_vars, gw_config_nvars, &app.cfg);
    ip_log(IP_LOG_INFO, "gateway.stopped");
    return 0;
}
