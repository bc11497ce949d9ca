/* meta_it_test.c — integration tests of metadata-svc against the real PostgreSQL.
 *
 * Run as `meta_it_test <name>` (the table at the end lists the tests; ctest
 * registers each as metadata-svc.<name>). Every test runs the service
 * in-process — store, RPC server and event publisher — on ports of its own
 * (IP_TEST_META_RPC_URL / IP_TEST_META_EVENTS_URL, default 7111/7112), against
 * its own database: IP_PG_DSN with the database name replaced by
 * imageproc_test_meta, created on first use. It talks to the service only
 * through an ip_rpc client and an nng SUB socket, as the gateway and the
 * processor do; libpq is used directly only to seed bulk rows and to look
 * behind the service's back. Ids are fresh UUIDv7s, and the tests that need a
 * clean slice of the table first delete the rows of a time window of their own.
 * A missing PostgreSQL is a failure, never a skip.
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <events.pb-c.h>
#include <metadata.pb-c.h>

#include "ip_log.h"
#include "ip_rpc.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "meta_service.h"
#include "meta_store.h"
#include "meta_testdb.h"

#define TEST_DB "imageproc_test_meta"
#define DEFAULT_DSN "postgresql://imageproc:imageproc-local@127.0.0.1:55432/imageproc"

static int failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* ------------------------------------------------------------- environment */

static char base_dsn[1024];
static char test_dsn[1024];
static const char *rpc_url;
static const char *events_url;

static meta_store *store;
static meta_service *service;
static ip_rpc_client *client;

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : def;
}

/* base_dsn with its database replaced by `db`. */
static void dsn_with_db(const char *db, char *out, size_t outlen)
{
    REQUIRE(meta_dsn_with_db(base_dsn, db, out, outlen) == IP_OK);
}

