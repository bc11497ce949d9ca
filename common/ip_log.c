/* ip_log.c — JSON-lines logging to stderr (see ip_log.h).
 *
 * Each call formats its whole line into one buffer (on the stack when it
 * fits, else on the heap) and hands it to the kernel with a single write(2),
 * so lines from different threads never interleave. Strings are escaped for
 * JSON and invalid UTF-8 is replaced by U+FFFD, so a line always parses.
 * The service name and the minimum level are set once at start, before any
 * thread runs, and only read afterwards.
 *
 * ip_log_rdkafka_cb lives here because it needs nothing from librdkafka but
 * its callback signature; ip_log_route_glib lives in ip_log_glib.c so that
 * only the programs that use GLib link it.
 */
#include "ip_log.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ip_time.h"
#include "ip_utf8.h"

static char log_service[64] = "imageproc";
static ip_log_level log_min = IP_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void ip_log_init(const char *service, ip_log_level min_level)
{
    if (service != NULL)
        snprintf(log_service, sizeof log_service, "%s", service);
    if (min_level >= IP_LOG_DEBUG && min_level <= IP_LOG_ERROR)
        log_min = min_level;
}

bool ip_log_level_parse(const char *s, ip_log_level *out)
{
    if (s == NULL)
        return false;
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (ip_log_level)i;
            return true;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = IP_LOG_WARN;
        return true;
    }
    return false;
}

bool ip_log_enabled(ip_log_level level)
{
    return level >= log_min;
}

/* A growable line buffer that starts on the caller's stack. */
typedef struct line {
    char *p;
    size_t len, cap;
    bool heap;
    bool failed;
} line;

static void line_reserve(line *l, size_t more)
{
    if (l->failed || l->len + more <= l->cap)
        return;
    size_t ncap = l->cap * 2;
    while (ncap < l->len + more)
        ncap *= 2;
    char *np = l->heap ? realloc(l->p, ncap) : malloc(ncap);
    if (np == NULL) {
        l->failed = true;
        return;
    }
    if (!l->heap)
        memcpy(np, l->p, l->len);
    l->p = np;
    l->cap = ncap;
    l->heap = true;
}

static void line_put(line *l, const char *s, size_t n)
{
    line_reserve(l, n);
    if (l->failed)
        return;
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void line_puts(line *l, const char *s)
{
    line_put(l, s, strlen(s));
}

static void line_json_string(line *l, const char *s)
{
    if (s == NULL) {
        line_puts(l, "null");
        return;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    line_put(l, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            line_put(l, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char esc[8];
            switch (c) {
            case '\n':
                line_put(l, "\\n", 2);
                break;
            case '\r':
                line_put(l, "\\r", 2);
                break;
            case '\t':
                line_put(l, "\\t", 2);
                break;
            default:
                snprintf(esc, sizeof esc, "\\u%04x", c);
                line_put(l, esc, 6);
            }
            i++;
        } else {
            size_t k = ip_utf8_seq(u + i, n - i);
            if (k == 0) {
                line_puts(l, "\\ufffd");
                i++;
            } else {
                line_put(l, s + i, k);
                i += k;
            }
        }
    }
    line_put(l, "\"", 1);
}

void ip_log_fields(ip_log_level level, const char *event, const ip_log_field *fields, size_t n)
{
    if (!ip_log_enabled(level))
        return;
    if (level < IP_LOG_DEBUG || level > IP_LOG_ERROR)
        level = IP_LOG_ERROR;
    char stackbuf[2048];
    line l = {.p = stackbuf, .len = 0, .cap = sizeof stackbuf};
    char ts[IP_RFC3339_LEN + 1];
    ip_time_format(ip_now_us(), ts);

    line_puts(&l, "{\"ts\":\"");
    line_puts(&l, ts);
    line_puts(&l, "\",\"level\":\"");
    line_puts(&l, level_names[level]);
    line_puts(&l, "\",\"service\":");
    line_json_string(&l, log_service);
    line_puts(&l, ",\"event\":");
    line_json_string(&l, event != NULL ? event : "log");
    for (size_t i = 0; i < n; i++) {
        const ip_log_field *f = &fields[i];
        if (f->key == NULL)
            continue;
        line_put(&l, ",", 1);
        line_json_string(&l, f->key);
        line_put(&l, ":", 1);
        char num[64];
        switch (f->type) {
        case IP_LOG_T_STR:
            line_json_string(&l, f->s);
            break;
        case IP_LOG_T_INT:
            snprintf(num, sizeof num, "%lld", f->i);
            line_puts(&l, num);
            break;
        case IP_LOG_T_DBL:
            if (isfinite(f->d)) {
                snprintf(num, sizeof num, "%.15g", f->d);
                line_puts(&l, num);
            } else {
                line_puts(&l, "null");
            }
            break;
        case IP_LOG_T_BOOL:
            line_puts(&l, f->i ? "true" : "false");
            break;
        default:
            line_puts(&l, "null");
        }
    }
    line_put(&l, "}\n", 2);

    if (l.failed) {
        static const char oom[] = "{\"level\":\"error\",\"event\":\"log.out_of_memory\"}\n";
        ssize_t r = write(STDERR_FILENO, oom, sizeof oom - 1);
        (void)r;
    } else {
        size_t off = 0;
        while (off < l.len) {
            ssize_t w = write(STDERR_FILENO, l.p + off, l.len - off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            off += (size_t)w;
        }
    }
    if (l.heap)
        free(l.p);
}

/* librdkafka levels are syslog levels: 0..3 error, 4 warning, 5..6 info, 7 debug. */
void ip_log_rdkafka_cb(const struct rd_kafka_s *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    ip_log_level lv = level <= 3   ? IP_LOG_ERROR
                      : level == 4 ? IP_LOG_WARN
                      : level <= 6 ? IP_LOG_INFO
                                   : IP_LOG_DEBUG;
    ip_log(lv, "rdkafka.log", IP_LS("facility", fac), IP_LS("msg", buf));
}
