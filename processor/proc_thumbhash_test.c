/* proc_thumbhash_test.c — unit tests of the placeholder (ctest
 * processor.thumbhash.*): ThumbHash encode and decode, base64, the dominant
 * colour, and the placeholder made from a libvips picture.
 *
 * Pictures are made in memory: a two-colour split (left half one colour,
 * right half another) whose average is known, in wide, tall and square
 * shapes; a solid colour; and a picture transparent in its right half.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "ip_testing.h"
#include "proc_placeholder.h"
#include "proc_thumbhash.h"

/* w x h RGBA: left half (r0,g0,b0), right half (r1,g1,b1) with alpha a1. */
static uint8_t *split_picture(int w, int h, const uint8_t c0[3], const uint8_t c1[3], uint8_t a1)
{
    uint8_t *px = malloc((size_t)w * h * 4);
    CHECK(px != NULL);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + 4 * (y * w + x);
            const uint8_t *c = x < w / 2 ? c0 : c1;
            memcpy(p, c, 3);
            p[3] = x < w / 2 ? 255 : a1;
        }
    return px;
}

/* Encodes, round-trips base64, decodes; checks the decoded picture's aspect
 * ratio against w/h and its average colour against `avg` (opaque pixels). */
static void expect_roundtrip(int w, int h, const uint8_t *px, const double avg[3])
{
    uint8_t hash[PROC_THUMBHASH_MAX], back[PROC_THUMBHASH_MAX];
    size_t n = proc_thumbhash_encode(w, h, px, hash);
    CHECK(n >= 5 && n <= PROC_THUMBHASH_MAX);
    char b64[PROC_THUMBHASH_B64_MAX];
    size_t bl = proc_thumbhash_base64(hash, n, b64);
    EXPECT_EQ_INT(bl, (n + 2) / 3 * 4);
    EXPECT_EQ_INT(proc_thumbhash_unbase64(b64, back), n);
    EXPECT(memcmp(hash, back, n) == 0);

    uint8_t out[PROC_THUMBHASH_DECODE_SIDE * PROC_THUMBHASH_DECODE_SIDE * 4];
    int dw = 0, dh = 0;
    CHECK(proc_thumbhash_decode(hash, n, &dw, &dh, out) == 0);
    double want = (double)w / h, got = (double)dw / dh;
    /* The ratio travels as a count of luminance terms (1..7 over 7): within
     * half a term of the shorter side, and the same orientation. */
    fprintf(stderr, "%dx%d -> hash %zu bytes %s -> %dx%d (ratio %.3f, want %.3f)\n", w, h, n, b64,
            dw, dh, got, want);
    EXPECT(fabs(log(got / want)) < 0.2);
    EXPECT((w > h) == (dw > dh));
    EXPECT((w < h) == (dw < dh));
    if (!avg)
        return;
    double sum[3] = {0, 0, 0};
    for (int i = 0; i < dw * dh; i++)
        for (int k = 0; k < 3; k++)
            sum[k] += out[4 * i + k];
    for (int k = 0; k < 3; k++) {
        double m = sum[k] / (dw * dh);
        if (fabs(m - avg[k]) > 20)
            fprintf(stderr, "channel %d averages %.1f, want %.1f\n", k, m, avg[k]);
        EXPECT(fabs(m - avg[k]) <= 20);
    }
}

static void shape(int w, int h)
{
    static const uint8_t c0[3] = {200, 40, 40}, c1[3] = {40, 40, 200};
    uint8_t *px = split_picture(w, h, c0, c1, 255);
    double avg[3] = {120, 40, 120};
    expect_roundtrip(w, h, px, avg);
    free(px);
}

static void test_wide(void)
{
    shape(100, 40);
}

static void test_tall(void)
{
    shape(30, 100);
}

static void test_square(void)
{
    shape(64, 64);
}

/* A solid picture: that colour back from the hash and as the dominant one. */
static void test_solid(void)
{
    static const uint8_t c[3] = {0x33, 0x99, 0xcc};
    uint8_t *px = split_picture(50, 50, c, c, 255);
    double avg[3] = {0x33, 0x99, 0xcc};
    expect_roundtrip(50, 50, px, avg);
    char col[8];
    proc_dominant_color(px, 50, 50, col);
    EXPECT_EQ_STR(col, "#3399cc");
    free(px);
}

/* The most populated colour wins, even when it is not the average. */
static void test_dominant(void)
{
    int w = 40, h = 40;
    static const uint8_t a[3] = {250, 250, 250}, b[3] = {10, 120, 10};
    uint8_t *px = split_picture(w, h, a, b, 255);
    /* three quarters green: the left half's top half turned green */
    for (int y = 0; y < h / 2; y++)
        for (int x = 0; x < w / 2; x++)
            memcpy(px + 4 * (y * w + x), b, 3);
    char col[8];
    proc_dominant_color(px, w, h, col);
    EXPECT_EQ_STR(col, "#0a780a");
    free(px);
}

