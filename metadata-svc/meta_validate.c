/* meta_validate.c — pure checks and mappings of the Metadata service.
 *
 * Each check returns IP_OK or IP_INVALID_ARGUMENT with a message that starts
 * with the name of the offending field ("image.id: not a UUID"), so a caller
 * can tell which part of its request to fix. Nothing here touches the
 * database; the store relies on these checks having passed (ids are UUIDs,
 * variant kinds known, times in range) but still passes every value as a
 * parameter. Where a message lists the variants a caller may ask for, the list
 * is made from the table of common/ip_variants.h.
 */
#include "meta_validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ip_access.h"
#include "ip_keys.h"
#include "ip_utf8.h"
#include "ip_uuid.h"

static const char *const image_status_text[] = {
    [IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING] = "pending",
    [IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING] = "processing",
    [IMAGEPROC__IMAGE_STATUS__IMAGE_READY] = "ready",
    [IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED] = "failed",
};

static const char *const variant_status_text[] = {
    [IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING] = "pending",
    [IMAGEPROC__VARIANT_STATUS__VARIANT_READY] = "ready",
    [IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED] = "failed",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static ip_status invalid(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static ip_status invalid(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return IP_INVALID_ARGUMENT;
}

/* Every variant's name, comma-separated, for messages. */
static const char *variant_list(char buf[IP_VARIANT_LIST_MAX])
{
    ip_variant_mask_format(IP_VARIANT_MASK_ALL, buf, IP_VARIANT_LIST_MAX);
    return buf;
}

/* "field: unknown variant (want thumbnail,resized,watermarked)". */
static ip_status unknown_variant(char *err, size_t errlen, const char *field)
{
    char names[IP_VARIANT_LIST_MAX];
    return invalid(err, errlen, "%s: unknown variant (want %s)", field, variant_list(names));
}

Imageproc__ImageStatus meta_image_status_parse(const char *s)
{
    for (size_t i = 1; s != NULL && i < NELEM(image_status_text); i++)
        if (strcmp(s, image_status_text[i]) == 0)
            return (Imageproc__ImageStatus)i;
    return IMAGEPROC__IMAGE_STATUS__IMAGE_STATUS_UNSPECIFIED;
}

const char *meta_image_status_text(Imageproc__ImageStatus st)
{
    if ((unsigned)st == 0 || (unsigned)st >= NELEM(image_status_text))
        return NULL;
    return image_status_text[st];
}

Imageproc__VariantStatus meta_variant_status_parse(const char *s)
{
    for (size_t i = 1; s != NULL && i < NELEM(variant_status_text); i++)
        if (strcmp(s, variant_status_text[i]) == 0)
            return (Imageproc__VariantStatus)i;
    return IMAGEPROC__VARIANT_STATUS__VARIANT_STATUS_UNSPECIFIED;
}

const char *meta_variant_status_text(Imageproc__VariantStatus st)
{
    if ((unsigned)st == 0 || (unsigned)st >= NELEM(variant_status_text))
        return NULL;
    return variant_status_text[st];
}

ip_status meta_check_text(const char *s, const char *field, char *err, size_t errlen)
{
    if (s == NULL)
        return IP_OK;
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (p[n] != 0) {
        if (n >= META_TEXT_MAX)
            return invalid(err, errlen, "%s: longer than %d bytes", field, META_TEXT_MAX);
        size_t len = ip_utf8_seq(p + n, strnlen(s + n, 4));
        if (len == 0)
            return invalid(err, errlen, "%s: not valid UTF-8", field);
        n += len;
    }
    return IP_OK;
}

ip_status meta_check_requested(const Imageproc__VariantKind *kinds, size_t n, const char *field,
                               unsigned *mask, char *err, size_t errlen)
{
    *mask = 0;
    char names[IP_VARIANT_LIST_MAX];
    if (n == 0)
        return invalid(err, errlen, "%s: at least one of %s", field, variant_list(names));
    unsigned m = 0;
    for (size_t i = 0; i < n; i++) {
        if (ip_variant_get(kinds[i]) == NULL)
            return unknown_variant(err, errlen, field);
        m |= ip_variant_bit(kinds[i]);
    }
    *mask = m;
    return IP_OK;
}

ip_status meta_check_id(const char *id, const char *field, char *err, size_t errlen)
{
    if (id == NULL || id[0] == '\0')
        return invalid(err, errlen, "%s: required", field);
    if (!ip_uuid_valid(id))
        return invalid(err, errlen, "%s: not a UUID", field);
    return IP_OK;
}

ip_status meta_check_list(int64_t last_created_at_us, const char *last_id,
                          Imageproc__VariantKind with_variant, int32_t limit, bool *has_cursor,
                          char *err, size_t errlen)
{
    bool id_set = last_id != NULL && last_id[0] != '\0';
    *has_cursor = false;
    if (with_variant != IP_VARIANT_NONE && ip_variant_get(with_variant) == NULL)
        return unknown_variant(err, errlen, "with_variant");
    if (limit < 1 || limit > META_LIST_MAX)
        return invalid(err, errlen, "limit: must be 1..%d", META_LIST_MAX);
    if (!id_set && last_created_at_us == 0)
        return IP_OK;
    if (!id_set)
        return invalid(err, errlen, "last_id: required with last_created_at_us");
    if (last_created_at_us == 0)
        return invalid(err, errlen, "last_created_at_us: required with last_id");
    if (!ip_uuid_valid(last_id))
        return invalid(err, errlen, "last_id: not a UUID");
    if (last_created_at_us < 0 || last_created_at_us > META_MAX_US)
        return invalid(err, errlen, "last_created_at_us: out of range");
    *has_cursor = true;
    return IP_OK;
}

ip_status meta_check_create(const Imageproc__Image *img, unsigned *requested, char *err,
                            size_t errlen)
{
    ip_status st;
    *requested = 0;
    if (img == NULL)
        return invalid(err, errlen, "image: required");
    if ((st = meta_check_id(img->id, "image.id", err, errlen)) != IP_OK)
        return st;
    if (img->created_at_us < 0 || img->created_at_us > META_MAX_US)
        return invalid(err, errlen, "image.created_at_us: out of range");
    if (img->size_bytes < 0)
        return invalid(err, errlen, "image.size_bytes: negative");
    if (img->width < 0)
        return invalid(err, errlen, "image.width: negative");
    if (img->height < 0)
        return invalid(err, errlen, "image.height: negative");
    if ((st = meta_check_text(img->filename, "image.filename", err, errlen)) != IP_OK ||
        (st = meta_check_text(img->content_type, "image.content_type", err, errlen)) != IP_OK ||
        (st = meta_check_text(img->sha256, "image.sha256", err, errlen)) != IP_OK ||
        (st = meta_check_text(img->original_key, "image.original_key", err, errlen)) != IP_OK ||
        (st = meta_check_hash(img->owner_hash, "image.owner_hash", true, err, errlen)) != IP_OK)
        return st;
    if (img->key_id != NULL && img->key_id[0] != '\0' && !ip_uuid_valid(img->key_id))
        return invalid(err, errlen, "image.key_id: not a UUID");
    return meta_check_requested(img->requested, img->n_requested, "image.requested", requested, err,
                                errlen);
}

ip_status meta_check_idempotency_key(const char *scope, const char *key, const char *prefix,
                                     char *err, size_t errlen)
{
    if (scope != NULL && scope[0] != '\0' && !ip_uuid_valid(scope))
        return invalid(err, errlen, "%sscope: not a UUID", prefix);
    size_t n = key != NULL ? strnlen(key, META_IDEM_KEY_MAX + 1) : 0;
    if (n == 0)
        return invalid(err, errlen, "%skey: required", prefix);
    if (n > META_IDEM_KEY_MAX)
        return invalid(err, errlen, "%skey: longer than %d bytes", prefix, META_IDEM_KEY_MAX);
    for (size_t i = 0; i < n; i++)
        if (key[i] < 0x21 || key[i] > 0x7e)
            return invalid(err, errlen, "%skey: want visible ASCII (0x21..0x7e)", prefix);
    return IP_OK;
}

/* Both "" (NULL too), or both the same UUID in any case. */
static bool same_key_id(const char *a, const char *b)
{
    bool a_set = a != NULL && a[0] != '\0', b_set = b != NULL && b[0] != '\0';
    if (!a_set || !b_set)
        return a_set == b_set;
    ip_uuid ua, ub;
    return ip_uuid_parse(a, &ua) && ip_uuid_parse(b, &ub) && memcmp(ua.b, ub.b, sizeof(ua.b)) == 0;
}

/* CreateImage's idempotency record against its image (checked before). */
static ip_status check_record(const Imageproc__IdempotencyRecord *rec, const Imageproc__Image *img,
                              char *err, size_t errlen)
{
    ip_status st;
    if ((st = meta_check_idempotency_key(rec->scope, rec->key, "idempotency.", err, errlen)) !=
        IP_OK)
        return st;
    if (!same_key_id(rec->scope, img->key_id))
        return invalid(err, errlen, "idempotency.scope: must equal image.key_id");
    if ((st = meta_check_hash(rec->request_sha256, "idempotency.request_sha256", false, err,
                              errlen)) != IP_OK)
        return st;
    if (img->sha256 == NULL || strcmp(rec->request_sha256, img->sha256) != 0)
        return invalid(err, errlen, "idempotency.request_sha256: must equal image.sha256");
    if (rec->status < 200 || rec->status > 299)
        return invalid(err, errlen, "idempotency.status: must be 200..299");
    if (rec->response.len == 0 || rec->response.len > META_IDEM_RESPONSE_MAX)
        return invalid(err, errlen, "idempotency.response: must be 1..%d bytes",
                       META_IDEM_RESPONSE_MAX);
    if (rec->image_id != NULL && rec->image_id[0] != '\0' && !same_key_id(rec->image_id, img->id))
        return invalid(err, errlen, "idempotency.image_id: must be empty or image.id");
    return IP_OK;
}

ip_status meta_check_create_request(const Imageproc__CreateImageRequest *req, unsigned *requested,
                                    char *err, size_t errlen)
{
    ip_status st;
    *requested = 0;
    const Imageproc__Image *img = req != NULL ? req->image : NULL;
    if ((st = meta_check_create(img, requested, err, errlen)) != IP_OK)
        return st;
    if (req->dedupe) {
        if (img->key_id == NULL || img->key_id[0] == '\0')
            return invalid(err, errlen, "dedupe: needs image.key_id");
        if ((st = meta_check_hash(img->sha256, "image.sha256", false, err, errlen)) != IP_OK)
            return st;
    }
    if (req->idempotency != NULL &&
        (st = check_record(req->idempotency, img, err, errlen)) != IP_OK)
        return st;
    return IP_OK;
}

ip_status meta_check_list_filters(const char *sha256, const char *key_id, char *err, size_t errlen)
{
    ip_status st = meta_check_hash(sha256, "sha256", true, err, errlen);
    if (st != IP_OK)
        return st;
    if (key_id != NULL && key_id[0] != '\0' && !ip_uuid_valid(key_id))
        return invalid(err, errlen, "key_id: not a UUID");
    return IP_OK;
}

ip_status meta_check_hash(const char *hash, const char *field, bool may_be_empty, char *err,
                          size_t errlen)
{
    if (hash == NULL || hash[0] == '\0')
        return may_be_empty ? IP_OK : invalid(err, errlen, "%s: required", field);
    size_t n = strspn(hash, "0123456789abcdef");
    if (n != 64 || hash[n] != '\0')
        return invalid(err, errlen, "%s: want 64 lowercase hex digits (a SHA-256)", field);
    return IP_OK;
}

/* ApiKey.scopes: at least one, each known and given once; the set into *mask. */
static ip_status check_scopes(const Imageproc__ApiScope *scopes, size_t n, uint32_t *mask,
                              char *err, size_t errlen)
{
    uint32_t m = 0;
    if (n == 0)
        return invalid(err, errlen, "key.scopes: at least one of read, upload, delete, admin");
    for (size_t i = 0; i < n; i++) {
        const char *name = ip_scope_name(scopes[i]);
        if (name == NULL)
            return invalid(err, errlen, "key.scopes: unknown scope %d", (int)scopes[i]);
        if (m & (1u << scopes[i]))
            return invalid(err, errlen, "key.scopes: %s given twice", name);
        m |= 1u << scopes[i];
    }
    *mask = m;
    return IP_OK;
}

ip_status meta_check_api_key(const Imageproc__CreateApiKeyRequest *req, uint32_t *scopes, char *err,
                             size_t errlen)
{
    ip_status st;
    *scopes = 0;
    const Imageproc__ApiKey *k = req != NULL ? req->key : NULL;
    if (k == NULL)
        return invalid(err, errlen, "key: required");
    if ((st = meta_check_id(k->id, "key.id", err, errlen)) != IP_OK)
        return st;
    if (k->name == NULL || k->name[0] == '\0')
        return invalid(err, errlen, "key.name: required");
    if (strlen(k->name) > META_KEY_NAME_MAX)
        return invalid(err, errlen, "key.name: longer than %d bytes", META_KEY_NAME_MAX);
    if ((st = meta_check_text(k->name, "key.name", err, errlen)) != IP_OK)
        return st;
    if (k->prefix == NULL ||
        strncmp(k->prefix, IP_API_KEY_PREFIX, sizeof(IP_API_KEY_PREFIX) - 1) != 0)
        return invalid(err, errlen, "key.prefix: must start with %s", IP_API_KEY_PREFIX);
    if (strlen(k->prefix) > META_KEY_PREFIX_MAX)
        return invalid(err, errlen, "key.prefix: longer than %d bytes", META_KEY_PREFIX_MAX);
    if ((st = meta_check_text(k->prefix, "key.prefix", err, errlen)) != IP_OK ||
        (st = meta_check_hash(req->hash, "hash", false, err, errlen)) != IP_OK)
        return st;
    return check_scopes(k->scopes, k->n_scopes, scopes, err, errlen);
}

/* The key a file of `format` of the variant must have. */
static ip_status want_key(const char *image_id, const Imageproc__Variant *v,
                          const ip_format_def *fmt, char key[IP_KEY_MAX])
{
    return ip_key_variant_version(key, image_id, v->kind, fmt, v->preset_version);
}

/* A ready variant's files (see meta_check_variant). */
static ip_status check_files(const char *image_id, const Imageproc__Variant *v, char *err,
                             size_t errlen)
{
    char key[IP_KEY_MAX];
    if (v->n_files == 0)
        return IP_OK;
    if (v->n_files > IP_FORMAT_COUNT)
        return invalid(err, errlen, "variant.files: at most %d", IP_FORMAT_COUNT);
    if (v->preset_version < 1)
        return invalid(err, errlen, "variant.preset_version: must be at least 1 with files");
    const Imageproc__VariantFile *p = v->files[0];
    if (p == NULL || p->format == NULL || p->object_key == NULL ||
        strcmp(p->format, v->format) != 0 || strcmp(p->object_key, v->object_key) != 0 ||
        p->size_bytes != v->size_bytes)
        return invalid(err, errlen,
                       "variant.files[0]: must be the primary (format, object_key, size_bytes)");
    unsigned seen = 0;
    for (size_t i = 1; i < v->n_files; i++) {
        const Imageproc__VariantFile *f = v->files[i];
        const ip_format_def *fmt = f != NULL ? ip_format_by_name(f->format) : NULL;
        if (fmt == NULL || ip_format_is_primary(fmt))
            return invalid(err, errlen, "variant.files[%zu].format: webp or avif after the primary",
                           i);
        unsigned bit = 1u << (unsigned)fmt->preference;
        if (seen & bit)
            return invalid(err, errlen, "variant.files[%zu].format: %s given twice", i, fmt->name);
        seen |= bit;
        if (f->size_bytes <= 0)
            return invalid(err, errlen, "variant.files[%zu].size_bytes: must be positive", i);
        if (want_key(image_id, v, fmt, key) != IP_OK || f->object_key == NULL ||
            strcmp(f->object_key, key) != 0)
            return invalid(err, errlen, "variant.files[%zu].object_key: want %s", i, key);
    }
    return IP_OK;
}

/* A ready variant's own fields and files. */
static ip_status check_ready(const char *image_id, const Imageproc__Variant *v, char *err,
                             size_t errlen)
{
    char key[IP_KEY_MAX];
    if (v->object_key == NULL || v->object_key[0] == '\0')
        return invalid(err, errlen, "variant.object_key: required when ready");
    if (v->width <= 0)
        return invalid(err, errlen, "variant.width: must be positive when ready");
    if (v->height <= 0)
        return invalid(err, errlen, "variant.height: must be positive when ready");
    if (v->size_bytes <= 0)
        return invalid(err, errlen, "variant.size_bytes: must be positive when ready");
    const ip_format_def *fmt = ip_format_by_name(v->format);
    if (!ip_format_is_primary(fmt))
        return invalid(err, errlen, "variant.format: must be jpeg or png when ready");
    if (v->preset_version < 0)
        return invalid(err, errlen, "variant.preset_version: negative");
    if (want_key(image_id, v, fmt, key) != IP_OK || strcmp(v->object_key, key) != 0)
        return invalid(err, errlen, "variant.object_key: want %s", key);
    return check_files(image_id, v, err, errlen);
}

ip_status meta_check_variant(const char *image_id, const Imageproc__Variant *v, char *err,
                             size_t errlen)
{
    if (v == NULL)
        return invalid(err, errlen, "variant: required");
    if (ip_variant_get(v->kind) == NULL)
        return unknown_variant(err, errlen, "variant.kind");
    ip_status st;
    if ((st = meta_check_text(v->object_key, "variant.object_key", err, errlen)) != IP_OK ||
        (st = meta_check_text(v->error, "variant.error", err, errlen)) != IP_OK)
        return st;
    switch (v->status) {
    case IMAGEPROC__VARIANT_STATUS__VARIANT_READY:
        return check_ready(image_id, v, err, errlen);
    case IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED:
        if (v->n_files > 0)
            return invalid(err, errlen, "variant.files: only when ready");
        return IP_OK;
    default:
        return invalid(err, errlen, "variant.status: must be ready or failed");
    }
}

ip_status meta_check_finish(const char *image_id, Imageproc__Variant *const *variants, size_t n,
                            bool regenerate, char *err, size_t errlen)
{
    if (n > IP_VARIANT_COUNT)
        return invalid(err, errlen, "variants: at most %d", IP_VARIANT_COUNT);
    unsigned seen = 0;
    for (size_t i = 0; i < n; i++) {
        char why[256];
        if (meta_check_variant(image_id, variants[i], why, sizeof(why)) != IP_OK) {
            static const char field[] = "variant.";
            if (strncmp(why, field, sizeof(field) - 1) == 0)
                return invalid(err, errlen, "variants[%zu].%s", i, why + sizeof(field) - 1);
            return invalid(err, errlen, "variants[%zu]: %s", i, why);
        }
        if (regenerate && variants[i]->status != IMAGEPROC__VARIANT_STATUS__VARIANT_READY)
            return invalid(err, errlen, "variants[%zu].status: must be ready when regenerating",
                           i);
        unsigned bit = ip_variant_bit(variants[i]->kind);
        if (seen & bit)
            return invalid(err, errlen, "variants[%zu].kind: %s given twice", i,
                           ip_variant_name(variants[i]->kind));
        seen |= bit;
    }
    return IP_OK;
}

static bool is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

ip_status meta_check_placeholder(const char *thumbhash, const char *dominant_color, char *err,
                                 size_t errlen)
{
    size_t n = thumbhash != NULL ? strnlen(thumbhash, META_THUMBHASH_MAX + 1) : 0;
    if (n > META_THUMBHASH_MAX)
        return invalid(err, errlen, "thumbhash: longer than %d characters", META_THUMBHASH_MAX);
    size_t body = n;
    while (body > 0 && n - body < 2 && thumbhash[body - 1] == '=')
        body--;
    bool ok = n % 4 == 0;
    for (size_t i = 0; ok && i < body; i++)
        ok = is_b64(thumbhash[i]);
    if (!ok || (n > 0 && body == 0))
        return invalid(err, errlen, "thumbhash: want standard base64 with padding");
    if (dominant_color == NULL || dominant_color[0] == '\0')
        return IP_OK;
    if (dominant_color[0] != '#' || strlen(dominant_color) != 7 ||
        strspn(dominant_color + 1, "0123456789abcdef") != 6)
        return invalid(err, errlen, "dominant_color: want #rrggbb (lowercase hex)");
    return IP_OK;
}

ip_status meta_check_regenerate(const Imageproc__ListRegenerateRequest *req, char *err,
                                size_t errlen)
{
    if (req->limit < 1 || req->limit > META_REGEN_MAX)
        return invalid(err, errlen, "limit: must be 1..%d", META_REGEN_MAX);
    if (req->n_ids > META_REGEN_MAX)
        return invalid(err, errlen, "ids: at most %d", META_REGEN_MAX);
    for (size_t i = 0; i < req->n_ids; i++)
        if (req->ids[i] == NULL || !ip_uuid_valid(req->ids[i]))
            return invalid(err, errlen, "ids[%zu]: not a UUID", i);
    if (req->after_id != NULL && req->after_id[0] != '\0' && !ip_uuid_valid(req->after_id))
        return invalid(err, errlen, "after_id: not a UUID");
    return IP_OK;
}

ip_status meta_check_claim(int32_t limit, int64_t claim_ms, char *err, size_t errlen)
{
    if (limit < 1 || limit > META_SWEEP_MAX)
        return invalid(err, errlen, "limit: must be 1..%d", META_SWEEP_MAX);
    if (claim_ms < 0 || claim_ms > META_CLAIM_MAX_MS)
        return invalid(err, errlen, "claim_ms: must be 0..%lld", (long long)META_CLAIM_MAX_MS);
    return IP_OK;
}

ip_status meta_check_stale(int64_t older_than_us, int64_t enqueued_older_than_us, int32_t limit,
                           int64_t claim_ms, char *err, size_t errlen)
{
    if (older_than_us < 0 || older_than_us > META_MAX_US)
        return invalid(err, errlen, "older_than_us: out of range");
    if (enqueued_older_than_us < 0 || enqueued_older_than_us > META_MAX_US)
        return invalid(err, errlen, "enqueued_older_than_us: out of range");
    return meta_check_claim(limit, claim_ms, err, errlen);
}

ip_status meta_check_lease(int64_t lease_ms, char *err, size_t errlen)
{
    if (lease_ms < 0 || lease_ms > META_LEASE_MAX_MS)
        return invalid(err, errlen, "lease_ms: must be 0..%lld", (long long)META_LEASE_MAX_MS);
    return IP_OK;
}
