/* gw_json.c — JSON views built with jansson. Strings that come from users
 * (filename) were sanitised to valid UTF-8 at upload; any that still do not
 * encode become null rather than failing the whole document. */
#include "gw_json.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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

char *gw_media_url(const char *key)
{
    if (!key || strncmp(key, "v/", 2) != 0 || key[2] == '\0')
        return NULL;
    size_t n = strlen(key + 2);
    char *u = malloc(n + 8);
    if (!u)
        return NULL;
    memcpy(u, "/media/", 7);
    memcpy(u + 7, key + 2, n + 1);
    return u;
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

const Imageproc__Variant *gw_image_variant(const Imageproc__Image *img, const char *name)
{
    for (size_t i = 0; i < img->n_variants; i++)
        if (img->variants[i] && img->variants[i]->name && strcmp(img->variants[i]->name, name) == 0)
            return img->variants[i];
    return NULL;
}

static json_t *variant_url(const Imageproc__Variant *v)
{
    if (!v || v->status != IMAGEPROC__VARIANT_STATUS__VARIANT_READY)
        return json_null();
    char *u = gw_media_url(v->object_key);
    json_t *j = u ? json_string(u) : json_null();
    free(u);
    return j;
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
    json_object_set_new(o, "width", json_integer(img->width));
    json_object_set_new(o, "height", json_integer(img->height));
    json_object_set_new(o, "error", str_or_null(img->error));
    json_t *ops = json_array();
    for (size_t i = 0; i < img->n_ops; i++)
        json_array_append_new(ops, json_string(img->ops[i]));
    json_object_set_new(o, "ops", ops);
    json_t *vs = json_object();
    for (size_t i = 0; i < img->n_variants; i++) {
        const Imageproc__Variant *v = img->variants[i];
        if (!v || !v->name || !*v->name)
            continue;
        bool ready = v->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
        json_t *vj = json_object();
        json_object_set_new(vj, "status", json_string(gw_variant_status_name(v->status)));
        json_object_set_new(vj, "url", variant_url(v));
        json_object_set_new(vj, "width", ready ? json_integer(v->width) : json_null());
        json_object_set_new(vj, "height", ready ? json_integer(v->height) : json_null());
        json_object_set_new(vj, "size", ready ? json_integer(v->size_bytes) : json_null());
        json_object_set_new(vj, "format", ready ? str_or_null(v->format) : json_null());
        json_object_set_new(vj, "error", str_or_null(v->error));
        json_object_set_new(vs, v->name, vj);
    }
    /* A requested op with no variant row yet is pending. */
    for (size_t i = 0; i < img->n_ops; i++) {
        if (json_object_get(vs, img->ops[i]))
            continue;
        json_t *vj = json_object();
        json_object_set_new(vj, "status", json_string("pending"));
        json_object_set_new(vj, "url", json_null());
        json_object_set_new(vj, "width", json_null());
        json_object_set_new(vj, "height", json_null());
        json_object_set_new(vj, "size", json_null());
        json_object_set_new(vj, "format", json_null());
        json_object_set_new(vj, "error", json_null());
        json_object_set_new(vs, img->ops[i], vj);
    }
    json_object_set_new(o, "variants", vs);
    return o;
}

json_t *gw_image_item_json(const Imageproc__Image *img, const char *mode)
{
    json_t *o = gw_image_info_json(img);
    if (!o)
        return NULL;
    const char *name = (mode && *mode) ? mode : "thumbnail";
    json_object_set_new(o, "url", variant_url(gw_image_variant(img, name)));
    return o;
}

char *gw_event_json(const Imageproc__StatusEvent *ev)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(ev->id ? ev->id : ""));
    json_object_set_new(o, "status",
                        json_string(ev->deleted ? "deleted" : gw_image_status_name(ev->status)));
    json_object_set_new(o, "variant", str_or_null(ev->variant));
    json_object_set_new(o, "variant_status",
                        (ev->variant && *ev->variant)
                            ? json_string(gw_variant_status_name(ev->variant_status))
                            : json_null());
    json_object_set_new(o, "at", gw_json_time(ev->at_us));
    json_object_set_new(o, "error", str_or_null(ev->error));
    json_object_set_new(o, "deleted", json_boolean(ev->deleted));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
