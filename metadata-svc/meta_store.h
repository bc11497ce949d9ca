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
 * Leases: a processing image carries lease_until (Image.lease_until_us), the
 * time until which its processor holds it; MarkProcessing sets it, PutVariant
 * extends it, and every change out of processing clears it. After it the sweep
 * (ListStale, MarkEnqueued with requeue) may put the image back on the queue.
 *
 * The implementation is split by role (meta_store_internal.h has the map):
 * statements and lifecycle, execution, rows, reads, the sweep, writes, delete,
 * purges, API keys, migrations.
 */
#ifndef META_STORE_H
#define META_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <image.pb-c.h>
#include <metadata.pb-c.h>

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

/* What CreateImage asks for. All borrowed; checked (meta_check_create_request),
 * image->id, image->key_id and idempotency->scope in canonical form. */
typedef struct meta_create_req {
    const Imageproc__Image *image;
    unsigned requested; /* the set of variants (an ip_variants mask, not empty) */
    bool dedupe;        /* answer an image of image->key_id with the same sha256 */
    const Imageproc__IdempotencyRecord *idempotency; /* NULL = none */
} meta_create_req;

/* What CreateImage did; the messages from the arena. Exactly one of: a new
 * row (image, existing false), the duplicate (image, existing true), the
 * record already there (replay, image NULL). */
typedef struct meta_create_res {
    Imageproc__Image *image;
    bool existing;
    Imageproc__IdempotencyRecord *replay;
} meta_create_res;

/* Stores a new image (status pending, one pending variant per requested
 * kind) in one transaction (meta_store_create.c); image->requested is not
 * read. An empty original_key becomes "o/<id>"; an empty owner_hash or key_id
 * is stored as NULL and read back as "". With idempotency: under a lock on
 * (scope, key), a live record (under 24 h) of that pair is the answer
 * (res->replay) and nothing is written; otherwise the record (request_sha256,
 * status, response; image_id is the new image's) is written with the row.
 * Then with dedupe: under a lock on (key_id, sha256), the newest image of
 * that key with that sha256 is the answer (res->existing) and nothing is
 * written. Records past 24 h are removed on the way (that pair's, and at most
 * 100 others). When nothing is written the id's upload reservation stays (its
 * purge removes the original stored for it). IP_ALREADY_EXISTS when the id
 * is taken, or when an image of that id was deleted and the purge of its
 * objects is still pending (the purge would remove the new image's objects). */
ip_status meta_store_create(meta_store *s, meta_ctx *cx, const meta_create_req *req,
                            meta_create_res *res);

/* The live idempotency record of (scope, key) (scope "" or a canonical
 * UUID); IP_NOT_FOUND when there is none within 24 h. */
ip_status meta_store_get_idempotency(meta_store *s, meta_ctx *cx, const char *scope,
                                     const char *key, Imageproc__IdempotencyRecord **out);

/* The image with its variants; IP_NOT_FOUND when absent. */
ip_status meta_store_get(meta_store *s, meta_ctx *cx, const char *id, Imageproc__Image **out);

typedef struct meta_list_query {
    bool has_cursor;
    int64_t last_created_at_us;
    const char *last_id;
    ip_variant_kind with_variant; /* IP_VARIANT_NONE = all; else images that requested it */
    int limit;                    /* 1..100 */
    const char *sha256;           /* NULL or "" = all; else 64 lowercase hex: that checksum */
    const char *key_id;           /* NULL or "" = all; else a canonical UUID: that key's */
} meta_list_query;

/* One page, newest first by (created_at, id), strictly after the cursor.
 * With sha256 the page is read from images_sha_created_idx; with key_id alone
 * from the (created_at, id) index with the key as a filter. */
ip_status meta_store_list(meta_store *s, meta_ctx *cx, const meta_list_query *q,
                          Imageproc__Image ***images, size_t *n, bool *has_more);

/* How long a processor holds an image when it does not say (lease_ms 0), and
 * at least how long after each PutVariant. */
