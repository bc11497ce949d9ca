/* ip_presets_test.c — the preset defaults, bounds and equality (ip_presets.h). */
#include "ip_presets.h"
#include "ip_keys.h"
#include "ip_log.h"
#include "ip_testing.h"

#include <math.h>
#include <string.h>

static void test_defaults(void)
{
    for (int i = 0; i < IP_VARIANT_COUNT; i++) {
        Imageproc__Preset p;
        Imageproc__Watermark wm;
        char err[200] = "";
        CHECK_ST(ip_preset_default(ip_variants[i].kind, &p, &wm), IP_OK, ip_variants[i].name);
        EXPECT_ST(ip_preset_check(&p, err, sizeof err), IP_OK, err);
        EXPECT_EQ_INT(p.version, 1);
        EXPECT(p.webp && !p.avif);
        EXPECT_EQ_INT(ip_preset_has_watermark(&p), ip_variants[i].kind == IP_VARIANT_WATERMARKED);
    }
    Imageproc__Preset p;
    Imageproc__Watermark wm;
    CHECK(ip_preset_default(IP_VARIANT_THUMBNAIL, &p, &wm) == IP_OK);
    EXPECT(p.width == 320 && p.height == 320 && p.fit == IMAGEPROC__PRESET_FIT__FIT_COVER);
    CHECK(ip_preset_default(IP_VARIANT_WATERMARKED, &p, &wm) == IP_OK);
    EXPECT(p.width == 1280 && p.fit == IMAGEPROC__PRESET_FIT__FIT_INSIDE);
    EXPECT_EQ_STR(p.watermark->text, "ImageProcessor");
    EXPECT(ip_preset_default(IP_VARIANT_NONE, &p, &wm) == IP_INVALID_ARGUMENT);
}

/* Each broken field is refused and named. */
static void test_bounds(void)
{
    Imageproc__Preset p;
    Imageproc__Watermark wm;
    char err[200];
#define REFUSED(mutation, field)                                                                   \
    do {                                                                                           \
        CHECK(ip_preset_default(IP_VARIANT_WATERMARKED, &p, &wm) == IP_OK);                        \
        mutation;                                                                                  \
        err[0] = '\0';                                                                             \
        EXPECT_ST(ip_preset_check(&p, err, sizeof err), IP_INVALID_ARGUMENT, #mutation);           \
        EXPECT(strstr(err, field) != NULL);                                                        \
    } while (0)
    REFUSED(p.kind = IP_VARIANT_NONE, "kind");
    REFUSED(p.width = 0, "width");
    REFUSED(p.height = IP_PRESET_SIZE_MAX + 1, "height");
    REFUSED(p.fit = IMAGEPROC__PRESET_FIT__PRESET_FIT_UNSPECIFIED, "fit");
    REFUSED(p.jpeg_quality = 0, "jpeg_quality");
    REFUSED(p.webp_quality = 101, "webp_quality");
    REFUSED(p.avif_quality = -1, "avif_quality");
    REFUSED(wm.text = (char *)"\xff\xfe", "watermark.text");
    REFUSED(wm.logo_key = (char *)"o/secret", "watermark.logo_key");
    REFUSED(wm.position = 9, "watermark.position");
    REFUSED(wm.margin = 0.5, "watermark.margin");
    REFUSED(wm.scale = 0, "watermark.scale");
    REFUSED(wm.opacity = NAN, "watermark.opacity");
    REFUSED(wm.opacity = 1.5, "watermark.opacity");
    static char long_text[IP_PRESET_WATERMARK_TEXT_MAX + 2];
    memset(long_text, 'x', sizeof long_text - 1);
    REFUSED(wm.text = long_text, "watermark.text");
#undef REFUSED

    /* The edges themselves are fine, and so is no watermark at all. */
    CHECK(ip_preset_default(IP_VARIANT_WATERMARKED, &p, &wm) == IP_OK);
    p.width = IP_PRESET_SIZE_MAX;
    p.height = 1;
    p.jpeg_quality = p.webp_quality = p.avif_quality = 100;
    wm.margin = IP_PRESET_MARGIN_MAX;
    wm.scale = 1;
    wm.opacity = 0;
    static char hex[65] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char key[IP_KEY_MAX];
    CHECK(ip_key_logo(key, hex) == IP_OK);
    wm.logo_key = key;
    EXPECT_ST(ip_preset_check(&p, err, sizeof err), IP_OK, err);
    p.watermark = NULL;
    EXPECT_ST(ip_preset_check(&p, err, sizeof err), IP_OK, err);
    EXPECT(ip_preset_check(NULL, err, sizeof err) == IP_INVALID_ARGUMENT);
}

static void test_same(void)
{
    Imageproc__Preset a, b;
    Imageproc__Watermark wa, wb;
    CHECK(ip_preset_default(IP_VARIANT_WATERMARKED, &a, &wa) == IP_OK);
    CHECK(ip_preset_default(IP_VARIANT_WATERMARKED, &b, &wb) == IP_OK);
    b.version = 7;
    b.updated_at_us = 123;
    EXPECT(ip_preset_same(&a, &b));
    wb.text = (char *)"Other";
    EXPECT(!ip_preset_same(&a, &b));
    wb.text = wa.text;
    wb.opacity = 0.5;
    EXPECT(!ip_preset_same(&a, &b));
    wb.opacity = wa.opacity;
    b.avif = true;
    EXPECT(!ip_preset_same(&a, &b));
    b.avif = false;
    /* A watermark with neither text nor logo is the same as none. */
    wa.text = (char *)"";
    b.watermark = NULL;
    EXPECT(ip_preset_same(&a, &b));
    EXPECT(!ip_preset_has_watermark(&a));
}

static void test_names(void)
{
    EXPECT_EQ_STR(ip_preset_fit_name(IMAGEPROC__PRESET_FIT__FIT_COVER), "cover");
    EXPECT(ip_preset_fit_parse("inside") == IMAGEPROC__PRESET_FIT__FIT_INSIDE);
    EXPECT(ip_preset_fit_parse("Cover") == IMAGEPROC__PRESET_FIT__PRESET_FIT_UNSPECIFIED);
    EXPECT(ip_preset_fit_name((Imageproc__PresetFit)3) == NULL);
    for (int i = 1; i <= 5; i++) {
        const char *n = ip_watermark_position_name((Imageproc__WatermarkPosition)i);
        CHECK(n != NULL);
        EXPECT_EQ_INT(ip_watermark_position_parse(n), i);
    }
    EXPECT(ip_watermark_position_parse(NULL) == 0 && ip_watermark_position_parse("left") == 0);
}

static const ip_test_case tests[] = {
    IP_TEST(defaults),
    IP_TEST(bounds),
    IP_TEST(same),
    IP_TEST(names),
};

int main(int argc, char **argv)
{
    ip_log_init("ip_presets_test", IP_LOG_WARN);
    return ip_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
