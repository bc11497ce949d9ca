/* proc_consumer.h — the Kafka side of the processor: a consumer in group
 * `processor` on `image-jobs` and the low-priority `image-jobs.regen` (read
 * only while `image-jobs` has nothing waiting), worker threads running jobs
 * (proc_job.h) of different images in parallel and those of one image in
 * order, the retry/backoff and dead-letter policy, and offsets committed only
 * past jobs whose outcome is recorded. Built from proc_consumer.c (Kafka
 * handles, rebalances, poll loop), proc_partitions.c (windows, workers,
 * offsets, priority; the rules in proc_inflight.c and proc_priority.c),
 * proc_retry.c (waits, attempts, DLQ) and proc_waits.c (what the jobs wait
 * on, for /metrics and /healthz).
 */
#ifndef PROC_CONSUMER_H
#define PROC_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_status.h"
#include "proc_job.h"

typedef struct proc_consumer_opts {
    const char *brokers;      /* "127.0.0.1:19092" */
    const char *topic;        /* "image-jobs" */
    const char *dlq_topic;    /* "image-jobs.dlq" */
    const char *regen_topic;  /* "image-jobs.regen"; NULL or "": none */
    const char *group;        /* "processor" */
    int workers;              /* jobs at once (<= 0: the number of cores) */
    int regen_workers;        /* regenerations at once at most (<= 0: workers - 1, at
                               * least 1) */
    bool vips_threads_adapt;  /* each job sets libvips' concurrency to
                               * max(1, cores / jobs running) when it starts */
    int max_attempts;         /* runs of a job ending PROC_JOB_RETRY (INTERNAL) before the
                               * DLQ; transient failures use none (proc_policy.h) */
    int backoff_ms;           /* the first retry delay (full jitter: drawn from 0..cap) */
    int backoff_max_ms;       /* the cap of the delay; 0 = 30000 */
    int64_t retry_horizon_ms; /* how long a job retries transient failures before it is
                               * a permanent failure; 0 = 86400000 (24 h) */
    int session_timeout_ms;   /* group session timeout; 0 = 10000 */
    const proc_job_ctx *job;  /* borrowed for the consumer's life */
} proc_consumer_opts;

typedef struct proc_consumer proc_consumer;

/* Makes the consumer (subscribed, not yet polling) and the DLQ producer.
 * Strings in `opts` are copied. On failure `err` holds librdkafka's reason. */
ip_status proc_consumer_new(const proc_consumer_opts *opts, proc_consumer **out, char *err,
                            size_t errlen);

/* Polls and dispatches jobs until should_stop(arg) returns true (it is called
 * about every 100 ms from this thread), then stops fetching, lets the jobs in
 * flight finish (jobs waiting for a retry are dropped uncommitted), commits,
 * and leaves the group. Returns IP_OK on a clean stop. */
ip_status proc_consumer_run(proc_consumer *c, bool (*should_stop)(void *arg), void *arg);

/* The body of /healthz: JSON naming what the jobs wait on and since when
 * (proc_waits_health_json); owned, free(). NULL when out of memory.
 * Thread-safe: call it from the metrics server's thread. */
char *proc_consumer_health_json(proc_consumer *c);

/* Frees everything; the consumer must have returned from run (or never run).
 * NULL does nothing. */
void proc_consumer_free(proc_consumer *c);

#endif
