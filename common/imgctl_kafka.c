/* imgctl_kafka.c — imgctl's uses of Kafka: a topic read from its beginning
 * to its current end, messages produced and acknowledged (one, or a batch),
 * and a consumer group's committed offsets.
 *
 * READING WITHOUT A GROUP. Reading the dead-letter topic must disturb no one:
 * it joins no consumer group and commits nothing. librdkafka's assign() wants
 * a group.id (it answers "Local: Unknown group" without one), so the reader
 * uses the per-partition consumer instead:
 *   1. the topic's metadata gives its partitions (none: IP_NOT_FOUND);
 *   2. each partition's low and high watermarks are read
 *      (rd_kafka_query_watermark_offsets) before anything is consumed: the
 *      high one is where this read stops, so jobs dead-lettered meanwhile do
 *      not make it run forever;
 *   3. every non-empty partition starts at OFFSET_BEGINNING on one queue;
 *      a partition is done at the message just before its high watermark or
 *      at its end-of-partition event, whichever comes first (offsets may have
 *      gaps where records were deleted);
 *   4. the messages are sorted by partition and offset.
 * Every wait is bounded by the timeout: the metadata and watermark queries by
 * it, the read by it without progress (a broker that stops answering is an
 * error, never a hang).
 *
 * PRODUCING. An idempotent producer with acks=all and linger.ms=0, as the
 * gateway's: a produce waits for its delivery report, which
 * message.timeout.ms (the timeout) guarantees; the report tells the partition
 * and offset the broker stored the message at. librdkafka's default
 * partitioner is used, as by the gateway and the processor, so one key always
 * lands on one partition. A batch is produced at once and then waited for
 * as a whole (each report still bounded by message.timeout.ms), so a page of
 * a thousand jobs costs about one round trip instead of a thousand.
 *
 * A GROUP'S PROGRESS. A consumer handle with the group's group.id that never
 * subscribes does not join the group: rd_kafka_committed only asks the group
 * coordinator for the offsets the group's members committed.
 * Library logs go through ip_log_rdkafka_cb.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgctl_internal.h"
#include "ip_kafka.h"
#include "ip_log.h"
#include "ip_time.h"

/* IP status of a librdkafka error met while talking to the brokers. */
static ip_status status_of(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return IP_OK;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        return IP_NOT_FOUND;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return IP_DEADLINE_EXCEEDED;
    default:
        return IP_UNAVAILABLE;
    }
}

/* Asks the brokers about `rkt` (of `rk`): its partition count in *nparts.
 * IP_NOT_FOUND when the topic does not exist; err says what went wrong. */
static ip_status topic_partitions(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int timeout_ms,
                                  int *nparts, char *err, size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && (md->topic_cnt != 1 || md->topics[0].err != 0))
        e = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        *nparts = md->topics[0].partition_cnt;
    else
        snprintf(err, errlen, "topic %s: %s", rd_kafka_topic_name(rkt), rd_kafka_err2str(e));
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    return status_of(e);
}

/* ------------------------------------------------------------------ reading */

void imgctl_msgs_fini(imgctl_msgs *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].key);
        free(m->v[i].value);
    }
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

/* One partition of the read: where it ends and whether it is done. */
typedef struct part_state {
    int64_t high; /* the high watermark when the read started */
    bool done;
} part_state;

/* A read in progress. */
typedef struct topic_read {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    rd_kafka_queue_t *queue;
    const char *topic;
    int timeout_ms;
    int nparts;
    part_state *parts; /* nparts */
    bool *started;     /* nparts: consume_start succeeded */
    size_t cap;        /* of out->v */
} topic_read;

