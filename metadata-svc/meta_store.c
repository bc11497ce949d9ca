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
 * The sweep (ListStale) and the purges (ClaimPurges) hand rows out to one of
 * several callers at a time: the rows are picked with FOR UPDATE SKIP LOCKED
 * and claimed (swept_until, next_at) in the same statement, so concurrent
 * callers neither wait for each other nor get the same row. Each of the
 * sweep's three selections implies the predicate of one partial index
 * (images_stale_idx, images_enqueued_idx, images_lease_idx), so PostgreSQL
 * reads the few stale rows from those indexes, not the table (a BitmapOr of
 * the three). DeleteImage deletes the row and records its purge in one
 * statement.
 *
 * API keys (api_keys) are rows of their own, looked up by the hash of the
 * presented key through its unique index; scopes are stored by name.
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
    "coalesce(" US("i.enqueued_at") ", 0), i.original_key, i.runs, "                               \
    "coalesce(" US("i.lease_until") ", 0), coalesce(i.owner_hash, ''), "                           \
    "v.name, v.status, v.object_key, v.width, v.height, v.size_bytes, v.format, v.error"
/* The columns of every key-returning statement, in the order of META_K_*. */
#define KEY_COLS                                                                                   \
    "id, name, prefix, array_to_string(scopes, ','), " US("created_at") ", "                      \
    "coalesce(" US("revoked_at") ", 0)"
#define VJOIN " LEFT JOIN variants v ON v.image_id = i.id "
#define VORDER "array_position(i.ops, v.name)"
#define MS(p) "(" p "::bigint * interval '1 millisecond')"
/* Nobody holds the image: no lease, or one that ran out. */
#define LEASE_GONE "(lease_until IS NULL OR lease_until < now())"
/* The sweep's selections (ListStale): $1 older_than_us, $3
 * enqueued_older_than_us, $4 expired_leases; rows another sweep claimed are
 * left out. Each branch implies one partial index's predicate. */
