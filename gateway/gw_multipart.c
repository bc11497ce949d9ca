/* gw_multipart.c — streaming multipart/form-data (RFC 7578) for POST /upload.
 *
 * HOW IT WORKS. The parser keeps a small `pending` buffer of bytes not yet
 * classified and moves through PREAMBLE -> (AFTER_DELIM -> HEADERS -> BODY)* ->
 * DONE. The delimiter is CRLF "--" boundary; the buffer starts with a CRLF of
 * its own so that a body beginning with "--boundary" needs no special case.
 * In BODY, everything before the delimiter (or, while it is not yet seen, all
 * but the last delimiter-length-minus-one bytes, which may be its beginning) is
 * handed to the current part: the file part grows a buffer checked against the
 * upload limit at every byte count, the `ops` part a small field buffer (and
 * `on_duplicate` a smaller one), other
 * parts are counted and dropped. So memory is the file itself plus a few
 * hundred bytes, whatever the chunking. The file buffer starts at 64 KiB and
 * doubles as bytes arrive (never sized from a Content-Length); each growth is
 * charged to the process's memory budget (ip_budget.h) before it is made, and
 * a growth that does not fit fails the parse with GW_MP_BUSY.
 *
 * LIMITS. One part's header block (max_header_bytes), the number of parts
 * (max_parts), a field's size (max_field_bytes), the file (max_file_bytes).
 * Every failure is sticky and carries a reason for the problem detail.
 */
#include "gw_multipart.h"

#include "ip_budget.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum mp_state { S_PREAMBLE, S_AFTER_DELIM, S_HEADERS, S_BODY, S_DONE };
enum part_kind { P_OTHER, P_FILE, P_OPS, P_ON_DUP };

struct gw_multipart {
    gw_mp_limits lim;
    char delim[GW_BOUNDARY_MAX + 5]; /* CRLF "--" boundary */
    size_t dlen;
    enum mp_state state;
    gw_mp_result failed;
    char err[160];

    char *pend;
    size_t plen, pcap;

    int parts;
    enum part_kind kind;
    size_t part_bytes;

    bool file_seen;
    char *file;
    size_t file_len, file_cap; /* file_cap is charged to the budget */
    char *filename;

    bool ops_seen;
    char ops[4097];
    size_t ops_len;

    /* on_duplicate: its first 15 bytes (a longer value is never a valid one,
     * and stays invalid cut there); counted against max_field_bytes. */
    bool on_dup_seen;
    char on_dup[16];
    size_t on_dup_len;
};

static gw_mp_result mp_fail(gw_multipart *mp, gw_mp_result r, const char *msg)
{
    if (mp->failed == GW_MP_OK) {
        mp->failed = r;
        snprintf(mp->err, sizeof mp->err, "%s", msg);
    }
    return mp->failed;
}

ip_status gw_multipart_boundary(const char *ct, char out[GW_BOUNDARY_MAX + 1])
{
    if (!ct)
        return IP_INVALID_ARGUMENT;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, "multipart/form-data", 19) != 0)
        return IP_INVALID_ARGUMENT;
    const char *p = ct + 19;
    while (*p) {
        while (*p == ';' || *p == ' ' || *p == '\t')
            p++;
        const char *name = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        size_t nlen = (size_t)(p - name);
        while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
            nlen--;
        if (*p != '=') {
            continue;
        }
        p++;
        char val[GW_BOUNDARY_MAX + 2];
        size_t vlen = 0;
        bool toolong = false;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                if (vlen <= GW_BOUNDARY_MAX)
                    val[vlen++] = *p;
                else
                    toolong = true;
                p++;
            }
            if (*p != '"')
                return IP_INVALID_ARGUMENT;
            p++;
        } else {
            while (*p && *p != ';' && *p != ' ' && *p != '\t') {
                if (vlen <= GW_BOUNDARY_MAX)
                    val[vlen++] = *p;
                else
                    toolong = true;
                p++;
            }
        }
        if (nlen == 8 && strncasecmp(name, "boundary", 8) == 0) {
            if (toolong || vlen == 0 || vlen > GW_BOUNDARY_MAX)
                return IP_INVALID_ARGUMENT;
            for (size_t i = 0; i < vlen; i++)
                if ((unsigned char)val[i] < 0x20 || (unsigned char)val[i] >= 0x7f)
                    return IP_INVALID_ARGUMENT;
            memcpy(out, val, vlen);
            out[vlen] = '\0';
            return IP_OK;
        }
    }
    return IP_INVALID_ARGUMENT;
}

