/* proc_variants.c — thumbnail, resized and watermarked variants from one decode.
 *
 * HOW IT WORKS
 * 1. Header. The admission check (ip_admit.h) walks the container first:
 *    a file of no accepted type, or one that would make the decoder inflate
 *    or repeat far more than its size (text bombs, thousands of scans or
 *    frames, polyglots), fails here with its reason, before any decoder. The
 *    loader libvips then finds must be the one of the admitted type (every
 *    other loader is blocked by ip_vips_restrict at start). The header is
 *    read with sequential access, which decodes no pixels, and width*height
 *    is checked against the pixel limit: a 30000x30000 PNG fails here.
 * 2. Budget. The memory the decode will need is estimated from the header
 *    (see estimate_decode_bytes): small for loaders that stream and shrink on
 *    load, the whole coefficient buffer for a progressive JPEG, the whole
 *    image for interlaced PNG, HEIF and GIF. An estimate over the budget is
 *    refused; otherwise it is reserved from a process-wide pool, and a job
 *    waits while other jobs hold the pool. This bounds the peak memory of all
 *    workers together.
 * 3. Decode once. vips_thumbnail_buffer decodes to the largest size any
 *    requested variant's preset needs (an inside box fitted, or a cover box
 *    filled, never more than the original), shrinking on load where the format
 *    allows, turning the image upright by its EXIF orientation, and
 *    converting CMYK and ICC-tagged images to sRGB. The result is made 8-bit
 *    sRGB (16-bit PNG, grey, CMYK) and copied into memory: every variant is
 *    derived from this one image, and so is the placeholder (ThumbHash and
 *    dominant colour, proc_placeholder.c) of the whole frame.
 * 4. Variants, each by its preset (proc_recipe): fit inside: within the box,
 *    never enlarged (kinds with the same inside box share one resize); fit
 *    cover: exactly the box, attention crop. Then the preset's watermark, if
 *    any, at its position, margin (fraction of the shorter side), scale (the
 *    mark's width over the picture's) and opacity: a text (its mask rendered
 *    once per process, proc_watermark.c) or a logo (decoded by the job,
 *    proc_logo.c), drawn by proc_watermark_draw.c.
 * 5. Encode with every piece of metadata stripped (no EXIF, so no GPS): JPEG,
 *    or PNG when the source has a real (not fully opaque) alpha channel;
 *    then WebP (effort PROC_WEBP_EFFORT) and AVIF (heifsave, AV1, effort
 *    PROC_AVIF_EFFORT) when the preset asks, at its qualities, keeping the
 *    alpha. libvips 8.14's webpsave writes an EXIF chunk despite strip:
 *    proc_webp_strip.c takes it out of the file.
 *
 * ERRORS
 * vips_error_buffer() is process-wide. After a failing libvips call the
 * buffer is copied and cleared in one step (vips_error_buffer_copy) under a
 * mutex; with several jobs failing at the same moment a reason may carry
 * another job's line too, but never loses its own.
 */
#include "proc_variants.h"
#include "ip_presets.h"
#include "ip_text.h"
#include "ip_time.h"
#include "proc_watermark.h"
#include "proc_webp_strip.h"
#include "ip_vips_admit.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

/* The halo under a text mark, relative to the text's opacity (0.5 under
 * 0.55 by default). */
#define DEFAULT_BUDGET_BYTES (320LL * 1024 * 1024)

static pthread_mutex_t vips_err_mu = PTHREAD_MUTEX_INITIALIZER;

static pthread_mutex_t budget_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t budget_cv = PTHREAD_COND_INITIALIZER;
static int64_t budget_total = DEFAULT_BUDGET_BYTES;
static int64_t budget_used;

void proc_settings_default(proc_settings *s)
{
    s->pixel_limit = 100000000;
    ip_admit_limits_default(&s->admit);
    s->admit.pixels = s->pixel_limit;
    s->thumb_size = 320;
    s->resized_max = 1280;
    s->jpeg_quality = 85;
    s->watermark_text = "ImageProcessor";
}

void proc_recipe_set(proc_recipe *r, const Imageproc__Preset *p)
{
    if (!p || !ip_variant_get(p->kind))
        return;
    int i = (int)p->kind - 1;
    r->preset[i] = *p;
    if (p->watermark) {
        r->watermark[i] = *p->watermark;
        r->preset[i].watermark = &r->watermark[i];
    }
}

