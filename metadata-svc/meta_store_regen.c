/* meta_store_regen.c — regeneration: FinishImage's replacement of a ready
 * image's variants, and ListRegenerate.
 *
 * A regeneration remakes the variants of a ready image with the presets in
 * force; the image stays ready and served throughout. Its FinishImage runs
 * behind the image row's lock like every write (meta_store_write.c): the
 * image must be ready, each given variant replaces the stored one whole
 * (files, sizes, preset version), and the keys of the files it replaced that
 * are not among the new ones are merged into the image's purge record, so the
 * purger removes them from the bucket. A given variant made by an older
 * preset version than the stored one (a regeneration that finished after a
 * later one) does not replace it: its own files go to the purge instead. Keys of different preset versions
 * differ (ip_key_variant_version), so a replaced file is never one of the new
 * ones, except for a variant remade at the version that made it, whose keys
 * stay (its bytes are overwritten in place).
 *
 * ListRegenerate hands out ready images by id ascending, one page at a time
 * (keyset on the last id): every ready image, or the ready ones among given
 * ids, or those with a stale variant. The stale pages are read from
 * variants_ready_version_idx one range (kind, older version) at a time, so a
 * page costs its rows times the number of older versions, not the table (see
 * META_ST_REGEN_STALE in meta_store.c).
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "ip_keys.h"
#include "ip_variants.h"
#include "meta_store_internal.h"
#include "meta_validate.h"

/* Most keys one FinishImage deals with: every file of every variant. */
#define REGEN_KEYS_MAX (IP_VARIANT_COUNT * IP_FORMAT_COUNT)

typedef struct key_set {
    char *keys[REGEN_KEYS_MAX];
    size_t n;
} key_set;

static bool key_set_has(const key_set *k, const char *key)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->keys[i], key) == 0)
            return true;
    return false;
}

static void key_set_add(key_set *k, char *key)
{
    if (key != NULL && key[0] != '\0' && k->n < REGEN_KEYS_MAX && !key_set_has(k, key))
        k->keys[k->n++] = key;
}

/* Every key of `v`: its files, or its object_key when it has none. */
static void add_variant_keys(key_set *k, const Imageproc__Variant *v)
{
    key_set_add(k, v->object_key);
    for (size_t i = 0; i < v->n_files; i++)
        if (v->files[i] != NULL)
            key_set_add(k, v->files[i]->object_key);
}

static const Imageproc__Variant *stored_variant(const Imageproc__Image *img,
                                                Imageproc__VariantKind kind)
{
    for (size_t i = 0; i < img->n_variants; i++)
        if (img->variants[i]->kind == kind)
            return img->variants[i];
    return NULL;
}

/* Replaces the stored variant of v->kind with `v`, whole. */
static ip_status replace_variant(meta_ctx *cx, PGconn *conn, const char *id,
                                 const Imageproc__Variant *v)
{
    PGresult *r = NULL;
    char w[16], h[16], size[24], version[16], *formats, *keys, *sizes;
    snprintf(w, sizeof(w), "%d", v->width);
    snprintf(h, sizeof(h), "%d", v->height);
    snprintf(size, sizeof(size), "%lld", (long long)v->size_bytes);
    snprintf(version, sizeof(version), "%d", v->preset_version);
    ip_status st = meta_db_variant_files(cx, v, &formats, &keys, &sizes);
    if (st != IP_OK)
        return st;
    const char *params[] = {id,       ip_variant_name(v->kind), v->object_key, w, h, size,
                            v->format, version, formats, keys, sizes};
    if ((st = meta_db_run(cx, conn, META_ST_REPLACE_VARIANT, 11, params, &r)) != IP_OK)
        return st;
    if (PQntuples(r) != 1)
        st = meta_cx_fail(cx, IP_INTERNAL, "variant %s of %s vanished", params[1], id);
    PQclear(r);
    return st;
}

/* Merges `gone` into the image's purge record; the `kept` keys never stay in it. */
static ip_status record_purge(meta_ctx *cx, PGconn *conn, const char *id, const key_set *gone,
                              const key_set *kept)
{
    PGresult *r = NULL;
    char *purge = meta_pg_text_array(cx, gone->keys, gone->n);
    char *keep = meta_pg_text_array(cx, kept->keys, kept->n);
    if (purge == NULL || keep == NULL)
        return meta_cx_nomem(cx);
    const char *params[] = {id, purge, keep};
    ip_status st = meta_db_run(cx, conn, META_ST_PURGE_MERGE, 3, params, &r);
    PQclear(r);
    return st;
}

