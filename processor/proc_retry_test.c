/* proc_retry_test.c — unit tests of a job's way to a recorded outcome
 * (proc_job.c and proc_retry.c) against fake services: ctest
 * processor.retry.*, label unit.
 *
 * Metadata and Storage are served in this process (the typed server stubs of
 * ip_rpc_stubs.h on inproc:// addresses) by fakes whose every method can be
 * made to fail its first N calls (or all) with a chosen status. The DLQ
 * producer talks to librdkafka's mock cluster (test.mock.num.brokers), whose
 * broker a test can take down. A consumer is put together by hand from
 * proc_consumer_internal.h (no group, no polling), and proc_retry_run is
 * given one message at a time, as a worker would. Backoff here is 1..20 ms.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vips/vips.h>

#include "ip_keys.h"
#include "ip_log.h"
#include "ip_metrics.h"
#include "ip_rpc_stubs.h"
#include "ip_testing.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "ip_variants.h"
#include "proc_consumer_internal.h"
#include "proc_fixtures.h"
#include "proc_job.h"

#define META_URL "inproc://proc-retry-test-meta"
#define STOR_URL "inproc://proc-retry-test-stor"

/* ------------------------------------------------------------ the fakes */

/* One method: its first `fail` calls fail with `st` (-1: every call). */
typedef struct fake_method {
    ip_status st;
    int fail;
    int calls;
} fake_method;

static struct {
    pthread_mutex_t mu;
    fake_method mark, put_variant, finish, fail, get, put, del;
    int runs;                      /* the image's runs so far */
    Imageproc__ImageStatus status; /* what MarkProcessing answers */
    bool delivery[64];             /* new_delivery of each MarkProcessing call */
    int64_t lease_ms;              /* of the last MarkProcessing */
    char fail_reason[2048];        /* of the last FailImage */
    bool mark_regen, finish_regen; /* `regenerate` of the last MarkProcessing, FinishImage */
    void *orig;                    /* the original's bytes (g_free) */
    size_t orig_len;
} fk = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void fake_reset(void)
{
    pthread_mutex_lock(&fk.mu);
    void *orig = fk.orig;
    size_t len = fk.orig_len;
    memset(&fk.mark, 0, (size_t)((char *)&fk.orig - (char *)&fk.mark));
    fk.orig = orig;
    fk.orig_len = len;
    fk.status = IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING;
    pthread_mutex_unlock(&fk.mu);
}

static void fake_script(fake_method *m, ip_status st, int fail)
{
    pthread_mutex_lock(&fk.mu);
    m->st = st;
    m->fail = fail;
    pthread_mutex_unlock(&fk.mu);
}

static int fake_calls(const fake_method *m)
{
    pthread_mutex_lock(&fk.mu);
    int n = m->calls;
    pthread_mutex_unlock(&fk.mu);
    return n;
}

/* Counts a call and answers its scripted status. Caller holds fk.mu. */
static ip_status fake_call(ip_rpc_call *call, fake_method *m)
{
    m->calls++;
    if (m->fail == 0)
        return IP_OK;
    if (m->fail > 0)
        m->fail--;
    ip_rpc_call_errorf(call, "scripted %s", ip_strerror(m->st));
    return m->st;
}

static Imageproc__Image *fake_image(ip_rpc_call *call, const char *id,
                                    Imageproc__ImageStatus status)
{
    Imageproc__Image *img = ip_rpc_call_alloc(call, sizeof(*img));
    ip_variant_kind *kinds = ip_rpc_call_alloc(call, IP_VARIANT_COUNT * sizeof(*kinds));
    if (!img || !kinds)
        return NULL;
    imageproc__image__init(img);
    img->id = ip_rpc_call_strdup(call, id);
    img->status = status;
    img->requested = kinds;
    img->n_requested = ip_variant_mask_kinds(IP_VARIANT_MASK_ALL, kinds);
    img->runs = fk.runs;
    return img;
}

