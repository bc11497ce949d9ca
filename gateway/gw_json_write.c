/* gw_json_write.c — an image's info, a listing item and a listing page
 * written into one buffer (gw_jbuf), in the order and form of gw_json.c's
 * jansson builders.
 *
 * Two details of those builders shape this file. In `variants`, a second
 * row of the same kind replaces the first one's value where the first one
 * stood (json_object_set_new on a name already there), so each name is
 * written at its first row's place with its last row's value; the item's
 * `url` takes the first row of its kind (gw_image_variant). And a value that
 * jansson refuses (invalid UTF-8) follows the builder: null for texts the
 * builder passes through str_or_null, no member at all for the id and for a
 * url (json_string's NULL makes json_object_set_new set nothing).
 */
#include "gw_json_write.h"

#include <string.h>

#include "gw_files.h"
#include "gw_json.h"
#include "ip_keys.h"
#include "ip_time.h"

/* str_or_null: "" and NULL are null, and so is a text that does not encode. */
static void str_or_null(gw_jbuf *jb, const char *s)
{
    if (!s || !*s || !gw_jbuf_str(jb, s))
        gw_jbuf_null(jb);
}

/* A member whose value is json_string(s): left out when s does not encode. */
static void member_str(gw_jbuf *jb, const char *k, const char *s)
{
    if (!s || !gw_jbuf_utf8_ok(s))
        return;
    gw_jbuf_key(jb, k);
    gw_jbuf_str(jb, s);
}

/* gw_json_time: RFC 3339 with microseconds, null for 0 and below. */
static void time_value(gw_jbuf *jb, int64_t us)
{
    if (us <= 0) {
        gw_jbuf_null(jb);
        return;
    }
    char buf[IP_RFC3339_LEN + 1];
    ip_time_format(us, buf);
    gw_jbuf_str(jb, buf);
}

/* A "url" member (key_url): the key's public address, null when the key
 * (NULL: none) is not public; left out when the address does not encode. */
static void member_key_url(gw_jbuf *jb, const char *key)
{
    if (!key || !ip_key_is_public(key)) {
        gw_jbuf_key(jb, "url");
        gw_jbuf_null(jb);
        return;
    }
    const char *rest = key + strlen(IP_KEY_PUBLIC_PREFIX);
    if (!gw_jbuf_utf8_ok(rest))
        return;
    gw_jbuf_key(jb, "url");
    gw_jbuf_str2(jb, IP_MEDIA_PATH_PREFIX, rest);
}

/* The "url" member of a variant (variant_url): its primary's address once
 * ready, else null. */
static void member_url(gw_jbuf *jb, const Imageproc__Variant *v)
{
    bool ready = v && v->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    member_key_url(jb, ready ? v->object_key : NULL);
}

/* variant_formats: {format: {url, size}} once ready, else {}. */
static void formats_write(gw_jbuf *jb, const Imageproc__Variant *v)
{
    gw_jbuf_open_object(jb);
    if (v && v->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY) {
        gw_file files[IP_FORMAT_COUNT];
        size_t n = gw_variant_files(v, files);
        for (size_t i = 0; i < n; i++) {
            gw_jbuf_key(jb, files[i].fmt->name);
            gw_jbuf_open_object(jb);
            member_key_url(jb, files[i].key);
            gw_jbuf_key(jb, "size");
            gw_jbuf_int(jb, files[i].size);
            gw_jbuf_close_object(jb);
        }
    }
    gw_jbuf_close_object(jb);
}

/* placeholder_json: {thumbhash, color} or null. */
static void placeholder_write(gw_jbuf *jb, const Imageproc__Image *img)
{
    if (!gw_image_has_placeholder(img)) {
        gw_jbuf_null(jb);
        return;
    }
    gw_jbuf_open_object(jb);
    gw_jbuf_key(jb, "thumbhash");
    gw_jbuf_str(jb, img->thumbhash);
    gw_jbuf_key(jb, "color");
    gw_jbuf_str(jb, img->dominant_color);
    gw_jbuf_close_object(jb);
}

/* variant_json: v NULL is a requested variant with no row yet (pending). */
static void variant_write(gw_jbuf *jb, const Imageproc__Variant *v)
{
    bool ready = v && v->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    Imageproc__VariantStatus st = v ? v->status : IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING;
    gw_jbuf_open_object(jb);
    gw_jbuf_key(jb, "status");
    gw_jbuf_str(jb, gw_variant_status_name(st));
    member_url(jb, v);
    gw_jbuf_key(jb, "width");
    if (ready)
        gw_jbuf_int(jb, v->width);
    else
        gw_jbuf_null(jb);
    gw_jbuf_key(jb, "height");
    if (ready)
        gw_jbuf_int(jb, v->height);
    else
        gw_jbuf_null(jb);
    gw_jbuf_key(jb, "size");
    if (ready)
        gw_jbuf_int(jb, v->size_bytes);
    else
        gw_jbuf_null(jb);
    gw_jbuf_key(jb, "format");
    if (ready)
        str_or_null(jb, v->format);
    else
        gw_jbuf_null(jb);
    gw_jbuf_key(jb, "error");
    if (v)
        str_or_null(jb, v->error);
    else
        gw_jbuf_null(jb);
    gw_jbuf_key(jb, "preset_version");
    gw_jbuf_int(jb, gw_variant_preset_version(v));
    gw_jbuf_key(jb, "stale");
    gw_jbuf_bool(jb, v && v->stale);
    gw_jbuf_key(jb, "formats");
    formats_write(jb, v);
    gw_jbuf_close_object(jb);
}

