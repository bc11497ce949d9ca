/* gw_query_test.c — query validation: every bad value names its parameter. */
#include <string.h>

#include "gw_query.h"
#include "ip_testing.h"

static ip_status list(const char *qs, gw_list_query *q, const char **param)
{
    char buf[512];
    gw_kv kv[16];
    snprintf(buf, sizeof buf, "%s", qs);
    int n = gw_query_split(buf, kv, 16);
    if (n < 0)
        return IP_INTERNAL;
    char d[256];
    *param = NULL;
    return gw_query_list(kv, (size_t)n, q, param, d, sizeof d);
}

static void test_list(void)
{
    gw_list_query q;
    const char *p;
    EXPECT(list("", &q, &p) == IP_OK && q.limit == 24 && !q.has_cursor &&
           q.mode == IP_VARIANT_NONE);
    EXPECT(list("limit=100&mode=resized", &q, &p) == IP_OK && q.limit == 100 &&
           q.mode == IP_VARIANT_RESIZED);
    EXPECT(list("limit=1", &q, &p) == IP_OK && q.limit == 1);
    const char *bad_limits[] = {"limit=0",     "limit=101",  "limit=-1",
                                "limit=abc",   "limit=",     "limit=1e2",
                                "limit=%2010", "limit=0100", "limit=1&limit=2"};
    for (size_t i = 0; i < sizeof bad_limits / sizeof *bad_limits; i++)
        EXPECT(list(bad_limits[i], &q, &p) == IP_INVALID_ARGUMENT && p && !strcmp(p, "limit"));
    EXPECT(list("mode=Thumbnail", &q, &p) == IP_INVALID_ARGUMENT && !strcmp(p, "mode"));
    EXPECT(list("mode=", &q, &p) == IP_INVALID_ARGUMENT && !strcmp(p, "mode"));
    EXPECT(list("mode=original", &q, &p) == IP_INVALID_ARGUMENT && !strcmp(p, "mode"));
    EXPECT(list("last_created_at=2026-01-02T03:04:05.123456Z&last_id="
                "0190F2A4-5B6C-7D8E-9F00-112233445566",
                &q, &p) == IP_OK &&
           q.has_cursor && !strcmp(q.last_id, "0190f2a4-5b6c-7d8e-9f00-112233445566") &&
           q.last_created_at_us % 1000000 == 123456);
    EXPECT(list("last_created_at=2026-01-02T03:04:05Z", &q, &p) == IP_INVALID_ARGUMENT &&
           !strcmp(p, "last_id"));
    EXPECT(list("last_id=0190f2a4-5b6c-7d8e-9f00-112233445566", &q, &p) == IP_INVALID_ARGUMENT &&
           !strcmp(p, "last_created_at"));
    EXPECT(list("last_created_at=yesterday&last_id=0190f2a4-5b6c-7d8e-9f00-112233445566", &q, &p) ==
               IP_INVALID_ARGUMENT &&
           !strcmp(p, "last_created_at"));
    EXPECT(list("last_created_at=2026-01-02T03:04:05Z&last_id=nope", &q, &p) ==
               IP_INVALID_ARGUMENT &&
           !strcmp(p, "last_id"));
    EXPECT(list("unknown=1&limit=5", &q, &p) == IP_OK && q.limit == 5);
}

