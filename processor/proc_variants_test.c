/* proc_variants_test.c — unit tests of the variant maker (ctest processor.variants.*).
 *
 * Every fixture is made by libvips in the test (proc_fixtures.c); every
 * variant is decoded again and checked for size, format, bands, orientation
 * and the absence of metadata. Run one test by name: proc_variants_test
 * <name>; the table at the end lists them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <vips/vips.h>

#include "proc_fixtures.h"
#include "proc_variants.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

#define CHECKF(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

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
static int check_upright(VipsImage *im)
{
    unsigned char tl[4], tr[4], bl[4], br[4];
    int w = im->Xsize, h = im->Ysize;
    CHECK(pixel(im, w / 8, h / 8, tl) == 0);
    CHECK(pixel(im, w - w / 8, h / 8, tr) == 0);
    CHECK(pixel(im, w / 8, h - h / 8, bl) == 0);
    CHECK(pixel(im, w - w / 8, h - h / 8, br) == 0);
    CHECKF(proc_fixture_is_red(tl), "top-left %d,%d,%d", tl[0], tl[1], tl[2]);
    CHECKF(!proc_fixture_is_red(tr), "top-right %d,%d,%d", tr[0], tr[1], tr[2]);
    CHECKF(!proc_fixture_is_red(bl), "bottom-left %d,%d,%d", bl[0], bl[1], bl[2]);
    return 0;
}

static bool has_bytes(const void *hay, size_t n, const char *needle, size_t m)
{
    return memmem(hay, n, needle, m) != NULL;
}

/* Checks one variant: size, format and bands by alpha, no metadata. */
static int check_variant(const proc_variant *v, int w, int h, bool alpha)
{
    CHECKF(v->width == w && v->height == h, "%s is %dx%d, want %dx%d", proc_op_name(v->op),
           v->width, v->height, w, h);
    CHECK(strcmp(v->format, alpha ? "png" : "jpeg") == 0);
    CHECK(strcmp(v->ext, alpha ? "png" : "jpg") == 0);
    const char *loader = NULL;
    VipsImage *im = decode(v, &loader);
    CHECK(im != NULL);
    int rc = 0;
    if (im->Xsize != w || im->Ysize != h || im->Bands != (alpha ? 4 : 3) ||
        im->BandFmt != VIPS_FORMAT_UCHAR) {
        fprintf(stderr, "%s decodes as %dx%d, %d bands\n", proc_op_name(v->op), im->Xsize,
                im->Ysize, im->Bands);
        rc = 1;
    }
    if (strncmp(loader, alpha ? "pngload" : "jpegload", alpha ? 7 : 8) != 0) {
        fprintf(stderr, "%s loads with %s\n", proc_op_name(v->op), loader);
        rc = 1;
    }
    if (vips_image_get_typeof(im, VIPS_META_EXIF_NAME) ||
        vips_image_get_typeof(im, VIPS_META_XMP_NAME) ||
        vips_image_get_typeof(im, VIPS_META_ICC_NAME) ||
        has_bytes(v->data, v->len, "Exif\0\0", 6)) {
        fprintf(stderr, "%s carries metadata\n", proc_op_name(v->op));
        rc = 1;
    }
    g_object_unref(im);
    return rc;
}

static int run_format(proc_fixture_kind k)
{
    void *buf = NULL;
    size_t len = 0;
    CHECKF(proc_fixture_make(k, 1600, 1000, &buf, &len) == 0, "%s", vips_error_buffer());
    proc_settings s = settings();
    proc_variants out;
    char err[512];
    ip_status st = proc_variants_make(buf, len, PROC_OPS_ALL, &s, &out, err, sizeof(err));
    g_free(buf);
    CHECKF(st == IP_OK, "%s: %s: %s", proc_fixture_name(k), ip_strerror(st), err);
    int rc = 0;
    bool alpha = proc_fixture_has_alpha(k);
    if (out.n != 3 || out.src_width != 1600 || out.src_height != 1000 ||
        check_variant(&out.v[0], 320, 320, alpha) || check_variant(&out.v[1], 1280, 800, alpha) ||
        check_variant(&out.v[2], 1280, 800, alpha)) {
        rc = 1;
    } else {
        /* Greyscale has no red to find. */
        VipsImage *im = k == FX_PNG_GREY ? NULL : decode(&out.v[1], NULL);
        rc = k != FX_PNG_GREY && (!im || check_upright(im));
        if (im)
            g_object_unref(im);
    }
    fprintf(stderr, "%s via %s: thumbnail %zu B, resized %zu B, watermarked %zu B (%s)\n",
            proc_fixture_name(k), out.loader, out.v[0].len, out.v[1].len, out.v[2].len,
            out.n ? out.v[0].format : "-");
    proc_variants_fini(&out);
    return rc;
}

