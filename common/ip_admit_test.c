/* ip_admit_test.c — the admission check on hand-built containers (every
 * refusal) and on images written by libvips (every accepted type), plus the
 * loader allow-list of ip_vips_restrict().
 *
 * Hostile inputs are built at test time: deflated zeros for the PNG text
 * bombs, repeated segments, frames and directories for the counting limits.
 */
#include <ctype.h>
#include <stdint.h>
#include <vips/vips.h>
#include <zlib.h>

#include "ip_admit.h"
#include "ip_testing.h"
#include "ip_vips_admit.h"

/* ------------------------------------------------------------ a byte buffer */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        CHECK(b->p != NULL);
    }
    if (n)
        memcpy(b->p + b->len, d, n);
    b->len += n;
}
static void put_str(buf *b, const char *s)
{
    put(b, s, strlen(s));
}
static void put_u8(buf *b, unsigned v)
{
    uint8_t x = (uint8_t)v;
    put(b, &x, 1);
}
static void put_be16(buf *b, unsigned v)
{
    put_u8(b, v >> 8), put_u8(b, v);
}
static void put_be32(buf *b, uint32_t v)
{
    put_be16(b, v >> 16), put_be16(b, v & 0xFFFF);
}
static void put_le16(buf *b, unsigned v)
{
    put_u8(b, v), put_u8(b, v >> 8);
}
static void put_le32(buf *b, uint32_t v)
{
    put_le16(b, v & 0xFFFF), put_le16(b, v >> 16);
}
static void put_zeros(buf *b, size_t n)
{
    static const uint8_t z[4096];
    while (n) {
        size_t k = n < sizeof z ? n : sizeof z;
        put(b, z, k);
        n -= k;
    }
}

/* ------------------------------------------------------------ checking */

static ip_admit_limits defaults(void)
{
    ip_admit_limits l;
    ip_admit_limits_default(&l);
    return l;
}

/* The check with default limits must give `want` and `reason`. */
static void expect_refused(const buf *b, ip_status want, const char *reason)
{
    ip_admit_limits lim = defaults();
    ip_admit_result r;
    ip_status st = ip_admit_check(b->p, b->len, &lim, &r);
    EXPECTF(st == want, "status %s, want %s (%s: %s)", ip_strerror(st), ip_strerror(want),
            r.reason ? r.reason : "-", r.detail);
    EXPECTF(r.reason && strcmp(r.reason, reason) == 0, "reason %s, want %s (%s)",
            r.reason ? r.reason : "(none)", reason, r.detail);
    EXPECT(strlen(r.detail) > 10);
    fprintf(stderr, "  refused: %s: %s\n", r.reason ? r.reason : "-", r.detail);
}

static void expect_admitted(const void *p, size_t len, ip_img_type t, int w, int h)
{
    ip_admit_limits lim = defaults();
    ip_admit_result r;
    ip_status st = ip_admit_check(p, len, &lim, &r);
    EXPECTF(st == IP_OK, "%s: %s", r.reason ? r.reason : "-", r.detail);
    EXPECT_EQ_INT(r.type, t);
    if (w >= 0) {
        EXPECT_EQ_INT(r.width, w);
        EXPECT_EQ_INT(r.height, h);
    }
    EXPECT(r.frames >= 1);
}

/* ------------------------------------------------------------ PNG */

static void png_chunk(buf *b, const char *type, const void *d, size_t n)
{
    put_be32(b, (uint32_t)n);
    size_t at = b->len;
    put(b, type, 4);
    put(b, d, n);
    put_be32(b, (uint32_t)crc32(0, b->p + at, (uInt)(n + 4)));
}

static void png_head(buf *b, uint32_t w, uint32_t h, int depth, int colour, int interlace)
{
    put(b, "\x89PNG\r\n\x1a\n", 8);
    buf d = {0};
    put_be32(&d, w), put_be32(&d, h);
    put_u8(&d, depth), put_u8(&d, colour), put_u8(&d, 0), put_u8(&d, 0), put_u8(&d, interlace);
    png_chunk(b, "IHDR", d.p, d.len);
    free(d.p);
}

/* One RGB 1x1 row: filter 0 and three zero bytes, deflated. */
static void png_tail(buf *b)
{
    uint8_t raw[4] = {0}, z[64];
    uLongf zn = sizeof z;
    CHECK(compress(z, &zn, raw, sizeof raw) == Z_OK);
    png_chunk(b, "IDAT", z, zn);
    png_chunk(b, "IEND", NULL, 0);
}

