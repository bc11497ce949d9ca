/* meta_store.c — images and variants in PostgreSQL.
 *
 * HOW IT WORKS
 * Every statement is prepared once per connection (store_prepare is the pool's
 * on_connect hook) and run with PQexecPrepared, every value a text parameter,
 * so nothing a client sends is ever part of SQL text. Times cross the boundary
 * as bigint microseconds since the epoch: out as
 * (extract(epoch from t) * 1000000)::bigint (numeric, exact) and in as
 * 'epoch' + n * 1 microsecond, so a ListImages cursor round-trips exactly.
 *
 * Reads (GetImage, ListImages, ListStale) are one statement each: the page of
 * images joined with their variants, ordered so that each image's rows are
 * adjacent and its variants in canonical order; rows_to_images folds them.
 *
 * Writes are one transaction each that first locks the image row
 * (SELECT ... FOR UPDATE). That lock is the whole concurrency story: writers
 * of one image run one after the other, a writer that finds no row answers
 * IP_NOT_FOUND, and a DeleteImage that commits first leaves nothing for a
 * late PutVariant or FinishImage to update (they are UPDATEs or guarded
 * INSERTs behind the lock, never an upsert of the image), so a deleted image
 * cannot come back. A DeleteImage that waits behind a PutVariant sees the
 * variant key it committed and returns it.
 *
 * Every statement answers by the call's deadline (exec_bounded): a database
 * that stops answering costs a call its deadline, never a hang. A read, or a
 * write whose BEGIN finds its connection dead (the server restarted since the
 * connection was last used), runs once more on a fresh connection.
 *
 * ListImages uses the index (created_at DESC, id DESC): the cursor is a row
 * comparison (created_at, id) < ($t, $id), which PostgreSQL turns into an index
 * bound, so a deep page costs what the first page costs.
 */
#include "meta_store.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ip_log.h"
#include "ip_time.h"
#include "meta_migrations.h"
#include "meta_pool.h"
#include "meta_validate.h"

struct meta_store {
    meta_pool *pool;
    char *dsn;
    int connect_timeout_s;
};

/* ------------------------------------------------------------- statements */

#define US(t) "(extract(epoch from " t ") * 1000000)::bigint"
#define TS(p) "(timestamptz 'epoch' + (" p "::bigint) * interval '1 microsecond')"

/* The SQL reads best laid out by hand. */
/* clang-format off */
/* The columns every image-returning statement yields, in this order. */
#define IMG_COLS                                                                                   \
    "i.id, " US("i.created_at") ", " US("i.updated_at") ", i.filename, i.content_type, "            \
    "i.size_bytes, i.width, i.height, i.sha256, array_to_string(i.ops, ','), i.status, i.error, "  \
    "coalesce(" US("i.enqueued_at") ", 0), i.original_key, "                                       \
    "v.name, v.status, v.object_key, v.width, v.height, v.size_bytes, v.format, v.error"
enum {
    C_ID, C_CREATED, C_UPDATED, C_FILENAME, C_CTYPE, C_SIZE, C_WIDTH, C_HEIGHT, C_SHA, C_OPS,
    C_STATUS, C_ERROR, C_ENQUEUED, C_OKEY, C_VNAME, C_VSTATUS, C_VKEY, C_VWIDTH, C_VHEIGHT,
    C_VSIZE, C_VFORMAT, C_VERROR, C_NCOLS
};
#define VJOIN " LEFT JOIN variants v ON v.image_id = i.id "
#define VORDER "array_position(i.ops, v.name)"

enum {
    ST_GET,
    ST_LIST_FIRST,
    ST_LIST_AFTER,
    ST_CREATE,
    ST_CREATE_VARIANTS,
    ST_LOCK,
    ST_SET_STATUS,
    ST_PUT_VARIANT,
    ST_TOUCH,
    ST_GET_VARIANT,
    ST_FAIL_VARIANTS,
    ST_ENQUEUED,
    ST_DELETE_KEYS,
    ST_DELETE,
    ST_STALE,
    ST_COUNT
};

