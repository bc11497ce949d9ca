/* ip_pbjson.c — JSON <-> protobuf-c through the descriptors (see ip_pbjson.h).
 *
 * Parsing reads the text with jansson, then walks the JSON object and the
 * message descriptor together: each key names a field (exact name, or the
 * lowerCamelCase form), each value is checked against the field's type and
 * stored. Every piece of memory comes from malloc, exactly as
 * protobuf_c_message_unpack would have made it, so the result (or a half-built
 * message on an error) is released with protobuf_c_message_free_unpacked.
 * Repeated counts are raised one element at a time, so a half-built array is
 * always consistent. Nesting is capped (IP_PBJSON_MAX_DEPTH) so hostile input
 * cannot exhaust the stack; jansson caps the JSON nesting too.
 *
 * Formatting builds a jansson tree field by field in descriptor order and
 * dumps it.
 */
#include "ip_pbjson.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_utf8.h"

#define IP_PBJSON_MAX_DEPTH 32

/* ------------------------------------------------------------ base64 */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *ip_base64_encode(const uint8_t *data, size_t len)
{
    size_t outlen = (len + 2) / 3 * 4;
    char *out = malloc(outlen + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = b64chars[(v >> 18) & 63];
        out[o++] = b64chars[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64chars[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

ip_status ip_base64_decode(const char *text, size_t len, uint8_t **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    while (len > 0 && text[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return IP_INVALID_ARGUMENT;
    uint8_t *buf = malloc(len / 4 * 3 + 3);
    if (buf == NULL)
        return IP_RESOURCE_EXHAUSTED;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64val((unsigned char)text[i]);
        if (v < 0) {
            free(buf);
            return IP_INVALID_ARGUMENT;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out = buf;
    *outlen = o;
    return IP_OK;
}

/* ------------------------------------------------------------ parsing */

typedef struct perr {
    char *buf;
    size_t len;
    ip_status st;
} perr;

__attribute__((format(printf, 3, 4))) static ip_status fail(perr *e, const char *path,
                                                            const char *fmt, ...)
{
    if (e->buf != NULL && e->len > 0) {
        int n = snprintf(e->buf, e->len, "%s%s", path, path[0] ? ": " : "");
        if (n >= 0 && (size_t)n < e->len) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return e->st = IP_INVALID_ARGUMENT;
}

static ip_status oom(perr *e)
{
    if (e->buf != NULL && e->len > 0)
        snprintf(e->buf, e->len, "out of memory");
    return e->st = IP_RESOURCE_EXHAUSTED;
}

/* Compares a proto field name with a JSON key in lowerCamelCase form. */
static bool camel_equal(const char *field, const char *key)
{
    while (*field != '\0' && *key != '\0') {
        if (*field == '_' && field[1] != '\0') {
            field++;
            char up = (*field >= 'a' && *field <= 'z') ? (char)(*field - 32) : *field;
            if (*key != up)
                return false;
        } else if (*field != *key) {
            return false;
        }
        field++;
        key++;
    }
    return *field == '\0' && *key == '\0';
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d,
                                                  const char *key)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
    if (f != NULL)
        return f;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (camel_equal(d->fields[i].name, key))
            return &d->fields[i];
    return NULL;
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

static bool json_to_i64(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0')
            return false;
        *out = x;
        return true;
    }
    return false;
}

static bool json_to_u64(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return false;
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        if (*s == '-')
            return false;
        unsigned long long x = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0')
            return false;
        *out = x;
        return true;
    }
    return false;
}

static ip_status parse_message(const ProtobufCMessageDescriptor *d, const json_t *obj,
                               ProtobufCMessage **out, const char *path, int depth, perr *e);

/* The integer field types: int32/64 (also sint, sfixed) and uint32/64 (also fixed). */
static ip_status parse_integer(const ProtobufCFieldDescriptor *f, const json_t *v, void *dst,
                               const char *path, perr *e)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: {
        int64_t x;
        if (!json_to_i64(v, &x))
            return fail(e, path, "expected an integer");
        if (x < INT32_MIN || x > INT32_MAX)
            return fail(e, path, "out of range for int32");
        int32_t y = (int32_t)x;
        memcpy(dst, &y, sizeof y);
        return IP_OK;
    }
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: {
        uint64_t x;
        if (!json_to_u64(v, &x))
            return fail(e, path, "expected a non-negative integer");
        if (x > UINT32_MAX)
            return fail(e, path, "out of range for uint32");
        uint32_t y = (uint32_t)x;
        memcpy(dst, &y, sizeof y);
        return IP_OK;
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: {
        int64_t x;
        if (!json_to_i64(v, &x))
            return fail(e, path, "expected an integer");
        memcpy(dst, &x, sizeof x);
        return IP_OK;
    }
    default: { /* UINT64, FIXED64 */
        uint64_t x;
        if (!json_to_u64(v, &x))
            return fail(e, path, "expected a non-negative integer");
        memcpy(dst, &x, sizeof x);
        return IP_OK;
    }
    }
}

/* An enum: its value name, or a number. */
static ip_status parse_enum(const ProtobufCFieldDescriptor *f, const json_t *v, void *dst,
                            const char *path, perr *e)
{
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    int32_t x;
    if (json_is_string(v)) {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
        if (ev == NULL)
            return fail(e, path, "no value \"%s\" in %s", json_string_value(v), ed->name);
        x = ev->value;
    } else if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < INT32_MIN || n > INT32_MAX)
            return fail(e, path, "out of range for an enum");
        x = (int32_t)n;
    } else {
        return fail(e, path, "expected an enum name or number");
    }
    memcpy(dst, &x, sizeof x);
    return IP_OK;
}

/* A string (replacing, and freeing, one already at dst). */
static ip_status parse_string(const ProtobufCFieldDescriptor *f, const json_t *v, void *dst,
                              const char *path, perr *e)
{
    if (!json_is_string(v))
        return fail(e, path, "expected a string");
    /* JSON strings may hold NUL (\u0000); protobuf strings cannot. */
    if (strlen(json_string_value(v)) != json_string_length(v))
        return fail(e, path, "string contains NUL");
    char *s = strdup(json_string_value(v));
    if (s == NULL)
        return oom(e);
    char *old;
    memcpy(&old, dst, sizeof old);
    if (old != NULL && old != (char *)f->default_value)
        free(old);
    memcpy(dst, &s, sizeof s);
    return IP_OK;
}

/* Bytes, as base64 text (replacing, and freeing, those already at dst). */
static ip_status parse_bytes(const json_t *v, void *dst, const char *path, perr *e)
{
    if (!json_is_string(v))
        return fail(e, path, "expected base64 text");
    ProtobufCBinaryData b;
    ip_status st = ip_base64_decode(json_string_value(v), json_string_length(v), &b.data, &b.len);
    if (st == IP_RESOURCE_EXHAUSTED)
        return oom(e);
    if (st != IP_OK)
        return fail(e, path, "not valid base64");
    ProtobufCBinaryData old;
    memcpy(&old, dst, sizeof old);
    free(old.data);
    memcpy(dst, &b, sizeof b);
    return IP_OK;
}

/* A nested message, or null for none (replacing, and freeing, one already at dst). */
static ip_status parse_submessage(const ProtobufCFieldDescriptor *f, const json_t *v, void *dst,
                                  const char *path, int depth, perr *e)
{
    ProtobufCMessage *sub = NULL, *old;
    if (!json_is_null(v)) {
        if (!json_is_object(v))
            return fail(e, path, "expected an object");
        ip_status st = parse_message(f->descriptor, v, &sub, path, depth + 1, e);
        if (st != IP_OK)
            return st;
    }
    memcpy(&old, dst, sizeof old);
    if (old != NULL)
        protobuf_c_message_free_unpacked(old, NULL);
    memcpy(dst, &sub, sizeof sub);
    return IP_OK;
}

/* Stores one JSON value `v` of field `f` at `dst` (a scalar slot or array element). */
static ip_status parse_value(const ProtobufCFieldDescriptor *f, const json_t *v, void *dst,
                             const char *path, int depth, perr *e)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return parse_integer(f, v, dst, path, e);
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        if (!json_is_number(v))
            return fail(e, path, "expected a number");
        double x = json_number_value(v);
        if (f->type == PROTOBUF_C_TYPE_FLOAT) {
            float y = (float)x;
            memcpy(dst, &y, sizeof y);
        } else {
            memcpy(dst, &x, sizeof x);
        }
        return IP_OK;
    }
    case PROTOBUF_C_TYPE_BOOL: {
        if (!json_is_boolean(v))
            return fail(e, path, "expected true or false");
        protobuf_c_boolean b = json_is_true(v);
        memcpy(dst, &b, sizeof b);
        return IP_OK;
    }
    case PROTOBUF_C_TYPE_ENUM:
        return parse_enum(f, v, dst, path, e);
    case PROTOBUF_C_TYPE_STRING:
        return parse_string(f, v, dst, path, e);
    case PROTOBUF_C_TYPE_BYTES:
        return parse_bytes(v, dst, path, e);
    case PROTOBUF_C_TYPE_MESSAGE:
        return parse_submessage(f, v, dst, path, depth, e);
    }
    return fail(e, path, "unsupported field type");
}

