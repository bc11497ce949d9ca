/* proc_priority.h — when the low-priority topic may run, as pure logic.
 *
 * A processor reads two topics: the jobs topic (IP_KAFKA_TOPIC: uploads,
 * retries, the sweep) and the regeneration topic (IP_KAFKA_REGEN_TOPIC:
 * imgctl regenerate). A regeneration only uses capacity the jobs topic leaves
 * idle: the regeneration partitions are held (paused in Kafka, and their
 * queued jobs not started) whenever the jobs topic has anything waiting:
 *   - messages of an assigned jobs partition not yet consumed (the
 *     consumer's position is behind the partition's high watermark, as the
 *     last fetch told it);
 *   - jobs fetched and not started (queued in a window);
 *   - as many jobs running as there are workers (none is free for a
 *     regeneration anyway, and the next upload must not find one taken).
 * With none of these the hold is lifted. A regeneration already running is
 * never interrupted. Regenerations also never take more than `regen_max`
 * workers at once (by default all but one), so that a new upload finds a
 * worker free and starts at once instead of waiting for a regeneration to
 * end; it then shares the cores with at most regen_max regenerations.
 *
 * No I/O, no locks, no clock: the caller gathers the figures.
 */
#ifndef PROC_PRIORITY_H
#define PROC_PRIORITY_H

#include <stdbool.h>
#include <stdint.h>

/* What the jobs topic has waiting, seen from one processor. */
typedef struct proc_priority_state {
    int64_t main_lag;  /* messages of the jobs partitions not yet consumed (unknown: 0) */
    int main_queued;   /* jobs-topic jobs fetched, not started */
    int main_running;  /* jobs-topic jobs running */
    int workers;       /* jobs the processor runs at once */
    int regen_running; /* regenerations running */
    int regen_max;     /* regenerations at once at most (<= 0: workers - 1, at least 1) */
} proc_priority_state;

/* True when the regeneration partitions must be held (see above). */
bool proc_priority_hold_regen(const proc_priority_state *s);

/* True when one more regeneration may start now: not held, and fewer than
 * regen_max running. */
bool proc_priority_may_start_regen(const proc_priority_state *s);

/* The regen_max in force for `workers` and a configured `regen_max`. */
int proc_priority_regen_max(int workers, int regen_max);

/* The lag of one partition from the figures librdkafka keeps locally:
 * `high` the high watermark of the last fetch, `position` the offset after
 * the last message handed to the application. 0 when either is unknown
 * (negative: RD_KAFKA_OFFSET_INVALID and friends) or the position is at or
 * past the end. */
int64_t proc_priority_lag(int64_t high, int64_t position);

#endif
