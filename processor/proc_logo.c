/* proc_logo.c — the logo check, decode and cache (proc_logo.h).
 *
 * The size is checked before anything is read, the PNG signature and the
 * header's width and height before any pixel is decoded. The decode is
 * pngload_buffer itself (the loader named, not sniffed), then 8-bit sRGB
 * with an alpha band (opaque when the PNG had none), copied into memory so
 * every job reads the same finished pixels. The cache is an array of
 * PROC_LOGO_CACHE_SLOTS entries under one mutex, each with the time it was
 * last used; a lookup is a scan of eight keys.
 */
#include "proc_logo.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_keys.h"
#include "ip_text.h"

typedef struct logo_slot {
    char key[IP_KEY_MAX];
    VipsImage *im;
    uint64_t used; /* tick of the last use; 0 = empty */
} logo_slot;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static logo_slot slots[PROC_LOGO_CACHE_SLOTS];
static uint64_t tick;

static void reason(char *err, size_t errlen, const char *what)
{
    char *msg = vips_error_buffer_copy();
    size_t n = msg ? strcspn(msg, "\n") : 0;
    ip_errorf(err, errlen, "%s%s%.*s", what, n ? ": " : "", (int)n, msg ? msg : "");
    g_free(msg);
}

ip_status proc_logo_decode(const void *buf, size_t len, VipsImage **out, char *err, size_t errlen)
{
    *out = NULL;
    if (len > PROC_LOGO_MAX_BYTES) {
        ip_errorf(err, errlen, "watermark logo is %zu bytes, over the limit of %d", len,
                  PROC_LOGO_MAX_BYTES);
        return IP_RESOURCE_EXHAUSTED;
    }
    if (!buf || len < 8 || memcmp(buf, "\x89PNG\r\n\x1a\n", 8) != 0) {
        ip_errorf(err, errlen, "watermark logo is not a PNG");
        return IP_INVALID_ARGUMENT;
    }
    VipsImage *hdr = NULL;
    if (vips_pngload_buffer((void *)buf, len, &hdr, "access", VIPS_ACCESS_SEQUENTIAL, NULL)) {
        reason(err, errlen, "watermark logo does not decode");
        return IP_INVALID_ARGUMENT;
    }
    int w = hdr->Xsize, h = hdr->Ysize;
    if (w > PROC_LOGO_MAX_SIDE || h > PROC_LOGO_MAX_SIDE) {
        g_object_unref(hdr);
        ip_errorf(err, errlen, "watermark logo is %dx%d, over the limit of %dx%d", w, h,
                  PROC_LOGO_MAX_SIDE, PROC_LOGO_MAX_SIDE);
        return IP_RESOURCE_EXHAUSTED;
    }
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 4);
    t[0] = hdr;
    VipsImage *cur = hdr;
    int rc = 0;
    if (cur->Type != VIPS_INTERPRETATION_sRGB || cur->BandFmt != VIPS_FORMAT_UCHAR) {
        rc = vips_colourspace(cur, &t[1], VIPS_INTERPRETATION_sRGB, NULL);
        cur = t[1];
        if (rc == 0 && cur->BandFmt != VIPS_FORMAT_UCHAR) {
            rc = vips_cast(cur, &t[2], VIPS_FORMAT_UCHAR, "shift",
                           cur->BandFmt == VIPS_FORMAT_USHORT, NULL);
            cur = t[2];
        }
    }
    if (rc == 0 && !vips_image_hasalpha(cur)) {
        rc = vips_bandjoin_const1(cur, &t[3], 255.0, NULL);
        cur = t[3];
    }
    VipsImage *mem = rc == 0 && cur->Bands == 4 ? vips_image_copy_memory(cur) : NULL;
    if (!mem)
        reason(err, errlen, "watermark logo does not decode");
    g_object_unref(ctx);
    if (!mem)
        return IP_INVALID_ARGUMENT;
    *out = mem;
    return IP_OK;
}

VipsImage *proc_logo_cached(const char *key)
{
    VipsImage *im = NULL;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < PROC_LOGO_CACHE_SLOTS; i++) {
        if (slots[i].used && strcmp(slots[i].key, key) == 0) {
            slots[i].used = ++tick;
            im = slots[i].im;
            g_object_ref(im);
            break;
        }
    }
    pthread_mutex_unlock(&mu);
    return im;
}

void proc_logo_keep(const char *key, VipsImage *im)
{
    if (strlen(key) >= IP_KEY_MAX)
        return;
    pthread_mutex_lock(&mu);
    int victim = 0;
    for (int i = 0; i < PROC_LOGO_CACHE_SLOTS; i++) {
        if (slots[i].used && strcmp(slots[i].key, key) == 0) {
            victim = -1; /* another job kept it meanwhile */
            break;
        }
        if (slots[i].used < slots[victim].used)
            victim = i;
    }
    if (victim >= 0) {
        if (slots[victim].im)
            g_object_unref(slots[victim].im);
        g_object_ref(im);
        snprintf(slots[victim].key, sizeof(slots[victim].key), "%s", key);
        slots[victim].im = im;
        slots[victim].used = ++tick;
    }
    pthread_mutex_unlock(&mu);
}

void proc_logo_free(void)
{
    pthread_mutex_lock(&mu);
    for (int i = 0; i < PROC_LOGO_CACHE_SLOTS; i++) {
        if (slots[i].im)
            g_object_unref(slots[i].im);
        memset(&slots[i], 0, sizeof(slots[i]));
    }
    pthread_mutex_unlock(&mu);
}
