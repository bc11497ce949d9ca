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
 *    requested variant needs (the resized box, or the cover size of the
 *    thumbnail when that is larger), shrinking on load where the format
 *    allows, turning the image upright by its EXIF orientation, and
 *    converting CMYK and ICC-tagged images to sRGB. The result is made 8-bit
 *    sRGB (16-bit PNG, grey, CMYK) and copied into memory: every variant is
 *    derived from this one image.
 * 4. Variants. resized: fit in resized_max x resized_max, never enlarged.
 *    thumbnail: thumb_size x thumb_size, cover, attention crop. watermarked:
 *    resized plus the text in the lower right, white at ~55% over a dark
 *    blurred halo at ~50%, so it reads on light and dark pictures.
 * 5. Encode with every piece of metadata stripped (no EXIF, so no GPS): JPEG,
 *    or PNG when the source has a real (not fully opaque) alpha channel.
 *
 * ERRORS
 * vips_error_buffer() is process-wide. After a failing libvips call the
 * buffer is copied and cleared in one step (vips_error_buffer_copy) under a
 * mutex; with several jobs failing at the same moment a reason may carry
 * another job's line too, but never loses its own.
 */
#include "proc_variants.h"
#include "ip_text.h"
#include "proc_watermark.h"
#include "ip_vips_admit.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

#define WM_TEXT_OPACITY 0.55
#define WM_HALO_OPACITY 0.5
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

/* `in` cast to uchar with its first `bands` bands. */
static int shape_like(VipsObject *ctx, VipsImage *in, int bands, VipsImage **out)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 2);
    VipsImage *cur = in;
    if (cur->BandFmt != VIPS_FORMAT_UCHAR) {
        if (vips_cast(cur, &t[0], VIPS_FORMAT_UCHAR, NULL))
            return -1;
        cur = t[0];
    }
    if (cur->Bands > bands) {
        if (vips_extract_band(cur, &t[1], 0, "n", bands, NULL))
            return -1;
        cur = t[1];
    }
    g_object_ref(cur);
    *out = cur;
    return 0;
}

/* `in` with `text` drawn in its lower right: scaled to ~30% of the width,
 * white at WM_TEXT_OPACITY over a blurred black halo at WM_HALO_OPACITY. An
 * image too small to carry it is returned as is. */
static int watermark(VipsObject *ctx, VipsImage *in, const char *text, VipsImage **out)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 16);
    int W = in->Xsize, H = in->Ysize;
    if (!text || !*text || W < 16 || H < 16)
        goto as_is;

    /* The text mask made once per process, shrunk to ~30% of the width. */
    if (!(t[0] = proc_watermark_text(text)))
        return -1;
    double scale = fmin(W * 0.30 / t[0]->Xsize, H * 0.25 / t[0]->Ysize);
    if (vips_resize(t[0], &t[1], scale, NULL))
        return -1;
    int pad = t[1]->Ysize / 5 > 2 ? t[1]->Ysize / 5 : 2;
    int pw = t[1]->Xsize + 2 * pad, ph = t[1]->Ysize + 2 * pad;
    int margin = W / 50;
    if (pw + margin > W || ph + margin > H)
        goto as_is;
    int x = W - pw - margin, y = H - ph - margin;

    double sigma = fmax(0.7, t[1]->Ysize / 12.0);
    if (vips_embed(t[1], &t[2], pad, pad, pw, ph, NULL) ||
        /* halo: blurred glyphs, boosted so the edge is solid, then translucent */
        vips_gaussblur(t[2], &t[3], sigma, NULL) ||
        vips_linear1(t[3], &t[4], 3.0, 0, "uchar", TRUE, NULL) ||
        vips_linear1(t[4], &t[5], WM_HALO_OPACITY, 0, "uchar", TRUE, NULL) ||
        vips_black(&t[6], pw, ph, "bands", 3, NULL) ||
        vips_cast(t[6], &t[7], VIPS_FORMAT_UCHAR, NULL) ||
        vips_bandjoin2(t[7], t[5], &t[8], NULL) ||
        vips_copy(t[8], &t[9], "interpretation", VIPS_INTERPRETATION_sRGB, NULL) ||
        /* text: white glyphs, translucent */
        vips_linear1(t[2], &t[10], WM_TEXT_OPACITY, 0, "uchar", TRUE, NULL) ||
        vips_linear1(t[7], &t[11], 0, 255, "uchar", TRUE, NULL) ||
        vips_bandjoin2(t[11], t[10], &t[12], NULL) ||
        vips_copy(t[12], &t[13], "interpretation", VIPS_INTERPRETATION_sRGB, NULL) ||
        vips_composite2(in, t[9], &t[14], VIPS_BLEND_MODE_OVER, "x", x, "y", y, NULL) ||
        vips_composite2(t[14], t[13], &t[15], VIPS_BLEND_MODE_OVER, "x", x, "y", y, NULL))
        return -1;
    /* composite adds an alpha band and may widen the format; give back the
     * shape of `in`. */
    return shape_like(ctx, t[15], in->Bands, out);

as_is:
    g_object_ref(in);
    *out = in;
    return 0;
}

