/* meta_store_presets.c — the presets: GetPresets, SetPreset.
 *
 * Table presets holds one row per variant kind (seeded by sql/0004 with
 * common/ip_presets.c's defaults, version 1). GetPresets reads the rows and
 * hands them out in canonical order; with the count of stale variants it also
 * runs META_ST_STALE_COUNT, which reads only the older-version ranges of
 * variants_ready_version_idx.
 *
 * SetPreset locks the kind's row (SELECT ... FOR UPDATE), compares the stored
 * definition with the new one (ip_preset_same: every field but version and
 * updated_at) and, when they differ, writes the new one with version + 1 in
 * the same transaction. Concurrent SetPresets of one kind thus run one after
 * the other, each comparing with what the previous one stored: no version is
 * lost and an identical definition never makes one.
 *
 * A preset without watermark is stored with wm_position NULL; one with a
 * watermark keeps every field of it (floats as float8, which PostgreSQL
 * writes back in the shortest text that reads as the same double, so a stored
 * preset compares equal to the one that was set).
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "ip_presets.h"
#include "ip_variants.h"
#include "meta_store_internal.h"

ip_status meta_store_presets(meta_store *s, meta_ctx *cx, Imageproc__Preset ***presets, size_t *n,
                             int64_t *stale)
{
    PGresult *r = NULL;
    *presets = NULL;
    *n = 0;
    ip_status st = meta_db_query(s, cx, META_ST_PRESETS, 0, NULL, &r);
    if (st != IP_OK)
        return st;
    Imageproc__Preset **by_kind = meta_cx_alloc(cx, IP_VARIANT_COUNT * sizeof(*by_kind));
    if (by_kind == NULL)
        st = meta_cx_nomem(cx);
    for (int i = 0; st == IP_OK && i < PQntuples(r); i++) {
        Imageproc__Preset *p = NULL;
        if ((st = meta_rows_preset(cx, r, i, &p)) == IP_OK)
            by_kind[p->kind - 1] = p; /* a kind is 1..IP_VARIANT_COUNT (meta_rows_preset) */
    }
    PQclear(r);
    for (int k = 0; st == IP_OK && k < IP_VARIANT_COUNT; k++)
        if (by_kind[k] == NULL)
            st = meta_cx_fail(cx, IP_INTERNAL, "presets: no row for %s", ip_variants[k].name);
    if (st != IP_OK)
        return st;
    if (stale != NULL) {
        if ((st = meta_db_query(s, cx, META_ST_STALE_COUNT, 0, NULL, &r)) != IP_OK)
            return st;
        *stale = meta_db_i64(r, 0, 0);
        PQclear(r);
    }
    *presets = by_kind;
    *n = IP_VARIANT_COUNT;
    return IP_OK;
}

/* The one preset row of `r` into *out; clears r. */
static ip_status one_preset(meta_ctx *cx, PGresult *r, const char *name, Imageproc__Preset **out)
{
    ip_status st = PQntuples(r) == 1 ? meta_rows_preset(cx, r, 0, out)
                                     : meta_cx_fail(cx, IP_INTERNAL, "presets: no row for %s", name);
    PQclear(r);
    return st;
}

ip_status meta_store_set_preset(meta_store *s, meta_ctx *cx, const Imageproc__Preset *p,
                                Imageproc__Preset **out, bool *changed)
{
    PGconn *conn = NULL;
    PGresult *r = NULL;
    Imageproc__Preset *now = NULL;
    const char *name = ip_variant_name(p->kind);
    *changed = false;
    if (name == NULL)
        return meta_cx_fail(cx, IP_INVALID_ARGUMENT, "preset.kind: not a variant");
    const Imageproc__Watermark *w = p->watermark; /* checked: a valid position when present */
    char wd[2][16], qs[3][16], margin[32], scale[32], opacity[32];
    snprintf(wd[0], sizeof(wd[0]), "%d", p->width);
    snprintf(wd[1], sizeof(wd[1]), "%d", p->height);
    snprintf(qs[0], sizeof(qs[0]), "%d", p->jpeg_quality);
    snprintf(qs[1], sizeof(qs[1]), "%d", p->webp_quality);
    snprintf(qs[2], sizeof(qs[2]), "%d", p->avif_quality);
    snprintf(margin, sizeof(margin), "%.17g", w ? w->margin : 0.0);
    snprintf(scale, sizeof(scale), "%.17g", w ? w->scale : 0.3);
    snprintf(opacity, sizeof(opacity), "%.17g", w ? w->opacity : 1.0);
    const char *params[] = {name,
                            wd[0],
                            wd[1],
                            ip_preset_fit_name(p->fit),
                            qs[0],
                            p->webp ? "true" : "false",
                            qs[1],
                            p->avif ? "true" : "false",
                            qs[2],
                            w && w->text ? w->text : "",
                            w && w->logo_key ? w->logo_key : "",
                            w ? ip_watermark_position_name(w->position) : "",
                            margin,
                            scale,
                            opacity};
    if (params[3] == NULL || params[11] == NULL)
        return meta_cx_fail(cx, IP_INVALID_ARGUMENT, "preset: fit or watermark.position unknown");
    const char *lock_params[] = {name};
    ip_status st = meta_db_begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = meta_db_run(cx, conn, META_ST_PRESET_LOCK, 1, lock_params, &r)) != IP_OK ||
        (st = one_preset(cx, r, name, &now)) != IP_OK)
        goto out;
    if (ip_preset_same(now, p)) {
        st = meta_db_commit(cx, conn);
        *out = now;
        goto out;
    }
    if ((st = meta_db_run(cx, conn, META_ST_PRESET_SET, 15, params, &r)) != IP_OK ||
        (st = one_preset(cx, r, name, out)) != IP_OK || (st = meta_db_commit(cx, conn)) != IP_OK)
        goto out;
    *changed = true;
out:
    meta_pool_release(s->pool, conn);
    return st;
}