static const struct {
    const char *name;
    const char *sql;
} stmts[ST_COUNT] = {
    [ST_GET] = {"meta_get", "SELECT " IMG_COLS " FROM images i" VJOIN
                            "WHERE i.id = $1::uuid ORDER BY " VORDER},
    [ST_LIST_FIRST] = {"meta_list_first",
                       "SELECT " IMG_COLS " FROM (SELECT * FROM images"
                       " WHERE ($1::text = '' OR ops @> ARRAY[$1::text])"
                       " ORDER BY created_at DESC, id DESC LIMIT $2::int) i" VJOIN
                       "ORDER BY i.created_at DESC, i.id DESC, " VORDER},
    [ST_LIST_AFTER] = {"meta_list_after",
                       "SELECT " IMG_COLS " FROM (SELECT * FROM images"
                       " WHERE (created_at, id) < (" TS("$3") ", $4::uuid)"
                       " AND ($1::text = '' OR ops @> ARRAY[$1::text])"
                       " ORDER BY created_at DESC, id DESC LIMIT $2::int) i" VJOIN
                       "ORDER BY i.created_at DESC, i.id DESC, " VORDER},
    [ST_CREATE] = {"meta_create",
                   "INSERT INTO images (id, created_at, filename, content_type, size_bytes, width,"
                   " height, sha256, original_key, ops) VALUES ($1::uuid,"
                   " CASE WHEN $2::bigint = 0 THEN now() ELSE " TS("$2") " END,"
                   " $3, $4, $5::bigint, $6::int, $7::int, $8, $9, string_to_array($10, ','))"
                   " ON CONFLICT (id) DO NOTHING RETURNING 1"},
    [ST_CREATE_VARIANTS] = {"meta_create_variants",
                            "INSERT INTO variants (image_id, name)"
                            " SELECT $1::uuid, unnest(string_to_array($2, ','))"},
    [ST_LOCK] = {"meta_lock", "SELECT status, array_to_string(ops, ','), original_key, " US(
                                  "updated_at") " FROM images WHERE id = $1::uuid FOR UPDATE"},
    [ST_SET_STATUS] = {"meta_set_status",
                       "UPDATE images SET status = $2, error = $3, updated_at = now()"
                       " WHERE id = $1::uuid RETURNING " US("updated_at")},
    [ST_PUT_VARIANT] = {"meta_put_variant",
                        "INSERT INTO variants AS v (image_id, name, status, object_key, width,"
                        " height, size_bytes, format, error, updated_at) VALUES ($1::uuid, $2, $3,"
                        " $4, $5::int, $6::int, $7::bigint, $8, $9, now())"
                        " ON CONFLICT (image_id, name) DO UPDATE SET status = EXCLUDED.status,"
                        " object_key = EXCLUDED.object_key, width = EXCLUDED.width,"
                        " height = EXCLUDED.height, size_bytes = EXCLUDED.size_bytes,"
                        " format = EXCLUDED.format, error = EXCLUDED.error, updated_at = now()"
                        " WHERE v.status <> 'ready' AND (v.status, v.error) IS DISTINCT FROM"
                        " (EXCLUDED.status, EXCLUDED.error) RETURNING 1"},
    [ST_TOUCH] = {"meta_touch",
                  "UPDATE images SET status = CASE WHEN status = 'pending' THEN 'processing'"
                  " ELSE status END, updated_at = now() WHERE id = $1::uuid"
                  " RETURNING status, " US("updated_at")},
    [ST_GET_VARIANT] = {"meta_get_variant",
                        "SELECT name, status, object_key, width, height, size_bytes, format, error"
                        " FROM variants WHERE image_id = $1::uuid AND name = $2"},
    [ST_FAIL_VARIANTS] = {"meta_fail_variants",
                          "UPDATE variants SET status = 'failed', error = $2, updated_at = now()"
                          " WHERE image_id = $1::uuid AND status = 'pending'"},
    [ST_ENQUEUED] = {"meta_enqueued",
                     "UPDATE images SET enqueued_at = CASE WHEN $2::bigint = 0 THEN now() ELSE " TS(
                         "$2") " END, updated_at = now() WHERE id = $1::uuid RETURNING 1"},
    [ST_DELETE_KEYS] = {"meta_delete_keys",
                        "SELECT v.object_key FROM variants v JOIN images i ON i.id = v.image_id"
                        " WHERE v.image_id = $1::uuid AND v.object_key <> ''"
                        " ORDER BY " VORDER},
    [ST_DELETE] = {"meta_delete", "DELETE FROM images WHERE id = $1::uuid"},
    [ST_STALE] = {"meta_stale",
                  "SELECT " IMG_COLS " FROM (SELECT * FROM images WHERE status = 'pending'"
                  " AND enqueued_at IS NULL"
                  " AND created_at < now() - $1::bigint * interval '1 microsecond'"
                  " ORDER BY created_at, id LIMIT $2::int) i" VJOIN
                  "ORDER BY i.created_at, i.id, " VORDER},
};

/* clang-format on */

const char *meta_store_statement_sql(const char *name)
{
    for (int i = 0; name != NULL && i < ST_COUNT; i++)
        if (strcmp(stmts[i].name, name) == 0)
            return stmts[i].sql;
    return NULL;
}

static ip_status store_prepare(void *user, PGconn *conn, char *err, size_t errlen)
{
    (void)user;
    for (int i = 0; i < ST_COUNT; i++) {
        PGresult *r = PQprepare(conn, stmts[i].name, stmts[i].sql, 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            ip_status st = meta_pg_error(conn, r, err, errlen);
            PQclear(r);
            /* A missing table is no outage of ours, but callers should retry later. */
            return st == IP_INTERNAL ? IP_UNAVAILABLE : st;
        }
        PQclear(r);
    }
    return IP_OK;
}

/* ------------------------------------------------------------- lifecycle */

