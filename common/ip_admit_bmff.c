/* ip_admit_bmff.c — the ISO-BMFF walk (AVIF, HEIC): ftyp, top-level boxes, meta.
 *
 * `ftyp` comes first and its major brand must be an image brand: a file whose
 * major brand is a video or generic one (isom, mp42, ...) but lists an image
 * brand among the compatible ones is refused (bad_brand), as other readers
 * (ImageMagick's, a video demuxer) take such files for something else. The
 * top-level boxes (size 0 = to the end, size 1 = a 64-bit size) must each lie
 * in the file and count against the chunk limit. A `meta` box is required; it
 * is parsed whole by libheif, so its size counts against the metadata limit;
 * inside it the item count of `iinf` counts against the frame limit and the
 * first `ispe` property (iprp/ipco) gives the size.
 */
#include "ip_admit_internal.h"

#include <string.h>

typedef struct bmff_box {
    const uint8_t *type;
    const uint8_t *body; /* after the header */
    uint64_t size;       /* of the body */
} bmff_box;

static bool image_brand(const uint8_t *b)
{
    static const char brands[][5] = {"avif", "avis", "heic", "heix", "heim",
                                     "heis", "hevc", "hevx", "mif1", "msf1"};
    for (size_t i = 0; i < sizeof brands / sizeof *brands; i++)
        if (!memcmp(b, brands[i], 4))
            return true;
    return false;
}

/* The box at p (`avail` bytes to its parent's end). 1 = a box, 0 = the box
 * claims more than its parent holds, -1 = a broken header. */
static int box_at(const uint8_t *p, uint64_t avail, bmff_box *b)
{
    if (avail < 8)
        return -1;
    uint64_t size = admit_be32(p), hdr = 8;
    if (size == 1) {
        if (avail < 16)
            return -1;
        size = ((uint64_t)admit_be32(p + 8) << 32) | admit_be32(p + 12);
        hdr = 16;
    } else if (size == 0) {
        size = avail;
    }
    if (!memcmp(p + 4, "uuid", 4))
        hdr += 16;
    if (size < hdr)
        return -1;
    if (size > avail)
        return 0;
    b->type = p + 4;
    b->body = p + hdr;
    b->size = size - hdr;
    return 1;
}

/* The first child of `parent` of type `type` (full boxes skip `skip` bytes
 * of version and flags first); false when there is none. */
static bool child(const bmff_box *parent, uint64_t skip, const char *type, bmff_box *out)
{
    uint64_t off = skip;
    while (off < parent->size) {
        bmff_box b;
        if (box_at(parent->body + off, parent->size - off, &b) != 1)
            return false;
        if (!memcmp(b.type, type, 4)) {
            *out = b;
            return true;
        }
        off += (uint64_t)(b.body - (parent->body + off)) + b.size;
    }
    return false;
}

static ip_status meta_box(admit_ctx *c, const bmff_box *meta)
{
    ip_status st = admit_add_metadata(c, (int64_t)meta->size, "the meta box");
    if (st != IP_OK)
        return st;
    bmff_box iinf, iprp, ipco, ispe;
    if (child(meta, 4, "iinf", &iinf) && iinf.size >= 6) {
        int64_t n = iinf.body[0] == 0 ? admit_be16(iinf.body + 4) : admit_be32(iinf.body + 4);
        if (n > c->lim->frames)
            return admit_refuse(c, IP_RESOURCE_EXHAUSTED, "too_many_frames",
                                "the %s lists %lld items, over the limit of %lld", c->type_name,
                                (long long)n, (long long)c->lim->frames);
        c->out->frames = n > 0 ? n : 1;
    }
    if (child(meta, 4, "iprp", &iprp) && child(&iprp, 0, "ipco", &ipco) &&
        child(&ipco, 0, "ispe", &ispe) && ispe.size >= 12)
        admit_set_size(c, admit_be32(ispe.body + 4), admit_be32(ispe.body + 8));
    return IP_OK;
}

/* A four-character code for a detail, with anything unprintable as '?'. */
static const char *fourcc(const uint8_t *p, char out[5])
{
    for (int i = 0; i < 4; i++)
        out[i] = p[i] >= 0x20 && p[i] < 0x7F && p[i] != '"' && p[i] != '\\' ? (char)p[i] : '?';
    out[4] = '\0';
    return out;
}

static ip_status check_ftyp(admit_ctx *c, const bmff_box *b)
{
    char cc[5];
    if (b->size < 8)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed", "the file type box is too short");
    if (!image_brand(b->body))
        return admit_refuse(c, IP_INVALID_ARGUMENT, "bad_brand",
                            "the file's major brand is \"%s\", not an image brand (avif, heic, "
                            "mif1, ...): it is not an AVIF or HEIC image",
                            fourcc(b->body, cc));
    return IP_OK;
}

static ip_status top_box(admit_ctx *c, size_t off, bmff_box *b)
{
    int r = box_at(c->p + off, c->len - off, b);
    if (r == 1)
        return admit_add_chunk(c, "boxes");
    if (r == 0 && c->len - off >= 8 && !memcmp(c->p + off + 4, "meta", 4)) {
        /* A meta box over the limit is refused for its size, cut or not. */
        uint64_t declared = admit_be32(c->p + off);
        if (declared > (uint64_t)c->lim->metadata_bytes)
            return admit_add_metadata(c, (int64_t)declared, "the meta box");
    }
    char cc[5] = "";
    if (c->len - off >= 8)
        fourcc(c->p + off + 4, cc);
    if (r == 0)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "truncated",
                            "a box (\"%s\") claims more bytes than the file holds", cc);
    return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed", "a box header (\"%s\") is broken",
                        cc);
}

ip_status ip_admit_bmff(admit_ctx *c)
{
    bool meta = false;
    for (size_t off = 0; off < c->len;) {
        bmff_box b;
        ip_status st = top_box(c, off, &b);
        if (st == IP_OK && off == 0)
            st = check_ftyp(c, &b);
        if (st == IP_OK && !memcmp(b.type, "meta", 4) && !meta) {
            meta = true;
            st = meta_box(c, &b);
        }
        if (st != IP_OK)
            return st;
        off = (size_t)(b.body - c->p) + (size_t)b.size;
    }
    if (!meta)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed",
                            "the %s has no meta box (the description of its images)",
                            c->type_name);
    return IP_OK;
}