void proc_recipe_from_settings(const proc_settings *s, proc_recipe *r)
{
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < IP_VARIANT_COUNT; i++) {
        ip_variant_kind kind = ip_variants[i].kind;
        (void)ip_preset_default(kind, &r->preset[i], &r->watermark[i]);
        Imageproc__Preset *p = &r->preset[i];
        p->width = p->height = kind == IP_VARIANT_THUMBNAIL ? s->thumb_size : s->resized_max;
        p->jpeg_quality = s->jpeg_quality;
        if (p->watermark)
            p->watermark->text = (char *)(s->watermark_text ? s->watermark_text : "");
    }
}

proc_file proc_variant_file(const proc_variant *v, int i)
{
    if (i == 0)
        return (proc_file){
            .format = v->format, .data = v->data, .len = v->len, .encode_us = v->encode_us};
    return v->more[i - 1];
}

void proc_variants_global_init(int concurrency, int64_t decode_budget_bytes)
{
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    ip_vips_restrict();
    if (concurrency > 0)
        vips_concurrency_set(concurrency);
    pthread_mutex_lock(&budget_mu);
    budget_total = decode_budget_bytes > 0 ? decode_budget_bytes : DEFAULT_BUDGET_BYTES;
    pthread_mutex_unlock(&budget_mu);
}

/* Waits until `n` bytes fit in the pool (or the pool is empty: one image that
 * fits the budget alone always makes progress), then takes them. */
static void budget_acquire(int64_t n)
{
    pthread_mutex_lock(&budget_mu);
    while (budget_used > 0 && budget_used + n > budget_total)
        pthread_cond_wait(&budget_cv, &budget_mu);
    budget_used += n;
    pthread_mutex_unlock(&budget_mu);
}

static void budget_release(int64_t n)
{
    pthread_mutex_lock(&budget_mu);
    budget_used -= n;
    pthread_cond_broadcast(&budget_cv);
    pthread_mutex_unlock(&budget_mu);
}

static int64_t budget_limit(void)
{
    pthread_mutex_lock(&budget_mu);
    int64_t t = budget_total;
    pthread_mutex_unlock(&budget_mu);
    return t;
}

/* Writes "<what>: <libvips's reason>" into err, taking and clearing the
 * process-wide error buffer. Lines are joined with "; ". */
static void vips_reason(char *err, size_t errlen, const char *what)
{
    pthread_mutex_lock(&vips_err_mu);
    char *msg = vips_error_buffer_copy();
    pthread_mutex_unlock(&vips_err_mu);
    if (!err || errlen == 0) {
        g_free(msg);
        return;
    }
    char clean[512];
    size_t o = 0;
    for (const char *p = msg ? msg : ""; *p && o + 3 < sizeof(clean); p++) {
        if (*p == '\n') {
            if (p[1] != '\0') {
                clean[o++] = ';';
                clean[o++] = ' ';
            }
        } else {
            clean[o++] = *p;
        }
    }
    clean[o] = '\0';
    snprintf(err, errlen, "%s: %s", what, o ? clean : "libvips gave no reason");
    g_free(msg);
}

/* The admission check with the processor's limits (its pixel limit is the
 * one setting for pixels); the refusal's reason and detail go to err. */
static ip_status admit(const void *buf, size_t len, const proc_settings *s, ip_img_type *type,
                       char *err, size_t errlen)
{
    ip_admit_limits lim = s->admit;
    lim.pixels = s->pixel_limit;
    ip_admit_result r;
    ip_status st = ip_admit_check(buf, len, &lim, &r);
    *type = r.type;
    if (st != IP_OK)
        ip_errorf(err, errlen, "%s: %s", r.reason, r.detail);
    return st;
}

/* Opens the header of `buf` (no pixels decoded) after the admission check,
 * checks the loader and the pixel limit. On IP_OK *hdr is owned by the caller. */
