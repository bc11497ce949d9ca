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

/* A new reference to the mask of `text` (g_object_unref it), or NULL with
 * the libvips error buffer set. Thread-safe. */
VipsImage *proc_watermark_text(const char *text);

/* Drops the kept mask, and the kept logos (proc_logo_free), at exit, so
 * leak checkers see no reference. */
void proc_watermark_free(void);

#endif
