/* proc_fixtures.h — test images made with libvips, for the processor's unit
 * and integration tests and its benchmark (no downloaded files).
 *
 * The picture: a green/blue gradient with a solid red block in the top-left
 * quarter, so orientation mistakes show (upright: red at top left only).
 * Alpha fixtures add an alpha band that is opaque except for a fully
 * transparent bottom-right quarter.
 */
#ifndef PROC_FIXTURES_H
#define PROC_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>

typedef enum proc_fixture_kind {
    FX_JPEG = 0,         /* baseline JPEG */
    FX_JPEG_PROGRESSIVE, /* progressive (interlaced) JPEG */
    FX_JPEG_CMYK,        /* 4-band CMYK JPEG */
    FX_PNG8,             /* 8-bit RGB PNG */
    FX_PNG16,            /* 16-bit RGB PNG */
    FX_PNG_PALETTE,      /* 8-bit palette PNG */
    FX_PNG_ALPHA,        /* 8-bit RGBA PNG */
    FX_PNG_GREY,         /* 8-bit greyscale PNG */
    FX_WEBP,             /* lossy WebP */
    FX_WEBP_ALPHA,       /* WebP with alpha */
    FX_GIF,              /* GIF (two frames; the first is the picture) */
    FX_AVIF,             /* AVIF (AV1 in HEIF) */
    FX_HEIC,             /* HEIC (HEVC in HEIF) */
    FX_TIFF,             /* 8-bit RGB TIFF */
    FX_COUNT
} proc_fixture_kind;

const char *proc_fixture_name(proc_fixture_kind k);
/* True when the fixture has a real alpha channel (variants come out as PNG). */
bool proc_fixture_has_alpha(proc_fixture_kind k);

/* Makes fixture `k` of w x h. On success returns 0 and *buf (owned, g_free)
 * and *len; -1 with the libvips error buffer set otherwise. */
int proc_fixture_make(proc_fixture_kind k, int w, int h, void **buf, size_t *len);

/* A baseline JPEG whose picture, turned upright by EXIF `orientation` (1..8),
 * is the w x h fixture picture. */
int proc_fixture_oriented_jpeg(int orientation, int w, int h, void **buf, size_t *len);

/* A baseline JPEG carrying an EXIF block with a GPS position (IFD0 with a
 * GPSInfo pointer, GPSLatitude/GPSLongitude). */
int proc_fixture_gps_jpeg(int w, int h, void **buf, size_t *len);

/* A 1-bit PNG of w x h black pixels: small on disk, huge decoded. */
int proc_fixture_huge_png(int w, int h, void **buf, size_t *len);

/* True when pixel (x, y) of the decoded image is the fixture's red. */
bool proc_fixture_is_red(const unsigned char *px);

#endif