#define STALE_WHERE                                                                                \
    "(swept_until IS NULL OR swept_until <= now()) AND ("                                          \
    "(status = 'pending' AND enqueued_at IS NULL"                                                  \
    " AND created_at < now() - $1::bigint * interval '1 microsecond')"                             \
    " OR ($3::bigint > 0 AND status = 'pending'"                                                   \
    " AND enqueued_at < now() - $3::bigint * interval '1 microsecond')"                            \
    " OR ($4::boolean AND status = 'processing' AND " LEASE_GONE "))"

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
    /* The upload's reservation (ReserveUpload) goes with the row, unless a
     * purger already claimed it: then the id stays refused. */
    [META_ST_CREATE] = {"meta_create",
        "WITH r AS (DELETE FROM purges WHERE image_id = $1::uuid AND reservation"
        " AND attempts = 0 RETURNING 1) INSERT INTO images (id, created_at, filename, content_type, size_bytes, width,"
        " height, sha256, original_key, ops, owner_hash) SELECT $1::uuid,"
        " CASE WHEN $2::bigint = 0 THEN now() ELSE " TS("$2") " END,"
        " $3, $4, $5::bigint, $6::int, $7::int, $8, $9, string_to_array($10, ','),"
        " nullif($11, '')"
        " WHERE NOT EXISTS (SELECT 1 FROM purges WHERE image_id = $1::uuid"
        " AND NOT (reservation AND attempts = 0))"
        " ON CONFLICT (id) DO NOTHING RETURNING 1"},
    [META_ST_CREATE_VARIANTS] = {"meta_create_variants",
        "INSERT INTO variants (image_id, name)"
        " SELECT $1::uuid, unnest(string_to_array($2, ','))"},
    [META_ST_LOCK] = {"meta_lock",
        "SELECT status, array_to_string(ops, ','), original_key, " US("updated_at")
        " FROM images WHERE id = $1::uuid FOR UPDATE"},
    [META_ST_SET_STATUS] = {"meta_set_status",
        "UPDATE images SET status = $2, error = $3, lease_until = NULL, updated_at = now()"
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
    [META_ST_PROCESSING] = {"meta_processing",
        "UPDATE images SET status = 'processing', error = '',"
        " lease_until = now() + " MS("$2") ","
        " runs = runs + CASE WHEN $3::boolean THEN 1 ELSE 0 END,"
        " updated_at = CASE WHEN status = 'processing' THEN updated_at ELSE now() END"
        " WHERE id = $1::uuid"},
    [META_ST_RENEW] = {"meta_renew",
        "UPDATE images SET lease_until = greatest(lease_until, now() + " MS("$2") ")"
        " WHERE id = $1::uuid AND status = 'processing'"},
    [META_ST_ENQUEUED] = {"meta_enqueued",
        "UPDATE images SET enqueued_at = CASE WHEN $2::bigint = 0 THEN now()"
        " ELSE " TS("$2") " END,"
        " status = CASE WHEN $3::boolean AND status = 'processing' AND " LEASE_GONE
        " THEN 'pending' ELSE status END,"
        " lease_until = CASE WHEN $3::boolean AND status = 'processing' AND " LEASE_GONE
        " THEN NULL ELSE lease_until END,"
        " updated_at = now() WHERE id = $1::uuid RETURNING status"},
    [META_ST_RETRY] = {"meta_retry",
        "UPDATE images SET status = 'pending', error = '', runs = 0, enqueued_at = NULL,"
        " lease_until = NULL, swept_until = NULL, updated_at = now() WHERE id = $1::uuid"},
    [META_ST_RETRY_VARIANTS] = {"meta_retry_variants",
        "UPDATE variants SET status = 'pending', error = '', updated_at = now()"
        " WHERE image_id = $1::uuid AND status = 'failed'"},
    [META_ST_DELETE_KEYS] = {"meta_delete_keys",
        "SELECT v.object_key FROM variants v JOIN images i ON i.id = v.image_id"
        " WHERE v.image_id = $1::uuid AND v.object_key <> ''"
        " ORDER BY " VORDER},
    /* The row goes and its purge is recorded in one statement: every part of
     * it sees the rows as they were, so the variants' keys are still there. A
     * purge left from an earlier image of the same id takes the new keys too. */
    [META_ST_DELETE] = {"meta_delete",
        "WITH gone AS (DELETE FROM images WHERE id = $1::uuid"
        " RETURNING id, original_key, ops)"
        " INSERT INTO purges AS p (image_id, object_keys, prefix)"
        " SELECT g.id, array_remove(ARRAY[g.original_key], '') || ARRAY("
        "SELECT v.object_key FROM variants v WHERE v.image_id = g.id AND v.object_key <> ''"
        " ORDER BY array_position(g.ops, v.name)), $2 FROM gone g"
        " ON CONFLICT (image_id) DO UPDATE SET object_keys = ARRAY("
        "SELECT k FROM unnest(p.object_keys || EXCLUDED.object_keys) WITH ORDINALITY AS t(k, n)"
        " GROUP BY k ORDER BY min(n)), prefix = EXCLUDED.prefix, next_at = now()"
        " RETURNING 1"},
    [META_ST_STALE] = {"meta_stale",
        "SELECT " IMG_COLS " FROM (SELECT * FROM images WHERE " STALE_WHERE
        " ORDER BY created_at, id LIMIT $2::int) i" VJOIN
        "ORDER BY i.created_at, i.id, " VORDER},
    /* The same rows, claimed until now + $5 ms: rows another sweep is
     * claiming right now are skipped (SKIP LOCKED), and one it claimed
     * meanwhile fails STALE_WHERE when its lock is taken (the row is
     * re-checked), so a row goes to one sweep at a time. */
    [META_ST_STALE_CLAIM] = {"meta_stale_claim",
        "WITH picked AS (SELECT id FROM images WHERE " STALE_WHERE
        " ORDER BY created_at, id LIMIT $2::int FOR UPDATE SKIP LOCKED),"
        " claimed AS (UPDATE images u SET swept_until = now() + " MS("$5")
        " FROM picked WHERE u.id = picked.id RETURNING u.*)"
        " SELECT " IMG_COLS " FROM claimed i" VJOIN
        "ORDER BY i.created_at, i.id, " VORDER},
    /* Due purges, oldest first, claimed until now + $2 ms; one row per
     * object key (image_id, created_at, prefix, attempts, last_error, key). */
    [META_ST_CLAIM_PURGES] = {"meta_claim_purges",
        "WITH due AS (SELECT image_id FROM purges WHERE next_at <= now()"
        " ORDER BY created_at, image_id LIMIT $1::int FOR UPDATE SKIP LOCKED),"
        " claimed AS (UPDATE purges p SET next_at = now() + " MS("$2") ","
        " attempts = p.attempts + 1 FROM due WHERE p.image_id = due.image_id RETURNING p.*)"
        " SELECT c.image_id, " US("c.created_at") ", c.prefix, c.attempts, c.last_error, k.key"
        " FROM claimed c LEFT JOIN LATERAL unnest(c.object_keys) WITH ORDINALITY AS k(key, n)"
        " ON true ORDER BY c.created_at, c.image_id, k.n"},
    [META_ST_PURGE_DONE] = {"meta_purge_done",
        "DELETE FROM purges WHERE image_id = $1::uuid RETURNING 1"},
    [META_ST_RESERVE] = {"meta_reserve",
        "INSERT INTO purges (image_id, object_keys, next_at, reservation)"
        " VALUES ($1::uuid, ARRAY[$2::text], now() + " MS("$3") ", true)"
        " ON CONFLICT (image_id) DO NOTHING RETURNING 1"},
    [META_ST_PURGE_FAILED] = {"meta_purge_failed",
        "UPDATE purges SET last_error = $2 WHERE image_id = $1::uuid RETURNING 1"},
    /* API keys (meta_store_keys.c): KEY_COLS, one row per key. Any taken
     * unique value (id or hash) makes the insert a no-op: ALREADY_EXISTS. */
    [META_ST_KEY_CREATE] = {"meta_key_create",
        "INSERT INTO api_keys (id, name, prefix, hash, scopes)"
        " VALUES ($1::uuid, $2, $3, $4, string_to_array($5, ','))"
        " ON CONFLICT DO NOTHING RETURNING " KEY_COLS},
    [META_ST_KEY_LIST] = {"meta_key_list",
        "SELECT " KEY_COLS " FROM api_keys WHERE $1::boolean OR revoked_at IS NULL"
        " ORDER BY created_at, id"},
    /* A second revocation keeps the first one's time. */
    [META_ST_KEY_REVOKE] = {"meta_key_revoke",
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())"
        " WHERE id = $1::uuid RETURNING " KEY_COLS},
    [META_ST_KEY_LOOKUP] = {"meta_key_lookup",
        "SELECT " KEY_COLS " FROM api_keys WHERE hash = $1 AND revoked_at IS NULL"},
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