static PGconn *pg_connect(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect to PostgreSQL (%s): %s", base_dsn, PQerrorMessage(c));
        exit(1);
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

/* Runs SQL on `c` and returns the result (caller clears); exits on error. */
static PGresult *sql(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static PGresult *sql(PGconn *c, const char *fmt, ...)
{
    char q[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof(q), fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(c, q);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        fprintf(stderr, "SQL failed: %s\n%s", q, PQresultErrorMessage(r));
        exit(1);
    }
    return r;
}

/* Makes sure `db` exists (a concurrent creator is fine). */
static void ensure_db(const char *db)
{
    PGconn *c = pg_connect(base_dsn);
    const char *params[] = {db};
    PGresult *r = PQexecParams(c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, params,
                               NULL, NULL, 0);
    bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (!exists) {
        char q[256];
        snprintf(q, sizeof(q), "CREATE DATABASE %s", db); /* a constant of this file */
        r = PQexec(c, q);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (PQresultStatus(r) != PGRES_COMMAND_OK &&
            (state == NULL || strcmp(state, "42P04") != 0)) {
            fprintf(stderr, "CREATE DATABASE %s: %s", db, PQresultErrorMessage(r));
            exit(1);
        }
        PQclear(r);
    }
    PQfinish(c);
}

static void start_service(void)
{
    char err[256] = "";
    meta_store_opts so = {.dsn = test_dsn, .pool_size = 8};
    REQUIRE(meta_store_new(&so, &store, err, sizeof(err)) == IP_OK);
    meta_ctx cx = {0};
    ip_status st = meta_store_migrate(store, &cx, NULL);
    if (st != IP_OK) {
        fprintf(stderr, "migrate: %s: %s\n", ip_strerror(st), cx.err);
        exit(1);
    }
    meta_service_opts vo = {.rpc_url = rpc_url, .events_url = events_url, .workers = 16};
    REQUIRE(meta_service_new(store, &vo, &service) == IP_OK);
    ip_rpc_client_opts co = {.urls = rpc_url, .timeout_ms = 10000};
    REQUIRE(ip_rpc_client_new(&imageproc__metadata__descriptor, &co, &client) == IP_OK);
    int64_t deadline = ip_mono_ms() + 10000;
    while (ip_rpc_ping(client, 1000) != IP_OK)
        REQUIRE(ip_mono_ms() < deadline);
}

static void stop_service(void)
{
    ip_rpc_client_free(client);
    meta_service_free(service);
    meta_store_free(store);
    client = NULL;
    service = NULL;
    store = NULL;
}

/* ------------------------------------------------------------- RPC helpers */

static char last_err[512];

static ip_status rpc(const char *method, const void *in, void *out_ptr)
{
    ProtobufCMessage **out = out_ptr;
    last_err[0] = '\0';
    return ip_rpc_invoke(client, method, in, out, NULL, last_err, sizeof(last_err));
}

static void msg_free(void *m)
{
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
}

/* The error message must name the field. */
static void check_bad(ip_status st, const char *field, int line)
{
    if (st != IP_INVALID_ARGUMENT || strstr(last_err, field) == NULL) {
        fprintf(stderr, "line %d: want INVALID_ARGUMENT naming %s, got %s '%s'\n", line, field,
                ip_strerror(st), last_err);
        failures++;
    }
}
#define CHECK_BAD(st, field) check_bad((st), (field), __LINE__)

static char *all_ops[] = {"thumbnail", "resized", "watermarked"};

/* Creates an image with a fresh id; `created_at_us` 0 = now. Returns the reply (free it). */
static Imageproc__CreateImageReply *create_image(char id[IP_UUID_STRLEN + 1], char **ops,
                                                 size_t nops, int64_t created_at_us,
                                                 const char *filename)
{
    ip_uuid_v7_str(id);
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    img.id = id;
    img.created_at_us = created_at_us;
    img.filename = (char *)(filename ? filename : "photo.jpg");
    img.content_type = "image/jpeg";
    img.size_bytes = 12345;
    img.width = 4000;
    img.height = 3000;
    img.sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    img.ops = ops;
    img.n_ops = nops;
    Imageproc__CreateImageRequest req = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    req.image = &img;
    Imageproc__CreateImageReply *rep = NULL;
    ip_status st = rpc("CreateImage", &req, &rep);
    if (st != IP_OK) {
        fprintf(stderr, "CreateImage: %s %s\n", ip_strerror(st), last_err);
        exit(1);
    }
    return rep;
}

static ip_status get_image(const char *id, Imageproc__GetImageReply **rep)
{
    Imageproc__GetImageRequest req = IMAGEPROC__GET_IMAGE_REQUEST__INIT;
    req.id = (char *)id;
    *rep = NULL;
    return rpc("GetImage", &req, rep);
}

static ip_status put_variant(const char *id, const char *name, bool ready, const char *error,
                             Imageproc__PutVariantReply **rep)
{
    char key[128];
    snprintf(key, sizeof(key), "v/%s/%s.jpg", id, name);
    Imageproc__Variant v = IMAGEPROC__VARIANT__INIT;
    v.name = (char *)name;
    if (ready) {
        v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
        v.object_key = key;
        v.width = 320;
        v.height = 240;
        v.size_bytes = 2048;
        v.format = "jpeg";
    } else {
        v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED;
        v.error = (char *)error;
    }
    Imageproc__PutVariantRequest req = IMAGEPROC__PUT_VARIANT_REQUEST__INIT;
    req.image_id = (char *)id;
    req.variant = &v;
    Imageproc__PutVariantReply *r = NULL;
    ip_status st = rpc("PutVariant", &req, &r);
    if (rep != NULL)
        *rep = r;
    else
        msg_free(r);
    return st;
}

static ip_status id_call(const char *method, const char *id, void *rep_ptr)
{
    /* MarkProcessing, FinishImage, DeleteImage, GetImage: all { string id = 1; } */
    Imageproc__FinishImageRequest req = IMAGEPROC__FINISH_IMAGE_REQUEST__INIT;
    const ProtobufCMessageDescriptor *d =
        strcmp(method, "MarkProcessing") == 0 ? &imageproc__mark_processing_request__descriptor
        : strcmp(method, "DeleteImage") == 0  ? &imageproc__delete_image_request__descriptor
        : strcmp(method, "GetImage") == 0     ? &imageproc__get_image_request__descriptor
                                              : &imageproc__finish_image_request__descriptor;
    req.base.descriptor = d;
    req.id = (char *)id;
    ProtobufCMessage *out = NULL;
    ip_status st = rpc(method, &req, &out);
    if (rep_ptr != NULL)
        *(ProtobufCMessage **)rep_ptr = out;
    else
        msg_free(out);
    return st;
}

static const Imageproc__Variant *variant_of(const Imageproc__Image *img, const char *name)
{
    for (size_t i = 0; i < img->n_variants; i++)
        if (strcmp(img->variants[i]->name, name) == 0)
            return img->variants[i];
    return NULL;
}

/* ------------------------------------------------------------- tests */

typedef struct mig_arg {
    meta_store *s;
    ip_status st;
    int applied;
    meta_ctx cx;
} mig_arg;

static void *migrate_thread(void *arg)
{
    mig_arg *m = arg;
    m->st = meta_store_migrate(m->s, &m->cx, &m->applied);
    return NULL;
}

static void test_migrate(void)
{
    /* A fresh database, two stores migrating it at the same time: the
     * advisory lock makes one apply everything and the other nothing. */
    const char *db = "imageproc_test_meta_migrate";
    PGconn *c = pg_connect(base_dsn);
    PQclear(sql(c, "DROP DATABASE IF EXISTS imageproc_test_meta_migrate"));
    PQclear(sql(c, "CREATE DATABASE imageproc_test_meta_migrate"));
    char dsn[1024];
    dsn_with_db(db, dsn, sizeof(dsn));
    meta_store *a = NULL, *b = NULL;
    char err[256];
    meta_store_opts so = {.dsn = dsn, .pool_size = 1};
    REQUIRE(meta_store_new(&so, &a, err, sizeof(err)) == IP_OK);
    REQUIRE(meta_store_new(&so, &b, err, sizeof(err)) == IP_OK);

    mig_arg m[2] = {{.s = a}, {.s = b}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, migrate_thread, &m[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK(m[0].st == IP_OK && m[1].st == IP_OK);
    CHECK(m[0].applied + m[1].applied >= 1);
    CHECK(m[0].applied == 0 || m[1].applied == 0);

    /* A second start does nothing. */
    meta_ctx cx = {0};
    int applied = -1;
    CHECK(meta_store_migrate(a, &cx, &applied) == IP_OK && applied == 0);

    PGconn *t = pg_connect(dsn);
    PGresult *r = sql(t, "SELECT version FROM schema_migrations ORDER BY version");
    CHECK(PQntuples(r) >= 1 && strcmp(PQgetvalue(r, 0, 0), "0001_init") == 0);
    PQclear(r);
    r = sql(t, "SELECT indexdef FROM pg_indexes WHERE indexname = 'images_created_id_idx'");
    CHECK(PQntuples(r) == 1 && strstr(PQgetvalue(r, 0, 0), "created_at DESC, id DESC") != NULL);
    PQclear(r);
    PQfinish(t);
    meta_store_free(a);
    meta_store_free(b);
    PQclear(sql(c, "DROP DATABASE IF EXISTS imageproc_test_meta_migrate"));
    PQfinish(c);
}

static void test_create(void)
{
    char id[IP_UUID_STRLEN + 1];
    char *ops[] = {"watermarked", "thumbnail"};
    int64_t at = 1764375760123457; /* odd microseconds survive */
    Imageproc__CreateImageReply *rep = create_image(id, ops, 2, at, NULL);
    const Imageproc__Image *img = rep->image;
    REQUIRE(img != NULL);
    CHECK(strcmp(img->id, id) == 0);
    CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING);
    CHECK(img->created_at_us == at);
    CHECK(img->updated_at_us > 0);
    CHECK(img->n_ops == 2 && strcmp(img->ops[0], "thumbnail") == 0 &&
          strcmp(img->ops[1], "watermarked") == 0);
    CHECK(img->n_variants == 2 && strcmp(img->variants[0]->name, "thumbnail") == 0 &&
          img->variants[0]->status == IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING);
    char okey[64];
    snprintf(okey, sizeof(okey), "o/%s", id);
    CHECK(strcmp(img->original_key, okey) == 0);
    CHECK(img->size_bytes == 12345 && img->width == 4000 && img->height == 3000);
    CHECK(img->enqueued_at_us == 0);

    /* The same id again: ALREADY_EXISTS, also written in upper case. */
    Imageproc__Image again = *img;
    Imageproc__CreateImageRequest req = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    req.image = &again;
    void *out = NULL;
    CHECK(rpc("CreateImage", &req, &out) == IP_ALREADY_EXISTS);
    char upper[IP_UUID_STRLEN + 1];
    for (int i = 0; i <= IP_UUID_STRLEN; i++)
        upper[i] = (char)(id[i] >= 'a' && id[i] <= 'f' ? id[i] - 32 : id[i]);
    again.id = upper;
    CHECK(rpc("CreateImage", &req, &out) == IP_ALREADY_EXISTS);
    msg_free(rep);

    /* created_at 0 means now; an explicit original key is kept. */
    char id2[IP_UUID_STRLEN + 1];
    int64_t before = ip_now_us();
    rep = create_image(id2, all_ops, 3, 0, NULL);
    CHECK(rep->image->created_at_us >= before - 1000000 &&
          rep->image->created_at_us <= ip_now_us() + 1000000);
    CHECK(rep->image->n_variants == 3);
    msg_free(rep);
}

static void test_get(void)
{
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_ops, 3, 0, "get.png"));
    Imageproc__GetImageReply *g = NULL;
    REQUIRE(get_image(id, &g) == IP_OK);
    CHECK(strcmp(g->image->id, id) == 0 && strcmp(g->image->filename, "get.png") == 0);
    CHECK(g->image->n_variants == 3 && strcmp(g->image->variants[1]->name, "resized") == 0 &&
          strcmp(g->image->variants[2]->name, "watermarked") == 0);
    msg_free(g);
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v4_str(unknown);
    CHECK(get_image(unknown, &g) == IP_NOT_FOUND);
    CHECK_BAD(get_image("nope", &g), "id");
    CHECK_BAD(get_image("", &g), "id");
}

/* Pages through [lo, hi] of created_at with ListImages and returns the ids in
 * order (n of them, owned). */
static char **page_all(int64_t lo_us, int64_t hi_us, const char *mode, int limit, size_t *n,
                       int64_t **times)
{
    size_t cap = 1024, cnt = 0;
    char **ids = malloc(cap * sizeof(*ids));
    int64_t *ts = malloc(cap * sizeof(*ts));
    char last_id[IP_UUID_STRLEN + 1] = "ffffffff-ffff-ffff-ffff-ffffffffffff";
    int64_t last_us = hi_us + 1;
    bool done = false;
    while (!done) {
        Imageproc__ListImagesRequest req = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
        req.last_created_at_us = last_us;
        req.last_id = last_id;
        req.mode = (char *)(mode ? mode : "");
        req.limit = limit;
        Imageproc__ListImagesReply *rep = NULL;
        ip_status st = rpc("ListImages", &req, &rep);
        if (st != IP_OK) {
            fprintf(stderr, "ListImages: %s %s\n", ip_strerror(st), last_err);
            exit(1);
        }
        CHECK(rep->n_images <= (size_t)limit);
        CHECK(rep->has_more || rep->n_images < (size_t)limit || true);
        for (size_t i = 0; i < rep->n_images; i++) {
            const Imageproc__Image *img = rep->images[i];
            if (img->created_at_us < lo_us) {
                done = true;
                break;
            }
            if (cnt == cap) {
                cap *= 2;
                ids = realloc(ids, cap * sizeof(*ids));
                ts = realloc(ts, cap * sizeof(*ts));
            }
            ids[cnt] = strdup(img->id);
            ts[cnt++] = img->created_at_us;
            snprintf(last_id, sizeof(last_id), "%s", img->id);
            last_us = img->created_at_us;
        }
        if (!rep->has_more || rep->n_images == 0)
            done = true;
        msg_free(rep);
    }
    *n = cnt;
    *times = ts;
    return ids;
}

/* Seeds `n` rows in [base, ...]: the 500 from `tie_from` share one created_at. */
static void seed_rows(PGconn *c, int64_t base_us, int n, int tie_from, int tie_count)
{
    PQclear(sql(c,
                "INSERT INTO images (id, created_at, ops, original_key)"
                " SELECT gen_random_uuid(), timestamptz 'epoch' + ((%lld + CASE WHEN g >= %d AND"
                " g < %d THEN %d * 13 ELSE g * 13 END)::bigint) * interval '1 microsecond',"
                " CASE WHEN g %% 3 = 0 THEN ARRAY['thumbnail'] ELSE"
                " ARRAY['thumbnail','resized','watermarked'] END, 'o/seed'"
                " FROM generate_series(0, %d) g",
                (long long)base_us, tie_from, tie_from + tie_count, tie_from, n - 1));
}

static void check_paging(PGconn *c, int64_t lo, int64_t hi, const char *mode, int limit,
                         size_t want)
{
    size_t n = 0;
    int64_t *ts = NULL;
    char **ids = page_all(lo, hi, mode, limit, &n, &ts);
    PGresult *r =
        mode ? sql(c,
                   "SELECT id, "
                   "(extract(epoch from created_at) * 1000000)::bigint FROM images"
                   " WHERE created_at BETWEEN timestamptz 'epoch' + %lld * interval '1 microsecond'"
                   " AND timestamptz 'epoch' + %lld * interval '1 microsecond'"
                   " AND ops @> ARRAY['%s'] ORDER BY created_at DESC, id DESC",
                   (long long)lo, (long long)hi, mode)
             : sql(c,
                   "SELECT id, "
                   "(extract(epoch from created_at) * 1000000)::bigint FROM images"
                   " WHERE created_at BETWEEN timestamptz 'epoch' + %lld * interval '1 microsecond'"
                   " AND timestamptz 'epoch' + %lld * interval '1 microsecond'"
                   " ORDER BY created_at DESC, id DESC",
                   (long long)lo, (long long)hi);
    size_t rows = (size_t)PQntuples(r);
    CHECK(rows == want);
    if (n != rows) {
        fprintf(stderr, "paged %zu ids, the table has %zu\n", n, rows);
        failures++;
    }
    size_t bad = 0;
    for (size_t i = 0; i < n && i < rows; i++)
        if (strcmp(ids[i], PQgetvalue(r, (int)i, 0)) != 0 ||
            ts[i] != strtoll(PQgetvalue(r, (int)i, 1), NULL, 10))
            bad++;
    if (bad) {
        fprintf(stderr, "%zu ids out of place or with a different created_at\n", bad);
        failures++;
    }
    /* Every id exactly once. */
    PGresult *d = NULL;
    (void)d;
    for (size_t i = 1; i < n; i++)
        if (strcmp(ids[i], ids[i - 1]) == 0)
            failures++;
    PQclear(r);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    free(ts);
}

#define TIES_BASE INT64_C(7258118400000000) /* 2200-01-01: a window of this test's own */

static void test_list_ties(void)
{
    PGconn *c = pg_connect(test_dsn);
    int64_t hi = TIES_BASE + 10000 * 13;
    PQclear(sql(
        c,
        "DELETE FROM images WHERE created_at >= timestamptz 'epoch' + %lld * interval"
        " '1 microsecond' AND created_at <= timestamptz 'epoch' + %lld * interval '1 microsecond'",
        (long long)TIES_BASE, (long long)hi));
    seed_rows(c, TIES_BASE, 10000, 4000, 500);
    PGresult *r = sql(c,
                      "SELECT count(*) FROM images WHERE created_at = timestamptz 'epoch' + %lld"
                      " * interval '1 microsecond'",
                      (long long)(TIES_BASE + 4000 * 13));
    CHECK(strcmp(PQgetvalue(r, 0, 0), "500") == 0);
    PQclear(r);
    check_paging(c, TIES_BASE, hi, NULL, 7, 10000);
    PQfinish(c);
}

static void test_list_mode(void)
{
    PGconn *c = pg_connect(test_dsn);
    int64_t base = TIES_BASE + INT64_C(86400000000); /* the next day */
    int64_t hi = base + 2000 * 13;
    PQclear(sql(
        c,
        "DELETE FROM images WHERE created_at >= timestamptz 'epoch' + %lld * interval"
        " '1 microsecond' AND created_at <= timestamptz 'epoch' + %lld * interval '1 microsecond'",
        (long long)base, (long long)hi));
    seed_rows(c, base, 2000, 100, 300);
    /* every third row asked for the thumbnail only */
    check_paging(c, base, hi, "watermarked", 9, 2000 - 667);
    check_paging(c, base, hi, "thumbnail", 100, 2000);
    check_paging(c, base, hi, NULL, 1, 2000);
    PQfinish(c);

    /* An image made through the service shows up on the first page with its variants. */
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_ops, 3, INT64_C(253402300799999990), NULL));
    Imageproc__ListImagesRequest req = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
    req.limit = 1;
    req.mode = "resized";
    Imageproc__ListImagesReply *rep = NULL;
    REQUIRE(rpc("ListImages", &req, &rep) == IP_OK);
    CHECK(rep->n_images == 1 && strcmp(rep->images[0]->id, id) == 0 && rep->has_more);
    CHECK(rep->n_images == 1 && rep->images[0]->n_variants == 3);
    msg_free(rep);
    id_call("DeleteImage", id, NULL);

    /* Past the oldest row: an empty last page. */
    req.mode = "";
    req.limit = 100;
    req.last_created_at_us = 1;
    req.last_id = "00000000-0000-0000-0000-000000000000";
    REQUIRE(rpc("ListImages", &req, &rep) == IP_OK);
    CHECK(rep->n_images == 0 && !rep->has_more);
    msg_free(rep);
}

