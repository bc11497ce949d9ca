/* meta_store.c — images and variants in PostgreSQL: the store's lifecycle
 * and the SQL it runs.
 *
 * HOW IT WORKS
 * Every statement is prepared once per connection (store_prepare is the pool's
 * on_connect hook) and run with PQexecPrepared, every value a text parameter,
 * so nothing a client sends is ever part of SQL text. Times cross the boundary
 * as bigint microseconds since the epoch: out as
 * (extract(epoch from t) * 1000000)::bigint (numeric, exact) and in as
 * 'epoch' + n * 1 microsecond, so a ListImages cursor round-trips exactly.
 * Variants are stored by name (images.ops, variants.name, text): the
 * statements take and return names, which meta_store_rows.c and the callers
 * turn into VariantKind with common/ip_variants.h.
 *
 * Reads (GetImage, ListImages, ListStale) are one statement each: the page of
 * images joined with their variants, ordered so that each image's rows are
 * adjacent and its variants in canonical order (their place in images.ops,
 * which is stored in canonical order). ListImages uses the index
 * (created_at DESC, id DESC): the cursor is a row comparison
 * (created_at, id) < ($t, $id), which PostgreSQL turns into an index bound, so
 * a deep page costs what the first page costs. Its filter $1 is a variant's
 * name, '' for all.
 *
 * The rest of the store lives beside this file, one role each; see
 * meta_store_internal.h for the map.
 */
#include "meta_store.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "meta_pool.h"
#include "meta_store_internal.h"

/* ------------------------------------------------------------- statements */

#define US(t) "(extract(epoch from " t ") * 1000000)::bigint"
#define TS(p) "(timestamptz 'epoch' + (" p "::bigint) * interval '1 microsecond')"

/* The SQL reads best laid out by hand. */
/* clang-format off */
/* The columns every image-returning statement yields, in the order of
 * META_C_* (meta_store_internal.h). */
#define IMG_COLS                                                                                   \
    "i.id, " US("i.created_at") ", " US("i.updated_at") ", i.filename, i.content_type, "            \
    "i.size_bytes, i.width, i.height, i.sha256, array_to_string(i.ops, ','), i.status, i.error, "  \
    "coalesce(" US("i.enqueued_at") ", 0), i.original_key, "                                       \
    "v.name, v.status, v.object_key, v.width, v.height, v.size_bytes, v.format, v.error"
#define VJOIN " LEFT JOIN variants v ON v.image_id = i.id "
#define VORDER "array_position(i.ops, v.name)"

