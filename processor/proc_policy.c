/* proc_policy.c — the retry policy of the processor (see proc_policy.h):
 * the classification of a call's status, the poison rule, and the backoff
 * schedule. Pure functions of their arguments; the jitter comes from a
 * xorshift64* generator kept in the caller's proc_backoff, so two jobs never
 * share random state and a test with a fixed seed sees fixed delays.
 */
#include "proc_policy.h"

#include <stddef.h>

#include "ip_time.h"

static const char *const dep_names[PROC_DEP_COUNT] = {
    [PROC_DEP_NONE] = "",
    [PROC_DEP_METADATA] = "metadata-svc",
    [PROC_DEP_STORAGE] = "storage-svc",
    [PROC_DEP_KAFKA] = "kafka",
};

const char *proc_dep_name(proc_dep d)
{
    return (unsigned)d < PROC_DEP_COUNT ? dep_names[d] : "";
}

proc_call_class proc_policy_classify(ip_status st)
{
    if (st == IP_OK)
        return PROC_CALL_OK;
    if (ip_status_is_transient(st))
        return PROC_CALL_TRANSIENT;
    if (st == IP_NOT_FOUND)
        return PROC_CALL_GONE;
    /* INTERNAL is a fault behind metadata-svc or storage-svc (a lost
     * connection to PostgreSQL or S3 seen as an unexpected error) that often
     * passes: worth another run, but bounded by the attempts. */
    if (st == IP_INTERNAL)
        return PROC_CALL_ATTEMPT;
    return PROC_CALL_PERMANENT;
}

bool proc_policy_is_poison(int runs, int max_attempts)
{
    return max_attempts > 0 && runs > max_attempts;
}

/* ---------------------------------------------------------------- backoff */

void proc_backoff_init(proc_backoff *b, int64_t first_ms, int64_t max_ms, int64_t horizon_ms,
                       uint64_t seed)
{
    b->first_ms = first_ms >= 1 ? first_ms : 1;
    b->max_ms = max_ms >= 1 ? max_ms : 1;
    b->horizon_ms = horizon_ms;
    b->start_ms = -1;
    b->n = 0;
    b->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

int64_t proc_backoff_cap(const proc_backoff *b, int n)
{
    return ip_backoff_cap(b->first_ms, b->max_ms, n);
}

/* xorshift64* (Vigna): good enough to spread delays, never 0 once seeded. */
static uint64_t next_random(proc_backoff *b)
{
    uint64_t x = b->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    b->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

int64_t proc_backoff_next(proc_backoff *b, int64_t now_ms)
{
    if (b->start_ms < 0)
        b->start_ms = now_ms;
    int64_t left = INT64_MAX;
    if (b->horizon_ms > 0) {
        left = b->start_ms + b->horizon_ms - now_ms;
        if (left <= 0)
            return -1;
    }
    int64_t cap = proc_backoff_cap(b, b->n);
    if (b->n < 62)
        b->n++;
    int64_t delay = (int64_t)(next_random(b) % ((uint64_t)cap + 1));
    return delay < left ? delay : left;
}

int64_t proc_backoff_elapsed_ms(const proc_backoff *b, int64_t now_ms)
{
    return b->start_ms < 0 || now_ms < b->start_ms ? 0 : now_ms - b->start_ms;
}