ip_status meta_store_new(const meta_store_opts *opts, meta_store **out, char *err, size_t errlen)
{
    *out = NULL;
    meta_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return IP_RESOURCE_EXHAUSTED;
    s->dsn = strdup(opts->dsn);
    s->connect_timeout_s = opts->connect_timeout_s;
    if (s->dsn == NULL) {
        free(s);
        return IP_RESOURCE_EXHAUSTED;
    }
    meta_pool_opts po = {.dsn = opts->dsn,
                         .size = opts->pool_size,
                         .connect_timeout_s = opts->connect_timeout_s,
                         .on_connect = store_prepare,
                         .user = s};
    ip_status st = meta_pool_new(&po, &s->pool, err, errlen);
    if (st != IP_OK) {
        free(s->dsn);
        free(s);
        return st;
    }
    *out = s;
    return IP_OK;
}

void meta_store_free(meta_store *s)
{
    if (s == NULL)
        return;
    meta_pool_free(s->pool);
    free(s->dsn);
    free(s);
}

/* ------------------------------------------------------------- helpers */

static void *cx_alloc(meta_ctx *cx, size_t n)
{
    return cx->alloc(cx->arena, n);
}

static char *cx_strdup(meta_ctx *cx, const char *s)
{
    size_t n = strlen(s);
    char *p = cx_alloc(cx, n + 1);
    if (p != NULL)
        memcpy(p, s, n + 1);
    return p;
}

static ip_status cx_fail(meta_ctx *cx, ip_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static ip_status cx_fail(meta_ctx *cx, ip_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cx->err, sizeof(cx->err), fmt, ap);
    va_end(ap);
    return st;
}

static ip_status nomem(meta_ctx *cx)
{
    return cx_fail(cx, IP_RESOURCE_EXHAUSTED, "out of memory");
}

/* Runs one statement (prepared `name`, or the simple query `sql` when name is
 * NULL) and waits for its result until cx->deadline_ms. Without a deadline it
 * is PQexec/PQexecPrepared. With one, the query is sent and its answer awaited
 * with poll(2), so a database that stops answering (a lock held elsewhere, a
 * stalled server) costs the caller its deadline, not a hang: on timeout the
 * result is NULL, *st is IP_DEADLINE_EXCEEDED and the connection is left
 * mid-query, which meta_pool_release recognises and closes (the server rolls
 * the transaction back when it finds the client gone). Otherwise *st is
 * IP_OK and the last result is returned (the caller checks and clears it). */
static PGresult *exec_bounded(meta_ctx *cx, PGconn *conn, const char *name, const char *sql,
                              int nparams, const char *const *params, ip_status *st)
{
    *st = IP_OK;
    if (cx->deadline_ms <= 0)
        return name ? PQexecPrepared(conn, name, nparams, params, NULL, NULL, 0)
                    : PQexec(conn, sql);
    int sent = name ? PQsendQueryPrepared(conn, name, nparams, params, NULL, NULL, 0)
                    : PQsendQuery(conn, sql);
    if (!sent)
        return NULL; /* meta_pg_error reads the connection's message */
    PGresult *last = NULL;
    for (;;) {
        while (PQisBusy(conn)) {
            int64_t left = cx->deadline_ms - ip_mono_ms();
            struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
            int rc = left > 0 ? poll(&pfd, 1, (int)left) : 0;
            if (rc == 0) {
                PQclear(last);
                *st = cx_fail(cx, IP_DEADLINE_EXCEEDED, "database: no answer before the deadline");
                return NULL;
            }
            if (rc < 0 && errno == EINTR)
                continue;
            if (rc < 0 || !PQconsumeInput(conn)) {
                PQclear(last);
                return NULL;
            }
        }
        PGresult *r = PQgetResult(conn);
        if (r == NULL)
            return last;
        /* Keep the first error, else the last result. */
        ExecStatusType es = PQresultStatus(r);
        if (last != NULL &&
            (PQresultStatus(last) == PGRES_FATAL_ERROR ||
             (es != PGRES_FATAL_ERROR && es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK))) {
            PQclear(r);
            continue;
        }
        PQclear(last);
        last = r;
    }
}

/* Runs prepared statement `st` and checks its result; *res (on IP_OK) is owned
 * by the caller (PQclear). */
static ip_status run(meta_ctx *cx, PGconn *conn, int st, int nparams, const char *const *params,
                     PGresult **res)
{
    ip_status s;
    *res = NULL;
    PGresult *r = exec_bounded(cx, conn, stmts[st].name, NULL, nparams, params, &s);
    ExecStatusType es = PQresultStatus(r);
    if (s == IP_OK && (es == PGRES_TUPLES_OK || es == PGRES_COMMAND_OK)) {
        *res = r;
        return IP_OK;
    }
    if (s == IP_OK)
        s = meta_pg_error(conn, r, cx->err, sizeof(cx->err));
    ip_log(s == IP_INTERNAL ? IP_LOG_ERROR : IP_LOG_WARN, "pg.statement_failed",
           IP_LS("statement", stmts[st].name), IP_LS("code", ip_strerror(s)),
           IP_LS("err", cx->err));
    PQclear(r);
    return s;
}

static ip_status run_simple(meta_ctx *cx, PGconn *conn, const char *sql)
{
    ip_status s;
    PGresult *r = exec_bounded(cx, conn, NULL, sql, 0, NULL, &s);
    if (s == IP_OK &&
        (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)) {
        PQclear(r);
        return IP_OK;
    }
    if (s == IP_OK)
        s = meta_pg_error(conn, r, cx->err, sizeof(cx->err));
    PQclear(r);
    return s;
}

