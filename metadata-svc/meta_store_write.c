/* meta_store_write.c — the store's writes: the state changes of an image
 * (MarkProcessing, PutVariant, FinishImage, FailImage, MarkEnqueued,
 * RetryImage). CreateImage is in meta_store_create.c.
 *
 * HOW WRITES STAY CORRECT UNDER CONCURRENCY
 * Every write is one transaction that first locks the image row
 * (meta_db_lock_image: SELECT ... FOR UPDATE). That lock is the whole
 * concurrency story: writers of one image run one after the other, a writer
 * that finds no row answers IP_NOT_FOUND, and a DeleteImage that commits first
 * leaves nothing for a late PutVariant or FinishImage to update (they are
 * UPDATEs or guarded INSERTs behind the lock, never an upsert of the image), so
 * a deleted image cannot come back. CreateImage needs no row lock: its
 * INSERT ... ON CONFLICT DO NOTHING either makes the row or finds the id
 * taken.
 *
 * Repeats are harmless: a ready variant stays ready, a ready image stays
 * ready, and a write that changed nothing says so (*changed false), so the
 * service publishes an event only for real changes. A write whose reply is the
 * image reads it inside its own transaction, just before COMMIT, so the reply
 * is the row as this write left it.
 *
 * LEASES AND RUNS
 * MarkProcessing leases the image to its processor (lease_until) and, for the
 * first run of a job delivery, counts a run (runs); PutVariant extends the
 * lease while the processor works; leaving processing (FinishImage,
 * FailImage, or MarkEnqueued with requeue once the lease ran out) clears it.
 * FinishImage may carry the variants too: they are recorded as PutVariant
 * records them (record_variant), behind the same lock and in the same
 * transaction as the close, which clears the lease, so none is renewed.
 * The lock makes "the lease ran out" and "the processor renewed it" exclude
 * each other: a requeue decides on the row as the last renewal left it.
 *
 * FILES, VERSIONS, PLACEHOLDER
 * A ready variant is stored with its preset version and its files: the
 * primary in its own columns, the others (WebP, AVIF) in variants.alt_*;
 * FinishImage also stores the image's placeholder (thumbhash, dominant_color)
 * when given. A FinishImage of a regeneration takes another path behind the
 * same lock (meta_store_regen.c): the variants are replaced, not upserted.
 *
 * WEBHOOKS
 * A change of the image's status to ready or failed (FinishImage, FailImage)
 * writes its deliveries to the outbox (meta_outbox_write) in the same
 * transaction, after the status is set so that the body shows it: they exist
 * exactly when the change committed. A repeat that changes nothing, and a
 * regeneration, write none.
 *
 * Variants reach SQL by name (ip_variant_name) and the requested set as the
 * comma list of names that images.ops stores (ip_variant_mask_format).
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "ip_keys.h"
#include "ip_variants.h"
#include "meta_store_internal.h"
#include "meta_validate.h"

/* ------------------------------------------------------------- helpers */

ip_status meta_db_lock_image(meta_ctx *cx, PGconn *conn, const char *id, meta_locked_row *row)
{
    PGresult *r = NULL;
    const char *params[] = {id};
    ip_status st = meta_db_run(cx, conn, META_ST_LOCK, 1, params, &r);
    if (st != IP_OK)
        return st;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return meta_cx_fail(cx, IP_NOT_FOUND, "image %s not found", id);
    }
    snprintf(row->status, sizeof(row->status), "%s", PQgetvalue(r, 0, 0));
    st = meta_rows_requested(cx, PQgetvalue(r, 0, 1), &row->requested);
    row->original_key = meta_cx_strdup(cx, PQgetvalue(r, 0, 2));
    row->updated_at_us = meta_db_i64(r, 0, 3);
    PQclear(r);
    if (st != IP_OK)
        return st;
    return row->original_key != NULL ? IP_OK : meta_cx_nomem(cx);
}

/* GetImage's statement on `conn`, inside a write's transaction. */
ip_status meta_db_get_image(meta_ctx *cx, PGconn *conn, const char *id, Imageproc__Image **out)
{
    PGresult *r = NULL;
    const char *params[] = {id};
    ip_status st = meta_db_run(cx, conn, META_ST_GET, 1, params, &r);
    return st == IP_OK ? meta_rows_one_image(cx, r, id, out) : st;
}