static void test_ops(void)
{
    unsigned m;
    char d[256];
    EXPECT(gw_ops_parse("thumbnail", &m, d, sizeof d) == IP_OK &&
           m == ip_variant_bit(IP_VARIANT_THUMBNAIL));
    EXPECT(gw_ops_parse("watermarked,thumbnail,thumbnail", &m, d, sizeof d) == IP_OK &&
           m == (ip_variant_bit(IP_VARIANT_THUMBNAIL) | ip_variant_bit(IP_VARIANT_WATERMARKED)));
    EXPECT(gw_ops_parse("thumbnail,resized,watermarked", &m, d, sizeof d) == IP_OK &&
           m == IP_VARIANT_MASK_ALL);
    EXPECT(gw_ops_parse("", &m, d, sizeof d) == IP_INVALID_ARGUMENT);
    /* The sentence lists the names the table knows. */
    EXPECT(gw_ops_parse("blur", &m, d, sizeof d) == IP_INVALID_ARGUMENT);
    EXPECT_EQ_STR(d, "ops must be a comma-separated list of thumbnail, resized, watermarked "
                     "(got \"blur\")");
    EXPECT(gw_ops_parse("thumbnail,", &m, d, sizeof d) == IP_INVALID_ARGUMENT);
    EXPECT(gw_ops_parse("blur", &m, d, sizeof d) == IP_INVALID_ARGUMENT);
    EXPECT(gw_ops_parse("thumbnail, resized", &m, d, sizeof d) == IP_INVALID_ARGUMENT);
}

static void test_variant_events_split(void)
{
    gw_kv kv[4];
    gw_variant_choice v;
    const char *p;
    char d[256];
    kv[0] = (gw_kv){"variant", "original"};
    EXPECT(gw_query_variant(kv, 1, &v, &p, d, sizeof d) == IP_OK && v.original &&
           v.kind == IP_VARIANT_NONE);
    kv[0] = (gw_kv){"variant", "watermarked"};
    EXPECT(gw_query_variant(kv, 1, &v, &p, d, sizeof d) == IP_OK && !v.original &&
           v.kind == IP_VARIANT_WATERMARKED);
    kv[0] = (gw_kv){"variant", "big"};
    EXPECT(gw_query_variant(kv, 1, &v, &p, d, sizeof d) == IP_INVALID_ARGUMENT &&
           !strcmp(p, "variant"));
    EXPECT_EQ_STR(d, "variant must be one of thumbnail, resized, watermarked, original");
    EXPECT(gw_query_variant(kv, 0, &v, &p, d, sizeof d) == IP_OK && !v.original &&
           v.kind == IP_VARIANT_NONE && v.format == NULL);
    /* format: a name of the format table; not with the original; not twice. */
    kv[0] = (gw_kv){"format", "webp"};
    EXPECT(gw_query_variant(kv, 1, &v, &p, d, sizeof d) == IP_OK && v.format == &ip_format_webp &&
           v.kind == IP_VARIANT_NONE);
    kv[1] = (gw_kv){"variant", "thumbnail"};
    EXPECT(gw_query_variant(kv, 2, &v, &p, d, sizeof d) == IP_OK && v.format == &ip_format_webp &&
           v.kind == IP_VARIANT_THUMBNAIL);
    const char *bad_formats[] = {"original", "gif", "WEBP", "", "jpg", "webp "};
    for (size_t i = 0; i < sizeof bad_formats / sizeof bad_formats[0]; i++) {
        kv[0] = (gw_kv){"format", bad_formats[i]};
        EXPECT(gw_query_variant(kv, 2, &v, &p, d, sizeof d) == IP_INVALID_ARGUMENT &&
               !strcmp(p, "format"));
        EXPECT_EQ_STR(d, "format must be one of jpeg, png, webp, avif");
    }
    kv[0] = (gw_kv){"format", "png"};
    kv[1] = (gw_kv){"variant", "original"};
    EXPECT(gw_query_variant(kv, 2, &v, &p, d, sizeof d) == IP_INVALID_ARGUMENT &&
           !strcmp(p, "format"));
    kv[1] = (gw_kv){"format", "jpeg"};
    EXPECT(gw_query_variant(kv, 2, &v, &p, d, sizeof d) == IP_INVALID_ARGUMENT &&
           !strcmp(p, "format"));
    gw_events_query e;
    kv[0] =
        (gw_kv){"id", "0190f2a4-5b6c-7d8e-9f00-112233445566,0190f2a4-5b6c-7d8e-9f00-112233445567"};
    kv[1] = (gw_kv){"id", "0190f2a4-5b6c-7d8e-9f00-112233445568"};
    EXPECT(gw_query_events(kv, 2, &e, &p, d, sizeof d) == IP_OK && e.nids == 3);
    kv[1] = (gw_kv){"id", "x"};
    EXPECT(gw_query_events(kv, 2, &e, &p, d, sizeof d) == IP_INVALID_ARGUMENT && !strcmp(p, "id"));
    kv[0] = (gw_kv){"id", ""};
    EXPECT(gw_query_events(kv, 1, &e, &p, d, sizeof d) == IP_INVALID_ARGUMENT);
    char qs[] = "a=1&b=%41%42&c&&d=x+y&e=%zz";
    gw_kv out[8];
    EXPECT(gw_query_split(qs, out, 8) == -1);
    char qs2[] = "a=1&b=%41%42&c&&d=x+y";
    int n = gw_query_split(qs2, out, 8);
    EXPECT(n == 4 && !strcmp(out[1].value, "AB") && !strcmp(out[2].key, "c") &&
           !strcmp(out[2].value, "") && !strcmp(out[3].value, "x y"));
    char qs3[] = "a&b&c";
    EXPECT(gw_query_split(qs3, out, 2) == -1);
}

