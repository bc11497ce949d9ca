/* gw_jbuf.h — JSON text written straight into one growing buffer.
 *
 * The hot documents (a listing page, an image's info) are written here
 * instead of being built as a jansson tree and dumped: one buffer that
 * doubles when full, up to a bound its owner sets, and no allocation per
 * value. The text is what json_dumps(…, JSON_COMPACT) writes for the same
 * values: no spaces, members in the order written, integers in decimal,
 * strings escaped by jansson's rules (gw_jbuf_str). A writer that runs out
 * of room or memory, or is handed a string jansson would refuse, is marked
 * failed; every later call does nothing, and gw_jbuf_take reports it.
 *
 * Members and elements are separated by the writer: gw_jbuf_key and every
 * value written right after an opening bracket or a key need no comma, any
 * other value gets one. Not thread-safe; one writer per document.
 */
#ifndef GW_JBUF_H
#define GW_JBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gw_jbuf {
    char *p;       /* the text so far, not NUL-terminated until taken */
    size_t len;    /* bytes written */
    size_t cap;    /* bytes allocated (0: nothing yet) */
    size_t first;  /* bytes the first allocation takes */
    size_t max;    /* most bytes the text may take, NUL included */
    bool failed;   /* out of room or memory, or a string that does not encode */
    bool need_sep; /* the next value or key follows another one: write ',' first */
} gw_jbuf;

/* An empty writer whose first allocation is `initial` bytes and whose text
 * may never exceed `max` bytes (initial <= max). Nothing is allocated yet. */
void gw_jbuf_init(gw_jbuf *jb, size_t initial, size_t max);
/* Frees the text (a writer that was taken holds none). */
void gw_jbuf_fini(gw_jbuf *jb);

/* The finished text, NUL-terminated, owned by the caller (free()), and its
 * length in *len; the writer is left empty. NULL when the writer failed. */
char *gw_jbuf_take(gw_jbuf *jb, size_t *len);

/* True when `s` (NUL-terminated) is a string jansson accepts: valid UTF-8,
 * no overlong forms, no surrogate halves, nothing past U+10FFFF. */
bool gw_jbuf_utf8_ok(const char *s);

void gw_jbuf_open_object(gw_jbuf *jb);  /* '{' */
void gw_jbuf_close_object(gw_jbuf *jb); /* '}' */
void gw_jbuf_open_array(gw_jbuf *jb);   /* '[' */
void gw_jbuf_close_array(gw_jbuf *jb);  /* ']' */

/* A member's name and its ':'; `k` is a literal the caller knows to be
 * plain ASCII without anything to escape. The value follows. */
void gw_jbuf_key(gw_jbuf *jb, const char *k);

/* Values. gw_jbuf_str writes `s` as jansson dumps it: '"' and '\\' and the
 * control characters below 0x20 escaped (\b \f \n \r \t, others \u00XX with
 * upper-case hex digits), everything else, '/' and non-ASCII included, as
 * is. It returns false and writes nothing when `s` is NULL or not valid
 * UTF-8 (gw_jbuf_utf8_ok), so the caller can write null or leave the member
 * out, as jansson's json_string would make it. */
bool gw_jbuf_str(gw_jbuf *jb, const char *s);
/* The same for `prefix` followed by `s`, as one string. */
bool gw_jbuf_str2(gw_jbuf *jb, const char *prefix, const char *s);
void gw_jbuf_int(gw_jbuf *jb, int64_t v);
void gw_jbuf_null(gw_jbuf *jb);
void gw_jbuf_bool(gw_jbuf *jb, bool v);

#endif
