/* gw_query.c — query parameters and ids: strict, and every error names its
 * parameter. Values are compared exactly (case matters: "Thumbnail" is not a
 * mode). Integers are plain decimal digits, no sign, no spaces. Variant names
 * are those of the table in ip_variants.h, and so are the lists of allowed
 * names that the error sentences quote.
 */
#include "gw_query.h"

#include <stdio.h>
#include <string.h>

#include "ip_time.h"
#include "ip_uuid.h"
#include "ip_text.h"

/* "thumbnail, resized, watermarked": the variant names for an error sentence. */
static const char *variant_names(char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < IP_VARIANT_COUNT && len < n; i++) {
        int w = snprintf(buf + len, n - len, "%s%s", i ? ", " : "", ip_variants[i].name);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return buf;
}

/* "jpeg, png, webp, avif": the format names for an error sentence. */
static const char *format_names(char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < IP_FORMAT_COUNT && len < n; i++) {
        int w = snprintf(buf + len, n - len, "%s%s", i ? ", " : "", ip_formats[i]->name);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return buf;
}

static bool decode(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '+') {
            *o++ = ' ';
        } else if (*p == '%') {
            int h = ip_hex_digit(p[1]), l = h >= 0 ? ip_hex_digit(p[2]) : -1;
            if (h < 0 || l < 0)
                return false;
            *o++ = (char)(h * 16 + l);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return true;
}

int gw_query_split(char *qs, gw_kv *out, int max)
{
    int n = 0;
    char *p = qs;
    while (p && *p) {
        char *amp = strchr(p, '&');
        if (amp)
            *amp = '\0';
        if (*p) {
            if (n >= max)
                return -1;
            char *eq = strchr(p, '=');
            char *val = p + strlen(p); /* "" inside the writable buffer */
            if (eq) {
                *eq = '\0';
                val = eq + 1;
            }
            if (!decode(p) || !decode(val))
                return -1;
            out[n].key = p;
            out[n].value = val;
            n++;
        }
        p = amp ? amp + 1 : NULL;
    }
    return n;
}

static ip_status bad(const char **param, const char *name, char *detail, size_t dlen,
                     const char *msg)
{
    if (param)
        *param = name;
    snprintf(detail, dlen, "%s", msg);
    return IP_INVALID_ARGUMENT;
}

/* Finds `key`: *val NULL when absent; IP_INVALID_ARGUMENT when given twice. */
static ip_status find1(const gw_kv *kv, size_t n, const char *key, const char **val,
                       const char **param, char *detail, size_t dlen)
{
    *val = NULL;
    for (size_t i = 0; i < n; i++) {
        if (kv[i].key && strcmp(kv[i].key, key) == 0) {
            if (*val) {
                char m[128];
                snprintf(m, sizeof m, "the parameter %s is given more than once", key);
                return bad(param, key, detail, dlen, m);
            }
            *val = kv[i].value ? kv[i].value : "";
        }
    }
    return IP_OK;
}

ip_status gw_ops_parse(const char *s, unsigned *mask, char *detail, size_t dlen)
{
    /* The shared parser takes "" as the empty set; here an ops given empty is
     * a mistake (leave it out to get the default). */
    if (ip_variant_mask_parse(s, mask, NULL) != IP_OK || *mask == 0) {
        char names[IP_VARIANT_LIST_MAX * 2];
        snprintf(detail, dlen, "ops must be a comma-separated list of %s (got \"%.40s\")",
                 variant_names(names, sizeof names), s);
        *mask = 0;
        return IP_INVALID_ARGUMENT;
    }
    return IP_OK;
}