/* Transparency: the hash says alpha, the decoded picture is transparent on
 * the right and opaque on the left; transparent pixels do not vote for the
 * dominant colour. */
static void test_alpha(void)
{
    static const uint8_t c0[3] = {220, 180, 20}, c1[3] = {0, 0, 0};
    int w = 80, h = 60;
    uint8_t *px = split_picture(w, h, c0, c1, 0);
    uint8_t hash[PROC_THUMBHASH_MAX];
    size_t n = proc_thumbhash_encode(w, h, px, hash);
    CHECK(n >= 6);
    EXPECT((hash[2] & 0x80) != 0);
    uint8_t out[PROC_THUMBHASH_DECODE_SIDE * PROC_THUMBHASH_DECODE_SIDE * 4];
    int dw, dh;
    CHECK(proc_thumbhash_decode(hash, n, &dw, &dh, out) == 0);
    EXPECT(dw > dh);
    int y = dh / 2;
    uint8_t left_a = out[4 * (y * dw + dw / 8) + 3], right_a = out[4 * (y * dw + dw - dw / 8) + 3];
    fprintf(stderr, "alpha left %d right %d\n", left_a, right_a);
    EXPECT(left_a > 200);
    EXPECT(right_a < 60);
    char col[8];
    proc_dominant_color(px, w, h, col);
    EXPECT_EQ_STR(col, "#dcb414");
    free(px);
}

/* Bad input: sizes out of range, short hashes, bad base64. */
static void test_bounds(void)
{
    uint8_t px[4] = {1, 2, 3, 255}, hash[PROC_THUMBHASH_MAX];
    EXPECT_EQ_INT(proc_thumbhash_encode(0, 1, px, hash), 0);
    EXPECT_EQ_INT(proc_thumbhash_encode(101, 1, px, hash), 0);
    EXPECT_EQ_INT(proc_thumbhash_encode(1, 1, px, hash) > 0, 1);
    uint8_t out[PROC_THUMBHASH_DECODE_SIDE * PROC_THUMBHASH_DECODE_SIDE * 4];
    int w, h;
    EXPECT_EQ_INT(proc_thumbhash_decode(hash, 4, &w, &h, out), -1);
    EXPECT_EQ_INT(proc_thumbhash_decode(hash, 6, &w, &h, out), -1);
    EXPECT_EQ_INT(proc_thumbhash_unbase64("abc", hash), 0);
    EXPECT_EQ_INT(proc_thumbhash_unbase64("ab$=", hash), 0);
    EXPECT_EQ_INT(proc_thumbhash_unbase64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", hash), 0);
}

/* The placeholder of a libvips picture larger than 100x100: shrunk to fit
 * (the hash keeps the 3:1 shape), the dominant colour the larger part's. */
static void test_placeholder(void)
{
    VipsImage *black = NULL, *red = NULL, *blue = NULL, *both = NULL, *u8 = NULL;
    double r[3] = {200, 30, 30}, b[3] = {30, 30, 200}, zero[3] = {0, 0, 0};
    CHECK(vips_black(&black, 300, 100, "bands", 3, NULL) == 0);
    CHECK(vips_linear(black, &red, zero, r, 3, NULL) == 0);
    CHECK(vips_linear(black, &blue, zero, b, 3, NULL) == 0);
    CHECK(vips_insert(red, blue, &both, 200, 0, NULL) == 0); /* 2/3 red, 1/3 blue */
    CHECK(vips_cast(both, &u8, VIPS_FORMAT_UCHAR, NULL) == 0);
    VipsImage *srgb = NULL;
    CHECK(vips_copy(u8, &srgb, "interpretation", VIPS_INTERPRETATION_sRGB, NULL) == 0);
    proc_placeholder ph;
    CHECK(proc_placeholder_make(srgb, &ph) == 0);
    EXPECT_EQ_STR(ph.color, "#c81e1e");
    uint8_t hash[PROC_THUMBHASH_MAX];
    size_t n = proc_thumbhash_unbase64(ph.thumbhash, hash);
    CHECK(n >= 5);
    uint8_t out[PROC_THUMBHASH_DECODE_SIDE * PROC_THUMBHASH_DECODE_SIDE * 4];
    int dw, dh;
    CHECK(proc_thumbhash_decode(hash, n, &dw, &dh, out) == 0);
    fprintf(stderr, "placeholder %s %s -> %dx%d\n", ph.thumbhash, ph.color, dw, dh);
    EXPECT(fabs(log(((double)dw / dh) / 3.0)) < 0.2);
    g_object_unref(srgb);
    g_object_unref(u8);
    g_object_unref(both);
    g_object_unref(blue);
    g_object_unref(red);
    g_object_unref(black);
}

static const ip_test_case tests[] = {
    IP_TEST(wide),     IP_TEST(tall),  IP_TEST(square), IP_TEST(solid),
    IP_TEST(dominant), IP_TEST(alpha), IP_TEST(bounds), IP_TEST(placeholder),
};

int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0]))
        return 2;
    int rc = ip_test_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
    vips_shutdown();
    return rc;
}
