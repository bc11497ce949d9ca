/*
 * infra.kafka.produce_consume — Kafka is real and reachable the way the
 * gateway and the processors use it, with Debian's librdkafka:
 *   1. the admin API makes the topic `infra-test` (3 partitions) if missing,
 *      so the test never writes into the service's own image-jobs topic;
 *   2. an idempotent producer (acks=all) sends one message with a unique key
 *      and waits for its delivery report;
 *   3. a consumer in a fresh consumer group subscribes (the group coordinator
 *      assigns the partitions), reads from the earliest offset until it sees
 *      that key, and commits the offset synchronously.
 * Every wait has a deadline; nothing sleeps in place of a condition.
 */
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <string.h>

#include "infra_env.h"
#include "ip_testing.h"

#define TOPIC "infra-test"

static char errstr[512];

static rd_kafka_conf_t *conf_new(const char *brokers)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    CHECK(conf != NULL);
    CHECKF(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) ==
               RD_KAFKA_CONF_OK,
           "conf: %s", errstr);
    return conf;
}

static void conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    CHECKF(rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) == RD_KAFKA_CONF_OK, "conf %s: %s",
           k, errstr);
}

/* Makes TOPIC unless it exists. */
static void ensure_topic(const char *brokers)
{
    rd_kafka_conf_t *conf = conf_new(brokers);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    CHECKF(rk != NULL, "admin client: %s", errstr);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(TOPIC, 3, 1, errstr, sizeof errstr);
    CHECKF(nt != NULL, "NewTopic: %s", errstr);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    CHECKF(ev != NULL, "CreateTopics: no answer in 30 s");
    CHECKF(rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR, "CreateTopics: %s",
           rd_kafka_event_error_string(ev));
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
        CHECKF(e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS,
               "CreateTopics %s: %s", rd_kafka_topic_result_name(tr[i]), rd_kafka_err2str(e));
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    *(rd_kafka_resp_err_t *)m->_private = m->err;
}

/* Produces key=value to TOPIC and waits for the broker's acknowledgement. */
static void produce(const char *brokers, const char *key, const char *value)
{
    rd_kafka_resp_err_t delivered = RD_KAFKA_RESP_ERR__IN_PROGRESS;
    rd_kafka_conf_t *conf = conf_new(brokers);
    conf_set(conf, "enable.idempotence", "true");
    conf_set(conf, "acks", "all");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    CHECKF(rk != NULL, "producer: %s", errstr);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE((void *)value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(&delivered), RD_KAFKA_V_END);
    CHECKF(err == RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s", rd_kafka_err2str(err));
    int64_t deadline = infra_now_ms() + 30000;
    while (delivered == RD_KAFKA_RESP_ERR__IN_PROGRESS && infra_now_ms() < deadline)
        rd_kafka_poll(rk, 100);
    CHECKF(delivered == RD_KAFKA_RESP_ERR_NO_ERROR, "delivery: %s",
           delivered == RD_KAFKA_RESP_ERR__IN_PROGRESS ? "no report in 30 s"
                                                       : rd_kafka_err2str(delivered));
    rd_kafka_flush(rk, 5000);
    rd_kafka_destroy(rk);
}

/* Reads TOPIC in a fresh group until key=value arrives; commits its offset. */
static void consume(const char *brokers, const char *group, const char *key, const char *value)
{
    rd_kafka_conf_t *conf = conf_new(brokers);
    conf_set(conf, "group.id", group);
    conf_set(conf, "auto.offset.reset", "earliest");
    conf_set(conf, "enable.auto.commit", "false");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    CHECKF(rk != NULL, "consumer: %s", errstr);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, TOPIC, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics);
    CHECKF(err == RD_KAFKA_RESP_ERR_NO_ERROR, "subscribe: %s", rd_kafka_err2str(err));

    int64_t deadline = infra_now_ms() + 60000;
    bool seen = false;
    while (!seen && infra_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->key_len == strlen(key) &&
            memcmp(m->key, key, m->key_len) == 0) {
            EXPECTF(m->len == strlen(value) && memcmp(m->payload, value, m->len) == 0,
                    "value differs for key %s", key);
            err = rd_kafka_commit_message(rk, m, 0);
            EXPECTF(err == RD_KAFKA_RESP_ERR_NO_ERROR, "commit: %s", rd_kafka_err2str(err));
            seen = true;
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR &&
                   m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "consumer: %s\n", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    EXPECTF(seen, "message %s not consumed in 60 s", key);
    rd_kafka_topic_partition_list_destroy(topics);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void test_produce_consume(void)
{
    const char *brokers = infra_env("IP_KAFKA_BROKERS", "127.0.0.1:19092");
    char key[96], group[96], value[160];
    infra_unique(key, sizeof key, "key");
    infra_unique(group, sizeof group, "infra-group");
    snprintf(value, sizeof value, "infra test message for %s", key);
    ensure_topic(brokers);
    produce(brokers, key, value);
    consume(brokers, group, key, value);
    printf("infra.kafka.produce_consume: librdkafka %s\n", rd_kafka_version_str());
}

static const ip_test_case tests[] = {IP_TEST(produce_consume)};
IP_TEST_MAIN(tests)
