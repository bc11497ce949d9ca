/* gw_kafka.c — a librdkafka producer used synchronously.
 *
 * HOW IT WORKS. Each produce carries a heap "waiter" as the message opaque;
 * a poll thread serves rd_kafka_poll() and the delivery callback records the
 * outcome in the waiter and signals it. The waiter has two owners (the caller
 * and the callback) and is freed by whichever finishes last, so a caller that
 * gives up on its deadline never leaves the callback writing to freed memory.
 * message.timeout.ms bounds every produce: with the broker down the delivery
 * report arrives with an error after that time and the upload answers 503.
 * linger.ms=0: a job is sent at once (uploads wait for it).
 *
 * A fatal producer error (possible with idempotence) makes every later produce
 * fail; the producer is then replaced under the write lock by a fresh one.
 */
#include "gw_kafka.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_kafka.h"
#include "ip_log.h"
#include "ip_time.h"

struct gw_kafka {
    char *brokers, *topic_name;
    int timeout_ms;
    pthread_rwlock_t lock; /* guards rk/topic replacement */
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    pthread_t poller;
    atomic_bool stop;
    _Atomic int64_t failed_at_ms; /* monotonic ms of the last unacknowledged produce */
};

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool done;
    rd_kafka_resp_err_t err;
} waiter;

static void waiter_unref(waiter *w)
{
    pthread_mutex_lock(&w->mu);
    int left = --w->refs;
    pthread_mutex_unlock(&w->mu);
    if (left == 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    (void)opaque;
    waiter *w = msg->_private;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    w->err = msg->err;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    waiter_unref(w);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    ip_log(level <= 3   ? IP_LOG_ERROR
           : level <= 4 ? IP_LOG_WARN
                        : IP_LOG_DEBUG,
           "kafka.log", IP_LS("facility", fac), IP_LS("msg", buf));
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    ip_log(IP_LOG_WARN, "kafka.error", IP_LS("err", rd_kafka_err2name(err)), IP_LS("msg", reason));
}

static ip_status make_producer(gw_kafka *k, rd_kafka_t **rk_out, rd_kafka_topic_t **t_out)
{
    char err[256];
    char tmo[32];
    snprintf(tmo, sizeof tmo, "%d", k->timeout_ms);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *const kv[][2] = {
        {"bootstrap.servers", k->brokers},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "0"},
        {"message.timeout.ms", tmo},
        {"socket.keepalive.enable", "true"},
        {"reconnect.backoff.max.ms", "1000"},
        {"client.id", "gateway"},
    };
    const char *bad = NULL;
    if (!ip_kafka_conf_set_all(conf, kv, sizeof kv / sizeof kv[0], &bad, err, sizeof err)) {
        ip_log(IP_LOG_ERROR, "kafka.config", IP_LS("key", bad), IP_LS("err", err));
        rd_kafka_conf_destroy(conf);
        return IP_INVALID_ARGUMENT;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        ip_log(IP_LOG_ERROR, "kafka.new_failed", IP_LS("err", err));
        rd_kafka_conf_destroy(conf);
        return IP_INTERNAL;
    }
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, k->topic_name, NULL);
    if (!t) {
        rd_kafka_destroy(rk);
        return IP_INTERNAL;
    }
    *rk_out = rk;
    *t_out = t;
    return IP_OK;
}

static void *poll_main(void *arg)
{
    gw_kafka *k = arg;
    while (!atomic_load(&k->stop)) {
        pthread_rwlock_rdlock(&k->lock);
        rd_kafka_t *rk = k->rk;
        int fatal = rk ? rd_kafka_fatal_error(rk, NULL, 0) : 0;
        if (rk)
            rd_kafka_poll(rk, 100);
        pthread_rwlock_unlock(&k->lock);
        if (fatal) {
            char reason[256];
            pthread_rwlock_wrlock(&k->lock);
            rd_kafka_fatal_error(k->rk, reason, sizeof reason);
            ip_log(IP_LOG_ERROR, "kafka.fatal", IP_LS("msg", reason));
            rd_kafka_t *nrk;
            rd_kafka_topic_t *nt;
            if (make_producer(k, &nrk, &nt) == IP_OK) {
                rd_kafka_topic_destroy(k->topic);
                rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_poll(k->rk, 0);
                rd_kafka_destroy(k->rk);
                k->rk = nrk;
                k->topic = nt;
            }
            pthread_rwlock_unlock(&k->lock);
        }
    }
    return NULL;
}