static ip_status open_header(const void *buf, size_t len, const proc_settings *s, VipsImage **hdr,
                             char *loader, size_t loader_len, char *err, size_t errlen)
{
    *hdr = NULL;
    int64_t pixel_limit = s->pixel_limit;
    if (!buf || len == 0) {
        ip_errorf(err, errlen, "empty file");
        return IP_INVALID_ARGUMENT;
    }
    ip_img_type type;
    ip_status st = admit(buf, len, s, &type, err, errlen);
    if (st != IP_OK)
        return st;
    const char *type_name = vips_foreign_find_load_buffer(buf, len);
    const char *name = type_name ? vips_nickname_find(g_type_from_name(type_name)) : NULL;
    if (!name) {
        vips_reason(NULL, 0, ""); /* drop "buffer is not in a known format" */
        ip_errorf(err, errlen,
                  "not a supported image format (JPEG, PNG, WebP, GIF, AVIF, HEIC, TIFF)");
        return IP_INVALID_ARGUMENT;
    }
    if (!ip_vips_loader_is(type, name)) {
        ip_errorf(err, errlen, "not a supported image format (%s)", name);
        return IP_INVALID_ARGUMENT;
    }
    if (loader)
        snprintf(loader, loader_len, "%s", name);
    VipsImage *im =
        vips_image_new_from_buffer(buf, len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!im) {
        vips_reason(err, errlen, "unreadable header");
        return IP_INVALID_ARGUMENT;
    }
    int64_t w = im->Xsize, h = im->Ysize;
    if (w <= 0 || h <= 0) {
        g_object_unref(im);
        ip_errorf(err, errlen, "image has no pixels");
        return IP_INVALID_ARGUMENT;
    }
    if (w * h > pixel_limit) {
        g_object_unref(im);
        ip_errorf(err, errlen, "image is %lldx%lld = %lld pixels, over the limit of %lld",
                  (long long)w, (long long)h, (long long)(w * h), (long long)pixel_limit);
        return IP_RESOURCE_EXHAUSTED;
    }
    *hdr = im;
    return IP_OK;
}

ip_status proc_image_probe(const void *buf, size_t len, const proc_settings *s, int *width,
                           int *height, char *loader, size_t loader_len, char *err, size_t errlen)
{
    VipsImage *hdr = NULL;
    ip_status st = open_header(buf, len, s, &hdr, loader, loader_len, err, errlen);
    if (st != IP_OK)
        return st;
    if (width)
        *width = hdr->Xsize;
    if (height)
        *height = hdr->Ysize;
    g_object_unref(hdr);
    return IP_OK;
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* The memory the decode of `hdr` to dw x dh takes, roughly, in bytes.
 * Streaming loaders (baseline JPEG, non-interlaced PNG, TIFF strips) hold a
 * band of scanlines per thread; a progressive JPEG holds every DCT
 * coefficient (2 bytes per sample of every component, whatever the shrink);
 * interlaced PNG, HEIF and GIF hold the whole decoded image; WebP decodes at
 * the scaled size. The decoded base and the variants come on top. */
static int64_t estimate_decode_bytes(VipsImage *hdr, const char *loader, int dw, int dh)
{
    int64_t w = hdr->Xsize, h = hdr->Ysize;
    int64_t bps = (int64_t)vips_format_sizeof(hdr->BandFmt);
    int64_t bands = hdr->Bands;
    int64_t full = w * h * bands * bps;
    int interlaced = 0;
    if (vips_image_get_typeof(hdr, "interlaced"))
        (void)vips_image_get_int(hdr, "interlaced", &interlaced);

    int64_t decode;
    if (has_prefix(loader, "jpegload") && interlaced) {
        double comps = (double)bands;
        const char *ss = NULL;
        if (vips_image_get_typeof(hdr, "jpeg-chroma-subsample") &&
            vips_image_get_string(hdr, "jpeg-chroma-subsample", &ss) == 0 && ss) {
            if (strcmp(ss, "4:2:0") == 0)
                comps = 1.5;
            else if (strcmp(ss, "4:2:2") == 0)
                comps = 2.0;
        }
        decode = (int64_t)((double)(w * h) * comps * 2.0);
    } else if (has_prefix(loader, "pngload") && interlaced) {
        decode = full;
    } else if (has_prefix(loader, "heifload")) {
        decode = full + w * h * 2; /* RGB plus libheif's YCbCr planes */
    } else if (has_prefix(loader, "gifload")) {
        decode = w * h * 5; /* the frame as RGBA plus its index buffer */
    } else if (has_prefix(loader, "webpload")) {
        decode = (int64_t)dw * dh * 4;
    } else {
        decode = w * bands * bps * 256;
    }
    return decode + (int64_t)dw * dh * 4 * 4;
}

/* Makes `in` 8-bit sRGB with 3 bands, or 4 when it has alpha. */
static int to_srgb8(VipsObject *ctx, VipsImage *in, VipsImage **out)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 3);
    VipsImage *cur = in;
    if (cur->Type != VIPS_INTERPRETATION_sRGB || cur->BandFmt != VIPS_FORMAT_UCHAR) {
        if (vips_colourspace(cur, &t[0], VIPS_INTERPRETATION_sRGB, NULL))
            return -1;
        cur = t[0];
    }
    if (cur->BandFmt != VIPS_FORMAT_UCHAR) {
        gboolean shift = cur->BandFmt == VIPS_FORMAT_USHORT;
        if (vips_cast(cur, &t[1], VIPS_FORMAT_UCHAR, "shift", shift, NULL))
            return -1;
        cur = t[1];
    }
    int want = vips_image_hasalpha(cur) ? 4 : 3;
    if (cur->Bands > want) {
        if (vips_extract_band(cur, &t[2], 0, "n", want, NULL))
            return -1;
        cur = t[2];
    }
    g_object_ref(cur);
    *out = cur;
    return 0;
}

