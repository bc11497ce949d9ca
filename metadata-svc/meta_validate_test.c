/* meta_validate_test.c — unit tests of the request checks (no I/O).
 *
 * Run as `meta_validate_test <name>`; the table at the end lists the tests
 * (common/ip_testing.h). Every bad request must give IP_INVALID_ARGUMENT with
 * a message that starts with the field's name (EXPECT_BAD).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_keys.h"
#include "ip_testing.h"
#include "ip_variants.h"
#include "meta_migrations.h"
#include "meta_validate.h"

/* st must be INVALID_ARGUMENT and err must start with field; counted. */
#define EXPECT_BAD(st, err, field) expect_bad((st), (err), (field), __LINE__)

static void expect_bad(ip_status st, const char *err, const char *field, int line)
{
    if (st == IP_INVALID_ARGUMENT && strncmp(err, field, strlen(field)) == 0)
        return;
    fprintf(stderr, "%s:%d: EXPECT failed: want invalid_argument naming '%s', got %s '%s'\n",
            __FILE__, line, field, ip_strerror(st), st == IP_OK ? "" : err);
    ip_test_failures++;
}

#define ID "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6"
#define HASH "4f596011b7dacf318adee3f2581d96905e4a64e92200304c351171f28d3d36f1"

static void test_ids(void)
{
    char err[128];
    EXPECT(meta_check_id(ID, "id", err, sizeof(err)) == IP_OK);
    EXPECT(meta_check_id("0192F3A4-5B6C-7D8E-9FA0-B1C2D3E4F5A6", "id", err, sizeof(err)) == IP_OK);
    EXPECT_BAD(meta_check_id("", "id", err, sizeof(err)), err, "id");
    EXPECT_BAD(meta_check_id(NULL, "image_id", err, sizeof(err)), err, "image_id");
    EXPECT_BAD(meta_check_id("not-a-uuid", "id", err, sizeof(err)), err, "id");
    EXPECT_BAD(meta_check_id(ID "0", "id", err, sizeof(err)), err, "id");
    EXPECT_BAD(meta_check_id("'; DROP TABLE images; --", "id", err, sizeof(err)), err, "id");
    EXPECT_BAD(meta_check_id("0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a", "id", err, sizeof(err)), err,
               "id");
}

static void test_ops(void)
{
    char err[128];
    unsigned mask = 99;
    ip_variant_kind all[] = {IP_VARIANT_WATERMARKED, IP_VARIANT_THUMBNAIL, IP_VARIANT_RESIZED};
    EXPECT_ST(meta_check_requested(all, 3, "requested", &mask, err, sizeof(err)), IP_OK, err);
    EXPECT_EQ_INT(mask, IP_VARIANT_MASK_ALL);
    ip_variant_kind dup[] = {IP_VARIANT_RESIZED, IP_VARIANT_RESIZED};
    EXPECT_ST(meta_check_requested(dup, 2, "requested", &mask, err, sizeof(err)), IP_OK, err);
    EXPECT_EQ_INT(mask, ip_variant_bit(IP_VARIANT_RESIZED));
    EXPECT_BAD(meta_check_requested(NULL, 0, "image.requested", &mask, err, sizeof(err)), err,
               "image.requested");
    EXPECT_EQ_INT(mask, 0);
    ip_variant_kind unknown[] = {IP_VARIANT_THUMBNAIL, (ip_variant_kind)7};
    EXPECT_BAD(meta_check_requested(unknown, 2, "image.requested", &mask, err, sizeof(err)), err,
               "image.requested");
    ip_variant_kind none[] = {IP_VARIANT_NONE};
    EXPECT_BAD(meta_check_requested(none, 1, "image.requested", &mask, err, sizeof(err)), err,
               "image.requested");
    ip_variant_kind negative[] = {(ip_variant_kind)-1};
    EXPECT_BAD(meta_check_requested(negative, 1, "image.requested", &mask, err, sizeof(err)), err,
               "image.requested");
    /* The message lists the variants by their names from the one table. */
    EXPECT(strstr(err, ip_variant_name(IP_VARIANT_WATERMARKED)) != NULL);
}

static void test_list(void)
{
    char err[128];
    bool cur = true;
    EXPECT(meta_check_list(0, "", IP_VARIANT_NONE, 24, &cur, err, sizeof(err)) == IP_OK && !cur);
    EXPECT(meta_check_list(0, NULL, IP_VARIANT_NONE, 1, &cur, err, sizeof(err)) == IP_OK && !cur);
    EXPECT(meta_check_list(1764375760123456, ID, IP_VARIANT_THUMBNAIL, 100, &cur, err,
                           sizeof(err)) == IP_OK &&
           cur);
    EXPECT_BAD(meta_check_list(0, "", IP_VARIANT_NONE, 0, &cur, err, sizeof(err)), err, "limit");
    EXPECT_BAD(meta_check_list(0, "", IP_VARIANT_NONE, 101, &cur, err, sizeof(err)), err, "limit");
    EXPECT_BAD(meta_check_list(0, "", IP_VARIANT_NONE, -5, &cur, err, sizeof(err)), err, "limit");
    EXPECT_BAD(meta_check_list(0, "", (ip_variant_kind)4, 5, &cur, err, sizeof(err)), err,
               "with_variant");
    EXPECT_BAD(meta_check_list(0, "", (ip_variant_kind)-3, 5, &cur, err, sizeof(err)), err,
               "with_variant");
    EXPECT_BAD(meta_check_list(5, "", IP_VARIANT_NONE, 5, &cur, err, sizeof(err)), err, "last_id");
    EXPECT_BAD(meta_check_list(0, ID, IP_VARIANT_NONE, 5, &cur, err, sizeof(err)), err,
               "last_created_at_us");
    EXPECT_BAD(meta_check_list(5, "zzz", IP_VARIANT_NONE, 5, &cur, err, sizeof(err)), err,
               "last_id");
    EXPECT_BAD(meta_check_list(-5, ID, IP_VARIANT_NONE, 5, &cur, err, sizeof(err)), err,
               "last_created_at_us");
    EXPECT_BAD(meta_check_list(META_MAX_US + 1, ID, IP_VARIANT_NONE, 5, &cur, err, sizeof(err)),
               err, "last_created_at_us");
    EXPECT(meta_check_list(META_MAX_US, ID, IP_VARIANT_NONE, 5, &cur, err, sizeof(err)) == IP_OK);
}

