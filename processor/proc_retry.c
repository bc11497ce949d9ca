/* proc_retry.c — one Kafka message to a recorded outcome: runs, backoff, the DLQ.
 *
 * RETRIES
 * A worker unpacks the message's ProcessJob and runs it (proc_job_run). A
 * run ends PROC_JOB_RETRY when a call failed with a status for which
 * proc_job_status_retryable holds: a transient one (ip_status_is_transient:
 * the service was down or slow) or INTERNAL. That is the processor's one
 * retry decision; this file only counts. Every run counts an attempt: the job
 * runs again after backoff_ms, doubling up to 32x, without storing the
 * offset, and the partition waits meanwhile (its order is kept). Any other
 * outcome (ready, failed, deleted, invalid) is recorded and ends the job.
 *
 * DEAD LETTERS
 * After max_attempts runs ending PROC_JOB_RETRY the job is produced to the
 * DLQ topic (acks=all, idempotent producer) with attempt and last_error set,
 * then the image is failed with "gave up after N attempts: <last error>", and
 * only then may the offset be stored. Producing to the DLQ is retried after
 * any failure, with backoff capped at 30 s, for as long as the partition is
 * ours: a job is never committed without its outcome recorded somewhere.
 *
 * ABANDON
 * A job waiting in backoff gives up when its partition is revoked or the
 * consumer drains: nothing is stored, and the next owner (or the next start)
 * runs it again. A message that is not a ProcessJob at all is logged and
 * committed: no run could ever read it.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ip_log.h"
#include "ip_time.h"
#include "proc_consumer_internal.h"

/* The cap of the DLQ's own retry delay, milliseconds. */
#define DLQ_MAX_DELAY_MS 30000

/* Sleeps up to `ms` unless the partition is revoked or the consumer drains.
 * Returns false when interrupted. */
static bool backoff_sleep(proc_consumer *c, proc_partition *p, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    while (!c->draining && !p->revoked && rc == 0)
        rc = pthread_cond_timedwait(&c->wake_cv, &c->mu, &ts);
    bool ok = !c->draining && !p->revoked;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

/* -------------------------------------------------------------------- DLQ */

typedef struct dlq_wait {
    atomic_int done;
    atomic_int err;
} dlq_wait;

void proc_retry_dlq_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    dlq_wait *w = m->_private;
    if (w) {
        atomic_store(&w->err, (int)m->err);
        atomic_store(&w->done, 1);
    }
}

/* Produces `job` with attempt and last_error set to the DLQ topic and waits
 * for the broker's acknowledgement. */
static ip_status send_to_dlq(proc_consumer *c, const Imageproc__ProcessJob *job, int attempts,
                             const char *last_error, char *err, size_t errlen)
{
    Imageproc__ProcessJob copy = *job;
    copy.attempt = attempts;
    copy.last_error = (char *)last_error;
    size_t n = imageproc__process_job__get_packed_size(&copy);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return IP_RESOURCE_EXHAUSTED;
    }
    imageproc__process_job__pack(&copy, buf);
    dlq_wait w;
    atomic_init(&w.done, 0);
    atomic_init(&w.err, 0);
    const char *key = job->id ? job->id : "";
    rd_kafka_resp_err_t e =
        rd_kafka_producev(c->dlq, RD_KAFKA_V_TOPIC(c->dlq_topic), RD_KAFKA_V_KEY(key, strlen(key)),
                          RD_KAFKA_V_VALUE(buf, n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_OPAQUE(&w), RD_KAFKA_V_END);
    free(buf);
    if (e) {
        snprintf(err, errlen, "produce to %s: %s", c->dlq_topic, rd_kafka_err2str(e));
        return IP_UNAVAILABLE;
    }
    /* message.timeout.ms bounds the wait: the delivery report always comes. */
    while (!atomic_load(&w.done))
        rd_kafka_poll(c->dlq, 50);
    int derr = atomic_load(&w.err);
    if (derr) {
        snprintf(err, errlen, "deliver to %s: %s", c->dlq_topic,
                 rd_kafka_err2str((rd_kafka_resp_err_t)derr));
        return IP_UNAVAILABLE;
    }
    return IP_OK;
}

/* Out of attempts: the DLQ first (retried until it takes the job or the
 * partition goes away), then the image fails with the reason. Returns false
 * when abandoned. */
