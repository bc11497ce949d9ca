/* ip_contract_test.c — the contract layer every part builds on: the variant
 * and format tables (ip_variants.h), the storage layout and bucket policy
 * (ip_keys.h), the one transient predicate (ip_status.h), the shared
 * settings (ip_settings.h) and the typed RPC stubs generated from proto/
 * (ip_rpc_stubs.h), the last against small in-process servers on ports 7292
 * and 7293.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

#include "ip_config.h"
#include "ip_job.h"
#include "ip_keys.h"
#include "ip_log.h"
#include "ip_rpc_stubs.h"
#include "ip_settings.h"
#include "ip_testing.h"
#include "ip_time.h"
#include "ip_variants.h"
#include "job.pb-c.h"

#define STORAGE_URL "tcp://127.0.0.1:7292"
#define METADATA_URL "tcp://127.0.0.1:7293"
#define ID "0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f"

/* ---------------------------------------------------------------- variants */

/* The table and the proto enum list the same kinds, and each row is its kind's. */
static void test_variant_kinds(void)
{
    const ProtobufCEnumDescriptor *ed = &imageproc__variant_kind__descriptor;
    EXPECT_EQ_INT(ed->n_values, IP_VARIANT_COUNT + 1); /* + UNSPECIFIED */
    for (unsigned i = 0; i < ed->n_values; i++) {
        ip_variant_kind k = (ip_variant_kind)ed->values[i].value;
        if (k == IP_VARIANT_NONE) {
            EXPECT(ip_variant_get(k) == NULL);
            EXPECT(ip_variant_name(k) == NULL);
            continue;
        }
        const ip_variant_def *d = ip_variant_get(k);
        CHECK(d != NULL);
        EXPECT_EQ_INT(d->kind, k);
        EXPECT(d == &ip_variants[(int)k - 1]);
    }
    for (int i = 0; i < IP_VARIANT_COUNT; i++) {
        const ip_variant_def *d = &ip_variants[i];
        EXPECT_EQ_INT(d->kind, i + 1);
        EXPECT(d->title != NULL && d->title[0] != '\0');
        /* The enum value's name is VARIANT_<NAME>. */
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, (int)d->kind);
        CHECK(ev != NULL);
        EXPECT(strncmp(ev->name, "VARIANT_", 8) == 0 && strcasecmp(ev->name + 8, d->name) == 0);
        for (int j = 0; j < i; j++) {
            EXPECT(strcmp(ip_variants[j].name, d->name) != 0);
            EXPECT(ip_variants[j].serve_rank != d->serve_rank);
        }
    }
    /* The default served is watermarked, else resized, else thumbnail. */
    EXPECT(ip_variant_get(IP_VARIANT_WATERMARKED)->serve_rank >
           ip_variant_get(IP_VARIANT_RESIZED)->serve_rank);
    EXPECT(ip_variant_get(IP_VARIANT_RESIZED)->serve_rank >
           ip_variant_get(IP_VARIANT_THUMBNAIL)->serve_rank);
    EXPECT(ip_variant_get((ip_variant_kind)(IP_VARIANT_COUNT + 1)) == NULL);
    EXPECT(ip_variant_get((ip_variant_kind)-1) == NULL);
}