ip_status gw_query_list(const gw_kv *kv, size_t n, gw_list_query *out, const char **param,
                        char *detail, size_t dlen)
{
    memset(out, 0, sizeof *out);
    out->limit = 24;
    const char *lc, *li, *mode, *limit, *sha;
    ip_status st;
    if ((st = find1(kv, n, "last_created_at", &lc, param, detail, dlen)) != IP_OK ||
        (st = find1(kv, n, "sha256", &sha, param, detail, dlen)) != IP_OK ||
        (st = find1(kv, n, "last_id", &li, param, detail, dlen)) != IP_OK ||
        (st = find1(kv, n, "mode", &mode, param, detail, dlen)) != IP_OK ||
        (st = find1(kv, n, "limit", &limit, param, detail, dlen)) != IP_OK)
        return st;
    if (limit) {
        int v = 0;
        size_t len = strlen(limit);
        bool ok = len > 0 && len <= 3;
        for (size_t i = 0; ok && i < len; i++) {
            if (limit[i] < '0' || limit[i] > '9')
                ok = false;
            else
                v = v * 10 + (limit[i] - '0');
        }
        if (!ok || v < 1 || v > 100)
            return bad(param, "limit", detail, dlen,
                       "limit must be a whole number from 1 to 100 (default 24)");
        out->limit = v;
    }
    if (mode) {
        out->mode = ip_variant_parse(mode, strlen(mode));
        if (out->mode == IP_VARIANT_NONE) {
            char names[IP_VARIANT_LIST_MAX * 2], m[160];
            snprintf(m, sizeof m, "mode must be one of %s", variant_names(names, sizeof names));
            return bad(param, "mode", detail, dlen, m);
        }
    }
    if (sha) {
        size_t len = strlen(sha);
        bool ok = len == 64;
        for (size_t i = 0; ok && i < len; i++) {
            int d = ip_hex_digit(sha[i]);
            ok = d >= 0;
            if (ok)
                out->sha256[i] = "0123456789abcdef"[d];
        }
        out->sha256[ok ? 64 : 0] = '\0';
        if (!ok)
            return bad(param, "sha256", detail, dlen,
                       "sha256 must be the SHA-256 of an original as 64 hexadecimal digits");
    }
    if (lc && !li)
        return bad(param, "last_id", detail, dlen,
                   "last_id is required with last_created_at: pass both from the previous "
                   "page's next, or neither");
    if (li && !lc)
        return bad(param, "last_created_at", detail, dlen,
                   "last_created_at is required with last_id: pass both from the previous "
                   "page's next, or neither");
    if (lc) {
        if (ip_time_parse(lc, &out->last_created_at_us) != IP_OK)
            return bad(param, "last_created_at", detail, dlen,
                       "last_created_at must be an RFC 3339 time such as "
                       "2026-01-02T03:04:05.123456Z, as given in the previous page's next");
        if (!ip_uuid_valid(li))
            return bad(param, "last_id", detail, dlen,
                       "last_id must be a UUID, as given in the previous page's next");
        ip_uuid u;
        ip_uuid_parse(li, &u);
        ip_uuid_format(&u, out->last_id);
        out->has_cursor = true;
    }
    return IP_OK;
}

ip_status gw_query_variant(const gw_kv *kv, size_t n, gw_variant_choice *out, const char **param,
                           char *detail, size_t dlen)
{
    const char *v, *f;
    out->original = false;
    out->kind = IP_VARIANT_NONE;
    out->format = NULL;
    ip_status st = find1(kv, n, "variant", &v, param, detail, dlen);
    if (st == IP_OK)
        st = find1(kv, n, "format", &f, param, detail, dlen);
    if (st != IP_OK)
        return st;
    char names[IP_VARIANT_LIST_MAX * 2], m[160];
    if (f) {
        out->format = ip_format_by_name(f);
        if (!out->format) {
            snprintf(m, sizeof m, "format must be one of %s", format_names(names, sizeof names));
            return bad(param, "format", detail, dlen, m);
        }
    }
    if (!v)
        return IP_OK;
    if (strcmp(v, "original") == 0) {
        out->original = true;
        if (out->format)
            return bad(param, "format", detail, dlen,
                       "format applies to the variants; the original has only its uploaded "
                       "bytes");
        return IP_OK;
    }
    out->kind = ip_variant_parse(v, strlen(v));
    if (out->kind != IP_VARIANT_NONE)
        return IP_OK;
    snprintf(m, sizeof m, "variant must be one of %s, original",
             variant_names(names, sizeof names));
    return bad(param, "variant", detail, dlen, m);
}

ip_status gw_query_events(const gw_kv *kv, size_t n, gw_events_query *out, const char **param,
                          char *detail, size_t dlen)
{
    out->nids = 0;
    for (size_t i = 0; i < n; i++) {
        if (!kv[i].key || strcmp(kv[i].key, "id") != 0)
            continue;
        const char *p = kv[i].value ? kv[i].value : "";
        for (;;) {
            const char *c = strchr(p, ',');
            size_t len = c ? (size_t)(c - p) : strlen(p);
            char one[40];
            ip_uuid u;
            if (len != 36)
                return bad(param, "id", detail, dlen,
                           "id must be a UUID (repeat id or separate several with commas)");
            memcpy(one, p, 36);
            one[36] = '\0';
            if (!ip_uuid_parse(one, &u))
                return bad(param, "id", detail, dlen,
                           "id must be a UUID (repeat id or separate several with commas)");
            if (out->nids >= GW_MAX_EVENT_IDS)
                return bad(param, "id", detail, dlen, "at most 32 ids may be given");
            ip_uuid_format(&u, out->ids[out->nids++]);
            if (!c)
                break;
            p = c + 1;
        }
    }
    return IP_OK;
}

ip_status gw_query_upload(const gw_kv *kv, size_t n, const char **ops, const char **on_duplicate,
                          const char **param, char *detail, size_t dlen)
{
    ip_status st = find1(kv, n, "ops", ops, param, detail, dlen);
    if (st == IP_OK)
        st = find1(kv, n, "on_duplicate", on_duplicate, param, detail, dlen);
    return st;
}

ip_status gw_on_duplicate_parse(const char *s, gw_on_duplicate *out, char *detail, size_t dlen)
{
    *out = GW_ON_DUP_EXISTING;
    if (strcmp(s, "existing") == 0)
        return IP_OK;
    if (strcmp(s, "new") == 0) {
        *out = GW_ON_DUP_NEW;
        return IP_OK;
    }
    snprintf(detail, dlen, "on_duplicate must be existing or new (got \"%.40s\")", s);
    return IP_INVALID_ARGUMENT;
}
