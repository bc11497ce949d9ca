/* imgctl_test.c — imgctl against a test server: JSON in, JSON out, errors
 * with their status name and a non-zero exit, ping, --help, bucket-policy,
 * `keys` (what it sends and prints, and its usage errors).
 * The path of the imgctl binary comes in IMGCTL (set by ctest). Ports 7291
 * and 7294 are used. The dead-letter commands are tested against the real Kafka and
 * metadata-svc in imgctl_it_test.c. */
#include <jansson.h>

#include "imgctl_testing.h"
#include "ip_access.h"
#include "ip_keys.h"
#include "ip_log.h"
#include "ip_rpc.h"
#include "ip_rpc_stubs.h"
#include "ip_testing.h"
#include "ip_uuid.h"
#include "ip_variants.h"

#define URL "tcp://127.0.0.1:7291"
#define KEYS_URL "tcp://127.0.0.1:7294" /* the key RPCs' test server */

static ip_status h_get_image(void *user, ip_rpc_call *call, const Imageproc__GetImageRequest *req,
                             Imageproc__GetImageReply *rep)
{
    if (strcmp(req->id, "missing") == 0) {
        ip_rpc_call_errorf(call, "image %s not found", req->id);
        return IP_NOT_FOUND;
    }
    Imageproc__Image *img = ip_rpc_call_alloc(call, sizeof *img);
    imageproc__image__init(img);
    img->id = ip_rpc_call_strdup(call, req->id);
    img->created_at_us = 1795911760123456LL;
    img->status = IMAGEPROC__IMAGE_STATUS__IMAGE_READY;
    img->n_requested = 1;
    img->requested = ip_rpc_call_alloc(call, sizeof *img->requested);
    img->requested[0] = IP_VARIANT_THUMBNAIL;
    rep->image = img;
    return IP_OK;
}

