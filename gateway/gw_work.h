/* gw_work.h — the bounded work pool: what waits on S3 or Kafka runs here,
 * never on libmicrohttpd's threads.
 *
 * A fixed number of worker threads take jobs from a bounded FIFO queue. A
 * submit that finds the queue full is refused at once (the caller answers 503
 * "busy"), so a slow dependency fills the queue and is then refused, while the
 * HTTP threads keep answering everything else. gw_work_close stops taking
 * jobs and waits until every queued and running job has finished; jobs are
 * bounded by their RPC deadlines, so it ends. Thread-safe.
 */
#ifndef GW_WORK_H
#define GW_WORK_H

#include <stdbool.h>

#include "ip_status.h"

typedef struct gw_work gw_work;

/* One job: fn(arg) on a worker thread. */
typedef void (*gw_work_fn)(void *arg);

/* A pool of `workers` threads (>= 1) and room for `queue_max` waiting jobs
 * (>= 1). Owned (gw_work_free). IP_RESOURCE_EXHAUSTED when a thread or the
 * memory could not be had (nothing is left running then). */
ip_status gw_work_new(int workers, int queue_max, gw_work **out);

/* Queues fn(arg). false when the queue is full or the pool is closing: fn is
 * not called and the caller keeps arg. */
bool gw_work_submit(gw_work *w, gw_work_fn fn, void *arg);
/* The same without the queue's bound (false only when closing or out of
 * memory): for the next step of work already admitted, such as the next
 * chunk of a download in progress, whose number its caller bounds (one per
 * download, downloads bounded by the memory budget). */
bool gw_work_submit_more(gw_work *w, gw_work_fn fn, void *arg);

/* Stops taking jobs and waits until every queued and running job has
 * returned. Idempotent. NULL does nothing. */
void gw_work_close(gw_work *w);
/* gw_work_close, then joins the threads and frees the pool. NULL does nothing. */
void gw_work_free(gw_work *w);

/* Jobs waiting, jobs running, and submits refused since the start. */
int gw_work_queued(gw_work *w);
int gw_work_busy(gw_work *w);
long gw_work_rejected(gw_work *w);

#endif
