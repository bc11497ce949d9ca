/* meta_store_read.c — the store's reads: GetImage, ListImages.
 *
 * Each read is one statement (meta_store.c) on a borrowed connection, outside
 * any transaction, repeated once on a fresh connection when the first one
 * turns out dead (meta_db_query); its rows become messages in
 * meta_store_rows.c.
 *
 * ListImages asks for one row more than the page (limit + 1): whether it came
 * back says whether another page follows, without a count. Its variant filter
 * reaches SQL as the variant's name ('' for all), the spelling of images.ops.
 * Each page is a keyset read in (created_at, id) order from one index, so the
 * statement depends on the filters: the checksum (with or without the key)
 * reads images_sha_created_idx, whose (sha256, created_at, id) order is the
 * page's; the key alone and no filter read images_created_id_idx. Every
 * statement takes the variant filter as $1 and the limit as $2, the cursor
 * (when there is one) as $3 and $4, then its own filters.
 */
#include <stdio.h>

#include <libpq-fe.h>

#include "ip_variants.h"
#include "meta_store_internal.h"

ip_status meta_store_get(meta_store *s, meta_ctx *cx, const char *id, Imageproc__Image **out)
{
    PGresult *r = NULL;
    const char *params[] = {id};
    ip_status st = meta_db_query(s, cx, META_ST_GET, 1, params, &r);
    return st == IP_OK ? meta_rows_one_image(cx, r, id, out) : st;
}

ip_status meta_store_list(meta_store *s, meta_ctx *cx, const meta_list_query *q,
                          Imageproc__Image ***images, size_t *n, bool *has_more)
{
    PGresult *r = NULL;
    char lim[16], ts[24];
    *images = NULL;
    *n = 0;
    *has_more = false;
    const char *with = ip_variant_name(q->with_variant); /* NULL for all */
    snprintf(lim, sizeof(lim), "%d", q->limit + 1);      /* one more tells whether a page follows */
    snprintf(ts, sizeof(ts), "%lld", (long long)q->last_created_at_us);
    const char *sha = q->sha256 != NULL ? q->sha256 : "";
    const char *key = q->key_id != NULL ? q->key_id : "";
    const char *params[6] = {with ? with : "", lim};
    int n_params = 2;
    if (q->has_cursor) {
        params[n_params++] = ts;
        params[n_params++] = q->last_id;
    }
    meta_stmt stmt = q->has_cursor ? META_ST_LIST_AFTER : META_ST_LIST_FIRST;
    if (sha[0] != '\0') {
        stmt = q->has_cursor ? META_ST_LIST_SHA_AFTER : META_ST_LIST_SHA_FIRST;
        params[n_params++] = sha;
        params[n_params++] = key;
    } else if (key[0] != '\0') {
        stmt = q->has_cursor ? META_ST_LIST_KEY_AFTER : META_ST_LIST_KEY_FIRST;
        params[n_params++] = key;
    }
    ip_status st = meta_db_query(s, cx, stmt, n_params, params, &r);
    if (st != IP_OK)
        return st;
    st = meta_rows_images(cx, r, images, n);
    PQclear(r);
    if (st == IP_OK && *n > (size_t)q->limit) {
        *n = (size_t)q->limit;
        *has_more = true;
    }
    return st;
}