static ip_status parse_message(const ProtobufCMessageDescriptor *d, const json_t *obj,
                               ProtobufCMessage **out, const char *path, int depth, perr *e)
{
    *out = NULL;
    if (depth > IP_PBJSON_MAX_DEPTH)
        return fail(e, path, "nested too deeply");
    if (!json_is_object(obj))
        return fail(e, path, "expected a JSON object");
    ProtobufCMessage *m = calloc(1, d->sizeof_message);
    if (m == NULL)
        return oom(e);
    protobuf_c_message_init(d, m);
    ip_status st = IP_OK;
    const char *key;
    json_t *v;
    char sub[512];

    json_object_foreach((json_t *)obj, key, v)
    {
        snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", key);
        const ProtobufCFieldDescriptor *f = find_field(d, key);
        if (f == NULL) {
            st = fail(e, path, "unknown field \"%s\" in %s", key, d->name);
            goto out;
        }
        char *base = (char *)m;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (json_is_null(v))
                continue;
            if (!json_is_array(v)) {
                st = fail(e, sub, "expected an array");
                goto out;
            }
            size_t *np = (size_t *)(void *)(base + f->quantifier_offset);
            void **arrp = (void **)(void *)(base + f->offset);
            if (*np != 0) {
                st = fail(e, sub, "field given twice");
                goto out;
            }
            size_t n = json_array_size(v), es = elem_size(f->type);
            if (n == 0)
                continue;
            char *arr = calloc(n, es);
            if (arr == NULL) {
                st = oom(e);
                goto out;
            }
            *arrp = arr;
            for (size_t i = 0; i < n; i++) {
                char ipath[600];
                snprintf(ipath, sizeof ipath, "%s[%zu]", sub, i);
                /* An element cannot be null (a NULL message in a repeated
                 * field would not pack). */
                if (json_is_null(json_array_get(v, i))) {
                    st = fail(e, ipath, "null is not allowed in an array");
                    goto out;
                }
                /* Element slots start zeroed: NULL strings/messages, empty bytes. */
                if ((st = parse_value(f, json_array_get(v, i), arr + i * es, ipath, depth, e)) !=
                    IP_OK)
                    goto out;
                *np = i + 1;
            }
            continue;
        }
        if ((st = parse_value(f, v, base + f->offset, sub, depth, e)) != IP_OK)
            goto out;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t c = f->id;
            memcpy(base + f->quantifier_offset, &c, sizeof c);
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
                   f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
            protobuf_c_boolean has = 1;
            memcpy(base + f->quantifier_offset, &has, sizeof has);
        }
    }