static ip_status h_mark(void *user, ip_rpc_call *call, const Imageproc__MarkProcessingRequest *in,
                        Imageproc__MarkProcessingReply *out)
{
    (void)user;
    pthread_mutex_lock(&fk.mu);
    if (fk.mark.calls < 64)
        fk.delivery[fk.mark.calls] = in->new_delivery;
    fk.lease_ms = in->lease_ms;
    fk.mark_regen = in->regenerate;
    ip_status st = fake_call(call, &fk.mark);
    if (st == IP_OK) {
        if (in->new_delivery && fk.status != IMAGEPROC__IMAGE_STATUS__IMAGE_READY)
            fk.runs++;
        out->image = fake_image(call, in->id,
                                fk.status == IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING
                                    ? IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING
                                    : fk.status);
    }
    pthread_mutex_unlock(&fk.mu);
    return st;
}

static ip_status h_put_variant(void *user, ip_rpc_call *call,
                               const Imageproc__PutVariantRequest *in,
                               Imageproc__PutVariantReply *out)
{
    (void)user, (void)in, (void)out;
    pthread_mutex_lock(&fk.mu);
    ip_status st = fake_call(call, &fk.put_variant);
    pthread_mutex_unlock(&fk.mu);
    return st;
}

static ip_status h_finish(void *user, ip_rpc_call *call, const Imageproc__FinishImageRequest *in,
                          Imageproc__FinishImageReply *out)
{
    (void)user;
    pthread_mutex_lock(&fk.mu);
    fk.finish_regen = in->regenerate;
    ip_status st = fake_call(call, &fk.finish);
    if (st == IP_OK)
        out->image = fake_image(call, in->id, IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    pthread_mutex_unlock(&fk.mu);
    return st;
}

static ip_status h_fail(void *user, ip_rpc_call *call, const Imageproc__FailImageRequest *in,
                        Imageproc__FailImageReply *out)
{
    (void)user;
    pthread_mutex_lock(&fk.mu);
    snprintf(fk.fail_reason, sizeof(fk.fail_reason), "%s", in->error ? in->error : "");
    ip_status st = fake_call(call, &fk.fail);
    if (st == IP_OK)
        out->image = fake_image(call, in->id, IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED);
    pthread_mutex_unlock(&fk.mu);
    return st;
}

static ip_status h_get(void *user, ip_rpc_call *call, const Imageproc__GetObjectRequest *in,
                       Imageproc__GetObjectReply *out)
{
    (void)user, (void)in;
    pthread_mutex_lock(&fk.mu);
    ip_status st = fake_call(call, &fk.get);
    if (st == IP_OK) {
        out->data.data = ip_rpc_call_memdup(call, fk.orig, fk.orig_len);
        out->data.len = fk.orig_len;
    }
    pthread_mutex_unlock(&fk.mu);
    return st;
}

static ip_status h_put(void *user, ip_rpc_call *call, const Imageproc__PutObjectRequest *in,
                       Imageproc__PutObjectReply *out)
{
    (void)user, (void)in, (void)out;
    pthread_mutex_lock(&fk.mu);
    ip_status st = fake_call(call, &fk.put);
    pthread_mutex_unlock(&fk.mu);
    return st;
}

static ip_status h_del(void *user, ip_rpc_call *call, const Imageproc__DeleteObjectsRequest *in,
                       Imageproc__DeleteObjectsReply *out)
{
    (void)user, (void)in;
    pthread_mutex_lock(&fk.mu);
    ip_status st = fake_call(call, &fk.del);
    out->deleted = 0;
    pthread_mutex_unlock(&fk.mu);
    return st;
}

/* ------------------------------------------------------------ set-up */

static ip_rpc_server *meta_srv, *stor_srv;
static ip_rpc_client *meta, *stor;
static proc_settings settings;
static proc_job_ctx ctx;

/* The fakes, their clients, a small JPEG as the original; once per process. */
static void setup(void)
{
    static const ip_metadata_impl mi = {.mark_processing = h_mark,
                                        .put_variant = h_put_variant,
                                        .finish_image = h_finish,
                                        .fail_image = h_fail};
    static const ip_storage_impl si = {
        .get_object = h_get, .put_object = h_put, .delete_objects = h_del};
    ip_rpc_server_opts mo = {.url = META_URL, .workers = 4};
    ip_rpc_server_opts so = {.url = STOR_URL, .workers = 4};
    CHECK(ip_metadata_server_new(&mi, &mo, &meta_srv) == IP_OK);
    CHECK(ip_storage_server_new(&si, &so, &stor_srv) == IP_OK);
    ip_rpc_client_opts co = {.urls = META_URL, .timeout_ms = 5000};
    CHECK(ip_rpc_client_new(&imageproc__metadata__descriptor, &co, &meta) == IP_OK);
    co.urls = STOR_URL;
    CHECK(ip_rpc_client_new(&imageproc__storage__descriptor, &co, &stor) == IP_OK);
    CHECK(ip_rpc_ping(meta, 5000) == IP_OK && ip_rpc_ping(stor, 5000) == IP_OK);
    CHECK(proc_fixture_make(FX_JPEG, 160, 120, &fk.orig, &fk.orig_len) == 0);
    proc_settings_default(&settings);
    ctx = (proc_job_ctx){
        .meta = meta, .stor = stor, .settings = &settings, .lease_ms = 45000, .max_attempts = 3};
    fake_reset();
}

static void teardown(void)
{
    ip_rpc_client_free(meta);
    ip_rpc_client_free(stor);
    ip_rpc_server_free(meta_srv);
    ip_rpc_server_free(stor_srv);
    g_free(fk.orig);
}

/* ------------------------------------------------------------ the DLQ */

static int dlq_delivered;
static Imageproc__ProcessJob *dlq_last; /* the last dead letter delivered */

static void dlq_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    if (!m->err) {
        dlq_delivered++;
        if (dlq_last)
            imageproc__process_job__free_unpacked(dlq_last, NULL);
        dlq_last = imageproc__process_job__unpack(NULL, m->len, m->payload);
    }
    proc_retry_dlq_delivered(rk, m, opaque);
}

