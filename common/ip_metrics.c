/* ip_metrics.c — the process-wide Prometheus registry (see ip_metrics.h).
 *
 * HOW IT WORKS. The registry is a list of metrics under one mutex, touched
 * only at registration and rendering. Each metric holds its series (one per
 * distinct label-values string) in a list that only grows, under a
 * reader-writer lock: an update finds its series with a linear scan under the
 * read lock (fine for the few label combinations a service has, methods x
 * codes) and adds to it with atomics, so concurrent updates do not queue;
 * only the first update of a new series takes the write lock. A histogram
 * series keeps per-bucket counts (not cumulative; rendering sums them), the
 * sum and the count.
 *
 * LIMITATIONS. Label values are split on commas; a value containing a comma
 * cannot be expressed. Series are never removed.
 *
 * ip_metrics_http serves the registry with libmicrohttpd on its own internal
 * polling thread: GET /metrics (text format 0.0.4) and GET /healthz.
 */
#include "ip_metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_log.h"

#define MAX_LABELS 4

typedef enum metric_kind { M_COUNTER, M_GAUGE, M_HISTOGRAM } metric_kind;

typedef struct series {
    struct series *_Atomic next;
    char *values;          /* the label values as given ("upload,202") */
    _Atomic double value;  /* counter, gauge */
    _Atomic double sum;    /* histogram */
    atomic_ullong count;   /* histogram */
    atomic_ullong *bucket; /* histogram: nbuckets + 1 (the last is +Inf) */
} series;

struct ip_metric {
    struct ip_metric *next;
    metric_kind kind;
    char *name, *help;
    char *label_names[MAX_LABELS];
    int nlabels;
    double *bounds;
    size_t nbounds;
    pthread_rwlock_t lock;
    series *_Atomic series;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static ip_metric *reg_head, *reg_tail;

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (p == NULL)
        abort(); /* registration happens at start-up; see the header */
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        abort();
    return p;
}

static series *series_scan(ip_metric *m, const char *values)
{
    for (series *s = atomic_load(&m->series); s != NULL; s = atomic_load(&s->next))
        if (strcmp(s->values, values) == 0)
            return s;
    return NULL;
}

/* Finds or adds the series of `values`; NULL only when out of memory. Series
 * are never freed, so the pointer stays valid after the lock is released. */
static series *series_find(ip_metric *m, const char *values)
{
    if (values == NULL)
        values = "";
    pthread_rwlock_rdlock(&m->lock);
    series *s = series_scan(m, values);
    pthread_rwlock_unlock(&m->lock);
    if (s != NULL)
        return s;
    pthread_rwlock_wrlock(&m->lock);
    s = series_scan(m, values); /* another thread may have added it */
    if (s == NULL && (s = calloc(1, sizeof *s)) != NULL) {
        s->values = strdup(values);
        if (m->kind == M_HISTOGRAM)
            s->bucket = calloc(m->nbounds + 1, sizeof *s->bucket);
        if (s->values == NULL || (m->kind == M_HISTOGRAM && s->bucket == NULL)) {
            free(s->values);
            free(s->bucket);
            free(s);
            s = NULL;
        } else {
            /* Append, so that rendering keeps the order of first use. */
            series *_Atomic *pp = &m->series;
            while (atomic_load(pp) != NULL)
                pp = &atomic_load(pp)->next;
            atomic_store(pp, s);
        }
    }
    pthread_rwlock_unlock(&m->lock);
    return s;
}

static void atomic_add_double(_Atomic double *p, double v)
{
    double old = atomic_load(p);
    while (!atomic_compare_exchange_weak(p, &old, old + v))
        ;
}

static ip_metric *metric_register(metric_kind kind, const char *name, const char *help,
                                  const char *labels, const double *buckets, size_t nbuckets)
{
    pthread_mutex_lock(&reg_mu);
    for (ip_metric *m = reg_head; m != NULL; m = m->next) {
        if (strcmp(m->name, name) == 0) {
            pthread_mutex_unlock(&reg_mu);
            return m;
        }
    }
    ip_metric *m = xcalloc(1, sizeof *m);
    m->kind = kind;
    m->name = xstrdup(name);
    m->help = xstrdup(help != NULL ? help : "");
    if (labels != NULL && labels[0] != '\0') {
        char *copy = xstrdup(labels), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t != NULL && m->nlabels < MAX_LABELS;
             t = strtok_r(NULL, ",", &save))
            m->label_names[m->nlabels++] = xstrdup(t);
        free(copy);
    }
    if (kind == M_HISTOGRAM) {
        m->bounds = xcalloc(nbuckets, sizeof *m->bounds);
        if (nbuckets > 0)
            memcpy(m->bounds, buckets, nbuckets * sizeof *buckets);
        m->nbounds = nbuckets;
    }
    pthread_rwlock_init(&m->lock, NULL);
    /* A metric without labels shows 0 before its first update. */
    if (m->nlabels == 0 && series_find(m, "") == NULL)
        abort();
    if (reg_tail != NULL)
        reg_tail->next = m;
    else
        reg_head = m;
    reg_tail = m;
    pthread_mutex_unlock(&reg_mu);
    return m;
}