static void png_1x1(buf *b)
{
    png_head(b, 1, 1, 8, 2, 0);
    png_tail(b);
}

/* `n` zero bytes deflated (a few KB per 10 MB), streamed from a small buffer. */
static void deflate_zeros(buf *out, size_t n)
{
    static const uint8_t zero[1 << 16];
    uint8_t o[1 << 16];
    z_stream z = {0};
    CHECK(deflateInit(&z, 9) == Z_OK);
    int zr;
    do {
        size_t k = n < sizeof zero ? n : sizeof zero;
        n -= k;
        z.next_in = (Bytef *)zero;
        z.avail_in = (uInt)k;
        do {
            z.next_out = o;
            z.avail_out = sizeof o;
            zr = deflate(&z, n ? Z_NO_FLUSH : Z_FINISH);
            put(out, o, sizeof o - z.avail_out);
        } while (z.avail_out == 0);
    } while (n);
    CHECK(zr == Z_STREAM_END);
    deflateEnd(&z);
}

static void test_ztxt_bomb(void)
{
    buf b = {0}, z = {0};
    put(&z, "Comment\0\0", 9); /* keyword, NUL, method 0 */
    deflate_zeros(&z, 40u << 20);
    png_head(&b, 1, 1, 8, 2, 0);
    for (int i = 0; i < 10; i++)
        png_chunk(&b, "zTXt", z.p, z.len);
    png_tail(&b);
    fprintf(stderr, "  %zu bytes, would inflate to 400 MiB\n", b.len);
    expect_refused(&b, IP_RESOURCE_EXHAUSTED, "metadata_too_large");
    /* The measure stopped at the limit: no more than one scratch past it. */
    ip_admit_limits lim = defaults();
    ip_admit_result r;
    ip_admit_check(b.p, b.len, &lim, &r);
    EXPECT(r.metadata_bytes <= lim.metadata_bytes + (64 << 10));
    EXPECT(strstr(r.detail, "zTXt") != NULL);
    /* With a limit above 400 MiB the same file is admitted (the count is the inflated size). */
    lim.metadata_bytes = 500LL << 20;
    EXPECT_ST(ip_admit_check(b.p, b.len, &lim, &r), IP_OK, r.detail);
    EXPECT(r.metadata_bytes >= 400LL << 20);
    free(b.p), free(z.p);
}

static void test_itxt_iccp(void)
{
    buf it = {0}, icc = {0};
    put(&it, "XML:com.adobe.xmp\0\x01\0en\0\0", 24);
    deflate_zeros(&it, 8u << 20);
    put(&icc, "sRGB\0\0", 6);
    deflate_zeros(&icc, 8u << 20);
    buf b1 = {0}, b2 = {0};
    png_head(&b1, 1, 1, 8, 2, 0);
    png_chunk(&b1, "iTXt", it.p, it.len);
    png_tail(&b1);
    expect_refused(&b1, IP_RESOURCE_EXHAUSTED, "metadata_too_large");
    png_head(&b2, 1, 1, 8, 2, 0);
    png_chunk(&b2, "iCCP", icc.p, icc.len);
    png_tail(&b2);
    expect_refused(&b2, IP_RESOURCE_EXHAUSTED, "metadata_too_large");
    /* A small profile and some text are fine. */
    buf ok = {0}, small = {0};
    put(&small, "sRGB\0\0", 6);
    deflate_zeros(&small, 3000);
    png_head(&ok, 1, 1, 8, 2, 0);
    png_chunk(&ok, "iCCP", small.p, small.len);
    png_chunk(&ok, "tEXt", "Title\0hello", 11);
    png_tail(&ok);
    expect_admitted(ok.p, ok.len, IP_IMG_PNG, 1, 1);
    free(it.p), free(icc.p), free(b1.p), free(b2.p), free(ok.p), free(small.p);
}

static void test_png_chunks(void)
{
    buf b = {0};
    png_head(&b, 1, 1, 8, 2, 0);
    for (int i = 0; i < 2000; i++)
        png_chunk(&b, "tIME", "\x07\xe9\x01\x01\0\0\0", 7);
    png_tail(&b);
    expect_refused(&b, IP_RESOURCE_EXHAUSTED, "too_many_chunks");
    free(b.p);
}

