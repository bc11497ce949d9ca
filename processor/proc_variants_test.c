/* proc_variants_test.c — unit tests of the variant maker (ctest processor.variants.*).
 *
 * Every fixture is made by libvips in the test (proc_fixtures.c); every
 * variant is decoded again and checked for size, format, bands, orientation
 * and the absence of metadata. Harness: ip_testing.h (CHECK ends the run,
 * EXPECT counts and goes on). Run one test by name: proc_variants_test
 * <name>; the table at the end lists them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <vips/vips.h>
#include <zlib.h>

#include "ip_testing.h"
#include "proc_fixtures.h"
#include "proc_variants.h"

static proc_settings settings(void)
{
    proc_settings s;
    proc_settings_default(&s);
    return s;
}

/* Decodes a variant fully into memory; NULL on failure. */
static VipsImage *decode(const proc_variant *v, const char **loader)
{
    VipsImage *im = vips_image_new_from_buffer(v->data, v->len, "", NULL);
    if (!im)
        return NULL;
    if (loader)
        *loader = vips_image_get_string(im, "vips-loader", loader) == 0 ? *loader : "";
    VipsImage *m = vips_image_copy_memory(im);
    g_object_unref(im);
    return m;
}

static int pixel(VipsImage *im, int x, int y, unsigned char px[4])
{
    double *vec = NULL;
    int n = 0;
    if (vips_getpoint(im, &vec, &n, x, y, NULL))
        return -1;
    for (int i = 0; i < 4; i++)
        px[i] = (unsigned char)(i < n ? vec[i] : 255);
    g_free(vec);
    return 0;
}

/* The picture is upright: red in the top-left quarter only. */
static void expect_upright(VipsImage *im)
{
    unsigned char tl[4], tr[4], bl[4];
    int w = im->Xsize, h = im->Ysize;
    CHECK(pixel(im, w / 8, h / 8, tl) == 0);
    CHECK(pixel(im, w - w / 8, h / 8, tr) == 0);
    CHECK(pixel(im, w / 8, h - h / 8, bl) == 0);
    if (!proc_fixture_is_red(tl) || proc_fixture_is_red(tr) || proc_fixture_is_red(bl))
        fprintf(stderr, "not upright: top-left %d,%d,%d top-right %d,%d,%d bottom-left %d,%d,%d\n",
                tl[0], tl[1], tl[2], tr[0], tr[1], tr[2], bl[0], bl[1], bl[2]);
    EXPECT(proc_fixture_is_red(tl));
    EXPECT(!proc_fixture_is_red(tr));
    EXPECT(!proc_fixture_is_red(bl));
}

static bool has_bytes(const void *hay, size_t n, const char *needle, size_t m)
{
    return memmem(hay, n, needle, m) != NULL;
}

/* One variant: size, format and bands by alpha, no metadata. */
static void expect_variant(const proc_variant *v, int w, int h, bool alpha)
{
    const char *name = ip_variant_name(v->kind);
    CHECK(name != NULL);
    if (v->width != w || v->height != h)
        fprintf(stderr, "%s is %dx%d, want %dx%d\n", name, v->width, v->height, w, h);
    EXPECT_EQ_INT(v->width, w);
    EXPECT_EQ_INT(v->height, h);
    CHECK(v->format != NULL);
    EXPECT(v->format == (alpha ? &ip_format_png : &ip_format_jpeg));
    EXPECT_EQ_STR(v->format->ext, alpha ? "png" : "jpg");
    const char *loader = NULL;
    VipsImage *im = decode(v, &loader);
    CHECK(im != NULL);
    if (im->Xsize != w || im->Ysize != h || im->Bands != (alpha ? 4 : 3))
        fprintf(stderr, "%s decodes as %dx%d, %d bands\n", name, im->Xsize, im->Ysize, im->Bands);
    EXPECT_EQ_INT(im->Xsize, w);
    EXPECT_EQ_INT(im->Ysize, h);
    EXPECT_EQ_INT(im->Bands, alpha ? 4 : 3);
    EXPECT_EQ_INT(im->BandFmt, VIPS_FORMAT_UCHAR);
    if (strncmp(loader, alpha ? "pngload" : "jpegload", alpha ? 7 : 8) != 0)
        fprintf(stderr, "%s loads with %s\n", name, loader);
    EXPECT(strncmp(loader, alpha ? "pngload" : "jpegload", alpha ? 7 : 8) == 0);
    EXPECT(!vips_image_get_typeof(im, VIPS_META_EXIF_NAME));
    EXPECT(!vips_image_get_typeof(im, VIPS_META_XMP_NAME));
    EXPECT(!vips_image_get_typeof(im, VIPS_META_ICC_NAME));
    EXPECT(!has_bytes(v->data, v->len, "Exif\0\0", 6));
    g_object_unref(im);
}

