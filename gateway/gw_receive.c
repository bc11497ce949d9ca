/* gw_receive.c — the body of POST /upload, received chunk by chunk.
 *
 * HOW IT WORKS. gw_receive_new reads the headers: multipart/form-data with a
 * boundary makes a streaming parser, an image/<type> body gathers the raw
 * body, anything else is refused (400 without a Content-Type, 415 with
 * another). A Content-Length over the limit (plus room for the multipart
 * framing) is refused at once with 413; otherwise the Content-Length is not
 * trusted for anything: a buffer starts at 64 KiB and doubles as bytes really
 * arrive, so a client announcing 50 MB and sending 10 bytes holds 64 KiB.
 *
 * MEMORY. What is held is charged to the process's budget (ip_budget.h)
 * before it is allocated: the raw body's capacity at each growth here, the
 * multipart file buffer's inside the parser (its charge comes to the receiver
 * with the file). A growth that does not fit refuses the upload with 503
 * "busy" and drops what was held, so many slow uploads cannot take the
 * process's memory. The first refusal sticks; later chunks are dropped. The
 * charge is given back in gw_receive_free, when the request ends.
 */
#include "gw_receive.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_multipart.h"
#include "ip_budget.h"

/* Room for the multipart framing around the file part. */
#define MULTIPART_OVERHEAD (64 * 1024)

struct gw_receive {
    gw_receive_limits lim;
    gw_multipart *mp; /* multipart body; NULL for a raw one */
    bool raw;
    char *body; /* raw body, or the file taken from mp */
    size_t body_len;
    int64_t charged; /* body's share of the memory budget (its capacity) */
    gw_refusal refusal;
};

/* Records the first refusal; later ones are ignored. */
static void refuse(gw_receive *rx, unsigned status, const char *reason, const char *param,
                   const char *detail)
{
    if (rx->refusal.status)
        return;
    rx->refusal.status = status;
    rx->refusal.reason = reason;
    rx->refusal.param = param;
    snprintf(rx->refusal.detail, sizeof rx->refusal.detail, "%s", detail);
}

static void drop_body(gw_receive *rx)
{
    free(rx->body);
    ip_budget_give(rx->charged);
    rx->body = NULL;
    rx->body_len = 0;
    rx->charged = 0;
}

static void refuse_busy(gw_receive *rx)
{
    refuse(rx, 503, "busy", NULL,
           "the gateway is holding too much data at once (uploads and downloads); retry in a "
           "moment");
    drop_body(rx);
    gw_multipart_free(rx->mp);
    rx->mp = NULL;
}

/* Picks the body's kind from its Content-Type. */
static void begin_type(gw_receive *rx, const char *ct)
{
    if (!ct || !*ct) {
        refuse(rx, 400, "bad_request", NULL,
               "send multipart/form-data with a file part, or the image bytes with an image/* "
               "Content-Type");
    } else if (strncasecmp(ct, "multipart/form-data", 19) == 0) {
        char boundary[GW_BOUNDARY_MAX + 1];
        if (gw_multipart_boundary(ct, boundary) != IP_OK) {
            refuse(rx, 400, "bad_request", NULL,
                   "the multipart/form-data Content-Type has no valid boundary parameter");
            return;
        }
        gw_mp_limits lim = {.max_file_bytes = rx->lim.max_bytes};
        rx->mp = gw_multipart_new(boundary, &lim);
        if (!rx->mp)
            refuse(rx, 503, "unavailable", NULL, "out of memory; try again later");
    } else if (strncasecmp(ct, "image/", 6) == 0) {
        rx->raw = true;
    } else {
        char detail[256];
        snprintf(detail, sizeof detail,
                 "Content-Type %.60s cannot be an upload: send multipart/form-data with a file "
                 "part, or the image bytes with an image/* Content-Type",
                 ct);
        refuse(rx, 415, "unsupported_type", NULL, detail);
    }
}

/* Refuses a Content-Length over the limit (the only use of it). */
static void begin_length(gw_receive *rx, const char *cl)
{
    if (!cl || rx->refusal.status)
        return;
    char *end;
    size_t max = rx->lim.max_bytes;
    unsigned long long n = strtoull(cl, &end, 10);
    if (*end != '\0')
        return;
    if (n > (rx->raw ? max : max + MULTIPART_OVERHEAD)) {
        char detail[160];
        snprintf(detail, sizeof detail, "the body is %llu bytes; uploads are limited to %zu bytes",
                 n, max);
        refuse(rx, 413, "too_large", NULL, detail);
    }
}

