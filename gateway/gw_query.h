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

typedef struct gw_kv {
    const char *key;
    const char *value; /* "" for a key without '=' */
} gw_kv;

/* Variant/op bits, in canonical order. */
enum { GW_OP_THUMBNAIL = 1, GW_OP_RESIZED = 2, GW_OP_WATERMARKED = 4, GW_OP_ALL = 7 };
extern const char *const gw_op_names[3]; /* "thumbnail", "resized", "watermarked" */

typedef struct gw_list_query {
    bool has_cursor;
    int64_t last_created_at_us;
    char last_id[37];
    char mode[16]; /* "" = none */
    int limit;     /* 1..100, default 24 */
} gw_list_query;

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

/* Parses `ops` ("thumbnail,resized"): a mask of GW_OP_*; duplicates allowed,
 * empty items and unknown names are errors. */
ip_status gw_ops_parse(const char *s, unsigned *mask, char *detail, size_t dlen);

/* GET /images: last_created_at, last_id (both or neither), mode, limit. */
ip_status gw_query_list(const gw_kv *kv, size_t n, gw_list_query *out, const char **param,
                        char *detail, size_t dlen);

/* GET /image/{id}: variant = thumbnail|resized|watermarked|original; *variant
 * is NULL when absent, else a static name. */
ip_status gw_query_variant(const gw_kv *kv, size_t n, const char **variant, const char **param,
                           char *detail, size_t dlen);

/* GET /events: id (repeatable, each may be a comma list of UUIDs). */
ip_status gw_query_events(const gw_kv *kv, size_t n, gw_events_query *out, const char **param,
                          char *detail, size_t dlen);

/* POST /upload: ops from the query (NULL when absent). */
ip_status gw_query_upload(const gw_kv *kv, size_t n, const char **ops, const char **param,
                          char *detail, size_t dlen);

#endif
