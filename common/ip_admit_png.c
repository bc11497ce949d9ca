/* ip_admit_png.c — the PNG walk: IHDR first, every chunk within the file,
 * metadata measured, IDAT present, IEND last.
 *
 * Text and profile chunks (tEXt, zTXt, iTXt, iCCP, eXIf) count against the
 * metadata limit; the compressed ones (zTXt, compressed iTXt, iCCP) count
 * with their inflated size, measured by inflating into one fixed scratch
 * buffer that is overwritten again and again. Inflation stops as soon as the
 * running total passes the limit, so a chunk that would inflate to 40 MB costs
 * about the limit's worth of inflate work and never more memory than the
 * scratch. Ancillary chunks (lower-case first letter) count against the chunk
 * limit, APNG frame controls (fcTL) against the frame limit. Chunk CRCs are
 * not checked (the decoder does). Bytes after IEND are refused: they are how a
 * PNG doubles as a ZIP or a script.
 */
#include "ip_admit_internal.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SCRATCH_BYTES (64 * 1024)
#define PNG_MAX_LEN 0x7FFFFFFFu

typedef struct png_walk {
    admit_ctx *c;
    z_stream z;
    bool z_ready;
    uint8_t *scratch;
    bool idat, iend;
} png_walk;

static bool valid_depth(int colour, int depth)
{
    switch (colour) {
    case 0:
        return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
    case 3:
        return depth == 1 || depth == 2 || depth == 4 || depth == 8;
    case 2:
    case 4:
    case 6:
        return depth == 8 || depth == 16;
    default:
        return false;
    }
}

static ip_status check_ihdr(admit_ctx *c, const uint8_t *type, uint32_t n, const uint8_t *d)
{
    if (memcmp(type, "IHDR", 4) != 0 || n != 13)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed",
                            "the PNG does not start with its header chunk (IHDR)");
    uint32_t w = admit_be32(d), h = admit_be32(d + 4);
    if (w == 0 || h == 0 || w > PNG_MAX_LEN || h > PNG_MAX_LEN)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed",
                            "the PNG header gives an impossible size (%ux%u)", w, h);
    if (!valid_depth(d[9], d[8]) || d[10] != 0 || d[11] != 0 || d[12] > 1)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed",
                            "the PNG header gives an invalid format (bit depth %d, colour type %d)",
                            d[8], d[9]);
    admit_set_size(c, w, h);
    return IP_OK;
}

/* Inflates `in` into the scratch only to count its size against the limit. A
 * damaged stream counts what it gave: the decoder skips such a chunk. */
static ip_status inflated_size(png_walk *w, const uint8_t *in, size_t n, const char *what)
{
    if (!w->scratch) {
        w->scratch = malloc(SCRATCH_BYTES);
        if (!w->scratch || inflateInit(&w->z) != Z_OK)
            return admit_refuse(w->c, IP_RESOURCE_EXHAUSTED, "malformed",
                                "out of memory while reading the PNG's metadata");
        w->z_ready = true;
    } else {
        inflateReset(&w->z);
    }
    w->z.next_in = (Bytef *)in;
    w->z.avail_in = (uInt)n;
    int zr = Z_OK;
    while (zr == Z_OK) {
        w->z.next_out = w->scratch;
        w->z.avail_out = SCRATCH_BYTES;
        zr = inflate(&w->z, Z_NO_FLUSH);
        int64_t got = SCRATCH_BYTES - (int64_t)w->z.avail_out;
        ip_status st = admit_add_metadata(w->c, got, what);
        if (st != IP_OK)
            return st;
        if (got == 0 && zr == Z_OK)
            break; /* no progress: the input ran out */
    }
    return IP_OK;
}

/* The offset of the byte after the NUL that ends a keyword (1-79 bytes), or 0. */
static size_t after_keyword(const uint8_t *d, uint32_t n)
{
    const uint8_t *z = memchr(d, 0, n < 80 ? n : 80);
    return z && z > d ? (size_t)(z - d) + 1 : 0;
}

static ip_status text_chunk(png_walk *w, const uint8_t *type, const uint8_t *d, uint32_t n)
{
    size_t k = after_keyword(d, n);
    if (!memcmp(type, "zTXt", 4) || !memcmp(type, "iCCP", 4)) {
        const char *what = type[0] == 'z' ? "compressed text (zTXt), inflated" :
                                            "the ICC profile (iCCP), inflated";
        if (k == 0 || k + 1 > n)
            return admit_add_metadata(w->c, n, what);
        return inflated_size(w, d + k + 1, n - k - 1, what);
    }
    if (!memcmp(type, "iTXt", 4) && k && k + 2 <= n && d[k] == 1) {
        /* keyword, flag, method, language tag, translated keyword, text */
        const uint8_t *end = d + n, *q = d + k + 2;
        for (int i = 0; i < 2 && q < end; i++) {
            const uint8_t *z = memchr(q, 0, (size_t)(end - q));
            q = z ? z + 1 : end;
        }
        return inflated_size(w, q, (size_t)(end - q), "compressed text (iTXt), inflated");
    }
    return admit_add_metadata(w->c, n, "text, EXIF and ICC chunks");
}

static bool is_metadata(const uint8_t *t)
{
    return !memcmp(t, "tEXt", 4) || !memcmp(t, "zTXt", 4) || !memcmp(t, "iTXt", 4) ||
           !memcmp(t, "iCCP", 4) || !memcmp(t, "eXIf", 4);
}

static ip_status one_chunk(png_walk *w, const uint8_t *type, const uint8_t *d, uint32_t n)
{
    if (!memcmp(type, "IDAT", 4) || !memcmp(type, "fdAT", 4)) {
        w->idat = true;
        return IP_OK;
    }
    if (!memcmp(type, "IEND", 4)) {
        w->iend = true;
        return IP_OK;
    }
    if (!memcmp(type, "fcTL", 4))
        return admit_add_frame(w->c, "animation frames (fcTL)");
    if (!(type[0] & 0x20))
        return IP_OK; /* critical: PLTE, the decoder checks it */
    ip_status st = admit_add_chunk(w->c, "ancillary chunks");
    if (st == IP_OK && is_metadata(type))
        st = text_chunk(w, type, d, n);
    return st;
}

static ip_status walk_chunks(png_walk *w)
{
    admit_ctx *c = w->c;
    size_t off = 8;
    bool first = true;
    while (!w->iend) {
        if (c->len - off < 12)
            return admit_refuse(c, IP_INVALID_ARGUMENT, "truncated",
                                "the PNG ends before its end chunk (IEND): the file is cut short");
        uint32_t n = admit_be32(c->p + off);
        const uint8_t *type = c->p + off + 4, *d = c->p + off + 8;
        if (n > PNG_MAX_LEN || n > c->len - off - 12)
            return admit_refuse(c, IP_INVALID_ARGUMENT, "truncated",
                                "a PNG chunk claims %u bytes, more than the file holds", n);
        ip_status st = first ? check_ihdr(c, type, n, d) : one_chunk(w, type, d, n);
        if (st != IP_OK)
            return st;
        first = false;
        off += 12 + (size_t)n;
    }
    if (!w->idat)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed", "the PNG has no image data (IDAT)");
    return admit_end(c, off, 0, "the PNG", "its end chunk (IEND)");
}

ip_status ip_admit_png(admit_ctx *c)
{
    png_walk w = {.c = c};
    ip_status st = walk_chunks(&w);
    if (w.z_ready)
        inflateEnd(&w.z);
    free(w.scratch);
    return st;
}
