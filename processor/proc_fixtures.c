/* proc_fixtures.c — test images made with libvips (see proc_fixtures.h).
 *
 * Every fixture starts from one memory picture (picture()) and is saved with
 * the matching libvips saver; orientation and GPS fixtures set EXIF fields
 * before saving. The EXIF block with GPS is written byte by byte here (a
 * little-endian TIFF structure), because libvips has no API to add a GPS IFD.
 */
#include "proc_fixtures.h"

#include <string.h>
#include <vips/vips.h>

static const char *const names[FX_COUNT] = {
    [FX_JPEG] = "jpeg",
    [FX_JPEG_PROGRESSIVE] = "jpeg_progressive",
    [FX_JPEG_CMYK] = "jpeg_cmyk",
    [FX_PNG8] = "png8",
    [FX_PNG16] = "png16",
    [FX_PNG_PALETTE] = "png_palette",
    [FX_PNG_ALPHA] = "png_alpha",
    [FX_PNG_GREY] = "png_grey",
    [FX_WEBP] = "webp",
    [FX_WEBP_ALPHA] = "webp_alpha",
    [FX_GIF] = "gif",
    [FX_AVIF] = "avif",
    [FX_HEIC] = "heic",
    [FX_TIFF] = "tiff",
};

const char *proc_fixture_name(proc_fixture_kind k)
{
    return (unsigned)k < FX_COUNT ? names[k] : "unknown";
}

bool proc_fixture_has_alpha(proc_fixture_kind k)
{
    return k == FX_PNG_ALPHA || k == FX_WEBP_ALPHA;
}

bool proc_fixture_is_red(const unsigned char *px)
{
    return px[0] > 170 && px[1] < 90 && px[2] < 90;
}

/* The w x h picture in memory, 3-band sRGB uchar: G rises left to right, B
 * top to bottom, R is 0; the top-left quarter is solid red. Owned. */
static VipsImage *picture(int w, int h)
{
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 8);
    VipsImage *m = NULL;
    if (vips_xyz(&t[0], w, h, NULL) || vips_extract_band(t[0], &t[1], 0, NULL) ||
        vips_extract_band(t[0], &t[2], 1, NULL) ||
        vips_linear1(t[1], &t[3], 200.0 / w, 0, "uchar", TRUE, NULL) ||
        vips_linear1(t[2], &t[4], 200.0 / h, 55, "uchar", TRUE, NULL) ||
        vips_linear1(t[3], &t[5], 0, 0, "uchar", TRUE, NULL))
        goto done;
    VipsImage *bands[3] = {t[5], t[3], t[4]};
    if (vips_bandjoin(bands, &t[6], 3, NULL) ||
        vips_copy(t[6], &t[7], "interpretation", VIPS_INTERPRETATION_sRGB, NULL))
        goto done;
    m = vips_image_copy_memory(t[7]);
    if (!m)
        goto done;
    double red[3] = {255, 0, 0};
    if (vips_draw_rect(m, red, 3, 0, 0, w / 2, h / 2, "fill", TRUE, NULL)) {
        g_object_unref(m);
        m = NULL;
    }
done:
    g_object_unref(ctx);
    return m;
}

/* The picture with an alpha band: opaque, bottom-right quarter transparent. */
static VipsImage *picture_alpha(int w, int h)
{
    VipsImage *pic = picture(w, h);
    if (!pic)
        return NULL;
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 3);
    VipsImage *out = NULL, *a = NULL;
    double zero[1] = {0};
    if (vips_black(&t[0], w, h, NULL) || vips_linear1(t[0], &t[1], 0, 255, "uchar", TRUE, NULL) ||
        !(a = vips_image_copy_memory(t[1])) ||
        vips_draw_rect(a, zero, 1, w / 2, h / 2, w - w / 2, h - h / 2, "fill", TRUE, NULL) ||
        vips_bandjoin2(pic, a, &t[2], NULL) ||
        vips_copy(t[2], &out, "interpretation", VIPS_INTERPRETATION_sRGB, NULL))
        out = NULL;
    if (a)
        g_object_unref(a);
    g_object_unref(pic);
    g_object_unref(ctx);
    return out;
}

