/* stor_s3_text.c — key checks, SigV4 URI encoding, canonical queries and a
 * small XML scanner for S3 answers (see stor_s3_text.h).
 *
 * Encoding follows the SigV4 rules for S3: only the unreserved set stays as
 * is, everything else is percent-encoded with upper-case hex, and object
 * paths are encoded once (S3 does not double-encode). libcurl 7.88 signs the
 * query string exactly as it appears in the URL, so the client builds it here
 * already in canonical form (sorted, encoded, "name=" even without a value)
 * and the URL it sends and the string it signs are the same text.
 *
 * The XML scanner looks for literal "<Tag>" and "</Tag>" in order. S3 answers
 * carry attributes only on the root element and never nest an element inside
 * one of the same name, so this finds what the client needs (Code, Message,
 * Key, IsTruncated, NextContinuationToken, Error) without a parser library.
 * Entities are decoded afterwards; malformed ones make the text invalid.
 */
#include "stor_s3_text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shared by keys and prefixes; a prefix may end with '/', a key may not. */
static ip_status check_name(const char *key, bool is_prefix, const char **why)
{
    const char *reason = NULL;
    size_t len = key ? strlen(key) : 0;

    if (len == 0)
        reason = "key is empty";
    else if (len > STOR_KEY_MAX)
        reason = "key is longer than 1024 bytes";
    else if (key[0] == '/')
        reason = "key starts with '/'";
    else if (strstr(key, "..") != NULL)
        reason = "key contains '..'";
    else if (strstr(key, "//") != NULL || (!is_prefix && key[len - 1] == '/'))
        reason = "key has an empty path segment";
    else if (strcmp(key, ".") == 0 || strncmp(key, "./", 2) == 0 || strstr(key, "/./") ||
             (len >= 2 && strcmp(key + len - 2, "/.") == 0))
        reason = "key has a '.' path segment";
    else {
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)key[i];
            if (c < 0x20 || c > 0x7e) {
                reason = "key has a non-printable or non-ASCII byte";
                break;
            }
        }
    }
    if (why)
        *why = reason;
    return reason ? IP_INVALID_ARGUMENT : IP_OK;
}

ip_status stor_key_check(const char *key, const char **why)
{
    return check_name(key, false, why);
}

ip_status stor_prefix_check(const char *prefix, const char **why)
{
    return check_name(prefix, true, why);
}

bool stor_header_value_ok(const char *v, size_t max)
{
    if (!v)
        return true;
    size_t len = strlen(v);
    if (len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c > 0x7e)
            return false;
    }
    return true;
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

char *stor_uri_encode(const char *in, size_t len, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    char *p = out;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p = '\0';
    return out;
}

typedef struct enc_pair {
    char *name;
    char *value;
} enc_pair;