/* True when `conn` died under the statement that just failed: the server
 * restarted or dropped it while it sat in the pool. Nothing ran, so the
 * statement may go again on a fresh connection. */
static bool lost_connection(PGconn *conn)
{
    return PQstatus(conn) == CONNECTION_BAD;
}

/* Borrows a connection and opens a transaction on it; a connection that turns
 * out dead at BEGIN is replaced once. */
static ip_status begin(meta_store *s, meta_ctx *cx, PGconn **conn)
{
    ip_status st = IP_UNAVAILABLE;
    for (int attempt = 0; attempt < 2; attempt++) {
        st = meta_pool_acquire(s->pool, cx->timeout_ms, conn, cx->err, sizeof(cx->err));
        if (st != IP_OK)
            return st;
        if ((st = run_simple(cx, *conn, "BEGIN")) == IP_OK)
            return IP_OK;
        bool retry = lost_connection(*conn);
        meta_pool_release(s->pool, *conn);
        *conn = NULL;
        if (!retry)
            break;
    }
    return st;
}

/* One read statement on a borrowed connection; a connection that turns out
 * dead is replaced once (a read is safe to repeat). *res as for run(). */
static ip_status query(meta_store *s, meta_ctx *cx, int stmt, int nparams,
                       const char *const *params, PGresult **res)
{
    ip_status st = IP_UNAVAILABLE;
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *conn = NULL;
        st = meta_pool_acquire(s->pool, cx->timeout_ms, &conn, cx->err, sizeof(cx->err));
        if (st != IP_OK)
            return st;
        st = run(cx, conn, stmt, nparams, params, res);
        bool retry = st != IP_OK && lost_connection(conn);
        meta_pool_release(s->pool, conn);
        if (!retry)
            break;
    }
    return st;
}

static ip_status commit(meta_ctx *cx, PGconn *conn)
{
    ip_status st;
    PGresult *r = exec_bounded(cx, conn, NULL, "COMMIT", 0, NULL, &st);
    /* A COMMIT of a failed transaction reports "ROLLBACK"; we never send one,
     * but a COMMIT is only a success when it says so. */
    if (st == IP_OK &&
        (PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(r), "COMMIT") != 0)) {
        st = meta_pg_error(conn, r, cx->err, sizeof(cx->err));
        if (st == IP_OK)
            st = IP_INTERNAL;
    }
    PQclear(r);
    return st;
}

static const char *val(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col);
}

static int64_t val_i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Splits "a,b,c" into an arena array. */
static ip_status split_ops(meta_ctx *cx, const char *text, char ***out, size_t *n)
{
    size_t cnt = text[0] ? 1 : 0;
    for (const char *p = text; *p; p++)
        cnt += *p == ',';
    char **arr = cx_alloc(cx, (cnt ? cnt : 1) * sizeof(char *));
    if (arr == NULL)
        return nomem(cx);
    size_t i = 0;
    const char *start = text;
    while (i < cnt) {
        const char *end = strchr(start, ',');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        arr[i] = cx_alloc(cx, len + 1);
        if (arr[i] == NULL)
            return nomem(cx);
        memcpy(arr[i], start, len);
        i++;
        start = end ? end + 1 : start + len;
    }
    *out = arr;
    *n = cnt;
    return IP_OK;
}

static ip_status fill_variant(meta_ctx *cx, const PGresult *r, int row, int c0,
                              Imageproc__Variant **out)
{
    Imageproc__Variant *v = cx_alloc(cx, sizeof(*v));
    if (v == NULL)
        return nomem(cx);
    imageproc__variant__init(v);
    v->name = cx_strdup(cx, val(r, row, c0 + 0));
    v->status = meta_variant_status_parse(val(r, row, c0 + 1));
    v->object_key = cx_strdup(cx, val(r, row, c0 + 2));
    v->width = (int32_t)val_i64(r, row, c0 + 3);
    v->height = (int32_t)val_i64(r, row, c0 + 4);
    v->size_bytes = val_i64(r, row, c0 + 5);
    v->format = cx_strdup(cx, val(r, row, c0 + 6));
    v->error = cx_strdup(cx, val(r, row, c0 + 7));
    if (v->name == NULL || v->object_key == NULL || v->format == NULL || v->error == NULL)
        return nomem(cx);
    *out = v;
    return IP_OK;
}