static const struct {
    const char *name;
    const char *sql;
} stmts[META_ST_COUNT] = {
    [META_ST_GET] = {"meta_get",
        "SELECT " IMG_COLS " FROM images i" VJOIN
        "WHERE i.id = $1::uuid ORDER BY " VORDER},
    [META_ST_LIST_FIRST] = {"meta_list_first",
        "SELECT " IMG_COLS " FROM (SELECT * FROM images"
        " WHERE ($1::text = '' OR ops @> ARRAY[$1::text])"
        " ORDER BY created_at DESC, id DESC LIMIT $2::int) i" VJOIN
        "ORDER BY i.created_at DESC, i.id DESC, " VORDER},
    [META_ST_LIST_AFTER] = {"meta_list_after",
        "SELECT " IMG_COLS " FROM (SELECT * FROM images"
        " WHERE (created_at, id) < (" TS("$3") ", $4::uuid)"
        " AND ($1::text = '' OR ops @> ARRAY[$1::text])"
        " ORDER BY created_at DESC, id DESC LIMIT $2::int) i" VJOIN
        "ORDER BY i.created_at DESC, i.id DESC, " VORDER},
    [META_ST_CREATE] = {"meta_create",
        "INSERT INTO images (id, created_at, filename, content_type, size_bytes, width,"
        " height, sha256, original_key, ops) VALUES ($1::uuid,"
        " CASE WHEN $2::bigint = 0 THEN now() ELSE " TS("$2") " END,"
        " $3, $4, $5::bigint, $6::int, $7::int, $8, $9, string_to_array($10, ','))"
        " ON CONFLICT (id) DO NOTHING RETURNING 1"},
    [META_ST_CREATE_VARIANTS] = {"meta_create_variants",
        "INSERT INTO variants (image_id, name)"
        " SELECT $1::uuid, unnest(string_to_array($2, ','))"},
    [META_ST_LOCK] = {"meta_lock",
        "SELECT status, array_to_string(ops, ','), original_key, " US("updated_at")
        " FROM images WHERE id = $1::uuid FOR UPDATE"},
    [META_ST_SET_STATUS] = {"meta_set_status",
        "UPDATE images SET status = $2, error = $3, updated_at = now()"
        " WHERE id = $1::uuid RETURNING " US("updated_at")},
    [META_ST_PUT_VARIANT] = {"meta_put_variant",
        "INSERT INTO variants AS v (image_id, name, status, object_key, width,"
        " height, size_bytes, format, error, updated_at) VALUES ($1::uuid, $2, $3,"
        " $4, $5::int, $6::int, $7::bigint, $8, $9, now())"
        " ON CONFLICT (image_id, name) DO UPDATE SET status = EXCLUDED.status,"
        " object_key = EXCLUDED.object_key, width = EXCLUDED.width,"
        " height = EXCLUDED.height, size_bytes = EXCLUDED.size_bytes,"
        " format = EXCLUDED.format, error = EXCLUDED.error, updated_at = now()"
        " WHERE v.status <> 'ready' AND (v.status, v.error) IS DISTINCT FROM"
        " (EXCLUDED.status, EXCLUDED.error) RETURNING 1"},
    [META_ST_TOUCH] = {"meta_touch",
        "UPDATE images SET status = CASE WHEN status = 'pending' THEN 'processing'"
        " ELSE status END, updated_at = now() WHERE id = $1::uuid"
        " RETURNING status, " US("updated_at")},
    [META_ST_GET_VARIANT] = {"meta_get_variant",
        "SELECT name, status, object_key, width, height, size_bytes, format, error"
        " FROM variants WHERE image_id = $1::uuid AND name = $2"},
    [META_ST_FAIL_VARIANTS] = {"meta_fail_variants",
        "UPDATE variants SET status = 'failed', error = $2, updated_at = now()"
        " WHERE image_id = $1::uuid AND status = 'pending'"},
    [META_ST_ENQUEUED] = {"meta_enqueued",
        "UPDATE images SET enqueued_at = CASE WHEN $2::bigint = 0 THEN now()"
        " ELSE " TS("$2") " END, updated_at = now() WHERE id = $1::uuid RETURNING 1"},
    [META_ST_DELETE_KEYS] = {"meta_delete_keys",
        "SELECT v.object_key FROM variants v JOIN images i ON i.id = v.image_id"
        " WHERE v.image_id = $1::uuid AND v.object_key <> ''"
        " ORDER BY " VORDER},
    [META_ST_DELETE] = {"meta_delete",
        "DELETE FROM images WHERE id = $1::uuid"},
    [META_ST_STALE] = {"meta_stale",
        "SELECT " IMG_COLS " FROM (SELECT * FROM images WHERE status = 'pending'"
        " AND enqueued_at IS NULL"
        " AND created_at < now() - $1::bigint * interval '1 microsecond'"
        " ORDER BY created_at, id LIMIT $2::int) i" VJOIN
        "ORDER BY i.created_at, i.id, " VORDER},
};

/* clang-format on */

const char *meta_store_statement_sql(const char *name)
{
    for (int i = 0; name != NULL && i < META_ST_COUNT; i++)
        if (strcmp(stmts[i].name, name) == 0)
            return stmts[i].sql;
    return NULL;
}

const char *meta_stmt_name(meta_stmt st)
{
    return stmts[st].name;
}

/* The pool's on_connect hook: prepares every statement on a new connection. */
static ip_status store_prepare(void *user, PGconn *conn, char *err, size_t errlen)
{
    (void)user;
    for (int i = 0; i < META_ST_COUNT; i++) {
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
