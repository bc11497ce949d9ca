/* meta_validate_test.c — unit tests of the request checks (no I/O).
 *
 * Run as `meta_validate_test <name>`; the table at the end lists the tests.
 * Every bad request must give IP_INVALID_ARGUMENT with a message that starts
 * with the field's name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta_migrations.h"
#include "meta_validate.h"

static int failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* st must be INVALID_ARGUMENT and err must start with field. */
#define CHECK_BAD(st, err, field)                                                                  \
    do {                                                                                           \
        CHECK((st) == IP_INVALID_ARGUMENT);                                                        \
        if (strncmp((err), (field), strlen(field)) != 0) {                                         \
            fprintf(stderr, "%s:%d: message '%s' does not name '%s'\n", __FILE__, __LINE__, (err), \
                    (field));                                                                      \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#define ID "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6"

static void test_ids(void)
{
    char err[128];
    CHECK(meta_check_id(ID, "id", err, sizeof(err)) == IP_OK);
    CHECK(meta_check_id("0192F3A4-5B6C-7D8E-9FA0-B1C2D3E4F5A6", "id", err, sizeof(err)) == IP_OK);
    CHECK_BAD(meta_check_id("", "id", err, sizeof(err)), err, "id");
    CHECK_BAD(meta_check_id(NULL, "image_id", err, sizeof(err)), err, "image_id");
    CHECK_BAD(meta_check_id("not-a-uuid", "id", err, sizeof(err)), err, "id");
    CHECK_BAD(meta_check_id(ID "0", "id", err, sizeof(err)), err, "id");
    CHECK_BAD(meta_check_id("'; DROP TABLE images; --", "id", err, sizeof(err)), err, "id");
    CHECK_BAD(meta_check_id("0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a", "id", err, sizeof(err)), err,
              "id");
}

static void test_ops(void)
{
    char out[META_OPS_TEXT_MAX], err[128];
    char *all[] = {"watermarked", "thumbnail", "resized"};
    CHECK(meta_ops_canonical(all, 3, "ops", out, err, sizeof(err)) == IP_OK);
    CHECK(strcmp(out, "thumbnail,resized,watermarked") == 0);
    char *dup[] = {"resized", "resized"};
    CHECK(meta_ops_canonical(dup, 2, "ops", out, err, sizeof(err)) == IP_OK);
    CHECK(strcmp(out, "resized") == 0);
    CHECK_BAD(meta_ops_canonical(NULL, 0, "image.ops", out, err, sizeof(err)), err, "image.ops");
    char *bad[] = {"thumbnail", "Thumbnail"};
    CHECK_BAD(meta_ops_canonical(bad, 2, "image.ops", out, err, sizeof(err)), err, "image.ops");
    char *empty[] = {""};
    CHECK_BAD(meta_ops_canonical(empty, 1, "image.ops", out, err, sizeof(err)), err, "image.ops");
    CHECK(meta_variant_index("thumbnail") == 0 && meta_variant_index("watermarked") == 2);
    CHECK(meta_variant_index("original") == -1 && meta_variant_index(NULL) == -1);
}

static void test_list(void)
{
    char err[128];
    bool cur = true;
    CHECK(meta_check_list(0, "", "", 24, &cur, err, sizeof(err)) == IP_OK && !cur);
    CHECK(meta_check_list(0, NULL, NULL, 1, &cur, err, sizeof(err)) == IP_OK && !cur);
    CHECK(meta_check_list(1764375760123456, ID, "thumbnail", 100, &cur, err, sizeof(err)) ==
              IP_OK &&
          cur);
    CHECK_BAD(meta_check_list(0, "", "", 0, &cur, err, sizeof(err)), err, "limit");
    CHECK_BAD(meta_check_list(0, "", "", 101, &cur, err, sizeof(err)), err, "limit");
    CHECK_BAD(meta_check_list(0, "", "", -5, &cur, err, sizeof(err)), err, "limit");
    CHECK_BAD(meta_check_list(0, "", "original", 5, &cur, err, sizeof(err)), err, "mode");
    CHECK_BAD(meta_check_list(0, "", "thumbnail'--", 5, &cur, err, sizeof(err)), err, "mode");
    CHECK_BAD(meta_check_list(5, "", "", 5, &cur, err, sizeof(err)), err, "last_id");
    CHECK_BAD(meta_check_list(0, ID, "", 5, &cur, err, sizeof(err)), err, "last_created_at_us");
    CHECK_BAD(meta_check_list(5, "zzz", "", 5, &cur, err, sizeof(err)), err, "last_id");
    CHECK_BAD(meta_check_list(-5, ID, "", 5, &cur, err, sizeof(err)), err, "last_created_at_us");
    CHECK_BAD(meta_check_list(META_MAX_US + 1, ID, "", 5, &cur, err, sizeof(err)), err,
              "last_created_at_us");
    CHECK(meta_check_list(META_MAX_US, ID, "", 5, &cur, err, sizeof(err)) == IP_OK);
}

static void test_create(void)
{
    char ops[META_OPS_TEXT_MAX], err[128];
    char *o[] = {"thumbnail"};
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    CHECK_BAD(meta_check_create(NULL, ops, err, sizeof(err)), err, "image");
    CHECK_BAD(meta_check_create(&img, ops, err, sizeof(err)), err, "image.id");
    img.id = ID;
    CHECK_BAD(meta_check_create(&img, ops, err, sizeof(err)), err, "image.ops");
    img.ops = o;
    img.n_ops = 1;
    CHECK(meta_check_create(&img, ops, err, sizeof(err)) == IP_OK && strcmp(ops, "thumbnail") == 0);
    img.size_bytes = -1;
    CHECK_BAD(meta_check_create(&img, ops, err, sizeof(err)), err, "image.size_bytes");
    img.size_bytes = 0;
    img.width = -1;
    CHECK_BAD(meta_check_create(&img, ops, err, sizeof(err)), err, "image.width");
    img.width = 0;
    img.height = -1;
    CHECK_BAD(meta_check_create(&img, ops, err, sizeof(err)), err, "image.height");
    img.height = 0;
    img.created_at_us = -1;
    CHECK_BAD(meta_check_create(&img, ops, err, sizeof(err)), err, "image.created_at_us");
}

static void test_variant(void)
{
    char err[128];
    Imageproc__Variant v = IMAGEPROC__VARIANT__INIT;
    CHECK_BAD(meta_check_variant(NULL, err, sizeof(err)), err, "variant");
    CHECK_BAD(meta_check_variant(&v, err, sizeof(err)), err, "variant.name");
    v.name = "thumbnail";
    CHECK_BAD(meta_check_variant(&v, err, sizeof(err)), err, "variant.status");
    v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING;
    CHECK_BAD(meta_check_variant(&v, err, sizeof(err)), err, "variant.status");
    v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED;
    CHECK(meta_check_variant(&v, err, sizeof(err)) == IP_OK);
    v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    CHECK_BAD(meta_check_variant(&v, err, sizeof(err)), err, "variant.object_key");
    v.object_key = "v/x/thumbnail.jpg";
    CHECK_BAD(meta_check_variant(&v, err, sizeof(err)), err, "variant.width");
    v.width = 320;
    CHECK_BAD(meta_check_variant(&v, err, sizeof(err)), err, "variant.height");
    v.height = 200;
    CHECK_BAD(meta_check_variant(&v, err, sizeof(err)), err, "variant.size_bytes");
    v.size_bytes = 1000;
    CHECK_BAD(meta_check_variant(&v, err, sizeof(err)), err, "variant.format");
    v.format = "gif";
    CHECK_BAD(meta_check_variant(&v, err, sizeof(err)), err, "variant.format");
    v.format = "webp";
    CHECK(meta_check_variant(&v, err, sizeof(err)) == IP_OK);
    v.status = (Imageproc__VariantStatus)99;
    CHECK_BAD(meta_check_variant(&v, err, sizeof(err)), err, "variant.status");
}

static void test_text(void)
{
    char err[128];
    CHECK(meta_check_text(NULL, "f", err, sizeof(err)) == IP_OK);
    CHECK(meta_check_text("", "f", err, sizeof(err)) == IP_OK);
    CHECK(meta_check_text("plain; 'quoted' \"x\" -- DROP", "f", err, sizeof(err)) == IP_OK);
    CHECK(meta_check_text("\xc3\xbc \xe7\x94\xbb \xf0\x9f\x96\xbc", "f", err, sizeof(err)) ==
          IP_OK);
    CHECK_BAD(meta_check_text("\xff", "image.filename", err, sizeof(err)), err, "image.filename");
    CHECK_BAD(meta_check_text("a\xc3", "f", err, sizeof(err)), err, "f");        /* cut short */
    CHECK_BAD(meta_check_text("\xc0\xaf", "f", err, sizeof(err)), err, "f");     /* overlong */
    CHECK_BAD(meta_check_text("\xe0\x80\xaf", "f", err, sizeof(err)), err, "f"); /* overlong */
    CHECK_BAD(meta_check_text("\xed\xa0\x80", "f", err, sizeof(err)), err, "f"); /* surrogate */
    CHECK_BAD(meta_check_text("\xf4\x90\x80\x80", "f", err, sizeof(err)), err,
              "f"); /* > U+10FFFF */
    char *big = malloc(META_TEXT_MAX + 2);
    memset(big, 'a', META_TEXT_MAX);
    big[META_TEXT_MAX] = '\0';
    CHECK(meta_check_text(big, "f", err, sizeof(err)) == IP_OK);
    big[META_TEXT_MAX] = 'a';
    big[META_TEXT_MAX + 1] = '\0';
    CHECK_BAD(meta_check_text(big, "variant.error", err, sizeof(err)), err, "variant.error");
    free(big);
    Imageproc__Variant v = IMAGEPROC__VARIANT__INIT;
    v.name = "resized";
    v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED;
    v.error = "\x80";
    CHECK_BAD(meta_check_variant(&v, err, sizeof(err)), err, "variant.error");
}

static void test_migrations(void)
{
    CHECK(meta_migrations_count >= 1);
    CHECK(strcmp(meta_migrations[0].version, "0001_init") == 0);
    for (size_t i = 0; i < meta_migrations_count; i++) {
        CHECK(meta_migrations[i].sql != NULL && strlen(meta_migrations[i].sql) > 0);
        if (i > 0)
            CHECK(strcmp(meta_migrations[i - 1].version, meta_migrations[i].version) < 0);
    }
    CHECK(meta_migrations[meta_migrations_count].version == NULL);
    CHECK(strstr(meta_migrations[0].sql, "CREATE INDEX images_created_id_idx") != NULL);
}

static void test_stale(void)
{
    char err[128];
    CHECK(meta_check_stale(0, 1, err, sizeof(err)) == IP_OK);
    CHECK(meta_check_stale(60000000, 100, err, sizeof(err)) == IP_OK);
    CHECK_BAD(meta_check_stale(-1, 10, err, sizeof(err)), err, "older_than_us");
    CHECK_BAD(meta_check_stale(0, 0, err, sizeof(err)), err, "limit");
    CHECK_BAD(meta_check_stale(0, 101, err, sizeof(err)), err, "limit");
}

static void test_status(void)
{
    for (int s = 1; s <= 4; s++)
        CHECK((int)meta_image_status_parse(meta_image_status_text((Imageproc__ImageStatus)s)) == s);
    for (int s = 1; s <= 3; s++)
        CHECK((int)meta_variant_status_parse(
                  meta_variant_status_text((Imageproc__VariantStatus)s)) == s);
    CHECK(meta_image_status_text((Imageproc__ImageStatus)0) == NULL);
    CHECK(meta_image_status_text((Imageproc__ImageStatus)17) == NULL);
    CHECK(meta_image_status_parse("READY") == 0 && meta_image_status_parse(NULL) == 0);
    CHECK(meta_variant_status_parse("processing") == 0);
}

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"ids", test_ids},       {"ops", test_ops},         {"list", test_list},
    {"create", test_create}, {"variant", test_variant}, {"stale", test_stale},
    {"status", test_status}, {"text", test_text},       {"migrations", test_migrations},
};

int main(int argc, char **argv)
{
    int ran = 0;
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        tests[i].fn();
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "unknown test %s\n", argc > 1 ? argv[1] : "");
        return 2;
    }
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