static rd_kafka_t *mock_producer(int timeout_ms)
{
    char err[256], timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", timeout_ms);
    const char *const kv[][2] = {
        {"test.mock.num.brokers", "1"}, {"message.timeout.ms", timeout},     {"linger.ms", "0"},
        {"reconnect.backoff.ms", "20"}, {"reconnect.backoff.max.ms", "100"},
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        CHECK(rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof(err)) == RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_log_cb(conf, ip_log_rdkafka_cb);
    rd_kafka_conf_set_dr_msg_cb(conf, dlq_dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    CHECKF(rk != NULL, "%s", err);
    return rk;
}

/* ------------------------------------------------------------ a consumer */

/* A consumer as proc_consumer_new makes it, minus the Kafka consumer. */
static proc_consumer *consumer_new(int max_attempts, int64_t horizon_ms, int dlq_timeout_ms)
{
    proc_consumer *c = calloc(1, sizeof(*c));
    CHECK(c != NULL);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->work_cv, NULL);
    pthread_cond_init(&c->idle_cv, NULL);
    pthread_cond_init(&c->wake_cv, NULL);
    c->topic = strdup("proc-retry-test");
    c->dlq_topic = strdup("proc-retry-test.dlq");
    c->max_attempts = max_attempts;
    c->backoff_ms = 1;
    c->backoff_max_ms = 20;
    c->horizon_ms = horizon_ms;
    ctx.max_attempts = max_attempts;
    c->job = &ctx;
    static const double buckets[] = {1};
    c->m_jobs = ip_metric_counter("proc_jobs_total", "jobs", "outcome");
    c->m_duration = ip_metric_histogram("proc_job_duration_seconds", "s", "outcome", buckets, 1);
    c->m_retries = ip_metric_counter("proc_job_retries_total", "retries", NULL);
    c->m_abandoned = ip_metric_counter("proc_jobs_abandoned_total", "abandoned", NULL);
    proc_waits_init(&c->waits);
    c->dlq = mock_producer(dlq_timeout_ms);
    return c;
}

/* Hands proc_retry_run the message of a job for image `id`, as a worker
 * would; returns whether the offset may be stored. */
static bool run_message_as(proc_consumer *c, proc_partition *p, const char *id, bool regenerate)
{
    char okey[IP_KEY_MAX];
    CHECK(ip_key_original(okey, id) == IP_OK);
    ip_variant_kind all[IP_VARIANT_COUNT];
    Imageproc__ProcessJob job = IMAGEPROC__PROCESS_JOB__INIT;
    job.id = (char *)id;
    job.original_key = okey;
    job.requested = all;
    job.n_requested = ip_variant_mask_kinds(IP_VARIANT_MASK_ALL, all);
    job.attempt = 1;
    job.regenerate = regenerate;
    size_t n = imageproc__process_job__get_packed_size(&job);
    uint8_t *buf = malloc(n + 1);
    CHECK(buf != NULL);
    imageproc__process_job__pack(&job, buf);
    rd_kafka_message_t m;
    memset(&m, 0, sizeof(m));
    m.payload = buf;
    m.len = n;
    m.partition = p->partition;
    m.offset = 7;
    bool store = proc_retry_run(c, p, &m);
    free(buf);
    return store;
}

static bool run_message(proc_consumer *c, proc_partition *p, const char *id)
{
    return run_message_as(c, p, id, false);
}

/* The value of one rendered series ("name{labels}"), -1 when absent. */
static double metric(const char *series)
{
    char *text = ip_metrics_render();
    CHECK(text != NULL);
    double v = -1;
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)); p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            v = strtod(p + n + 1, NULL);
    free(text);
    return v;
}

