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
 * images joined with their variants (and each variant with its preset's row,
 * three rows in all, for its `stale` flag), ordered so that each image's rows
 * are adjacent and its variants in canonical order (their place in
 * images.ops, which is stored in canonical order). A variant's files beside
 * the primary come out of the arrays alt_formats/alt_keys/alt_sizes as comma
 * lists, which meta_store_rows.c splits. ListImages uses the index
 * (created_at DESC, id DESC): the cursor is a row comparison
 * (created_at, id) < ($t, $id), which PostgreSQL turns into an index bound, so
 * a deep page costs what the first page costs. Its filter $1 is a variant's
 * name, '' for all. Filtered by checksum it reads images_sha_created_idx
 * (sha256, created_at DESC, id DESC) the same way. CreateImage's duplicate
 * check and idempotency records (meta_store_create.c) run under
 * transaction-scoped advisory locks (meta_create_lock).
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
 * Presets are one row per kind (SetPreset locks it to bump the version);
 * staleness questions over all variants (the count, ListRegenerate's stale
 * pages) read only the older-version ranges of variants_ready_version_idx.
 * A purge record grows when a regeneration merges keys into it: gen counts
 * the merges, ClaimPurges notes the count it handed out and FinishPurge
 * deletes the record only when nothing was merged since.
 *
 * API keys (api_keys) are rows of their own, looked up by the hash of the
 * presented key through its unique index; scopes are stored by name.
 *
 * Webhooks: the outbox (webhook_deliveries) is written by one INSERT ...
 * SELECT per change, the body built here as compact JSON with format() and
 * to_json() (every string escaped by PostgreSQL), inside the image write's
 * transaction; claims pick due rows FOR UPDATE SKIP LOCKED through
 * webhook_deliveries_due_idx, each the earliest pending one of its
 * (subscription, image) by seq, and claim them in the same statement; the
 * log is keyset-paged on (created_at, id) descending like the listing.
 * Statements that touch a live subscription's deliveries (the outbox write,
 * a resend) share-lock the subscription row, so DeleteWebhook, which updates
 * it first and cancels the pending deliveries in a second statement, never
 * leaves one pending behind.
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
/* A variant's columns, in meta_rows_variant's order: the primary file, the
 * version that made it, the files beside the primary as comma lists (formats,
 * keys, sizes; keys are checked to be of ip_key_variant_version's form, which
 * has no comma), and whether it is stale. Needs `v` (variants) and `p` (its
 * preset, joined by name). */
#define VARIANT_COLS                                                                               \
    "v.name, v.status, v.object_key, v.width, v.height, v.size_bytes, v.format, v.error, "        \
    "v.preset_version, array_to_string(v.alt_formats, ','), array_to_string(v.alt_keys, ','), "   \
    "array_to_string(v.alt_sizes, ','), " STALE_EXPR
/* A ready variant made by an older version than its preset's current one (0
 * counts as 1, which for a current version above 1 changes nothing). */
#define STALE_EXPR "coalesce(v.status = 'ready' AND p.version > 1 AND v.preset_version < p.version, false)"
/* The columns every image-returning statement yields, in the order of
 * META_C_* (meta_store_internal.h). */
#define IMG_COLS                                                                                   \
    "i.id, " US("i.created_at") ", " US("i.updated_at") ", i.filename, i.content_type, "            \
    "i.size_bytes, i.width, i.height, i.sha256, array_to_string(i.ops, ','), i.status, i.error, "  \
    "coalesce(" US("i.enqueued_at") ", 0), i.original_key, i.runs, "                               \
    "coalesce(" US("i.lease_until") ", 0), coalesce(i.owner_hash, ''), i.thumbhash, "              \
    "i.dominant_color, coalesce(i.key_id::text, ''), " VARIANT_COLS
/* The columns of every key-returning statement, in the order of META_K_*. */
#define KEY_COLS                                                                                   \
    "id, name, prefix, array_to_string(scopes, ','), " US("created_at") ", "                      \
    "coalesce(" US("revoked_at") ", 0)"