/* sha256= on the listing, on_duplicate on an upload. */
static void test_sha256_on_duplicate(void)
{
    gw_list_query q;
    const char *p;
    EXPECT(list("", &q, &p) == IP_OK && q.sha256[0] == '\0');
    EXPECT(list("sha256=BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD&mode="
                "thumbnail",
                &q, &p) == IP_OK &&
           !strcmp(q.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") &&
           q.mode == IP_VARIANT_THUMBNAIL);
    const char *bad_sha[] = {
        "sha256=",
        "sha256=abc",
        "sha256=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
        "sha256=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015adf",
        "sha256=ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "sha256=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad&sha256="
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"};
    for (size_t i = 0; i < sizeof bad_sha / sizeof *bad_sha; i++)
        EXPECT(list(bad_sha[i], &q, &p) == IP_INVALID_ARGUMENT && p && !strcmp(p, "sha256") &&
               q.sha256[0] == '\0');
    gw_kv kv[3] = {{"on_duplicate", "new"}, {"ops", "thumbnail"}, {"other", "x"}};
    const char *ops = NULL, *dup = NULL;
    char d[256];
    p = NULL;
    EXPECT(gw_query_upload(kv, 3, &ops, &dup, &p, d, sizeof d) == IP_OK &&
           !strcmp(ops, "thumbnail") && !strcmp(dup, "new"));
    EXPECT(gw_query_upload(kv + 2, 1, &ops, &dup, &p, d, sizeof d) == IP_OK && !ops && !dup);
    kv[1] = (gw_kv){"on_duplicate", "existing"};
    EXPECT(gw_query_upload(kv, 2, &ops, &dup, &p, d, sizeof d) == IP_INVALID_ARGUMENT &&
           !strcmp(p, "on_duplicate"));
    gw_on_duplicate od = GW_ON_DUP_NEW;
    EXPECT(gw_on_duplicate_parse("existing", &od, d, sizeof d) == IP_OK &&
           od == GW_ON_DUP_EXISTING);
    EXPECT(gw_on_duplicate_parse("new", &od, d, sizeof d) == IP_OK && od == GW_ON_DUP_NEW);
    const char *bad_dup[] = {"", "New", "replace", "existing "};
    for (size_t i = 0; i < sizeof bad_dup / sizeof *bad_dup; i++)
        EXPECT(gw_on_duplicate_parse(bad_dup[i], &od, d, sizeof d) == IP_INVALID_ARGUMENT);
    EXPECT_EQ_STR(d, "on_duplicate must be existing or new (got \"existing \")");
}

static const ip_test_case tests[] = {
    IP_TEST(list),
    IP_TEST(sha256_on_duplicate),
    IP_TEST(ops),
    IP_TEST(variant_events_split),
};

IP_TEST_MAIN(tests)