ip_metric *ip_metric_counter(const char *name, const char *help, const char *labels)
{
    return metric_register(M_COUNTER, name, help, labels, NULL, 0);
}

ip_metric *ip_metric_gauge(const char *name, const char *help, const char *labels)
{
    return metric_register(M_GAUGE, name, help, labels, NULL, 0);
}

ip_metric *ip_metric_histogram(const char *name, const char *help, const char *labels,
                               const double *buckets, size_t nbuckets)
{
    return metric_register(M_HISTOGRAM, name, help, labels, buckets, nbuckets);
}

void ip_metric_add(ip_metric *m, const char *label_values, double v)
{
    if (m == NULL || m->kind == M_HISTOGRAM)
        return;
    series *s = series_find(m, label_values);
    if (s != NULL)
        atomic_add_double(&s->value, v);
}

void ip_metric_set(ip_metric *m, const char *label_values, double v)
{
    if (m == NULL || m->kind == M_HISTOGRAM)
        return;
    series *s = series_find(m, label_values);
    if (s != NULL)
        atomic_store(&s->value, v);
}

void ip_metric_observe(ip_metric *m, const char *label_values, double v)
{
    if (m == NULL || m->kind != M_HISTOGRAM)
        return;
    series *s = series_find(m, label_values);
    if (s == NULL)
        return;
    size_t i = 0;
    while (i < m->nbounds && v > m->bounds[i])
        i++;
    atomic_fetch_add(&s->bucket[i], 1);
    atomic_add_double(&s->sum, v);
    atomic_fetch_add(&s->count, 1);
}

/* ------------------------------------------------------------ rendering */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n >= b->cap - b->len) {
        size_t ncap = b->cap * 2;
        while (ncap - b->len <= (size_t)n)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (np == NULL) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

static void sb_escaped(sbuf *b, const char *s, size_t n, bool help)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\')
            sb_printf(b, "\\\\");
        else if (c == '\n')
            sb_printf(b, "\\n");
        else if (c == '"' && !help)
            sb_printf(b, "\\\"");
        else
            sb_printf(b, "%c", c);
    }
}

/* Writes {a="x",b="y"[,le="..."]} for a series, or nothing without labels. */
static void sb_labels(sbuf *b, const ip_metric *m, const char *values, const char *le)
{
    if (m->nlabels == 0 && le == NULL)
        return;
    sb_printf(b, "{");
    const char *p = values;
    for (int i = 0; i < m->nlabels; i++) {
        const char *comma = p != NULL ? strchr(p, ',') : NULL;
        size_t n = p == NULL ? 0 : comma != NULL ? (size_t)(comma - p) : strlen(p);
        sb_printf(b, "%s%s=\"", i ? "," : "", m->label_names[i]);
        if (p != NULL)
            sb_escaped(b, p, n, false);
        sb_printf(b, "\"");
        p = comma != NULL ? comma + 1 : NULL;
    }
    if (le != NULL)
        sb_printf(b, "%sle=\"%s\"", m->nlabels ? "," : "", le);
    sb_printf(b, "}");
}

static const char *kind_name(metric_kind k)
{
    return k == M_COUNTER ? "counter" : k == M_GAUGE ? "gauge" : "histogram";
}