#define FORMAT_TEST(k)                                                                             \
    static int test_format_##k(void)                                                               \
    {                                                                                              \
        return run_format(k);                                                                      \
    }
FORMAT_TEST(FX_JPEG)
FORMAT_TEST(FX_JPEG_PROGRESSIVE)
FORMAT_TEST(FX_JPEG_CMYK)
FORMAT_TEST(FX_PNG8)
FORMAT_TEST(FX_PNG16)
FORMAT_TEST(FX_PNG_PALETTE)
FORMAT_TEST(FX_PNG_ALPHA)
FORMAT_TEST(FX_PNG_GREY)
FORMAT_TEST(FX_WEBP)
FORMAT_TEST(FX_WEBP_ALPHA)
FORMAT_TEST(FX_GIF)
FORMAT_TEST(FX_AVIF)
FORMAT_TEST(FX_HEIC)
FORMAT_TEST(FX_TIFF)

static int test_orientation(void)
{
    proc_settings s = settings();
    for (int o = 1; o <= 8; o++) {
        void *buf = NULL;
        size_t len = 0;
        CHECK(proc_fixture_oriented_jpeg(o, 300, 200, &buf, &len) == 0);
        /* The fixture really carries the orientation. */
        VipsImage *hdr = vips_image_new_from_buffer(buf, len, "", NULL);
        CHECK(hdr != NULL);
        int stored = vips_image_get_orientation(hdr);
        g_object_unref(hdr);
        CHECKF(stored == o, "fixture orientation %d, want %d", stored, o);

        proc_variants out;
        char err[512];
        ip_status st = proc_variants_make(buf, len, PROC_OPS_ALL, &s, &out, err, sizeof(err));
        g_free(buf);
        CHECKF(st == IP_OK, "orientation %d: %s", o, err);
        int bad = check_variant(&out.v[1], 300, 200, false) ||
                  check_variant(&out.v[2], 300, 200, false) ||
                  check_variant(&out.v[0], 320, 320, false);
        VipsImage *im = bad ? NULL : decode(&out.v[1], NULL);
        if (!bad)
            bad = !im || check_upright(im);
        if (im)
            g_object_unref(im);
        proc_variants_fini(&out);
        CHECKF(!bad, "orientation %d not upright", o);
    }
    return 0;
}

static int test_gps_stripped(void)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_gps_jpeg(800, 600, &buf, &len) == 0);
    VipsImage *hdr = vips_image_new_from_buffer(buf, len, "", NULL);
    CHECK(hdr != NULL);
    bool gps_in = vips_image_get_typeof(hdr, "exif-ifd3-GPSLatitude") != 0;
    g_object_unref(hdr);
    CHECKF(gps_in, "the fixture has no GPS");

    proc_settings s = settings();
    proc_variants out;
    char err[512];
    ip_status st = proc_variants_make(buf, len, PROC_OPS_ALL, &s, &out, err, sizeof(err));
    g_free(buf);
    CHECKF(st == IP_OK, "%s", err);
    int rc = 0;
    for (int i = 0; i < out.n; i++) {
        bool alpha = false;
        int w = i == 0 ? 320 : 800, h = i == 0 ? 320 : 600;
        rc |= check_variant(&out.v[i], w, h, alpha);
        rc |= has_bytes(out.v[i].data, out.v[i].len, "GPS", 3);
        rc |= has_bytes(out.v[i].data, out.v[i].len, "Exif", 4);
    }
    proc_variants_fini(&out);
    return rc;
}

