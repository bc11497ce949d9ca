/* proc_watermark.c — the watermark's text mask, made once (proc_watermark.h).
 *
 * The mask is rendered at MASK_DPI (about 1000 pixels wide for the default
 * text), large enough that the default presets' marks (30% of at most 1280
 * pixels) shrink it rather than enlarge it; a preset asking for a wider mark
 * enlarges it, with softer edges. It is copied into memory, so every job
 * reads the same finished pixels. `mu` serialises the first render (and a
 * change of text); afterwards a call only takes a reference.
 */
#include "proc_watermark.h"
#include "proc_logo.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MASK_FONT "DejaVu Sans Bold 12"
#define MASK_DPI 432

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *kept_text;
static VipsImage *kept_mask;

static VipsImage *render(const char *text)
{
    VipsImage *drawn = NULL;
    if (vips_text(&drawn, text, "font", MASK_FONT, "dpi", MASK_DPI, NULL))
        return NULL;
    VipsImage *mem = vips_image_copy_memory(drawn);
    g_object_unref(drawn);
    return mem;
}

VipsImage *proc_watermark_text(const char *text)
{
    pthread_mutex_lock(&mu);
    if (!kept_mask || strcmp(kept_text, text) != 0) {
        VipsImage *mask = render(text);
        char *copy = mask ? strdup(text) : NULL;
        if (!copy) {
            if (mask)
                g_object_unref(mask);
            pthread_mutex_unlock(&mu);
            if (mask)
                vips_error("proc_watermark", "out of memory");
            return NULL;
        }
        if (kept_mask)
            g_object_unref(kept_mask);
        free(kept_text);
        kept_mask = mask;
        kept_text = copy;
    }
    g_object_ref(kept_mask);
    VipsImage *out = kept_mask;
    pthread_mutex_unlock(&mu);
    return out;
}

void proc_watermark_free(void)
{
    pthread_mutex_lock(&mu);
    if (kept_mask)
        g_object_unref(kept_mask);
    kept_mask = NULL;
    free(kept_text);
    kept_text = NULL;
    pthread_mutex_unlock(&mu);
    proc_logo_free();
}
