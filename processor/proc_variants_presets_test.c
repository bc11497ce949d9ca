/* proc_variants_presets_test.c — unit tests of the variants as presets make
 * them (ctest processor.variants.presets.*): every format of every variant
 * decodes at the preset's size with no metadata, AVIF when asked, alpha kept
 * in PNG, WebP and AVIF, cover and inside geometry, the logo watermark's
 * position and opacity read back from pixels, the logo's limits, and the
 * placeholder of a variants run.
 *
 * Sources are made in the test: the fixture picture (proc_fixtures.c) or a
 * flat colour, encoded by libvips.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "ip_presets.h"
#include "ip_testing.h"
#include "proc_fixtures.h"
#include "proc_logo.h"
#include "proc_thumbhash.h"
#include "proc_variants.h"

/* A flat w x h picture of colour c (3 bands, or 4 with alpha c[3]) as PNG. */
static void flat_png(int w, int h, int bands, const double c[4], void **buf, size_t *len)
{
    VipsImage *b = NULL, *l = NULL, *s = NULL;
    double zero[4] = {0, 0, 0, 0};
    CHECK(vips_black(&b, w, h, "bands", bands, NULL) == 0);
    CHECK(vips_linear(b, &l, zero, c, bands, "uchar", TRUE, NULL) == 0);
    CHECK(vips_copy(l, &s, "interpretation", VIPS_INTERPRETATION_sRGB, NULL) == 0);
    CHECK(vips_pngsave_buffer(s, buf, len, NULL) == 0);
    g_object_unref(s);
    g_object_unref(l);
    g_object_unref(b);
}

static void make(const void *buf, size_t len, unsigned mask, const proc_recipe *r,
                 proc_variants *out)
{
    proc_settings s;
    proc_settings_default(&s);
    char err[512] = "";
    ip_status st = proc_variants_make_with(buf, len, mask, &s, r, out, err, sizeof(err));
    if (st != IP_OK)
        fprintf(stderr, "make: %s: %s\n", ip_strerror(st), err);
    CHECK(st == IP_OK);
}

static const char *loader_prefix(const ip_format_def *f)
{
    if (f == &ip_format_jpeg)
        return "jpegload";
    if (f == &ip_format_png)
        return "pngload";
    if (f == &ip_format_webp)
        return "webpload";
    return "heifload";
}

/* Every file of `v`: decodes with the variant's size and `bands`, by the
 * loader of its format, with no EXIF, XMP or ICC. */
static void expect_files(const proc_variant *v, int bands, int want_files)
{
    EXPECT_EQ_INT(v->n_more + 1, want_files);
    for (int k = 0; k <= v->n_more; k++) {
        proc_file f = proc_variant_file(v, k);
        VipsImage *im = vips_image_new_from_buffer(f.data, f.len, "", NULL);
        CHECK(im != NULL);
        const char *loader = "";
        (void)vips_image_get_string(im, "vips-loader", &loader);
        fprintf(stderr, "%s.%s: %zu bytes, %dx%d, %d bands, %s\n", ip_variant_name(v->kind),
                f.format->name, f.len, im->Xsize, im->Ysize, im->Bands, loader);
        EXPECT_EQ_INT(im->Xsize, v->width);
        EXPECT_EQ_INT(im->Ysize, v->height);
        EXPECT_EQ_INT(im->Bands, bands);
        EXPECT(strncmp(loader, loader_prefix(f.format), strlen(loader_prefix(f.format))) == 0);
        EXPECT(!vips_image_get_typeof(im, VIPS_META_EXIF_NAME));
        EXPECT(!vips_image_get_typeof(im, VIPS_META_XMP_NAME));
        EXPECT(!vips_image_get_typeof(im, VIPS_META_ICC_NAME));
        EXPECT(memmem(f.data, f.len, "Exif", 4) == NULL);
        if (f.format == &ip_format_avif) {
            const char *comp = "";
            (void)vips_image_get_string(im, "heif-compression", &comp);
            EXPECT_EQ_STR(comp, "av1");
        }
        g_object_unref(im);
    }
}

/* Defaults plus AVIF: JPEG, WebP and AVIF of each kind at the default
 * sizes, version 1, and a placeholder with the picture's shape. */
