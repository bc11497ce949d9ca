/* proc_policy_test.c — unit tests of the retry policy (proc_policy.h) and of
 * the registry of waiting jobs (proc_waits.h): ctest processor.policy.*,
 * label unit. Pure logic: no server, no Kafka; time is passed in.
 */
#include <stdlib.h>
#include <string.h>

#include "ip_metrics.h"
#include "ip_testing.h"
#include "ip_time.h"
#include "proc_policy.h"
#include "proc_waits.h"

/* The cap doubles from the first delay and stops at the maximum. */
static void test_backoff_cap(void)
{
    proc_backoff b;
    proc_backoff_init(&b, 500, 30000, 86400000, 1);
    const int64_t want[] = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
    for (int n = 0; n < (int)(sizeof(want) / sizeof(want[0])); n++)
        EXPECT_EQ_INT(proc_backoff_cap(&b, n), want[n]);
    EXPECT_EQ_INT(proc_backoff_cap(&b, 1000), 30000); /* no overflow however far */

    proc_backoff_init(&b, 5000, 1000, 0, 1); /* a cap below the first delay wins */
    EXPECT_EQ_INT(proc_backoff_cap(&b, 0), 1000);
    proc_backoff_init(&b, 0, 0, 0, 1); /* nonsense bounds are taken as 1 ms */
    EXPECT_EQ_INT(proc_backoff_cap(&b, 5), 1);
    proc_backoff_init(&b, 1, INT64_MAX, 0, 1);
    EXPECT(proc_backoff_cap(&b, 200) > 0);
}

/* Full jitter: every delay lies in [0, cap(n)], and they spread over it. */
static void test_backoff_jitter(void)
{
    proc_backoff b;
    proc_backoff_init(&b, 100, 6400, 0, 42);
    for (int n = 0; n < 12; n++) {
        int64_t cap = proc_backoff_cap(&b, n);
        int64_t d = proc_backoff_next(&b, 0);
        EXPECTF(d >= 0 && d <= cap, "delay %d = %lld, cap %lld", n, (long long)d, (long long)cap);
    }

    /* At a fixed cap of 1000 ms: the draws cover the range evenly. */
    proc_backoff_init(&b, 1000, 1000, 0, 7);
    int64_t lo = INT64_MAX, hi = -1, sum = 0;
    const int draws = 20000;
    int buckets[10] = {0};
    for (int i = 0; i < draws; i++) {
        int64_t d = proc_backoff_next(&b, 0);
        CHECK(d >= 0 && d <= 1000);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        sum += d;
        buckets[d == 1000 ? 9 : d / 100]++;
    }
    EXPECTF(lo < 10 && hi > 990, "draws span %lld..%lld", (long long)lo, (long long)hi);
    double mean = (double)sum / draws;
    EXPECTF(mean > 480 && mean < 520, "mean %.1f", mean);
    for (int i = 0; i < 10; i++)
        EXPECTF(buckets[i] > draws / 10 * 8 / 10, "bucket %d holds %d of %d", i, buckets[i], draws);

    /* Two jobs that failed together do not retry in step. */
    proc_backoff a, c;
    proc_backoff_init(&a, 500, 30000, 0, 1);
    proc_backoff_init(&c, 500, 30000, 0, 2);
    int same = 0;
    for (int i = 0; i < 10; i++)
        same += proc_backoff_next(&a, 0) == proc_backoff_next(&c, 0);
    EXPECT(same < 3);
}

/* The horizon counts from the first failure; no delay reaches past it, the
 * last try falls at or before it, and after it the answer is -1. */
