/* gw_sniff.c — magic numbers and a header-only libvips read.
 *
 * ISO-BMFF files (AVIF, HEIC) are told apart by the `ftyp` box: the major
 * brand, then the compatible brands (an AVIF may carry "mif1" as major brand
 * and "avif" among the compatible ones). libvips keeps its error text in a
 * process-wide buffer; it is read and cleared right away, and only used for the
 * problem detail, so a message from another thread at worst makes the detail
 * less precise, never wrong about the status.
 */
#include "gw_sniff.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

static int brand_kind(const unsigned char *b)
{
    if (!memcmp(b, "avif", 4) || !memcmp(b, "avis", 4))
        return 1;
    if (!memcmp(b, "heic", 4) || !memcmp(b, "heix", 4) || !memcmp(b, "hevc", 4) ||
        !memcmp(b, "hevx", 4) || !memcmp(b, "heim", 4) || !memcmp(b, "heis", 4))
        return 2;
    if (!memcmp(b, "mif1", 4) || !memcmp(b, "msf1", 4))
        return 3;
    return 0;
}

static gw_img_type sniff_ftyp(const unsigned char *p, size_t len)
{
    if (len < 16 || memcmp(p + 4, "ftyp", 4) != 0)
        return GW_IMG_NONE;
    size_t box = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
    if (box < 16 || box > 4096)
        return GW_IMG_NONE;
    if (box > len)
        box = len;
    int major = brand_kind(p + 8);
    if (major == 1)
        return GW_IMG_AVIF;
    if (major == 2)
        return GW_IMG_HEIC;
    bool mif = major == 3, heic = false;
    for (size_t off = 16; off + 4 <= box; off += 4) {
        int k = brand_kind(p + off);
        if (k == 1)
            return GW_IMG_AVIF;
        if (k == 2)
            heic = true;
        if (k == 3)
            mif = true;
    }
    if (heic || mif)
        return GW_IMG_HEIC;
    return GW_IMG_NONE;
}

gw_img_type gw_sniff(const void *data, size_t len)
{
    const unsigned char *p = data;
    if (!p || len < 4)
        return GW_IMG_NONE;
    if (len >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
        return GW_IMG_JPEG;
    if (len >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
        return GW_IMG_PNG;
    if (len >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
        return GW_IMG_WEBP;
    if (len >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6)))
        return GW_IMG_GIF;
    if (!memcmp(p, "II*\0", 4) || !memcmp(p, "MM\0*", 4))
        return GW_IMG_TIFF;
    return sniff_ftyp(p, len);
}

const char *gw_img_mime(gw_img_type t)
{
    switch (t) {
    case GW_IMG_JPEG:
        return "image/jpeg";
    case GW_IMG_PNG:
        return "image/png";
    case GW_IMG_WEBP:
        return "image/webp";
    case GW_IMG_GIF:
        return "image/gif";
    case GW_IMG_AVIF:
        return "image/avif";
    case GW_IMG_HEIC:
        return "image/heic";
    case GW_IMG_TIFF:
        return "image/tiff";
    case GW_IMG_NONE:
    default:
        return NULL;
    }
}

ip_status gw_image_header(const void *data, size_t len, int64_t pixel_limit, gw_img_header *out,
                          char *detail, size_t dlen)
{
    memset(out, 0, sizeof *out);
    const char *loader = vips_foreign_find_load_buffer(data, len);
    if (!loader) {
        vips_error_clear();
        snprintf(detail, dlen, "the image header cannot be read: no decoder recognises the data");
        return IP_INVALID_ARGUMENT;
    }
    snprintf(out->loader, sizeof out->loader, "%s", loader);
    /* Header only: a lazy image reads the pixels only when asked. */
    VipsImage *img =
        vips_image_new_from_buffer(data, len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!img) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s", vips_error_buffer());
        vips_error_clear();
        for (char *c = msg; *c; c++)
            if (*c == '\n' || *c == '"')
                *c = ' ';
        snprintf(detail, dlen, "the image header cannot be read (%s)", msg);
        return IP_INVALID_ARGUMENT;
    }
    out->width = vips_image_get_width(img);
    out->height = vips_image_get_height(img);
    int pages = 1;
    if (vips_image_get_typeof(img, "n-pages"))
        vips_image_get_int(img, "n-pages", &pages);
    g_object_unref(img);
    if (out->width <= 0 || out->height <= 0) {
        snprintf(detail, dlen, "the image header gives no size");
        return IP_INVALID_ARGUMENT;
    }
    int64_t px = (int64_t)out->width * (int64_t)out->height;
    if (px > pixel_limit) {
        snprintf(detail, dlen,
                 "the image is %dx%d = %lld pixels, over the limit of %lld; scale it down first",
                 out->width, out->height, (long long)px, (long long)pixel_limit);
        return IP_RESOURCE_EXHAUSTED;
    }
    (void)pages;
    return IP_OK;
}