static void expect_no_waiting(void)
{
    EXPECT_EQ_INT(metric("proc_jobs_waiting{on=\"metadata-svc\"}"), 0);
    EXPECT_EQ_INT(metric("proc_jobs_waiting{on=\"storage-svc\"}"), 0);
    EXPECT_EQ_INT(metric("proc_jobs_waiting{on=\"kafka\"}"), 0);
}

static void new_id(char id[IP_UUID_STRLEN + 1])
{
    ip_uuid_v7_str(id);
}

/* What a test of proc_retry_run holds: the fakes set up, a consumer, a
 * partition and a fresh image id. */
typedef struct retry_fx {
    proc_consumer *c;
    proc_partition p;
    char id[IP_UUID_STRLEN + 1];
} retry_fx;

static void fx_begin(retry_fx *fx, int max_attempts, int64_t horizon_ms, int dlq_timeout_ms)
{
    setup();
    fx->c = consumer_new(max_attempts, horizon_ms, dlq_timeout_ms);
    memset(&fx->p, 0, sizeof(fx->p));
    fx->p.partition = 3;
    new_id(fx->id);
}

static void fx_end(retry_fx *fx)
{
    expect_no_waiting();
    proc_consumer_free(fx->c);
    teardown();
}

/* ------------------------------------------------------------ proc_job */

/* What one run reports: whose call failed, transient (WAIT) or INTERNAL
 * (RETRY), whether the delivery was counted. */
static void test_job_reports(void)
{
    setup();
    char id[IP_UUID_STRLEN + 1];
    new_id(id);
    Imageproc__ProcessJob job = IMAGEPROC__PROCESS_JOB__INIT;
    job.id = id;
    proc_job_result res;

    fake_script(&fk.mark, IP_UNAVAILABLE, 1);
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, true, &res), PROC_JOB_WAIT);
    EXPECT_EQ_INT(res.dep, PROC_DEP_METADATA);
    EXPECT(!res.marked);
    EXPECT(strstr(res.err, "MarkProcessing: unavailable") != NULL);

    fake_script(&fk.get, IP_DEADLINE_EXCEEDED, 1);
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, true, &res), PROC_JOB_WAIT);
    EXPECT_EQ_INT(res.dep, PROC_DEP_STORAGE);
    EXPECT(res.marked);
    EXPECT_EQ_INT(res.runs, 1);
    EXPECT_EQ_INT(fk.lease_ms, 45000);

    fake_script(&fk.get, IP_INTERNAL, 1);
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, false, &res), PROC_JOB_RETRY);
    EXPECT_EQ_INT(res.dep, PROC_DEP_STORAGE);
    EXPECT_EQ_INT(res.runs, 1); /* a rerun is not a new run */

    /* A put fails: nothing is recorded (FinishImage, which records the
     * variants, comes only after every put succeeded). */
    fake_script(&fk.put, IP_UNAVAILABLE, 1);
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, false, &res), PROC_JOB_WAIT);
    EXPECT_EQ_INT(res.dep, PROC_DEP_STORAGE);
    EXPECT(strstr(res.err, "PutObject: unavailable") != NULL);
    EXPECT_EQ_INT(fake_calls(&fk.finish), 0);
    fake_script(&fk.finish, IP_DEADLINE_EXCEEDED, 1);
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, false, &res), PROC_JOB_WAIT);
    EXPECT(strstr(res.err, "FinishImage") != NULL);
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, false, &res), PROC_JOB_READY);
    EXPECT_EQ_INT(fake_calls(&fk.fail), 0);
    EXPECT_EQ_INT(fake_calls(&fk.put_variant), 0); /* the variants go with FinishImage */

    /* storage-svc's NOT_FOUND: the original is missing, the image fails. */
    fake_script(&fk.get, IP_NOT_FOUND, 1);
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, false, &res), PROC_JOB_FAILED);
    EXPECT(strstr(fk.fail_reason, "GetObject: not_found") != NULL);
    /* metadata-svc's NOT_FOUND: deleted meanwhile, v/<id>/ removed. */
    fake_script(&fk.mark, IP_NOT_FOUND, 1);
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, false, &res), PROC_JOB_DELETED);
    EXPECT_EQ_INT(fake_calls(&fk.del), 1);

    job.id = "not-a-uuid";
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, true, &res), PROC_JOB_INVALID);
    teardown();
}

