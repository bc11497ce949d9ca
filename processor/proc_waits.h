/* proc_waits.h — what the processor's jobs are waiting on, for /metrics and
 * /healthz.
 *
 * A job held by its worker because a dependency failed (proc_retry.c) is
 * "waiting on" that dependency from its first failed call until it moves on
 * (a call to that service succeeds and the job fails on another, or the job
 * ends). The registry counts such jobs per dependency and remembers since
 * when each dependency has had waiting jobs and the last error seen.
 *
 * Metrics: proc_jobs_waiting{on} (gauge: jobs waiting now) and
 * proc_transient_retries_total{on} (counter: runs and recordings tried again
 * after a transient failure). Thread-safe: every function takes the
 * registry's own lock.
 */
#ifndef PROC_WAITS_H
#define PROC_WAITS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ip_metrics.h"
#include "proc_policy.h"

typedef struct proc_waits {
    pthread_mutex_t mu;
    int jobs[PROC_DEP_COUNT];             /* jobs waiting on each */
    int64_t since_us[PROC_DEP_COUNT];     /* wall clock when jobs[d] went from 0 to 1 */
    char last_error[PROC_DEP_COUNT][256]; /* the last failure noted for each */
    ip_metric *m_waiting, *m_transient;
} proc_waits;

/* Registers the metrics (every dependency shown, at 0) and clears the counts. */
void proc_waits_init(proc_waits *w);
void proc_waits_fini(proc_waits *w);

/* A job moves from waiting on `from` to waiting on `to` (either may be
 * PROC_DEP_NONE: starts or stops waiting). */
void proc_waits_move(proc_waits *w, proc_dep from, proc_dep to);

/* Notes one more try after a failure on `dep` with `err` (borrowed);
 * `transient` counts it in proc_transient_retries_total. */
void proc_waits_note(proc_waits *w, proc_dep dep, bool transient, const char *err);

/* The body of /healthz at wall clock `now_us` (owned, free(); NULL when out
 * of memory). Waiting is healthy, so the answer stays 200; the body says on
 * what and since when:
 *   {"status":"ok","waiting":[]}
 *   {"status":"waiting","waiting":[{"on":"storage-svc","jobs":2,
 *    "since":"2026-01-02T03:04:05.000000Z","for_s":12.5,
 *    "last_error":"GetObject: unavailable: no server connected"}]} */
char *proc_waits_health_json(proc_waits *w, int64_t now_us);

#endif