/* proc_variants_make of every variant with the default settings; CHECKs
 * success. */
static void make_all(const void *buf, size_t len, proc_variants *out)
{
    proc_settings s = settings();
    char err[512];
    ip_status st = proc_variants_make(buf, len, IP_VARIANT_MASK_ALL, &s, out, err, sizeof(err));
    CHECK_ST(st, IP_OK, err);
    CHECK_EQ_INT(out->n, IP_VARIANT_COUNT);
    CHECK_EQ_INT(out->v[0].kind, IP_VARIANT_THUMBNAIL);
    CHECK_EQ_INT(out->v[1].kind, IP_VARIANT_RESIZED);
    CHECK_EQ_INT(out->v[2].kind, IP_VARIANT_WATERMARKED);
}

static void run_format(proc_fixture_kind k)
{
    void *buf = NULL;
    size_t len = 0;
    if (proc_fixture_make(k, 1600, 1000, &buf, &len) != 0)
        fprintf(stderr, "%s: %s\n", proc_fixture_name(k), vips_error_buffer());
    CHECK(buf != NULL);
    proc_variants out;
    make_all(buf, len, &out);
    g_free(buf);
    bool alpha = proc_fixture_has_alpha(k);
    EXPECT_EQ_INT(out.src_width, 1600);
    EXPECT_EQ_INT(out.src_height, 1000);
    expect_variant(&out.v[0], 320, 320, alpha);
    expect_variant(&out.v[1], 1280, 800, alpha);
    expect_variant(&out.v[2], 1280, 800, alpha);
    if (k != FX_PNG_GREY) { /* greyscale has no red to find */
        VipsImage *im = decode(&out.v[1], NULL);
        CHECK(im != NULL);
        expect_upright(im);
        g_object_unref(im);
    }
    fprintf(stderr, "%s via %s: thumbnail %zu B, resized %zu B, watermarked %zu B (%s)\n",
            proc_fixture_name(k), out.loader, out.v[0].len, out.v[1].len, out.v[2].len,
            out.v[0].format->name);
    proc_variants_fini(&out);
}

#define FORMAT_TEST(name, k)                                                                       \
    static void test_format_##name(void)                                                           \
    {                                                                                              \
        run_format(k);                                                                             \
    }
FORMAT_TEST(jpeg, FX_JPEG)
FORMAT_TEST(jpeg_progressive, FX_JPEG_PROGRESSIVE)
FORMAT_TEST(jpeg_cmyk, FX_JPEG_CMYK)
FORMAT_TEST(png8, FX_PNG8)
FORMAT_TEST(png16, FX_PNG16)
FORMAT_TEST(png_palette, FX_PNG_PALETTE)
FORMAT_TEST(png_alpha, FX_PNG_ALPHA)
FORMAT_TEST(png_grey, FX_PNG_GREY)
FORMAT_TEST(webp, FX_WEBP)
FORMAT_TEST(webp_alpha, FX_WEBP_ALPHA)
FORMAT_TEST(gif, FX_GIF)
FORMAT_TEST(avif, FX_AVIF)
FORMAT_TEST(heic, FX_HEIC)
FORMAT_TEST(tiff, FX_TIFF)

static void test_orientation(void)
{
    for (int o = 1; o <= 8; o++) {
        void *buf = NULL;
        size_t len = 0;
        CHECK(proc_fixture_oriented_jpeg(o, 300, 200, &buf, &len) == 0);
        /* The fixture really carries the orientation. */
        VipsImage *hdr = vips_image_new_from_buffer(buf, len, "", NULL);
        CHECK(hdr != NULL);
        int stored = vips_image_get_orientation(hdr);
        g_object_unref(hdr);
        CHECK_EQ_INT(stored, o);

        fprintf(stderr, "orientation %d\n", o);
        proc_variants out;
        make_all(buf, len, &out);
        g_free(buf);
        expect_variant(&out.v[1], 300, 200, false);
        expect_variant(&out.v[2], 300, 200, false);
        expect_variant(&out.v[0], 320, 320, false);
        VipsImage *im = decode(&out.v[1], NULL);
        CHECK(im != NULL);
        expect_upright(im);
        g_object_unref(im);
        proc_variants_fini(&out);
    }
}