static void test_png_truncated(void)
{
    buf b = {0};
    png_1x1(&b);
    expect_admitted(b.p, b.len, IP_IMG_PNG, 1, 1);
    for (size_t n = 8; n < b.len; n++) {
        buf cut = {.p = b.p, .len = n};
        ip_admit_limits lim = defaults();
        ip_admit_result r;
        EXPECTF(ip_admit_check(cut.p, cut.len, &lim, &r) == IP_INVALID_ARGUMENT, "cut at %zu", n);
    }
    buf cut = {.p = b.p, .len = b.len - 12}; /* no IEND */
    expect_refused(&cut, IP_INVALID_ARGUMENT, "truncated");
    /* A chunk claiming more than the file. */
    buf big = {0};
    png_head(&big, 1, 1, 8, 2, 0);
    put_be32(&big, 1u << 30), put_str(&big, "IDAT"), put_zeros(&big, 100);
    expect_refused(&big, IP_INVALID_ARGUMENT, "truncated");
    free(b.p), free(big.p);
}

static void test_png_polyglot(void)
{
    buf b = {0};
    png_1x1(&b);
    put(&b, "PK\x03\x04\x14\0\0\0\0\0", 10);
    put_zeros(&b, 40);
    put(&b, "PK\x05\x06", 4);
    put_zeros(&b, 18);
    expect_refused(&b, IP_INVALID_ARGUMENT, "trailing_data");
    free(b.p);
}

static void test_png_pixels(void)
{
    buf pal = {0}, lace = {0}, bad = {0};
    png_head(&pal, 100000, 100000, 8, 3, 0);
    png_chunk(&pal, "PLTE", "\0\0\0", 3);
    png_tail(&pal);
    expect_refused(&pal, IP_RESOURCE_EXHAUSTED, "pixel_limit");
    png_head(&lace, 100000, 100000, 8, 2, 1);
    png_tail(&lace);
    expect_refused(&lace, IP_RESOURCE_EXHAUSTED, "pixel_limit");
    ip_admit_limits lim = defaults();
    ip_admit_result r;
    ip_admit_check(lace.p, lace.len, &lim, &r);
    EXPECT(strstr(r.detail, "100000x100000") != NULL);
    png_head(&bad, 1, 1, 3, 2, 0); /* RGB at 3 bits: no such format */
    png_tail(&bad);
    expect_refused(&bad, IP_INVALID_ARGUMENT, "malformed");
    free(pal.p), free(lace.p), free(bad.p);
}

/* ------------------------------------------------------------ JPEG */

static void jpeg_segment(buf *b, unsigned marker, const void *d, size_t n)
{
    put_u8(b, 0xFF), put_u8(b, marker), put_be16(b, (unsigned)n + 2);
    put(b, d, n);
}

static void jpeg_head(buf *b, unsigned w, unsigned h, unsigned sof)
{
    put_u8(b, 0xFF), put_u8(b, 0xD8);
    jpeg_segment(b, 0xE0, "JFIF\0\x01\x01\0\0\x01\0\x01\0\0", 14);
    jpeg_segment(b, 0xDB, NULL, 0);
    uint8_t f[9] = {8, h >> 8, h & 0xFF, w >> 8, w & 0xFF, 1, 1, 0x11, 0};
    jpeg_segment(b, sof, f, sizeof f);
}

static void jpeg_scan(buf *b)
{
    jpeg_segment(b, 0xDA, "\x01\x01\0\0\x3f\0", 6);
    put(b, "\x12\x34\xFF\x00\x56\xFF\xD0\x78", 8); /* data, stuffed 0xFF, RST0 */
}

static void test_jpeg_app_segments(void)
{
    buf b = {0};
    put_u8(&b, 0xFF), put_u8(&b, 0xD8);
    uint8_t *seg = calloc(1, 65533);
    CHECK(seg != NULL);
    memcpy(seg, "ICC_PROFILE", 12);
    while (b.len < (50u << 20))
        jpeg_segment(&b, 0xE2, seg, 65533);
    free(seg);
    buf tail = {0};
    jpeg_head(&tail, 8, 8, 0xC0);
    jpeg_scan(&tail);
    put(&b, tail.p + 2, tail.len - 2);
    put(&b, "\xFF\xD9", 2);
    expect_refused(&b, IP_RESOURCE_EXHAUSTED, "metadata_too_large");
    free(b.p), free(tail.p);
}