gw_multipart *gw_multipart_new(const char *boundary, const gw_mp_limits *lim)
{
    size_t blen = boundary ? strlen(boundary) : 0;
    if (blen == 0 || blen > GW_BOUNDARY_MAX)
        return NULL;
    gw_multipart *mp = calloc(1, sizeof *mp);
    if (!mp)
        return NULL;
    mp->lim = *lim;
    if (mp->lim.max_header_bytes == 0)
        mp->lim.max_header_bytes = 8192;
    if (mp->lim.max_parts <= 0)
        mp->lim.max_parts = 8;
    if (mp->lim.max_field_bytes == 0 || mp->lim.max_field_bytes > sizeof mp->ops - 1)
        mp->lim.max_field_bytes = sizeof mp->ops - 1;
    mp->dlen = (size_t)snprintf(mp->delim, sizeof mp->delim, "\r\n--%s", boundary);
    mp->pcap = 256;
    mp->pend = malloc(mp->pcap);
    if (!mp->pend) {
        free(mp);
        return NULL;
    }
    memcpy(mp->pend, "\r\n", 2);
    mp->plen = 2;
    mp->state = S_PREAMBLE;
    return mp;
}

void gw_multipart_free(gw_multipart *mp)
{
    if (!mp)
        return;
    free(mp->pend);
    free(mp->file);
    ip_budget_give((int64_t)mp->file_cap);
    free(mp->filename);
    free(mp);
}

static void consume(gw_multipart *mp, size_t n)
{
    memmove(mp->pend, mp->pend + n, mp->plen - n);
    mp->plen -= n;
}

static gw_mp_result emit(gw_multipart *mp, const char *p, size_t n)
{
    if (n == 0)
        return GW_MP_OK;
    switch (mp->kind) {
    case P_FILE:
        if (n > mp->lim.max_file_bytes - mp->file_len)
            return mp_fail(mp, GW_MP_TOO_LARGE, "the file is larger than the upload limit");
        if (mp->file_len + n > mp->file_cap) {
            size_t cap = mp->file_cap ? mp->file_cap : 64 * 1024;
            while (cap < mp->file_len + n)
                cap *= 2;
            if (cap > mp->lim.max_file_bytes)
                cap = mp->lim.max_file_bytes;
            if (!ip_budget_try((int64_t)(cap - mp->file_cap)))
                return mp_fail(mp, GW_MP_BUSY, "the memory budget is used up");
            char *nf = realloc(mp->file, cap);
            if (!nf) {
                ip_budget_give((int64_t)(cap - mp->file_cap));
                return mp_fail(mp, GW_MP_BUSY, "out of memory for the file");
            }
            mp->file = nf;
            mp->file_cap = cap;
        }
        memcpy(mp->file + mp->file_len, p, n);
        mp->file_len += n;
        return GW_MP_OK;
    case P_OPS:
        if (n > mp->lim.max_field_bytes - mp->ops_len)
            return mp_fail(mp, GW_MP_BAD, "the ops field is longer than allowed");
        memcpy(mp->ops + mp->ops_len, p, n);
        mp->ops_len += n;
        mp->ops[mp->ops_len] = '\0';
        return GW_MP_OK;
    case P_ON_DUP:
        mp->part_bytes += n;
        if (mp->part_bytes > mp->lim.max_field_bytes)
            return mp_fail(mp, GW_MP_BAD, "the on_duplicate field is longer than allowed");
        for (size_t i = 0; i < n && mp->on_dup_len < sizeof mp->on_dup - 1; i++)
            mp->on_dup[mp->on_dup_len++] = p[i];
        mp->on_dup[mp->on_dup_len] = '\0';
        return GW_MP_OK;
    case P_OTHER:
    default:
        mp->part_bytes += n;
        if (mp->part_bytes > mp->lim.max_field_bytes)
            return mp_fail(mp, GW_MP_BAD, "a form field other than file is longer than allowed");
        return GW_MP_OK;
    }
}