/* More runs than the attempts allow: poison, and nothing is done. A ready
 * image is never poison (its outcome is recorded). */
static void test_job_poison(void)
{
    setup();
    char id[IP_UUID_STRLEN + 1];
    new_id(id);
    Imageproc__ProcessJob job = IMAGEPROC__PROCESS_JOB__INIT;
    job.id = id;
    proc_job_result res;
    fk.runs = 2;
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, true, &res), PROC_JOB_READY); /* runs 3 = max */
    fk.runs = 3;
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, true, &res), PROC_JOB_POISON); /* runs 4 > 3 */
    EXPECT_EQ_INT(res.runs, 4);
    EXPECT(strstr(res.err, "killed or lost its processor 3 times") != NULL);
    EXPECT_EQ_INT(fake_calls(&fk.get), 1); /* only the first run fetched */
    EXPECT_EQ_INT(fake_calls(&fk.fail), 0);

    fake_reset();
    fk.runs = 10;
    fk.status = IMAGEPROC__IMAGE_STATUS__IMAGE_READY;
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, true, &res), PROC_JOB_READY);
    EXPECT_EQ_INT(fake_calls(&fk.get), 0);
    teardown();
}

/* FailImage's outcomes: recorded, gone, worth again (whose), refused. */
static void test_fail_image_outcomes(void)
{
    setup();
    char id[IP_UUID_STRLEN + 1];
    new_id(id);
    proc_job_result res;
    fake_script(&fk.fail, IP_UNAVAILABLE, 1);
    EXPECT_EQ_INT(proc_job_fail_image(&ctx, id, "bad", &res), PROC_JOB_WAIT);
    EXPECT_EQ_INT(res.dep, PROC_DEP_METADATA);
    fake_script(&fk.fail, IP_INTERNAL, 1);
    EXPECT_EQ_INT(proc_job_fail_image(&ctx, id, "bad", &res), PROC_JOB_RETRY);
    EXPECT_EQ_INT(proc_job_fail_image(&ctx, id, "bad", &res), PROC_JOB_FAILED);
    EXPECT_EQ_STR(fk.fail_reason, "bad");
    fake_script(&fk.fail, IP_NOT_FOUND, 1);
    fake_script(&fk.del, IP_UNAVAILABLE, 1);
    EXPECT_EQ_INT(proc_job_fail_image(&ctx, id, "bad", &res), PROC_JOB_WAIT);
    EXPECT_EQ_INT(res.dep, PROC_DEP_STORAGE);
    fake_script(&fk.fail, IP_NOT_FOUND, 1);
    EXPECT_EQ_INT(proc_job_fail_image(&ctx, id, "bad", &res), PROC_JOB_DELETED);
    fake_script(&fk.fail, IP_INVALID_ARGUMENT, 1);
    EXPECT_EQ_INT(proc_job_fail_image(&ctx, id, "bad", &res), PROC_JOB_FAILED);
    EXPECT(strstr(res.err, "not recorded") != NULL);
    teardown();
}

/* ------------------------------------------------------------ proc_retry */

/* Transient failures everywhere, with a limit of one attempt: none is used,
 * the job keeps its worker and ends ready; only the first run that reached
 * MarkProcessing counted a run. */