static void test_create(void)
{
    char err[128];
    unsigned ops = 0;
    ip_variant_kind o[] = {IP_VARIANT_THUMBNAIL};
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    EXPECT_BAD(meta_check_create(NULL, &ops, err, sizeof(err)), err, "image");
    EXPECT_BAD(meta_check_create(&img, &ops, err, sizeof(err)), err, "image.id");
    img.id = ID;
    EXPECT_BAD(meta_check_create(&img, &ops, err, sizeof(err)), err, "image.requested");
    img.requested = o;
    img.n_requested = 1;
    EXPECT_ST(meta_check_create(&img, &ops, err, sizeof(err)), IP_OK, err);
    EXPECT_EQ_INT(ops, ip_variant_bit(IP_VARIANT_THUMBNAIL));
    img.size_bytes = -1;
    EXPECT_BAD(meta_check_create(&img, &ops, err, sizeof(err)), err, "image.size_bytes");
    img.size_bytes = 0;
    img.width = -1;
    EXPECT_BAD(meta_check_create(&img, &ops, err, sizeof(err)), err, "image.width");
    img.width = 0;
    img.height = -1;
    EXPECT_BAD(meta_check_create(&img, &ops, err, sizeof(err)), err, "image.height");
    img.height = 0;
    img.created_at_us = -1;
    EXPECT_BAD(meta_check_create(&img, &ops, err, sizeof(err)), err, "image.created_at_us");
    img.created_at_us = 0;
    /* owner_hash: none, or a SHA-256 in lowercase hex. */
    img.owner_hash = HASH;
    EXPECT_ST(meta_check_create(&img, &ops, err, sizeof(err)), IP_OK, err);
    img.owner_hash = "";
    EXPECT_ST(meta_check_create(&img, &ops, err, sizeof(err)), IP_OK, err);
    static const char *const bad[] = {
        "4F596011B7DACF318ADEE3F2581D96905E4A64E92200304C351171F28D3D36F1", /* upper case */
        HASH "0",                                                           /* 65 */
        "4f596011b7dacf318adee3f2581d96905e4a64e92200304c351171f28d3d36f",  /* 63 */
        "4f596011b7dacf318adee3f2581d96905e4a64e92200304c351171f28d3d36fg", /* not hex */
        "ipo_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* a token, not its hash */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        img.owner_hash = (char *)bad[i];
        EXPECT_BAD(meta_check_create(&img, &ops, err, sizeof(err)), err, "image.owner_hash");
    }
}