/* Reads one parameter value of Content-Disposition at *pp (quoted or token). */
static char *param_value(const char **pp, const char *end, size_t *vlen)
{
    const char *p = *pp;
    char *v = malloc((size_t)(end - p) + 1);
    if (!v)
        return NULL;
    size_t n = 0;
    if (p < end && *p == '"') {
        p++;
        /* No backslash escapes: browsers send them literally (a Windows path)
         * and encode a quote as %22 (HTML's multipart/form-data rules). */
        while (p < end && *p != '"')
            v[n++] = *p++;
        if (p < end)
            p++;
    } else {
        while (p < end && *p != ';')
            v[n++] = *p++;
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
    }
    v[n] = '\0';
    *vlen = n;
    *pp = p;
    return v;
}

static gw_mp_result parse_disposition(gw_multipart *mp, const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if ((size_t)(end - p) < 9 || strncasecmp(p, "form-data", 9) != 0)
        return mp_fail(mp, GW_MP_BAD, "a part's Content-Disposition is not form-data");
    p += 9;
    char *name = NULL, *fname = NULL;
    size_t fname_len = 0;
    bool has_fname = false;
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
            p++;
        const char *k = p;
        while (p < end && *p != '=' && *p != ';')
            p++;
        size_t klen = (size_t)(p - k);
        while (klen > 0 && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
            klen--;
        if (p >= end || *p != '=')
            continue;
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        size_t vlen = 0;
        char *v = param_value(&p, end, &vlen);
        if (!v) {
            free(name);
            free(fname);
            return mp_fail(mp, GW_MP_BAD, "out of memory");
        }
        if (klen == 4 && strncasecmp(k, "name", 4) == 0 && !name) {
            name = v;
        } else if (klen == 8 && strncasecmp(k, "filename", 8) == 0 && !fname) {
            fname = v;
            fname_len = vlen;
            has_fname = true;
        } else {
            free(v);
        }
    }
    gw_mp_result r = GW_MP_OK;
    if (!name) {
        r = mp_fail(mp, GW_MP_BAD, "a part has no name in its Content-Disposition");
    } else if (strcmp(name, "file") == 0) {
        if (mp->file_seen) {
            r = mp_fail(mp, GW_MP_BAD,
                        "the form has more than one file part; send one image per "
                        "upload");
        } else {
            mp->file_seen = true;
            mp->kind = P_FILE;
            mp->filename = gw_filename_sanitize(has_fname ? fname : "", has_fname ? fname_len : 0);
            if (!mp->filename)
                r = mp_fail(mp, GW_MP_BAD, "out of memory");
        }
    } else if (strcmp(name, "ops") == 0) {
        if (mp->ops_seen)
            r = mp_fail(mp, GW_MP_BAD, "the form has more than one ops field");
        mp->ops_seen = true;
        mp->kind = P_OPS;
    } else if (strcmp(name, "on_duplicate") == 0) {
        if (mp->on_dup_seen)
            r = mp_fail(mp, GW_MP_BAD, "the form has more than one on_duplicate field");
        mp->on_dup_seen = true;
        mp->kind = P_ON_DUP;
    } else {
        mp->kind = P_OTHER;
    }
    free(name);
    free(fname);
    return r;
}

