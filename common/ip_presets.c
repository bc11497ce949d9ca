/* ip_presets.c — preset defaults, bounds and equality (see ip_presets.h). */
#include "ip_presets.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ip_keys.h"
#include "ip_utf8.h"

static void fail(char *err, size_t n, const char *what)
{
    if (err && n)
        snprintf(err, n, "%s", what);
}

ip_status ip_preset_default(ip_variant_kind kind, Imageproc__Preset *p, Imageproc__Watermark *wm)
{
    if (ip_variant_get(kind) == NULL)
        return IP_INVALID_ARGUMENT;
    imageproc__preset__init(p);
    p->kind = kind;
    p->version = 1;
    p->fit = kind == IP_VARIANT_THUMBNAIL ? IMAGEPROC__PRESET_FIT__FIT_COVER
                                          : IMAGEPROC__PRESET_FIT__FIT_INSIDE;
    p->width = p->height = kind == IP_VARIANT_THUMBNAIL ? 320 : 1280;
    p->jpeg_quality = 85;
    p->webp = true;
    p->webp_quality = 80;
    p->avif = false;
    p->avif_quality = 55;
    if (kind == IP_VARIANT_WATERMARKED && wm != NULL) {
        imageproc__watermark__init(wm);
        wm->text = (char *)"ImageProcessor";
        wm->position = IMAGEPROC__WATERMARK_POSITION__WATERMARK_BOTTOM_RIGHT;
        wm->margin = 0.02;
        wm->scale = 0.30;
        wm->opacity = 0.55;
        p->watermark = wm;
    }
    return IP_OK;
}

static bool utf8_ok(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = ip_utf8_seq(u + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

static bool in(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

static bool str_empty(const char *s)
{
    return s == NULL || *s == '\0';
}

bool ip_preset_has_watermark(const Imageproc__Preset *p)
{
    const Imageproc__Watermark *w = p->watermark;
    return w != NULL && (!str_empty(w->text) || !str_empty(w->logo_key));
}

ip_status ip_preset_check(const Imageproc__Preset *p, char *err, size_t errlen)
{
    char msg[160];
    if (p == NULL || ip_variant_get(p->kind) == NULL)
        return fail(err, errlen, "kind: not a variant"), IP_INVALID_ARGUMENT;
    if (p->width < 1 || p->width > IP_PRESET_SIZE_MAX || p->height < 1 ||
        p->height > IP_PRESET_SIZE_MAX) {
        snprintf(msg, sizeof msg, "width, height: 1..%d pixels", IP_PRESET_SIZE_MAX);
        return fail(err, errlen, msg), IP_INVALID_ARGUMENT;
    }
    if (ip_preset_fit_name(p->fit) == NULL)
        return fail(err, errlen, "fit: cover or inside"), IP_INVALID_ARGUMENT;
    if (p->jpeg_quality < 1 || p->jpeg_quality > 100 || p->webp_quality < 1 ||
        p->webp_quality > 100 || p->avif_quality < 1 || p->avif_quality > 100)
        return fail(err, errlen, "jpeg_quality, webp_quality, avif_quality: 1..100"),
               IP_INVALID_ARGUMENT;
    const Imageproc__Watermark *w = p->watermark;
    if (w == NULL)
        return IP_OK;
    size_t tl = w->text ? strlen(w->text) : 0;
    if (tl > IP_PRESET_WATERMARK_TEXT_MAX || (tl && !utf8_ok(w->text, tl))) {
        snprintf(msg, sizeof msg, "watermark.text: UTF-8, at most %d bytes",
                 IP_PRESET_WATERMARK_TEXT_MAX);
        return fail(err, errlen, msg), IP_INVALID_ARGUMENT;
    }
    if (!str_empty(w->logo_key) && !ip_key_is_logo(w->logo_key))
        return fail(err, errlen, "watermark.logo_key: p/logo/<sha256>.png"), IP_INVALID_ARGUMENT;
    if (ip_watermark_position_name(w->position) == NULL)
        return fail(err, errlen,
                    "watermark.position: bottom-right, bottom-left, top-right, top-left or center"),
               IP_INVALID_ARGUMENT;
    if (!in(w->margin, 0, IP_PRESET_MARGIN_MAX)) {
        snprintf(msg, sizeof msg, "watermark.margin: 0..%.2f of the shorter side",
                 IP_PRESET_MARGIN_MAX);
        return fail(err, errlen, msg), IP_INVALID_ARGUMENT;
    }
    if (!in(w->scale, IP_PRESET_SCALE_MIN, 1)) {
        snprintf(msg, sizeof msg, "watermark.scale: %.2f..1 of the width", IP_PRESET_SCALE_MIN);
        return fail(err, errlen, msg), IP_INVALID_ARGUMENT;
    }
    if (!in(w->opacity, 0, 1))
        return fail(err, errlen, "watermark.opacity: 0..1"), IP_INVALID_ARGUMENT;
    return IP_OK;
}

static bool str_same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

bool ip_preset_same(const Imageproc__Preset *a, const Imageproc__Preset *b)
{
    if (a->kind != b->kind || a->width != b->width || a->height != b->height ||
        a->fit != b->fit || a->jpeg_quality != b->jpeg_quality || a->webp != b->webp ||
        a->webp_quality != b->webp_quality || a->avif != b->avif ||
        a->avif_quality != b->avif_quality)
        return false;
    bool wa = ip_preset_has_watermark(a), wb = ip_preset_has_watermark(b);
    if (!wa || !wb)
        return wa == wb;
    const Imageproc__Watermark *x = a->watermark, *y = b->watermark;
    return str_same(x->text, y->text) && str_same(x->logo_key, y->logo_key) &&
           x->position == y->position && x->margin == y->margin && x->scale == y->scale &&
           x->opacity == y->opacity;
}

static const char *const fit_names[] = {NULL, "cover", "inside"};
static const char *const position_names[] = {NULL,       "bottom-right", "bottom-left",
                                             "top-right", "top-left",     "center"};

const char *ip_preset_fit_name(Imageproc__PresetFit fit)
{
    return (int)fit >= 1 && (int)fit <= 2 ? fit_names[fit] : NULL;
}

Imageproc__PresetFit ip_preset_fit_parse(const char *name)
{
    for (int i = 1; name && i <= 2; i++)
        if (strcmp(fit_names[i], name) == 0)
            return (Imageproc__PresetFit)i;
    return IMAGEPROC__PRESET_FIT__PRESET_FIT_UNSPECIFIED;
}

const char *ip_watermark_position_name(Imageproc__WatermarkPosition pos)
{
    return (int)pos >= 1 && (int)pos <= 5 ? position_names[pos] : NULL;
}

Imageproc__WatermarkPosition ip_watermark_position_parse(const char *name)
{
    for (int i = 1; name && i <= 5; i++)
        if (strcmp(position_names[i], name) == 0)
            return (Imageproc__WatermarkPosition)i;
    return IMAGEPROC__WATERMARK_POSITION__WATERMARK_POSITION_UNSPECIFIED;
}