/* Encodes `in` into `v`: JPEG, or PNG when it has alpha; no metadata. */
static int encode(VipsImage *in, int quality, proc_variant *v)
{
    void *buf = NULL;
    size_t len = 0;
    if (in->Bands == 4) {
        if (vips_pngsave_buffer(in, &buf, &len, "strip", TRUE, "compression", 6, NULL))
            return -1;
        v->format = &ip_format_png;
    } else {
        if (vips_jpegsave_buffer(in, &buf, &len, "Q", quality, "strip", TRUE, "optimize_coding",
                                 TRUE, NULL))
            return -1;
        v->format = &ip_format_jpeg;
    }
    v->data = buf;
    v->len = len;
    v->width = in->Xsize;
    v->height = in->Ysize;
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
 * needs (the resized box, or the thumbnail's cover size when that is larger),
 * never more than the original. */
static void decode_box(VipsImage *hdr, unsigned mask, const proc_settings *s, int *dw, int *dh)
{
    bool swap = vips_image_get_orientation_swap(hdr);
    double ow = swap ? hdr->Ysize : hdr->Xsize, oh = swap ? hdr->Xsize : hdr->Ysize;
    double sc = 0;
    if (mask & (ip_variant_bit(IP_VARIANT_RESIZED) | ip_variant_bit(IP_VARIANT_WATERMARKED)))
        sc = fmin(1.0, s->resized_max / fmax(ow, oh));
    if (mask & ip_variant_bit(IP_VARIANT_THUMBNAIL))
        sc = fmax(sc, fmin(1.0, fmax(s->thumb_size / ow, s->thumb_size / oh)));
    *dw = (int)fmax(1.0, lround(ow * sc));
    *dh = (int)fmax(1.0, lround(oh * sc));
}

/* Makes variant `kind` from the decoded `base` (and `resized`, base fitted in
 * the resized box) and encodes it into `v`. */
static ip_status make_variant(ip_variant_kind kind, VipsImage *base, VipsImage *resized,
                              const proc_settings *s, proc_variant *v, char *err, size_t errlen)
{
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **u = (VipsImage **)vips_object_local_array(ctx, 1);
    int rc = 0;
    switch (kind) {
    case IP_VARIANT_THUMBNAIL:
        rc = vips_thumbnail_image(base, &u[0], s->thumb_size, "height", s->thumb_size, "crop",
                                  VIPS_INTERESTING_ATTENTION, "no_rotate", TRUE, NULL);
        break;
    case IP_VARIANT_RESIZED:
        u[0] = resized;
        g_object_ref(resized);
        break;
    case IP_VARIANT_WATERMARKED:
        rc = watermark(ctx, resized, s->watermark_text, &u[0]);
        break;
    default:
        rc = -1;
        break;
    }
    v->kind = kind;
    ip_status st = IP_OK;
    if (rc || encode(u[0], s->jpeg_quality, v)) {
        vips_reason(err, errlen, ip_variant_name(kind));
        st = IP_INTERNAL;
    }
    g_object_unref(ctx);
    return st;
}

/* Steps 3 to 5 of HOW IT WORKS: one decode of `buf` to dw x dh, then every
 * variant of `mask` into `out` (the caller releases it on failure). */
static ip_status make_from_decode(const void *buf, size_t len, int dw, int dh, bool has_icc,
                                  unsigned mask, const proc_settings *s, proc_variants *out,
                                  char *err, size_t errlen)
{
    ip_status st = IP_OK;
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 6);
    if (decode_thumbnail(buf, len, dw, dh, has_icc, &t[0]) || to_srgb8(ctx, t[0], &t[1]) ||
        !(t[2] = vips_image_copy_memory(t[1])) || drop_opaque_alpha(ctx, t[2], &t[3])) {
        vips_reason(err, errlen, "cannot decode");
        st = IP_INVALID_ARGUMENT;
        goto done;
    }
    VipsImage *base = t[3], *resized = base;
    int R = s->resized_max;
    bool want_resized =
        (mask & (ip_variant_bit(IP_VARIANT_RESIZED) | ip_variant_bit(IP_VARIANT_WATERMARKED))) != 0;
    if (want_resized && (base->Xsize > R || base->Ysize > R)) {
        if (vips_thumbnail_image(base, &t[4], R, "height", R, "size", VIPS_SIZE_DOWN, "no_rotate",
                                 TRUE, NULL) ||
            !(t[5] = vips_image_copy_memory(t[4]))) {
            vips_reason(err, errlen, "cannot resize");
            st = IP_INTERNAL;
            goto done;
        }
        resized = t[5];
    }
    for (size_t i = 0; i < IP_VARIANT_COUNT && st == IP_OK; i++) {
        ip_variant_kind kind = ip_variants[i].kind;
        if (!(mask & ip_variant_bit(kind)))
            continue;
        st = make_variant(kind, base, resized, s, &out->v[out->n], err, errlen);
        if (st == IP_OK)
            out->n++;
    }
done:
    g_object_unref(ctx);
    return st;
}

ip_status proc_variants_make(const void *buf, size_t len, unsigned mask, const proc_settings *s,
                             proc_variants *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    mask &= IP_VARIANT_MASK_ALL;
    if (!mask) {
        ip_errorf(err, errlen, "no variants requested");
        return IP_INVALID_ARGUMENT;
    }

    /* 1. Header and pixel limit. */
    VipsImage *hdr = NULL;
    ip_status st =
        open_header(buf, len, s, &hdr, out->loader, sizeof(out->loader), err, errlen);
    if (st != IP_OK)
        return st;
    out->src_width = hdr->Xsize;
    out->src_height = hdr->Ysize;

    /* 2. Budget: refuse what can never fit, wait for room otherwise. */
    int dw, dh;
    decode_box(hdr, mask, s, &dw, &dh);
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
    st = make_from_decode(buf, len, dw, dh, has_icc, mask, s, out, err, errlen);
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
        g_free(v->v[i].data);
        v->v[i].data = NULL;
        v->v[i].len = 0;
    }
    v->n = 0;
}
