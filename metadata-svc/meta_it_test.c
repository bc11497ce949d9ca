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
 * A missing PostgreSQL is a failure, never a skip. Checks are those of
 * common/ip_testing.h: CHECK ends the test at once, EXPECT counts and goes on.
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

#include "ip_keys.h"
#include "ip_log.h"
#include "ip_presets.h"
#include "ip_rpc.h"
#include "ip_rpc_stubs.h"
#include "ip_testing.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "ip_variants.h"
#include "meta_migrations.h"
#include "meta_service.h"
#include "meta_store.h"
#include "meta_testdb.h"

#define TEST_DB "imageproc_test_meta"
#define DEFAULT_DSN "postgresql://imageproc:imageproc-local@127.0.0.1:55432/imageproc"

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
    CHECK(meta_dsn_with_db(base_dsn, db, out, outlen) == IP_OK);
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

/* The service in-process on the database of `dsn`, migrated. */
static void start_service_on(const char *dsn)
{
    char err[256] = "";
    meta_store_opts so = {.dsn = dsn, .pool_size = 8};
    CHECK(meta_store_new(&so, &store, err, sizeof(err)) == IP_OK);
    meta_ctx cx = {0};
    ip_status st = meta_store_migrate(store, &cx, NULL);
    if (st != IP_OK) {
        fprintf(stderr, "migrate: %s: %s\n", ip_strerror(st), cx.err);
        exit(1);
    }
    meta_service_opts vo = {.rpc_url = rpc_url, .events_url = events_url, .workers = 16};
    CHECK(meta_service_new(store, &vo, &service) == IP_OK);
    ip_rpc_client_opts co = {.urls = rpc_url, .timeout_ms = 10000};
    CHECK(ip_rpc_client_new(&imageproc__metadata__descriptor, &co, &client) == IP_OK);
    int64_t deadline = ip_mono_ms() + 10000;
    while (ip_rpc_ping(client, 1000) != IP_OK)
        CHECK(ip_mono_ms() < deadline);
}

static void start_service(void)
{
    start_service_on(test_dsn);
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

static char last_err[512]; /* the message of the last failed call */

/* A typed Metadata call on the test's client (ip_rpc_stubs.h), its error
 * message into last_err. */
#define RPC(method, in, out)                                                                       \
    (last_err[0] = '\0',                                                                           \
     ip_metadata_##method(client, (in), (out), NULL, last_err, sizeof(last_err)))

static void msg_free(void *m)
{
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
}

/* A reply to the caller's *rep when rep is not NULL, else freed. */
#define HAND_OVER(r, rep) ((rep) != NULL ? (void)(*(rep) = (r)) : msg_free(r))

/* The error message must name the field. */
static void check_bad(ip_status st, const char *field, int line)
{
    if (st != IP_INVALID_ARGUMENT || strstr(last_err, field) == NULL) {
        fprintf(stderr, "line %d: want INVALID_ARGUMENT naming %s, got %s '%s'\n", line, field,
                ip_strerror(st), last_err);
        ip_test_failures++;
    }
}
#define EXPECT_BAD(st, field) check_bad((st), (field), __LINE__)

/* Every variant, in canonical order (filled by main from ip_variants.h). */
static ip_variant_kind all_kinds[IP_VARIANT_COUNT];
#define NKINDS IP_VARIANT_COUNT

/* The key a processor stores a JPEG variant under. */
static void variant_key(char key[IP_KEY_MAX], const char *id, ip_variant_kind kind)
{
    CHECK(ip_key_variant(key, id, kind, &ip_format_jpeg) == IP_OK);
}

/* Creates an image with a fresh id requesting kinds[0..n); `created_at_us` 0 =
 * now. Returns the reply (free it). */
static Imageproc__CreateImageReply *create_image(char id[IP_UUID_STRLEN + 1],
                                                 ip_variant_kind *kinds, size_t n,
                                                 int64_t created_at_us, const char *filename)
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
    img.requested = kinds;
    img.n_requested = n;
    Imageproc__CreateImageRequest req = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    req.image = &img;
    Imageproc__CreateImageReply *rep = NULL;
    ip_status st = RPC(create_image, &req, &rep);
    if (st != IP_OK) {
        fprintf(stderr, "CreateImage: %s %s\n", ip_strerror(st), last_err);
        exit(1);
    }
    return rep;
}

/* The calls whose request is { string id = 1; }: `name`(id, &reply), the
 * reply handed over when `rep` is not NULL, else freed. */
#define ID_CALL(name, Req, REQ_INIT, Rep)                                                          \
    static ip_status name(const char *id, Rep **rep)                                               \
    {                                                                                              \
        Req req = REQ_INIT;                                                                        \
        req.id = (char *)id;                                                                       \
        Rep *r = NULL;                                                                             \
        ip_status st = RPC(name, &req, &r);                                                        \
        HAND_OVER(r, rep);                                                                         \
        return st;                                                                                 \
    }
ID_CALL(get_image, Imageproc__GetImageRequest, IMAGEPROC__GET_IMAGE_REQUEST__INIT,
        Imageproc__GetImageReply)
ID_CALL(mark_processing, Imageproc__MarkProcessingRequest, IMAGEPROC__MARK_PROCESSING_REQUEST__INIT,
        Imageproc__MarkProcessingReply)
ID_CALL(finish_image, Imageproc__FinishImageRequest, IMAGEPROC__FINISH_IMAGE_REQUEST__INIT,
        Imageproc__FinishImageReply)
ID_CALL(delete_image, Imageproc__DeleteImageRequest, IMAGEPROC__DELETE_IMAGE_REQUEST__INIT,
        Imageproc__DeleteImageReply)

/* PutVariant of `kind`: ready (a JPEG at its key) or failed with `error`. */
static ip_status put_variant(const char *id, ip_variant_kind kind, bool ready, const char *error,
                             Imageproc__PutVariantReply **rep)
{
    char key[IP_KEY_MAX];
    Imageproc__Variant v = IMAGEPROC__VARIANT__INIT;
    v.kind = kind;
    if (ready) {
        variant_key(key, id, kind);
        v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
        v.object_key = key;
        v.width = 320;
        v.height = 240;
        v.size_bytes = 2048;
        v.format = (char *)ip_format_jpeg.name;
    } else {
        v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED;
        v.error = (char *)error;
    }
    Imageproc__PutVariantRequest req = IMAGEPROC__PUT_VARIANT_REQUEST__INIT;
    req.image_id = (char *)id;
    req.variant = &v;
    Imageproc__PutVariantReply *r = NULL;
    ip_status st = RPC(put_variant, &req, &r);
    HAND_OVER(r, rep);
    return st;
}

static const Imageproc__Variant *variant_of(const Imageproc__Image *img, ip_variant_kind kind)
{
    for (size_t i = 0; i < img->n_variants; i++)
        if (img->variants[i]->kind == kind)
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
    CHECK(meta_store_new(&so, &a, err, sizeof(err)) == IP_OK);
    CHECK(meta_store_new(&so, &b, err, sizeof(err)) == IP_OK);

    mig_arg m[2] = {{.s = a}, {.s = b}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, migrate_thread, &m[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    EXPECT(m[0].st == IP_OK && m[1].st == IP_OK);
    EXPECT(m[0].applied + m[1].applied >= 1);
    EXPECT(m[0].applied == 0 || m[1].applied == 0);

    /* A second start does nothing. */
    meta_ctx cx = {0};
    int applied = -1;
    EXPECT(meta_store_migrate(a, &cx, &applied) == IP_OK && applied == 0);

    PGconn *t = pg_connect(dsn);
    PGresult *r = sql(t, "SELECT version FROM schema_migrations ORDER BY version");
    EXPECT(PQntuples(r) >= 1 && strcmp(PQgetvalue(r, 0, 0), "0001_init") == 0);
    PQclear(r);
    r = sql(t, "SELECT indexdef FROM pg_indexes WHERE indexname = 'images_created_id_idx'");
    EXPECT(PQntuples(r) == 1 && strstr(PQgetvalue(r, 0, 0), "created_at DESC, id DESC") != NULL);
    PQclear(r);
    r = sql(t, "SELECT count(*) FROM pg_indexes WHERE indexname IN"
               " ('images_lease_idx', 'images_enqueued_idx', 'purges_next_idx', 'purges_pkey')");
    EXPECT_EQ_STR(PQgetvalue(r, 0, 0), "4");
    PQclear(r);
    PQfinish(t);
    meta_store_free(a);
    meta_store_free(b);
    PQclear(sql(c, "DROP DATABASE IF EXISTS imageproc_test_meta_migrate"));
    PQfinish(c);
}

static void test_migrate_upgrade(void)
{
    /* A database at 0001 with an image being processed: the upgrade adds the
     * columns and gives that image the lease a processor would have taken,
     * counted from its last change; the others get none. */
    const char *db = "imageproc_test_meta_upgrade";
    PGconn *c = pg_connect(base_dsn);
    PQclear(sql(c, "DROP DATABASE IF EXISTS imageproc_test_meta_upgrade"));
    PQclear(sql(c, "CREATE DATABASE imageproc_test_meta_upgrade"));
    char dsn[1024];
    dsn_with_db(db, dsn, sizeof(dsn));
    PGconn *t = pg_connect(dsn);
    CHECK(meta_migrations_count >= 2 && strcmp(meta_migrations[0].version, "0001_init") == 0);
    PGresult *r = PQexec(t, meta_migrations[0].sql); /* longer than sql() takes */
    CHECKF(PQresultStatus(r) == PGRES_COMMAND_OK, "0001: %s", PQresultErrorMessage(r));
    PQclear(r);
    PQclear(sql(t, "INSERT INTO schema_migrations (version) VALUES ('0001_init')"));
    PQclear(sql(t, "INSERT INTO images (id, created_at, updated_at, ops, status) VALUES"
                   " ('0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a1', now(), now() - interval '1 hour',"
                   " '{thumbnail}', 'processing'),"
                   " ('0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a2', now(), now(), '{thumbnail}',"
                   " 'pending')"));
    meta_store *s = NULL;
    char err[256];
    meta_store_opts so = {.dsn = dsn, .pool_size = 1};
    CHECK(meta_store_new(&so, &s, err, sizeof(err)) == IP_OK);
    meta_ctx cx = {0};
    int applied = -1;
    ip_status st = meta_store_migrate(s, &cx, &applied);
    CHECKF(st == IP_OK, "migrate: %s %s", ip_strerror(st), cx.err);
    EXPECT_EQ_INT(applied, (long long)meta_migrations_count - 1);
    r = sql(t, "SELECT status, runs, lease_until = updated_at + interval '60 seconds',"
               " lease_until IS NULL, swept_until IS NULL FROM images ORDER BY id");
    CHECK(PQntuples(r) == 2);
    EXPECT_EQ_STR(PQgetvalue(r, 0, 0), "processing");
    EXPECT(strcmp(PQgetvalue(r, 0, 1), "0") == 0 && strcmp(PQgetvalue(r, 0, 2), "t") == 0);
    EXPECT(strcmp(PQgetvalue(r, 1, 3), "t") == 0 && strcmp(PQgetvalue(r, 1, 4), "t") == 0);
    PQclear(r);
    r = sql(t, "SELECT count(*) FROM purges");
    EXPECT_EQ_STR(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    PQfinish(t);
    meta_store_free(s);
    PQclear(sql(c, "DROP DATABASE IF EXISTS imageproc_test_meta_upgrade"));
    PQfinish(c);
}

static void test_create(void)
{
    char id[IP_UUID_STRLEN + 1];
    ip_variant_kind ops[] = {IP_VARIANT_WATERMARKED, IP_VARIANT_THUMBNAIL};
    int64_t at = 1764375760123457; /* odd microseconds survive */
    Imageproc__CreateImageReply *rep = create_image(id, ops, 2, at, NULL);
    const Imageproc__Image *img = rep->image;
    CHECK(img != NULL);
    EXPECT(strcmp(img->id, id) == 0);
    EXPECT(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING);
    EXPECT(img->created_at_us == at);
    EXPECT(img->updated_at_us > 0);
    /* Requested variants come back in canonical order. */
    EXPECT(img->n_requested == 2 && img->requested[0] == IP_VARIANT_THUMBNAIL &&
           img->requested[1] == IP_VARIANT_WATERMARKED);
    EXPECT(img->n_variants == 2 && img->variants[0]->kind == IP_VARIANT_THUMBNAIL &&
           img->variants[0]->status == IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING);
    char okey[IP_KEY_MAX];
    CHECK(ip_key_original(okey, id) == IP_OK);
    EXPECT(strcmp(img->original_key, okey) == 0);
    EXPECT(img->size_bytes == 12345 && img->width == 4000 && img->height == 3000);
    EXPECT(img->enqueued_at_us == 0);

    /* The same id again: ALREADY_EXISTS, also written in upper case. */
    Imageproc__Image again = *img;
    Imageproc__CreateImageRequest req = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    req.image = &again;
    Imageproc__CreateImageReply *out = NULL;
    EXPECT(RPC(create_image, &req, &out) == IP_ALREADY_EXISTS);
    char upper[IP_UUID_STRLEN + 1];
    for (int i = 0; i <= IP_UUID_STRLEN; i++)
        upper[i] = (char)(id[i] >= 'a' && id[i] <= 'f' ? id[i] - 32 : id[i]);
    again.id = upper;
    EXPECT(RPC(create_image, &req, &out) == IP_ALREADY_EXISTS);
    msg_free(rep);

    /* created_at 0 means now; an explicit original key is kept. */
    char id2[IP_UUID_STRLEN + 1];
    int64_t before = ip_now_us();
    rep = create_image(id2, all_kinds, NKINDS, 0, NULL);
    EXPECT(rep->image->created_at_us >= before - 1000000 &&
           rep->image->created_at_us <= ip_now_us() + 1000000);
    EXPECT(rep->image->n_variants == 3);
    msg_free(rep);
}

static void test_get(void)
{
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_kinds, NKINDS, 0, "get.png"));
    Imageproc__GetImageReply *g = NULL;
    CHECK(get_image(id, &g) == IP_OK);
    EXPECT(strcmp(g->image->id, id) == 0 && strcmp(g->image->filename, "get.png") == 0);
    EXPECT(g->image->n_variants == 3 && g->image->variants[1]->kind == IP_VARIANT_RESIZED &&
           g->image->variants[2]->kind == IP_VARIANT_WATERMARKED);
    msg_free(g);
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v4_str(unknown);
    EXPECT(get_image(unknown, &g) == IP_NOT_FOUND);
    EXPECT_BAD(get_image("nope", &g), "id");
    EXPECT_BAD(get_image("", &g), "id");
}

/* Pages through [lo, hi] of created_at with ListImages (only images that
 * requested `with`, IP_VARIANT_NONE for all) and returns the ids in order (n
 * of them, owned). */
static char **page_all(int64_t lo_us, int64_t hi_us, ip_variant_kind with, int limit, size_t *n,
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
        req.with_variant = with;
        req.limit = limit;
        Imageproc__ListImagesReply *rep = NULL;
        ip_status st = RPC(list_images, &req, &rep);
        if (st != IP_OK) {
            fprintf(stderr, "ListImages: %s %s\n", ip_strerror(st), last_err);
            exit(1);
        }
        EXPECT(rep->n_images <= (size_t)limit);
        EXPECT(rep->has_more || rep->n_images < (size_t)limit || true);
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

/* Seeds `n` rows in [base, base + n * 13 us], first emptying that window (a
 * test's own): the `tie_count` from `tie_from` share one created_at; every
 * third row requested the thumbnail only, the others every variant. */
static void seed_rows(PGconn *c, int64_t base_us, int n, int tie_from, int tie_count)
{
    PQclear(sql(c,
                "DELETE FROM images WHERE created_at BETWEEN timestamptz 'epoch' + %lld"
                " * interval '1 microsecond' AND timestamptz 'epoch' + %lld"
                " * interval '1 microsecond'",
                (long long)base_us, (long long)(base_us + (int64_t)n * 13)));
    char thumb[IP_VARIANT_LIST_MAX], all[IP_VARIANT_LIST_MAX], okey[IP_KEY_MAX];
    ip_variant_mask_format(ip_variant_bit(IP_VARIANT_THUMBNAIL), thumb, sizeof(thumb));
    ip_variant_mask_format(IP_VARIANT_MASK_ALL, all, sizeof(all));
    CHECK(ip_key_original(okey, "seed") == IP_OK);
    PQclear(sql(c,
                "INSERT INTO images (id, created_at, ops, original_key)"
                " SELECT gen_random_uuid(), timestamptz 'epoch' + ((%lld + CASE WHEN g >= %d AND"
                " g < %d THEN %d * 13 ELSE g * 13 END)::bigint) * interval '1 microsecond',"
                " string_to_array(CASE WHEN g %% 3 = 0 THEN '%s' ELSE '%s' END, ','), '%s'"
                " FROM generate_series(0, %d) g",
                (long long)base_us, tie_from, tie_from + tie_count, tie_from, thumb, all, okey,
                n - 1));
}

static void check_paging(PGconn *c, int64_t lo, int64_t hi, ip_variant_kind with, int limit,
                         size_t want)
{
    size_t n = 0;
    int64_t *ts = NULL;
    char **ids = page_all(lo, hi, with, limit, &n, &ts);
    const char *mode = ip_variant_name(with); /* as images.ops spells it; NULL for all */
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
    EXPECT(rows == want);
    if (n != rows) {
        fprintf(stderr, "paged %zu ids, the table has %zu\n", n, rows);
        ip_test_failures++;
    }
    size_t bad = 0;
    for (size_t i = 0; i < n && i < rows; i++)
        if (strcmp(ids[i], PQgetvalue(r, (int)i, 0)) != 0 ||
            ts[i] != strtoll(PQgetvalue(r, (int)i, 1), NULL, 10))
            bad++;
    if (bad) {
        fprintf(stderr, "%zu ids out of place or with a different created_at\n", bad);
        ip_test_failures++;
    }
    /* Every id exactly once. */
    for (size_t i = 1; i < n; i++)
        if (strcmp(ids[i], ids[i - 1]) == 0)
            ip_test_failures++;
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
    seed_rows(c, TIES_BASE, 10000, 4000, 500);
    PGresult *r = sql(c,
                      "SELECT count(*) FROM images WHERE created_at = timestamptz 'epoch' + %lld"
                      " * interval '1 microsecond'",
                      (long long)(TIES_BASE + 4000 * 13));
    EXPECT(strcmp(PQgetvalue(r, 0, 0), "500") == 0);
    PQclear(r);
    check_paging(c, TIES_BASE, hi, IP_VARIANT_NONE, 7, 10000);
    PQfinish(c);
}

static void test_list_mode(void)
{
    PGconn *c = pg_connect(test_dsn);
    int64_t base = TIES_BASE + INT64_C(86400000000); /* the next day */
    int64_t hi = base + 2000 * 13;
    seed_rows(c, base, 2000, 100, 300);
    /* every third row asked for the thumbnail only */
    check_paging(c, base, hi, IP_VARIANT_WATERMARKED, 9, 2000 - 667);
    check_paging(c, base, hi, IP_VARIANT_THUMBNAIL, 100, 2000);
    check_paging(c, base, hi, IP_VARIANT_NONE, 1, 2000);
    PQfinish(c);

    /* An image made through the service shows up on the first page with its variants. */
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_kinds, NKINDS, INT64_C(253402300799999990), NULL));
    Imageproc__ListImagesRequest req = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
    req.limit = 1;
    req.with_variant = IP_VARIANT_RESIZED;
    Imageproc__ListImagesReply *rep = NULL;
    CHECK(RPC(list_images, &req, &rep) == IP_OK);
    EXPECT(rep->n_images == 1 && strcmp(rep->images[0]->id, id) == 0 && rep->has_more);
    EXPECT(rep->n_images == 1 && rep->images[0]->n_variants == 3);
    msg_free(rep);
    delete_image(id, NULL);

    /* Past the oldest row: an empty last page. */
    req.with_variant = IP_VARIANT_NONE;
    req.limit = 100;
    req.last_created_at_us = 1;
    req.last_id = "00000000-0000-0000-0000-000000000000";
    CHECK(RPC(list_images, &req, &rep) == IP_OK);
    EXPECT(rep->n_images == 0 && !rep->has_more);
    msg_free(rep);
}

static void test_list_errors(void)
{
    Imageproc__ListImagesRequest req = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
    Imageproc__ListImagesReply *out = NULL;
    req.limit = 0;
    EXPECT_BAD(RPC(list_images, &req, &out), "limit");
    req.limit = 101;
    EXPECT_BAD(RPC(list_images, &req, &out), "limit");
    req.limit = 10;
    req.with_variant = (ip_variant_kind)9; /* no variant: any int32 may arrive */
    EXPECT_BAD(RPC(list_images, &req, &out), "with_variant");
    req.with_variant = IP_VARIANT_NONE;
    req.last_id = "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6";
    EXPECT_BAD(RPC(list_images, &req, &out), "last_created_at_us");
    req.last_id = "";
    req.last_created_at_us = 1764375760123456;
    EXPECT_BAD(RPC(list_images, &req, &out), "last_id");
    req.last_id = "x' OR '1'='1";
    EXPECT_BAD(RPC(list_images, &req, &out), "last_id");
    req.last_id = "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6";
    req.last_created_at_us = -1;
    EXPECT_BAD(RPC(list_images, &req, &out), "last_created_at_us");
    req.last_created_at_us = 1764375760123456;
    EXPECT(RPC(list_images, &req, &out) == IP_OK);
    msg_free(out);
}

/* EXPLAIN of the statement the store runs, generic and custom plans, at a deep
 * cursor: an index scan of images_created_id_idx bounded by the cursor. */
static void test_list_explain(void)
{
    PGconn *c = pg_connect(test_dsn);
    const char *q = meta_store_statement_sql("meta_list_after");
    CHECK(q != NULL);
    PQclear(sql(c, "ANALYZE images"));
    PGresult *r = PQprepare(c, "la", q, 0, NULL);
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    const char *modes[] = {"generic", "custom"};
    const char *filters[] = {"", ip_variant_name(IP_VARIANT_WATERMARKED)};
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
                ip_test_failures++;
            }
        }
    }
    PQfinish(c);
}

