/* gw_sweep.h — the sweep: images whose job was lost go back on the queue,
 * and the ticker threads that run the sweep and the purger in the
 * background. */
#ifndef GW_SWEEP_H
#define GW_SWEEP_H

#include <stdint.h>

#include "gw_app.h"

/* Most images one sweep pass takes. */
#define GW_SWEEP_BATCH 100

/* One pass of the sweep: ListStale (pending and never enqueued past
 * IP_GATEWAY_SWEEP_AGE_MS, pending and enqueued past
 * IP_GATEWAY_SWEEP_ENQUEUED_AGE_MS, processing with an expired lease; each
 * claimed for 2 × IP_GATEWAY_SWEEP_INTERVAL_MS) → produce the job →
 * MarkEnqueued(requeue) for each. *requeued counts the jobs produced. A
 * transient failure ends the pass (the next one retries); any other skips
 * that image. Returns IP_OK, ListStale's status, or the status that ended
 * the pass. */
ip_status gw_sweep_once(gw_app *app, int *requeued);

/* A background thread that calls fn(app) every interval_ms (the first call
 * one interval after the start) until gw_ticker_free. `name` (static) names
 * it in logs. */
typedef void (*gw_tick_fn)(gw_app *app);
ip_status gw_ticker_new(gw_app *app, const char *name, int64_t interval_ms, gw_tick_fn fn,
                        gw_ticker **out);
/* Wakes the thread, waits for a call in progress to return, frees. NULL does
 * nothing. */
void gw_ticker_free(gw_ticker *t);

#endif