static void test_jpeg_scans(void)
{
    buf b = {0};
    jpeg_head(&b, 64, 64, 0xC2);
    for (int i = 0; i < 5000; i++)
        jpeg_scan(&b);
    put(&b, "\xFF\xD9", 2);
    expect_refused(&b, IP_RESOURCE_EXHAUSTED, "too_many_scans");
    buf ok = {0};
    jpeg_head(&ok, 64, 48, 0xC2);
    for (int i = 0; i < 10; i++)
        jpeg_scan(&ok);
    put(&ok, "\xFF\xD9", 2);
    expect_admitted(ok.p, ok.len, IP_IMG_JPEG, 64, 48);
    buf dnl = {0};
    jpeg_head(&dnl, 64, 0, 0xC0);
    jpeg_scan(&dnl);
    expect_refused(&dnl, IP_INVALID_ARGUMENT, "malformed");
    free(b.p), free(ok.p), free(dnl.p);
}

static void test_jpeg_cut(void)
{
    buf b = {0};
    jpeg_head(&b, 30, 20, 0xC0);
    jpeg_scan(&b);
    /* Cut inside the scan (no EOI): admitted, as cameras write such files. */
    expect_admitted(b.p, b.len, IP_IMG_JPEG, 30, 20);
    /* After EOI anything may follow (MPF). */
    buf mpf = {0};
    put(&mpf, b.p, b.len);
    put(&mpf, "\xFF\xD9", 2);
    put(&mpf, b.p, b.len);
    expect_admitted(mpf.p, mpf.len, IP_IMG_JPEG, 30, 20);
    /* Cut before any scan, or inside a segment. */
    buf head = {0};
    jpeg_head(&head, 30, 20, 0xC0);
    expect_refused(&head, IP_INVALID_ARGUMENT, "truncated");
    buf seg = {.p = head.p, .len = head.len - 3};
    expect_refused(&seg, IP_INVALID_ARGUMENT, "truncated");
    for (size_t n = 3; n < mpf.len; n++) {
        ip_admit_limits lim = defaults();
        ip_admit_result r;
        (void)ip_admit_check(mpf.p, n, &lim, &r); /* never crashes or reads past n */
    }
    free(b.p), free(mpf.p), free(head.p);
}

/* ------------------------------------------------------------ GIF */

static void gif_head(buf *b, unsigned w, unsigned h)
{
    put_str(b, "GIF89a");
    put_le16(b, w), put_le16(b, h);
    put_u8(b, 0x80), put_u8(b, 0), put_u8(b, 0); /* global table of 2 colours */
    put_zeros(b, 6);
}

static void gif_frame(buf *b)
{
    put(b, "\x21\xF9\x04\x04\x0a\x00\x00\x00", 8); /* graphic control */
    put_u8(b, 0x2C), put_zeros(b, 4), put_le16(b, 1), put_le16(b, 1), put_u8(b, 0);
    put(b, "\x02\x02\x44\x01\x00", 5); /* LZW: min size 2, one sub-block */
}

static void test_gif_frames(void)
{
    buf b = {0};
    gif_head(&b, 1, 1);
    put(&b, "\x21\xFF\x0bNETSCAPE2.0\x03\x01\x00\x00\x00", 19);
    for (int i = 0; i < 100000; i++)
        gif_frame(&b);
    put_u8(&b, 0x3B);
    expect_refused(&b, IP_RESOURCE_EXHAUSTED, "too_many_frames");
    buf ok = {0};
    gif_head(&ok, 3, 2);
    for (int i = 0; i < 5; i++)
        gif_frame(&ok);
    put_u8(&ok, 0x3B);
    expect_admitted(ok.p, ok.len, IP_IMG_GIF, 3, 2);
    free(b.p), free(ok.p);
}

static void test_gif_trailer(void)
{
    buf b = {0};
    gif_head(&b, 1, 1);
    gif_frame(&b);
    buf cut = {.p = b.p, .len = b.len};
    expect_refused(&cut, IP_INVALID_ARGUMENT, "truncated");
    put_u8(&b, 0x3B);
    put_str(&b, "<script>alert(1)</script>");
    expect_refused(&b, IP_INVALID_ARGUMENT, "trailing_data");
    free(b.p);
}

