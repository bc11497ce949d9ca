/* ip_uuid_test.c — UUIDv7 ordering, v4 shape, strict parsing. */
#include <pthread.h>

#include "ip_testing.h"
#include "ip_time.h"
#include "ip_uuid.h"

static void test_v7_ordering(void)
{
    char prev[IP_UUID_STRLEN + 1], cur[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(prev);
    for (int i = 0; i < 100000; i++) {
        ip_uuid_v7_str(cur);
        if (strcmp(prev, cur) >= 0) {
            fprintf(stderr, "not increasing: %s then %s\n", prev, cur);
            CHECK(0);
        }
        memcpy(prev, cur, sizeof cur);
    }
}

static void test_v7_layout(void)
{
    ip_uuid u;
    int64_t before = ip_now_ms();
    ip_uuid_v7(&u);
    int64_t after = ip_now_ms();
    int64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = ms << 8 | u.b[i];
    CHECK(ms >= before && ms <= after + 1);
    CHECK_EQ_INT(u.b[6] >> 4, 7);
    CHECK_EQ_INT(u.b[8] >> 6, 2);
    char s[IP_UUID_STRLEN + 1];
    ip_uuid_format(&u, s);
    CHECK_EQ_INT(s[14], '7');
}

static void test_v4_layout(void)
{
    for (int i = 0; i < 1000; i++) {
        ip_uuid u, v;
        ip_uuid_v4(&u);
        CHECK_EQ_INT(u.b[6] >> 4, 4);
        CHECK_EQ_INT(u.b[8] >> 6, 2);
        char s[IP_UUID_STRLEN + 1];
        ip_uuid_format(&u, s);
        CHECK(ip_uuid_parse(s, &v));
        CHECK(memcmp(&u, &v, sizeof u) == 0);
    }
}

static void test_parse(void)
{
    ip_uuid u;
    CHECK(ip_uuid_parse("0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f", &u));
    CHECK_EQ_INT(u.b[0], 0x01);
    CHECK_EQ_INT(u.b[15], 0x6f);
    CHECK(ip_uuid_parse("0192D4E8-7C1A-7B3E-9F00-1A2B3C4D5E6F", &u));
    char s[IP_UUID_STRLEN + 1];
    ip_uuid_format(&u, s);
    CHECK_EQ_STR(s, "0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f");
    CHECK(ip_uuid_valid("00000000-0000-0000-0000-000000000000"));
}

static void test_parse_negatives(void)
{
    static const char *const bad[] = {
        "",
        "0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6",   /* 35 */
        "0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f0", /* 37 */
        "0192d4e87c1a-7b3e-9f00-1a2b3c4d5e6f0",
        "0192d4e8-7c1a-7b3e-9f00_1a2b3c4d5e6f",
        "0192d4e8-7c1a-7b3e-9f001-a2b3c4d5e6f",
        "g192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f",
        "0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6 ",
        " 192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f",
        "{0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f}",
        "0192d4e87c1a7b3e9f001a2b3c4d5e6f",
        "../../etc/passwd",
        "0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ip_uuid_valid(bad[i])) {
            fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
            CHECK(0);
        }
    }
    CHECK(!ip_uuid_valid(NULL));
}

#define THREADS 4
#define PER_THREAD 20000
static ip_uuid ids[THREADS][PER_THREAD];

static void *make_ids(void *arg)
{
    ip_uuid *out = arg;
    for (int i = 0; i < PER_THREAD; i++)
        ip_uuid_v7(&out[i]);
    return NULL;
}

static int uuid_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static void test_v7_threads_unique(void)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, make_ids, ids[i]);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    /* Within a thread strictly increasing; across threads all distinct
     * (one process-wide counter). */
    for (int i = 0; i < THREADS; i++)
        for (int k = 1; k < PER_THREAD; k++)
            CHECK(memcmp(&ids[i][k - 1], &ids[i][k], 16) < 0);
    /* Merge check: sort all and look for duplicates. */
    static ip_uuid all[THREADS * PER_THREAD];
    memcpy(all, ids, sizeof all);
    qsort(all, THREADS * PER_THREAD, sizeof all[0], uuid_cmp);
    for (int i = 1; i < THREADS * PER_THREAD; i++)
        CHECK(memcmp(&all[i - 1], &all[i], 16) != 0);
}

static const ip_test_case tests[] = {
    IP_TEST(v7_ordering), IP_TEST(v7_layout),       IP_TEST(v4_layout),
    IP_TEST(parse),       IP_TEST(parse_negatives), IP_TEST(v7_threads_unique),
};
IP_TEST_MAIN(tests)