/* CreateApiKey: a good key passes with its scope set; each bad field is named. */
static void test_api_key(void)
{
    char err[160];
    uint32_t m = 0;
    Imageproc__ApiScope sc[] = {IMAGEPROC__API_SCOPE__API_SCOPE_UPLOAD,
                                IMAGEPROC__API_SCOPE__API_SCOPE_READ};
    Imageproc__ApiKey k = IMAGEPROC__API_KEY__INIT;
    Imageproc__CreateApiKeyRequest req = IMAGEPROC__CREATE_API_KEY_REQUEST__INIT;
    EXPECT_BAD(meta_check_api_key(NULL, &m, err, sizeof(err)), err, "key");
    EXPECT_BAD(meta_check_api_key(&req, &m, err, sizeof(err)), err, "key");
    req.key = &k;
    EXPECT_BAD(meta_check_api_key(&req, &m, err, sizeof(err)), err, "key.id");
    k.id = ID;
    EXPECT_BAD(meta_check_api_key(&req, &m, err, sizeof(err)), err, "key.name");
    k.name = "ci uploader";
    EXPECT_BAD(meta_check_api_key(&req, &m, err, sizeof(err)), err, "key.prefix");
    k.prefix = "ipk_AbCdEfGh";
    EXPECT_BAD(meta_check_api_key(&req, &m, err, sizeof(err)), err, "hash");
    req.hash = HASH;
    EXPECT_BAD(meta_check_api_key(&req, &m, err, sizeof(err)), err, "key.scopes");
    k.scopes = sc;
    k.n_scopes = 2;
    EXPECT_ST(meta_check_api_key(&req, &m, err, sizeof(err)), IP_OK, err);
    EXPECT_EQ_INT(m, (1u << IMAGEPROC__API_SCOPE__API_SCOPE_READ) |
                         (1u << IMAGEPROC__API_SCOPE__API_SCOPE_UPLOAD));

    /* Each field wrong in turn. */
    char name[202];
    memset(name, 'n', 201);
    name[201] = '\0';
    k.name = name;
    EXPECT_BAD(meta_check_api_key(&req, &m, err, sizeof(err)), err, "key.name");
    name[200] = '\0'; /* 200 bytes are fine */
    EXPECT_ST(meta_check_api_key(&req, &m, err, sizeof(err)), IP_OK, err);
    k.name = "bad \xff utf-8";
    EXPECT_BAD(meta_check_api_key(&req, &m, err, sizeof(err)), err, "key.name");
    k.name = "ok";
    k.prefix = "ipo_AbCdEfGh";
    EXPECT_BAD(meta_check_api_key(&req, &m, err, sizeof(err)), err, "key.prefix");
    k.prefix = "ipk_AbCdEfGhIjKlM"; /* 17 bytes */
    EXPECT_BAD(meta_check_api_key(&req, &m, err, sizeof(err)), err, "key.prefix");
    k.prefix = "ipk_AbCdEfGhIjKl"; /* 16 */
    EXPECT_ST(meta_check_api_key(&req, &m, err, sizeof(err)), IP_OK, err);
    req.hash = "4F596011B7DACF318ADEE3F2581D96905E4A64E92200304C351171F28D3D36F1";
    EXPECT_BAD(meta_check_api_key(&req, &m, err, sizeof(err)), err, "hash");
    req.hash = HASH;
    k.id = "not-a-uuid";
    EXPECT_BAD(meta_check_api_key(&req, &m, err, sizeof(err)), err, "key.id");
    k.id = ID;
    Imageproc__ApiScope twice[] = {IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN,
                                   IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN};
    k.scopes = twice;
    EXPECT_BAD(meta_check_api_key(&req, &m, err, sizeof(err)), err, "key.scopes");
    Imageproc__ApiScope unknown[] = {IMAGEPROC__API_SCOPE__API_SCOPE_UNSPECIFIED};
    k.scopes = unknown;
    k.n_scopes = 1;
    EXPECT_BAD(meta_check_api_key(&req, &m, err, sizeof(err)), err, "key.scopes");
    Imageproc__ApiScope past[] = {(Imageproc__ApiScope)9};
    k.scopes = past;
    EXPECT_BAD(meta_check_api_key(&req, &m, err, sizeof(err)), err, "key.scopes");
    EXPECT_EQ_INT(m, 0);

    /* LookupApiKey's hash is required. */
    EXPECT_BAD(meta_check_hash("", "hash", false, err, sizeof(err)), err, "hash");
    EXPECT_BAD(meta_check_hash(NULL, "hash", false, err, sizeof(err)), err, "hash");
    EXPECT_ST(meta_check_hash(HASH, "hash", false, err, sizeof(err)), IP_OK, err);
}

static void test_variant(void)
{
    char err[128];
    Imageproc__Variant v = IMAGEPROC__VARIANT__INIT;
    EXPECT_BAD(meta_check_variant(ID, NULL, err, sizeof(err)), err, "variant");
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.kind");
    v.kind = (ip_variant_kind)9;
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.kind");
    v.kind = IP_VARIANT_THUMBNAIL;
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.status");
    v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING;
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.status");
    v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED;
    EXPECT(meta_check_variant(ID, &v, err, sizeof(err)) == IP_OK);
    v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.object_key");
    char key[IP_KEY_MAX];
    CHECK(ip_key_variant(key, ID, IP_VARIANT_THUMBNAIL, &ip_format_jpeg) == IP_OK);
    v.object_key = key;
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.width");
    v.width = 320;
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.height");
    v.height = 200;
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.size_bytes");
    v.size_bytes = 1000;
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.format");
    v.format = "gif";
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.format");
    v.format = "webp"; /* never the primary */
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.format");
    v.format = "jpeg";
    EXPECT(meta_check_variant(ID, &v, err, sizeof(err)) == IP_OK);
    /* The key must be the variant's own: of this image, kind, format and version. */
    v.format = "png";
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.object_key");
    v.format = "jpeg";
    EXPECT_BAD(meta_check_variant("0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a7", &v, err, sizeof(err)),
               err, "variant.object_key");
    v.preset_version = 2;
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.object_key");
    v.preset_version = 1; /* the same key as 0 */
    EXPECT(meta_check_variant(ID, &v, err, sizeof(err)) == IP_OK);
    v.preset_version = -1;
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.preset_version");
    v.preset_version = 0;
    v.status = (Imageproc__VariantStatus)99;
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.status");
}

