/* gw_json_write_test.c — the written info, item and page against jansson's.
 *
 * gw_json.c's jansson builders dumped with JSON_COMPACT are the reference:
 * for every record below (hand-picked edge cases, then thousands drawn from
 * a fixed-seed generator) the writer's bytes must equal the dump's, and a
 * document jansson cannot make must fail in the writer too. The records
 * cover every image and variant status (and values the enums do not name),
 * pending, failed and missing variants, duplicate and unknown kinds, public
 * and private keys, texts with quotes, backslashes, every control
 * character, DEL, '/', 2- to 4-byte UTF-8 and each kind of invalid UTF-8,
 * NULL and empty fields, times at and around 0, each mode, and pages of 0,
 * 1 and 100 items with and without a next cursor. Placeholders are drawn
 * valid, missing on either side, malformed or too long; variants list 0 to
 * 4 files (known and unknown formats, repeated formats, empty, private and
 * non-UTF-8 keys), stale or not, preset versions around 0 and 1. Then the
 * writer's own bound and its empty document.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_jbuf.h"
#include "gw_json.h"
#include "gw_json_write.h"
#include "ip_testing.h"

/* Texts for every string field: the hard cases of encoding. */
static const char *const texts[] = {
    NULL,
    "",
    "a.png",
    "with \"quotes\" and \\backslash\\",
    "\x01\x02\x03\x04\x05\x06\x07\b\t\n\x0b\f\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19"
    "\x1a\x1b\x1c\x1d\x1e\x1f end",
    "del \x7f and slash / and </script>",
    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf",
    "\xe2\x80\xa8 line sep",
    "lone \x80 continuation",
    "overlong \xc0\x80",
    "overlong \xc1\xbf",
    "overlong \xe0\x80\xaf",
    "overlong \xf0\x80\x80\xaf",
    "surrogate \xed\xa0\x80",
    "surrogate \xed\xbf\xbf",
    "past max \xf4\x90\x80\x80",
    "f5 \xf5\x80\x80\x80",
    "ff \xff",
    "truncated \xe2\x82",
    "truncated at end \xf0\x9f\x98",
    "jpeg",
    "image/webp",
    "decode failed: \"VipsJpeg: Premature end of input file\"",
};
#define NTEXTS (sizeof texts / sizeof texts[0])

