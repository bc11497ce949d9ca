/* ip_admit_tiff.c — the TIFF walk: the chain of IFDs (pages).
 *
 * Every IFD must lie in the file, with at most `chunks` entries; each one is
 * a page (against the frame limit). A chain that comes back to an IFD seen
 * before is refused as malformed: found with Brent's cycle detection (a second
 * pointer that jumps ahead in powers of two), so no list of offsets is kept
 * and the work stays linear in the chain's length. IFD0's ImageWidth and
 * ImageLength give the size; the ICC profile, XMP, IPTC and Photoshop tags of
 * every IFD count against the metadata limit and must lie in the file.
 */
#include "ip_admit_internal.h"

#include <string.h>

#define TAG_WIDTH 256
#define TAG_LENGTH 257
#define TAG_XMP 700
#define TAG_IPTC 33723
#define TAG_PHOTOSHOP 34377
#define TAG_ICC 34675

typedef struct tiff_walk {
    admit_ctx *c;
    bool le;
} tiff_walk;

static uint32_t rd32(const tiff_walk *t, size_t off)
{
    return t->le ? admit_le32(t->c->p + off) : admit_be32(t->c->p + off);
}
static uint16_t rd16(const tiff_walk *t, size_t off)
{
    return t->le ? admit_le16(t->c->p + off) : admit_be16(t->c->p + off);
}

static int type_size(uint16_t type)
{
    static const int sizes[] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4};
    return type < sizeof sizes / sizeof *sizes ? sizes[type] : 0;
}

/* Checks the IFD at `off` (entries within the file); its entry count in *n. */
static ip_status ifd_bounds(tiff_walk *t, uint32_t off, uint16_t *n)
{
    admit_ctx *c = t->c;
    if (off < 8 || (size_t)off + 2 > c->len)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "truncated",
                            "a TIFF directory (IFD) starts outside the file, at offset %u", off);
    *n = rd16(t, off);
    if (*n == 0)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed", "a TIFF directory is empty");
    if (*n > c->lim->chunks)
        return admit_refuse(c, IP_RESOURCE_EXHAUSTED, "too_many_chunks",
                            "a TIFF directory has %u entries, over the limit of %lld", *n,
                            (long long)c->lim->chunks);
    if ((size_t)off + 2 + 12u * *n + 4 > c->len)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "truncated",
                            "a TIFF directory runs past the end of the file");
    return IP_OK;
}

static ip_status entry(tiff_walk *t, size_t e, bool first)
{
    admit_ctx *c = t->c;
    uint16_t tag = rd16(t, e), type = rd16(t, e + 2);
    uint32_t count = rd32(t, e + 4);
    if (first && (tag == TAG_WIDTH || tag == TAG_LENGTH)) {
        uint32_t v = type == 3 ? rd16(t, e + 8) : rd32(t, e + 8);
        if (tag == TAG_WIDTH)
            c->out->width = (int)(v > INT32_MAX ? INT32_MAX : v);
        else
            c->out->height = (int)(v > INT32_MAX ? INT32_MAX : v);
    }
    if (tag != TAG_XMP && tag != TAG_IPTC && tag != TAG_PHOTOSHOP && tag != TAG_ICC)
        return IP_OK;
    int64_t bytes = (int64_t)count * type_size(type);
    if (bytes > 4 && (int64_t)rd32(t, e + 8) + bytes > (int64_t)c->len)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "truncated",
                            "a TIFF metadata tag (%u) points past the end of the file", tag);
    return admit_add_metadata(c, bytes, "ICC, XMP, IPTC and Photoshop tags");
}

/* Checks the IFD at `off` and counts it as a page; *next is the next one's offset. */
static ip_status ifd(tiff_walk *t, uint32_t off, bool first, uint32_t *next)
{
    uint16_t n = 0;
    ip_status st = ifd_bounds(t, off, &n);
    if (st == IP_OK)
        st = admit_add_frame(t->c, "pages (IFDs)");
    for (uint16_t i = 0; st == IP_OK && i < n; i++)
        st = entry(t, (size_t)off + 2 + 12u * i, first);
    if (st == IP_OK)
        *next = rd32(t, (size_t)off + 2 + 12u * n);
    return st;
}

ip_status ip_admit_tiff(admit_ctx *c)
{
    if (c->len < 8)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "truncated", "the TIFF header is cut short");
    tiff_walk t = {.c = c, .le = c->p[0] == 'I'};
    uint32_t tortoise = rd32(&t, 4), hare = tortoise;
    int64_t power = 1, steps = 0;
    bool first = true;
    while (hare != 0) {
        uint32_t next;
        ip_status st = ifd(&t, hare, first, &next);
        if (st != IP_OK)
            return st;
        first = false;
        if (next != 0 && next == tortoise)
            return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed",
                                "the TIFF's chain of directories loops back on itself");
        if (++steps == power) {
            tortoise = next;
            power *= 2;
            steps = 0;
        }
        hare = next;
    }
    if (c->out->width <= 0 || c->out->height <= 0)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed",
                            "the TIFF's first page gives no size (ImageWidth, ImageLength)");
    return IP_OK;
}