/* Ends a write whose reply is the image row: reads the row as the
 * transaction leaves it, then commits. */
static ip_status read_and_commit(meta_ctx *cx, PGconn *conn, const char *id, Imageproc__Image **out)
{
    ip_status st = meta_db_get_image(cx, conn, id, out);
    return st == IP_OK ? meta_db_commit(cx, conn) : st;
}

/* Sets the image's status and error; *updated_at_us (may be NULL) is the new
 * updated_at. */
static ip_status set_status(meta_ctx *cx, PGconn *conn, const char *id, const char *status,
                            const char *error, int64_t *updated_at_us)
{
    PGresult *r = NULL;
    const char *params[] = {id, status, error};
    ip_status st = meta_db_run(cx, conn, META_ST_SET_STATUS, 3, params, &r);
    if (st != IP_OK)
        return st;
    if (updated_at_us != NULL && PQntuples(r) > 0)
        *updated_at_us = meta_db_i64(r, 0, 0);
    PQclear(r);
    return IP_OK;
}

/* ------------------------------------------------------------- MarkProcessing */

ip_status meta_store_mark_processing(meta_store *s, meta_ctx *cx, const char *id, int64_t lease_ms,
                                     bool new_delivery, bool regenerate, Imageproc__Image **out,
                                     bool *changed)
{
    PGconn *conn = NULL;
    PGresult *r = NULL;
    meta_locked_row row;
    char lease[24];
    snprintf(lease, sizeof(lease), "%lld",
             (long long)(lease_ms > 0 ? lease_ms : META_LEASE_DEFAULT_MS));
    const char *params[] = {id, lease, new_delivery ? "true" : "false"};
    *changed = false;
    ip_status st = meta_db_begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = meta_db_lock_image(cx, conn, id, &row)) != IP_OK)
        goto out;
    /* A regeneration only reads: the image is ready and stays so. */
    if (regenerate) {
        st = strcmp(row.status, "ready") == 0
                 ? read_and_commit(cx, conn, id, out)
                 : meta_cx_fail(cx, IP_FAILED_PRECONDITION, "image %s is %s, not ready", id,
                                row.status);
        goto out;
    }
    /* Ready and failed are outcomes: a redelivered job changes neither. */
    bool pending = strcmp(row.status, "pending") == 0;
    if (pending || strcmp(row.status, "processing") == 0) {
        if ((st = meta_db_run(cx, conn, META_ST_PROCESSING, 3, params, &r)) != IP_OK)
            goto out;
        PQclear(r);
        *changed = pending;
    }
    st = read_and_commit(cx, conn, id, out);
out:
    meta_pool_release(s->pool, conn);
    return st;
}

/* ------------------------------------------------------------- PutVariant */

/* After a variant changed: a pending image becomes processing; the image's
 * status and updated_at afterwards into *image_status and *at_us. */
static ip_status touch_image(meta_ctx *cx, PGconn *conn, const char *image_id,
                             Imageproc__ImageStatus *image_status, int64_t *at_us)
{
    PGresult *r = NULL;
    const char *params[] = {image_id};
    ip_status st = meta_db_run(cx, conn, META_ST_TOUCH, 1, params, &r);
    if (st != IP_OK)
        return st;
    *image_status = meta_image_status_parse(PQgetvalue(r, 0, 0));
    *at_us = meta_db_i64(r, 0, 1);
    PQclear(r);
    return IP_OK;
}

/* A processing image's lease runs at least META_LEASE_DEFAULT_MS from now. */
static ip_status renew_lease(meta_ctx *cx, PGconn *conn, const char *image_id)
{
    PGresult *r = NULL;
    char lease[24];
    snprintf(lease, sizeof(lease), "%d", META_LEASE_DEFAULT_MS);
    const char *params[] = {image_id, lease};
    ip_status st = meta_db_run(cx, conn, META_ST_RENEW, 2, params, &r);
    PQclear(r);
    return st;
}

/* The variant `name` of the image as stored, into *out. */
static ip_status read_variant(meta_ctx *cx, PGconn *conn, const char *image_id, const char *name,
                              Imageproc__Variant **out)
{
    PGresult *r = NULL;
    const char *params[] = {image_id, name};
    ip_status st = meta_db_run(cx, conn, META_ST_GET_VARIANT, 2, params, &r);
    if (st != IP_OK)
        return st;
    if (PQntuples(r) != 1)
        st = meta_cx_fail(cx, IP_INTERNAL, "variant %s of %s vanished", name, image_id);
    else
        st = meta_rows_variant(cx, r, 0, 0, out);
    PQclear(r);
    return st;
}

