/* gw_sniff.h — what an upload is, from its bytes alone.
 *
 * gw_sniff() looks at magic numbers only (never the name or the Content-Type
 * header): JPEG, PNG, WebP, GIF, AVIF, HEIC, TIFF. Anything else — SVG, HTML,
 * text, PDF, an empty file — is GW_IMG_NONE (415). gw_image_header() then asks
 * libvips for the header only (no pixels are decoded): an unreadable header, a
 * zero size or more pixels than the limit is refused (422).
 */
#ifndef GW_SNIFF_H
#define GW_SNIFF_H

#include <stddef.h>
#include <stdint.h>

#include "ip_status.h"

typedef enum gw_img_type {
    GW_IMG_NONE = 0,
    GW_IMG_JPEG,
    GW_IMG_PNG,
    GW_IMG_WEBP,
    GW_IMG_GIF,
    GW_IMG_AVIF,
    GW_IMG_HEIC,
    GW_IMG_TIFF,
} gw_img_type;

gw_img_type gw_sniff(const void *data, size_t len);

/* "image/jpeg", ... ; NULL for GW_IMG_NONE. */
const char *gw_img_mime(gw_img_type t);

typedef struct gw_img_header {
    int width, height;
    char loader[48]; /* libvips loader name, e.g. "jpegload_buffer" */
} gw_img_header;

/* Reads the header of `data` (borrowed) with libvips. IP_INVALID_ARGUMENT: the
 * header does not read (detail says why); IP_RESOURCE_EXHAUSTED: width*height
 * is over pixel_limit. Thread-safe; needs VIPS_INIT done once by the process. */
ip_status gw_image_header(const void *data, size_t len, int64_t pixel_limit, gw_img_header *out,
                          char *detail, size_t dlen);

#endif
