/* ip_admit_riff.c — the WebP walk: the RIFF size, then every chunk.
 *
 * The RIFF size must match the file (a pad byte to an even length aside):
 * more is trailing data (polyglots), less is a file cut short. Chunks are
 * walked by their sizes (padded to even) and must fit in the RIFF: VP8X gives
 * the canvas size, else the VP8 or VP8L bitstream header does; ANMF chunks
 * are frames (against the frame limit; their inner chunks are not walked);
 * ICCP, EXIF and XMP count against the metadata limit; every other chunk
 * against the chunk limit.
 */
#include "ip_admit_internal.h"

#include <string.h>

static ip_status bitstream_size(admit_ctx *c, const uint8_t *t, const uint8_t *d, uint32_t n)
{
    if (!memcmp(t, "VP8X", 4)) {
        if (n < 10)
            return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed",
                                "the WebP extended header (VP8X) is too short");
        admit_set_size(c, (int64_t)admit_le24(d + 4) + 1, (int64_t)admit_le24(d + 7) + 1);
    } else if (!memcmp(t, "VP8 ", 4)) {
        if (n < 10 || memcmp(d + 3, "\x9d\x01\x2a", 3) != 0)
            return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed",
                                "the WebP lossy bitstream (VP8) has no valid frame header");
        admit_set_size(c, admit_le16(d + 6) & 0x3FFF, admit_le16(d + 8) & 0x3FFF);
    } else {
        if (n < 5 || d[0] != 0x2F)
            return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed",
                                "the WebP lossless bitstream (VP8L) has no valid header");
        uint32_t bits = admit_le32(d + 1);
        admit_set_size(c, (int64_t)(bits & 0x3FFF) + 1, (int64_t)((bits >> 14) & 0x3FFF) + 1);
    }
    return IP_OK;
}

static ip_status one_chunk(admit_ctx *c, const uint8_t *t, const uint8_t *d, uint32_t n,
                           bool *image)
{
    if (!memcmp(t, "VP8X", 4) || !memcmp(t, "VP8 ", 4) || !memcmp(t, "VP8L", 4)) {
        *image |= t[3] != 'X';
        return bitstream_size(c, t, d, n);
    }
    if (!memcmp(t, "ANMF", 4)) {
        *image = true;
        return admit_add_frame(c, "animation frames (ANMF)");
    }
    if (!memcmp(t, "ICCP", 4) || !memcmp(t, "EXIF", 4) || !memcmp(t, "XMP ", 4))
        return admit_add_metadata(c, n, "ICCP, EXIF and XMP chunks");
    return admit_add_chunk(c, "chunks");
}

ip_status ip_admit_riff(admit_ctx *c)
{
    uint64_t end = 8 + (uint64_t)admit_le32(c->p + 4);
    if (end > c->len)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "truncated",
                            "the WebP declares %llu bytes but the file has %zu: it is cut short",
                            (unsigned long long)end, c->len);
    ip_status st = admit_end(c, end, end & 1, "the WebP", "its RIFF end");
    if (st != IP_OK)
        return st;
    bool image = false;
    size_t off = 12;
    while (off < end) {
        if (end - off < 8)
            return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed",
                                "the WebP has a partial chunk header at its end");
        uint32_t n = admit_le32(c->p + off + 4);
        if (n > end - off - 8)
            return admit_refuse(c, IP_INVALID_ARGUMENT, "truncated",
                                "a WebP chunk claims %u bytes, more than the file holds", n);
        st = one_chunk(c, c->p + off, c->p + off + 8, n, &image);
        if (st != IP_OK)
            return st;
        off += 8 + (size_t)n + (n & 1);
    }
    if (!image)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed", "the WebP has no image data");
    return IP_OK;
}