static void test_transient_then_ready(void)
{
    retry_fx fx;
    fx_begin(&fx, 1, 60000, 5000);
    fake_script(&fk.mark, IP_UNAVAILABLE, 2);
    fake_script(&fk.get, IP_DEADLINE_EXCEEDED, 2);
    fake_script(&fk.put, IP_UNAVAILABLE, 1);
    fake_script(&fk.finish, IP_UNAVAILABLE, 2);
    EXPECT(run_message(fx.c, &fx.p, fx.id));
    EXPECT_EQ_INT(dlq_delivered, 0);
    EXPECT_EQ_INT(fake_calls(&fk.fail), 0);
    EXPECT_EQ_INT(fk.runs, 1);
    int marks = fake_calls(&fk.mark);
    EXPECT_EQ_INT(marks, 8);
    for (int i = 0; i < marks; i++)
        EXPECTF(fk.delivery[i] == (i <= 2), "MarkProcessing %d: new_delivery %d", i,
                fk.delivery[i]);
    EXPECT_EQ_INT(metric("proc_jobs_total{outcome=\"ready\"}"), 1);
    EXPECT_EQ_INT(metric("proc_transient_retries_total{on=\"metadata-svc\"}"), 4);
    EXPECT_EQ_INT(metric("proc_transient_retries_total{on=\"storage-svc\"}"), 3);
    EXPECT_EQ_INT(metric("proc_job_retries_total"), 0);
    fx_end(&fx);
}

/* INTERNAL counts attempts: out of them, the job is dead-lettered and the
 * image fails with the reason; reruns add no run. */
static void test_internal_counts_attempts(void)
{
    retry_fx fx;
    fx_begin(&fx, 3, 60000, 5000);
    fake_script(&fk.get, IP_INTERNAL, -1);
    EXPECT(run_message(fx.c, &fx.p, fx.id));
    EXPECT_EQ_INT(fake_calls(&fk.get), 3);
    EXPECT_EQ_INT(fk.runs, 1);
    EXPECT_EQ_INT(dlq_delivered, 1);
    CHECK(dlq_last != NULL);
    EXPECT_EQ_STR(dlq_last->id, fx.id);
    EXPECT_EQ_INT(dlq_last->attempt, 3);
    EXPECT(strstr(dlq_last->last_error, "GetObject: internal") != NULL);
    fprintf(stderr, "reason: %s\n", fk.fail_reason);
    EXPECT(strncmp(fk.fail_reason, "gave up after 3 attempts: GetObject: internal", 45) == 0);
    EXPECT_EQ_INT(metric("proc_job_retries_total"), 2);
    EXPECT_EQ_INT(metric("proc_jobs_total{outcome=\"dlq\"}"), 1);

    /* Two INTERNAL runs, then it works: ready, nothing dead-lettered. */
    fake_reset();
    new_id(fx.id);
    fake_script(&fk.get, IP_INTERNAL, 2);
    EXPECT(run_message(fx.c, &fx.p, fx.id));
    EXPECT_EQ_INT(dlq_delivered, 1);
    EXPECT_EQ_INT(metric("proc_jobs_total{outcome=\"ready\"}"), 1);
    fx_end(&fx);
}

/* A delivery whose image has more runs than the attempts: no work, the DLQ,
 * the image fails saying the job lost its processor. */
static void test_poison(void)
{
    retry_fx fx;
    fx_begin(&fx, 3, 60000, 5000);
    fk.runs = 3;
    EXPECT(run_message(fx.c, &fx.p, fx.id));
    EXPECT_EQ_INT(fake_calls(&fk.get), 0);
    EXPECT_EQ_INT(dlq_delivered, 1);
    CHECK(dlq_last != NULL);
    EXPECT_EQ_INT(dlq_last->attempt, 3);
    EXPECT(strstr(dlq_last->last_error, "killed or lost its processor 3 times") != NULL);
    fprintf(stderr, "reason: %s\n", fk.fail_reason);
    EXPECT(strncmp(fk.fail_reason, "gave up after 3 runs: killed or lost its processor", 50) == 0);
    EXPECT_EQ_INT(metric("proc_jobs_total{outcome=\"dlq\"}"), 1);
    fx_end(&fx);
}

/* Past the horizon a transient failure is permanent: DLQ and FailImage with
 * the service and the last error. */