static void test_finish(void)
{
    char err[128];
    char key[IP_KEY_MAX];
    CHECK(ip_key_variant(key, ID, IP_VARIANT_THUMBNAIL, &ip_format_jpeg) == IP_OK);
    Imageproc__Variant ok = IMAGEPROC__VARIANT__INIT, bad = IMAGEPROC__VARIANT__INIT,
                       failed = IMAGEPROC__VARIANT__INIT;
    ok.kind = IP_VARIANT_THUMBNAIL;
    ok.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    ok.object_key = key;
    ok.width = 320;
    ok.height = 200;
    ok.size_bytes = 1000;
    ok.format = "jpeg";
    failed.kind = IP_VARIANT_RESIZED;
    failed.status = IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED;
    bad = ok;
    bad.kind = IP_VARIANT_WATERMARKED;
    bad.width = 0;
    EXPECT(meta_check_finish(ID, NULL, 0, false, err, sizeof(err)) == IP_OK);
    Imageproc__Variant *two[] = {&ok, &failed};
    EXPECT(meta_check_finish(ID, two, 2, false, err, sizeof(err)) == IP_OK);
    Imageproc__Variant *with_bad[] = {&ok, &failed, &bad};
    EXPECT_BAD(meta_check_finish(ID, with_bad, 3, false, err, sizeof(err)), err, "variants[2].width");
    Imageproc__Variant *missing[] = {&ok, NULL};
    EXPECT_BAD(meta_check_finish(ID, missing, 2, false, err, sizeof(err)), err, "variants[1]");
    Imageproc__Variant *twice[] = {&ok, &failed, &ok};
    EXPECT_BAD(meta_check_finish(ID, twice, 3, false, err, sizeof(err)), err, "variants[2].kind");
    Imageproc__Variant *many[] = {&ok, &failed, &failed, &ok};
    EXPECT_BAD(meta_check_finish(ID, many, 4, false, err, sizeof(err)), err, "variants");
}

static void test_text(void)
{
    char err[128];
    EXPECT(meta_check_text(NULL, "f", err, sizeof(err)) == IP_OK);
    EXPECT(meta_check_text("", "f", err, sizeof(err)) == IP_OK);
    EXPECT(meta_check_text("plain; 'quoted' \"x\" -- DROP", "f", err, sizeof(err)) == IP_OK);
    EXPECT(meta_check_text("\xc3\xbc \xe7\x94\xbb \xf0\x9f\x96\xbc", "f", err, sizeof(err)) ==
           IP_OK);
    EXPECT_BAD(meta_check_text("\xff", "image.filename", err, sizeof(err)), err, "image.filename");
    EXPECT_BAD(meta_check_text("a\xc3", "f", err, sizeof(err)), err, "f");        /* cut short */
    EXPECT_BAD(meta_check_text("\xc0\xaf", "f", err, sizeof(err)), err, "f");     /* overlong */
    EXPECT_BAD(meta_check_text("\xe0\x80\xaf", "f", err, sizeof(err)), err, "f"); /* overlong */
    EXPECT_BAD(meta_check_text("\xed\xa0\x80", "f", err, sizeof(err)), err, "f"); /* surrogate */
    EXPECT_BAD(meta_check_text("\xf4\x90\x80\x80", "f", err, sizeof(err)), err,
               "f"); /* > U+10FFFF */
    char *big = malloc(META_TEXT_MAX + 2);
    memset(big, 'a', META_TEXT_MAX);
    big[META_TEXT_MAX] = '\0';
    EXPECT(meta_check_text(big, "f", err, sizeof(err)) == IP_OK);
    big[META_TEXT_MAX] = 'a';
    big[META_TEXT_MAX + 1] = '\0';
    EXPECT_BAD(meta_check_text(big, "variant.error", err, sizeof(err)), err, "variant.error");
    free(big);
    Imageproc__Variant v = IMAGEPROC__VARIANT__INIT;
    v.kind = IP_VARIANT_RESIZED;
    v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED;
    v.error = "\x80";
    EXPECT_BAD(meta_check_variant(ID, &v, err, sizeof(err)), err, "variant.error");
}

static void test_migrations(void)
{
    EXPECT(meta_migrations_count >= 1);
    EXPECT(strcmp(meta_migrations[0].version, "0001_init") == 0);
    for (size_t i = 0; i < meta_migrations_count; i++) {
        EXPECT(meta_migrations[i].sql != NULL && strlen(meta_migrations[i].sql) > 0);
        if (i > 0)
            EXPECT(strcmp(meta_migrations[i - 1].version, meta_migrations[i].version) < 0);
    }
    EXPECT(meta_migrations[meta_migrations_count].version == NULL);
    EXPECT(strstr(meta_migrations[0].sql, "CREATE INDEX images_created_id_idx") != NULL);
    EXPECT(meta_migrations_count >= 2 &&
           strcmp(meta_migrations[1].version, "0002_durability") == 0);
    EXPECT(strstr(meta_migrations[1].sql, "CREATE TABLE purges") != NULL);
    EXPECT(meta_migrations_count >= 3 && strcmp(meta_migrations[2].version, "0003_access") == 0);
    EXPECT(meta_migrations_count >= 3 &&
           strstr(meta_migrations[2].sql, "CREATE TABLE api_keys") != NULL);
}

static void test_stale(void)
{
    char err[128];
    EXPECT(meta_check_stale(0, 0, 1, 0, err, sizeof(err)) == IP_OK);
    EXPECT(meta_check_stale(60000000, 900000000, 1000, 3600000, err, sizeof(err)) == IP_OK);
    EXPECT_BAD(meta_check_stale(-1, 0, 10, 0, err, sizeof(err)), err, "older_than_us");
    EXPECT_BAD(meta_check_stale(0, -1, 10, 0, err, sizeof(err)), err, "enqueued_older_than_us");
    EXPECT_BAD(meta_check_stale(0, META_MAX_US + 1, 10, 0, err, sizeof(err)), err,
               "enqueued_older_than_us");
    EXPECT_BAD(meta_check_stale(0, 0, 0, 0, err, sizeof(err)), err, "limit");
    EXPECT_BAD(meta_check_stale(0, 0, 1001, 0, err, sizeof(err)), err, "limit");
    EXPECT_BAD(meta_check_stale(0, 0, 10, -1, err, sizeof(err)), err, "claim_ms");
    EXPECT_BAD(meta_check_stale(0, 0, 10, 3600001, err, sizeof(err)), err, "claim_ms");
}