/* ------------------------------------------------------------ WebP */

static void riff_chunk(buf *b, const char *type, const void *d, size_t n)
{
    put(b, type, 4), put_le32(b, (uint32_t)n), put(b, d, n);
    if (n & 1)
        put_u8(b, 0);
}

static void riff_close(buf *b)
{
    uint32_t n = (uint32_t)b->len - 8;
    memcpy(b->p + 4, (uint8_t[]){n, n >> 8, n >> 16, n >> 24}, 4);
}

static void webp_anim(buf *b, int frames)
{
    put_str(b, "RIFF"), put_le32(b, 0), put_str(b, "WEBP");
    uint8_t x[10] = {0x12, 0, 0, 0, 9, 0, 0, 9, 0, 0}; /* animation, 10x10 */
    riff_chunk(b, "VP8X", x, sizeof x);
    riff_chunk(b, "ANIM", "\0\0\0\0\0\0", 6);
    uint8_t f[16 + 12] = {0};
    for (int i = 0; i < frames; i++)
        riff_chunk(b, "ANMF", f, sizeof f);
    riff_close(b);
}

static void test_webp_frames(void)
{
    buf b = {0};
    webp_anim(&b, 100000);
    expect_refused(&b, IP_RESOURCE_EXHAUSTED, "too_many_frames");
    buf ok = {0};
    webp_anim(&ok, 3);
    expect_admitted(ok.p, ok.len, IP_IMG_WEBP, 10, 10);
    free(b.p), free(ok.p);
}

static void test_webp_size(void)
{
    buf b = {0};
    webp_anim(&b, 2);
    buf cut = {.p = b.p, .len = b.len - 5};
    expect_refused(&cut, IP_INVALID_ARGUMENT, "truncated");
    put_str(&b, "PK\x05\x06 and more");
    expect_refused(&b, IP_INVALID_ARGUMENT, "trailing_data");
    buf big = {0};
    put_str(&big, "RIFF"), put_le32(&big, 0), put_str(&big, "WEBP");
    put_str(&big, "VP8L"), put_le32(&big, 0x7FFFFFF0), put_zeros(&big, 16);
    riff_close(&big);
    expect_refused(&big, IP_INVALID_ARGUMENT, "truncated");
    free(b.p), free(big.p);
}

/* ------------------------------------------------------------ TIFF */

/* A little-endian TIFF whose IFDs (one entry each and the size in the first)
 * follow one another; `next_of_last` links the last one. */
static void tiff_chain(buf *b, int pages, uint32_t next_of_last)
{
    put_str(b, "II*"), put_u8(b, 0), put_le32(b, 8);
    for (int i = 0; i < pages; i++) {
        uint32_t at = (uint32_t)b->len, size = 2 + 2 * 12 + 4;
        put_le16(b, 2);
        put_le16(b, 256), put_le16(b, 3), put_le32(b, 1), put_le32(b, 16);
        put_le16(b, 257), put_le16(b, 3), put_le32(b, 1), put_le32(b, 9);
        put_le32(b, i + 1 < pages ? at + size : next_of_last);
    }
}

static void test_tiff_pages(void)
{
    buf b = {0};
    tiff_chain(&b, 100000, 0);
    expect_refused(&b, IP_RESOURCE_EXHAUSTED, "too_many_frames");
    buf ok = {0};
    tiff_chain(&ok, 3, 0);
    expect_admitted(ok.p, ok.len, IP_IMG_TIFF, 16, 9);
    buf out = {0};
    tiff_chain(&out, 2, 1u << 30);
    expect_refused(&out, IP_INVALID_ARGUMENT, "truncated");
    free(b.p), free(ok.p), free(out.p);
}

static void test_tiff_loop(void)
{
    for (int pages = 1; pages <= 40; pages++) {
        for (int back = 0; back < pages; back++) {
            buf b = {0};
            tiff_chain(&b, pages, 8 + (uint32_t)back * 30);
            ip_admit_limits lim = defaults();
            lim.frames = 1000000;
            ip_admit_result r;
            EXPECT(ip_admit_check(b.p, b.len, &lim, &r) == IP_INVALID_ARGUMENT);
            EXPECTF(r.reason && !strcmp(r.reason, "malformed"), "%d pages, back to %d: %s",
                    pages, back, r.detail);
            free(b.p);
        }
    }
}

