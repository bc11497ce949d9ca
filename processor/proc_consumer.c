/* proc_consumer.c — the Kafka side of the processor: the consumer in its
 * group and the DLQ producer, rebalances, the poll loop, shutdown.
 *
 * HOW IT WORKS
 * One thread (the caller of proc_consumer_run) owns the Kafka consumer: it
 * polls, serves rebalances, and hands each message to the window of its
 * partition; worker threads run the jobs, those of different images in
 * parallel whatever their partition and those of one image (the message key)
 * one at a time in offset order (proc_partitions.c, proc_inflight.c), each to
 * a recorded outcome with its waits on a dependency, retries and dead letters
 * (proc_retry.c; what the held jobs wait on is counted by proc_waits.c). What
 * these files share is in proc_consumer_internal.h.
 *
 * TWO TOPICS
 * The consumer subscribes to the jobs topic and, when one is configured, to
 * the low-priority regeneration topic. Regenerations use only what the jobs
 * topic leaves idle (proc_priority.h): after every poll the regeneration
 * partitions are paused whenever the jobs topic has messages not yet
 * consumed, jobs not started, or every worker busy, and resumed once it has
 * none (proc_partitions_update); workers take the jobs topic's jobs first,
 * and regenerations leave a worker free (IP_PROCESSOR_REGEN_WORKERS). A
 * regeneration already running is not interrupted. Everything below holds
 * for the partitions of both topics alike.
 *
 * AT LEAST ONCE
 * enable.auto.offset.store is off: a worker stores message offset + 1 with
 * rd_kafka_offsets_store only once the job's outcome is recorded (ready,
 * failed, deleted, or sent to the DLQ) and so are the outcomes of every
 * earlier job of its partition (a job that finished ahead of an earlier one
 * is stored when that one finishes), and librdkafka's auto commit (every
 * second, on rebalance and on close) commits only stored offsets. A crash
 * (SIGKILL) therefore redelivers every job whose outcome was not recorded
 * (and the finished jobs after it); jobs are idempotent (proc_job.c), so
 * running one twice is harmless.
 *
 * REBALANCE AND SHUTDOWN
 * On revoke, queued jobs of the revoked partitions are dropped (not
 * committed), jobs waiting in backoff are abandoned (not committed), and the
 * callback waits for the jobs running on them to finish and store what is
 * contiguous (nothing past a dropped or abandoned job); then the stored
 * offsets are committed and the partitions let go.
 * Both the eager and the cooperative protocols are served. SIGTERM
 * (should_stop) does the same for every partition after pausing fetches, then
 * closes the consumer, which leaves the group.
 */
#include "proc_consumer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ip_kafka.h"
#include "ip_log.h"
#include "ip_time.h"
#include "proc_consumer_internal.h"
#include "proc_priority.h"

/* ------------------------------------------------------------- rebalance */

static void on_revoke(proc_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    int dropped = proc_partitions_revoke(c, parts);
    rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, NULL, 0);
    ip_log(IP_LOG_INFO, "kafka.revoked", IP_LI("partitions", parts->cnt),
           IP_LI("dropped_queued", dropped),
           IP_LS("commit", e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR__NO_OFFSET
                               ? "ok"
                               : rd_kafka_err2str(e)));
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    proc_consumer *c = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        proc_partitions_assign(c, parts);
        ip_log(IP_LOG_INFO, "kafka.assigned", IP_LI("partitions", parts->cnt));
        if (cooperative)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        /* librdkafka keeps a partition's pause flag across assignments: one
         * paused for back-pressure before a revoke would stay silent. */
        rd_kafka_resume_partitions(rk, parts);
    } else {
        if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            ip_log(IP_LOG_WARN, "kafka.rebalance_error", IP_LS("err", rd_kafka_err2str(err)));
        on_revoke(c, parts);
        if (cooperative)
            rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
        else
            rd_kafka_assign(rk, NULL);
    }
}

/* ------------------------------------------------------------- lifecycle */

