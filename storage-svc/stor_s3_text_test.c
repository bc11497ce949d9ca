/* stor_s3_text_test.c — unit tests of the S3 text formats (stor_s3_text.h):
 * key checks, SigV4 URI encoding, the canonical query string, XML escaping,
 * the XML scanner on well-formed and malformed answers, and the multi-object
 * delete body. Run one test by name (`stor_s3_text_test xml_error`) or all
 * with no argument; the table of tests is at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stor_s3_text.h"
#include "ip_keys.h"
#include "ip_testing.h"

static void test_key_check(void)
{
    const char *why;
    /* Every key and prefix the system makes (ip_keys.h) passes. */
    const char *id = "0190a1b2-0000-7000-8000-000000000000";
    char key[IP_KEY_MAX];
    CHECK(ip_key_original(key, id) == IP_OK);
    EXPECT(stor_key_check(key, &why) == IP_OK);
    for (size_t i = 0; i < IP_VARIANT_COUNT; i++) {
        CHECK(ip_key_variant(key, id, ip_variants[i].kind, &ip_format_jpeg) == IP_OK);
        EXPECT(stor_key_check(key, &why) == IP_OK);
        CHECK(ip_key_variant(key, id, ip_variants[i].kind, &ip_format_png) == IP_OK);
        EXPECT(stor_key_check(key, &why) == IP_OK);
    }
    CHECK(ip_key_variant_prefix(key, id) == IP_OK);
    EXPECT(stor_prefix_check(key, &why) == IP_OK);
    EXPECT(stor_key_check("a b+c=d&e", &why) == IP_OK);
    EXPECT(stor_key_check("", &why) == IP_INVALID_ARGUMENT && why);
    EXPECT(stor_key_check(NULL, &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_key_check("/o/x", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_key_check("v/../o/x", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_key_check("..", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_key_check("a\nb", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_key_check("a\tb", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_key_check("caf\xc3\xa9", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_key_check("a\x7f", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_key_check("a//b", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_key_check("a/b/", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_key_check("a/./b", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_key_check("./b", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_key_check("a/.", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_key_check(".", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_key_check("a/.b/c.", &why) == IP_OK);
    EXPECT(stor_prefix_check("t/x/", &why) == IP_OK);
    EXPECT(stor_prefix_check("t/x", &why) == IP_OK);
    EXPECT(stor_prefix_check("t//", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_prefix_check("/t/", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_prefix_check("t/../", &why) == IP_INVALID_ARGUMENT);
    EXPECT(stor_prefix_check("", &why) == IP_INVALID_ARGUMENT);
    char *big = malloc(STOR_KEY_MAX + 2);
    memset(big, 'k', STOR_KEY_MAX + 1);
    big[STOR_KEY_MAX + 1] = '\0';
    EXPECT(stor_key_check(big, &why) == IP_INVALID_ARGUMENT);
    big[STOR_KEY_MAX] = '\0';
    EXPECT(stor_key_check(big, &why) == IP_OK);
    free(big);

    EXPECT(stor_header_value_ok("image/jpeg", 255));
    EXPECT(stor_header_value_ok("", 255));
    EXPECT(stor_header_value_ok(NULL, 255));
    EXPECT(!stor_header_value_ok("image/jpeg\r\nX-Evil: 1", 255));
    EXPECT(!stor_header_value_ok("abcdef", 5));
}

static void test_uri_encode(void)
{
    char *s;
    s = stor_uri_encode("t/abc/thumb.jpg", 15, true);
    EXPECT_EQ_STR(s, "t/abc/thumb.jpg");
    free(s);
    s = stor_uri_encode("t/abc/thumb.jpg", 15, false);
    EXPECT_EQ_STR(s, "t%2Fabc%2Fthumb.jpg");
    free(s);
    s = stor_uri_encode("a b+c=d&e~f_g-h.i*j", 19, true);
    EXPECT_EQ_STR(s, "a%20b%2Bc%3Dd%26e~f_g-h.i%2Aj");
    free(s);
    s = stor_uri_encode("\xc3\xa9%", 3, true);
    EXPECT_EQ_STR(s, "%C3%A9%25");
    free(s);
    s = stor_uri_encode("", 0, true);
    EXPECT_EQ_STR(s, "");
    free(s);
}

static void test_canonical_query(void)
{
    char *q;
    stor_query_param p1[] = {{"prefix", "t/x y/"},
                             {"list-type", "2"},
                             {"max-keys", "1000"},
                             {"continuation-token", "1/a+b=="}};
    q = stor_canonical_query(p1, 4);
    EXPECT_EQ_STR(q, "continuation-token=1%2Fa%2Bb%3D%3D&list-type=2&max-keys=1000&"
                     "prefix=t%2Fx%20y%2F");
    free(q);

    /* A bare sub-resource keeps its '='. */
    stor_query_param p2[] = {{"policy", NULL}};
    q = stor_canonical_query(p2, 1);
    EXPECT_EQ_STR(q, "policy=");
    free(q);
    stor_query_param p3[] = {{"delete", ""}};
    q = stor_canonical_query(p3, 1);
    EXPECT_EQ_STR(q, "delete=");
    free(q);

    q = stor_canonical_query(NULL, 0);
    EXPECT_EQ_STR(q, "");
    free(q);

    /* Same name: ordered by value. Upper case sorts before lower (byte order). */
    stor_query_param p4[] = {{"b", "2"}, {"b", "1"}, {"B", "x"}, {"a", ""}};
    q = stor_canonical_query(p4, 4);
    EXPECT_EQ_STR(q, "B=x&a=&b=1&b=2");
    free(q);
}

static void test_xml_escape(void)
{
    char *s = stor_xml_escape("a&b<c>d\"e'f");
    EXPECT_EQ_STR(s, "a&amp;b&lt;c&gt;d&quot;e&apos;f");
    free(s);
    s = stor_xml_escape("");
    EXPECT_EQ_STR(s, "");
    free(s);
}

static void test_xml_next(void)
{
    const char *xml = "<R><Contents><Key>a</Key></Contents><Contents><Key>b&amp;c</Key>"
                      "</Contents><Empty/><IsTruncated>false</IsTruncated></R>";
    const char *pos = xml, *end = xml + strlen(xml), *in;
    size_t il;
    int n = 0;
    while (stor_xml_next(&pos, end, "Contents", &in, &il))
        n++;
    EXPECT(n == 2);

    pos = xml;
    EXPECT(stor_xml_next(&pos, end, "Empty", &in, &il) && il == 0);
    pos = xml;
    EXPECT(stor_xml_next(&pos, end, "IsTruncated", &in, &il) && il == 5 &&
           memcmp(in, "false", 5) == 0);
    pos = xml;
    EXPECT(!stor_xml_next(&pos, end, "Missing", &in, &il));

    /* Unclosed element, truncated input, empty input. */
    const char *bad = "<Key>abc";
    pos = bad;
    EXPECT(!stor_xml_next(&pos, bad + strlen(bad), "Key", &in, &il));
    pos = xml;
    EXPECT(!stor_xml_next(&pos, xml + 20, "Contents", &in, &il));
    pos = "";
    EXPECT(!stor_xml_next(&pos, pos, "Key", &in, &il));
    /* A tag name too long for the scanner is simply not found. */
    char longtag[200];
    memset(longtag, 'T', sizeof longtag - 1);
    longtag[sizeof longtag - 1] = '\0';
    pos = xml;
    EXPECT(!stor_xml_next(&pos, end, longtag, &in, &il));
}

static void test_xml_text(void)
{
    char out[64];
    const char *raw = "a&amp;b&lt;&gt;&quot;&apos;&#65;&#x42;&#xe9;";
    EXPECT(stor_xml_text(raw, strlen(raw), out, sizeof out));
    EXPECT_EQ_STR(out, "a&b<>\"'AB\xc3\xa9");

    EXPECT(!stor_xml_text("a&bogus;", 8, out, sizeof out));
    EXPECT(!stor_xml_text("a&amp", 5, out, sizeof out));
    EXPECT(!stor_xml_text("&#;", 3, out, sizeof out));
    EXPECT(!stor_xml_text("&#x110000;", 10, out, sizeof out));
    EXPECT(!stor_xml_text("&#0;", 4, out, sizeof out));
    EXPECT(!stor_xml_text("&#xD800;", 8, out, sizeof out));
    EXPECT(!stor_xml_text("a<b", 3, out, sizeof out));
    EXPECT(!stor_xml_text("&#99999999999999;", 17, out, sizeof out));

    /* Truncation is reported, and the output stays terminated. */
    char small[4];
    EXPECT(!stor_xml_text("abcdef", 6, small, sizeof small));
    EXPECT_EQ_STR(small, "abc");

    char *d = stor_xml_text_dup("x&amp;y", 7);
    EXPECT_EQ_STR(d, "x&y");
    free(d);
    EXPECT(stor_xml_text_dup("x&y", 3) == NULL);
}

static void test_xml_error(void)
{
    char code[64], msg[128];
    const char *e = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                    "<Message>The specified key does not exist.</Message>"
                    "<Key>o/x</Key><RequestId>1</RequestId></Error>";
    EXPECT(stor_xml_error_parse(e, strlen(e), code, sizeof code, msg, sizeof msg));
    EXPECT_EQ_STR(code, "NoSuchKey");
    EXPECT_EQ_STR(msg, "The specified key does not exist.");

    const char *sig = "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature "
                      "we calculated does not match &amp; more</Message></Error>";
    EXPECT(stor_xml_error_parse(sig, strlen(sig), code, sizeof code, msg, sizeof msg));
    EXPECT_EQ_STR(code, "SignatureDoesNotMatch");
    EXPECT_EQ_STR(msg, "The request signature we calculated does not match & more");

    EXPECT(!stor_xml_error_parse("", 0, code, sizeof code, msg, sizeof msg));
    EXPECT_EQ_STR(code, "");
    EXPECT(!stor_xml_error_parse(NULL, 0, code, sizeof code, msg, sizeof msg));
    EXPECT(!stor_xml_error_parse("not xml at all", 14, code, sizeof code, msg, sizeof msg));
    const char *nomsg = "<Error><Code>AccessDenied</Code></Error>";
    EXPECT(stor_xml_error_parse(nomsg, strlen(nomsg), code, sizeof code, msg, sizeof msg));
    EXPECT_EQ_STR(code, "AccessDenied");
    EXPECT_EQ_STR(msg, "");
    /* A huge message is cut to the buffer, never overflowing it. */
    char big[600] = "<Error><Code>X</Code><Message>";
    memset(big + strlen(big), 'm', 500);
    strcpy(big + 30 + 500, "</Message></Error>");
    EXPECT(stor_xml_error_parse(big, strlen(big), code, sizeof code, msg, sizeof msg));
    EXPECT(strlen(msg) == sizeof msg - 1);
}

static void test_delete_body(void)
{
    const char *keys[] = {"t/a", "t/b&c"};
    size_t len = 0;
    char *b = stor_xml_delete_body(keys, 2, &len);
    EXPECT(b && len == strlen(b));
    EXPECT(b && strstr(b, "<Quiet>true</Quiet>"));
    EXPECT(b && strstr(b, "<Object><Key>t/a</Key></Object><Object><Key>t/b&amp;c</Key></Object>"));
    EXPECT(b && strstr(b, "</Delete>") == b + len - 9);
    free(b);
}

static void free_keys(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

static void test_list_parse(void)
{
    char **keys, *next;
    size_t n;
    const char *page = "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3\">"
                       "<Name>images</Name><Prefix>t/</Prefix><KeyCount>2</KeyCount>"
                       "<IsTruncated>true</IsTruncated>"
                       "<NextContinuationToken>tok/+=&amp;1</NextContinuationToken>"
                       "<Contents><Key>t/a</Key><Size>1</Size></Contents>"
                       "<Contents><Key>t/b&amp;c</Key><ETag>&quot;x&quot;</ETag></Contents>"
                       "</ListBucketResult>";
    EXPECT(stor_xml_list_parse(page, strlen(page), &keys, &n, &next) == IP_OK);
    EXPECT(n == 2);
    if (n == 2) {
        EXPECT_EQ_STR(keys[0], "t/a");
        EXPECT_EQ_STR(keys[1], "t/b&c");
    }
    EXPECT_EQ_STR(next, "tok/+=&1");
    free_keys(keys, n);
    free(next);

    const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated>"
                       "<Contents><Key>k</Key></Contents></ListBucketResult>";
    EXPECT(stor_xml_list_parse(last, strlen(last), &keys, &n, &next) == IP_OK);
    EXPECT(n == 1 && next == NULL);
    free_keys(keys, n);

    const char *empty = "<ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>";
    EXPECT(stor_xml_list_parse(empty, strlen(empty), &keys, &n, &next) == IP_OK);
    EXPECT(n == 0 && keys == NULL && next == NULL);

    /* Truncated without a token, a bad entity: refused, nothing returned. */
    const char *notoken = "<R><IsTruncated>true</IsTruncated><Contents><Key>k</Key></Contents></R>";
    EXPECT(stor_xml_list_parse(notoken, strlen(notoken), &keys, &n, &next) == IP_INVALID_ARGUMENT);
    EXPECT(n == 0 && keys == NULL && next == NULL);
    const char *badent = "<R><Contents><Key>a&zz;</Key></Contents></R>";
    EXPECT(stor_xml_list_parse(badent, strlen(badent), &keys, &n, &next) == IP_INVALID_ARGUMENT);
    EXPECT(stor_xml_list_parse("", 0, &keys, &n, &next) == IP_OK && n == 0);
}

static void test_delete_result(void)
{
    char key[64], code[64], msg[64];
    const char *ok = "<DeleteResult xmlns=\"x\"></DeleteResult>";
    EXPECT(stor_xml_delete_result(ok, strlen(ok), key, sizeof key, code, sizeof code, msg,
                                  sizeof msg) == 0);
    EXPECT_EQ_STR(code, "");
    const char *bad = "<DeleteResult><Error><Key>t/a</Key><Code>AccessDenied</Code>"
                      "<Message>Access Denied</Message></Error><Error><Key>t/b</Key>"
                      "<Code>InternalError</Code></Error></DeleteResult>";
    EXPECT(stor_xml_delete_result(bad, strlen(bad), key, sizeof key, code, sizeof code, msg,
                                  sizeof msg) == 2);
    EXPECT_EQ_STR(key, "t/a");
    EXPECT_EQ_STR(code, "AccessDenied");
    EXPECT_EQ_STR(msg, "Access Denied");
}

static const ip_test_case tests[] = {
    IP_TEST(key_check),  IP_TEST(uri_encode),    IP_TEST(canonical_query), IP_TEST(xml_escape),
    IP_TEST(xml_next),   IP_TEST(xml_text),      IP_TEST(xml_error),       IP_TEST(delete_body),
    IP_TEST(list_parse), IP_TEST(delete_result),
};

IP_TEST_MAIN(tests)