static gw_mp_result parse_headers(gw_multipart *mp, const char *h, size_t len)
{
    const char *end = h + len;
    bool disposition = false;
    while (h < end) {
        const char *eol = memmem(h, (size_t)(end - h), "\r\n", 2);
        if (!eol)
            eol = end;
        const char *colon = memchr(h, ':', (size_t)(eol - h));
        if (!colon || colon == h)
            return mp_fail(mp, GW_MP_BAD, "a part header line is malformed (no \"name:\")");
        for (const char *q = h; q < colon; q++)
            if (!isgraph((unsigned char)*q))
                return mp_fail(mp, GW_MP_BAD, "a part header name has invalid characters");
        if ((size_t)(colon - h) == 19 && strncasecmp(h, "content-disposition", 19) == 0) {
            if (disposition)
                return mp_fail(mp, GW_MP_BAD, "a part has two Content-Disposition headers");
            disposition = true;
            gw_mp_result r = parse_disposition(mp, colon + 1, eol);
            if (r != GW_MP_OK)
                return r;
        }
        h = eol + 2;
    }
    if (!disposition)
        return mp_fail(mp, GW_MP_BAD, "a part has no Content-Disposition header");
    return GW_MP_OK;
}

static gw_mp_result run(gw_multipart *mp)
{
    for (;;) {
        switch (mp->state) {
        case S_PREAMBLE: {
            char *d = memmem(mp->pend, mp->plen, mp->delim, mp->dlen);
            if (d) {
                consume(mp, (size_t)(d - mp->pend) + mp->dlen);
                mp->state = S_AFTER_DELIM;
                continue;
            }
            if (mp->plen >= mp->dlen)
                consume(mp, mp->plen - (mp->dlen - 1));
            return GW_MP_OK;
        }
        case S_AFTER_DELIM: {
            size_t sp = 0;
            while (sp < mp->plen && (mp->pend[sp] == ' ' || mp->pend[sp] == '\t'))
                sp++;
            if (sp > 64)
                return mp_fail(mp, GW_MP_BAD, "malformed boundary line");
            if (mp->plen - sp < 2)
                return GW_MP_OK;
            if (sp == 0 && mp->pend[0] == '-' && mp->pend[1] == '-') {
                mp->state = S_DONE;
                mp->plen = 0;
                return GW_MP_OK;
            }
            if (mp->pend[sp] != '\r' || mp->pend[sp + 1] != '\n')
                return mp_fail(mp, GW_MP_BAD, "malformed boundary line (expected CRLF)");
            consume(mp, sp + 2);
            if (++mp->parts > mp->lim.max_parts)
                return mp_fail(mp, GW_MP_BAD, "the form has too many parts");
            mp->kind = P_OTHER;
            mp->part_bytes = 0;
            mp->state = S_HEADERS;
            continue;
        }
        case S_HEADERS: {
            size_t hlen, skip;
            if (mp->plen >= 2 && mp->pend[0] == '\r' && mp->pend[1] == '\n') {
                hlen = 0;
                skip = 2;
            } else {
                char *e = memmem(mp->pend, mp->plen, "\r\n\r\n", 4);
                if (!e) {
                    if (mp->plen > mp->lim.max_header_bytes)
                        return mp_fail(mp, GW_MP_BAD, "a part's headers are longer than allowed");
                    return GW_MP_OK;
                }
                hlen = (size_t)(e - mp->pend);
                skip = hlen + 4;
            }
            if (hlen > mp->lim.max_header_bytes)
                return mp_fail(mp, GW_MP_BAD, "a part's headers are longer than allowed");
            gw_mp_result r = parse_headers(mp, mp->pend, hlen);
            if (r != GW_MP_OK)
                return r;
            consume(mp, skip);
            mp->state = S_BODY;
            continue;
        }
        case S_BODY: {
            char *d = memmem(mp->pend, mp->plen, mp->delim, mp->dlen);
            if (d) {
                size_t n = (size_t)(d - mp->pend);
                gw_mp_result r = emit(mp, mp->pend, n);
                if (r != GW_MP_OK)
                    return r;
                consume(mp, n + mp->dlen);
                mp->state = S_AFTER_DELIM;
                continue;
            }
            if (mp->plen >= mp->dlen) {
                size_t n = mp->plen - (mp->dlen - 1);
                gw_mp_result r = emit(mp, mp->pend, n);
                if (r != GW_MP_OK)
                    return r;
                consume(mp, n);
            }
            return GW_MP_OK;
        }
        case S_DONE:
        default:
            mp->plen = 0;
            return GW_MP_OK;
        }
    }
}

