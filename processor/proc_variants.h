/* proc_variants.h — the image part of the processor: one original in, the
 * requested variants (thumbnail, resized, watermarked: the kinds of
 * ip_variants.h) out, made with libvips from a single decode.
 *
 * Every variant is upright (EXIF orientation applied), sRGB 8-bit, and carries
 * no metadata at all (no EXIF, no XMP, no ICC). JPEG unless the source has a
 * real alpha channel; then PNG with the alpha kept.
 *
 * Failures are permanent for the given bytes: IP_INVALID_ARGUMENT for a file
 * that is not one of the accepted formats, is refused by the admission check
 * (ip_admit.h) or does not decode (with the reason), IP_RESOURCE_EXHAUSTED
 * for a file over an admission limit, the pixel limit or the decode-memory
 * budget. Nothing here is worth retrying.
 */
#ifndef PROC_VARIANTS_H
#define PROC_VARIANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_admit.h"
#include "ip_status.h"
#include "ip_variants.h"

typedef struct proc_settings {
    int64_t pixel_limit;        /* width*height above this fails from the header */
    ip_admit_limits admit;      /* checked before any decoder (ip_admit.h) */
    int thumb_size;             /* thumbnail edge, cover + attention crop (320) */
    int resized_max;            /* longest side of resized/watermarked, never enlarged (1280) */
    int jpeg_quality;           /* 1..100 (85) */
    const char *watermark_text; /* borrowed; "" draws no text */
} proc_settings;

/* The defaults of DESIGN.md (100 MP, 320, 1280, Q85, "ImageProcessor"). */
void proc_settings_default(proc_settings *s);

typedef struct proc_variant {
    ip_variant_kind kind;
    void *data; /* owned: the encoded bytes (released by proc_variants_fini) */
    size_t len;
    int width, height;
    const ip_format_def *format; /* &ip_format_jpeg or &ip_format_png (static) */
} proc_variant;

typedef struct proc_variants {
    int n; /* variants made, in canonical (enum) order */
    proc_variant v[IP_VARIANT_COUNT];
    int src_width, src_height; /* the original's stored size, from its header */
    char loader[32];           /* libvips loader, e.g. "jpegload_buffer" */
    int64_t budget_bytes;      /* decode memory reserved for this image */
} proc_variants;

/* Process-wide libvips setup; call once after VIPS_INIT and before any
 * proc_variants_make: cache off, every loader but the accepted types' blocked
 * (ip_vips_restrict), `concurrency`
 * worker threads per pipeline (<= 0 keeps libvips's default), and the
 * decode-memory budget shared by all jobs at once (bytes; <= 0 means 320 MiB).
 * An image whose estimated decode memory is over the budget is refused; images
 * that fit wait until the budget has room. */
void proc_variants_global_init(int concurrency, int64_t decode_budget_bytes);

/* Runs the admission check (s->admit, with s->pixel_limit as the pixel limit)
 * and reads only the header of `buf`: the loader (must be the one of the
 * admitted type), the stored width and height, and checks the pixel limit.
 * Nothing is decoded. Errors as proc_variants_make; `err` gets the reason
 * ("<ip_admit reason>: <detail>" for a refused container). */
ip_status proc_image_probe(const void *buf, size_t len, const proc_settings *s, int *width,
                           int *height, char *loader, size_t loader_len, char *err, size_t errlen);

/* Makes the variants in `mask` (a set of kinds, ip_variant_bit; bits of
 * anything else are ignored) from the original in `buf` (borrowed; only read
 * during the call). On IP_OK `out` holds one entry per requested kind in
 * canonical order; release it with proc_variants_fini. On failure `out` holds
 * nothing to release and `err` (if not NULL) the reason; an empty mask is
 * IP_INVALID_ARGUMENT. */
ip_status proc_variants_make(const void *buf, size_t len, unsigned mask, const proc_settings *s,
                             proc_variants *out, char *err, size_t errlen);

/* Releases the encoded bytes. Safe on a zeroed struct and twice. */
void proc_variants_fini(proc_variants *v);

#endif
