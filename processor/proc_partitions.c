/* proc_partitions.c — the worker threads, and which job runs when.
 *
 * HOW IT WORKS
 * The polling thread appends each message to the window of its partition
 * (proc_partitions_enqueue; proc_inflight.h holds the rule). Worker threads
 * take jobs from the windows: a worker picks, round-robin from a moving start
 * so that no partition starves, the first partition with a job that may
 * start, and in it the first such job in offset order. A job may start when
 * no earlier unfinished job of its partition is for the same image (the
 * Kafka key is the image id; a message without a key waits for every earlier
 * one and holds every later one back). So jobs of different images run in
 * parallel whatever their partition, while the jobs of one image never run
 * together and run in offset order.
 *
 * OFFSETS
 * When a job's outcome is recorded (proc_retry_run returns true) the worker
 * marks it finished and, under `mu`, removes the finished jobs at the front
 * of the window and stores the last one's offset + 1 with
 * rd_kafka_offsets_store: an offset is stored only past a contiguous prefix
 * of finished jobs, and a job that finished after an earlier unfinished one
 * is stored when that one finishes. A revoke waits, under `mu`, until the
 * revoked partitions have no running job, so every offset stored is stored
 * while the partition is still ours and the commit after the revoke carries
 * it. A job abandoned on revoke or shutdown stores nothing; the queued jobs
 * of its partition are dropped, and nothing after the abandoned or dropped
 * ones is stored: they come back to the next owner.
 *
 * TWO TOPICS
 * The partitions of the jobs topic and of the regeneration topic live side
 * by side, each with its own window and the same rules (one image's jobs in
 * order, offsets stored past contiguous finished jobs, the same revoke). A
 * worker looks at the jobs topic's partitions first, and takes a
 * regeneration only when proc_priority_may_start_regen says the jobs topic
 * has nothing waiting and fewer than regen_max regenerations run (one worker
 * stays free for the next upload); it decides from the live counts under
 * `mu`, so an upload enqueued a moment ago already keeps the next free
 * worker. After each poll
 * the polling thread (proc_partitions_update) reads the jobs topic's lag
 * from librdkafka's local figures (rd_kafka_position against the high
 * watermark of the last fetch: no broker round trip), decides the same way,
 * and pauses the regeneration partitions while they are held, which also
 * drops what librdkafka had prefetched of them (fetched again from the
 * position on resume), so their backlog never stands in front of an upload
 * in the consumer's queue. A regeneration already running finishes.
 *
 * Back-pressure: a partition whose window holds PROC_MAX_QUEUED jobs (queued,
 * running, or finished behind an unfinished one) is full: paused
 * (rd_kafka_pause_partitions) until it is down to half; a job message is
 * small, so this only bounds memory against a huge backlog or one job held
 * back for a long time. A partition is fetched when it is neither full nor
 * held, and proc_partitions_update is the one place that pauses and resumes.
 *
 * libvips threads: with IP_PROCESSOR_VIPS_CONCURRENCY=0 each job sets libvips'
 * concurrency, which a pipeline reads when it starts, to max(1, cores / jobs
 * running), so a job running alone uses every core.
 *
 * Memory: when the processor goes idle (nothing running, nothing queued) the
 * last worker to finish calls malloc_trim(0), so the memory the jobs' decodes
 * freed goes back to the system instead of staying in glibc's arenas, without
 * making the next job of a busy run fault its pages in again.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "ip_log.h"
#include "proc_consumer_internal.h"
#include "proc_priority.h"

static void release_msg(void *payload)
{
    rd_kafka_message_destroy(payload);
}

/* Caller holds mu. */
static proc_partition *find_part(proc_consumer *c, const char *topic, int32_t p)
{
    for (proc_partition *x = c->parts; x; x = x->next)
        if (x->partition == p && strcmp(x->topic, topic) == 0)
            return x;
    return NULL;
}

/* Jobs of `p` queued (delta > 0) or no longer queued (delta < 0), in the
 * totals. Caller holds mu. */
static void count_queued(proc_consumer *c, const proc_partition *p, int delta)
{
    c->queued += delta;
    if (p->regen)
        c->regen_queued += delta;
    else
        c->main_queued += delta;
}