static int test_alpha(void)
{
    proc_settings s = settings();
    proc_fixture_kind kinds[] = {FX_PNG_ALPHA, FX_WEBP_ALPHA};
    for (size_t i = 0; i < 2; i++) {
        void *buf = NULL;
        size_t len = 0;
        CHECK(proc_fixture_make(kinds[i], 640, 480, &buf, &len) == 0);
        proc_variants out;
        char err[512];
        ip_status st = proc_variants_make(buf, len, PROC_OPS_ALL, &s, &out, err, sizeof(err));
        g_free(buf);
        CHECKF(st == IP_OK, "%s", err);
        int bad = out.n != 3;
        for (int j = 0; j < out.n && !bad; j++) {
            bool thumb = out.v[j].op == PROC_OP_THUMBNAIL;
            bad = check_variant(&out.v[j], thumb ? 320 : 640, thumb ? 320 : 480, true);
            if (bad || thumb)
                continue;
            VipsImage *im = decode(&out.v[j], NULL);
            unsigned char tl[4] = {0}, br[4] = {0};
            bad = !im || pixel(im, 20, 20, tl) || pixel(im, 340, 260, br) || tl[3] != 255 ||
                  br[3] != 0;
            if (bad && im)
                fprintf(stderr, "%s alpha tl %d br %d\n", proc_op_name(out.v[j].op), tl[3], br[3]);
            if (im)
                g_object_unref(im);
        }
        proc_variants_fini(&out);
        CHECKF(!bad, "%s lost its alpha", proc_fixture_name(kinds[i]));
    }
    return 0;
}

/* Fails with IP_INVALID_ARGUMENT and a reason containing `want`. */
static int expect_invalid(const void *buf, size_t len, const char *want)
{
    proc_settings s = settings();
    proc_variants out;
    char err[512];
    ip_status st = proc_variants_make(buf, len, PROC_OPS_ALL, &s, &out, err, sizeof(err));
    fprintf(stderr, "reason: %s\n", err);
    CHECKF(st == IP_INVALID_ARGUMENT, "%s", ip_strerror(st));
    CHECK(out.n == 0);
    CHECK(err[0] != '\0');
    CHECKF(strstr(err, want) != NULL, "reason \"%s\" lacks \"%s\"", err, want);
    return 0;
}

static int test_corrupt(void)
{
    unsigned char junk[4096];
    srand(7);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)rand();
    CHECK(expect_invalid(junk, sizeof(junk), "not a supported image format") == 0);
    CHECK(expect_invalid("", 0, "empty") == 0);
    const char svg[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>";
    CHECK(expect_invalid(svg, sizeof(svg) - 1, "not a supported image format") == 0);

    proc_fixture_kind kinds[] = {FX_JPEG, FX_JPEG_PROGRESSIVE, FX_PNG8, FX_WEBP, FX_TIFF};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        void *buf = NULL;
        size_t len = 0;
        CHECK(proc_fixture_make(kinds[i], 1200, 900, &buf, &len) == 0);
        fprintf(stderr, "%s truncated to %zu of %zu bytes\n", proc_fixture_name(kinds[i]), len / 2,
                len);
        int rc = expect_invalid(buf, len / 2, "");
        if (rc == 0) {
            /* A PNG with bytes overwritten in the middle of its data (CRC and
             * zlib errors). A JPEG damaged the same way decodes with a
             * warning, as browsers show it, so it is not among these. */
            unsigned char *b = buf;
            if (kinds[i] == FX_PNG8) {
                memset(b + len / 3, 0xff, 64);
                rc = expect_invalid(buf, len, "cannot decode: ");
            }
        }
        g_free(buf);
        CHECK(rc == 0);
    }
    /* The header is unreadable: a PNG signature and nothing else. */
    CHECK(expect_invalid("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16, "") == 0);
    return 0;
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

static int test_pixel_limit(void)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_huge_png(30000, 30000, &buf, &len) == 0);
    fprintf(stderr, "30000x30000 PNG: %zu bytes\n", len);
    CHECK(len < 1024 * 1024);
    proc_settings s = settings();
    proc_variants out;
    char err[512];
    long rss0 = maxrss_kb();
    double t0 = now_ms();
    ip_status st = proc_variants_make(buf, len, PROC_OPS_ALL, &s, &out, err, sizeof(err));
    double ms = now_ms() - t0;
    long grown = maxrss_kb() - rss0;
    g_free(buf);
    fprintf(stderr, "%s in %.1f ms, peak RSS grew %ld KB: %s\n", ip_strerror(st), ms, grown, err);
    CHECK(st == IP_RESOURCE_EXHAUSTED);
    CHECK(strstr(err, "30000x30000") && strstr(err, "over the limit"));
    CHECK(ms < 1000);
    CHECK(grown < 32 * 1024);
    return 0;
}

