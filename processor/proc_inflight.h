/* proc_inflight.h — the jobs of one partition between fetch and commit, as
 * pure logic: which may start, and which offset may be stored.
 *
 * A partition's window holds its messages in offset order from the first
 * one whose offset is not stored yet: queued (not started), running,
 * finished (outcome recorded) and abandoned ones (given up on revoke or
 * shutdown, or dropped before they started: never stored, and nothing after
 * them starts or is stored; the next owner of the partition gets them
 * again).
 *
 * WHICH MAY START (proc_inflight_take)
 * The first queued job, in offset order, that no earlier job of the window
 * blocks. An earlier job blocks it while it is queued, running or abandoned
 * and either has the same key (the Kafka key is the image id) or one of the
 * two has no key (a job without a key keeps the partition's order). So jobs
 * of different images run at the same time whatever their partition, and
 * two jobs of one image never do: they run one after the other, in offset
 * order. An abandoned job counts as one without a key.
 *
 * WHICH OFFSET MAY BE STORED (proc_inflight_pop_finished)
 * Only past a contiguous prefix of finished jobs: the finished jobs at the
 * front of the window are removed and the answer is the last one's offset
 * + 1. A job that finishes after an earlier unfinished one stays in the
 * window until that one finishes; behind an abandoned job nothing is stored
 * any more.
 *
 * No I/O, no locks (the caller holds its own), no clock; the window borrows
 * each job's key and owns nothing else (`payload` is the caller's).
 */
#ifndef PROC_INFLIGHT_H
#define PROC_INFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum proc_inflight_state {
    PROC_INFLIGHT_QUEUED,
    PROC_INFLIGHT_RUNNING,
    PROC_INFLIGHT_FINISHED,  /* outcome recorded: storable once everything before is */
    PROC_INFLIGHT_ABANDONED, /* given up uncommitted: nothing from here on is stored */
} proc_inflight_state;

typedef struct proc_inflight_job {
    struct proc_inflight_job *next;
    int64_t offset;
    const void *key; /* borrowed for the job's life in the window; NULL: no key */
    size_t key_len;
    proc_inflight_state state;
    void *payload; /* the caller's (the Kafka message) */
} proc_inflight_job;

typedef struct proc_inflight {
    proc_inflight_job *head, *tail;
    int queued;  /* jobs not started */
    int running; /* jobs started, not finished or abandoned */
    int count;   /* every job in the window */
} proc_inflight;

/* Appends a queued job (offsets come in increasing order); NULL when out of
 * memory. A key of length 0 counts as no key. */
proc_inflight_job *proc_inflight_push(proc_inflight *w, int64_t offset, const void *key,
                                      size_t key_len, void *payload);

/* The first job that may start (see above), now RUNNING; NULL when none. */
proc_inflight_job *proc_inflight_take(proc_inflight *w);

/* A running job ends: FINISHED when its outcome is recorded, else
 * ABANDONED. */
void proc_inflight_end(proc_inflight *w, proc_inflight_job *j, bool finished);

/* Removes the finished jobs at the front of the window, handing each one's
 * payload to `release` (may be NULL; never called with a NULL payload), and returns the offset to store (the
 * last removed one's + 1), or -1 when the front is not finished. */
int64_t proc_inflight_pop_finished(proc_inflight *w, void (*release)(void *payload));

/* Abandons the queued jobs (not started) in place, so that nothing after them
 * is ever stored, handing each payload to `release` now (the job keeps
 * payload NULL); returns how many. */
int proc_inflight_drop_queued(proc_inflight *w, void (*release)(void *payload));

/* Removes every job, handing the payloads still held to `release`; none may
 * be running. */
void proc_inflight_clear(proc_inflight *w, void (*release)(void *payload));

#endif
