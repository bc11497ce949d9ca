/* gw_json.c — JSON views built with jansson. Strings that come from users
 * (filename) were sanitised to valid UTF-8 at upload; any that still do not
 * encode become null rather than failing the whole document. Records carry
 * variants as kinds (VariantKind); the views spell them by the table's names,
 * and a kind the table does not know is left out.
 */
#include "gw_json.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gw_files.h"
#include "ip_keys.h"
#include "ip_time.h"

const char *gw_image_status_name(Imageproc__ImageStatus st)
{
    switch (st) {
    case IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING:
        return "pending";
    case IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING:
        return "processing";
    case IMAGEPROC__IMAGE_STATUS__IMAGE_READY:
        return "ready";
    case IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED:
        return "failed";
    default:
        return "pending";
    }
}

const char *gw_variant_status_name(Imageproc__VariantStatus st)
{
    switch (st) {
    case IMAGEPROC__VARIANT_STATUS__VARIANT_READY:
        return "ready";
    case IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED:
        return "failed";
    case IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING:
    default:
        return "pending";
    }
}

json_t *gw_json_time(int64_t us)
{
    if (us <= 0)
        return json_null();
    char buf[IP_RFC3339_LEN + 1];
    ip_time_format(us, buf);
    return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
    if (!s || !*s)
        return json_null();
    json_t *j = json_string(s);
    return j ? j : json_null();
}

const Imageproc__Variant *gw_image_variant(const Imageproc__Image *img, ip_variant_kind kind)
{
    for (size_t i = 0; i < img->n_variants; i++)
        if (img->variants[i] && img->variants[i]->kind == kind)
            return img->variants[i];
    return NULL;
}

ip_variant_kind gw_list_default_variant(void)
{
    return ip_variants[0].kind;
}

/* The public address of a key: null when the key is not public; NULL (no
 * member) when it does not encode. */
static json_t *key_url(const char *key)
{
    char *u = ip_key_media_path(key);
    json_t *j = u ? json_string(u) : json_null();
    free(u);
    return j;
}

static json_t *variant_url(const Imageproc__Variant *v)
{
    if (!v || v->status != IMAGEPROC__VARIANT_STATUS__VARIANT_READY)
        return json_null();
    return key_url(v->object_key);
}

/* `formats`: {format: {url, size}} for each stored file of a ready variant,
 * in gw_variant_files' order; {} until ready. */
static json_t *variant_formats(const Imageproc__Variant *v)
{
    json_t *fs = json_object();
    if (!v || v->status != IMAGEPROC__VARIANT_STATUS__VARIANT_READY)
        return fs;
    gw_file files[IP_FORMAT_COUNT];
    size_t n = gw_variant_files(v, files);
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_object();
        json_object_set_new(f, "url", key_url(files[i].key));
        json_object_set_new(f, "size", json_integer(files[i].size));
        json_object_set_new(fs, files[i].fmt->name, f);
    }
    return fs;
}

static bool is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool gw_image_has_placeholder(const Imageproc__Image *img)
{
    const char *th = img->thumbhash, *c = img->dominant_color;
    if (!th || !*th || !c || strlen(c) != 7 || c[0] != '#')
        return false;
    for (size_t i = 1; i < 7; i++)
        if (!is_hex(c[i]))
            return false;
    size_t n = 0;
    for (; th[n]; n++)
        if (n >= GW_THUMBHASH_B64_MAX || !is_b64(th[n]))
            return false;
    return true;
}

static json_t *placeholder_json(const Imageproc__Image *img)
{
    if (!gw_image_has_placeholder(img))
        return json_null();
    return json_pack("{s:s,s:s}", "thumbhash", img->thumbhash, "color", img->dominant_color);
}

/* A variant's entry in `variants`; v NULL: requested, no row yet (pending). */
static json_t *variant_json(const Imageproc__Variant *v)
{
    bool ready = v && v->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    Imageproc__VariantStatus st = v ? v->status : IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING;
    json_t *vj = json_object();
    json_object_set_new(vj, "status", json_string(gw_variant_status_name(st)));
    json_object_set_new(vj, "url", variant_url(v));
    json_object_set_new(vj, "width", ready ? json_integer(v->width) : json_null());
    json_object_set_new(vj, "height", ready ? json_integer(v->height) : json_null());
    json_object_set_new(vj, "size", ready ? json_integer(v->size_bytes) : json_null());
    json_object_set_new(vj, "format", ready ? str_or_null(v->format) : json_null());
    json_object_set_new(vj, "error", v ? str_or_null(v->error) : json_null());
    json_object_set_new(vj, "preset_version", json_integer(gw_variant_preset_version(v)));
    json_object_set_new(vj, "stale", json_boolean(v && v->stale));
    json_object_set_new(vj, "formats", variant_formats(v));
    return vj;
}

