/* ip_admit_gif.c — the GIF walk: header, logical screen, colour table, then
 * blocks to the trailer.
 *
 * Each image descriptor is a frame (against the frame limit); its LZW data is
 * skipped by its sub-block lengths. Extensions other than graphic control
 * count against the chunk limit, and comment and application extensions
 * (XMP, ICC, NETSCAPE loops) against the metadata limit. The logical screen
 * gives the size. The trailer (0x3B) must end the file: bytes after it are
 * refused (polyglots); no trailer means the file was cut short.
 */
#include "ip_admit_internal.h"

/* Skips the sub-blocks at *off (size byte, data, ..., 0); their data size,
 * or -1 when they run past the end. */
static int64_t sub_blocks(const admit_ctx *c, size_t *off)
{
    int64_t total = 0;
    while (*off < c->len) {
        uint8_t n = c->p[(*off)++];
        if (n == 0)
            return total;
        if (c->len - *off < n)
            return -1;
        *off += n;
        total += n;
    }
    return -1;
}

static ip_status cut_short(admit_ctx *c)
{
    return admit_refuse(c, IP_INVALID_ARGUMENT, "truncated",
                        "the GIF ends before its trailer: the file is cut short");
}

static ip_status extension(admit_ctx *c, size_t *off)
{
    if (*off >= c->len)
        return cut_short(c);
    uint8_t label = c->p[(*off)++];
    ip_status st = label == 0xF9 ? IP_OK : admit_add_chunk(c, "extension blocks");
    if (st != IP_OK)
        return st;
    int64_t n = sub_blocks(c, off);
    if (n < 0)
        return cut_short(c);
    if (label == 0xFE || label == 0xFF)
        return admit_add_metadata(c, n, "comment and application extensions");
    return IP_OK;
}

static ip_status image(admit_ctx *c, size_t *off)
{
    ip_status st = admit_add_frame(c, "frames");
    if (st != IP_OK)
        return st;
    if (c->len - *off < 9)
        return cut_short(c);
    uint8_t flags = c->p[*off + 8];
    *off += 9;
    if (flags & 0x80) {
        size_t table = 3u << ((flags & 7) + 1);
        if (c->len - *off < table)
            return cut_short(c);
        *off += table;
    }
    if (*off >= c->len)
        return cut_short(c);
    (*off)++; /* LZW minimum code size */
    return sub_blocks(c, off) < 0 ? cut_short(c) : IP_OK;
}

ip_status ip_admit_gif(admit_ctx *c)
{
    if (c->len < 13)
        return cut_short(c);
    admit_set_size(c, admit_le16(c->p + 6), admit_le16(c->p + 8));
    size_t off = 13;
    uint8_t flags = c->p[10];
    if (flags & 0x80)
        off += 3u << ((flags & 7) + 1);
    for (;;) {
        if (off >= c->len)
            return cut_short(c);
        uint8_t b = c->p[off++];
        ip_status st = IP_OK;
        if (b == 0x21)
            st = extension(c, &off);
        else if (b == 0x2C)
            st = image(c, &off);
        else if (b == 0x3B)
            break;
        else
            return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed",
                                "the GIF has an unknown block 0x%02X at offset %zu", b, off - 1);
        if (st != IP_OK)
            return st;
    }
    if (c->out->frames == 0)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed", "the GIF has no image");
    return admit_end(c, off, 0, "the GIF", "its trailer");
}