static void test_list_errors(void)
{
    Imageproc__ListImagesRequest req = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
    void *out = NULL;
    req.limit = 0;
    CHECK_BAD(rpc("ListImages", &req, &out), "limit");
    req.limit = 101;
    CHECK_BAD(rpc("ListImages", &req, &out), "limit");
    req.limit = 10;
    req.mode = "original";
    CHECK_BAD(rpc("ListImages", &req, &out), "mode");
    req.mode = "";
    req.last_id = "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6";
    CHECK_BAD(rpc("ListImages", &req, &out), "last_created_at_us");
    req.last_id = "";
    req.last_created_at_us = 1764375760123456;
    CHECK_BAD(rpc("ListImages", &req, &out), "last_id");
    req.last_id = "x' OR '1'='1";
    CHECK_BAD(rpc("ListImages", &req, &out), "last_id");
    req.last_id = "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6";
    req.last_created_at_us = -1;
    CHECK_BAD(rpc("ListImages", &req, &out), "last_created_at_us");
    req.last_created_at_us = 1764375760123456;
    CHECK(rpc("ListImages", &req, &out) == IP_OK);
    msg_free(out);
}

/* EXPLAIN of the statement the store runs, generic and custom plans, at a deep
 * cursor: an index scan of images_created_id_idx bounded by the cursor. */
static void test_list_explain(void)
{
    PGconn *c = pg_connect(test_dsn);
    const char *q = meta_store_statement_sql("meta_list_after");
    REQUIRE(q != NULL);
    PQclear(sql(c, "ANALYZE images"));
    PGresult *r = PQprepare(c, "la", q, 0, NULL);
    REQUIRE(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    const char *modes[] = {"generic", "custom"};
    const char *filters[] = {"", "watermarked"};
    for (int m = 0; m < 2; m++) {
        for (int f = 0; f < 2; f++) {
            PQclear(sql(c, "SET plan_cache_mode = force_%s_plan", modes[m]));
            r = sql(c, "EXPLAIN EXECUTE la('%s', 8, %lld, 'ffffffff-ffff-ffff-ffff-ffffffffffff')",
                    filters[f], (long long)(TIES_BASE + 2000 * 13));
            char plan[8192] = "";
            size_t len = 0;
            for (int i = 0; i < PQntuples(r); i++)
                len +=
                    (size_t)snprintf(plan + len, sizeof(plan) - len, "%s\n", PQgetvalue(r, i, 0));
            PQclear(r);
            bool ok = strstr(plan, "Index Scan using images_created_id_idx") != NULL &&
                      strstr(plan, "Index Cond: (ROW(created_at, id) <") != NULL &&
                      strstr(plan, "Seq Scan on images") == NULL;
            if (!ok) {
                fprintf(stderr, "%s plan, mode '%s' does not use the index:\n%s", modes[m],
                        filters[f], plan);
                failures++;
            }
        }
    }
    PQfinish(c);
}

static void test_mark_processing(void)
{
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_ops, 3, 0, NULL));
    Imageproc__MarkProcessingReply *rep = NULL;
    REQUIRE(id_call("MarkProcessing", id, &rep) == IP_OK);
    CHECK(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING);
    msg_free(rep);
    REQUIRE(id_call("MarkProcessing", id, &rep) == IP_OK);
    CHECK(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING);
    msg_free(rep);
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    CHECK(id_call("MarkProcessing", unknown, NULL) == IP_NOT_FOUND);
    CHECK_BAD(id_call("MarkProcessing", "12345", NULL), "id");
}

