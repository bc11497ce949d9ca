/* proc_consumer_internal.h — what the files of the consumer share (not
 * for the rest of the processor; the public API is proc_consumer.h).
 *
 *   proc_consumer.c    the Kafka handles (consumer in the group, DLQ
 *                      producer), rebalances, the poll loop, shutdown
 *   proc_partitions.c  one window of jobs per assigned partition, the worker
 *                      threads, which job starts when (jobs of different
 *                      images in parallel, one image's jobs in offset order),
 *                      offsets stored past contiguous finished jobs,
 *                      back-pressure, the trim when idle
 *   proc_inflight.c    the rule of a partition's window as pure logic
 *   proc_priority.c    when the regeneration topic is held, as pure logic
 *   proc_retry.c       one message to a recorded outcome: waits, attempts,
 *                      the DLQ, metrics and the job.done log line
 *   proc_waits.c       what the held jobs wait on (/metrics, /healthz)
 *
 * LOCKING
 * `mu` guards the partition list, every partition's fields and window,
 * queued, in_flight, the per-topic counts, main_lag, regen_held, draining
 * and stopping. A running job's window entry and
 * its message stay in place until its worker ends it under `mu`. The Kafka
 * handles are thread-safe and are called without it, except
 * rd_kafka_offsets_store, which a worker calls under `mu` so that a revoke
 * (which waits under `mu` until the partition has no running job) never lets
 * an offset be stored for a partition already given up. `waits` has a lock
 * of its own, never taken with `mu` held.
 */
#ifndef PROC_CONSUMER_INTERNAL_H
#define PROC_CONSUMER_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ip_metrics.h"
#include "proc_consumer.h"
#include "proc_inflight.h"
#include "proc_waits.h"

/* A partition whose window holds this many jobs is paused; resumed at half. */
#define PROC_MAX_QUEUED 32

/* One assigned partition, of the jobs topic or of the regeneration topic. */
typedef struct proc_partition {
    struct proc_partition *next;
    const char *topic; /* c->topic or c->regen_topic (borrowed) */
    bool regen;        /* of the regeneration topic */
    int32_t partition;
    proc_inflight win; /* its jobs from the first unstored offset; payloads are the
                        * polled messages, owned */
    bool revoked;      /* being revoked: nothing new starts, a job in backoff gives up */
    bool full;         /* its window reached PROC_MAX_QUEUED and has not drained to half */
    bool paused;       /* paused in Kafka (full, or a regeneration partition held) */
} proc_partition;

struct proc_consumer {
    rd_kafka_t *rk;  /* consumer */
    rd_kafka_t *dlq; /* producer for the dead-letter topic */
    char *topic, *dlq_topic;
    char *regen_topic; /* NULL: no regeneration topic */
    int max_attempts, nworkers;
    int regen_max;    /* regenerations at once at most (proc_priority_regen_max) */
    int vips_threads; /* > 0: each job sets libvips' concurrency to
                       * max(1, vips_threads / jobs running) */
    int64_t backoff_ms, backoff_max_ms, horizon_ms;
    const proc_job_ctx *job;

    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* workers: a job may be available, or stop */
    pthread_cond_t idle_cv; /* a job finished (revoke and shutdown wait on it) */
    pthread_cond_t wake_cv; /* backoff sleepers: revoke or drain happened */
    proc_partition *parts;
    unsigned rr;                     /* round-robin start for fairness across partitions */
    int queued;                      /* jobs not started, all partitions */
    int in_flight;                   /* jobs running */
    int main_queued, main_running;   /* of those, the jobs topic's */
    int regen_queued, regen_running; /* and the regeneration topic's */
    int64_t main_lag;                /* jobs-topic messages not yet consumed, as last known */
    bool regen_held;                 /* regeneration partitions paused, their jobs not started */
    bool draining;                   /* shutting down: start nothing new */
    bool stopping;                   /* workers exit */
    pthread_t *threads;
    int nthreads;

    ip_metric *m_jobs, *m_duration, *m_in_flight, *m_retries, *m_abandoned;
    ip_metric *m_regen_waiting, *m_regen_running, *m_regen_done, *m_regen_paused;
    proc_waits waits;
};

/* ------------------------------------------------------ proc_partitions.c */

/* Adds the newly assigned partitions (ones already known are kept). */
void proc_partitions_assign(proc_consumer *c, const rd_kafka_topic_partition_list_t *parts);

/* Gives up `parts`: drops their queued jobs (uncommitted), wakes their jobs in
 * backoff, waits for their running jobs to store their offsets, forgets them.
 * Returns how many queued jobs were dropped. The caller commits afterwards. */
int proc_partitions_revoke(proc_consumer *c, const rd_kafka_topic_partition_list_t *parts);

/* Hands a polled message (owned) to its partition's window, or destroys it
 * when the partition is not ours any more; pauses the partition when its
 * window is full. */
void proc_partitions_enqueue(proc_consumer *c, rd_kafka_message_t *m);

/* The poll thread's step after each poll: reads the jobs topic's lag from
 * librdkafka's local figures, decides whether the regeneration partitions
 * are held (proc_priority.h), then pauses and resumes partitions so that
 * Kafka fetches exactly those that are neither full (back-pressure: resumed
 * once drained to half) nor held; updates the regeneration metrics. */
void proc_partitions_update(proc_consumer *c);

/* Starts the worker threads; IP_RESOURCE_EXHAUSTED when none could start. */
ip_status proc_workers_start(proc_consumer *c);

/* Shutdown: starts nothing new, drops every queued job, wakes the jobs in
 * backoff, waits for the running ones, then stops and joins the workers. */
void proc_workers_drain(proc_consumer *c);

/* Frees every partition and its queued messages (before the consumer handle
 * they belong to). */
void proc_partitions_free(proc_consumer *c);

/* ----------------------------------------------------------- proc_retry.c */

/* Runs the job of message `m` of partition `p` to a recorded outcome, with
 * retries. Returns true when the offset may be stored (outcome recorded, or a
 * message that is not a job at all), false when the job was abandoned
 * (revoke, shutdown) and must come again. Called by a worker without `mu`. */
bool proc_retry_run(proc_consumer *c, proc_partition *p, const rd_kafka_message_t *m);

/* The delivery report callback of the DLQ producer. */
void proc_retry_dlq_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

#endif