gw_receive *gw_receive_new(const gw_receive_limits *lim, const char *content_type,
                           const char *content_length)
{
    gw_receive *rx = calloc(1, sizeof *rx);
    if (!rx)
        return NULL;
    rx->lim = *lim;
    begin_type(rx, content_type);
    begin_length(rx, content_length);
    return rx;
}

void gw_receive_free(gw_receive *rx)
{
    if (!rx)
        return;
    gw_multipart_free(rx->mp);
    drop_body(rx);
    free(rx);
}

const gw_refusal *gw_receive_refusal(const gw_receive *rx)
{
    return rx->refusal.status ? &rx->refusal : NULL;
}

/* Appends to the raw body, growing it by doubling from 64 KiB up to the
 * limit; each growth is charged before it is made. */
static void feed_raw(gw_receive *rx, const char *data, size_t n)
{
    size_t max = rx->lim.max_bytes, cap = (size_t)rx->charged;
    if (n > max - rx->body_len) {
        char d[160];
        snprintf(d, sizeof d, "the body is larger than the upload limit of %zu bytes", max);
        refuse(rx, 413, "too_large", NULL, d);
        drop_body(rx);
        return;
    }
    if (rx->body_len + n > cap) {
        size_t ncap = cap ? cap : 64 * 1024;
        while (ncap < rx->body_len + n)
            ncap *= 2;
        if (ncap > max)
            ncap = max;
        if (!ip_budget_try((int64_t)(ncap - cap))) {
            refuse_busy(rx);
            return;
        }
        char *nb = realloc(rx->body, ncap);
        if (!nb) {
            ip_budget_give((int64_t)(ncap - cap));
            refuse_busy(rx);
            return;
        }
        rx->body = nb;
        rx->charged = (int64_t)ncap;
    }
    memcpy(rx->body + rx->body_len, data, n);
    rx->body_len += n;
}

void gw_receive_feed(gw_receive *rx, const char *data, size_t n)
{
    if (rx->refusal.status)
        return;
    if (!rx->mp) {
        feed_raw(rx, data, n);
        return;
    }
    gw_mp_result r = gw_multipart_feed(rx->mp, data, n);
    if (r == GW_MP_TOO_LARGE) {
        char d[160];
        snprintf(d, sizeof d, "the file is larger than the upload limit of %zu bytes",
                 rx->lim.max_bytes);
        refuse(rx, 413, "too_large", NULL, d);
    } else if (r == GW_MP_BUSY) {
        refuse_busy(rx);
    } else if (r == GW_MP_BAD) {
        refuse(rx, 400, "bad_request", NULL, gw_multipart_error(rx->mp));
    }
}

const gw_refusal *gw_receive_finish(gw_receive *rx, gw_received *out)
{
    memset(out, 0, sizeof *out);
    out->filename = "";
    if (rx->mp && !rx->refusal.status) {
        if (gw_multipart_finish(rx->mp) != GW_MP_OK)
            refuse(rx, 400, "bad_request", NULL, gw_multipart_error(rx->mp));
        else if (!gw_multipart_has_file(rx->mp))
            refuse(rx, 400, "bad_request", "file",
                   "the form has no part named file: send the image as the file field");
        else {
            out->ops = gw_multipart_ops(rx->mp);
            out->on_duplicate = gw_multipart_on_duplicate(rx->mp);
            out->filename = gw_multipart_filename(rx->mp);
            drop_body(rx);
            rx->body = gw_multipart_take_file_charged(rx->mp, &rx->body_len, &rx->charged);
        }
    }
    if (!rx->refusal.status && (!rx->body || rx->body_len == 0))
        refuse(rx, 400, "bad_request", "file",
               rx->mp ? "the file part is empty (0 bytes)"
                      : "the body is empty: send the image bytes");
    if (rx->refusal.status)
        return &rx->refusal;
    out->data = rx->body;
    out->len = rx->body_len;
    return NULL;
}
