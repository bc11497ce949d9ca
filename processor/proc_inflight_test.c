/* proc_inflight_test.c — unit tests of a partition's window of jobs
 * (proc_inflight.h): ctest processor.inflight.*, label unit. Pure logic.
 *
 * Each case is a script of steps against one window: push a job (offset,
 * key), take the next job that may start (and the offset expected, -1 for
 * none), end a running job (finished or abandoned), pop the finished prefix
 * (and the offset expected to be stored, -1 for none), drop the queued jobs
 * (and how many).
 */
#include <stdlib.h>
#include <string.h>

#include "ip_testing.h"
#include "proc_inflight.h"

typedef enum { PUSH, TAKE, FINISH, ABANDON, POP, DROP, END } op;

typedef struct step {
    op op;
    int64_t offset;  /* PUSH: the job's; TAKE: expected (-1 none); FINISH/ABANDON: which;
                      * POP: expected store (-1 none); DROP: expected count */
    const char *key; /* PUSH: NULL or "" for no key */
} step;

static int released;
static void release(void *payload)
{
    (void)payload;
    released++;
}

static proc_inflight_job *find(proc_inflight *w, int64_t offset)
{
    for (proc_inflight_job *j = w->head; j; j = j->next)
        if (j->offset == offset)
            return j;
    return NULL;
}

static void run_script(const step *s)
{
    proc_inflight w = {0};
    released = 0;
    int pushed = 0;
    for (int i = 0; s[i].op != END; i++) {
        const step *t = &s[i];
        switch (t->op) {
        case PUSH:
            CHECK(proc_inflight_push(&w, t->offset, t->key, t->key ? strlen(t->key) : 0, &released));
            pushed++;
            break;
        case TAKE: {
            proc_inflight_job *j = proc_inflight_take(&w);
            EXPECTF((j ? j->offset : -1) == t->offset, "step %d: took %lld, want %lld", i,
                    (long long)(j ? j->offset : -1), (long long)t->offset);
            break;
        }
        case FINISH:
        case ABANDON: {
            proc_inflight_job *j = find(&w, t->offset);
            CHECK(j && j->state == PROC_INFLIGHT_RUNNING);
            proc_inflight_end(&w, j, t->op == FINISH);
            break;
        }
        case POP: {
            int64_t got = proc_inflight_pop_finished(&w, release);
            EXPECTF(got == t->offset, "step %d: stored %lld, want %lld", i, (long long)got,
                    (long long)t->offset);
            break;
        }
        case DROP: {
            int got = proc_inflight_drop_queued(&w, release);
            EXPECTF(got == t->offset, "step %d: dropped %d, want %lld", i, got,
                    (long long)t->offset);
            break;
        }
        case END:
            break;
        }
        /* The counters always match the list. */
        int q = 0, r = 0, n = 0;
        for (proc_inflight_job *j = w.head; j; j = j->next, n++) {
            q += j->state == PROC_INFLIGHT_QUEUED;
            r += j->state == PROC_INFLIGHT_RUNNING;
            if (!j->next)
                EXPECT(w.tail == j);
        }
        EXPECTF(q == w.queued && r == w.running && n == w.count,
                "step %d: counts %d/%d/%d, list %d/%d/%d", i, w.queued, w.running, w.count, q, r,
                n);
    }
    EXPECT_EQ_INT(w.running, 0);
    int left = w.count;
    proc_inflight_clear(&w, release);
    EXPECT(w.head == NULL && w.tail == NULL && w.count == 0 && w.queued == 0);
    EXPECT_EQ_INT(released, pushed); /* every payload handed back exactly once */
    (void)left;
}

/* Jobs of different images in one partition run at the same time. */
static void test_parallel(void)
{
    static const step s[] = {
        {PUSH, 10, "a"}, {PUSH, 11, "b"}, {PUSH, 12, "c"}, {TAKE, 10, 0}, {TAKE, 11, 0},
        {TAKE, 12, 0},   {TAKE, -1, 0},   {FINISH, 10, 0}, {FINISH, 11, 0}, {FINISH, 12, 0},
        {POP, 13, 0},    {POP, -1, 0},    {END, 0, 0},
    };
    run_script(s);
}

