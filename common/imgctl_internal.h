/* imgctl_internal.h — what the files of imgctl share.
 *
 *   imgctl.c          options, configuration, help, the generic RPC commands, main
 *   imgctl_kafka.c    Kafka: a topic read to its current end without a group;
 *                     one message produced and acknowledged
 *   imgctl_dlq.c      `dlq list|show|replay`: the dead-letter topic as JSON, replays
 *   imgctl_requeue.c  one image back on the queue: RetryImage, the job, MarkEnqueued
 *                     (`retry`, and each image of a replay)
 *   imgctl_keys.c     `keys create|list|revoke`: API keys through metadata-svc
 *
 * imgctl is a command-line tool: results go to stdout, problems to stderr as
 * one sentence each, and the exit status is IMGCTL_EXIT_*.
 */
#ifndef IMGCTL_INTERNAL_H
#define IMGCTL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_rpc.h"
#include "ip_status.h"

enum {
    IMGCTL_EXIT_OK = 0,     /* done (a replay that skipped images is done too) */
    IMGCTL_EXIT_FAILED = 1, /* an RPC, Kafka or an image's state said no */
    IMGCTL_EXIT_USAGE = 2,  /* bad command line or configuration; nothing was done */
};

/* Kafka waits when --timeout is not given, milliseconds: a broker may take
 * seconds to elect a leader after a restart. */
#define IMGCTL_KAFKA_TIMEOUT_MS 30000

/* The configuration (ip_settings.h entries; see imgctl.c's table). */
typedef struct imgctl_config {
    char *metadata_url;
    char *storage_url;
    int64_t timeout_ms;
    int64_t max_msg_bytes;
    char *log_level;
    char *s3_bucket;
    char *kafka_brokers;
    char *kafka_topic;
    char *kafka_dlq_topic;
} imgctl_config;

/* What a Kafka or metadata command runs with: the configuration and the
 * command line's overrides, resolved. All borrowed. */
typedef struct imgctl_env {
    const imgctl_config *cfg;
    const char *metadata_url; /* --url, else IP_METADATA_RPC_URL */
    int rpc_timeout_ms;       /* --timeout, else IP_RPC_TIMEOUT_MS */
    int kafka_timeout_ms;     /* --timeout, else IMGCTL_KAFKA_TIMEOUT_MS */
} imgctl_env;

/* ------------------------------------------------------------ imgctl_kafka.c */

/* One message of a topic. */
typedef struct imgctl_msg {
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* the message's timestamp; -1 when it has none */
    char *key;            /* owned, NUL-terminated; "" when the message has none */
    size_t key_len;       /* the key's bytes (it may hold a NUL) */
    uint8_t *value;       /* owned; NULL when empty */
    size_t len;
} imgctl_msg;

typedef struct imgctl_msgs {
    imgctl_msg *v; /* owned, sorted by partition then offset */
    size_t n;
} imgctl_msgs;

/* Reads every message of `topic` from the beginning of each partition up to
 * that partition's end when the call started, joining no consumer group and
 * committing nothing. Each wait (metadata, watermarks, the read without
 * progress) is bounded by timeout_ms. On IP_OK *out holds the messages (free
 * with imgctl_msgs_fini). Errors, with `err` filled: IP_NOT_FOUND (no such
 * topic), IP_UNAVAILABLE / IP_DEADLINE_EXCEEDED (the brokers did not answer),
 * IP_INVALID_ARGUMENT (the configuration was refused), IP_RESOURCE_EXHAUSTED. */
ip_status imgctl_kafka_read_topic(const char *brokers, const char *topic, int timeout_ms,
                                  imgctl_msgs *out, char *err, size_t errlen);
/* Frees the messages; a zeroed or finished imgctl_msgs is fine. */
void imgctl_msgs_fini(imgctl_msgs *m);

typedef struct imgctl_producer imgctl_producer;

/* An idempotent producer (acks=all) whose message timeout is timeout_ms.
 * IP_INVALID_ARGUMENT when librdkafka refuses the configuration. */
ip_status imgctl_producer_new(const char *brokers, int timeout_ms, imgctl_producer **out, char *err,
                              size_t errlen);
/* Whether the brokers answer and know `topic`: IP_OK, IP_NOT_FOUND, or
 * IP_UNAVAILABLE / IP_DEADLINE_EXCEEDED, with `err` filled. */
ip_status imgctl_producer_check_topic(imgctl_producer *p, const char *topic, char *err,
                                      size_t errlen);
/* Produces key/value (borrowed) to `topic` and waits for the broker's
 * acknowledgement; then *partition and *offset say where it was stored.
 * IP_UNAVAILABLE with `err` when it was not acknowledged in time or refused. */
ip_status imgctl_produce(imgctl_producer *p, const char *topic, const char *key, const void *value,
                         size_t len, int32_t *partition, int64_t *offset, char *err, size_t errlen);
/* Flushes (bounded by the timeout) and frees. NULL does nothing. */
void imgctl_producer_free(imgctl_producer *p);

/* ---------------------------------------------------------- imgctl_requeue.c */

/* The metadata client and the producer that put images back on the queue. */
typedef struct imgctl_requeue {
    const imgctl_env *env;
    ip_rpc_client *meta;
    imgctl_producer *producer; /* made at the first produce */
} imgctl_requeue;

typedef enum imgctl_requeue_result {
    IMGCTL_REQUEUED, /* pending again, its job acknowledged by Kafka */
    IMGCTL_SKIPPED,  /* nothing to do (already pending, processing or ready; deleted) */
    IMGCTL_FAILED,   /* said on stderr */
} imgctl_requeue_result;

/* Makes the metadata client. IP_INVALID_ARGUMENT (said on stderr) when the
 * address is not usable. */
ip_status imgctl_requeue_init(imgctl_requeue *rq, const imgctl_env *env);
void imgctl_requeue_fini(imgctl_requeue *rq);

/* Puts image `id` back on the queue when it is failed: RetryImage, a fresh
 * ProcessJob (attempt 1, requested from the row, enqueued_at now) produced to
 * IP_KAFKA_TOPIC keyed by the id, then MarkEnqueued. Says what happened on
 * stdout (done, skipped) or stderr (failed). With `must_be_failed` (`imgctl
 * retry`) an image that is not failed, or missing, is IMGCTL_FAILED; without
 * it (a replay) IMGCTL_SKIPPED. */
imgctl_requeue_result imgctl_requeue_image(imgctl_requeue *rq, const char *id, bool must_be_failed);

/* ------------------------------------------------------------- imgctl_dlq.c */

/* `dlq list`, `dlq show ID|P:O`, `dlq replay ID|--all` (args after "dlq");
 * returns the exit status. */
int imgctl_cmd_dlq(const imgctl_env *env, char **args, int nargs);

/* (imgctl_requeue.c) `retry ID`; returns the exit status. */
int imgctl_cmd_retry(const imgctl_env *env, const char *id);

/* ------------------------------------------------------------ imgctl_keys.c */

/* `keys create --name NAME --scopes LIST`, `keys list [--all]`, `keys revoke
 * ID|PREFIX` (args after "keys") against env->metadata_url; usage errors
 * (exit 2) before any call. Returns the exit status. */
int imgctl_cmd_keys(const imgctl_env *env, char **args, int nargs);

#endif