#define META_LEASE_DEFAULT_MS 60000

/* A processor takes the image: pending/processing -> processing, leased until
 * now + lease_ms (<= 0: META_LEASE_DEFAULT_MS), and Image.runs counts one
 * more when new_delivery. A ready or a failed image is left as it is (no run
 * counted, no lease): the reply tells the processor. *changed: the status
 * changed (pending -> processing). With `regenerate` the image must be ready
 * (else IP_FAILED_PRECONDITION) and nothing changes: the call only reads. */
ip_status meta_store_mark_processing(meta_store *s, meta_ctx *cx, const char *id, int64_t lease_ms,
                                     bool new_delivery, bool regenerate, Imageproc__Image **out,
                                     bool *changed);

/* Records one variant's result. A ready variant stays ready (repeats are
 * no-ops); a pending image becomes processing. The lease of a processing
 * image runs at least META_LEASE_DEFAULT_MS from now, also on a repeat (the
 * processor is alive). IP_NOT_FOUND when the image is
 * gone, IP_FAILED_PRECONDITION when the variant was not requested.
 * *image_status and *at_us describe the image after the call. */
ip_status meta_store_put_variant(meta_store *s, meta_ctx *cx, const char *image_id,
                                 const Imageproc__Variant *v, Imageproc__Variant **out,
                                 Imageproc__ImageStatus *image_status, int64_t *at_us,
                                 bool *changed);

/* What recording one variant did, for its event: when `changed`, the
 * variant became `status` (with `error`, "" when ready) and the image was left
 * `image_status` at `at_us`. */
typedef struct meta_variant_change {
    bool changed;
    Imageproc__VariantKind kind;
    Imageproc__VariantStatus status;
    const char *error; /* borrowed from the request, or a constant */
    Imageproc__ImageStatus image_status;
    int64_t at_us;
} meta_variant_change;

/* What FinishImage records. All borrowed. */
typedef struct meta_finish_req {
    Imageproc__Variant *const *variants; /* checked by meta_check_finish */
    size_t n_variants;
    const char *thumbhash;      /* "" or NULL = leave as is (checked: meta_check_placeholder) */
    const char *dominant_color; /* likewise */
    bool regenerate;
} meta_finish_req;

/* Records req->variants (with their files and preset versions) as
 * meta_store_put_variant would, into changes[i], and the placeholder when
 * given, then closes the image: ready when every requested variant is ready;
 * failed ("<variant>: <reason>") when one failed (the lease is cleared);
 * IP_FAILED_PRECONDITION while some are pending. One transaction: on any
 * error nothing is recorded (IP_NOT_FOUND when the image is gone,
 * IP_FAILED_PRECONDITION also for a variant that was not requested). No lease
 * is renewed: the image leaves processing here. A change of status (to ready
 * or failed) writes the image.ready or image.failed deliveries of the outbox
 * in the same transaction; a repeat that changes nothing writes none.
 *
 * With req->regenerate the image must be ready (else IP_FAILED_PRECONDITION,
 * nothing changes): each given variant replaces the stored one whole (unless
 * the stored one was made by a newer preset version: then the given one's
 * files are the ones purged), the keys of the replaced files that are not
 * among the new ones are merged into the image's purge record, the image stays ready (updated_at moves) and
 * *changed is true; changes[] are left unchanged (no variant events), and
 * no delivery is written (subscribers heard of the image when it became
 * ready). */
ip_status meta_store_finish(meta_store *s, meta_ctx *cx, const char *id,
                            const meta_finish_req *req, meta_variant_change *changes,
                            Imageproc__Image **out, bool *changed);

/* The image fails as a whole; its pending variants fail with the same reason.
 * A ready image stays ready (*changed false). A change to failed writes the
 * image.failed deliveries of the outbox in the same transaction; a repeat on
 * a failed image writes none. */
ip_status meta_store_fail(meta_store *s, meta_ctx *cx, const char *id, const char *error,
                          Imageproc__Image **out, bool *changed);

