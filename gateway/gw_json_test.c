/* gw_json_test.c — the info, listing item, event and configuration JSON,
 * problem+json, and the OpenAPI document's agreement with the variant table. */
#include <string.h>

#include "gw_json.h"
#include "gw_problem.h"
#include "ip_testing.h"

extern const char gw_openapi_json[];

static void test_info(void)
{
    Imageproc__Variant th = IMAGEPROC__VARIANT__INIT, rs = IMAGEPROC__VARIANT__INIT;
    th.kind = IP_VARIANT_THUMBNAIL;
    th.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    th.object_key = "v/0190f2a4-5b6c-7d8e-9f00-112233445566/thumbnail.jpg";
    th.width = 320;
    th.height = 200;
    th.size_bytes = 1234;
    th.format = "jpeg";
    rs.kind = IP_VARIANT_RESIZED;
    rs.status = IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING;
    Imageproc__Variant *vs[2] = {&th, &rs};
    Imageproc__VariantKind kinds[3] = {IP_VARIANT_THUMBNAIL, IP_VARIANT_RESIZED,
                                       IP_VARIANT_WATERMARKED};
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    img.id = "0190f2a4-5b6c-7d8e-9f00-112233445566";
    img.created_at_us = 1767322800123456LL;
    img.filename = "a.png";
    img.content_type = "image/png";
    img.size_bytes = 99;
    img.width = 640;
    img.height = 400;
    img.requested = kinds;
    img.n_requested = 3;
    img.variants = vs;
    img.n_variants = 2;
    img.status = IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING;
    json_t *j = gw_image_info_json(&img);
    EXPECT(!strcmp(json_string_value(json_object_get(j, "status")), "processing"));
    EXPECT(!strcmp(json_string_value(json_object_get(j, "created_at")),
                   "2026-01-02T03:00:00.123456Z"));
    EXPECT(json_is_null(json_object_get(j, "error")));
    json_t *v = json_object_get(j, "variants");
    EXPECT(json_object_size(v) == 3);
    EXPECT(!strcmp(json_string_value(json_object_get(json_object_get(v, "thumbnail"), "url")),
                   "/media/0190f2a4-5b6c-7d8e-9f00-112233445566/thumbnail.jpg"));
    EXPECT(json_is_null(json_object_get(json_object_get(v, "resized"), "url")));
    EXPECT(!strcmp(json_string_value(json_object_get(json_object_get(v, "watermarked"), "status")),
                   "pending"));
    json_decref(j);
    j = gw_image_item_json(&img, IP_VARIANT_NONE);
    EXPECT_EQ_STR(json_string_value(json_object_get(j, "url")),
                  "/media/0190f2a4-5b6c-7d8e-9f00-112233445566/thumbnail.jpg");
    EXPECT_EQ_STR(json_string_value(json_array_get(json_object_get(j, "ops"), 2)), "watermarked");
    json_decref(j);
    j = gw_image_item_json(&img, IP_VARIANT_RESIZED);
    EXPECT(json_is_null(json_object_get(j, "url")));
    json_decref(j);
    /* A ready variant whose key is not public has no url. */
    th.object_key = "o/0190f2a4-5b6c-7d8e-9f00-112233445566";
    j = gw_image_item_json(&img, IP_VARIANT_THUMBNAIL);
    EXPECT(json_is_null(json_object_get(j, "url")));
    json_decref(j);
}