json_t *gw_variant_names_json(unsigned mask)
{
    ip_variant_kind kinds[IP_VARIANT_COUNT];
    size_t n = ip_variant_mask_kinds(mask, kinds);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(ip_variant_name(kinds[i])));
    return a;
}

json_t *gw_image_info_json(const Imageproc__Image *img)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(img->id));
    json_object_set_new(o, "status", json_string(gw_image_status_name(img->status)));
    json_object_set_new(o, "created_at", gw_json_time(img->created_at_us));
    json_object_set_new(o, "updated_at",
                        gw_json_time(img->updated_at_us ? img->updated_at_us : img->created_at_us));
    json_object_set_new(o, "filename", str_or_null(img->filename));
    json_object_set_new(o, "content_type", str_or_null(img->content_type));
    json_object_set_new(o, "size", json_integer(img->size_bytes));
    json_object_set_new(o, "sha256", str_or_null(img->sha256));
    json_object_set_new(o, "width", json_integer(img->width));
    json_object_set_new(o, "height", json_integer(img->height));
    json_object_set_new(o, "error", str_or_null(img->error));
    unsigned requested = ip_variant_mask_of(img->requested, img->n_requested);
    json_object_set_new(o, "ops", gw_variant_names_json(requested));
    json_object_set_new(o, "placeholder", placeholder_json(img));
    json_t *vs = json_object();
    for (size_t i = 0; i < img->n_variants; i++) {
        const Imageproc__Variant *v = img->variants[i];
        const char *name = v ? ip_variant_name(v->kind) : NULL;
        if (name)
            json_object_set_new(vs, name, variant_json(v));
    }
    /* A requested variant with no row yet is pending. */
    for (size_t i = 0; i < IP_VARIANT_COUNT; i++) {
        const char *name = ip_variants[i].name;
        if ((requested & ip_variant_bit(ip_variants[i].kind)) && !json_object_get(vs, name))
            json_object_set_new(vs, name, variant_json(NULL));
    }
    json_object_set_new(o, "variants", vs);
    return o;
}

json_t *gw_image_item_json(const Imageproc__Image *img, ip_variant_kind mode)
{
    json_t *o = gw_image_info_json(img);
    if (!o)
        return NULL;
    ip_variant_kind kind = mode != IP_VARIANT_NONE ? mode : gw_list_default_variant();
    json_object_set_new(o, "url", variant_url(gw_image_variant(img, kind)));
    return o;
}

json_t *gw_config_json(unsigned default_ops, int64_t upload_max_bytes, int64_t pixel_limit)
{
    json_t *vs = json_array();
    for (size_t i = 0; i < IP_VARIANT_COUNT; i++)
        json_array_append_new(
            vs, json_pack("{s:s,s:s}", "name", ip_variants[i].name, "title", ip_variants[i].title));
    return json_pack("{s:o,s:o,s:I,s:I}", "variants", vs, "default_ops",
                     gw_variant_names_json(default_ops), "upload_max_bytes",
                     (json_int_t)upload_max_bytes, "pixel_limit", (json_int_t)pixel_limit);
}

json_t *gw_images_page_json(const Imageproc__ListImagesReply *rep, ip_variant_kind mode)
{
    json_t *items = json_array();
    for (size_t i = 0; i < rep->n_images; i++)
        json_array_append_new(items, gw_image_item_json(rep->images[i], mode));
    json_t *next = json_null();
    if (rep->has_more && rep->n_images > 0) {
        const Imageproc__Image *last = rep->images[rep->n_images - 1];
        json_decref(next);
        next = json_pack("{s:o,s:s}", "last_created_at", gw_json_time(last->created_at_us),
                         "last_id", last->id);
    }
    return json_pack("{s:o,s:o}", "items", items, "next", next);
}

char *gw_event_json(const Imageproc__StatusEvent *ev)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(ev->id ? ev->id : ""));
    json_object_set_new(o, "status",
                        json_string(ev->deleted ? "deleted" : gw_image_status_name(ev->status)));
    const char *variant = ip_variant_name(ev->variant_kind);
    json_object_set_new(o, "variant", variant ? json_string(variant) : json_null());
    json_object_set_new(o, "variant_status",
                        variant ? json_string(gw_variant_status_name(ev->variant_status))
                                : json_null());
    json_object_set_new(o, "at", gw_json_time(ev->at_us));
    json_object_set_new(o, "error", str_or_null(ev->error));
    json_object_set_new(o, "deleted", json_boolean(ev->deleted));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