static void test_backoff_horizon(void)
{
    proc_backoff b;
    proc_backoff_init(&b, 100, 2000, 10000, 3);
    EXPECT_EQ_INT(proc_backoff_elapsed_ms(&b, 5000), 0); /* no failure yet */
    int64_t now = 5000, tries = 0;
    for (;;) {
        int64_t d = proc_backoff_next(&b, now);
        if (d < 0)
            break;
        EXPECTF(now + d <= 15000, "retry at %lld, past the horizon 15000", (long long)(now + d));
        now += d + 7; /* the run itself takes a little */
        tries++;
        CHECK(tries < 100000);
    }
    EXPECT(now >= 15000);
    EXPECT(tries >= 10); /* capped at 2 s: at least 10 s / 2 s tries */
    EXPECT_EQ_INT(proc_backoff_elapsed_ms(&b, now), now - 5000);
    EXPECT_EQ_INT(proc_backoff_next(&b, now + 1), -1);

    /* A delay is clipped to the horizon: the last try is at the horizon. */
    proc_backoff_init(&b, 100000, 100000, 1000, 5);
    int64_t d = proc_backoff_next(&b, 0);
    EXPECT(d >= 0 && d <= 1000);
    EXPECT_EQ_INT(proc_backoff_next(&b, 1000), -1);

    /* No horizon: never gives up. */
    proc_backoff_init(&b, 1, 10, 0, 9);
    EXPECT(proc_backoff_next(&b, 0) >= 0);
    EXPECT(proc_backoff_next(&b, INT64_MAX / 2) >= 0);
}

/* Transient statuses use no attempt, INTERNAL counts one, NOT_FOUND is the
 * caller's to read, everything else is permanent. */
static void test_classify(void)
{
    for (int s = 0; s < IP_STATUS_COUNT; s++) {
        ip_status st = (ip_status)s;
        proc_call_class k = proc_policy_classify(st);
        if (st == IP_OK)
            EXPECT_EQ_INT(k, PROC_CALL_OK);
        else if (ip_status_is_transient(st))
            EXPECTF(k == PROC_CALL_TRANSIENT, "%s", ip_strerror(st));
        else if (st == IP_INTERNAL)
            EXPECT_EQ_INT(k, PROC_CALL_ATTEMPT);
        else if (st == IP_NOT_FOUND)
            EXPECT_EQ_INT(k, PROC_CALL_GONE);
        else
            EXPECTF(k == PROC_CALL_PERMANENT, "%s", ip_strerror(st));
    }
    EXPECT_EQ_INT(proc_policy_classify(IP_UNAVAILABLE), PROC_CALL_TRANSIENT);
    EXPECT_EQ_INT(proc_policy_classify(IP_DEADLINE_EXCEEDED), PROC_CALL_TRANSIENT);
    EXPECT_EQ_INT(proc_policy_classify(IP_INVALID_ARGUMENT), PROC_CALL_PERMANENT);
    EXPECT_EQ_INT(proc_policy_classify(IP_FAILED_PRECONDITION), PROC_CALL_PERMANENT);
    EXPECT_EQ_INT(proc_policy_classify(IP_RESOURCE_EXHAUSTED), PROC_CALL_PERMANENT);
}

/* runs > max_attempts is poison; a limit <= 0 never is. */
static void test_poison(void)
{
    EXPECT(!proc_policy_is_poison(0, 5));
    EXPECT(!proc_policy_is_poison(1, 5));
    EXPECT(!proc_policy_is_poison(5, 5));
    EXPECT(proc_policy_is_poison(6, 5));
    EXPECT(proc_policy_is_poison(2, 1));
    EXPECT(!proc_policy_is_poison(1000, 0));
    EXPECT_EQ_STR(proc_dep_name(PROC_DEP_METADATA), "metadata-svc");
    EXPECT_EQ_STR(proc_dep_name(PROC_DEP_STORAGE), "storage-svc");
    EXPECT_EQ_STR(proc_dep_name(PROC_DEP_KAFKA), "kafka");
    EXPECT_EQ_STR(proc_dep_name(PROC_DEP_NONE), "");
    EXPECT_EQ_STR(proc_dep_name((proc_dep)99), "");
}

static bool rendered_has(const char *line)
{
    char *text = ip_metrics_render();
    CHECK(text != NULL);
    bool found = strstr(text, line) != NULL;
    if (!found)
        fprintf(stderr, "no \"%s\" in:\n%s\n", line, text);
    free(text);
    return found;
}

