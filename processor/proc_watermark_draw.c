/* proc_watermark_draw.c — a watermark drawn onto a variant (proc_watermark.h).
 *
 * The mark goes at the preset's position, `margin` (a fraction of the
 * picture's shorter side) from the edges it names, `scale` of the picture's
 * width, and shrunk further when it would not fit inside the margins. A text
 * mark is the kept mask (proc_watermark.c) drawn white over a dark blurred
 * halo, so it reads on light and dark pictures; a logo (8-bit sRGB RGBA,
 * proc_logo.c) is scaled with its alpha premultiplied and its alpha
 * multiplied by the opacity. A picture under WM_MIN_PICTURE pixels a side, or
 * one whose margins leave no room, goes without. The result has the shape
 * (bands, format) of the picture it was drawn on.
 */
#include "proc_watermark.h"

#include <math.h>
#include <stdbool.h>

#define WM_HALO_RATIO (0.5 / 0.55)
#define WM_MIN_PICTURE 16

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

/* Where a mark of mw x mh goes in a W x H picture, `m` pixels from the
 * edges its position names. */
static void mark_place(Imageproc__WatermarkPosition pos, int W, int H, int mw, int mh, int m,
                       int *x, int *y)
{
    bool left = pos == IMAGEPROC__WATERMARK_POSITION__WATERMARK_BOTTOM_LEFT ||
                pos == IMAGEPROC__WATERMARK_POSITION__WATERMARK_TOP_LEFT;
    bool top = pos == IMAGEPROC__WATERMARK_POSITION__WATERMARK_TOP_LEFT ||
               pos == IMAGEPROC__WATERMARK_POSITION__WATERMARK_TOP_RIGHT;
    if (pos == IMAGEPROC__WATERMARK_POSITION__WATERMARK_CENTER) {
        *x = (W - mw) / 2;
        *y = (H - mh) / 2;
        return;
    }
    *x = left ? m : W - mw - m;
    *y = top ? m : H - mh - m;
}

/* The factor that makes a src_w x src_h mark `scale` of the picture's width,
 * shrunk further so that it fits within avail_w x avail_h. */
static double mark_factor(double scale, int W, int src_w, int src_h, int avail_w, int avail_h)
{
    double f = scale * W / src_w;
    f = fmin(f, (double)avail_w / src_w);
    return fmin(f, (double)avail_h / src_h);
}

/* The text mark: `mask` (one band, white glyphs) scaled, with a padded
 * halo, at WM opacity; composited over `in` into *out (shape as composite
 * gives it). Returns 1 when it did not fit (nothing drawn). */
static int text_mark(VipsObject *ctx, VipsImage *in, const Imageproc__Watermark *wm, int m,
                     VipsImage **out)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 16);
    int W = in->Xsize, H = in->Ysize;
    if (!(t[0] = proc_watermark_text(wm->text)))
        return -1;
    /* The halo pads the glyphs by a fifth of their height on every side. */
    double f =
        mark_factor(wm->scale, W, t[0]->Xsize, t[0]->Ysize, W - 2 * m, (int)((H - 2 * m) / 1.4));
    if (f <= 0 || t[0]->Xsize * f < 4 || t[0]->Ysize * f < 4)
        return 1;
    if (vips_resize(t[0], &t[1], f, NULL))
        return -1;
    int pad = t[1]->Ysize / 5 > 2 ? t[1]->Ysize / 5 : 2;
    int pw = t[1]->Xsize + 2 * pad, ph = t[1]->Ysize + 2 * pad;
    if (pw > W || ph > H)
        return 1;
    int x, y;
    mark_place(wm->position, W, H, pw, ph, m, &x, &y);
    double text_op = fmin(1.0, fmax(0.0, wm->opacity));
    double halo_op = fmin(1.0, text_op * WM_HALO_RATIO);
    double sigma = fmax(0.7, t[1]->Ysize / 12.0);
    if (vips_embed(t[1], &t[2], pad, pad, pw, ph, NULL) ||
        /* halo: blurred glyphs, boosted so the edge is solid, then translucent */
        vips_gaussblur(t[2], &t[3], sigma, NULL) ||
        vips_linear1(t[3], &t[4], 3.0, 0, "uchar", TRUE, NULL) ||
        vips_linear1(t[4], &t[5], halo_op, 0, "uchar", TRUE, NULL) ||
        vips_black(&t[6], pw, ph, "bands", 3, NULL) ||
        vips_cast(t[6], &t[7], VIPS_FORMAT_UCHAR, NULL) ||
        vips_bandjoin2(t[7], t[5], &t[8], NULL) ||
        vips_copy(t[8], &t[9], "interpretation", VIPS_INTERPRETATION_sRGB, NULL) ||
        /* text: white glyphs, translucent */
        vips_linear1(t[2], &t[10], text_op, 0, "uchar", TRUE, NULL) ||
        vips_linear1(t[7], &t[11], 0, 255, "uchar", TRUE, NULL) ||
        vips_bandjoin2(t[11], t[10], &t[12], NULL) ||
        vips_copy(t[12], &t[13], "interpretation", VIPS_INTERPRETATION_sRGB, NULL) ||
        vips_composite2(in, t[9], &t[14], VIPS_BLEND_MODE_OVER, "x", x, "y", y, NULL) ||
        vips_composite2(t[14], t[13], &t[15], VIPS_BLEND_MODE_OVER, "x", x, "y", y, NULL))
        return -1;
    g_object_ref(t[15]);
    *out = t[15];
    return 0;
}

