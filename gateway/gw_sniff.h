/* gw_sniff.h — whether an upload is an image the service accepts, in one call.
 *
 * gw_image_check() runs the admission check (ip_admit.h: the type from the
 * magic numbers, never the name or the Content-Type header, then the walk of
 * its container against the limits), then asks libvips for the header only
 * (no pixels are decoded) with the loader checked against the admitted type
 * (ip_vips_admit.h). A file of no accepted type (SVG, HTML, text, PDF, empty)
 * is 415 "unsupported_type"; a refused container is 422 with ip_admit's
 * reason; a header that does not read is 422 "unreadable"; more pixels than
 * the limit is 422 "pixel_limit". Needs VIPS_INIT and ip_vips_restrict() done
 * once by the process.
 */
#ifndef GW_SNIFF_H
#define GW_SNIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_admit.h"
#include "ip_status.h"

typedef struct gw_img_verdict {
    unsigned status;    /* 0 = accepted, 415 or 422 */
    const char *reason; /* "unsupported_type", "pixel_limit", "unreadable", or ip_admit's */
    char detail[256];
    const char *mime; /* accepted: "image/jpeg", ... */
    int width, height;
} gw_img_verdict;

/* Admission (ip_admit_check with lim) then libvips's header read with the
 * loader checked against the type (ip_vips_loader_is); width*height is checked
 * against lim->pixels. true = accepted. Thread-safe; `data` is borrowed. */
bool gw_image_check(const void *data, size_t len, const ip_admit_limits *lim, gw_img_verdict *v);

#endif