/* Records when the job was acknowledged (0 = now), whatever the status. With
 * `requeue` (the sweep re-enqueued the job) a processing image whose lease ran
 * out (or that has none) also goes back to pending, its lease cleared; one
 * with a live lease keeps its status (its processor is still at work).
 * *requeued: it went back to pending. */
ip_status meta_store_mark_enqueued(meta_store *s, meta_ctx *cx, const char *id, int64_t at_us,
                                   bool requeue, Imageproc__Image **out, bool *requeued);

/* A failed image back to pending for another run: error cleared, runs 0, no
 * lease, no claim, enqueued_at unset (until the caller's MarkEnqueued the
 * sweep sees it as never enqueued), its failed variants pending again (ready
 * ones stay). IP_FAILED_PRECONDITION unless the image is failed. */
ip_status meta_store_retry(meta_store *s, meta_ctx *cx, const char *id, Imageproc__Image **out);

/* Removes the image and its variants and, in the same transaction, records
 * the purge of its objects (ClaimPurges hands it out) and, unless `undo` (an
 * upload the gateway never answered for), the image.deleted deliveries of
 * the outbox. *keys (n) are the original's key and every variant key
 * recorded; *prefix is the variants' prefix ("v/<id>/",
 * ip_key_variant_prefix); both from the arena. */
ip_status meta_store_delete(meta_store *s, meta_ctx *cx, const char *id, bool undo, char ***keys,
                            size_t *n, char **prefix);

/* What ListStale selects. */
typedef struct meta_stale_query {
    int64_t older_than_us;          /* pending, never enqueued, created before now - this */
    int64_t enqueued_older_than_us; /* > 0: also pending, enqueued before now - this */
    bool expired_leases;            /* also processing whose lease ran out (or that has none) */
    int64_t claim_ms;               /* > 0: the rows returned are claimed for this long */
    int limit;                      /* 1..META_SWEEP_MAX */
} meta_stale_query;

/* The stale images of q's selections, oldest first (by created_at), with
 * their variants, leaving out rows another sweep's claim still covers. With
 * q->claim_ms > 0 the rows returned are claimed in the same statement: no
 * other ListStale returns them until the claim ends, and concurrent calls
 * never return the same row. */
ip_status meta_store_list_stale(meta_store *s, meta_ctx *cx, const meta_stale_query *q,
                                Imageproc__Image ***images, size_t *n);

/* Due purges (their next_at has come), oldest first, at most `limit`,
 * claimed: each is not handed out again for claim_ms and its attempts count
 * one more. Concurrent calls never hand out the same purge. *purges (n of
 * them) from the arena. */
ip_status meta_store_claim_purges(meta_store *s, meta_ctx *cx, int limit, int64_t claim_ms,
                                  Imageproc__Purge ***purges, size_t *n);

/* ReserveUpload: records a purge of `original_key` (the caller checked that
 * it is the id's original key), due in purge_after_ms, dropped by the
 * CreateImage of that id. IP_ALREADY_EXISTS when the id has a purge already
 * (a reservation or a deleted image's). */
ip_status meta_store_reserve_upload(meta_store *s, meta_ctx *cx, const char *id,
                                    const char *original_key, int64_t purge_after_ms);

/* The end of a purge attempt: error NULL or "" (storage confirmed the removal)
 * deletes the record; otherwise the error is kept as last_error and the purge
 * is handed out again once its claim ends. IP_NOT_FOUND when there is no
 * such purge (already finished). */
ip_status meta_store_finish_purge(meta_store *s, meta_ctx *cx, const char *image_id,
                                  const char *error);

/* ------------------------------------------------------------- API keys
 * (meta_store_keys.c). Keys are ApiKey messages from the arena; the request
 * is assumed checked (meta_check_api_key): id a UUID, hash 64 lowercase hex,
 * scopes known. */

/* What CreateApiKey stores. All borrowed. */
typedef struct meta_key_new {
    const char *id;     /* canonical UUID */
    const char *name;   /* 1..200 bytes */
    const char *prefix; /* "ipk_" + 8 */
    const char *hash;   /* hex SHA-256 of the whole key */
    uint32_t scopes;    /* ip_access.h mask (1u << ApiScope), not empty */
} meta_key_new;

