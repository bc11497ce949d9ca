/* proc_thumbhash.h — the ThumbHash placeholder of a picture: encode and decode.
 *
 * A ThumbHash is a small (at most PROC_THUMBHASH_MAX bytes) description of a
 * picture of at most 100x100 pixels: its average colour, its aspect ratio, a
 * few low-frequency cosine terms of its luminance, of two colour-difference
 * channels and, when the picture has transparency, of its alpha. A browser
 * (or proc_thumbhash_decode) paints a blurred picture of the right shape and
 * colours from it before the real one arrives. The bytes follow the published
 * ThumbHash layout, so any ThumbHash decoder reads them.
 *
 * Pure and thread-safe; the encoder takes a scratch buffer of at most 160 KB
 * for the duration of the call.
 */
#ifndef PROC_THUMBHASH_H
#define PROC_THUMBHASH_H

#include <stddef.h>
#include <stdint.h>

#define PROC_THUMBHASH_MAX 25     /* bytes of the longest hash */
#define PROC_THUMBHASH_B64_MAX 40 /* its standard base64 with padding, and the NUL */
#define PROC_THUMBHASH_SIDE_MAX 100
#define PROC_THUMBHASH_DECODE_SIDE 32 /* the longer side of a decoded placeholder */

/* Encodes the w x h RGBA picture `rgba` (row by row, 4 bytes a pixel, not
 * premultiplied; w and h 1..PROC_THUMBHASH_SIDE_MAX) into out[]. Returns the
 * hash's length, or 0 when w or h is out of range or memory ran out. */
size_t proc_thumbhash_encode(int w, int h, const uint8_t *rgba, uint8_t out[PROC_THUMBHASH_MAX]);

/* Renders `hash` (len bytes) as RGBA at its own aspect ratio, the longer
 * side PROC_THUMBHASH_DECODE_SIDE pixels, into rgba[] (room for
 * PROC_THUMBHASH_DECODE_SIDE^2 * 4 bytes). Returns 0 with *w and *h set, -1
 * for a hash that is too short. */
int proc_thumbhash_decode(
    const uint8_t *hash, size_t len, int *w, int *h,
    uint8_t rgba[PROC_THUMBHASH_DECODE_SIDE * PROC_THUMBHASH_DECODE_SIDE * 4]);

/* Standard base64 with padding of hash[0..len) into out (NUL-terminated);
 * len <= PROC_THUMBHASH_MAX. Returns the text's length. */
size_t proc_thumbhash_base64(const uint8_t *hash, size_t len, char out[PROC_THUMBHASH_B64_MAX]);

/* The reverse of proc_thumbhash_base64: returns the bytes written to
 * out[], or 0 for text that is not base64 of at most PROC_THUMBHASH_MAX bytes. */
size_t proc_thumbhash_unbase64(const char *text, uint8_t out[PROC_THUMBHASH_MAX]);

#endif