ip_status gw_kafka_new(const char *brokers, const char *topic, int timeout_ms, gw_kafka **out)
{
    gw_kafka *k = calloc(1, sizeof *k);
    if (!k)
        return IP_RESOURCE_EXHAUSTED;
    k->brokers = strdup(brokers);
    k->topic_name = strdup(topic);
    k->timeout_ms = timeout_ms;
    pthread_rwlock_init(&k->lock, NULL);
    ip_status st = IP_RESOURCE_EXHAUSTED;
    if (!k->brokers || !k->topic_name)
        goto fail;
    if ((st = make_producer(k, &k->rk, &k->topic)) != IP_OK)
        goto fail;
    if (pthread_create(&k->poller, NULL, poll_main, k) != 0) {
        st = IP_INTERNAL;
        goto fail;
    }
    *out = k;
    return IP_OK;
fail:
    if (k->topic)
        rd_kafka_topic_destroy(k->topic);
    if (k->rk)
        rd_kafka_destroy(k->rk);
    pthread_rwlock_destroy(&k->lock);
    free(k->brokers);
    free(k->topic_name);
    free(k);
    return st;
}

void gw_kafka_free(gw_kafka *k)
{
    if (!k)
        return;
    atomic_store(&k->stop, true);
    pthread_join(k->poller, NULL);
    rd_kafka_flush(k->rk, 2000);
    rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(k->rk, 0);
    rd_kafka_topic_destroy(k->topic);
    rd_kafka_destroy(k->rk);
    pthread_rwlock_destroy(&k->lock);
    free(k->brokers);
    free(k->topic_name);
    free(k);
}

ip_status gw_kafka_produce(gw_kafka *k, const char *key, const void *value, size_t len,
                           char *errbuf, size_t errlen)
{
    waiter *w = calloc(1, sizeof *w);
    if (!w)
        return IP_RESOURCE_EXHAUSTED;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->refs = 2;
    pthread_rwlock_rdlock(&k->lock);
    int rc = rd_kafka_produce(k->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)value,
                              len, key, strlen(key), w);
    rd_kafka_resp_err_t perr = rc == 0 ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_last_error();
    pthread_rwlock_unlock(&k->lock);
    if (rc != 0) {
        snprintf(errbuf, errlen, "kafka produce: %s", rd_kafka_err2str(perr));
        w->refs = 1;
        waiter_unref(w);
        return IP_UNAVAILABLE;
    }
    /* The report comes within message.timeout.ms; the extra second covers the
     * poll interval. Past that, give up without touching the waiter again. */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    int64_t ns = dl.tv_nsec + (int64_t)(k->timeout_ms + 2000) * 1000000LL;
    dl.tv_sec += ns / 1000000000LL;
    dl.tv_nsec = ns % 1000000000LL;
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &dl) != 0)
            break;
    bool done = w->done;
    rd_kafka_resp_err_t err = w->err;
    pthread_mutex_unlock(&w->mu);
    waiter_unref(w);
    ip_status st = IP_OK;
    if (!done) {
        snprintf(errbuf, errlen, "kafka: no delivery report in time");
        st = IP_DEADLINE_EXCEEDED;
    } else if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errbuf, errlen, "kafka delivery: %s", rd_kafka_err2str(err));
        st = IP_UNAVAILABLE;
    }
    /* Kafka down or slow: refuse uploads at once for a moment (see the header). */
    atomic_store(&k->failed_at_ms, ip_status_is_transient(st) ? ip_mono_ms() : 0);
    return st;
}

bool gw_kafka_recently_failed(gw_kafka *k)
{
    int64_t at = atomic_load(&k->failed_at_ms);
    return at != 0 && ip_mono_ms() - at < 2000;
}

ip_status gw_kafka_ping(gw_kafka *k, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    pthread_rwlock_rdlock(&k->lock);
    rd_kafka_resp_err_t err = rd_kafka_metadata(k->rk, 0, k->topic, &md, timeout_ms);
    pthread_rwlock_unlock(&k->lock);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return IP_UNAVAILABLE;
    ip_status st = IP_OK;
    if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR || md->broker_cnt < 1)
        st = IP_UNAVAILABLE;
    rd_kafka_metadata_destroy(md);
    return st;
}