static ip_status read_open(topic_read *r, const char *brokers, char *err, size_t errlen)
{
    const char *const kv[][2] = {
        {"bootstrap.servers", brokers},        {"client.id", "imgctl"},
        {"enable.partition.eof", "true"},      {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"}, {"allow.auto.create.topics", "false"},
        {"reconnect.backoff.max.ms", "1000"},
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!ip_kafka_conf_set_all(conf, kv, sizeof kv / sizeof kv[0], NULL, err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return IP_INVALID_ARGUMENT;
    }
    rd_kafka_conf_set_log_cb(conf, ip_log_rdkafka_cb);
    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (r->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return IP_INVALID_ARGUMENT;
    }
    r->rkt = rd_kafka_topic_new(r->rk, r->topic, NULL);
    r->queue = rd_kafka_queue_new(r->rk);
    if (r->rkt == NULL || r->queue == NULL) {
        snprintf(err, errlen, "topic %s: %s", r->topic, rd_kafka_err2str(rd_kafka_last_error()));
        return IP_INVALID_ARGUMENT;
    }
    return IP_OK;
}

/* Steps 1 and 2: the partitions and where each ends. */
static ip_status read_bounds(topic_read *r, char *err, size_t errlen)
{
    ip_status st = topic_partitions(r->rk, r->rkt, r->timeout_ms, &r->nparts, err, errlen);
    if (st != IP_OK)
        return st;
    r->parts = calloc(r->nparts > 0 ? (size_t)r->nparts : 1, sizeof *r->parts);
    r->started = calloc(r->nparts > 0 ? (size_t)r->nparts : 1, sizeof *r->started);
    if (r->parts == NULL || r->started == NULL) {
        snprintf(err, errlen, "out of memory");
        return IP_RESOURCE_EXHAUSTED;
    }
    for (int p = 0; p < r->nparts; p++) {
        int64_t low = 0, high = 0;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(r->rk, r->topic, p, &low, &high, r->timeout_ms);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, errlen, "%s partition %d: watermarks: %s", r->topic, p,
                     rd_kafka_err2str(e));
            return status_of(e);
        }
        r->parts[p].high = high;
        r->parts[p].done = high <= low;
    }
    return IP_OK;
}

/* Appends the message `m` (copied) to out. */
static ip_status keep(topic_read *r, imgctl_msgs *out, const rd_kafka_message_t *m)
{
    if (out->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        imgctl_msg *v = realloc(out->v, cap * sizeof *v);
        if (v == NULL)
            return IP_RESOURCE_EXHAUSTED;
        out->v = v;
        r->cap = cap;
    }
    imgctl_msg *d = &out->v[out->n];
    memset(d, 0, sizeof *d);
    d->partition = m->partition;
    d->offset = m->offset;
    d->timestamp_ms = rd_kafka_message_timestamp(m, NULL);
    d->key = malloc(m->key_len + 1);
    d->value = m->len ? malloc(m->len) : NULL;
    if (d->key == NULL || (m->len && d->value == NULL)) {
        free(d->key);
        free(d->value);
        return IP_RESOURCE_EXHAUSTED;
    }
    if (m->key_len)
        memcpy(d->key, m->key, m->key_len);
    d->key[m->key_len] = '\0';
    d->key_len = m->key_len;
    if (m->len)
        memcpy(d->value, m->payload, m->len);
    d->len = m->len;
    out->n++;
    return IP_OK;
}

/* Step 3: consumes every partition to its end; a wait without progress
 * longer than the timeout is IP_DEADLINE_EXCEEDED. */
static ip_status read_messages(topic_read *r, imgctl_msgs *out, char *err, size_t errlen)
{
    int left = 0;
    for (int p = 0; p < r->nparts; p++) {
        if (r->parts[p].done)
            continue;
        if (rd_kafka_consume_start_queue(r->rkt, p, RD_KAFKA_OFFSET_BEGINNING, r->queue) != 0) {
            snprintf(err, errlen, "%s partition %d: %s", r->topic, p,
                     rd_kafka_err2str(rd_kafka_last_error()));
            return IP_UNAVAILABLE;
        }
        r->started[p] = true;
        left++;
    }
    int64_t quiet_since = ip_mono_ms();
    char last_err[256] = "no answer";
    while (left > 0) {
        if (ip_mono_ms() - quiet_since > r->timeout_ms) {
            snprintf(err, errlen, "%s: %d partition(s) not read to the end in %d ms (%s)", r->topic,
                     left, r->timeout_ms, last_err);
            return IP_DEADLINE_EXCEEDED;
        }
        rd_kafka_message_t *m = rd_kafka_consume_queue(r->queue, 200);
        if (m == NULL)
            continue;
        ip_status st = IP_OK;
        int p = m->partition;
        if (p < 0 || p >= r->nparts || r->parts[p].done) {
            /* another partition's late event, or past the end: not ours */
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            r->parts[p].done = true;
            left--;
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(last_err, sizeof last_err, "%s", rd_kafka_message_errstr(m));
        } else if (m->offset < r->parts[p].high) {
            quiet_since = ip_mono_ms();
            st = keep(r, out, m);
            if (m->offset >= r->parts[p].high - 1) {
                r->parts[p].done = true;
                left--;
            }
        }
        rd_kafka_message_destroy(m);
        if (st != IP_OK) {
            snprintf(err, errlen, "out of memory");
            return st;
        }
    }
    return IP_OK;
}

