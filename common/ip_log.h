/* ip_log.h — JSON-lines logging to stderr.
 *
 * One JSON object per line: {"ts":"…","level":"info","service":"gateway",
 * "event":"upload.accepted", then the fields given, in order}. `event` is a
 * stable dotted name; fields are typed key/value pairs (IP_LS string, IP_LI
 * integer, IP_LF double, IP_LB bool). Strings are JSON-escaped; a NULL string
 * is written as null. A line is written with one write(2), so lines from
 * threads never interleave. Never log secrets or request bodies.
 *
 *   ip_log(IP_LOG_INFO, "job.done", IP_LS("image_id", id), IP_LI("ms", ms));
 *
 * Library logs are routed in with ip_log_route_glib() (GLib/libvips) here and
 * the nng / librdkafka hooks in the modules that own those handles
 * (ip_log_rdkafka_cb is a ready rd_kafka log callback).
 */
#ifndef IP_LOG_H
#define IP_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum ip_log_level { IP_LOG_DEBUG = 0, IP_LOG_INFO, IP_LOG_WARN, IP_LOG_ERROR } ip_log_level;

typedef enum ip_log_type {
    IP_LOG_T_STR = 1,
    IP_LOG_T_INT,
    IP_LOG_T_DBL,
    IP_LOG_T_BOOL
} ip_log_type;

typedef struct ip_log_field {
    const char *key;
    ip_log_type type;
    const char *s;
    long long i;
    double d;
} ip_log_field;

#define IP_LS(k, v) ((ip_log_field){.key = (k), .type = IP_LOG_T_STR, .s = (v)})
#define IP_LI(k, v) ((ip_log_field){.key = (k), .type = IP_LOG_T_INT, .i = (long long)(v)})
#define IP_LF(k, v) ((ip_log_field){.key = (k), .type = IP_LOG_T_DBL, .d = (double)(v)})
#define IP_LB(k, v) ((ip_log_field){.key = (k), .type = IP_LOG_T_BOOL, .i = (v) ? 1 : 0})

/* Sets the service name written on every line and the lowest level written.
 * Call once at start, before threads. Default: service "imageproc", info. */
void ip_log_init(const char *service, ip_log_level min_level);

/* Parses "debug" | "info" | "warn" | "error"; returns false on anything else. */
bool ip_log_level_parse(const char *s, ip_log_level *out);

bool ip_log_enabled(ip_log_level level);

/* Writes one line. `fields` (n of them) are borrowed. */
void ip_log_fields(ip_log_level level, const char *event, const ip_log_field *fields, size_t n);

#define ip_log(level, event, ...)                                                                  \
    do {                                                                                           \
        if (ip_log_enabled(level)) {                                                               \
            const ip_log_field ip_log_f_[] = {{0}, __VA_ARGS__};                                   \
            ip_log_fields((level), (event), ip_log_f_ + 1,                                         \
                          sizeof(ip_log_f_) / sizeof(ip_log_f_[0]) - 1);                           \
        }                                                                                          \
    } while (0)

/* Routes GLib's (and so libvips's) log messages into ip_log as event "glib.log".
 * Defined in the separate library ip_log_glib (link it; it pulls in glib-2.0),
 * so that services without GLib do not link it. */
void ip_log_route_glib(void);

/* A librdkafka log callback (rd_kafka_conf_set_log_cb(conf, ip_log_rdkafka_cb)):
 * writes event "rdkafka.log" with the facility and message, syslog levels mapped
 * to ours. Needs no library of its own (rd_kafka_t is struct rd_kafka_s). */
struct rd_kafka_s;
void ip_log_rdkafka_cb(const struct rd_kafka_s *rk, int level, const char *fac, const char *buf);

#endif
