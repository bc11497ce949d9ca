/* meta_store.h — images and variants in PostgreSQL.
 *
 * One function per operation of the Metadata service, each one transaction on
 * a connection borrowed from the pool, every value a parameter of a prepared
 * statement. Requests are assumed checked (meta_validate.h): ids are UUIDs,
 * variant kinds known, variants well formed. Variants are VariantKind in and
 * out; the store alone turns them into the names PostgreSQL keeps.
 *
 * Results are protobuf-c messages built in memory from the caller's arena
 * (meta_ctx.alloc), so the RPC layer can hand them straight to the reply;
 * nothing returned needs freeing by the caller apart from the arena itself.
 *
 * Every write returns `changed`: false when the call was a no-op (an
 * idempotent repeat), so the caller publishes an event only for real changes.
 *
 * The implementation is split by role (meta_store_internal.h has the map):
 * statements and lifecycle, execution, rows, reads, writes, delete, migrations.
 */
#ifndef META_STORE_H
#define META_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <image.pb-c.h>

#include "ip_status.h"
#include "ip_variants.h"

typedef struct meta_store meta_store;

/* Per-call context: where results are allocated, how long to wait for a
 * connection, and where an error message goes. */
typedef struct meta_ctx {
    void *(*alloc)(void *arena, size_t n); /* zeroed memory; NULL = out of memory */
    void *arena;
    int timeout_ms;      /* for borrowing a connection */
    int64_t deadline_ms; /* ip_mono_ms() by which every statement must answer; 0 = none */
    char err[256];       /* message when a call fails */
} meta_ctx;

typedef struct meta_store_opts {
    const char *dsn;       /* IP_PG_DSN (borrowed) */
    int pool_size;         /* IP_PG_POOL_SIZE */
    int connect_timeout_s; /* <= 0 means 2 */
} meta_store_opts;

ip_status meta_store_new(const meta_store_opts *opts, meta_store **out, char *err, size_t errlen);
void meta_store_free(meta_store *s);

/* Applies the embedded migrations that schema_migrations does not list, in
 * order, in one transaction under pg_advisory_xact_lock (concurrent starts
 * wait for each other); *applied (may be NULL) is how many ran. */
ip_status meta_store_migrate(meta_store *s, meta_ctx *cx, int *applied);

/* Stores a new image (status pending, one pending variant per requested
 * kind). `requested` is the set of variants (an ip_variants mask, not empty);
 * img->requested is not read. An empty original_key becomes "o/<id>".
 * IP_ALREADY_EXISTS when the id is taken. */
ip_status meta_store_create(meta_store *s, meta_ctx *cx, const Imageproc__Image *img,
                            unsigned requested, Imageproc__Image **out);

/* The image with its variants; IP_NOT_FOUND when absent. */
ip_status meta_store_get(meta_store *s, meta_ctx *cx, const char *id, Imageproc__Image **out);

typedef struct meta_list_query {
    bool has_cursor;
    int64_t last_created_at_us;
    const char *last_id;
    ip_variant_kind with_variant; /* IP_VARIANT_NONE = all; else images that requested it */
    int limit;                    /* 1..100 */
} meta_list_query;

/* One page, newest first by (created_at, id), strictly after the cursor. */
ip_status meta_store_list(meta_store *s, meta_ctx *cx, const meta_list_query *q,
                          Imageproc__Image ***images, size_t *n, bool *has_more);

/* pending/failed/processing -> processing; a ready image stays ready. */
ip_status meta_store_mark_processing(meta_store *s, meta_ctx *cx, const char *id,
                                     Imageproc__Image **out, bool *changed);

/* Records one variant's result. A ready variant stays ready (repeats are
 * no-ops); a pending image becomes processing. IP_NOT_FOUND when the image is
 * gone, IP_FAILED_PRECONDITION when the variant was not requested.
 * *image_status and *at_us describe the image after the call. */
ip_status meta_store_put_variant(meta_store *s, meta_ctx *cx, const char *image_id,
                                 const Imageproc__Variant *v, Imageproc__Variant **out,
                                 Imageproc__ImageStatus *image_status, int64_t *at_us,
                                 bool *changed);

/* Ready when every requested variant is ready; failed ("<variant>: <reason>")
 * when one failed; IP_FAILED_PRECONDITION while some are pending. */
ip_status meta_store_finish(meta_store *s, meta_ctx *cx, const char *id, Imageproc__Image **out,
                            bool *changed);

/* The image fails as a whole; its pending variants fail with the same reason.
 * A ready image stays ready (*changed false). */
ip_status meta_store_fail(meta_store *s, meta_ctx *cx, const char *id, const char *error,
                          Imageproc__Image **out, bool *changed);

/* Records when the job was acknowledged (0 = now). */
ip_status meta_store_mark_enqueued(meta_store *s, meta_ctx *cx, const char *id, int64_t at_us,
                                   Imageproc__Image **out);

/* Removes the image and its variants; *keys (n) are the original's key and
 * every variant key recorded, to delete from storage. */
ip_status meta_store_delete(meta_store *s, meta_ctx *cx, const char *id, char ***keys, size_t *n);

/* Pending images never enqueued, created more than older_than_us ago, oldest first. */
ip_status meta_store_list_stale(meta_store *s, meta_ctx *cx, int64_t older_than_us, int limit,
                                Imageproc__Image ***images, size_t *n);

/* The SQL text of a prepared statement by its name ("meta_list_after", ...),
 * or NULL; for tests and benchmarks that EXPLAIN what the store runs. */
const char *meta_store_statement_sql(const char *name);

#endif
