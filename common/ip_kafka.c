/* ip_kafka.c — librdkafka helpers (see ip_kafka.h). */
#include "ip_kafka.h"

bool ip_kafka_conf_set_all(rd_kafka_conf_t *conf, const char *const (*kv)[2], size_t n,
                           const char **bad_key, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, errlen) != RD_KAFKA_CONF_OK) {
            if (bad_key != NULL)
                *bad_key = kv[i][0];
            return false;
        }
    }
    return true;
}