static void test_claim(void)
{
    char err[128];
    EXPECT(meta_check_claim(1, 0, err, sizeof(err)) == IP_OK);
    EXPECT(meta_check_claim(1000, 3600000, err, sizeof(err)) == IP_OK);
    EXPECT_BAD(meta_check_claim(0, 10, err, sizeof(err)), err, "limit");
    EXPECT_BAD(meta_check_claim(-5, 10, err, sizeof(err)), err, "limit");
    EXPECT_BAD(meta_check_claim(1001, 10, err, sizeof(err)), err, "limit");
    EXPECT_BAD(meta_check_claim(10, -1, err, sizeof(err)), err, "claim_ms");
    EXPECT_BAD(meta_check_claim(10, INT64_MAX, err, sizeof(err)), err, "claim_ms");
}

static void test_lease(void)
{
    char err[128];
    EXPECT(meta_check_lease(0, err, sizeof(err)) == IP_OK);
    EXPECT(meta_check_lease(1, err, sizeof(err)) == IP_OK);
    EXPECT(meta_check_lease(3600000, err, sizeof(err)) == IP_OK);
    EXPECT_BAD(meta_check_lease(-1, err, sizeof(err)), err, "lease_ms");
    EXPECT_BAD(meta_check_lease(3600001, err, sizeof(err)), err, "lease_ms");
    EXPECT_BAD(meta_check_lease(INT64_MIN, err, sizeof(err)), err, "lease_ms");
}

static void test_status(void)
{
    for (int s = 1; s <= 4; s++)
        EXPECT((int)meta_image_status_parse(meta_image_status_text((Imageproc__ImageStatus)s)) ==
               s);
    for (int s = 1; s <= 3; s++)
        EXPECT((int)meta_variant_status_parse(
                   meta_variant_status_text((Imageproc__VariantStatus)s)) == s);
    EXPECT(meta_image_status_text((Imageproc__ImageStatus)0) == NULL);
    EXPECT(meta_image_status_text((Imageproc__ImageStatus)17) == NULL);
    EXPECT(meta_image_status_parse("READY") == 0 && meta_image_status_parse(NULL) == 0);
    EXPECT(meta_variant_status_parse("processing") == 0);
}

/* A ready variant of version `version` with files[0..n) of formats fmts,
 * every key right. */
typedef struct files_fixture {
    Imageproc__Variant v;
    Imageproc__VariantFile f[5];
    Imageproc__VariantFile *fp[5];
    char keys[5][IP_KEY_MAX];
} files_fixture;

static void files_make(files_fixture *x, int version, const ip_format_def *const *fmts, size_t n)
{
    memset(x, 0, sizeof(*x));
    x->v = (Imageproc__Variant)IMAGEPROC__VARIANT__INIT;
    x->v.kind = IP_VARIANT_RESIZED;
    x->v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    x->v.width = 1280;
    x->v.height = 720;
    x->v.preset_version = version;
    for (size_t i = 0; i < n; i++) {
        x->f[i] = (Imageproc__VariantFile)IMAGEPROC__VARIANT_FILE__INIT;
        CHECK(ip_key_variant_version(x->keys[i], ID, IP_VARIANT_RESIZED, fmts[i], version) ==
              IP_OK);
        x->f[i].format = (char *)fmts[i]->name;
        x->f[i].object_key = x->keys[i];
        x->f[i].size_bytes = 1000 + (int64_t)i;
        x->fp[i] = &x->f[i];
    }
    x->v.object_key = x->keys[0];
    x->v.format = (char *)fmts[0]->name;
    x->v.size_bytes = x->f[0].size_bytes;
    x->v.files = x->fp;
    x->v.n_files = n;
}