/* Stores a new active key. IP_ALREADY_EXISTS when its id or hash is taken. */
ip_status meta_store_key_create(meta_store *s, meta_ctx *cx, const meta_key_new *k,
                                Imageproc__ApiKey **out);

/* Every key (with include_revoked) or the active ones, oldest first. */
ip_status meta_store_key_list(meta_store *s, meta_ctx *cx, bool include_revoked,
                              Imageproc__ApiKey ***keys, size_t *n);

/* Revokes the key: it never matches a lookup again. Revoking a revoked key
 * changes nothing (revoked_at stays the first). IP_NOT_FOUND for an unknown
 * id. */
ip_status meta_store_key_revoke(meta_store *s, meta_ctx *cx, const char *id,
                                Imageproc__ApiKey **out);

/* The active key whose hash is `hash`; IP_NOT_FOUND when none (unknown or
 * revoked). */
ip_status meta_store_key_lookup(meta_store *s, meta_ctx *cx, const char *hash,
                                Imageproc__ApiKey **out);

/* ------------------------------------------------------------- presets
 * (meta_store_presets.c). Presets are Preset messages from the arena. */

/* Every preset, in canonical order (one per kind); with `stale` (may be
 * NULL) the number of ready variants made by an older version than their
 * preset's. */
ip_status meta_store_presets(meta_store *s, meta_ctx *cx, Imageproc__Preset ***presets, size_t *n,
                             int64_t *stale);

/* Sets the definition of p->kind (checked by ip_preset_check): when it
 * differs from the stored one (ip_preset_same) the version goes up by one
 * (*changed); an identical one changes nothing. The row is locked for the
 * comparison, so concurrent calls never lose a version. *out is the preset as
 * stored afterwards. */
ip_status meta_store_set_preset(meta_store *s, meta_ctx *cx, const Imageproc__Preset *p,
                                Imageproc__Preset **out, bool *changed);

/* What ListRegenerate selects. */
typedef struct meta_regen_query {
    bool stale_only;      /* only images with a stale variant */
    const char *after_id; /* canonical UUID; "" = from the start */
    int limit;            /* 1..META_REGEN_MAX */
    char *const *ids;     /* canonical UUIDs; n_ids > 0: only these (after_id, stale_only ignored) */
    size_t n_ids;
} meta_regen_query;

/* Ready images to regenerate, by id ascending: id, original_key,
 * content_type and requested only (no variants). *has_more: another page
 * follows the last id (never for an ids query). */
ip_status meta_store_list_regenerate(meta_store *s, meta_ctx *cx, const meta_regen_query *q,
                                     Imageproc__Image ***images, size_t *n, bool *has_more);

/* ------------------------------------------------------------- webhooks
 * (meta_store_webhooks.c: subscriptions and the delivery log;
 * meta_store_outbox.c: claims and outcomes). Messages from the arena; the
 * request is assumed checked (meta_validate.h): ids canonical, events known,
 * limits in range. FinishImage, FailImage and DeleteImage write the outbox
 * themselves (meta_outbox_write, meta_store_internal.h). */

/* What CreateWebhook stores. All borrowed. */
typedef struct meta_webhook_new {
    const char *id;          /* canonical UUID */
    const char *url;         /* checked by ip_webhook_url_check */
    const char *secret;      /* "whsec_..." (ip_webhook_secret_valid) */
    unsigned events;         /* mask of 1u << WebhookEvent, not empty */
    const char *key_id;      /* canonical UUID or "" (made by an operator) */
    bool own_images_only;    /* only with a key_id */
    const char *description; /* at most 200 bytes */
} meta_webhook_new;

/* Stores a new subscription; *out carries its secret (the one reply that
 * does besides ClaimDeliveries). IP_ALREADY_EXISTS when the id is taken (by
 * a deleted subscription too). */