static void metrics_init(proc_consumer *c)
{
    static const double buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
    c->m_jobs =
        ip_metric_counter("proc_jobs_total", "jobs finished, by recorded outcome", "outcome");
    c->m_duration = ip_metric_histogram("proc_job_duration_seconds",
                                        "time from taking a job to its recorded outcome", "outcome",
                                        buckets, sizeof(buckets) / sizeof(buckets[0]));
    c->m_in_flight = ip_metric_gauge("proc_jobs_in_flight", "jobs running now", NULL);
    c->m_retries = ip_metric_counter("proc_job_retries_total",
                                     "job runs repeated after an internal failure (each counts "
                                     "an attempt; transient ones: proc_transient_retries_total)",
                                     NULL);
    c->m_abandoned = ip_metric_counter("proc_jobs_abandoned_total",
                                       "jobs given up uncommitted on revoke or shutdown", NULL);
    /* A job never ends "wait", "retry" or "poison": those end "dlq". */
    for (int i = PROC_JOB_READY; i <= PROC_JOB_INVALID; i++)
        ip_metric_add(c->m_jobs, proc_outcome_name((proc_outcome)i), 0);
    ip_metric_add(c->m_jobs, "dlq", 0);
    ip_metric_set(c->m_in_flight, NULL, 0);
    c->m_regen_waiting = ip_metric_gauge(
        "proc_regen_waiting",
        "regeneration jobs not started: the regeneration partitions' lag as last fetched, "
        "plus those fetched and held",
        NULL);
    c->m_regen_running =
        ip_metric_gauge("proc_regen_running", "regeneration jobs running now", NULL);
    c->m_regen_done = ip_metric_counter(
        "proc_regen_done_total", "regeneration jobs finished with their outcome recorded", NULL);
    c->m_regen_paused = ip_metric_gauge(
        "proc_regen_paused",
        "1 while the regeneration topic is held for the jobs topic's work, else 0", NULL);
    ip_metric_set(c->m_regen_waiting, NULL, 0);
    ip_metric_set(c->m_regen_running, NULL, 0);
    ip_metric_add(c->m_regen_done, NULL, 0);
    ip_metric_set(c->m_regen_paused, NULL, 0);
    proc_waits_init(&c->waits);
}

/* The consumer in group `o->group`, offsets stored by hand, subscribed to
 * c->topic and c->regen_topic (when set). */
static ip_status consumer_open(proc_consumer *c, const proc_consumer_opts *o, char *err,
                               size_t errlen)
{
    char session[32];
    snprintf(session, sizeof(session), "%d",
             o->session_timeout_ms > 0 ? o->session_timeout_ms : 10000);
    const char *const kv[][2] = {
        {"bootstrap.servers", o->brokers},
        {"group.id", o->group},
        {"client.id", "processor"},
        {"enable.auto.commit", "true"},
        {"auto.commit.interval.ms", "1000"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"session.timeout.ms", session},
        {"heartbeat.interval.ms", "1000"},
        {"queued.min.messages", "1000"},
        {"topic.metadata.refresh.interval.ms", "10000"},
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!ip_kafka_conf_set_all(conf, kv, sizeof(kv) / sizeof(kv[0]), NULL, err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return IP_UNAVAILABLE;
    }
    rd_kafka_conf_set_log_cb(conf, ip_log_rdkafka_cb);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, c);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        return IP_UNAVAILABLE;
    }
    rd_kafka_poll_set_consumer(c->rk);

    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(topics, c->topic, RD_KAFKA_PARTITION_UA);
    if (c->regen_topic)
        rd_kafka_topic_partition_list_add(topics, c->regen_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        snprintf(err, errlen, "subscribe %s%s%s: %s", c->topic, c->regen_topic ? ", " : "",
                 c->regen_topic ? c->regen_topic : "", rd_kafka_err2str(e));
        return IP_UNAVAILABLE;
    }
    return IP_OK;
}

