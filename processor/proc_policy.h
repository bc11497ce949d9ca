/* proc_policy.h — the processor's retry policy as pure logic: what a failed
 * call means for its job, when a job is poison, and how long to wait before
 * the next try. No I/O, no locks, no clock of its own (callers pass the
 * time), so proc_policy_test.c drives every rule directly.
 *
 * A failed call is one of three things for its job:
 *  - transient (ip_status_is_transient: the dependency is down or slow): the
 *    job waits and runs again, using no attempt, for up to the retry horizon;
 *  - INTERNAL (a fault on the other side that a later run may not meet): the
 *    job runs again, counting an attempt, up to IP_JOB_MAX_ATTEMPTS;
 *  - anything else: permanent, the failure is recorded at once.
 * A job whose image has more runs (deliveries a processor started, counted by
 * metadata-svc) than IP_JOB_MAX_ATTEMPTS killed or lost its processor that
 * many times: it is poison and goes to the DLQ without running again.
 */
#ifndef PROC_POLICY_H
#define PROC_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "ip_status.h"

/* What a job can wait on: the service whose call failed. */
typedef enum proc_dep {
    PROC_DEP_NONE = 0,
    PROC_DEP_METADATA, /* "metadata-svc" */
    PROC_DEP_STORAGE,  /* "storage-svc" */
    PROC_DEP_KAFKA,    /* "kafka" (the DLQ producer) */
    PROC_DEP_COUNT
} proc_dep;

/* "metadata-svc" | "storage-svc" | "kafka"; "" for PROC_DEP_NONE or unknown. */
const char *proc_dep_name(proc_dep d);

typedef enum proc_call_class {
    PROC_CALL_OK,
    PROC_CALL_GONE,      /* NOT_FOUND: the caller knows what is missing */
    PROC_CALL_TRANSIENT, /* wait and run again; no attempt is used */
    PROC_CALL_ATTEMPT,   /* INTERNAL: run again, counting an attempt */
    PROC_CALL_PERMANENT, /* record the failure at once */
} proc_call_class;

/* The processor's one reading of a call's status: transient exactly when
 * ip_status_is_transient holds; INTERNAL counts an attempt. */
proc_call_class proc_policy_classify(ip_status st);

/* True when an image with `runs` started deliveries is poison under a limit
 * of `max_attempts` (runs > max_attempts; a limit <= 0 never is). */
bool proc_policy_is_poison(int runs, int max_attempts);

/* Capped exponential backoff with full jitter, bounded by a horizon.
 *
 * The n-th delay (n = 0, 1, ...) is drawn uniformly from [0, cap(n)] with
 * cap(n) = min(max_ms, first_ms * 2^n): the waits of many jobs that failed
 * together spread out instead of returning in step. The horizon counts from
 * the first failure (the first call of proc_backoff_next): a delay never
 * reaches past it, and once it has passed proc_backoff_next answers -1 (give
 * up). The caller owns the struct; one per sequence of retries. */
typedef struct proc_backoff {
    int64_t first_ms, max_ms, horizon_ms;
    int64_t start_ms; /* the first failure (caller's clock); -1 before it */
    int n;            /* delays handed out so far */
    uint64_t rng;     /* xorshift64* state, never 0 */
} proc_backoff;

/* Starts a sequence: first_ms >= 1 (smaller values are taken as 1), max_ms
 * below first_ms caps every delay at max_ms, horizon_ms <= 0 means no
 * horizon. `seed` chooses the jitter (any value; 0 is replaced). */
void proc_backoff_init(proc_backoff *b, int64_t first_ms, int64_t max_ms, int64_t horizon_ms,
                       uint64_t seed);

/* cap(n) = min(max_ms, first_ms * 2^n), without overflow. */
int64_t proc_backoff_cap(const proc_backoff *b, int n);

/* The delay before the next try after a failure seen at `now_ms`, in
 * [0, cap(n)] and ending no later than the horizon; -1 when the horizon has
 * passed. */
int64_t proc_backoff_next(proc_backoff *b, int64_t now_ms);

/* Milliseconds since the first failure at `now_ms`; 0 before it. */
int64_t proc_backoff_elapsed_ms(const proc_backoff *b, int64_t now_ms);

#endif
