/* imgctl_it_test.c — `imgctl dlq` and `imgctl retry` against the real Kafka
 * and the real metadata-svc of the running stack; `imgctl keys` against that
 * metadata-svc.
 *
 * Run as `imgctl_it_test <name>` (ctest: common.imgctl.<name>, label
 * integration). Kafka is IP_KAFKA_BROKERS (default 127.0.0.1:19092) and
 * metadata-svc IP_METADATA_RPC_URL (default tcp://127.0.0.1:7101): a missing
 * one is a failure, never a skip. Each test makes topics of its own
 * ("imgctl-it-<uuid>-dlq" and "-jobs"; the broker creates no topic by itself)
 * with the admin API and deletes them at exit, and points imgctl at them
 * through IP_KAFKA_DLQ_TOPIC and IP_KAFKA_TOPIC: so tests do not depend on
 * each other or on earlier runs, and the stack's processors never see the
 * jobs a replay produces (they would fail those images: no original is
 * stored). Images are made through metadata-svc's RPCs only (CreateImage,
 * MarkProcessing, FailImage) with fresh UUIDv7 ids, and deleted at the end.
 * The dead letters are produced by the test, as a processor does: a packed
 * ProcessJob keyed by the image id, with attempt and last_error set.
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgctl_internal.h"
#include "imgctl_testing.h"
#include "ip_access.h"
#include "ip_keys.h"
#include "ip_rpc_stubs.h"
#include "ip_testing.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "ip_variants.h"
#include "job.pb-c.h"

#define WAIT_MS 30000

static const char *brokers;
static ip_rpc_client *meta;
static char dlq_topic[96], job_topic[96];

/* Images made by the test, deleted at the end. */
static char made[16][IP_UUID_STRLEN + 1];
static size_t nmade;

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : def;
}

/* ------------------------------------------------------------------ Kafka */

/* Runs one admin request on `rk` and checks every topic's result; `ok` is an
 * error that counts as success (the topic exists already, or is gone). */
static void admin_wait(rd_kafka_t *rk, rd_kafka_queue_t *q, bool create, rd_kafka_resp_err_t ok)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, WAIT_MS);
    CHECKF(ev != NULL, "%s: no answer in %d ms", create ? "CreateTopics" : "DeleteTopics", WAIT_MS);
    CHECKF(rd_kafka_event_error(ev) == 0, "admin: %s", rd_kafka_event_error_string(ev));
    size_t n = 0;
    const rd_kafka_topic_result_t **tr =
        create ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n)
               : rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
        EXPECTF(e == 0 || e == ok, "topic %s: %s", rd_kafka_topic_result_name(tr[i]),
                rd_kafka_err2str(e));
    }
    rd_kafka_event_destroy(ev);
    (void)rk;
}

static rd_kafka_t *admin_client(void)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    CHECKF(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) == 0, "%s", err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    CHECKF(rk != NULL, "admin client: %s", err);
    return rk;
}

/* Whether every partition of `topic` has a leader (a new topic's may not yet). */
static bool has_leaders(rd_kafka_t *rk, const char *topic, int partitions)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    bool ok = rd_kafka_metadata(rk, 0, t, &md, 5000) == 0 && md->topic_cnt == 1 &&
              md->topics[0].err == 0 && md->topics[0].partition_cnt == partitions;
    for (int i = 0; ok && i < md->topics[0].partition_cnt; i++)
        ok = md->topics[0].partitions[i].leader >= 0;
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    return ok;
}

