/* meta_store_rows.c — result rows of the store into protobuf messages.
 *
 * An image-returning statement yields one row per variant (META_IMG_COLS),
 * each image's rows adjacent and its variants in canonical order;
 * meta_rows_images folds them into Imageproc__Image messages with their
 * Imageproc__Variant children, everything allocated from the call's arena so
 * the RPC layer hands them to the reply as they are.
 *
 * PostgreSQL spells variants by name (images.ops is a text[] of names,
 * variants.name a name); the messages carry VariantKind. The conversion runs
 * here, through common/ip_variants.h only: a name the table does not know
 * cannot be in the database (the schema's CHECKs list the same names), so
 * meeting one is IP_INTERNAL rather than a silent skip.
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ip_variants.h"
#include "meta_store_internal.h"
#include "meta_validate.h"

ip_status meta_rows_requested(meta_ctx *cx, const char *text, unsigned *mask)
{
    const char *bad = NULL;
    if (ip_variant_mask_parse(text, mask, &bad) != IP_OK)
        return meta_cx_fail(cx, IP_INTERNAL, "images.ops: unknown variant in '%s'", text);
    return IP_OK;
}

/* images.ops as the message's `requested` kinds, in canonical order. */
static ip_status requested_kinds(meta_ctx *cx, const char *text, Imageproc__Image *img)
{
    unsigned mask = 0;
    ip_status st = meta_rows_requested(cx, text, &mask);
    if (st != IP_OK)
        return st;
    ip_variant_kind kinds[IP_VARIANT_COUNT];
    size_t n = ip_variant_mask_kinds(mask, kinds);
    img->requested = meta_cx_alloc(cx, (n ? n : 1) * sizeof(*img->requested));
    if (img->requested == NULL)
        return meta_cx_nomem(cx);
    memcpy(img->requested, kinds, n * sizeof(*kinds));
    img->n_requested = n;
    return IP_OK;
}

ip_status meta_rows_variant(meta_ctx *cx, const PGresult *r, int row, int c0,
                            Imageproc__Variant **out)
{
    Imageproc__Variant *v = meta_cx_alloc(cx, sizeof(*v));
    if (v == NULL)
        return meta_cx_nomem(cx);
    imageproc__variant__init(v);
    const char *name = PQgetvalue(r, row, c0 + 0);
    v->kind = ip_variant_parse(name, strlen(name));
    if (v->kind == IP_VARIANT_NONE)
        return meta_cx_fail(cx, IP_INTERNAL, "variants.name: unknown variant '%s'", name);
    v->status = meta_variant_status_parse(PQgetvalue(r, row, c0 + 1));
    v->object_key = meta_cx_strdup(cx, PQgetvalue(r, row, c0 + 2));
    v->width = (int32_t)meta_db_i64(r, row, c0 + 3);
    v->height = (int32_t)meta_db_i64(r, row, c0 + 4);
    v->size_bytes = meta_db_i64(r, row, c0 + 5);
    v->format = meta_cx_strdup(cx, PQgetvalue(r, row, c0 + 6));
    v->error = meta_cx_strdup(cx, PQgetvalue(r, row, c0 + 7));
    if (v->object_key == NULL || v->format == NULL || v->error == NULL)
        return meta_cx_nomem(cx);
    *out = v;
    return IP_OK;
}