ip_status meta_db_variant_files(meta_ctx *cx, const Imageproc__Variant *v, char **formats,
                                char **keys, char **sizes)
{
    size_t n = v->n_files > 1 ? v->n_files - 1 : 0;
    char *f[IP_FORMAT_COUNT], *k[IP_FORMAT_COUNT], *z[IP_FORMAT_COUNT];
    char size_text[IP_FORMAT_COUNT][24];
    if (n >= IP_FORMAT_COUNT)
        return meta_cx_fail(cx, IP_INVALID_ARGUMENT, "variant.files: too many");
    for (size_t i = 0; i < n; i++) {
        const Imageproc__VariantFile *file = v->files[i + 1];
        snprintf(size_text[i], sizeof(size_text[i]), "%lld", (long long)file->size_bytes);
        f[i] = file->format;
        k[i] = file->object_key;
        z[i] = size_text[i];
    }
    *formats = meta_pg_text_array(cx, f, n);
    *keys = meta_pg_text_array(cx, k, n);
    *sizes = meta_pg_text_array(cx, z, n);
    return *formats && *keys && *sizes ? IP_OK : meta_cx_nomem(cx);
}

ip_status meta_db_set_placeholder(meta_ctx *cx, PGconn *conn, const char *id,
                                  const char *thumbhash, const char *dominant_color)
{
    PGresult *r = NULL;
    const char *params[] = {id, thumbhash ? thumbhash : "", dominant_color ? dominant_color : ""};
    if (params[1][0] == '\0' && params[2][0] == '\0')
        return IP_OK;
    ip_status st = meta_db_run(cx, conn, META_ST_PLACEHOLDER, 3, params, &r);
    PQclear(r);
    return st;
}

/* Records `v` on the locked image `row` (PutVariant's checks and upsert),
 * into *c. A variant the image did not request is IP_FAILED_PRECONDITION. */
static ip_status record_variant(meta_ctx *cx, PGconn *conn, const char *image_id,
                                const meta_locked_row *row, const Imageproc__Variant *v,
                                meta_variant_change *c)
{
    PGresult *r = NULL;
    const char *name = ip_variant_name(v->kind);
    bool ready = v->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    const char *error = ready ? "" : (v->error && v->error[0] ? v->error : "failed");
    char w[16], h[16], size[24];
    snprintf(w, sizeof(w), "%d", ready ? v->width : 0);
    snprintf(h, sizeof(h), "%d", ready ? v->height : 0);
    snprintf(size, sizeof(size), "%lld", ready ? (long long)v->size_bytes : 0LL);
    char version[16], *formats = "{}", *keys = "{}", *sizes = "{}";
    snprintf(version, sizeof(version), "%d", ready ? v->preset_version : 0);
    memset(c, 0, sizeof(*c));
    if (name == NULL)
        return meta_cx_fail(cx, IP_INVALID_ARGUMENT, "variant.kind: not a variant");
    if (!(row->requested & ip_variant_bit(v->kind)))
        return meta_cx_fail(cx, IP_FAILED_PRECONDITION, "variant.kind: %s was not requested for %s",
                            name, image_id);
    ip_status st;
    if (ready && (st = meta_db_variant_files(cx, v, &formats, &keys, &sizes)) != IP_OK)
        return st;
    const char *params[] = {image_id, name,  ready ? "ready" : "failed", ready ? v->object_key : "",
                            w,        h,     size,  ready ? v->format : "", error, version, formats,
                            keys,     sizes};
    st = meta_db_run(cx, conn, META_ST_PUT_VARIANT, 13, params, &r);
    if (st != IP_OK)
        return st;
    c->changed = PQntuples(r) > 0;
    PQclear(r);
    c->kind = v->kind;
    c->status = ready ? IMAGEPROC__VARIANT_STATUS__VARIANT_READY
                      : IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED;
    c->error = error;
    c->image_status = meta_image_status_parse(row->status);
    c->at_us = row->updated_at_us;
    return c->changed ? touch_image(cx, conn, image_id, &c->image_status, &c->at_us) : IP_OK;
}

