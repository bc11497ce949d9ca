/* proc_placeholder.h — what a page paints before a variant arrives: the
 * ThumbHash (proc_thumbhash.h) and the dominant colour of the whole picture.
 *
 * Both come from the picture shrunk to fit PROC_THUMBHASH_SIDE_MAX pixels
 * square (the whole frame, so the hash has the picture's aspect ratio), with
 * its alpha when it has one. The dominant colour is the mean colour of the
 * pixels in the most populated cell of a coarse 8x8x8 RGB histogram (the
 * mean rather than the cell's centre, so a flat colour comes out exact);
 * pixels more than half transparent do not vote unless every pixel is.
 */
#ifndef PROC_PLACEHOLDER_H
#define PROC_PLACEHOLDER_H

#include <stdint.h>
#include <vips/vips.h>

#include "proc_thumbhash.h"

typedef struct proc_placeholder {
    char thumbhash[PROC_THUMBHASH_B64_MAX]; /* standard base64 with padding */
    char color[8];                          /* "#rrggbb", lowercase */
} proc_placeholder;

/* The placeholder of `im` (8-bit sRGB, 3 bands or 4 with alpha). Returns 0,
 * or -1 with the libvips error buffer set. */
int proc_placeholder_make(VipsImage *im, proc_placeholder *out);

/* The dominant colour of the w x h RGBA pixels as "#rrggbb". Pure. */
void proc_dominant_color(const uint8_t *rgba, int w, int h, char out[8]);

#endif
