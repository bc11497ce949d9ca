/* gw_accept_test.c — the Accept header's parse and the file it chooses.
 *
 * One table of headers against the stored files of a variant (jpeg alone;
 * jpeg and webp; jpeg, webp and avif; png, webp and avif), each row naming the
 * format that must be served: browsers' real headers, weights and their
 * ties, q=0 exclusions, wildcards (which never bring WebP or AVIF),
 * parameters (a range with parameters weighs nothing here), case and
 * spaces, quoted strings with commas, and hostile headers (malformed
 * ranges, bad weights, too long, too many ranges) that must fall back to
 * the primary or keep the well-formed ranges. Then the weights themselves
 * and the bounds.
 */
#include <string.h>

#include "gw_accept.h"
#include "ip_testing.h"

static const ip_format_def *const f_jpeg[] = {&ip_format_jpeg};
static const ip_format_def *const f_jw[] = {&ip_format_jpeg, &ip_format_webp};
static const ip_format_def *const f_jwa[] = {&ip_format_jpeg, &ip_format_webp, &ip_format_avif};
static const ip_format_def *const f_pwa[] = {&ip_format_png, &ip_format_webp, &ip_format_avif};
/* A file of a format the table does not know (NULL) is never chosen. */
static const ip_format_def *const f_unknown[] = {NULL, &ip_format_jpeg, &ip_format_webp};

typedef struct choose_case {
    const char *accept;
    const ip_format_def *const *fmts;
    size_t n;
    const char *want; /* format name */
} choose_case;

#define JPEG f_jpeg, 1
#define JW f_jw, 2
#define JWA f_jwa, 3
#define PWA f_pwa, 3