static void test_put_variant(void)
{
    char id[IP_UUID_STRLEN + 1];
    char *ops[] = {"thumbnail", "resized"};
    msg_free(create_image(id, ops, 2, 0, NULL));
    Imageproc__PutVariantReply *rep = NULL;
    REQUIRE(put_variant(id, "thumbnail", true, NULL, &rep) == IP_OK);
    CHECK(rep->variant->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY);
    CHECK(rep->variant->width == 320 && rep->variant->height == 240 &&
          rep->variant->size_bytes == 2048 && strcmp(rep->variant->format, "jpeg") == 0);
    char key[128];
    snprintf(key, sizeof(key), "v/%s/thumbnail.jpg", id);
    CHECK(strcmp(rep->variant->object_key, key) == 0);
    msg_free(rep);
    /* Idempotent; and a late failure does not undo a ready variant. */
    CHECK(put_variant(id, "thumbnail", true, NULL, NULL) == IP_OK);
    REQUIRE(put_variant(id, "thumbnail", false, "late failure", &rep) == IP_OK);
    CHECK(rep->variant->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY);
    msg_free(rep);
    /* A failure, then a retry that succeeds. */
    REQUIRE(put_variant(id, "resized", false, "timeout", &rep) == IP_OK);
    CHECK(rep->variant->status == IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED &&
          strcmp(rep->variant->error, "timeout") == 0);
    msg_free(rep);
    REQUIRE(put_variant(id, "resized", true, NULL, &rep) == IP_OK);
    CHECK(rep->variant->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY &&
          rep->variant->error[0] == '\0');
    msg_free(rep);
    /* Not requested. */
    CHECK(put_variant(id, "watermarked", true, NULL, NULL) == IP_FAILED_PRECONDITION);
    /* The image moved to processing. */
    Imageproc__GetImageReply *g = NULL;
    REQUIRE(get_image(id, &g) == IP_OK);
    CHECK(g->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING);
    CHECK(variant_of(g->image, "thumbnail")->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY);
    msg_free(g);
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    CHECK(put_variant(unknown, "thumbnail", true, NULL, NULL) == IP_NOT_FOUND);
}

static void test_finish(void)
{
    char id[IP_UUID_STRLEN + 1];
    char *ops[] = {"thumbnail", "resized"};
    msg_free(create_image(id, ops, 2, 0, NULL));
    CHECK(id_call("FinishImage", id, NULL) == IP_FAILED_PRECONDITION);
    CHECK(strstr(last_err, "thumbnail") != NULL && strstr(last_err, "resized") != NULL);
    CHECK(put_variant(id, "thumbnail", true, NULL, NULL) == IP_OK);
    CHECK(id_call("FinishImage", id, NULL) == IP_FAILED_PRECONDITION);
    CHECK(put_variant(id, "resized", true, NULL, NULL) == IP_OK);
    Imageproc__FinishImageReply *rep = NULL;
    REQUIRE(id_call("FinishImage", id, &rep) == IP_OK);
    CHECK(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY && rep->image->error[0] == 0);
    CHECK(rep->image->n_variants == 2);
    msg_free(rep);
    REQUIRE(id_call("FinishImage", id, &rep) == IP_OK); /* again: the same */
    CHECK(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    msg_free(rep);

    char id2[IP_UUID_STRLEN + 1];
    msg_free(create_image(id2, all_ops, 3, 0, NULL));
    CHECK(put_variant(id2, "thumbnail", true, NULL, NULL) == IP_OK);
    CHECK(put_variant(id2, "resized", false, "too large", NULL) == IP_OK);
    REQUIRE(id_call("FinishImage", id2, &rep) == IP_OK); /* a failure decides at once */
    CHECK(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED);
    CHECK(strcmp(rep->image->error, "resized: too large") == 0);
    msg_free(rep);
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    CHECK(id_call("FinishImage", unknown, NULL) == IP_NOT_FOUND);
}

static void test_fail_image(void)
{
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_ops, 3, 0, NULL));
    CHECK(put_variant(id, "thumbnail", true, NULL, NULL) == IP_OK);
    Imageproc__FailImageRequest req = IMAGEPROC__FAIL_IMAGE_REQUEST__INIT;
    req.id = id;
    req.error = "undecodable: not a JPEG";
    Imageproc__FailImageReply *rep = NULL;
    REQUIRE(rpc("FailImage", &req, &rep) == IP_OK);
    CHECK(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED);
    CHECK(strcmp(rep->image->error, "undecodable: not a JPEG") == 0);
    CHECK(variant_of(rep->image, "thumbnail")->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY);
    CHECK(variant_of(rep->image, "resized")->status == IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED);
    msg_free(rep);

    /* A ready image stays ready. */
    char id2[IP_UUID_STRLEN + 1];
    char *ops[] = {"thumbnail"};
    msg_free(create_image(id2, ops, 1, 0, NULL));
    CHECK(put_variant(id2, "thumbnail", true, NULL, NULL) == IP_OK);
    CHECK(id_call("FinishImage", id2, NULL) == IP_OK);
    req.id = id2;
    REQUIRE(rpc("FailImage", &req, &rep) == IP_OK);
    CHECK(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    msg_free(rep);
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    req.id = unknown;
    CHECK(rpc("FailImage", &req, &rep) == IP_NOT_FOUND);
    req.id = "";
    CHECK_BAD(rpc("FailImage", &req, &rep), "id");
}

static void test_mark_enqueued(void)
{
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_ops, 3, 0, NULL));
    Imageproc__MarkEnqueuedRequest req = IMAGEPROC__MARK_ENQUEUED_REQUEST__INIT;
    req.id = id;
    req.enqueued_at_us = 1764375760654321;
    Imageproc__MarkEnqueuedReply *rep = NULL;
    REQUIRE(rpc("MarkEnqueued", &req, &rep) == IP_OK);
    CHECK(rep->image->enqueued_at_us == 1764375760654321);
    CHECK(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING);
    msg_free(rep);
    req.enqueued_at_us = 0; /* now */
    int64_t before = ip_now_us();
    REQUIRE(rpc("MarkEnqueued", &req, &rep) == IP_OK);
    CHECK(rep->image->enqueued_at_us >= before - 1000000);
    msg_free(rep);
    req.enqueued_at_us = -4;
    CHECK_BAD(rpc("MarkEnqueued", &req, &rep), "enqueued_at_us");
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    req.id = unknown;
    req.enqueued_at_us = 0;
    CHECK(rpc("MarkEnqueued", &req, &rep) == IP_NOT_FOUND);
}

static void test_delete(void)
{
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_ops, 3, 0, NULL));
    CHECK(put_variant(id, "thumbnail", true, NULL, NULL) == IP_OK);
    CHECK(put_variant(id, "watermarked", true, NULL, NULL) == IP_OK);
    CHECK(put_variant(id, "resized", false, "boom", NULL) == IP_OK);
    Imageproc__DeleteImageReply *rep = NULL;
    REQUIRE(id_call("DeleteImage", id, &rep) == IP_OK);
    char k0[64], k1[128], k2[128];
    snprintf(k0, sizeof(k0), "o/%s", id);
    snprintf(k1, sizeof(k1), "v/%s/thumbnail.jpg", id);
    snprintf(k2, sizeof(k2), "v/%s/watermarked.jpg", id);
    CHECK(rep->n_object_keys == 3);
    if (rep->n_object_keys == 3)
        CHECK(strcmp(rep->object_keys[0], k0) == 0 && strcmp(rep->object_keys[1], k1) == 0 &&
              strcmp(rep->object_keys[2], k2) == 0);
    msg_free(rep);
    Imageproc__GetImageReply *g = NULL;
    CHECK(get_image(id, &g) == IP_NOT_FOUND);
    CHECK(id_call("DeleteImage", id, NULL) == IP_NOT_FOUND);
    PGconn *c = pg_connect(test_dsn);
    PGresult *r = sql(c, "SELECT count(*) FROM variants WHERE image_id = '%s'", id);
    CHECK(strcmp(PQgetvalue(r, 0, 0), "0") == 0);
    PQclear(r);
    PQfinish(c);
}

static void test_stale(void)
{
    PGconn *c = pg_connect(test_dsn);
    /* This database is ours: start with no stale rows. */
    PQclear(sql(c, "DELETE FROM images WHERE status = 'pending' AND enqueued_at IS NULL"));
    PQfinish(c);
    int64_t hour_ago = ip_now_us() - INT64_C(3600000000);
    char a[IP_UUID_STRLEN + 1], b[IP_UUID_STRLEN + 1], d[IP_UUID_STRLEN + 1],
        fresh[IP_UUID_STRLEN + 1];
    msg_free(create_image(a, all_ops, 3, hour_ago, NULL));
    msg_free(create_image(b, all_ops, 3, hour_ago + 1, NULL)); /* enqueued: not stale */
    msg_free(create_image(d, all_ops, 3, hour_ago + 2, NULL)); /* processing: not stale */
    msg_free(create_image(fresh, all_ops, 3, 0, NULL));        /* too young */
    Imageproc__MarkEnqueuedRequest mq = IMAGEPROC__MARK_ENQUEUED_REQUEST__INIT;
    mq.id = b;
    void *out = NULL;
    CHECK(rpc("MarkEnqueued", &mq, &out) == IP_OK);
    msg_free(out);
    CHECK(id_call("MarkProcessing", d, NULL) == IP_OK);

    Imageproc__ListStaleRequest req = IMAGEPROC__LIST_STALE_REQUEST__INIT;
    req.older_than_us = INT64_C(600000000); /* ten minutes */
    req.limit = 100;
    Imageproc__ListStaleReply *rep = NULL;
    REQUIRE(rpc("ListStale", &req, &rep) == IP_OK);
    CHECK(rep->n_images == 1 && strcmp(rep->images[0]->id, a) == 0);
    if (rep->n_images == 1)
        CHECK(rep->images[0]->n_ops == 3 && rep->images[0]->original_key[0] == 'o');
    msg_free(rep);
    req.older_than_us = 0;
    REQUIRE(rpc("ListStale", &req, &rep) == IP_OK);
    CHECK(rep->n_images == 2);
    msg_free(rep);
    req.limit = 0;
    CHECK_BAD(rpc("ListStale", &req, &rep), "limit");
    req.limit = 5;
    req.older_than_us = -1;
    CHECK_BAD(rpc("ListStale", &req, &rep), "older_than_us");
}