static void test_files(void)
{
    char err[256];
    files_fixture x;
    const ip_format_def *all[] = {&ip_format_jpeg, &ip_format_webp, &ip_format_avif};
    files_make(&x, 3, all, 3);
    EXPECT_ST(meta_check_variant(ID, &x.v, err, sizeof(err)), IP_OK, err);
    EXPECT(strstr(x.keys[1], ".v3.webp") != NULL);
    /* Only the primary, PNG, version 1: fine; and no files at all (an older
     * processor): the primary alone, also with version 0. */
    const ip_format_def *png[] = {&ip_format_png};
    files_make(&x, 1, png, 1);
    EXPECT_ST(meta_check_variant(ID, &x.v, err, sizeof(err)), IP_OK, err);
    x.v.n_files = 0;
    x.v.preset_version = 0;
    EXPECT_ST(meta_check_variant(ID, &x.v, err, sizeof(err)), IP_OK, err);
    /* With files, the version is required. */
    x.v.n_files = 1;
    EXPECT_BAD(meta_check_variant(ID, &x.v, err, sizeof(err)), err, "variant.preset_version");
    /* files[0] must be the primary. */
    files_make(&x, 2, all, 3);
    x.f[0].size_bytes = 5;
    EXPECT_BAD(meta_check_variant(ID, &x.v, err, sizeof(err)), err, "variant.files[0]");
    files_make(&x, 2, all, 3);
    x.v.files = &x.fp[1]; /* webp first */
    x.v.n_files = 2;
    EXPECT_BAD(meta_check_variant(ID, &x.v, err, sizeof(err)), err, "variant.files[0]");
    /* A second primary, a format twice, an unknown one. */
    const ip_format_def *two_primaries[] = {&ip_format_jpeg, &ip_format_png};
    files_make(&x, 2, two_primaries, 2);
    EXPECT_BAD(meta_check_variant(ID, &x.v, err, sizeof(err)), err, "variant.files[1].format");
    const ip_format_def *webp_twice[] = {&ip_format_jpeg, &ip_format_webp, &ip_format_webp};
    files_make(&x, 2, webp_twice, 3);
    EXPECT_BAD(meta_check_variant(ID, &x.v, err, sizeof(err)), err, "variant.files[2].format");
    files_make(&x, 2, all, 3);
    x.f[2].format = "gif";
    EXPECT_BAD(meta_check_variant(ID, &x.v, err, sizeof(err)), err, "variant.files[2].format");
    /* Sizes and keys. */
    files_make(&x, 2, all, 3);
    x.f[1].size_bytes = 0;
    EXPECT_BAD(meta_check_variant(ID, &x.v, err, sizeof(err)), err, "variant.files[1].size_bytes");
    files_make(&x, 2, all, 3);
    x.f[2].object_key = x.keys[1];
    EXPECT_BAD(meta_check_variant(ID, &x.v, err, sizeof(err)), err, "variant.files[2].object_key");
    files_make(&x, 2, all, 3);
    x.v.preset_version = 3; /* the keys say 2 */
    EXPECT_BAD(meta_check_variant(ID, &x.v, err, sizeof(err)), err, "variant.object_key");
    /* Five files: more than there are formats. */
    files_make(&x, 2, all, 3);
    x.v.n_files = 5;
    EXPECT_BAD(meta_check_variant(ID, &x.v, err, sizeof(err)), err, "variant.files");
    /* A failed variant has no files. */
    files_make(&x, 2, all, 3);
    x.v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED;
    EXPECT_BAD(meta_check_variant(ID, &x.v, err, sizeof(err)), err, "variant.files");
}

static void test_placeholder(void)
{
    char err[128];
    EXPECT(meta_check_placeholder(NULL, NULL, err, sizeof(err)) == IP_OK);
    EXPECT(meta_check_placeholder("", "", err, sizeof(err)) == IP_OK);
    EXPECT_ST(meta_check_placeholder("3OcRJYB4d3h/iIeHeEh3eIhw+j2w", "#a1b2c3", err, sizeof(err)),
              IP_OK, err);
    EXPECT(meta_check_placeholder("YJqGPQw7sFlslqhFafSE+Q6oJ1h2iHB2Rw==", "", err, sizeof(err)) ==
           IP_OK);
    EXPECT(meta_check_placeholder("AAA=", "", err, sizeof(err)) == IP_OK);
    EXPECT_BAD(meta_check_placeholder("AAA", "", err, sizeof(err)), err, "thumbhash");
    EXPECT_BAD(meta_check_placeholder("AA-_", "", err, sizeof(err)), err, "thumbhash");
    EXPECT_BAD(meta_check_placeholder("A===", "", err, sizeof(err)), err, "thumbhash");
    EXPECT_BAD(meta_check_placeholder("====", "", err, sizeof(err)), err, "thumbhash");
    EXPECT_BAD(meta_check_placeholder("AA=A", "", err, sizeof(err)), err, "thumbhash");
    char big[META_THUMBHASH_MAX + 8];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    EXPECT_BAD(meta_check_placeholder(big, "", err, sizeof(err)), err, "thumbhash");
    big[META_THUMBHASH_MAX] = '\0';
    EXPECT(meta_check_placeholder(big, "", err, sizeof(err)) == IP_OK);
    EXPECT_BAD(meta_check_placeholder("", "#A1B2C3", err, sizeof(err)), err, "dominant_color");
    EXPECT_BAD(meta_check_placeholder("", "a1b2c3", err, sizeof(err)), err, "dominant_color");
    EXPECT_BAD(meta_check_placeholder("", "#a1b2c", err, sizeof(err)), err, "dominant_color");
    EXPECT_BAD(meta_check_placeholder("", "#a1b2c3d", err, sizeof(err)), err, "dominant_color");
}

static void test_regenerate(void)
{
    char err[256];
    /* A regeneration carries ready variants only. */
    files_fixture x;
    const ip_format_def *jpeg[] = {&ip_format_jpeg};
    files_make(&x, 2, jpeg, 1);
    Imageproc__Variant failed = IMAGEPROC__VARIANT__INIT;
    failed.kind = IP_VARIANT_THUMBNAIL;
    failed.status = IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED;
    Imageproc__Variant *vs[] = {&x.v, &failed};
    EXPECT(meta_check_finish(ID, vs, 1, true, err, sizeof(err)) == IP_OK);
    EXPECT(meta_check_finish(ID, vs, 2, false, err, sizeof(err)) == IP_OK);
    EXPECT_BAD(meta_check_finish(ID, vs, 2, true, err, sizeof(err)), err, "variants[1].status");

    /* ListRegenerate's bounds. */
    Imageproc__ListRegenerateRequest q = IMAGEPROC__LIST_REGENERATE_REQUEST__INIT;
    EXPECT_BAD(meta_check_regenerate(&q, err, sizeof(err)), err, "limit");
    q.limit = META_REGEN_MAX + 1;
    EXPECT_BAD(meta_check_regenerate(&q, err, sizeof(err)), err, "limit");
    q.limit = META_REGEN_MAX;
    EXPECT(meta_check_regenerate(&q, err, sizeof(err)) == IP_OK);
    q.after_id = "nope";
    EXPECT_BAD(meta_check_regenerate(&q, err, sizeof(err)), err, "after_id");
    q.after_id = ID;
    EXPECT(meta_check_regenerate(&q, err, sizeof(err)) == IP_OK);
    char *ids[] = {ID, "x"};
    q.ids = ids;
    q.n_ids = 2;
    EXPECT_BAD(meta_check_regenerate(&q, err, sizeof(err)), err, "ids[1]");
    q.n_ids = 1;
    EXPECT(meta_check_regenerate(&q, err, sizeof(err)) == IP_OK);
    q.n_ids = META_REGEN_MAX + 1; /* refused before any is read */
    EXPECT_BAD(meta_check_regenerate(&q, err, sizeof(err)), err, "ids");
}

