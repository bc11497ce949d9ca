/* gw_webhook_dispatch.h — the webhook dispatcher: the threads of a gateway
 * that take deliveries from metadata-svc's outbox and send them.
 *
 * Every gateway with IP_WEBHOOK_DISPATCH=true runs IP_WEBHOOK_CONCURRENCY
 * threads. Each claims one due delivery at a time (ClaimDeliveries; the
 * claim keeps other gateways off it for gw_webhook_claim_ms), makes one
 * attempt (gw_webhook_send) and reports it (FinishDelivery: delivered, or
 * due again after gw_webhook_backoff_ms, given up past the horizon). When
 * there is nothing to claim a thread waits IP_WEBHOOK_POLL_MS, or less when
 * gw_webhook_dispatch_wake says a status change may have written deliveries.
 * Which delivery is due, and that the deliveries of one image to one
 * subscription go out in order, is metadata-svc's part (ClaimDeliveries hands
 * out a delivery only when no earlier one of the same subscription and image
 * is still pending, claimed or not).
 */
#ifndef GW_WEBHOOK_DISPATCH_H
#define GW_WEBHOOK_DISPATCH_H

#include <stdint.h>

#include "gw_app.h"

/* Deliveries one claim asks for. */
#define GW_WEBHOOK_CLAIM_BATCH 1

/* Starts the threads (metadata-svc may be down: they wait and retry).
 * IP_RESOURCE_EXHAUSTED when a thread cannot be made (what started is
 * stopped). */
ip_status gw_webhook_dispatch_new(gw_app *app, gw_webhook_dispatch **out);

/* Wakes the idle threads now (a ready, failed or deleted status event came):
 * the outbox row of that change is committed before the event is published.
 * NULL does nothing. Any thread. */
void gw_webhook_dispatch_wake(gw_webhook_dispatch *d);

/* Stops the threads (an attempt under way ends within about a second and is
 * reported as due again at once) and frees. NULL does nothing. */
void gw_webhook_dispatch_free(gw_webhook_dispatch *d);

/* The wait before the next attempt after `attempts` attempts (1 = the first
 * failed): base_ms doubled per attempt after the first, capped at max_ms,
 * then a jitter that keeps it within [d/2, d] from the random `rnd` (so
 * receivers that come back are not hit by every gateway at once). Pure. */
int64_t gw_webhook_backoff_ms(int64_t base_ms, int64_t max_ms, int attempts, uint32_t rnd);

/* The claim a dispatcher takes on a delivery: one attempt's timeout plus
 * 30 s for the claim and the report around it. */
int64_t gw_webhook_claim_ms(const gw_config *cfg);

#endif
