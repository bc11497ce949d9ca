/* proc_webp_strip.h — metadata chunks removed from a WebP file.
 *
 * libvips 8.14's webpsave writes an EXIF chunk even when asked to strip
 * metadata; this rewrites the file without its EXIF, XMP and ICC chunks and
 * with the extended header's flags for them cleared. The pixels' chunks are
 * kept byte for byte. Pure, in place, thread-safe.
 */
#ifndef PROC_WEBP_STRIP_H
#define PROC_WEBP_STRIP_H

#include <stddef.h>
#include <stdint.h>

/* Strips buf[0..*len) in place and sets *len to the new length. Returns 0,
 * or -1 (buf unchanged) when it is not a well-formed WebP RIFF file. */
int proc_webp_strip(uint8_t *buf, size_t *len);

#endif