/* The logo mark: `logo` (8-bit sRGB RGBA) scaled, its alpha times the
 * opacity, composited over `in` into *out. Returns 1 when it did not fit. */
static int logo_mark(VipsObject *ctx, VipsImage *in, VipsImage *logo,
                     const Imageproc__Watermark *wm, int m, VipsImage **out)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 4);
    int W = in->Xsize, H = in->Ysize;
    double f = mark_factor(wm->scale, W, logo->Xsize, logo->Ysize, W - 2 * m, H - 2 * m);
    int mw = (int)fmin(W - 2 * m, lround(logo->Xsize * f));
    int mh = (int)fmin(H - 2 * m, lround(logo->Ysize * f));
    if (mw < 1 || mh < 1)
        return 1;
    /* thumbnail_image fits the logo in mw x mh with its alpha premultiplied
     * while it scales (no dark fringes); it may enlarge a small logo. */
    double a[4] = {1, 1, 1, fmin(1.0, fmax(0.0, wm->opacity))}, b[4] = {0, 0, 0, 0};
    if (vips_thumbnail_image(logo, &t[0], mw, "height", mh, "no_rotate", TRUE, NULL) ||
        vips_linear(t[0], &t[1], a, b, 4, "uchar", TRUE, NULL) ||
        vips_copy(t[1], &t[2], "interpretation", VIPS_INTERPRETATION_sRGB, NULL))
        return -1;
    int x, y;
    mark_place(wm->position, W, H, t[2]->Xsize, t[2]->Ysize, m, &x, &y);
    if (vips_composite2(in, t[2], &t[3], VIPS_BLEND_MODE_OVER, "x", x, "y", y, NULL))
        return -1;
    g_object_ref(t[3]);
    *out = t[3];
    return 0;
}

int proc_watermark_apply(VipsObject *ctx, VipsImage *in, const Imageproc__Watermark *wm,
                         VipsImage *logo, VipsImage **out)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 1);
    int W = in->Xsize, H = in->Ysize;
    bool text = wm && wm->text && wm->text[0];
    if (!wm || (!logo && !text) || W < WM_MIN_PICTURE || H < WM_MIN_PICTURE)
        goto as_is;
    int m = (int)lround(fmax(0.0, wm->margin) * (W < H ? W : H));
    if (2 * m >= W - 4 || 2 * m >= H - 4)
        goto as_is;
    int rc = logo ? logo_mark(ctx, in, logo, wm, m, &t[0]) : text_mark(ctx, in, wm, m, &t[0]);
    if (rc < 0)
        return -1;
    if (rc > 0)
        goto as_is;
    /* composite adds an alpha band and may widen the format; give back the
     * shape of `in`. */
    return shape_like(ctx, t[0], in->Bands, out);

as_is:
    g_object_ref(in);
    *out = in;
    return 0;
}