static const char *const keys[] = {
    NULL,
    "",
    "v/",
    "v/0190f2a4-5b6c-7d8e-9f00-112233445566/thumbnail.jpg",
    "v/0190f2a4-5b6c-7d8e-9f00-112233445566/resized.webp",
    "v/0190f2a4/\"q\"\\\n\x01\xc3\xa9.png",
    "v/bad \xff utf8",
    "o/0190f2a4-5b6c-7d8e-9f00-112233445566",
    "x/other",
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const char *const ids[] = {
    "0190f2a4-5b6c-7d8e-9f00-112233445566", "", NULL, "bad \xc3", "\"id\"\n",
};
#define NIDS (sizeof ids / sizeof ids[0])

static const char *const thumbhashes[] = {
    NULL,
    "",
    "1QcSHQRnh493V4dIh4eXh1h4kJUI",
    "YJqGPQw7sFlslqhFafSE+Q6oJ1h2iHB2Rw==",
    "not base64!",
    "bad \xff",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
};
#define NTHUMBHASHES (sizeof thumbhashes / sizeof thumbhashes[0])

static const char *const colors[] = {
    NULL, "", "#a1b2c3", "#FFAA00", "#abc", "#a1b2c3d", "red", "#gg0000", "#a1b2\xc3",
};
#define NCOLORS (sizeof colors / sizeof colors[0])

static const char *const file_formats[] = {NULL, "", "jpeg", "png", "webp", "avif", "gif", "JPEG"};
#define NFILE_FORMATS (sizeof file_formats / sizeof file_formats[0])

static const int32_t versions[] = {0, 1, 2, 7, -3};

static const int64_t times[] = {0, -1, 1, 1767322800123456LL, 253402300799999999LL};
static const int64_t ints[] = {0, -1, 1, 2147483647, -2147483647 - 1, INT64_MAX, INT64_MIN};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static unsigned pick(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

#define MAXV 6
#define MAXF 4
typedef struct rec {
    Imageproc__Image img;
    Imageproc__Variant v[MAXV];
    Imageproc__Variant *vp[MAXV];
    Imageproc__VariantFile f[MAXV][MAXF];
    Imageproc__VariantFile *fp[MAXV][MAXF];
    Imageproc__VariantKind req[5];
} rec;

/* A record drawn from the tables; kinds 0 and 7 are ones the table lacks,
 * statuses 0 and 9 ones the enums do not name. */
static void rec_draw(rec *r)
{
    memset(r, 0, sizeof *r);
    imageproc__image__init(&r->img);
    Imageproc__Image *img = &r->img;
    img->id = (char *)ids[pick(4) ? 0 : pick(NIDS)];
    img->status = (Imageproc__ImageStatus)pick(6);
    img->created_at_us = times[pick(5)];
    img->updated_at_us = pick(2) ? 0 : times[pick(5)];
    img->filename = (char *)texts[pick(NTEXTS)];
    img->content_type = (char *)texts[pick(NTEXTS)];
    img->error = (char *)texts[pick(NTEXTS)];
    img->sha256 = (char *)texts[pick(NTEXTS)];
    img->size_bytes = ints[pick(7)];
    img->width = (int32_t)ints[pick(5)];
    img->height = (int32_t)ints[pick(5)];
    img->n_requested = pick(6);
    for (size_t i = 0; i < img->n_requested; i++)
        r->req[i] = (Imageproc__VariantKind)(pick(5) ? 1 + pick(3) : pick(2) ? 0 : 7);
    img->requested = r->req;
    img->n_variants = pick(MAXV + 1);
    for (size_t i = 0; i < img->n_variants; i++) {
        Imageproc__Variant *v = &r->v[i];
        imageproc__variant__init(v);
        v->kind = (Imageproc__VariantKind)(pick(6) ? 1 + pick(3) : pick(2) ? 0 : 7);
        v->status = (Imageproc__VariantStatus)(pick(5) ? pick(4) : 9);
        v->object_key = (char *)keys[pick(NKEYS)];
        v->width = (int32_t)ints[pick(5)];
        v->height = (int32_t)ints[pick(5)];
        v->size_bytes = ints[pick(7)];
        v->format = (char *)texts[pick(NTEXTS)];
        v->error = (char *)(pick(2) ? NULL : texts[pick(NTEXTS)]);
        v->preset_version = versions[pick(5)];
        v->stale = pick(2);
        /* Old records list no files; new ones the primary, then up to three. */
        v->n_files = pick(3) ? 0 : 1 + pick(MAXF);
        for (size_t k = 0; k < v->n_files; k++) {
            Imageproc__VariantFile *f = &r->f[i][k];
            imageproc__variant_file__init(f);
            f->format =
                (char *)(pick(4) ? file_formats[2 + pick(4)] : file_formats[pick(NFILE_FORMATS)]);
            f->object_key = (char *)(pick(3) ? keys[3 + pick(2)] : keys[pick(NKEYS)]);
            f->size_bytes = ints[pick(7)];
            r->fp[i][k] = f;
        }
        v->files = r->fp[i];
        r->vp[i] = v;
    }
    img->variants = r->vp;
    img->thumbhash = (char *)thumbhashes[pick(2) ? 2 + pick(2) : pick(NTHUMBHASHES)];
    img->dominant_color = (char *)colors[pick(2) ? 2 + pick(2) : pick(NCOLORS)];
}

static char *dump(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

static char *take(gw_jbuf *jb)
{
    size_t len = 0;
    char *s = gw_jbuf_take(jb, &len);
    if (s && strlen(s) != len) {
        free(s);
        return strdup("<length differs>");
    }
    return s;
}

static int mismatches;

/* Both NULL, or the same bytes; the first few differences are printed. */
static void same(const char *what, unsigned n, char *want, char *got)
{
    bool eq = (!want && !got) || (want && got && !strcmp(want, got));
    if (!eq && mismatches++ < 5)
        fprintf(stderr, "%s #%u differs:\n jansson: %s\n written: %s\n", what, n,
                want ? want : "(none)", got ? got : "(none)");
    EXPECT(eq);
    free(want);
    free(got);
}

static void compare_image(unsigned n, const Imageproc__Image *img)
{
    gw_jbuf jb;
    gw_jbuf_init(&jb, 16, GW_JSON_MAX_BYTES);
    gw_image_info_write(&jb, img);
    same("info", n, dump(gw_image_info_json(img)), take(&jb));
    ip_variant_kind modes[] = {IP_VARIANT_NONE, IP_VARIANT_THUMBNAIL, IP_VARIANT_RESIZED,
                               IP_VARIANT_WATERMARKED};
    for (size_t m = 0; m < 4; m++) {
        gw_jbuf_init(&jb, 16, GW_JSON_MAX_BYTES);
        gw_image_item_write(&jb, img, modes[m]);
        same("item", n, dump(gw_image_item_json(img, modes[m])), take(&jb));
    }
}

/* Every record of the generator as info and items. */
static void test_images_equal_jansson(void)
{
    rec r;
    for (unsigned n = 0; n < 20000; n++) {
        rec_draw(&r);
        compare_image(n, &r.img);
    }
    /* Every text in every text field, and every key, one at a time. */
    rec_draw(&r);
    r.img.id = (char *)ids[0];
    r.img.n_variants = 1;
    r.v[0].kind = IP_VARIANT_THUMBNAIL;
    r.v[0].status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    for (unsigned t = 0; t < NTEXTS; t++) {
        r.img.filename = r.img.error = r.img.content_type = r.img.sha256 = (char *)texts[t];
        r.v[0].format = r.v[0].error = (char *)texts[t];
        compare_image(100000 + t, &r.img);
    }
    for (unsigned k = 0; k < NKEYS; k++) {
        r.v[0].object_key = (char *)keys[k];
        compare_image(200000 + k, &r.img);
    }
    for (unsigned i = 0; i < NIDS; i++) {
        r.img.id = (char *)ids[i];
        compare_image(300000 + i, &r.img);
    }
}

/* Pages of 0, 1, a few and 100 items, with and without next. */
static void test_pages_equal_jansson(void)
{
    enum { MAXP = 100 };
    rec *recs = calloc(MAXP, sizeof *recs);
    Imageproc__Image **imgs = calloc(MAXP, sizeof *imgs);
    CHECK(recs && imgs);
    const size_t sizes[] = {0, 1, 2, 24, MAXP};
    ip_variant_kind modes[] = {IP_VARIANT_NONE, IP_VARIANT_THUMBNAIL, IP_VARIANT_RESIZED,
                               IP_VARIANT_WATERMARKED};
    unsigned n = 0;
    for (unsigned round = 0; round < 40; round++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            for (size_t i = 0; i < sizes[s]; i++) {
                rec_draw(&recs[i]);
                imgs[i] = &recs[i].img;
            }
            Imageproc__ListImagesReply rep = IMAGEPROC__LIST_IMAGES_REPLY__INIT;
            rep.images = imgs;
            rep.n_images = sizes[s];
            rep.has_more = pick(2);
            ip_variant_kind mode = modes[pick(4)];
            gw_jbuf jb;
            gw_jbuf_init(&jb, 256 + sizes[s] * GW_JSON_ITEM_FIRST, GW_JSON_MAX_BYTES);
            gw_images_page_write(&jb, &rep, mode);
            same("page", n++, dump(gw_images_page_json(&rep, mode)), take(&jb));
        }
    }
    free(recs);
    free(imgs);
}

/* The bound: a text that would pass max fails the document, never writes
 * past it; an empty writer gives its empty text. */
static void test_jbuf_bound(void)
{
    gw_jbuf jb;
    gw_jbuf_init(&jb, 4, 32);
    gw_jbuf_open_array(&jb);
    EXPECT(gw_jbuf_str(&jb, "0123456789"));
    EXPECT(gw_jbuf_str(&jb, "0123456789"));
    EXPECT(!jb.failed);
    gw_jbuf_str(&jb, "0123456789");
    EXPECT(jb.failed);
    EXPECT(jb.cap <= 32);
    size_t len = 1;
    EXPECT(gw_jbuf_take(&jb, &len) == NULL);
    gw_jbuf_fini(&jb);

    gw_jbuf_init(&jb, 64, 1024);
    char *s = gw_jbuf_take(&jb, &len);
    CHECK(s != NULL);
    EXPECT(len == 0 && s[0] == '\0');
    free(s);

    /* A refused string leaves no trace, not even its comma. */
    gw_jbuf_init(&jb, 8, 1024);
    gw_jbuf_open_array(&jb);
    EXPECT(!gw_jbuf_str(&jb, "bad \xff"));
    gw_jbuf_int(&jb, 1);
    EXPECT(!gw_jbuf_str(&jb, "\xed\xa0\x80"));
    gw_jbuf_bool(&jb, true);
    gw_jbuf_null(&jb);
    gw_jbuf_close_array(&jb);
    s = gw_jbuf_take(&jb, &len);
    EXPECT_EQ_STR(s, "[1,true,null]");
    free(s);
}

static const ip_test_case tests[] = {
    IP_TEST(images_equal_jansson),
    IP_TEST(pages_equal_jansson),
    IP_TEST(jbuf_bound),
};

IP_TEST_MAIN(tests)
