/* ip_metrics.h — a process-wide Prometheus registry.
 *
 * Counters, gauges and histograms with up to four labels, registered once at
 * start (registration returns the same metric for the same name) and updated
 * from any thread. Label values are given as one comma-separated string in the
 * order of the label names ("upload,202"); values must not contain commas.
 * ip_metrics_render() writes the text exposition format (version 0.0.4).
 * ip_metrics_http_new() serves GET /metrics and GET /healthz on an address of
 * its own, for services without an HTTP API (the processor).
 */
#ifndef IP_METRICS_H
#define IP_METRICS_H

#include <stddef.h>

#include "ip_status.h"

typedef struct ip_metric ip_metric;

/* `labels`: comma-separated label names, or NULL for none. Never NULL on return
 * (aborting on allocation failure at registration time is acceptable: start-up). */
ip_metric *ip_metric_counter(const char *name, const char *help, const char *labels);
ip_metric *ip_metric_gauge(const char *name, const char *help, const char *labels);
/* `buckets`: upper bounds in increasing order (borrowed, copied); +Inf is added. */
ip_metric *ip_metric_histogram(const char *name, const char *help, const char *labels,
                               const double *buckets, size_t nbuckets);

void ip_metric_add(ip_metric *m, const char *label_values, double v);     /* counter, gauge */
void ip_metric_set(ip_metric *m, const char *label_values, double v);     /* gauge */
void ip_metric_observe(ip_metric *m, const char *label_values, double v); /* histogram */

/* The whole registry as Prometheus text; owned by the caller (free()). */
char *ip_metrics_render(void);

typedef struct ip_metrics_http ip_metrics_http;
/* Serves /metrics and /healthz on `listen` ("127.0.0.1:9103"). */
ip_status ip_metrics_http_new(const char *listen, ip_metrics_http **out);
void ip_metrics_http_free(ip_metrics_http *h);

/* The body of GET /healthz: an owned JSON text (free()), or NULL for the
 * plain "ok". The answer stays 200 either way: a process that answers is
 * alive; the body says what it is doing (e.g. waiting on a dependency). */
typedef char *(*ip_metrics_health_fn)(void *user);
/* Sets (or, with fn NULL, clears) the /healthz body maker. Clearing waits for
 * a request that is calling the old one, so `user` may be freed afterwards.
 * NULL h does nothing. */
void ip_metrics_http_set_health(ip_metrics_http *h, ip_metrics_health_fn fn, void *user);

#endif