/* The idempotent, acks=all producer of dead letters. */
static ip_status dlq_open(proc_consumer *c, const proc_consumer_opts *o, char *err, size_t errlen)
{
    const char *const kv[][2] = {
        {"bootstrap.servers", o->brokers}, {"client.id", "processor-dlq"},
        {"enable.idempotence", "true"},    {"acks", "all"},
        {"message.timeout.ms", "20000"},   {"linger.ms", "0"},
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!ip_kafka_conf_set_all(conf, kv, sizeof(kv) / sizeof(kv[0]), NULL, err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return IP_UNAVAILABLE;
    }
    rd_kafka_conf_set_log_cb(conf, ip_log_rdkafka_cb);
    rd_kafka_conf_set_dr_msg_cb(conf, proc_retry_dlq_delivered);
    c->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
    if (!c->dlq) {
        rd_kafka_conf_destroy(conf);
        return IP_UNAVAILABLE;
    }
    return IP_OK;
}

ip_status proc_consumer_new(const proc_consumer_opts *o, proc_consumer **out, char *err,
                            size_t errlen)
{
    *out = NULL;
    proc_consumer *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return IP_RESOURCE_EXHAUSTED;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->work_cv, NULL);
    pthread_cond_init(&c->idle_cv, NULL);
    pthread_cond_init(&c->wake_cv, NULL);
    c->topic = strdup(o->topic ? o->topic : "");
    c->dlq_topic = strdup(o->dlq_topic ? o->dlq_topic : "");
    if (o->regen_topic && o->regen_topic[0] && strcmp(o->regen_topic, c->topic) != 0)
        c->regen_topic = strdup(o->regen_topic);
    c->max_attempts = o->max_attempts > 0 ? o->max_attempts : 1;
    c->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : 1;
    c->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 30000;
    c->horizon_ms = o->retry_horizon_ms > 0 ? o->retry_horizon_ms : 86400000;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c->nworkers = o->workers > 0 ? o->workers : (cores > 0 ? (int)cores : 1);
    c->regen_max = proc_priority_regen_max(c->nworkers, o->regen_workers);
    c->vips_threads = o->vips_threads_adapt ? (cores > 0 ? (int)cores : 1) : 0;
    c->job = o->job;
    metrics_init(c);

    ip_status st = consumer_open(c, o, err, errlen);
    if (st == IP_OK)
        st = dlq_open(c, o, err, errlen);
    if (st != IP_OK) {
        proc_consumer_free(c);
        return st;
    }
    *out = c;
    return IP_OK;
}

/* Shutdown: stop fetching, drop what has not started, let the running jobs
 * finish (a job in backoff gives up), then commit and leave. */
static void consumer_stop(proc_consumer *c)
{
    ip_log(IP_LOG_INFO, "processor.draining", IP_LI("in_flight", c->in_flight));
    rd_kafka_topic_partition_list_t *assigned = NULL;
    if (rd_kafka_assignment(c->rk, &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR && assigned) {
        rd_kafka_pause_partitions(c->rk, assigned);
        rd_kafka_topic_partition_list_destroy(assigned);
    }
    proc_workers_drain(c);

    rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, NULL, 0);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        ip_log(IP_LOG_WARN, "kafka.commit_failed", IP_LS("err", rd_kafka_err2str(e)));
    e = rd_kafka_consumer_close(c->rk);
    if (e)
        ip_log(IP_LOG_WARN, "kafka.close_failed", IP_LS("err", rd_kafka_err2str(e)));
    rd_kafka_flush(c->dlq, 5000);
    ip_log(IP_LOG_INFO, "processor.stopped");
}

ip_status proc_consumer_run(proc_consumer *c, bool (*should_stop)(void *arg), void *arg)
{
    ip_status st = proc_workers_start(c);
    if (st != IP_OK)
        return st;
    ip_log(IP_LOG_INFO, "processor.consuming", IP_LS("topic", c->topic),
           IP_LS("regen_topic", c->regen_topic ? c->regen_topic : ""),
           IP_LI("regen_workers", c->regen_max), IP_LI("workers", c->nthreads),
           IP_LI("max_attempts", c->max_attempts), IP_LI("retry_horizon_ms", c->horizon_ms));

    while (!should_stop(arg)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 100);
        if (m) {
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    ip_log(IP_LOG_WARN, "kafka.consume_error",
                           IP_LS("err", rd_kafka_message_errstr(m)));
                rd_kafka_message_destroy(m);
            } else {
                proc_partitions_enqueue(c, m);
            }
        }
        proc_partitions_update(c);
    }
    consumer_stop(c);
    return IP_OK;
}

char *proc_consumer_health_json(proc_consumer *c)
{
    return proc_waits_health_json(&c->waits, ip_now_us());
}

void proc_consumer_free(proc_consumer *c)
{
    if (!c)
        return;
    /* Messages first: they belong to the consumer handle. */
    proc_partitions_free(c);
    if (c->rk)
        rd_kafka_destroy(c->rk);
    if (c->dlq)
        rd_kafka_destroy(c->dlq);
    free(c->threads);
    free(c->topic);
    free(c->dlq_topic);
    free(c->regen_topic);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->work_cv);
    pthread_cond_destroy(&c->idle_cv);
    pthread_cond_destroy(&c->wake_cv);
    proc_waits_fini(&c->waits);
    free(c);
}