static void test_roundtrip(void)
{
    static const ip_metadata_impl impl = {.get_image = h_get_image};
    ip_rpc_server *srv = NULL;
    ip_rpc_server_opts so = {.url = URL, .workers = 2};
    CHECK_EQ_INT(ip_metadata_server_new(&impl, &so, &srv), IP_OK);

    char *out, *err;
    /* ping (the readiness probe) */
    CHECK_EQ_INT(imgctl_run("--url " URL " ping metadata", &out, &err), 0);
    free(out);
    free(err);

    CHECK_EQ_INT(
        imgctl_run("--url " URL
                   " metadata GetImage '{\"id\":\"0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f\"}'",
                   &out, &err),
        0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    CHECK(j != NULL);
    json_t *img = json_object_get(j, "image");
    CHECK_EQ_STR(json_string_value(json_object_get(img, "id")),
                 "0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f");
    CHECK_EQ_INT(json_integer_value(json_object_get(img, "created_at_us")), 1795911760123456LL);
    CHECK_EQ_STR(json_string_value(json_object_get(img, "status")), "IMAGE_READY");
    EXPECT_EQ_STR(json_string_value(json_array_get(json_object_get(img, "requested"), 0)),
                  "VARIANT_THUMBNAIL");
    json_decref(j);
    free(out);
    free(err);

    /* Errors: the status name and the server's message, exit 1. */
    CHECK_EQ_INT(imgctl_run("--url " URL " metadata GetImage '{\"id\":\"missing\"}'", &out, &err),
                 1);
    CHECK(strstr(err, "not_found: image missing not found") != NULL);
    free(out);
    free(err);
    /* Not implemented on this test server. */
    CHECK_EQ_INT(imgctl_run("--url " URL " metadata ListImages '{}'", &out, &err), 1);
    EXPECT(strstr(err, "internal: ") != NULL && strstr(err, "not implemented") != NULL);
    free(out);
    free(err);
    /* Bad JSON and unknown methods are usage errors (2), with no call made. */
    CHECK_EQ_INT(imgctl_run("--url " URL " metadata GetImage '{\"idd\":1}'", &out, &err), 2);
    CHECK(strstr(err, "unknown field") != NULL);
    free(out);
    free(err);
    CHECK_EQ_INT(imgctl_run("--url " URL " metadata Nope '{}'", &out, &err), 2);
    free(out);
    free(err);
    /* JSON on stdin. */
    CHECK_EQ_INT(imgctl_run("--url " URL " metadata GetImage - < /dev/null", &out, &err), 2);
    free(out);
    free(err);
    char inpath[] = "/tmp/imgctl-in-XXXXXX";
    int ifd = mkstemp(inpath);
    CHECK(ifd >= 0 && write(ifd, "{\"id\":\"x\"}", 10) == 10);
    close(ifd);
    char args[256];
    snprintf(args, sizeof args, "--url " URL " metadata GetImage - < %s", inpath);
    CHECK_EQ_INT(imgctl_run(args, &out, &err), 0);
    unlink(inpath);
    CHECK(strstr(out, "\"id\": \"x\"") != NULL);
    free(out);
    free(err);

    ip_rpc_server_free(srv);
    /* Nothing listening: ping fails promptly with unavailable. */
    CHECK_EQ_INT(imgctl_run("--url " URL " ping metadata", &out, &err), 1);
    CHECK(strstr(err, "unavailable") != NULL);
    free(out);
    free(err);
    CHECK_EQ_INT(imgctl_run("--url " URL " storage GetObject '{\"key\":\"o/x\"}'", &out, &err), 1);
    CHECK(strstr(err, "unavailable") != NULL);
    free(out);
    free(err);
}

static void test_help(void)
{
    char *out, *err;
    CHECK_EQ_INT(imgctl_run("--help", &out, &err), 0);
    CHECK(strstr(out, "GetImage") != NULL);
    CHECK(strstr(out, "MarkEnqueued") != NULL);
    CHECK(strstr(out, "DeleteObjects") != NULL);
    CHECK(strstr(out, "enqueued_at_us: int64") != NULL);
    CHECK(strstr(out, "data: bytes (base64)") != NULL);
    EXPECT(strstr(out, "imgctl bucket-policy [BUCKET]") != NULL);
    EXPECT(strstr(out, "dlq replay IMAGE-ID|--all") != NULL);
    EXPECT(strstr(out, "retry IMAGE-ID") != NULL);
    EXPECT(strstr(out, "poison only") != NULL);
    EXPECT(strstr(out, "keys create --name NAME --scopes SCOPE[,SCOPE...]") != NULL);
    EXPECT(strstr(out, "keys revoke KEY-ID|KEY-PREFIX") != NULL);
    EXPECT(strstr(out, "--scopes admin") != NULL);
    free(out);
    free(err);
    CHECK_EQ_INT(imgctl_run("--config-vars", &out, &err), 0);
    CHECK(strstr(out, "IP_METADATA_RPC_URL=tcp://127.0.0.1:7101") != NULL);
    EXPECT(strstr(out, "IP_KAFKA_DLQ_TOPIC=image-jobs.dlq") != NULL);
    EXPECT(strstr(out, "IP_KAFKA_TOPIC=image-jobs") != NULL);
    free(out);
    free(err);
    CHECK_EQ_INT(imgctl_run("nosuch GetImage", &out, &err), 2);
    free(out);
    free(err);

    /* The usage errors of the dead-letter commands are found before any I/O
     * (the Kafka address here answers nothing). */
    setenv("IP_KAFKA_BROKERS", "127.0.0.1:1", 1);
    static const char *const bad[] = {
        "dlq",
        "dlq nope",
        "dlq list extra",
        "dlq show",
        "dlq show not-an-id",
        "dlq show 1:x",
        "dlq replay",
        "dlq replay not-an-id",
        "dlq replay --every",
        "retry",
        "retry not-an-id",
        "retry 0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f extra",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        imgctl_expect(2, NULL, strncmp(bad[i], "retry not", 9) == 0 ? "an image id" : "usage", "%s",
                      bad[i]);
    unsetenv("IP_KAFKA_BROKERS");
}

/* The policy printed is ip_keys.h's, for the bucket named, else IP_S3_BUCKET,
 * else "images"; a name S3 would refuse is a usage error. */
static void expect_policy(const char *args, const char *bucket)
{
    char *out, *err;
    char *want = ip_bucket_policy_json(bucket);
    CHECK(want != NULL);
    EXPECT_EQ_INT(imgctl_run(args, &out, &err), 0);
    size_t n = strlen(out);
    EXPECT(n > 0 && out[n - 1] == '\n');
    if (n > 0)
        out[n - 1] = '\0';
    EXPECT_EQ_STR(out, want);
    free(want);
    free(out);
    free(err);
}

static void test_bucket_policy(void)
{
    unsetenv("IP_S3_BUCKET");
    expect_policy("bucket-policy", "images");
    expect_policy("bucket-policy other-bucket", "other-bucket");
    setenv("IP_S3_BUCKET", "from.env", 1);
    expect_policy("bucket-policy", "from.env");
    expect_policy("bucket-policy named", "named");
    unsetenv("IP_S3_BUCKET");

    char *out, *err;
    EXPECT_EQ_INT(imgctl_run("bucket-policy 'Not\"A Bucket'", &out, &err), 2);
    EXPECT(strstr(err, "not a bucket name") != NULL);
    EXPECT_EQ_STR(out, "");
    free(out);
    free(err);
    EXPECT_EQ_INT(imgctl_run("bucket-policy a b", &out, &err), 2);
    free(out);
    free(err);
}

/* ------------------------------------------------------------------ keys */

/* What the test server of the key RPCs received, and the key it holds. */
static char got_hash[IP_ACCESS_HASH_MAX], got_prefix[32], got_id[IP_UUID_STRLEN + 1];
static char got_name[256];
static uint32_t got_scopes;
static int64_t revoked_at_us;

#define KEY_CREATED_US 1795911760123456LL /* 2026-11-29T00:22:40.123456Z */

/* The held key as a reply (scopes as received). */
static Imageproc__ApiKey *held_key(ip_rpc_call *call)
{
    Imageproc__ApiKey *k = ip_rpc_call_alloc(call, sizeof *k);
    imageproc__api_key__init(k);
    k->id = ip_rpc_call_strdup(call, got_id);
    k->name = ip_rpc_call_strdup(call, got_name);
    k->prefix = ip_rpc_call_strdup(call, got_prefix);
    k->scopes = ip_rpc_call_alloc(call, 4 * sizeof *k->scopes);
    for (int s = 1; s <= 4; s++)
        if (got_scopes & (1u << s))
            k->scopes[k->n_scopes++] = (Imageproc__ApiScope)s;
    k->created_at_us = KEY_CREATED_US;
    k->revoked_at_us = revoked_at_us;
    return k;
}

static ip_status h_create_key(void *user, ip_rpc_call *call,
                              const Imageproc__CreateApiKeyRequest *req,
                              Imageproc__CreateApiKeyReply *rep)
{
    snprintf(got_hash, sizeof got_hash, "%s", req->hash);
    snprintf(got_prefix, sizeof got_prefix, "%s", req->key->prefix);
    snprintf(got_id, sizeof got_id, "%s", req->key->id);
    snprintf(got_name, sizeof got_name, "%s", req->key->name);
    got_scopes = ip_scopes_mask(req->key->scopes, req->key->n_scopes);
    rep->key = held_key(call);
    return IP_OK;
}

static ip_status h_list_keys(void *user, ip_rpc_call *call,
                             const Imageproc__ListApiKeysRequest *req,
                             Imageproc__ListApiKeysReply *rep)
{
    if (revoked_at_us != 0 && !req->include_revoked)
        return IP_OK;
    rep->keys = ip_rpc_call_alloc(call, sizeof *rep->keys);
    rep->keys[0] = held_key(call);
    rep->n_keys = 1;
    return IP_OK;
}

static ip_status h_revoke_key(void *user, ip_rpc_call *call,
                              const Imageproc__RevokeApiKeyRequest *req,
                              Imageproc__RevokeApiKeyReply *rep)
{
    if (strcmp(req->id, got_id) != 0) {
        ip_rpc_call_errorf(call, "no such key");
        return IP_NOT_FOUND;
    }
    if (revoked_at_us == 0)
        revoked_at_us = KEY_CREATED_US + 1000000;
    rep->key = held_key(call);
    return IP_OK;
}

/* Runs imgctl, expects exit 0 and one JSON line; returns it parsed. */
static json_t *one_json_line(const char *args)
{
    char *out, *err;
    int rc = imgctl_run(args, &out, &err);
    CHECKF(rc == 0, "imgctl %s: exit %d: %s", args, rc, err);
    char *nl = strchr(out, '\n');
    CHECKF(nl != NULL && nl[1] == '\0', "imgctl %s: not one line: %s", args, out);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    CHECKF(j != NULL, "imgctl %s: not JSON: %s", args, out);
    free(out);
    free(err);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* `keys create` makes the key itself and sends only its hash and prefix;
 * the key is in the printed line and nowhere else; list and revoke (by id
 * and by prefix) print the key's line without it. */
static void test_keys_roundtrip(void)
{
    static const ip_metadata_impl impl = {.create_api_key = h_create_key,
                                          .list_api_keys = h_list_keys,
                                          .revoke_api_key = h_revoke_key};
    ip_rpc_server *srv = NULL;
    ip_rpc_server_opts so = {.url = KEYS_URL, .workers = 2};
    CHECK_EQ_INT(ip_metadata_server_new(&impl, &so, &srv), IP_OK);

    json_t *j =
        one_json_line("--url " KEYS_URL " keys create --scopes upload,read --name 'ci uploader'");
    const char *key = jstr(j, "key");
    CHECK(key != NULL);
    EXPECT_EQ_INT(ip_access_kind(key), IP_SECRET_KEY);
    char h[IP_ACCESS_HASH_MAX];
    ip_access_hash(key, h);
    EXPECT_EQ_STR(got_hash, h);
    EXPECT(strncmp(key, got_prefix, 12) == 0 && strlen(got_prefix) == 12);
    EXPECT(ip_uuid_valid(got_id));
    EXPECT_EQ_STR(jstr(j, "id"), got_id);
    EXPECT_EQ_STR(jstr(j, "prefix"), got_prefix);
    EXPECT_EQ_STR(jstr(j, "name"), "ci uploader");
    EXPECT_EQ_STR(jstr(j, "created_at"), "2026-11-29T00:22:40.123456Z");
    json_t *sc = json_object_get(j, "scopes");
    EXPECT(json_array_size(sc) == 2 &&
           strcmp(json_string_value(json_array_get(sc, 0)), "read") == 0 &&
           strcmp(json_string_value(json_array_get(sc, 1)), "upload") == 0);
    EXPECT_EQ_INT(json_object_size(j), 6);
    char keep[IP_SECRET_MAX];
    snprintf(keep, sizeof keep, "%s", key);
    json_decref(j);

    /* A second key is another secret. */
    j = one_json_line("--url " KEYS_URL " keys create --name other --scopes admin");
    EXPECT(strcmp(jstr(j, "key"), keep) != 0);
    EXPECT(json_array_size(json_object_get(j, "scopes")) == 1);
    json_decref(j);

    /* list: the line, no key, no hash, revoked_at null. */
    char *out, *err;
    CHECK_EQ_INT(imgctl_run("--url " KEYS_URL " keys list", &out, &err), 0);
    EXPECT(strstr(out, got_id) != NULL && strstr(out, "\"revoked_at\":null") != NULL);
    EXPECT(strstr(out, "\"key\"") == NULL && strstr(out, got_hash) == NULL);
    free(out);
    free(err);

    /* revoke by prefix, then by id (again: the same time); then list --all. */
    char args[256];
    snprintf(args, sizeof args, "--url " KEYS_URL " keys revoke %s", got_prefix);
    j = one_json_line(args);
    EXPECT_EQ_STR(jstr(j, "id"), got_id);
    EXPECT_EQ_STR(jstr(j, "revoked_at"), "2026-11-29T00:22:41.123456Z");
    EXPECT(json_object_get(j, "key") == NULL);
    json_decref(j);
    snprintf(args, sizeof args, "--url " KEYS_URL " keys revoke %s", got_id);
    j = one_json_line(args);
    EXPECT_EQ_STR(jstr(j, "revoked_at"), "2026-11-29T00:22:41.123456Z");
    json_decref(j);
    CHECK_EQ_INT(imgctl_run("--url " KEYS_URL " keys list", &out, &err), 0);
    EXPECT_EQ_STR(out, ""); /* the only key is revoked */
    free(out);
    free(err);
    imgctl_expect(0, "\"revoked_at\":\"2026-11-29T00:22:41.123456Z\"", NULL,
                  "--url " KEYS_URL " keys list --all");
    /* Unknown id or prefix: exit 1, said. */
    imgctl_expect(1, NULL, "no key has the id", "--url " KEYS_URL " keys revoke %s",
                  "0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f");
    imgctl_expect(1, NULL, "no key has the prefix", "--url " KEYS_URL " keys revoke ipk_zzzzzzzz");
    ip_rpc_server_free(srv);
    /* Nobody answering: exit 1. */
    imgctl_expect(1, NULL, "unavailable", "--url " KEYS_URL " --timeout 1000 keys list");
}

/* The usage errors of `keys` are found before any call (nothing listens at
 * the address): exit 2, with the reason. */
static void test_keys_usage(void)
{
    static const struct {
        const char *args, *says;
    } bad[] = {
        {"keys", "usage"},
        {"keys nope", "unknown command \"nope\""},
        {"keys create", "needs --name and --scopes"},
        {"keys create --name x", "needs --name and --scopes"},
        {"keys create --scopes read", "needs --name and --scopes"},
        {"keys create --name x --scopes", "--scopes needs a value"},
        {"keys create --name '' --scopes read", "--name takes 1..200 bytes"},
        {"keys create --name x --scopes write", "unknown scope \"write\""},
        {"keys create --name x --scopes read,read", "given twice"},
        {"keys create --name x --scopes read,,admin", "empty scope name"},
        {"keys create --name x --scopes ''", "no scopes"},
        {"keys create --name x --scopes read --name y", "unexpected \"--name\""},
        {"keys create --name x --scopes read --all", "--all needs a value"},
        {"keys list --revoked", "list takes only --all"},
        {"keys list --all extra", "list takes only --all"},
        {"keys revoke", "revoke takes one key id or prefix"},
        {"keys revoke abc", "neither a key id nor a key prefix"},
        {"keys revoke ipk_abc", "neither a key id nor a key prefix"},
        {"keys revoke ipo_abcdefgh", "neither a key id nor a key prefix"},
        {"keys revoke ipk_abcdefgh extra", "revoke takes one key id or prefix"},
    };
    char name[300];
    memset(name, 'n', 201);
    name[201] = '\0';
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        imgctl_expect(2, NULL, bad[i].says, "--url " URL " %s", bad[i].args);
    imgctl_expect(2, NULL, "--name takes 1..200 bytes",
                  "--url " URL " keys create --name %s "
                  "--scopes read",
                  name);
}

static const ip_test_case tests[] = {IP_TEST(roundtrip), IP_TEST(help), IP_TEST(bucket_policy),
                                     IP_TEST(keys_roundtrip), IP_TEST(keys_usage)};
IP_TEST_MAIN(tests)