char *ip_metrics_render(void)
{
    sbuf b = {.p = malloc(4096), .cap = 4096};
    if (b.p == NULL)
        return NULL;
    b.p[0] = '\0';
    pthread_mutex_lock(&reg_mu);
    for (ip_metric *m = reg_head; m != NULL; m = m->next) {
        sb_printf(&b, "# HELP %s ", m->name);
        sb_escaped(&b, m->help, strlen(m->help), true);
        sb_printf(&b, "\n# TYPE %s %s\n", m->name, kind_name(m->kind));
        pthread_rwlock_rdlock(&m->lock);
        for (series *s = atomic_load(&m->series); s != NULL; s = atomic_load(&s->next)) {
            if (m->kind != M_HISTOGRAM) {
                sb_printf(&b, "%s", m->name);
                sb_labels(&b, m, s->values, NULL);
                sb_printf(&b, " %.17g\n", atomic_load(&s->value));
                continue;
            }
            /* Read without stopping writers: the counts may be a few updates
             * apart, as in any scrape of a live process. */
            unsigned long long cum = 0;
            char le[64];
            for (size_t i = 0; i <= m->nbounds; i++) {
                cum += atomic_load(&s->bucket[i]);
                if (i < m->nbounds)
                    snprintf(le, sizeof le, "%.17g", m->bounds[i]);
                else
                    snprintf(le, sizeof le, "+Inf");
                sb_printf(&b, "%s_bucket", m->name);
                sb_labels(&b, m, s->values, le);
                sb_printf(&b, " %llu\n", cum);
            }
            sb_printf(&b, "%s_sum", m->name);
            sb_labels(&b, m, s->values, NULL);
            sb_printf(&b, " %.17g\n%s_count", atomic_load(&s->sum), m->name);
            sb_labels(&b, m, s->values, NULL);
            sb_printf(&b, " %llu\n", cum);
        }
        pthread_rwlock_unlock(&m->lock);
    }
    pthread_mutex_unlock(&reg_mu);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ------------------------------------------------------------ HTTP */

struct ip_metrics_http {
    struct MHD_Daemon *daemon;
    pthread_mutex_t health_mu; /* guards health_fn/health_user while one runs */
    ip_metrics_health_fn health_fn;
    void *health_user;
};

static enum MHD_Result http_health(ip_metrics_http *h, struct MHD_Connection *conn);

static enum MHD_Result http_reply(struct MHD_Connection *conn, unsigned code, const char *ctype,
                                  char *body, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, mode);
    if (r == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result http_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
    ip_metrics_http *h = cls;
    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) { /* first call: headers only */
        static int marker;
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* ignore any body */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return http_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                          (char *)"method not allowed\n", MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") == 0) {
        char *text = ip_metrics_render();
        if (text == NULL)
            return http_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
                              (char *)"out of memory\n", MHD_RESPMEM_PERSISTENT);
        return http_reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text,
                          MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/healthz") == 0)
        return http_health(h, conn);
    return http_reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", (char *)"not found\n",
                      MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result http_health(ip_metrics_http *h, struct MHD_Connection *conn)
{
    char *body = NULL;
    pthread_mutex_lock(&h->health_mu);
    if (h->health_fn != NULL)
        body = h->health_fn(h->health_user);
    pthread_mutex_unlock(&h->health_mu);
    if (body == NULL)
        return http_reply(conn, MHD_HTTP_OK, "text/plain", (char *)"ok\n", MHD_RESPMEM_PERSISTENT);
    return http_reply(conn, MHD_HTTP_OK, "application/json", body, MHD_RESPMEM_MUST_FREE);
}

void ip_metrics_http_set_health(ip_metrics_http *h, ip_metrics_health_fn fn, void *user)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->health_mu);
    h->health_fn = fn;
    h->health_user = user;
    pthread_mutex_unlock(&h->health_mu);
}

/* Parses "host:port" (IPv4 host, or empty for all addresses). */
static bool parse_listen(const char *listen, struct sockaddr_in *sa)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL)
        return false;
    char host[64];
    size_t hl = (size_t)(colon - listen);
    if (hl >= sizeof host)
        return false;
    memcpy(host, listen, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || port < 0 || port > 65535)
        return false;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (hl == 0 || strcmp(host, "0.0.0.0") == 0)
        sa->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return false;
    return true;
}

ip_status ip_metrics_http_new(const char *listen, ip_metrics_http **out)
{
    *out = NULL;
    struct sockaddr_in sa;
    if (listen == NULL || !parse_listen(listen, &sa)) {
        ip_log(IP_LOG_ERROR, "metrics.bad_listen", IP_LS("listen", listen));
        return IP_INVALID_ARGUMENT;
    }
    ip_metrics_http *h = calloc(1, sizeof *h);
    if (h == NULL)
        return IP_RESOURCE_EXHAUSTED;
    pthread_mutex_init(&h->health_mu, NULL);
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
                                 http_handler, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (h->daemon == NULL) {
        ip_log(IP_LOG_ERROR, "metrics.listen_failed", IP_LS("listen", listen));
        pthread_mutex_destroy(&h->health_mu);
        free(h);
        return IP_UNAVAILABLE;
    }
    ip_log(IP_LOG_INFO, "metrics.listening", IP_LS("listen", listen));
    *out = h;
    return IP_OK;
}

void ip_metrics_http_free(ip_metrics_http *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->daemon);
    pthread_mutex_destroy(&h->health_mu);
    free(h);
}
