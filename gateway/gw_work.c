/* gw_work.c — the bounded work pool (gw_work.h).
 *
 * One mutex guards a FIFO list of jobs and the counters; `more` wakes a
 * worker when a job is queued or the pool closes, `idle` wakes gw_work_close
 * when the last job has finished. A worker takes the oldest job, runs it
 * without the lock and counts it done; it leaves once the pool is closing and
 * the list is empty, so close drains what was queued before it was called.
 * gw_work_submit refuses beyond queue_max jobs waiting; gw_work_submit_more
 * does not (its callers bound their own number).
 */
#include "gw_work.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct job {
    struct job *next;
    gw_work_fn fn;
    void *arg;
} job;

struct gw_work {
    pthread_mutex_t mu;
    pthread_cond_t more, idle;
    job *head, *tail;
    int cap, count; /* count jobs waiting, at most cap from gw_work_submit */
    int running;
    long rejected;
    bool closing;
    pthread_t *threads;
    int nthreads;
};

static void *worker(void *arg)
{
    gw_work *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->count == 0 && !w->closing)
            pthread_cond_wait(&w->more, &w->mu);
        if (w->count == 0)
            break; /* closing and drained */
        job *j = w->head;
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
        w->count--;
        w->running++;
        pthread_mutex_unlock(&w->mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&w->mu);
        w->running--;
        if (w->count == 0 && w->running == 0)
            pthread_cond_broadcast(&w->idle);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

ip_status gw_work_new(int workers, int queue_max, gw_work **out)
{
    *out = NULL;
    if (workers < 1 || queue_max < 1)
        return IP_INVALID_ARGUMENT;
    gw_work *w = calloc(1, sizeof *w);
    if (!w)
        return IP_RESOURCE_EXHAUSTED;
    w->threads = calloc((size_t)workers, sizeof *w->threads);
    w->cap = queue_max;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->more, NULL);
    pthread_cond_init(&w->idle, NULL);
    if (!w->threads) {
        gw_work_free(w);
        return IP_RESOURCE_EXHAUSTED;
    }
    for (; w->nthreads < workers; w->nthreads++)
        if (pthread_create(&w->threads[w->nthreads], NULL, worker, w) != 0) {
            gw_work_free(w);
            return IP_RESOURCE_EXHAUSTED;
        }
    *out = w;
    return IP_OK;
}

static bool submit(gw_work *w, gw_work_fn fn, void *arg, bool bounded)
{
    job *j = malloc(sizeof *j);
    pthread_mutex_lock(&w->mu);
    bool ok = j && !w->closing && (!bounded || w->count < w->cap);
    if (ok) {
        *j = (job){NULL, fn, arg};
        if (w->tail)
            w->tail->next = j;
        else
            w->head = j;
        w->tail = j;
        w->count++;
        pthread_cond_signal(&w->more);
    } else {
        w->rejected++;
    }
    pthread_mutex_unlock(&w->mu);
    if (!ok)
        free(j);
    return ok;
}

bool gw_work_submit(gw_work *w, gw_work_fn fn, void *arg)
{
    return submit(w, fn, arg, true);
}

bool gw_work_submit_more(gw_work *w, gw_work_fn fn, void *arg)
{
    return submit(w, fn, arg, false);
}

void gw_work_close(gw_work *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->closing = true;
    pthread_cond_broadcast(&w->more);
    while (w->nthreads > 0 && (w->count > 0 || w->running > 0))
        pthread_cond_wait(&w->idle, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void gw_work_free(gw_work *w)
{
    if (!w)
        return;
    gw_work_close(w);
    for (int i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    pthread_cond_destroy(&w->idle);
    pthread_cond_destroy(&w->more);
    pthread_mutex_destroy(&w->mu);
    free(w->threads);
    free(w);
}

static int read_int(gw_work *w, const int *field)
{
    pthread_mutex_lock(&w->mu);
    int v = *field;
    pthread_mutex_unlock(&w->mu);
    return v;
}

int gw_work_queued(gw_work *w)
{
    return read_int(w, &w->count);
}

int gw_work_busy(gw_work *w)
{
    return read_int(w, &w->running);
}

long gw_work_rejected(gw_work *w)
{
    pthread_mutex_lock(&w->mu);
    long v = w->rejected;
    pthread_mutex_unlock(&w->mu);
    return v;
}
