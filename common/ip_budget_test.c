/* ip_budget_test.c — the memory budget: charges within the limit, refusals
 * that charge nothing, the peak, and many threads charging at once never
 * going over the limit. */
#include <pthread.h>

#include "ip_budget.h"
#include "ip_testing.h"

static void test_charges(void)
{
    ip_budget_set_limit(1000);
    CHECK_EQ_INT(ip_budget_limit(), 1000);
    int64_t base = ip_budget_used();
    CHECK_EQ_INT(base, 0);
    EXPECT(ip_budget_try(600));
    EXPECT(!ip_budget_try(401)); /* 1001 would be over */
    EXPECT_EQ_INT(ip_budget_used(), 600);
    EXPECT(ip_budget_try(400)); /* exactly the limit fits */
    EXPECT_EQ_INT(ip_budget_used(), 1000);
    EXPECT(!ip_budget_try(1));
    EXPECT(ip_budget_try(0));
    EXPECT(!ip_budget_try(-5));
    ip_budget_give(1000);
    EXPECT_EQ_INT(ip_budget_used(), 0);
    EXPECT(ip_budget_peak() >= 1000);
    EXPECT(!ip_budget_try(2000)); /* larger than the whole limit */
    EXPECT_EQ_INT(ip_budget_used(), 0);
}

enum { THREADS = 8, ROUNDS = 20000, CHUNK = 100 };
static _Atomic int over_limit;

static void *charger(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        if (ip_budget_try(CHUNK)) {
            if (ip_budget_used() > ip_budget_limit())
                over_limit = 1;
            ip_budget_give(CHUNK);
        }
    }
    return NULL;
}

static void test_threads(void)
{
    ip_budget_set_limit(3 * CHUNK); /* fewer slots than threads: refusals happen */
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, charger, NULL) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    EXPECT_EQ_INT(ip_budget_used(), 0);
    EXPECT(!over_limit);
    EXPECT(ip_budget_peak() <= 1000); /* the first test's peak, at most */
    ip_budget_set_limit(1024LL * 1024 * 1024);
}

static const ip_test_case tests[] = {IP_TEST(charges), IP_TEST(threads)};

int main(int argc, char **argv)
{
    return ip_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