static void test_bad_requests(void)
{
    void *out = NULL;
    Imageproc__CreateImageRequest cr = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    CHECK_BAD(rpc("CreateImage", &cr, &out), "image");
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    cr.image = &img;
    CHECK_BAD(rpc("CreateImage", &cr, &out), "image.id");
    img.id = "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5aZ";
    CHECK_BAD(rpc("CreateImage", &cr, &out), "image.id");
    char id[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(id);
    img.id = id;
    CHECK_BAD(rpc("CreateImage", &cr, &out), "image.ops");
    char *bad_ops[] = {"thumbnail", "sepia"};
    img.ops = bad_ops;
    img.n_ops = 2;
    CHECK_BAD(rpc("CreateImage", &cr, &out), "image.ops");
    img.n_ops = 1;
    img.size_bytes = -3;
    CHECK_BAD(rpc("CreateImage", &cr, &out), "image.size_bytes");
    img.size_bytes = 0;
    img.filename = "bad \xff\xfe name.jpg"; /* not UTF-8: PostgreSQL would refuse it */
    CHECK_BAD(rpc("CreateImage", &cr, &out), "image.filename");
    img.filename = "ok.jpg";
    Imageproc__FailImageRequest fr = IMAGEPROC__FAIL_IMAGE_REQUEST__INIT;
    fr.id = id;
    fr.error = "\xc3";
    CHECK_BAD(rpc("FailImage", &fr, &out), "error");

    Imageproc__PutVariantRequest pv = IMAGEPROC__PUT_VARIANT_REQUEST__INIT;
    pv.image_id = id;
    CHECK_BAD(rpc("PutVariant", &pv, &out), "variant");
    Imageproc__Variant v = IMAGEPROC__VARIANT__INIT;
    pv.variant = &v;
    v.name = "original";
    CHECK_BAD(rpc("PutVariant", &pv, &out), "variant.name");
    v.name = "thumbnail";
    CHECK_BAD(rpc("PutVariant", &pv, &out), "variant.status");
    v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    CHECK_BAD(rpc("PutVariant", &pv, &out), "variant.object_key");
    pv.image_id = "";
    CHECK_BAD(rpc("PutVariant", &pv, &out), "image_id");
    CHECK_BAD(id_call("FinishImage", "", NULL), "id");
    CHECK_BAD(id_call("DeleteImage", "../../etc/passwd", NULL), "id");
    CHECK_BAD(id_call("MarkProcessing", "00000000-0000-0000-0000-00000000000g", NULL), "id");
    /* Nothing was stored for the id of the rejected creates. */
    Imageproc__GetImageReply *g = NULL;
    CHECK(get_image(id, &g) == IP_NOT_FOUND);
}

static const char *const nasty[] = {
    "it's a \"quoted\" name.jpg",
    "'; DROP TABLE images; --",
    "Robert'); DELETE FROM variants WHERE ('1'='1",
    "a;b;c; SELECT pg_sleep(10);",
    "back\\slash \\' \\\" $1 $$dollar$$ %s %n",
    "ünïcødé 画像 🖼️.png",
    "E'\\x00' || chr(39) /* comment */ -- tail",
};

static void test_verbatim(void)
{
    for (size_t i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++) {
        char id[IP_UUID_STRLEN + 1];
        char *ops[] = {"thumbnail", "resized"};
        ip_uuid_v7_str(id);
        Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
        img.id = id;
        img.filename = (char *)nasty[i];
        img.content_type = (char *)nasty[(i + 1) % 7];
        img.sha256 = (char *)nasty[(i + 2) % 7];
        img.original_key = (char *)nasty[(i + 3) % 7];
        img.ops = ops;
        img.n_ops = 2;
        Imageproc__CreateImageRequest cr = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
        cr.image = &img;
        void *out = NULL;
        REQUIRE(rpc("CreateImage", &cr, &out) == IP_OK);
        msg_free(out);
        CHECK(put_variant(id, "resized", false, nasty[(i + 4) % 7], NULL) == IP_OK);
        Imageproc__Variant v = IMAGEPROC__VARIANT__INIT;
        v.name = "thumbnail";
        v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
        v.object_key = (char *)nasty[(i + 5) % 7];
        v.width = v.height = 1;
        v.size_bytes = 1;
        v.format = "png";
        Imageproc__PutVariantRequest pv = IMAGEPROC__PUT_VARIANT_REQUEST__INIT;
        pv.image_id = id;
        pv.variant = &v;
        CHECK(rpc("PutVariant", &pv, &out) == IP_OK);
        msg_free(out);
        Imageproc__GetImageReply *g = NULL;
        REQUIRE(get_image(id, &g) == IP_OK);
        CHECK(strcmp(g->image->filename, nasty[i]) == 0);
        CHECK(strcmp(g->image->content_type, nasty[(i + 1) % 7]) == 0);
        CHECK(strcmp(g->image->sha256, nasty[(i + 2) % 7]) == 0);
        CHECK(strcmp(g->image->original_key, nasty[(i + 3) % 7]) == 0);
        CHECK(strcmp(variant_of(g->image, "resized")->error, nasty[(i + 4) % 7]) == 0);
        CHECK(strcmp(variant_of(g->image, "thumbnail")->object_key, nasty[(i + 5) % 7]) == 0);
        msg_free(g);
        Imageproc__FailImageRequest fr = IMAGEPROC__FAIL_IMAGE_REQUEST__INIT;
        fr.id = id;
        fr.error = (char *)nasty[(i + 6) % 7];
        Imageproc__FailImageReply *f = NULL;
        REQUIRE(rpc("FailImage", &fr, &f) == IP_OK);
        CHECK(strcmp(f->image->error, nasty[(i + 6) % 7]) == 0);
        msg_free(f);
        Imageproc__DeleteImageReply *d = NULL;
        REQUIRE(id_call("DeleteImage", id, &d) == IP_OK);
        CHECK(d->n_object_keys == 2 && strcmp(d->object_keys[0], nasty[(i + 3) % 7]) == 0 &&
              strcmp(d->object_keys[1], nasty[(i + 5) % 7]) == 0);
        msg_free(d);
    }
    /* The tables are still there. */
    PGconn *c = pg_connect(test_dsn);
    PGresult *r = sql(c, "SELECT count(*) FROM images");
    CHECK(PQntuples(r) == 1);
    PQclear(r);
    PQfinish(c);
}

/* 8 threads race PutVariant (ready, and sometimes a failure first) and
 * FinishImage on one image. Every answer is OK or, for FinishImage, pending
 * (FAILED_PRECONDITION); at the end the image is ready, every variant ready
 * with its key, and one last FinishImage changes nothing. */
typedef struct race_arg {
    const char *id;
    int thread;
    int bad; /* answers that should not happen */
} race_arg;

static void *race_thread(void *p)
{
    race_arg *a = p;
    for (int round = 0; round < 10; round++) {
        for (int k = 0; k < 3; k++) {
            const char *name = all_ops[(k + a->thread + round) % 3];
            if ((a->thread + round) % 4 == 0 &&
                put_variant(a->id, name, false, "transient", NULL) != IP_OK)
                a->bad++;
            if (put_variant(a->id, name, true, NULL, NULL) != IP_OK)
                a->bad++;
            ip_status st = id_call("FinishImage", a->id, NULL);
            if (st != IP_OK && st != IP_FAILED_PRECONDITION)
                a->bad++;
        }
    }
    return NULL;
}

static void test_race(void)
{
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_ops, 3, 0, NULL));
    pthread_t th[8];
    race_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (race_arg){.id = id, .thread = i};
        pthread_create(&th[i], NULL, race_thread, &args[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        CHECK(args[i].bad == 0);
    }
    Imageproc__GetImageReply *g = NULL;
    REQUIRE(get_image(id, &g) == IP_OK);
    CHECK(g->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    CHECK(g->image->error[0] == '\0');
    CHECK(g->image->n_variants == 3);
    for (size_t i = 0; i < g->image->n_variants; i++) {
        const Imageproc__Variant *v = g->image->variants[i];
        char key[128];
        snprintf(key, sizeof(key), "v/%s/%s.jpg", id, v->name);
        CHECK(v->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY);
        CHECK(strcmp(v->object_key, key) == 0 && v->error[0] == '\0');
    }
    msg_free(g);
    Imageproc__FinishImageReply *f = NULL;
    REQUIRE(id_call("FinishImage", id, &f) == IP_OK);
    CHECK(f->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    msg_free(f);
    PGconn *c = pg_connect(test_dsn);
    PGresult *r = sql(c, "SELECT count(*) FROM variants WHERE image_id = '%s'", id);
    CHECK(strcmp(PQgetvalue(r, 0, 0), "3") == 0);
    PQclear(r);
    PQfinish(c);
}

/* A processor keeps writing while the image is deleted: after the delete
 * nothing it does brings a row back. */
typedef struct late_arg {
    const char *id;
    volatile int stop;
    int after_delete_ok; /* successes after the delete was answered */
    volatile int deleted;
} late_arg;

static void *late_writer(void *p)
{
    late_arg *a = p;
    while (!a->stop) {
        int was_deleted = a->deleted;
        for (int k = 0; k < 3; k++) {
            ip_status st = put_variant(a->id, all_ops[k], true, NULL, NULL);
            if (st == IP_OK && was_deleted)
                a->after_delete_ok++;
        }
        ip_status st = id_call("FinishImage", a->id, NULL);
        if (st == IP_OK && was_deleted)
            a->after_delete_ok++;
        st = id_call("MarkProcessing", a->id, NULL);
        if (st == IP_OK && was_deleted)
            a->after_delete_ok++;
    }
    return NULL;
}

static void test_no_resurrection(void)
{
    for (int rep = 0; rep < 5; rep++) {
        char id[IP_UUID_STRLEN + 1];
        msg_free(create_image(id, all_ops, 3, 0, NULL));
        CHECK(id_call("MarkProcessing", id, NULL) == IP_OK);
        late_arg a = {.id = id};
        pthread_t th[3];
        for (int i = 0; i < 3; i++)
            pthread_create(&th[i], NULL, late_writer, &a);
        /* Let the writers get going, then delete in the middle of processing. */
        for (int i = 0; i < 3 * rep; i++) {
            Imageproc__GetImageReply *g = NULL;
            get_image(id, &g);
            msg_free(g);
        }
        Imageproc__DeleteImageReply *d = NULL;
        REQUIRE(id_call("DeleteImage", id, &d) == IP_OK);
        CHECK(d->n_object_keys >= 1);
        msg_free(d);
        a.deleted = 1;
        /* Some more rounds of late writes, all NOT_FOUND. */
        for (int i = 0; i < 20; i++) {
            CHECK(put_variant(id, "thumbnail", true, NULL, NULL) == IP_NOT_FOUND);
            CHECK(id_call("FinishImage", id, NULL) == IP_NOT_FOUND);
            CHECK(id_call("MarkProcessing", id, NULL) == IP_NOT_FOUND);
        }
        a.stop = 1;
        for (int i = 0; i < 3; i++)
            pthread_join(th[i], NULL);
        CHECK(a.after_delete_ok == 0);
        Imageproc__GetImageReply *g = NULL;
        CHECK(get_image(id, &g) == IP_NOT_FOUND);
        PGconn *c = pg_connect(test_dsn);
        PGresult *r = sql(c,
                          "SELECT (SELECT count(*) FROM images WHERE id = '%s') +"
                          " (SELECT count(*) FROM variants WHERE image_id = '%s')",
                          id, id);
        CHECK(strcmp(PQgetvalue(r, 0, 0), "0") == 0);
        PQclear(r);
        PQfinish(c);
    }
}

/* ---- events */

static nng_socket sub_open(void)
{
    nng_socket s;
    REQUIRE(nng_sub0_open(&s) == 0);
    REQUIRE(nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0) == 0);
    REQUIRE(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 200) == 0);
    REQUIRE(nng_dial(s, events_url, NULL, NNG_FLAG_NONBLOCK) == 0);
    return s;
}