ip_status meta_store_webhook_create(meta_store *s, meta_ctx *cx, const meta_webhook_new *w,
                                    Imageproc__WebhookSubscription **out);

/* The live subscriptions, oldest first, without secrets: every one with
 * `all`, else those of key_id ("" = those made by an operator). */
ip_status meta_store_webhook_list(meta_store *s, meta_ctx *cx, const char *key_id, bool all,
                                  Imageproc__WebhookSubscription ***subs, size_t *n);

/* The live subscription `id`, without its secret; IP_NOT_FOUND when absent
 * or deleted. */
ip_status meta_store_webhook_get(meta_store *s, meta_ctx *cx, const char *id,
                                 Imageproc__WebhookSubscription **out);

/* Deletes the subscription (it keeps its row, deleted_at set, so its log
 * stays readable) and cancels its pending deliveries, in one transaction;
 * *cancelled is how many. IP_NOT_FOUND when absent or already deleted. */
ip_status meta_store_webhook_delete(meta_store *s, meta_ctx *cx, const char *id, int *cancelled);

/* What ListDeliveries reads. */
typedef struct meta_delivery_query {
    const char *subscription_id; /* canonical UUID */
    bool has_cursor;
    int64_t before_created_at_us; /* with has_cursor: strictly older than */
    const char *before_id;        /* (before_created_at_us, before_id) */
    int limit;                    /* 1..META_DELIVERIES_MAX */
} meta_delivery_query;

/* One page of a subscription's delivery log (a deleted one's too), newest
 * first by (created_at, id), without body, url or secret. *has_more:
 * another page follows. An unknown subscription has an empty log. */
ip_status meta_store_deliveries(meta_store *s, meta_ctx *cx, const meta_delivery_query *q,
                                Imageproc__WebhookDelivery ***out, size_t *n, bool *has_more);

/* Sends the delivery `id` of subscription_id again: pending, due now, its
 * horizon counted from now, its attempts and last result kept.
 * IP_NOT_FOUND when there is no such delivery of that subscription or the
 * subscription is deleted. */
ip_status meta_store_delivery_resend(meta_store *s, meta_ctx *cx, const char *subscription_id,
                                     const char *id, Imageproc__WebhookDelivery **out);

/* Due deliveries, oldest due first, at most `limit`, with body, url and
 * secret: pending, due, the earliest pending one of its (subscription,
 * image), of a live subscription. Each is claimed: one more attempt,
 * last_attempt_at now, not due again for claim_ms. Concurrent calls never
 * hand out the same delivery. */
ip_status meta_store_deliveries_claim(meta_store *s, meta_ctx *cx, int limit, int64_t claim_ms,
                                      Imageproc__WebhookDelivery ***out, size_t *n);

/* An attempt's outcome (FinishDelivery). Borrowed. */
typedef struct meta_delivery_result {
    const char *id;
    bool delivered;    /* the receiver answered 2xx */
    int status;        /* HTTP status, 0 = no answer */
    const char *error; /* "" when delivered; at most META_DELIVERY_ERROR_MAX bytes */
    int duration_ms;
    int64_t retry_after_ms; /* not delivered: due again after this */
    int64_t horizon_ms;     /* not delivered: failed when due past horizon_from + this */
} meta_delivery_result;

/* Records the outcome on a pending delivery: delivered; or pending again,
 * due after retry_after_ms; or failed when that would be past its horizon.
 * A delivery no longer pending (cancelled, or finished already) is left as
 * it is (*changed false). *out is the delivery afterwards (no body, url,
 * secret); IP_NOT_FOUND for an unknown id. */
ip_status meta_store_delivery_finish(meta_store *s, meta_ctx *cx, const meta_delivery_result *res,
                                     Imageproc__WebhookDelivery **out, bool *changed);

/* The SQL text of a prepared statement by its name ("meta_list_after", ...),
 * or NULL; for tests and benchmarks that EXPLAIN what the store runs. */
const char *meta_store_statement_sql(const char *name);

#endif
