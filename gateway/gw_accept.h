/* gw_accept.h — which stored file of a variant GET /image/{id} serves, by
 * the request's Accept header (RFC 9110, section 12.5.1).
 *
 * The header is a comma list of media ranges ("image/webp", "image/\*",
 * "*\/\*"), each with optional parameters and a weight ";q=0.8" (0 to 1, three
 * decimals; absent = 1). Type, subtype and parameter names are
 * case-insensitive; spaces and tabs may surround commas, semicolons and '=';
 * empty list elements are allowed; a parameter value may be a quoted string
 * (commas and semicolons inside it do not split). A range that does not
 * parse (no '/', characters outside the token set, a bad weight, a weight
 * given twice) is skipped, the others still count.
 *
 * A file's weight is that of the most specific range matching its media
 * type: "image/webp" before "image/\*" before "*\/\*". A range with parameters
 * other than q is more specific still and matches only a representation
 * with those parameters; the stored files have none, so it matches none of
 * them (RFC 9110's example: "text/plain;format=flowed" does not weigh
 * text/plain).
 *
 * THE CHOICE. WebP and AVIF are served only to a client that names them:
 * a wildcard ("image/\*", "*\/\*") makes the primary file (JPEG or PNG, which
 * every client decodes) acceptable but never a WebP or AVIF one, because an
 * old client that sends "*\/\*" may not decode them. Among the files with
 * weight > 0 the highest weight wins, ties by ip_format_def.preference (AVIF,
 * then WebP, then the primary). Without an Accept header, or when no file is
 * acceptable, the primary is served (a 406 would break clients that worked
 * before WebP and AVIF existed).
 *
 * BOUNDS. The work is bounded by GW_ACCEPT_MAX_BYTES of header and
 * GW_ACCEPT_MAX_RANGES ranges: a longer header, or one with more ranges, is
 * treated as absent (the primary), never parsed further. Pure, thread-safe,
 * allocates nothing.
 */
#ifndef GW_ACCEPT_H
#define GW_ACCEPT_H

#include <stdbool.h>
#include <stddef.h>

#include "ip_variants.h"

/* Browsers send about 100 bytes and 6 ranges; the bounds leave room for any
 * real client. */
#define GW_ACCEPT_MAX_BYTES 2048
#define GW_ACCEPT_MAX_RANGES 32

/* One media range: pointers into the parsed text (not NUL-terminated). */
typedef struct gw_accept_range {
    const char *type, *subtype;
    size_t type_len, subtype_len;
    bool has_params; /* parameters other than q */
    int q;           /* weight in thousandths, 0..1000 */
} gw_accept_range;

typedef struct gw_accept {
    size_t n; /* ranges that parsed */
    gw_accept_range r[GW_ACCEPT_MAX_RANGES];
} gw_accept;

/* Parses the field value `value` (NULL: no header) into *out, whose ranges
 * point into `value`. Returns false, with out->n 0, when there is no header
 * or it is over the bounds (longer than GW_ACCEPT_MAX_BYTES, or more than
 * GW_ACCEPT_MAX_RANGES list elements): the caller serves as without one. */
bool gw_accept_parse(const char *value, gw_accept *out);

/* The weight (0..1000) that `a` gives to the media type `content_type`
 * ("image/webp"): the most specific matching range's; 0 when none matches.
 * With `explicit_only`, wildcard ranges do not count. */
int gw_accept_weight(const gw_accept *a, const char *content_type, bool explicit_only);

/* The index in fmts[0..n) of the file to serve for the header `accept`
 * (NULL: none), by the rules above. fmts[i] NULL is a file of a format the
 * table does not know, never chosen. Returns the first primary's index when
 * nothing is acceptable (0 when there is no primary; n must be >= 1). */
size_t gw_accept_choose(const char *accept, const ip_format_def *const *fmts, size_t n);

#endif