/* Folds rows of IMG_COLS (one per variant, images adjacent) into images. */
static ip_status rows_to_images(meta_ctx *cx, const PGresult *r, Imageproc__Image ***out, size_t *n)
{
    int rows = PQntuples(r);
    size_t cnt = 0;
    for (int i = 0; i < rows; i++)
        if (i == 0 || strcmp(val(r, i, C_ID), val(r, i - 1, C_ID)) != 0)
            cnt++;
    *out = NULL;
    *n = 0;
    Imageproc__Image **imgs = cx_alloc(cx, (cnt ? cnt : 1) * sizeof(*imgs));
    if (imgs == NULL)
        return nomem(cx);
    size_t k = 0;
    for (int i = 0; i < rows;) {
        int j = i + 1;
        while (j < rows && strcmp(val(r, j, C_ID), val(r, i, C_ID)) == 0)
            j++;
        Imageproc__Image *img = cx_alloc(cx, sizeof(*img));
        if (img == NULL)
            return nomem(cx);
        imageproc__image__init(img);
        img->id = cx_strdup(cx, val(r, i, C_ID));
        img->created_at_us = val_i64(r, i, C_CREATED);
        img->updated_at_us = val_i64(r, i, C_UPDATED);
        img->filename = cx_strdup(cx, val(r, i, C_FILENAME));
        img->content_type = cx_strdup(cx, val(r, i, C_CTYPE));
        img->size_bytes = val_i64(r, i, C_SIZE);
        img->width = (int32_t)val_i64(r, i, C_WIDTH);
        img->height = (int32_t)val_i64(r, i, C_HEIGHT);
        img->sha256 = cx_strdup(cx, val(r, i, C_SHA));
        img->status = meta_image_status_parse(val(r, i, C_STATUS));
        img->error = cx_strdup(cx, val(r, i, C_ERROR));
        img->enqueued_at_us = val_i64(r, i, C_ENQUEUED);
        img->original_key = cx_strdup(cx, val(r, i, C_OKEY));
        if (img->id == NULL || img->filename == NULL || img->content_type == NULL ||
            img->sha256 == NULL || img->error == NULL || img->original_key == NULL)
            return nomem(cx);
        ip_status st = split_ops(cx, val(r, i, C_OPS), &img->ops, &img->n_ops);
        if (st != IP_OK)
            return st;
        size_t nv = 0;
        for (int x = i; x < j; x++)
            nv += !PQgetisnull(r, x, C_VNAME);
        if (nv > 0) {
            img->variants = cx_alloc(cx, nv * sizeof(*img->variants));
            if (img->variants == NULL)
                return nomem(cx);
            for (int x = i; x < j; x++) {
                if (PQgetisnull(r, x, C_VNAME))
                    continue;
                st = fill_variant(cx, r, x, C_VNAME, &img->variants[img->n_variants++]);
                if (st != IP_OK)
                    return st;
            }
        }
        imgs[k++] = img;
        i = j;
    }
    *out = imgs;
    *n = k;
    return IP_OK;
}

/* The one image of a GetImage result, or IP_NOT_FOUND. Clears r. */
static ip_status one_image(meta_ctx *cx, PGresult *r, const char *id, Imageproc__Image **out)
{
    Imageproc__Image **imgs = NULL;
    size_t n = 0;
    ip_status st = rows_to_images(cx, r, &imgs, &n);
    PQclear(r);
    if (st != IP_OK)
        return st;
    if (n == 0)
        return cx_fail(cx, IP_NOT_FOUND, "image %s not found", id);
    *out = imgs[0];
    return IP_OK;
}

/* GetImage's statement on `conn`, inside a write's transaction. */
static ip_status get_on(meta_ctx *cx, PGconn *conn, const char *id, Imageproc__Image **out)
{
    PGresult *r = NULL;
    const char *params[] = {id};
    ip_status st = run(cx, conn, ST_GET, 1, params, &r);
    return st == IP_OK ? one_image(cx, r, id, out) : st;
}

/* Ends a write whose reply is the image row: reads the row as the
 * transaction leaves it, then commits. */
static ip_status read_and_commit(meta_ctx *cx, PGconn *conn, const char *id, Imageproc__Image **out)
{
    ip_status st = get_on(cx, conn, id, out);
    return st == IP_OK ? commit(cx, conn) : st;
}

/* The image row's lock and its state, for every write. */
typedef struct locked_row {
    char status[16];
    char ops[META_OPS_TEXT_MAX];
    int64_t updated_at_us;
    char *original_key; /* arena */
} locked_row;

static ip_status lock_image(meta_ctx *cx, PGconn *conn, const char *id, locked_row *row)
{
    PGresult *r = NULL;
    const char *params[] = {id};
    ip_status st = run(cx, conn, ST_LOCK, 1, params, &r);
    if (st != IP_OK)
        return st;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return cx_fail(cx, IP_NOT_FOUND, "image %s not found", id);
    }
    snprintf(row->status, sizeof(row->status), "%s", val(r, 0, 0));
    snprintf(row->ops, sizeof(row->ops), "%s", val(r, 0, 1));
    row->original_key = cx_strdup(cx, val(r, 0, 2));
    row->updated_at_us = val_i64(r, 0, 3);
    PQclear(r);
    return row->original_key != NULL ? IP_OK : nomem(cx);
}