/* The gauge and the health body follow the jobs that wait. */
static void test_waits(void)
{
    proc_waits w;
    proc_waits_init(&w);
    EXPECT(rendered_has("proc_jobs_waiting{on=\"storage-svc\"} 0\n"));
    EXPECT(rendered_has("proc_transient_retries_total{on=\"kafka\"} 0\n"));
    char *body = proc_waits_health_json(&w, ip_now_us());
    CHECK(body != NULL);
    EXPECT_EQ_STR(body, "{\"status\":\"ok\",\"waiting\":[]}");
    free(body);

    int64_t t0 = ip_now_us();
    proc_waits_move(&w, PROC_DEP_NONE, PROC_DEP_STORAGE);
    proc_waits_note(&w, PROC_DEP_STORAGE, true, "GetObject: unavailable: no \"server\"");
    proc_waits_move(&w, PROC_DEP_NONE, PROC_DEP_STORAGE);
    proc_waits_note(&w, PROC_DEP_STORAGE, true, "GetObject: unavailable: no server connected");
    proc_waits_note(&w, PROC_DEP_METADATA, false, "MarkProcessing: internal: boom");
    EXPECT(rendered_has("proc_jobs_waiting{on=\"storage-svc\"} 2\n"));
    EXPECT(rendered_has("proc_transient_retries_total{on=\"storage-svc\"} 2\n"));
    EXPECT(rendered_has("proc_transient_retries_total{on=\"metadata-svc\"} 0\n"));
    body = proc_waits_health_json(&w, t0 + 2500000);
    CHECK(body != NULL);
    fprintf(stderr, "%s\n", body);
    EXPECT(strstr(body, "\"status\":\"waiting\"") != NULL);
    EXPECT(strstr(body, "{\"on\":\"storage-svc\",\"jobs\":2,\"since\":\"") != NULL);
    EXPECT(strstr(body, "\"last_error\":\"GetObject: unavailable: no server connected\"") != NULL);
    EXPECT(strstr(body, "metadata-svc") == NULL); /* noted, but no job waits on it */
    const char *since = strstr(body, "\"since\":\"");
    CHECK(since != NULL);
    int64_t since_us = 0;
    char stamp[IP_RFC3339_LEN + 1];
    memcpy(stamp, since + 9, IP_RFC3339_LEN);
    stamp[IP_RFC3339_LEN] = '\0';
    EXPECT_ST(ip_time_parse(stamp, &since_us), IP_OK, stamp);
    EXPECT(since_us >= t0 && since_us <= ip_now_us());
    free(body);

    /* One moves on to metadata-svc; then both end. */
    proc_waits_move(&w, PROC_DEP_STORAGE, PROC_DEP_METADATA);
    EXPECT(rendered_has("proc_jobs_waiting{on=\"storage-svc\"} 1\n"));
    EXPECT(rendered_has("proc_jobs_waiting{on=\"metadata-svc\"} 1\n"));
    proc_waits_move(&w, PROC_DEP_STORAGE, PROC_DEP_NONE);
    proc_waits_move(&w, PROC_DEP_METADATA, PROC_DEP_NONE);
    proc_waits_move(&w, PROC_DEP_METADATA, PROC_DEP_NONE); /* never below zero */
    EXPECT(rendered_has("proc_jobs_waiting{on=\"metadata-svc\"} 0\n"));
    body = proc_waits_health_json(&w, ip_now_us());
    CHECK(body != NULL);
    EXPECT_EQ_STR(body, "{\"status\":\"ok\",\"waiting\":[]}");
    free(body);

    /* An error text that is not UTF-8 still leaves the entry in the body. */
    proc_waits_move(&w, PROC_DEP_NONE, PROC_DEP_KAFKA);
    proc_waits_note(&w, PROC_DEP_KAFKA, true, "bad \xff\xfe bytes");
    body = proc_waits_health_json(&w, ip_now_us());
    CHECK(body != NULL);
    EXPECT(strstr(body, "\"on\":\"kafka\"") != NULL);
    free(body);
    proc_waits_fini(&w);
}

static const ip_test_case tests[] = {
    IP_TEST(backoff_cap), IP_TEST(backoff_jitter), IP_TEST(backoff_horizon),
    IP_TEST(classify),    IP_TEST(poison),         IP_TEST(waits),
};

IP_TEST_MAIN(tests)