int proc_fixture_make(proc_fixture_kind k, int w, int h, void **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    VipsImage *pic = proc_fixture_has_alpha(k) ? picture_alpha(w, h) : picture(w, h);
    if (!pic)
        return -1;
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 4);
    int rc = -1;
    switch (k) {
    case FX_JPEG:
        rc = vips_jpegsave_buffer(pic, buf, len, "Q", 90, NULL);
        break;
    case FX_JPEG_PROGRESSIVE:
        rc = vips_jpegsave_buffer(pic, buf, len, "Q", 90, "interlace", TRUE, NULL);
        break;
    case FX_JPEG_CMYK:
        rc = vips_colourspace(pic, &t[0], VIPS_INTERPRETATION_CMYK, NULL) ||
             vips_jpegsave_buffer(t[0], buf, len, "Q", 90, NULL);
        break;
    case FX_PNG8:
    case FX_PNG_ALPHA:
        rc = vips_pngsave_buffer(pic, buf, len, NULL);
        break;
    case FX_PNG16:
        rc = vips_colourspace(pic, &t[0], VIPS_INTERPRETATION_RGB16, NULL) ||
             vips_pngsave_buffer(t[0], buf, len, NULL);
        break;
    case FX_PNG_PALETTE:
        rc = vips_pngsave_buffer(pic, buf, len, "palette", TRUE, NULL);
        break;
    case FX_PNG_GREY:
        rc = vips_colourspace(pic, &t[0], VIPS_INTERPRETATION_B_W, NULL) ||
             vips_pngsave_buffer(t[0], buf, len, NULL);
        break;
    case FX_WEBP:
    case FX_WEBP_ALPHA:
        rc = vips_webpsave_buffer(pic, buf, len, "Q", 85, NULL);
        break;
    case FX_GIF: {
        /* Two frames stacked with page-height: the picture, then its negative. */
        rc = vips_invert(pic, &t[0], NULL) || vips_cast(t[0], &t[1], VIPS_FORMAT_UCHAR, NULL) ||
             vips_join(pic, t[1], &t[2], VIPS_DIRECTION_VERTICAL, NULL) ||
             vips_copy(t[2], &t[3], NULL);
        if (!rc) {
            vips_image_set_int(t[3], "page-height", h);
            rc = vips_gifsave_buffer(t[3], buf, len, NULL);
        }
        break;
    }
    case FX_AVIF:
        rc = vips_heifsave_buffer(pic, buf, len, "compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1,
                                  "Q", 60, "effort", 0, NULL);
        break;
    case FX_HEIC:
        rc = vips_heifsave_buffer(pic, buf, len, "compression", VIPS_FOREIGN_HEIF_COMPRESSION_HEVC,
                                  "Q", 60, NULL);
        break;
    case FX_TIFF:
        rc = vips_tiffsave_buffer(pic, buf, len, "compression", VIPS_FOREIGN_TIFF_COMPRESSION_LZW,
                                  NULL);
        break;
    default:
        break;
    }
    g_object_unref(ctx);
    g_object_unref(pic);
    return rc ? -1 : 0;
}

int proc_fixture_oriented_jpeg(int orientation, int w, int h, void **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    VipsImage *pic = picture(w, h);
    if (!pic)
        return -1;
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 3);
    /* The stored picture is the inverse of what `orientation` does on display. */
    int rc = 0;
    switch (orientation) {
    case 2:
        rc = vips_flip(pic, &t[0], VIPS_DIRECTION_HORIZONTAL, NULL);
        break;
    case 3:
        rc = vips_rot(pic, &t[0], VIPS_ANGLE_D180, NULL);
        break;
    case 4:
        rc = vips_flip(pic, &t[0], VIPS_DIRECTION_VERTICAL, NULL);
        break;
    case 5:
        rc = vips_rot(pic, &t[1], VIPS_ANGLE_D90, NULL) ||
             vips_flip(t[1], &t[0], VIPS_DIRECTION_HORIZONTAL, NULL);
        break;
    case 6:
        rc = vips_rot(pic, &t[0], VIPS_ANGLE_D270, NULL);
        break;
    case 7:
        rc = vips_rot(pic, &t[1], VIPS_ANGLE_D90, NULL) ||
             vips_flip(t[1], &t[0], VIPS_DIRECTION_VERTICAL, NULL);
        break;
    case 8:
        rc = vips_rot(pic, &t[0], VIPS_ANGLE_D90, NULL);
        break;
    default:
        rc = vips_copy(pic, &t[0], NULL);
        break;
    }
    if (!rc)
        rc = vips_copy(t[0], &t[2], NULL);
    if (!rc) {
        vips_image_set_int(t[2], VIPS_META_ORIENTATION, orientation);
        rc = vips_jpegsave_buffer(t[2], buf, len, "Q", 90, NULL);
    }
    g_object_unref(ctx);
    g_object_unref(pic);
    return rc ? -1 : 0;
}