static bool ops_contains(const char *ops, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = ops; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

static ip_status set_status(meta_ctx *cx, PGconn *conn, const char *id, const char *status,
                            const char *error, int64_t *updated_at_us)
{
    PGresult *r = NULL;
    const char *params[] = {id, status, error};
    ip_status st = run(cx, conn, ST_SET_STATUS, 3, params, &r);
    if (st != IP_OK)
        return st;
    if (updated_at_us != NULL && PQntuples(r) > 0)
        *updated_at_us = val_i64(r, 0, 0);
    PQclear(r);
    return IP_OK;
}

/* ------------------------------------------------------------- migrations */

#define META_MIGRATION_LOCK "7101001" /* pg_advisory_xact_lock key of the migrations */

ip_status meta_store_migrate(meta_store *s, meta_ctx *cx, int *applied)
{
    ip_status st;
    int done = 0;
    PGresult *r = NULL;
    char *have = NULL; /* one flag per embedded migration */
    if (applied != NULL)
        *applied = 0;

    /* A connection of its own: pooled connections prepare statements on
     * tables that may not exist before this runs. */
    char tmo[16];
    snprintf(tmo, sizeof(tmo), "%d", s->connect_timeout_s > 0 ? s->connect_timeout_s : 2);
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *vals[] = {s->dsn, tmo, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        st = meta_pg_error(conn, NULL, cx->err, sizeof(cx->err));
        goto out;
    }
    PQclear(PQexec(conn, "SET client_min_messages = warning"));
    if ((st = run_simple(cx, conn, "BEGIN")) != IP_OK ||
        (st = run_simple(cx, conn, "SELECT pg_advisory_xact_lock(" META_MIGRATION_LOCK ")")) !=
            IP_OK ||
        (st = run_simple(cx, conn,
                         "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY,"
                         " applied_at timestamptz NOT NULL DEFAULT now())")) != IP_OK)
        goto out;
    r = PQexec(conn, "SELECT version FROM schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        st = meta_pg_error(conn, r, cx->err, sizeof(cx->err));
        goto out;
    }
    have = calloc(meta_migrations_count + 1, 1);
    if (have == NULL) {
        st = nomem(cx);
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++)
        for (size_t m = 0; m < meta_migrations_count; m++)
            if (strcmp(val(r, i, 0), meta_migrations[m].version) == 0)
                have[m] = 1;
    PQclear(r);
    r = NULL;
    for (size_t m = 0; m < meta_migrations_count; m++) {
        if (have[m])
            continue;
        if ((st = run_simple(cx, conn, meta_migrations[m].sql)) != IP_OK) {
            char msg[200];
            snprintf(msg, sizeof(msg), "%.199s", cx->err);
            snprintf(cx->err, sizeof(cx->err), "migration %.40s: %s", meta_migrations[m].version,
                     msg);
            goto out;
        }
        const char *params[] = {meta_migrations[m].version};
        r = PQexecParams(conn, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, NULL,
                         params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            st = meta_pg_error(conn, r, cx->err, sizeof(cx->err));
            goto out;
        }
        PQclear(r);
        r = NULL;
        ip_log(IP_LOG_INFO, "migration.applied", IP_LS("version", meta_migrations[m].version));
        done++;
    }
    if ((st = commit(cx, conn)) != IP_OK)
        goto out;
    if (applied != NULL)
        *applied = done;
out:
    free(have);
    PQclear(r);
    if (conn != NULL)
        PQfinish(conn); /* an open transaction is rolled back by the server */
    return st;
}

/* ------------------------------------------------------------- reads */

ip_status meta_store_get(meta_store *s, meta_ctx *cx, const char *id, Imageproc__Image **out)
{
    PGresult *r = NULL;
    const char *params[] = {id};
    ip_status st = query(s, cx, ST_GET, 1, params, &r);
    return st == IP_OK ? one_image(cx, r, id, out) : st;
}

ip_status meta_store_list(meta_store *s, meta_ctx *cx, const meta_list_query *q,
                          Imageproc__Image ***images, size_t *n, bool *has_more)
{
    PGresult *r = NULL;
    char lim[16], ts[24];
    *images = NULL;
    *n = 0;
    *has_more = false;
    snprintf(lim, sizeof(lim), "%d", q->limit + 1); /* one more tells whether a page follows */
    snprintf(ts, sizeof(ts), "%lld", (long long)q->last_created_at_us);
    const char *params[] = {q->mode ? q->mode : "", lim, ts, q->last_id};
    ip_status st = query(s, cx, q->has_cursor ? ST_LIST_AFTER : ST_LIST_FIRST,
                         q->has_cursor ? 4 : 2, params, &r);
    if (st != IP_OK)
        return st;
    st = rows_to_images(cx, r, images, n);
    PQclear(r);
    if (st == IP_OK && *n > (size_t)q->limit) {
        *n = (size_t)q->limit;
        *has_more = true;
    }
    return st;
}

ip_status meta_store_list_stale(meta_store *s, meta_ctx *cx, int64_t older_than_us, int limit,
                                Imageproc__Image ***images, size_t *n)
{
    PGresult *r = NULL;
    char lim[16], age[24];
    snprintf(lim, sizeof(lim), "%d", limit);
    snprintf(age, sizeof(age), "%lld", (long long)older_than_us);
    const char *params[] = {age, lim};
    *images = NULL;
    *n = 0;
    ip_status st = query(s, cx, ST_STALE, 2, params, &r);
    if (st != IP_OK)
        return st;
    st = rows_to_images(cx, r, images, n);
    PQclear(r);
    return st;
}

/* ------------------------------------------------------------- writes */

ip_status meta_store_create(meta_store *s, meta_ctx *cx, const Imageproc__Image *img,
                            const char *ops, Imageproc__Image **out)
{
    PGconn *conn = NULL;
    PGresult *r = NULL;
    char created[24], size[24], w[16], h[16], okey[64];
    snprintf(created, sizeof(created), "%lld", (long long)img->created_at_us);
    snprintf(size, sizeof(size), "%lld", (long long)img->size_bytes);
    snprintf(w, sizeof(w), "%d", img->width);
    snprintf(h, sizeof(h), "%d", img->height);
    const char *original_key = img->original_key;
    if (original_key == NULL || original_key[0] == '\0') {
        snprintf(okey, sizeof(okey), "o/%s", img->id);
        original_key = okey;
    }
    const char *params[] = {img->id,
                            created,
                            img->filename ? img->filename : "",
                            img->content_type ? img->content_type : "",
                            size,
                            w,
                            h,
                            img->sha256 ? img->sha256 : "",
                            original_key,
                            ops};
    ip_status st = begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = run(cx, conn, ST_CREATE, 10, params, &r)) != IP_OK)
        goto out;
    int inserted = PQntuples(r);
    PQclear(r);
    if (inserted == 0) {
        st = cx_fail(cx, IP_ALREADY_EXISTS, "image %s already exists", img->id);
        goto out;
    }
    const char *vparams[] = {img->id, ops};
    if ((st = run(cx, conn, ST_CREATE_VARIANTS, 2, vparams, &r)) != IP_OK)
        goto out;
    PQclear(r);
    st = read_and_commit(cx, conn, img->id, out);