/* The placeholder and a variant's files, versions and staleness. */
static void test_formats_and_placeholder(void)
{
    Imageproc__VariantFile fj = IMAGEPROC__VARIANT_FILE__INIT, fw = IMAGEPROC__VARIANT_FILE__INIT,
                           fa = IMAGEPROC__VARIANT_FILE__INIT, fx = IMAGEPROC__VARIANT_FILE__INIT;
    /* Stored out of order, with a format the table lacks and a repeat. */
    fa.format = "avif";
    fa.object_key = "v/0190f2a4-5b6c-7d8e-9f00-112233445566/resized.v3.avif";
    fa.size_bytes = 30;
    fj.format = "jpeg";
    fj.object_key = "v/0190f2a4-5b6c-7d8e-9f00-112233445566/resized.v3.jpg";
    fj.size_bytes = 100;
    fw.format = "webp";
    fw.object_key = "v/0190f2a4-5b6c-7d8e-9f00-112233445566/resized.v3.webp";
    fw.size_bytes = 60;
    fx.format = "gif";
    fx.object_key = "v/0190f2a4-5b6c-7d8e-9f00-112233445566/resized.v3.gif";
    Imageproc__VariantFile *files[] = {&fa, &fj, &fx, &fw, &fj};
    Imageproc__Variant rs = IMAGEPROC__VARIANT__INIT, th = IMAGEPROC__VARIANT__INIT;
    rs.kind = IP_VARIANT_RESIZED;
    rs.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    rs.object_key = fj.object_key;
    rs.format = "jpeg";
    rs.size_bytes = 100;
    rs.files = files;
    rs.n_files = 5;
    rs.preset_version = 3;
    rs.stale = true;
    th.kind = IP_VARIANT_THUMBNAIL; /* pending, from before presets */
    th.status = IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING;
    Imageproc__Variant *vs[] = {&rs, &th};
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    img.id = "0190f2a4-5b6c-7d8e-9f00-112233445566";
    img.variants = vs;
    img.n_variants = 2;
    img.thumbhash = "1QcSHQRnh493V4dIh4eXh1h4kJUI";
    img.dominant_color = "#a1b2c3";
    json_t *j = gw_image_info_json(&img);
    char *s = json_dumps(json_object_get(j, "placeholder"), JSON_COMPACT);
    EXPECT_EQ_STR(s, "{\"thumbhash\":\"1QcSHQRnh493V4dIh4eXh1h4kJUI\",\"color\":\"#a1b2c3\"}");
    free(s);
    json_t *v = json_object_get(json_object_get(j, "variants"), "resized");
    s = json_dumps(json_object_get(v, "formats"), JSON_COMPACT);
    EXPECT_EQ_STR(s, "{\"jpeg\":{\"url\":\"/media/0190f2a4-5b6c-7d8e-9f00-112233445566/"
                     "resized.v3.jpg\",\"size\":100},\"webp\":{\"url\":\"/media/"
                     "0190f2a4-5b6c-7d8e-9f00-112233445566/resized.v3.webp\",\"size\":60},"
                     "\"avif\":{\"url\":\"/media/0190f2a4-5b6c-7d8e-9f00-112233445566/"
                     "resized.v3.avif\",\"size\":30}}");
    free(s);
    EXPECT_EQ_INT(json_integer_value(json_object_get(v, "preset_version")), 3);
    EXPECT(json_is_true(json_object_get(v, "stale")));
    v = json_object_get(json_object_get(j, "variants"), "thumbnail");
    EXPECT_EQ_INT(json_integer_value(json_object_get(v, "preset_version")), 1);
    EXPECT(json_is_false(json_object_get(v, "stale")));
    EXPECT(json_is_object(json_object_get(v, "formats")) &&
           json_object_size(json_object_get(v, "formats")) == 0);
    json_decref(j);
    /* Either half missing or malformed: null. */
    const char *bad[][2] = {{"", "#a1b2c3"},     {"1QcSHQRnh493V4dIh4eXh1h4kJUI", ""},
                            {NULL, "#a1b2c3"},   {"not base64!", "#a1b2c3"},
                            {"AAAA", "a1b2c3"},  {"AAAA", "#a1b2c"},
                            {"AAAA", "#a1b2cz"}, {"AAAA", "#a1b2c3 "}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        img.thumbhash = (char *)bad[i][0];
        img.dominant_color = (char *)bad[i][1];
        j = gw_image_info_json(&img);
        EXPECTF(json_is_null(json_object_get(j, "placeholder")), "case %zu", i);
        json_decref(j);
    }
}

static void test_config(void)
{
    json_t *j = gw_config_json(IP_VARIANT_MASK_ALL, 52428800, 100000000);
    CHECK(j != NULL);
    json_t *vs = json_object_get(j, "variants");
    EXPECT_EQ_INT(json_array_size(vs), IP_VARIANT_COUNT);
    for (size_t i = 0; i < IP_VARIANT_COUNT; i++) {
        json_t *v = json_array_get(vs, i);
        EXPECT_EQ_STR(json_string_value(json_object_get(v, "name")), ip_variants[i].name);
        EXPECT_EQ_STR(json_string_value(json_object_get(v, "title")), ip_variants[i].title);
        EXPECT_EQ_INT(json_object_size(v), 2);
    }
    char *s = json_dumps(json_object_get(j, "default_ops"), JSON_COMPACT);
    EXPECT_EQ_STR(s, "[\"thumbnail\",\"resized\",\"watermarked\"]");
    free(s);
    EXPECT_EQ_INT(json_integer_value(json_object_get(j, "upload_max_bytes")), 52428800);
    EXPECT_EQ_INT(json_integer_value(json_object_get(j, "pixel_limit")), 100000000);
    EXPECT_EQ_INT(json_object_size(j), 4);
    json_decref(j);
}

