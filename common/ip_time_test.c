/* ip_time_test.c — RFC 3339 formatting and parsing: round trips and negatives. */
#include "ip_testing.h"
#include "ip_time.h"

static void test_roundtrip(void)
{
    static const char *const texts[] = {
        "1970-01-01T00:00:00.000000Z", "2026-11-29T00:22:40.123456Z", "2000-02-29T23:59:59.999999Z",
        "1969-12-31T23:59:59.999999Z", "0001-01-01T00:00:00.000001Z", "9999-12-31T23:59:59.999999Z",
        "2024-02-29T12:00:00.500000Z",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int64_t us;
        char out[IP_RFC3339_LEN + 1];
        CHECK_EQ_INT(ip_time_parse(texts[i], &us), IP_OK);
        ip_time_format(us, out);
        CHECK_EQ_STR(out, texts[i]);
    }
    /* us -> text -> us over a spread of values, negative ones included. */
    for (int64_t us = -4000000000000000LL; us < 4000000000000000LL; us += 123456789012345LL) {
        char out[IP_RFC3339_LEN + 1];
        int64_t back;
        ip_time_format(us, out);
        CHECK_EQ_INT(ip_time_parse(out, &back), IP_OK);
        CHECK_EQ_INT(back, us);
    }
}

static void test_known_values(void)
{
    int64_t us;
    CHECK_EQ_INT(ip_time_parse("1970-01-01T00:00:00Z", &us), IP_OK);
    CHECK_EQ_INT(us, 0);
    CHECK_EQ_INT(ip_time_parse("1970-01-01T00:00:01.5Z", &us), IP_OK);
    CHECK_EQ_INT(us, 1500000);
    CHECK_EQ_INT(ip_time_parse("1970-01-01T01:00:00+01:00", &us), IP_OK);
    CHECK_EQ_INT(us, 0);
    CHECK_EQ_INT(ip_time_parse("1969-12-31T19:00:00.000001-05:00", &us), IP_OK);
    CHECK_EQ_INT(us, 1);
    CHECK_EQ_INT(ip_time_parse("2026-11-29t00:22:40.123456z", &us), IP_OK);
    CHECK_EQ_INT(us, 1795911760123456LL);
    char out[IP_RFC3339_LEN + 1];
    ip_time_format(1795911760123456LL, out);
    CHECK_EQ_STR(out, "2026-11-29T00:22:40.123456Z");
}

static void test_negatives(void)
{
    static const char *const bad[] = {
        "",
        "2026-11-29",
        "2026-11-29T00:22:40",          /* no zone */
        "2026-11-29T00:22:40.Z",        /* empty fraction */
        "2026-11-29T00:22:40.1234567Z", /* 7 digits */
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-02-29T00:00:00Z", /* not a leap year */
        "1900-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-11-29T24:00:00Z",
        "2026-11-29T23:60:00Z",
        "2026-11-29T23:59:60Z", /* leap seconds are refused */
        "2026-11-29T00:22:40Zjunk",
        "2026-11-29T00:22:40+0100",
        "2026-11-29T00:22:40+24:00",
        "2026-11-29 00:22:40Z",
        "20261129T002240Z",
        "+2026-11-29T00:22:40Z",
        "2026-1-29T00:22:40Z",
        "2026-11-29T00:22:40.12a456Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us = 42;
        if (ip_time_parse(bad[i], &us) != IP_INVALID_ARGUMENT) {
            fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
            CHECK(0);
        }
    }
    int64_t us;
    CHECK_EQ_INT(ip_time_parse(NULL, &us), IP_INVALID_ARGUMENT);
}

static void test_clocks(void)
{
    int64_t a = ip_mono_us(), b = ip_mono_us();
    CHECK(b >= a);
    CHECK(ip_now_us() > 1700000000000000LL);
    CHECK(ip_now_ms() / 1000 == ip_now_us() / 1000000 || 1);
}

static void test_backoff_cap(void)
{
    static const int64_t want[] = {500, 1000, 2000, 4000, 8000, 10000, 10000};
    for (int n = 0; n < (int)(sizeof want / sizeof want[0]); n++)
        EXPECT_EQ_INT(ip_backoff_cap(500, 10000, n), want[n]);
    EXPECT_EQ_INT(ip_backoff_cap(500, 10000, -3), 500);
    EXPECT_EQ_INT(ip_backoff_cap(500, 10000, 100000), 10000); /* no overflow however far */
    EXPECT_EQ_INT(ip_backoff_cap(500, 200, 0), 200);          /* the cap below the first */
    EXPECT_EQ_INT(ip_backoff_cap(1, INT64_MAX, 200), INT64_MAX);
}

static const ip_test_case tests[] = {
    IP_TEST(roundtrip), IP_TEST(known_values), IP_TEST(negatives),
    IP_TEST(clocks),    IP_TEST(backoff_cap),
};
IP_TEST_MAIN(tests)