#define VJOIN " LEFT JOIN variants v ON v.image_id = i.id LEFT JOIN presets p ON p.name = v.name "
/* A preset's columns, in the order of META_P_* (meta_store_internal.h). */
#define PRESET_COLS                                                                                \
    "name, version, width, height, fit, jpeg_quality, webp, webp_quality, avif, avif_quality, "    \
    "wm_text, wm_logo_key, coalesce(wm_position, ''), wm_margin, wm_scale, wm_opacity, "          \
    US("updated_at")
/* The columns ListRegenerate gives out. */
#define REGEN_COLS "i.id, i.original_key, i.content_type, array_to_string(i.ops, ',')"
#define VORDER "array_position(i.ops, v.name)"
/* One page of ListImages newest first, `where` choosing the rows: $1 the
 * variant filter ('' = all), $2 the limit, the other parameters the where's. */
#define LIST_PAGE(where)                                                                           \
    "SELECT " IMG_COLS " FROM (SELECT * FROM images WHERE " where                                  \
    " AND ($1::text = '' OR ops @> ARRAY[$1::text])"                                               \
    " ORDER BY created_at DESC, id DESC LIMIT $2::int) i" VJOIN                                    \
    "ORDER BY i.created_at DESC, i.id DESC, " VORDER
#define LIST_CURSOR "(created_at, id) < (" TS("$3") ", $4::uuid)"
/* An idempotency record's columns (meta_store_create.c), the response as hex. */
#define IDEM_COLS                                                                                  \
    "scope, key, request_sha256, image_id, status, encode(response, 'hex'), " US("created_at")
/* How long an idempotency record answers. */
#define IDEM_LIVE "created_at >= now() - interval '24 hours'"
#define IDEM_EXPIRED "created_at < now() - interval '24 hours'"
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

/* Webhooks (meta_store_webhooks.c, meta_store_outbox.c). A subscription's
 * columns in the order of META_W_*; `secret` is the column or '' (only
 * CreateWebhook's reply carries it). */
#define WEBHOOK_COLS(secret)                                                                       \
    "id, url, " secret ", array_to_string(events, ','), coalesce(key_id::text, ''),"              \
    " own_images_only, description, " US("created_at")
/* A delivery's columns (alias d) in the order of META_D_*: next_attempt_at
 * only while pending, 0 for the times that have not happened. */
#define DELIVERY_COLS                                                                              \
    "d.id, d.subscription_id, d.event, d.image_id, d.state, d.attempts, " US("d.created_at") ", " \
    "CASE WHEN d.state = 'pending' THEN " US("d.next_attempt_at") " ELSE 0 END, "                 \
    "coalesce(" US("d.delivered_at") ", 0), d.last_status, d.last_error, "                        \
    "coalesce(" US("d.last_attempt_at") ", 0), d.last_duration_ms"
/* A time as a webhook body writes it: RFC 3339, UTC, microseconds, "Z". */
#define RFC3339(t) "to_char(" t " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
/* The body of a delivery about image i ($2 the event's name): compact JSON,
 * every string through to_json (escaped), fixed when the row is written. */