/* The last row of img whose kind is `kind`, or NULL. */
static const Imageproc__Variant *last_variant(const Imageproc__Image *img, ip_variant_kind kind)
{
    for (size_t i = img->n_variants; i-- > 0;)
        if (img->variants[i] && img->variants[i]->kind == kind)
            return img->variants[i];
    return NULL;
}

static void variants_write(gw_jbuf *jb, const Imageproc__Image *img, unsigned requested)
{
    /* Names already written, by kind: the table's kinds are few and small. */
    unsigned written = 0;
    gw_jbuf_open_object(jb);
    for (size_t i = 0; i < img->n_variants; i++) {
        const Imageproc__Variant *v = img->variants[i];
        const char *name = v ? ip_variant_name(v->kind) : NULL;
        if (!name || (written & ip_variant_bit(v->kind)))
            continue;
        written |= ip_variant_bit(v->kind);
        gw_jbuf_key(jb, name);
        variant_write(jb, last_variant(img, v->kind));
    }
    for (size_t i = 0; i < IP_VARIANT_COUNT; i++) {
        unsigned bit = ip_variant_bit(ip_variants[i].kind);
        if ((requested & bit) && !(written & bit)) {
            gw_jbuf_key(jb, ip_variants[i].name);
            variant_write(jb, NULL);
        }
    }
    gw_jbuf_close_object(jb);
}

/* The info's members, without the braces (an item adds its url). */
static void info_members(gw_jbuf *jb, const Imageproc__Image *img)
{
    member_str(jb, "id", img->id);
    gw_jbuf_key(jb, "status");
    gw_jbuf_str(jb, gw_image_status_name(img->status));
    gw_jbuf_key(jb, "created_at");
    time_value(jb, img->created_at_us);
    gw_jbuf_key(jb, "updated_at");
    time_value(jb, img->updated_at_us ? img->updated_at_us : img->created_at_us);
    gw_jbuf_key(jb, "filename");
    str_or_null(jb, img->filename);
    gw_jbuf_key(jb, "content_type");
    str_or_null(jb, img->content_type);
    gw_jbuf_key(jb, "size");
    gw_jbuf_int(jb, img->size_bytes);
    gw_jbuf_key(jb, "sha256");
    str_or_null(jb, img->sha256);
    gw_jbuf_key(jb, "width");
    gw_jbuf_int(jb, img->width);
    gw_jbuf_key(jb, "height");
    gw_jbuf_int(jb, img->height);
    gw_jbuf_key(jb, "error");
    str_or_null(jb, img->error);
    unsigned requested = ip_variant_mask_of(img->requested, img->n_requested);
    ip_variant_kind kinds[IP_VARIANT_COUNT];
    size_t n = ip_variant_mask_kinds(requested, kinds);
    gw_jbuf_key(jb, "ops");
    gw_jbuf_open_array(jb);
    for (size_t i = 0; i < n; i++)
        gw_jbuf_str(jb, ip_variant_name(kinds[i]));
    gw_jbuf_close_array(jb);
    gw_jbuf_key(jb, "placeholder");
    placeholder_write(jb, img);
    gw_jbuf_key(jb, "variants");
    variants_write(jb, img, requested);
}

void gw_image_info_write(gw_jbuf *jb, const Imageproc__Image *img)
{
    gw_jbuf_open_object(jb);
    info_members(jb, img);
    gw_jbuf_close_object(jb);
}

void gw_image_item_write(gw_jbuf *jb, const Imageproc__Image *img, ip_variant_kind mode)
{
    gw_jbuf_open_object(jb);
    info_members(jb, img);
    ip_variant_kind kind = mode != IP_VARIANT_NONE ? mode : gw_list_default_variant();
    member_url(jb, gw_image_variant(img, kind));
    gw_jbuf_close_object(jb);
}

void gw_images_page_write(gw_jbuf *jb, const Imageproc__ListImagesReply *rep, ip_variant_kind mode)
{
    gw_jbuf_open_object(jb);
    gw_jbuf_key(jb, "items");
    gw_jbuf_open_array(jb);
    for (size_t i = 0; i < rep->n_images; i++)
        gw_image_item_write(jb, rep->images[i], mode);
    gw_jbuf_close_array(jb);
    gw_jbuf_key(jb, "next");
    if (rep->has_more && rep->n_images > 0) {
        const Imageproc__Image *last = rep->images[rep->n_images - 1];
        gw_jbuf_open_object(jb);
        gw_jbuf_key(jb, "last_created_at");
        time_value(jb, last->created_at_us);
        gw_jbuf_key(jb, "last_id");
        if (!gw_jbuf_str(jb, last->id))
            jb->failed = true; /* json_pack refuses it, and so the page */
        gw_jbuf_close_object(jb);
    } else {
        gw_jbuf_null(jb);
    }
    gw_jbuf_close_object(jb);
}