static void test_mark_processing(void)
{
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_kinds, NKINDS, 0, NULL));
    Imageproc__MarkProcessingReply *rep = NULL;
    CHECK(mark_processing(id, &rep) == IP_OK);
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING);
    msg_free(rep);
    CHECK(mark_processing(id, &rep) == IP_OK);
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING);
    msg_free(rep);
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    EXPECT(mark_processing(unknown, NULL) == IP_NOT_FOUND);
    EXPECT_BAD(mark_processing("12345", NULL), "id");
}

static void test_put_variant(void)
{
    char id[IP_UUID_STRLEN + 1];
    ip_variant_kind ops[] = {IP_VARIANT_THUMBNAIL, IP_VARIANT_RESIZED};
    msg_free(create_image(id, ops, 2, 0, NULL));
    Imageproc__PutVariantReply *rep = NULL;
    CHECK(put_variant(id, IP_VARIANT_THUMBNAIL, true, NULL, &rep) == IP_OK);
    EXPECT(rep->variant->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY);
    EXPECT(rep->variant->width == 320 && rep->variant->height == 240 &&
           rep->variant->size_bytes == 2048 && strcmp(rep->variant->format, "jpeg") == 0);
    EXPECT(rep->variant->kind == IP_VARIANT_THUMBNAIL);
    char key[IP_KEY_MAX];
    variant_key(key, id, IP_VARIANT_THUMBNAIL);
    EXPECT(strcmp(rep->variant->object_key, key) == 0);
    msg_free(rep);
    /* Idempotent; and a late failure does not undo a ready variant. */
    EXPECT(put_variant(id, IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_OK);
    CHECK(put_variant(id, IP_VARIANT_THUMBNAIL, false, "late failure", &rep) == IP_OK);
    EXPECT(rep->variant->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY);
    msg_free(rep);
    /* A failure, then a retry that succeeds. */
    CHECK(put_variant(id, IP_VARIANT_RESIZED, false, "timeout", &rep) == IP_OK);
    EXPECT(rep->variant->status == IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED &&
           strcmp(rep->variant->error, "timeout") == 0);
    msg_free(rep);
    CHECK(put_variant(id, IP_VARIANT_RESIZED, true, NULL, &rep) == IP_OK);
    EXPECT(rep->variant->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY &&
           rep->variant->error[0] == '\0');
    msg_free(rep);
    /* Not requested. */
    EXPECT(put_variant(id, IP_VARIANT_WATERMARKED, true, NULL, NULL) == IP_FAILED_PRECONDITION);
    /* The image moved to processing. */
    Imageproc__GetImageReply *g = NULL;
    CHECK(get_image(id, &g) == IP_OK);
    EXPECT(g->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING);
    EXPECT(variant_of(g->image, IP_VARIANT_THUMBNAIL)->status ==
           IMAGEPROC__VARIANT_STATUS__VARIANT_READY);
    msg_free(g);
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    EXPECT(put_variant(unknown, IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_NOT_FOUND);
}

static void test_finish(void)
{
    char id[IP_UUID_STRLEN + 1];
    ip_variant_kind ops[] = {IP_VARIANT_THUMBNAIL, IP_VARIANT_RESIZED};
    msg_free(create_image(id, ops, 2, 0, NULL));
    EXPECT(finish_image(id, NULL) == IP_FAILED_PRECONDITION);
    EXPECT(strstr(last_err, ip_variant_name(IP_VARIANT_THUMBNAIL)) != NULL &&
           strstr(last_err, ip_variant_name(IP_VARIANT_RESIZED)) != NULL);
    EXPECT(put_variant(id, IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_OK);
    EXPECT(finish_image(id, NULL) == IP_FAILED_PRECONDITION);
    EXPECT(put_variant(id, IP_VARIANT_RESIZED, true, NULL, NULL) == IP_OK);
    Imageproc__FinishImageReply *rep = NULL;
    CHECK(finish_image(id, &rep) == IP_OK);
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY && rep->image->error[0] == 0);
    EXPECT(rep->image->n_variants == 2);
    msg_free(rep);
    CHECK(finish_image(id, &rep) == IP_OK); /* again: the same */
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    msg_free(rep);

    char id2[IP_UUID_STRLEN + 1];
    msg_free(create_image(id2, all_kinds, NKINDS, 0, NULL));
    EXPECT(put_variant(id2, IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_OK);
    EXPECT(put_variant(id2, IP_VARIANT_RESIZED, false, "too large", NULL) == IP_OK);
    CHECK(finish_image(id2, &rep) == IP_OK); /* a failure decides at once */
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED);
    EXPECT(strcmp(rep->image->error, "resized: too large") == 0);
    msg_free(rep);
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    EXPECT(finish_image(unknown, NULL) == IP_NOT_FOUND);
}

static void test_fail_image(void)
{
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_kinds, NKINDS, 0, NULL));
    EXPECT(put_variant(id, IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_OK);
    Imageproc__FailImageRequest req = IMAGEPROC__FAIL_IMAGE_REQUEST__INIT;
    req.id = id;
    req.error = "undecodable: not a JPEG";
    Imageproc__FailImageReply *rep = NULL;
    CHECK(RPC(fail_image, &req, &rep) == IP_OK);
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED);
    EXPECT(strcmp(rep->image->error, "undecodable: not a JPEG") == 0);
    EXPECT(variant_of(rep->image, IP_VARIANT_THUMBNAIL)->status ==
           IMAGEPROC__VARIANT_STATUS__VARIANT_READY);
    EXPECT(variant_of(rep->image, IP_VARIANT_RESIZED)->status ==
           IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED);
    msg_free(rep);

    /* A ready image stays ready. */
    char id2[IP_UUID_STRLEN + 1];
    ip_variant_kind ops[] = {IP_VARIANT_THUMBNAIL};
    msg_free(create_image(id2, ops, 1, 0, NULL));
    EXPECT(put_variant(id2, IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_OK);
    EXPECT(finish_image(id2, NULL) == IP_OK);
    req.id = id2;
    CHECK(RPC(fail_image, &req, &rep) == IP_OK);
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    msg_free(rep);
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    req.id = unknown;
    EXPECT(RPC(fail_image, &req, &rep) == IP_NOT_FOUND);
    req.id = "";
    EXPECT_BAD(RPC(fail_image, &req, &rep), "id");
}

static void test_mark_enqueued(void)
{
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_kinds, NKINDS, 0, NULL));
    Imageproc__MarkEnqueuedRequest req = IMAGEPROC__MARK_ENQUEUED_REQUEST__INIT;
    req.id = id;
    req.enqueued_at_us = 1764375760654321;
    Imageproc__MarkEnqueuedReply *rep = NULL;
    CHECK(RPC(mark_enqueued, &req, &rep) == IP_OK);
    EXPECT(rep->image->enqueued_at_us == 1764375760654321);
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING);
    msg_free(rep);
    req.enqueued_at_us = 0; /* now */
    int64_t before = ip_now_us();
    CHECK(RPC(mark_enqueued, &req, &rep) == IP_OK);
    EXPECT(rep->image->enqueued_at_us >= before - 1000000);
    msg_free(rep);
    req.enqueued_at_us = -4;
    EXPECT_BAD(RPC(mark_enqueued, &req, &rep), "enqueued_at_us");
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    req.id = unknown;
    req.enqueued_at_us = 0;
    EXPECT(RPC(mark_enqueued, &req, &rep) == IP_NOT_FOUND);
}

static void test_delete(void)
{
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_kinds, NKINDS, 0, NULL));
    EXPECT(put_variant(id, IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_OK);
    EXPECT(put_variant(id, IP_VARIANT_WATERMARKED, true, NULL, NULL) == IP_OK);
    EXPECT(put_variant(id, IP_VARIANT_RESIZED, false, "boom", NULL) == IP_OK);
    Imageproc__DeleteImageReply *rep = NULL;
    CHECK(delete_image(id, &rep) == IP_OK);
    char k0[IP_KEY_MAX], k1[IP_KEY_MAX], k2[IP_KEY_MAX];
    CHECK(ip_key_original(k0, id) == IP_OK);
    variant_key(k1, id, IP_VARIANT_THUMBNAIL);
    variant_key(k2, id, IP_VARIANT_WATERMARKED);
    EXPECT(rep->n_object_keys == 3);
    if (rep->n_object_keys == 3)
        EXPECT(strcmp(rep->object_keys[0], k0) == 0 && strcmp(rep->object_keys[1], k1) == 0 &&
               strcmp(rep->object_keys[2], k2) == 0);
    msg_free(rep);
    Imageproc__GetImageReply *g = NULL;
    EXPECT(get_image(id, &g) == IP_NOT_FOUND);
    EXPECT(delete_image(id, NULL) == IP_NOT_FOUND);
    PGconn *c = pg_connect(test_dsn);
    PGresult *r = sql(c, "SELECT count(*) FROM variants WHERE image_id = '%s'", id);
    EXPECT(strcmp(PQgetvalue(r, 0, 0), "0") == 0);
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
    msg_free(create_image(a, all_kinds, NKINDS, hour_ago, NULL));
    msg_free(create_image(b, all_kinds, NKINDS, hour_ago + 1, NULL)); /* enqueued: not stale */
    msg_free(create_image(d, all_kinds, NKINDS, hour_ago + 2, NULL)); /* processing: not stale */
    msg_free(create_image(fresh, all_kinds, NKINDS, 0, NULL));        /* too young */
    Imageproc__MarkEnqueuedRequest mq = IMAGEPROC__MARK_ENQUEUED_REQUEST__INIT;
    mq.id = b;
    Imageproc__MarkEnqueuedReply *mq_rep = NULL;
    EXPECT(RPC(mark_enqueued, &mq, &mq_rep) == IP_OK);
    msg_free(mq_rep);
    EXPECT(mark_processing(d, NULL) == IP_OK);

    Imageproc__ListStaleRequest req = IMAGEPROC__LIST_STALE_REQUEST__INIT;
    req.older_than_us = INT64_C(600000000); /* ten minutes */
    req.limit = 100;
    Imageproc__ListStaleReply *rep = NULL;
    CHECK(RPC(list_stale, &req, &rep) == IP_OK);
    EXPECT(rep->n_images == 1 && strcmp(rep->images[0]->id, a) == 0);
    if (rep->n_images == 1)
        EXPECT(rep->images[0]->n_requested == 3 && rep->images[0]->original_key[0] == 'o');
    msg_free(rep);
    req.older_than_us = 0;
    CHECK(RPC(list_stale, &req, &rep) == IP_OK);
    EXPECT(rep->n_images == 2);
    msg_free(rep);
    req.limit = 0;
    EXPECT_BAD(RPC(list_stale, &req, &rep), "limit");
    req.limit = 5;
    req.older_than_us = -1;
    EXPECT_BAD(RPC(list_stale, &req, &rep), "older_than_us");
}

static void test_bad_requests(void)
{
    /* Every call fails: no reply to free. */
    Imageproc__CreateImageReply *out = NULL;
    Imageproc__FailImageReply *fr_out = NULL;
    Imageproc__PutVariantReply *pv_out = NULL;
    Imageproc__CreateImageRequest cr = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    EXPECT_BAD(RPC(create_image, &cr, &out), "image");
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    cr.image = &img;
    EXPECT_BAD(RPC(create_image, &cr, &out), "image.id");
    img.id = "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5aZ";
    EXPECT_BAD(RPC(create_image, &cr, &out), "image.id");
    char id[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(id);
    img.id = id;
    EXPECT_BAD(RPC(create_image, &cr, &out), "image.requested");
    ip_variant_kind bad_kinds[] = {IP_VARIANT_THUMBNAIL, (ip_variant_kind)42};
    img.requested = bad_kinds;
    img.n_requested = 2;
    EXPECT_BAD(RPC(create_image, &cr, &out), "image.requested");
    bad_kinds[1] = IP_VARIANT_NONE;
    EXPECT_BAD(RPC(create_image, &cr, &out), "image.requested");
    img.n_requested = 1;
    img.size_bytes = -3;
    EXPECT_BAD(RPC(create_image, &cr, &out), "image.size_bytes");
    img.size_bytes = 0;
    img.filename = "bad \xff\xfe name.jpg"; /* not UTF-8: PostgreSQL would refuse it */
    EXPECT_BAD(RPC(create_image, &cr, &out), "image.filename");
    img.filename = "ok.jpg";
    Imageproc__FailImageRequest fr = IMAGEPROC__FAIL_IMAGE_REQUEST__INIT;
    fr.id = id;
    fr.error = "\xc3";
    EXPECT_BAD(RPC(fail_image, &fr, &fr_out), "error");

    Imageproc__PutVariantRequest pv = IMAGEPROC__PUT_VARIANT_REQUEST__INIT;
    pv.image_id = id;
    EXPECT_BAD(RPC(put_variant, &pv, &pv_out), "variant");
    Imageproc__Variant v = IMAGEPROC__VARIANT__INIT;
    pv.variant = &v;
    EXPECT_BAD(RPC(put_variant, &pv, &pv_out), "variant.kind"); /* unspecified */
    v.kind = (ip_variant_kind)4;
    EXPECT_BAD(RPC(put_variant, &pv, &pv_out), "variant.kind");
    v.kind = IP_VARIANT_THUMBNAIL;
    EXPECT_BAD(RPC(put_variant, &pv, &pv_out), "variant.status");
    v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    EXPECT_BAD(RPC(put_variant, &pv, &pv_out), "variant.object_key");
    pv.image_id = "";
    EXPECT_BAD(RPC(put_variant, &pv, &pv_out), "image_id");
    EXPECT_BAD(finish_image("", NULL), "id");
    EXPECT_BAD(delete_image("../../etc/passwd", NULL), "id");
    EXPECT_BAD(mark_processing("00000000-0000-0000-0000-00000000000g", NULL), "id");
    /* Nothing was stored for the id of the rejected creates. */
    Imageproc__GetImageReply *g = NULL;
    EXPECT(get_image(id, &g) == IP_NOT_FOUND);
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
        ip_variant_kind ops[] = {IP_VARIANT_THUMBNAIL, IP_VARIANT_RESIZED};
        ip_uuid_v7_str(id);
        Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
        img.id = id;
        img.filename = (char *)nasty[i];
        img.content_type = (char *)nasty[(i + 1) % 7];
        img.sha256 = (char *)nasty[(i + 2) % 7];
        img.original_key = (char *)nasty[(i + 3) % 7];
        img.requested = ops;
        img.n_requested = 2;
        Imageproc__CreateImageRequest cr = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
        cr.image = &img;
        Imageproc__CreateImageReply *cr_out = NULL;
        CHECK(RPC(create_image, &cr, &cr_out) == IP_OK);
        msg_free(cr_out);
        EXPECT(put_variant(id, IP_VARIANT_RESIZED, false, nasty[(i + 4) % 7], NULL) == IP_OK);
        Imageproc__Variant v = IMAGEPROC__VARIANT__INIT;
        v.kind = IP_VARIANT_THUMBNAIL;
        v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
        char vkey[IP_KEY_MAX]; /* a variant's key is its own (the key check) */
        CHECK(ip_key_variant(vkey, id, IP_VARIANT_THUMBNAIL, &ip_format_png) == IP_OK);
        v.object_key = vkey;
        v.width = v.height = 1;
        v.size_bytes = 1;
        v.format = "png";
        Imageproc__PutVariantRequest pv = IMAGEPROC__PUT_VARIANT_REQUEST__INIT;
        pv.image_id = id;
        pv.variant = &v;
        Imageproc__PutVariantReply *pv_out = NULL;
        EXPECT(RPC(put_variant, &pv, &pv_out) == IP_OK);
        msg_free(pv_out);
        Imageproc__GetImageReply *g = NULL;
        CHECK(get_image(id, &g) == IP_OK);
        EXPECT(strcmp(g->image->filename, nasty[i]) == 0);
        EXPECT(strcmp(g->image->content_type, nasty[(i + 1) % 7]) == 0);
        EXPECT(strcmp(g->image->sha256, nasty[(i + 2) % 7]) == 0);
        EXPECT(strcmp(g->image->original_key, nasty[(i + 3) % 7]) == 0);
        EXPECT(strcmp(variant_of(g->image, IP_VARIANT_RESIZED)->error, nasty[(i + 4) % 7]) == 0);
        EXPECT(strcmp(variant_of(g->image, IP_VARIANT_THUMBNAIL)->object_key, vkey) == 0);
        msg_free(g);
        Imageproc__FailImageRequest fr = IMAGEPROC__FAIL_IMAGE_REQUEST__INIT;
        fr.id = id;
        fr.error = (char *)nasty[(i + 6) % 7];
        Imageproc__FailImageReply *f = NULL;
        CHECK(RPC(fail_image, &fr, &f) == IP_OK);
        EXPECT(strcmp(f->image->error, nasty[(i + 6) % 7]) == 0);
        msg_free(f);
        Imageproc__DeleteImageReply *d = NULL;
        CHECK(delete_image(id, &d) == IP_OK);
        EXPECT(d->n_object_keys == 2 && strcmp(d->object_keys[0], nasty[(i + 3) % 7]) == 0 &&
               strcmp(d->object_keys[1], vkey) == 0);
        msg_free(d);
    }
    /* The tables are still there. */
    PGconn *c = pg_connect(test_dsn);
    PGresult *r = sql(c, "SELECT count(*) FROM images");
    EXPECT(PQntuples(r) == 1);
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
        for (int k = 0; k < NKINDS; k++) {
            ip_variant_kind name = all_kinds[(k + a->thread + round) % NKINDS];
            if ((a->thread + round) % 4 == 0 &&
                put_variant(a->id, name, false, "transient", NULL) != IP_OK)
                a->bad++;
            if (put_variant(a->id, name, true, NULL, NULL) != IP_OK)
                a->bad++;
            ip_status st = finish_image(a->id, NULL);
            if (st != IP_OK && st != IP_FAILED_PRECONDITION)
                a->bad++;
        }
    }
    return NULL;
}