ip_status meta_store_put_variant(meta_store *s, meta_ctx *cx, const char *image_id,
                                 const Imageproc__Variant *v, Imageproc__Variant **out,
                                 Imageproc__ImageStatus *image_status, int64_t *at_us,
                                 bool *changed)
{
    PGconn *conn = NULL;
    meta_locked_row row;
    meta_variant_change c;
    *changed = false;
    if (ip_variant_name(v->kind) == NULL)
        return meta_cx_fail(cx, IP_INVALID_ARGUMENT, "variant.kind: not a variant");
    ip_status st = meta_db_begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = meta_db_lock_image(cx, conn, image_id, &row)) != IP_OK ||
        (st = record_variant(cx, conn, image_id, &row, v, &c)) != IP_OK)
        goto out;
    *changed = c.changed;
    *image_status = c.image_status;
    *at_us = c.at_us;
    if ((st = renew_lease(cx, conn, image_id)) != IP_OK ||
        (st = read_variant(cx, conn, image_id, ip_variant_name(v->kind), out)) != IP_OK)
        goto out;
    st = meta_db_commit(cx, conn);
out:
    meta_pool_release(s->pool, conn);
    return st;
}

/* ------------------------------------------------------------- FinishImage */

static const Imageproc__Variant *variant_of(const Imageproc__Image *img,
                                            Imageproc__VariantKind kind)
{
    for (size_t k = 0; k < img->n_variants; k++)
        if (img->variants[k]->kind == kind)
            return img->variants[k];
    return NULL;
}

/* What FinishImage makes of the image, decided from its variants in canonical
 * order: "failed" with "<variant>: <reason>" of the first failed one;
 * otherwise "ready" when every requested variant is ready;
 * IP_FAILED_PRECONDITION (naming the pending ones) while some are not. */
static ip_status finish_target(meta_ctx *cx, const Imageproc__Image *img, const char **target,
                               char *reason, size_t reason_len)
{
    const Imageproc__Variant *failed = NULL;
    unsigned pending = 0;
    for (size_t i = 0; i < img->n_requested; i++) {
        const Imageproc__Variant *v = variant_of(img, img->requested[i]);
        if (v != NULL && v->status == IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED) {
            if (failed == NULL)
                failed = v;
        } else if (v == NULL || v->status != IMAGEPROC__VARIANT_STATUS__VARIANT_READY) {
            pending |= ip_variant_bit(img->requested[i]);
        }
    }
    reason[0] = '\0';
    if (failed != NULL) {
        *target = "failed";
        snprintf(reason, reason_len, "%s: %s", ip_variant_name(failed->kind), failed->error);
        return IP_OK;
    }
    if (pending != 0) {
        char names[IP_VARIANT_LIST_MAX];
        ip_variant_mask_format(pending, names, sizeof(names));
        return meta_cx_fail(cx, IP_FAILED_PRECONDITION, "variants still pending: %s", names);
    }
    *target = "ready";
    return IP_OK;
}

ip_status meta_store_finish(meta_store *s, meta_ctx *cx, const char *id,
                            const meta_finish_req *req, meta_variant_change *changes,
                            Imageproc__Image **out, bool *changed)
{
    PGconn *conn = NULL;
    meta_locked_row row;
    Imageproc__Image *img = NULL;
    const char *target = NULL;
    char reason[512];
    *changed = false;
    for (size_t i = 0; i < req->n_variants; i++)
        memset(&changes[i], 0, sizeof(changes[i]));
    ip_status st = meta_db_begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = meta_db_lock_image(cx, conn, id, &row)) != IP_OK)
        goto out;
    if (req->regenerate) {
        if ((st = meta_db_regenerate(cx, conn, id, &row, req)) != IP_OK ||
            (st = set_status(cx, conn, id, "ready", "", NULL)) != IP_OK)
            goto out;
        *changed = true; /* one event: the image, ready, with its new variants */
        st = read_and_commit(cx, conn, id, out);
        goto out;
    }
    for (size_t i = 0; i < req->n_variants; i++)
        if ((st = record_variant(cx, conn, id, &row, req->variants[i], &changes[i])) != IP_OK)
            goto out; /* the release rolls back what the others recorded */
    if ((st = meta_db_set_placeholder(cx, conn, id, req->thumbhash, req->dominant_color)) != IP_OK)
        goto out;
    if ((st = meta_db_get_image(cx, conn, id, &img)) != IP_OK ||
        (st = finish_target(cx, img, &target, reason, sizeof(reason))) != IP_OK)
        goto out;
    const char *now = meta_image_status_text(img->status);
    if (now == NULL || strcmp(now, target) != 0) {
        if ((st = set_status(cx, conn, id, target, reason, &img->updated_at_us)) != IP_OK)
            goto out;
        img->status = meta_image_status_parse(target);
        img->lease_until_us = 0; /* set_status cleared it */
        if ((img->error = meta_cx_strdup(cx, reason)) == NULL) {
            st = meta_cx_nomem(cx);
            goto out;
        }
        Imageproc__WebhookEvent event = strcmp(target, "ready") == 0
                                            ? IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_READY
                                            : IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_FAILED;
        if ((st = meta_outbox_write(cx, conn, id, event, NULL)) != IP_OK)
            goto out;
        *changed = true;
    }
    if ((st = meta_db_commit(cx, conn)) != IP_OK)
        goto out;
    *out = img;
