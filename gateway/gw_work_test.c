/* gw_work_test.c — the work pool: jobs run off the caller's thread, a full
 * queue refuses at once (and counts it) but takes the next step of admitted
 * work, close runs what was queued before it and refuses what comes after. Blocking jobs wait on a
 * gate the test opens, so no case depends on timing. */
#include <pthread.h>

#include "gw_work.h"
#include "ip_testing.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int started, finished;

static void gated_job(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    started++;
    pthread_cond_broadcast(&cv);
    while (!gate_open)
        pthread_cond_wait(&cv, &mu);
    finished++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void reset(bool open)
{
    pthread_mutex_lock(&mu);
    gate_open = open;
    started = finished = 0;
    pthread_mutex_unlock(&mu);
}

static void open_gate(void)
{
    pthread_mutex_lock(&mu);
    gate_open = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void wait_started(int n)
{
    pthread_mutex_lock(&mu);
    while (started < n)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static int finished_now(void)
{
    pthread_mutex_lock(&mu);
    int n = finished;
    pthread_mutex_unlock(&mu);
    return n;
}

static void test_runs_jobs(void)
{
    reset(true);
    gw_work *w = NULL;
    CHECK_ST(gw_work_new(3, 16, &w), IP_OK, "pool");
    for (int i = 0; i < 10; i++)
        EXPECT(gw_work_submit(w, gated_job, NULL));
    gw_work_free(w); /* drains */
    EXPECT_EQ_INT(finished_now(), 10);
    gw_work_free(NULL);
    EXPECT_ST(gw_work_new(0, 4, &w), IP_INVALID_ARGUMENT, "no workers");
}

static void test_full_queue_refused(void)
{
    reset(false);
    gw_work *w = NULL;
    CHECK_ST(gw_work_new(2, 3, &w), IP_OK, "pool");
    EXPECT(gw_work_submit(w, gated_job, NULL));
    EXPECT(gw_work_submit(w, gated_job, NULL));
    wait_started(2); /* both workers are held at the gate */
    EXPECT_EQ_INT(gw_work_busy(w), 2);
    for (int i = 0; i < 3; i++)
        EXPECT(gw_work_submit(w, gated_job, NULL));
    EXPECT_EQ_INT(gw_work_queued(w), 3);
    EXPECT(!gw_work_submit(w, gated_job, NULL)); /* full: refused at once */
    EXPECT_EQ_INT(gw_work_rejected(w), 1);
    EXPECT(gw_work_submit_more(w, gated_job, NULL)); /* the next step of admitted work */
    EXPECT_EQ_INT(gw_work_queued(w), 4);
    open_gate();
    gw_work_close(w);
    EXPECT_EQ_INT(finished_now(), 6); /* everything queued before close ran */
    EXPECT_EQ_INT(gw_work_queued(w), 0);
    EXPECT_EQ_INT(gw_work_busy(w), 0);
    EXPECT(!gw_work_submit(w, gated_job, NULL)); /* closed */
    EXPECT(!gw_work_submit_more(w, gated_job, NULL));
    EXPECT_EQ_INT(gw_work_rejected(w), 3);
    gw_work_free(w);
    EXPECT_EQ_INT(finished_now(), 6);
}

static const ip_test_case tests[] = {IP_TEST(runs_jobs), IP_TEST(full_queue_refused)};

int main(int argc, char **argv)
{
    return ip_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
