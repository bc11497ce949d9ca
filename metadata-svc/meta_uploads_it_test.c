/* meta_uploads_it_test.c — integration tests of what an upload asks of
 * metadata-svc beyond the row: the API key it came with (Image.key_id),
 * duplicates (CreateImage.dedupe), idempotency records (CreateImage's
 * record, GetIdempotency) and the listing's checksum and key filters.
 *
 * Run as `meta_uploads_it_test <name>` (the table at the end; ctest registers
 * each as metadata-svc.uploads.<name>). As meta_it_test does, every test runs
 * the service in-process (store, RPC server, publisher) on
 * IP_TEST_META_RPC_URL / IP_TEST_META_EVENTS_URL (default 7111/7112) against
 * the database imageproc_test_meta of IP_PG_DSN's server, made on first use,
 * and talks to it through an RPC client only; libpq looks behind its back
 * (counting rows, ageing records, reading plans). Each test makes its own
 * keys and checksums (random), so the rows of other tests and earlier runs
 * never match its filters; the expired idempotency records are this file's
 * (idempotency_expired clears them first). A missing PostgreSQL is a
 * failure, never a skip.
 */
#include <libpq-fe.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <events.pb-c.h>
#include <metadata.pb-c.h>

#include "ip_keys.h"
#include "ip_log.h"
#include "ip_rpc.h"
#include "ip_rpc_stubs.h"
#include "ip_testing.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "ip_variants.h"
#include "meta_service.h"
#include "meta_store.h"
#include "meta_testdb.h"

#define TEST_DB "imageproc_test_meta"
#define DEFAULT_DSN "postgresql://imageproc:imageproc-local@127.0.0.1:55432/imageproc"
#define SHA_LEN 64

/* ------------------------------------------------------------- environment */

static char base_dsn[1024];
static char test_dsn[1024];
static const char *events_url;
static meta_store *store;
static meta_service *service;
static ip_rpc_client *client;

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : def;
}