static void read_close(topic_read *r)
{
    for (int p = 0; r->started != NULL && p < r->nparts; p++)
        if (r->started[p])
            rd_kafka_consume_stop(r->rkt, p);
    if (r->queue != NULL)
        rd_kafka_queue_destroy(r->queue);
    if (r->rkt != NULL)
        rd_kafka_topic_destroy(r->rkt);
    if (r->rk != NULL)
        rd_kafka_destroy(r->rk);
    free(r->parts);
    free(r->started);
}

static int by_position(const void *a, const void *b)
{
    const imgctl_msg *x = a, *y = b;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

ip_status imgctl_kafka_read_topic(const char *brokers, const char *topic, int timeout_ms,
                                  imgctl_msgs *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    topic_read r = {.topic = topic, .timeout_ms = timeout_ms};
    ip_status st = read_open(&r, brokers, err, errlen);
    if (st == IP_OK)
        st = read_bounds(&r, err, errlen);
    if (st == IP_OK)
        st = read_messages(&r, out, err, errlen);
    read_close(&r);
    if (st != IP_OK) {
        imgctl_msgs_fini(out);
        return st;
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, by_position);
    return IP_OK;
}

/* ---------------------------------------------------------------- producing */

struct imgctl_producer {
    rd_kafka_t *rk;
    int timeout_ms;
};

/* The outcome of one produce, filled by the delivery report. */
typedef struct delivery {
    bool done;
    rd_kafka_resp_err_t err;
    int32_t partition;
    int64_t offset;
} delivery;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    delivery *d = m->_private;
    if (d == NULL)
        return;
    d->err = m->err;
    d->partition = m->partition;
    d->offset = m->offset;
    d->done = true;
}

ip_status imgctl_producer_new(const char *brokers, int timeout_ms, imgctl_producer **out, char *err,
                              size_t errlen)
{
    *out = NULL;
    char tmo[32];
    snprintf(tmo, sizeof tmo, "%d", timeout_ms);
    const char *const kv[][2] = {
        {"bootstrap.servers", brokers},
        {"client.id", "imgctl"},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "0"},
        {"message.timeout.ms", tmo},
        {"reconnect.backoff.max.ms", "1000"},
    };
    imgctl_producer *p = calloc(1, sizeof *p);
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return IP_RESOURCE_EXHAUSTED;
    }
    p->timeout_ms = timeout_ms;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!ip_kafka_conf_set_all(conf, kv, sizeof kv / sizeof kv[0], NULL, err, errlen)) {
        rd_kafka_conf_destroy(conf);
        free(p);
        return IP_INVALID_ARGUMENT;
    }
    rd_kafka_conf_set_log_cb(conf, ip_log_rdkafka_cb);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
    if (p->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        free(p);
        return IP_INVALID_ARGUMENT;
    }
    *out = p;
    return IP_OK;
}

ip_status imgctl_producer_check_topic(imgctl_producer *p, const char *topic, char *err,
                                      size_t errlen)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(p->rk, topic, NULL);
    if (rkt == NULL) {
        snprintf(err, errlen, "topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return IP_INVALID_ARGUMENT;
    }
    int nparts = 0;
    ip_status st = topic_partitions(p->rk, rkt, p->timeout_ms, &nparts, err, errlen);
    rd_kafka_topic_destroy(rkt);
    return st;
}

ip_status imgctl_produce(imgctl_producer *p, const char *topic, const char *key, const void *value,
                         size_t len, int32_t *partition, int64_t *offset, char *err, size_t errlen)
{
    delivery d = {.done = false};
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(&d), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "produce to %s: %s", topic, rd_kafka_err2str(e));
        return IP_UNAVAILABLE;
    }
    /* message.timeout.ms bounds the wait: the report always comes. Should it
     * not, the message is purged past a grace period, which reports it. */
    int64_t give_up = ip_mono_ms() + p->timeout_ms + 10000;
    while (!d.done) {
        rd_kafka_poll(p->rk, 100);
        if (!d.done && ip_mono_ms() > give_up) {
            rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            give_up = INT64_MAX;
        }
    }
    if (d.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "%s did not take the job: %s", topic, rd_kafka_err2str(d.err));
        return IP_UNAVAILABLE;
    }
    *partition = d.partition;
    *offset = d.offset;
    return IP_OK;
}

