/* gw_receive.h — receiving the body of POST /upload as it arrives.
 *
 * A receiver is made from the request's headers (gw_receive_new): a
 * multipart/form-data body feeds the streaming parser (gw_multipart.h), an
 * image/<type> body is gathered raw. Limits hold at every byte: the upload limit
 * (413), and the process's memory budget (ip_budget.h), charged with each
 * buffer's capacity as it grows (503 "busy"). The first problem found becomes the receiver's
 * refusal; from then on the rest of the body is read and dropped. A refusal known from the headers
 * alone (no usable Content-Type, a Content-Length over the limit) is there right after
 * gw_receive_new, so the request is answered before any body byte is read. gw_receive_finish ends
 * the body and hands out the file.
 */
#ifndef GW_RECEIVE_H
#define GW_RECEIVE_H

#include <stddef.h>
#include <stdint.h>

typedef struct gw_receive gw_receive;

/* Why an upload is refused, as its answer says it. */
typedef struct gw_refusal {
    unsigned status;    /* 400, 413, 415, 422, 503 */
    const char *reason; /* metrics label: bad_request, too_large, unsupported_type, ... */
    const char *param;  /* the parameter or part at fault, or NULL */
    const char *type;   /* the problem's type URI; NULL: "about:blank" */
    char detail[256];   /* a sentence for the problem's detail */
} gw_refusal;

typedef struct gw_receive_limits {
    size_t max_bytes; /* IP_UPLOAD_MAX_BYTES: the file (or raw body) at most */
} gw_receive_limits;

/* The received upload. Borrowed from the receiver (lives until gw_receive_free). */
typedef struct gw_received {
    const char *data;         /* the file's bytes */
    size_t len;               /* > 0 */
    const char *filename;     /* sanitised; "" for a raw body */
    const char *ops;          /* the form's ops field, or NULL */
    const char *on_duplicate; /* the form's on_duplicate field, or NULL */
} gw_received;

/* A receiver for a body with these headers (either may be NULL). Owned
 * (gw_receive_free); NULL only when out of memory. */
gw_receive *gw_receive_new(const gw_receive_limits *lim, const char *content_type,
                           const char *content_length);
/* Frees, and gives back the receiver's charge on the memory budget. NULL does nothing. */
void gw_receive_free(gw_receive *rx);

/* The refusal so far, or NULL while all is well. Borrowed. */
const gw_refusal *gw_receive_refusal(const gw_receive *rx);

/* Takes the next `n` body bytes (borrowed). After a refusal it does nothing. */
void gw_receive_feed(gw_receive *rx, const char *data, size_t n);

/* Ends the body. NULL with *out filled, or the refusal (400: a truncated
 * multipart body, no `file` part, an empty file or body). */
const gw_refusal *gw_receive_finish(gw_receive *rx, gw_received *out);

#endif