/* Next event about `id` within timeout_ms, or NULL. */
static Imageproc__StatusEvent *next_event(nng_socket s, const char *id, int timeout_ms)
{
    int64_t deadline = ip_mono_ms() + timeout_ms;
    while (ip_mono_ms() < deadline) {
        void *buf = NULL;
        size_t len = 0;
        if (nng_recv(s, &buf, &len, NNG_FLAG_ALLOC) != 0)
            continue;
        Imageproc__StatusEvent *e = imageproc__status_event__unpack(NULL, len, buf);
        nng_free(buf, len);
        REQUIRE(e != NULL);
        if (strcmp(e->id, id) == 0)
            return e;
        imageproc__status_event__free_unpacked(e, NULL);
    }
    return NULL;
}

/* A subscriber whose pipe is up: images are made until it sees one (pub
 * drops messages before the subscriber's pipe is connected). */
static nng_socket sub_ready(void)
{
    nng_socket s = sub_open();
    int64_t deadline = ip_mono_ms() + 10000;
    for (;;) {
        char warm[IP_UUID_STRLEN + 1];
        msg_free(create_image(warm, all_ops, 3, 0, NULL));
        Imageproc__StatusEvent *e = next_event(s, warm, 300);
        id_call("DeleteImage", warm, NULL);
        if (e != NULL) {
            imageproc__status_event__free_unpacked(e, NULL);
            return s;
        }
        REQUIRE(ip_mono_ms() < deadline);
    }
}

static void test_events(void)
{
    nng_socket s = sub_ready();

    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_ops, 3, 0, NULL));
    Imageproc__MarkEnqueuedRequest mq = IMAGEPROC__MARK_ENQUEUED_REQUEST__INIT;
    mq.id = id;
    void *out = NULL;
    REQUIRE(rpc("MarkEnqueued", &mq, &out) == IP_OK);
    msg_free(out);
    REQUIRE(id_call("MarkProcessing", id, NULL) == IP_OK);
    REQUIRE(id_call("MarkProcessing", id, NULL) == IP_OK); /* no change: no event */
    REQUIRE(put_variant(id, "thumbnail", true, NULL, NULL) == IP_OK);
    REQUIRE(put_variant(id, "thumbnail", true, NULL, NULL) == IP_OK); /* no change */
    REQUIRE(put_variant(id, "resized", false, "too big", NULL) == IP_OK);
    REQUIRE(put_variant(id, "watermarked", true, NULL, NULL) == IP_OK);
    REQUIRE(id_call("FinishImage", id, NULL) == IP_OK);
    REQUIRE(put_variant(id, "resized", true, NULL, NULL) == IP_OK);
    REQUIRE(id_call("FinishImage", id, NULL) == IP_OK);
    REQUIRE(id_call("DeleteImage", id, NULL) == IP_OK);

    static const struct {
        Imageproc__ImageStatus status;
        const char *variant;
        Imageproc__VariantStatus vstatus;
        const char *error;
        bool deleted;
    } want[] = {
        {IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING, "", 0, "", false},    /* created */
        {IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING, "", 0, "", false},    /* enqueued */
        {IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING, "", 0, "", false}, /* processing */
        {IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING, "thumbnail",
         IMAGEPROC__VARIANT_STATUS__VARIANT_READY, "", false},
        {IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING, "resized",
         IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED, "too big", false},
        {IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING, "watermarked",
         IMAGEPROC__VARIANT_STATUS__VARIANT_READY, "", false},
        {IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED, "", 0, "resized: too big", false},
        {IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED, "resized", IMAGEPROC__VARIANT_STATUS__VARIANT_READY,
         "", false},
        {IMAGEPROC__IMAGE_STATUS__IMAGE_READY, "", 0, "", false},
        {0, "", 0, "", true},
    };
    int64_t last_seq = 0, last_at = 0;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        Imageproc__StatusEvent *e = next_event(s, id, 3000);
        if (e == NULL) {
            fprintf(stderr, "event %zu missing\n", i);
            failures++;
            break;
        }
        bool ok = e->status == want[i].status && strcmp(e->variant, want[i].variant) == 0 &&
                  e->variant_status == want[i].vstatus && strcmp(e->error, want[i].error) == 0 &&
                  e->deleted == want[i].deleted && e->seq > last_seq && e->at_us >= last_at;
        if (!ok) {
            fprintf(
                stderr,
                "event %zu: status %d variant '%s' vstatus %d error '%s' deleted %d seq %" PRId64
                " at %" PRId64 "\n",
                i, e->status, e->variant, e->variant_status, e->error, e->deleted, e->seq,
                e->at_us);
            failures++;
        }
        last_seq = e->seq;
        last_at = e->at_us;
        imageproc__status_event__free_unpacked(e, NULL);
    }
    Imageproc__StatusEvent *extra = next_event(s, id, 300);
    CHECK(extra == NULL);
    if (extra != NULL)
        imageproc__status_event__free_unpacked(extra, NULL);
    nng_close(s);
}