static int enc_pair_cmp(const void *a, const void *b)
{
    const enc_pair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

char *stor_canonical_query(stor_query_param *params, size_t n)
{
    char *out = NULL;
    enc_pair *pairs = calloc(n ? n : 1, sizeof *pairs);
    if (!pairs)
        return NULL;

    size_t total = 1;
    for (size_t i = 0; i < n; i++) {
        const char *v = params[i].value ? params[i].value : "";
        pairs[i].name = stor_uri_encode(params[i].name, strlen(params[i].name), false);
        pairs[i].value = stor_uri_encode(v, strlen(v), false);
        if (!pairs[i].name || !pairs[i].value)
            goto done;
        total += strlen(pairs[i].name) + strlen(pairs[i].value) + 2;
    }
    qsort(pairs, n, sizeof *pairs, enc_pair_cmp);

    out = malloc(total);
    if (!out)
        goto done;
    char *p = out;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = '&';
        size_t ln = strlen(pairs[i].name), lv = strlen(pairs[i].value);
        memcpy(p, pairs[i].name, ln);
        p += ln;
        *p++ = '=';
        memcpy(p, pairs[i].value, lv);
        p += lv;
    }
    *p = '\0';

done:
    for (size_t i = 0; i < n; i++) {
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
    return out;
}

char *stor_xml_escape(const char *in)
{
    size_t len = strlen(in), extra = 0;
    for (size_t i = 0; i < len; i++) {
        switch (in[i]) {
        case '&':
            extra += 4;
            break; /* &amp; */
        case '<':
        case '>':
            extra += 3;
            break; /* &lt; &gt; */
        case '"':
        case '\'':
            extra += 5;
            break; /* &quot; &apos; */
        default:
            break;
        }
    }
    char *out = malloc(len + extra + 1);
    if (!out)
        return NULL;
    char *p = out;
    for (size_t i = 0; i < len; i++) {
        const char *rep = NULL;
        switch (in[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        default:
            break;
        }
        if (rep) {
            size_t rl = strlen(rep);
            memcpy(p, rep, rl);
            p += rl;
        } else {
            *p++ = in[i];
        }
    }
    *p = '\0';
    return out;
}

/* memmem bounded by `end`, for a NUL-terminated needle. */
static const char *find(const char *from, const char *end, const char *needle)
{
    size_t nl = strlen(needle);
    if (from >= end || (size_t)(end - from) < nl)
        return NULL;
    return memmem(from, (size_t)(end - from), needle, nl);
}

bool stor_xml_next(const char **pos, const char *end, const char *tag, const char **inner,
                   size_t *inner_len)
{
    char open[80], empty[80], close[80];
    if (snprintf(open, sizeof open, "<%s>", tag) >= (int)sizeof open ||
        snprintf(empty, sizeof empty, "<%s/>", tag) >= (int)sizeof empty ||
        snprintf(close, sizeof close, "</%s>", tag) >= (int)sizeof close)
        return false;

    const char *o = find(*pos, end, open);
    const char *e = find(*pos, end, empty);
    if (e && (!o || e < o)) {
        *inner = e;
        *inner_len = 0;
        *pos = e + strlen(empty);
        return true;
    }
    if (!o)
        return false;
    const char *start = o + strlen(open);
    const char *c = find(start, end, close);
    if (!c)
        return false;
    *inner = start;
    *inner_len = (size_t)(c - start);
    *pos = c + strlen(close);
    return true;
}

/* Writes code point `cp` as UTF-8; returns the number of bytes (0 if invalid). */
static size_t utf8_put(uint32_t cp, char out[4])
{
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes one entity starting at raw[i] == '&'. Returns the bytes consumed
 * (0 when malformed) and the decoded bytes in out/outn. */
static size_t entity(const char *raw, size_t len, size_t i, char out[4], size_t *outn)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};

    size_t j = i + 1;
    while (j < len && raw[j] != ';' && j - i <= 12)
        j++;
    if (j >= len || raw[j] != ';')
        return 0;
    const char *name = raw + i + 1;
    size_t nl = j - i - 1;
    if (nl >= 2 && name[0] == '#') {
        uint32_t cp = 0;
        bool hexa = name[1] == 'x' || name[1] == 'X';
        size_t k = hexa ? 2 : 1;
        if (k >= nl)
            return 0;
        for (; k < nl; k++) {
            char c = name[k];
            uint32_t d;
            if (c >= '0' && c <= '9')
                d = (uint32_t)(c - '0');
            else if (hexa && c >= 'a' && c <= 'f')
                d = (uint32_t)(c - 'a' + 10);
            else if (hexa && c >= 'A' && c <= 'F')
                d = (uint32_t)(c - 'A' + 10);
            else
                return 0;
            cp = cp * (hexa ? 16 : 10) + d;
            if (cp > 0x10FFFF)
                return 0;
        }
        *outn = utf8_put(cp, out);
        return *outn ? j - i + 1 : 0;
    }
    for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
        if (strlen(named[k].name) == nl && memcmp(named[k].name, name, nl) == 0) {
            out[0] = named[k].c;
            *outn = 1;
            return j - i + 1;
        }
    }
    return 0;
}

/* Decodes into out (capacity outlen > 0). Returns the decoded length, or
 * (size_t)-1 when malformed; *truncated tells whether it did not fit. */
static size_t xml_decode(const char *raw, size_t len, char *out, size_t outlen, bool *truncated)
{
    size_t n = 0;
    *truncated = false;
    for (size_t i = 0; i < len;) {
        char buf[4];
        size_t bn;
        if (raw[i] == '&') {
            size_t used = entity(raw, len, i, buf, &bn);
            if (!used)
                return (size_t)-1;
            i += used;
        } else if (raw[i] == '<') {
            return (size_t)-1; /* markup inside text (CDATA is not used by S3) */
        } else {
            buf[0] = raw[i++];
            bn = 1;
        }
        if (n + bn >= outlen) {
            *truncated = true;
            break;
        }
        memcpy(out + n, buf, bn);
        n += bn;
    }
    out[n] = '\0';
    return n;
}

bool stor_xml_text(const char *raw, size_t len, char *out, size_t outlen)
{
    if (outlen == 0)
        return false;
    bool trunc;
    size_t n = xml_decode(raw, len, out, outlen, &trunc);
    if (n == (size_t)-1) {
        out[0] = '\0';
        return false;
    }
    return !trunc;
}

char *stor_xml_text_dup(const char *raw, size_t len)
{
    char *out = malloc(len + 1); /* decoding never grows the text */
    if (!out)
        return NULL;
    if (!stor_xml_text(raw, len, out, len + 1)) {
        free(out);
        return NULL;
    }
    return out;
}