/* ------------------------------------------------------------ ISO-BMFF */

static void box(buf *b, const char *type, const buf *body)
{
    put_be32(b, (uint32_t)(8 + body->len)), put(b, type, 4), put(b, body->p, body->len);
}

static void ftyp(buf *b, const char *major, const char *compat)
{
    buf f = {0};
    put_str(&f, major), put_be32(&f, 0), put_str(&f, compat);
    box(b, "ftyp", &f);
    free(f.p);
}

/* A meta box with `items` item entries and one ispe of w x h. */
static void heif_meta(buf *b, unsigned items, unsigned w, unsigned h)
{
    buf m = {0}, hdlr = {0}, iinf = {0}, infe = {0}, ispe = {0}, ipco = {0}, iprp = {0};
    put_be32(&hdlr, 0), put_be32(&hdlr, 0), put_str(&hdlr, "pict"), put_zeros(&hdlr, 13);
    put_be32(&infe, 0x02000000), put_be16(&infe, 1), put_be16(&infe, 0), put_str(&infe, "hvc1");
    put_u8(&infe, 0);
    put_be32(&iinf, 0), put_be16(&iinf, items);
    for (unsigned i = 0; i < items && i < 4; i++)
        box(&iinf, "infe", &infe);
    put_be32(&ispe, 0), put_be32(&ispe, w), put_be32(&ispe, h);
    box(&ipco, "ispe", &ispe);
    box(&iprp, "ipco", &ipco);
    put_be32(&m, 0);
    box(&m, "hdlr", &hdlr);
    box(&m, "iinf", &iinf);
    box(&m, "iprp", &iprp);
    box(b, "meta", &m);
    free(m.p), free(hdlr.p), free(iinf.p), free(infe.p), free(ispe.p), free(ipco.p), free(iprp.p);
}

static void test_heif_isom_brand(void)
{
    buf b = {0};
    ftyp(&b, "isom", "isommif1");
    put_zeros(&b, 3u << 20);
    ip_admit_limits lim = defaults();
    ip_admit_result r;
    EXPECT(ip_admit_check(b.p, b.len, &lim, &r) != IP_OK);
    EXPECT_EQ_INT(r.type, IP_IMG_HEIC);
    expect_refused(&b, IP_INVALID_ARGUMENT, "bad_brand");
    EXPECT(strstr(r.detail, "isom") != NULL);
    free(b.p);
}

static void test_heif_huge_box(void)
{
    buf b = {0};
    ftyp(&b, "heic", "mif1heic");
    heif_meta(&b, 1, 64, 48);
    put_be32(&b, 1), put_str(&b, "mdat"), put_be32(&b, 1), put_be32(&b, 0); /* 4 GiB */
    put_zeros(&b, 1000);
    expect_refused(&b, IP_INVALID_ARGUMENT, "truncated");
    buf c = {0};
    ftyp(&c, "avif", "mif1avif");
    heif_meta(&c, 1, 64, 48);
    put_be32(&c, 0xFFFFFFF0u), put_str(&c, "mdat"), put_zeros(&c, 1000);
    expect_refused(&c, IP_INVALID_ARGUMENT, "truncated");
    free(b.p), free(c.p);
}

static void test_heif_meta(void)
{
    buf ok = {0};
    ftyp(&ok, "heic", "mif1heic");
    heif_meta(&ok, 1, 640, 480);
    put_be32(&ok, 16), put_str(&ok, "mdat"), put_zeros(&ok, 8);
    expect_admitted(ok.p, ok.len, IP_IMG_HEIC, 640, 480);
    buf many = {0};
    ftyp(&many, "mif1", "mif1heic");
    heif_meta(&many, 60000, 64, 48);
    expect_refused(&many, IP_RESOURCE_EXHAUSTED, "too_many_frames");
    buf huge = {0};
    ftyp(&huge, "avif", "mif1avif");
    put_be32(&huge, 100u << 20), put_str(&huge, "meta"), put_zeros(&huge, 4000);
    expect_refused(&huge, IP_RESOURCE_EXHAUSTED, "metadata_too_large");
    buf none = {0};
    ftyp(&none, "heic", "mif1heic");
    put_be32(&none, 16), put_str(&none, "mdat"), put_zeros(&none, 8);
    expect_refused(&none, IP_INVALID_ARGUMENT, "malformed");
    buf px = {0};
    ftyp(&px, "avif", "mif1avif");
    heif_meta(&px, 1, 60000, 60000);
    expect_refused(&px, IP_RESOURCE_EXHAUSTED, "pixel_limit");
    free(ok.p), free(many.p), free(huge.p), free(none.p), free(px.p);
}