/* Drops an alpha band that is 255 everywhere (GIF, RGBA PNGs without any
 * transparency): those images are opaque and go out as JPEG. `in` must be in
 * memory (it is read twice). */
static int drop_opaque_alpha(VipsObject *ctx, VipsImage *in, VipsImage **out)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 2);
    if (in->Bands != 4) {
        g_object_ref(in);
        *out = in;
        return 0;
    }
    double mn = 0;
    if (vips_extract_band(in, &t[0], 3, NULL) || vips_min(t[0], &mn, NULL))
        return -1;
    if (mn < 255.0) {
        g_object_ref(in);
        *out = in;
        return 0;
    }
    if (vips_extract_band(in, &t[1], 0, "n", 3, NULL))
        return -1;
    g_object_ref(t[1]);
    *out = t[1];
    return 0;
}

/* Encodes `in` as `fmt` at `quality` (JPEG, WebP, AVIF; PNG is lossless)
 * with no metadata into *f. */
static int encode_file(VipsImage *in, const ip_format_def *fmt, int quality, proc_file *f)
{
    void *buf = NULL;
    size_t len = 0;
    int64_t t0 = ip_mono_us();
    int rc;
    if (fmt == &ip_format_png)
        rc = vips_pngsave_buffer(in, &buf, &len, "strip", TRUE, "compression", 6, NULL);
    else if (fmt == &ip_format_jpeg)
        rc = vips_jpegsave_buffer(in, &buf, &len, "Q", quality, "strip", TRUE, "optimize_coding",
                                  TRUE, NULL);
    else if (fmt == &ip_format_webp) {
        /* libvips 8.14 writes EXIF despite strip: the chunk goes after */
        rc = vips_webpsave_buffer(in, &buf, &len, "Q", quality, "effort", PROC_WEBP_EFFORT, "strip",
                                  TRUE, NULL);
        if (rc == 0 && proc_webp_strip(buf, &len) != 0) {
            g_free(buf);
            vips_error("proc_variants", "webpsave made a file that is not WebP");
            rc = -1;
        }
    } else if (fmt == &ip_format_avif)
        rc = vips_heifsave_buffer(in, &buf, &len, "Q", quality, "compression",
                                  VIPS_FOREIGN_HEIF_COMPRESSION_AV1, "effort", PROC_AVIF_EFFORT,
                                  "strip", TRUE, NULL);
    else {
        vips_error("proc_variants", "no encoder for format %s", fmt ? fmt->name : "(none)");
        rc = -1;
    }
    if (rc)
        return -1;
    f->format = fmt;
    f->data = buf;
    f->len = len;
    f->encode_us = ip_mono_us() - t0;
    return 0;
}

/* Encodes `in` into `v` as preset `p` says: the primary (JPEG, or PNG when
 * it has alpha), then WebP and AVIF when asked; no metadata in any. */
static int encode(VipsImage *in, const Imageproc__Preset *p, proc_variant *v)
{
    proc_file prim;
    if (encode_file(in, in->Bands == 4 ? &ip_format_png : &ip_format_jpeg, p->jpeg_quality, &prim))
        return -1;
    v->format = prim.format;
    v->data = prim.data;
    v->len = prim.len;
    v->encode_us = prim.encode_us;
    v->width = in->Xsize;
    v->height = in->Ysize;
    v->preset_version = p->version;
    if (p->webp) {
        if (encode_file(in, &ip_format_webp, p->webp_quality, &v->more[v->n_more]))
            return -1;
        v->n_more++;
    }
    if (p->avif) {
        if (encode_file(in, &ip_format_avif, p->avif_quality, &v->more[v->n_more]))
            return -1;
        v->n_more++;
    }
    return 0;
}

