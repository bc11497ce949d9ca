/* gw_jbuf.c — the buffer writer of gw_jbuf.h.
 *
 * Room is made by ensure(): the buffer doubles (at least to what is asked,
 * at most to jb->max) with one realloc, so a page of a few dozen images costs
 * a handful of allocations in all. A string is checked and escaped in one
 * pass: runs of bytes that need nothing are copied with one memcpy, each
 * byte that needs an escape is written as jansson writes it, and a multi-byte
 * sequence is checked by jansson's rules (utf8_check_first/utf8_check_full:
 * lead bytes C2..F4, continuation bytes 80..BF, no overlong form, no
 * surrogate half, nothing past U+10FFFF). A string that fails the check is
 * taken back out of the buffer (the length returns to where it began), so
 * the caller may write null instead or leave the member out.
 */
#include "gw_jbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_utf8.h"

void gw_jbuf_init(gw_jbuf *jb, size_t initial, size_t max)
{
    if (max < 2)
        max = 2; /* room for "" at least, and jb->max - 1 stays >= 1 */
    *jb = (gw_jbuf){.first = initial < max ? initial : max, .max = max};
}

void gw_jbuf_fini(gw_jbuf *jb)
{
    free(jb->p);
    jb->p = NULL;
    jb->len = jb->cap = 0;
}

/* Room for `n` more bytes plus the final NUL; false (and failed) when the
 * text would pass jb->max or memory runs out. */
static bool ensure(gw_jbuf *jb, size_t n)
{
    if (jb->failed)
        return false;
    if (jb->max - 1 < jb->len || n > jb->max - 1 - jb->len) {
        jb->failed = true;
        return false;
    }
    size_t need = jb->len + n + 1;
    if (need <= jb->cap)
        return true;
    size_t want = jb->cap ? jb->cap : jb->first;
    if (want < 64)
        want = 64;
    while (want < need)
        want = want > jb->max / 2 ? jb->max : want * 2;
    if (want > jb->max)
        want = jb->max;
    char *p = realloc(jb->p, want);
    if (!p) {
        jb->failed = true;
        return false;
    }
    jb->p = p;
    jb->cap = want;
    return true;
}

static void put(gw_jbuf *jb, const char *s, size_t n)
{
    if (!ensure(jb, n))
        return;
    memcpy(jb->p + jb->len, s, n);
    jb->len += n;
}

static void put_char(gw_jbuf *jb, char c)
{
    if (!ensure(jb, 1))
        return;
    jb->p[jb->len++] = c;
}

/* The comma before a value or key that follows another one. */
static void sep(gw_jbuf *jb)
{
    if (jb->need_sep)
        put_char(jb, ',');
    jb->need_sep = true;
}

char *gw_jbuf_take(gw_jbuf *jb, size_t *len)
{
    if (!jb->failed && !jb->p)
        ensure(jb, 0);
    if (jb->failed) {
        gw_jbuf_fini(jb);
        return NULL;
    }
    jb->p[jb->len] = '\0';
    char *s = jb->p;
    *len = jb->len;
    jb->p = NULL;
    jb->len = jb->cap = 0;
    return s;
}

void gw_jbuf_open_object(gw_jbuf *jb)
{
    sep(jb);
    put_char(jb, '{');
    jb->need_sep = false;
}

void gw_jbuf_close_object(gw_jbuf *jb)
{
    put_char(jb, '}');
    jb->need_sep = true;
}

void gw_jbuf_open_array(gw_jbuf *jb)
{
    sep(jb);
    put_char(jb, '[');
    jb->need_sep = false;
}

void gw_jbuf_close_array(gw_jbuf *jb)
{
    put_char(jb, ']');
    jb->need_sep = true;
}

void gw_jbuf_key(gw_jbuf *jb, const char *k)
{
    sep(jb);
    size_t n = strlen(k);
    if (!ensure(jb, n + 3))
        return;
    char *d = jb->p + jb->len;
    d[0] = '"';
    memcpy(d + 1, k, n);
    d[n + 1] = '"';
    d[n + 2] = ':';
    jb->len += n + 3;
    jb->need_sep = false;
}

void gw_jbuf_null(gw_jbuf *jb)
{
    sep(jb);
    put(jb, "null", 4);
}

void gw_jbuf_bool(gw_jbuf *jb, bool v)
{
    sep(jb);
    if (v)
        put(jb, "true", 4);
    else
        put(jb, "false", 5);
}

void gw_jbuf_int(gw_jbuf *jb, int64_t v)
{
    sep(jb);
    char b[24];
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    put(jb, b, (size_t)n);
}

/* The length of the valid UTF-8 sequence at s (1..4), or 0: ip_utf8.h's
 * rules, which are jansson's (RFC 3629). s is NUL-terminated: a NUL is not a
 * continuation byte, so the check stops there and never reads past it. */
static size_t utf8_seq(const unsigned char *s)
{
    return ip_utf8_seq(s, 4);
}

bool gw_jbuf_utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_seq(p);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

/* Escape of each ASCII byte: 0 none, else the letter after '\\' ('u' for
 * \u00XX). */
static const char esc[128] = {
    ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n',  ['\r'] = 'r', ['\t'] = 't', [0x01] = 'u',
    [0x02] = 'u', [0x03] = 'u', [0x04] = 'u',  [0x05] = 'u', [0x06] = 'u', [0x07] = 'u',
    [0x0B] = 'u', [0x0E] = 'u', [0x0F] = 'u',  [0x10] = 'u', [0x11] = 'u', [0x12] = 'u',
    [0x13] = 'u', [0x14] = 'u', [0x15] = 'u',  [0x16] = 'u', [0x17] = 'u', [0x18] = 'u',
    [0x19] = 'u', [0x1A] = 'u', [0x1B] = 'u',  [0x1C] = 'u', [0x1D] = 'u', [0x1E] = 'u',
    [0x1F] = 'u', ['"'] = '"',  ['\\'] = '\\',
};

/* The body of a string (no quotes) appended; false when it is not valid
 * UTF-8 (what was appended is then still there: the caller rolls back). */
static bool put_escaped(gw_jbuf *jb, const char *s)
{
    const unsigned char *p = (const unsigned char *)s, *run = p;
    while (*p) {
        unsigned c = *p;
        if (c >= 0x80) {
            size_t n = utf8_seq(p);
            if (n == 0)
                return false;
            p += n;
            continue;
        }
        if (!esc[c]) {
            p++;
            continue;
        }
        put(jb, (const char *)run, (size_t)(p - run));
        static const char hex[] = "0123456789ABCDEF";
        char e[6] = {'\\', esc[c], '0', '0', hex[c >> 4], hex[c & 15]};
        put(jb, e, esc[c] == 'u' ? 6 : 2);
        run = ++p;
    }
    put(jb, (const char *)run, (size_t)(p - run));
    return true;
}

bool gw_jbuf_str2(gw_jbuf *jb, const char *prefix, const char *s)
{
    if (!s || jb->failed)
        return false;
    size_t mark = jb->len;
    bool had_sep = jb->need_sep;
    sep(jb);
    put_char(jb, '"');
    if (!put_escaped(jb, prefix) || !put_escaped(jb, s)) {
        jb->len = mark;
        jb->need_sep = had_sep;
        return false;
    }
    put_char(jb, '"');
    return true;
}

bool gw_jbuf_str(gw_jbuf *jb, const char *s)
{
    return gw_jbuf_str2(jb, "", s);
}
