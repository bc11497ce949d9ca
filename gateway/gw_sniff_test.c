/* gw_sniff_test.c — the upload's one admission call, gw_image_check, on
 * images made by libvips (accepted with their size and type), on files of no
 * accepted type (415), on hostile containers (422 with ip_admit's reason) and
 * on a pixel bomb (a PNG whose IHDR claims 100000 x 100000). libvips is
 * restricted as in the gateway (ip_vips_restrict). */
#include <string.h>
#include <vips/vips.h>
#include <zlib.h>

#include "gw_sniff.h"
#include "ip_testing.h"
#include "ip_vips_admit.h"

static ip_admit_limits limits(int64_t pixels)
{
    ip_admit_limits lim;
    ip_admit_limits_default(&lim);
    lim.pixels = pixels;
    return lim;
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

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
}

static void test_formats(void)
{
    static const struct {
        const char *suffix, *mime;
    } f[] = {{".jpg", "image/jpeg"}, {".png", "image/png"},  {".webp", "image/webp"},
             {".gif", "image/gif"},  {".tif", "image/tiff"}, {".avif", "image/avif"}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        size_t len = 0;
        void *b = make(f[i].suffix, &len);
        if (!b) {
            printf("  (no %s saver in this libvips; skipped)\n", f[i].suffix);
            continue;
        }
        ip_admit_limits lim = limits(100000000);
        gw_img_verdict v;
        EXPECTF(gw_image_check(b, len, &lim, &v), "%s: %u %s %s", f[i].suffix, v.status,
                v.reason ? v.reason : "-", v.detail);
        EXPECT_EQ_INT(v.status, 0);
        EXPECT_EQ_STR(v.mime, f[i].mime);
        EXPECT(v.width == 40 && v.height == 30);
        lim = limits(40 * 30 - 1);
        EXPECT(!gw_image_check(b, len, &lim, &v));
        EXPECT_EQ_INT(v.status, 422);
        EXPECT_EQ_STR(v.reason, "pixel_limit");
        /* A truncated file: refused or accepted, never a crash. */
        lim = limits(100000000);
        (void)gw_image_check(b, len / 3, &lim, &v);
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
                       "RIFF1234WAVE",
                       "P6\n2 2\n255\n"};
    ip_admit_limits lim = limits(100000000);
    gw_img_verdict v;
    for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
        EXPECT(!gw_image_check(s[i], strlen(s[i]), &lim, &v));
        EXPECT_EQ_INT(v.status, 415);
        EXPECT_EQ_STR(v.reason, "unsupported_type");
    }
    unsigned char mp4[24] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'm', 'p', '4', '2',
                             0, 0, 0, 0,  'm', 'p', '4', '2', 'i', 's', 'o', 'm'};
    EXPECT(!gw_image_check(mp4, sizeof mp4, &lim, &v) && v.status == 415);
    EXPECT(!gw_image_check(NULL, 0, &lim, &v) && v.status == 415);
    /* A JPEG start with nothing readable after it: 422, with a detail. */
    EXPECT(!gw_image_check("\xff\xd8\xff\xe0garbage", 11, &lim, &v));
    EXPECT_EQ_INT(v.status, 422);
    EXPECT(strlen(v.detail) > 0);
}

/* The ftyp of an ISO-BMFF video that lists mif1: 422 bad_brand, never read by
 * another loader (the TGA read that made it an 800 MB temporary file). */
static void test_isom_brand(void)
{
    size_t len = 3u << 20;
    unsigned char *b = calloc(1, len);
    CHECK(b != NULL);
    memcpy(b, "\0\0\0\x18" "ftypisom\0\0\0\0isommif1", 24);
    ip_admit_limits lim = limits(100000000);
    gw_img_verdict v;
    EXPECT(!gw_image_check(b, len, &lim, &v));
    EXPECT_EQ_INT(v.status, 422);
    EXPECT_EQ_STR(v.reason, "bad_brand");
    free(b);
}

/* A 1x1 PNG followed by a zTXt that inflates to 40 MB, ten times. */
static void test_ztxt_bomb(void)
{
    size_t len = 0;
    unsigned char *png = make(".png", &len);
    CHECK(png != NULL);
    static unsigned char zeros[1 << 20];
    unsigned char z[64 << 10];
    z_stream zs = {0};
    CHECK(deflateInit(&zs, 9) == Z_OK);
    zs.next_out = z + 11;
    zs.avail_out = sizeof z - 16;
    for (int i = 0; i < 40; i++) {
        zs.next_in = zeros;
        zs.avail_in = sizeof zeros;
        CHECK(deflate(&zs, i == 39 ? Z_FINISH : Z_NO_FLUSH) != Z_STREAM_ERROR);
    }
    size_t zn = zs.total_out;
    deflateEnd(&zs);
    memcpy(z + 4, "zTXtc\0\0", 7); /* type, keyword "c", NUL, method */
    zn += 3;
    put_be32(z, (uint32_t)zn);
    put_be32(z + 8 + zn, (uint32_t)crc32(0, z + 4, (uInt)zn + 4));
    size_t chunk = zn + 12, ihdr_end = 8 + 25;
    unsigned char *bomb = malloc(len + 10 * chunk);
    CHECK(bomb != NULL);
    memcpy(bomb, png, ihdr_end);
    for (int i = 0; i < 10; i++)
        memcpy(bomb + ihdr_end + i * chunk, z, chunk);
    memcpy(bomb + ihdr_end + 10 * chunk, png + ihdr_end, len - ihdr_end);
    ip_admit_limits lim = limits(100000000);
    gw_img_verdict v;
    EXPECT(!gw_image_check(bomb, len + 10 * chunk, &lim, &v));
    EXPECT_EQ_INT(v.status, 422);
    EXPECT_EQ_STR(v.reason, "metadata_too_large");
    g_free(png);
    free(bomb);
}

static void test_pixel_bomb(void)
{
    size_t len = 0;
    unsigned char *b = make(".png", &len);
    CHECK(b != NULL);
    /* IHDR: length(4) "IHDR" width(4) height(4) ... crc at 29. */
    unsigned char *ihdr = b + 8;
    put_be32(ihdr + 8, 100000);
    put_be32(ihdr + 12, 100000);
    put_be32(ihdr + 21, (uint32_t)crc32(0, ihdr + 4, 17));
    ip_admit_limits lim = limits(100000000);
    gw_img_verdict v;
    EXPECT(!gw_image_check(b, len, &lim, &v));
    EXPECT_EQ_INT(v.status, 422);
    EXPECT_EQ_STR(v.reason, "pixel_limit");
    EXPECT(strstr(v.detail, "100000x100000") != NULL);
    g_free(b);
}

static const ip_test_case tests[] = {
    IP_TEST(formats),    IP_TEST(not_images),  IP_TEST(isom_brand),
    IP_TEST(ztxt_bomb),  IP_TEST(pixel_bomb),
};

/* libvips is started and restricted once for every test and shut down after. */
int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0]))
        return 1;
    ip_vips_restrict();
    int rc = ip_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
    vips_shutdown();
    return rc;
}
