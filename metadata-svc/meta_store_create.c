/* meta_store_create.c — CreateImage (with its duplicate check and its
 * idempotency record) and GetIdempotency.
 *
 * HOW IT WORKS
 * CreateImage is one transaction. Without dedupe or an idempotency record it
 * is one INSERT ... ON CONFLICT DO NOTHING (META_ST_CREATE, which also drops
 * the id's upload reservation) and its variants: the row is made or the id is
 * taken (IP_ALREADY_EXISTS). Two checks may come first, each behind a
 * transaction-scoped advisory lock, so that concurrent requests asking the
 * same question take turns and the second sees what the first committed:
 *
 *  1. the idempotency record, locked on (scope, key): an expired record of
 *     that pair is removed; a live one (under 24 h) is the answer (replay)
 *     and nothing else happens. Otherwise the record is inserted after the
 *     row, in the same transaction: a request that waited for the lock finds
 *     it, and an undone upload (DeleteImage) takes its record along (ON
 *     DELETE CASCADE). Each such call also removes at most 100 other expired
 *     records (SKIP LOCKED: none is waited for), so the table holds no more
 *     than a day of records plus a bounded rest.
 *  2. the duplicate, locked on (key_id, sha256): the newest image of that key
 *     with the same bytes is the answer (existing), read as GetImage reads
 *     it, and nothing is written. Only uploads with a key are checked: the
 *     caller sets dedupe only with key_id.
 *
 * The order (record, then duplicate) makes a retried request answer what its
 * first attempt answered. The two locks live in separate classes of the
 * two-key advisory lock space (LOCK_IDEMPOTENCY, LOCK_DUPLICATE) and are
 * always taken in that order, so they cannot deadlock with each other; a hash
 * collision only makes unrelated uploads wait their turn. When nothing is
 * written the id's reservation stays: its purge removes the original the
 * caller stored for the upload that was not made.
 *
 * The record's response is bytea; it crosses as hex text (encode/decode), as
 * every other value crosses as text.
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "ip_keys.h"
#include "ip_variants.h"
#include "meta_store_internal.h"

/* The classes of CreateImage's advisory locks (pg_advisory_xact_lock(class,
 * hashtext(what))); the migrations' lock is a one-key lock of its own space. */
#define LOCK_IDEMPOTENCY "7101002"
#define LOCK_DUPLICATE "7101003"

/* Columns of an idempotency record (IDEM_COLS in meta_store.c). */
enum { IDEM_SCOPE, IDEM_KEY, IDEM_SHA, IDEM_IMAGE, IDEM_STATUS, IDEM_RESPONSE, IDEM_CREATED };

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The record of row 0 into the arena. */
static ip_status row_record(meta_ctx *cx, const PGresult *r, Imageproc__IdempotencyRecord **out)
{
    Imageproc__IdempotencyRecord *rec = meta_cx_alloc(cx, sizeof(*rec));
    if (rec == NULL)
        return meta_cx_nomem(cx);
    imageproc__idempotency_record__init(rec);
    rec->scope = meta_cx_strdup(cx, PQgetvalue(r, 0, IDEM_SCOPE));
    rec->key = meta_cx_strdup(cx, PQgetvalue(r, 0, IDEM_KEY));
    rec->request_sha256 = meta_cx_strdup(cx, PQgetvalue(r, 0, IDEM_SHA));
    rec->image_id = meta_cx_strdup(cx, PQgetvalue(r, 0, IDEM_IMAGE));
    rec->status = (int32_t)meta_db_i64(r, 0, IDEM_STATUS);
    rec->created_at_us = meta_db_i64(r, 0, IDEM_CREATED);
    const char *hex = PQgetvalue(r, 0, IDEM_RESPONSE);
    size_t n = strlen(hex) / 2;
    uint8_t *bytes = meta_cx_alloc(cx, n ? n : 1);
    if (rec->scope == NULL || rec->key == NULL || rec->request_sha256 == NULL ||
        rec->image_id == NULL || bytes == NULL)
        return meta_cx_nomem(cx);
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return meta_cx_fail(cx, IP_INTERNAL, "idempotency_keys.response: not hex");
        bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    rec->response.data = bytes;
    rec->response.len = n;
    *out = rec;
    return IP_OK;
}