/* Racing writers on a few images: each image's events arrive in commit order
 * (their commit times never go back, seq always increases) and the last one
 * is the final state. */
enum { ORDER_IMAGES = 4, ORDER_THREADS = 8, ORDER_ROUNDS = 6 };
static char order_ids[ORDER_IMAGES][IP_UUID_STRLEN + 1];
static atomic_int order_done;

static void *order_writer(void *p)
{
    int t = (int)(intptr_t)p;
    for (int r = 0; r < ORDER_ROUNDS; r++) {
        for (int k = 0; k < ORDER_IMAGES; k++) {
            const char *id = order_ids[(k + t) % ORDER_IMAGES];
            const char *name = all_ops[(r + t) % 3];
            char reason[64];
            snprintf(reason, sizeof(reason), "attempt %d.%d failed", t, r);
            put_variant(id, name, false, reason, NULL);
            if ((r + t) % 3 == 0)
                put_variant(id, name, true, NULL, NULL);
            id_call("FinishImage", id, NULL);
            id_call("MarkProcessing", id, NULL);
        }
    }
    atomic_fetch_add(&order_done, 1);
    return NULL;
}

static void test_events_order(void)
{
    nng_socket s = sub_ready();
    for (int k = 0; k < ORDER_IMAGES; k++)
        msg_free(create_image(order_ids[k], all_ops, 3, 0, NULL));
    pthread_t th[ORDER_THREADS];
    for (int t = 0; t < ORDER_THREADS; t++)
        pthread_create(&th[t], NULL, order_writer, (void *)(intptr_t)t);
    /* Read while they write, so the subscriber keeps up. */
    int64_t last_at[ORDER_IMAGES] = {0}, last_seq = 0;
    int count[ORDER_IMAGES] = {0}, disorder = 0, total = 0;
    Imageproc__ImageStatus last_status[ORDER_IMAGES] = {0};
    const char *last_variant[ORDER_IMAGES] = {0};
    char last_variant_buf[ORDER_IMAGES][16];
    bool writers_done = false;
    int64_t quiet_since = ip_mono_ms();
    while (!writers_done || ip_mono_ms() - quiet_since < 1000) {
        void *buf = NULL;
        size_t len = 0;
        if (nng_recv(s, &buf, &len, NNG_FLAG_ALLOC) == 0) {
            quiet_since = ip_mono_ms();
            Imageproc__StatusEvent *e = imageproc__status_event__unpack(NULL, len, buf);
            nng_free(buf, len);
            REQUIRE(e != NULL);
            if (e->seq <= last_seq) {
                fprintf(stderr, "seq %lld after %lld\n", (long long)e->seq, (long long)last_seq);
                disorder++;
            }
            last_seq = e->seq;
            for (int k = 0; k < ORDER_IMAGES; k++) {
                if (strcmp(e->id, order_ids[k]) != 0)
                    continue;
                if (e->at_us < last_at[k]) {
                    fprintf(stderr, "image %d: at_us %lld after %lld\n", k, (long long)e->at_us,
                            (long long)last_at[k]);
                    disorder++;
                }
                last_at[k] = e->at_us;
                last_status[k] = e->status;
                snprintf(last_variant_buf[k], sizeof(last_variant_buf[k]), "%s", e->variant);
                last_variant[k] = last_variant_buf[k];
                count[k]++;
                total++;
            }
            imageproc__status_event__free_unpacked(e, NULL);
        }
        if (!writers_done && atomic_load(&order_done) == ORDER_THREADS) {
            writers_done = true;
            for (int t = 0; t < ORDER_THREADS; t++)
                pthread_join(th[t], NULL);
            /* Finish every image: every variant ready, then FinishImage. */
            for (int k = 0; k < ORDER_IMAGES; k++) {
                for (int v = 0; v < 3; v++)
                    CHECK(put_variant(order_ids[k], all_ops[v], true, NULL, NULL) == IP_OK);
                CHECK(id_call("FinishImage", order_ids[k], NULL) == IP_OK);
            }
            quiet_since = ip_mono_ms();
        }
    }
    fprintf(stderr, "events received: %d (%d %d %d %d)\n", total, count[0], count[1], count[2],
            count[3]);
    CHECK(disorder == 0);
    for (int k = 0; k < ORDER_IMAGES; k++) {
        CHECK(count[k] >= 3);
        CHECK(last_status[k] == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
        CHECK(last_variant[k] != NULL && last_variant[k][0] == '\0');
    }
    nng_close(s);
}

/* The server drops every pooled connection (pg_terminate_backend, as a
 * restart or an administrator would): the next calls all succeed, on fresh
 * connections. Calls run from 8 threads, so every pooled connection is in use. */
typedef struct burst_arg {
    const char *id;
    int failed;
} burst_arg;

static void *burst(void *p)
{
    burst_arg *a = p;
    for (int i = 0; i < 10; i++) {
        Imageproc__GetImageReply *g = NULL;
        a->failed += get_image(a->id, &g) != IP_OK;
        msg_free(g);
        a->failed += put_variant(a->id, "thumbnail", true, NULL, NULL) != IP_OK;
    }
    return NULL;
}

static int run_burst(const char *id)
{
    pthread_t th[8];
    burst_arg a[8];
    int failed = 0;
    for (int t = 0; t < 8; t++) {
        a[t] = (burst_arg){.id = id};
        pthread_create(&th[t], NULL, burst, &a[t]);
    }
    for (int t = 0; t < 8; t++) {
        pthread_join(th[t], NULL);
        failed += a[t].failed;
    }
    return failed;
}

static void test_conn_killed(void)
{
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_ops, 3, 0, NULL));
    for (int round = 0; round < 3; round++) {
        CHECK(run_burst(id) == 0); /* warm the pool */
        PGconn *c = pg_connect(test_dsn);
        PGresult *r = sql(c, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                             " WHERE datname = current_database() AND pid <> pg_backend_pid()");
        int killed = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        PQfinish(c);
        CHECK(killed >= 2);
        int failed = run_burst(id);
        fprintf(stderr, "round %d: %d connections killed, %d of 160 calls failed after\n", round,
                killed, failed);
        CHECK(failed == 0);
    }
}

/* ---- PostgreSQL restarted under the running service */

static int stack(const char *verb)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s/scripts/stack' %s postgres >&2",
             env_or("IP_SOURCE_DIR", IP_SOURCE_DIR), verb);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_pg_restart(void)
{
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_ops, 3, 0, NULL));
    Imageproc__GetImageReply *g = NULL;
    /* Warm every pooled connection. */
    for (int i = 0; i < 32; i++) {
        REQUIRE(get_image(id, &g) == IP_OK);
        msg_free(g);
    }
    REQUIRE(stack("stop") == 0);

    /* Down: every call answers UNAVAILABLE, quickly. */
    int unavailable = 0;
    int64_t slowest = 0;
    for (int i = 0; i < 20; i++) {
        int64_t t0 = ip_mono_ms();
        ip_status st = get_image(id, &g);
        msg_free(g);
        int64_t ms = ip_mono_ms() - t0;
        slowest = ms > slowest ? ms : slowest;
        unavailable += st == IP_UNAVAILABLE;
        char x[IP_UUID_STRLEN + 1];
        Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
        ip_uuid_v7_str(x);
        img.id = x;
        img.ops = all_ops;
        img.n_ops = 3;
        Imageproc__CreateImageRequest cr = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
        cr.image = &img;
        void *out = NULL;
        t0 = ip_mono_ms();
        st = rpc("CreateImage", &cr, &out);
        msg_free(out);
        ms = ip_mono_ms() - t0;
        slowest = ms > slowest ? ms : slowest;
        unavailable += st == IP_UNAVAILABLE;
    }
    fprintf(stderr, "while down: %d of 40 UNAVAILABLE, slowest %" PRId64 " ms\n", unavailable,
            slowest);
    CHECK(unavailable == 40);
    CHECK(slowest < 1000);

    int started = stack("start");
    REQUIRE(started == 0);
    /* Back: the service recovers by itself. The pool's connections died with
     * the old server; they are noticed and remade before use, so once the
     * server accepts connections again no call should fail. */
    int64_t t0 = ip_mono_ms();
    ip_status st;
    int errors_after_start = 0;
    while ((st = get_image(id, &g)) != IP_OK) {
        errors_after_start++;
        CHECK(st == IP_UNAVAILABLE);
        REQUIRE(ip_mono_ms() - t0 < 30000);
        nng_msleep(50);
    }
    msg_free(g);
    fprintf(stderr, "recovered %" PRId64 " ms after the restart, %d failed calls on the way\n",
            ip_mono_ms() - t0, errors_after_start);
    CHECK(errors_after_start == 0);
    /* Every connection of the pool works again. */
    for (int i = 0; i < 32; i++) {
        char x[IP_UUID_STRLEN + 1];
        msg_free(create_image(x, all_ops, 3, 0, NULL));
        CHECK(get_image(x, &g) == IP_OK);
        msg_free(g);
    }
}