static void test_race(void)
{
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_kinds, NKINDS, 0, NULL));
    pthread_t th[8];
    race_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (race_arg){.id = id, .thread = i};
        pthread_create(&th[i], NULL, race_thread, &args[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        EXPECT(args[i].bad == 0);
    }
    Imageproc__GetImageReply *g = NULL;
    CHECK(get_image(id, &g) == IP_OK);
    EXPECT(g->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    EXPECT(g->image->error[0] == '\0');
    EXPECT(g->image->n_variants == 3);
    for (size_t i = 0; i < g->image->n_variants; i++) {
        const Imageproc__Variant *v = g->image->variants[i];
        char key[IP_KEY_MAX];
        variant_key(key, id, v->kind);
        EXPECT(v->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY);
        EXPECT(strcmp(v->object_key, key) == 0 && v->error[0] == '\0');
    }
    msg_free(g);
    Imageproc__FinishImageReply *f = NULL;
    CHECK(finish_image(id, &f) == IP_OK);
    EXPECT(f->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    msg_free(f);
    PGconn *c = pg_connect(test_dsn);
    PGresult *r = sql(c, "SELECT count(*) FROM variants WHERE image_id = '%s'", id);
    EXPECT(strcmp(PQgetvalue(r, 0, 0), "3") == 0);
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
        for (int k = 0; k < NKINDS; k++) {
            ip_status st = put_variant(a->id, all_kinds[k], true, NULL, NULL);
            if (st == IP_OK && was_deleted)
                a->after_delete_ok++;
        }
        ip_status st = finish_image(a->id, NULL);
        if (st == IP_OK && was_deleted)
            a->after_delete_ok++;
        st = mark_processing(a->id, NULL);
        if (st == IP_OK && was_deleted)
            a->after_delete_ok++;
    }
    return NULL;
}

static void test_no_resurrection(void)
{
    for (int rep = 0; rep < 5; rep++) {
        char id[IP_UUID_STRLEN + 1];
        msg_free(create_image(id, all_kinds, NKINDS, 0, NULL));
        EXPECT(mark_processing(id, NULL) == IP_OK);
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
        CHECK(delete_image(id, &d) == IP_OK);
        EXPECT(d->n_object_keys >= 1);
        msg_free(d);
        a.deleted = 1;
        /* Some more rounds of late writes, all NOT_FOUND. */
        for (int i = 0; i < 20; i++) {
            EXPECT(put_variant(id, IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_NOT_FOUND);
            EXPECT(finish_image(id, NULL) == IP_NOT_FOUND);
            EXPECT(mark_processing(id, NULL) == IP_NOT_FOUND);
        }
        a.stop = 1;
        for (int i = 0; i < 3; i++)
            pthread_join(th[i], NULL);
        EXPECT(a.after_delete_ok == 0);
        Imageproc__GetImageReply *g = NULL;
        EXPECT(get_image(id, &g) == IP_NOT_FOUND);
        PGconn *c = pg_connect(test_dsn);
        PGresult *r = sql(c,
                          "SELECT (SELECT count(*) FROM images WHERE id = '%s') +"
                          " (SELECT count(*) FROM variants WHERE image_id = '%s')",
                          id, id);
        EXPECT(strcmp(PQgetvalue(r, 0, 0), "0") == 0);
        PQclear(r);
        PQfinish(c);
    }
}

/* ---- events */

static nng_socket sub_open(void)
{
    nng_socket s;
    CHECK(nng_sub0_open(&s) == 0);
    CHECK(nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0) == 0);
    CHECK(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 200) == 0);
    CHECK(nng_dial(s, events_url, NULL, NNG_FLAG_NONBLOCK) == 0);
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
        CHECK(e != NULL);
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
        msg_free(create_image(warm, all_kinds, NKINDS, 0, NULL));
        Imageproc__StatusEvent *e = next_event(s, warm, 300);
        delete_image(warm, NULL);
        if (e != NULL) {
            imageproc__status_event__free_unpacked(e, NULL);
            return s;
        }
        CHECK(ip_mono_ms() < deadline);
    }
}

static void test_events(void)
{
    nng_socket s = sub_ready();

    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_kinds, NKINDS, 0, NULL));
    Imageproc__MarkEnqueuedRequest mq = IMAGEPROC__MARK_ENQUEUED_REQUEST__INIT;
    mq.id = id;
    Imageproc__MarkEnqueuedReply *mq_rep = NULL;
    CHECK(RPC(mark_enqueued, &mq, &mq_rep) == IP_OK);
    msg_free(mq_rep);
    CHECK(mark_processing(id, NULL) == IP_OK);
    CHECK(mark_processing(id, NULL) == IP_OK); /* no change: no event */
    CHECK(put_variant(id, IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_OK);
    CHECK(put_variant(id, IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_OK); /* no change */
    CHECK(put_variant(id, IP_VARIANT_RESIZED, false, "too big", NULL) == IP_OK);
    CHECK(put_variant(id, IP_VARIANT_WATERMARKED, true, NULL, NULL) == IP_OK);
    CHECK(finish_image(id, NULL) == IP_OK);
    CHECK(put_variant(id, IP_VARIANT_RESIZED, true, NULL, NULL) == IP_OK);
    CHECK(finish_image(id, NULL) == IP_OK);
    CHECK(delete_image(id, NULL) == IP_OK);

    /* The event names the variant as the API does (StatusEvent.variant). */
    static const struct {
        Imageproc__ImageStatus status;
        ip_variant_kind variant; /* IP_VARIANT_NONE: the image as a whole */
        Imageproc__VariantStatus vstatus;
        const char *error;
        bool deleted;
    } want[] = {
        {IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING, IP_VARIANT_NONE, 0, "", false},    /* created */
        {IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING, IP_VARIANT_NONE, 0, "", false},    /* enqueued */
        {IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING, IP_VARIANT_NONE, 0, "", false}, /* processing */
        {IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING, IP_VARIANT_THUMBNAIL,
         IMAGEPROC__VARIANT_STATUS__VARIANT_READY, "", false},
        {IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING, IP_VARIANT_RESIZED,
         IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED, "too big", false},
        {IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING, IP_VARIANT_WATERMARKED,
         IMAGEPROC__VARIANT_STATUS__VARIANT_READY, "", false},
        {IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED, IP_VARIANT_NONE, 0, "resized: too big", false},
        {IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED, IP_VARIANT_RESIZED,
         IMAGEPROC__VARIANT_STATUS__VARIANT_READY, "", false},
        {IMAGEPROC__IMAGE_STATUS__IMAGE_READY, IP_VARIANT_NONE, 0, "", false},
        {0, IP_VARIANT_NONE, 0, "", true},
    };
    int64_t last_seq = 0, last_at = 0;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        Imageproc__StatusEvent *e = next_event(s, id, 3000);
        if (e == NULL) {
            fprintf(stderr, "event %zu missing\n", i);
            ip_test_failures++;
            break;
        }
        bool ok = e->status == want[i].status && e->variant_kind == want[i].variant &&
                  e->variant_status == want[i].vstatus && strcmp(e->error, want[i].error) == 0 &&
                  e->deleted == want[i].deleted && e->seq > last_seq && e->at_us >= last_at;
        if (!ok) {
            fprintf(stderr,
                    "event %zu: status %d variant %d vstatus %d error '%s' deleted %d seq %" PRId64
                    " at %" PRId64 "\n",
                    i, e->status, (int)e->variant_kind, e->variant_status, e->error, e->deleted,
                    e->seq, e->at_us);
            ip_test_failures++;
        }
        last_seq = e->seq;
        last_at = e->at_us;
        imageproc__status_event__free_unpacked(e, NULL);
    }
    Imageproc__StatusEvent *extra = next_event(s, id, 300);
    EXPECT(extra == NULL);
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
            ip_variant_kind name = all_kinds[(r + t) % NKINDS];
            char reason[64];
            snprintf(reason, sizeof(reason), "attempt %d.%d failed", t, r);
            put_variant(id, name, false, reason, NULL);
            if ((r + t) % 3 == 0)
                put_variant(id, name, true, NULL, NULL);
            finish_image(id, NULL);
            mark_processing(id, NULL);
        }
    }
    atomic_fetch_add(&order_done, 1);
    return NULL;
}

static void test_events_order(void)
{
    nng_socket s = sub_ready();
    for (int k = 0; k < ORDER_IMAGES; k++)
        msg_free(create_image(order_ids[k], all_kinds, NKINDS, 0, NULL));
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
            CHECK(e != NULL);
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
                snprintf(last_variant_buf[k], sizeof(last_variant_buf[k]), "%s",
                         e->variant_kind ? ip_variant_name(e->variant_kind) : "");
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
                for (int v = 0; v < NKINDS; v++)
                    EXPECT(put_variant(order_ids[k], all_kinds[v], true, NULL, NULL) == IP_OK);
                EXPECT(finish_image(order_ids[k], NULL) == IP_OK);
            }
            quiet_since = ip_mono_ms();
        }
    }
    fprintf(stderr, "events received: %d (%d %d %d %d)\n", total, count[0], count[1], count[2],
            count[3]);
    EXPECT(disorder == 0);
    for (int k = 0; k < ORDER_IMAGES; k++) {
        EXPECT(count[k] >= 3);
        EXPECT(last_status[k] == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
        EXPECT(last_variant[k] != NULL && last_variant[k][0] == '\0');
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
        a->failed += put_variant(a->id, IP_VARIANT_THUMBNAIL, true, NULL, NULL) != IP_OK;
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
    msg_free(create_image(id, all_kinds, NKINDS, 0, NULL));
    for (int round = 0; round < 3; round++) {
        EXPECT(run_burst(id) == 0); /* warm the pool */
        PGconn *c = pg_connect(test_dsn);
        PGresult *r = sql(c, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                             " WHERE datname = current_database() AND pid <> pg_backend_pid()");
        int killed = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        PQfinish(c);
        EXPECT(killed >= 2);
        int failed = run_burst(id);
        fprintf(stderr, "round %d: %d connections killed, %d of 160 calls failed after\n", round,
                killed, failed);
        EXPECT(failed == 0);
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
    msg_free(create_image(id, all_kinds, NKINDS, 0, NULL));
    Imageproc__GetImageReply *g = NULL;
    /* Warm every pooled connection. */
    for (int i = 0; i < 32; i++) {
        CHECK(get_image(id, &g) == IP_OK);
        msg_free(g);
    }
    CHECK(stack("stop") == 0);

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
        img.requested = all_kinds;
        img.n_requested = NKINDS;
        Imageproc__CreateImageRequest cr = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
        cr.image = &img;
        Imageproc__CreateImageReply *out = NULL;
        t0 = ip_mono_ms();
        st = RPC(create_image, &cr, &out);
        msg_free(out);
        ms = ip_mono_ms() - t0;
        slowest = ms > slowest ? ms : slowest;
        unavailable += st == IP_UNAVAILABLE;
    }
    fprintf(stderr, "while down: %d of 40 UNAVAILABLE, slowest %" PRId64 " ms\n", unavailable,
            slowest);
    EXPECT(unavailable == 40);
    EXPECT(slowest < 1000);

    int started = stack("start");
    CHECK(started == 0);
    /* Back: the service recovers by itself. The pool's connections died with
     * the old server; they are noticed and remade before use, so once the
     * server accepts connections again no call should fail. */
    int64_t t0 = ip_mono_ms();
    ip_status st;
    int errors_after_start = 0;
    while ((st = get_image(id, &g)) != IP_OK) {
        errors_after_start++;
        EXPECT(st == IP_UNAVAILABLE);
        CHECK(ip_mono_ms() - t0 < 30000);
        nng_msleep(50);
    }
    msg_free(g);
    fprintf(stderr, "recovered %" PRId64 " ms after the restart, %d failed calls on the way\n",
            ip_mono_ms() - t0, errors_after_start);
    EXPECT(errors_after_start == 0);
    /* Every connection of the pool works again. */
    for (int i = 0; i < 32; i++) {
        char x[IP_UUID_STRLEN + 1];
        msg_free(create_image(x, all_kinds, NKINDS, 0, NULL));
        EXPECT(get_image(x, &g) == IP_OK);
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
    Imageproc__FinishImageReply *out = NULL;
    int64_t t0 = ip_mono_ms();
    a->st = ip_metadata_finish_image(client, &req, &out, &o, NULL, 0);
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
        ip_variant_kind ops[] = {IP_VARIANT_THUMBNAIL};
        msg_free(create_image(ids[i], ops, 1, 0, NULL));
        EXPECT(put_variant(ids[i], IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_OK);
    }
    char other[IP_UUID_STRLEN + 1];
    msg_free(create_image(other, all_kinds, NKINDS, 0, NULL));
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
        EXPECT(a[i].st == IP_DEADLINE_EXCEEDED);
        EXPECT(a[i].ms < 2000);
    }
    /* The server side gave up too: its connections are free again. */
    int64_t deadline = ip_mono_ms() + 3000;
    Imageproc__GetImageReply *g = NULL;
    ip_status st;
    while ((st = get_image(other, &g)) != IP_OK && ip_mono_ms() < deadline)
        nng_msleep(20);
    EXPECT(st == IP_OK);
    msg_free(g);
    PQclear(sql(c, "ROLLBACK"));
    PQfinish(c);
    /* The abandoned calls changed nothing; a new one finishes the image. */
    for (int i = 0; i < N; i++) {
        CHECK(get_image(ids[i], &g) == IP_OK);
        EXPECT(g->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING);
        msg_free(g);
        Imageproc__FinishImageReply *f = NULL;
        CHECK(finish_image(ids[i], &f) == IP_OK);
        EXPECT(f->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
        msg_free(f);
    }
}

/* ---- the binary itself: starts, serves, stops cleanly on SIGTERM */

/* Runs metadata-svc with `extra` (NAME=value, NULL-terminated) added to the
 * environment, stderr into log_path; returns its pid. */
static pid_t spawn_service(const char *const *extra, const char *log_path, const char *arg)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
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
    CHECK(fd >= 0);
    close(fd);

    /* --config-vars prints the table and exits 0. */
    pid_t pid = spawn_service(NULL, log, "--config-vars");
    EXPECT(wait_exit(pid, 5000) == 0);

    /* A bad configuration: refuses to start, every problem named. */
    const char *bad[] = {"IP_PG_POOL_SIZE=0", "IP_RPC_WORKERS=lots", NULL};
    pid = spawn_service(bad, log, NULL);
    EXPECT(wait_exit(pid, 5000) != 0);
    EXPECT(file_contains(log, "IP_PG_POOL_SIZE") && file_contains(log, "IP_RPC_WORKERS"));

    /* Twice: serves, and the second start applies no migration. */
    for (int run = 0; run < 2; run++) {
        pid = spawn_service(NULL, log, NULL);
        ip_rpc_client *c = NULL;
        ip_rpc_client_opts co = {.urls = "tcp://127.0.0.1:7121", .timeout_ms = 2000};
        CHECK(ip_rpc_client_new(&imageproc__metadata__descriptor, &co, &c) == IP_OK);
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
        Imageproc__GetImageReply *out = NULL;
        EXPECT(ip_metadata_get_image(c, &req, &out, NULL, NULL, 0) == IP_NOT_FOUND);
        ip_rpc_client_free(c);
        kill(pid, SIGTERM);
        EXPECT(wait_exit(pid, 10000) == 0);
        EXPECT(file_contains(log, "\"event\":\"migrations.done\",\"applied\":0"));
        EXPECT(file_contains(log, "service.stopped"));
    }
    unlink(log);
}

/* ---- durability: leases and runs, the sweep, purges, retries */

/* MarkProcessing with a lease and a delivery flag (the reply handed over when
 * rep is not NULL, else freed). */
static ip_status mark_proc(const char *id, int64_t lease_ms, bool new_delivery,
                           Imageproc__MarkProcessingReply **rep)
{
    Imageproc__MarkProcessingRequest req = IMAGEPROC__MARK_PROCESSING_REQUEST__INIT;
    req.id = (char *)id;
    req.lease_ms = lease_ms;
    req.new_delivery = new_delivery;
    Imageproc__MarkProcessingReply *r = NULL;
    ip_status st = RPC(mark_processing, &req, &r);
    HAND_OVER(r, rep);
    return st;
}

/* MarkEnqueued at `at_us` (0 = now), a sweep's requeue or not. */
static ip_status mark_enq(const char *id, int64_t at_us, bool requeue,
                          Imageproc__MarkEnqueuedReply **rep)
{
    Imageproc__MarkEnqueuedRequest req = IMAGEPROC__MARK_ENQUEUED_REQUEST__INIT;
    req.id = (char *)id;
    req.enqueued_at_us = at_us;
    req.requeue = requeue;
    Imageproc__MarkEnqueuedReply *r = NULL;
    ip_status st = RPC(mark_enqueued, &req, &r);
    HAND_OVER(r, rep);
    return st;
}

static ip_status fail_image(const char *id, const char *error)
{
    Imageproc__FailImageRequest req = IMAGEPROC__FAIL_IMAGE_REQUEST__INIT;
    req.id = (char *)id;
    req.error = (char *)error;
    Imageproc__FailImageReply *r = NULL;
    ip_status st = RPC(fail_image, &req, &r);
    msg_free(r);
    return st;
}

ID_CALL(retry_image, Imageproc__RetryImageRequest, IMAGEPROC__RETRY_IMAGE_REQUEST__INIT,
        Imageproc__RetryImageReply)

static ip_status finish_purge(const char *id, const char *error)
{
    Imageproc__FinishPurgeRequest req = IMAGEPROC__FINISH_PURGE_REQUEST__INIT;
    req.image_id = (char *)id;
    req.error = (char *)error;
    Imageproc__FinishPurgeReply *r = NULL;
    ip_status st = RPC(finish_purge, &req, &r);
    msg_free(r);
    return st;
}

static ip_status claim_purges(int limit, int64_t claim_ms, Imageproc__ClaimPurgesReply **rep)
{
    Imageproc__ClaimPurgesRequest req = IMAGEPROC__CLAIM_PURGES_REQUEST__INIT;
    req.limit = limit;
    req.claim_ms = claim_ms;
    *rep = NULL;
    return RPC(claim_purges, &req, rep);
}

/* The image as GetImage answers it (free it); the test ends when that fails. */
static Imageproc__GetImageReply *get_ok(const char *id)
{
    Imageproc__GetImageReply *g = NULL;
    ip_status st = get_image(id, &g);
    CHECKF(st == IP_OK, "GetImage %s: %s %s", id, ip_strerror(st), last_err);
    return g;
}

/* A lease ends within slack_ms of now + ms (one host: the database's clock
 * is ours). */
static bool lease_near(int64_t lease_until_us, int64_t ms, int64_t slack_ms)
{
    int64_t want = ip_now_us() + ms * 1000;
    return lease_until_us > want - slack_ms * 1000 && lease_until_us < want + slack_ms * 1000;
}

/* Deletes the images created in [from_s, from_s + 1 year) (the test's own
 * window of created_at, far in the past so its rows come first in the
 * sweep's oldest-first order). Returns the window's start in microseconds. */
static int64_t clear_window(int64_t from_s)
{
    PGconn *c = pg_connect(test_dsn);
    PQclear(sql(c,
                "DELETE FROM images WHERE created_at >= to_timestamp(%lld)"
                " AND created_at < to_timestamp(%lld) + interval '1 year'",
                (long long)from_s, (long long)from_s));
    PQfinish(c);
    return from_s * INT64_C(1000000);
}

static void test_lease(void)
{
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_kinds, NKINDS, 0, NULL));
    Imageproc__GetImageReply *g = get_ok(id);
    EXPECT(g->image->runs == 0 && g->image->lease_until_us == 0);
    msg_free(g);

    /* Each delivery counts a run; a retry within the delivery does not. */
    Imageproc__MarkProcessingReply *mp = NULL;
    CHECK(mark_proc(id, 30000, true, &mp) == IP_OK);
    EXPECT(mp->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING);
    EXPECT_EQ_INT(mp->image->runs, 1);
    EXPECT(lease_near(mp->image->lease_until_us, 30000, 3000));
    msg_free(mp);
    CHECK(mark_proc(id, 0, false, &mp) == IP_OK); /* 0 = the default 60 s */
    EXPECT_EQ_INT(mp->image->runs, 1);
    EXPECT(lease_near(mp->image->lease_until_us, 60000, 3000));
    msg_free(mp);
    CHECK(mark_proc(id, 0, false, &mp) == IP_OK);
    EXPECT_EQ_INT(mp->image->runs, 1);
    msg_free(mp);
    CHECK(mark_proc(id, 0, true, &mp) == IP_OK);
    EXPECT_EQ_INT(mp->image->runs, 2);
    msg_free(mp);

    /* PutVariant renews a lease that ran out, also on a repeat... */
    CHECK(mark_proc(id, 1, false, NULL) == IP_OK);
    nng_msleep(20);
    CHECK(put_variant(id, IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_OK);
    g = get_ok(id);
    EXPECT(lease_near(g->image->lease_until_us, 60000, 3000));
    msg_free(g);
    CHECK(mark_proc(id, 1, false, NULL) == IP_OK);
    nng_msleep(20);
    CHECK(put_variant(id, IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_OK); /* no-op */
    g = get_ok(id);
    EXPECT(lease_near(g->image->lease_until_us, 60000, 3000));
    msg_free(g);
    /* ...and never shortens a longer one. */
    CHECK(mark_proc(id, 600000, false, NULL) == IP_OK);
    CHECK(put_variant(id, IP_VARIANT_RESIZED, true, NULL, NULL) == IP_OK);
    g = get_ok(id);
    EXPECT(lease_near(g->image->lease_until_us, 600000, 3000));
    EXPECT_EQ_INT(g->image->runs, 2);
    msg_free(g);

    /* Ready: the lease goes; a redelivered job changes nothing. */
    CHECK(put_variant(id, IP_VARIANT_WATERMARKED, true, NULL, NULL) == IP_OK);
    Imageproc__FinishImageReply *fr = NULL;
    CHECK(finish_image(id, &fr) == IP_OK);
    EXPECT(fr->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    EXPECT(fr->image->lease_until_us == 0 && fr->image->runs == 2);
    msg_free(fr);
    CHECK(mark_proc(id, 0, true, &mp) == IP_OK);
    EXPECT(mp->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    EXPECT(mp->image->runs == 2 && mp->image->lease_until_us == 0);
    msg_free(mp);

    /* Failed stays failed: no run, no lease. */
    char f[IP_UUID_STRLEN + 1];
    msg_free(create_image(f, all_kinds, NKINDS, 0, NULL));
    CHECK(mark_proc(f, 0, true, NULL) == IP_OK);
    CHECK(fail_image(f, "undecodable") == IP_OK);
    g = get_ok(f);
    EXPECT(g->image->lease_until_us == 0 && g->image->runs == 1);
    msg_free(g);
    CHECK(mark_proc(f, 0, true, &mp) == IP_OK);
    EXPECT(mp->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED);
    EXPECT(mp->image->runs == 1 && mp->image->lease_until_us == 0);
    EXPECT_EQ_STR(mp->image->error, "undecodable");
    msg_free(mp);

    EXPECT_BAD(mark_proc(id, -1, true, NULL), "lease_ms");
    EXPECT_BAD(mark_proc(id, 3600001, true, NULL), "lease_ms");
    EXPECT(mark_proc(id, 3600000, true, NULL) == IP_OK);
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    EXPECT(mark_proc(unknown, 0, true, NULL) == IP_NOT_FOUND);
}

static void test_requeue(void)
{
    char expired[IP_UUID_STRLEN + 1], live[IP_UUID_STRLEN + 1], pending[IP_UUID_STRLEN + 1];
    msg_free(create_image(expired, all_kinds, NKINDS, 0, NULL));
    msg_free(create_image(live, all_kinds, NKINDS, 0, NULL));
    msg_free(create_image(pending, all_kinds, NKINDS, 0, NULL));
    CHECK(mark_proc(expired, 1, true, NULL) == IP_OK);
    CHECK(mark_proc(live, 60000, true, NULL) == IP_OK);
    nng_msleep(50);
    nng_socket s = sub_ready();

    /* Without requeue an expired lease stays processing: only enqueued_at. */
    Imageproc__MarkEnqueuedReply *rep = NULL;
    CHECK(mark_enq(expired, 0, false, &rep) == IP_OK);
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING);
    EXPECT(rep->image->enqueued_at_us > 0 && rep->image->lease_until_us > 0);
    msg_free(rep);
    Imageproc__StatusEvent *e = next_event(s, expired, 3000);
    EXPECT(e != NULL && e->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING);
    if (e != NULL)
        imageproc__status_event__free_unpacked(e, NULL);

    /* With requeue: back to pending, lease cleared, and an event says so. */
    int64_t at = ip_now_us() - 5000000;
    CHECK(mark_enq(expired, at, true, &rep) == IP_OK);
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING);
    EXPECT(rep->image->lease_until_us == 0 && rep->image->enqueued_at_us == at);
    EXPECT_EQ_INT(rep->image->runs, 1);
    msg_free(rep);
    e = next_event(s, expired, 3000);
    EXPECT(e != NULL && e->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING);
    if (e != NULL)
        imageproc__status_event__free_unpacked(e, NULL);
    Imageproc__GetImageReply *g = get_ok(expired);
    EXPECT(g->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING);
    msg_free(g);
    /* The next delivery counts a run again. */
    Imageproc__MarkProcessingReply *mp = NULL;
    CHECK(mark_proc(expired, 0, true, &mp) == IP_OK);
    EXPECT(mp->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING && mp->image->runs == 2);
    msg_free(mp);

    /* A live lease: the processor is at work; the status stays. */
    g = get_ok(live);
    int64_t lease = g->image->lease_until_us;
    msg_free(g);
    CHECK(mark_enq(live, 0, true, &rep) == IP_OK);
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING);
    EXPECT(rep->image->lease_until_us == lease && rep->image->enqueued_at_us > 0);
    msg_free(rep);

    /* Pending just gets enqueued_at; ready stays ready. */
    CHECK(mark_enq(pending, 0, true, &rep) == IP_OK);
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING &&
           rep->image->enqueued_at_us > 0);
    msg_free(rep);
    char ready[IP_UUID_STRLEN + 1];
    ip_variant_kind one[] = {IP_VARIANT_THUMBNAIL};
    msg_free(create_image(ready, one, 1, 0, NULL));
    CHECK(mark_proc(ready, 1, true, NULL) == IP_OK);
    CHECK(put_variant(ready, IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_OK);
    CHECK(finish_image(ready, NULL) == IP_OK);
    CHECK(mark_enq(ready, 0, true, &rep) == IP_OK);
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    msg_free(rep);
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    EXPECT(mark_enq(unknown, 0, true, NULL) == IP_NOT_FOUND);
    nng_close(s);
}

