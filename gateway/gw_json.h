/* gw_json.h — the API's JSON views of metadata-svc's records.
 *
 * Image info: id, status, created_at, updated_at (RFC 3339, microseconds),
 * filename, content_type, size, width, height, error (null when none), ops,
 * placeholder ({thumbhash, color} once the processor made both, else null),
 * variants {name: {status, url, width, height, size, format, error,
 * preset_version, stale, formats}}. Variant names are those of
 * ip_variants.h. A variant's url is its primary file's public address
 * (ip_key_media_path: "/media/<id>/<variant>.<ext>", which nginx serves from
 * the bucket's public prefix), null until the variant is ready; formats maps
 * each stored file's format to {url, size} (gw_files.h: primary, then webp,
 * then avif), {} until ready; preset_version is the version that made it
 * (0, before presets, shown as 1); stale comes from metadata-svc.
 */
#ifndef GW_JSON_H
#define GW_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "events.pb-c.h"
#include "image.pb-c.h"
#include "ip_variants.h"
#include "metadata.pb-c.h"

const char *gw_image_status_name(Imageproc__ImageStatus st);     /* "pending", ... */
const char *gw_variant_status_name(Imageproc__VariantStatus st); /* "pending", ... */

/* The variant of `kind` of img, or NULL. Borrowed from img. */
const Imageproc__Variant *gw_image_variant(const Imageproc__Image *img, ip_variant_kind kind);

/* A ThumbHash is at most 25 bytes: 36 characters of base64; room to spare. */
#define GW_THUMBHASH_B64_MAX 64

/* True when img carries a placeholder the API shows: a ThumbHash of base64
 * characters, at most GW_THUMBHASH_B64_MAX, and a colour "#rrggbb". Either
 * missing or malformed: the document's placeholder is null. */
bool gw_image_has_placeholder(const Imageproc__Image *img);

/* The variant whose url a listing item carries when no mode is given: the
 * first of the table (the thumbnail, the smallest). */
ip_variant_kind gw_list_default_variant(void);

/* New references (json_decref); NULL only when out of memory. The API
 * answers these three documents from gw_json_write.h, which writes the
 * same bytes without a tree; these builders are its reference
 * (gw_json_test.c compares the two). */
json_t *gw_image_info_json(const Imageproc__Image *img);
/* A listing item: the info plus "url": the `mode` variant's public url (with
 * IP_VARIANT_NONE, gw_list_default_variant()'s), null until ready. */
json_t *gw_image_item_json(const Imageproc__Image *img, ip_variant_kind mode);

/* A listing page: {"items":[item…],"next":{"last_created_at","last_id"}|null};
 * NULL when the last id does not encode, or out of memory. */
json_t *gw_images_page_json(const Imageproc__ListImagesReply *rep, ip_variant_kind mode);

/* The names of the kinds in `mask`, canonical order, as a new JSON array. */
json_t *gw_variant_names_json(unsigned mask);

/* GET /config: {"variants":[{"name","title"}...] (every variant, canonical
 * order), "default_ops":[names of default_ops], "upload_max_bytes",
 * "pixel_limit"}. New reference; NULL only when out of memory. */
json_t *gw_config_json(unsigned default_ops, int64_t upload_max_bytes, int64_t pixel_limit);

/* The SSE data line for an event: {"id","status","variant","variant_status",
 * "at","error","deleted"}. Owned string. */
char *gw_event_json(const Imageproc__StatusEvent *ev);

/* RFC 3339 text of `us` as a new json string. */
json_t *gw_json_time(int64_t us);

#endif