static const choose_case cases[] = {
    /* No header, or an empty one: the primary. */
    {NULL, JWA, "jpeg"},
    {"", JWA, "jpeg"},
    {"   ", JWA, "jpeg"},
    {",,, ,", JWA, "jpeg"},
    /* Browsers. */
    {"image/avif,image/webp,*/*", JWA, "avif"},
    {"image/avif,image/webp,*/*", JW, "webp"},
    {"image/avif,image/webp,*/*", JPEG, "jpeg"},
    {"image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", JWA, "avif"},
    {"image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,"
     "image/svg+xml,image/*;q=0.8,*/*;q=0.5",
     JWA, "avif"},
    {"image/webp,*/*", JWA, "webp"},
    {"image/avif,image/webp,*/*", PWA, "avif"},
    /* Wildcards alone: the primary, never WebP or AVIF. */
    {"*/*", JWA, "jpeg"},
    {"image/*", JWA, "jpeg"},
    {"image/*;q=0.9, */*;q=0.1", PWA, "png"},
    /* One type alone. */
    {"image/jpeg", JWA, "jpeg"},
    {"image/webp", JWA, "webp"},
    {"image/avif", JW, "jpeg"}, /* nothing acceptable: the primary */
    {"image/png", JWA, "jpeg"},
    {"text/html", JWA, "jpeg"},
    /* Weights: highest wins, ties by preference. */
    {"image/webp;q=0.9,image/avif;q=0.5,*/*;q=0.1", JWA, "webp"},
    {"image/webp;q=0.5,image/avif;q=0.5", JWA, "avif"},
    {"image/jpeg,image/webp;q=0.9", JWA, "jpeg"},
    {"image/jpeg;q=0.9,image/webp", JWA, "webp"},
    {"image/*;q=0.5,image/webp;q=0.1", JWA, "jpeg"},
    {"image/webp;q=0.001", JWA, "webp"},
    {"image/webp;q=1.000", JWA, "webp"},
    /* q=0 excludes. */
    {"image/avif,image/webp;q=0,*/*", JW, "jpeg"},
    {"image/avif;q=0,image/webp,*/*", JWA, "webp"},
    {"image/webp;q=0", JW, "jpeg"},
    {"image/webp;q=0.000,*/*", JW, "jpeg"},
    {"image/jpeg;q=0,image/webp", JW, "webp"},
    {"image/jpeg;q=0", JPEG, "jpeg"}, /* nothing acceptable: still the primary */
    {"*/*;q=0,image/avif", JWA, "avif"},
    /* The most specific range counts, whatever the order. */
    {"*/*;q=0,image/jpeg", JW, "jpeg"},
    {"image/*;q=0,*/*", JW, "jpeg"}, /* the type range (q=0) beats the full one */
    {"image/jpeg;q=0.2,image/*;q=0.9", JW, "jpeg"},
    /* Case and spaces. */
    {"IMAGE/WEBP", JWA, "webp"},
    {"Image/Avif ; Q=0.7 , image/webp ;q=0.6", JWA, "avif"},
    {" \timage/webp \t;\t q = 0.5\t, image/jpeg;q=0.4 ", JWA, "webp"},
    /* Parameters: a range with them matches no stored file. */
    {"image/webp;level=1", JWA, "jpeg"},
    {"image/webp;level=1,image/webp;q=0.2,image/jpeg;q=0.5", JWA, "jpeg"},
    {"image/webp;q=0.9;ext=1", JWA, "webp"}, /* after the weight: an extension */
    {"image/webp;a=\"x,image/avif\",image/jpeg", JWA, "jpeg"},
    {"image/webp;a=\"q\\\"x,y\";q=1,image/avif;q=0.1", JWA, "avif"},
    {"image/webp;;q=0.5, image/avif;q=0.4", JWA, "webp"}, /* empty parameter */
    /* Malformed ranges are skipped; the others count. */
    {"image/webp;q=2,image/avif;q=0.1", JWA, "avif"},
    {"image/webp;q=0.5555,image/avif;q=0.1", JWA, "avif"},
    {"image/webp;q=-1", JW, "jpeg"},
    {"image/webp;q=,image/avif", JWA, "avif"},
    {"image/webp;q=0.5;q=0.6,image/avif;q=0.1", JWA, "avif"},
    {"image/webp;q=\"0.5\"", JW, "jpeg"},
    {"image,image/webp", JWA, "webp"},
    {"image/,image/webp", JWA, "webp"},
    {"/webp,image/webp", JWA, "webp"},
    {"*/webp,image/avif;q=0.1", JWA, "avif"},
    {"image/we bp,image/avif", JWA, "avif"},
    {"image/webp;=1,image/avif", JWA, "avif"},
    {"image/webp;a,image/avif", JWA, "avif"},
    {"image/webp;a=\"unterminated,image/avif", JWA, "jpeg"},
    {"image/webp\"x\",image/avif", JWA, "avif"},
    {"image/webp;a=\\,image/avif", JWA, "avif"},
    {"\x01\x02/\xff,image/webp", JWA, "webp"},
    {"image/webp\r\n,image/avif", JWA, "avif"},
    /* Unknown formats among the files. */
    {"image/webp", f_unknown, 3, "webp"},
    {NULL, f_unknown, 3, "jpeg"},
};

static void test_choose_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const choose_case *c = &cases[i];
        size_t got = gw_accept_choose(c->accept, c->fmts, c->n);
        const char *name = got < c->n && c->fmts[got] ? c->fmts[got]->name : "(none)";
        EXPECTF(strcmp(name, c->want) == 0, "case %zu \"%s\": want %s, got %s", i,
                c->accept ? c->accept : "(null)", c->want, name);
    }
}