/* ------------------------------------------------------------ real images */

static void *vips_made(const char *suffix, int w, int h, size_t *len)
{
    VipsImage *img = NULL;
    void *out = NULL;
    if (vips_black(&img, w, h, "bands", 3, NULL))
        return NULL;
    if (vips_image_write_to_buffer(img, suffix, &out, len, NULL)) {
        vips_error_clear();
        out = NULL;
    }
    g_object_unref(img);
    return out;
}

static void accept_made(const char *suffix, ip_img_type t)
{
    size_t len = 0;
    void *p = vips_made(suffix, 40, 30, &len);
    if (!p) {
        fprintf(stderr, "  (no %s saver in this libvips; skipped)\n", suffix);
        return;
    }
    expect_admitted(p, len, t, 40, 30);
    g_free(p);
}

static void test_accept_png(void)
{
    accept_made(".png", IP_IMG_PNG);
    accept_made(".png[interlace]", IP_IMG_PNG);
    accept_made(".png[palette]", IP_IMG_PNG);
}
static void test_accept_jpeg(void)
{
    accept_made(".jpg", IP_IMG_JPEG);
    accept_made(".jpg[interlace]", IP_IMG_JPEG);
    accept_made(".jpg[restart_interval=1]", IP_IMG_JPEG);
}
static void test_accept_gif(void)
{
    accept_made(".gif", IP_IMG_GIF);
}
static void test_accept_webp(void)
{
    accept_made(".webp", IP_IMG_WEBP);
    accept_made(".webp[lossless]", IP_IMG_WEBP);
}
static void test_accept_tiff(void)
{
    accept_made(".tif", IP_IMG_TIFF);
    accept_made(".tif[compression=jpeg,tile]", IP_IMG_TIFF);
    accept_made(".tif[pyramid]", IP_IMG_TIFF);
}
static void test_accept_heif(void)
{
    size_t len = 0;
    void *p = vips_made(".avif", 40, 30, &len);
    if (!p) {
        fprintf(stderr, "  (no AVIF saver in this libvips; skipped)\n");
        return;
    }
    expect_admitted(p, len, IP_IMG_AVIF, -1, -1);
    g_free(p);
}

static void test_not_images(void)
{
    const char *s[] = {"<svg xmlns=\"http://www.w3.org/2000/svg\"/>", "<!DOCTYPE html><html>",
                       "hello world", "%PDF-1.4", "P6\n4000 4000\n255\n", "\xff\xd8",
                       "RIFF1234WAVEfmt ", "BM\0\0\0\0"};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
        buf b = {.p = (uint8_t *)s[i], .len = strlen(s[i])};
        expect_refused(&b, IP_INVALID_ARGUMENT, "unsupported_type");
        EXPECT(ip_img_sniff(b.p, b.len) == IP_IMG_NONE);
    }
    buf mp4 = {0};
    ftyp(&mp4, "mp42", "mp42isom");
    EXPECT(ip_img_sniff(mp4.p, mp4.len) == IP_IMG_NONE);
    EXPECT(ip_img_sniff(NULL, 0) == IP_IMG_NONE);
    EXPECT(ip_img_mime(IP_IMG_NONE) == NULL && ip_img_loader(IP_IMG_NONE) == NULL);
    EXPECT_EQ_STR(ip_img_mime(IP_IMG_AVIF), "image/avif");
    EXPECT_EQ_STR(ip_img_loader(IP_IMG_GIF), "gifload_buffer");
    free(mp4.p);
}

/* ------------------------------------------------------------ libvips */

/* After ip_vips_restrict a buffer libvips would read through another loader
 * finds none, or is refused when it is read. */