static void test_horizon(void)
{
    retry_fx fx;
    fx_begin(&fx, 1, 300, 5000);
    fake_script(&fk.get, IP_UNAVAILABLE, -1);
    int64_t t0 = ip_mono_ms();
    EXPECT(run_message(fx.c, &fx.p, fx.id));
    int64_t ms = ip_mono_ms() - t0;
    fprintf(stderr, "gave up after %lld ms and %d tries: %s\n", (long long)ms, fake_calls(&fk.get),
            fk.fail_reason);
    EXPECT(ms >= 300);
    EXPECT(fake_calls(&fk.get) > 5);
    EXPECT_EQ_INT(fk.runs, 1);
    EXPECT_EQ_INT(dlq_delivered, 1);
    EXPECT(strstr(fk.fail_reason, "gave up after waiting ") == fk.fail_reason);
    EXPECT(strstr(fk.fail_reason, " s for storage-svc: GetObject: unavailable") != NULL);
    EXPECT_EQ_INT(metric("proc_job_retries_total"), 0);
    fx_end(&fx);
}

/* A permanent failure whose FailImage fails transiently: retried (the job
 * reruns) until recorded, before the offset may be stored. */
static void test_record_retried(void)
{
    retry_fx fx;
    fx_begin(&fx, 1, 60000, 5000);
    void *keep = fk.orig;
    size_t keep_len = fk.orig_len;
    fk.orig = (void *)"not an image at all";
    fk.orig_len = 19;
    fake_script(&fk.fail, IP_UNAVAILABLE, 3);
    EXPECT(run_message(fx.c, &fx.p, fx.id));
    fk.orig = keep;
    fk.orig_len = keep_len;
    EXPECT_EQ_INT(fake_calls(&fk.fail), 4);
    EXPECT(fk.fail_reason[0] != '\0');
    EXPECT_EQ_INT(dlq_delivered, 0);
    EXPECT_EQ_INT(metric("proc_jobs_total{outcome=\"failed\"}"), 1);
    EXPECT_EQ_INT(metric("proc_transient_retries_total{on=\"metadata-svc\"}"), 3);
    fx_end(&fx);
}

static void *broker_up_later(void *arg)
{
    usleep(700 * 1000);
    rd_kafka_mock_broker_set_up(arg, 1);
    return NULL;
}

/* A dead letter while Kafka and then metadata-svc are down: the produce
 * waits for Kafka, FailImage for metadata-svc, and both get recorded. */
static void test_dead_letter_waits(void)
{
    retry_fx fx;
    fx_begin(&fx, 1, 60000, 200);
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(fx.c->dlq);
    CHECK(mc != NULL);
    rd_kafka_mock_broker_set_down(mc, 1);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, broker_up_later, mc) == 0);
    fake_script(&fk.get, IP_INTERNAL, -1);
    fake_script(&fk.fail, IP_UNAVAILABLE, 2);
    EXPECT(run_message(fx.c, &fx.p, fx.id));
    pthread_join(t, NULL);
    EXPECT_EQ_INT(dlq_delivered, 1);
    EXPECT_EQ_INT(fake_calls(&fk.fail), 3);
    EXPECT(strstr(fk.fail_reason, "gave up after 1 attempts") != NULL);
    EXPECT(metric("proc_transient_retries_total{on=\"kafka\"}") >= 1);
    EXPECT_EQ_INT(metric("proc_transient_retries_total{on=\"metadata-svc\"}"), 2);
    fx_end(&fx);
}

/* Recording gives up at its own horizon: logged, and the offset may be
 * stored (the lease and the sweep take it from there). */
static void test_record_horizon(void)
{
    retry_fx fx;
    fx_begin(&fx, 1, 200, 5000);
    fake_script(&fk.get, IP_INTERNAL, -1);
    fake_script(&fk.fail, IP_UNAVAILABLE, -1);
    EXPECT(run_message(fx.c, &fx.p, fx.id));
    EXPECT_EQ_INT(dlq_delivered, 1);
    EXPECT(fake_calls(&fk.fail) > 3);
    fx_end(&fx);
}

typedef struct revoke_arg {
    proc_consumer *c;
    proc_partition *p;
} revoke_arg;

static void *revoke_later(void *arg)
{
    revoke_arg *a = arg;
    usleep(200 * 1000);
    pthread_mutex_lock(&a->c->mu);
    a->p->revoked = true;
    pthread_cond_broadcast(&a->c->wake_cv);
    pthread_mutex_unlock(&a->c->mu);
    return NULL;
}

