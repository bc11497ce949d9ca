/* meta_store_delete.c — DeleteImage: the row goes, its objects' keys come back.
 *
 * The image row is locked first, like every write (meta_store_write.c), so a
 * PutVariant that committed before the delete took the lock has its variant
 * key in the answer, and one that comes after finds no row (IP_NOT_FOUND):
 * nothing brings a deleted image back. In that one transaction the keys to
 * purge are collected (the original's, then every variant key recorded, in
 * canonical order) and the row deleted; variants go with it (ON DELETE
 * CASCADE). Removing the objects themselves is the caller's job (the gateway
 * asks storage-svc), with the keys returned here.
 */
#include <libpq-fe.h>

#include "meta_store_internal.h"

ip_status meta_store_delete(meta_store *s, meta_ctx *cx, const char *id, char ***keys, size_t *n)
{
    PGconn *conn = NULL;
    PGresult *r = NULL;
    meta_locked_row row;
    const char *params[] = {id};
    *keys = NULL;
    *n = 0;
    ip_status st = meta_db_begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = meta_db_lock_image(cx, conn, id, &row)) != IP_OK)
        goto out;
    if ((st = meta_db_run(cx, conn, META_ST_DELETE_KEYS, 1, params, &r)) != IP_OK)
        goto out;
    int nv = PQntuples(r);
    char **arr = meta_cx_alloc(cx, (size_t)(nv + 1) * sizeof(char *));
    if (arr == NULL) {
        st = meta_cx_nomem(cx);
        goto out;
    }
    size_t k = 0;
    if (row.original_key[0] != '\0')
        arr[k++] = row.original_key;
    for (int i = 0; i < nv; i++)
        if ((arr[k++] = meta_cx_strdup(cx, PQgetvalue(r, i, 0))) == NULL) {
            st = meta_cx_nomem(cx);
            goto out;
        }
    PQclear(r);
    r = NULL;
    if ((st = meta_db_run(cx, conn, META_ST_DELETE, 1, params, &r)) != IP_OK)
        goto out;
    if ((st = meta_db_commit(cx, conn)) != IP_OK)
        goto out;
    *keys = arr;
    *n = k;
out:
    PQclear(r);
    meta_pool_release(s->pool, conn);
    return st;
}
