/* gw_multipart_test.c — the multipart parser, whole and byte by byte, and
 * its file buffer's charge on the memory budget. */
#include <string.h>

#include "gw_multipart.h"
#include "ip_budget.h"
#include "ip_testing.h"

static const gw_mp_limits LIM = {.max_file_bytes = 1000, .max_header_bytes = 256, .max_parts = 4};

/* Feeds `body` in chunks of `step` bytes (0 = all at once) and finishes. */
static gw_mp_result parse(const char *boundary, const char *body, size_t len, size_t step,
                          gw_multipart **out)
{
    gw_multipart *mp = gw_multipart_new(boundary, &LIM);
    gw_mp_result r = GW_MP_OK;
    if (!step)
        step = len ? len : 1;
    for (size_t off = 0; off < len && r == GW_MP_OK; off += step)
        r = gw_multipart_feed(mp, body + off, len - off < step ? len - off : step);
    if (r == GW_MP_OK)
        r = gw_multipart_finish(mp);
    *out = mp;
    return r;
}

#define GOOD                                                                                       \
    "--XyZ\r\nContent-Disposition: form-data; name=\"ops\"\r\n\r\nthumbnail\r\n"                   \
    "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"               \
    "Content-Type: image/png\r\n\r\nPNG\r\n-XyZ-bytes\r\n--XyZ--\r\n"

static void test_good_all_chunkings(void)
{
    for (size_t step = 0; step <= 40; step++) {
        gw_multipart *mp;
        gw_mp_result r = parse("XyZ", GOOD, strlen(GOOD), step, &mp);
        EXPECT(r == GW_MP_OK);
        EXPECT(gw_multipart_has_file(mp));
        EXPECT(strcmp(gw_multipart_filename(mp), "a.png") == 0);
        EXPECT(gw_multipart_ops(mp) && strcmp(gw_multipart_ops(mp), "thumbnail") == 0);
        size_t len = 0;
        char *f = gw_multipart_take_file(mp, &len);
        EXPECT(f && len == 15 && memcmp(f, "PNG\r\n-XyZ-bytes", 15) == 0);
        free(f);
        gw_multipart_free(mp);
    }
}

/* The on_duplicate field: read in any chunking, cut at 15 bytes, once only. */
static void test_on_duplicate(void)
{
#define DUP(v)                                                                                     \
    "--XyZ\r\nContent-Disposition: form-data; name=\"on_duplicate\"\r\n\r\n" v "\r\n"              \
    "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\nPNG\r\n"    \
    "--XyZ--\r\n"
    for (size_t step = 0; step <= 12; step++) {
        gw_multipart *mp;
        EXPECT(parse("XyZ", DUP("new"), strlen(DUP("new")), step, &mp) == GW_MP_OK);
        EXPECT(gw_multipart_on_duplicate(mp) && !strcmp(gw_multipart_on_duplicate(mp), "new"));
        EXPECT(gw_multipart_ops(mp) == NULL);
        gw_multipart_free(mp);
    }
    gw_multipart *mp;
    const char *longer = DUP("existing-and-then-some");
    EXPECT(parse("XyZ", longer, strlen(longer), 5, &mp) == GW_MP_OK);
    EXPECT(gw_multipart_on_duplicate(mp) &&
           !strcmp(gw_multipart_on_duplicate(mp), "existing-and-th"));
    gw_multipart_free(mp);
    EXPECT(parse("XyZ", GOOD, strlen(GOOD), 0, &mp) == GW_MP_OK);
    EXPECT(gw_multipart_on_duplicate(mp) == NULL);
    gw_multipart_free(mp);
    const char *twice =
        "--XyZ\r\nContent-Disposition: form-data; name=\"on_duplicate\"\r\n\r\nnew\r\n" DUP("new");
    EXPECT(parse("XyZ", twice, strlen(twice), 0, &mp) == GW_MP_BAD);
    gw_multipart_free(mp);
#undef DUP
}