out:
    meta_pool_release(s->pool, conn);
    return st;
}

/* ------------------------------------------------------------- FailImage */

ip_status meta_store_fail(meta_store *s, meta_ctx *cx, const char *id, const char *error,
                          Imageproc__Image **out, bool *changed)
{
    PGconn *conn = NULL;
    PGresult *r = NULL;
    meta_locked_row row;
    const char *reason = error && error[0] ? error : "failed";
    *changed = false;
    ip_status st = meta_db_begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = meta_db_lock_image(cx, conn, id, &row)) != IP_OK)
        goto out;
    if (strcmp(row.status, "ready") != 0) {
        if ((st = set_status(cx, conn, id, "failed", reason, NULL)) != IP_OK)
            goto out;
        const char *params[] = {id, reason};
        if ((st = meta_db_run(cx, conn, META_ST_FAIL_VARIANTS, 2, params, &r)) != IP_OK)
            goto out;
        PQclear(r);
        /* Subscribers hear of the change to failed, not of a repeat. */
        if (strcmp(row.status, "failed") != 0 &&
            (st = meta_outbox_write(cx, conn, id, IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_FAILED,
                                    NULL)) != IP_OK)
            goto out;
        *changed = true;
    }
    st = read_and_commit(cx, conn, id, out);
out:
    meta_pool_release(s->pool, conn);
    return st;
}

/* ------------------------------------------------------------- MarkEnqueued */

ip_status meta_store_mark_enqueued(meta_store *s, meta_ctx *cx, const char *id, int64_t at_us,
                                   bool requeue, Imageproc__Image **out, bool *requeued)
{
    PGconn *conn = NULL;
    PGresult *r = NULL;
    meta_locked_row row;
    char at[24];
    snprintf(at, sizeof(at), "%lld", (long long)at_us);
    const char *params[] = {id, at, requeue ? "true" : "false"};
    *requeued = false;
    ip_status st = meta_db_begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = meta_db_lock_image(cx, conn, id, &row)) != IP_OK ||
        (st = meta_db_run(cx, conn, META_ST_ENQUEUED, 3, params, &r)) != IP_OK)
        goto out;
    *requeued = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), row.status) != 0;
    PQclear(r);
    st = read_and_commit(cx, conn, id, out);
out:
    meta_pool_release(s->pool, conn);
    return st;
}

/* ------------------------------------------------------------- RetryImage */

ip_status meta_store_retry(meta_store *s, meta_ctx *cx, const char *id, Imageproc__Image **out)
{
    PGconn *conn = NULL;
    PGresult *r = NULL;
    meta_locked_row row;
    const char *params[] = {id};
    ip_status st = meta_db_begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = meta_db_lock_image(cx, conn, id, &row)) != IP_OK)
        goto out;
    if (strcmp(row.status, "failed") != 0) {
        st = meta_cx_fail(cx, IP_FAILED_PRECONDITION, "image %s is %s, not failed", id, row.status);
        goto out;
    }
    if ((st = meta_db_run(cx, conn, META_ST_RETRY, 1, params, &r)) != IP_OK)
        goto out;
    PQclear(r);
    if ((st = meta_db_run(cx, conn, META_ST_RETRY_VARIANTS, 1, params, &r)) != IP_OK)
        goto out;
    PQclear(r);
    st = read_and_commit(cx, conn, id, out);
out:
    meta_pool_release(s->pool, conn);
    return st;
}
