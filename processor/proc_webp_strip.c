/* proc_webp_strip.c — WebP metadata chunks removed (proc_webp_strip.h).
 *
 * A WebP file is "RIFF" <size> "WEBP" then chunks, each a four-letter tag,
 * a little-endian 32-bit payload size and the payload, padded to an even
 * length. The chunks are first checked end to end (each within the file's
 * declared size), then every one but "EXIF", "XMP " and "ICCP" is moved
 * down over the removed ones; the "VP8X" header's ICC (0x20), EXIF (0x08)
 * and XMP (0x04) flags are cleared and the RIFF size rewritten.
 */
#include "proc_webp_strip.h"

#include <string.h>

#define VP8X_ICC 0x20
#define VP8X_EXIF 0x08
#define VP8X_XMP 0x04

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static int is_metadata(const uint8_t *tag)
{
    return memcmp(tag, "EXIF", 4) == 0 || memcmp(tag, "XMP ", 4) == 0 ||
           memcmp(tag, "ICCP", 4) == 0;
}

int proc_webp_strip(uint8_t *buf, size_t *len)
{
    size_t n = *len;
    if (n < 12 || memcmp(buf, "RIFF", 4) != 0 || memcmp(buf + 8, "WEBP", 4) != 0)
        return -1;
    size_t end = (size_t)le32(buf + 4) + 8;
    if (end > n || end < 12)
        return -1;
    for (size_t at = 12; at < end;) {
        if (end - at < 8)
            return -1;
        size_t size = le32(buf + at + 4), whole = 8 + size + (size & 1);
        if (size > end - at - 8 || whole > end - at)
            return -1;
        at += whole;
    }
    size_t out = 12;
    for (size_t at = 12; at < end;) {
        size_t size = le32(buf + at + 4), whole = 8 + size + (size & 1);
        if (!is_metadata(buf + at)) {
            if (memcmp(buf + at, "VP8X", 4) == 0 && size >= 1)
                buf[at + 8] &= (uint8_t) ~(VP8X_ICC | VP8X_EXIF | VP8X_XMP);
            memmove(buf + out, buf + at, whole);
            out += whole;
        }
        at += whole;
    }
    put_le32(buf + 4, (uint32_t)(out - 8));
    *len = out;
    return 0;
}
