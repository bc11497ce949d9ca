/* gw_multipart.h — a streaming multipart/form-data parser for POST /upload.
 *
 * The body is fed in chunks as it arrives (gw_multipart_feed) and never held
 * whole except for the `file` part, which is the upload itself. Limits are
 * enforced as bytes arrive: file size (-> GW_MP_TOO_LARGE), size of one part's
 * headers and number of parts (-> GW_MP_BAD). A second `file` part, a missing
 * closing boundary or a malformed part header are GW_MP_BAD. Parts other than
 * `file` and `ops` are read and ignored (their size is capped too).
 */
#ifndef GW_MULTIPART_H
#define GW_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_status.h"

#define GW_BOUNDARY_MAX 70 /* RFC 2046 */

typedef enum gw_mp_result {
    GW_MP_OK = 0,    /* so far so good / done */
    GW_MP_BAD,       /* malformed or over a structural limit: 400 */
    GW_MP_TOO_LARGE, /* the file part is over max_file_bytes: 413 */
    GW_MP_BUSY,      /* the file's buffer does not fit the memory budget: 503 */
} gw_mp_result;

typedef struct gw_mp_limits {
    size_t max_file_bytes;   /* the upload limit */
    size_t max_header_bytes; /* one part's header block; default 8 KiB */
    int max_parts;           /* default 8 */
    size_t max_field_bytes;  /* a non-file part; default 4 KiB */
} gw_mp_limits;

typedef struct gw_multipart gw_multipart;

/* Extracts the boundary parameter of a multipart/form-data Content-Type (quoted
 * or not) into out (GW_BOUNDARY_MAX + 1 bytes). IP_INVALID_ARGUMENT when the
 * type is not multipart/form-data or the boundary is missing, empty or too long. */
ip_status gw_multipart_boundary(const char *content_type, char out[GW_BOUNDARY_MAX + 1]);

/* A parser for one body. `boundary` and `lim` are copied. NULL when out of memory. */
gw_multipart *gw_multipart_new(const char *boundary, const gw_mp_limits *lim);
void gw_multipart_free(gw_multipart *mp);

/* Feeds the next `len` bytes (borrowed). After a non-OK result the parser stays
 * failed and further feeds return the same result. */
gw_mp_result gw_multipart_feed(gw_multipart *mp, const char *data, size_t len);
/* Ends the body: GW_MP_BAD when the closing boundary never came. */
gw_mp_result gw_multipart_finish(gw_multipart *mp);

/* A human-readable reason for the last non-OK result ("" when none). Borrowed. */
const char *gw_multipart_error(const gw_multipart *mp);

bool gw_multipart_has_file(const gw_multipart *mp);
/* The file part's bytes: handed over to the caller (free()), *len set; the parser
 * forgets them. NULL when there is no file part (or it was taken). */
char *gw_multipart_take_file(gw_multipart *mp, size_t *len);
/* The same, handing over the file buffer's charge on the memory budget too
 * (ip_budget.h): *charged bytes, which the caller gives back with
 * ip_budget_give when it frees the file (take_file gives it back at once). */
char *gw_multipart_take_file_charged(gw_multipart *mp, size_t *len, int64_t *charged);
/* The file part's filename, sanitised for display (gw_filename_sanitize); ""
 * when none. Borrowed, lives as long as the parser. */
const char *gw_multipart_filename(const gw_multipart *mp);
/* The `ops` field's value, or NULL when the body had none. Borrowed. */
const char *gw_multipart_ops(const gw_multipart *mp);
/* The `on_duplicate` field's value (its first 15 bytes), or NULL when the
 * body had none. Borrowed. */
const char *gw_multipart_on_duplicate(const gw_multipart *mp);

/* Makes a filename safe to display and store: the last path component (after
 * '/' or '\\'), bytes that are not valid UTF-8 replaced by U+FFFD, control
 * characters and quotes dropped, at most 255 bytes (not cutting a character);
 * "", "." and ".." become "upload". Returns an owned string (NULL: no memory). */
char *gw_filename_sanitize(const char *name, size_t len);

#endif