ip_status imgctl_produce_batch(imgctl_producer *p, const char *topic, imgctl_batch_msg *m, size_t n,
                               char *err, size_t errlen)
{
    delivery *d = calloc(n ? n : 1, sizeof *d);
    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return IP_RESOURCE_EXHAUSTED;
    }
    size_t sent = 0;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (; sent < n; sent++) {
        m[sent].acked = false;
        for (;;) {
            e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic),
                                  RD_KAFKA_V_KEY(m[sent].key, strlen(m[sent].key)),
                                  RD_KAFKA_V_VALUE((void *)m[sent].value, m[sent].len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_OPAQUE(&d[sent]), RD_KAFKA_V_END);
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
            rd_kafka_poll(p->rk, 100); /* reports free the queue */
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
    }
    /* Every message produced gets its report (message.timeout.ms). */
    int64_t give_up = ip_mono_ms() + p->timeout_ms + 10000;
    for (size_t i = 0; i < sent; i++) {
        while (!d[i].done) {
            rd_kafka_poll(p->rk, 100);
            if (!d[i].done && ip_mono_ms() > give_up) {
                rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
                give_up = INT64_MAX;
            }
        }
    }
    ip_status st = IP_OK;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "produce to %s: %s", topic, rd_kafka_err2str(e));
        st = IP_UNAVAILABLE;
    }
    for (size_t i = 0; i < sent; i++) {
        m[i].acked = d[i].err == RD_KAFKA_RESP_ERR_NO_ERROR;
        m[i].partition = d[i].partition;
        m[i].offset = d[i].offset;
        if (!m[i].acked && st == IP_OK) {
            snprintf(err, errlen, "%s did not take the job: %s", topic, rd_kafka_err2str(d[i].err));
            st = IP_UNAVAILABLE;
        }
    }
    free(d);
    return st;
}

void imgctl_producer_free(imgctl_producer *p)
{
    if (p == NULL)
        return;
    rd_kafka_flush(p->rk, p->timeout_ms);
    rd_kafka_destroy(p->rk);
    free(p);
}

/* ------------------------------------------------------------ group offsets */

struct imgctl_group_watch {
    rd_kafka_t *rk;
    int timeout_ms;
};

ip_status imgctl_group_watch_new(const char *brokers, const char *group, int timeout_ms,
                                 imgctl_group_watch **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *const kv[][2] = {
        {"bootstrap.servers", brokers},
        {"client.id", "imgctl"},
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"reconnect.backoff.max.ms", "1000"},
    };
    imgctl_group_watch *w = calloc(1, sizeof *w);
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return IP_RESOURCE_EXHAUSTED;
    }
    w->timeout_ms = timeout_ms;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!ip_kafka_conf_set_all(conf, kv, sizeof kv / sizeof kv[0], NULL, err, errlen)) {
        rd_kafka_conf_destroy(conf);
        free(w);
        return IP_INVALID_ARGUMENT;
    }
    rd_kafka_conf_set_log_cb(conf, ip_log_rdkafka_cb);
    w->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (w->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        free(w);
        return IP_INVALID_ARGUMENT;
    }
    *out = w;
    return IP_OK;
}

ip_status imgctl_group_committed(imgctl_group_watch *w, const char *topic, int nparts,
                                 int64_t *committed, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts > 0 ? nparts : 1);
    for (int i = 0; i < nparts; i++)
        rd_kafka_topic_partition_list_add(l, topic, i);
    rd_kafka_resp_err_t e = rd_kafka_committed(w->rk, l, w->timeout_ms);
    for (int i = 0; i < nparts; i++)
        committed[i] = -1;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < l->cnt; i++) {
            const rd_kafka_topic_partition_t *x = &l->elems[i];
            if (x->err == RD_KAFKA_RESP_ERR_NO_ERROR && x->partition >= 0 &&
                x->partition < nparts && x->offset >= 0)
                committed[x->partition] = x->offset;
        }
    } else {
        snprintf(err, errlen, "committed offsets of %s: %s", topic, rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(l);
    return status_of(e);
}

void imgctl_group_watch_free(imgctl_group_watch *w)
{
    if (w == NULL)
        return;
    rd_kafka_destroy(w->rk);
    free(w);
}
