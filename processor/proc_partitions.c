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
 * Back-pressure: a partition whose window holds PROC_MAX_QUEUED jobs (queued,
 * running, or finished behind an unfinished one) is paused
 * (rd_kafka_pause_partitions) and resumed when it is down to half; a job
 * message is small, so this only bounds memory against a huge backlog or one
 * job held back for a long time.
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
#include <vips/vips.h>

#include "ip_log.h"
#include "proc_consumer_internal.h"

static void release_msg(void *payload)
{
    rd_kafka_message_destroy(payload);
}

/* Caller holds mu. */
static proc_partition *find_part(proc_consumer *c, int32_t p)
{
    for (proc_partition *x = c->parts; x; x = x->next)
        if (x->partition == p)
            return x;
    return NULL;
}

/* Drops the queued (not started) jobs of `p`; they are not committed, nothing
 * after them is, and they come back to whoever owns the partition next.
 * Caller holds mu. */
static int drop_queued(proc_consumer *c, proc_partition *p)
{
    int n = proc_inflight_drop_queued(&p->win, release_msg);
    c->queued -= n;
    return n;
}

void proc_partitions_assign(proc_consumer *c, const rd_kafka_topic_partition_list_t *parts)
{
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < parts->cnt; i++) {
        if (find_part(c, parts->elems[i].partition))
            continue;
        proc_partition *p = calloc(1, sizeof(*p));
        if (!p)
            continue; /* its messages are dropped on enqueue and redelivered later */
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
        proc_partition *p = find_part(c, parts->elems[i].partition);
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

static void pause_partition(proc_consumer *c, int32_t partition)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, c->topic, partition);
    rd_kafka_pause_partitions(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

void proc_partitions_enqueue(proc_consumer *c, rd_kafka_message_t *m)
{
    pthread_mutex_lock(&c->mu);
    proc_partition *p = find_part(c, m->partition);
    bool ours = p && !p->revoked && !c->draining;
    if (!ours || !proc_inflight_push(&p->win, m->offset, m->key, m->key ? m->key_len : 0, m)) {
        pthread_mutex_unlock(&c->mu);
        rd_kafka_message_destroy(m);
        return;
    }
    c->queued++;
    bool pause = !p->paused && p->win.count >= PROC_MAX_QUEUED;
    if (pause)
        p->paused = true;
    int32_t pn = p->partition;
    pthread_cond_signal(&c->work_cv);
    pthread_mutex_unlock(&c->mu);
    if (pause)
        pause_partition(c, pn);
}

void proc_partitions_resume_drained(proc_consumer *c)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    pthread_mutex_lock(&c->mu);
    for (proc_partition *p = c->parts; p; p = p->next) {
        if (p->paused && !p->revoked && p->win.count <= PROC_MAX_QUEUED / 2) {
            p->paused = false;
            if (!l)
                l = rd_kafka_topic_partition_list_new(4);
            rd_kafka_topic_partition_list_add(l, c->topic, p->partition);
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (l) {
        rd_kafka_resume_partitions(c->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
    }
}

/* The next job that may start, now running, and its partition in *out;
 * partitions round-robin from a moving start. Caller holds mu. */
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
    proc_partition *x = c->parts;
    for (unsigned i = 0; i < start; i++)
        x = x->next;
    for (int i = 0; i < n; i++) {
        if (x->win.queued > 0 && !x->revoked) {
            proc_inflight_job *j = proc_inflight_take(&x->win);
            if (j) {
                c->queued--;
                *out = x;
                return j;
            }
        }
        x = x->next ? x->next : c->parts;
    }
    return NULL;
}

/* Stores `offset` (the next one to consume) for partition `p`. Caller holds
 * mu, and a job of `p` was running until now, so it is still ours (revoke
 * waits for its running jobs under mu). */
static void store_offset(proc_consumer *c, const proc_partition *p, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, c->topic, p->partition)->offset = offset;
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
        ip_metric_set(c->m_in_flight, NULL, c->in_flight);
        if (c->vips_threads > 0)
            vips_concurrency_set(c->vips_threads / c->in_flight > 1
                                     ? c->vips_threads / c->in_flight
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
        ip_metric_set(c->m_in_flight, NULL, c->in_flight);
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
    c->queued = 0;
    pthread_mutex_unlock(&c->mu);
}