out:
    meta_pool_release(s->pool, conn);
    return st;
}

ip_status meta_store_mark_processing(meta_store *s, meta_ctx *cx, const char *id,
                                     Imageproc__Image **out, bool *changed)
{
    PGconn *conn = NULL;
    locked_row row;
    *changed = false;
    ip_status st = begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = lock_image(cx, conn, id, &row)) != IP_OK)
        goto out;
    if (strcmp(row.status, "pending") == 0 || strcmp(row.status, "failed") == 0) {
        if ((st = set_status(cx, conn, id, "processing", "", NULL)) != IP_OK)
            goto out;
        *changed = true;
    }
    st = read_and_commit(cx, conn, id, out);
out:
    meta_pool_release(s->pool, conn);
    return st;
}

ip_status meta_store_put_variant(meta_store *s, meta_ctx *cx, const char *image_id,
                                 const Imageproc__Variant *v, Imageproc__Variant **out,
                                 Imageproc__ImageStatus *image_status, int64_t *at_us,
                                 bool *changed)
{
    PGconn *conn = NULL;
    PGresult *r = NULL;
    locked_row row;
    bool ready = v->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    char w[16], h[16], size[24];
    snprintf(w, sizeof(w), "%d", ready ? v->width : 0);
    snprintf(h, sizeof(h), "%d", ready ? v->height : 0);
    snprintf(size, sizeof(size), "%lld", ready ? (long long)v->size_bytes : 0LL);
    const char *params[] = {image_id,
                            v->name,
                            ready ? "ready" : "failed",
                            ready ? v->object_key : "",
                            w,
                            h,
                            size,
                            ready ? v->format : "",
                            ready ? "" : (v->error && v->error[0] ? v->error : "failed")};
    *changed = false;
    ip_status st = begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = lock_image(cx, conn, image_id, &row)) != IP_OK)
        goto out;
    if (!ops_contains(row.ops, v->name)) {
        st = cx_fail(cx, IP_FAILED_PRECONDITION, "variant.name: %s was not requested for %s",
                     v->name, image_id);
        goto out;
    }
    if ((st = run(cx, conn, ST_PUT_VARIANT, 9, params, &r)) != IP_OK)
        goto out;
    *changed = PQntuples(r) > 0;
    PQclear(r);
    r = NULL;
    *image_status = meta_image_status_parse(row.status);
    *at_us = row.updated_at_us;
    if (*changed) {
        const char *tp[] = {image_id};
        if ((st = run(cx, conn, ST_TOUCH, 1, tp, &r)) != IP_OK)
            goto out;
        *image_status = meta_image_status_parse(val(r, 0, 0));
        *at_us = val_i64(r, 0, 1);
        PQclear(r);
        r = NULL;
    }
    const char *gp[] = {image_id, v->name};
    if ((st = run(cx, conn, ST_GET_VARIANT, 2, gp, &r)) != IP_OK)
        goto out;
    if (PQntuples(r) != 1) {
        st = cx_fail(cx, IP_INTERNAL, "variant %s of %s vanished", v->name, image_id);
        goto out;
    }
    if ((st = fill_variant(cx, r, 0, 0, out)) != IP_OK)
        goto out;
    st = commit(cx, conn);
out:
    PQclear(r);
    meta_pool_release(s->pool, conn);
    return st;
}