#define WEBHOOK_BODY                                                                               \
    "format('{\"type\":%s,\"timestamp\":%s,\"data\":{\"id\":%s,\"status\":%s,"             \
    "\"error\":%s,\"created_at\":%s,\"filename\":%s,\"content_type\":%s,\"size\":%s,"         \
    "\"sha256\":%s}}', to_json($2::text), to_json(" RFC3339("now()") "),"                         \
    " to_json(i.id::text),"                                                                        \
    " to_json(CASE WHEN $2::text = 'image.deleted' THEN 'deleted' ELSE i.status END),"           \
    " to_json(CASE WHEN $2::text = 'image.failed' THEN i.error ELSE '' END),"                    \
    " to_json(" RFC3339("i.created_at") "), to_json(i.filename), to_json(i.content_type),"        \
    " i.size_bytes, to_json(i.sha256))"

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
        " height, sha256, original_key, ops, owner_hash, key_id) SELECT $1::uuid,"
        " CASE WHEN $2::bigint = 0 THEN now() ELSE " TS("$2") " END,"
        " $3, $4, $5::bigint, $6::int, $7::int, $8, $9, string_to_array($10, ','),"
        " nullif($11, ''), nullif($12, '')::uuid"
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
        " height, size_bytes, format, error, preset_version, alt_formats, alt_keys,"
        " alt_sizes, updated_at) VALUES ($1::uuid, $2, $3,"
        " $4, $5::int, $6::int, $7::bigint, $8, $9, $10::int, $11::text[], $12::text[],"
        " $13::bigint[], now())"
        " ON CONFLICT (image_id, name) DO UPDATE SET status = EXCLUDED.status,"
        " object_key = EXCLUDED.object_key, width = EXCLUDED.width,"
        " height = EXCLUDED.height, size_bytes = EXCLUDED.size_bytes,"
        " format = EXCLUDED.format, error = EXCLUDED.error,"
        " preset_version = EXCLUDED.preset_version, alt_formats = EXCLUDED.alt_formats,"
        " alt_keys = EXCLUDED.alt_keys, alt_sizes = EXCLUDED.alt_sizes, updated_at = now()"
        " WHERE v.status <> 'ready' AND (v.status, v.error) IS DISTINCT FROM"
        " (EXCLUDED.status, EXCLUDED.error) RETURNING 1"},
    /* A regeneration's variant replaces the stored one whole. */
    [META_ST_REPLACE_VARIANT] = {"meta_replace_variant",
        "UPDATE variants SET status = 'ready', object_key = $3, width = $4::int,"
        " height = $5::int, size_bytes = $6::bigint, format = $7, error = '',"
        " preset_version = $8::int, alt_formats = $9::text[], alt_keys = $10::text[],"
        " alt_sizes = $11::bigint[], updated_at = now()"
        " WHERE image_id = $1::uuid AND name = $2 RETURNING 1"},
    /* The placeholder; '' leaves a field as it is. */
    [META_ST_PLACEHOLDER] = {"meta_placeholder",
        "UPDATE images SET thumbhash = CASE WHEN $2 = '' THEN thumbhash ELSE $2 END,"
        " dominant_color = CASE WHEN $3 = '' THEN dominant_color ELSE $3 END"
        " WHERE id = $1::uuid AND (($2 <> '' AND thumbhash <> $2)"
        " OR ($3 <> '' AND dominant_color <> $3)) RETURNING 1"},
    /* The files a regeneration replaced, merged into the image's pending purge
     * ($3: the new keys, never purged); gen counts the merges (see
     * meta_purge_done). */
    [META_ST_PURGE_MERGE] = {"meta_purge_merge",
        "INSERT INTO purges AS p (image_id, object_keys) VALUES ($1::uuid, $2::text[])"
        " ON CONFLICT (image_id) DO UPDATE SET object_keys = ARRAY("
        "SELECT k FROM unnest(p.object_keys || EXCLUDED.object_keys) WITH ORDINALITY AS t(k, n)"
        " WHERE k <> ALL ($3::text[]) GROUP BY k ORDER BY min(n)),"
        " reservation = false, gen = p.gen + 1 RETURNING 1"},
    [META_ST_TOUCH] = {"meta_touch",
        "UPDATE images SET status = CASE WHEN status = 'pending' THEN 'processing'"
        " ELSE status END, updated_at = now() WHERE id = $1::uuid"
        " RETURNING status, " US("updated_at")},
    [META_ST_GET_VARIANT] = {"meta_get_variant",
        "SELECT " VARIANT_COLS " FROM variants v LEFT JOIN presets p ON p.name = v.name"
        " WHERE v.image_id = $1::uuid AND v.name = $2"},
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
        "SELECT f.k FROM variants v JOIN images i ON i.id = v.image_id,"
        " unnest(ARRAY[v.object_key] || v.alt_keys) WITH ORDINALITY AS f(k, n)"
        " WHERE v.image_id = $1::uuid AND f.k <> ''"
        " ORDER BY " VORDER ", f.n"},
    /* The row goes and its purge is recorded in one statement: every part of
     * it sees the rows as they were, so the variants' keys are still there. A
     * purge left from an earlier image of the same id takes the new keys too. */
    [META_ST_DELETE] = {"meta_delete",
        "WITH gone AS (DELETE FROM images WHERE id = $1::uuid"
        " RETURNING id, original_key, ops)"
        " INSERT INTO purges AS p (image_id, object_keys, prefix)"
        " SELECT g.id, array_remove(ARRAY[g.original_key], '') || ARRAY("
        "SELECT f.k FROM variants v, unnest(ARRAY[v.object_key] || v.alt_keys)"
        " WITH ORDINALITY AS f(k, n) WHERE v.image_id = g.id AND f.k <> ''"
        " ORDER BY array_position(g.ops, v.name), f.n), $2 FROM gone g"
        " ON CONFLICT (image_id) DO UPDATE SET object_keys = ARRAY("
        "SELECT k FROM unnest(p.object_keys || EXCLUDED.object_keys) WITH ORDINALITY AS t(k, n)"
        " GROUP BY k ORDER BY min(n)), prefix = EXCLUDED.prefix, next_at = now(),"
        " reservation = false, gen = p.gen + 1 RETURNING 1"},
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
        " attempts = p.attempts + 1, claimed_gen = p.gen FROM due WHERE p.image_id = due.image_id RETURNING p.*)"
        " SELECT c.image_id, " US("c.created_at") ", c.prefix, c.attempts, c.last_error, k.key"
        " FROM claimed c LEFT JOIN LATERAL unnest(c.object_keys) WITH ORDINALITY AS k(key, n)"
        " ON true ORDER BY c.created_at, c.image_id, k.n"},
    /* Storage confirmed the keys handed out: the record goes, unless keys
     * were merged into it since its claim (gen moved past claimed_gen): then
     * it is due again, whole (removing a removed object again is harmless). */
    [META_ST_PURGE_DONE] = {"meta_purge_done",
        "WITH d AS (DELETE FROM purges WHERE image_id = $1::uuid AND gen = claimed_gen"
        " RETURNING 1), u AS (UPDATE purges SET next_at = now() WHERE image_id = $1::uuid"
        " AND gen <> claimed_gen RETURNING 1) SELECT 1 FROM d UNION ALL SELECT 1 FROM u"},
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
    /* Presets (meta_store_presets.c): PRESET_COLS, one row per kind. */
    [META_ST_PRESETS] = {"meta_presets", "SELECT " PRESET_COLS " FROM presets"},
    [META_ST_PRESET_LOCK] = {"meta_preset_lock",
        "SELECT " PRESET_COLS " FROM presets WHERE name = $1 FOR UPDATE"},
    [META_ST_PRESET_SET] = {"meta_preset_set",
        "UPDATE presets SET version = version + 1, width = $2::int, height = $3::int, fit = $4,"
        " jpeg_quality = $5::int, webp = $6::boolean, webp_quality = $7::int,"
        " avif = $8::boolean, avif_quality = $9::int, wm_text = $10, wm_logo_key = $11,"
        " wm_position = nullif($12, ''), wm_margin = $13::float8, wm_scale = $14::float8,"
        " wm_opacity = $15::float8, updated_at = now() WHERE name = $1 RETURNING " PRESET_COLS},
    /* The ready variants made by an older version than their preset's: the
     * ranges (name, preset_version < current) of variants_ready_version_idx. */
    [META_ST_STALE_COUNT] = {"meta_stale_count",
        "SELECT count(*) FROM presets p JOIN variants v ON v.name = p.name"
        " AND v.status = 'ready' AND v.preset_version < p.version WHERE p.version > 1"},
    /* ListRegenerate ($1 after_id, nil UUID for the first page; $2 limit). */
    [META_ST_REGEN_ALL] = {"meta_regen_all",
        "SELECT " REGEN_COLS " FROM images i WHERE i.status = 'ready' AND i.id > $1::uuid"
        " ORDER BY i.id LIMIT $2::int"},
    /* Each range (name, one older version) of variants_ready_version_idx read
     * in image_id order from the cursor, at most $2 ids each; the first $2
     * distinct ids of their union are the page (an id among them is within
     * the first $2 of every range it is in). */
    [META_ST_REGEN_STALE] = {"meta_regen_stale",
        "SELECT " REGEN_COLS " FROM images i WHERE i.id IN (SELECT DISTINCT x.image_id"
        " FROM presets p CROSS JOIN LATERAL generate_series(0, p.version - 1) AS u(ver)"
        " CROSS JOIN LATERAL (SELECT v.image_id FROM variants v JOIN images j"
        " ON j.id = v.image_id AND j.status = 'ready' WHERE v.name = p.name"
        " AND v.status = 'ready' AND v.preset_version = u.ver AND v.image_id > $1::uuid"
        " ORDER BY v.image_id LIMIT $2::int) x WHERE p.version > 1"
        " ORDER BY x.image_id LIMIT $2::int) ORDER BY i.id"},
    [META_ST_REGEN_IDS] = {"meta_regen_ids",
        "SELECT " REGEN_COLS " FROM images i WHERE i.id = ANY ($1::uuid[])"
        " AND i.status = 'ready' ORDER BY i.id"},
    /* ListImages by checksum: images_sha_created_idx (sha256, created_at DESC,
     * id DESC) reads the page in order from the cursor on; the key filter
     * ('' = all) is checked on those few rows. */
    [META_ST_LIST_SHA_FIRST] = {"meta_list_sha_first",
        LIST_PAGE("sha256 = $3 AND ($4::text = '' OR key_id = nullif($4, '')::uuid)")},
    [META_ST_LIST_SHA_AFTER] = {"meta_list_sha_after",
        LIST_PAGE(LIST_CURSOR " AND sha256 = $5"
                  " AND ($6::text = '' OR key_id = nullif($6, '')::uuid)")},
    /* ListImages by key alone: images_created_id_idx, the key as a filter. */
    [META_ST_LIST_KEY_FIRST] = {"meta_list_key_first", LIST_PAGE("key_id = $3::uuid")},
    [META_ST_LIST_KEY_AFTER] = {"meta_list_key_after",
        LIST_PAGE(LIST_CURSOR " AND key_id = $5::uuid")},
    /* CreateImage's checks (meta_store_create.c): a transaction-scoped lock
     * on ($1 the kind of check, a hash of $2 what is checked). */
    [META_ST_CREATE_LOCK] = {"meta_create_lock",
        "SELECT pg_advisory_xact_lock($1::int, hashtext($2))"},
    /* The newest image of key $1 with checksum $2: images_key_sha_idx, or
     * images_sha_created_idx with the key as a filter when a checksum has few
     * rows (the planner's choice; either reads a handful of rows). */
    [META_ST_DUPLICATE] = {"meta_duplicate",
        "SELECT " IMG_COLS " FROM (SELECT * FROM images WHERE key_id = $1::uuid"
        " AND sha256 = $2 ORDER BY created_at DESC, id DESC LIMIT 1) i" VJOIN
        "ORDER BY " VORDER},
    /* The live record of (scope $1, key $2); an expired one goes. */
    [META_ST_IDEM_TAKE] = {"meta_idem_take",
        "WITH expired AS (DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2"
        " AND " IDEM_EXPIRED " RETURNING 1)"
        " SELECT " IDEM_COLS " FROM idempotency_keys WHERE scope = $1 AND key = $2"
        " AND " IDEM_LIVE},
    /* At most 100 other expired records, oldest first (idempotency_keys_created_idx);
     * rows another call is removing are skipped. */
    [META_ST_IDEM_SWEEP] = {"meta_idem_sweep",
        "DELETE FROM idempotency_keys k USING (SELECT scope, key FROM idempotency_keys"
        " WHERE " IDEM_EXPIRED " ORDER BY created_at LIMIT 100 FOR UPDATE SKIP LOCKED) o"
        " WHERE k.scope = o.scope AND k.key = o.key"},
    [META_ST_IDEM_INSERT] = {"meta_idem_insert",
        "INSERT INTO idempotency_keys (scope, key, request_sha256, image_id, status, response)"
        " VALUES ($1, $2, $3, $4::uuid, $5::int, decode($6, 'hex'))"},
    [META_ST_IDEM_GET] = {"meta_idem_get",
        "SELECT " IDEM_COLS " FROM idempotency_keys WHERE scope = $1 AND key = $2"
        " AND " IDEM_LIVE},
    /* The outbox ($1 image, $2 event name): one delivery per live
     * subscription that lists the event and takes the image, the
     * subscriptions share-locked so that a concurrent DeleteWebhook either
     * comes first (they no longer match when the lock is had) or waits and
     * then cancels these rows. */
    [META_ST_OUTBOX_WRITE] = {"meta_outbox_write",
        "WITH subs AS (SELECT s.id FROM webhook_subscriptions s JOIN images i"
        " ON i.id = $1::uuid WHERE s.deleted_at IS NULL AND $2::text = ANY (s.events)"
        " AND (NOT s.own_images_only OR s.key_id = i.key_id)"
        " ORDER BY s.created_at, s.id FOR SHARE OF s)"
        " INSERT INTO webhook_deliveries (id, subscription_id, event, image_id, body)"
        " SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), subs.id, $2::text,"
        " i.id, " WEBHOOK_BODY " FROM subs JOIN images i ON i.id = $1::uuid RETURNING 1"},
    /* Due deliveries ($1 limit), oldest due first, each the earliest pending
     * one of its (subscription, image), of a live subscription; claimed
     * until now + $2 ms with one more attempt. SKIP LOCKED: a row another
     * dispatcher is claiming is passed over, and one it claimed meanwhile
     * fails the due test when re-checked under its lock. */
    [META_ST_DELIVERIES_CLAIM] = {"meta_deliveries_claim",
        "WITH due AS (SELECT d.id, d.next_attempt_at AS due_at FROM webhook_deliveries d"
        " JOIN webhook_subscriptions s ON s.id = d.subscription_id"
        " WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND s.deleted_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.state = 'pending'"
        " AND e.subscription_id = d.subscription_id AND e.image_id = d.image_id"
        " AND e.seq < d.seq)"
        " ORDER BY d.next_attempt_at, d.seq LIMIT $1::int FOR UPDATE OF d SKIP LOCKED),"
        " claimed AS (UPDATE webhook_deliveries d SET attempts = d.attempts + 1,"
        " next_attempt_at = now() + " MS("$2") ", last_attempt_at = now()"
        " FROM due WHERE d.id = due.id RETURNING d.*, due.due_at)"
        " SELECT " DELIVERY_COLS ", d.body, s.url, s.secret FROM claimed d"
        " JOIN webhook_subscriptions s ON s.id = d.subscription_id ORDER BY d.due_at, d.seq"},
    /* An attempt's outcome ($1 id, $2 delivered, $3 status, $4 error, $5
     * duration, $6 retry_after ms, $7 horizon ms): only a pending row
     * changes; any other is read back as it is. The last column: changed. */
    [META_ST_DELIVERY_FINISH] = {"meta_delivery_finish",
        "WITH u AS (UPDATE webhook_deliveries d SET"
        " state = CASE WHEN $2::boolean THEN 'delivered'"
        " WHEN now() + " MS("$6") " > d.horizon_from + " MS("$7") " THEN 'failed'"
        " ELSE 'pending' END,"
        " delivered_at = CASE WHEN $2::boolean THEN now() ELSE d.delivered_at END,"
        " next_attempt_at = CASE WHEN $2::boolean THEN d.next_attempt_at"
        " ELSE now() + " MS("$6") " END,"
        " last_status = $3::int, last_error = $4, last_duration_ms = $5::int"
        " WHERE d.id = $1 AND d.state = 'pending' RETURNING d.*)"
        " SELECT " DELIVERY_COLS ", true FROM u d UNION ALL SELECT " DELIVERY_COLS ", false"
        " FROM webhook_deliveries d WHERE d.id = $1 AND NOT EXISTS (SELECT 1 FROM u)"},
    /* Retention: at most 100 finished deliveries older than 30 days go
     * (SKIP LOCKED: a concurrent prune takes others, none waits). */
    [META_ST_DELIVERIES_PRUNE] = {"meta_deliveries_prune",
        "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries"
        " WHERE state <> 'pending' AND created_at < now() - interval '30 days'"
        " ORDER BY created_at LIMIT 100 FOR UPDATE SKIP LOCKED)"},
    /* Subscriptions: a taken id (a deleted one's too) is ALREADY_EXISTS. */
    [META_ST_WEBHOOK_CREATE] = {"meta_webhook_create",
        "INSERT INTO webhook_subscriptions (id, url, secret, events, key_id,"
        " own_images_only, description) VALUES ($1::uuid, $2, $3, string_to_array($4, ','),"
        " nullif($5, '')::uuid, $6::boolean, $7)"
        " ON CONFLICT (id) DO NOTHING RETURNING " WEBHOOK_COLS("secret")},
    /* $1 key_id ('' = those an operator made), $2 all: every live one. */
    [META_ST_WEBHOOK_LIST] = {"meta_webhook_list",
        "SELECT " WEBHOOK_COLS("''") " FROM webhook_subscriptions WHERE deleted_at IS NULL"
        " AND ($2::boolean OR key_id IS NOT DISTINCT FROM nullif($1, '')::uuid)"
        " ORDER BY created_at, id"},
    [META_ST_WEBHOOK_GET] = {"meta_webhook_get",
        "SELECT " WEBHOOK_COLS("''") " FROM webhook_subscriptions"
        " WHERE id = $1::uuid AND deleted_at IS NULL"},
    /* DeleteWebhook, then META_ST_WEBHOOK_CANCEL in the same transaction: a
     * statement of its own, so it sees the rows of an outbox write that held
     * the subscription's share lock until it committed. */
    [META_ST_WEBHOOK_DELETE] = {"meta_webhook_delete",
        "UPDATE webhook_subscriptions SET deleted_at = now()"
        " WHERE id = $1::uuid AND deleted_at IS NULL RETURNING 1"},
    [META_ST_WEBHOOK_CANCEL] = {"meta_webhook_cancel",
        "UPDATE webhook_deliveries SET state = 'cancelled'"
        " WHERE subscription_id = $1::uuid AND state = 'pending'"},
    /* The delivery log ($1 subscription, $2 limit; $3, $4 the cursor): the
     * index (subscription_id, created_at DESC, id DESC), bounded by the row
     * comparison like the image listing. */
    [META_ST_DELIVERIES_FIRST] = {"meta_deliveries_first",
        "SELECT " DELIVERY_COLS " FROM webhook_deliveries d WHERE d.subscription_id = $1::uuid"
        " ORDER BY d.created_at DESC, d.id DESC LIMIT $2::int"},
    [META_ST_DELIVERIES_AFTER] = {"meta_deliveries_after",
        "SELECT " DELIVERY_COLS " FROM webhook_deliveries d WHERE d.subscription_id = $1::uuid"
        " AND (d.created_at, d.id) < (" TS("$3") ", $4)"
        " ORDER BY d.created_at DESC, d.id DESC LIMIT $2::int"},
    /* ResendDelivery ($1 subscription, $2 id): pending, due now, its horizon
     * from now; the subscription live and share-locked (as the outbox does),
     * so a concurrent DeleteWebhook cancels it again. */
    [META_ST_DELIVERY_RESEND] = {"meta_delivery_resend",
        "WITH s AS (SELECT id FROM webhook_subscriptions WHERE id = $1::uuid"
        " AND deleted_at IS NULL FOR SHARE)"
        " UPDATE webhook_deliveries d SET state = 'pending', next_attempt_at = now(),"
        " horizon_from = now(), delivered_at = NULL FROM s"
        " WHERE d.id = $2 AND d.subscription_id = s.id RETURNING " DELIVERY_COLS},
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
