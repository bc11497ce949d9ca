/* proc_placeholder.c — ThumbHash and dominant colour of a picture
 * (proc_placeholder.h).
 *
 * The picture is shrunk with vips_thumbnail_image to fit 100x100 (never
 * enlarged: a smaller one is used as it is), given an opaque alpha band when
 * it has none, and read out as RGBA bytes (at most 40 KB); the hash and the
 * histogram both read those bytes.
 */
#include "proc_placeholder.h"

#include <stdio.h>
#include <string.h>

#define HIST_BITS 3 /* per channel: 8 levels, 512 cells */
#define HIST_CELLS (1 << (3 * HIST_BITS))

void proc_dominant_color(const uint8_t *rgba, int w, int h, char out[8])
{
    static const int shift = 8 - HIST_BITS;
    uint32_t count[HIST_CELLS];
    uint64_t sum[HIST_CELLS][3];
    int n = w * h;
    int min_alpha = 128;
    for (int pass = 0; pass < 2; pass++) {
        memset(count, 0, sizeof(count));
        memset(sum, 0, sizeof(sum));
        uint32_t voters = 0;
        for (int i = 0; i < n; i++) {
            const uint8_t *p = rgba + 4 * i;
            if (p[3] < min_alpha)
                continue;
            int cell =
                (p[0] >> shift) << (2 * HIST_BITS) | (p[1] >> shift) << HIST_BITS | (p[2] >> shift);
            count[cell]++;
            sum[cell][0] += p[0];
            sum[cell][1] += p[1];
            sum[cell][2] += p[2];
            voters++;
        }
        if (voters > 0 || pass == 1)
            break;
        min_alpha = 0; /* fully transparent: every pixel votes */
    }
    int best = 0;
    for (int c = 1; c < HIST_CELLS; c++)
        if (count[c] > count[best])
            best = c;
    unsigned rgb[3] = {0, 0, 0};
    for (int k = 0; k < 3 && count[best] > 0; k++)
        rgb[k] = (unsigned)((sum[best][k] + count[best] / 2) / count[best]);
    snprintf(out, 8, "#%02x%02x%02x", rgb[0] & 255, rgb[1] & 255, rgb[2] & 255);
}

int proc_placeholder_make(VipsImage *im, proc_placeholder *out)
{
    memset(out, 0, sizeof(*out));
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 3);
    const int side = PROC_THUMBHASH_SIDE_MAX;
    int rc = -1;
    VipsImage *cur = im;
    if (cur->Xsize > side || cur->Ysize > side) {
        if (vips_thumbnail_image(cur, &t[0], side, "height", side, "size", VIPS_SIZE_DOWN,
                                 "no_rotate", TRUE, NULL))
            goto done;
        cur = t[0];
    }
    if (cur->Bands == 3) {
        if (vips_bandjoin_const1(cur, &t[1], 255.0, NULL))
            goto done;
        cur = t[1];
    }
    if (cur->Bands != 4 || cur->BandFmt != VIPS_FORMAT_UCHAR) {
        vips_error("proc_placeholder", "expected 8-bit RGB or RGBA, got %d bands", cur->Bands);
        goto done;
    }
    size_t len = 0;
    uint8_t *px = vips_image_write_to_memory(cur, &len);
    if (!px)
        goto done;
    int w = cur->Xsize, h = cur->Ysize;
    if (len == (size_t)w * h * 4 && w <= side && h <= side) {
        uint8_t hash[PROC_THUMBHASH_MAX];
        size_t n = proc_thumbhash_encode(w, h, px, hash);
        if (n > 0) {
            proc_thumbhash_base64(hash, n, out->thumbhash);
            proc_dominant_color(px, w, h, out->color);
            rc = 0;
        } else {
            vips_error("proc_placeholder", "thumbhash of %dx%d failed", w, h);
        }
    } else {
        vips_error("proc_placeholder", "unexpected pixel buffer of %zu bytes", len);
    }
    g_free(px);
done:
    g_object_unref(ctx);
    return rc;
}