/* Decodes `buf` upright to fit dw x dh. The loader's fail_on goes through
 * option_string: libvips 8.14's thumbnail does not forward its own fail_on to
 * buffer loaders, and a truncated file would otherwise come out grey. */
static int decode_thumbnail(const void *buf, size_t len, int dw, int dh, bool to_srgb_profile,
                            VipsImage **out)
{
    /* libvips reads the buffer only; the cast drops const for its API. */
    void *b = (void *)buf;
    if (to_srgb_profile)
        return vips_thumbnail_buffer(b, len, out, dw, "height", dh, "size", VIPS_SIZE_DOWN,
                                     "option_string", "fail_on=error", "export_profile", "srgb",
                                     NULL);
    return vips_thumbnail_buffer(b, len, out, dw, "height", dh, "size", VIPS_SIZE_DOWN,
                                 "option_string", "fail_on=error", NULL);
}

/* The size to decode to, in upright terms: what the largest variant of `mask`
 * needs by its preset (an inside box fitted, a cover box filled), never more
 * than the original. */
static void decode_box(VipsImage *hdr, unsigned mask, const proc_recipe *r, int *dw, int *dh)
{
    bool swap = vips_image_get_orientation_swap(hdr);
    double ow = swap ? hdr->Ysize : hdr->Xsize, oh = swap ? hdr->Xsize : hdr->Ysize;
    double sc = 0;
    for (int i = 0; i < IP_VARIANT_COUNT; i++) {
        if (!(mask & ip_variant_bit(ip_variants[i].kind)))
            continue;
        const Imageproc__Preset *p = &r->preset[i];
        double fw = p->width / ow, fh = p->height / oh;
        bool cover = p->fit == IMAGEPROC__PRESET_FIT__FIT_COVER;
        sc = fmax(sc, fmin(1.0, cover ? fmax(fw, fh) : fmin(fw, fh)));
    }
    *dw = (int)fmax(1.0, lround(ow * sc));
    *dh = (int)fmax(1.0, lround(oh * sc));
}

/* One inside-fitted copy of the base kept for the kinds that share its box. */
typedef struct fitted {
    int w, h;      /* the box; 0 = none yet */
    VipsImage *im; /* owned by the decode's context */
} fitted;

/* `base` fitted inside w x h, never enlarged: the kept one when the box is
 * the same. The result belongs to `ctx` (or is `base`). */
static VipsImage *fit_inside(VipsObject *ctx, VipsImage *base, int w, int h, fitted *keep)
{
    if (base->Xsize <= w && base->Ysize <= h)
        return base;
    if (keep->im && keep->w == w && keep->h == h)
        return keep->im;
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 2);
    if (vips_thumbnail_image(base, &t[0], w, "height", h, "size", VIPS_SIZE_DOWN, "no_rotate", TRUE,
                             NULL) ||
        !(t[1] = vips_image_copy_memory(t[0])))
        return NULL;
    keep->w = w;
    keep->h = h;
    keep->im = t[1];
    return t[1];
}

/* Makes variant `kind` from the decoded `base` by its preset in `r` and
 * encodes it into `v`. `dctx` is the decode's context (fitted copies live
 * there, shared through `keep`). */
static ip_status make_variant(VipsObject *dctx, ip_variant_kind kind, VipsImage *base,
                              const proc_recipe *r, fitted *keep, proc_variant *v, char *err,
                              size_t errlen)
{
    const Imageproc__Preset *p = &r->preset[kind - 1];
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **u = (VipsImage **)vips_object_local_array(ctx, 2);
    VipsImage *fit = NULL;
    int rc = 0;
    v->kind = kind;
    if (p->fit == IMAGEPROC__PRESET_FIT__FIT_COVER) {
        rc = vips_thumbnail_image(base, &u[0], p->width, "height", p->height, "crop",
                                  VIPS_INTERESTING_ATTENTION, "no_rotate", TRUE, NULL);
        fit = u[0];
    } else {
        fit = fit_inside(dctx, base, p->width, p->height, keep);
        rc = fit ? 0 : -1;
    }
    if (rc == 0 && ip_preset_has_watermark(p))
        rc = proc_watermark_apply(ctx, fit, p->watermark, r->logo[kind - 1], &u[1]);
    else if (rc == 0) {
        g_object_ref(fit);
        u[1] = fit;
    }
    ip_status st = IP_OK;
    if (rc || encode(u[1], p, v)) {
        vips_reason(err, errlen, ip_variant_name(kind));
        st = IP_INTERNAL;
    }
    g_object_unref(ctx);
    return st;
}