/* The image's own columns of row `i`. */
static ip_status row_image(meta_ctx *cx, const PGresult *r, int i, Imageproc__Image **out)
{
    Imageproc__Image *img = meta_cx_alloc(cx, sizeof(*img));
    if (img == NULL)
        return meta_cx_nomem(cx);
    imageproc__image__init(img);
    img->id = meta_cx_strdup(cx, PQgetvalue(r, i, META_C_ID));
    img->created_at_us = meta_db_i64(r, i, META_C_CREATED);
    img->updated_at_us = meta_db_i64(r, i, META_C_UPDATED);
    img->filename = meta_cx_strdup(cx, PQgetvalue(r, i, META_C_FILENAME));
    img->content_type = meta_cx_strdup(cx, PQgetvalue(r, i, META_C_CTYPE));
    img->size_bytes = meta_db_i64(r, i, META_C_SIZE);
    img->width = (int32_t)meta_db_i64(r, i, META_C_WIDTH);
    img->height = (int32_t)meta_db_i64(r, i, META_C_HEIGHT);
    img->sha256 = meta_cx_strdup(cx, PQgetvalue(r, i, META_C_SHA));
    img->status = meta_image_status_parse(PQgetvalue(r, i, META_C_STATUS));
    img->error = meta_cx_strdup(cx, PQgetvalue(r, i, META_C_ERROR));
    img->enqueued_at_us = meta_db_i64(r, i, META_C_ENQUEUED);
    img->original_key = meta_cx_strdup(cx, PQgetvalue(r, i, META_C_OKEY));
    img->runs = (int32_t)meta_db_i64(r, i, META_C_RUNS);
    img->lease_until_us = meta_db_i64(r, i, META_C_LEASE);
    img->owner_hash = meta_cx_strdup(cx, PQgetvalue(r, i, META_C_OWNER));
    if (img->id == NULL || img->filename == NULL || img->content_type == NULL ||
        img->sha256 == NULL || img->error == NULL || img->original_key == NULL ||
        img->owner_hash == NULL)
        return meta_cx_nomem(cx);
    *out = img;
    return requested_kinds(cx, PQgetvalue(r, i, META_C_OPS), img);
}

/* The variants of rows [i, j) (one image's) into img. */
static ip_status row_variants(meta_ctx *cx, const PGresult *r, int i, int j, Imageproc__Image *img)
{
    size_t nv = 0;
    for (int x = i; x < j; x++)
        nv += !PQgetisnull(r, x, META_C_VNAME);
    if (nv == 0)
        return IP_OK;
    img->variants = meta_cx_alloc(cx, nv * sizeof(*img->variants));
    if (img->variants == NULL)
        return meta_cx_nomem(cx);
    for (int x = i; x < j; x++) {
        if (PQgetisnull(r, x, META_C_VNAME))
            continue;
        ip_status st = meta_rows_variant(cx, r, x, META_C_VNAME, &img->variants[img->n_variants++]);
        if (st != IP_OK)
            return st;
    }
    return IP_OK;
}

static bool same_image(const PGresult *r, int a, int b)
{
    return strcmp(PQgetvalue(r, a, META_C_ID), PQgetvalue(r, b, META_C_ID)) == 0;
}

ip_status meta_rows_images(meta_ctx *cx, const PGresult *r, Imageproc__Image ***out, size_t *n)
{
    int rows = PQntuples(r);
    size_t cnt = 0;
    for (int i = 0; i < rows; i++)
        if (i == 0 || !same_image(r, i, i - 1))
            cnt++;
    *out = NULL;
    *n = 0;
    Imageproc__Image **imgs = meta_cx_alloc(cx, (cnt ? cnt : 1) * sizeof(*imgs));
    if (imgs == NULL)
        return meta_cx_nomem(cx);
    size_t k = 0;
    for (int i = 0; i < rows;) {
        int j = i + 1;
        while (j < rows && same_image(r, j, i))
            j++;
        ip_status st = row_image(cx, r, i, &imgs[k]);
        if (st == IP_OK)
            st = row_variants(cx, r, i, j, imgs[k]);
        if (st != IP_OK)
            return st;
        k++;
        i = j;
    }
    *out = imgs;
    *n = k;
    return IP_OK;
}

ip_status meta_rows_one_image(meta_ctx *cx, PGresult *r, const char *id, Imageproc__Image **out)
{
    Imageproc__Image **imgs = NULL;
    size_t n = 0;
    ip_status st = meta_rows_images(cx, r, &imgs, &n);
    PQclear(r);
    if (st != IP_OK)
        return st;
    if (n == 0)
        return meta_cx_fail(cx, IP_NOT_FOUND, "image %s not found", id);
    *out = imgs[0];
    return IP_OK;
}