/* Two jobs of one image never run together and run in offset order; a job
 * of another image behind them is not held up. */
static void test_same_image(void)
{
    static const step s[] = {
        {PUSH, 0, "a"},  {PUSH, 1, "a"}, {PUSH, 2, "b"},  {PUSH, 3, "a"}, {TAKE, 0, 0},
        {TAKE, 2, 0},    {TAKE, -1, 0},  {FINISH, 0, 0},  {TAKE, 1, 0},   {TAKE, -1, 0},
        {FINISH, 1, 0},  {TAKE, 3, 0},   {FINISH, 3, 0},  {POP, 2, 0}, /* 2 still runs */
        {FINISH, 2, 0},  {POP, 4, 0},    {END, 0, 0},
    };
    run_script(s);
}

/* The offset is stored only past a contiguous prefix of finished jobs. */
static void test_contiguous_offsets(void)
{
    static const step s[] = {
        {PUSH, 5, "a"},  {PUSH, 6, "b"},  {PUSH, 7, "c"}, {TAKE, 5, 0},   {TAKE, 6, 0},
        {TAKE, 7, 0},    {FINISH, 7, 0},  {POP, -1, 0},   {FINISH, 6, 0}, {POP, -1, 0},
        {FINISH, 5, 0},  {POP, 8, 0},     {PUSH, 8, "d"}, {PUSH, 9, "e"}, {TAKE, 8, 0},
        {TAKE, 9, 0},    {FINISH, 8, 0},  {POP, 9, 0},    {FINISH, 9, 0}, {POP, 10, 0},
        {END, 0, 0},
    };
    run_script(s);
}

/* A job without a key keeps the partition's order on both sides: it waits
 * for every earlier job, and every later job waits for it. */
static void test_unkeyed(void)
{
    static const step s[] = {
        {PUSH, 0, "a"},  {PUSH, 1, NULL}, {PUSH, 2, "b"}, {PUSH, 3, ""},  {TAKE, 0, 0},
        {TAKE, -1, 0},   {FINISH, 0, 0},  {TAKE, 1, 0},   {TAKE, -1, 0},  {FINISH, 1, 0},
        {TAKE, 2, 0},    {TAKE, -1, 0},   {FINISH, 2, 0}, {TAKE, 3, 0},   {FINISH, 3, 0},
        {POP, 4, 0},     {END, 0, 0},
    };
    run_script(s);
}

/* Abandoned (revoke, shutdown): what finished before it is stored, nothing
 * from it on is, and nothing after it starts. */
static void test_abandon(void)
{
    static const step s[] = {
        {PUSH, 0, "a"},   {PUSH, 1, "b"},  {PUSH, 2, "c"},  {PUSH, 3, "d"}, {PUSH, 4, "b"},
        {TAKE, 0, 0},     {TAKE, 1, 0},    {TAKE, 2, 0},    {TAKE, 3, 0},   {FINISH, 0, 0},
        {ABANDON, 1, 0},  {FINISH, 2, 0},  {POP, 1, 0},     {TAKE, -1, 0}, /* 4 waits for 1 */
        {DROP, 1, 0},     {FINISH, 3, 0},  {POP, -1, 0},    {END, 0, 0},
    };
    run_script(s);
}

/* Dropped queued jobs come back to the next owner: nothing past the first
 * one is stored, even once the jobs around it finish, and nothing after it
 * starts. */
static void test_drop_queued(void)
{
    static const step s[] = {
        {PUSH, 0, "a"}, {PUSH, 1, "a"}, {PUSH, 2, "b"}, {PUSH, 3, "c"}, {TAKE, 0, 0},
        {TAKE, 2, 0},   {DROP, 2, 0},   {TAKE, -1, 0},  {FINISH, 2, 0}, {POP, -1, 0},
        {FINISH, 0, 0}, {POP, 1, 0},    {PUSH, 4, "d"}, {TAKE, -1, 0},  {POP, -1, 0},
        {END, 0, 0},
    };
    run_script(s);
}

static const ip_test_case tests[] = {
    IP_TEST(parallel), IP_TEST(same_image), IP_TEST(contiguous_offsets),
    IP_TEST(unkeyed),  IP_TEST(abandon),    IP_TEST(drop_queued),
};

IP_TEST_MAIN(tests)
