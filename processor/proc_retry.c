/* proc_retry.c — one Kafka message to a recorded outcome: waits, attempts,
 * the DLQ.
 *
 * RETRIES
 * A worker unpacks the message's ProcessJob, runs it (proc_job_run) and
 * holds it until its outcome is recorded. proc_partitions.c starts no later
 * job of the same image meanwhile, so per-image order holds however long
 * that takes, while jobs of other images go on; their offsets are stored
 * once this one's is, and fetching continues until the partition's window
 * is full, then the partition is paused. A run ending
 * WAIT (a call failed transiently: the service it names was down or slow)
 * uses no attempt: the job runs again after a delay drawn by proc_backoff
 * (capped exponential with full jitter: IP_JOB_BACKOFF_MS first,
 * IP_JOB_BACKOFF_MAX_MS cap), for up to IP_JOB_RETRY_HORIZON_MS (24 h by
 * default) from the first failure. A run ending RETRY (INTERNAL) runs again
 * the same way but counts an attempt. Only the first run of a delivery calls
 * MarkProcessing with new_delivery, so reruns add no run to the image; each
 * rerun renews the image's lease.
 *
 * DEAD LETTERS
 * A job gives up in one of three ways: IP_JOB_MAX_ATTEMPTS runs ending RETRY
 * ("gave up after N attempts: <last error>"), the horizon passing while it
 * waits ("gave up after waiting S s for <service>: <last error>"), or poison:
 * its image has more runs than the attempts allow, because earlier
 * deliveries killed or lost their processor ("gave up after N runs: ..."),
 * and this delivery does no work at all. The job is produced to the DLQ
 * topic (acks=all, idempotent producer) with attempt and last_error set, then
 * the image is failed with the reason. Both are retried while they fail (the
 * produce after any failure, as Kafka's; FailImage while transient, or with
 * INTERNAL up to the attempts), with the same backoff and a horizon of their
 * own, and only then is the offset stored. Past that horizon the miss is
 * logged ("job.dlq_gave_up", "job.outcome_not_recorded") and the offset
 * stored anyway: the image's lease runs out and the sweep puts it back on
 * the queue, so even then no image stays processing.
 *
 * A regeneration (ProcessJob.regenerate) that gives up is neither
 * dead-lettered nor failed: the image is ready with its earlier variants,
 * and imgctl regenerate can send it again. It is logged
 * ("job.regenerate_dropped" with the reason), counted in
 * proc_regenerations_total{outcome="dropped"} and its offset stored.
 *
 * WAITING
 * A held job waits on the service of its last failed call (proc_waits.c:
 * proc_jobs_waiting{on}, the /healthz body) until it ends or fails on
 * another; every transient retry is counted in
 * proc_transient_retries_total{on}.
 *
 * ABANDON
 * A job waiting in backoff gives up when its partition is revoked or the
 * consumer drains: nothing is stored, and the next owner (or the next start)
 * runs it again as a new delivery. A message that is not a ProcessJob at all
 * is logged and committed: no run could ever read it.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ip_log.h"
#include "ip_time.h"
#include "proc_consumer_internal.h"

/* Sleeps up to `ms` unless the partition is revoked or the consumer drains.
 * Returns false when interrupted. */