static void test_gps_stripped(void)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_gps_jpeg(800, 600, &buf, &len) == 0);
    VipsImage *hdr = vips_image_new_from_buffer(buf, len, "", NULL);
    CHECK(hdr != NULL);
    bool gps_in = vips_image_get_typeof(hdr, "exif-ifd3-GPSLatitude") != 0;
    g_object_unref(hdr);
    CHECK(gps_in); /* the fixture has GPS */

    proc_variants out;
    make_all(buf, len, &out);
    g_free(buf);
    for (int i = 0; i < out.n; i++) {
        int w = i == 0 ? 320 : 800, h = i == 0 ? 320 : 600;
        expect_variant(&out.v[i], w, h, false);
        EXPECT(!has_bytes(out.v[i].data, out.v[i].len, "GPS", 3));
        EXPECT(!has_bytes(out.v[i].data, out.v[i].len, "Exif", 4));
    }
    proc_variants_fini(&out);
}

static void test_alpha(void)
{
    proc_fixture_kind kinds[] = {FX_PNG_ALPHA, FX_WEBP_ALPHA};
    for (size_t i = 0; i < 2; i++) {
        void *buf = NULL;
        size_t len = 0;
        CHECK(proc_fixture_make(kinds[i], 640, 480, &buf, &len) == 0);
        fprintf(stderr, "%s\n", proc_fixture_name(kinds[i]));
        proc_variants out;
        make_all(buf, len, &out);
        g_free(buf);
        for (int j = 0; j < out.n; j++) {
            bool thumb = out.v[j].kind == IP_VARIANT_THUMBNAIL;
            expect_variant(&out.v[j], thumb ? 320 : 640, thumb ? 320 : 480, true);
            if (thumb)
                continue;
            /* Opaque at the top left, fully transparent at the bottom right. */
            VipsImage *im = decode(&out.v[j], NULL);
            CHECK(im != NULL);
            unsigned char tl[4] = {0}, br[4] = {0};
            CHECK(pixel(im, 20, 20, tl) == 0 && pixel(im, 340, 260, br) == 0);
            if (tl[3] != 255 || br[3] != 0)
                fprintf(stderr, "%s alpha tl %d br %d\n", ip_variant_name(out.v[j].kind), tl[3],
                        br[3]);
            EXPECT_EQ_INT(tl[3], 255);
            EXPECT_EQ_INT(br[3], 0);
            g_object_unref(im);
        }
        proc_variants_fini(&out);
    }
}

/* Fails with IP_INVALID_ARGUMENT, no variant and a reason containing `want`. */
static void expect_invalid(const void *buf, size_t len, const char *want)
{
    proc_settings s = settings();
    proc_variants out;
    char err[512];
    ip_status st = proc_variants_make(buf, len, IP_VARIANT_MASK_ALL, &s, &out, err, sizeof(err));
    fprintf(stderr, "reason: %s\n", err);
    EXPECT_ST(st, IP_INVALID_ARGUMENT, err);
    EXPECT_EQ_INT(out.n, 0);
    EXPECT(err[0] != '\0');
    if (strstr(err, want) == NULL)
        fprintf(stderr, "reason \"%s\" lacks \"%s\"\n", err, want);
    EXPECT(strstr(err, want) != NULL);
    if (st == IP_OK)
        proc_variants_fini(&out);
}

