/* ip_config.c — the configuration table loader (see ip_config.h).
 *
 * ip_config_load walks the table once: for each variable it takes the
 * environment value (an unset variable takes the default; a required one
 * without a value is an error), converts it by type and checks the bounds.
 * Problems do not stop the walk; each appends one line to an error report so
 * that an operator sees every mistake at once. The values of secret
 * variables never appear in the report or in logs. This is the only file of
 * the project that calls getenv.
 */
#include "ip_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ip_log.h"

typedef struct report {
    char *p;
    size_t len;
    bool oom;
} report;

__attribute__((format(printf, 2, 3))) static void report_add(report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || r->oom)
        return;
    char *np = realloc(r->p, r->len + (size_t)n + 2);
    if (np == NULL) {
        r->oom = true;
        return;
    }
    r->p = np;
    va_start(ap, fmt);
    vsnprintf(r->p + r->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    r->len += (size_t)n;
    r->p[r->len++] = '\n';
    r->p[r->len] = '\0';
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool parse_int(const char *s, int64_t *out)
{
    /* Digits with an optional sign; strtoll alone would also take spaces. */
    const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
    if (*d < '0' || *d > '9')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s)
        return false;
    *out = v;
    return true;
}

ip_status ip_config_load(const ip_cfg_var *table, size_t n, void *cfg, char **errors)
{
    report r = {0};
    char *base = cfg;
    if (errors != NULL)
        *errors = NULL;
    for (size_t i = 0; i < n; i++) {
        const ip_cfg_var *v = &table[i];
        const char *val = getenv(v->name);
        if (val == NULL)
            val = v->def;
        if (val == NULL || (val[0] == '\0' && v->def == NULL)) {
            report_add(&r, "%s: required, not set", v->name);
            continue;
        }
        const char *shown = v->secret ? "***" : val;
        switch (v->type) {
        case IP_CFG_STRING: {
            char **dst = (char **)(void *)(base + v->offset);
            char *copy = strdup(val);
            if (copy == NULL) {
                report_add(&r, "%s: out of memory", v->name);
                break;
            }
            free(*dst);
            *dst = copy;
            break;
        }
        case IP_CFG_INT: {
            int64_t x;
            if (!parse_int(val, &x)) {
                report_add(&r, "%s: not an integer: \"%s\"", v->name, shown);
                break;
            }
            if (x < v->min || x > v->max) {
                report_add(&r, "%s: %s is out of range [%" PRId64 ", %" PRId64 "]", v->name, shown,
                           v->min, v->max);
                break;
            }
            memcpy(base + v->offset, &x, sizeof x);
            break;
        }
        case IP_CFG_BOOL: {
            bool b;
            if (!parse_bool(val, &b)) {
                report_add(&r, "%s: not a boolean (true/false/1/0/yes/no/on/off): \"%s\"", v->name,
                           shown);
                break;
            }
            memcpy(base + v->offset, &b, sizeof b);
            break;
        }
        default:
            report_add(&r, "%s: unknown type in the config table", v->name);
        }
    }
    if (r.len == 0 && !r.oom) {
        free(r.p);
        return IP_OK;
    }
    if (r.oom) {
        free(r.p);
        r.p = strdup("out of memory while reporting configuration errors\n");
    }
    if (errors != NULL)
        *errors = r.p;
    else
        free(r.p);
    return IP_INVALID_ARGUMENT;
}

void ip_config_log(const ip_cfg_var *table, size_t n, const void *cfg)
{
    if (!ip_log_enabled(IP_LOG_INFO))
        return;
    ip_log_field *f = calloc(n ? n : 1, sizeof *f);
    if (f == NULL)
        return;
    const char *base = cfg;
    for (size_t i = 0; i < n; i++) {
        const ip_cfg_var *v = &table[i];
        f[i].key = v->name;
        switch (v->type) {
        case IP_CFG_STRING: {
            const char *s;
            memcpy(&s, base + v->offset, sizeof s);
            f[i].type = IP_LOG_T_STR;
            f[i].s = v->secret ? "***" : s;
            break;
        }
        case IP_CFG_INT: {
            int64_t x;
            memcpy(&x, base + v->offset, sizeof x);
            f[i].type = IP_LOG_T_INT;
            f[i].i = x;
            break;
        }
        case IP_CFG_BOOL: {
            bool b;
            memcpy(&b, base + v->offset, sizeof b);
            f[i].type = IP_LOG_T_BOOL;
            f[i].i = b;
            break;
        }
        default:
            f[i].key = NULL;
        }
        if (v->secret && v->type != IP_CFG_STRING) {
            f[i].type = IP_LOG_T_STR;
            f[i].s = "***";
        }
    }
    ip_log_fields(IP_LOG_INFO, "config.loaded", f, n);
    free(f);
}

void ip_config_free(const ip_cfg_var *table, size_t n, void *cfg)
{
    char *base = cfg;
    for (size_t i = 0; i < n; i++) {
        if (table[i].type != IP_CFG_STRING)
            continue;
        char **dst = (char **)(void *)(base + table[i].offset);
        free(*dst);
        *dst = NULL;
    }
}

void ip_config_print_vars(FILE *out, const ip_cfg_var *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const ip_cfg_var *v = &table[i];
        fprintf(out, "%s=%s  # %s%s", v->name, v->def != NULL ? v->def : "",
                v->help != NULL ? v->help : "", v->def == NULL ? " (required)" : "");
        if (v->type == IP_CFG_INT)
            fprintf(out, " [%" PRId64 "..%" PRId64 "]", v->min, v->max);
        if (v->secret)
            fprintf(out, " (secret)");
        fputc('\n', out);
    }
}

bool ip_config_start(const ip_cfg_var *table, size_t n, void *cfg, const char *service)
{
    char *errors = NULL;
    ip_log_init(service, IP_LOG_INFO);
    if (ip_config_load(table, n, cfg, &errors) != IP_OK) {
        ip_log(IP_LOG_ERROR, "config.invalid", IP_LS("err", errors ? errors : "invalid"));
        free(errors);
        return false;
    }
    ip_log_level level = IP_LOG_INFO;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(table[i].name, "IP_LOG_LEVEL") != 0 || table[i].type != IP_CFG_STRING)
            continue;
        const char *text = *(char *const *)((const char *)cfg + table[i].offset);
        if (!ip_log_level_parse(text, &level)) {
            ip_log(IP_LOG_ERROR, "config.invalid",
                   IP_LS("err", "IP_LOG_LEVEL: want debug | info | warn | error"));
            return false;
        }
    }
    ip_log_init(service, level);
    ip_config_log(table, n, cfg);
    return true;
}
