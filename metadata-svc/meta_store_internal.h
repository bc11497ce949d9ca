/* meta_store_internal.h — what the files of the store share (not for callers
 * of meta_store.h).
 *
 * The store is split by role: meta_store.c (lifecycle and the prepared
 * statements), meta_store_exec.c (running statements and transactions within
 * a call's deadline, and the per-call context), meta_store_rows.c (result rows
 * <-> protobuf messages, the one place where a variant's enum meets its name
 * in PostgreSQL), meta_store_read.c (GetImage, ListImages),
 * meta_store_sweep.c (ListStale: the stale rows, claimed for one sweeper),
 * meta_store_create.c (CreateImage: duplicates, idempotency records),
 * meta_store_write.c (the state changes of an image), meta_store_delete.c
 * (DeleteImage, which records the purge of the image's objects),
 * meta_store_purge.c (ClaimPurges, FinishPurge), meta_store_keys.c (API keys),
 * meta_store_presets.c (GetPresets, SetPreset), meta_store_regen.c
 * (FinishImage's regeneration, ListRegenerate), meta_store_webhooks.c (the
 * webhook subscriptions and their delivery log), meta_store_outbox.c (the
 * outbox: deliveries written with the change, claimed and finished by the
 * gateways' dispatchers) and meta_store_migrate.c (the schema at start).
 *
 * Conventions: a function that can fail returns an ip_status and leaves its
 * message in cx->err; results are allocated from the call's arena
 * (meta_cx_alloc), never freed one by one; a PGresult handed out is owned by
 * the caller (PQclear).
 */
#ifndef META_STORE_INTERNAL_H
#define META_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "meta_pool.h"
#include "meta_store.h"

struct meta_store {
    meta_pool *pool;
    char *dsn;
    int connect_timeout_s;
};

/* ------------------------------------------------------------- statements */

/* The prepared statements (their SQL is in meta_store.c). */
typedef enum meta_stmt {
    META_ST_GET,
    META_ST_LIST_FIRST,
    META_ST_LIST_AFTER,
    META_ST_CREATE,
    META_ST_CREATE_VARIANTS,
    META_ST_LOCK,
    META_ST_SET_STATUS,
    META_ST_PUT_VARIANT,
    META_ST_TOUCH,
    META_ST_GET_VARIANT,
    META_ST_FAIL_VARIANTS,
    META_ST_PROCESSING,
    META_ST_RENEW,
    META_ST_ENQUEUED,
    META_ST_RETRY,
    META_ST_RETRY_VARIANTS,
    META_ST_DELETE_KEYS,
    META_ST_DELETE,
    META_ST_STALE,
    META_ST_STALE_CLAIM,
    META_ST_CLAIM_PURGES,
    META_ST_PURGE_DONE,
    META_ST_PURGE_FAILED,
    META_ST_RESERVE,
    META_ST_KEY_CREATE,
    META_ST_KEY_LIST,
    META_ST_KEY_REVOKE,
    META_ST_KEY_LOOKUP,
    META_ST_REPLACE_VARIANT,
    META_ST_PLACEHOLDER,
    META_ST_PURGE_MERGE,
    META_ST_PRESETS,
    META_ST_PRESET_LOCK,
    META_ST_PRESET_SET,
    META_ST_STALE_COUNT,
    META_ST_REGEN_ALL,
    META_ST_REGEN_STALE,
    META_ST_REGEN_IDS,
    META_ST_LIST_SHA_FIRST, /* the listing's filters (meta_store_read.c) */
    META_ST_LIST_SHA_AFTER,
    META_ST_LIST_KEY_FIRST,
    META_ST_LIST_KEY_AFTER,
    META_ST_CREATE_LOCK, /* CreateImage's checks (meta_store_create.c) */
    META_ST_DUPLICATE,
    META_ST_IDEM_TAKE,
    META_ST_IDEM_SWEEP,
    META_ST_IDEM_INSERT,
    META_ST_IDEM_GET,
    META_ST_OUTBOX_WRITE, /* the outbox (meta_store_outbox.c) */
    META_ST_DELIVERIES_CLAIM,
    META_ST_DELIVERY_FINISH,
    META_ST_DELIVERIES_PRUNE,
    META_ST_WEBHOOK_CREATE, /* subscriptions and the log (meta_store_webhooks.c) */
    META_ST_WEBHOOK_LIST,
    META_ST_WEBHOOK_GET,
    META_ST_WEBHOOK_DELETE,
    META_ST_WEBHOOK_CANCEL,
    META_ST_DELIVERIES_FIRST,
    META_ST_DELIVERIES_AFTER,
    META_ST_DELIVERY_RESEND,
    META_ST_COUNT
} meta_stmt;