static void test_formats(void)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_gps_jpeg(1600, 900, &buf, &len) == 0);
    proc_settings s;
    proc_settings_default(&s);
    proc_recipe r;
    proc_recipe_from_settings(&s, &r);
    for (int i = 0; i < IP_VARIANT_COUNT; i++)
        r.preset[i].avif = true;
    proc_variants out;
    make(buf, len, IP_VARIANT_MASK_ALL, &r, &out);
    g_free(buf);
    CHECK(out.n == 3);
    int sizes[3][2] = {{320, 320}, {1280, 720}, {1280, 720}};
    for (int i = 0; i < 3; i++) {
        EXPECT_EQ_INT(out.v[i].width, sizes[i][0]);
        EXPECT_EQ_INT(out.v[i].height, sizes[i][1]);
        EXPECT_EQ_INT(out.v[i].preset_version, 1);
        EXPECT(out.v[i].format == &ip_format_jpeg);
        expect_files(&out.v[i], 3, 3);
        EXPECT(out.v[i].more[0].format == &ip_format_webp);
        EXPECT(out.v[i].more[1].format == &ip_format_avif);
    }
    uint8_t hash[PROC_THUMBHASH_MAX];
    size_t n = proc_thumbhash_unbase64(out.placeholder.thumbhash, hash);
    CHECK(n >= 5);
    uint8_t px[PROC_THUMBHASH_DECODE_SIDE * PROC_THUMBHASH_DECODE_SIDE * 4];
    int dw, dh;
    CHECK(proc_thumbhash_decode(hash, n, &dw, &dh, px) == 0);
    fprintf(stderr, "placeholder %s %s: %dx%d\n", out.placeholder.thumbhash, out.placeholder.color,
            dw, dh);
    EXPECT(fabs(log(((double)dw / dh) / (16.0 / 9.0))) < 0.2);
    EXPECT_EQ_INT(strlen(out.placeholder.color), 7);
    proc_variants_fini(&out);
}

/* A source with alpha: PNG, WebP and AVIF, all with 4 bands. */
static void test_alpha_formats(void)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_PNG_ALPHA, 600, 400, &buf, &len) == 0);
    proc_settings s;
    proc_settings_default(&s);
    proc_recipe r;
    proc_recipe_from_settings(&s, &r);
    r.preset[IP_VARIANT_RESIZED - 1].avif = true;
    proc_variants out;
    make(buf, len, ip_variant_bit(IP_VARIANT_RESIZED) | ip_variant_bit(IP_VARIANT_THUMBNAIL), &r,
         &out);
    g_free(buf);
    CHECK(out.n == 2);
    EXPECT(out.v[0].format == &ip_format_png);
    expect_files(&out.v[0], 4, 2); /* thumbnail: png, webp */
    EXPECT(out.v[1].format == &ip_format_png);
    expect_files(&out.v[1], 4, 3); /* resized: png, webp, avif */
    /* the transparent quarter stays transparent in the WebP */
    VipsImage *im =
        vips_image_new_from_buffer(out.v[1].more[0].data, out.v[1].more[0].len, "", NULL);
    CHECK(im != NULL);
    double *vec = NULL;
    int nb = 0;
    CHECK(vips_getpoint(im, &vec, &nb, im->Xsize - 10, im->Ysize - 10, NULL) == 0);
    EXPECT(nb == 4 && vec[3] < 10);
    g_free(vec);
    g_object_unref(im);
    proc_variants_fini(&out);
}

/* Cover: exactly the box (also enlarging a small source); inside: within
 * the box, aspect kept, never enlarged; a format turned off is not made. */
static void test_geometry(void)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_JPEG, 1000, 500, &buf, &len) == 0);
    proc_settings s;
    proc_settings_default(&s);
    proc_recipe r;
    proc_recipe_from_settings(&s, &r);
    Imageproc__Preset *t = &r.preset[0], *z = &r.preset[1], *w = &r.preset[2];
    t->width = 150, t->height = 300, t->webp = false;
    z->width = 400, z->height = 400;
    z->version = 3;
    w->width = 2000, w->height = 100, w->watermark = NULL;
    proc_variants out;
    make(buf, len, IP_VARIANT_MASK_ALL, &r, &out);
    g_free(buf);
    CHECK(out.n == 3);
    EXPECT_EQ_INT(out.v[0].width, 150);
    EXPECT_EQ_INT(out.v[0].height, 300);
    EXPECT_EQ_INT(out.v[0].n_more, 0);
    EXPECT_EQ_INT(out.v[1].width, 400);
    EXPECT_EQ_INT(out.v[1].height, 200);
    EXPECT_EQ_INT(out.v[1].preset_version, 3);
    EXPECT_EQ_INT(out.v[2].width, 200);
    EXPECT_EQ_INT(out.v[2].height, 100);
    expect_files(&out.v[0], 3, 1);
    expect_files(&out.v[1], 3, 2);
    proc_variants_fini(&out);

    CHECK(proc_fixture_make(FX_JPEG, 120, 90, &buf, &len) == 0);
    t->width = 200, t->height = 200;
    z->width = 1000, z->height = 1000;
    make(buf, len, ip_variant_bit(IP_VARIANT_THUMBNAIL) | ip_variant_bit(IP_VARIANT_RESIZED), &r,
         &out);
    g_free(buf);
    EXPECT_EQ_INT(out.v[0].width, 200);
    EXPECT_EQ_INT(out.v[0].height, 200);
    EXPECT_EQ_INT(out.v[1].width, 120);
    EXPECT_EQ_INT(out.v[1].height, 90);
    proc_variants_fini(&out);
}

