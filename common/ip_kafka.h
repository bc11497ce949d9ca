/* ip_kafka.h — librdkafka helpers shared by the parts that talk to Kafka
 * (the gateway's producer, the processor's consumer and DLQ producer, imgctl).
 *
 * Kept out of ip_common (its own small library, ip_kafka) so that only
 * programs that already link librdkafka link it.
 */
#ifndef IP_KAFKA_H
#define IP_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

/* Sets the `n` key/value pairs of kv[] on `conf`, in order. False on the first
 * one librdkafka refuses: its reason in err[0..errlen) and, when bad_key is
 * not NULL, that key in *bad_key (borrowed from kv). */
bool ip_kafka_conf_set_all(rd_kafka_conf_t *conf, const char *const (*kv)[2], size_t n,
                           const char **bad_key, char *err, size_t errlen);

#endif
