/* gw_json_test.c — the info, listing item and event JSON. */
#include <string.h>

#include "gw_json.h"
#include "gw_problem.h"
#include "gw_test.h"

static void test_info(void)
{
    Imageproc__Variant th = IMAGEPROC__VARIANT__INIT, rs = IMAGEPROC__VARIANT__INIT;
    th.name = "thumbnail";
    th.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    th.object_key = "v/0190f2a4-5b6c-7d8e-9f00-112233445566/thumbnail.jpg";
    th.width = 320;
    th.height = 200;
    th.size_bytes = 1234;
    th.format = "jpeg";
    rs.name = "resized";
    rs.status = IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING;
    Imageproc__Variant *vs[2] = {&th, &rs};
    char *ops[3] = {"thumbnail", "resized", "watermarked"};
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    img.id = "0190f2a4-5b6c-7d8e-9f00-112233445566";
    img.created_at_us = 1767322800123456LL;
    img.filename = "a.png";
    img.content_type = "image/png";
    img.size_bytes = 99;
    img.width = 640;
    img.height = 400;
    img.ops = ops;
    img.n_ops = 3;
    img.variants = vs;
    img.n_variants = 2;
    img.status = IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING;
    json_t *j = gw_image_info_json(&img);
    CHECK(!strcmp(json_string_value(json_object_get(j, "status")), "processing"));
    CHECK(!strcmp(json_string_value(json_object_get(j, "created_at")),
                  "2026-01-02T03:00:00.123456Z"));
    CHECK(json_is_null(json_object_get(j, "error")));
    json_t *v = json_object_get(j, "variants");
    CHECK(json_object_size(v) == 3);
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(v, "thumbnail"), "url")),
                  "/media/0190f2a4-5b6c-7d8e-9f00-112233445566/thumbnail.jpg"));
    CHECK(json_is_null(json_object_get(json_object_get(v, "resized"), "url")));
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(v, "watermarked"), "status")),
                  "pending"));
    json_decref(j);
    j = gw_image_item_json(&img, "");
    CHECK(json_is_string(json_object_get(j, "url")));
    json_decref(j);
    j = gw_image_item_json(&img, "resized");
    CHECK(json_is_null(json_object_get(j, "url")));
    json_decref(j);
    CHECK(gw_media_url("o/abc") == NULL);
    CHECK(gw_media_url("v/") == NULL);
}

static void test_event(void)
{
    Imageproc__StatusEvent e = IMAGEPROC__STATUS_EVENT__INIT;
    e.id = "0190f2a4-5b6c-7d8e-9f00-112233445566";
    e.status = IMAGEPROC__IMAGE_STATUS__IMAGE_READY;
    e.variant = "";
    e.at_us = 1767322800000001LL;
    char *s = gw_event_json(&e);
    CHECK(strstr(s, "\"status\":\"ready\"") && strstr(s, "\"variant\":null") &&
          strstr(s, "\"at\":\"2026-01-02T03:00:00.000001Z\""));
    free(s);
}

static void test_problem(void)
{
    size_t len;
    char *s = gw_problem_json(400, "bad \"x\"\n\xff", "limit", &len);
    CHECK(s && strlen(s) == len);
    json_t *j = json_loads(s, 0, NULL);
    CHECK(j && json_integer_value(json_object_get(j, "status")) == 400);
    CHECK(!strcmp(json_string_value(json_object_get(j, "param")), "limit"));
    CHECK(!strcmp(json_string_value(json_object_get(j, "title")), "Bad Request"));
    json_decref(j);
    free(s);
}

int main(void)
{
    static const gw_test_case tests[] = {
        {"gateway.json.info", test_info},
        {"gateway.json.event", test_event},
        {"gateway.json.problem", test_problem},
    };
    return gw_test_run(tests, sizeof tests / sizeof tests[0]);
}
