/* meta_webhooks_it.h — what the webhook integration tests of metadata-svc
 * share (meta_webhooks_it_test.c: the outbox and the subscriptions;
 * meta_deliveries_it_test.c: claims, outcomes, resends and the log). Test
 * code only, included by each test file (the checks of ip_testing.h count
 * per file, so the helpers are static inline here rather than a library).
 *
 * Each test runs the service in-process (store, RPC server, publisher) on
 * ports of its own (IP_TEST_META_WEBHOOKS_RPC_URL / _EVENTS_URL, default
 * 7141/7142) against a database of its own, IP_PG_DSN with the name replaced
 * by imageproc_test_webhooks (made on first use), whose subscriptions and
 * deliveries it empties first: claims take every due delivery of the
 * database, so a test must be alone in it (ctest: RESOURCE_LOCK). It talks to
 * the service only through RPC, as the gateway and imgctl do; libpq is used
 * directly to look behind the service's back (the rows, the body as stored)
 * and to move times (a horizon that has passed). A missing PostgreSQL is a
 * failure, never a skip; waits poll with a deadline.
 */
#ifndef META_WEBHOOKS_IT_H
#define META_WEBHOOKS_IT_H

#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <metadata.pb-c.h>

#include "ip_keys.h"
#include "ip_log.h"
#include "ip_rpc.h"
#include "ip_rpc_stubs.h"
#include "ip_testing.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "ip_variants.h"
#include "ip_webhook.h"
#include "meta_service.h"
#include "meta_store.h"
#include "meta_testdb.h"

#define TEST_DB "imageproc_test_webhooks"
#define DEFAULT_DSN "postgresql://imageproc:imageproc-local@127.0.0.1:55432/imageproc"
#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define CREATED_US INT64_C(1764375760123457) /* odd microseconds, to see them kept */

static char base_dsn[1024];
static char test_dsn[1024];
static const char *rpc_url;
static const char *events_url;

static meta_store *store;
static meta_service *service;
static ip_rpc_client *client;
static PGconn *db; /* a direct connection to TEST_DB */

static const Imageproc__WebhookEvent READY = IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_READY;
static const Imageproc__WebhookEvent FAILED = IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_FAILED;
static const Imageproc__WebhookEvent DELETED = IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_DELETED;

/* ------------------------------------------------------------- database */

static inline const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : def;
}