static bool dead_letter(proc_consumer *c, proc_partition *p, const Imageproc__ProcessJob *job,
                        int attempts, const char *last_error)
{
    char derr[256];
    int delay = c->backoff_ms;
    while (send_to_dlq(c, job, attempts, last_error, derr, sizeof(derr)) != IP_OK) {
        ip_log(IP_LOG_ERROR, "job.dlq_failed", IP_LS("image_id", job->id), IP_LS("err", derr));
        if (!backoff_sleep(c, p, delay))
            return false;
        delay = delay * 2 > DLQ_MAX_DELAY_MS ? DLQ_MAX_DELAY_MS : delay * 2;
    }
    char reason[1200], ferr[1300];
    snprintf(reason, sizeof(reason), "gave up after %d attempts: %s", attempts, last_error);
    proc_outcome f = proc_job_fail_image(c->job, job->id, reason, ferr, sizeof(ferr));
    ip_log(f == PROC_JOB_FAILED ? IP_LOG_WARN : IP_LOG_ERROR, "job.dead_lettered",
           IP_LS("image_id", job->id), IP_LI("attempts", attempts), IP_LS("err", last_error),
           IP_LS("image_failed", proc_outcome_name(f)));
    return true;
}

/* --------------------------------------------------------------- one job */

/* Runs `job` until an outcome other than PROC_JOB_RETRY, or max_attempts
 * runs, or until abandoned (*abandoned). Returns the last outcome and counts
 * the runs in *attempts. */
static proc_outcome run_attempts(proc_consumer *c, proc_partition *p,
                                 const Imageproc__ProcessJob *job, char *err, size_t errlen,
                                 int *attempts, bool *abandoned)
{
    int delay = c->backoff_ms;
    proc_outcome o = PROC_JOB_RETRY;
    *attempts = 0;
    *abandoned = false;
    for (;;) {
        ++*attempts;
        o = proc_job_run(c->job, job, err, errlen);
        if (o != PROC_JOB_RETRY || *attempts >= c->max_attempts)
            return o;
        ip_metric_add(c->m_retries, NULL, 1);
        ip_log(IP_LOG_WARN, "job.retry", IP_LS("image_id", job->id), IP_LI("attempt", *attempts),
               IP_LI("delay_ms", delay), IP_LS("err", err));
        if (!backoff_sleep(c, p, delay)) {
            *abandoned = true;
            return o;
        }
        delay = delay * 2 > c->backoff_ms * 32 ? c->backoff_ms * 32 : delay * 2;
    }
}

static void count(proc_consumer *c, const char *outcome, double seconds)
{
    ip_metric_add(c->m_jobs, outcome, 1);
    ip_metric_observe(c->m_duration, outcome, seconds);
}

bool proc_retry_run(proc_consumer *c, proc_partition *p, const rd_kafka_message_t *m)
{
    int64_t t0 = ip_mono_ms();
    Imageproc__ProcessJob *job =
        imageproc__process_job__unpack(NULL, m->len, (const uint8_t *)m->payload);
    if (!job) {
        ip_log(IP_LOG_ERROR, "job.unreadable", IP_LI("partition", m->partition),
               IP_LI("offset", m->offset), IP_LI("bytes", m->len));
        count(c, "invalid", 0);
        return true;
    }
    ip_log(IP_LOG_DEBUG, "job.start", IP_LS("image_id", job->id), IP_LI("partition", m->partition),
           IP_LI("offset", m->offset));
    char err[1024] = "";
    int attempts = 0;
    bool abandoned = false;
    proc_outcome o = run_attempts(c, p, job, err, sizeof(err), &attempts, &abandoned);
    const char *outcome = proc_outcome_name(o);
    if (!abandoned && o == PROC_JOB_RETRY) {
        abandoned = !dead_letter(c, p, job, attempts, err);
        outcome = "dlq";
    }

    int64_t ms = ip_mono_ms() - t0;
    if (!abandoned) {
        count(c, outcome, ms / 1000.0);
        ip_log(o == PROC_JOB_READY ? IP_LOG_INFO : IP_LOG_WARN, "job.done",
               IP_LS("image_id", job->id), IP_LS("outcome", outcome),
               IP_LI("partition", m->partition), IP_LI("offset", m->offset),
               IP_LI("attempts", attempts), IP_LI("ms", ms),
               IP_LS("err", o == PROC_JOB_READY ? NULL : err));
    } else {
        ip_metric_add(c->m_abandoned, NULL, 1);
        ip_log(IP_LOG_INFO, "job.abandoned", IP_LS("image_id", job->id),
               IP_LI("partition", m->partition), IP_LI("offset", m->offset),
               IP_LI("attempts", attempts), IP_LS("err", err));
    }
    imageproc__process_job__free_unpacked(job, NULL);
    return !abandoned;
}