/* An opaque red w x h logo, decoded as the job decodes one. */
static VipsImage *red_logo(int w, int h)
{
    void *buf = NULL;
    size_t len = 0;
    double red[4] = {255, 0, 0, 255};
    flat_png(w, h, 4, red, &buf, &len);
    VipsImage *logo = NULL;
    char err[256];
    CHECK(proc_logo_decode(buf, len, &logo, err, sizeof(err)) == IP_OK);
    g_free(buf);
    return logo;
}

static void expect_px(VipsImage *im, int x, int y, const double want[3], const char *what)
{
    double *vec = NULL;
    int n = 0;
    CHECK(vips_getpoint(im, &vec, &n, x, y, NULL) == 0);
    bool ok = n >= 3;
    for (int k = 0; k < 3 && ok; k++)
        ok = fabs(vec[k] - want[k]) <= 16;
    if (!ok)
        fprintf(stderr, "%s: pixel %d,%d is %.0f,%.0f,%.0f, want %.0f,%.0f,%.0f\n", what, x, y,
                vec[0], vec[1], vec[2], want[0], want[1], want[2]);
    EXPECT(ok);
    g_free(vec);
}

/* A logo at each position: a grey 400x300 picture, a red 40x20 logo at
 * scale 0.25 (100x50), margin 0.1 (30 pixels), opacity 0.5: inside the mark
 * the pixels are half red, half grey; outside they stay grey. */
static void test_logo(void)
{
    void *buf = NULL;
    size_t len = 0;
    double grey[4] = {128, 128, 128, 255};
    flat_png(400, 300, 3, grey, &buf, &len);
    VipsImage *logo = red_logo(40, 20);
    proc_settings s;
    proc_settings_default(&s);
    proc_recipe r;
    proc_recipe_from_settings(&s, &r);
    Imageproc__Preset *p = &r.preset[IP_VARIANT_WATERMARKED - 1];
    p->webp = false;
    p->jpeg_quality = 95;
    Imageproc__Watermark *wm = p->watermark;
    CHECK(wm != NULL);
    wm->text = (char *)"";
    wm->logo_key = (char *)"p/logo/"
                           "0000000000000000000000000000000000000000000000000000000000000000.png";
    wm->margin = 0.1;
    wm->scale = 0.25;
    wm->opacity = 0.5;
    r.logo[IP_VARIANT_WATERMARKED - 1] = logo;
    struct {
        Imageproc__WatermarkPosition pos;
        int x, y;   /* the mark's centre */
        int ox, oy; /* a point outside it */
    } cases[] = {
        {IMAGEPROC__WATERMARK_POSITION__WATERMARK_TOP_LEFT, 80, 55, 320, 245},
        {IMAGEPROC__WATERMARK_POSITION__WATERMARK_TOP_RIGHT, 320, 55, 80, 245},
        {IMAGEPROC__WATERMARK_POSITION__WATERMARK_BOTTOM_LEFT, 80, 245, 320, 55},
        {IMAGEPROC__WATERMARK_POSITION__WATERMARK_BOTTOM_RIGHT, 320, 245, 80, 55},
        {IMAGEPROC__WATERMARK_POSITION__WATERMARK_CENTER, 200, 150, 80, 55},
    };
    double mixed[3] = {191.5, 64, 64};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wm->position = cases[i].pos;
        proc_variants out;
        make(buf, len, ip_variant_bit(IP_VARIANT_WATERMARKED), &r, &out);
        CHECK(out.n == 1);
        VipsImage *im = vips_image_new_from_buffer(out.v[0].data, out.v[0].len, "", NULL);
        CHECK(im != NULL);
        const char *what = ip_watermark_position_name(cases[i].pos);
        expect_px(im, cases[i].x, cases[i].y, mixed, what);
        /* the mark's edges: 100x50 from 30 pixels in */
        expect_px(im, cases[i].x - 45, cases[i].y, mixed, what);
        expect_px(im, cases[i].x + 45, cases[i].y - 22, mixed, what);
        expect_px(im, cases[i].x - 58, cases[i].y, grey, what);
        expect_px(im, cases[i].ox, cases[i].oy, grey, what);
        g_object_unref(im);
        proc_variants_fini(&out);
    }
    g_object_unref(logo);
    g_free(buf);
}