/* Drops the queued (not started) jobs of `p`; they are not committed, nothing
 * after them is, and they come back to whoever owns the partition next.
 * Caller holds mu. */
static int drop_queued(proc_consumer *c, proc_partition *p)
{
    int n = proc_inflight_drop_queued(&p->win, release_msg);
    count_queued(c, p, -n);
    return n;
}

/* What the priority rule decides from, now. Caller holds mu. */
static proc_priority_state priority_state(const proc_consumer *c)
{
    proc_priority_state s = {.main_lag = c->main_lag,
                             .main_queued = c->main_queued,
                             .main_running = c->main_running,
                             .workers = c->nworkers,
                             .regen_running = c->regen_running,
                             .regen_max = c->regen_max};
    return s;
}

void proc_partitions_assign(proc_consumer *c, const rd_kafka_topic_partition_list_t *parts)
{
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < parts->cnt; i++) {
        const char *topic = parts->elems[i].topic;
        bool regen = c->regen_topic && strcmp(topic, c->regen_topic) == 0;
        if (!regen && strcmp(topic, c->topic) != 0)
            continue; /* not subscribed: its messages are dropped on enqueue */
        if (find_part(c, topic, parts->elems[i].partition))
            continue;
        proc_partition *p = calloc(1, sizeof(*p));
        if (!p)
            continue; /* its messages are dropped on enqueue and redelivered later */
        p->topic = regen ? c->regen_topic : c->topic;
        p->regen = regen;
        p->partition = parts->elems[i].partition;
        p->next = c->parts;
        c->parts = p;
    }
    pthread_mutex_unlock(&c->mu);
}