/* ------------------------------------------------------------- uploads */

#define KEY_ID "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5b7"

/* image.key_id: none, or a UUID in either case. */
static void test_key_id(void)
{
    char err[128];
    unsigned ops = 0;
    ip_variant_kind o[] = {IP_VARIANT_THUMBNAIL};
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    img.id = ID;
    img.requested = o;
    img.n_requested = 1;
    img.key_id = KEY_ID;
    EXPECT_ST(meta_check_create(&img, &ops, err, sizeof(err)), IP_OK, err);
    img.key_id = "0192F3A4-5B6C-7D8E-9FA0-B1C2D3E4F5B7";
    EXPECT_ST(meta_check_create(&img, &ops, err, sizeof(err)), IP_OK, err);
    img.key_id = "";
    EXPECT_ST(meta_check_create(&img, &ops, err, sizeof(err)), IP_OK, err);
    static const char *const bad[] = {"ipk_12345678", KEY_ID "0", "0192f3a4", "' OR 1=1 --"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        img.key_id = (char *)bad[i];
        EXPECT_BAD(meta_check_create(&img, &ops, err, sizeof(err)), err, "image.key_id");
    }
}

/* An Idempotency-Key: 1..255 bytes of 0x21..0x7e; scope "" or a UUID. */
static void test_idempotency_key(void)
{
    char err[128], key[META_IDEM_KEY_MAX + 2];
    EXPECT_ST(meta_check_idempotency_key("", "a", "", err, sizeof(err)), IP_OK, err);
    EXPECT_ST(meta_check_idempotency_key(NULL, "order-42/upload#1", "", err, sizeof(err)), IP_OK,
              err);
    EXPECT_ST(meta_check_idempotency_key(KEY_ID, "!~", "", err, sizeof(err)), IP_OK, err);
    memset(key, 'k', META_IDEM_KEY_MAX);
    key[META_IDEM_KEY_MAX] = '\0';
    EXPECT_ST(meta_check_idempotency_key(KEY_ID, key, "", err, sizeof(err)), IP_OK, err);
    key[META_IDEM_KEY_MAX] = 'k';
    key[META_IDEM_KEY_MAX + 1] = '\0';
    EXPECT_BAD(meta_check_idempotency_key(KEY_ID, key, "", err, sizeof(err)), err, "key");
    EXPECT_BAD(meta_check_idempotency_key("", "", "", err, sizeof(err)), err, "key");
    EXPECT_BAD(meta_check_idempotency_key("", NULL, "", err, sizeof(err)), err, "key");
    static const char *const bad[] = {"a b", "tab\there", "caf\xc3\xa9", "del\x7f", "nl\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_BAD(meta_check_idempotency_key("", bad[i], "", err, sizeof(err)), err, "key");
    EXPECT_BAD(meta_check_idempotency_key("not-a-uuid", "a", "", err, sizeof(err)), err, "scope");
    EXPECT_BAD(meta_check_idempotency_key("x", "a", "idempotency.", err, sizeof(err)), err,
               "idempotency.scope");
}

/* CreateImage's whole request: dedupe and the idempotency record. */
static void test_create_request(void)
{
    char err[160];
    unsigned ops = 0;
    uint8_t body[META_IDEM_RESPONSE_MAX + 1];
    memset(body, '{', sizeof(body));
    ip_variant_kind o[] = {IP_VARIANT_THUMBNAIL};
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    img.id = ID;
    img.requested = o;
    img.n_requested = 1;
    img.sha256 = HASH;
    Imageproc__CreateImageRequest req = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    EXPECT_BAD(meta_check_create_request(&req, &ops, err, sizeof(err)), err, "image");
    req.image = &img;
    EXPECT_ST(meta_check_create_request(&req, &ops, err, sizeof(err)), IP_OK, err);
    EXPECT_EQ_INT(ops, ip_variant_bit(IP_VARIANT_THUMBNAIL));

    /* dedupe: only with a key, on a real checksum. */
    req.dedupe = true;
    EXPECT_BAD(meta_check_create_request(&req, &ops, err, sizeof(err)), err, "dedupe");
    img.key_id = KEY_ID;
    EXPECT_ST(meta_check_create_request(&req, &ops, err, sizeof(err)), IP_OK, err);
    img.sha256 = "";
    EXPECT_BAD(meta_check_create_request(&req, &ops, err, sizeof(err)), err, "image.sha256");
    img.sha256 = "ABC";
    EXPECT_BAD(meta_check_create_request(&req, &ops, err, sizeof(err)), err, "image.sha256");
    img.sha256 = HASH;
    req.dedupe = false;

    /* The record: of the image's key, bytes and a 2xx answer. */
    Imageproc__IdempotencyRecord rec = IMAGEPROC__IDEMPOTENCY_RECORD__INIT;
    rec.scope = KEY_ID;
    rec.key = "k-1";
    rec.request_sha256 = HASH;
    rec.status = 202;
    rec.response.data = body;
    rec.response.len = 100;
    req.idempotency = &rec;
    EXPECT_ST(meta_check_create_request(&req, &ops, err, sizeof(err)), IP_OK, err);
    rec.scope = "0192F3A4-5B6C-7D8E-9FA0-B1C2D3E4F5B7"; /* the same UUID */
    EXPECT_ST(meta_check_create_request(&req, &ops, err, sizeof(err)), IP_OK, err);
    rec.image_id = ID;
    EXPECT_ST(meta_check_create_request(&req, &ops, err, sizeof(err)), IP_OK, err);
    rec.image_id = KEY_ID;
    EXPECT_BAD(meta_check_create_request(&req, &ops, err, sizeof(err)), err,
               "idempotency.image_id");
    rec.image_id = "";
    rec.scope = "";
    EXPECT_BAD(meta_check_create_request(&req, &ops, err, sizeof(err)), err, "idempotency.scope");
    img.key_id = ""; /* no key on either side: fine */
    EXPECT_ST(meta_check_create_request(&req, &ops, err, sizeof(err)), IP_OK, err);
    rec.scope = ID; /* another key's */
    EXPECT_BAD(meta_check_create_request(&req, &ops, err, sizeof(err)), err, "idempotency.scope");
    img.key_id = KEY_ID;
    rec.scope = KEY_ID;
    rec.key = "with space";
    EXPECT_BAD(meta_check_create_request(&req, &ops, err, sizeof(err)), err, "idempotency.key");
    rec.key = "";
    EXPECT_BAD(meta_check_create_request(&req, &ops, err, sizeof(err)), err, "idempotency.key");
    rec.key = "k-1";
    rec.request_sha256 = "4f596011b7dacf318adee3f2581d96905e4a64e92200304c351171f28d3d36f2";
    EXPECT_BAD(meta_check_create_request(&req, &ops, err, sizeof(err)), err,
               "idempotency.request_sha256");
    rec.request_sha256 = "";
    EXPECT_BAD(meta_check_create_request(&req, &ops, err, sizeof(err)), err,
               "idempotency.request_sha256");
    rec.request_sha256 = HASH;
    int statuses[] = {0, 199, 300, 422, -202};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        rec.status = statuses[i];
        EXPECT_BAD(meta_check_create_request(&req, &ops, err, sizeof(err)), err,
                   "idempotency.status");
    }
    rec.status = 200;
    EXPECT_ST(meta_check_create_request(&req, &ops, err, sizeof(err)), IP_OK, err);
    rec.status = 299;
    rec.response.len = META_IDEM_RESPONSE_MAX;
    EXPECT_ST(meta_check_create_request(&req, &ops, err, sizeof(err)), IP_OK, err);
    rec.response.len = META_IDEM_RESPONSE_MAX + 1;
    EXPECT_BAD(meta_check_create_request(&req, &ops, err, sizeof(err)), err,
               "idempotency.response");
    rec.response.len = 0;
    EXPECT_BAD(meta_check_create_request(&req, &ops, err, sizeof(err)), err,
               "idempotency.response");
}