static void test_corrupt(void)
{
    unsigned char junk[4096];
    srand(7);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)rand();
    expect_invalid(junk, sizeof(junk), "unsupported_type: ");
    expect_invalid("", 0, "empty");
    const char svg[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>";
    expect_invalid(svg, sizeof(svg) - 1, "unsupported_type: ");

    proc_fixture_kind kinds[] = {FX_JPEG, FX_JPEG_PROGRESSIVE, FX_PNG8, FX_WEBP, FX_TIFF};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        void *buf = NULL;
        size_t len = 0;
        CHECK(proc_fixture_make(kinds[i], 1200, 900, &buf, &len) == 0);
        fprintf(stderr, "%s truncated to %zu of %zu bytes\n", proc_fixture_name(kinds[i]), len / 2,
                len);
        expect_invalid(buf, len / 2, "");
        if (kinds[i] == FX_PNG8) {
            /* A PNG with bytes overwritten in the middle of its data (CRC and
             * zlib errors). A JPEG damaged the same way decodes with a
             * warning, as browsers show it, so it is not among these. */
            memset((unsigned char *)buf + len / 3, 0xff, 64);
            expect_invalid(buf, len, "cannot decode: ");
        }
        g_free(buf);
    }
    /* The header is unreadable: a PNG signature and nothing else. */
    expect_invalid("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16, "");
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_pixel_limit(void)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_huge_png(30000, 30000, &buf, &len) == 0);
    fprintf(stderr, "30000x30000 PNG: %zu bytes\n", len);
    EXPECT(len < 1024 * 1024);
    proc_settings s = settings();
    proc_variants out;
    char err[512];
    long rss0 = maxrss_kb();
    double t0 = now_ms();
    ip_status st = proc_variants_make(buf, len, IP_VARIANT_MASK_ALL, &s, &out, err, sizeof(err));
    double ms = now_ms() - t0;
    long grown = maxrss_kb() - rss0;
    g_free(buf);
    fprintf(stderr, "%s in %.1f ms, peak RSS grew %ld KB: %s\n", ip_strerror(st), ms, grown, err);
    CHECK_ST(st, IP_RESOURCE_EXHAUSTED, err);
    EXPECT(strstr(err, "30000x30000") && strstr(err, "over the limit"));
    EXPECT(ms < 1000);
    EXPECT(grown < 32 * 1024);
}

static void test_budget(void)
{
    /* A progressive JPEG holds all its coefficients (4000x3000x1.5x2 = 36 MB);
     * a baseline one of the same size streams. */
    proc_variants_global_init(1, 32LL << 20);
    proc_settings s = settings();
    proc_variants out;
    char err[512];
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_JPEG_PROGRESSIVE, 4000, 3000, &buf, &len) == 0);
    ip_status st = proc_variants_make(buf, len, IP_VARIANT_MASK_ALL, &s, &out, err, sizeof(err));
    g_free(buf);
    fprintf(stderr, "progressive: %s: %s\n", ip_strerror(st), err);
    CHECK_ST(st, IP_RESOURCE_EXHAUSTED, err);
    EXPECT(strstr(err, "budget") != NULL);

    CHECK(proc_fixture_make(FX_JPEG, 4000, 3000, &buf, &len) == 0);
    make_all(buf, len, &out);
    g_free(buf);
    fprintf(stderr, "baseline reserved %lld KB\n", (long long)(out.budget_bytes >> 10));
    EXPECT_EQ_INT(out.v[1].width, 1280);
    EXPECT_EQ_INT(out.v[1].height, 960);
    proc_variants_fini(&out);
}

static void test_small_not_enlarged(void)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_JPEG, 200, 100, &buf, &len) == 0);
    proc_variants out;
    make_all(buf, len, &out);
    g_free(buf);
    expect_variant(&out.v[0], 320, 320, false);
    expect_variant(&out.v[1], 200, 100, false);
    expect_variant(&out.v[2], 200, 100, false);
    proc_variants_fini(&out);
}

static void test_extreme_aspect(void)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_PNG8, 6000, 150, &buf, &len) == 0);
    proc_variants out;
    make_all(buf, len, &out);
    g_free(buf);
    expect_variant(&out.v[0], 320, 320, false);
    expect_variant(&out.v[1], 1280, 32, false);
    expect_variant(&out.v[2], 1280, 32, false);
    proc_variants_fini(&out);
}

/* Only the requested kinds are made, in canonical order; a mask without any
 * variant (nothing, or only bits that are not variants) is refused. */
static void test_ops_subset(void)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_JPEG, 2000, 1000, &buf, &len) == 0);
    proc_settings s = settings();
    proc_variants out;
    char err[512];
    unsigned masks[] = {ip_variant_bit(IP_VARIANT_THUMBNAIL),
                        ip_variant_bit(IP_VARIANT_WATERMARKED),
                        ip_variant_bit(IP_VARIANT_RESIZED) | ip_variant_bit(IP_VARIANT_THUMBNAIL)};
    int want_n[] = {1, 1, 2};
    for (size_t i = 0; i < 3; i++) {
        ip_status st = proc_variants_make(buf, len, masks[i], &s, &out, err, sizeof(err));
        CHECK_ST(st, IP_OK, err);
        EXPECT_EQ_INT(out.n, want_n[i]);
        for (int j = 0; j < out.n; j++)
            EXPECT(masks[i] & ip_variant_bit(out.v[j].kind));
        for (int j = 1; j < out.n; j++)
            EXPECT(out.v[j - 1].kind < out.v[j].kind);
        if (masks[i] == ip_variant_bit(IP_VARIANT_WATERMARKED))
            expect_variant(&out.v[0], 1280, 640, false);
        proc_variants_fini(&out);
    }
    unsigned refused[] = {0, ip_variant_bit(IP_VARIANT_NONE), 1u << (IP_VARIANT_COUNT + 1)};
    for (size_t i = 0; i < 3; i++) {
        ip_status st = proc_variants_make(buf, len, refused[i], &s, &out, err, sizeof(err));
        EXPECT_ST(st, IP_INVALID_ARGUMENT, err);
        EXPECT_EQ_INT(out.n, 0);
    }
    g_free(buf);
}