/* ---- a database that does not answer: calls end at their deadline */

typedef struct blocked_arg {
    const char *id;
    ip_status st;
    int64_t ms;
} blocked_arg;

static void *blocked_finish(void *p)
{
    blocked_arg *a = p;
    Imageproc__FinishImageRequest req = IMAGEPROC__FINISH_IMAGE_REQUEST__INIT;
    req.id = (char *)a->id;
    ip_rpc_call_opts o = {.timeout_ms = 400};
    ProtobufCMessage *out = NULL;
    int64_t t0 = ip_mono_ms();
    a->st = ip_rpc_invoke(client, "FinishImage", &req.base, &out, &o, NULL, 0);
    a->ms = ip_mono_ms() - t0;
    msg_free(out);
    return NULL;
}

static void test_deadline(void)
{
    /* Eight images (the pool's size) whose rows another session holds locked:
     * eight FinishImage calls wait on the locks. Each must end at its 400 ms
     * deadline and give its connection back (closed and remade), so a GetImage
     * right after finds a connection although the locks are still held. */
    enum { N = 8 };
    char ids[N][IP_UUID_STRLEN + 1];
    for (int i = 0; i < N; i++) {
        char *ops[] = {"thumbnail"};
        msg_free(create_image(ids[i], ops, 1, 0, NULL));
        CHECK(put_variant(ids[i], "thumbnail", true, NULL, NULL) == IP_OK);
    }
    char other[IP_UUID_STRLEN + 1];
    msg_free(create_image(other, all_ops, 3, 0, NULL));
    PGconn *c = pg_connect(test_dsn);
    PQclear(sql(c, "BEGIN"));
    for (int i = 0; i < N; i++)
        PQclear(sql(c, "SELECT 1 FROM images WHERE id = '%s' FOR UPDATE", ids[i]));

    pthread_t th[N];
    blocked_arg a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (blocked_arg){.id = ids[i]};
        pthread_create(&th[i], NULL, blocked_finish, &a[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK(a[i].st == IP_DEADLINE_EXCEEDED);
        CHECK(a[i].ms < 2000);
    }
    /* The server side gave up too: its connections are free again. */
    int64_t deadline = ip_mono_ms() + 3000;
    Imageproc__GetImageReply *g = NULL;
    ip_status st;
    while ((st = get_image(other, &g)) != IP_OK && ip_mono_ms() < deadline)
        nng_msleep(20);
    CHECK(st == IP_OK);
    msg_free(g);
    PQclear(sql(c, "ROLLBACK"));
    PQfinish(c);
    /* The abandoned calls changed nothing; a new one finishes the image. */
    for (int i = 0; i < N; i++) {
        REQUIRE(get_image(ids[i], &g) == IP_OK);
        CHECK(g->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING);
        msg_free(g);
        Imageproc__FinishImageReply *f = NULL;
        REQUIRE(id_call("FinishImage", ids[i], &f) == IP_OK);
        CHECK(f->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
        msg_free(f);
    }
}

/* ---- the binary itself: starts, serves, stops cleanly on SIGTERM */

/* Runs metadata-svc with `extra` (NAME=value, NULL-terminated) added to the
 * environment, stderr into log_path; returns its pid. */
static pid_t spawn_service(const char *const *extra, const char *log_path, const char *arg)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (freopen(log_path, "w", stderr) == NULL || freopen("/dev/null", "w", stdout) == NULL)
            _exit(126);
        setenv("IP_PG_DSN", test_dsn, 1);
        setenv("IP_METADATA_RPC_URL", "tcp://127.0.0.1:7121", 1);
        setenv("IP_METADATA_EVENTS_URL", "tcp://127.0.0.1:7122", 1);
        for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
            putenv((char *)extra[i]);
        execl(META_BIN, META_BIN, arg, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Waits up to timeout_ms for pid; returns its exit code, or -1. */
static int wait_exit(pid_t pid, int timeout_ms)
{
    int64_t deadline = ip_mono_ms() + timeout_ms;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (ip_mono_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        nng_msleep(20);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void test_binary(void)
{
    char log[] = "/tmp/meta_it_binary_XXXXXX";
    int fd = mkstemp(log);
    REQUIRE(fd >= 0);
    close(fd);

    /* --config-vars prints the table and exits 0. */
    pid_t pid = spawn_service(NULL, log, "--config-vars");
    CHECK(wait_exit(pid, 5000) == 0);

    /* A bad configuration: refuses to start, every problem named. */
    const char *bad[] = {"IP_PG_POOL_SIZE=0", "IP_RPC_WORKERS=lots", NULL};
    pid = spawn_service(bad, log, NULL);
    CHECK(wait_exit(pid, 5000) != 0);
    CHECK(file_contains(log, "IP_PG_POOL_SIZE") && file_contains(log, "IP_RPC_WORKERS"));

    /* Twice: serves, and the second start applies no migration. */
    for (int run = 0; run < 2; run++) {
        pid = spawn_service(NULL, log, NULL);
        ip_rpc_client *c = NULL;
        ip_rpc_client_opts co = {.urls = "tcp://127.0.0.1:7121", .timeout_ms = 2000};
        REQUIRE(ip_rpc_client_new(&imageproc__metadata__descriptor, &co, &c) == IP_OK);
        int64_t deadline = ip_mono_ms() + 20000;
        while (ip_rpc_ping(c, 500) != IP_OK) {
            if (ip_mono_ms() > deadline || waitpid(pid, NULL, WNOHANG) == pid) {
                fprintf(stderr, "metadata-svc did not come up; log in %s\n", log);
                exit(1);
            }
        }
        char unknown[IP_UUID_STRLEN + 1];
        ip_uuid_v7_str(unknown);
        Imageproc__GetImageRequest req = IMAGEPROC__GET_IMAGE_REQUEST__INIT;
        req.id = unknown;
        ProtobufCMessage *out = NULL;
        CHECK(ip_rpc_invoke(c, "GetImage", &req.base, &out, NULL, NULL, 0) == IP_NOT_FOUND);
        ip_rpc_client_free(c);
        kill(pid, SIGTERM);
        CHECK(wait_exit(pid, 10000) == 0);
        CHECK(file_contains(log, "\"event\":\"migrations.done\",\"applied\":0"));
        CHECK(file_contains(log, "service.stopped"));
    }
    unlink(log);
}

/* ------------------------------------------------------------- main */

static const struct {
    const char *name;
    void (*fn)(void);
    bool service;
} tests[] = {
    {"migrate", test_migrate, false},
    {"create", test_create, true},
    {"get", test_get, true},
    {"list_ties", test_list_ties, true},
    {"list_mode", test_list_mode, true},
    {"list_errors", test_list_errors, true},
    {"list_explain", test_list_explain, false},
    {"mark_processing", test_mark_processing, true},
    {"put_variant", test_put_variant, true},
    {"finish", test_finish, true},
    {"fail_image", test_fail_image, true},
    {"mark_enqueued", test_mark_enqueued, true},
    {"delete", test_delete, true},
    {"stale", test_stale, true},
    {"bad_requests", test_bad_requests, true},
    {"verbatim", test_verbatim, true},
    {"race", test_race, true},
    {"no_resurrection", test_no_resurrection, true},
    {"events", test_events, true},
    {"events_order", test_events_order, true},
    {"deadline", test_deadline, true},
    {"conn_killed", test_conn_killed, true},
    {"binary", test_binary, false},
    {"pg_restart", test_pg_restart, true},
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: meta_it_test <test>\n");
        return 2;
    }
    ip_log_init("metadata-svc-test", IP_LOG_WARN);
    snprintf(base_dsn, sizeof(base_dsn), "%s", env_or("IP_PG_DSN", DEFAULT_DSN));
    rpc_url = env_or("IP_TEST_META_RPC_URL", "tcp://127.0.0.1:7111");
    events_url = env_or("IP_TEST_META_EVENTS_URL", "tcp://127.0.0.1:7112");
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (strcmp(argv[1], tests[i].name) != 0)
            continue;
        ensure_db(TEST_DB);
        dsn_with_db(TEST_DB, test_dsn, sizeof(test_dsn));
        if (tests[i].service || strcmp(tests[i].name, "list_explain") == 0 ||
            strcmp(tests[i].name, "binary") == 0)
            start_service();
        tests[i].fn();
        if (service != NULL)
            stop_service();
        if (failures)
            fprintf(stderr, "%s: %d check(s) failed\n", tests[i].name, failures);
        return failures ? 1 : 0;
    }
    fprintf(stderr, "unknown test %s\n", argv[1]);
    return 2;
}