/* ListImages' filters: a checksum in lowercase hex, a key's UUID. */
static void test_list_filters(void)
{
    char err[128];
    EXPECT_ST(meta_check_list_filters(NULL, NULL, err, sizeof(err)), IP_OK, err);
    EXPECT_ST(meta_check_list_filters("", "", err, sizeof(err)), IP_OK, err);
    EXPECT_ST(meta_check_list_filters(HASH, KEY_ID, err, sizeof(err)), IP_OK, err);
    EXPECT_ST(meta_check_list_filters("", KEY_ID, err, sizeof(err)), IP_OK, err);
    EXPECT_BAD(
        meta_check_list_filters("4F596011B7DACF318ADEE3F2581D96905E4A64E92200304C351171F28D3D36F1",
                                "", err, sizeof(err)),
        err, "sha256");
    EXPECT_BAD(meta_check_list_filters(HASH "0", "", err, sizeof(err)), err, "sha256");
    EXPECT_BAD(meta_check_list_filters("%", "", err, sizeof(err)), err, "sha256");
    EXPECT_BAD(meta_check_list_filters(HASH, "ipk_x", err, sizeof(err)), err, "key_id");
}

static const ip_test_case tests[] = {
    IP_TEST(ids),        IP_TEST(ops),   IP_TEST(list),   IP_TEST(create),
    IP_TEST(variant),    IP_TEST(stale), IP_TEST(status), IP_TEST(text),
    IP_TEST(migrations), IP_TEST(claim), IP_TEST(lease),  IP_TEST(api_key),
    IP_TEST(finish),     IP_TEST(files), IP_TEST(placeholder), IP_TEST(regenerate),
    IP_TEST(key_id),     IP_TEST(idempotency_key), IP_TEST(create_request), IP_TEST(list_filters),
};

IP_TEST_MAIN(tests)
