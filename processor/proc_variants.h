/* proc_variants.h — the image part of the processor: one original in, the
 * requested variants (thumbnail, resized, watermarked: the kinds of
 * ip_variants.h) out, made with libvips from a single decode, each as its
 * preset (proto/image.proto, Preset) says, plus the picture's placeholder.
 *
 * Every file is upright (EXIF orientation applied), sRGB 8-bit, and carries
 * no metadata at all (no EXIF, no XMP, no ICC). The primary file is JPEG
 * unless the source has a real alpha channel; then PNG with the alpha kept.
 * Beside it, WebP and AVIF when the preset asks, with the alpha kept too.
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

#include <vips/vips.h>

#include "image.pb-c.h"
#include "ip_admit.h"
#include "ip_status.h"
#include "ip_variants.h"
#include "proc_placeholder.h"

typedef struct proc_settings {
    int64_t pixel_limit;   /* width*height above this fails from the header */
    ip_admit_limits admit; /* checked before any decoder (ip_admit.h) */
    /* Used only by proc_variants_make (tests, fuzzing, benchmarks), which
     * builds its presets from them; a job takes its presets from
     * metadata-svc (proc_variants_make_with). */
    int thumb_size;             /* thumbnail edge, cover + attention crop (320) */
    int resized_max;            /* longest side of resized/watermarked, never enlarged (1280) */
    int jpeg_quality;           /* 1..100 (85) */
    const char *watermark_text; /* borrowed; "" draws no text */
} proc_settings;

/* The defaults of DESIGN.md (100 MP, 320, 1280, Q85, "ImageProcessor"). */
void proc_settings_default(proc_settings *s);

/* The encoders' effort. WebP (libwebp method): 2 costs about a third of
 * the CPU of libvips's default 4 for files ~3% larger. AVIF (libvips
 * heifsave, AV1 through libheif's aom: speed = 9 - effort): 2 costs a
 * quarter to a ninth of 4 for files within ~10%. */
#define PROC_WEBP_EFFORT 2
#define PROC_AVIF_EFFORT 2

/* One encoded file of a variant. */
typedef struct proc_file {
    const ip_format_def *format; /* static */
    void *data;                  /* owned (released by proc_variants_fini) */
    size_t len;
    int64_t encode_us; /* wall time of the encode */
} proc_file;

#define PROC_FILES_MAX 3 /* primary, webp, avif */

typedef struct proc_variant {
    ip_variant_kind kind;
    void *data; /* owned: the primary file's bytes (released by proc_variants_fini) */
    size_t len;
    int width, height;
    const ip_format_def *format; /* the primary: &ip_format_jpeg or &ip_format_png (static) */
    int64_t encode_us;           /* wall time of the primary's encode */
    int preset_version;          /* the version of the preset that made it */
    int n_more;                  /* files beside the primary: webp, then avif */
    proc_file more[PROC_FILES_MAX - 1];
} proc_variant;

/* File i of `v`: 0 is the primary, 1.. the others. */
proc_file proc_variant_file(const proc_variant *v, int i);

typedef struct proc_variants {
    int n; /* variants made, in canonical (enum) order */
    proc_variant v[IP_VARIANT_COUNT];
    int src_width, src_height;    /* the original's stored size, from its header */
    char loader[32];              /* libvips loader, e.g. "jpegload_buffer" */
    int64_t budget_bytes;         /* decode memory reserved for this image */
    proc_placeholder placeholder; /* of the whole picture ("" when it could not be made) */
} proc_variants;

/* How to make each kind: its preset and, when the preset's watermark names a
 * logo, that logo decoded (proc_logo.h). Index kind - 1. */
typedef struct proc_recipe {
    Imageproc__Preset preset[IP_VARIANT_COUNT];       /* strings borrowed */
    Imageproc__Watermark watermark[IP_VARIANT_COUNT]; /* storage for preset[i].watermark */
    VipsImage *logo[IP_VARIANT_COUNT];                /* borrowed; NULL: none (a text watermark) */
} proc_recipe;

/* The default presets (ip_presets.h) with the box, JPEG quality and
 * watermark text of `s`. */
void proc_recipe_from_settings(const proc_settings *s, proc_recipe *r);
/* Copies `p` into r as the preset of p->kind (its watermark into r's
 * storage; strings stay borrowed). A kind that is not a variant is ignored. */
void proc_recipe_set(proc_recipe *r, const Imageproc__Preset *p);

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
 * during the call), each as r's preset of its kind says, and the picture's
 * placeholder. On IP_OK `out` holds one entry per requested kind in
 * canonical order; release it with proc_variants_fini. On failure `out` holds
 * nothing to release and `err` (if not NULL) the reason; an empty mask, or a
 * requested kind whose preset ip_preset_check refuses, is
 * IP_INVALID_ARGUMENT. */
ip_status proc_variants_make_with(const void *buf, size_t len, unsigned mask,
                                  const proc_settings *s, const proc_recipe *r, proc_variants *out,
                                  char *err, size_t errlen);

/* proc_variants_make_with with proc_recipe_from_settings(s). */
ip_status proc_variants_make(const void *buf, size_t len, unsigned mask, const proc_settings *s,
                             proc_variants *out, char *err, size_t errlen);

/* Releases the encoded bytes. Safe on a zeroed struct and twice. */
void proc_variants_fini(proc_variants *v);

#endif