static int test_budget(void)
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
    ip_status st = proc_variants_make(buf, len, PROC_OPS_ALL, &s, &out, err, sizeof(err));
    g_free(buf);
    fprintf(stderr, "progressive: %s: %s\n", ip_strerror(st), err);
    CHECK(st == IP_RESOURCE_EXHAUSTED && strstr(err, "budget"));

    CHECK(proc_fixture_make(FX_JPEG, 4000, 3000, &buf, &len) == 0);
    st = proc_variants_make(buf, len, PROC_OPS_ALL, &s, &out, err, sizeof(err));
    g_free(buf);
    CHECKF(st == IP_OK, "baseline: %s", err);
    fprintf(stderr, "baseline reserved %lld KB\n", (long long)(out.budget_bytes >> 10));
    CHECK(out.v[1].width == 1280 && out.v[1].height == 960);
    proc_variants_fini(&out);
    return 0;
}

static int test_small_not_enlarged(void)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_JPEG, 200, 100, &buf, &len) == 0);
    proc_settings s = settings();
    proc_variants out;
    char err[512];
    ip_status st = proc_variants_make(buf, len, PROC_OPS_ALL, &s, &out, err, sizeof(err));
    g_free(buf);
    CHECKF(st == IP_OK, "%s", err);
    int rc = check_variant(&out.v[0], 320, 320, false) ||
             check_variant(&out.v[1], 200, 100, false) || check_variant(&out.v[2], 200, 100, false);
    proc_variants_fini(&out);
    return rc;
}

static int test_extreme_aspect(void)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_PNG8, 6000, 150, &buf, &len) == 0);
    proc_settings s = settings();
    proc_variants out;
    char err[512];
    ip_status st = proc_variants_make(buf, len, PROC_OPS_ALL, &s, &out, err, sizeof(err));
    g_free(buf);
    CHECKF(st == IP_OK, "%s", err);
    int rc = check_variant(&out.v[0], 320, 320, false) ||
             check_variant(&out.v[1], 1280, 32, false) || check_variant(&out.v[2], 1280, 32, false);
    proc_variants_fini(&out);
    return rc;
}

static int test_ops_subset(void)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_JPEG, 2000, 1000, &buf, &len) == 0);
    proc_settings s = settings();
    proc_variants out;
    char err[512];
    unsigned masks[] = {PROC_OP_BIT(PROC_OP_THUMBNAIL), PROC_OP_BIT(PROC_OP_WATERMARKED),
                        PROC_OP_BIT(PROC_OP_THUMBNAIL) | PROC_OP_BIT(PROC_OP_RESIZED)};
    int want_n[] = {1, 1, 2};
    int rc = 0;
    for (size_t i = 0; i < 3 && !rc; i++) {
        ip_status st = proc_variants_make(buf, len, masks[i], &s, &out, err, sizeof(err));
        rc = st != IP_OK || out.n != want_n[i];
        for (int j = 0; j < out.n && !rc; j++)
            rc = !(masks[i] & PROC_OP_BIT(out.v[j].op));
        if (!rc && masks[i] == PROC_OP_BIT(PROC_OP_WATERMARKED))
            rc = check_variant(&out.v[0], 1280, 640, false);
        proc_variants_fini(&out);
    }
    ip_status st = proc_variants_make(buf, len, 0, &s, &out, err, sizeof(err));
    g_free(buf);
    CHECK(rc == 0);
    CHECK(st == IP_INVALID_ARGUMENT);
    proc_op op;
    CHECK(proc_op_parse("watermarked", &op) && op == PROC_OP_WATERMARKED);
    CHECK(!proc_op_parse("Thumbnail", &op) && !proc_op_parse("", &op) && !proc_op_parse(NULL, &op));
    return 0;
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

