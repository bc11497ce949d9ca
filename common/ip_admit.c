/* ip_admit.c — the type from the magic bytes, then the walk of its container.
 *
 * ip_img_sniff() looks at magic numbers only (never a name or a declared
 * Content-Type). ISO-BMFF files (AVIF, HEIC) are told apart by the `ftyp` box:
 * the major brand, then the compatible brands (an AVIF may carry "mif1" as
 * major brand and "avif" among the compatible ones); whether the major brand
 * is acceptable is the walk's decision (ip_admit_bmff.c), so a file that only
 * lists an image brand among others is refused with a reason, not a 415.
 * ip_admit_check() then runs the walk of that type (ip_admit_<container>.c),
 * and last compares the declared width x height with the pixel limit.
 */
#include "ip_admit.h"
#include "ip_admit_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The same figures as the defaults of IP_ADMIT_* in ip_settings.h. */
void ip_admit_limits_default(ip_admit_limits *lim)
{
    lim->metadata_bytes = 4194304;
    lim->chunks = 1000;
    lim->scans = 100;
    lim->frames = 1000;
    lim->pixels = 100000000;
}

/* 1 = AVIF, 2 = HEIC, 3 = either (the generic still/sequence brands). */
static int brand_kind(const uint8_t *b)
{
    if (!memcmp(b, "avif", 4) || !memcmp(b, "avis", 4))
        return 1;
    if (!memcmp(b, "heic", 4) || !memcmp(b, "heix", 4) || !memcmp(b, "hevc", 4) ||
        !memcmp(b, "hevx", 4) || !memcmp(b, "heim", 4) || !memcmp(b, "heis", 4))
        return 2;
    if (!memcmp(b, "mif1", 4) || !memcmp(b, "msf1", 4))
        return 3;
    return 0;
}

static ip_img_type sniff_ftyp(const uint8_t *p, size_t len)
{
    if (len < 16 || memcmp(p + 4, "ftyp", 4) != 0)
        return IP_IMG_NONE;
    size_t box = admit_be32(p);
    if (box < 16 || box > 4096)
        return IP_IMG_NONE;
    if (box > len)
        box = len;
    int major = brand_kind(p + 8);
    if (major == 1)
        return IP_IMG_AVIF;
    if (major == 2)
        return IP_IMG_HEIC;
    bool generic = major == 3, heic = false;
    for (size_t off = 16; off + 4 <= box; off += 4) {
        int k = brand_kind(p + off);
        if (k == 1)
            return IP_IMG_AVIF;
        heic |= k == 2;
        generic |= k == 3;
    }
    return heic || generic ? IP_IMG_HEIC : IP_IMG_NONE;
}

ip_img_type ip_img_sniff(const void *data, size_t len)
{
    const uint8_t *p = data;
    if (!p || len < 4)
        return IP_IMG_NONE;
    if (p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
        return IP_IMG_JPEG;
    if (len >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
        return IP_IMG_PNG;
    if (len >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
        return IP_IMG_WEBP;
    if (len >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6)))
        return IP_IMG_GIF;
    if (!memcmp(p, "II*\0", 4) || !memcmp(p, "MM\0*", 4))
        return IP_IMG_TIFF;
    return sniff_ftyp(p, len);
}

static const struct {
    const char *mime, *loader, *name;
} img_types[] = {
    [IP_IMG_JPEG] = {"image/jpeg", "jpegload_buffer", "JPEG"},
    [IP_IMG_PNG] = {"image/png", "pngload_buffer", "PNG"},
    [IP_IMG_WEBP] = {"image/webp", "webpload_buffer", "WebP"},
    [IP_IMG_GIF] = {"image/gif", "gifload_buffer", "GIF"},
    [IP_IMG_AVIF] = {"image/avif", "heifload_buffer", "AVIF"},
    [IP_IMG_HEIC] = {"image/heic", "heifload_buffer", "HEIC"},
    [IP_IMG_TIFF] = {"image/tiff", "tiffload_buffer", "TIFF"},
};

static bool type_known(ip_img_type t)
{
    return t > IP_IMG_NONE && t <= IP_IMG_TIFF;
}

const char *ip_img_mime(ip_img_type t)
{
    return type_known(t) ? img_types[t].mime : NULL;
}

const char *ip_img_loader(ip_img_type t)
{
    return type_known(t) ? img_types[t].loader : NULL;
}

ip_status admit_refuse(admit_ctx *c, ip_status st, const char *reason, const char *fmt, ...)
{
    c->out->reason = reason;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->out->detail, sizeof c->out->detail, fmt, ap);
    va_end(ap);
    return st;
}

