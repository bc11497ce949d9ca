/* imgctl_test.c — imgctl against a test server: JSON in, JSON out, errors
 * with their status name and a non-zero exit, ping, --help, bucket-policy.
 * The path of the imgctl binary comes in IMGCTL (set by ctest). Port 7291 is
 * used. The dead-letter commands are tested against the real Kafka and
 * metadata-svc in imgctl_it_test.c. */
#include <jansson.h>

#include "imgctl_testing.h"
#include "ip_keys.h"
#include "ip_log.h"
#include "ip_rpc.h"
#include "ip_rpc_stubs.h"
#include "ip_testing.h"
#include "ip_variants.h"

#define URL "tcp://127.0.0.1:7291"

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

static const ip_test_case tests[] = {IP_TEST(roundtrip), IP_TEST(help), IP_TEST(bucket_policy)};
IP_TEST_MAIN(tests)