/* ListStale with the given selections; the ids returned (at most 64) that are
 * in `mine` (n), in order, into got; returns how many. */
static size_t stale_ids(int64_t older_than_us, int64_t enq_older_us, bool leases, int64_t claim_ms,
                        int limit, char mine[][IP_UUID_STRLEN + 1], size_t n,
                        char got[][IP_UUID_STRLEN + 1])
{
    Imageproc__ListStaleRequest req = IMAGEPROC__LIST_STALE_REQUEST__INIT;
    req.older_than_us = older_than_us;
    req.enqueued_older_than_us = enq_older_us;
    req.expired_leases = leases;
    req.claim_ms = claim_ms;
    req.limit = limit;
    Imageproc__ListStaleReply *rep = NULL;
    ip_status st = RPC(list_stale, &req, &rep);
    CHECKF(st == IP_OK, "ListStale: %s %s", ip_strerror(st), last_err);
    size_t k = 0;
    for (size_t i = 0; i < rep->n_images && k < 64; i++)
        for (size_t j = 0; j < n; j++)
            if (strcmp(rep->images[i]->id, mine[j]) == 0)
                snprintf(got[k++], IP_UUID_STRLEN + 1, "%s", mine[j]);
    msg_free(rep);
    return k;
}

/* got[0..n) is exactly want[idx[0]], want[idx[1]], ... (-1 ends idx). */
static void expect_ids(char got[][IP_UUID_STRLEN + 1], size_t n, char want[][IP_UUID_STRLEN + 1],
                       const int *idx, int line)
{
    size_t k = 0;
    bool ok = true;
    for (; idx[k] >= 0; k++)
        ok = ok && k < n && strcmp(got[k], want[idx[k]]) == 0;
    if (!ok || k != n) {
        fprintf(stderr, "line %d: ListStale returned %zu of the test's rows, want %zu in order\n",
                line, n, k);
        ip_test_failures++;
    }
}
#define EXPECT_IDS(got, n, want, ...)                                                              \
    expect_ids((got), (n), (want), (const int[]){__VA_ARGS__, -1}, __LINE__)