void admit_size_text(int64_t n, char *buf, size_t len)
{
    if (n >= (1LL << 20))
        snprintf(buf, len, "%.1f MiB", (double)n / (1 << 20));
    else if (n >= (1LL << 10))
        snprintf(buf, len, "%.1f KiB", (double)n / (1 << 10));
    else
        snprintf(buf, len, "%lld bytes", (long long)n);
}

ip_status admit_add_metadata(admit_ctx *c, int64_t n, const char *what)
{
    c->out->metadata_bytes += n;
    if (c->out->metadata_bytes <= c->lim->metadata_bytes)
        return IP_OK;
    char lim[32];
    admit_size_text(c->lim->metadata_bytes, lim, sizeof lim);
    return admit_refuse(c, IP_RESOURCE_EXHAUSTED, "metadata_too_large",
                        "the %s carries more metadata than the limit of %s (counting %s)",
                        c->type_name, lim, what);
}

ip_status admit_add_chunk(admit_ctx *c, const char *what)
{
    if (++c->chunks <= c->lim->chunks)
        return IP_OK;
    return admit_refuse(c, IP_RESOURCE_EXHAUSTED, "too_many_chunks",
                        "the %s has more than %lld %s, over the limit", c->type_name,
                        (long long)c->lim->chunks, what);
}

ip_status admit_add_frame(admit_ctx *c, const char *what)
{
    if (++c->out->frames <= c->lim->frames)
        return IP_OK;
    return admit_refuse(c, IP_RESOURCE_EXHAUSTED, "too_many_frames",
                        "the %s has more than %lld %s, over the limit", c->type_name,
                        (long long)c->lim->frames, what);
}

ip_status admit_add_scan(admit_ctx *c)
{
    if (++c->scans <= c->lim->scans)
        return IP_OK;
    return admit_refuse(c, IP_RESOURCE_EXHAUSTED, "too_many_scans",
                        "the JPEG has more than %lld scans (each one repeats the decode of the "
                        "whole picture), over the limit",
                        (long long)c->lim->scans);
}

ip_status admit_end(admit_ctx *c, uint64_t end, uint64_t slack, const char *what,
                    const char *where)
{
    if (c->len <= end + slack)
        return IP_OK;
    return admit_refuse(c, IP_INVALID_ARGUMENT, "trailing_data",
                        "%s is followed by %llu more bytes after %s; a file that is two things "
                        "at once is refused",
                        what, (unsigned long long)(c->len - end), where);
}

void admit_set_size(admit_ctx *c, int64_t w, int64_t h)
{
    if (c->out->width || c->out->height)
        return;
    c->out->width = w > INT32_MAX ? INT32_MAX : (int)w;
    c->out->height = h > INT32_MAX ? INT32_MAX : (int)h;
}

static ip_status check_pixels(admit_ctx *c)
{
    int64_t w = c->out->width, h = c->out->height, px = w * h;
    if (c->lim->pixels <= 0 || px <= c->lim->pixels)
        return IP_OK;
    return admit_refuse(c, IP_RESOURCE_EXHAUSTED, "pixel_limit",
                        "the image is %lldx%lld = %lld pixels, over the limit of %lld; scale it "
                        "down first",
                        (long long)w, (long long)h, (long long)px, (long long)c->lim->pixels);
}

static ip_status walk(admit_ctx *c)
{
    switch (c->out->type) {
    case IP_IMG_PNG:
        return ip_admit_png(c);
    case IP_IMG_JPEG:
        return ip_admit_jpeg(c);
    case IP_IMG_GIF:
        return ip_admit_gif(c);
    case IP_IMG_WEBP:
        return ip_admit_riff(c);
    case IP_IMG_TIFF:
        return ip_admit_tiff(c);
    case IP_IMG_AVIF:
    case IP_IMG_HEIC:
        return ip_admit_bmff(c);
    case IP_IMG_NONE:
    default:
        return IP_INTERNAL;
    }
}

ip_status ip_admit_check(const void *data, size_t len, const ip_admit_limits *lim,
                         ip_admit_result *out)
{
    memset(out, 0, sizeof *out);
    out->type = ip_img_sniff(data, len);
    admit_ctx c = {.p = data, .len = len, .lim = lim, .out = out};
    if (out->type == IP_IMG_NONE)
        return admit_refuse(&c, IP_INVALID_ARGUMENT, "unsupported_type",
                            "the file is not a supported image: JPEG, PNG, WebP, GIF, AVIF, HEIC "
                            "or TIFF (the type is read from the bytes, not the name or "
                            "Content-Type)");
    c.type_name = img_types[out->type].name;
    ip_status st = walk(&c);
    if (st == IP_OK)
        st = check_pixels(&c);
    if (st == IP_OK && out->frames == 0)
        out->frames = 1;
    return st;
}
