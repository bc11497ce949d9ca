/* ip_vips_admit.h — the libvips side of admission, for processes that link libvips.
 *
 * ip_vips_restrict() runs once after VIPS_INIT in every process that decodes
 * untrusted bytes (the gateway's header read, the processor): it blocks
 * libvips's untrusted operations and every foreign loader except the one per
 * accepted type (ip_img_loader), so no byte can reach ImageMagick, PDF, SVG,
 * matrix, CSV, ... whatever it looks like. ip_vips_loader_for() is the check
 * after vips_foreign_find_load_buffer(): the loader libvips picked must be the
 * one of the type the admission check saw.
 */
#ifndef IP_VIPS_ADMIT_H
#define IP_VIPS_ADMIT_H

#include <stdbool.h>

#include "ip_admit.h"

void ip_vips_restrict(void);

/* true when `nickname` (e.g. "jpegload_buffer") is the allowed loader of `t`. */
bool ip_vips_loader_is(ip_img_type t, const char *nickname);

#endif
