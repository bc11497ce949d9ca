/* gw_accept.c — the Accept header parsed into media ranges, and the file
 * of a variant chosen by them (the rules are in gw_accept.h).
 *
 * One pass over at most GW_ACCEPT_MAX_BYTES: each list element is read as
 * type "/" subtype, then parameters; a malformed element is skipped up to the
 * next comma outside a quoted string, so one bad range never hides the
 * others and never makes the pass longer than the text. Ranges point into
 * the caller's text; nothing is copied or allocated.
 */
#include "gw_accept.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 tchar. */
static bool is_tchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *skip_token(const char *p, const char *end)
{
    while (p < end && is_tchar(*p))
        p++;
    return p;
}

/* Past a quoted string that starts at p ('"'); NULL when it does not end. */
static const char *skip_quoted(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            if (++p == end)
                return NULL;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* The next comma outside a quoted string, or end. */
static const char *skip_element(const char *p, const char *end)
{
    while (p < end && *p != ',') {
        if (*p == '"') {
            const char *q = skip_quoted(p, end);
            if (!q)
                return end;
            p = q;
        } else {
            p++;
        }
    }
    return p;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
 * thousandths; -1 when it is not one. */
static int parse_qvalue(const char *s, size_t len)
{
    if (len == 0 || len > 5 || (s[0] != '0' && s[0] != '1'))
        return -1;
    int q = (s[0] - '0') * 1000;
    if (len == 1)
        return q;
    if (s[1] != '.')
        return -1;
    int scale = 100;
    for (size_t i = 2; i < len; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        q += (s[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

static bool eq_nocase(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

/* One media range from *pp; *pp ends at the comma that ends it, or at end.
 * false when it is malformed. */
static bool parse_range(const char **pp, const char *end, gw_accept_range *r)
{
    const char *p = *pp;
    memset(r, 0, sizeof *r);
    r->q = 1000;
    bool seen_q = false;
    r->type = p;
    p = skip_token(p, end);
    r->type_len = (size_t)(p - r->type);
    if (r->type_len == 0 || p == end || *p != '/')
        goto bad;
    r->subtype = ++p;
    p = skip_token(p, end);
    r->subtype_len = (size_t)(p - r->subtype);
    if (r->subtype_len == 0)
        goto bad;
    if (eq_nocase(r->type, r->type_len, "*") && !eq_nocase(r->subtype, r->subtype_len, "*"))
        goto bad; /* "*\/webp" is not a range */
    for (;;) {
        p = skip_ows(p, end);
        if (p == end || *p == ',')
            break;
        if (*p != ';')
            goto bad;
        p = skip_ows(p + 1, end);
        if (p == end || *p == ',' || *p == ';')
            continue; /* an empty parameter */
        const char *name = p;
        p = skip_token(p, end);
        size_t name_len = (size_t)(p - name);
        p = skip_ows(p, end);
        if (name_len == 0 || p == end || *p != '=')
            goto bad;
        p = skip_ows(p + 1, end);
        const char *val = p;
        if (p < end && *p == '"') {
            const char *after = skip_quoted(p, end);
            if (!after) {
                p = end;
                goto bad;
            }
            p = after;
        } else {
            p = skip_token(p, end);
            if (p == val)
                goto bad;
        }
        if (eq_nocase(name, name_len, "q")) {
            int q = parse_qvalue(val, (size_t)(p - val));
            if (seen_q || q < 0)
                goto bad;
            seen_q = true;
            r->q = q;
        } else if (!seen_q) {
            r->has_params = true; /* after the weight: extensions, not the type's */
        }
    }
    *pp = p;
    return true;
bad:
    *pp = skip_element(p, end);
    return false;
}

bool gw_accept_parse(const char *value, gw_accept *out)
{
    out->n = 0;
    if (!value)
        return false;
    size_t len = strnlen(value, GW_ACCEPT_MAX_BYTES + 1);
    if (len > GW_ACCEPT_MAX_BYTES)
        return false;
    const char *p = value, *end = value + len;
    size_t elements = 0;
    for (;;) {
        p = skip_ows(p, end);
        if (p == end)
            break;
        if (*p == ',') {
            p++;
            continue;
        }
        if (++elements > GW_ACCEPT_MAX_RANGES) {
            out->n = 0;
            return false;
        }
        gw_accept_range r;
        if (parse_range(&p, end, &r))
            out->r[out->n++] = r;
    }
    return true;
}

int gw_accept_weight(const gw_accept *a, const char *content_type, bool explicit_only)
{
    const char *slash = strchr(content_type, '/');
    if (!slash)
        return 0;
    size_t tlen = (size_t)(slash - content_type);
    const char *sub = slash + 1;
    size_t slen = strlen(sub);
    int best = -1, q = 0; /* specificity: 2 exact, 1 type/\*, 0 *\/\* */
    for (size_t i = 0; i < a->n; i++) {
        const gw_accept_range *r = &a->r[i];
        if (r->has_params)
            continue;
        bool any_type = r->type_len == 1 && r->type[0] == '*';
        bool any_sub = r->subtype_len == 1 && r->subtype[0] == '*';
        int spec;
        if (any_type)
            spec = 0;
        else if (r->type_len != tlen || strncasecmp(r->type, content_type, tlen) != 0)
            continue;
        else if (any_sub)
            spec = 1;
        else if (r->subtype_len == slen && strncasecmp(r->subtype, sub, slen) == 0)
            spec = 2;
        else
            continue;
        if (explicit_only && spec < 2)
            continue;
        if (spec > best) { /* the first of equally specific ranges counts */
            best = spec;
            q = r->q;
        }
    }
    return best < 0 ? 0 : q;
}

size_t gw_accept_choose(const char *accept, const ip_format_def *const *fmts, size_t n)
{
    size_t fallback = 0;
    for (size_t i = 0; i < n; i++)
        if (ip_format_is_primary(fmts[i])) {
            fallback = i;
            break;
        }
    gw_accept a;
    if (!gw_accept_parse(accept, &a))
        return fallback;
    size_t best = n;
    int best_q = 0;
    for (size_t i = 0; i < n; i++) {
        const ip_format_def *f = fmts[i];
        if (!f)
            continue;
        int q = gw_accept_weight(&a, f->content_type, !ip_format_is_primary(f));
        if (q <= 0)
            continue;
        if (best == n || q > best_q || (q == best_q && f->preference > fmts[best]->preference)) {
            best = i;
            best_q = q;
        }
    }
    return best == n ? fallback : best;
}