int proc_partitions_revoke(proc_consumer *c, const rd_kafka_topic_partition_list_t *parts)
{
    pthread_mutex_lock(&c->mu);
    int dropped = 0;
    for (int i = 0; i < parts->cnt; i++) {
        proc_partition *p = find_part(c, parts->elems[i].topic, parts->elems[i].partition);
        if (p) {
            p->revoked = true;
            dropped += drop_queued(c, p);
        }
    }
    pthread_cond_broadcast(&c->wake_cv);
    for (;;) {
        bool running = false;
        for (proc_partition *x = c->parts; x; x = x->next)
            running |= x->revoked && x->win.running > 0;
        if (!running)
            break;
        pthread_cond_wait(&c->idle_cv, &c->mu);
    }
    proc_partition **pp = &c->parts;
    while (*pp) {
        if ((*pp)->revoked) {
            proc_partition *x = *pp;
            *pp = x->next;
            proc_inflight_clear(&x->win, release_msg);
            free(x);
        } else {
            pp = &(*pp)->next;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return dropped;
}

void proc_partitions_enqueue(proc_consumer *c, rd_kafka_message_t *m)
{
    pthread_mutex_lock(&c->mu);
    proc_partition *p = find_part(c, rd_kafka_topic_name(m->rkt), m->partition);
    bool ours = p && !p->revoked && !c->draining;
    if (!ours || !proc_inflight_push(&p->win, m->offset, m->key, m->key ? m->key_len : 0, m)) {
        pthread_mutex_unlock(&c->mu);
        rd_kafka_message_destroy(m);
        return;
    }
    count_queued(c, p, 1);
    if (p->win.count >= PROC_MAX_QUEUED)
        p->full = true; /* paused by the update that follows this poll */
    pthread_cond_signal(&c->work_cv);
    pthread_mutex_unlock(&c->mu);
}

/* The lag of the jobs topic and of the regeneration topic from what
 * librdkafka knows locally (the position, the high watermark of the last
 * fetch), for the partitions in `l` (their offsets are overwritten). */
static void local_lags(proc_consumer *c, rd_kafka_topic_partition_list_t *l, int64_t *main_lag,
                       int64_t *regen_lag)
{
    *main_lag = *regen_lag = 0;
    if (l->cnt == 0 || rd_kafka_position(c->rk, l) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    for (int i = 0; i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &l->elems[i];
        int64_t low = 0, high = -1;
        if (e->err || rd_kafka_get_watermark_offsets(c->rk, e->topic, e->partition, &low, &high))
            continue;
        int64_t lag = proc_priority_lag(high, e->offset);
        if (c->regen_topic && strcmp(e->topic, c->regen_topic) == 0)
            *regen_lag += lag;
        else
            *main_lag += lag;
    }
}

/* Adds (topic, partition) to *l, made at the first. */
static void list_add(rd_kafka_topic_partition_list_t **l, const proc_partition *p)
{
    if (!*l)
        *l = rd_kafka_topic_partition_list_new(4);
    rd_kafka_topic_partition_list_add(*l, p->topic, p->partition);
}

void proc_partitions_update(proc_consumer *c)
{
    rd_kafka_topic_partition_list_t *all = rd_kafka_topic_partition_list_new(8);
    pthread_mutex_lock(&c->mu);
    for (proc_partition *p = c->parts; p; p = p->next)
        if (!p->revoked)
            rd_kafka_topic_partition_list_add(all, p->topic, p->partition);
    pthread_mutex_unlock(&c->mu);
    int64_t main_lag, regen_lag;
    local_lags(c, all, &main_lag, &regen_lag);
    rd_kafka_topic_partition_list_destroy(all);

    rd_kafka_topic_partition_list_t *pause = NULL, *resume = NULL;
    pthread_mutex_lock(&c->mu);
    c->main_lag = main_lag;
    proc_priority_state ps = priority_state(c);
    bool hold = c->regen_topic && proc_priority_hold_regen(&ps);
    bool released = c->regen_held && !hold;
    c->regen_held = hold;
    for (proc_partition *p = c->parts; p; p = p->next) {
        if (p->revoked)
            continue;
        if (p->full && p->win.count <= PROC_MAX_QUEUED / 2)
            p->full = false;
        bool want = p->full || (p->regen && hold);
        if (want != p->paused)
            list_add(want ? &pause : &resume, p);
        p->paused = want;
    }
    int64_t waiting = regen_lag + c->regen_queued;
    if (released)
        pthread_cond_broadcast(&c->work_cv);
    pthread_mutex_unlock(&c->mu);

    if (pause) {
        rd_kafka_pause_partitions(c->rk, pause);
        rd_kafka_topic_partition_list_destroy(pause);
    }
    if (resume) {
        rd_kafka_resume_partitions(c->rk, resume);
        rd_kafka_topic_partition_list_destroy(resume);
    }
    ip_metric_set(c->m_regen_waiting, NULL, (double)waiting);
    ip_metric_set(c->m_regen_paused, NULL, hold ? 1 : 0);
}

/* The next job of the jobs topic (regen false) or of the regeneration topic
 * that may start, now running, and its partition in *out; partitions
 * round-robin from `start`. Caller holds mu. */
static proc_inflight_job *pick_in(proc_consumer *c, bool regen, unsigned start, int n,
                                  proc_partition **out)
{
    proc_partition *x = c->parts;
    for (unsigned i = 0; i < start; i++)
        x = x->next;
    for (int i = 0; i < n; i++) {
        if (x->regen == regen && x->win.queued > 0 && !x->revoked) {
            proc_inflight_job *j = proc_inflight_take(&x->win);
            if (j) {
                count_queued(c, x, -1);
                *out = x;
                return j;
            }
        }
        x = x->next ? x->next : c->parts;
    }
    return NULL;
}

/* The next job that may start: the jobs topic's first, a regeneration only
 * while the jobs topic has nothing waiting. Caller holds mu. */
static proc_inflight_job *pick(proc_consumer *c, proc_partition **out)
{
    if (c->draining || c->queued == 0)
        return NULL;
    int n = 0;
    for (proc_partition *x = c->parts; x; x = x->next)
        n++;
    if (n == 0)
        return NULL;
    unsigned start = c->rr++ % (unsigned)n;
    proc_inflight_job *j = c->main_queued > 0 ? pick_in(c, false, start, n, out) : NULL;
    proc_priority_state ps = priority_state(c);
    if (!j && c->regen_queued > 0 && proc_priority_may_start_regen(&ps))
        j = pick_in(c, true, start, n, out);
    return j;
}

/* Stores `offset` (the next one to consume) for partition `p`. Caller holds
 * mu, and a job of `p` was running until now, so it is still ours (revoke
 * waits for its running jobs under mu). */
static void store_offset(proc_consumer *c, const proc_partition *p, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = offset;
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(c->rk, l);
    if (e)
        ip_log(IP_LOG_ERROR, "kafka.offset_store_failed", IP_LI("partition", p->partition),
               IP_LI("offset", offset), IP_LS("err", rd_kafka_err2str(e)));
    rd_kafka_topic_partition_list_destroy(l);
}

static void *worker_main(void *arg)
{
    proc_consumer *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        proc_partition *p = NULL;
        proc_inflight_job *j = NULL;
        while (!c->stopping && !(j = pick(c, &p)))
            pthread_cond_wait(&c->work_cv, &c->mu);
        if (c->stopping)
            break;
        c->in_flight++;
        if (p->regen)
            c->regen_running++;
        else
            c->main_running++;
        ip_metric_set(c->m_in_flight, NULL, c->in_flight);
        ip_metric_set(c->m_regen_running, NULL, c->regen_running);
        if (c->vips_threads > 0)
            vips_concurrency_set(c->vips_threads / c->in_flight > 1 ? c->vips_threads / c->in_flight
                                                                    : 1);
        pthread_mutex_unlock(&c->mu);

        bool store = proc_retry_run(c, p, j->payload);

        pthread_mutex_lock(&c->mu);
        proc_inflight_end(&p->win, j, store);
        if (store) {
            int64_t next = proc_inflight_pop_finished(&p->win, release_msg);
            if (next >= 0)
                store_offset(c, p, next);
        } else {
            drop_queued(c, p); /* abandoned: nothing after it in this partition may be stored */
        }
        c->in_flight--;
        if (p->regen) {
            c->regen_running--;
            if (store)
                ip_metric_add(c->m_regen_done, NULL, 1);
        } else {
            c->main_running--;
        }
        ip_metric_set(c->m_in_flight, NULL, c->in_flight);
        ip_metric_set(c->m_regen_running, NULL, c->regen_running);
        pthread_cond_broadcast(&c->idle_cv);
        pthread_cond_broadcast(&c->work_cv);
        if (c->in_flight == 0 && c->queued == 0) {
            /* Idle: give the jobs' freed memory back to the system; glibc
             * otherwise keeps the freed libvips buffers in its arenas. */
            pthread_mutex_unlock(&c->mu);
            malloc_trim(0);
            pthread_mutex_lock(&c->mu);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

ip_status proc_workers_start(proc_consumer *c)
{
    c->threads = calloc((size_t)c->nworkers, sizeof(pthread_t));
    if (!c->threads)
        return IP_RESOURCE_EXHAUSTED;
    for (int i = 0; i < c->nworkers; i++) {
        if (pthread_create(&c->threads[i], NULL, worker_main, c) != 0)
            break;
        c->nthreads++;
    }
    return c->nthreads > 0 ? IP_OK : IP_RESOURCE_EXHAUSTED;
}

void proc_workers_drain(proc_consumer *c)
{
    pthread_mutex_lock(&c->mu);
    c->draining = true;
    for (proc_partition *p = c->parts; p; p = p->next)
        drop_queued(c, p);
    pthread_cond_broadcast(&c->wake_cv);
    while (c->in_flight > 0)
        pthread_cond_wait(&c->idle_cv, &c->mu);
    c->stopping = true;
    pthread_cond_broadcast(&c->work_cv);
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < c->nthreads; i++)
        pthread_join(c->threads[i], NULL);
    c->nthreads = 0;
}

void proc_partitions_free(proc_consumer *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->parts) {
        proc_partition *p = c->parts;
        c->parts = p->next;
        proc_inflight_clear(&p->win, release_msg);
        free(p);
    }
    c->queued = c->main_queued = c->regen_queued = 0;
    pthread_mutex_unlock(&c->mu);
}
