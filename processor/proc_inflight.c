/* proc_inflight.c — the jobs of one partition between fetch and commit: the
 * rule of which may start and which offset may be stored (proc_inflight.h).
 *
 * The window is a singly linked list in offset order. proc_inflight_take
 * walks it once from the front, comparing each queued job with the
 * unfinished jobs before it (the window is bounded by the consumer's
 * back-pressure, so the quadratic walk stays a few hundred key compares);
 * an unfinished job without a key stops the walk, since it blocks every
 * later job.
 */
#include "proc_inflight.h"

#include <stdlib.h>
#include <string.h>

proc_inflight_job *proc_inflight_push(proc_inflight *w, int64_t offset, const void *key,
                                      size_t key_len, void *payload)
{
    proc_inflight_job *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->offset = offset;
    j->key = key_len > 0 ? key : NULL;
    j->key_len = key_len > 0 ? key_len : 0;
    j->state = PROC_INFLIGHT_QUEUED;
    j->payload = payload;
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    w->queued++;
    w->count++;
    return j;
}

static bool unfinished(const proc_inflight_job *j)
{
    return j->state != PROC_INFLIGHT_FINISHED;
}

static bool same_key(const proc_inflight_job *a, const proc_inflight_job *b)
{
    return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

/* True when an unfinished job before `j` has its key. */
static bool blocked(const proc_inflight *w, const proc_inflight_job *j)
{
    for (const proc_inflight_job *e = w->head; e != j; e = e->next)
        if (unfinished(e) && same_key(e, j))
            return true;
    return false;
}

proc_inflight_job *proc_inflight_take(proc_inflight *w)
{
    bool earlier_unfinished = false;
    for (proc_inflight_job *j = w->head; j; j = j->next) {
        if (j->state == PROC_INFLIGHT_QUEUED && (j->key ? !blocked(w, j) : !earlier_unfinished)) {
            j->state = PROC_INFLIGHT_RUNNING;
            w->queued--;
            w->running++;
            return j;
        }
        if (unfinished(j)) {
            if (!j->key)
                return NULL; /* an unkeyed job keeps everything after it waiting */
            earlier_unfinished = true;
        }
    }
    return NULL;
}

void proc_inflight_end(proc_inflight *w, proc_inflight_job *j, bool finished)
{
    j->state = finished ? PROC_INFLIGHT_FINISHED : PROC_INFLIGHT_ABANDONED;
    if (!finished)
        j->key = NULL, j->key_len = 0; /* blocks every later job, whatever its key */
    w->running--;
}

static void remove_front(proc_inflight *w, void (*release)(void *payload))
{
    proc_inflight_job *j = w->head;
    w->head = j->next;
    if (!w->head)
        w->tail = NULL;
    if (j->state == PROC_INFLIGHT_QUEUED)
        w->queued--;
    w->count--;
    if (release && j->payload)
        release(j->payload);
    free(j);
}

int64_t proc_inflight_pop_finished(proc_inflight *w, void (*release)(void *payload))
{
    int64_t store = -1;
    while (w->head && w->head->state == PROC_INFLIGHT_FINISHED) {
        store = w->head->offset + 1;
        remove_front(w, release);
    }
    return store;
}

int proc_inflight_drop_queued(proc_inflight *w, void (*release)(void *payload))
{
    int n = 0;
    for (proc_inflight_job *j = w->head; j; j = j->next) {
        if (j->state != PROC_INFLIGHT_QUEUED)
            continue;
        j->state = PROC_INFLIGHT_ABANDONED;
        j->key = NULL;
        j->key_len = 0;
        if (release && j->payload)
            release(j->payload);
        j->payload = NULL;
        w->queued--;
        n++;
    }
    return n;
}

void proc_inflight_clear(proc_inflight *w, void (*release)(void *payload))
{
    while (w->head)
        remove_front(w, release);
    w->running = 0;
}