static void test_stale_select(void)
{
    /* Rows of 2000 (created_at), one second apart, oldest first:
     * 0 pending never enqueued          (a)
     * 1 pending enqueued long ago       (b)
     * 2 pending enqueued just now       -
     * 3 processing, lease ran out       (c)
     * 4 processing, live lease          -
     * 5 ready, 6 failed                 -
     * 7 pending never enqueued, claimed by another sweep for an hour  -
     * 8 pending never enqueued, a claim that ended                    (a) */
    int64_t base = clear_window(946684800) + 1000000;
    char ids[9][IP_UUID_STRLEN + 1];
    ip_variant_kind one[] = {IP_VARIANT_THUMBNAIL};
    for (int i = 0; i < 9; i++)
        msg_free(create_image(ids[i], one, 1, base + i * INT64_C(1000000), NULL));
    CHECK(mark_enq(ids[1], base, false, NULL) == IP_OK);
    CHECK(mark_enq(ids[2], 0, false, NULL) == IP_OK);
    CHECK(mark_proc(ids[3], 1, true, NULL) == IP_OK);
    CHECK(mark_proc(ids[4], 60000, true, NULL) == IP_OK);
    CHECK(put_variant(ids[5], IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_OK);
    CHECK(finish_image(ids[5], NULL) == IP_OK);
    CHECK(fail_image(ids[6], "broken") == IP_OK);
    PGconn *c = pg_connect(test_dsn);
    PQclear(sql(c, "UPDATE images SET swept_until = now() + interval '1 hour' WHERE id = '%s'",
                ids[7]));
    PQclear(sql(c, "UPDATE images SET swept_until = now() - interval '1 second' WHERE id = '%s'",
                ids[8]));
    PQfinish(c);
    nng_msleep(50);

    char got[64][IP_UUID_STRLEN + 1];
    int64_t ten_min = INT64_C(600000000), century = INT64_C(3155760000000000);
    size_t n = stale_ids(ten_min, 0, false, 0, 1000, ids, 9, got);
    EXPECT_IDS(got, n, ids, 0, 8);
    n = stale_ids(ten_min, ten_min, false, 0, 1000, ids, 9, got);
    EXPECT_IDS(got, n, ids, 0, 1, 8);
    n = stale_ids(ten_min, ten_min, true, 0, 1000, ids, 9, got);
    EXPECT_IDS(got, n, ids, 0, 1, 3, 8);
    n = stale_ids(century, 0, true, 0, 1000, ids, 9, got); /* (c) alone */
    EXPECT_IDS(got, n, ids, 3);
    n = stale_ids(century, ten_min, false, 0, 1000, ids, 9, got); /* (b) alone */
    EXPECT_IDS(got, n, ids, 1);
    n = stale_ids(ten_min, ten_min, true, 0, 2, ids, 9, got); /* the limit keeps the oldest */
    EXPECT_IDS(got, n, ids, 0, 1);

    /* A claim returns the same rows and hides them from every sweep... */
    n = stale_ids(ten_min, ten_min, true, 60000, 4, ids, 9, got);
    EXPECT_IDS(got, n, ids, 0, 1, 3, 8);
    n = stale_ids(ten_min, ten_min, true, 0, 1000, ids, 9, got);
    EXPECT(n == 0);
    /* ...but changes nothing else. */
    Imageproc__GetImageReply *g = get_ok(ids[3]);
    EXPECT(g->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING);
    msg_free(g);

    /* A claim that ends hands the row out again. */
    char late[1][IP_UUID_STRLEN + 1];
    msg_free(create_image(late[0], one, 1, base + INT64_C(100000000), NULL));
    n = stale_ids(ten_min, 0, false, 200, 1000, late, 1, got);
    EXPECT(n == 1);
    EXPECT(stale_ids(ten_min, 0, false, 200, 1000, late, 1, got) == 0);
    nng_msleep(300);
    EXPECT(stale_ids(ten_min, 0, false, 200, 1000, late, 1, got) == 1);

    Imageproc__ListStaleRequest req = IMAGEPROC__LIST_STALE_REQUEST__INIT;
    Imageproc__ListStaleReply *rep = NULL;
    req.limit = 1001;
    EXPECT_BAD(RPC(list_stale, &req, &rep), "limit");
    req.limit = 1000;
    req.claim_ms = -1;
    EXPECT_BAD(RPC(list_stale, &req, &rep), "claim_ms");
    req.claim_ms = INT64_C(3600001);
    EXPECT_BAD(RPC(list_stale, &req, &rep), "claim_ms");
    req.claim_ms = 0;
    req.enqueued_older_than_us = -1;
    EXPECT_BAD(RPC(list_stale, &req, &rep), "enqueued_older_than_us");
}

/* ---- concurrent claimers (sweeps, purgers) */

enum { CLAIM_MAX = 4096, CLAIMERS_MAX = 8 };

/* One claimer: `claim` makes one call, appends the ids it got to ids[] and
 * returns how many (-1 on error); it runs until a call gets nothing. */
typedef struct claimer {
    int (*claim)(struct claimer *c);
    char (*ids)[IP_UUID_STRLEN + 1];
    size_t n;
    int errors;
} claimer;

static void claimer_add(claimer *c, const char *id)
{
    if (c->n < CLAIM_MAX)
        snprintf(c->ids[c->n++], IP_UUID_STRLEN + 1, "%s", id);
}

static void *claimer_run(void *p)
{
    claimer *c = p;
    for (;;) {
        int got = c->claim(c);
        if (got < 0)
            c->errors++;
        if (got <= 0)
            return NULL;
    }
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Runs `threads` claimers of `claim` at once until each gets nothing. Counts
 * (EXPECTs) no errors and no id handed out twice; returns how many ids were
 * handed out and, in *found, how many of mine[0..n) were among them. */
static size_t run_claimers(int (*claim)(claimer *c), int threads, char mine[][IP_UUID_STRLEN + 1],
                           size_t n, size_t *found)
{
    static char got[CLAIMERS_MAX][CLAIM_MAX][IP_UUID_STRLEN + 1];
    static char all[CLAIMERS_MAX * CLAIM_MAX][IP_UUID_STRLEN + 1];
    claimer c[CLAIMERS_MAX];
    pthread_t th[CLAIMERS_MAX];
    CHECK(threads <= CLAIMERS_MAX);
    for (int t = 0; t < threads; t++) {
        c[t] = (claimer){.claim = claim, .ids = got[t]};
        pthread_create(&th[t], NULL, claimer_run, &c[t]);
    }
    size_t total = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        EXPECT_EQ_INT(c[t].errors, 0);
        for (size_t i = 0; i < c[t].n; i++)
            memcpy(all[total++], got[t][i], IP_UUID_STRLEN + 1);
    }
    qsort(all, total, sizeof(*all), cmp_id);
    int dups = 0;
    for (size_t i = 1; i < total; i++)
        dups += strcmp(all[i], all[i - 1]) == 0;
    *found = 0;
    for (size_t i = 0; i < n; i++)
        *found += bsearch(mine[i], all, total, sizeof(*all), cmp_id) != NULL;
    fprintf(stderr, "%zu handed out to %d claimers, %d twice, %zu of the test's %zu\n", total,
            threads, dups, *found, n);
    EXPECT_EQ_INT(dups, 0);
    return total;
}

/* A sweep of every selection claiming batches of 3 for a minute. */
static int sweep_claim(claimer *c)
{
    Imageproc__ListStaleRequest req = IMAGEPROC__LIST_STALE_REQUEST__INIT;
    req.older_than_us = INT64_C(600000000);
    req.enqueued_older_than_us = INT64_C(600000000);
    req.expired_leases = true;
    req.claim_ms = 60000;
    req.limit = 3;
    Imageproc__ListStaleReply *rep = NULL;
    if (ip_metadata_list_stale(client, &req, &rep, NULL, NULL, 0) != IP_OK)
        return -1;
    int got = (int)rep->n_images;
    for (int i = 0; i < got; i++)
        claimer_add(c, rep->images[i]->id);
    msg_free(rep);
    return got;
}

static void test_stale_claim(void)
{
    /* 150 stale rows of 2001 (never enqueued, enqueued long ago, leases run
     * out), and whatever else the database holds: 8 sweepers claim batches of
     * 3 until none is left. No row may go to two of them; all of ours go. */
    enum { ROWS = 150 };
    int64_t base = clear_window(978307200) + 1000000;
    static char mine[ROWS][IP_UUID_STRLEN + 1];
    ip_variant_kind one[] = {IP_VARIANT_THUMBNAIL};
    for (int i = 0; i < ROWS; i++) {
        msg_free(create_image(mine[i], one, 1, base + i * INT64_C(1000), NULL));
        if (i % 3 == 1)
            CHECK(mark_enq(mine[i], base, false, NULL) == IP_OK);
        else if (i % 3 == 2)
            CHECK(mark_proc(mine[i], 1, true, NULL) == IP_OK);
    }
    nng_msleep(50);
    size_t found = 0;
    run_claimers(sweep_claim, 8, mine, ROWS, &found);
    EXPECT_EQ_INT(found, ROWS);
    /* All claimed: another sweep gets none of them. */
    char rest[64][IP_UUID_STRLEN + 1];
    EXPECT(stale_ids(INT64_C(600000000), INT64_C(600000000), true, 0, 1000, mine, ROWS, rest) == 0);
}

/* The purge of `id` as stored: keys joined by '|', prefix, attempts, error;
 * false when there is none. */
static bool purge_row(const char *id, char *keys, size_t keys_len, char *prefix, int *attempts,
                      char *error)
{
    PGconn *c = pg_connect(test_dsn);
    PGresult *r = sql(c,
                      "SELECT array_to_string(object_keys, '|'), prefix, attempts, last_error"
                      " FROM purges WHERE image_id = '%s'",
                      id);
    bool found = PQntuples(r) == 1;
    if (found) {
        snprintf(keys, keys_len, "%s", PQgetvalue(r, 0, 0));
        snprintf(prefix, IP_KEY_MAX, "%s", PQgetvalue(r, 0, 1));
        *attempts = atoi(PQgetvalue(r, 0, 2));
        snprintf(error, 256, "%s", PQgetvalue(r, 0, 3));
    }
    PQclear(r);
    PQfinish(c);
    return found;
}

static long long count_of(const char *what, const char *id)
{
    PGconn *c = pg_connect(test_dsn);
    PGresult *r = sql(c, "SELECT count(*) FROM %s = '%s'", what, id);
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return n;
}

static void test_delete_purge(void)
{
    char id[IP_UUID_STRLEN + 1], keys[1024], prefix[IP_KEY_MAX], error[256];
    int attempts = -1;
    msg_free(create_image(id, all_kinds, NKINDS, 0, NULL));
    CHECK(put_variant(id, IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_OK);
    CHECK(put_variant(id, IP_VARIANT_WATERMARKED, true, NULL, NULL) == IP_OK);
    CHECK(put_variant(id, IP_VARIANT_RESIZED, false, "boom", NULL) == IP_OK);

    /* A delete that fails (the purge cannot be recorded) changes nothing. */
    PGconn *c = pg_connect(test_dsn);
    PQclear(sql(c, "CREATE OR REPLACE FUNCTION meta_test_refuse_purge() RETURNS trigger"
                   " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'purge refused'; END $$"));
    PQclear(sql(c, "DROP TRIGGER IF EXISTS meta_test_refuse ON purges"));
    PQclear(sql(c,
                "CREATE TRIGGER meta_test_refuse BEFORE INSERT ON purges FOR EACH ROW"
                " WHEN (NEW.image_id = '%s') EXECUTE FUNCTION meta_test_refuse_purge()",
                id));
    ip_status st = delete_image(id, NULL);
    PQclear(sql(c, "DROP TRIGGER meta_test_refuse ON purges"));
    PQfinish(c);
    EXPECTF(st != IP_OK && strstr(last_err, "purge refused") != NULL, "delete: %s %s",
            ip_strerror(st), last_err);
    Imageproc__GetImageReply *g = get_ok(id);
    EXPECT(g->image->n_variants == 3);
    msg_free(g);
    EXPECT(count_of("variants WHERE image_id", id) == 3);
    EXPECT(!purge_row(id, keys, sizeof(keys), prefix, &attempts, error));

    /* The delete: the row is gone and the purge is there, with the same keys. */
    Imageproc__DeleteImageReply *d = NULL;
    CHECK(delete_image(id, &d) == IP_OK);
    char k0[IP_KEY_MAX], k1[IP_KEY_MAX], k2[IP_KEY_MAX], want_prefix[IP_KEY_MAX], joined[1024];
    CHECK(ip_key_original(k0, id) == IP_OK);
    variant_key(k1, id, IP_VARIANT_THUMBNAIL);
    variant_key(k2, id, IP_VARIANT_WATERMARKED);
    CHECK(ip_key_variant_prefix(want_prefix, id) == IP_OK);
    snprintf(joined, sizeof(joined), "%s|%s|%s", k0, k1, k2);
    EXPECT(d->n_object_keys == 3);
    EXPECT_EQ_STR(d->purge_prefix, want_prefix);
    msg_free(d);
    EXPECT(get_image(id, NULL) == IP_NOT_FOUND);
    EXPECT(count_of("images WHERE id", id) == 0 && count_of("variants WHERE image_id", id) == 0);
    CHECK(purge_row(id, keys, sizeof(keys), prefix, &attempts, error));
    EXPECT_EQ_STR(keys, joined);
    EXPECT_EQ_STR(prefix, want_prefix);
    EXPECT(attempts == 0 && error[0] == '\0');

    /* Again: NOT_FOUND, and the purge stays one record. The id cannot come
     * back while its purge is pending (the purge would remove its objects). */
    EXPECT(delete_image(id, NULL) == IP_NOT_FOUND);
    EXPECT(count_of("purges WHERE image_id", id) == 1);
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    img.id = id;
    img.requested = all_kinds;
    img.n_requested = NKINDS;
    Imageproc__CreateImageRequest cr = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    cr.image = &img;
    Imageproc__CreateImageReply *out = NULL;
    EXPECT(RPC(create_image, &cr, &out) == IP_ALREADY_EXISTS);
    EXPECT(finish_purge(id, "") == IP_OK);
    CHECK(RPC(create_image, &cr, &out) == IP_OK);
    msg_free(out);

    /* An image with no variant stored: the original alone, and the prefix. */
    CHECK(delete_image(id, &d) == IP_OK);
    EXPECT(d->n_object_keys == 1 && strcmp(d->object_keys[0], k0) == 0);
    msg_free(d);
    CHECK(purge_row(id, keys, sizeof(keys), prefix, &attempts, error));
    EXPECT_EQ_STR(keys, k0);
    EXPECT_EQ_STR(prefix, want_prefix);
    EXPECT(finish_purge(id, "") == IP_OK);
}

/* Whether `id` is among the purges of a claim; its purge into *p. */
static bool claimed(const Imageproc__ClaimPurgesReply *rep, const char *id,
                    const Imageproc__Purge **p)
{
    for (size_t i = 0; i < rep->n_purges; i++)
        if (strcmp(rep->purges[i]->image_id, id) == 0) {
            if (p != NULL)
                *p = rep->purges[i];
            return true;
        }
    return false;
}

/* A purger claiming batches of 2 for a minute. */
static int purge_claim(claimer *c)
{
    Imageproc__ClaimPurgesRequest req = IMAGEPROC__CLAIM_PURGES_REQUEST__INIT;
    req.limit = 2;
    req.claim_ms = 60000;
    Imageproc__ClaimPurgesReply *rep = NULL;
    if (ip_metadata_claim_purges(client, &req, &rep, NULL, NULL, 0) != IP_OK)
        return -1;
    int got = (int)rep->n_purges;
    for (int i = 0; i < got; i++)
        claimer_add(c, rep->purges[i]->image_id);
    msg_free(rep);
    return got;
}

/* Deletes a fresh image with every variant ready: its id into id. */
static void deleted_image(char id[IP_UUID_STRLEN + 1])
{
    msg_free(create_image(id, all_kinds, NKINDS, 0, NULL));
    for (int k = 0; k < NKINDS; k++)
        CHECK(put_variant(id, all_kinds[k], true, NULL, NULL) == IP_OK);
    CHECK(delete_image(id, NULL) == IP_OK);
}

static void test_purges(void)
{
    /* The purges of this database are the tests' own: start with none. */
    PGconn *c = pg_connect(test_dsn);
    PQclear(sql(c, "DELETE FROM purges"));
    PQfinish(c);
    char p[4][IP_UUID_STRLEN + 1], keys[1024], prefix[IP_KEY_MAX], error[256];
    int attempts = 0;
    for (int i = 0; i < 3; i++)
        deleted_image(p[i]);

    /* Oldest first, claimed: attempts count, nothing handed out twice. */
    Imageproc__ClaimPurgesReply *rep = NULL;
    CHECK(claim_purges(2, 60000, &rep) == IP_OK);
    CHECK(rep->n_purges == 2);
    EXPECT_EQ_STR(rep->purges[0]->image_id, p[0]);
    EXPECT_EQ_STR(rep->purges[1]->image_id, p[1]);
    const Imageproc__Purge *x = rep->purges[0];
    char k0[IP_KEY_MAX], want_prefix[IP_KEY_MAX];
    CHECK(ip_key_original(k0, p[0]) == IP_OK);
    CHECK(ip_key_variant_prefix(want_prefix, p[0]) == IP_OK);
    EXPECT(x->n_object_keys == 1 + NKINDS && strcmp(x->object_keys[0], k0) == 0);
    EXPECT_EQ_STR(x->prefix, want_prefix);
    EXPECT(x->attempts == 1 && x->last_error[0] == '\0');
    EXPECT(x->created_at_us > ip_now_us() - 60000000 && x->created_at_us <= ip_now_us() + 1000000);
    msg_free(rep);
    CHECK(claim_purges(10, 60000, &rep) == IP_OK);
    EXPECT(rep->n_purges == 1 && claimed(rep, p[2], NULL));
    msg_free(rep);
    CHECK(claim_purges(10, 60000, &rep) == IP_OK);
    EXPECT(rep->n_purges == 0);
    msg_free(rep);

    /* Success deletes the record; an error keeps it, with the error. */
    EXPECT(finish_purge(p[0], "") == IP_OK);
    EXPECT(!purge_row(p[0], keys, sizeof(keys), prefix, &attempts, error));
    EXPECT(finish_purge(p[0], "") == IP_NOT_FOUND);
    char upper[IP_UUID_STRLEN + 1];
    for (int i = 0; i <= IP_UUID_STRLEN; i++)
        upper[i] = (char)(p[1][i] >= 'a' && p[1][i] <= 'f' ? p[1][i] - 32 : p[1][i]);
    EXPECT(finish_purge(upper, "S3: unavailable") == IP_OK);
    CHECK(purge_row(p[1], keys, sizeof(keys), prefix, &attempts, error));
    EXPECT(attempts == 1);
    EXPECT_EQ_STR(error, "S3: unavailable");
    CHECK(claim_purges(10, 60000, &rep) == IP_OK); /* still claimed */
    EXPECT(rep->n_purges == 0);
    msg_free(rep);

    /* A short claim: not before it ends, then again with the last error. */
    deleted_image(p[3]);
    CHECK(claim_purges(10, 300, &rep) == IP_OK);
    EXPECT(rep->n_purges == 1 && claimed(rep, p[3], NULL));
    msg_free(rep);
    EXPECT(finish_purge(p[3], "timeout") == IP_OK);
    CHECK(claim_purges(10, 300, &rep) == IP_OK);
    EXPECT(rep->n_purges == 0);
    msg_free(rep);
    nng_msleep(400);
    CHECK(claim_purges(10, 300, &rep) == IP_OK);
    const Imageproc__Purge *y = NULL;
    EXPECT(rep->n_purges == 1 && claimed(rep, p[3], &y));
    if (y != NULL)
        EXPECT(y->attempts == 2 && strcmp(y->last_error, "timeout") == 0);
    msg_free(rep);
    EXPECT(finish_purge(p[3], "") == IP_OK);

    EXPECT_BAD(claim_purges(0, 1000, &rep), "limit");
    EXPECT_BAD(claim_purges(1001, 1000, &rep), "limit");
    EXPECT_BAD(claim_purges(10, -1, &rep), "claim_ms");
    EXPECT_BAD(claim_purges(10, INT64_C(3600001), &rep), "claim_ms");
    EXPECT_BAD(finish_purge("nope", ""), "image_id");
    EXPECT_BAD(finish_purge(p[1], "\xc3"), "error");
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    EXPECT(finish_purge(unknown, "") == IP_NOT_FOUND);
    EXPECT(finish_purge(unknown, "x") == IP_NOT_FOUND);
}

static ip_status reserve_upload(const char *id, const char *key, int64_t after_ms)
{
    Imageproc__ReserveUploadRequest req = IMAGEPROC__RESERVE_UPLOAD_REQUEST__INIT;
    req.id = (char *)id;
    req.original_key = (char *)key;
    req.purge_after_ms = after_ms;
    Imageproc__ReserveUploadReply *r = NULL;
    ip_status st = RPC(reserve_upload, &req, &r);
    msg_free(r);
    return st;
}

/* CreateImage of the given id, requesting every variant. */
static ip_status create_with_id(const char *id)
{
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    img.id = (char *)id;
    img.content_type = "image/jpeg";
    img.size_bytes = 1;
    img.width = img.height = 10;
    img.requested = all_kinds;
    img.n_requested = NKINDS;
    Imageproc__CreateImageRequest req = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    req.image = &img;
    Imageproc__CreateImageReply *r = NULL;
    ip_status st = RPC(create_image, &req, &r);
    msg_free(r);
    return st;
}

static long purge_rows(PGconn *c, const char *id)
{
    PGresult *r = sql(c, "SELECT count(*) FROM purges WHERE image_id = '%s'", id);
    long n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* ReserveUpload: the row's CreateImage drops the reservation; one that never
 * got its row is handed out as a purge of the original once due, and then
 * the id is refused. Only the id's own original may be reserved. */
static void test_reserve(void)
{
    PGconn *c = pg_connect(test_dsn);
    char a[IP_UUID_STRLEN + 1], b[IP_UUID_STRLEN + 1], ka[IP_KEY_MAX], kb[IP_KEY_MAX];
    ip_uuid_v7_str(a);
    ip_uuid_v7_str(b);
    CHECK(ip_key_original(ka, a) == IP_OK && ip_key_original(kb, b) == IP_OK);

    EXPECT_BAD(reserve_upload(a, kb, 60000), "original_key");
    EXPECT_BAD(reserve_upload(a, ka, 10), "purge_after_ms");
    EXPECT_ST(reserve_upload(a, ka, 60000), IP_OK, last_err);
    EXPECT_ST(reserve_upload(a, ka, 60000), IP_ALREADY_EXISTS, last_err);
    EXPECT_EQ_INT(purge_rows(c, a), 1);
    EXPECT_ST(create_with_id(a), IP_OK, last_err);
    EXPECT_EQ_INT(purge_rows(c, a), 0);

    /* A reservation whose row never came: due, claimed, the original purged. */
    EXPECT_ST(reserve_upload(b, kb, 60000), IP_OK, last_err);
    PQclear(sql(c, "UPDATE purges SET next_at = now() - interval '1 s' WHERE image_id = '%s'", b));
    Imageproc__ClaimPurgesReply *rep = NULL;
    const Imageproc__Purge *p = NULL;
    CHECK(claim_purges(1000, 60000, &rep) == IP_OK);
    EXPECT(claimed(rep, b, &p) && p->n_object_keys == 1 && strcmp(p->object_keys[0], kb) == 0 &&
           p->prefix[0] == '\0');
    msg_free(rep);
    EXPECT_ST(create_with_id(b), IP_ALREADY_EXISTS, last_err);
    EXPECT(finish_purge(b, "") == IP_OK);
    PQfinish(c);
}

static void test_purges_race(void)
{
    /* 40 purges, 6 purgers claiming batches of 2 until none is left: each
     * purge goes to exactly one of them. */
    enum { NPURGE = 40 };
    PGconn *c = pg_connect(test_dsn);
    PQclear(sql(c, "DELETE FROM purges"));
    PQfinish(c);
    static char mine[NPURGE][IP_UUID_STRLEN + 1];
    for (int i = 0; i < NPURGE; i++) {
        msg_free(create_image(mine[i], all_kinds, NKINDS, 0, NULL));
        CHECK(delete_image(mine[i], NULL) == IP_OK);
    }
    size_t found = 0;
    EXPECT_EQ_INT(run_claimers(purge_claim, 6, mine, NPURGE, &found), NPURGE);
    EXPECT_EQ_INT(found, NPURGE);
}

static void test_retry(void)
{
    /* A failed image after two runs, one variant ready, enqueued long ago. */
    int64_t base = clear_window(1009843200) + 1000000; /* 2002 */
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_kinds, NKINDS, base, NULL));
    CHECK(mark_enq(id, base, false, NULL) == IP_OK);
    CHECK(mark_proc(id, 0, true, NULL) == IP_OK);
    CHECK(mark_proc(id, 0, true, NULL) == IP_OK);
    CHECK(put_variant(id, IP_VARIANT_THUMBNAIL, true, NULL, NULL) == IP_OK);
    CHECK(put_variant(id, IP_VARIANT_RESIZED, false, "too large", NULL) == IP_OK);
    CHECK(fail_image(id, "gave up after 2 runs") == IP_OK);
    nng_socket s = sub_ready();

    Imageproc__RetryImageReply *rep = NULL;
    CHECKF(retry_image(id, &rep) == IP_OK, "RetryImage: %s", last_err);
    const Imageproc__Image *img = rep->image;
    EXPECT(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING);
    EXPECT(img->error[0] == '\0' && img->runs == 0);
    EXPECT(img->enqueued_at_us == 0 && img->lease_until_us == 0);
    EXPECT(variant_of(img, IP_VARIANT_THUMBNAIL)->status ==
           IMAGEPROC__VARIANT_STATUS__VARIANT_READY);
    for (int k = 1; k < NKINDS; k++) {
        const Imageproc__Variant *v = variant_of(img, all_kinds[k]);
        EXPECT(v->status == IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING && v->error[0] == '\0');
    }
    msg_free(rep);
    Imageproc__StatusEvent *e = next_event(s, id, 3000);
    EXPECT(e != NULL && e->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING && !e->deleted);
    if (e != NULL)
        imageproc__status_event__free_unpacked(e, NULL);
    nng_close(s);

    /* Never enqueued now: the sweep would find it if the caller's enqueue failed. */
    char got[64][IP_UUID_STRLEN + 1], mine[1][IP_UUID_STRLEN + 1];
    snprintf(mine[0], sizeof(mine[0]), "%s", id);
    EXPECT(stale_ids(INT64_C(600000000), 0, false, 0, 1000, mine, 1, got) == 1);

    /* Only a failed image is retried. */
    EXPECT(retry_image(id, NULL) == IP_FAILED_PRECONDITION);
    CHECK(mark_enq(id, 0, false, NULL) == IP_OK);
    Imageproc__MarkProcessingReply *mp = NULL;
    CHECK(mark_proc(id, 0, true, &mp) == IP_OK);
    EXPECT(mp->image->runs == 1);
    msg_free(mp);
    EXPECT(retry_image(id, NULL) == IP_FAILED_PRECONDITION);
    for (int k = 1; k < NKINDS; k++)
        CHECK(put_variant(id, all_kinds[k], true, NULL, NULL) == IP_OK);
    CHECK(finish_image(id, NULL) == IP_OK);
    EXPECT(retry_image(id, NULL) == IP_FAILED_PRECONDITION);
    Imageproc__GetImageReply *g = get_ok(id);
    EXPECT(g->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    msg_free(g);
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    EXPECT(retry_image(unknown, NULL) == IP_NOT_FOUND);
    EXPECT_BAD(retry_image("", NULL), "id");
    EXPECT_BAD(retry_image("0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5aZ", NULL), "id");
}

/* ------------------------------------------------------------- owners and API keys */

/* Hashes of owner tokens and keys (64 lowercase hex), as ip_access_hash makes them. */
#define OWNER_A "4f596011b7dacf318adee3f2581d96905e4a64e92200304c351171f28d3d36f1"

/* Creates an image with a fresh id and `owner_hash` (NULL: none given) at
 * created_at `at_us`; returns CreateImage's status, the reply to *rep. */
static ip_status create_owned(char id[IP_UUID_STRLEN + 1], const char *owner_hash, int64_t at_us,
                              Imageproc__CreateImageReply **rep)
{
    ip_variant_kind kinds[] = {IP_VARIANT_THUMBNAIL};
    ip_uuid_v7_str(id);
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    img.id = id;
    img.created_at_us = at_us;
    img.filename = "owned.jpg";
    img.content_type = "image/jpeg";
    img.requested = kinds;
    img.n_requested = 1;
    img.owner_hash = (char *)owner_hash;
    Imageproc__CreateImageRequest req = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    req.image = &img;
    Imageproc__CreateImageReply *r = NULL;
    ip_status st = RPC(create_image, &req, &r);
    HAND_OVER(r, rep);
    return st;
}

/* The first page of ListImages from just after `at_us` (a window of the test's own). */
static Imageproc__ListImagesReply *list_from(int64_t at_us, int limit)
{
    Imageproc__ListImagesRequest req = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
    req.last_created_at_us = at_us + 1;
    req.last_id = "ffffffff-ffff-ffff-ffff-ffffffffffff";
    req.limit = limit;
    Imageproc__ListImagesReply *rep = NULL;
    ip_status st = RPC(list_images, &req, &rep);
    CHECKF(st == IP_OK, "ListImages: %s %s", ip_strerror(st), last_err);
    return rep;
}

static void test_owner(void)
{
    /* The owner's hash is stored and comes back from every read and every
     * write whose reply is the image; an image without one has "". */
    int64_t base = clear_window(1041379200) + 1000000; /* 2003 */
    char owned[IP_UUID_STRLEN + 1], plain[IP_UUID_STRLEN + 1];
    Imageproc__CreateImageReply *c = NULL;
    CHECKF(create_owned(owned, OWNER_A, base + 2, &c) == IP_OK, "CreateImage: %s", last_err);
    EXPECT_EQ_STR(c->image->owner_hash, OWNER_A);
    msg_free(c);
    CHECKF(create_owned(plain, NULL, base + 1, &c) == IP_OK, "CreateImage: %s", last_err);
    EXPECT_EQ_STR(c->image->owner_hash, "");
    msg_free(c);

    Imageproc__GetImageReply *g = get_ok(owned);
    EXPECT_EQ_STR(g->image->owner_hash, OWNER_A);
    msg_free(g);
    g = get_ok(plain);
    EXPECT_EQ_STR(g->image->owner_hash, "");
    msg_free(g);

    Imageproc__ListImagesReply *l = list_from(base + 2, 2);
    CHECK_EQ_INT(l->n_images, 2);
    EXPECT_EQ_STR(l->images[0]->id, owned);
    EXPECT_EQ_STR(l->images[0]->owner_hash, OWNER_A);
    EXPECT_EQ_STR(l->images[1]->id, plain);
    EXPECT_EQ_STR(l->images[1]->owner_hash, "");
    msg_free(l);

    Imageproc__MarkProcessingReply *mp = NULL;
    CHECK(mark_proc(owned, 0, true, &mp) == IP_OK);
    EXPECT_EQ_STR(mp->image->owner_hash, OWNER_A);
    msg_free(mp);
    Imageproc__MarkEnqueuedReply *me = NULL;
    CHECK(mark_enq(owned, 0, false, &me) == IP_OK);
    EXPECT_EQ_STR(me->image->owner_hash, OWNER_A);
    msg_free(me);
    CHECK(fail_image(owned, "undecodable") == IP_OK);
    Imageproc__RetryImageReply *rr = NULL;
    CHECK(retry_image(owned, &rr) == IP_OK);
    EXPECT_EQ_STR(rr->image->owner_hash, OWNER_A);
    msg_free(rr);

    /* Not a hash: refused before anything is stored. */
    char bad[IP_UUID_STRLEN + 1];
    static const char *const not_hashes[] = {
        "4F596011B7DACF318ADEE3F2581D96905E4A64E92200304C351171F28D3D36F1",
        OWNER_A "0",
        "ipo_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    };
    for (size_t i = 0; i < sizeof(not_hashes) / sizeof(not_hashes[0]); i++) {
        EXPECT_BAD(create_owned(bad, not_hashes[i], base + 3, NULL), "image.owner_hash");
        EXPECT(get_image(bad, NULL) == IP_NOT_FOUND);
    }
    /* PostgreSQL stores no owner as NULL, not as "". */
    PGconn *t = pg_connect(test_dsn);
    PGresult *r = sql(t, "SELECT owner_hash IS NULL FROM images WHERE id = '%s'", plain);
    CHECK(PQntuples(r) == 1);
    EXPECT_EQ_STR(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    PQfinish(t);
}

/* Keys made by this run, removed at its end (the table is shared by runs). */
static char keys_made[16][IP_UUID_STRLEN + 1];
static size_t nkeys_made;

static void drop_keys(void)
{
    PGconn *t = pg_connect(test_dsn);
    for (size_t i = 0; i < nkeys_made; i++)
        PQclear(sql(t, "DELETE FROM api_keys WHERE id = '%s'", keys_made[i]));
    PQfinish(t);
    nkeys_made = 0;
}

/* CreateApiKey of a fresh id; `hash` NULL makes a fresh one. */
static ip_status create_key(char id[IP_UUID_STRLEN + 1], const char *name, const char *hash,
                            const Imageproc__ApiScope *scopes, size_t n,
                            Imageproc__CreateApiKeyReply **rep)
{
    char h[65], prefix[16];
    ip_uuid_v4_str(id);
    if (hash == NULL) { /* any 64 hex digits will do: the hash of a key never made */
        char a[IP_UUID_STRLEN + 1], b[IP_UUID_STRLEN + 1];
        ip_uuid_v4_str(a);
        ip_uuid_v4_str(b);
        snprintf(h, sizeof(h), "%.8s%.4s%.4s%.4s%.12s%.8s%.4s%.4s%.4s%.12s", a, a + 9, a + 14,
                 a + 19, a + 24, b, b + 9, b + 14, b + 19, b + 24);
        hash = h;
    }
    snprintf(prefix, sizeof(prefix), "ipk_%.8s", id);
    Imageproc__ApiKey k = IMAGEPROC__API_KEY__INIT;
    k.id = id;
    k.name = (char *)name;
    k.prefix = prefix;
    k.scopes = (Imageproc__ApiScope *)scopes;
    k.n_scopes = n;
    Imageproc__CreateApiKeyRequest req = IMAGEPROC__CREATE_API_KEY_REQUEST__INIT;
    req.key = &k;
    req.hash = (char *)hash;
    Imageproc__CreateApiKeyReply *r = NULL;
    ip_status st = RPC(create_api_key, &req, &r);
    if (st == IP_OK && nkeys_made < 16)
        snprintf(keys_made[nkeys_made++], IP_UUID_STRLEN + 1, "%s", id);
    HAND_OVER(r, rep);
    return st;
}

static ip_status lookup_key(const char *hash, Imageproc__LookupApiKeyReply **rep)
{
    Imageproc__LookupApiKeyRequest req = IMAGEPROC__LOOKUP_API_KEY_REQUEST__INIT;
    req.hash = (char *)hash;
    Imageproc__LookupApiKeyReply *r = NULL;
    ip_status st = RPC(lookup_api_key, &req, &r);
    HAND_OVER(r, rep);
    return st;
}

ID_CALL(revoke_api_key, Imageproc__RevokeApiKeyRequest, IMAGEPROC__REVOKE_API_KEY_REQUEST__INIT,
        Imageproc__RevokeApiKeyReply)

/* The place of key `id` in a ListApiKeys reply, or -1. */
static int key_index(const Imageproc__ListApiKeysReply *l, const char *id)
{
    for (size_t i = 0; i < l->n_keys; i++)
        if (strcmp(l->keys[i]->id, id) == 0)
            return (int)i;
    return -1;
}

static Imageproc__ListApiKeysReply *list_keys(bool include_revoked)
{
    Imageproc__ListApiKeysRequest req = IMAGEPROC__LIST_API_KEYS_REQUEST__INIT;
    req.include_revoked = include_revoked;
    Imageproc__ListApiKeysReply *l = NULL;
    ip_status st = RPC(list_api_keys, &req, &l);
    CHECKF(st == IP_OK, "ListApiKeys: %s %s", ip_strerror(st), last_err);
    return l;
}

#define SC(x) IMAGEPROC__API_SCOPE__API_SCOPE_##x

static void test_api_keys(void)
{
    atexit(drop_keys);
    PGconn *t = pg_connect(test_dsn); /* a key an interrupted run left */
    PQclear(sql(t, "DELETE FROM api_keys WHERE hash = '" OWNER_A "'"));
    PQfinish(t);
    /* Made: the reply is the stored key, scopes in canonical order. */
    const Imageproc__ApiScope up_read[] = {SC(UPLOAD), SC(READ)};
    char a[IP_UUID_STRLEN + 1], b[IP_UUID_STRLEN + 1], dup[IP_UUID_STRLEN + 1];
    Imageproc__CreateApiKeyReply *c = NULL;
    int64_t before = ip_now_us();
    CHECKF(create_key(a, "ci uploader", OWNER_A, up_read, 2, &c) == IP_OK, "CreateApiKey: %s",
           last_err);
    EXPECT_EQ_STR(c->key->id, a);
    EXPECT_EQ_STR(c->key->name, "ci uploader");
    EXPECT(strncmp(c->key->prefix, "ipk_", 4) == 0 && strlen(c->key->prefix) == 12);
    CHECK_EQ_INT(c->key->n_scopes, 2);
    EXPECT(c->key->scopes[0] == SC(READ) && c->key->scopes[1] == SC(UPLOAD));
    EXPECT(c->key->created_at_us >= before - 1000000 && c->key->created_at_us <= ip_now_us());
    EXPECT_EQ_INT(c->key->revoked_at_us, 0);
    msg_free(c);
    const Imageproc__ApiScope admin[] = {SC(ADMIN)};
    CHECKF(create_key(b, "admin", NULL, admin, 1, NULL) == IP_OK, "CreateApiKey: %s", last_err);

    /* A taken hash or id: ALREADY_EXISTS. */
    EXPECT_ST(create_key(dup, "again", OWNER_A, admin, 1, NULL), IP_ALREADY_EXISTS, last_err);
    Imageproc__ApiKey k = IMAGEPROC__API_KEY__INIT;
    k.id = a;
    k.name = "same id";
    k.prefix = "ipk_sameid00";
    k.scopes = (Imageproc__ApiScope *)admin;
    k.n_scopes = 1;
    Imageproc__CreateApiKeyRequest req = IMAGEPROC__CREATE_API_KEY_REQUEST__INIT;
    req.key = &k;
    req.hash = "0000000000000000000000000000000000000000000000000000000000000000";
    Imageproc__CreateApiKeyReply *out = NULL;
    EXPECT_ST(RPC(create_api_key, &req, &out), IP_ALREADY_EXISTS, last_err);

    /* Looked up by hash. */
    Imageproc__LookupApiKeyReply *lk = NULL;
    CHECKF(lookup_key(OWNER_A, &lk) == IP_OK, "LookupApiKey: %s", last_err);
    EXPECT_EQ_STR(lk->key->id, a);
    EXPECT(lk->key->n_scopes == 2 && lk->key->scopes[1] == SC(UPLOAD));
    msg_free(lk);
    EXPECT_ST(lookup_key("1111111111111111111111111111111111111111111111111111111111111111", NULL),
              IP_NOT_FOUND, last_err);

    /* Listed oldest first. */
    Imageproc__ListApiKeysReply *l = list_keys(false);
    int ia = key_index(l, a), ib = key_index(l, b);
    EXPECT(ia >= 0 && ib > ia);
    for (size_t i = 1; i < l->n_keys; i++)
        EXPECT(l->keys[i - 1]->created_at_us <= l->keys[i]->created_at_us);
    msg_free(l);

    /* Revoked: no longer looked up, kept in the list with include_revoked. */
    Imageproc__RevokeApiKeyReply *rv = NULL;
    CHECKF(revoke_api_key(a, &rv) == IP_OK, "RevokeApiKey: %s", last_err);
    int64_t revoked_at = rv->key->revoked_at_us;
    EXPECT(revoked_at > 0 && revoked_at <= ip_now_us());
    EXPECT_EQ_STR(rv->key->name, "ci uploader");
    msg_free(rv);
    EXPECT_ST(lookup_key(OWNER_A, NULL), IP_NOT_FOUND, last_err);
    l = list_keys(false);
    EXPECT(key_index(l, a) < 0 && key_index(l, b) >= 0);
    msg_free(l);
    l = list_keys(true);
    ia = key_index(l, a);
    EXPECT(ia >= 0 && ia < key_index(l, b));
    if (ia >= 0)
        EXPECT_EQ_INT(l->keys[ia]->revoked_at_us, revoked_at);
    msg_free(l);

    /* Twice: OK, the first time kept. Unknown: NOT_FOUND. */
    CHECKF(revoke_api_key(a, &rv) == IP_OK, "RevokeApiKey again: %s", last_err);
    EXPECT_EQ_INT(rv->key->revoked_at_us, revoked_at);
    msg_free(rv);
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v4_str(unknown);
    EXPECT_ST(revoke_api_key(unknown, NULL), IP_NOT_FOUND, last_err);
    /* The revoked key's hash stays taken. */
    EXPECT_ST(create_key(dup, "reuse", OWNER_A, admin, 1, NULL), IP_ALREADY_EXISTS, last_err);

    /* Bad requests name their field; nothing is stored. */
    const Imageproc__ApiScope twice[] = {SC(READ), SC(READ)};
    const Imageproc__ApiScope none[] = {SC(UNSPECIFIED)};
    EXPECT_BAD(create_key(dup, "", NULL, admin, 1, NULL), "key.name");
    EXPECT_BAD(create_key(dup, "x", NULL, twice, 2, NULL), "key.scopes");
    EXPECT_BAD(create_key(dup, "x", NULL, none, 1, NULL), "key.scopes");
    EXPECT_BAD(create_key(dup, "x", NULL, admin, 0, NULL), "key.scopes");
    EXPECT_BAD(create_key(dup, "x", "ABC", admin, 1, NULL), "hash");
    k.id = "not-a-uuid";
    EXPECT_BAD(RPC(create_api_key, &req, &out), "key.id");
    k.id = dup;
    k.prefix = "ipo_notakey0";
    EXPECT_BAD(RPC(create_api_key, &req, &out), "key.prefix");
    EXPECT_BAD(lookup_key("", NULL), "hash");
    EXPECT_BAD(lookup_key(OWNER_A "0", NULL), "hash");
    EXPECT_BAD(revoke_api_key("nope", NULL), "id");
    l = list_keys(true);
    EXPECT(key_index(l, dup) < 0);
    msg_free(l);
}

static void test_migrate_access(void)
{
    /* A database at 0002 with images: 0003 applies, the images have no owner
     * (NULL, read as ""), and keys can be made at once. */
    const char *db = "imageproc_test_meta_access";
    PGconn *c = pg_connect(base_dsn);
    PQclear(sql(c, "DROP DATABASE IF EXISTS imageproc_test_meta_access"));
    PQclear(sql(c, "CREATE DATABASE imageproc_test_meta_access"));
    char dsn[1024];
    dsn_with_db(db, dsn, sizeof(dsn));
    PGconn *t = pg_connect(dsn);
    CHECK(meta_migrations_count >= 3 && strcmp(meta_migrations[2].version, "0003_access") == 0);
    for (int m = 0; m < 2; m++) {
        PGresult *r = PQexec(t, meta_migrations[m].sql);
        CHECKF(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", meta_migrations[m].version,
               PQresultErrorMessage(r));
        PQclear(r);
        PQclear(sql(t, "INSERT INTO schema_migrations (version) VALUES ('%s')",
                    meta_migrations[m].version));
    }
    const char *old_id = "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5b1";
    PQclear(sql(t,
                "INSERT INTO images (id, created_at, ops, status, original_key) VALUES"
                " ('%s', now(), '{thumbnail}', 'ready', 'o/%s')",
                old_id, old_id));
    PQclear(sql(t,
                "INSERT INTO variants (image_id, name, status) VALUES ('%s', 'thumbnail',"
                " 'pending')",
                old_id));

    start_service_on(dsn);
    PGresult *r = sql(t, "SELECT version FROM schema_migrations ORDER BY version");
    EXPECT_EQ_INT(PQntuples(r), (long long)meta_migrations_count);
    PQclear(r);
    r = sql(t, "SELECT owner_hash IS NULL FROM images WHERE id = '%s'", old_id);
    CHECK(PQntuples(r) == 1);
    EXPECT_EQ_STR(PQgetvalue(r, 0, 0), "t");
    PQclear(r);

    Imageproc__GetImageReply *g = get_ok(old_id);
    EXPECT_EQ_STR(g->image->owner_hash, "");
    EXPECT(g->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY && g->image->n_variants == 1);
    msg_free(g);
    Imageproc__ListImagesReply *l = list_from(ip_now_us() + 60000000, 10);
    CHECK_EQ_INT(l->n_images, 1);
    EXPECT_EQ_STR(l->images[0]->owner_hash, "");
    msg_free(l);
    /* The new image of the upgraded database keeps its owner. */
    char id[IP_UUID_STRLEN + 1];
    EXPECT_ST(create_owned(id, OWNER_A, 0, NULL), IP_OK, last_err);
    g = get_ok(id);
    EXPECT_EQ_STR(g->image->owner_hash, OWNER_A);
    msg_free(g);
    const Imageproc__ApiScope admin[] = {SC(ADMIN)};
    char kid[IP_UUID_STRLEN + 1];
    EXPECT_ST(create_key(kid, "first admin", OWNER_A, admin, 1, NULL), IP_OK, last_err);
    nkeys_made = 0; /* the database goes below */
    stop_service();

    PQfinish(t);
    PQclear(sql(c, "DROP DATABASE IF EXISTS imageproc_test_meta_access"));
    PQfinish(c);
}

/* ---- presets, files, placeholders, regeneration */

/* A fresh database `db` (dropped first) with the service on it, migrated. */
static void fresh_service(const char *db)
{
    PGconn *c = pg_connect(base_dsn);
    PQclear(sql(c, "DROP DATABASE IF EXISTS %s", db)); /* a constant of this file */
    PQclear(sql(c, "CREATE DATABASE %s", db));
    PQfinish(c);
    static char dsn[1024];
    dsn_with_db(db, dsn, sizeof(dsn));
    start_service_on(dsn);
}

static void drop_fresh(const char *db)
{
    stop_service();
    PGconn *c = pg_connect(base_dsn);
    PQclear(sql(c, "DROP DATABASE IF EXISTS %s", db));
    PQfinish(c);
}

static Imageproc__GetPresetsReply *get_presets_ok(void)
{
    Imageproc__GetPresetsRequest req = IMAGEPROC__GET_PRESETS_REQUEST__INIT;
    Imageproc__GetPresetsReply *rep = NULL;
    ip_status st = RPC(get_presets, &req, &rep);
    CHECKF(st == IP_OK, "GetPresets: %s %s", ip_strerror(st), last_err);
    CHECK(rep->n_presets == NKINDS);
    for (size_t i = 0; i < NKINDS; i++)
        CHECK(rep->presets[i]->kind == all_kinds[i]); /* canonical order */
    return rep;
}

/* The current version of `kind`'s preset. */
static int preset_version(ip_variant_kind kind)
{
    Imageproc__GetPresetsReply *p = get_presets_ok();
    int v = p->presets[kind - 1]->version;
    msg_free(p);
    return v;
}

static ip_status set_preset(const Imageproc__Preset *p, Imageproc__SetPresetReply **rep)
{
    Imageproc__SetPresetRequest req = IMAGEPROC__SET_PRESET_REQUEST__INIT;
    req.preset = (Imageproc__Preset *)p;
    Imageproc__SetPresetReply *r = NULL;
    ip_status st = RPC(set_preset, &req, &r);
    HAND_OVER(r, rep);
    return st;
}

/* A new version of `kind`'s preset: its JPEG quality moved by one. Returns
 * the new version. */
static int bump_preset(ip_variant_kind kind)
{
    Imageproc__GetPresetsReply *p = get_presets_ok();
    Imageproc__Preset *pr = p->presets[kind - 1];
    pr->jpeg_quality = pr->jpeg_quality < 100 ? pr->jpeg_quality + 1 : 1;
    Imageproc__SetPresetReply *r = NULL;
    CHECK(set_preset(pr, &r) == IP_OK && r->changed);
    int v = r->preset->version;
    EXPECT_EQ_INT(v, pr->version + 1);
    msg_free(r);
    msg_free(p);
    return v;
}

/* A ready variant with files of fmts[0..n) (the primary first), every key of
 * `id` at `version`. */
typedef struct files_variant {
    Imageproc__Variant v;
    Imageproc__VariantFile f[IP_FORMAT_COUNT];
    Imageproc__VariantFile *fp[IP_FORMAT_COUNT];
    char keys[IP_FORMAT_COUNT][IP_KEY_MAX];
} files_variant;

static void files_variant_make(files_variant *x, const char *id, ip_variant_kind kind, int version,
                               const ip_format_def *const *fmts, size_t n)
{
    memset(x, 0, sizeof(*x));
    x->v = (Imageproc__Variant)IMAGEPROC__VARIANT__INIT;
    x->v.kind = kind;
    x->v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    x->v.width = 300 + (int)kind;
    x->v.height = 200;
    x->v.preset_version = version;
    for (size_t i = 0; i < n; i++) {
        x->f[i] = (Imageproc__VariantFile)IMAGEPROC__VARIANT_FILE__INIT;
        CHECK(ip_key_variant_version(x->keys[i], id, kind, fmts[i], version) == IP_OK);
        x->f[i].format = (char *)fmts[i]->name;
        x->f[i].object_key = x->keys[i];
        x->f[i].size_bytes = 1000 * (int64_t)(i + 1) + (int64_t)version;
        x->fp[i] = &x->f[i];
    }
    x->v.object_key = x->keys[0];
    x->v.format = (char *)fmts[0]->name;
    x->v.size_bytes = x->f[0].size_bytes;
    x->v.files = x->fp;
    x->v.n_files = n;
}

static const ip_format_def *const three_formats[] = {&ip_format_jpeg, &ip_format_webp,
                                                     &ip_format_avif};

/* FinishImage with vs[0..n) and the placeholder. */
static ip_status finish_files(const char *id, files_variant *vs, size_t n, bool regenerate,
                              const char *thumbhash, const char *color,
                              Imageproc__FinishImageReply **rep)
{
    Imageproc__Variant *vp[NKINDS];
    for (size_t i = 0; i < n; i++)
        vp[i] = &vs[i].v;
    Imageproc__FinishImageRequest req = IMAGEPROC__FINISH_IMAGE_REQUEST__INIT;
    req.id = (char *)id;
    req.variants = vp;
    req.n_variants = n;
    req.regenerate = regenerate;
    req.thumbhash = (char *)(thumbhash ? thumbhash : "");
    req.dominant_color = (char *)(color ? color : "");
    Imageproc__FinishImageReply *r = NULL;
    ip_status st = RPC(finish_image, &req, &r);
    HAND_OVER(r, rep);
    return st;
}

/* A ready image of every kind, each variant with three files at its preset's
 * current version (vs: room for NKINDS). */
static void ready_with_files(char id[IP_UUID_STRLEN + 1], files_variant *vs)
{
    msg_free(create_image(id, all_kinds, NKINDS, 0, NULL));
    Imageproc__MarkProcessingReply *mp = NULL;
    CHECK(mark_processing(id, &mp) == IP_OK);
    CHECK(mp->n_presets == NKINDS);
    for (size_t i = 0; i < NKINDS; i++)
        files_variant_make(&vs[i], id, all_kinds[i], mp->presets[i]->version, three_formats, 3);
    msg_free(mp);
    Imageproc__FinishImageReply *f = NULL;
    ip_status st = finish_files(id, vs, NKINDS, false, "3OcRJYB4d3h/iIeHeEh3eIhw+j2w", "#a1b2c3", &f);
    CHECKF(st == IP_OK, "FinishImage: %s %s", ip_strerror(st), last_err);
    CHECK(f->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    msg_free(f);
}

/* The variant `got` has exactly the files of `want`, its version, and `stale`. */
static void expect_files(const Imageproc__Variant *got, const files_variant *want, bool stale,
                         int line)
{
    bool ok = got != NULL && got->n_files == want->v.n_files &&
              got->preset_version == want->v.preset_version && got->stale == stale &&
              strcmp(got->object_key, want->v.object_key) == 0;
    for (size_t i = 0; ok && i < got->n_files; i++)
        ok = strcmp(got->files[i]->format, want->f[i].format) == 0 &&
             strcmp(got->files[i]->object_key, want->f[i].object_key) == 0 &&
             got->files[i]->size_bytes == want->f[i].size_bytes;
    if (!ok) {
        fprintf(stderr, "line %d: variant %d: files/version/stale not as recorded (stale %d)\n",
                line, want->v.kind, got ? got->stale : -1);
        ip_test_failures++;
    }
}

static void test_presets_default(void)
{
    /* A fresh database: every preset is the version-1 default of
     * common/ip_presets.c, nothing is stale, and MarkProcessing hands out the same. */
    fresh_service("imageproc_test_meta_presets");
    Imageproc__GetPresetsReply *p = get_presets_ok();
    for (size_t i = 0; i < NKINDS; i++) {
        Imageproc__Preset def;
        Imageproc__Watermark wm;
        CHECK(ip_preset_default(all_kinds[i], &def, &wm) == IP_OK);
        EXPECT(ip_preset_same(p->presets[i], &def));
        EXPECT_EQ_INT(p->presets[i]->version, 1);
        EXPECT(p->presets[i]->updated_at_us > 0);
        /* Field by field too: a watermark with nothing to draw would compare equal to none. */
        EXPECT_EQ_INT(p->presets[i]->watermark != NULL, def.watermark != NULL);
        if (def.watermark != NULL && p->presets[i]->watermark != NULL) {
            const Imageproc__Watermark *w = p->presets[i]->watermark;
            EXPECT(strcmp(w->text, def.watermark->text) == 0 && w->logo_key[0] == '\0' &&
                   w->position == def.watermark->position && w->margin == def.watermark->margin &&
                   w->scale == def.watermark->scale && w->opacity == def.watermark->opacity);
        }
    }
    EXPECT_EQ_INT(p->stale_variants, 0);
    msg_free(p);
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_kinds, NKINDS, 0, NULL));
    Imageproc__MarkProcessingReply *mp = NULL;
    CHECK(mark_processing(id, &mp) == IP_OK);
    EXPECT(mp->n_presets == NKINDS);
    for (size_t i = 0; i < mp->n_presets && i < NKINDS; i++) {
        Imageproc__Preset def;
        Imageproc__Watermark wm;
        CHECK(ip_preset_default(all_kinds[i], &def, &wm) == IP_OK);
        EXPECT(mp->presets[i]->kind == all_kinds[i] && ip_preset_same(mp->presets[i], &def));
    }
    msg_free(mp);
    drop_fresh("imageproc_test_meta_presets");
}

typedef struct preset_race {
    int width;
    ip_status st;
} preset_race;

static void *preset_race_thread(void *arg)
{
    preset_race *a = arg;
    Imageproc__GetPresetsReply *p = get_presets_ok();
    Imageproc__Preset *pr = p->presets[IP_VARIANT_RESIZED - 1];
    pr->width = a->width;
    Imageproc__GetPresetsRequest dummy = IMAGEPROC__GET_PRESETS_REQUEST__INIT;
    (void)dummy;
    Imageproc__SetPresetRequest req = IMAGEPROC__SET_PRESET_REQUEST__INIT;
    req.preset = pr;
    Imageproc__SetPresetReply *r = NULL;
    char err[256];
    a->st = ip_metadata_set_preset(client, &req, &r, NULL, err, sizeof(err));
    if (a->st == IP_OK && !r->changed)
        a->st = IP_INTERNAL;
    msg_free(r);
    msg_free(p);
    return NULL;
}

static void test_set_preset(void)
{
    Imageproc__GetPresetsReply *p = get_presets_ok();
    Imageproc__Preset *pr = p->presets[IP_VARIANT_RESIZED - 1];
    int v0 = pr->version;
    /* The same definition: nothing changes (version and updated_at ignored). */
    Imageproc__SetPresetReply *r = NULL;
    pr->version = 99;
    CHECK(set_preset(pr, &r) == IP_OK);
    EXPECT(!r->changed && r->preset->version == v0);
    msg_free(r);
    /* A new one: version + 1, stored as given, read back equal. */
    Imageproc__Watermark wm = IMAGEPROC__WATERMARK__INIT;
    wm.logo_key = "p/logo/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.png";
    wm.text = "";
    wm.position = IMAGEPROC__WATERMARK_POSITION__WATERMARK_TOP_LEFT;
    wm.margin = 0.07;
    wm.scale = 0.123456789;
    wm.opacity = 0.3;
    Imageproc__Watermark *own_wm = pr->watermark; /* p's, freed with it */
    pr->watermark = &wm;
    pr->avif = !pr->avif;
    pr->width = pr->width == 1000 ? 1001 : 1000;
    CHECK(set_preset(pr, &r) == IP_OK);
    EXPECT(r->changed && r->preset->version == v0 + 1 && ip_preset_same(r->preset, pr));
    msg_free(r);
    Imageproc__GetPresetsReply *q = get_presets_ok();
    EXPECT(ip_preset_same(q->presets[IP_VARIANT_RESIZED - 1], pr));
    EXPECT_EQ_INT(q->presets[IP_VARIANT_RESIZED - 1]->version, v0 + 1);
    msg_free(q);
    CHECK(set_preset(pr, &r) == IP_OK); /* again: no new version */
    EXPECT(!r->changed && r->preset->version == v0 + 1);
    msg_free(r);
    /* Invalid ones change nothing. */
    pr->width = 0;
    EXPECT_BAD(set_preset(pr, NULL), "width");
    pr->width = 640;
    wm.logo_key = "o/whatever";
    EXPECT_BAD(set_preset(pr, NULL), "logo_key");
    wm.logo_key = "";
    wm.opacity = 1.5;
    EXPECT_BAD(set_preset(pr, NULL), "opacity");
    wm.opacity = 0.3;
    pr->kind = IP_VARIANT_NONE;
    EXPECT_BAD(set_preset(pr, NULL), "kind");
    EXPECT_BAD(set_preset(NULL, NULL), "preset");
    EXPECT_EQ_INT(preset_version(IP_VARIANT_RESIZED), v0 + 1);
    pr->watermark = own_wm;
    msg_free(p);
    /* Eight concurrent SetPresets of different definitions: eight versions. */
    preset_race a[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        a[i].width = 2000 + i;
        pthread_create(&th[i], NULL, preset_race_thread, &a[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        EXPECT(a[i].st == IP_OK);
    }
    EXPECT_EQ_INT(preset_version(IP_VARIANT_RESIZED), v0 + 1 + 8);
}

/* stale_variants as GetPresets counts it, and as SQL counts it by the definition. */
static void expect_stale_count(PGconn *c, int line)
{
    Imageproc__GetPresetsReply *p = get_presets_ok();
    PGresult *r = sql(c, "SELECT count(*) FROM variants v JOIN presets p ON p.name = v.name"
                         " WHERE v.status = 'ready' AND greatest(v.preset_version, 1) < p.version");
    long long want = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (p->stale_variants != want) {
        fprintf(stderr, "line %d: stale_variants %lld, SQL counts %lld\n", line,
                (long long)p->stale_variants, want);
        ip_test_failures++;
    }
    msg_free(p);
}

static void test_stale_flags(void)
{
    PGconn *c = pg_connect(test_dsn);
    char id[IP_UUID_STRLEN + 1];
    files_variant vs[NKINDS];
    ready_with_files(id, vs);
    Imageproc__GetImageReply *g = get_ok(id);
    for (size_t i = 0; i < NKINDS; i++)
        expect_files(variant_of(g->image, all_kinds[i]), &vs[i], false, __LINE__);
    msg_free(g);
    expect_stale_count(c, __LINE__);
    /* The thumbnail's preset moves on: that variant alone is stale, in
     * GetImage and in ListImages. */
    bump_preset(IP_VARIANT_THUMBNAIL);
    g = get_ok(id);
    for (size_t i = 0; i < NKINDS; i++)
        expect_files(variant_of(g->image, all_kinds[i]), &vs[i],
                     all_kinds[i] == IP_VARIANT_THUMBNAIL, __LINE__);
    Imageproc__ListImagesRequest lr = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
    lr.last_created_at_us = g->image->created_at_us + 1;
    lr.last_id = "00000000-0000-0000-0000-000000000000";
    lr.limit = 1;
    Imageproc__ListImagesReply *l = NULL;
    CHECK(RPC(list_images, &lr, &l) == IP_OK);
    CHECK(l->n_images == 1 && strcmp(l->images[0]->id, id) == 0);
    for (size_t i = 0; i < NKINDS; i++)
        expect_files(variant_of(l->images[0], all_kinds[i]), &vs[i],
                     all_kinds[i] == IP_VARIANT_THUMBNAIL, __LINE__);
    EXPECT(strcmp(l->images[0]->thumbhash, "3OcRJYB4d3h/iIeHeEh3eIhw+j2w") == 0 &&
           strcmp(l->images[0]->dominant_color, "#a1b2c3") == 0);
    msg_free(l);
    msg_free(g);
    expect_stale_count(c, __LINE__);
    PQfinish(c);
}

static void test_finish_files(void)
{
    nng_socket s = sub_ready();
    char id[IP_UUID_STRLEN + 1];
    files_variant vs[NKINDS];
    ready_with_files(id, vs);
    Imageproc__GetImageReply *g = get_ok(id);
    EXPECT(strcmp(g->image->thumbhash, "3OcRJYB4d3h/iIeHeEh3eIhw+j2w") == 0 &&
           strcmp(g->image->dominant_color, "#a1b2c3") == 0);
    for (size_t i = 0; i < NKINDS; i++)
        expect_files(variant_of(g->image, all_kinds[i]), &vs[i], false, __LINE__);
    int64_t updated = g->image->updated_at_us;
    msg_free(g);
    /* A rerun of the same job: the same rows, no event. */
    Imageproc__StatusEvent *e = NULL;
    while ((e = next_event(s, id, 300)) != NULL)
        msg_free(e);
    Imageproc__FinishImageReply *f = NULL;
    CHECK(finish_files(id, vs, NKINDS, false, NULL, NULL, &f) == IP_OK);
    EXPECT(f->image->updated_at_us == updated);
    msg_free(f);
    EXPECT((e = next_event(s, id, 300)) == NULL);
    msg_free(e);

    /* Bad files are refused before anything is written. */
    char id2[IP_UUID_STRLEN + 1];
    msg_free(create_image(id2, all_kinds, NKINDS, 0, NULL));
    CHECK(mark_processing(id2, NULL) == IP_OK);
    files_variant bad[NKINDS];
    for (size_t i = 0; i < NKINDS; i++)
        files_variant_make(&bad[i], id2, all_kinds[i], 2, three_formats, 3);
    bad[1].f[2].object_key = bad[1].keys[1];
    EXPECT_BAD(finish_files(id2, bad, NKINDS, false, NULL, NULL, NULL),
               "variants[1].files[2].object_key");
    files_variant_make(&bad[1], id, all_kinds[1], 2, three_formats, 3); /* another image's keys */
    EXPECT_BAD(finish_files(id2, bad, NKINDS, false, NULL, NULL, NULL),
               "variants[1].object_key");
    files_variant_make(&bad[1], id2, all_kinds[1], 2, three_formats, 3);
    files_variant_make(&bad[0], id2, all_kinds[0], 1, three_formats, 3);
    bad[0].v.preset_version = 0; /* the keys of 0 and 1 are the same: the version is the fault */
    EXPECT_BAD(finish_files(id2, bad, NKINDS, false, NULL, NULL, NULL),
               "variants[0].preset_version");
    files_variant_make(&bad[0], id2, all_kinds[0], 2, three_formats, 3);
    EXPECT_BAD(finish_files(id2, bad, NKINDS, false, "abc", NULL, NULL), "thumbhash");
    EXPECT_BAD(finish_files(id2, bad, NKINDS, false, NULL, "#ABCDEF", NULL), "dominant_color");
    g = get_ok(id2);
    EXPECT(g->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING &&
           g->image->thumbhash[0] == '\0');
    for (size_t i = 0; i < g->image->n_variants; i++)
        EXPECT(g->image->variants[i]->status == IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING &&
               g->image->variants[i]->n_files == 0);
    msg_free(g);

    /* PutVariant takes files too; one without files (an older processor)
     * reads as its primary alone, version 0. */
    Imageproc__PutVariantRequest pv = IMAGEPROC__PUT_VARIANT_REQUEST__INIT;
    pv.image_id = id2;
    pv.variant = &bad[0].v;
    Imageproc__PutVariantReply *pr = NULL;
    CHECK(RPC(put_variant, &pv, &pr) == IP_OK);
    expect_files(pr->variant, &bad[0], 2 < preset_version(bad[0].v.kind), __LINE__);
    msg_free(pr);
    CHECK(put_variant(id2, IP_VARIANT_RESIZED, true, NULL, NULL) == IP_OK);
    g = get_ok(id2);
    const Imageproc__Variant *old = variant_of(g->image, IP_VARIANT_RESIZED);
    EXPECT(old->n_files == 1 && old->preset_version == 0 &&
           strcmp(old->files[0]->object_key, old->object_key) == 0 &&
           strcmp(old->files[0]->format, "jpeg") == 0 && old->files[0]->size_bytes == 2048);
    msg_free(g);
    nng_close(s);
}

static void test_regenerate(void)
{
    PGconn *c = pg_connect(test_dsn);
    nng_socket s = sub_ready();
    char id[IP_UUID_STRLEN + 1];
    files_variant vs[NKINDS];
    ready_with_files(id, vs);
    Imageproc__StatusEvent *e = NULL;
    while ((e = next_event(s, id, 300)) != NULL)
        msg_free(e);
    Imageproc__GetImageReply *before = get_ok(id);

    /* MarkProcessing of a regeneration only reads: the image, the presets. */
    Imageproc__MarkProcessingRequest mr = IMAGEPROC__MARK_PROCESSING_REQUEST__INIT;
    mr.id = id;
    mr.regenerate = true;
    mr.new_delivery = true;
    Imageproc__MarkProcessingReply *mp = NULL;
    CHECK(RPC(mark_processing, &mr, &mp) == IP_OK);
    EXPECT(mp->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY &&
           mp->image->runs == before->image->runs &&
           mp->image->updated_at_us == before->image->updated_at_us && mp->n_presets == NKINDS);
    msg_free(mp);

    /* The resized preset moves on; the regeneration replaces that variant:
     * new keys (version N), webp only, the old files in the purge record. */
    int v = bump_preset(IP_VARIANT_RESIZED);
    files_variant nv;
    const ip_format_def *two[] = {&ip_format_jpeg, &ip_format_webp};
    files_variant_make(&nv, id, IP_VARIANT_RESIZED, v, two, 2);
    nv.v.width = 999;
    Imageproc__FinishImageReply *f = NULL;
    ip_status st = finish_files(id, &nv, 1, true, "AAAA", "#000000", &f);
    CHECKF(st == IP_OK, "regenerate: %s %s", ip_strerror(st), last_err);
    EXPECT(f->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    expect_files(variant_of(f->image, IP_VARIANT_RESIZED), &nv, false, __LINE__);
    EXPECT(variant_of(f->image, IP_VARIANT_RESIZED)->width == 999);
    expect_files(variant_of(f->image, IP_VARIANT_THUMBNAIL),
                 &vs[IP_VARIANT_THUMBNAIL - 1],
                 vs[IP_VARIANT_THUMBNAIL - 1].v.preset_version <
                     preset_version(IP_VARIANT_THUMBNAIL),
                 __LINE__);
    EXPECT(strcmp(f->image->thumbhash, "AAAA") == 0 &&
           strcmp(f->image->dominant_color, "#000000") == 0);
    msg_free(f);
    /* One event: the image, ready. */
    e = next_event(s, id, 3000);
    EXPECT(e != NULL && e->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY &&
           e->variant_kind == IP_VARIANT_NONE && !e->deleted);
    msg_free(e);
    EXPECT((e = next_event(s, id, 300)) == NULL);
    msg_free(e);
    /* The purge record: the three old files of resized, none of the new. */
    const files_variant *was = &vs[IP_VARIANT_RESIZED - 1];
    PGresult *r = sql(c, "SELECT array_to_string(object_keys, ' '), prefix, reservation"
                         " FROM purges WHERE image_id = '%s'", id);
    CHECK(PQntuples(r) == 1);
    char want[3 * IP_KEY_MAX + 4];
    snprintf(want, sizeof(want), "%s %s %s", was->keys[0], was->keys[1], was->keys[2]);
    EXPECT_EQ_STR(PQgetvalue(r, 0, 0), want);
    EXPECT(PQgetvalue(r, 0, 1)[0] == '\0' && strcmp(PQgetvalue(r, 0, 2), "f") == 0);
    PQclear(r);
    /* A second regeneration at the same version keeps its keys out of the purge. */
    CHECK(finish_files(id, &nv, 1, true, NULL, NULL, NULL) == IP_OK);
    r = sql(c, "SELECT array_to_string(object_keys, ' ') FROM purges WHERE image_id = '%s'", id);
    EXPECT_EQ_STR(PQgetvalue(r, 0, 0), want);
    PQclear(r);
    /* One made by an older version (a regeneration finishing late) does not
     * undo the newer: the stored variant stays, the late one's files are purged. */
    files_variant late;
    const ip_format_def *avif_too[] = {&ip_format_jpeg, &ip_format_avif};
    files_variant_make(&late, id, IP_VARIANT_RESIZED, v - 1, avif_too, 2);
    CHECK(finish_files(id, &late, 1, true, NULL, NULL, &f) == IP_OK);
    expect_files(variant_of(f->image, IP_VARIANT_RESIZED), &nv, false, __LINE__);
    msg_free(f);
    r = sql(c, "SELECT array_to_string(object_keys, ' ') FROM purges WHERE image_id = '%s'", id);
    EXPECT_EQ_STR(PQgetvalue(r, 0, 0), want); /* the same keys: avif of v - 1 was there */
    PQclear(r);
    /* A variant not requested, a failed one, and an image that is not ready:
     * refused, nothing changes. */
    char id2[IP_UUID_STRLEN + 1];
    ip_variant_kind thumb[] = {IP_VARIANT_THUMBNAIL};
    msg_free(create_image(id2, thumb, 1, 0, NULL));
    files_variant t2;
    files_variant_make(&t2, id2, IP_VARIANT_THUMBNAIL, 2, two, 2);
    EXPECT(finish_files(id2, &t2, 1, true, NULL, NULL, NULL) == IP_FAILED_PRECONDITION);
    mr.id = id2;
    EXPECT(RPC(mark_processing, &mr, &mp) == IP_FAILED_PRECONDITION);
    Imageproc__GetImageReply *g2 = get_ok(id2);
    EXPECT(g2->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING && g2->image->runs == 0 &&
           g2->image->variants[0]->status == IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING);
    msg_free(g2);
    files_variant_make(&t2, id, IP_VARIANT_THUMBNAIL, 2, two, 2);
    nv.v.kind = IP_VARIANT_WATERMARKED; /* keys of resized: refused by the key check */
    EXPECT_BAD(finish_files(id, &nv, 1, true, NULL, NULL, NULL), "variants[0].object_key");
    msg_free(before);
    nng_close(s);
    PQfinish(c);
}

/* Pages through ListRegenerate and compares with `truth` (SQL ids in order). */
static void check_regen_pages(PGconn *c, bool stale_only, int limit, const char *truth_sql)
{
    PGresult *t = sql(c, "%s", truth_sql);
    int want = PQntuples(t), got = 0, pages = 0;
    char after[IP_UUID_STRLEN + 1] = "";
    for (;;) {
        Imageproc__ListRegenerateRequest req = IMAGEPROC__LIST_REGENERATE_REQUEST__INIT;
        req.stale_only = stale_only;
        req.after_id = after;
        req.limit = limit;
        Imageproc__ListRegenerateReply *rep = NULL;
        ip_status st = RPC(list_regenerate, &req, &rep);
        CHECKF(st == IP_OK, "ListRegenerate: %s %s", ip_strerror(st), last_err);
        EXPECT(rep->n_images <= (size_t)limit);
        for (size_t i = 0; i < rep->n_images; i++, got++) {
            const Imageproc__Image *img = rep->images[i];
            if (got >= want || strcmp(img->id, PQgetvalue(t, got, 0)) != 0) {
                fprintf(stderr, "ListRegenerate(stale_only %d) #%d: %s, want %s\n", stale_only,
                        got, img->id, got < want ? PQgetvalue(t, got, 0) : "(end)");
                ip_test_failures++;
                msg_free(rep);
                PQclear(t);
                return;
            }
            EXPECT(img->original_key[0] != '\0' && img->n_requested >= 1 && img->n_variants == 0);
            snprintf(after, sizeof(after), "%s", img->id);
        }
        bool more = rep->has_more;
        msg_free(rep);
        pages++;
        if (!more)
            break;
        CHECK(pages < 100000);
    }
    EXPECT_EQ_INT(got, want);
    PQclear(t);
}

static void test_list_regenerate(void)
{
    PGconn *c = pg_connect(test_dsn);
    /* Some ready images with current variants, then one preset moves on:
     * every ready image with a variant of that kind made before is stale. */
    char ids[6][IP_UUID_STRLEN + 1];
    files_variant vs[NKINDS];
    for (int i = 0; i < 5; i++)
        ready_with_files(ids[i], vs);
    msg_free(create_image(ids[5], all_kinds, NKINDS, 0, NULL)); /* pending */
    check_regen_pages(c, true, 7,
                      "SELECT i.id FROM images i WHERE i.status = 'ready' AND EXISTS (SELECT 1"
                      " FROM variants v JOIN presets p ON p.name = v.name WHERE v.image_id = i.id"
                      " AND v.status = 'ready' AND greatest(v.preset_version, 1) < p.version)"
                      " ORDER BY i.id");
    bump_preset(IP_VARIANT_WATERMARKED);
    PGresult *r = sql(c, "SELECT count(*) FROM images i WHERE id IN ('%s','%s','%s','%s','%s')",
                      ids[0], ids[1], ids[2], ids[3], ids[4]);
    EXPECT_EQ_STR(PQgetvalue(r, 0, 0), "5");
    PQclear(r);
    const char *stale_truth =
        "SELECT i.id FROM images i WHERE i.status = 'ready' AND EXISTS (SELECT 1"
        " FROM variants v JOIN presets p ON p.name = v.name WHERE v.image_id = i.id"
        " AND v.status = 'ready' AND greatest(v.preset_version, 1) < p.version) ORDER BY i.id";
    check_regen_pages(c, true, 7, stale_truth);
    check_regen_pages(c, true, 1000, stale_truth);
    check_regen_pages(c, false, 50, "SELECT id FROM images WHERE status = 'ready' ORDER BY id");
    /* ids: the ready ones among them, by id; unknown and pending ones absent. */
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    char *list[] = {ids[3], unknown, ids[5], ids[1]};
    Imageproc__ListRegenerateRequest req = IMAGEPROC__LIST_REGENERATE_REQUEST__INIT;
    req.ids = list;
    req.n_ids = 4;
    req.limit = 1;
    Imageproc__ListRegenerateReply *rep = NULL;
    CHECK(RPC(list_regenerate, &req, &rep) == IP_OK);
    CHECK(rep->n_images == 2 && !rep->has_more);
    const char *lo = strcmp(ids[1], ids[3]) < 0 ? ids[1] : ids[3];
    const char *hi = lo == ids[1] ? ids[3] : ids[1];
    EXPECT(strcmp(rep->images[0]->id, lo) == 0 && strcmp(rep->images[1]->id, hi) == 0);
    msg_free(rep);
    /* Bounds. */
    req.n_ids = 0;
    req.limit = 0;
    EXPECT_BAD(RPC(list_regenerate, &req, &rep), "limit");
    req.limit = 1001;
    EXPECT_BAD(RPC(list_regenerate, &req, &rep), "limit");
    req.limit = 10;
    req.after_id = "zzz";
    EXPECT_BAD(RPC(list_regenerate, &req, &rep), "after_id");
    /* The stale page reads index ranges, not the table. */
    PQclear(sql(c, "ANALYZE variants"));
    PQclear(sql(c, "ANALYZE images"));
    const char *q = meta_store_statement_sql("meta_regen_stale");
    CHECK(q != NULL);
    r = PQprepare(c, "rs", q, 0, NULL);
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    PQclear(sql(c, "SET plan_cache_mode = force_generic_plan"));
    r = sql(c, "EXPLAIN EXECUTE rs('00000000-0000-0000-0000-000000000000', 101)");
    char plan[16384] = "";
    size_t len = 0;
    for (int i = 0; i < PQntuples(r); i++)
        len += (size_t)snprintf(plan + len, sizeof(plan) - len, "%s\n", PQgetvalue(r, i, 0));
    PQclear(r);
    if (strstr(plan, "variants_ready_version_idx") == NULL || strstr(plan, "Seq Scan on variants")) {
        fprintf(stderr, "the stale page does not read variants_ready_version_idx:\n%s", plan);
        ip_test_failures++;
    }
    PQfinish(c);
}

static void test_delete_files(void)
{
    PGconn *c = pg_connect(test_dsn);
    char id[IP_UUID_STRLEN + 1];
    files_variant vs[NKINDS];
    ready_with_files(id, vs);
    Imageproc__DeleteImageReply *d = NULL;
    CHECK(delete_image(id, &d) == IP_OK);
    CHECK(d->n_object_keys == 1 + NKINDS * 3);
    char okey[IP_KEY_MAX];
    CHECK(ip_key_original(okey, id) == IP_OK);
    EXPECT(strcmp(d->object_keys[0], okey) == 0);
    for (size_t k = 0; k < NKINDS; k++)
        for (size_t f = 0; f < 3; f++)
            EXPECT(strcmp(d->object_keys[1 + k * 3 + f], vs[k].keys[f]) == 0);
    msg_free(d);
    PGresult *r = sql(c, "SELECT cardinality(object_keys) FROM purges WHERE image_id = '%s'", id);
    EXPECT(PQntuples(r) == 1 && atoi(PQgetvalue(r, 0, 0)) == 1 + NKINDS * 3);
    PQclear(r);
    PQfinish(c);
}

static void test_purge_merge(void)
{
    /* A database of its own: ClaimPurges hands out only this test's purges. */
    fresh_service("imageproc_test_meta_purge_merge");
    char id[IP_UUID_STRLEN + 1];
    files_variant vs[NKINDS];
    ready_with_files(id, vs);
    const ip_format_def *jpeg[] = {&ip_format_jpeg};
    files_variant a, b;
    files_variant_make(&a, id, IP_VARIANT_THUMBNAIL, bump_preset(IP_VARIANT_THUMBNAIL), jpeg, 1);
    CHECK(finish_files(id, &a, 1, true, NULL, NULL, NULL) == IP_OK);
    /* A purger claims the record; meanwhile another regeneration adds keys. */
    Imageproc__ClaimPurgesReply *cl = NULL;
    CHECK(claim_purges(10, 60000, &cl) == IP_OK);
    CHECK(cl->n_purges == 1 && cl->purges[0]->n_object_keys == 3);
    msg_free(cl);
    files_variant_make(&b, id, IP_VARIANT_THUMBNAIL, bump_preset(IP_VARIANT_THUMBNAIL), jpeg, 1);
    CHECK(finish_files(id, &b, 1, true, NULL, NULL, NULL) == IP_OK);
    /* The purger confirms what it was given: the record stays, due again,
     * with every key. */
    EXPECT(finish_purge(id, "") == IP_OK);
    CHECK(claim_purges(10, 60000, &cl) == IP_OK);
    CHECK(cl->n_purges == 1 && cl->purges[0]->n_object_keys == 4);
    EXPECT(strcmp(cl->purges[0]->object_keys[3], a.keys[0]) == 0);
    msg_free(cl);
    EXPECT(finish_purge(id, "") == IP_OK);
    CHECK(claim_purges(10, 0, &cl) == IP_OK);
    EXPECT(cl->n_purges == 0);
    msg_free(cl);
    EXPECT(finish_purge(id, "") == IP_NOT_FOUND);
    drop_fresh("imageproc_test_meta_purge_merge");
}

static void test_migrate_outputs(void)
{
    /* A database at 0003 with a ready image whose variants have no files: after
     * the upgrade each reads as one file, version 0, not stale until its preset
     * passes version 1. */
    const char *db = "imageproc_test_meta_outputs";
    PGconn *c = pg_connect(base_dsn);
    PQclear(sql(c, "DROP DATABASE IF EXISTS imageproc_test_meta_outputs"));
    PQclear(sql(c, "CREATE DATABASE imageproc_test_meta_outputs"));
    static char dsn[1024];
    dsn_with_db(db, dsn, sizeof(dsn));
    PGconn *t = pg_connect(dsn);
    PQclear(sql(t, "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY,"
                   " applied_at timestamptz NOT NULL DEFAULT now())"));
    size_t before = 0;
    for (size_t i = 0; i < meta_migrations_count; i++) {
        if (strcmp(meta_migrations[i].version, "0004_outputs") >= 0)
            break;
        PGresult *r = PQexec(t, meta_migrations[i].sql);
        CHECKF(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", meta_migrations[i].version,
               PQresultErrorMessage(r));
        PQclear(r);
        PQclear(sql(t, "INSERT INTO schema_migrations (version) VALUES ('%s')",
                    meta_migrations[i].version));
        before++;
    }
    CHECK(before == 3);
    const char *id = "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5b1";
    char k1[IP_KEY_MAX], k2[IP_KEY_MAX];
    CHECK(ip_key_variant(k1, id, IP_VARIANT_THUMBNAIL, &ip_format_jpeg) == IP_OK);
    CHECK(ip_key_variant(k2, id, IP_VARIANT_RESIZED, &ip_format_png) == IP_OK);
    PQclear(sql(t, "INSERT INTO images (id, created_at, ops, status, original_key) VALUES"
                   " ('%s', now(), '{thumbnail,resized}', 'ready', 'o/%s')", id, id));
    PQclear(sql(t, "INSERT INTO variants (image_id, name, status, object_key, width, height,"
                   " size_bytes, format) VALUES ('%s', 'thumbnail', 'ready', '%s', 320, 320, 111,"
                   " 'jpeg'), ('%s', 'resized', 'ready', '%s', 1280, 720, 222, 'png')",
                id, k1, id, k2));
    PQfinish(t);
    PQfinish(c);
    start_service_on(dsn);
    Imageproc__GetImageReply *g = get_ok(id);
    EXPECT(g->image->thumbhash[0] == '\0' && g->image->dominant_color[0] == '\0');
    CHECK(g->image->n_variants == 2);
    for (size_t i = 0; i < 2; i++) {
        const Imageproc__Variant *v = g->image->variants[i];
        EXPECT(v->n_files == 1 && v->preset_version == 0 && !v->stale);
        EXPECT(v->n_files == 1 && strcmp(v->files[0]->object_key, i ? k2 : k1) == 0 &&
               strcmp(v->files[0]->format, i ? "png" : "jpeg") == 0 &&
               v->files[0]->size_bytes == (i ? 222 : 111));
    }
    msg_free(g);
    Imageproc__GetPresetsReply *p = get_presets_ok();
    EXPECT_EQ_INT(p->stale_variants, 0);
    msg_free(p);
    /* Version 2 of the resized preset: that variant alone is stale. */
    bump_preset(IP_VARIANT_RESIZED);
    g = get_ok(id);
    EXPECT(!g->image->variants[0]->stale && g->image->variants[1]->stale);
    msg_free(g);
    p = get_presets_ok();
    EXPECT_EQ_INT(p->stale_variants, 1);
    msg_free(p);
    /* DeleteImage still names every key. */
    Imageproc__DeleteImageReply *d = NULL;
    CHECK(delete_image(id, &d) == IP_OK);
    EXPECT(d->n_object_keys == 3 && strcmp(d->object_keys[1], k1) == 0 &&
           strcmp(d->object_keys[2], k2) == 0);
    msg_free(d);
    drop_fresh(db);
}

/* ------------------------------------------------------------- main */

/* clang-format off */
/* ---- FinishImage with the variants */

/* A ready variant of `kind` as a processor records it (a JPEG at its key). */
static void ready_variant(Imageproc__Variant *v, char key[IP_KEY_MAX], const char *id,
                          ip_variant_kind kind)
{
    *v = (Imageproc__Variant)IMAGEPROC__VARIANT__INIT;
    variant_key(key, id, kind);
    v->kind = kind;
    v->status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    v->object_key = key;
    v->width = 320 + (int)kind;
    v->height = 240;
    v->size_bytes = 2048;
    v->format = (char *)ip_format_jpeg.name;
}

/* FinishImage(id) carrying a ready variant of each kinds[0..n). */
static ip_status finish_with(const char *id, const ip_variant_kind *kinds, size_t n,
                             Imageproc__FinishImageReply **rep)
{
    Imageproc__Variant v[NKINDS + 1];
    Imageproc__Variant *vp[NKINDS + 1];
    char keys[NKINDS + 1][IP_KEY_MAX];
    CHECK(n <= NKINDS + 1);
    for (size_t i = 0; i < n; i++) {
        ready_variant(&v[i], keys[i], id, kinds[i]);
        vp[i] = &v[i];
    }
    Imageproc__FinishImageRequest req = IMAGEPROC__FINISH_IMAGE_REQUEST__INIT;
    req.id = (char *)id;
    req.variants = vp;
    req.n_variants = n;
    Imageproc__FinishImageReply *r = NULL;
    ip_status st = RPC(finish_image, &req, &r);
    HAND_OVER(r, rep);
    return st;
}

/* Every variant of img is ready as finish_with records it. */
static bool all_recorded(const Imageproc__Image *img)
{
    if (img->n_variants != img->n_requested)
        return false;
    for (size_t i = 0; i < img->n_variants; i++) {
        const Imageproc__Variant *v = img->variants[i];
        char key[IP_KEY_MAX];
        variant_key(key, img->id, v->kind);
        if (v->status != IMAGEPROC__VARIANT_STATUS__VARIANT_READY ||
            strcmp(v->object_key, key) != 0 || v->width != 320 + (int)v->kind ||
            v->height != 240 || v->size_bytes != 2048 || strcmp(v->format, "jpeg") != 0)
            return false;
    }
    return true;
}

/* Nothing of a refused FinishImage is recorded: every variant still pending
 * and the image still `status`. */
static void expect_untouched(const char *id, Imageproc__ImageStatus status, int line)
{
    Imageproc__GetImageReply *g = get_ok(id);
    bool ok = g->image->status == status;
    for (size_t i = 0; i < g->image->n_variants; i++)
        ok = ok && g->image->variants[i]->status == IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING;
    if (!ok) {
        fprintf(stderr, "line %d: image %s: status %d, want %d with every variant pending\n", line,
                id, g->image->status, status);
        ip_test_failures++;
    }
    msg_free(g);
}

static void test_finish_variants(void)
{
    nng_socket s = sub_ready();

    /* One call: every variant recorded and the image ready, its lease gone. */
    char id[IP_UUID_STRLEN + 1];
    msg_free(create_image(id, all_kinds, NKINDS, 0, NULL));
    CHECK(mark_processing(id, NULL) == IP_OK);
    Imageproc__FinishImageReply *rep = NULL, *again = NULL;
    CHECK(finish_with(id, all_kinds, NKINDS, &rep) == IP_OK);
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY &&
           rep->image->error[0] == '\0' && rep->image->lease_until_us == 0);
    EXPECT(all_recorded(rep->image));
    /* Its events: PutVariant's for each variant, in order, then the image's. */
    Imageproc__StatusEvent *e = next_event(s, id, 3000); /* created */
    EXPECT(e != NULL && e->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING);
    msg_free(e);
    e = next_event(s, id, 3000); /* processing */
    EXPECT(e != NULL && e->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING &&
           e->variant_kind == IP_VARIANT_NONE);
    msg_free(e);
    for (size_t i = 0; i < NKINDS; i++) {
        e = next_event(s, id, 3000);
        EXPECT(e != NULL && e->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING &&
               e->variant_kind == all_kinds[i] &&
               e->variant_status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY &&
               e->error[0] == '\0');
        msg_free(e);
    }
    e = next_event(s, id, 3000);
    EXPECT(e != NULL && e->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY &&
           e->variant_kind == IP_VARIANT_NONE);
    msg_free(e);

    /* A rerun of the same job: the same rows, and no event (nothing changed). */
    CHECK(finish_with(id, all_kinds, NKINDS, &again) == IP_OK);
    EXPECT(again->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    EXPECT(all_recorded(again->image));
    EXPECT(again->image->updated_at_us == rep->image->updated_at_us);
    msg_free(again);
    msg_free(rep);
    e = next_event(s, id, 300);
    EXPECT(e == NULL);
    msg_free(e);

    /* A variant recorded failed by an earlier run and not given again: the
     * image fails with its reason, the given ones are recorded. */
    char id2[IP_UUID_STRLEN + 1];
    msg_free(create_image(id2, all_kinds, NKINDS, 0, NULL));
    CHECK(mark_processing(id2, NULL) == IP_OK);
    EXPECT(put_variant(id2, IP_VARIANT_RESIZED, false, "too large", NULL) == IP_OK);
    ip_variant_kind others[] = {IP_VARIANT_THUMBNAIL, IP_VARIANT_WATERMARKED};
    CHECK(finish_with(id2, others, 2, &rep) == IP_OK);
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED &&
           strcmp(rep->image->error, "resized: too large") == 0);
    EXPECT(variant_of(rep->image, IP_VARIANT_THUMBNAIL)->status ==
               IMAGEPROC__VARIANT_STATUS__VARIANT_READY &&
           variant_of(rep->image, IP_VARIANT_WATERMARKED)->status ==
               IMAGEPROC__VARIANT_STATUS__VARIANT_READY);
    msg_free(rep);

    /* Unknown image. */
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    EXPECT(finish_with(unknown, all_kinds, NKINDS, NULL) == IP_NOT_FOUND);

    /* An invalid variant: refused before anything is written. */
    char id3[IP_UUID_STRLEN + 1];
    ip_variant_kind two[] = {IP_VARIANT_THUMBNAIL, IP_VARIANT_RESIZED};
    msg_free(create_image(id3, two, 2, 0, NULL));
    CHECK(mark_processing(id3, NULL) == IP_OK);
    {
        Imageproc__Variant v[2];
        Imageproc__Variant *vp[] = {&v[0], &v[1]};
        char keys[2][IP_KEY_MAX];
        ready_variant(&v[0], keys[0], id3, IP_VARIANT_THUMBNAIL);
        ready_variant(&v[1], keys[1], id3, IP_VARIANT_RESIZED);
        v[1].width = 0;
        Imageproc__FinishImageRequest req = IMAGEPROC__FINISH_IMAGE_REQUEST__INIT;
        req.id = id3;
        req.variants = vp;
        req.n_variants = 2;
        Imageproc__FinishImageReply *r = NULL;
        EXPECT_BAD(RPC(finish_image, &req, &r), "variants[1].width");
        msg_free(r);
        v[1] = v[0]; /* the same kind twice */
        EXPECT_BAD(RPC(finish_image, &req, &r), "variants[1].kind");
        msg_free(r);
    }
    expect_untouched(id3, IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING, __LINE__);
    /* A variant the image did not request, after two it did: the transaction
     * rolls back, the first two are not recorded either. */
    ip_variant_kind three[] = {IP_VARIANT_THUMBNAIL, IP_VARIANT_RESIZED, IP_VARIANT_WATERMARKED};
    EXPECT(finish_with(id3, three, 3, NULL) == IP_FAILED_PRECONDITION);
    EXPECT(strstr(last_err, ip_variant_name(IP_VARIANT_WATERMARKED)) != NULL);
    expect_untouched(id3, IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING, __LINE__);
    /* One variant short: still pending, nothing recorded. */
    EXPECT(finish_with(id3, two, 1, NULL) == IP_FAILED_PRECONDITION);
    expect_untouched(id3, IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING, __LINE__);
    /* Then the whole result: ready. */
    CHECK(finish_with(id3, two, 2, &rep) == IP_OK);
    EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY && all_recorded(rep->image));
    msg_free(rep);
    nng_close(s);
}

static const ip_test_case tests[] = {
    IP_TEST(migrate),      IP_TEST(create),          IP_TEST(get),          IP_TEST(list_ties),
    IP_TEST(list_mode),    IP_TEST(list_errors),     IP_TEST(list_explain), IP_TEST(mark_processing),
    IP_TEST(put_variant),  IP_TEST(finish),          IP_TEST(fail_image),   IP_TEST(mark_enqueued),
    IP_TEST(delete),       IP_TEST(stale),           IP_TEST(bad_requests), IP_TEST(verbatim),
    IP_TEST(race),         IP_TEST(no_resurrection), IP_TEST(events),       IP_TEST(events_order),
    IP_TEST(deadline),     IP_TEST(conn_killed),     IP_TEST(binary),       IP_TEST(pg_restart),
    IP_TEST(lease),        IP_TEST(requeue),         IP_TEST(stale_select), IP_TEST(stale_claim),
    IP_TEST(delete_purge), IP_TEST(purges),          IP_TEST(purges_race), IP_TEST(reserve),  IP_TEST(retry),
    IP_TEST(migrate_upgrade), IP_TEST(owner), IP_TEST(api_keys), IP_TEST(migrate_access),
    IP_TEST(finish_variants), IP_TEST(migrate_outputs), IP_TEST(presets_default),
    IP_TEST(set_preset), IP_TEST(stale_flags), IP_TEST(finish_files), IP_TEST(regenerate),
    IP_TEST(list_regenerate), IP_TEST(delete_files), IP_TEST(purge_merge),
};
/* clang-format on */
#define NTESTS (sizeof(tests) / sizeof(tests[0]))

/* Every test but `migrate`, `migrate_upgrade`, `migrate_access`, `migrate_outputs`,
 * `presets_default` and `purge_merge` (which use databases of their own) runs with the service in-process on a migrated TEST_DB; list_explain and binary use it
 * only for the migrations. */
static bool needs_service(const char *name)
{
    return strcmp(name, "migrate") != 0 && strcmp(name, "migrate_upgrade") != 0 &&
           strcmp(name, "migrate_access") != 0 && strcmp(name, "migrate_outputs") != 0 &&
           strcmp(name, "presets_default") != 0 && strcmp(name, "purge_merge") != 0;
}

static bool known_test(const char *name)
{
    for (size_t i = 0; i < NTESTS; i++)
        if (strcmp(tests[i].name, name) == 0)
            return true;
    return false;
}

/* One test per run (they share ports and a database): `meta_it_test <name>`. */
int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: meta_it_test <test>\n");
        return 2;
    }
    if (!known_test(argv[1]))
        return ip_test_main(argc, argv, tests, NTESTS); /* says so, exits 2 */
    ip_log_init("metadata-svc-test", IP_LOG_WARN);
    ip_variant_mask_kinds(IP_VARIANT_MASK_ALL, all_kinds);
    snprintf(base_dsn, sizeof(base_dsn), "%s", env_or("IP_PG_DSN", DEFAULT_DSN));
    rpc_url = env_or("IP_TEST_META_RPC_URL", "tcp://127.0.0.1:7111");
    events_url = env_or("IP_TEST_META_EVENTS_URL", "tcp://127.0.0.1:7112");
    ensure_db(TEST_DB);
    dsn_with_db(TEST_DB, test_dsn, sizeof(test_dsn));
    if (needs_service(argv[1]))
        start_service();
    int rc = ip_test_main(argc, argv, tests, NTESTS);
    if (service != NULL)
        stop_service();
    return rc;
}