/* name -> parse -> kind -> name, and what parse refuses. */
static void test_variant_names(void)
{
    EXPECT_EQ_STR(ip_variant_name(IP_VARIANT_THUMBNAIL), "thumbnail");
    EXPECT_EQ_STR(ip_variant_name(IP_VARIANT_RESIZED), "resized");
    EXPECT_EQ_STR(ip_variant_name(IP_VARIANT_WATERMARKED), "watermarked");
    for (int i = 0; i < IP_VARIANT_COUNT; i++) {
        const char *name = ip_variants[i].name;
        ip_variant_kind k = ip_variant_parse(name, strlen(name));
        EXPECT_EQ_INT(k, ip_variants[i].kind);
        EXPECT_EQ_STR(ip_variant_name(k), name);
        /* Only the first len bytes count: the name inside a longer text. */
        char longer[64];
        snprintf(longer, sizeof longer, "%s,rest", name);
        EXPECT_EQ_INT(ip_variant_parse(longer, strlen(name)), k);
        /* A prefix or an extension of a name is none. */
        EXPECT_EQ_INT(ip_variant_parse(name, strlen(name) - 1), IP_VARIANT_NONE);
        EXPECT_EQ_INT(ip_variant_parse(longer, strlen(name) + 1), IP_VARIANT_NONE);
    }
    static const char *const bad[] = {"",           "Thumbnail",  "THUMBNAIL", "original",
                                      " thumbnail", "thumbnail ", "thumb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT_EQ_INT(ip_variant_parse(bad[i], strlen(bad[i])), IP_VARIANT_NONE);
    EXPECT_EQ_INT(ip_variant_parse(NULL, 0), IP_VARIANT_NONE);
    EXPECT_EQ_INT(ip_variant_parse("thumb\0nail", 10), IP_VARIANT_NONE);
}

static void test_variant_masks(void)
{
    unsigned mask = 99;
    const char *bad = "unset";
    EXPECT_ST(ip_variant_mask_parse("thumbnail,resized", &mask, &bad), IP_OK, "");
    EXPECT_EQ_INT(mask, ip_variant_bit(IP_VARIANT_THUMBNAIL) | ip_variant_bit(IP_VARIANT_RESIZED));
    EXPECT(bad == NULL);
    /* Order and duplicates do not matter. */
    EXPECT_ST(ip_variant_mask_parse("watermarked,thumbnail,resized,thumbnail", &mask, NULL), IP_OK,
              "");
    EXPECT_EQ_INT(mask, IP_VARIANT_MASK_ALL);
    /* Empty (or no) text is the empty set; callers choose their default. */
    EXPECT_ST(ip_variant_mask_parse("", &mask, &bad), IP_OK, "");
    EXPECT_EQ_INT(mask, 0);
    EXPECT_ST(ip_variant_mask_parse(NULL, &mask, &bad), IP_OK, "");
    EXPECT_EQ_INT(mask, 0);

    /* Bad items: *bad points at the first one, the mask is empty. */
    static const struct {
        const char *text;
        size_t bad_at;
    } cases[] = {
        {"nope", 0},
        {"thumbnail,nope", 10},
        {"thumbnail,,resized", 10},
        {"thumbnail,", 10},
        {",thumbnail", 0},
        {"thumbnail, resized", 10},
        {"thumbnail ,resized", 0},
        {"Resized", 0},
        {"resized,original", 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mask = 99;
        bad = NULL;
        ip_status st = ip_variant_mask_parse(cases[i].text, &mask, &bad);
        if (st != IP_INVALID_ARGUMENT || mask != 0 || bad != cases[i].text + cases[i].bad_at)
            fprintf(stderr, "mask \"%s\": %s, mask %u, bad at %td (want %zu)\n", cases[i].text,
                    ip_strerror(st), mask, bad != NULL ? bad - cases[i].text : (ptrdiff_t)-1,
                    cases[i].bad_at);
        EXPECT_EQ_INT(st, IP_INVALID_ARGUMENT);
        EXPECT_EQ_INT(mask, 0);
        EXPECT(bad == cases[i].text + cases[i].bad_at);
    }
    EXPECT_ST(ip_variant_mask_parse("nope", &mask, NULL), IP_INVALID_ARGUMENT, "bad may be NULL");

    /* kinds and of: a mask and its kinds in canonical order. */
    ip_variant_kind kinds[IP_VARIANT_COUNT];
    EXPECT_EQ_INT(ip_variant_mask_kinds(IP_VARIANT_MASK_ALL, kinds), 3);
    EXPECT(kinds[0] == IP_VARIANT_THUMBNAIL && kinds[1] == IP_VARIANT_RESIZED &&
           kinds[2] == IP_VARIANT_WATERMARKED);
    EXPECT_EQ_INT(ip_variant_mask_kinds(0, kinds), 0);
    EXPECT_EQ_INT(ip_variant_mask_of(kinds, 3), IP_VARIANT_MASK_ALL);
    ip_variant_kind odd[] = {IP_VARIANT_NONE, IP_VARIANT_RESIZED, (ip_variant_kind)42,
                             IP_VARIANT_RESIZED};
    EXPECT_EQ_INT(ip_variant_mask_of(odd, 4), ip_variant_bit(IP_VARIANT_RESIZED));
    EXPECT_EQ_INT(ip_variant_mask_of(NULL, 0), 0);
}

static void test_variant_format(void)
{
    char buf[IP_VARIANT_LIST_MAX];
    EXPECT_EQ_INT(ip_variant_mask_format(IP_VARIANT_MASK_ALL, buf, sizeof buf),
                  strlen("thumbnail,resized,watermarked"));
    EXPECT_EQ_STR(buf, "thumbnail,resized,watermarked");
    EXPECT_EQ_INT(ip_variant_mask_format(0, buf, sizeof buf), 0);
    EXPECT_EQ_STR(buf, "");
    unsigned wr = ip_variant_bit(IP_VARIANT_WATERMARKED) | ip_variant_bit(IP_VARIANT_RESIZED);
    ip_variant_mask_format(wr, buf, sizeof buf);
    EXPECT_EQ_STR(buf, "resized,watermarked");
    /* Bits that are not variants are left out; kinds that are not variants have none. */
    EXPECT_EQ_INT(ip_variant_bit(IP_VARIANT_NONE), 0);
    EXPECT_EQ_INT(ip_variant_bit((ip_variant_kind)99), 0);
    EXPECT_EQ_INT(ip_variant_bit((ip_variant_kind)-7), 0);
    ip_variant_mask_format(wr | 1u | (1u << 20), buf, sizeof buf);
    EXPECT_EQ_STR(buf, "resized,watermarked");

    /* Round trip: every set of kinds. */
    for (unsigned m = 0; m <= IP_VARIANT_MASK_ALL; m++) {
        if (m & ~IP_VARIANT_MASK_ALL)
            continue;
        unsigned back = 99;
        size_t n = ip_variant_mask_format(m, buf, sizeof buf);
        EXPECT_EQ_INT(n, strlen(buf));
        EXPECT_ST(ip_variant_mask_parse(buf, &back, NULL), IP_OK, buf);
        EXPECT_EQ_INT(back, m);
    }

    /* A short buffer holds whole names only, always terminated. */
    char small[12];
    EXPECT_EQ_INT(ip_variant_mask_format(IP_VARIANT_MASK_ALL, small, sizeof small), 9);
    EXPECT_EQ_STR(small, "thumbnail");
    EXPECT_EQ_INT(ip_variant_mask_format(IP_VARIANT_MASK_ALL, small, 9), 0);
    EXPECT_EQ_STR(small, "");
    EXPECT_EQ_INT(ip_variant_mask_format(IP_VARIANT_MASK_ALL, small, 0), 0);

    /* Formats. */
    EXPECT(ip_format_by_name("jpeg") == &ip_format_jpeg);
    EXPECT(ip_format_by_name("png") == &ip_format_png);
    EXPECT(ip_format_by_ext("jpg") == &ip_format_jpeg);
    EXPECT(ip_format_by_ext("png") == &ip_format_png);
    EXPECT(ip_format_by_name("jpg") == NULL && ip_format_by_ext("jpeg") == NULL);
    EXPECT(ip_format_by_name(NULL) == NULL && ip_format_by_ext(NULL) == NULL);
    EXPECT(ip_format_by_name("webp") == &ip_format_webp && ip_format_by_ext("avif") == &ip_format_avif);
    EXPECT(ip_format_by_name("gif") == NULL);
    EXPECT(ip_format_is_primary(&ip_format_jpeg) && ip_format_is_primary(&ip_format_png));
    EXPECT(!ip_format_is_primary(&ip_format_webp) && !ip_format_is_primary(NULL));
    EXPECT(ip_format_avif.preference > ip_format_webp.preference);
    EXPECT_EQ_STR(ip_format_jpeg.content_type, "image/jpeg");
    EXPECT_EQ_STR(ip_format_png.content_type, "image/png");
}

/* ---------------------------------------------------------------- keys */

static void test_keys(void)
{
    char key[IP_KEY_MAX];
    EXPECT_ST(ip_key_original(key, ID), IP_OK, "");
    EXPECT_EQ_STR(key, "o/" ID);
    EXPECT_ST(ip_key_variant(key, ID, IP_VARIANT_THUMBNAIL, &ip_format_jpeg), IP_OK, "");
    EXPECT_EQ_STR(key, "v/" ID "/thumbnail.jpg");
    EXPECT_ST(ip_key_variant(key, ID, IP_VARIANT_WATERMARKED, &ip_format_png), IP_OK, "");
    EXPECT_EQ_STR(key, "v/" ID "/watermarked.png");
    EXPECT_ST(ip_key_variant_prefix(key, ID), IP_OK, "");
    EXPECT_EQ_STR(key, "v/" ID "/");
    /* Every variant key lies under its image's prefix. */
    char prefix[IP_KEY_MAX];
    CHECK(ip_key_variant_prefix(prefix, ID) == IP_OK);
    for (int i = 0; i < IP_VARIANT_COUNT; i++) {
        CHECK(ip_key_variant(key, ID, ip_variants[i].kind, &ip_format_jpeg) == IP_OK);
        EXPECT(strncmp(key, prefix, strlen(prefix)) == 0);
        EXPECT(ip_key_is_public(key));
    }

    /* The longest id fits; one more byte, an empty id or a slash does not,
     * and a refused key leaves an empty buffer. */
    char id[IP_KEY_ID_MAX + 2];
    memset(id, 'a', IP_KEY_ID_MAX);
    id[IP_KEY_ID_MAX] = '\0';
    EXPECT_ST(ip_key_variant(key, id, IP_VARIANT_WATERMARKED, &ip_format_jpeg), IP_OK, "");
    EXPECT_EQ_INT(strlen(key), 2 + IP_KEY_ID_MAX + strlen("/watermarked.jpg"));
    id[IP_KEY_ID_MAX] = 'a';
    id[IP_KEY_ID_MAX + 1] = '\0';
    static const char *const bad_ids[] = {"", "a/b", "/", "../x"};
    for (size_t i = 0; i < 5; i++) {
        const char *b = i < 4 ? bad_ids[i] : id;
        strcpy(key, "junk");
        EXPECT_ST(ip_key_original(key, b), IP_INVALID_ARGUMENT, b);
        EXPECT_EQ_STR(key, "");
        strcpy(key, "junk");
        EXPECT_ST(ip_key_variant(key, b, IP_VARIANT_THUMBNAIL, &ip_format_jpeg),
                  IP_INVALID_ARGUMENT, b);
        EXPECT_EQ_STR(key, "");
        strcpy(key, "junk");
        EXPECT_ST(ip_key_variant_prefix(key, b), IP_INVALID_ARGUMENT, b);
        EXPECT_EQ_STR(key, "");
    }
    EXPECT_ST(ip_key_original(key, NULL), IP_INVALID_ARGUMENT, "NULL id");
    EXPECT_ST(ip_key_variant(key, ID, IP_VARIANT_NONE, &ip_format_jpeg), IP_INVALID_ARGUMENT,
              "no kind");
    EXPECT_ST(ip_key_variant(key, ID, (ip_variant_kind)9, &ip_format_jpeg), IP_INVALID_ARGUMENT,
              "bad kind");
    EXPECT_ST(ip_key_variant(key, ID, IP_VARIANT_RESIZED, NULL), IP_INVALID_ARGUMENT, "no format");

    /* Preset versions: 0 and 1 keep the first key, later ones are new keys
     * under the same prefix; the longest id with the largest version fits. */
    EXPECT_ST(ip_key_variant_version(key, ID, IP_VARIANT_THUMBNAIL, &ip_format_webp, 1), IP_OK, "");
    EXPECT_EQ_STR(key, "v/" ID "/thumbnail.webp");
    EXPECT_ST(ip_key_variant_version(key, ID, IP_VARIANT_THUMBNAIL, &ip_format_jpeg, 0), IP_OK, "");
    EXPECT_EQ_STR(key, "v/" ID "/thumbnail.jpg");
    EXPECT_ST(ip_key_variant_version(key, ID, IP_VARIANT_RESIZED, &ip_format_avif, 7), IP_OK, "");
    EXPECT_EQ_STR(key, "v/" ID "/resized.v7.avif");
    id[IP_KEY_ID_MAX] = '\0';
    EXPECT_ST(ip_key_variant_version(key, id, IP_VARIANT_WATERMARKED, &ip_format_avif, 2147483647),
              IP_OK, "");
    EXPECT_ST(ip_key_variant_version(key, "a/b", IP_VARIANT_RESIZED, &ip_format_avif, 3),
              IP_INVALID_ARGUMENT, "");

    /* Logos: private, named by the hex SHA-256 of their bytes. */
    static const char hex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    EXPECT_ST(ip_key_logo(key, hex), IP_OK, "");
    EXPECT_EQ_STR(key, "p/logo/" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                       ".png");
    EXPECT(ip_key_is_logo(key) && !ip_key_is_public(key));
    EXPECT_ST(ip_key_logo(key, "0123"), IP_INVALID_ARGUMENT, "short");
    EXPECT_ST(ip_key_logo(key, NULL), IP_INVALID_ARGUMENT, "NULL");
    EXPECT(!ip_key_is_logo("p/logo/x.png") && !ip_key_is_logo("v/" ID "/thumbnail.jpg") &&
           !ip_key_is_logo(NULL));
}

static void test_key_public(void)
{
    EXPECT(ip_key_is_public("v/" ID "/thumbnail.jpg"));
    EXPECT(ip_key_is_public("v/x"));
    EXPECT(!ip_key_is_public("v/"));
    EXPECT(!ip_key_is_public("o/" ID));
    EXPECT(!ip_key_is_public("vx/" ID));
    EXPECT(!ip_key_is_public("/v/" ID));
    EXPECT(!ip_key_is_public(""));
    EXPECT(!ip_key_is_public(NULL));

    char key[IP_KEY_MAX];
    CHECK(ip_key_variant(key, ID, IP_VARIANT_RESIZED, &ip_format_png) == IP_OK);
    char *path = ip_key_media_path(key);
    EXPECT_EQ_STR(path, "/media/" ID "/resized.png");
    free(path);
    CHECK(ip_key_original(key, ID) == IP_OK);
    EXPECT(ip_key_media_path(key) == NULL); /* originals are never served */
    EXPECT(ip_key_media_path("v/") == NULL);
    EXPECT(ip_key_media_path(NULL) == NULL);
}

/* The one element of `arr` (a JSON array) as a string, or NULL. */
static const char *only_string(json_t *arr)
{
    return json_is_array(arr) && json_array_size(arr) == 1
               ? json_string_value(json_array_get(arr, 0))
               : NULL;
}

static void test_bucket_policy(void)
{
    char *text = ip_bucket_policy_json("images");
    CHECK(text != NULL);
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        fprintf(stderr, "policy is not JSON (%s): %s\n", je.text, text);
    CHECK(j != NULL);
    EXPECT_EQ_STR(json_string_value(json_object_get(j, "Version")), "2012-10-17");
    json_t *stmts = json_object_get(j, "Statement");
    CHECK(json_is_array(stmts));
    EXPECT_EQ_INT(json_array_size(stmts), 1); /* one grant, nothing else */
    json_t *st = json_array_get(stmts, 0);
    CHECK(json_is_object(st));
    EXPECT_EQ_STR(json_string_value(json_object_get(st, "Effect")), "Allow");
    EXPECT_EQ_STR(only_string(json_object_get(json_object_get(st, "Principal"), "AWS")), "*");
    EXPECT_EQ_STR(only_string(json_object_get(st, "Action")), "s3:GetObject");
    EXPECT_EQ_STR(only_string(json_object_get(st, "Resource")),
                  "arn:aws:s3:::images/" IP_KEY_PUBLIC_PREFIX "*");
    /* No condition or other key widens or narrows it. */
    const char *k;
    json_t *v;
    json_object_foreach(st, k, v)
    {
        EXPECT(strcmp(k, "Sid") == 0 || strcmp(k, "Effect") == 0 || strcmp(k, "Principal") == 0 ||
               strcmp(k, "Action") == 0 || strcmp(k, "Resource") == 0);
    }
    json_decref(j);
    free(text);

    text = ip_bucket_policy_json("my.bucket-2");
    CHECK(text != NULL);
    EXPECT(strstr(text, "\"arn:aws:s3:::my.bucket-2/v/*\"") != NULL);
    free(text);
    /* Names S3 refuses (and that JSON would need escaped) give no policy. */
    static const char *const bad[] = {"", "ab", "Images", "a\"b", "a\\b", "im ages", "a/b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT(ip_bucket_policy_json(bad[i]) == NULL);
    EXPECT(ip_bucket_policy_json(NULL) == NULL);
    char longname[70];
    memset(longname, 'b', 64);
    longname[64] = '\0';
    EXPECT(ip_bucket_policy_json(longname) == NULL);
    longname[63] = '\0';
    text = ip_bucket_policy_json(longname);
    EXPECT(text != NULL);
    free(text);
}

/* ---------------------------------------------------------------- status, settings */

static void test_transient(void)
{
    for (int s = 0; s < IP_STATUS_COUNT; s++) {
        bool want = s == IP_UNAVAILABLE || s == IP_DEADLINE_EXCEEDED;
        if (ip_status_is_transient((ip_status)s) != want)
            fprintf(stderr, "ip_status_is_transient(%s) is %d\n", ip_strerror((ip_status)s), !want);
        EXPECT(ip_status_is_transient((ip_status)s) == want);
    }
    EXPECT(!ip_status_is_transient((ip_status)IP_STATUS_COUNT));
}

/* Every shared setting: a name of its own, help, and a default its own
 * bounds accept (loaded from an environment that sets none of them). */
typedef struct all_settings {
    char *metadata_rpc_url, *metadata_events_url, *storage_rpc_url, *kafka_brokers, *kafka_topic,
        *log_level, *s3_bucket;
    int64_t rpc_timeout_ms, rpc_max_msg_bytes, rpc_workers, upload_max_bytes, pixel_limit;
} all_settings;

static const ip_cfg_var shared[] = {
    IP_SETTING_METADATA_RPC_URL(offsetof(all_settings, metadata_rpc_url)),
    IP_SETTING_METADATA_EVENTS_URL(offsetof(all_settings, metadata_events_url)),
    IP_SETTING_STORAGE_RPC_URL(offsetof(all_settings, storage_rpc_url)),
    IP_SETTING_RPC_TIMEOUT_MS(offsetof(all_settings, rpc_timeout_ms)),
    IP_SETTING_RPC_MAX_MSG_BYTES(offsetof(all_settings, rpc_max_msg_bytes)),
    IP_SETTING_RPC_WORKERS(offsetof(all_settings, rpc_workers)),
    IP_SETTING_KAFKA_BROKERS(offsetof(all_settings, kafka_brokers)),
    IP_SETTING_KAFKA_TOPIC(offsetof(all_settings, kafka_topic)),
    IP_SETTING_UPLOAD_MAX_BYTES(offsetof(all_settings, upload_max_bytes)),
    IP_SETTING_PIXEL_LIMIT(offsetof(all_settings, pixel_limit)),
    IP_SETTING_LOG_LEVEL(offsetof(all_settings, log_level)),
    IP_SETTING_S3_BUCKET(offsetof(all_settings, s3_bucket)),
};
#define N_SHARED (sizeof shared / sizeof shared[0])

static void test_settings(void)
{
    for (size_t i = 0; i < N_SHARED; i++) {
        unsetenv(shared[i].name);
        EXPECT(strncmp(shared[i].name, "IP_", 3) == 0);
        EXPECT(shared[i].help != NULL && shared[i].help[0] != '\0');
        EXPECT(shared[i].def != NULL && !shared[i].secret);
        for (size_t k = 0; k < i; k++)
            EXPECT(strcmp(shared[k].name, shared[i].name) != 0);
    }
    all_settings s = {0};
    char *errors = NULL;
    EXPECT_ST(ip_config_load(shared, N_SHARED, &s, &errors), IP_OK, errors ? errors : "");
    free(errors);
    EXPECT_EQ_STR(s.metadata_rpc_url, "tcp://127.0.0.1:7101");
    EXPECT_EQ_STR(s.storage_rpc_url, "tcp://127.0.0.1:7201");
    EXPECT_EQ_STR(s.s3_bucket, "images");
    EXPECT_EQ_INT(s.upload_max_bytes, 50 * 1024 * 1024);
    /* A message must carry the largest upload. */
    EXPECT(s.rpc_max_msg_bytes > s.upload_max_bytes);
    ip_log_level lv;
    EXPECT(ip_log_level_parse(s.log_level, &lv));
    ip_config_free(shared, N_SHARED, &s);
}

/* ---------------------------------------------------------------- stubs */

static ip_status st_head(void *user, ip_rpc_call *call, const Imageproc__HeadObjectRequest *in,
                         Imageproc__HeadObjectReply *out)
{
    if (strcmp(in->key, "missing") == 0) {
        ip_rpc_call_errorf(call, "no object %s", in->key);
        return IP_NOT_FOUND;
    }
    Imageproc__ObjectInfo *info = ip_rpc_call_alloc(call, sizeof *info);
    if (info == NULL)
        return IP_RESOURCE_EXHAUSTED;
    imageproc__object_info__init(info);
    info->key = ip_rpc_call_strdup(call, in->key);
    info->size_bytes = *(const int64_t *)user;
    out->info = info;
    return IP_OK;
}

static ip_status st_get(void *user, ip_rpc_call *call, const Imageproc__GetObjectRequest *in,
                        Imageproc__GetObjectReply *out)
{
    size_t n = strlen(in->key);
    out->data.data = ip_rpc_call_memdup(call, in->key, n);
    out->data.len = n;
    return IP_OK;
}

static ip_rpc_client *stub_client(const ProtobufCServiceDescriptor *svc, const char *url)
{
    ip_rpc_client *c = NULL;
    ip_rpc_client_opts o = {.urls = url, .timeout_ms = 3000};
    CHECK_ST(ip_rpc_client_new(svc, &o, &c), IP_OK, url);
    int64_t until = ip_mono_ms() + 10000;
    while (ip_rpc_ping(c, 500) != IP_OK) {
        CHECK(ip_mono_ms() < until);
        usleep(10000);
    }
    return c;
}

/* A Storage server built from typed handlers, called through typed stubs;
 * a method without a handler answers INTERNAL. */
static void test_stubs_storage(void)
{
    static const int64_t size = 4242;
    const ip_storage_impl impl = {
        .user = (void *)&size, .head_object = st_head, .get_object = st_get};
    ip_rpc_server *srv = NULL;
    ip_rpc_server_opts so = {.url = STORAGE_URL, .workers = 2};
    CHECK_ST(ip_storage_server_new(&impl, &so, &srv), IP_OK, STORAGE_URL);
    ip_rpc_client *c = stub_client(&imageproc__storage__descriptor, STORAGE_URL);
    char err[256];

    Imageproc__HeadObjectRequest hr = IMAGEPROC__HEAD_OBJECT_REQUEST__INIT;
    hr.key = "v/" ID "/thumbnail.jpg";
    Imageproc__HeadObjectReply *head = NULL;
    CHECK_ST(ip_storage_head_object(c, &hr, &head, NULL, err, sizeof err), IP_OK, err);
    CHECK(head != NULL && head->info != NULL);
    EXPECT_EQ_STR(head->info->key, hr.key);
    EXPECT_EQ_INT(head->info->size_bytes, size);
    imageproc__head_object_reply__free_unpacked(head, NULL);

    hr.key = "missing";
    head = (Imageproc__HeadObjectReply *)1;
    EXPECT_ST(ip_storage_head_object(c, &hr, &head, NULL, err, sizeof err), IP_NOT_FOUND, err);
    EXPECT(head == NULL);
    EXPECT_EQ_STR(err, "no object missing");

    Imageproc__GetObjectRequest gr = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
    gr.key = "o/" ID;
    Imageproc__GetObjectReply *got = NULL;
    ip_rpc_call_opts opts = {.timeout_ms = 1000, .request_id = "contract-test"};
    CHECK_ST(ip_storage_get_object(c, &gr, &got, &opts, err, sizeof err), IP_OK, err);
    EXPECT(got->data.len == strlen(gr.key) && memcmp(got->data.data, gr.key, got->data.len) == 0);
    imageproc__get_object_reply__free_unpacked(got, NULL);

    /* No handler: INTERNAL, naming the method. */
    Imageproc__DeleteObjectsRequest dr = IMAGEPROC__DELETE_OBJECTS_REQUEST__INIT;
    dr.prefix = "v/" ID "/";
    Imageproc__DeleteObjectsReply *del = (Imageproc__DeleteObjectsReply *)1;
    EXPECT_ST(ip_storage_delete_objects(c, &dr, &del, NULL, err, sizeof err), IP_INTERNAL, err);
    EXPECT(del == NULL);
    EXPECT(strstr(err, "DeleteObjects") != NULL && strstr(err, "not implemented") != NULL);
    Imageproc__PutObjectRequest pr = IMAGEPROC__PUT_OBJECT_REQUEST__INIT;
    Imageproc__PutObjectReply *put = NULL;
    EXPECT_ST(ip_storage_put_object(c, &pr, &put, NULL, err, sizeof err), IP_INTERNAL, err);

    /* A stub without somewhere to put the reply is refused without a call. */
    EXPECT_ST(ip_storage_get_object(c, &gr, NULL, NULL, err, sizeof err), IP_INVALID_ARGUMENT, err);

    ip_rpc_client_free(c);
    ip_rpc_server_free(srv);
}

/* A Metadata server with no handler at all answers INTERNAL to every method. */
static void test_stubs_metadata_unimplemented(void)
{
    const ip_metadata_impl impl = {0};
    ip_rpc_server *srv = NULL;
    ip_rpc_server_opts so = {.url = METADATA_URL, .workers = 1};
    CHECK_ST(ip_metadata_server_new(&impl, &so, &srv), IP_OK, METADATA_URL);
    ip_rpc_client *c = stub_client(&imageproc__metadata__descriptor, METADATA_URL);
    char err[256];

    Imageproc__GetImageRequest gr = IMAGEPROC__GET_IMAGE_REQUEST__INIT;
    gr.id = ID;
    Imageproc__GetImageReply *img = NULL;
    EXPECT_ST(ip_metadata_get_image(c, &gr, &img, NULL, err, sizeof err), IP_INTERNAL, err);
    EXPECT(img == NULL);
    EXPECT(strstr(err, "GetImage is not implemented") != NULL);

    Imageproc__ListImagesRequest lr = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
    lr.with_variant = IP_VARIANT_RESIZED;
    Imageproc__ListImagesReply *list = NULL;
    EXPECT_ST(ip_metadata_list_images(c, &lr, &list, NULL, err, sizeof err), IP_INTERNAL, err);
    EXPECT(strstr(err, "ListImages is not implemented") != NULL);

    ip_rpc_client_free(c);
    ip_rpc_server_free(srv);
}

/* The job as every producer makes it: the id's original key unless one is
 * given, the variants in order, the attempt, enqueued now. */
static void test_job_pack(void)
{
    const char *id = "0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f";
    ip_variant_kind kinds[] = {IP_VARIANT_THUMBNAIL, IP_VARIANT_WATERMARKED};
    uint8_t *buf = NULL;
    size_t n = 0;
    char err[128] = "";
    int64_t before = ip_now_us();
    CHECK_ST(ip_job_pack(id, NULL, "image/png", kinds, 2, 3, &buf, &n, err, sizeof err), IP_OK,
             err);
    Imageproc__ProcessJob *job = imageproc__process_job__unpack(NULL, n, buf);
    free(buf);
    CHECK(job != NULL);
    EXPECT_EQ_STR(job->id, id);
    EXPECT_EQ_STR(job->original_key, "o/0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f");
    EXPECT_EQ_STR(job->content_type, "image/png");
    EXPECT(job->n_requested == 2 && job->requested[0] == IP_VARIANT_THUMBNAIL &&
           job->requested[1] == IP_VARIANT_WATERMARKED);
    EXPECT_EQ_INT(job->attempt, 3);
    EXPECT(job->enqueued_at_us >= before && job->enqueued_at_us <= ip_now_us());
    imageproc__process_job__free_unpacked(job, NULL);

    CHECK_ST(ip_job_pack(id, "o/elsewhere", "image/png", kinds, 1, 1, &buf, &n, err, sizeof err),
             IP_OK, err);
    job = imageproc__process_job__unpack(NULL, n, buf);
    free(buf);
    CHECK(job != NULL);
    EXPECT_EQ_STR(job->original_key, "o/elsewhere");
    imageproc__process_job__free_unpacked(job, NULL);

    EXPECT_ST(ip_job_pack("a/b", NULL, "image/png", kinds, 1, 1, &buf, &n, err, sizeof err),
              IP_INVALID_ARGUMENT, err);
    EXPECT(buf == NULL && strstr(err, "makes no object key") != NULL);
}

static const ip_test_case tests[] = {
    IP_TEST(job_pack),      IP_TEST(variant_kinds),  IP_TEST(variant_names),
    IP_TEST(variant_masks), IP_TEST(variant_format), IP_TEST(keys),
    IP_TEST(key_public),    IP_TEST(bucket_policy),  IP_TEST(transient),
    IP_TEST(settings),      IP_TEST(stubs_storage),  IP_TEST(stubs_metadata_unimplemented),
};

int main(int argc, char **argv)
{
    ip_log_init("ip_contract_test", IP_LOG_WARN);
    return ip_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