/* The largest difference between `a` and `b` over the rectangle. */
static double max_diff(VipsImage *a, VipsImage *b, int left, int top, int w, int h)
{
    VipsImage *ca = NULL, *cb = NULL, *d = NULL, *ab = NULL;
    double mx = -1;
    if (!vips_extract_area(a, &ca, left, top, w, h, NULL) &&
        !vips_extract_area(b, &cb, left, top, w, h, NULL) && !vips_subtract(ca, cb, &d, NULL) &&
        !vips_abs(d, &ab, NULL))
        (void)vips_max(ab, &mx, NULL);
    if (ca)
        g_object_unref(ca);
    if (cb)
        g_object_unref(cb);
    if (d)
        g_object_unref(d);
    if (ab)
        g_object_unref(ab);
    return mx;
}

static void test_watermark(void)
{
    double levels[2] = {255, 0};
    for (int i = 0; i < 2; i++) {
        VipsImage *b = NULL, *c = NULL;
        void *buf = NULL;
        size_t len = 0;
        CHECK(vips_black(&b, 1600, 1200, "bands", 3, NULL) == 0);
        CHECK(vips_linear1(b, &c, 1, levels[i], "uchar", TRUE, NULL) == 0);
        g_object_unref(b);
        VipsImage *srgb = NULL;
        CHECK(vips_copy(c, &srgb, "interpretation", VIPS_INTERPRETATION_sRGB, NULL) == 0);
        g_object_unref(c);
        CHECK(vips_jpegsave_buffer(srgb, &buf, &len, "Q", 95, NULL) == 0);
        g_object_unref(srgb);
        proc_variants out;
        make_all(buf, len, &out);
        g_free(buf);
        VipsImage *r = decode(&out.v[1], NULL), *w = decode(&out.v[2], NULL);
        proc_variants_fini(&out);
        CHECK(r && w);
        double lower_right = max_diff(r, w, 640, 720, 640, 240);
        double upper_left = max_diff(r, w, 0, 0, 640, 480);
        g_object_unref(r);
        g_object_unref(w);
        fprintf(stderr, "level %.0f: watermark contrast %.0f, elsewhere %.0f\n", levels[i],
                lower_right, upper_left);
        EXPECT(lower_right >= 60);
        EXPECT(upper_left >= 0 && upper_left <= 8);
    }
}

static void test_probe(void)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_HEIC, 640, 360, &buf, &len) == 0);
    int w = 0, h = 0;
    char loader[32], err[256];
    proc_settings s = settings();
    ip_status st =
        proc_image_probe(buf, len, &s, &w, &h, loader, sizeof(loader), err, sizeof(err));
    g_free(buf);
    CHECK_ST(st, IP_OK, err);
    EXPECT_EQ_INT(w, 640);
    EXPECT_EQ_INT(h, 360);
    EXPECT_EQ_STR(loader, "heifload_buffer");
}