ip_status meta_store_finish(meta_store *s, meta_ctx *cx, const char *id, Imageproc__Image **out,
                            bool *changed)
{
    PGconn *conn = NULL;
    locked_row row;
    Imageproc__Image *img = NULL;
    *changed = false;
    ip_status st = begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = lock_image(cx, conn, id, &row)) != IP_OK ||
        (st = get_on(cx, conn, id, &img)) != IP_OK)
        goto out;

    /* Decide from the variants, in canonical order: the first failure names
     * the reason; otherwise every requested variant must be ready. */
    const Imageproc__Variant *failed = NULL;
    char pending[META_OPS_TEXT_MAX] = "";
    for (size_t i = 0; i < img->n_ops; i++) {
        const Imageproc__Variant *found = NULL;
        for (size_t k = 0; k < img->n_variants; k++)
            if (strcmp(img->variants[k]->name, img->ops[i]) == 0)
                found = img->variants[k];
        if (found != NULL && found->status == IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED) {
            if (failed == NULL)
                failed = found;
        } else if (found == NULL || found->status != IMAGEPROC__VARIANT_STATUS__VARIANT_READY) {
            size_t len = strlen(pending);
            snprintf(pending + len, sizeof(pending) - len, "%s%s", len ? "," : "", img->ops[i]);
        }
    }
    if (failed == NULL && pending[0] != '\0') {
        st = cx_fail(cx, IP_FAILED_PRECONDITION, "variants still pending: %s", pending);
        goto out;
    }
    const char *target = failed ? "failed" : "ready";
    if (strcmp(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_STATUS_UNSPECIFIED
                   ? ""
                   : meta_image_status_text(img->status),
               target) != 0) {
        char reason[512] = "";
        if (failed != NULL)
            snprintf(reason, sizeof(reason), "%s: %s", failed->name, failed->error);
        if ((st = set_status(cx, conn, id, target, reason, &img->updated_at_us)) != IP_OK)
            goto out;
        img->status = meta_image_status_parse(target);
        img->error = cx_strdup(cx, reason);
        if (img->error == NULL) {
            st = nomem(cx);
            goto out;
        }
        *changed = true;
    }
    if ((st = commit(cx, conn)) != IP_OK)
        goto out;
    *out = img;
out:
    meta_pool_release(s->pool, conn);
    return st;
}

ip_status meta_store_fail(meta_store *s, meta_ctx *cx, const char *id, const char *error,
                          Imageproc__Image **out, bool *changed)
{
    PGconn *conn = NULL;
    PGresult *r = NULL;
    locked_row row;
    const char *reason = error && error[0] ? error : "failed";
    *changed = false;
    ip_status st = begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = lock_image(cx, conn, id, &row)) != IP_OK)
        goto out;
    if (strcmp(row.status, "ready") != 0) {
        if ((st = set_status(cx, conn, id, "failed", reason, NULL)) != IP_OK)
            goto out;
        const char *params[] = {id, reason};
        if ((st = run(cx, conn, ST_FAIL_VARIANTS, 2, params, &r)) != IP_OK)
            goto out;
        PQclear(r);
        *changed = true;
    }
    st = read_and_commit(cx, conn, id, out);
out:
    meta_pool_release(s->pool, conn);
    return st;
}

ip_status meta_store_mark_enqueued(meta_store *s, meta_ctx *cx, const char *id, int64_t at_us,
                                   Imageproc__Image **out)
{
    PGconn *conn = NULL;
    PGresult *r = NULL;
    char at[24];
    snprintf(at, sizeof(at), "%lld", (long long)at_us);
    const char *params[] = {id, at};
    ip_status st = begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = run(cx, conn, ST_ENQUEUED, 2, params, &r)) != IP_OK)
        goto out;
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0) {
        st = cx_fail(cx, IP_NOT_FOUND, "image %s not found", id);
        goto out;
    }
    st = read_and_commit(cx, conn, id, out);
out:
    meta_pool_release(s->pool, conn);
    return st;
}

ip_status meta_store_delete(meta_store *s, meta_ctx *cx, const char *id, char ***keys, size_t *n)
{
    PGconn *conn = NULL;
    PGresult *r = NULL;
    locked_row row;
    const char *params[] = {id};
    *keys = NULL;
    *n = 0;
    ip_status st = begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = lock_image(cx, conn, id, &row)) != IP_OK)
        goto out;
    if ((st = run(cx, conn, ST_DELETE_KEYS, 1, params, &r)) != IP_OK)
        goto out;
    int nv = PQntuples(r);
    char **arr = cx_alloc(cx, (size_t)(nv + 1) * sizeof(char *));
    if (arr == NULL) {
        st = nomem(cx);
        goto out;
    }
    size_t k = 0;
    if (row.original_key[0] != '\0')
        arr[k++] = row.original_key;
    for (int i = 0; i < nv; i++)
        if ((arr[k++] = cx_strdup(cx, val(r, i, 0))) == NULL) {
            st = nomem(cx);
            goto out;
        }
    PQclear(r);
    r = NULL;
    if ((st = run(cx, conn, ST_DELETE, 1, params, &r)) != IP_OK)
        goto out;
    if ((st = commit(cx, conn)) != IP_OK)
        goto out;
    *keys = arr;
    *n = k;
out:
    PQclear(r);
    meta_pool_release(s->pool, conn);
    return st;
}