static void test_weights(void)
{
    gw_accept a;
    CHECK(gw_accept_parse("image/webp;q=0.8, image/*;q=0.5, */*;q=0.1, text/plain;format=x", &a));
    EXPECT_EQ_INT((int)a.n, 4);
    EXPECT_EQ_INT(gw_accept_weight(&a, "image/webp", false), 800);
    EXPECT_EQ_INT(gw_accept_weight(&a, "image/jpeg", false), 500);
    EXPECT_EQ_INT(gw_accept_weight(&a, "image/jpeg", true), 0);
    EXPECT_EQ_INT(gw_accept_weight(&a, "text/html", false), 100);
    EXPECT_EQ_INT(gw_accept_weight(&a, "text/plain", false), 100);
    EXPECT_EQ_INT(gw_accept_weight(&a, "nonsense", false), 0);
    EXPECT(a.r[3].has_params);
    /* q values: every form the grammar allows. */
    static const struct {
        const char *h;
        int q;
    } qs[] = {{"a/b;q=0", 0},      {"a/b;q=0.", 0},   {"a/b;q=0.5", 500},  {"a/b;q=0.05", 50},
              {"a/b;q=0.005", 5},  {"a/b;q=1", 1000}, {"a/b;q=1.", 1000},  {"a/b;q=1.0", 1000},
              {"a/b;Q=0.25", 250}, {"a/b", 1000},     {"a/b;q=1.001", -1}, {"a/b;q=0.1234", -1},
              {"a/b;q=.5", -1},    {"a/b;q=01", -1},  {"a/b;q=1e0", -1}};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        CHECK(gw_accept_parse(qs[i].h, &a));
        int got = a.n == 1 ? a.r[0].q : -1;
        EXPECTF(got == qs[i].q, "%s: want %d, got %d", qs[i].h, qs[i].q, got);
    }
}

/* Over the bounds: treated as no header, whatever it says. */
static void test_bounds(void)
{
    static char h[GW_ACCEPT_MAX_BYTES + 64];
    gw_accept a;
    /* Exactly the most bytes: parsed. */
    memset(h, ' ', GW_ACCEPT_MAX_BYTES);
    memcpy(h + GW_ACCEPT_MAX_BYTES - 10, "image/webp", 10);
    h[GW_ACCEPT_MAX_BYTES] = '\0';
    EXPECT(gw_accept_parse(h, &a) && a.n == 1);
    EXPECT_EQ_INT((int)gw_accept_choose(h, f_jw, 2), 1);
    /* One byte more: as no header. */
    h[GW_ACCEPT_MAX_BYTES] = ' ';
    h[GW_ACCEPT_MAX_BYTES + 1] = '\0';
    EXPECT(!gw_accept_parse(h, &a) && a.n == 0);
    EXPECT_EQ_INT((int)gw_accept_choose(h, f_jw, 2), 0);
    /* The most ranges, then one more (malformed ones count too). */
    size_t len = 0;
    for (int i = 0; i < GW_ACCEPT_MAX_RANGES - 1; i++)
        len += (size_t)snprintf(h + len, sizeof h - len, "x/%d,", i);
    len += (size_t)snprintf(h + len, sizeof h - len, "image/webp");
    EXPECT(gw_accept_parse(h, &a) && a.n == GW_ACCEPT_MAX_RANGES);
    EXPECT_EQ_INT((int)gw_accept_choose(h, f_jw, 2), 1);
    snprintf(h + len, sizeof h - len, ",bad");
    EXPECT(!gw_accept_parse(h, &a) && a.n == 0);
    EXPECT_EQ_INT((int)gw_accept_choose(h, f_jw, 2), 0);
    /* Empty elements are not ranges and do not count. */
    memset(h, ',', 1000);
    snprintf(h + 1000, sizeof h - 1000, "image/webp");
    EXPECT(gw_accept_parse(h, &a) && a.n == 1);
    /* A quoted string that never ends stops at the end of the text. */
    EXPECT(gw_accept_parse("image/webp;a=\"\\", &a) && a.n == 0);
}

static const ip_test_case tests[] = {
    IP_TEST(choose_table),
    IP_TEST(weights),
    IP_TEST(bounds),
};

IP_TEST_MAIN(tests)