/* A revoke while the job waits: abandoned, nothing recorded, nothing stored. */
static void test_abandon(void)
{
    retry_fx fx;
    fx_begin(&fx, 1, 60000, 5000);
    fake_script(&fk.get, IP_UNAVAILABLE, -1);
    revoke_arg a = {fx.c, &fx.p};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, revoke_later, &a) == 0);
    EXPECT(!run_message(fx.c, &fx.p, fx.id));
    pthread_join(t, NULL);
    EXPECT(fake_calls(&fk.get) > 1);
    EXPECT_EQ_INT(fake_calls(&fk.fail), 0);
    EXPECT_EQ_INT(dlq_delivered, 0);
    EXPECT_EQ_INT(metric("proc_jobs_abandoned_total"), 1);
    fx_end(&fx);
}

/* A regeneration: MarkProcessing and FinishImage say so; when the image is
 * not ready, or the original does not decode, it ends SKIPPED and FailImage
 * is never called; out of attempts it is dropped, not dead-lettered. */
static void test_regenerate(void)
{
    retry_fx fx;
    fx_begin(&fx, 2, 60000, 5000);
    Imageproc__ProcessJob job = IMAGEPROC__PROCESS_JOB__INIT;
    job.id = fx.id;
    job.regenerate = true;
    proc_job_result res;
    fk.status = IMAGEPROC__IMAGE_STATUS__IMAGE_READY;
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, true, &res), PROC_JOB_READY);
    EXPECT(fk.mark_regen);
    EXPECT(fk.finish_regen);
    EXPECT_EQ_INT(fake_calls(&fk.finish), 1);
    EXPECT_EQ_INT(fk.runs, 0);
    /* 3 variants x (JPEG, WebP) by the default presets */
    EXPECT_EQ_INT(fake_calls(&fk.put), 6);

    fake_script(&fk.mark, IP_FAILED_PRECONDITION, 1);
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, true, &res), PROC_JOB_SKIPPED);
    EXPECT(strstr(res.err, "not ready") != NULL);
    fake_script(&fk.finish, IP_FAILED_PRECONDITION, 1);
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, true, &res), PROC_JOB_SKIPPED);
    EXPECT_EQ_INT(fake_calls(&fk.del), 1); /* the files it stored */

    void *keep = fk.orig;
    size_t keep_len = fk.orig_len;
    fk.orig = (void *)"not an image at all";
    fk.orig_len = 19;
    EXPECT_EQ_INT(proc_job_run(&ctx, &job, true, &res), PROC_JOB_SKIPPED);
    fk.orig = keep;
    fk.orig_len = keep_len;
    EXPECT(strstr(res.err, "regeneration failed") != NULL);
    EXPECT_EQ_INT(fake_calls(&fk.fail), 0);

    fake_script(&fk.get, IP_INTERNAL, -1);
    EXPECT(run_message_as(fx.c, &fx.p, fx.id, true));
    EXPECT_EQ_INT(dlq_delivered, 0);
    EXPECT_EQ_INT(fake_calls(&fk.fail), 0);
    EXPECT_EQ_INT(metric("proc_jobs_total{outcome=\"dropped\"}"), 1);
    EXPECT_EQ_INT(metric("proc_regenerations_total{outcome=\"dropped\"}"), 1);
    EXPECT_EQ_INT(metric("proc_regenerations_total{outcome=\"skipped\"}"), 2);
    EXPECT_EQ_INT(metric("proc_regenerations_total{outcome=\"failed\"}"), 1);
    EXPECT(metric("proc_regenerations_total{outcome=\"done\"}") >= 1);
    fx_end(&fx);
}

static const ip_test_case tests[] = {
    IP_TEST(job_reports),
    IP_TEST(job_poison),
    IP_TEST(fail_image_outcomes),
    IP_TEST(transient_then_ready),
    IP_TEST(internal_counts_attempts),
    IP_TEST(poison),
    IP_TEST(horizon),
    IP_TEST(record_retried),
    IP_TEST(dead_letter_waits),
    IP_TEST(record_horizon),
    IP_TEST(abandon),
    IP_TEST(regenerate),
};

int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0]))
        return 2;
    ip_log_init("proc_retry_test", IP_LOG_INFO);
    proc_variants_global_init(1, 0);
    int rc = ip_test_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
    if (dlq_last)
        imageproc__process_job__free_unpacked(dlq_last, NULL);
    vips_shutdown();
    return rc;
}