gw_mp_result gw_multipart_feed(gw_multipart *mp, const char *data, size_t len)
{
    if (mp->failed != GW_MP_OK)
        return mp->failed;
    while (len > 0) {
        if (mp->state == S_DONE)
            return GW_MP_OK; /* the epilogue is ignored */
        /* Feed in slices so that `pending` stays small whatever the chunk size. */
        size_t slice = len < 65536 ? len : 65536;
        if (mp->plen + slice > mp->pcap) {
            size_t cap = mp->plen + slice;
            char *np = realloc(mp->pend, cap);
            if (!np)
                return mp_fail(mp, GW_MP_BAD, "out of memory");
            mp->pend = np;
            mp->pcap = cap;
        }
        memcpy(mp->pend + mp->plen, data, slice);
        mp->plen += slice;
        data += slice;
        len -= slice;
        gw_mp_result r = run(mp);
        if (r != GW_MP_OK)
            return r;
    }
    return GW_MP_OK;
}

gw_mp_result gw_multipart_finish(gw_multipart *mp)
{
    if (mp->failed != GW_MP_OK)
        return mp->failed;
    if (mp->state != S_DONE)
        return mp_fail(mp, GW_MP_BAD,
                       "the multipart body is truncated: it ended before the closing boundary");
    return GW_MP_OK;
}

const char *gw_multipart_error(const gw_multipart *mp)
{
    return mp->err;
}
bool gw_multipart_has_file(const gw_multipart *mp)
{
    return mp->file_seen;
}
const char *gw_multipart_filename(const gw_multipart *mp)
{
    return mp->filename ? mp->filename : "";
}
const char *gw_multipart_ops(const gw_multipart *mp)
{
    return mp->ops_seen ? mp->ops : NULL;
}
const char *gw_multipart_on_duplicate(const gw_multipart *mp)
{
    return mp->on_dup_seen ? mp->on_dup : NULL;
}

char *gw_multipart_take_file_charged(gw_multipart *mp, size_t *len, int64_t *charged)
{
    *charged = 0;
    if (!mp->file_seen)
        return NULL;
    char *f = mp->file;
    *len = mp->file_len;
    *charged = (int64_t)mp->file_cap;
    if (!f) {
        f = malloc(1);
        *len = 0;
    }
    mp->file = NULL;
    mp->file_len = mp->file_cap = 0;
    return f;
}

char *gw_multipart_take_file(gw_multipart *mp, size_t *len)
{
    int64_t charged = 0;
    char *f = gw_multipart_take_file_charged(mp, len, &charged);
    ip_budget_give(charged);
    return f;
}

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

char *gw_filename_sanitize(const char *name, size_t len)
{
    const unsigned char *s = (const unsigned char *)(name ? name : "");
    size_t start = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '/' || s[i] == '\\')
            start = i + 1;
    char *out = malloc(256 + 4);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = start; i < len;) {
        size_t l = utf8_seq(s + i, len - i);
        const unsigned char *src = s + i;
        size_t copy = l;
        static const unsigned char repl[3] = {0xEF, 0xBF, 0xBD};
        if (l == 0) {
            src = repl;
            copy = 3;
            l = 1;
        } else if (l == 1 && (s[i] < 0x20 || s[i] == 0x7f || s[i] == '"')) {
            i++;
            continue;
        }
        if (o + copy > 255)
            break;
        memcpy(out + o, src, copy);
        o += copy;
        i += l;
    }
    out[o] = '\0';
    if (o == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
        strcpy(out, "upload");
    }
    return out;
}
