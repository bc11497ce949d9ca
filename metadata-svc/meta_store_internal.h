/* meta_store_internal.h — what the files of the store share (not for callers
 * of meta_store.h).
 *
 * The store is split by role: meta_store.c (lifecycle and the prepared
 * statements), meta_store_exec.c (running statements and transactions within
 * a call's deadline, and the per-call context), meta_store_rows.c (result rows
 * <-> protobuf messages, the one place where a variant's enum meets its name
 * in PostgreSQL), meta_store_read.c (GetImage, ListImages),
 * meta_store_sweep.c (ListStale: the stale rows, claimed for one sweeper),
 * meta_store_write.c (the state changes of an image), meta_store_delete.c
 * (DeleteImage, which records the purge of the image's objects),
 * meta_store_purge.c (ClaimPurges, FinishPurge), meta_store_keys.c (API keys)
 * and meta_store_migrate.c (the schema at start).
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
    META_C_VNAME, /* first of the variant's columns, in meta_rows_variant's order */
    META_C_VSTATUS,
    META_C_VKEY,
    META_C_VWIDTH,
    META_C_VHEIGHT,
    META_C_VSIZE,
    META_C_VFORMAT,
    META_C_VERROR,
    META_C_NCOLS
};

/* The columns of every key-returning statement (KEY_COLS in meta_store.c). */
enum { META_K_ID, META_K_NAME, META_K_PREFIX, META_K_SCOPES, META_K_CREATED, META_K_REVOKED };

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
 * width, height, size_bytes, format, error), into the arena. A name that is
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

#endif