static bool backoff_sleep(proc_consumer *c, proc_partition *p, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
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

/* ---------------------------------------------------------- a held job */

/* A job held by its worker, from its first run until its outcome is recorded. */
typedef struct job_hold {
    proc_consumer *c;
    proc_partition *p;
    const Imageproc__ProcessJob *job;
    proc_backoff backoff; /* the current sequence of retries */
    proc_dep on;          /* the service it waits on now; PROC_DEP_NONE: none */
    int attempts;         /* runs that ended RETRY (INTERNAL) */
} job_hold;

typedef enum hold_wake { HOLD_AGAIN, HOLD_ABANDONED, HOLD_EXPIRED } hold_wake;

/* Starts a new sequence of retries: first delay, a fresh horizon. */
static void hold_restart(job_hold *h)
{
    uint64_t seed = (uint64_t)ip_mono_us() ^ ((uint64_t)(uintptr_t)h << 16);
    proc_backoff_init(&h->backoff, h->c->backoff_ms, h->c->backoff_max_ms, h->c->horizon_ms, seed);
}

/* After a failure on `dep` with `err`: waits the next delay, as a job waiting
 * on `dep`. HOLD_EXPIRED when the horizon has passed (no wait), HOLD_ABANDONED
 * when the partition was revoked or the consumer drains meanwhile. */
static hold_wake hold_wait(job_hold *h, proc_dep dep, bool transient, const char *err)
{
    int64_t delay = proc_backoff_next(&h->backoff, ip_mono_ms());
    if (delay < 0)
        return HOLD_EXPIRED;
    proc_waits_move(&h->c->waits, h->on, dep);
    h->on = dep;
    proc_waits_note(&h->c->waits, dep, transient, err);
    if (!transient)
        ip_metric_add(h->c->m_retries, NULL, 1);
    ip_log(IP_LOG_WARN, transient ? "job.waiting" : "job.retry", IP_LS("image_id", h->job->id),
           IP_LS("on", proc_dep_name(dep)), IP_LI("attempt", h->attempts), IP_LI("delay_ms", delay),
           IP_LI("waited_ms", proc_backoff_elapsed_ms(&h->backoff, ip_mono_ms())),
           IP_LS("err", err));
    return backoff_sleep(h->c, h->p, delay) ? HOLD_AGAIN : HOLD_ABANDONED;
}

/* The job waits on nothing any more. */
static void hold_release(job_hold *h)
{
    proc_waits_move(&h->c->waits, h->on, PROC_DEP_NONE);
    h->on = PROC_DEP_NONE;
}

/* Runs the job until its outcome is recorded (READY, FAILED, DELETED,
 * INVALID) or it gives up: RETRY out of attempts, WAIT past the horizon,
 * POISON. The last run's report is in *res; *abandoned on revoke or
 * shutdown. */
static proc_outcome hold_run(job_hold *h, proc_job_result *res, bool *abandoned)
{
    bool new_delivery = true;
    *abandoned = false;
    for (;;) {
        proc_outcome o = proc_job_run(h->c->job, h->job, new_delivery, res);
        if (res->marked)
            new_delivery = false; /* this delivery's run is counted */
        if (o == PROC_JOB_RETRY && ++h->attempts >= h->c->max_attempts)
            return o;
        if (o != PROC_JOB_WAIT && o != PROC_JOB_RETRY)
            return o;
        switch (hold_wait(h, res->dep, o == PROC_JOB_WAIT, res->err)) {
        case HOLD_AGAIN:
            break;
        case HOLD_ABANDONED:
            *abandoned = true;
            return o;
        case HOLD_EXPIRED:
            return PROC_JOB_WAIT;
        }
    }
}

/* FailImage(reason) for a dead-lettered job, tried again while it fails
 * transiently (or with INTERNAL, up to the attempts) until the horizon.
 * *recorded names what came of it ("failed", "deleted", "not_recorded").
 * Returns false when abandoned. */
static bool record_failure(job_hold *h, const char *reason, const char **recorded)
{
    proc_job_result res;
    int internal = 0;
    hold_restart(h);
    for (;;) {
        proc_outcome f = proc_job_fail_image(h->c->job, h->job->id, reason, &res);
        if (f == PROC_JOB_FAILED || f == PROC_JOB_DELETED) {
            *recorded = proc_outcome_name(f);
            return true;
        }
        hold_wake w = HOLD_EXPIRED; /* INTERNAL out of attempts: as past the horizon */
        if (f == PROC_JOB_WAIT || ++internal < h->c->max_attempts)
            w = hold_wait(h, res.dep, f == PROC_JOB_WAIT, res.err);
        if (w == HOLD_ABANDONED)
            return false;
        if (w == HOLD_EXPIRED) {
            ip_log(IP_LOG_ERROR, "job.outcome_not_recorded", IP_LS("image_id", h->job->id),
                   IP_LS("reason", reason), IP_LS("err", res.err));
            *recorded = "not_recorded";
            return true;
        }
    }
}

/* A job that gave up: the DLQ copy (attempt, last_error), then the image
 * fails with `reason`; each retried as the file's essay says. Returns false
 * when abandoned. */
static bool dead_letter(job_hold *h, int attempt, const char *last_error, const char *reason)
{
    char derr[256];
    hold_restart(h);
    while (send_to_dlq(h->c, h->job, attempt, last_error, derr, sizeof(derr)) != IP_OK) {
        hold_wake w = hold_wait(h, PROC_DEP_KAFKA, true, derr);
        if (w == HOLD_ABANDONED)
            return false;
        if (w == HOLD_EXPIRED) {
            ip_log(IP_LOG_ERROR, "job.dlq_gave_up", IP_LS("image_id", h->job->id),
                   IP_LS("err", derr));
            break;
        }
    }
    const char *recorded = "";
    if (!record_failure(h, reason, &recorded))
        return false;
    ip_log(IP_LOG_WARN, "job.dead_lettered", IP_LS("image_id", h->job->id),
           IP_LI("attempt", attempt), IP_LS("reason", reason), IP_LS("image_failed", recorded));
    return true;
}

/* The job gave up with `o` (RETRY, WAIT or POISON; the last run's report in
 * `res`): dead-letters it with the reason. Returns false when abandoned. */
static bool give_up(job_hold *h, proc_outcome o, const proc_job_result *res)
{
    char reason[1400];
    int attempt;
    int64_t waited_ms = proc_backoff_elapsed_ms(&h->backoff, ip_mono_ms());
    hold_release(h); /* from here on it waits only on what records the outcome */
    if (o == PROC_JOB_RETRY) {
        attempt = h->attempts;
        snprintf(reason, sizeof(reason), "gave up after %d attempts: %s", attempt, res->err);
    } else if (o == PROC_JOB_POISON) {
        attempt = res->runs - 1;
        snprintf(reason, sizeof(reason), "gave up after %d runs: %s", attempt, res->err);
    } else {
        attempt = h->attempts > 0 ? h->attempts : 1;
        snprintf(reason, sizeof(reason), "gave up after waiting %.1f s for %s: %s",
                 (double)waited_ms / 1000.0, proc_dep_name(res->dep), res->err);
    }
    return dead_letter(h, attempt, res->err, reason);
}

/* A regeneration that gave up with `o` (RETRY, WAIT; never POISON: its runs
 * do not count): logged and counted, nothing recorded on the image. */
static void drop_regeneration(job_hold *h, proc_outcome o, const proc_job_result *res)
{
    hold_release(h);
    ip_log(IP_LOG_WARN, "job.regenerate_dropped", IP_LS("image_id", h->job->id),
           IP_LS("after", proc_outcome_name(o)), IP_LI("attempts", h->attempts),
           IP_LS("on", proc_dep_name(res->dep)), IP_LS("err", res->err));
    proc_job_count_regeneration("dropped");
}

/* --------------------------------------------------------------- one job */

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
    job_hold h = {.c = c, .p = p, .job = job, .on = PROC_DEP_NONE};
    hold_restart(&h);
    proc_job_result res;
    bool abandoned = false;
    proc_outcome o = hold_run(&h, &res, &abandoned);
    const char *outcome = proc_outcome_name(o);
    if (!abandoned && (o == PROC_JOB_WAIT || o == PROC_JOB_RETRY || o == PROC_JOB_POISON)) {
        if (job->regenerate) {
            drop_regeneration(&h, o, &res);
            outcome = "dropped";
        } else {
            abandoned = !give_up(&h, o, &res);
            outcome = "dlq";
        }
    }
    hold_release(&h);

    int64_t ms = ip_mono_ms() - t0;
    if (!abandoned) {
        count(c, outcome, ms / 1000.0);
        ip_log(o == PROC_JOB_READY ? IP_LOG_INFO : IP_LOG_WARN, "job.done",
               IP_LS("image_id", job->id), IP_LS("outcome", outcome),
               IP_LI("partition", m->partition), IP_LI("offset", m->offset),
               IP_LI("attempts", h.attempts), IP_LI("runs", res.runs), IP_LI("ms", ms),
               IP_LS("err", o == PROC_JOB_READY ? NULL : res.err));
    } else {
        ip_metric_add(c->m_abandoned, NULL, 1);
        ip_log(IP_LOG_INFO, "job.abandoned", IP_LS("image_id", job->id),
               IP_LI("partition", m->partition), IP_LI("offset", m->offset),
               IP_LI("attempts", h.attempts), IP_LS("err", res.err));
    }
    imageproc__process_job__free_unpacked(job, NULL);
    return !abandoned;
}