static inline PGconn *pg_connect(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect to PostgreSQL (%s): %s", base_dsn, PQerrorMessage(c));
        exit(1);
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

/* Runs SQL on the test's connection; the result is the caller's (PQclear).
 * Exits on error. */
static inline PGresult *sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline PGresult *sql(const char *fmt, ...)
{
    char q[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof(q), fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(db, q);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        fprintf(stderr, "SQL failed: %s\n%s", q, PQresultErrorMessage(r));
        exit(1);
    }
    return r;
}

/* The one value of a one-row query, as a number. */
static inline long long sql_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline long long sql_int(const char *fmt, ...)
{
    char q[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof(q), fmt, ap);
    va_end(ap);
    PGresult *r = sql("%s", q);
    CHECKF(PQntuples(r) == 1, "%s: %d rows", q, PQntuples(r));
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static inline void ensure_db(void)
{
    PGconn *c = pg_connect(base_dsn);
    PGresult *r = PQexec(c, "SELECT 1 FROM pg_database WHERE datname = '" TEST_DB "'");
    bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (!exists) {
        r = PQexec(c, "CREATE DATABASE " TEST_DB);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (PQresultStatus(r) != PGRES_COMMAND_OK &&
            (state == NULL || strcmp(state, "42P04") != 0)) {
            fprintf(stderr, "CREATE DATABASE %s: %s", TEST_DB, PQresultErrorMessage(r));
            exit(1);
        }
        PQclear(r);
    }
    PQfinish(c);
}

static inline void start_service(void)
{
    char err[256] = "";
    meta_store_opts so = {.dsn = test_dsn, .pool_size = 8};
    CHECK(meta_store_new(&so, &store, err, sizeof(err)) == IP_OK);
    meta_ctx cx = {0};
    ip_status st = meta_store_migrate(store, &cx, NULL);
    CHECKF(st == IP_OK, "migrate: %s: %s", ip_strerror(st), cx.err);
    meta_service_opts vo = {.rpc_url = rpc_url, .events_url = events_url, .workers = 16};
    CHECK(meta_service_new(store, &vo, &service) == IP_OK);
    ip_rpc_client_opts co = {.urls = rpc_url, .timeout_ms = 10000};
    CHECK(ip_rpc_client_new(&imageproc__metadata__descriptor, &co, &client) == IP_OK);
    int64_t deadline = ip_mono_ms() + 10000;
    while (ip_rpc_ping(client, 1000) != IP_OK)
        CHECK(ip_mono_ms() < deadline);
    db = pg_connect(test_dsn);
    /* Alone in the database: no subscription or delivery of an earlier run. */
    PQclear(sql("TRUNCATE webhook_deliveries, webhook_subscriptions"));
}

static inline void stop_service(void)
{
    PQfinish(db);
    ip_rpc_client_free(client);
    meta_service_free(service);
    meta_store_free(store);
}

/* ------------------------------------------------------------- RPC helpers */

static char last_err[512];

#define RPC(method, in, out)                                                                       \
    (last_err[0] = '\0',                                                                           \
     ip_metadata_##method(client, (in), (out), NULL, last_err, sizeof(last_err)))

static inline void msg_free(void *m)
{
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
}

/* The error message must name the field. */
static inline void check_bad(ip_status st, const char *field, int line)
{
    if (st != IP_INVALID_ARGUMENT || strstr(last_err, field) == NULL) {
        fprintf(stderr, "line %d: want INVALID_ARGUMENT naming %s, got %s '%s'\n", line, field,
                ip_strerror(st), last_err);
        ip_test_failures++;
    }
}
#define EXPECT_BAD(st, field) check_bad((st), (field), __LINE__)

/* A new image requesting the thumbnail, created CREATED_US, uploaded with
 * key_id ("" = none). The key is also set behind the service's back when
 * CreateImage left it unset, so the outbox's own_images_only is tested on
 * its own. */
static inline void new_image(char id[IP_UUID_STRLEN + 1], const char *key_id)
{
    ip_variant_kind kinds[] = {IP_VARIANT_THUMBNAIL};
    ip_uuid_v7_str(id);
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    img.id = id;
    img.created_at_us = CREATED_US;
    img.filename = "cat \"1\".jpg"; /* a quote, escaped in the body */
    img.content_type = "image/jpeg";
    img.size_bytes = 12345;
    img.width = 640;
    img.height = 480;
    img.sha256 = SHA;
    img.requested = kinds;
    img.n_requested = 1;
    img.key_id = (char *)key_id;
    Imageproc__CreateImageRequest req = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    req.image = &img;
    Imageproc__CreateImageReply *rep = NULL;
    ip_status st = RPC(create_image, &req, &rep);
    CHECKF(st == IP_OK, "CreateImage: %s %s", ip_strerror(st), last_err);
    msg_free(rep);
    if (key_id[0] != '\0')
        PQclear(
            sql("UPDATE images SET key_id = '%s' WHERE id = '%s' AND key_id IS NULL", key_id, id));
}

/* FinishImage with the thumbnail ready. */
static inline ip_status finish_ready(const char *id)
{
    char key[IP_KEY_MAX];
    CHECK(ip_key_variant(key, id, IP_VARIANT_THUMBNAIL, &ip_format_jpeg) == IP_OK);
    Imageproc__Variant v = IMAGEPROC__VARIANT__INIT;
    v.kind = IP_VARIANT_THUMBNAIL;
    v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    v.object_key = key;
    v.width = 320;
    v.height = 240;
    v.size_bytes = 2048;
    v.format = (char *)ip_format_jpeg.name;
    Imageproc__Variant *vp[] = {&v};
    Imageproc__FinishImageRequest req = IMAGEPROC__FINISH_IMAGE_REQUEST__INIT;
    req.id = (char *)id;
    req.variants = vp;
    req.n_variants = 1;
    Imageproc__FinishImageReply *rep = NULL;
    ip_status st = RPC(finish_image, &req, &rep);
    msg_free(rep);
    return st;
}

static inline ip_status fail_image(const char *id, const char *error)
{
    Imageproc__FailImageRequest req = IMAGEPROC__FAIL_IMAGE_REQUEST__INIT;
    req.id = (char *)id;
    req.error = (char *)error;
    Imageproc__FailImageReply *rep = NULL;
    ip_status st = RPC(fail_image, &req, &rep);
    msg_free(rep);
    return st;
}

static inline ip_status delete_image(const char *id, bool undo)
{
    Imageproc__DeleteImageRequest req = IMAGEPROC__DELETE_IMAGE_REQUEST__INIT;
    req.id = (char *)id;
    req.undo = undo;
    Imageproc__DeleteImageReply *rep = NULL;
    ip_status st = RPC(delete_image, &req, &rep);
    msg_free(rep);
    return st;
}

/* A new subscription to events[0..n) (NULL: all three), made with key_id
 * ("" = by an operator); its id into id, its secret into secret (may be
 * NULL). */
static inline void new_webhook(char id[IP_UUID_STRLEN + 1], const char *key_id, bool own,
                               const Imageproc__WebhookEvent *events, size_t n,
                               char secret[IP_WEBHOOK_SECRET_MAX])
{
    static const Imageproc__WebhookEvent all[] = {IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_READY,
                                                  IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_FAILED,
                                                  IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_DELETED};
    char sec[IP_WEBHOOK_SECRET_MAX];
    CHECK(ip_webhook_new_secret(sec) == IP_OK);
    ip_uuid_v7_str(id);
    Imageproc__WebhookSubscription w = IMAGEPROC__WEBHOOK_SUBSCRIPTION__INIT;
    w.id = id;
    w.url = "http://127.0.0.1:9/hook";
    w.secret = sec;
    w.events = (Imageproc__WebhookEvent *)(events ? events : all);
    w.n_events = events ? n : 3;
    w.key_id = (char *)key_id;
    w.own_images_only = own;
    Imageproc__CreateWebhookRequest req = IMAGEPROC__CREATE_WEBHOOK_REQUEST__INIT;
    req.subscription = &w;
    Imageproc__CreateWebhookReply *rep = NULL;
    ip_status st = RPC(create_webhook, &req, &rep);
    CHECKF(st == IP_OK, "CreateWebhook: %s %s", ip_strerror(st), last_err);
    msg_free(rep);
    if (secret != NULL)
        memcpy(secret, sec, sizeof(sec));
}

/* How many deliveries of `event` (NULL: any) the image has, for the
 * subscription `sub` (NULL: any). */
static inline long long deliveries_of(const char *image_id, const char *sub, const char *event)
{
    char cond[256] = "";
    if (sub != NULL)
        snprintf(cond, sizeof(cond), " AND subscription_id = '%s'", sub);
    if (event != NULL)
        snprintf(cond + strlen(cond), sizeof(cond) - strlen(cond), " AND event = '%s'", event);
    return sql_int("SELECT count(*) FROM webhook_deliveries WHERE image_id = '%s'%s", image_id,
                   cond);
}

static inline Imageproc__ClaimDeliveriesReply *claim(int limit, int64_t claim_ms)
{
    Imageproc__ClaimDeliveriesRequest req = IMAGEPROC__CLAIM_DELIVERIES_REQUEST__INIT;
    req.limit = limit;
    req.claim_ms = claim_ms;
    Imageproc__ClaimDeliveriesReply *rep = NULL;
    ip_status st = RPC(claim_deliveries, &req, &rep);
    CHECKF(st == IP_OK, "ClaimDeliveries: %s %s", ip_strerror(st), last_err);
    return rep;
}

/* FinishDelivery: delivered (status 200) or not (status, error, retry after
 * retry_ms, horizon horizon_ms). */
static inline ip_status finish_delivery(const char *id, bool delivered, int status,
                                        const char *error, int64_t retry_ms, int64_t horizon_ms,
                                        Imageproc__FinishDeliveryReply **out)
{
    Imageproc__FinishDeliveryRequest req = IMAGEPROC__FINISH_DELIVERY_REQUEST__INIT;
    req.id = (char *)id;
    req.delivered = delivered;
    req.status = status;
    req.error = (char *)error;
    req.duration_ms = 42;
    req.retry_after_ms = retry_ms;
    req.horizon_ms = horizon_ms;
    Imageproc__FinishDeliveryReply *rep = NULL;
    ip_status st = RPC(finish_delivery, &req, &rep);
    if (out != NULL)
        *out = rep;
    else
        msg_free(rep);
    return st;
}

/* The one delivery of the image (of any subscription) for `event`. */
static inline void delivery_id_of(const char *image_id, const char *event,
                                  char out[IP_WEBHOOK_ID_MAX])
{
    PGresult *r = sql("SELECT id FROM webhook_deliveries WHERE image_id = '%s' AND event = '%s'",
                      image_id, event);
    CHECKF(PQntuples(r) == 1, "%d deliveries of %s for %s", PQntuples(r), event, image_id);
    snprintf(out, IP_WEBHOOK_ID_MAX, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

/* The RFC 3339 form of a time in microseconds, as a body writes it. */
static inline void rfc3339(int64_t us, char out[40])
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char date[24];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%.23s.%06dZ", date, (int)(us % 1000000));
}

/* The stored body of the delivery of `event` about the image must be the
 * compact JSON of the contract, byte for byte (its timestamp within the last
 * minute). */
static inline void expect_body(const char *image_id, const char *event, const char *status,
                               const char *error, int line)
{
    PGresult *r = sql("SELECT body, body::json->>'timestamp',"
                      " (body::json->>'timestamp')::timestamptz"
                      " BETWEEN now() - interval '1 minute' AND now()"
                      " FROM webhook_deliveries WHERE image_id = '%s' AND event = '%s' LIMIT 1",
                      image_id, event);
    CHECKF(PQntuples(r) == 1, "line %d: no %s delivery for %s", line, event, image_id);
    char created[40], want[1024];
    rfc3339(CREATED_US, created);
    snprintf(want, sizeof(want),
             "{\"type\":\"%s\",\"timestamp\":\"%s\",\"data\":{\"id\":\"%s\",\"status\":\"%s\","
             "\"error\":\"%s\",\"created_at\":\"%s\",\"filename\":\"cat \\\"1\\\".jpg\","
             "\"content_type\":\"image/jpeg\",\"size\":12345,\"sha256\":\"%s\"}}",
             event, PQgetvalue(r, 0, 1), image_id, status, error, created, SHA);
    if (strcmp(PQgetvalue(r, 0, 0), want) != 0 || strcmp(PQgetvalue(r, 0, 2), "t") != 0) {
        fprintf(stderr, "line %d: body\n  %s\nwant\n  %s (timestamp recent: %s)\n", line,
                PQgetvalue(r, 0, 0), want, PQgetvalue(r, 0, 2));
        ip_test_failures++;
    }
    PQclear(r);
}
#define EXPECT_BODY(image, event, status, error) expect_body(image, event, status, error, __LINE__)

/* ------------------------------------------------------------- main */

/* Runs the test named by argv[1] of tests[0..n) with the service up. */
static inline int meta_webhooks_it_main(int argc, char **argv, const ip_test_case *tests, size_t n)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <test>\n", argv[0]);
        return 2;
    }
    bool known = false;
    for (size_t i = 0; i < n; i++)
        known = known || strcmp(tests[i].name, argv[1]) == 0;
    if (!known)
        return ip_test_main(argc, argv, tests, n); /* says so, exits 2 */
    ip_log_init("metadata-svc-test", IP_LOG_WARN);
    snprintf(base_dsn, sizeof(base_dsn), "%s", env_or("IP_PG_DSN", DEFAULT_DSN));
    rpc_url = env_or("IP_TEST_META_WEBHOOKS_RPC_URL", "tcp://127.0.0.1:7141");
    events_url = env_or("IP_TEST_META_WEBHOOKS_EVENTS_URL", "tcp://127.0.0.1:7142");
    ensure_db();
    CHECK(meta_dsn_with_db(base_dsn, TEST_DB, test_dsn, sizeof(test_dsn)) == IP_OK);
    start_service();
    int rc = ip_test_main(argc, argv, tests, n);
    stop_service();
    return rc;
}

#endif
