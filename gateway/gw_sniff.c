/* gw_sniff.c — the upload's admission: ip_admit_check, then a header-only
 * libvips read through the one loader allowed for the type.
 *
 * libvips keeps its error text in a process-wide buffer; it is read and
 * cleared right away, and only used for the problem detail, so a message from
 * another thread at worst makes the detail less precise, never wrong about
 * the status.
 */
#include "gw_sniff.h"

#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

#include "ip_vips_admit.h"

typedef struct gw_img_header {
    int width, height;
} gw_img_header;

static bool refuse(gw_img_verdict *v, unsigned status, const char *reason, const char *detail)
{
    v->status = status;
    v->reason = reason;
    snprintf(v->detail, sizeof v->detail, "%s", detail);
    return false;
}

/* libvips's error text on one line, without quotes, then cleared. */
static void vips_reason(char *msg, size_t n)
{
    snprintf(msg, n, "%s", vips_error_buffer());
    vips_error_clear();
    for (char *c = msg; *c; c++)
        if (*c == '\n' || *c == '"' || (unsigned char)*c < 0x20)
            *c = ' ';
}

/* The header read alone, by the one loader allowed for `type` (checked before
 * libvips reads anything). */
static ip_status read_header(const void *data, size_t len, ip_img_type type, int64_t pixel_limit,
                             gw_img_header *out, char *detail, size_t dlen)
{
    memset(out, 0, sizeof *out);
    const char *type_name = vips_foreign_find_load_buffer(data, len);
    const char *nick = type_name ? vips_nickname_find(g_type_from_name(type_name)) : NULL;
    if (!nick) {
        vips_error_clear();
        snprintf(detail, dlen, "the image header cannot be read: no decoder recognises the data");
        return IP_INVALID_ARGUMENT;
    }
    if (!ip_vips_loader_is(type, nick)) {
        snprintf(detail, dlen, "the file starts like a %s but libvips reads it as something else (%s)",
                 ip_img_mime(type), nick);
        return IP_INVALID_ARGUMENT;
    }
    /* Header only: a lazy image reads the pixels only when asked. */
    VipsImage *img =
        vips_image_new_from_buffer(data, len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!img) {
        char msg[160];
        vips_reason(msg, sizeof msg);
        snprintf(detail, dlen, "the image header cannot be read (%s)", msg);
        return IP_INVALID_ARGUMENT;
    }
    out->width = vips_image_get_width(img);
    out->height = vips_image_get_height(img);
    g_object_unref(img);
    if (out->width <= 0 || out->height <= 0) {
        snprintf(detail, dlen, "the image header gives no size");
        return IP_INVALID_ARGUMENT;
    }
    int64_t px = (int64_t)out->width * (int64_t)out->height;
    if (pixel_limit > 0 && px > pixel_limit) {
        snprintf(detail, dlen,
                 "the image is %dx%d = %lld pixels, over the limit of %lld; scale it down first",
                 out->width, out->height, (long long)px, (long long)pixel_limit);
        return IP_RESOURCE_EXHAUSTED;
    }
    return IP_OK;
}

bool gw_image_check(const void *data, size_t len, const ip_admit_limits *lim, gw_img_verdict *v)
{
    memset(v, 0, sizeof *v);
    ip_admit_result r;
    if (ip_admit_check(data, len, lim, &r) != IP_OK)
        return refuse(v, r.type == IP_IMG_NONE ? 415 : 422, r.reason, r.detail);
    gw_img_header h;
    char detail[256];
    ip_status st = read_header(data, len, r.type, lim->pixels, &h, detail, sizeof detail);
    if (st != IP_OK)
        return refuse(v, 422, st == IP_RESOURCE_EXHAUSTED ? "pixel_limit" : "unreadable", detail);
    v->mime = ip_img_mime(r.type);
    v->width = h.width;
    v->height = h.height;
    return true;
}