/* Steps 3 to 5 of HOW IT WORKS: one decode of `buf` to dw x dh, the
 * placeholder, then every variant of `mask` into `out` (the caller releases
 * it on failure). */
static ip_status make_from_decode(const void *buf, size_t len, int dw, int dh, bool has_icc,
                                  unsigned mask, const proc_recipe *r, proc_variants *out,
                                  char *err, size_t errlen)
{
    ip_status st = IP_OK;
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 4);
    if (decode_thumbnail(buf, len, dw, dh, has_icc, &t[0]) || to_srgb8(ctx, t[0], &t[1]) ||
        !(t[2] = vips_image_copy_memory(t[1])) || drop_opaque_alpha(ctx, t[2], &t[3])) {
        vips_reason(err, errlen, "cannot decode");
        st = IP_INVALID_ARGUMENT;
        goto done;
    }
    VipsImage *base = t[3];
    if (proc_placeholder_make(base, &out->placeholder) != 0) {
        char why[256];
        vips_reason(why, sizeof(why), "placeholder");
        ip_errorf(err, errlen, "%s", why);
        st = IP_INTERNAL;
        goto done;
    }
    fitted keep = {0};
    for (size_t i = 0; i < IP_VARIANT_COUNT && st == IP_OK; i++) {
        ip_variant_kind kind = ip_variants[i].kind;
        if (!(mask & ip_variant_bit(kind)))
            continue;
        st = make_variant(ctx, kind, base, r, &keep, &out->v[out->n], err, errlen);
        /* a failed variant may hold files already: counted, so fini frees them */
        out->n++;
    }
done:
    g_object_unref(ctx);
    return st;
}

ip_status proc_variants_make(const void *buf, size_t len, unsigned mask, const proc_settings *s,
                             proc_variants *out, char *err, size_t errlen)
{
    proc_recipe r;
    proc_recipe_from_settings(s, &r);
    return proc_variants_make_with(buf, len, mask, s, &r, out, err, errlen);
}

ip_status proc_variants_make_with(const void *buf, size_t len, unsigned mask,
                                  const proc_settings *s, const proc_recipe *r, proc_variants *out,
                                  char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    mask &= IP_VARIANT_MASK_ALL;
    if (!mask) {
        ip_errorf(err, errlen, "no variants requested");
        return IP_INVALID_ARGUMENT;
    }
    for (int i = 0; i < IP_VARIANT_COUNT; i++) {
        char why[160];
        if ((mask & ip_variant_bit(ip_variants[i].kind)) &&
            ip_preset_check(&r->preset[i], why, sizeof(why)) != IP_OK) {
            ip_errorf(err, errlen, "preset of %s: %s", ip_variants[i].name, why);
            return IP_INVALID_ARGUMENT;
        }
    }

    /* 1. Header and pixel limit. */
    VipsImage *hdr = NULL;
    ip_status st = open_header(buf, len, s, &hdr, out->loader, sizeof(out->loader), err, errlen);
    if (st != IP_OK)
        return st;
    out->src_width = hdr->Xsize;
    out->src_height = hdr->Ysize;

    /* 2. Budget: refuse what can never fit, wait for room otherwise. */
    int dw, dh;
    decode_box(hdr, mask, r, &dw, &dh);
    int64_t need = estimate_decode_bytes(hdr, out->loader, dw, dh);
    int64_t limit = budget_limit();
    bool has_icc = vips_image_get_typeof(hdr, VIPS_META_ICC_NAME) != 0;
    int hw = hdr->Xsize, hh = hdr->Ysize;
    g_object_unref(hdr);
    if (need > limit) {
        ip_errorf(err, errlen,
                  "decoding this %dx%d image needs about %lld MiB, over the budget of %lld MiB", hw,
                  hh, (long long)(need >> 20), (long long)(limit >> 20));
        return IP_RESOURCE_EXHAUSTED;
    }
    budget_acquire(need);
    out->budget_bytes = need;

    /* 3-5. Decode once, derive, encode. */
    st = make_from_decode(buf, len, dw, dh, has_icc, mask, r, out, err, errlen);
    budget_release(need);
    if (st != IP_OK)
        proc_variants_fini(out);
    return st;
}

void proc_variants_fini(proc_variants *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->n; i++) {
        proc_variant *x = &v->v[i];
        g_free(x->data);
        x->data = NULL;
        x->len = 0;
        for (int k = 0; k < x->n_more; k++)
            g_free(x->more[k].data);
        x->n_more = 0;
    }
    v->n = 0;
}