static PGconn *pg_connect(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    CHECKF(PQstatus(c) == CONNECTION_OK, "cannot connect to PostgreSQL: %s", PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

/* Runs SQL on the test database and returns the result (caller clears);
 * ends the test on an error. */
static PGresult *sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static PGresult *sql(const char *fmt, ...)
{
    static PGconn *c;
    if (c == NULL)
        c = pg_connect(test_dsn);
    char q[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof(q), fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(c, q);
    ExecStatusType st = PQresultStatus(r);
    CHECKF(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", q, PQresultErrorMessage(r));
    return r;
}

/* The one value the query returns, as a number. */
static long long sql_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long sql_int(const char *fmt, ...)
{
    char q[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof(q), fmt, ap);
    va_end(ap);
    PGresult *r = sql("%s", q);
    CHECK(PQntuples(r) == 1);
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* Makes sure the test database exists (a concurrent creator is fine). */
static void ensure_db(void)
{
    PGconn *c = pg_connect(base_dsn);
    PGresult *r = PQexec(c, "SELECT 1 FROM pg_database WHERE datname = '" TEST_DB "'");
    bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (!exists) {
        r = PQexec(c, "CREATE DATABASE " TEST_DB);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        CHECKF(PQresultStatus(r) == PGRES_COMMAND_OK || (state && strcmp(state, "42P04") == 0),
               "CREATE DATABASE: %s", PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(c);
}

static void start_service(void)
{
    char err[256] = "";
    const char *rpc_url = env_or("IP_TEST_META_RPC_URL", "tcp://127.0.0.1:7111");
    events_url = env_or("IP_TEST_META_EVENTS_URL", "tcp://127.0.0.1:7112");
    meta_store_opts so = {.dsn = test_dsn, .pool_size = 8};
    CHECKF(meta_store_new(&so, &store, err, sizeof(err)) == IP_OK, "store: %s", err);
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
}

static void stop_service(void)
{
    ip_rpc_client_free(client);
    meta_service_free(service);
    meta_store_free(store);
}

/* ------------------------------------------------------------- helpers */

static char last_err[512]; /* the message of the last failed call of the main thread */

#define RPC(method, in, out)                                                                       \
    (last_err[0] = '\0',                                                                           \
     ip_metadata_##method(client, (in), (out), NULL, last_err, sizeof(last_err)))

static void msg_free(void *m)
{
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
}

/* The error must be INVALID_ARGUMENT and its message name the field. */
static void check_bad(ip_status st, const char *field, int line)
{
    if (st != IP_INVALID_ARGUMENT || strncmp(last_err, field, strlen(field)) != 0) {
        fprintf(stderr, "line %d: want INVALID_ARGUMENT naming %s, got %s '%s'\n", line, field,
                ip_strerror(st), last_err);
        ip_test_failures++;
    }
}
#define EXPECT_BAD(st, field) check_bad((st), (field), __LINE__)

/* A fresh random checksum (64 lowercase hex digits). */
static void random_sha(char out[SHA_LEN + 1])
{
    char a[IP_UUID_STRLEN + 1];
    size_t n = 0;
    while (n < SHA_LEN) {
        ip_uuid_v4_str(a);
        for (const char *c = a; *c && n < SHA_LEN; c++)
            if (*c != '-')
                out[n++] = *c;
    }
    out[n] = '\0';
}

/* The recorded response of the upload `id`: bytes of every kind, as a sealed
 * body is (a NUL and 0xff among them). */
static void response_of(const char *id, uint8_t out[48], size_t *n)
{
    memcpy(out, "\x00\xff sealed:", 10);
    memcpy(out + 10, id, IP_UUID_STRLEN);
    *n = 10 + IP_UUID_STRLEN;
}

/* One CreateImage of an upload. */
typedef struct upload {
    const char *key_id;          /* "" or NULL = none */
    const char *sha;             /* the bytes' checksum */
    bool dedupe;                 /* CreateImage.dedupe */
    const char *idem_key;        /* NULL = no record */
    int64_t created_at_us;       /* 0 = now */
    ip_variant_kind only;        /* IP_VARIANT_NONE = every variant, else just this one */
    char id[IP_UUID_STRLEN + 1]; /* out: the id asked for (fresh) */
    uint8_t response[48];        /* out: the record's response */
    size_t response_len;
} upload;

/* CreateImage of u with a fresh id, through client c; the message of a
 * failure into err. The reply to *rep (free it). */
static ip_status create_on(ip_rpc_client *c, upload *u, Imageproc__CreateImageReply **rep,
                           char *err, size_t errlen)
{
    ip_variant_kind all[IP_VARIANT_COUNT];
    size_t n = ip_variant_mask_kinds(IP_VARIANT_MASK_ALL, all);
    if (u->only != IP_VARIANT_NONE) {
        all[0] = u->only;
        n = 1;
    }
    ip_uuid_v7_str(u->id);
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    img.id = u->id;
    img.created_at_us = u->created_at_us;
    img.filename = "cat.jpg";
    img.content_type = "image/jpeg";
    img.size_bytes = 12345;
    img.width = 640;
    img.height = 480;
    img.sha256 = (char *)u->sha;
    img.requested = all;
    img.n_requested = n;
    img.key_id = (char *)(u->key_id ? u->key_id : "");
    Imageproc__CreateImageRequest req = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    req.image = &img;
    req.dedupe = u->dedupe;
    Imageproc__IdempotencyRecord rec = IMAGEPROC__IDEMPOTENCY_RECORD__INIT;
    if (u->idem_key != NULL) {
        response_of(u->id, u->response, &u->response_len);
        rec.scope = img.key_id;
        rec.key = (char *)u->idem_key;
        rec.request_sha256 = (char *)u->sha;
        rec.status = 202;
        rec.response.data = u->response;
        rec.response.len = u->response_len;
        req.idempotency = &rec;
    }
    *rep = NULL;
    return ip_metadata_create_image(c, &req, rep, NULL, err, errlen);
}

/* create_on on the test's client; the reply must be OK. */
static Imageproc__CreateImageReply *create_ok(upload *u)
{
    Imageproc__CreateImageReply *rep = NULL;
    ip_status st = create_on(client, u, &rep, last_err, sizeof(last_err));
    CHECKF(st == IP_OK, "CreateImage: %s %s", ip_strerror(st), last_err);
    return rep;
}

/* A new row was made for u: the reply is it, not a duplicate or a replay. */
static void expect_new(const Imageproc__CreateImageReply *rep, const upload *u, int line)
{
    if (rep->existing || rep->replay != NULL || rep->image == NULL ||
        strcmp(rep->image->id, u->id) != 0) {
        fprintf(stderr, "line %d: want the new image %s, got existing=%d replay=%s image=%s\n",
                line, u->id, rep->existing, rep->replay ? rep->replay->image_id : "-",
                rep->image ? rep->image->id : "-");
        ip_test_failures++;
    }
}
#define EXPECT_NEW(rep, u) expect_new((rep), (u), __LINE__)

static long long rows_with_sha(const char *sha)
{
    return sql_int("SELECT count(*) FROM images WHERE sha256 = '%s'", sha);
}

static long long rows_with_id(const char *id)
{
    return sql_int("SELECT count(*) FROM images WHERE id = '%s'", id);
}

static ip_status get_image(const char *id, Imageproc__GetImageReply **rep)
{
    Imageproc__GetImageRequest req = IMAGEPROC__GET_IMAGE_REQUEST__INIT;
    req.id = (char *)id;
    *rep = NULL;
    return RPC(get_image, &req, rep);
}

static ip_status get_record(const char *scope, const char *key,
                            Imageproc__GetIdempotencyReply **rep)
{
    Imageproc__GetIdempotencyRequest req = IMAGEPROC__GET_IDEMPOTENCY_REQUEST__INIT;
    req.scope = (char *)scope;
    req.key = (char *)key;
    *rep = NULL;
    return RPC(get_idempotency, &req, rep);
}

static void fresh_key(char out[IP_UUID_STRLEN + 1])
{
    ip_uuid_v4_str(out);
}

/* A fresh Idempotency-Key (visible ASCII, some punctuation). */
static void fresh_idem_key(char out[64])
{
    char u[IP_UUID_STRLEN + 1];
    ip_uuid_v4_str(u);
    snprintf(out, 64, "order/%s#1", u);
}

/* ------------------------------------------------------------- key_id */

static void test_key_id(void)
{
    char key[IP_UUID_STRLEN + 1], upper[IP_UUID_STRLEN + 1], sha[SHA_LEN + 1];
    fresh_key(key);
    random_sha(sha);
    for (int i = 0; i <= IP_UUID_STRLEN; i++)
        upper[i] = (char)(key[i] >= 'a' && key[i] <= 'f' ? key[i] - 32 : key[i]);
    /* Given in upper case, stored and read back canonical. */
    upload a = {.key_id = upper, .sha = sha};
    Imageproc__CreateImageReply *rep = create_ok(&a);
    EXPECT_NEW(rep, &a);
    EXPECT_EQ_STR(rep->image->key_id, key);
    msg_free(rep);
    upload anon = {.sha = sha};
    rep = create_ok(&anon);
    EXPECT_EQ_STR(rep->image->key_id, "");
    msg_free(rep);

    Imageproc__GetImageReply *g = NULL;
    CHECK(get_image(a.id, &g) == IP_OK);
    EXPECT_EQ_STR(g->image->key_id, key);
    msg_free(g);
    CHECK(get_image(anon.id, &g) == IP_OK);
    EXPECT_EQ_STR(g->image->key_id, "");
    msg_free(g);
    EXPECT_EQ_INT(
        sql_int("SELECT count(*) FROM images WHERE id = '%s' AND key_id IS NULL", anon.id), 1);

    /* The listing carries it too (both rows, newest first). */
    Imageproc__ListImagesRequest lr = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
    lr.limit = 10;
    lr.sha256 = sha;
    Imageproc__ListImagesReply *l = NULL;
    CHECK(RPC(list_images, &lr, &l) == IP_OK);
    CHECK(l->n_images == 2);
    EXPECT_EQ_STR(l->images[0]->id, anon.id);
    EXPECT_EQ_STR(l->images[0]->key_id, "");
    EXPECT_EQ_STR(l->images[1]->id, a.id);
    EXPECT_EQ_STR(l->images[1]->key_id, key);
    msg_free(l);
}

/* ------------------------------------------------------------- duplicates */

static void test_dedupe(void)
{
    char key[IP_UUID_STRLEN + 1], sha[SHA_LEN + 1];
    fresh_key(key);
    random_sha(sha);
    upload a = {.key_id = key, .sha = sha, .dedupe = true};
    Imageproc__CreateImageReply *rep = create_ok(&a);
    EXPECT_NEW(rep, &a);
    msg_free(rep);

    /* The same bytes with the same key: the first image, nothing written. */
    upload b = {.key_id = key, .sha = sha, .dedupe = true};
    rep = create_ok(&b);
    EXPECT(rep->existing && rep->replay == NULL);
    CHECK(rep->image != NULL);
    EXPECT_EQ_STR(rep->image->id, a.id);
    EXPECT_EQ_STR(rep->image->key_id, key);
    EXPECT_EQ_INT(rep->image->n_variants, IP_VARIANT_COUNT); /* read as GetImage reads it */
    msg_free(rep);
    EXPECT_EQ_INT(rows_with_sha(sha), 1);
    EXPECT_EQ_INT(rows_with_id(b.id), 0);

    /* Several: the newest. */
    upload c = {.key_id = key, .sha = sha};
    rep = create_ok(&c);
    EXPECT_NEW(rep, &c);
    msg_free(rep);
    upload d = {.key_id = key, .sha = sha, .dedupe = true};
    rep = create_ok(&d);
    EXPECT(rep->existing && strcmp(rep->image->id, c.id) == 0);
    msg_free(rep);
    EXPECT_EQ_INT(rows_with_sha(sha), 2);

    /* The id's upload reservation stays: its purge removes the original
     * stored for the upload that was not made. */
    char okey[IP_KEY_MAX];
    Imageproc__ReserveUploadRequest rr = IMAGEPROC__RESERVE_UPLOAD_REQUEST__INIT;
    char rid[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(rid);
    CHECK(ip_key_original(okey, rid) == IP_OK);
    rr.id = rid;
    rr.original_key = okey;
    rr.purge_after_ms = 600000;
    Imageproc__ReserveUploadReply *rrep = NULL;
    CHECK(RPC(reserve_upload, &rr, &rrep) == IP_OK);
    msg_free(rrep);
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    ip_variant_kind thumb[] = {IP_VARIANT_THUMBNAIL};
    img.id = rid;
    img.sha256 = sha;
    img.key_id = key;
    img.requested = thumb;
    img.n_requested = 1;
    Imageproc__CreateImageRequest cr = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    cr.image = &img;
    cr.dedupe = true;
    CHECK(RPC(create_image, &cr, &rep) == IP_OK);
    EXPECT(rep->existing && strcmp(rep->image->id, c.id) == 0);
    msg_free(rep);
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM purges WHERE image_id = '%s' AND reservation", rid),
                  1);
    PQclear(sql("DELETE FROM purges WHERE image_id = '%s'", rid));
}

static void test_dedupe_scope(void)
{
    char k1[IP_UUID_STRLEN + 1], k2[IP_UUID_STRLEN + 1], sha[SHA_LEN + 1];
    fresh_key(k1);
    fresh_key(k2);
    random_sha(sha);
    Imageproc__CreateImageReply *rep;
    /* An anonymous image with those bytes is nobody's duplicate. */
    upload anon = {.sha = sha};
    msg_free(create_ok(&anon));
    upload a = {.key_id = k1, .sha = sha, .dedupe = true};
    rep = create_ok(&a);
    EXPECT_NEW(rep, &a);
    msg_free(rep);
    /* Another key: a new image. */
    upload b = {.key_id = k2, .sha = sha, .dedupe = true};
    rep = create_ok(&b);
    EXPECT_NEW(rep, &b);
    msg_free(rep);
    /* The same key without dedupe (on_duplicate=new): a new image. */
    upload c = {.key_id = k1, .sha = sha};
    rep = create_ok(&c);
    EXPECT_NEW(rep, &c);
    msg_free(rep);
    /* Other bytes with the same key: a new image. */
    char other[SHA_LEN + 1];
    random_sha(other);
    upload d = {.key_id = k1, .sha = other, .dedupe = true};
    rep = create_ok(&d);
    EXPECT_NEW(rep, &d);
    msg_free(rep);
    EXPECT_EQ_INT(rows_with_sha(sha), 4);
    /* Each key finds its own newest. */
    upload e = {.key_id = k1, .sha = sha, .dedupe = true};
    rep = create_ok(&e);
    EXPECT(rep->existing && strcmp(rep->image->id, c.id) == 0);
    msg_free(rep);
    upload f = {.key_id = k2, .sha = sha, .dedupe = true};
    rep = create_ok(&f);
    EXPECT(rep->existing && strcmp(rep->image->id, b.id) == 0);
    msg_free(rep);
    EXPECT_EQ_INT(rows_with_sha(sha), 4);
    /* Without a key there is nothing to deduplicate against: refused. */
    upload g = {.sha = sha, .dedupe = true};
    EXPECT_BAD(create_on(client, &g, &rep, last_err, sizeof(last_err)), "dedupe");
    msg_free(rep);
    EXPECT_EQ_INT(rows_with_sha(sha), 4);
}

#define RACERS 8

typedef struct racer {
    upload u;
    pthread_barrier_t *start;
    ip_status st;
    char err[256];
    Imageproc__CreateImageReply *rep;
} racer;

static void *race_thread(void *p)
{
    racer *r = p;
    pthread_barrier_wait(r->start);
    r->st = create_on(client, &r->u, &r->rep, r->err, sizeof(r->err));
    return NULL;
}

/* Runs RACERS CreateImage calls of `proto` at once (each with its own id). */
static void race(const upload *proto, racer rs[RACERS])
{
    pthread_barrier_t start;
    pthread_t th[RACERS];
    pthread_barrier_init(&start, NULL, RACERS);
    for (int i = 0; i < RACERS; i++) {
        rs[i] = (racer){.u = *proto, .start = &start};
        CHECK(pthread_create(&th[i], NULL, race_thread, &rs[i]) == 0);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < RACERS; i++)
        CHECKF(rs[i].st == IP_OK, "racer %d: %s %s", i, ip_strerror(rs[i].st), rs[i].err);
}

/* One round: RACERS uploads of one key's new bytes at once make one image. */
static void dedupe_round(void)
{
    char key[IP_UUID_STRLEN + 1], sha[SHA_LEN + 1];
    fresh_key(key);
    random_sha(sha);
    upload proto = {.key_id = key, .sha = sha, .dedupe = true};
    racer rs[RACERS];
    race(&proto, rs);
    int made = 0, winner = -1;
    for (int i = 0; i < RACERS; i++)
        if (!rs[i].rep->existing) {
            made++;
            winner = i;
        }
    EXPECT_EQ_INT(made, 1);
    CHECK(winner >= 0);
    for (int i = 0; i < RACERS; i++) {
        EXPECT_EQ_STR(rs[i].rep->image->id, rs[winner].u.id);
        msg_free(rs[i].rep);
    }
    EXPECT_EQ_INT(rows_with_sha(sha), 1);
}

/* Rounds enough that an unguarded check-then-insert would be caught. */
static void test_dedupe_race(void)
{
    for (int round = 0; round < 10; round++)
        dedupe_round();
}

/* ------------------------------------------------------------- idempotency */

static void expect_record(const Imageproc__IdempotencyRecord *rec, const upload *u, int line)
{
    bool ok = rec != NULL && strcmp(rec->scope, u->key_id ? u->key_id : "") == 0 &&
              strcmp(rec->key, u->idem_key) == 0 && strcmp(rec->request_sha256, u->sha) == 0 &&
              strcmp(rec->image_id, u->id) == 0 && rec->status == 202 &&
              rec->response.len == u->response_len &&
              memcmp(rec->response.data, u->response, u->response_len) == 0 &&
              rec->created_at_us > 0;
    if (!ok) {
        fprintf(stderr, "line %d: want the record of %s (key %s), got %s\n", line, u->id,
                u->idem_key, rec ? rec->image_id : "none");
        ip_test_failures++;
    }
}
#define EXPECT_RECORD(rec, u) expect_record((rec), (u), __LINE__)

static void test_idempotency(void)
{
    char key[IP_UUID_STRLEN + 1], sha[SHA_LEN + 1], ik[64];
    fresh_key(key);
    random_sha(sha);
    fresh_idem_key(ik);
    upload a = {.key_id = key, .sha = sha, .idem_key = ik};
    Imageproc__CreateImageReply *rep = create_ok(&a);
    EXPECT_NEW(rep, &a);
    msg_free(rep);
    /* Written with the row. */
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM idempotency_keys WHERE scope = '%s' AND key = '%s'"
                          " AND image_id = '%s' AND status = 202",
                          key, ik, a.id),
                  1);
    Imageproc__GetIdempotencyReply *g = NULL;
    CHECK(get_record(key, ik, &g) == IP_OK);
    EXPECT_RECORD(g->record, &a);
    msg_free(g);

    /* The same key again: the record, nothing written. */
    upload b = {.key_id = key, .sha = sha, .idem_key = ik};
    rep = create_ok(&b);
    EXPECT(rep->image == NULL && !rep->existing);
    EXPECT_RECORD(rep->replay, &a);
    msg_free(rep);
    /* The same key with other bytes: the record too (the caller answers 422). */
    char other[SHA_LEN + 1];
    random_sha(other);
    upload c = {.key_id = key, .sha = other, .idem_key = ik};
    rep = create_ok(&c);
    EXPECT(rep->image == NULL);
    EXPECT_RECORD(rep->replay, &a);
    msg_free(rep);
    EXPECT_EQ_INT(rows_with_sha(sha), 1);
    EXPECT_EQ_INT(rows_with_sha(other), 0);
    EXPECT_EQ_INT(rows_with_id(b.id) + rows_with_id(c.id), 0);
    CHECK(get_record(key, ik, &g) == IP_OK);
    EXPECT_RECORD(g->record, &a); /* unchanged */
    msg_free(g);

    /* The key is scoped: without an API key it is another record. */
    upload d = {.sha = sha, .idem_key = ik};
    rep = create_ok(&d);
    EXPECT_NEW(rep, &d);
    msg_free(rep);
    CHECK(get_record("", ik, &g) == IP_OK);
    EXPECT_RECORD(g->record, &d);
    msg_free(g);
    char other_key[IP_UUID_STRLEN + 1];
    fresh_key(other_key);
    EXPECT(get_record(other_key, ik, &g) == IP_NOT_FOUND);
    msg_free(g);
    EXPECT(get_record(key, "never-used", &g) == IP_NOT_FOUND);
    msg_free(g);
}

static void test_idempotency_race(void)
{
    char key[IP_UUID_STRLEN + 1], sha[SHA_LEN + 1], ik[64];
    fresh_key(key);
    random_sha(sha);
    fresh_idem_key(ik);
    upload proto = {.key_id = key, .sha = sha, .idem_key = ik};
    racer rs[RACERS];
    race(&proto, rs);
    int made = 0, winner = -1;
    for (int i = 0; i < RACERS; i++)
        if (rs[i].rep->replay == NULL) {
            made++;
            winner = i;
        }
    EXPECT_EQ_INT(made, 1);
    CHECK(winner >= 0);
    for (int i = 0; i < RACERS; i++) {
        if (i != winner)
            EXPECT_RECORD(rs[i].rep->replay, &rs[winner].u);
        msg_free(rs[i].rep);
    }
    EXPECT_EQ_INT(rows_with_sha(sha), 1);
}

/* The record is checked first: a retry answers what its first attempt did. */
static void test_idempotency_first(void)
{
    char key[IP_UUID_STRLEN + 1], sha[SHA_LEN + 1], ik1[64], ik2[64];
    fresh_key(key);
    random_sha(sha);
    fresh_idem_key(ik1);
    fresh_idem_key(ik2);
    /* A record whose image is not the newest of those bytes: the record. */
    upload a = {.key_id = key, .sha = sha, .idem_key = ik1};
    msg_free(create_ok(&a));
    upload b = {.key_id = key, .sha = sha};
    msg_free(create_ok(&b));
    upload c = {.key_id = key, .sha = sha, .dedupe = true, .idem_key = ik1};
    Imageproc__CreateImageReply *rep = create_ok(&c);
    EXPECT(!rep->existing && rep->image == NULL);
    EXPECT_RECORD(rep->replay, &a);
    msg_free(rep);
    /* No record yet but a duplicate: the duplicate, and no record is written
     * (it would answer a 202 that was never given). */
    upload d = {.key_id = key, .sha = sha, .dedupe = true, .idem_key = ik2};
    rep = create_ok(&d);
    EXPECT(rep->existing && rep->replay == NULL && strcmp(rep->image->id, b.id) == 0);
    msg_free(rep);
    Imageproc__GetIdempotencyReply *g = NULL;
    EXPECT(get_record(key, ik2, &g) == IP_NOT_FOUND);
    msg_free(g);
    EXPECT_EQ_INT(rows_with_sha(sha), 2);
}

static void test_idempotency_delete(void)
{
    char key[IP_UUID_STRLEN + 1], sha[SHA_LEN + 1], ik[64];
    fresh_key(key);
    random_sha(sha);
    fresh_idem_key(ik);
    upload a = {.key_id = key, .sha = sha, .idem_key = ik};
    msg_free(create_ok(&a));
    Imageproc__DeleteImageRequest dr = IMAGEPROC__DELETE_IMAGE_REQUEST__INIT;
    dr.id = a.id;
    Imageproc__DeleteImageReply *drep = NULL;
    CHECK(RPC(delete_image, &dr, &drep) == IP_OK);
    msg_free(drep);
    Imageproc__GetIdempotencyReply *g = NULL;
    EXPECT(get_record(key, ik, &g) == IP_NOT_FOUND);
    msg_free(g);
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM idempotency_keys WHERE image_id = '%s'", a.id), 0);
    /* The key is free again. */
    upload b = {.key_id = key, .sha = sha, .idem_key = ik};
    Imageproc__CreateImageReply *rep = create_ok(&b);
    EXPECT_NEW(rep, &b);
    msg_free(rep);
    CHECK(get_record(key, ik, &g) == IP_OK);
    EXPECT_RECORD(g->record, &b);
    msg_free(g);
    PQclear(sql("DELETE FROM purges WHERE image_id = '%s'", a.id));
}

#define EXPIRED "created_at < now() - interval '24 hours'"

static void test_idempotency_expired(void)
{
    char key[IP_UUID_STRLEN + 1], sha[SHA_LEN + 1], ik[64];
    fresh_key(key);
    random_sha(sha);
    fresh_idem_key(ik);
    PQclear(sql("DELETE FROM idempotency_keys WHERE " EXPIRED));
    upload a = {.key_id = key, .sha = sha, .idem_key = ik};
    msg_free(create_ok(&a));
    PQclear(sql("UPDATE idempotency_keys SET created_at = now() - interval '24 hours 1 second'"
                " WHERE scope = '%s' AND key = '%s'",
                key, ik));
    /* Past 24 h: not answered, and a new upload with the key is made. */
    Imageproc__GetIdempotencyReply *g = NULL;
    EXPECT(get_record(key, ik, &g) == IP_NOT_FOUND);
    msg_free(g);
    upload b = {.key_id = key, .sha = sha, .idem_key = ik};
    Imageproc__CreateImageReply *rep = create_ok(&b);
    EXPECT_NEW(rep, &b);
    msg_free(rep);
    CHECK(get_record(key, ik, &g) == IP_OK);
    EXPECT_RECORD(g->record, &b);
    msg_free(g);
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM idempotency_keys WHERE scope = '%s'", key), 1);
    EXPECT_EQ_INT(rows_with_sha(sha), 2); /* the first image stays; only its record went */

    /* Other expired records go too, at most 100 per call. */
    PQclear(sql("INSERT INTO idempotency_keys (scope, key, request_sha256, image_id, status,"
                " response, created_at) SELECT '', 'sweep-' || n, '%s', '%s', 202, '\\x7b',"
                " now() - interval '25 hours' - n * interval '1 second'"
                " FROM generate_series(1, 105) AS n",
                sha, a.id));
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM idempotency_keys WHERE " EXPIRED), 105);
    char ik2[64];
    fresh_idem_key(ik2);
    upload c = {.key_id = key, .sha = sha, .idem_key = ik2};
    msg_free(create_ok(&c));
    /* The oldest 100 went. */
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM idempotency_keys WHERE " EXPIRED), 5);
    EXPECT_EQ_INT(sql_int("SELECT max(substr(key, 7)::int) FROM idempotency_keys WHERE " EXPIRED),
                  5);
    /* A replay sweeps as well. */
    upload d = {.key_id = key, .sha = sha, .idem_key = ik2};
    rep = create_ok(&d);
    EXPECT(rep->replay != NULL);
    msg_free(rep);
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM idempotency_keys WHERE " EXPIRED), 0);
}

/* ------------------------------------------------------------- events */

/* The id of the next event on s within 2 s, into id; false when none came. */
static bool next_event_id(nng_socket s, char id[IP_UUID_STRLEN + 1])
{
    void *buf = NULL;
    size_t len = 0;
    if (nng_recv(s, &buf, &len, NNG_FLAG_ALLOC) != 0)
        return false;
    Imageproc__StatusEvent *e = imageproc__status_event__unpack(NULL, len, buf);
    nng_free(buf, len);
    CHECK(e != NULL);
    snprintf(id, IP_UUID_STRLEN + 1, "%s", e->id);
    imageproc__status_event__free_unpacked(e, NULL);
    return true;
}

/* A duplicate and a replay wrote nothing and publish nothing: between the
 * events of the uploads around them there is none. */
static void test_no_event(void)
{
    nng_socket s;
    CHECK(nng_sub0_open(&s) == 0);
    CHECK(nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0) == 0);
    CHECK(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 2000) == 0);
    CHECK(nng_dial(s, events_url, NULL, NNG_FLAG_NONBLOCK) == 0);
    char key[IP_UUID_STRLEN + 1], sha[SHA_LEN + 1], ik[64], got[IP_UUID_STRLEN + 1];
    fresh_key(key);
    random_sha(sha);
    fresh_idem_key(ik);
    /* Subscribed once the event of an upload made after dialling arrives. */
    int64_t deadline = ip_mono_ms() + 10000;
    for (bool ready = false; !ready;) {
        CHECK(ip_mono_ms() < deadline);
        char warm_sha[SHA_LEN + 1];
        random_sha(warm_sha);
        upload w = {.sha = warm_sha};
        msg_free(create_ok(&w));
        while (!ready && next_event_id(s, got))
            ready = strcmp(got, w.id) == 0;
    }
    upload a = {.key_id = key, .sha = sha, .dedupe = true, .idem_key = ik};
    upload b = {.key_id = key, .sha = sha, .dedupe = true}; /* the duplicate */
    upload c = {.key_id = key, .sha = sha, .idem_key = ik}; /* the replay */
    char other[SHA_LEN + 1];
    random_sha(other);
    upload d = {.key_id = key, .sha = other, .dedupe = true}; /* new: the end mark */
    Imageproc__CreateImageReply *rep = create_ok(&a);
    EXPECT_NEW(rep, &a);
    msg_free(rep);
    rep = create_ok(&b);
    EXPECT(rep->existing);
    msg_free(rep);
    rep = create_ok(&c);
    EXPECT(rep->replay != NULL);
    msg_free(rep);
    rep = create_ok(&d);
    EXPECT_NEW(rep, &d);
    msg_free(rep);
    CHECK(next_event_id(s, got));
    EXPECT_EQ_STR(got, a.id);
    CHECK(next_event_id(s, got));
    EXPECT_EQ_STR(got, d.id);
    nng_close(s);
}

/* ------------------------------------------------------------- listing */

/* Pages through ListImages (sha256, key_id, with_variant) `limit` at a time
 * and checks the ids against SQL's answer for `where`, in order: every row
 * once, ties on created_at neither skipped nor repeated. */
static void expect_pages(const char *sha, const char *key, ip_variant_kind with, int limit,
                         const char *where, int want_rows, int line)
{
    PGresult *want = sql("SELECT id FROM images WHERE %s ORDER BY created_at DESC, id DESC", where);
    int n_want = PQntuples(want), got = 0, pages = 0;
    if (n_want != want_rows) {
        fprintf(stderr, "line %d: SQL has %d rows, the test made %d\n", line, n_want, want_rows);
        ip_test_failures++;
    }
    Imageproc__ListImagesRequest req = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
    req.limit = limit;
    req.sha256 = (char *)sha;
    req.key_id = (char *)key;
    req.with_variant = with;
    char last_id[IP_UUID_STRLEN + 1] = "";
    for (bool more = true; more; pages++) {
        Imageproc__ListImagesReply *rep = NULL;
        ip_status st = RPC(list_images, &req, &rep);
        CHECKF(st == IP_OK, "ListImages: %s %s", ip_strerror(st), last_err);
        for (size_t i = 0; i < rep->n_images; i++, got++) {
            const Imageproc__Image *img = rep->images[i];
            if (got >= n_want || strcmp(img->id, PQgetvalue(want, got, 0)) != 0) {
                fprintf(stderr, "line %d: row %d is %s, want %s\n", line, got, img->id,
                        got < n_want ? PQgetvalue(want, got, 0) : "(none)");
                ip_test_failures++;
            }
            if ((sha[0] && strcmp(img->sha256, sha) != 0) || (key[0] && strcmp(img->key_id, key)))
                ip_test_failures++;
        }
        more = rep->has_more;
        CHECK(rep->n_images > 0 || !more);
        if (rep->n_images > 0) {
            const Imageproc__Image *tail = rep->images[rep->n_images - 1];
            snprintf(last_id, sizeof(last_id), "%s", tail->id);
            req.last_created_at_us = tail->created_at_us;
            req.last_id = last_id;
        }
        msg_free(rep);
        CHECK(pages < 1000);
    }
    if (got != n_want) {
        fprintf(stderr, "line %d: listed %d rows, want %d\n", line, got, n_want);
        ip_test_failures++;
    }
    PQclear(want);
}
#define EXPECT_PAGES(sha, key, with, limit, where, n)                                              \
    expect_pages((sha), (key), (with), (limit), (where), (n), __LINE__)

/* Seven images with one checksum, three sharing a created_at and two more
 * sharing another; keys alternate between two and one has none; one asks
 * for the thumbnail only. Noise: images of the same keys and times with other
 * checksums. */
static void test_list_sha(void)
{
    char k1[IP_UUID_STRLEN + 1], k2[IP_UUID_STRLEN + 1], sha[SHA_LEN + 1], noise[SHA_LEN + 1];
    fresh_key(k1);
    fresh_key(k2);
    random_sha(sha);
    int64_t t = ip_now_us() - 3600 * INT64_C(1000000);
    const int64_t at[] = {t, t, t, t + 1, t + 1, t + 2, t + 3};
    const char *keys[] = {k1, k2, k1, k2, k1, "", k1};
    for (int i = 0; i < 7; i++) {
        upload u = {.key_id = keys[i],
                    .sha = sha,
                    .created_at_us = at[i],
                    .only = i == 2 ? IP_VARIANT_THUMBNAIL : IP_VARIANT_NONE};
        msg_free(create_ok(&u));
        random_sha(noise);
        upload v = {.key_id = keys[i], .sha = noise, .created_at_us = at[i]};
        msg_free(create_ok(&v));
    }
    char where[512];
    snprintf(where, sizeof(where), "sha256 = '%s'", sha);
    for (int limit = 1; limit <= 3; limit++)
        EXPECT_PAGES(sha, "", IP_VARIANT_NONE, limit, where, 7);
    snprintf(where, sizeof(where), "sha256 = '%s' AND key_id = '%s'", sha, k1);
    EXPECT_PAGES(sha, k1, IP_VARIANT_NONE, 2, where, 4);
    snprintf(where, sizeof(where), "sha256 = '%s' AND key_id = '%s'", sha, k2);
    EXPECT_PAGES(sha, k2, IP_VARIANT_NONE, 1, where, 2);
    snprintf(where, sizeof(where), "sha256 = '%s' AND 'resized' = ANY (ops)", sha);
    EXPECT_PAGES(sha, "", IP_VARIANT_RESIZED, 2, where, 6);
    /* Upper case is not the stored spelling: refused, not an empty page. */
    char upper[SHA_LEN + 1];
    for (int i = 0; i <= SHA_LEN; i++)
        upper[i] = (char)(sha[i] >= 'a' && sha[i] <= 'f' ? sha[i] - 32 : sha[i]);
    Imageproc__ListImagesRequest req = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
    req.limit = 10;
    req.sha256 = upper;
    Imageproc__ListImagesReply *rep = NULL;
    if (strcmp(upper, sha) != 0)
        EXPECT_BAD(RPC(list_images, &req, &rep), "sha256");
    msg_free(rep);
}

static void test_list_key(void)
{
    char key[IP_UUID_STRLEN + 1], other[IP_UUID_STRLEN + 1], sha[SHA_LEN + 1];
    fresh_key(key);
    fresh_key(other);
    int64_t t = ip_now_us() - 7200 * INT64_C(1000000);
    const int64_t at[] = {t, t, t, t + 5, t + 5};
    for (int i = 0; i < 5; i++) {
        random_sha(sha);
        upload u = {.key_id = key, .sha = sha, .created_at_us = at[i]};
        msg_free(create_ok(&u));
        upload v = {.key_id = other, .sha = sha, .created_at_us = at[i]};
        msg_free(create_ok(&v));
    }
    char where[256];
    snprintf(where, sizeof(where), "key_id = '%s'", key);
    EXPECT_PAGES("", key, IP_VARIANT_NONE, 2, where, 5);
    EXPECT_PAGES("", key, IP_VARIANT_NONE, 100, where, 5);
    Imageproc__ListImagesRequest req = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
    req.limit = 10;
    req.key_id = "ipk_notanid";
    Imageproc__ListImagesReply *rep = NULL;
    EXPECT_BAD(RPC(list_images, &req, &rep), "key_id");
    msg_free(rep);
}

/* The plan of prepared statement `name` run with `args` under each plan
 * mode must read `index` (or `or_index`, when not NULL) and never scan the
 * table. */
static void expect_plan(const char *name, const char *args, const char *index, const char *or_index)
{
    const char *q = meta_store_statement_sql(name);
    CHECK(q != NULL);
    PGconn *c = pg_connect(test_dsn);
    PGresult *r = PQprepare(c, "s", q, 0, NULL);
    CHECKF(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", name, PQresultErrorMessage(r));
    PQclear(r);
    const char *modes[] = {"generic", "custom"};
    for (int m = 0; m < 2; m++) {
        char set[64], explain[512];
        snprintf(set, sizeof(set), "SET plan_cache_mode = force_%s_plan", modes[m]);
        PQclear(PQexec(c, set));
        snprintf(explain, sizeof(explain), "EXPLAIN EXECUTE s(%s)", args);
        r = PQexec(c, explain);
        CHECKF(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
        char plan[8192] = "";
        size_t len = 0;
        for (int i = 0; i < PQntuples(r) && len < sizeof(plan); i++)
            len += (size_t)snprintf(plan + len, sizeof(plan) - len, "%s\n", PQgetvalue(r, i, 0));
        PQclear(r);
        bool reads = strstr(plan, index) != NULL || (or_index && strstr(plan, or_index) != NULL);
        if (!reads || strstr(plan, "Seq Scan on images") != NULL) {
            fprintf(stderr, "%s, %s plan does not read %s:\n%s", name, modes[m], index, plan);
            ip_test_failures++;
        }
    }
    PQfinish(c);
}

/* 1990: a window of this test's own (UTC). */
#define EXPLAIN_BASE INT64_C(631152000000000)
#define EXPLAIN_WINDOW "created_at >= '1990-01-01Z' AND created_at < '1991-01-01Z'"

static void test_list_explain(void)
{
    /* Enough rows of their own, many checksums and keys, for real plans. */
    PQclear(sql("DELETE FROM images WHERE " EXPLAIN_WINDOW));
    PQclear(sql("INSERT INTO images (id, created_at, updated_at, filename, content_type, sha256,"
                " original_key, ops, status, key_id)"
                " SELECT gen_random_uuid(), '1990-01-01Z'::timestamptz + n * interval '1 second',"
                " now(), 'x.jpg', 'image/jpeg', md5(n::text) || md5((n + 1)::text), 'o/x',"
                " '{thumbnail}', 'ready',"
                " ('00000000-0000-4000-8000-' || lpad((n %% 50)::text, 12, '0'))::uuid"
                " FROM generate_series(1, 5000) AS n"));
    PQclear(sql("ANALYZE images"));
    char sha[SHA_LEN + 1];
    random_sha(sha);
    char args[512];
    snprintf(args, sizeof(args), "'', 25, '%s', ''", sha);
    expect_plan("meta_list_sha_first", args, "images_sha_created_idx", NULL);
    /* With a key as well, either index narrows to a few rows. */
    snprintf(args, sizeof(args), "'', 25, '%s', '00000000-0000-4000-8000-000000000007'", sha);
    expect_plan("meta_list_sha_first", args, "images_sha_created_idx", "images_key_sha_idx");
    snprintf(args, sizeof(args),
             "'resized', 25, %lld, 'ffffffff-ffff-ffff-ffff-ffffffffffff', '%s', ''",
             (long long)(EXPLAIN_BASE + INT64_C(3600000000)), sha);
    expect_plan("meta_list_sha_after", args, "images_sha_created_idx", NULL);
    snprintf(args, sizeof(args), "'00000000-0000-4000-8000-000000000007', '%s'", sha);
    /* The duplicate: by key and checksum, or by the checksum (near unique)
     * with the key checked, whichever the statistics favour. */
    expect_plan("meta_duplicate", args, "images_key_sha_idx", "images_sha_created_idx");
    PQclear(sql("DELETE FROM images WHERE " EXPLAIN_WINDOW));
}

/* ------------------------------------------------------------- bad requests */

static void test_bad_requests(void)
{
    char key[IP_UUID_STRLEN + 1], sha[SHA_LEN + 1], ik[64];
    fresh_key(key);
    random_sha(sha);
    fresh_idem_key(ik);
    Imageproc__CreateImageReply *rep = NULL;
    upload u = {.key_id = "not-a-key", .sha = sha};
    EXPECT_BAD(create_on(client, &u, &rep, last_err, sizeof(last_err)), "image.key_id");
    msg_free(rep);
    u = (upload){.key_id = key, .sha = "", .dedupe = true};
    EXPECT_BAD(create_on(client, &u, &rep, last_err, sizeof(last_err)), "image.sha256");
    msg_free(rep);
    u = (upload){.key_id = key, .sha = sha, .idem_key = "has space"};
    EXPECT_BAD(create_on(client, &u, &rep, last_err, sizeof(last_err)), "idempotency.key");
    msg_free(rep);
    char long_key[300];
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    u = (upload){.key_id = key, .sha = sha, .idem_key = long_key};
    EXPECT_BAD(create_on(client, &u, &rep, last_err, sizeof(last_err)), "idempotency.key");
    msg_free(rep);
    u = (upload){.key_id = key, .sha = "", .idem_key = ik};
    EXPECT_BAD(create_on(client, &u, &rep, last_err, sizeof(last_err)),
               "idempotency.request_sha256");
    msg_free(rep);
    EXPECT_EQ_INT(rows_with_sha(sha), 0);

    Imageproc__GetIdempotencyReply *g = NULL;
    EXPECT_BAD(get_record("", "", &g), "key");
    msg_free(g);
    EXPECT_BAD(get_record("", "a\tb", &g), "key");
    msg_free(g);
    EXPECT_BAD(get_record("ipk_x", "a", &g), "scope");
    msg_free(g);
    EXPECT_BAD(get_record("", long_key, &g), "key");
    msg_free(g);
}

/* clang-format off */
static const ip_test_case tests[] = {
    IP_TEST(key_id),           IP_TEST(dedupe),           IP_TEST(dedupe_scope),
    IP_TEST(dedupe_race),      IP_TEST(idempotency),      IP_TEST(idempotency_race),
    IP_TEST(idempotency_first), IP_TEST(idempotency_delete), IP_TEST(idempotency_expired),
    IP_TEST(list_sha),         IP_TEST(list_key),         IP_TEST(list_explain),
    IP_TEST(bad_requests),     IP_TEST(no_event),
};
/* clang-format on */
#define NTESTS (sizeof(tests) / sizeof(tests[0]))

/* One test per run (they share ports and a database). */
int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: meta_uploads_it_test <test>\n");
        return 2;
    }
    bool known = false;
    for (size_t i = 0; i < NTESTS; i++)
        known = known || strcmp(tests[i].name, argv[1]) == 0;
    if (!known)
        return ip_test_main(argc, argv, tests, NTESTS); /* says so, exits 2 */
    ip_log_init("metadata-svc-test", IP_LOG_WARN);
    snprintf(base_dsn, sizeof(base_dsn), "%s", env_or("IP_PG_DSN", DEFAULT_DSN));
    CHECK(meta_dsn_with_db(base_dsn, TEST_DB, test_dsn, sizeof(test_dsn)) == IP_OK);
    ensure_db();
    start_service();
    int rc = ip_test_main(argc, argv, tests, NTESTS);
    stop_service();
    return rc;
}
