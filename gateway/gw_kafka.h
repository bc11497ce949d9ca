/* gw_kafka.h — the job producer: idempotent, acks=all, one call per job that
 * returns only when Kafka has acknowledged the message (or refused it). */
#ifndef GW_KAFKA_H
#define GW_KAFKA_H

#include <stdbool.h>
#include <stddef.h>

#include "ip_status.h"

typedef struct gw_kafka gw_kafka;

/* `timeout_ms` bounds a produce (message.timeout.ms). Connects lazily: creating
 * the producer while Kafka is down succeeds. */
ip_status gw_kafka_new(const char *brokers, const char *topic, int timeout_ms, gw_kafka **out);
/* Flushes briefly, then frees. NULL does nothing. */
void gw_kafka_free(gw_kafka *k);

/* Produces `value` (borrowed) with `key` and waits for the delivery report.
 * IP_OK: written to every in-sync replica. IP_UNAVAILABLE (or
 * IP_DEADLINE_EXCEEDED): not acknowledged in time; errbuf says why. */
ip_status gw_kafka_produce(gw_kafka *k, const char *key, const void *value, size_t len,
                           char *errbuf, size_t errlen);

/* True for a short while (2 s) after a produce failed transiently (not
 * acknowledged: ip_status_is_transient), so that uploads during an outage are
 * refused at once, before anything is stored, instead of each waiting out the
 * timeout; then one is let through again. */
bool gw_kafka_recently_failed(gw_kafka *k);

/* IP_OK when a broker answers a metadata request for the topic in time. */
ip_status gw_kafka_ping(gw_kafka *k, int timeout_ms);

#endif