static void test_vips_restrict(void)
{
    ip_vips_restrict();
    static const struct {
        const char *name, *data;
        size_t len;
    } other[] = {
        {"svg", "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>", 0},
        {"ppm", "P6\n2 2\n255\n000000000000", 0},
        {"matrix", "2 2\n1 2\n3 4\n", 0},
        {"csv", "1,2,3\n4,5,6\n", 0},
        {"tga", "\0\0\x02\0\0\0\0\0\0\0\0\0\x02\0\x02\0\x18\0............", 30},
        {"pdf", "%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", 0},
    };
    for (size_t i = 0; i < sizeof other / sizeof *other; i++) {
        size_t len = other[i].len ? other[i].len : strlen(other[i].data);
        const char *loader = vips_foreign_find_load_buffer(other[i].data, len);
        VipsImage *im = vips_image_new_from_buffer(other[i].data, len, "", NULL);
        EXPECTF(im == NULL, "%s read by %s", other[i].name, loader ? loader : "?");
        if (im)
            g_object_unref(im);
        VipsSource *src = vips_source_new_from_memory(other[i].data, len);
        VipsImage *im2 = src ? vips_image_new_from_source(src, "", NULL) : NULL;
        EXPECTF(im2 == NULL, "%s read from a source", other[i].name);
        if (im2)
            g_object_unref(im2);
        if (src)
            g_object_unref(src);
        vips_error_clear();
    }
    EXPECT(ip_vips_loader_is(IP_IMG_JPEG, "jpegload_buffer"));
    EXPECT(!ip_vips_loader_is(IP_IMG_JPEG, "magickload_buffer"));
    EXPECT(!ip_vips_loader_is(IP_IMG_NONE, "jpegload_buffer"));
    EXPECT(ip_vips_loader_is(IP_IMG_HEIC, "heifload_buffer"));
    /* The accepted types still read. */
    static const char *const suffixes[] = {".jpg", ".png", ".webp", ".gif", ".tif"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t len = 0;
        void *p = vips_made(suffixes[i], 8, 8, &len);
        CHECK(p != NULL);
        VipsImage *im = vips_image_new_from_buffer(p, len, "", NULL);
        EXPECTF(im != NULL, "%s: %s", suffixes[i], vips_error_buffer());
        const char *loader = vips_foreign_find_load_buffer(p, len);
        const char *nick = loader ? vips_nickname_find(g_type_from_name(loader)) : NULL;
        EXPECTF(ip_vips_loader_is(ip_img_sniff(p, len), nick), "%s loaded by %s", suffixes[i],
                nick ? nick : "(none)");
        if (im)
            g_object_unref(im);
        g_free(p);
    }
}

/* Every refusal's detail is one printable line a person can read. */
static void test_details_readable(void)
{
    buf b = {0};
    ftyp(&b, "is\x01\xff", "\"\\\x80m");
    put_be32(&b, 0xFFFFFFF0u), put(&b, "\x01\xfe\"\\", 4);
    ip_admit_limits lim = defaults();
    ip_admit_result r;
    EXPECT(ip_admit_check(b.p, b.len, &lim, &r) != IP_OK);
    for (const char *c = r.detail; *c; c++)
        EXPECTF(isprint((unsigned char)*c), "byte 0x%02x in %s",
                (unsigned char)*c, r.detail);
    free(b.p);
}

static const ip_test_case tests[] = {
    IP_TEST(accept_png),        IP_TEST(accept_jpeg),     IP_TEST(accept_gif),
    IP_TEST(accept_webp),       IP_TEST(accept_tiff),     IP_TEST(accept_heif),
    IP_TEST(not_images),        IP_TEST(ztxt_bomb),       IP_TEST(itxt_iccp),
    IP_TEST(png_chunks),        IP_TEST(png_truncated),   IP_TEST(png_polyglot),
    IP_TEST(png_pixels),        IP_TEST(jpeg_app_segments), IP_TEST(jpeg_scans),
    IP_TEST(jpeg_cut),          IP_TEST(gif_frames),      IP_TEST(gif_trailer),
    IP_TEST(webp_frames),       IP_TEST(webp_size),       IP_TEST(tiff_pages),
    IP_TEST(tiff_loop),         IP_TEST(heif_isom_brand), IP_TEST(heif_huge_box),
    IP_TEST(heif_meta),         IP_TEST(vips_restrict),   IP_TEST(details_readable),
};

int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0]))
        return 1;
    int rc = ip_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
    vips_shutdown();
    return rc;
}