/* The name `st` is prepared under on every connection ("meta_get", ...). */
const char *meta_stmt_name(meta_stmt st);

/* The columns of every image-returning statement (META_IMG_COLS in
 * meta_store.c), in this order: one row per variant, the image's columns
 * repeated; the variant's columns are NULL for an image without variants. */
enum {
    META_C_ID,
    META_C_CREATED,
    META_C_UPDATED,
    META_C_FILENAME,
    META_C_CTYPE,
    META_C_SIZE,
    META_C_WIDTH,
    META_C_HEIGHT,
    META_C_SHA,
    META_C_OPS,
    META_C_STATUS,
    META_C_ERROR,
    META_C_ENQUEUED,
    META_C_OKEY,
    META_C_RUNS,
    META_C_LEASE,
    META_C_OWNER, /* owner_hash, "" when NULL */
    META_C_THUMBHASH,
    META_C_COLOR, /* dominant_color */
    META_C_KEY,   /* key_id, "" when NULL */
    META_C_VNAME, /* first of the variant's columns, in meta_rows_variant's order */
    META_C_VSTATUS,
    META_C_VKEY,
    META_C_VWIDTH,
    META_C_VHEIGHT,
    META_C_VSIZE,
    META_C_VFORMAT,
    META_C_VERROR,
    META_C_VVERSION,     /* preset_version */
    META_C_VALT_FORMATS, /* the files beside the primary, as comma lists */
    META_C_VALT_KEYS,
    META_C_VALT_SIZES,
    META_C_VSTALE,
    META_C_NCOLS
};
/* The variant's columns relative to META_C_VNAME (meta_rows_variant's c0). */
#define META_V_NCOLS (META_C_NCOLS - META_C_VNAME)

/* The columns of every preset-returning statement (PRESET_COLS in
 * meta_store.c). */
enum {
    META_P_NAME,
    META_P_VERSION,
    META_P_WIDTH,
    META_P_HEIGHT,
    META_P_FIT,
    META_P_JPEG_Q,
    META_P_WEBP,
    META_P_WEBP_Q,
    META_P_AVIF,
    META_P_AVIF_Q,
    META_P_WM_TEXT,
    META_P_WM_LOGO,
    META_P_WM_POSITION, /* "" = no watermark */
    META_P_WM_MARGIN,
    META_P_WM_SCALE,
    META_P_WM_OPACITY,
    META_P_UPDATED
};

/* The columns of ListRegenerate's statements (REGEN_COLS in meta_store.c). */
enum { META_R_ID, META_R_OKEY, META_R_CTYPE, META_R_OPS };

/* The columns of every key-returning statement (KEY_COLS in meta_store.c). */
enum { META_K_ID, META_K_NAME, META_K_PREFIX, META_K_SCOPES, META_K_CREATED, META_K_REVOKED };

/* The columns of every subscription-returning statement (WEBHOOK_COLS in
 * meta_store.c); the secret is '' except where the reply may carry it. */
