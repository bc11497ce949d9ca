/* proc_priority_test.c — unit tests of when the regeneration topic is held
 * (proc_priority.h): ctest processor.priority.*, label unit. Pure logic.
 *
 * Each case is a table of rows: the jobs topic's figures and whether the
 * regenerations must be held.
 */
#include "ip_testing.h"
#include "proc_priority.h"

typedef struct row {
    int64_t lag;
    int queued, running, workers;
    bool hold;
} row;

static void run_table(const row *r, int n)
{
    for (int i = 0; i < n; i++) {
        proc_priority_state s = {.main_lag = r[i].lag,
                                 .main_queued = r[i].queued,
                                 .main_running = r[i].running,
                                 .workers = r[i].workers};
        EXPECTF(proc_priority_hold_regen(&s) == r[i].hold,
                "row %d: lag %lld queued %d running %d workers %d: want %s", i, (long long)r[i].lag,
                r[i].queued, r[i].running, r[i].workers, r[i].hold ? "held" : "running");
    }
}

/* Nothing waiting on the jobs topic: regenerations run on the free workers. */
static void test_idle_runs(void)
{
    static const row r[] = {
        {0, 0, 0, 2, false},
        {0, 0, 1, 2, false}, /* one upload running, one worker free */
        {0, 0, 3, 4, false},
        {0, 0, 0, 1, false},
    };
    run_table(r, sizeof r / sizeof r[0]);
}

/* Anything not consumed or not started on the jobs topic holds them. */
static void test_waiting_holds(void)
{
    static const row r[] = {
        {1, 0, 0, 2, true},   /* a message not yet consumed */
        {500, 0, 0, 8, true}, /* a backlog */
        {0, 1, 0, 2, true},   /* fetched, not started (blocked behind its image) */
        {0, 3, 1, 4, true},   {2, 2, 2, 2, true},
    };
    run_table(r, sizeof r / sizeof r[0]);
}

/* Every worker busy with uploads: held, so the next upload finds one free. */
static void test_workers_full_holds(void)
{
    static const row r[] = {
        {0, 0, 2, 2, true},  {0, 0, 1, 1, true},
        {0, 0, 5, 4, true}, /* more than the workers (counted during a revoke) */
        {0, 0, 1, 0, true}, /* workers unknown counts as one */
        {0, 0, 0, 0, false},
    };
    run_table(r, sizeof r / sizeof r[0]);
}

/* A burst of uploads holds and its end releases: the decision follows the
 * figures from one poll to the next. */
static void test_burst_then_release(void)
{
    static const row r[] = {
        {0, 0, 0, 2, false}, {3, 0, 0, 2, true},  {1, 2, 0, 2, true},  {0, 1, 2, 2, true},
        {0, 0, 2, 2, true},  {0, 0, 1, 2, false}, {0, 0, 0, 2, false},
    };
    run_table(r, sizeof r / sizeof r[0]);
}

/* The lag from librdkafka's local figures: unknown ones count as none. */
static void test_lag(void)
{
    static const struct {
        int64_t high, position, lag;
    } r[] = {
        {10, 4, 6}, {10, 10, 0}, {10, 12, 0}, {-1001, 4, 0}, {10, -1001, 0}, {0, 0, 0}, {1, 0, 1},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        EXPECTF(proc_priority_lag(r[i].high, r[i].position) == r[i].lag,
                "high %lld position %lld: lag %lld, want %lld", (long long)r[i].high,
                (long long)r[i].position, (long long)proc_priority_lag(r[i].high, r[i].position),
                (long long)r[i].lag);
}

/* Regenerations never take every worker: by default all but one, at least
 * one; a configured bound is kept, up to the workers. */
static void test_regen_max(void)
{
    static const struct {
        int workers, configured, max;
    } m[] = {
        {2, 0, 1}, {1, 0, 1}, {8, 0, 7}, {0, 0, 1}, {4, 2, 2}, {4, 9, 4}, {4, 4, 4},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        EXPECTF(proc_priority_regen_max(m[i].workers, m[i].configured) == m[i].max,
                "workers %d configured %d: %d, want %d", m[i].workers, m[i].configured,
                proc_priority_regen_max(m[i].workers, m[i].configured), m[i].max);

    static const struct {
        proc_priority_state s;
        bool may;
    } r[] = {
        {{.workers = 2, .regen_running = 0}, true},
        {{.workers = 2, .regen_running = 1}, false}, /* the other worker stays free */
        {{.workers = 4, .regen_running = 2}, true},
        {{.workers = 4, .regen_running = 3}, false},
        {{.workers = 4, .regen_running = 1, .regen_max = 1}, false},
        {{.workers = 4, .regen_running = 0, .main_queued = 1}, false}, /* held */
        {{.workers = 4, .regen_running = 0, .main_lag = 2}, false},
        {{.workers = 4, .regen_running = 1, .main_running = 2}, true},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        EXPECTF(proc_priority_may_start_regen(&r[i].s) == r[i].may, "row %zu: want %s", i,
                r[i].may ? "may start" : "may not");
}

static const ip_test_case tests[] = {
    IP_TEST(idle_runs),          IP_TEST(waiting_holds), IP_TEST(workers_full_holds),
    IP_TEST(burst_then_release), IP_TEST(lag),           IP_TEST(regen_max),
};

IP_TEST_MAIN(tests)