/* The bytes as lowercase hex text, from the arena. */
static char *hex_of(meta_ctx *cx, const ProtobufCBinaryData *b)
{
    static const char digits[] = "0123456789abcdef";
    char *hex = meta_cx_alloc(cx, 2 * b->len + 1);
    for (size_t i = 0; hex != NULL && i < b->len; i++) {
        hex[2 * i] = digits[b->data[i] >> 4];
        hex[2 * i + 1] = digits[b->data[i] & 15];
    }
    return hex;
}

/* pg_advisory_xact_lock(class, hashtext(a || '/' || b)) in the open
 * transaction: held until it ends. Neither a UUID nor "" holds a '/', so the
 * pair is read back unambiguously from its text. */
static ip_status lock_pair(meta_ctx *cx, PGconn *conn, const char *class, const char *a,
                           const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *what = meta_cx_alloc(cx, n);
    if (what == NULL)
        return meta_cx_nomem(cx);
    snprintf(what, n, "%s/%s", a, b);
    PGresult *r = NULL;
    const char *params[] = {class, what};
    ip_status st = meta_db_run(cx, conn, META_ST_CREATE_LOCK, 2, params, &r);
    PQclear(r);
    return st;
}

/* Step 1: the lock on (scope, key), the pair's expired record removed, its
 * live one into *live (NULL when none), and at most 100 other expired
 * records removed. */
static ip_status take_record(meta_ctx *cx, PGconn *conn, const Imageproc__IdempotencyRecord *rec,
                             Imageproc__IdempotencyRecord **live)
{
    PGresult *r = NULL;
    const char *params[] = {rec->scope != NULL ? rec->scope : "", rec->key};
    *live = NULL;
    ip_status st = lock_pair(cx, conn, LOCK_IDEMPOTENCY, params[0], params[1]);
    if (st != IP_OK || (st = meta_db_run(cx, conn, META_ST_IDEM_TAKE, 2, params, &r)) != IP_OK)
        return st;
    if (PQntuples(r) > 0)
        st = row_record(cx, r, live);
    PQclear(r);
    if (st != IP_OK || (st = meta_db_run(cx, conn, META_ST_IDEM_SWEEP, 0, NULL, &r)) != IP_OK)
        return st;
    PQclear(r);
    return IP_OK;
}

/* Step 2: the lock on (key_id, sha256) and the newest image of that key with
 * that sha256 into *found (NULL when none). */
static ip_status find_duplicate(meta_ctx *cx, PGconn *conn, const Imageproc__Image *img,
                                Imageproc__Image **found)
{
    PGresult *r = NULL;
    const char *params[] = {img->key_id, img->sha256};
    Imageproc__Image **imgs = NULL;
    size_t n = 0;
    *found = NULL;
    ip_status st = lock_pair(cx, conn, LOCK_DUPLICATE, params[0], params[1]);
    if (st != IP_OK || (st = meta_db_run(cx, conn, META_ST_DUPLICATE, 2, params, &r)) != IP_OK)
        return st;
    st = meta_rows_images(cx, r, &imgs, &n);
    PQclear(r);
    if (st == IP_OK && n > 0)
        *found = imgs[0];
    return st;
}

/* The row and its pending variants; IP_ALREADY_EXISTS when the id is taken
 * (or its purge is pending). */
