/* meta_store_delete.c — DeleteImage: the row goes and the purge of its
 * objects is recorded, in one transaction.
 *
 * The image row is locked first, like every write (meta_store_write.c), so a
 * PutVariant that committed before the delete took the lock has its variant
 * key in the answer, and one that comes after finds no row (IP_NOT_FOUND):
 * nothing brings a deleted image back. In that one transaction the keys to
 * purge are collected (the original's, then every file of every variant
 * recorded: kinds in canonical order, each primary first) for the reply, and one statement deletes the row (its
 * variants go with it, ON DELETE CASCADE) and inserts the purge record with
 * the same keys and the variants' prefix. Before that, unless the delete is
 * an upload's undo (nobody ever heard of that image), the outbox gets the
 * image.deleted deliveries, their bodies read from the row while it is still
 * there. All of it happens or none of it: a delete that fails leaves the
 * image as it was and records nothing.
 *
 * Removing the objects is the caller's job (the gateway asks storage-svc, at
 * once and through ClaimPurges until it succeeds): the purge record is what
 * makes that survive a crash or a storage outage.
 */
#include <stdbool.h>

#include <libpq-fe.h>

#include "ip_keys.h"
#include "meta_store_internal.h"

/* The keys of the locked image (row), original first, into *keys (arena). */
static ip_status collect_keys(meta_ctx *cx, PGconn *conn, const char *id,
                              const meta_locked_row *row, char ***keys, size_t *n)
{
    PGresult *r = NULL;
    const char *params[] = {id};
    ip_status st = meta_db_run(cx, conn, META_ST_DELETE_KEYS, 1, params, &r);
    if (st != IP_OK)
        return st;
    int nv = PQntuples(r);
    char **arr = meta_cx_alloc(cx, (size_t)(nv + 1) * sizeof(char *));
    size_t k = 0;
    if (arr != NULL && row->original_key[0] != '\0')
        arr[k++] = row->original_key;
    for (int i = 0; arr != NULL && i < nv; i++)
        if ((arr[k++] = meta_cx_strdup(cx, PQgetvalue(r, i, 0))) == NULL)
            arr = NULL;
    PQclear(r);
    if (arr == NULL)
        return meta_cx_nomem(cx);
    *keys = arr;
    *n = k;
    return IP_OK;
}

ip_status meta_store_delete(meta_store *s, meta_ctx *cx, const char *id, bool undo, char ***keys,
                            size_t *n, char **prefix)
{
    PGconn *conn = NULL;
    PGresult *r = NULL;
    meta_locked_row row;
    char pfx[IP_KEY_MAX];
    char **arr = NULL;
    size_t k = 0;
    *keys = NULL;
    *n = 0;
    *prefix = NULL;
    if (ip_key_variant_prefix(pfx, id) != IP_OK)
        return meta_cx_fail(cx, IP_INVALID_ARGUMENT, "id: no key prefix for %s", id);
    char *p = meta_cx_strdup(cx, pfx);
    if (p == NULL)
        return meta_cx_nomem(cx);
    const char *params[] = {id, pfx};
    ip_status st = meta_db_begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = meta_db_lock_image(cx, conn, id, &row)) != IP_OK ||
        (st = collect_keys(cx, conn, id, &row, &arr, &k)) != IP_OK)
        goto out;
    /* The deliveries' body is read from the row, so they are written first. */
    if (!undo &&
        (st = meta_outbox_write(cx, conn, id, IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_DELETED,
                                NULL)) != IP_OK)
        goto out;
    if ((st = meta_db_run(cx, conn, META_ST_DELETE, 2, params, &r)) != IP_OK)
        goto out;
    if (PQntuples(r) != 1) {
        st = meta_cx_fail(cx, IP_INTERNAL, "image %s: no purge recorded", id);
        goto out;
    }
    if ((st = meta_db_commit(cx, conn)) != IP_OK)
        goto out;
    *keys = arr;
    *n = k;
    *prefix = p;
out:
    PQclear(r);
    meta_pool_release(s->pool, conn);
    return st;
}