/* Little-endian TIFF writers for the EXIF block. */
static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)((v >> 8) & 0xff);
}

static void put32(unsigned char *p, unsigned v)
{
    put16(p, v & 0xffff);
    put16(p + 2, (v >> 16) & 0xffff);
}

static void ifd_entry(unsigned char *p, unsigned tag, unsigned type, unsigned count, unsigned value)
{
    put16(p, tag);
    put16(p + 2, type);
    put32(p + 4, count);
    put32(p + 8, value);
}

/* "Exif\0\0" + TIFF: IFD0 {Orientation=1, GPSInfo}, GPS IFD {VersionID,
 * LatitudeRef N, Latitude 52/31/12.34, LongitudeRef E, Longitude 13/24/56.78}. */
static size_t gps_exif_block(unsigned char out[160])
{
    memset(out, 0, 160);
    memcpy(out, "Exif\0\0", 6);
    unsigned char *tf = out + 6;
    tf[0] = 'I';
    tf[1] = 'I';
    put16(tf + 2, 42);
    put32(tf + 4, 8);
    /* IFD0 at 8: 2 entries -> 2 + 24 + 4 = 30 bytes; GPS IFD at 38. */
    put16(tf + 8, 2);
    ifd_entry(tf + 10, 0x0112, 3, 1, 1);  /* Orientation SHORT 1 */
    ifd_entry(tf + 22, 0x8825, 4, 1, 38); /* GPSInfo LONG -> 38 */
    put32(tf + 34, 0);
    /* GPS IFD at 38: 5 entries -> 2 + 60 + 4 = 66 bytes; data at 104. */
    put16(tf + 38, 5);
    ifd_entry(tf + 40, 0x0000, 1, 4, 0x00000302); /* GPSVersionID 2.3.0.0 */
    ifd_entry(tf + 52, 0x0001, 2, 2, 'N');        /* GPSLatitudeRef "N" */
    ifd_entry(tf + 64, 0x0002, 5, 3, 104);        /* GPSLatitude -> 104 */
    ifd_entry(tf + 76, 0x0003, 2, 2, 'E');        /* GPSLongitudeRef "E" */
    ifd_entry(tf + 88, 0x0004, 5, 3, 128);        /* GPSLongitude -> 128 */
    put32(tf + 100, 0);
    unsigned lat[6] = {52, 1, 31, 1, 1234, 100}, lon[6] = {13, 1, 24, 1, 5678, 100};
    for (int i = 0; i < 6; i++) {
        put32(tf + 104 + 4 * i, lat[i]);
        put32(tf + 128 + 4 * i, lon[i]);
    }
    return 6 + 152;
}

int proc_fixture_gps_jpeg(int w, int h, void **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    VipsImage *pic = picture(w, h);
    if (!pic)
        return -1;
    VipsImage *c = NULL;
    int rc = vips_copy(pic, &c, NULL);
    if (!rc) {
        unsigned char exif[160];
        size_t n = gps_exif_block(exif);
        vips_image_set_blob_copy(c, VIPS_META_EXIF_NAME, exif, n);
        rc = vips_jpegsave_buffer(c, buf, len, "Q", 90, NULL);
    }
    if (c)
        g_object_unref(c);
    g_object_unref(pic);
    return rc ? -1 : 0;
}

int proc_fixture_huge_png(int w, int h, void **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    VipsImage *b = NULL;
    int rc = vips_black(&b, w, h, NULL) ||
             vips_pngsave_buffer(b, buf, len, "bitdepth", 1, "compression", 9, NULL);
    if (b)
        g_object_unref(b);
    return rc ? -1 : 0;
}
