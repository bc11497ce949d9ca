/* ip_admit.h — one admission check before any decoder, for every process.
 *
 * ip_admit_check() walks the container of an untrusted file far enough to know
 * that it is one of the accepted image types and that a small file cannot make
 * a decoder allocate or work much more than its size: it reads structure only
 * (chunk, marker, box and IFD headers) and inflates compressed metadata into a
 * bounded scratch buffer only to measure it. No libvips, no allocation beyond a
 * fixed scratch; time linear in the file's size. The gateway runs it before its
 * header read (a refusal is 415 for IP_IMG_NONE, else 422, with `detail`), the
 * processor before it decodes (the job fails at once with the same detail).
 *
 * Limits (ip_admit_limits, from the shared IP_ADMIT_* settings):
 *   - metadata_bytes: the total of metadata a decoder would keep or inflate:
 *     PNG tEXt/zTXt/iTXt/iCCP/eXIf (inflated size for compressed ones), JPEG
 *     APPn and COM segments, WebP ICCP/EXIF/XMP chunks, ... ;
 *   - chunks: PNG ancillary chunks, JPEG markers other than scans' data, ... ;
 *   - scans: SOS markers of a JPEG (progressive JPEGs repeat the whole decode
 *     per scan);
 *   - frames: GIF images, WebP ANMF frames, TIFF IFDs (pages), ISO-BMFF items;
 *   - pixels: width x height of the image the container declares (where the
 *     container tells it cheaply; 0 = not known here, libvips's header read
 *     checks it afterwards).
 * ISO-BMFF: the major brand must be an image brand (avif, avis, heic, heix,
 * heim, heis, hevc, hevx, mif1, msf1); every box must fit in its parent.
 * Data after the image's end (IEND, the GIF trailer, the RIFF size) is refused
 * for PNG, GIF and WebP (polyglots); JPEG may carry more after EOI (MPF).
 */
#ifndef IP_ADMIT_H
#define IP_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_status.h"

typedef enum ip_img_type {
    IP_IMG_NONE = 0,
    IP_IMG_JPEG,
    IP_IMG_PNG,
    IP_IMG_WEBP,
    IP_IMG_GIF,
    IP_IMG_AVIF,
    IP_IMG_HEIC,
    IP_IMG_TIFF,
} ip_img_type;

typedef struct ip_admit_limits {
    int64_t metadata_bytes;
    int64_t chunks;
    int64_t scans;
    int64_t frames;
    int64_t pixels;
} ip_admit_limits;

/* The defaults of the IP_ADMIT_* settings (ip_settings.h). */
void ip_admit_limits_default(ip_admit_limits *lim);

typedef struct ip_admit_result {
    ip_img_type type;     /* from the magic bytes; IP_IMG_NONE = not an accepted type */
    int width, height;    /* from the container, 0 when it does not say cheaply */
    int64_t frames;       /* pages/frames seen (1 for a still image) */
    int64_t metadata_bytes; /* metadata counted against the limit */
    const char *reason;   /* on refusal, a stable code: "unsupported_type", "truncated",
                             "malformed", "metadata_too_large", "too_many_chunks",
                             "too_many_scans", "too_many_frames", "bad_brand",
                             "trailing_data", "pixel_limit" */
    char detail[256];     /* on refusal, one sentence for a person */
} ip_admit_result;

/* IP_OK: admitted (out->type, size and counts filled). IP_INVALID_ARGUMENT:
 * not an accepted type (out->type == IP_IMG_NONE → 415) or a broken or
 * hostile container (422); IP_RESOURCE_EXHAUSTED: over a limit (422).
 * Thread-safe; `data` is borrowed. */
ip_status ip_admit_check(const void *data, size_t len, const ip_admit_limits *lim,
                         ip_admit_result *out);

/* The type from the magic bytes alone (the first step of ip_admit_check). */
ip_img_type ip_img_sniff(const void *data, size_t len);

/* "image/jpeg", ...; NULL for IP_IMG_NONE. */
const char *ip_img_mime(ip_img_type t);

/* The one libvips loader (nickname, e.g. "jpegload_buffer") allowed to read a
 * type; NULL for IP_IMG_NONE. */
const char *ip_img_loader(ip_img_type t);

#endif