bool stor_xml_error_parse(const char *xml, size_t len, char *code, size_t codelen, char *msg,
                          size_t msglen)
{
    const char *end = xml + len, *pos = xml, *inner;
    size_t il;
    if (codelen)
        code[0] = '\0';
    if (msglen)
        msg[0] = '\0';
    if (!xml || len == 0)
        return false;

    /* Narrow to the <Error> element when there is one. */
    if (stor_xml_next(&pos, end, "Error", &inner, &il)) {
        xml = inner;
        end = inner + il;
    }
    pos = xml;
    bool have_code = false;
    if (codelen && stor_xml_next(&pos, end, "Code", &inner, &il)) {
        stor_xml_text(inner, il, code, codelen);
        have_code = code[0] != '\0';
    }
    pos = xml;
    if (msglen && stor_xml_next(&pos, end, "Message", &inner, &il))
        stor_xml_text(inner, il, msg, msglen);
    return have_code;
}

char *stor_xml_delete_body(const char *const *keys, size_t n, size_t *len_out)
{
    static const char head[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                               "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                               "<Quiet>true</Quiet>";
    static const char tail[] = "</Delete>";
    static const char obj_open[] = "<Object><Key>";
    static const char obj_close[] = "</Key></Object>";

    size_t cap = sizeof head + sizeof tail;
    for (size_t i = 0; i < n; i++)
        cap += sizeof obj_open + sizeof obj_close + strlen(keys[i]) * 6;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    char *p = out;
    memcpy(p, head, sizeof head - 1);
    p += sizeof head - 1;
    for (size_t i = 0; i < n; i++) {
        char *esc = stor_xml_escape(keys[i]);
        if (!esc) {
            free(out);
            return NULL;
        }
        size_t el = strlen(esc);
        memcpy(p, obj_open, sizeof obj_open - 1);
        p += sizeof obj_open - 1;
        memcpy(p, esc, el);
        p += el;
        memcpy(p, obj_close, sizeof obj_close - 1);
        p += sizeof obj_close - 1;
        free(esc);
    }
    memcpy(p, tail, sizeof tail - 1);
    p += sizeof tail - 1;
    *p = '\0';
    *len_out = (size_t)(p - out);
    return out;
}

ip_status stor_xml_list_parse(const char *xml, size_t len, char ***keys, size_t *n, char **next)
{
    const char *pos = xml, *end = xml + len, *inner, *v;
    size_t il, vl, cap = 0;
    *keys = NULL;
    *n = 0;
    *next = NULL;
    while (stor_xml_next(&pos, end, "Contents", &inner, &il)) {
        const char *p2 = inner;
        if (!stor_xml_next(&p2, inner + il, "Key", &v, &vl))
            continue;
        char *k = stor_xml_text_dup(v, vl);
        if (!k)
            goto bad;
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **nk = realloc(*keys, nc * sizeof *nk);
            if (!nk) {
                free(k);
                goto bad;
            }
            *keys = nk;
            cap = nc;
        }
        (*keys)[(*n)++] = k;
    }
    pos = xml;
    char trunc[16] = "";
    if (stor_xml_next(&pos, end, "IsTruncated", &v, &vl))
        stor_xml_text(v, vl, trunc, sizeof trunc);
    if (strcmp(trunc, "true") == 0) {
        pos = xml;
        if (!stor_xml_next(&pos, end, "NextContinuationToken", &v, &vl) || vl == 0)
            goto bad;
        *next = stor_xml_text_dup(v, vl);
        if (!*next)
            goto bad;
    }
    return IP_OK;
bad:
    for (size_t i = 0; i < *n; i++)
        free((*keys)[i]);
    free(*keys);
    *keys = NULL;
    *n = 0;
    return IP_INVALID_ARGUMENT;
}

size_t stor_xml_delete_result(const char *xml, size_t len, char *key, size_t keylen, char *code,
                              size_t codelen, char *msg, size_t msglen)
{
    const char *pos = xml, *end = xml + len, *inner;
    size_t il, failed = 0;
    if (keylen)
        key[0] = '\0';
    if (codelen)
        code[0] = '\0';
    if (msglen)
        msg[0] = '\0';
    while (stor_xml_next(&pos, end, "Error", &inner, &il)) {
        if (failed++ == 0) {
            const char *p2 = inner, *v;
            size_t vl;
            if (keylen && stor_xml_next(&p2, inner + il, "Key", &v, &vl))
                stor_xml_text(v, vl, key, keylen);
            stor_xml_error_parse(inner, il, code, codelen, msg, msglen);
        }
    }
    return failed;
}