/* A text mark goes where the position says too. */
static void test_text_position(void)
{
    void *buf = NULL;
    size_t len = 0;
    double grey[4] = {128, 128, 128, 255};
    flat_png(800, 600, 3, grey, &buf, &len);
    proc_settings s;
    proc_settings_default(&s);
    proc_recipe r;
    proc_recipe_from_settings(&s, &r);
    Imageproc__Watermark *wm = r.preset[IP_VARIANT_WATERMARKED - 1].watermark;
    wm->position = IMAGEPROC__WATERMARK_POSITION__WATERMARK_TOP_LEFT;
    proc_variants out;
    make(buf, len, ip_variant_bit(IP_VARIANT_WATERMARKED), &r, &out);
    g_free(buf);
    VipsImage *im = vips_image_new_from_buffer(out.v[0].data, out.v[0].len, "", NULL);
    CHECK(im != NULL);
    double tl = 0, br = 0;
    VipsImage *a = NULL, *b = NULL;
    CHECK(vips_extract_area(im, &a, 0, 0, 400, 150, NULL) == 0);
    CHECK(vips_extract_area(im, &b, 400, 450, 400, 150, NULL) == 0);
    CHECK(vips_deviate(a, &tl, NULL) == 0);
    CHECK(vips_deviate(b, &br, NULL) == 0);
    fprintf(stderr, "deviation top-left %.1f, bottom-right %.1f\n", tl, br);
    EXPECT(tl > 5);
    EXPECT(br < 1);
    g_object_unref(a);
    g_object_unref(b);
    g_object_unref(im);
    proc_variants_fini(&out);
}

/* Logos over 4 MiB or 4096 pixels a side, or not PNG, are refused. */
static void test_logo_limits(void)
{
    void *buf = NULL;
    size_t len = 0;
    double red[4] = {255, 0, 0, 255};
    VipsImage *logo = NULL;
    char err[256];
    flat_png(4097, 8, 4, red, &buf, &len);
    EXPECT(proc_logo_decode(buf, len, &logo, err, sizeof(err)) == IP_RESOURCE_EXHAUSTED);
    fprintf(stderr, "%s\n", err);
    EXPECT(strstr(err, "4097x8") != NULL);
    g_free(buf);
    void *big = calloc(1, PROC_LOGO_MAX_BYTES + 1);
    CHECK(big != NULL);
    memcpy(big, "\x89PNG\r\n\x1a\n", 8);
    EXPECT(proc_logo_decode(big, PROC_LOGO_MAX_BYTES + 1, &logo, err, sizeof(err)) ==
           IP_RESOURCE_EXHAUSTED);
    free(big);
    CHECK(proc_fixture_make(FX_JPEG, 64, 64, &buf, &len) == 0);
    EXPECT(proc_logo_decode(buf, len, &logo, err, sizeof(err)) == IP_INVALID_ARGUMENT);
    g_free(buf);
    EXPECT(logo == NULL);
    /* a grey PNG without alpha comes out RGBA */
    double g[4] = {90, 0, 0, 0};
    flat_png(30, 20, 1, g, &buf, &len);
    CHECK(proc_logo_decode(buf, len, &logo, err, sizeof(err)) == IP_OK);
    EXPECT_EQ_INT(logo->Bands, 4);
    EXPECT_EQ_INT(logo->BandFmt, VIPS_FORMAT_UCHAR);
    /* kept by key, a new reference each time */
    proc_logo_keep("p/logo/a.png", logo);
    VipsImage *again = proc_logo_cached("p/logo/a.png");
    EXPECT(again == logo);
    EXPECT(proc_logo_cached("p/logo/b.png") == NULL);
    if (again)
        g_object_unref(again);
    g_object_unref(logo);
    g_free(buf);
    proc_logo_free();
}

static const ip_test_case tests[] = {
    {"presets.formats", test_formats},
    {"presets.alpha_formats", test_alpha_formats},
    {"presets.geometry", test_geometry},
    {"presets.logo", test_logo},
    {"presets.text_position", test_text_position},
    {"presets.logo_limits", test_logo_limits},
};

int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0]))
        return 2;
    proc_variants_global_init(1, 0);
    int rc = ip_test_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
    proc_logo_free();
    vips_shutdown();
    return rc;
}
