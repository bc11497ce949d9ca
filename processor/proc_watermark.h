/* proc_watermark.h — the watermark's text, rendered once per process.
 *
 * proc_watermark_text() returns a one-band uchar mask of `text` (white glyphs
 * on black) rendered by pango through vips_text at a high dpi the first time
 * it is asked for, kept in memory and shared by every job after that; a job
 * only resizes the mask to the size it wants. So pango and fontconfig run
 * once, at the first watermark, and never again: no text layout per job, and
 * no font-cache churn across jobs of many sizes (pango's fontconfig font map
 * works on a thread of its own, outside libvips's text lock). The mask of one
 * text is kept (the presets usually share one); a different text replaces it.
 */
#ifndef PROC_WATERMARK_H
#define PROC_WATERMARK_H

#include <vips/vips.h>

#include "image.pb-c.h"

/* A new reference to the mask of `text` (g_object_unref it), or NULL with
 * the libvips error buffer set. Thread-safe. */
VipsImage *proc_watermark_text(const char *text);

/* `in` (8-bit sRGB, 3 or 4 bands) with the watermark `wm` drawn on it (a
 * logo when `logo` is given, else wm->text; proc_watermark_draw.c) into *out,
 * a new reference; intermediates belong to `ctx`. A picture too small to
 * carry the mark, or a mark that cannot fit, gives `in` back as is. 0, or -1
 * with the libvips error buffer set. */
int proc_watermark_apply(VipsObject *ctx, VipsImage *in, const Imageproc__Watermark *wm,
                         VipsImage *logo, VipsImage **out);

/* Drops the kept mask, and the kept logos (proc_logo_free), at exit, so
 * leak checkers see no reference. */
void proc_watermark_free(void);

#endif