static void test_boundary(void)
{
    char b[GW_BOUNDARY_MAX + 1];
    EXPECT(gw_multipart_boundary("multipart/form-data; boundary=abc", b) == IP_OK &&
           !strcmp(b, "abc"));
    EXPECT(gw_multipart_boundary("Multipart/Form-Data;boundary=\"a b\"", b) == IP_OK &&
           !strcmp(b, "a b"));
    EXPECT(gw_multipart_boundary("multipart/form-data; charset=x; boundary=q1; x=y", b) == IP_OK &&
           !strcmp(b, "q1"));
    EXPECT(gw_multipart_boundary("multipart/form-data", b) != IP_OK);
    EXPECT(gw_multipart_boundary("multipart/form-data; boundary=", b) != IP_OK);
    EXPECT(gw_multipart_boundary("multipart/form-data; boundary=\"unterminated", b) != IP_OK);
    EXPECT(gw_multipart_boundary("multipart/mixed; boundary=abc", b) != IP_OK);
    EXPECT(gw_multipart_boundary("image/png", b) != IP_OK);
    EXPECT(gw_multipart_boundary(NULL, b) != IP_OK);
    char longb[200] = "multipart/form-data; boundary=";
    memset(longb + strlen(longb), 'a', 100);
    EXPECT(gw_multipart_boundary(longb, b) != IP_OK);
}

static void expect_bad(const char *body, gw_mp_result want)
{
    for (size_t step = 0; step <= 7; step += 7) {
        gw_multipart *mp;
        gw_mp_result r = parse("XyZ", body, strlen(body), step, &mp);
        EXPECT(r == want);
        if (r != want)
            fprintf(stderr, "  body: %.60s... got %d (%s)\n", body, r, gw_multipart_error(mp));
        EXPECT(r == GW_MP_OK || gw_multipart_error(mp)[0] != '\0');
        gw_multipart_free(mp);
    }
}

static void test_bad(void)
{
    expect_bad("", GW_MP_BAD); /* empty */
    expect_bad("--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc", GW_MP_BAD);
    expect_bad("--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--XyZ",
               GW_MP_BAD); /* no closing "--" */
    expect_bad("--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\na\r\n"
               "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nb\r\n--XyZ--",
               GW_MP_BAD); /* two files */
    expect_bad("--XyZ\r\nContent-Disposition: attachment; name=\"file\"\r\n\r\na\r\n--XyZ--",
               GW_MP_BAD);
    expect_bad("--XyZ\r\nContent-Disposition: form-data\r\n\r\na\r\n--XyZ--", GW_MP_BAD);
    expect_bad("--XyZ\r\nContent-Type: text/plain\r\n\r\na\r\n--XyZ--", GW_MP_BAD);
    expect_bad("--XyZ\r\nno colon here\r\n\r\na\r\n--XyZ--", GW_MP_BAD);
    expect_bad("--XyZgarbage\r\n", GW_MP_BAD);
    /* too many parts */
    expect_bad("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
               "--XyZ\r\nContent-Disposition: form-data; name=b\r\n\r\n1\r\n"
               "--XyZ\r\nContent-Disposition: form-data; name=c\r\n\r\n1\r\n"
               "--XyZ\r\nContent-Disposition: form-data; name=d\r\n\r\n1\r\n"
               "--XyZ\r\nContent-Disposition: form-data; name=e\r\n\r\n1\r\n--XyZ--",
               GW_MP_BAD);
    /* huge header */
    char big[1200];
    int n =
        snprintf(big, sizeof big, "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\nX: ");
    memset(big + n, 'h', 600);
    strcpy(big + n + 600, "\r\n\r\na\r\n--XyZ--");
    expect_bad(big, GW_MP_BAD);
    /* file too large */
    char *huge = malloc(3000);
    n = snprintf(huge, 3000, "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n");
    memset(huge + n, 'x', 1500);
    strcpy(huge + n + 1500, "\r\n--XyZ--");
    expect_bad(huge, GW_MP_TOO_LARGE);
    free(huge);
    /* exactly at the limit is fine */
    huge = malloc(3000);
    n = snprintf(huge, 3000, "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n");
    memset(huge + n, 'x', 1000);
    strcpy(huge + n + 1000, "\r\n--XyZ--");
    expect_bad(huge, GW_MP_OK);
    free(huge);
}

static void test_preamble_epilogue_and_no_file(void)
{
    const char *b = "preamble text\r\n--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n"
                    "\r\nzzz\r\n--XyZ--\r\nepilogue";
    gw_multipart *mp;
    EXPECT(parse("XyZ", b, strlen(b), 3, &mp) == GW_MP_OK);
    EXPECT(!gw_multipart_has_file(mp));
    size_t len;
    EXPECT(gw_multipart_take_file(mp, &len) == NULL);
    gw_multipart_free(mp);
}

