/* gw_http.c — the libmicrohttpd daemon: its options, its log and its life.
 *
 * Request handling lives in gw_routes.c (gw_routes_access, gw_routes_done),
 * which this file hands to the daemon; it parses IP_GATEWAY_LISTEN and starts
 * the thread pool, and stops the daemon at the end. */
#include "gw_http.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_routes.h"
#include "ip_log.h"

struct gw_http {
    struct MHD_Daemon *d;
};

/* libmicrohttpd's own messages: fmt is its printf format, ap the arguments. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    /* A client that went away (an SSE reader closing its tab) is routine. */
    bool routine = strstr(msg, "no longer available") || strstr(msg, "connection reset");
    ip_log(routine ? IP_LOG_DEBUG : IP_LOG_WARN, "http.mhd", IP_LS("msg", msg));
}

static ip_status parse_listen(const char *listen, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return IP_INVALID_ARGUMENT;
    char host[64];
    size_t hl = (size_t)(colon - listen);
    if (hl >= sizeof host)
        return IP_INVALID_ARGUMENT;
    memcpy(host, listen, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535)
        return IP_INVALID_ARGUMENT;
    sa->sin_port = htons((uint16_t)port);
    if (hl == 0 || strcmp(host, "*") == 0)
        sa->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return IP_INVALID_ARGUMENT;
    return IP_OK;
}

ip_status gw_http_new(gw_app *app, gw_http **out)
{
    struct sockaddr_in sa;
    if (parse_listen(app->cfg.listen, &sa) != IP_OK) {
        ip_log(IP_LOG_ERROR, "http.bad_listen", IP_LS("listen", app->cfg.listen));
        return IP_INVALID_ARGUMENT;
    }
    gw_http *h = calloc(1, sizeof *h);
    if (!h)
        return IP_RESOURCE_EXHAUSTED;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    h->d = MHD_start_daemon(
        flags, ntohs(sa.sin_port), NULL, NULL, gw_routes_access, app, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)app->cfg.threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)app->cfg.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(64 * 1024), MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)512,
        MHD_OPTION_NOTIFY_COMPLETED, gw_routes_done, app, MHD_OPTION_END);
    if (!h->d) {
        ip_log(IP_LOG_ERROR, "http.start_failed", IP_LS("listen", app->cfg.listen));
        free(h);
        return IP_UNAVAILABLE;
    }
    ip_log(IP_LOG_INFO, "http.listening", IP_LS("listen", app->cfg.listen),
           IP_LI("threads", app->cfg.threads));
    *out = h;
    return IP_OK;
}

void gw_http_free(gw_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
