/* gw_json_write.h — the hot JSON views written straight into a gw_jbuf.
 *
 * The same documents as gw_json.h's jansson builders, byte for byte as
 * json_dumps(…, JSON_COMPACT) prints those (gw_json_test.c compares them):
 * an image's info, a listing item, a listing page. A text that jansson would
 * refuse (not valid UTF-8) becomes null where the builder writes
 * str_or_null, and leaves its member out where the builder passes
 * json_string straight to json_object_set_new (which then sets nothing). A
 * page whose last id does not encode fails the whole document, as its
 * json_pack does.
 */
#ifndef GW_JSON_WRITE_H
#define GW_JSON_WRITE_H

#include "gw_jbuf.h"
#include "image.pb-c.h"
#include "ip_variants.h"
#include "metadata.pb-c.h"

/* Most bytes of one JSON answer written here. A listing page holds at most
 * 100 images, whose texts metadata-svc bounds; escaping multiplies a text by
 * at most six. */
#define GW_JSON_MAX_BYTES ((size_t)64 * 1024 * 1024)
/* First allocations: one image's info, and a page per image it holds. */
#define GW_JSON_INFO_FIRST 2048
#define GW_JSON_ITEM_FIRST 1024

/* gw_image_info_json's document. */
void gw_image_info_write(gw_jbuf *jb, const Imageproc__Image *img);
/* gw_image_item_json's document (the info plus "url"). */
void gw_image_item_write(gw_jbuf *jb, const Imageproc__Image *img, ip_variant_kind mode);
/* GET /images' answer: {"items":[item…],"next":{"last_created_at","last_id"}
 * or null}; next names the last item when rep->has_more. */
void gw_images_page_write(gw_jbuf *jb, const Imageproc__ListImagesReply *rep, ip_variant_kind mode);

#endif