static ip_status insert_row(meta_ctx *cx, PGconn *conn, const Imageproc__Image *img,
                            unsigned requested)
{
    PGresult *r = NULL;
    char created[24], size[24], w[16], h[16], okey[IP_KEY_MAX], ops[IP_VARIANT_LIST_MAX];
    snprintf(created, sizeof(created), "%lld", (long long)img->created_at_us);
    snprintf(size, sizeof(size), "%lld", (long long)img->size_bytes);
    snprintf(w, sizeof(w), "%d", img->width);
    snprintf(h, sizeof(h), "%d", img->height);
    ip_variant_mask_format(requested, ops, sizeof(ops));
    const char *original_key = img->original_key;
    if (original_key == NULL || original_key[0] == '\0') {
        if (ip_key_original(okey, img->id) != IP_OK)
            return meta_cx_fail(cx, IP_INVALID_ARGUMENT, "image.id: no key for %s", img->id);
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
                            ops,
                            img->owner_hash ? img->owner_hash : "",
                            img->key_id ? img->key_id : ""};
    ip_status st = meta_db_run(cx, conn, META_ST_CREATE, 12, params, &r);
    if (st != IP_OK)
        return st;
    int inserted = PQntuples(r);
    PQclear(r);
    if (inserted == 0)
        return meta_cx_fail(cx, IP_ALREADY_EXISTS, "image %s already exists", img->id);
    const char *vparams[] = {img->id, ops};
    if ((st = meta_db_run(cx, conn, META_ST_CREATE_VARIANTS, 2, vparams, &r)) != IP_OK)
        return st;
    PQclear(r);
    return IP_OK;
}

/* The idempotency record of the image just inserted. */
static ip_status insert_record(meta_ctx *cx, PGconn *conn, const Imageproc__IdempotencyRecord *rec,
                               const char *image_id)
{
    PGresult *r = NULL;
    char status[16];
    snprintf(status, sizeof(status), "%d", rec->status);
    char *response = hex_of(cx, &rec->response);
    if (response == NULL)
        return meta_cx_nomem(cx);
    const char *params[] = {rec->scope != NULL ? rec->scope : "",
                            rec->key,
                            rec->request_sha256,
                            image_id,
                            status,
                            response};
    ip_status st = meta_db_run(cx, conn, META_ST_IDEM_INSERT, 6, params, &r);
    PQclear(r);
    return st;
}

ip_status meta_store_create(meta_store *s, meta_ctx *cx, const meta_create_req *req,
                            meta_create_res *res)
{
    const Imageproc__Image *img = req->image;
    PGconn *conn = NULL;
    memset(res, 0, sizeof(*res));
    ip_status st = meta_db_begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if (req->idempotency != NULL) {
        if ((st = take_record(cx, conn, req->idempotency, &res->replay)) != IP_OK)
            goto out;
        if (res->replay != NULL) { /* commits the removal of expired records */
            st = meta_db_commit(cx, conn);
            goto out;
        }
    }
    if (req->dedupe) {
        if ((st = find_duplicate(cx, conn, img, &res->image)) != IP_OK)
            goto out;
        if (res->image != NULL) {
            res->existing = true;
            st = meta_db_commit(cx, conn);
            goto out;
        }
    }
    if ((st = insert_row(cx, conn, img, req->requested)) != IP_OK)
        goto out;
    if (req->idempotency != NULL &&
        (st = insert_record(cx, conn, req->idempotency, img->id)) != IP_OK)
        goto out;
    if ((st = meta_db_get_image(cx, conn, img->id, &res->image)) != IP_OK)
        goto out;
    st = meta_db_commit(cx, conn);
out:
    meta_pool_release(s->pool, conn);
    if (st != IP_OK)
        memset(res, 0, sizeof(*res));
    return st;
}

ip_status meta_store_get_idempotency(meta_store *s, meta_ctx *cx, const char *scope,
                                     const char *key, Imageproc__IdempotencyRecord **out)
{
    PGresult *r = NULL;
    const char *params[] = {scope != NULL ? scope : "", key};
    ip_status st = meta_db_query(s, cx, META_ST_IDEM_GET, 2, params, &r);
    if (st != IP_OK)
        return st;
    if (PQntuples(r) == 0)
        st = meta_cx_fail(cx, IP_NOT_FOUND, "no idempotency record of that key within 24 h");
    else
        st = row_record(cx, r, out);
    PQclear(r);
    return st;
}