enum {
    META_W_ID,
    META_W_URL,
    META_W_SECRET,
    META_W_EVENTS, /* names, comma-separated, canonical order */
    META_W_KEY,    /* "" when made by an operator */
    META_W_OWN,
    META_W_DESCRIPTION,
    META_W_CREATED
};

/* The columns of every delivery-returning statement (DELIVERY_COLS in
 * meta_store.c); ClaimDeliveries adds body, url and secret. Times are 0 when
 * they do not apply (next_attempt_at unless pending). */
enum {
    META_D_ID,
    META_D_SUBSCRIPTION,
    META_D_EVENT,
    META_D_IMAGE,
    META_D_STATE,
    META_D_ATTEMPTS,
    META_D_CREATED,
    META_D_NEXT,
    META_D_DELIVERED,
    META_D_STATUS,
    META_D_ERROR,
    META_D_LAST_ATTEMPT,
    META_D_DURATION,
    META_D_BODY, /* ClaimDeliveries only, like the two after it; FinishDelivery's
                  * "changed" instead */
    META_D_URL,
    META_D_SECRET
};

/* ------------------------------------------------------------- context */

/* Zeroed memory from the call's arena; NULL when out of memory. */
void *meta_cx_alloc(meta_ctx *cx, size_t n);
/* A copy of `s` in the call's arena; NULL when out of memory. */
char *meta_cx_strdup(meta_ctx *cx, const char *s);
/* Writes the message into cx->err and returns `st`. */
ip_status meta_cx_fail(meta_ctx *cx, ip_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* IP_RESOURCE_EXHAUSTED, "out of memory". */
ip_status meta_cx_nomem(meta_ctx *cx);

/* ------------------------------------------------------------- execution */

/* Runs prepared statement `st` on `conn` within cx->deadline_ms. On IP_OK
 * *res is the result (owned: PQclear); otherwise *res is NULL, the failure
 * translated by meta_pg_error (or IP_DEADLINE_EXCEEDED) and logged. */
ip_status meta_db_run(meta_ctx *cx, PGconn *conn, meta_stmt st, int nparams,
                      const char *const *params, PGresult **res);
/* Runs the simple query `sql` (no parameters) and discards its result. */
ip_status meta_db_run_simple(meta_ctx *cx, PGconn *conn, const char *sql);
/* Borrows a connection and opens a transaction on it; on IP_OK *conn is
 * borrowed until meta_pool_release(s->pool, *conn) (which rolls back a
 * transaction left open). A connection found dead at BEGIN is replaced once. */
ip_status meta_db_begin(meta_store *s, meta_ctx *cx, PGconn **conn);
/* One read statement on a borrowed connection, repeated once on a fresh one
 * when the first turns out dead. *res as for meta_db_run. */
ip_status meta_db_query(meta_store *s, meta_ctx *cx, meta_stmt st, int nparams,
                        const char *const *params, PGresult **res);
/* COMMIT; anything but a confirmed commit is an error. */
ip_status meta_db_commit(meta_ctx *cx, PGconn *conn);
/* The column as a number; 0 when NULL. */
int64_t meta_db_i64(const PGresult *r, int row, int col);

/* ------------------------------------------------------------- rows */

/* The variant of row `row`, columns from c0 on (name, status, object_key,
 * width, height, size_bytes, format, error, preset_version, the other files'
 * formats, keys and sizes as comma lists, stale), into the arena, its files
 * filled: the primary first (a ready variant stored before files existed has
 * just that one), then the others. A name that is
 * not a variant is IP_INTERNAL (the schema does not allow one). */
ip_status meta_rows_variant(meta_ctx *cx, const PGresult *r, int row, int c0,
                            Imageproc__Variant **out);
/* Folds rows of META_IMG_COLS (one per variant, each image's rows adjacent)
 * into images with their variants; *out (n of them) from the arena. */
ip_status meta_rows_images(meta_ctx *cx, const PGresult *r, Imageproc__Image ***out, size_t *n);
/* The one image of a GetImage result, or IP_NOT_FOUND. Clears r. */
ip_status meta_rows_one_image(meta_ctx *cx, PGresult *r, const char *id, Imageproc__Image **out);
/* The set of requested variants stored in images.ops as text
 * ("thumbnail,resized"); IP_INTERNAL for a name that is not a variant. */
ip_status meta_rows_requested(meta_ctx *cx, const char *text, unsigned *mask);

/* The preset of row `row` (PRESET_COLS) into the arena. A name or a fit
 * that the schema cannot hold is IP_INTERNAL. */
ip_status meta_rows_preset(meta_ctx *cx, const PGresult *r, int row, Imageproc__Preset **out);

/* The strings[0..n) as a PostgreSQL array literal ("{\"a\",\"b\"}", every
 * element quoted and escaped), from the arena; NULL when out of memory. */
char *meta_pg_text_array(meta_ctx *cx, char *const *strings, size_t n);

/* ------------------------------------------------------------- writes */

/* The image row, locked (SELECT ... FOR UPDATE) for the rest of the
 * transaction, and its state. */
typedef struct meta_locked_row {
    char status[16];
    unsigned requested; /* ip_variants mask */
    int64_t updated_at_us;
    char *original_key; /* arena */
} meta_locked_row;

/* Locks the image row inside the open transaction on `conn`; IP_NOT_FOUND
 * when there is none. Every write starts here (see meta_store_write.c). */
ip_status meta_db_lock_image(meta_ctx *cx, PGconn *conn, const char *id, meta_locked_row *row);

/* GetImage's statement on `conn`, inside a write's transaction. */
ip_status meta_db_get_image(meta_ctx *cx, PGconn *conn, const char *id, Imageproc__Image **out);

/* The files of `v` beside its primary (files[1..]) as array literals of
 * their formats, keys and sizes, for variants.alt_*; from the arena. */
ip_status meta_db_variant_files(meta_ctx *cx, const Imageproc__Variant *v, char **formats,
                                char **keys, char **sizes);

/* Stores the placeholder of the locked image: each of thumbhash and
 * dominant_color when not "" (NULL counts as ""). */
ip_status meta_db_set_placeholder(meta_ctx *cx, PGconn *conn, const char *id,
                                  const char *thumbhash, const char *dominant_color);

/* FinishImage's regeneration on the locked image `row` (meta_store_regen.c):
 * IP_FAILED_PRECONDITION unless it is ready; every variant of req replaces
 * the stored one (each requested, else IP_FAILED_PRECONDITION) unless that
 * was made by a newer preset version, the keys of the files given up (not
 * among those that stay) go into the image's purge record, and the placeholder is stored when given. The caller sets the
 * status and commits. */
ip_status meta_db_regenerate(meta_ctx *cx, PGconn *conn, const char *id,
                             const meta_locked_row *row, const meta_finish_req *req);

/* ------------------------------------------------------------- webhooks */

/* Writes the outbox rows of `event` about the locked image `image_id` inside
 * the open transaction on `conn` (meta_store_outbox.c): one pending delivery
 * per live subscription that lists the event and takes the image (not
 * own_images_only, or its key_id is the image's), its body fixed from the row
 * as it is now (for image.deleted: before the row goes). *written (may be
 * NULL) is how many. The subscriptions read are share-locked until the
 * transaction ends, so a DeleteWebhook either comes first (none is written
 * for it) or waits and cancels what was written. */
ip_status meta_outbox_write(meta_ctx *cx, PGconn *conn, const char *image_id,
                            Imageproc__WebhookEvent event, int *written);

/* The delivery of row `row` (META_D_*), into the arena; with `claimed` also
 * its body, url and secret. A state or event the schema cannot hold is
 * IP_INTERNAL. */
ip_status meta_rows_delivery(meta_ctx *cx, const PGresult *r, int row, bool claimed,
                             Imageproc__WebhookDelivery **out);

#endif