/* The make of `buf` fails at once (no decode) with `want` in its reason. */
static void expect_refused(const void *buf, size_t len, ip_status want, const char *reason)
{
    proc_settings s = settings();
    proc_variants out;
    char err[512];
    ip_status st = proc_variants_make(buf, len, IP_VARIANT_MASK_ALL, &s, &out, err, sizeof(err));
    fprintf(stderr, "reason: %s\n", err);
    EXPECT_ST(st, want, err);
    EXPECT_EQ_INT(out.n, 0);
    EXPECTF(strstr(err, reason) == err, "reason \"%s\" does not start with \"%s\"", err, reason);
    EXPECT_EQ_INT(out.budget_bytes, 0); /* refused before the decode budget */
    if (st == IP_OK)
        proc_variants_fini(&out);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* A real PNG with ten zTXt chunks after IHDR that each inflate to 40 MB of
 * zeros (a 400 KB file): refused by the admission check, never inflated. */
static void test_admit_ztxt_bomb(void)
{
    void *png = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_PNG8, 64, 48, &png, &len) == 0);
    static unsigned char zeros[1 << 20];
    static unsigned char chunk[64 << 10];
    z_stream zs = {0};
    CHECK(deflateInit(&zs, 9) == Z_OK);
    zs.next_out = chunk + 11;
    zs.avail_out = sizeof(chunk) - 16;
    for (int i = 0; i < 40; i++) {
        zs.next_in = zeros;
        zs.avail_in = sizeof(zeros);
        CHECK(deflate(&zs, i == 39 ? Z_FINISH : Z_NO_FLUSH) != Z_STREAM_ERROR);
    }
    size_t n = zs.total_out + 3; /* keyword "c", NUL, method 0, data */
    deflateEnd(&zs);
    memcpy(chunk + 4, "zTXtc\0\0", 7);
    put_be32(chunk, (uint32_t)n);
    put_be32(chunk + 8 + n, (uint32_t)crc32(0, chunk + 4, (uInt)n + 4));
    size_t clen = n + 12, at = 8 + 25, blen = len + 10 * clen;
    unsigned char *bomb = malloc(blen);
    CHECK(bomb != NULL);
    memcpy(bomb, png, at);
    for (int i = 0; i < 10; i++)
        memcpy(bomb + at + i * clen, chunk, clen);
    memcpy(bomb + at + 10 * clen, (unsigned char *)png + at, len - at);
    g_free(png);
    expect_refused(bomb, blen, IP_RESOURCE_EXHAUSTED, "metadata_too_large: ");
    free(bomb);
}

/* A progressive JPEG made by libvips with its last scan repeated until it
 * has 200 scans: refused (each scan would repeat the whole decode). */
static void test_admit_jpeg_scans(void)
{
    void *jpg = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_JPEG_PROGRESSIVE, 64, 48, &jpg, &len) == 0);
    const unsigned char *p = jpg;
    size_t last_sos = 0;
    for (size_t i = 2; i + 1 < len; i++)
        if (p[i] == 0xFF && p[i + 1] == 0xDA)
            last_sos = i;
    CHECK(last_sos > 0 && len >= 2 && p[len - 2] == 0xFF && p[len - 1] == 0xD9);
    size_t scan = len - 2 - last_sos, blen = last_sos + 200 * scan + 2;
    unsigned char *b = malloc(blen);
    CHECK(b != NULL);
    memcpy(b, p, last_sos);
    for (int i = 0; i < 200; i++)
        memcpy(b + last_sos + i * scan, p + last_sos, scan);
    memcpy(b + blen - 2, "\xFF\xD9", 2);
    g_free(jpg);
    expect_refused(b, blen, IP_RESOURCE_EXHAUSTED, "too_many_scans: ");
    free(b);
}

/* Named by hand: the ctest names (processor.variants.format.jpeg) carry dots. */
static const ip_test_case tests[] = {
    {"format.jpeg", test_format_jpeg},
    {"format.jpeg_progressive", test_format_jpeg_progressive},
    {"format.jpeg_cmyk", test_format_jpeg_cmyk},
    {"format.png8", test_format_png8},
    {"format.png16", test_format_png16},
    {"format.png_palette", test_format_png_palette},
    {"format.png_alpha", test_format_png_alpha},
    {"format.png_grey", test_format_png_grey},
    {"format.webp", test_format_webp},
    {"format.webp_alpha", test_format_webp_alpha},
    {"format.gif", test_format_gif},
    {"format.avif", test_format_avif},
    {"format.heic", test_format_heic},
    {"format.tiff", test_format_tiff},
    IP_TEST(orientation),
    IP_TEST(gps_stripped),
    IP_TEST(alpha),
    IP_TEST(corrupt),
    IP_TEST(pixel_limit),
    IP_TEST(budget),
    IP_TEST(small_not_enlarged),
    IP_TEST(extreme_aspect),
    IP_TEST(ops_subset),
    IP_TEST(watermark),
    IP_TEST(probe),
    IP_TEST(admit_ztxt_bomb),
    IP_TEST(admit_jpeg_scans),
};

int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0]))
        return 2;
    proc_variants_global_init(1, 0);
    int rc = ip_test_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
    vips_shutdown();
    return rc;
}
