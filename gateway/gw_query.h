/* gw_query.h — validation of query parameters and path ids.
 *
 * Parameters arrive as decoded key/value pairs (libmicrohttpd decodes them).
 * Each validator fills a typed result or returns IP_INVALID_ARGUMENT with the
 * parameter's name in *param and a sentence for the problem detail in `detail`,
 * so that the answer is a 400 naming the parameter. Unknown parameters are
 * ignored; a known parameter given twice is an error.
 */
#ifndef GW_QUERY_H
#define GW_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_status.h"
#include "ip_variants.h"

typedef struct gw_kv {
    const char *key;
    const char *value; /* "" for a key without '=' */
} gw_kv;

typedef struct gw_list_query {
    bool has_cursor;
    int64_t last_created_at_us;
    char last_id[37];
    ip_variant_kind mode; /* IP_VARIANT_NONE: every image, url is the listing's default */
    int limit;            /* 1..100, default 24 */
    char sha256[65];      /* sha256=: 64 lowercase hex digits; "" = every image */
} gw_list_query;

/* What an upload whose bytes an image of the same API key already has gets
 * (on_duplicate=): that image (the default), or a new one. */
typedef enum gw_on_duplicate { GW_ON_DUP_EXISTING = 0, GW_ON_DUP_NEW } gw_on_duplicate;

/* What GET /image/{id}?variant=&format= asks for. */
typedef struct gw_variant_choice {
    bool original;               /* variant=original: the uploaded bytes */
    ip_variant_kind kind;        /* a variant by name; IP_VARIANT_NONE: the default one */
    const ip_format_def *format; /* format=: that file of the variant; NULL: by Accept */
} gw_variant_choice;

#define GW_MAX_EVENT_IDS 32

typedef struct gw_events_query {
    int nids;
    char ids[GW_MAX_EVENT_IDS][37];
} gw_events_query;

/* Splits a raw query string ("a=1&b=%20") into decoded pairs, in place: `qs`
 * is modified and the pairs point into it. At most `max` pairs; returns the
 * count, or -1 when there are more or the encoding is bad. (For tests, the fuzz
 * target and any caller without a decoded list.) */
int gw_query_split(char *qs, gw_kv *out, int max);

/* Parses `ops` ("thumbnail,resized", names from ip_variants.h) into a mask of
 * ip_variant_bit(kind); duplicates allowed. An empty text, empty items and
 * unknown names are IP_INVALID_ARGUMENT with a sentence in `detail`. */
ip_status gw_ops_parse(const char *s, unsigned *mask, char *detail, size_t dlen);

/* GET /images: last_created_at, last_id (both or neither), mode, limit,
 * sha256 (64 hex digits, either case; kept lowercase). */
ip_status gw_query_list(const gw_kv *kv, size_t n, gw_list_query *out, const char **param,
                        char *detail, size_t dlen);

/* GET /image/{id}: variant = a variant's name or "original"; absent leaves
 * out->kind IP_VARIANT_NONE and out->original false. format = a format's
 * name from ip_variants.h (jpeg, png, webp, avif); absent leaves out->format
 * NULL. An unknown format, or one given with variant=original (the original
 * has only its uploaded bytes), is IP_INVALID_ARGUMENT naming `format`. */
ip_status gw_query_variant(const gw_kv *kv, size_t n, gw_variant_choice *out, const char **param,
                           char *detail, size_t dlen);

/* GET /events: id (repeatable, each may be a comma list of UUIDs). */
ip_status gw_query_events(const gw_kv *kv, size_t n, gw_events_query *out, const char **param,
                          char *detail, size_t dlen);

/* POST /upload: ops and on_duplicate from the query, unparsed (NULL when
 * absent); each given twice is IP_INVALID_ARGUMENT naming it. */
ip_status gw_query_upload(const gw_kv *kv, size_t n, const char **ops, const char **on_duplicate,
                          const char **param, char *detail, size_t dlen);

/* on_duplicate's value: "existing" or "new"; anything else is
 * IP_INVALID_ARGUMENT with a sentence in `detail`. */
ip_status gw_on_duplicate_parse(const char *s, gw_on_duplicate *out, char *detail, size_t dlen);

#endif
