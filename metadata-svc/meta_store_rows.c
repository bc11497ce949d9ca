/* meta_store_rows.c — result rows of the store into protobuf messages.
 *
 * An image-returning statement yields one row per variant (META_IMG_COLS),
 * each image's rows adjacent and its variants in canonical order;
 * meta_rows_images folds them into Imageproc__Image messages with their
 * Imageproc__Variant children, everything allocated from the call's arena so
 * the RPC layer hands them to the reply as they are. A ready variant's files
 * are its primary (its own columns) followed by the files of variants.alt_*,
 * which arrive as comma lists (no key of ip_key_variant_version's form has a
 * comma; at most IP_FORMAT_COUNT - 1 of them, else the row is IP_INTERNAL).
 * Preset rows become Preset messages here too.
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

#include "ip_presets.h"
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

/* The next item of the comma list at *p (advanced past it) into the arena. */
static char *next_item(meta_ctx *cx, const char **p)
{
    const char *start = *p, *comma = strchr(start, ',');
    size_t n = comma ? (size_t)(comma - start) : strlen(start);
    *p = comma ? comma + 1 : start + n;
    char *item = meta_cx_alloc(cx, n + 1);
    if (item != NULL)
        memcpy(item, start, n);
    return item;
}

static size_t count_items(const char *list)
{
    if (list[0] == '\0')
        return 0;
    size_t n = 1;
    for (const char *c = list; *c; c++)
        n += *c == ',';
    return n;
}

/* A ready variant's files: its primary, then the others from the comma lists
 * of their formats, keys and sizes (a variant stored before files existed
 * has none of those: it reads as its primary alone). */
static ip_status variant_files(meta_ctx *cx, const char *formats, const char *keys,
                               const char *sizes, Imageproc__Variant *v)
{
    size_t n = count_items(formats);
    if (n >= IP_FORMAT_COUNT || count_items(keys) != n || count_items(sizes) != n)
        return meta_cx_fail(cx, IP_INTERNAL, "variants.alt_*: %zu files do not line up", n);
    v->files = meta_cx_alloc(cx, (n + 1) * sizeof(*v->files));
    Imageproc__VariantFile *f = meta_cx_alloc(cx, (n + 1) * sizeof(*f));
    if (v->files == NULL || f == NULL)
        return meta_cx_nomem(cx);
    for (size_t i = 0; i <= n; i++) {
        imageproc__variant_file__init(&f[i]);
        v->files[i] = &f[i];
    }
    f[0].format = v->format;
    f[0].object_key = v->object_key;
    f[0].size_bytes = v->size_bytes;
    for (size_t i = 1; i <= n; i++) {
        f[i].format = next_item(cx, &formats);
        f[i].object_key = next_item(cx, &keys);
        char *size = next_item(cx, &sizes);
        if (f[i].format == NULL || f[i].object_key == NULL || size == NULL)
            return meta_cx_nomem(cx);
        f[i].size_bytes = strtoll(size, NULL, 10);
    }
    v->n_files = n + 1;
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
    v->preset_version = (int32_t)meta_db_i64(r, row, c0 + 8);
    v->stale = PQgetvalue(r, row, c0 + 12)[0] == 't';
    *out = v;
    if (v->status != IMAGEPROC__VARIANT_STATUS__VARIANT_READY)
        return IP_OK;
    return variant_files(cx, PQgetvalue(r, row, c0 + 9), PQgetvalue(r, row, c0 + 10),
                         PQgetvalue(r, row, c0 + 11), v);
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
    img->thumbhash = meta_cx_strdup(cx, PQgetvalue(r, i, META_C_THUMBHASH));
    img->dominant_color = meta_cx_strdup(cx, PQgetvalue(r, i, META_C_COLOR));
    img->key_id = meta_cx_strdup(cx, PQgetvalue(r, i, META_C_KEY));
    if (img->id == NULL || img->filename == NULL || img->content_type == NULL ||
        img->sha256 == NULL || img->error == NULL || img->original_key == NULL ||
        img->owner_hash == NULL || img->thumbhash == NULL || img->dominant_color == NULL ||
        img->key_id == NULL)
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

/* ------------------------------------------------------------- presets */

ip_status meta_rows_preset(meta_ctx *cx, const PGresult *r, int row, Imageproc__Preset **out)
{
    Imageproc__Preset *p = meta_cx_alloc(cx, sizeof(*p));
    if (p == NULL)
        return meta_cx_nomem(cx);
    imageproc__preset__init(p);
    const char *name = PQgetvalue(r, row, META_P_NAME);
    p->kind = ip_variant_parse(name, strlen(name));
    p->fit = ip_preset_fit_parse(PQgetvalue(r, row, META_P_FIT));
    if (p->kind == IP_VARIANT_NONE || p->fit == IMAGEPROC__PRESET_FIT__PRESET_FIT_UNSPECIFIED)
        return meta_cx_fail(cx, IP_INTERNAL, "presets: row '%s' has no kind or fit", name);
    p->version = (int32_t)meta_db_i64(r, row, META_P_VERSION);
    p->width = (int32_t)meta_db_i64(r, row, META_P_WIDTH);
    p->height = (int32_t)meta_db_i64(r, row, META_P_HEIGHT);
    p->jpeg_quality = (int32_t)meta_db_i64(r, row, META_P_JPEG_Q);
    p->webp = PQgetvalue(r, row, META_P_WEBP)[0] == 't';
    p->webp_quality = (int32_t)meta_db_i64(r, row, META_P_WEBP_Q);
    p->avif = PQgetvalue(r, row, META_P_AVIF)[0] == 't';
    p->avif_quality = (int32_t)meta_db_i64(r, row, META_P_AVIF_Q);
    p->updated_at_us = meta_db_i64(r, row, META_P_UPDATED);
    *out = p;
    const char *pos = PQgetvalue(r, row, META_P_WM_POSITION);
    if (pos[0] == '\0')
        return IP_OK; /* no watermark */
    Imageproc__Watermark *w = meta_cx_alloc(cx, sizeof(*w));
    if (w == NULL)
        return meta_cx_nomem(cx);
    imageproc__watermark__init(w);
    w->position = ip_watermark_position_parse(pos);
    w->text = meta_cx_strdup(cx, PQgetvalue(r, row, META_P_WM_TEXT));
    w->logo_key = meta_cx_strdup(cx, PQgetvalue(r, row, META_P_WM_LOGO));
    /* PostgreSQL writes a float8 in the shortest text that reads back exactly. */
    w->margin = strtod(PQgetvalue(r, row, META_P_WM_MARGIN), NULL);
    w->scale = strtod(PQgetvalue(r, row, META_P_WM_SCALE), NULL);
    w->opacity = strtod(PQgetvalue(r, row, META_P_WM_OPACITY), NULL);
    if (w->text == NULL || w->logo_key == NULL)
        return meta_cx_nomem(cx);
    p->watermark = w;
    return IP_OK;
}

char *meta_pg_text_array(meta_ctx *cx, char *const *strings, size_t n)
{
    size_t len = 3; /* {} and the NUL */
    for (size_t i = 0; i < n; i++)
        len += 3 + 2 * strlen(strings[i]); /* quotes, comma, every byte escaped at worst */
    char *out = meta_cx_alloc(cx, len);
    if (out == NULL)
        return NULL;
    char *w = out;
    *w++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *w++ = ',';
        *w++ = '"';
        for (const char *c = strings[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                *w++ = '\\';
            *w++ = *c;
        }
        *w++ = '"';
    }
    *w++ = '}';
    *w = '\0';
    return out;
}
