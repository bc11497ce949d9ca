/* gw_sniff_test.c — magic numbers and header reads on images made by libvips,
 * plus a pixel bomb (a PNG whose IHDR claims 100000 x 100000). */
#include <string.h>
#include <vips/vips.h>

#include "gw_sniff.h"
#include "ip_testing.h"

static uint32_t crc32_png(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void *make(const char *suffix, size_t *len)
{
    VipsImage *img = NULL;
    void *buf = NULL;
    if (vips_black(&img, 40, 30, "bands", 3, NULL))
        return NULL;
    if (vips_image_write_to_buffer(img, suffix, &buf, len, NULL)) {
        vips_error_clear();
        buf = NULL;
    }
    g_object_unref(img);
    return buf;
}

static void test_formats(void)
{
    static const struct {
        const char *suffix;
        gw_img_type t;
    } f[] = {{".jpg", GW_IMG_JPEG}, {".png", GW_IMG_PNG},  {".webp", GW_IMG_WEBP},
             {".gif", GW_IMG_GIF},  {".tif", GW_IMG_TIFF}, {".avif", GW_IMG_AVIF}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        size_t len = 0;
        void *b = make(f[i].suffix, &len);
        if (!b) {
            printf("  (no %s saver in this libvips; skipped)\n", f[i].suffix);
            continue;
        }
        EXPECT(gw_sniff(b, len) == f[i].t);
        gw_img_header h;
        char d[256];
        EXPECT(gw_image_header(b, len, 100000000, &h, d, sizeof d) == IP_OK);
        EXPECT(h.width == 40 && h.height == 30);
        EXPECT(gw_image_header(b, len, 40 * 30 - 1, &h, d, sizeof d) == IP_RESOURCE_EXHAUSTED);
        /* A truncated file: its header may still read (then the processor fails
         * it); it must never crash. */
        gw_image_header(b, len / 3, 100000000, &h, d, sizeof d);
        g_free(b);
    }
}

static void test_not_images(void)
{
    const char *s[] = {"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
                       "<!DOCTYPE html><html>",
                       "hello world",
                       "%PDF-1.4",
                       "",
                       "\xff\xd8",
                       "RIFF1234WAVE"};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        EXPECT(gw_sniff(s[i], strlen(s[i])) == GW_IMG_NONE);
    unsigned char mp4[24] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'm', 'p', '4', '2',
                             0, 0, 0, 0,  'm', 'p', '4', '2', 'i', 's', 'o', 'm'};
    EXPECT(gw_sniff(mp4, sizeof mp4) == GW_IMG_NONE);
    EXPECT(gw_sniff(NULL, 0) == GW_IMG_NONE);
    unsigned char heic[32] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'h', 'e', 'i', 'c',
                              0, 0, 0, 0,  'm', 'i', 'f', '1', 'h', 'e', 'i', 'c'};
    EXPECT(gw_sniff(heic, sizeof heic) == GW_IMG_HEIC);
    unsigned char avif[32] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'm', 'i', 'f', '1',
                              0, 0, 0, 0,  'a', 'v', 'i', 'f', 'm', 'i', 'f', '1'};
    EXPECT(gw_sniff(avif, sizeof avif) == GW_IMG_AVIF);
    gw_img_header h;
    char d[256];
    EXPECT(gw_image_header("\xff\xd8\xff\xe0garbage", 11, 100, &h, d, sizeof d) ==
           IP_INVALID_ARGUMENT);
    EXPECT(strlen(d) > 0);
}

static void test_pixel_bomb(void)
{
    size_t len = 0;
    unsigned char *b = make(".png", &len);
    CHECK(b != NULL);
    /* IHDR: length(4) "IHDR" width(4) height(4) ... crc at 29. */
    unsigned char *ihdr = b + 8;
    uint32_t w = 100000, hh = 100000;
    unsigned char *p = ihdr + 8;
    p[0] = w >> 24, p[1] = w >> 16, p[2] = w >> 8, p[3] = w;
    p[4] = hh >> 24, p[5] = hh >> 16, p[6] = hh >> 8, p[7] = hh;
    uint32_t c = crc32_png(ihdr + 4, 17);
    unsigned char *cp = ihdr + 21;
    cp[0] = c >> 24, cp[1] = c >> 16, cp[2] = c >> 8, cp[3] = c;
    gw_img_header h;
    char d[256];
    EXPECT(gw_sniff(b, len) == GW_IMG_PNG);
    EXPECT(gw_image_header(b, len, 100000000, &h, d, sizeof d) == IP_RESOURCE_EXHAUSTED);
    EXPECT(strstr(d, "100000x100000") != NULL);
    g_free(b);
}

static const ip_test_case tests[] = {
    IP_TEST(formats),
    IP_TEST(not_images),
    IP_TEST(pixel_bomb),
};

/* libvips is started once for every test and shut down after. */
int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0]))
        return 1;
    int rc = ip_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
    vips_shutdown();
    return rc;
}
