/* imgctl_internal.h — what the files of imgctl share.
 *
 *   imgctl.c          options, configuration, help, the generic RPC commands, main
 *   imgctl_kafka.c    Kafka: a topic read to its current end without a group;
 *                     one message produced and acknowledged
 *   imgctl_dlq.c      `dlq list|show|replay`: the dead-letter topic as JSON, replays
 *   imgctl_requeue.c  one image back on the queue: RetryImage, the job, MarkEnqueued
 *                     (`retry`, and each image of a replay)
 *   imgctl_keys.c     `keys create|list|revoke`: API keys through metadata-svc
 *   imgctl_webhooks.c `webhooks create|list|delete|deliveries|resend`: webhook
 *                     subscriptions and delivery logs through metadata-svc
 *   imgctl_presets.c  `presets show|set|logo`: the variant presets through metadata-svc
 *                     (and the logo through storage-svc)
 *   imgctl_regen.c    `regenerate`: jobs of ready images on the regeneration topic,
 *                     and the processors' progress on it
 *
 * imgctl is a command-line tool: results go to stdout, problems to stderr as
 * one sentence each, and the exit status is IMGCTL_EXIT_*.
 */
#ifndef IMGCTL_INTERNAL_H
#define IMGCTL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image.pb-c.h"
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
    char *kafka_regen_topic;
} imgctl_config;

/* What a Kafka or metadata command runs with: the configuration and the
 * command line's overrides, resolved. All borrowed. */
typedef struct imgctl_env {
    const imgctl_config *cfg;
    const char *metadata_url; /* --url, else IP_METADATA_RPC_URL */
    int rpc_timeout_ms;       /* --timeout, else IP_RPC_TIMEOUT_MS */
    int kafka_timeout_ms;     /* --timeout, else IMGCTL_KAFKA_TIMEOUT_MS */
} imgctl_env;

/* A client of `svc` at `url` (a comma list) with env's RPC timeout and
 * message bound; NULL, said on stderr, when the address is not usable. */
ip_rpc_client *imgctl_client(const imgctl_env *env, const ProtobufCServiceDescriptor *svc,
                             const char *url);

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
/* One message of a batch: key and value borrowed; where it was stored filled
 * by imgctl_produce_batch. */
typedef struct imgctl_batch_msg {
    const char *key;
    const void *value;
    size_t len;
    bool acked;        /* the broker acknowledged it */
    int32_t partition; /* when acked */
    int64_t offset;
} imgctl_batch_msg;

/* Produces every message of m[0..n) to `topic` at once, then waits for all
 * their delivery reports (each bounded by the producer's timeout). IP_OK
 * when every one was acknowledged; else IP_UNAVAILABLE with `err` naming the
 * first refusal (the acknowledged ones have `acked` set). */
ip_status imgctl_produce_batch(imgctl_producer *p, const char *topic, imgctl_batch_msg *m, size_t n,
                               char *err, size_t errlen);
/* Flushes (bounded by the timeout) and frees. NULL does nothing. */
void imgctl_producer_free(imgctl_producer *p);

typedef struct imgctl_group_watch imgctl_group_watch;

/* A handle that reads the committed offsets of consumer group `group`
 * without joining it. IP_INVALID_ARGUMENT when librdkafka refuses the
 * configuration. */
ip_status imgctl_group_watch_new(const char *brokers, const char *group, int timeout_ms,
                                 imgctl_group_watch **out, char *err, size_t errlen);
/* The group's committed offset of partitions 0..nparts-1 of `topic` into
 * committed[] (-1 where it has none). IP_UNAVAILABLE / IP_DEADLINE_EXCEEDED
 * with `err` when the brokers did not answer. */
ip_status imgctl_group_committed(imgctl_group_watch *w, const char *topic, int nparts,
                                 int64_t *committed, char *err, size_t errlen);
void imgctl_group_watch_free(imgctl_group_watch *w);

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

/* -------------------------------------------------------- imgctl_webhooks.c */

/* `webhooks create URL [--events LIST] [--key KEY-ID] [--own] [--description
 * TEXT]`, `webhooks list [--key KEY-ID]`, `webhooks delete ID`, `webhooks
 * deliveries ID [--limit N]`, `webhooks resend ID DELIVERY-ID` (args after
 * "webhooks") against env->metadata_url; usage errors (exit 2) before any
 * call. Returns the exit status. */
int imgctl_cmd_webhooks(const imgctl_env *env, char **args, int nargs);

/* --------------------------------------------------------- imgctl_presets.c */

/* The largest logo `presets logo` takes, bytes. */
#define IMGCTL_LOGO_MAX (4u << 20)

/* A preset being changed: a shallow copy of the current one whose strings
 * stay borrowed (from the reply and the command line) and whose watermark,
 * when it has one, is `wm`. Not to be moved once initialised. */
typedef struct imgctl_preset_edit {
    Imageproc__Preset p;
    Imageproc__Watermark wm;
} imgctl_preset_edit;

/* `e` becomes a copy of `cur` (borrowed for e's life). */
void imgctl_preset_edit_init(imgctl_preset_edit *e, const Imageproc__Preset *cur);

/* Applies one "key=value" of `presets set` to `e` (the value borrowed):
 * width, height, fit, jpeg_quality, webp, webp_quality, avif, avif_quality,
 * watermark=none, watermark.text|position|margin|scale|opacity (a watermark
 * key on a preset without one starts from the default watermark). Numbers
 * must parse whole and fit their type's range; the bounds of the whole
 * preset are ip_preset_check's. IP_INVALID_ARGUMENT with `err` naming the
 * key when it is unknown or its value does not parse. Pure. */
ip_status imgctl_preset_apply(imgctl_preset_edit *e, const char *kv, char *err, size_t errlen);

/* `presets [show [--json]]`, `presets set KIND key=value...`, `presets logo
 * FILE|--none [KIND]` (args after "presets"); returns the exit status. */
int imgctl_cmd_presets(const imgctl_env *env, char **args, int nargs);

/* ----------------------------------------------------------- imgctl_regen.c */

/* `regenerate --stale|--all|--id ID... [--wait] [--group NAME]` (args after
 * "regenerate"); returns the exit status. */
int imgctl_cmd_regenerate(const imgctl_env *env, char **args, int nargs);

#endif