static void test_windows_filename(void)
{
    const char *b = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                    "filename=\"C:\\Users\\me\\p.png\"\r\n\r\nx\r\n--XyZ--";
    gw_multipart *mp;
    EXPECT(parse("XyZ", b, strlen(b), 0, &mp) == GW_MP_OK);
    EXPECT(strcmp(gw_multipart_filename(mp), "p.png") == 0);
    gw_multipart_free(mp);
}

static void test_empty_file(void)
{
    const char *b = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\n"
                    "\r\n\r\n--XyZ--";
    gw_multipart *mp;
    EXPECT(parse("XyZ", b, strlen(b), 0, &mp) == GW_MP_OK);
    size_t len = 99;
    char *f = gw_multipart_take_file(mp, &len);
    EXPECT(f && len == 0);
    EXPECT(strcmp(gw_multipart_filename(mp), "upload") == 0);
    free(f);
    gw_multipart_free(mp);
}

static void test_filename(void)
{
    char *s;
    s = gw_filename_sanitize("../../etc/passwd", 16);
    EXPECT(!strcmp(s, "passwd"));
    free(s);
    s = gw_filename_sanitize("C:\\x\\y.jpg", 10);
    EXPECT(!strcmp(s, "y.jpg"));
    free(s);
    s = gw_filename_sanitize("..", 2);
    EXPECT(!strcmp(s, "upload"));
    free(s);
    s = gw_filename_sanitize("a/..", 4);
    EXPECT(!strcmp(s, "upload"));
    free(s);
    s = gw_filename_sanitize("b\xff\xfe.png", 7);
    EXPECT(!strcmp(s, "b\xef\xbf\xbd\xef\xbf\xbd.png"));
    free(s);
    s = gw_filename_sanitize("caf\xc3\xa9.jpg", 9);
    EXPECT(!strcmp(s, "caf\xc3\xa9.jpg"));
    free(s);
    s = gw_filename_sanitize("\xed\xa0\x80x", 4); /* surrogate: invalid */
    EXPECT(!strcmp(s, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx"));
    free(s);
    s = gw_filename_sanitize("a\x01\"b\n", 5);
    EXPECT(!strcmp(s, "ab"));
    free(s);
    char longname[600];
    memset(longname, 'a', sizeof longname);
    s = gw_filename_sanitize(longname, sizeof longname);
    EXPECT(strlen(s) == 255);
    free(s);
    char euro[600];
    for (int i = 0; i < 200; i++)
        memcpy(euro + 3 * i, "\xe2\x82\xac", 3);
    s = gw_filename_sanitize(euro, 600);
    EXPECT(strlen(s) == 255);
    free(s);
}

/* The file buffer is charged from its first 64 KiB (a small limit: capped
 * at max_file_bytes); the charge goes with the file (take_file_charged) or
 * back at once (take_file, free); a budget without room fails with BUSY. */
static void test_budget(void)
{
    CHECK_EQ_INT(ip_budget_used(), 0);
    gw_multipart *mp;
    CHECK(parse("XyZ", GOOD, strlen(GOOD), 0, &mp) == GW_MP_OK);
    EXPECT_EQ_INT(ip_budget_used(), 1000); /* LIM.max_file_bytes */
    size_t len = 0;
    int64_t charged = 0;
    char *f = gw_multipart_take_file_charged(mp, &len, &charged);
    EXPECT(f && len == 15 && charged == 1000);
    gw_multipart_free(mp);
    EXPECT_EQ_INT(ip_budget_used(), 1000); /* still held: the caller's now */
    free(f);
    ip_budget_give(charged);
    EXPECT(parse("XyZ", GOOD, strlen(GOOD), 7, &mp) == GW_MP_OK);
    gw_multipart_free(mp); /* never taken: given back with the parser */
    EXPECT_EQ_INT(ip_budget_used(), 0);
    ip_budget_set_limit(500);
    EXPECT(parse("XyZ", GOOD, strlen(GOOD), 0, &mp) == GW_MP_BUSY);
    gw_multipart_free(mp);
    EXPECT_EQ_INT(ip_budget_used(), 0);
    ip_budget_set_limit(1024LL * 1024 * 1024);
}

static const ip_test_case tests[] = {
    IP_TEST(budget),     IP_TEST(good_all_chunkings),
    IP_TEST(boundary),   IP_TEST(on_duplicate),
    IP_TEST(bad),        IP_TEST(preamble_epilogue_and_no_file),
    IP_TEST(empty_file), IP_TEST(windows_filename),
    IP_TEST(filename),
};

IP_TEST_MAIN(tests)
