/* ip_utf8_test.c — the UTF-8 sequence check at its boundaries. */
#include "ip_testing.h"
#include "ip_utf8.h"

#define SEQ(lit) ip_utf8_seq((const unsigned char *)(lit), sizeof(lit) - 1)

static void test_valid(void)
{
    CHECK_EQ_INT(SEQ("a"), 1);
    CHECK_EQ_INT(SEQ("\x7f"), 1);
    CHECK_EQ_INT(SEQ("\xc2\x80"), 2);         /* U+0080 */
    CHECK_EQ_INT(SEQ("\xdf\xbf"), 2);         /* U+07FF */
    CHECK_EQ_INT(SEQ("\xe0\xa0\x80"), 3);     /* U+0800 */
    CHECK_EQ_INT(SEQ("\xed\x9f\xbf"), 3);     /* U+D7FF */
    CHECK_EQ_INT(SEQ("\xee\x80\x80"), 3);     /* U+E000 */
    CHECK_EQ_INT(SEQ("\xef\xbf\xbf"), 3);     /* U+FFFF */
    CHECK_EQ_INT(SEQ("\xf0\x90\x80\x80"), 4); /* U+10000 */
    CHECK_EQ_INT(SEQ("\xf4\x8f\xbf\xbf"), 4); /* U+10FFFF */
    CHECK_EQ_INT(SEQ("\xe2\x82\xac-"), 3);    /* only the first sequence */
}

static void test_invalid(void)
{
    CHECK_EQ_INT(SEQ("\x80"), 0); /* stray continuation */
    CHECK_EQ_INT(SEQ("\xbf"), 0);
    CHECK_EQ_INT(SEQ("\xc0\x80"), 0); /* overlong NUL */
    CHECK_EQ_INT(SEQ("\xc1\xbf"), 0);
    CHECK_EQ_INT(SEQ("\xe0\x9f\xbf"), 0);     /* overlong U+07FF */
    CHECK_EQ_INT(SEQ("\xed\xa0\x80"), 0);     /* U+D800 */
    CHECK_EQ_INT(SEQ("\xed\xbf\xbf"), 0);     /* U+DFFF */
    CHECK_EQ_INT(SEQ("\xf0\x8f\xbf\xbf"), 0); /* overlong U+FFFF */
    CHECK_EQ_INT(SEQ("\xf4\x90\x80\x80"), 0); /* U+110000 */
    CHECK_EQ_INT(SEQ("\xf5\x80\x80\x80"), 0);
    CHECK_EQ_INT(SEQ("\xff"), 0);
    CHECK_EQ_INT(SEQ("\xc3\x41"), 0);                                   /* continuation missing */
    CHECK_EQ_INT(SEQ("\xe2\x82"), 0);                                   /* cut by the end */
    CHECK_EQ_INT(ip_utf8_seq((const unsigned char *)"\xe2\x82", 3), 0); /* cut by the NUL */
    CHECK_EQ_INT(SEQ("\xf0\x90\x80"), 0);
}

static const ip_test_case tests[] = {IP_TEST(valid), IP_TEST(invalid)};
IP_TEST_MAIN(tests)
