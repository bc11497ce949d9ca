/* ip_admit_jpeg.c — the JPEG walk: markers from SOI through every scan.
 *
 * Segments are walked by their lengths; after each SOS the entropy-coded data
 * is skipped to the next marker (0xFF followed by anything but 0x00, a fill
 * 0xFF or a restart marker RSTn), with memchr so the walk stays linear. Counted:
 * scans (SOS; a progressive JPEG repeats the decode per scan), APPn and COM
 * bytes (EXIF, ICC, XMP, Photoshop: what a decoder keeps) as metadata, every
 * marker against the chunk limit. The first SOFn gives the size; a height of
 * 0 (size given later by DNL) is refused. The walk ends at EOI: anything after
 * it is allowed (MPF second images). A file cut inside the entropy-coded data
 * is accepted (many cameras write such files; the decoder pads); one cut
 * before any scan is refused.
 */
#include "ip_admit_internal.h"

#include <string.h>

typedef struct jpeg_walk {
    admit_ctx *c;
    size_t off;
    bool sof, sos, eoi;
} jpeg_walk;

static bool is_sof(uint8_t m)
{
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

/* The offset of the next marker's 0xFF after entropy-coded data at `off`, or
 * the file's length when there is none. */
static size_t skip_entropy(const admit_ctx *c, size_t off)
{
    while (off < c->len) {
        const uint8_t *ff = memchr(c->p + off, 0xFF, c->len - off);
        if (!ff)
            return c->len;
        off = (size_t)(ff - c->p);
        if (off + 1 >= c->len)
            return c->len;
        uint8_t m = c->p[off + 1];
        if (m == 0x00 || (m >= 0xD0 && m <= 0xD7))
            off += 2;
        else if (m == 0xFF)
            off += 1;
        else
            return off;
    }
    return c->len;
}

static ip_status frame_header(jpeg_walk *w, const uint8_t *d, size_t n)
{
    if (w->sof)
        return IP_OK;
    if (n < 6)
        return admit_refuse(w->c, IP_INVALID_ARGUMENT, "malformed",
                            "the JPEG frame header (SOF) is too short");
    uint16_t h = admit_be16(d + 1), wd = admit_be16(d + 3);
    if (h == 0 || wd == 0)
        return admit_refuse(w->c, IP_INVALID_ARGUMENT, "malformed",
                            "the JPEG frame header gives no size (%ux%u)", wd, h);
    w->sof = true;
    admit_set_size(w->c, wd, h);
    return IP_OK;
}

static ip_status segment(jpeg_walk *w, uint8_t m, const uint8_t *d, size_t n)
{
    if ((m >= 0xE0 && m <= 0xEF) || m == 0xFE)
        return admit_add_metadata(w->c, (int64_t)n + 2, "APPn and COM segments");
    if (is_sof(m))
        return frame_header(w, d, n);
    if (m == 0xDA) {
        if (!w->sof)
            return admit_refuse(w->c, IP_INVALID_ARGUMENT, "malformed",
                                "the JPEG has a scan before its frame header (SOF)");
        w->sos = true;
        return admit_add_scan(w->c);
    }
    return IP_OK;
}

/* One marker at w->off (its 0xFF); moves past it and, for SOS, past the scan. */
static ip_status marker(jpeg_walk *w)
{
    admit_ctx *c = w->c;
    size_t off = w->off + 1;
    while (off < c->len && c->p[off] == 0xFF)
        off++; /* fill bytes */
    if (off >= c->len) {
        w->off = c->len;
        return IP_OK;
    }
    uint8_t m = c->p[off++];
    ip_status st = admit_add_chunk(c, "markers");
    if (st != IP_OK)
        return st;
    if (m == 0xD9) {
        w->eoi = true;
        return IP_OK;
    }
    if (m == 0xD8 || m == 0x00)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed",
                            "the JPEG has an unexpected marker 0xFF%02X", m);
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
        w->off = off;
        return IP_OK;
    }
    if (c->len - off < 2 || admit_be16(c->p + off) < 2 || admit_be16(c->p + off) > c->len - off)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "truncated",
                            "a JPEG segment (marker 0xFF%02X) runs past the end of the file", m);
    size_t n = admit_be16(c->p + off) - 2u;
    st = segment(w, m, c->p + off + 2, n);
    w->off = off + 2 + n;
    if (st == IP_OK && m == 0xDA)
        w->off = skip_entropy(c, w->off);
    return st;
}

ip_status ip_admit_jpeg(admit_ctx *c)
{
    jpeg_walk w = {.c = c, .off = 2};
    while (!w.eoi && w.off < c->len) {
        if (c->p[w.off] != 0xFF)
            return admit_refuse(c, IP_INVALID_ARGUMENT, "malformed",
                                "the JPEG has stray bytes where a marker should be (offset %zu)",
                                w.off);
        ip_status st = marker(&w);
        if (st != IP_OK)
            return st;
        if (w.off >= c->len)
            break;
    }
    if (!w.sof)
        return admit_refuse(c, IP_INVALID_ARGUMENT, w.eoi ? "malformed" : "truncated",
                            "the JPEG has no frame header (SOF)%s",
                            w.eoi ? "" : ": the file is cut short");
    if (!w.sos)
        return admit_refuse(c, IP_INVALID_ARGUMENT, "truncated",
                            "the JPEG has no image data (no scan): the file is cut short");
    return IP_OK;
}