ip_status meta_db_regenerate(meta_ctx *cx, PGconn *conn, const char *id,
                             const meta_locked_row *row, const meta_finish_req *req)
{
    Imageproc__Image *img = NULL;
    key_set kept = {0}, gone = {0};
    if (strcmp(row->status, "ready") != 0)
        return meta_cx_fail(cx, IP_FAILED_PRECONDITION, "image %s is %s, not ready", id,
                            row->status);
    for (size_t i = 0; i < req->n_variants; i++)
        if (!(row->requested & ip_variant_bit(req->variants[i]->kind)))
            return meta_cx_fail(cx, IP_FAILED_PRECONDITION,
                                "variants[%zu].kind: %s was not requested for %s", i,
                                ip_variant_name(req->variants[i]->kind), id);
    ip_status st = meta_db_get_image(cx, conn, id, &img);
    if (st != IP_OK)
        return st;
    /* Per kind: the stored variant and the given one; the one made by the
     * newer preset version stays (a regeneration that finishes after a later
     * one does not undo it), the other one's files go. */
    for (size_t i = 0; i < req->n_variants; i++) {
        const Imageproc__Variant *v = req->variants[i];
        const Imageproc__Variant *was = stored_variant(img, v->kind);
        bool keep_stored = was != NULL && was->preset_version > v->preset_version;
        key_set stays = {0}, goes = {0};
        add_variant_keys(&stays, keep_stored ? was : v);
        if (was != NULL)
            add_variant_keys(&goes, keep_stored ? v : was);
        for (size_t k = 0; k < stays.n; k++)
            key_set_add(&kept, stays.keys[k]);
        for (size_t k = 0; k < goes.n; k++)
            if (!key_set_has(&stays, goes.keys[k]))
                key_set_add(&gone, goes.keys[k]);
        if (!keep_stored && (st = replace_variant(cx, conn, id, v)) != IP_OK)
            return st;
    }
    if (gone.n > 0 && (st = record_purge(cx, conn, id, &gone, &kept)) != IP_OK)
        return st;
    return meta_db_set_placeholder(cx, conn, id, req->thumbhash, req->dominant_color);
}

/* ------------------------------------------------------------- ListRegenerate */

/* Rows of REGEN_COLS into images (id, original_key, content_type, requested). */
static ip_status regen_rows(meta_ctx *cx, const PGresult *r, Imageproc__Image ***out, size_t *n)
{
    int rows = PQntuples(r);
    Imageproc__Image **imgs = meta_cx_alloc(cx, (size_t)(rows ? rows : 1) * sizeof(*imgs));
    Imageproc__Image *all = meta_cx_alloc(cx, (size_t)(rows ? rows : 1) * sizeof(*all));
    if (imgs == NULL || all == NULL)
        return meta_cx_nomem(cx);
    for (int i = 0; i < rows; i++) {
        Imageproc__Image *img = &all[i];
        imageproc__image__init(img);
        img->id = meta_cx_strdup(cx, PQgetvalue(r, i, META_R_ID));
        img->original_key = meta_cx_strdup(cx, PQgetvalue(r, i, META_R_OKEY));
        img->content_type = meta_cx_strdup(cx, PQgetvalue(r, i, META_R_CTYPE));
        if (img->id == NULL || img->original_key == NULL || img->content_type == NULL)
            return meta_cx_nomem(cx);
        unsigned mask = 0;
        ip_status st = meta_rows_requested(cx, PQgetvalue(r, i, META_R_OPS), &mask);
        if (st != IP_OK)
            return st;
        img->requested = meta_cx_alloc(cx, IP_VARIANT_COUNT * sizeof(*img->requested));
        if (img->requested == NULL)
            return meta_cx_nomem(cx);
        img->n_requested = ip_variant_mask_kinds(mask, img->requested);
        imgs[i] = img;
    }
    *out = imgs;
    *n = (size_t)rows;
    return IP_OK;
}

ip_status meta_store_list_regenerate(meta_store *s, meta_ctx *cx, const meta_regen_query *q,
                                     Imageproc__Image ***images, size_t *n, bool *has_more)
{
    PGresult *r = NULL;
    ip_status st;
    *images = NULL;
    *n = 0;
    *has_more = false;
    if (q->n_ids > 0) {
        char *ids = meta_pg_text_array(cx, q->ids, q->n_ids);
        if (ids == NULL)
            return meta_cx_nomem(cx);
        const char *params[] = {ids};
        st = meta_db_query(s, cx, META_ST_REGEN_IDS, 1, params, &r);
    } else {
        char lim[16];
        snprintf(lim, sizeof(lim), "%d", q->limit + 1); /* one more tells whether a page follows */
        const char *after = q->after_id != NULL && q->after_id[0] != '\0'
                                ? q->after_id
                                : "00000000-0000-0000-0000-000000000000";
        const char *params[] = {after, lim};
        st = meta_db_query(s, cx, q->stale_only ? META_ST_REGEN_STALE : META_ST_REGEN_ALL, 2,
                           params, &r);
    }
    if (st != IP_OK)
        return st;
    st = regen_rows(cx, r, images, n);
    PQclear(r);
    if (st == IP_OK && q->n_ids == 0 && *n > (size_t)q->limit) {
        *n = (size_t)q->limit;
        *has_more = true;
    }
    return st;
}
