/* gw_webhook_dispatch_test.c — the dispatcher's backoff: doubling from the
 * base per attempt, the cap, the jitter range, and odd inputs (attempt 0,
 * huge attempt counts, a cap below the base). ctest:
 * gateway.webhook_dispatch.<test>, label unit.
 */
#include <stdint.h>

#include "gw_webhook_dispatch.h"
#include "ip_testing.h"

/* With the largest random value the wait is the full step; with 0 its half. */
static void test_backoff_growth(void)
{
    static const struct {
        int attempts;
        int64_t full;
    } steps[] = {
        {1, 5000},     {2, 10000},    {3, 20000},    {4, 40000},      {5, 80000},
        {6, 160000},   {7, 320000},   {8, 640000},   {9, 1280000},    {10, 2560000},
        {11, 3600000}, {12, 3600000}, {40, 3600000}, {1000, 3600000},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        int64_t d = steps[i].full;
        int64_t hi = gw_webhook_backoff_ms(5000, 3600000, steps[i].attempts, UINT32_MAX);
        int64_t lo = gw_webhook_backoff_ms(5000, 3600000, steps[i].attempts, 0);
        EXPECTF(lo == d / 2, "attempt %d: low %lld want %lld", steps[i].attempts, (long long)lo,
                (long long)(d / 2));
        EXPECTF(hi >= d / 2 && hi <= d, "attempt %d: high %lld", steps[i].attempts, (long long)hi);
    }
    /* the test stack's short settings */
    EXPECT_EQ_INT(gw_webhook_backoff_ms(200, 1000, 1, 0), 100);
    EXPECT_EQ_INT(gw_webhook_backoff_ms(200, 1000, 3, 0), 400);
    EXPECT_EQ_INT(gw_webhook_backoff_ms(200, 1000, 4, 0), 500);
}

/* Over many random values every wait lies in [d/2, d], both ends are
 * reached, and the values spread (not all the same). */
static void test_backoff_jitter(void)
{
    uint32_t x = 12345;
    int64_t min = INT64_MAX, max = 0;
    int buckets[4] = {0};
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        int64_t v = gw_webhook_backoff_ms(1000, 3600000, 3, x); /* d = 4000 */
        CHECKF(v >= 2000 && v <= 4000, "%lld", (long long)v);
        min = v < min ? v : min;
        max = v > max ? v : max;
        buckets[(v - 2000) * 4 / 2001]++;
    }
    EXPECT(min <= 2010);
    EXPECT(max >= 3990);
    for (int b = 0; b < 4; b++)
        EXPECTF(buckets[b] > 20000, "bucket %d: %d", b, buckets[b]);
    EXPECT_EQ_INT(gw_webhook_backoff_ms(1000, 3600000, 3, 2000), 4000); /* 2000 + 2000 % 2001 */
}

static void test_backoff_bounds(void)
{
    /* attempt 0 or negative counts as the first */
    EXPECT_EQ_INT(gw_webhook_backoff_ms(5000, 3600000, 0, 0), 2500);
    EXPECT_EQ_INT(gw_webhook_backoff_ms(5000, 3600000, -3, 0), 2500);
    /* no overflow with the largest settings and attempt counts */
    int64_t v = gw_webhook_backoff_ms(3600000, 86400000, INT32_MAX, UINT32_MAX);
    EXPECT(v >= 43200000 && v <= 86400000);
    /* a cap below the base: the base is the cap */
    EXPECT_EQ_INT(gw_webhook_backoff_ms(5000, 1000, 1, 0), 2500);
    EXPECT(gw_webhook_backoff_ms(5000, 1000, 5, UINT32_MAX) <= 5000);
    /* a base of 0 still waits */
    EXPECT(gw_webhook_backoff_ms(0, 1000, 1, UINT32_MAX) >= 0);

    gw_config cfg = {.webhook_timeout_ms = 10000};
    EXPECT_EQ_INT(gw_webhook_claim_ms(&cfg), 40000);
}

static const ip_test_case tests[] = {
    IP_TEST(backoff_growth),
    IP_TEST(backoff_jitter),
    IP_TEST(backoff_bounds),
};
IP_TEST_MAIN(tests)
