/* ip_vips_admit.c — libvips restricted to one loader per accepted type.
 *
 * ip_vips_restrict() blocks libvips's untrusted operations, then every
 * foreign loader (the abstract VipsForeignLoad and so all its subclasses),
 * then unblocks exactly the buffer loaders named by ip_img_loader(), found by
 * nickname so that the class names of a libvips build (nsgif or libgif, spng
 * or libpng) do not matter. Savers are untouched. Blocking is process-wide and
 * idempotent; it runs once after VIPS_INIT, before any thread decodes.
 */
#include "ip_vips_admit.h"

#include <string.h>
#include <vips/vips.h>

void ip_vips_restrict(void)
{
    vips_block_untrusted_set(TRUE);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    for (int t = IP_IMG_NONE + 1; t <= IP_IMG_TIFF; t++) {
        GType type = vips_type_find("VipsForeignLoad", ip_img_loader((ip_img_type)t));
        if (type)
            vips_operation_block_set(g_type_name(type), FALSE);
    }
}

bool ip_vips_loader_is(ip_img_type t, const char *nickname)
{
    const char *allowed = ip_img_loader(t);
    return allowed && nickname && strcmp(allowed, nickname) == 0;
}