out:
    if (st != IP_OK) {
        protobuf_c_message_free_unpacked(m, NULL);
        return st;
    }
    *out = m;
    return IP_OK;
}

ip_status ip_pbjson_parse(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                          ProtobufCMessage **out, char *errbuf, size_t errlen)
{
    perr e = {.buf = errbuf, .len = errlen, .st = IP_OK};
    *out = NULL;
    if (errbuf != NULL && errlen > 0)
        errbuf[0] = '\0';
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return fail(&e, "", "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                    jerr.text);
    ip_status st = parse_message(desc, root, out, "", 0, &e);
    json_decref(root);
    return st;
}

/* ------------------------------------------------------------ formatting */

static json_t *format_message(const ProtobufCMessage *m, int depth);

/* A copy of s with every byte that is not part of a valid UTF-8 sequence
 * replaced by U+FFFD; owned; NULL when out of memory. */
static char *utf8_sanitize(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1);
    if (out == NULL)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = ip_utf8_seq(u + i, n - i);
        if (len > 0) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

static json_t *format_value(const ProtobufCFieldDescriptor *f, const void *src, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: {
        int32_t x;
        memcpy(&x, src, sizeof x);
        return json_integer(x);
    }
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: {
        uint32_t x;
        memcpy(&x, src, sizeof x);
        return json_integer(x);
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: {
        int64_t x;
        memcpy(&x, src, sizeof x);
        return json_integer(x);
    }
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t x;
        memcpy(&x, src, sizeof x);
        if (x > (uint64_t)LLONG_MAX) {
            char num[32];
            snprintf(num, sizeof num, "%" PRIu64, x);
            return json_string(num);
        }
        return json_integer((json_int_t)x);
    }
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        double x;
        if (f->type == PROTOBUF_C_TYPE_FLOAT) {
            float y;
            memcpy(&y, src, sizeof y);
            x = y;
        } else {
            memcpy(&x, src, sizeof x);
        }
        if (isnan(x))
            return json_string("NaN");
        if (isinf(x))
            return json_string(x > 0 ? "Infinity" : "-Infinity");
        return json_real(x);
    }
    case PROTOBUF_C_TYPE_BOOL: {
        protobuf_c_boolean b;
        memcpy(&b, src, sizeof b);
        return json_boolean(b);
    }
    case PROTOBUF_C_TYPE_ENUM: {
        int32_t x;
        memcpy(&x, src, sizeof x);
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, x);
        return ev != NULL ? json_string(ev->name) : json_integer(x);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s;
        memcpy(&s, src, sizeof s);
        if (s == NULL)
            return json_string("");
        json_t *j = json_string(s);
        if (j != NULL)
            return j;
        /* Not valid UTF-8 (protobuf-c does not check): show it with U+FFFD. */
        char *fixed = utf8_sanitize(s);
        if (fixed == NULL)
            return NULL;
        j = json_string(fixed);
        free(fixed);
        return j;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData b;
        memcpy(&b, src, sizeof b);
        char *t = ip_base64_encode(b.data, b.len);
        if (t == NULL)
            return NULL;
        json_t *j = json_string(t);
        free(t);
        return j;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub;
        memcpy(&sub, src, sizeof sub);
        return sub != NULL ? format_message(sub, depth + 1) : json_null();
    }
    }
    return json_null();
}

static json_t *format_message(const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    json_t *obj = json_object();
    if (obj == NULL || depth > 100)
        return obj;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        json_t *v;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
            uint32_t c;
            memcpy(&c, base + f->quantifier_offset, sizeof c);
            if (c != f->id)
                continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n;
            void *arr;
            memcpy(&n, base + f->quantifier_offset, sizeof n);
            memcpy(&arr, base + f->offset, sizeof arr);
            v = json_array();
            size_t es = elem_size(f->type);
            for (size_t k = 0; v != NULL && k < n; k++)
                json_array_append_new(v, format_value(f, (const char *)arr + k * es, depth));
        } else {
            v = format_value(f, base + f->offset, depth);
        }
        json_object_set_new(obj, f->name, v != NULL ? v : json_null());
    }
    return obj;
}

char *ip_pbjson_format(const ProtobufCMessage *msg, int pretty)
{
    json_t *j = format_message(msg, 0);
    if (j == NULL)
        return NULL;
    char *s = json_dumps(j, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}
