/* meta_store_purge.c — ClaimPurges and FinishPurge: the purges DeleteImage
 * recorded, handed out until storage confirms the removal.
 *
 * A purge is due when its next_at has come (DeleteImage records it due at
 * once). ClaimPurges picks the due ones, oldest first, with FOR UPDATE SKIP
 * LOCKED and in the same statement moves their next_at on by the claim and
 * counts an attempt, so concurrent purgers (one per gateway) never get the same
 * purge, and one whose purger died comes back when its claim ends.
 * ReserveUpload records a purge of an upload's original before the original is
 * stored, due later; CreateImage drops it with the row, so what a gateway
 * that died in between left behind is purged like a deleted image's.
 * A regeneration records the files it replaced the same way, merged into the
 * image's record when it has one (purges.gen counts the merges; a claim notes
 * the count it handed out in claimed_gen).
 * FinishPurge ends an attempt: success deletes the record (or, when keys were
 * merged into it after its claim, makes it due again, whole, so those keys
 * are not lost), failure keeps it with the error as last_error until the
 * claim ends and the next purger takes it. Deleting objects is idempotent, so a purge that runs twice (a claim
 * that ended while its purger was still at work) does no harm.
 *
 * The claim's statement yields one row per object key (the purge's columns
 * repeated, each purge's rows adjacent, keys in their recorded order; a purge
 * without keys has one row whose key is NULL), folded here into messages.
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "meta_store_internal.h"

/* Columns of META_ST_CLAIM_PURGES. */
enum { PC_ID, PC_CREATED, PC_PREFIX, PC_ATTEMPTS, PC_ERROR, PC_KEY };

/* The purge of rows [i, j) (one purge's) into *out, from the arena. */
static ip_status row_purge(meta_ctx *cx, const PGresult *r, int i, int j, Imageproc__Purge **out)
{
    Imageproc__Purge *p = meta_cx_alloc(cx, sizeof(*p));
    if (p == NULL)
        return meta_cx_nomem(cx);
    imageproc__purge__init(p);
    p->image_id = meta_cx_strdup(cx, PQgetvalue(r, i, PC_ID));
    p->created_at_us = meta_db_i64(r, i, PC_CREATED);
    p->prefix = meta_cx_strdup(cx, PQgetvalue(r, i, PC_PREFIX));
    p->attempts = (int32_t)meta_db_i64(r, i, PC_ATTEMPTS);
    p->last_error = meta_cx_strdup(cx, PQgetvalue(r, i, PC_ERROR));
    p->object_keys = meta_cx_alloc(cx, (size_t)(j - i) * sizeof(char *));
    if (p->image_id == NULL || p->prefix == NULL || p->last_error == NULL || p->object_keys == NULL)
        return meta_cx_nomem(cx);
    for (int x = i; x < j; x++) {
        if (PQgetisnull(r, x, PC_KEY))
            continue;
        if ((p->object_keys[p->n_object_keys++] = meta_cx_strdup(cx, PQgetvalue(r, x, PC_KEY))) ==
            NULL)
            return meta_cx_nomem(cx);
    }
    *out = p;
    return IP_OK;
}

static bool same_purge(const PGresult *r, int a, int b)
{
    return strcmp(PQgetvalue(r, a, PC_ID), PQgetvalue(r, b, PC_ID)) == 0;
}

/* The rows of a claim into purges, n of them, from the arena. */
static ip_status rows_purges(meta_ctx *cx, const PGresult *r, Imageproc__Purge ***out, size_t *n)
{
    int rows = PQntuples(r);
    Imageproc__Purge **arr = meta_cx_alloc(cx, (size_t)(rows ? rows : 1) * sizeof(*arr));
    if (arr == NULL)
        return meta_cx_nomem(cx);
    size_t k = 0;
    for (int i = 0; i < rows;) {
        int j = i + 1;
        while (j < rows && same_purge(r, j, i))
            j++;
        ip_status st = row_purge(cx, r, i, j, &arr[k++]);
        if (st != IP_OK)
            return st;
        i = j;
    }
    *out = arr;
    *n = k;
    return IP_OK;
}

ip_status meta_store_claim_purges(meta_store *s, meta_ctx *cx, int limit, int64_t claim_ms,
                                  Imageproc__Purge ***purges, size_t *n)
{
    PGresult *r = NULL;
    char lim[16], claim[24];
    snprintf(lim, sizeof(lim), "%d", limit);
    snprintf(claim, sizeof(claim), "%lld", (long long)claim_ms);
    const char *params[] = {lim, claim};
    *purges = NULL;
    *n = 0;
    ip_status st = meta_db_query(s, cx, META_ST_CLAIM_PURGES, 2, params, &r);
    if (st != IP_OK)
        return st;
    st = rows_purges(cx, r, purges, n);
    PQclear(r);
    return st;
}

ip_status meta_store_finish_purge(meta_store *s, meta_ctx *cx, const char *image_id,
                                  const char *error)
{
    PGresult *r = NULL;
    bool done = error == NULL || error[0] == '\0';
    const char *params[] = {image_id, done ? "" : error};
    ip_status st = meta_db_query(s, cx, done ? META_ST_PURGE_DONE : META_ST_PURGE_FAILED,
                                 done ? 1 : 2, params, &r);
    if (st != IP_OK)
        return st;
    int found = PQntuples(r);
    PQclear(r);
    return found ? IP_OK : meta_cx_fail(cx, IP_NOT_FOUND, "no purge of image %s", image_id);
}

ip_status meta_store_reserve_upload(meta_store *s, meta_ctx *cx, const char *id,
                                    const char *original_key, int64_t purge_after_ms)
{
    PGresult *r = NULL;
    char after[24];
    snprintf(after, sizeof(after), "%lld", (long long)purge_after_ms);
    const char *params[] = {id, original_key, after};
    ip_status st = meta_db_query(s, cx, META_ST_RESERVE, 3, params, &r);
    if (st != IP_OK)
        return st;
    int made = PQntuples(r);
    PQclear(r);
    return made ? IP_OK : meta_cx_fail(cx, IP_ALREADY_EXISTS, "image %s has a purge already", id);
}