static int test_watermark_light_and_dark(void)
{
    proc_settings s = settings();
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
        char err[512];
        ip_status st = proc_variants_make(buf, len, PROC_OPS_ALL, &s, &out, err, sizeof(err));
        g_free(buf);
        CHECKF(st == IP_OK, "%s", err);
        VipsImage *r = decode(&out.v[1], NULL), *w = decode(&out.v[2], NULL);
        proc_variants_fini(&out);
        CHECK(r && w);
        double lower_right = max_diff(r, w, 640, 720, 640, 240);
        double upper_left = max_diff(r, w, 0, 0, 640, 480);
        g_object_unref(r);
        g_object_unref(w);
        fprintf(stderr, "level %.0f: watermark contrast %.0f, elsewhere %.0f\n", levels[i],
                lower_right, upper_left);
        CHECK(lower_right >= 60);
        CHECK(upper_left >= 0 && upper_left <= 8);
    }
    return 0;
}

static int test_probe(void)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_HEIC, 640, 360, &buf, &len) == 0);
    int w = 0, h = 0;
    char loader[32], err[256];
    ip_status st =
        proc_image_probe(buf, len, 100000000, &w, &h, loader, sizeof(loader), err, sizeof(err));
    g_free(buf);
    CHECKF(st == IP_OK, "%s", err);
    CHECK(w == 640 && h == 360 && strcmp(loader, "heifload_buffer") == 0);
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(void);
} tests[] = {
    {"format.jpeg", test_format_FX_JPEG},
    {"format.jpeg_progressive", test_format_FX_JPEG_PROGRESSIVE},
    {"format.jpeg_cmyk", test_format_FX_JPEG_CMYK},
    {"format.png8", test_format_FX_PNG8},
    {"format.png16", test_format_FX_PNG16},
    {"format.png_palette", test_format_FX_PNG_PALETTE},
    {"format.png_alpha", test_format_FX_PNG_ALPHA},
    {"format.png_grey", test_format_FX_PNG_GREY},
    {"format.webp", test_format_FX_WEBP},
    {"format.webp_alpha", test_format_FX_WEBP_ALPHA},
    {"format.gif", test_format_FX_GIF},
    {"format.avif", test_format_FX_AVIF},
    {"format.heic", test_format_FX_HEIC},
    {"format.tiff", test_format_FX_TIFF},
    {"orientation", test_orientation},
    {"gps_stripped", test_gps_stripped},
    {"alpha", test_alpha},
    {"corrupt", test_corrupt},
    {"pixel_limit", test_pixel_limit},
    {"budget", test_budget},
    {"small_not_enlarged", test_small_not_enlarged},
    {"extreme_aspect", test_extreme_aspect},
    {"ops_subset", test_ops_subset},
    {"watermark", test_watermark_light_and_dark},
    {"probe", test_probe},
};

int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0]))
        return 2;
    proc_variants_global_init(1, 0);
    int failed = 0, ran = 0;
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        ran++;
        int rc = tests[i].fn();
        fprintf(stderr, "%s %s\n", rc ? "FAIL" : "ok  ", tests[i].name);
        failed += rc != 0;
    }
    vips_shutdown();
    if (ran == 0) {
        fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "");
        return 2;
    }
    return failed ? 1 : 0;
}
