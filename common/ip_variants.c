/* ip_variants.c — the variant and format tables (see ip_variants.h). */
#include "ip_variants.h"

#include <string.h>

const ip_variant_def ip_variants[IP_VARIANT_COUNT] = {
    {IP_VARIANT_THUMBNAIL, "thumbnail", "Thumbnail", 1},
    {IP_VARIANT_RESIZED, "resized", "Resized", 2},
    {IP_VARIANT_WATERMARKED, "watermarked", "Watermarked", 3},
};

const ip_format_def ip_format_jpeg = {"jpeg", "jpg", "image/jpeg", 0};
const ip_format_def ip_format_png = {"png", "png", "image/png", 0};
const ip_format_def ip_format_webp = {"webp", "webp", "image/webp", 1};
const ip_format_def ip_format_avif = {"avif", "avif", "image/avif", 2};
const ip_format_def *const ip_formats[IP_FORMAT_COUNT] = {&ip_format_jpeg, &ip_format_png,
                                                         &ip_format_webp, &ip_format_avif};
#define formats ip_formats

const ip_variant_def *ip_variant_get(ip_variant_kind kind)
{
    if ((int)kind < 1 || (int)kind > IP_VARIANT_COUNT)
        return NULL;
    return &ip_variants[(int)kind - 1];
}

const char *ip_variant_name(ip_variant_kind kind)
{
    const ip_variant_def *d = ip_variant_get(kind);
    return d ? d->name : NULL;
}

ip_variant_kind ip_variant_parse(const char *name, size_t len)
{
    if (name == NULL)
        return IP_VARIANT_NONE;
    for (size_t i = 0; i < IP_VARIANT_COUNT; i++)
        if (strlen(ip_variants[i].name) == len && memcmp(ip_variants[i].name, name, len) == 0)
            return ip_variants[i].kind;
    return IP_VARIANT_NONE;
}

ip_status ip_variant_mask_parse(const char *text, unsigned *mask, const char **bad)
{
    *mask = 0;
    if (bad)
        *bad = NULL;
    if (text == NULL || *text == '\0')
        return IP_OK;
    const char *p = text;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        ip_variant_kind k = ip_variant_parse(p, len);
        if (k == IP_VARIANT_NONE) {
            if (bad)
                *bad = p;
            *mask = 0;
            return IP_INVALID_ARGUMENT;
        }
        *mask |= ip_variant_bit(k);
        if (end == NULL)
            return IP_OK;
        p = end + 1;
    }
}

size_t ip_variant_mask_format(unsigned mask, char *buf, size_t n)
{
    size_t len = 0;
    if (n == 0)
        return 0;
    buf[0] = '\0';
    for (size_t i = 0; i < IP_VARIANT_COUNT; i++) {
        if (!(mask & ip_variant_bit(ip_variants[i].kind)))
            continue;
        size_t nl = strlen(ip_variants[i].name);
        if (len + (len ? 1 : 0) + nl + 1 > n)
            break;
        if (len)
            buf[len++] = ',';
        memcpy(buf + len, ip_variants[i].name, nl + 1);
        len += nl;
    }
    return len;
}

size_t ip_variant_mask_kinds(unsigned mask, ip_variant_kind *out)
{
    size_t n = 0;
    for (size_t i = 0; i < IP_VARIANT_COUNT; i++)
        if (mask & ip_variant_bit(ip_variants[i].kind))
            out[n++] = ip_variants[i].kind;
    return n;
}

unsigned ip_variant_mask_of(const ip_variant_kind *kinds, size_t n)
{
    unsigned mask = 0;
    for (size_t i = 0; i < n; i++)
        if (ip_variant_get(kinds[i]))
            mask |= ip_variant_bit(kinds[i]);
    return mask;
}

const ip_format_def *ip_format_by_name(const char *name)
{
    for (size_t i = 0; name && i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i]->name, name) == 0)
            return formats[i];
    return NULL;
}

const ip_format_def *ip_format_by_ext(const char *ext)
{
    for (size_t i = 0; ext && i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i]->ext, ext) == 0)
            return formats[i];
    return NULL;
}