/* Every enum or pattern of variant names in `node` (searched recursively):
 * *enums counts them; each must list exactly the table's names (an enum may
 * add "original"). */
static void walk_openapi(json_t *node, const char *names_re, int *enums)
{
    if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v) walk_openapi(v, names_re, enums);
        return;
    }
    if (!json_is_object(node))
        return;
    json_t *e = json_object_get(node, "enum");
    const char *first = json_string_value(json_array_get(e, 0));
    if (first && ip_variant_parse(first, strlen(first)) != IP_VARIANT_NONE) {
        (*enums)++;
        size_t n = json_array_size(e);
        bool original = n == IP_VARIANT_COUNT + 1 &&
                        !strcmp(json_string_value(json_array_get(e, n - 1)), "original");
        EXPECT(n == IP_VARIANT_COUNT || original);
        for (size_t i = 0; i < IP_VARIANT_COUNT && i < n; i++)
            EXPECT_EQ_STR(json_string_value(json_array_get(e, i)), ip_variants[i].name);
    }
    const char *pat = json_string_value(json_object_get(node, "pattern"));
    if (pat && strstr(pat, ip_variants[0].name)) {
        char want[256];
        snprintf(want, sizeof want, "^(%s)(,(%s))*$", names_re, names_re);
        EXPECT_EQ_STR(pat, want);
    }
    const char *key;
    json_t *v;
    json_object_foreach(node, key, v) walk_openapi(v, names_re, enums);
}

static void test_openapi_variants(void)
{
    json_t *doc = json_loads(gw_openapi_json, 0, NULL);
    CHECK(doc != NULL);
    CHECK(json_object_get(json_object_get(doc, "paths"), "/config") != NULL);
    char names_re[128] = "";
    for (size_t i = 0; i < IP_VARIANT_COUNT; i++) {
        if (i)
            strcat(names_re, "|");
        strcat(names_re, ip_variants[i].name);
    }
    int enums = 0;
    walk_openapi(doc, names_re, &enums);
    EXPECT(enums >= 5); /* mode, variant, the info's and upload's ops, the config's names */
    json_decref(doc);
}

static void test_event(void)
{
    Imageproc__StatusEvent e = IMAGEPROC__STATUS_EVENT__INIT;
    e.id = "0190f2a4-5b6c-7d8e-9f00-112233445566";
    e.status = IMAGEPROC__IMAGE_STATUS__IMAGE_READY;
    e.at_us = 1767322800000001LL;
    char *s = gw_event_json(&e);
    EXPECT(strstr(s, "\"status\":\"ready\"") && strstr(s, "\"variant\":null") &&
           strstr(s, "\"at\":\"2026-01-02T03:00:00.000001Z\""));
    free(s);
}

static void test_problem(void)
{
    size_t len;
    char *s = gw_problem_json(400, NULL, "bad \"x\"\n\xff", "limit", NULL, &len);
    CHECK(s != NULL);
    EXPECT(strlen(s) == len);
    json_t *j = json_loads(s, 0, NULL);
    EXPECT(j && json_integer_value(json_object_get(j, "status")) == 400);
    EXPECT(!strcmp(json_string_value(json_object_get(j, "param")), "limit"));
    EXPECT(!strcmp(json_string_value(json_object_get(j, "title")), "Bad Request"));
    EXPECT(json_object_get(j, "reason") == NULL);
    json_decref(j);
    free(s);
    s = gw_problem_json(422, NULL, "too much metadata", NULL, "metadata_too_large", &len);
    CHECK(s != NULL);
    j = json_loads(s, 0, NULL);
    EXPECT(j && !strcmp(json_string_value(json_object_get(j, "reason")), "metadata_too_large"));
    EXPECT(json_object_get(j, "param") == NULL);
    json_decref(j);
    free(s);
}

static const ip_test_case tests[] = {
    IP_TEST(info),    IP_TEST(event),
    IP_TEST(problem), IP_TEST(formats_and_placeholder),
    IP_TEST(config),  IP_TEST(openapi_variants),
};

IP_TEST_MAIN(tests)