static void make_topic(const char *topic, int partitions)
{
    char err[512];
    rd_kafka_t *rk = admin_client();
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof err);
    CHECKF(nt != NULL, "NewTopic: %s", err);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    admin_wait(rk, q, true, RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
    rd_kafka_NewTopic_destroy(nt);
    int64_t deadline = ip_mono_ms() + WAIT_MS;
    while (!has_leaders(rk, topic, partitions) && ip_mono_ms() < deadline)
        usleep(100 * 1000);
    CHECKF(has_leaders(rk, topic, partitions), "topic %s has no leaders after %d ms", topic,
           WAIT_MS);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

/* The test's topics go: at its end, or at exit when a CHECK ended it. */
static void drop_topics(void)
{
    if (dlq_topic[0] == '\0')
        return;
    rd_kafka_t *rk = admin_client();
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopic_t *dt[2] = {rd_kafka_DeleteTopic_new(dlq_topic),
                                     rd_kafka_DeleteTopic_new(job_topic)};
    rd_kafka_DeleteTopics(rk, dt, 2, NULL, q);
    admin_wait(rk, q, false, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    rd_kafka_DeleteTopic_destroy_array(dt, 2);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    dlq_topic[0] = job_topic[0] = '\0';
}

/* Produces key/value to `topic` and waits for the acknowledgement; returns
 * where it went. */
static void produce(const char *topic, const char *key, const void *value, size_t len,
                    int32_t *partition, int64_t *offset)
{
    char err[512];
    imgctl_producer *p = NULL;
    CHECK_ST(imgctl_producer_new(brokers, WAIT_MS, &p, err, sizeof err), IP_OK, err);
    CHECK_ST(imgctl_produce(p, topic, key, value, len, partition, offset, err, sizeof err), IP_OK,
             err);
    imgctl_producer_free(p);
}

/* Dead-letters a job of image `id` as a processor does; returns its offset. */
static int64_t dead_letter(const char *id, int attempt, const char *last_error,
                           const ip_variant_kind *kinds, size_t nkinds, int64_t enqueued_at_us,
                           int32_t *partition)
{
    char okey[IP_KEY_MAX];
    CHECK(ip_key_original(okey, id) == IP_OK);
    Imageproc__ProcessJob job = IMAGEPROC__PROCESS_JOB__INIT;
    job.id = (char *)id;
    job.original_key = okey;
    job.content_type = "image/jpeg";
    job.requested = (Imageproc__VariantKind *)kinds;
    job.n_requested = nkinds;
    job.attempt = attempt;
    job.enqueued_at_us = enqueued_at_us;
    job.last_error = (char *)last_error;
    uint8_t buf[1024];
    size_t n = imageproc__process_job__pack(&job, buf);
    int32_t p;
    int64_t offset;
    produce(dlq_topic, id, buf, n, partition != NULL ? partition : &p, &offset);
    return offset;
}

/* ------------------------------------------------------------ metadata-svc */

static Imageproc__Image *get_image(const char *id)
{
    char err[512];
    Imageproc__GetImageRequest in = IMAGEPROC__GET_IMAGE_REQUEST__INIT;
    in.id = (char *)id;
    Imageproc__GetImageReply *out = NULL;
    CHECK_ST(ip_metadata_get_image(meta, &in, &out, NULL, err, sizeof err), IP_OK, err);
    CHECK(out->image != NULL);
    Imageproc__Image *img = out->image;
    out->image = NULL;
    imageproc__get_image_reply__free_unpacked(out, NULL);
    return img;
}

static void free_image(Imageproc__Image *img)
{
    imageproc__image__free_unpacked(img, NULL);
}

/* A processor took the image and failed it for good. */
static void fail_image(const char *id, const char *why)
{
    char err[512];
    Imageproc__MarkProcessingRequest mp = IMAGEPROC__MARK_PROCESSING_REQUEST__INIT;
    mp.id = (char *)id;
    mp.lease_ms = 60000;
    mp.new_delivery = true;
    Imageproc__MarkProcessingReply *mpr = NULL;
    CHECK_ST(ip_metadata_mark_processing(meta, &mp, &mpr, NULL, err, sizeof err), IP_OK, err);
    imageproc__mark_processing_reply__free_unpacked(mpr, NULL);
    Imageproc__FailImageRequest f = IMAGEPROC__FAIL_IMAGE_REQUEST__INIT;
    f.id = (char *)id;
    f.error = (char *)why;
    Imageproc__FailImageReply *fr = NULL;
    CHECK_ST(ip_metadata_fail_image(meta, &f, &fr, NULL, err, sizeof err), IP_OK, err);
    imageproc__fail_image_reply__free_unpacked(fr, NULL);
}

/* A new pending image requesting `kinds`; failed too when `failed`. */
static const char *make_image(const ip_variant_kind *kinds, size_t nkinds, bool failed)
{
    CHECK(nmade < sizeof made / sizeof made[0]);
    char *id = made[nmade++];
    ip_uuid_v7_str(id);
    char okey[IP_KEY_MAX], err[512];
    CHECK(ip_key_original(okey, id) == IP_OK);
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    img.id = id;
    img.created_at_us = ip_now_us();
    img.filename = "imgctl-it.jpg";
    img.content_type = "image/jpeg";
    img.size_bytes = 1234;
    img.width = 64;
    img.height = 48;
    img.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    img.requested = (Imageproc__VariantKind *)kinds;
    img.n_requested = nkinds;
    img.original_key = okey;
    Imageproc__CreateImageRequest in = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    in.image = &img;
    Imageproc__CreateImageReply *out = NULL;
    CHECK_ST(ip_metadata_create_image(meta, &in, &out, NULL, err, sizeof err), IP_OK, err);
    imageproc__create_image_reply__free_unpacked(out, NULL);
    if (failed)
        fail_image(id, "gave up after 6 runs: INTERNAL: test poison");
    return id;
}

/* At the end of a test that got there: its images go. */
static void delete_images(void)
{
    char err[512];
    for (size_t i = 0; i < nmade; i++) {
        Imageproc__DeleteImageRequest in = IMAGEPROC__DELETE_IMAGE_REQUEST__INIT;
        in.id = made[i];
        Imageproc__DeleteImageReply *out = NULL;
        ip_status st = ip_metadata_delete_image(meta, &in, &out, NULL, err, sizeof err);
        EXPECTF(st == IP_OK || st == IP_NOT_FOUND, "DeleteImage %s: %s", made[i], err);
        if (out != NULL)
            imageproc__delete_image_reply__free_unpacked(out, NULL);
    }
    nmade = 0;
}

/* ------------------------------------------------------------------ setup */

/* Fresh topics (the DLQ with `dlq_parts` partitions, the jobs with 3), imgctl
 * pointed at them, the metadata client when `with_meta`. */
static void setup(int dlq_parts, bool with_meta)
{
    brokers = env_or("IP_KAFKA_BROKERS", "127.0.0.1:19092");
    char u[IP_UUID_STRLEN + 1];
    ip_uuid_v4_str(u);
    snprintf(dlq_topic, sizeof dlq_topic, "imgctl-it-%s-dlq", u);
    snprintf(job_topic, sizeof job_topic, "imgctl-it-%s-jobs", u);
    static bool registered;
    if (!registered)
        atexit(drop_topics);
    registered = true;
    make_topic(dlq_topic, dlq_parts);
    make_topic(job_topic, 3);
    setenv("IP_KAFKA_BROKERS", brokers, 1);
    setenv("IP_KAFKA_DLQ_TOPIC", dlq_topic, 1);
    setenv("IP_KAFKA_TOPIC", job_topic, 1);
    if (!with_meta)
        return;
    ip_rpc_client_opts co = {
        .urls = env_or("IP_METADATA_RPC_URL", "tcp://127.0.0.1:7101"),
        .timeout_ms = 10000,
    };
    CHECK_EQ_INT(ip_rpc_client_new(&imageproc__metadata__descriptor, &co, &meta), IP_OK);
    CHECKF(ip_rpc_ping(meta, 10000) == IP_OK, "metadata-svc does not answer at %s", co.urls);
}

static void teardown(void)
{
    if (meta != NULL) {
        delete_images();
        ip_rpc_client_free(meta);
        meta = NULL;
    }
    drop_topics();
}

/* -------------------------------------------------------------- checking */

/* The JSON values of `text`, one after another (lines or pretty blocks). */
static size_t parse_stream(const char *text, json_t **out, size_t max)
{
    size_t n = 0;
    json_error_t je;
    while (*text != '\0') {
        while (*text == '\n' || *text == ' ')
            text++;
        if (*text == '\0')
            break;
        CHECK(n < max);
        out[n] = json_loads(text, JSON_DISABLE_EOF_CHECK, &je);
        CHECKF(out[n] != NULL, "not JSON at \"%.40s\": %s", text, je.text);
        text += je.position;
        n++;
    }
    return n;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static long long jint(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* The job message `m` of image `id`: key, attempt 1, what the row requested. */
static void expect_fresh_job(const imgctl_msg *m, const char *id, const ip_variant_kind *kinds,
                             size_t nkinds, int64_t after_us)
{
    EXPECT_EQ_STR(m->key, id);
    Imageproc__ProcessJob *job = imageproc__process_job__unpack(NULL, m->len, m->value);
    CHECK(job != NULL);
    EXPECT_EQ_STR(job->id, id);
    EXPECT_EQ_INT(job->attempt, 1);
    EXPECT_EQ_STR(job->last_error, "");
    char okey[IP_KEY_MAX];
    CHECK(ip_key_original(okey, id) == IP_OK);
    EXPECT_EQ_STR(job->original_key, okey);
    EXPECT_EQ_STR(job->content_type, "image/jpeg");
    EXPECT(job->enqueued_at_us >= after_us && job->enqueued_at_us <= ip_now_us());
    EXPECT_EQ_INT(job->n_requested, nkinds);
    for (size_t i = 0; i < nkinds && i < job->n_requested; i++)
        EXPECT_EQ_INT(job->requested[i], kinds[i]);
    imageproc__process_job__free_unpacked(job, NULL);
}

/* The job topic holds `n` jobs, all of one image, so all in one partition
 * (the key picks it), where offsets order them; when `id` is not NULL the
 * last is the fresh job of `id`, produced after `after_us`. */
static void expect_jobs(size_t n, const char *id, const ip_variant_kind *kinds, size_t nkinds,
                        int64_t after_us)
{
    imgctl_msgs jobs;
    char err[512];
    CHECK_ST(imgctl_kafka_read_topic(brokers, job_topic, WAIT_MS, &jobs, err, sizeof err), IP_OK,
             err);
    EXPECT_EQ_INT(jobs.n, n);
    for (size_t i = 1; i < jobs.n; i++)
        EXPECT_EQ_INT(jobs.v[i].partition, jobs.v[0].partition);
    if (id != NULL && jobs.n == n && n > 0)
        expect_fresh_job(&jobs.v[n - 1], id, kinds, nkinds, after_us);
    imgctl_msgs_fini(&jobs);
}

/* The image is pending again, enqueued after `after_us`. */
static void expect_pending(const char *id, int64_t after_us)
{
    Imageproc__Image *img = get_image(id);
    EXPECT_EQ_INT(img->status, IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING);
    EXPECT_EQ_STR(img->error, "");
    EXPECT_EQ_INT(img->runs, 0);
    EXPECT(img->enqueued_at_us >= after_us);
    free_image(img);
}

/* ------------------------------------------------------------------- tests */

static const ip_variant_kind thumb_resized[] = {IP_VARIANT_THUMBNAIL, IP_VARIANT_RESIZED};

/* list and show: every message with its fields, a value that is not a job,
 * an empty topic, a missing topic, an unreachable broker. */
static void test_dlq_list(void)
{
    setup(2, false);
    char *out, *err;
    EXPECT_EQ_INT(imgctl_run("dlq list", &out, &err), 0);
    EXPECT_EQ_STR(out, "");
    free(out);
    free(err);

    char a[IP_UUID_STRLEN + 1], b[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(a);
    ip_uuid_v7_str(b);
    const int64_t enq = 1795911760123456LL;
    int32_t pa1, pa2, pb, pg;
    int64_t oa1 = dead_letter(a, 6, "INTERNAL: first", thumb_resized, 2, enq, &pa1);
    int64_t ob = dead_letter(b, 3, "died", thumb_resized, 1, 0, &pb);
    int64_t oa2 = dead_letter(a, 7, "INTERNAL: second", thumb_resized, 2, enq, &pa2);
    EXPECT_EQ_INT(pa1, pa2); /* one key, one partition */
    int64_t og;
    produce(dlq_topic, "not-an-id", "garbage", 7, &pg, &og);

    CHECK_EQ_INT(imgctl_run("dlq list", &out, &err), 0);
    json_t *v[8];
    size_t n = parse_stream(out, v, 8);
    EXPECT_EQ_INT(n, 4);
    EXPECT(strchr(out, '\n') != NULL && strstr(out, "\n\n") == NULL && strstr(out, "  ") == NULL);
    char enq_text[IP_RFC3339_LEN + 1];
    ip_time_format(enq, enq_text);
    for (size_t i = 0; i < n; i++) {
        int32_t p = (int32_t)jint(v[i], "partition");
        int64_t o = jint(v[i], "offset");
        EXPECT(jstr(v[i], "dead_lettered_at") != NULL);
        if (i > 0) /* partition, then offset order */
            EXPECT(p > jint(v[i - 1], "partition") ||
                   (p == jint(v[i - 1], "partition") && o > jint(v[i - 1], "offset")));
        if (p == pa1 && o == oa2) {
            EXPECT_EQ_STR(jstr(v[i], "id"), a);
            EXPECT_EQ_INT(jint(v[i], "attempt"), 7);
            EXPECT_EQ_STR(jstr(v[i], "last_error"), "INTERNAL: second");
            EXPECT_EQ_STR(jstr(v[i], "enqueued_at"), enq_text);
            json_t *r = json_object_get(v[i], "requested");
            EXPECT_EQ_INT(json_array_size(r), 2);
            EXPECT_EQ_STR(json_string_value(json_array_get(r, 0)), "thumbnail");
            EXPECT_EQ_STR(json_string_value(json_array_get(r, 1)), "resized");
        } else if (p == pb && o == ob) {
            EXPECT_EQ_STR(jstr(v[i], "id"), b);
            EXPECT(json_is_null(json_object_get(v[i], "enqueued_at")));
            EXPECT_EQ_INT(json_array_size(json_object_get(v[i], "requested")), 1);
        } else if (p == pg && o == og) {
            EXPECT(json_is_null(json_object_get(v[i], "id")));
            EXPECT(strstr(jstr(v[i], "error"), "not a ProcessJob") != NULL);
        } else {
            EXPECT(p == pa1 && o == oa1);
        }
        json_decref(v[i]);
    }
    free(out);
    free(err);

    /* show by id: both messages of a, pretty; by position: the one. */
    char args[256];
    snprintf(args, sizeof args, "dlq show %s", a);
    CHECK_EQ_INT(imgctl_run(args, &out, &err), 0);
    n = parse_stream(out, v, 8);
    EXPECT_EQ_INT(n, 2);
    EXPECT(strstr(out, "\n  \"partition\": ") != NULL);
    for (size_t i = 0; i < n; i++) {
        EXPECT_EQ_STR(jstr(v[i], "key"), a);
        EXPECT_EQ_INT(jint(v[i], "attempt"), i == 0 ? 6 : 7);
        json_decref(v[i]);
    }
    free(out);
    free(err);
    snprintf(args, sizeof args, "dlq show %d:%lld", (int)pb, (long long)ob);
    CHECK_EQ_INT(imgctl_run(args, &out, &err), 0);
    n = parse_stream(out, v, 8);
    EXPECT_EQ_INT(n, 1);
    if (n == 1) {
        EXPECT_EQ_STR(jstr(v[0], "id"), b);
        EXPECT_EQ_STR(jstr(v[0], "content_type"), "image/jpeg");
        EXPECT(strncmp(jstr(v[0], "original_key"), "o/", 2) == 0);
        json_decref(v[0]);
    }
    free(out);
    free(err);
    /* Nothing there: 1, said. */
    imgctl_expect(1, NULL, "no message at", "dlq show %d:%lld", (int)pb, (long long)ob + 100);

    /* A missing topic and a broker that does not answer: 1, promptly. */
    setenv("IP_KAFKA_DLQ_TOPIC", "imgctl-it-no-such-topic", 1);
    imgctl_expect(1, NULL, "imgctl-it-no-such-topic", "dlq list");
    setenv("IP_KAFKA_BROKERS", "127.0.0.1:1", 1);
    int64_t t0 = ip_mono_ms();
    imgctl_expect(1, NULL, "cannot read the dead-letter topic", "--timeout 2000 dlq list");
    EXPECT(ip_mono_ms() - t0 < 15000);
    setenv("IP_KAFKA_BROKERS", brokers, 1);
    teardown();
}

static const ip_variant_kind thumb_watermarked[] = {IP_VARIANT_THUMBNAIL, IP_VARIANT_WATERMARKED};

/* replay by id and --all: a failed image is pending again and its fresh job
 * (from the row) is on the job topic under its key; images that are pending,
 * ready or gone are skipped; a second failure replays into the same
 * partition. */
static void test_dlq_replay(void)
{
    setup(1, true);
    const char *f = make_image(thumb_watermarked, 2, true);
    const char *p = make_image(thumb_resized, 2, false);
    char gone[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(gone);
    /* The DLQ copy asks for less than the row: the job comes from the row. */
    dead_letter(f, 6, "INTERNAL: old", thumb_watermarked, 1, 1, NULL);
    dead_letter(p, 6, "INTERNAL: pending", thumb_resized, 2, 1, NULL);
    dead_letter(f, 7, "INTERNAL: newest", thumb_watermarked, 1, 1, NULL);
    dead_letter(gone, 6, "INTERNAL: gone", thumb_resized, 2, 1, NULL);

    char args[256], *out, *err;
    int64_t t0 = ip_now_us();
    snprintf(args, sizeof args, "dlq replay %s", f);
    EXPECT_EQ_INT(imgctl_run(args, &out, &err), 0);
    EXPECT(strstr(out, "requeued") != NULL);
    EXPECTF(err[0] == '\0', "stderr: %s", err);
    free(out);
    free(err);
    expect_pending(f, t0);
    expect_jobs(1, f, thumb_watermarked, 2, t0);

    /* --all: f is pending now, p pending, `gone` missing: all skipped. */
    EXPECT_EQ_INT(imgctl_run("dlq replay --all", &out, &err), 0);
    EXPECT(strstr(out, "replayed 0, skipped 3, failed 0") != NULL);
    snprintf(args, sizeof args, "%s: skipped: already pending", f);
    EXPECT(strstr(out, args) != NULL);
    snprintf(args, sizeof args, "%s: skipped: no such image", gone);
    EXPECT(strstr(out, args) != NULL);
    free(out);
    free(err);
    expect_jobs(1, NULL, NULL, 0, 0);

    /* f fails again: --all replays it, into the same partition, after the first. */
    fail_image(f, "gave up after 6 runs: again");
    t0 = ip_now_us();
    imgctl_expect(0, "replayed 1, skipped 2, failed 0", NULL, "dlq replay --all");
    expect_pending(f, t0);
    expect_jobs(2, f, thumb_watermarked, 2, t0);

    /* An image the DLQ does not hold: 1. */
    char other[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(other);
    imgctl_expect(1, NULL, "no message of image", "dlq replay %s", other);
    teardown();
}

/* retry: a failed image without the DLQ; not failed, missing, Kafka down or
 * without the topic. */
static void test_retry(void)
{
    setup(1, true);
    const char *g = make_image(thumb_resized, 2, true);
    int64_t t0 = ip_now_us();
    imgctl_expect(0, "requeued: job attempt 1", NULL, "retry %s", g);
    expect_pending(g, t0);
    expect_jobs(1, g, thumb_resized, 2, t0);

    /* Not failed any more: 1, nothing produced. */
    imgctl_expect(1, NULL, "the image is pending, not failed", "retry %s", g);
    char missing[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(missing);
    imgctl_expect(1, NULL, "no such image", "retry %s", missing);
    expect_jobs(1, NULL, NULL, 0, 0);

    /* Kafka does not answer, or has no such topic: 1, said, and the image
     * stays failed (nothing changed). */
    const char *h = make_image(thumb_resized, 1, true);
    static const char *const no_kafka[][2] = {{"IP_KAFKA_BROKERS", "127.0.0.1:1"},
                                              {"IP_KAFKA_TOPIC", "imgctl-it-no-such-topic"}};
    for (size_t i = 0; i < 2; i++) {
        setenv(no_kafka[i][0], no_kafka[i][1], 1);
        imgctl_expect(1, NULL, "cannot take the job", "--timeout 2000 retry %s", h);
        Imageproc__Image *img = get_image(h);
        EXPECT_EQ_INT(img->status, IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED);
        free_image(img);
        setenv("IP_KAFKA_BROKERS", brokers, 1);
        setenv("IP_KAFKA_TOPIC", job_topic, 1);
    }
    teardown();
}

/* ------------------------------------------------------------------- keys */

/* The key the metadata-svc finds for `secret` (its hash), or NULL (free it). */
static Imageproc__ApiKey *lookup(const char *secret)
{
    char hash[IP_ACCESS_HASH_MAX], err[512];
    ip_access_hash(secret, hash);
    Imageproc__LookupApiKeyRequest in = IMAGEPROC__LOOKUP_API_KEY_REQUEST__INIT;
    in.hash = hash;
    Imageproc__LookupApiKeyReply *out = NULL;
    ip_status st = ip_metadata_lookup_api_key(meta, &in, &out, NULL, err, sizeof err);
    CHECKF(st == IP_OK || st == IP_NOT_FOUND, "LookupApiKey: %s: %s", ip_strerror(st), err);
    if (st != IP_OK)
        return NULL;
    Imageproc__ApiKey *k = out->key;
    out->key = NULL;
    imageproc__lookup_api_key_reply__free_unpacked(out, NULL);
    return k;
}

/* The line of key `id` among the JSON lines of `text` (a new reference), or NULL. */
static json_t *line_of(const char *text, const char *id)
{
    json_t *v[512];
    size_t n = parse_stream(text, v, 512);
    json_t *found = NULL;
    for (size_t i = 0; i < n; i++) {
        if (found == NULL && jstr(v[i], "id") != NULL && strcmp(jstr(v[i], "id"), id) == 0)
            found = json_incref(v[i]);
        json_decref(v[i]);
    }
    return found;
}

/* `keys create|list|revoke` against the stack's metadata-svc: the key printed
 * once is the one metadata-svc finds by hash, with its scopes; lists never
 * show it; a revoked key (by prefix, then again by id) is found no more.
 * Keys cannot be deleted: each run leaves its key, revoked. */
static void test_keys(void)
{
    const char *url = env_or("IP_METADATA_RPC_URL", "tcp://127.0.0.1:7101");
    ip_rpc_client_opts co = {.urls = url, .timeout_ms = 10000};
    CHECK_EQ_INT(ip_rpc_client_new(&imageproc__metadata__descriptor, &co, &meta), IP_OK);
    CHECKF(ip_rpc_ping(meta, 10000) == IP_OK, "metadata-svc does not answer at %s", url);
    setenv("IP_METADATA_RPC_URL", url, 1);

    char name[64], u[IP_UUID_STRLEN + 1];
    ip_uuid_v4_str(u);
    snprintf(name, sizeof name, "imgctl-it %s", u);
    char *out, *err;
    char args[256];
    snprintf(args, sizeof args, "keys create --name '%s' --scopes delete,read", name);
    CHECK_EQ_INT(imgctl_run(args, &out, &err), 0);
    json_t *c = NULL;
    CHECK_EQ_INT(parse_stream(out, &c, 1), 1);
    free(out);
    free(err);
    char key[IP_SECRET_MAX], id[IP_UUID_STRLEN + 1], prefix[IP_KEY_PREFIX_LEN + 1];
    CHECK(jstr(c, "key") != NULL && jstr(c, "id") != NULL && jstr(c, "prefix") != NULL);
    snprintf(key, sizeof key, "%s", jstr(c, "key"));
    snprintf(id, sizeof id, "%s", jstr(c, "id"));
    snprintf(prefix, sizeof prefix, "%s", jstr(c, "prefix"));
    EXPECT_EQ_INT(ip_access_kind(key), IP_SECRET_KEY);
    EXPECT(strncmp(key, prefix, IP_KEY_PREFIX_LEN) == 0);
    EXPECT_EQ_STR(jstr(c, "name"), name);
    EXPECT(jstr(c, "created_at") != NULL);
    json_decref(c);

    /* metadata-svc finds it by the hash of the printed key. */
    Imageproc__ApiKey *k = lookup(key);
    CHECKF(k != NULL, "the key printed is not found by its hash");
    EXPECT_EQ_STR(k->id, id);
    EXPECT(k->n_scopes == 2 && k->scopes[0] == IMAGEPROC__API_SCOPE__API_SCOPE_READ &&
           k->scopes[1] == IMAGEPROC__API_SCOPE__API_SCOPE_DELETE);
    imageproc__api_key__free_unpacked(k, NULL);

    /* Listed, without the key. */
    CHECK_EQ_INT(imgctl_run("keys list", &out, &err), 0);
    EXPECT(strstr(out, key) == NULL && strstr(out, key + 4) == NULL);
    json_t *l = line_of(out, id);
    free(out);
    free(err);
    CHECKF(l != NULL, "keys list does not show %s", id);
    EXPECT_EQ_STR(jstr(l, "prefix"), prefix);
    EXPECT(json_is_null(json_object_get(l, "revoked_at")) && json_object_get(l, "key") == NULL);
    json_decref(l);

    /* Revoked by prefix: not found any more, only in list --all. */
    snprintf(args, sizeof args, "keys revoke %s", prefix);
    CHECK_EQ_INT(imgctl_run(args, &out, &err), 0);
    l = line_of(out, id);
    free(out);
    free(err);
    CHECK(l != NULL);
    char revoked_at[64];
    CHECK(jstr(l, "revoked_at") != NULL);
    snprintf(revoked_at, sizeof revoked_at, "%s", jstr(l, "revoked_at"));
    json_decref(l);
    EXPECT(lookup(key) == NULL);
    CHECK_EQ_INT(imgctl_run("keys list", &out, &err), 0);
    l = line_of(out, id);
    EXPECT(l == NULL);
    json_decref(l);
    free(out);
    free(err);
    CHECK_EQ_INT(imgctl_run("keys list --all", &out, &err), 0);
    l = line_of(out, id);
    free(out);
    free(err);
    EXPECT(l != NULL && jstr(l, "revoked_at") != NULL &&
           strcmp(jstr(l, "revoked_at"), revoked_at) == 0);
    json_decref(l);

    /* Again by id: fine, the first time kept. An unknown id: exit 1. */
    snprintf(args, sizeof args, "keys revoke %s", id);
    imgctl_expect(0, revoked_at, NULL, "%s", args);
    ip_uuid_v4_str(u);
    imgctl_expect(1, NULL, "no key has the id", "keys revoke %s", u);
    ip_rpc_client_free(meta);
    meta = NULL;
}

static const ip_test_case tests[] = {IP_TEST(dlq_list), IP_TEST(dlq_replay), IP_TEST(retry),
                                     IP_TEST(keys)};
IP_TEST_MAIN(tests)
