/* proc_consumer.h — the Kafka side of the processor: a consumer in group
 * `processor` on `image-jobs`, worker threads running jobs (proc_job.h) in
 * order within each partition, the retry/backoff and dead-letter policy, and
 * offsets committed only after a job's outcome is recorded. Built from
 * proc_consumer.c (Kafka handles, rebalances, poll loop), proc_partitions.c
 * (FIFOs, workers, offsets) and proc_retry.c (attempts, backoff, DLQ).
 */
#ifndef PROC_CONSUMER_H
#define PROC_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>

#include "ip_status.h"
#include "proc_job.h"

typedef struct proc_consumer_opts {
    const char *brokers;     /* "127.0.0.1:19092" */
    const char *topic;       /* "image-jobs" */
    const char *dlq_topic;   /* "image-jobs.dlq" */
    const char *group;       /* "processor" */
    int workers;             /* jobs at once (<= 0: the number of cores) */
    int max_attempts;        /* runs of a job ending PROC_JOB_RETRY (a transient status or
                              * INTERNAL, proc_job_status_retryable) before the DLQ */
    int backoff_ms;          /* the first retry delay; doubles each time, capped at 32x */
    int session_timeout_ms;  /* group session timeout; 0 = 10000 */
    const proc_job_ctx *job; /* borrowed for the consumer's life */
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

/* Frees everything; the consumer must have returned from run (or never run).
 * NULL does nothing. */
void proc_consumer_free(proc_consumer *c);

#endif
