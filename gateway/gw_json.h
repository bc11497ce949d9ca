/* gw_json.h — the API's JSON views of metadata-svc's records.
 *
 * Image info: id, status, created_at, updated_at (RFC 3339, microseconds),
 * filename, content_type, size, width, height, error (null when none), ops,
 * variants {name: {status, url, width, height, size, format, error}}. A
 * variant's url is its public address "/media/<id>/<variant>.<ext>" (nginx
 * serves /media/ from the bucket's v/ prefix), null until the variant is ready.
 */
#ifndef GW_JSON_H
#define GW_JSON_H

#include <jansson.h>

#include "events.pb-c.h"
#include "image.pb-c.h"

const char *gw_image_status_name(Imageproc__ImageStatus st);     /* "pending", ... */
const char *gw_variant_status_name(Imageproc__VariantStatus st); /* "pending", ... */

/* "/media/<id>/<name>.<ext>" for a key "v/<id>/<name>.<ext>"; owned; NULL when
 * the key is not a public variant key. */
char *gw_media_url(const char *object_key);

/* The variant named `name` of img, or NULL. Borrowed from img. */
const Imageproc__Variant *gw_image_variant(const Imageproc__Image *img, const char *name);

/* New references (json_decref); NULL only when out of memory. */
json_t *gw_image_info_json(const Imageproc__Image *img);
/* A listing item: the info plus "url": the `mode` variant's (or, with mode NULL
 * or "", the thumbnail's) public url, null until ready. */
json_t *gw_image_item_json(const Imageproc__Image *img, const char *mode);

/* The SSE data line for an event: {"id","status","variant","variant_status",
 * "at","error","deleted"}. Owned string. */
char *gw_event_json(const Imageproc__StatusEvent *ev);

/* RFC 3339 text of `us` as a new json string. */
json_t *gw_json_time(int64_t us);

#endif
