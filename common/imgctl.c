/* imgctl — the operator's tool: internal RPC calls, the dead-letter topic,
 * retries, API keys, webhook subscriptions, presets and regenerations.
 *
 *   imgctl [--url URL] [--timeout MS] metadata|storage METHOD ['JSON' | -]
 *   imgctl [--url URL] [--timeout MS] ping metadata|storage
 *   imgctl [--url URL] [--timeout MS] dlq list | show ID|P:O | replay ID|--all
 *   imgctl [--url URL] [--timeout MS] retry ID
 *   imgctl [--url URL] [--timeout MS] keys create|list|revoke ...
 *   imgctl [--url URL] [--timeout MS] webhooks create|list|delete|deliveries|resend ...
 *   imgctl [--url URL] [--timeout MS] presets [show|set|logo ...]
 *   imgctl [--url URL] [--timeout MS] regenerate --stale|--all|--id ID... [--wait]
 *   imgctl bucket-policy [BUCKET]
 *   imgctl --help | --config-vars
 *
 * The JSON input is converted to the method's input message through the
 * protobuf-c descriptors (ip_pbjson), sent with ip_rpc, and the reply is
 * printed as JSON on stdout. "-" reads the JSON from stdin; no JSON means {}.
 * On an error the status name and message go to stderr and the exit status is
 * 1 (2 for a usage error). `ping` exits 0 when the service answers: the stack
 * scripts use it as the readiness probe of metadata-svc and storage-svc.
 * Addresses default to IP_METADATA_RPC_URL / IP_STORAGE_RPC_URL.
 * `bucket-policy` prints the bucket policy of ip_keys.h (for BUCKET, default
 * IP_S3_BUCKET) so that scripts apply the one definition instead of a copy.
 * `dlq` reads the dead-letter topic and replays its jobs (imgctl_dlq.c);
 * `retry` puts one failed image back on the queue (imgctl_requeue.c); `keys`
 * makes, lists and revokes API keys (imgctl_keys.c); `webhooks` manages
 * webhook subscriptions and their delivery logs (imgctl_webhooks.c); `presets` shows and
 * changes the variant presets (imgctl_presets.c); `regenerate` queues ready
 * images on the regeneration topic and follows the processors
 * (imgctl_regen.c). This file holds the options, the configuration, the help
 * and the RPC commands.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgctl_internal.h"
#include "ip_config.h"
#include "ip_keys.h"
#include "ip_log.h"
#include "ip_pbjson.h"
#include "ip_rpc.h"
#include "ip_settings.h"
#include "metadata.pb-c.h"
#include "storage.pb-c.h"

static const ip_cfg_var config_table[] = {
    IP_SETTING_METADATA_RPC_URL(offsetof(imgctl_config, metadata_url)),
    IP_SETTING_STORAGE_RPC_URL(offsetof(imgctl_config, storage_url)),
    IP_SETTING_RPC_TIMEOUT_MS(offsetof(imgctl_config, timeout_ms)),
    IP_SETTING_RPC_MAX_MSG_BYTES(offsetof(imgctl_config, max_msg_bytes)),
    IP_SETTING_LOG_LEVEL(offsetof(imgctl_config, log_level)),
    IP_SETTING_S3_BUCKET(offsetof(imgctl_config, s3_bucket)),
    IP_SETTING_KAFKA_BROKERS(offsetof(imgctl_config, kafka_brokers)),
    IP_SETTING_KAFKA_TOPIC(offsetof(imgctl_config, kafka_topic)),
    IP_SETTING_KAFKA_DLQ_TOPIC(offsetof(imgctl_config, kafka_dlq_topic)),
    IP_SETTING_KAFKA_REGEN_TOPIC(offsetof(imgctl_config, kafka_regen_topic)),
};
#define CONFIG_N (sizeof config_table / sizeof config_table[0])

typedef struct service_entry {
    const char *name;
    const ProtobufCServiceDescriptor *desc;
} service_entry;

static const service_entry services[] = {
    {"metadata", &imageproc__metadata__descriptor},
    {"storage", &imageproc__storage__descriptor},
};

static const service_entry *find_service(const char *name)
{
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
        if (strcmp(services[i].name, name) == 0)
            return &services[i];
    return NULL;
}

static const char *type_name(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
        return "int32";
    case PROTOBUF_C_TYPE_SINT32:
        return "sint32";
    case PROTOBUF_C_TYPE_SFIXED32:
        return "sfixed32";
    case PROTOBUF_C_TYPE_INT64:
        return "int64";
    case PROTOBUF_C_TYPE_SINT64:
        return "sint64";
    case PROTOBUF_C_TYPE_SFIXED64:
        return "sfixed64";
    case PROTOBUF_C_TYPE_UINT32:
        return "uint32";
    case PROTOBUF_C_TYPE_FIXED32:
        return "fixed32";
    case PROTOBUF_C_TYPE_UINT64:
        return "uint64";
    case PROTOBUF_C_TYPE_FIXED64:
        return "fixed64";
    case PROTOBUF_C_TYPE_FLOAT:
        return "float";
    case PROTOBUF_C_TYPE_DOUBLE:
        return "double";
    case PROTOBUF_C_TYPE_BOOL:
        return "bool";
    case PROTOBUF_C_TYPE_STRING:
        return "string";
    case PROTOBUF_C_TYPE_BYTES:
        return "bytes (base64)";
    case PROTOBUF_C_TYPE_ENUM:
        return ((const ProtobufCEnumDescriptor *)f->descriptor)->short_name;
    case PROTOBUF_C_TYPE_MESSAGE:
        return ((const ProtobufCMessageDescriptor *)f->descriptor)->short_name;
    }
    return "?";
}

static void print_fields(FILE *out, const ProtobufCMessageDescriptor *d, int indent, int depth)
{
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        fprintf(out, "%*s%s: %s%s\n", indent, "", f->name,
                f->label == PROTOBUF_C_LABEL_REPEATED ? "repeated " : "", type_name(f));
        if (f->type == PROTOBUF_C_TYPE_ENUM && depth < 4) {
            const ProtobufCEnumDescriptor *ed = f->descriptor;
            fprintf(out, "%*s  one of:", indent, "");
            for (unsigned k = 0; k < ed->n_values; k++)
                fprintf(out, " %s", ed->values[k].name);
            fputc('\n', out);
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth < 3)
            print_fields(out, f->descriptor, indent + 2, depth + 1);
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: imgctl [--url URL] [--timeout MS] metadata|storage METHOD ['JSON' | -]\n"
            "       imgctl [--url URL] [--timeout MS] ping metadata|storage\n"
            "       imgctl [--url URL] [--timeout MS] dlq list\n"
            "       imgctl [--url URL] [--timeout MS] dlq show IMAGE-ID|PARTITION:OFFSET\n"
            "       imgctl [--url URL] [--timeout MS] dlq replay IMAGE-ID|--all\n"
            "       imgctl [--url URL] [--timeout MS] retry IMAGE-ID\n"
            "       imgctl [--url URL] [--timeout MS] keys create --name NAME --scopes "
            "SCOPE[,SCOPE...]\n"
            "       imgctl [--url URL] [--timeout MS] keys list [--all]\n"
            "       imgctl [--url URL] [--timeout MS] keys revoke KEY-ID|KEY-PREFIX\n"
            "       imgctl [--url URL] [--timeout MS] webhooks create URL [--events "
            "ready,failed,deleted]\n"
            "                 [--key KEY-ID] [--own] [--description TEXT]\n"
            "       imgctl [--url URL] [--timeout MS] webhooks list [--key KEY-ID]\n"
            "       imgctl [--url URL] [--timeout MS] webhooks delete SUBSCRIPTION-ID\n"
            "       imgctl [--url URL] [--timeout MS] webhooks deliveries SUBSCRIPTION-ID "
            "[--limit N]\n"
            "       imgctl [--url URL] [--timeout MS] webhooks resend SUBSCRIPTION-ID "
            "DELIVERY-ID\n"
            "       imgctl [--url URL] [--timeout MS] presets [show [--json]]\n"
            "       imgctl [--url URL] [--timeout MS] presets set KIND key=value ...\n"
            "       imgctl [--url URL] [--timeout MS] presets logo FILE|--none [KIND]\n"
            "       imgctl [--url URL] [--timeout MS] regenerate --stale|--all|--id "
            "IMAGE-ID... [--wait] [--group NAME]\n"
            "       imgctl bucket-policy [BUCKET]\n"
            "       imgctl --help | --config-vars\n"
            "\n"
            "Calls a method of an internal service with JSON in and JSON out. Field names\n"
            "are those of the .proto files; enums by name (or number); bytes in base64;\n"
            "int64 as numbers. '-' reads the JSON from stdin; no JSON means {}.\n"
            "\n"
            "dlq reads the dead-letter topic (IP_KAFKA_DLQ_TOPIC), where processors put\n"
            "the jobs they gave up on (poison only: a transient outage never sends a job\n"
            "there). It joins no consumer group and reads each partition from its\n"
            "beginning to its current end.\n"
            "  dlq list      one JSON line per message: partition, offset, id, attempt,\n"
            "                last_error, enqueued_at, requested, dead_lettered_at\n"
            "  dlq show      the messages of an image, or the one at PARTITION:OFFSET,\n"
            "                as pretty JSON\n"
            "  dlq replay    for the image (or every image in the topic, --all), unless it\n"
            "                is already pending, processing or ready (said, and skipped):\n"
            "                RetryImage, a fresh job (attempt 1) on IP_KAFKA_TOPIC keyed by\n"
            "                the image id and acknowledged by Kafka, then MarkEnqueued\n"
            "  retry         the same for one failed image, without the dead-letter topic;\n"
            "                an image that is not failed is an error\n"
            "--url is metadata-svc's address for dlq replay and retry; --timeout bounds\n"
            "each RPC and each Kafka wait (default IP_RPC_TIMEOUT_MS, and 30000 for Kafka).\n"
            "\n"
            "keys manages the API keys clients send as 'Authorization: Bearer ipk_...'\n"
            "(metadata-svc at --url or IP_METADATA_RPC_URL stores only their SHA-256).\n"
            "Scopes: read, upload, delete, admin (admin allows everything).\n"
            "  keys create   makes a key and prints one JSON line: id, key, prefix, name,\n"
            "                scopes, created_at. The key is shown this once only: keep it.\n"
            "                The first admin key: keys create --name admin --scopes admin\n"
            "  keys list     one JSON line per active key (--all: revoked ones too): id,\n"
            "                prefix, name, scopes, created_at, revoked_at; never the key\n"
            "  keys revoke   revokes the key with that id or prefix (as lists show it) and\n"
            "                prints its line; a revoked key is refused from then on\n"
            "\n"
            "webhooks manages the webhook subscriptions (metadata-svc at --url), the same\n"
            "ones clients make with POST /api/webhooks.\n"
            "  webhooks create      subscribes URL (http or https) to the events (default\n"
            "                       all three) and prints one JSON line: id, url, events,\n"
            "                       images, key_id, description, created_at, secret. The\n"
            "                       secret (whsec_...) is shown this once only. --key: the\n"
            "                       subscription belongs to that API key; --own: only the\n"
            "                       images uploaded with it. Without --key only an admin key\n"
            "                       manages it over the API\n"
            "  webhooks list        one JSON line per subscription (--key: that key's)\n"
            "  webhooks delete      deletes it; its pending deliveries are cancelled\n"
            "  webhooks deliveries  its delivery log, newest first, one JSON line each\n"
            "  webhooks resend      sends a delivery again (same webhook-id and body)\n"
            "\n"
            "presets shows and changes what makes each variant (metadata-svc at --url).\n"
            "  presets show  a table: kind, version, box, fit, JPEG/WebP/AVIF qualities\n"
            "                (off: not stored), the watermark; then the number of stale\n"
            "                variants (made by an older version). --json: GetPresets' reply\n"
            "  presets set   changes keys of KIND (thumbnail, resized, watermarked):\n"
            "                width, height (1..8192), fit=cover|inside, jpeg_quality,\n"
            "                webp_quality, avif_quality (1..100), webp=true|false,\n"
            "                avif=true|false, watermark.text=TEXT, watermark.position=\n"
            "                bottom-right|bottom-left|top-right|top-left|center,\n"
            "                watermark.margin (0..0.25), watermark.scale (0.01..1),\n"
            "                watermark.opacity (0..1), watermark=none. Prints 'KIND: version\n"
            "                N', or 'KIND: unchanged (version N)'. A bad key or value is\n"
            "                named on stderr and nothing changes (exit 2)\n"
            "  presets logo  the watermark of KIND (default watermarked) becomes the PNG\n"
            "                FILE (at most 4 MiB), stored through storage-svc\n"
            "                (IP_STORAGE_RPC_URL) at p/logo/<sha256>.png; --none: the\n"
            "                text again\n"
            "Existing variants keep their bytes until they are regenerated:\n"
            "  regenerate    one job per ready image (--stale: those with a stale variant;\n"
            "                --all: every one; --id: those given) on IP_KAFKA_REGEN_TOPIC,\n"
            "                acknowledged by Kafka; processors take them only while\n"
            "                IP_KAFKA_TOPIC has nothing waiting, and the images stay\n"
            "                served meanwhile. Prints how many were queued; --wait then\n"
            "                prints 'regenerate: D/N done' as the processors' group (--group,\n"
            "                default processor) commits past them, and exits when N are\n"
            "                done\n"
            "\n"
            "Exit status: 0 on success (a replay that skipped images included), 1 on a\n"
            "failure (status and message on stderr), 2 on a usage error.\n"
            "\n"
            "bucket-policy prints the bucket's policy as JSON (anyone may read the\n"
            "variants under v/, nothing else), for BUCKET or else IP_S3_BUCKET.\n"
            "\n"
            "Environment (see --config-vars): IP_METADATA_RPC_URL, IP_STORAGE_RPC_URL,\n"
            "IP_RPC_TIMEOUT_MS, IP_RPC_MAX_MSG_BYTES, IP_S3_BUCKET, IP_KAFKA_BROKERS,\n"
            "IP_KAFKA_TOPIC, IP_KAFKA_DLQ_TOPIC, IP_KAFKA_REGEN_TOPIC.\n");
    for (size_t s = 0; s < sizeof services / sizeof services[0]; s++) {
        const ProtobufCServiceDescriptor *d = services[s].desc;
        fprintf(out, "\n%s (%s) methods:\n", services[s].name, d->name);
        for (unsigned m = 0; m < d->n_methods; m++) {
            const ProtobufCMethodDescriptor *md = &d->methods[m];
            fprintf(out, "  %s  (%s -> %s)\n", md->name, md->input->short_name,
                    md->output->short_name);
            print_fields(out, md->input, 6, 0);
        }
    }
    fprintf(out, "\nExample:\n  imgctl metadata GetImage "
                 "'{\"id\":\"0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f\"}'\n");
}

static char *read_all(FILE *in, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, in);
        n += r;
        if (r == 0)
            break;
    }
    *len = n;
    return buf;
}

/* What the command line asked for. */
typedef struct imgctl_args {
    const char *url; /* --url, or NULL */
    long timeout_ms; /* --timeout, or 0 */
    char **rest;     /* the words after the options */
    int nrest;
} imgctl_args;

/* Reads the options. Returns -1 to go on, or the exit status (after --help,
 * --config-vars or a usage error). */
static int parse_options(int argc, char **argv, imgctl_args *a)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--config-vars") == 0) {
            ip_config_print_vars(stdout, config_table, CONFIG_N);
            return 0;
        } else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
            a->url = argv[++i];
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            char *end;
            a->timeout_ms = strtol(argv[++i], &end, 10);
            if (*end != '\0' || a->timeout_ms <= 0 || a->timeout_ms > 3600000) {
                fprintf(stderr, "imgctl: --timeout takes milliseconds (1..3600000)\n");
                return 2;
            }
        } else {
            fprintf(stderr, "imgctl: unknown option %s (see --help)\n", argv[i]);
            return 2;
        }
    }
    a->rest = argv + i;
    a->nrest = argc - i;
    return -1;
}

/* `bucket-policy [BUCKET]`: the policy of ip_keys.h on stdout. */
static int cmd_bucket_policy(const imgctl_config *cfg, const char *bucket)
{
    char *policy = ip_bucket_policy_json(bucket != NULL ? bucket : cfg->s3_bucket);
    if (policy == NULL) {
        fprintf(stderr, "imgctl: no policy for bucket \"%s\" (not a bucket name)\n",
                bucket != NULL ? bucket : cfg->s3_bucket);
        return 2;
    }
    printf("%s\n", policy);
    free(policy);
    return 0;
}

/* `ping SERVICE`: 0 when the service answers within the timeout. */
static int cmd_ping(ip_rpc_client *client, const service_entry *svc, const ip_rpc_client_opts *co)
{
    ip_status st = ip_rpc_ping(client, co->timeout_ms);
    if (st != IP_OK) {
        fprintf(stderr, "%s: %s at %s does not answer\n", ip_strerror(st), svc->name, co->urls);
        return 1;
    }
    printf("ok\n");
    return 0;
}

/* `SERVICE METHOD [JSON | -]`: one call, JSON in, JSON out. */
static int cmd_call(ip_rpc_client *client, const service_entry *svc, const char *method,
                    const char *json_arg)
{
    int rc = 1;
    ProtobufCMessage *input = NULL, *output = NULL;
    char *text = NULL, *json = NULL;
    char err[1024];
    size_t jlen;
    const ProtobufCMethodDescriptor *md =
        protobuf_c_service_descriptor_get_method_by_name(svc->desc, method);
    if (md == NULL) {
        fprintf(stderr, "imgctl: %s has no method %s (see --help)\n", svc->name, method);
        return 2;
    }
    if (json_arg != NULL && strcmp(json_arg, "-") == 0) {
        json = read_all(stdin, &jlen);
        if (json == NULL) {
            fprintf(stderr, "imgctl: cannot read stdin\n");
            goto out;
        }
    } else {
        json = strdup(json_arg != NULL ? json_arg : "{}");
        if (json == NULL)
            goto out;
        jlen = strlen(json);
    }
    ip_status st = ip_pbjson_parse(md->input, json, jlen, &input, err, sizeof err);
    if (st != IP_OK) {
        fprintf(stderr, "%s: input for %s: %s\n", ip_strerror(st), md->input->short_name, err);
        rc = 2;
        goto out;
    }
    /* The method comes from the command line: the generic call by name. */
    st = ip_rpc_invoke(client, method, input, &output, NULL, err, sizeof err);
    if (st != IP_OK) {
        fprintf(stderr, "%s: %s\n", ip_strerror(st), err);
        goto out;
    }
    text = ip_pbjson_format(output, 1);
    if (text == NULL) {
        fprintf(stderr, "imgctl: cannot format the reply\n");
        goto out;
    }
    printf("%s\n", text);
    rc = 0;
out:
    free(text);
    free(json);
    if (output != NULL)
        protobuf_c_message_free_unpacked(output, NULL);
    if (input != NULL)
        protobuf_c_message_free_unpacked(input, NULL);
    return rc;
}

/* The RPC commands (`ping` and calls): a client for `svc`, then the command. */
static int run_rpc(const imgctl_args *a, const imgctl_config *cfg, const service_entry *svc,
                   bool ping)
{
    ip_rpc_client *client = NULL;
    ip_rpc_client_opts co = {
        .urls = a->url != NULL                                  ? a->url
                : svc->desc == &imageproc__metadata__descriptor ? cfg->metadata_url
                                                                : cfg->storage_url,
        .timeout_ms = a->timeout_ms > 0 ? (int)a->timeout_ms : (int)cfg->timeout_ms,
        .max_msg_bytes = (size_t)cfg->max_msg_bytes,
    };
    ip_status st = ip_rpc_client_new(svc->desc, &co, &client);
    if (st != IP_OK) {
        fprintf(stderr, "%s: cannot use address %s\n", ip_strerror(st), co.urls);
        return 2;
    }
    int rc = ping ? cmd_ping(client, svc, &co)
                  : cmd_call(client, svc, a->rest[1], a->nrest == 3 ? a->rest[2] : NULL);
    ip_rpc_client_free(client);
    return rc;
}

/* The commands, told apart by their first word. */
typedef enum imgctl_cmd {
    CMD_CALL,
    CMD_PING,
    CMD_POLICY,
    CMD_DLQ,
    CMD_RETRY,
    CMD_KEYS,
    CMD_WEBHOOKS,
    CMD_PRESETS,
    CMD_REGEN
} imgctl_cmd;

/* Which command the words ask for; false when their number is wrong for it. */
static bool pick_command(const imgctl_args *a, imgctl_cmd *cmd)
{
    const char *w = a->nrest >= 1 ? a->rest[0] : "";
    if (strcmp(w, "bucket-policy") == 0) {
        *cmd = CMD_POLICY;
        return a->nrest <= 2;
    }
    if (strcmp(w, "ping") == 0) {
        *cmd = CMD_PING;
        return a->nrest == 2;
    }
    if (strcmp(w, "dlq") == 0) {
        *cmd = CMD_DLQ; /* imgctl_cmd_dlq checks the rest */
        return a->nrest >= 2;
    }
    if (strcmp(w, "keys") == 0) {
        *cmd = CMD_KEYS; /* imgctl_cmd_keys checks the rest */
        return a->nrest >= 2;
    }
    if (strcmp(w, "webhooks") == 0) {
        *cmd = CMD_WEBHOOKS; /* imgctl_cmd_webhooks checks the rest */
        return a->nrest >= 2;
    }
    if (strcmp(w, "presets") == 0) {
        *cmd = CMD_PRESETS; /* imgctl_cmd_presets checks the rest */
        return true;
    }
    if (strcmp(w, "regenerate") == 0) {
        *cmd = CMD_REGEN; /* imgctl_cmd_regenerate checks the rest */
        return true;
    }
    if (strcmp(w, "retry") == 0) {
        *cmd = CMD_RETRY;
        return a->nrest == 2;
    }
    *cmd = CMD_CALL;
    return a->nrest >= 2 && a->nrest <= 3;
}

/* `dlq ...`, `retry ID`, `regenerate ...` (Kafka and metadata-svc), `keys ...`
 * and `presets ...` (metadata-svc; storage-svc for a logo). */
static int run_with_env(const imgctl_args *a, const imgctl_config *cfg, imgctl_cmd cmd)
{
    /* One line per image as it is done, even into a pipe: a long replay shows progress. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    imgctl_env env = {
        .cfg = cfg,
        .metadata_url = a->url != NULL ? a->url : cfg->metadata_url,
        .rpc_timeout_ms = a->timeout_ms > 0 ? (int)a->timeout_ms : (int)cfg->timeout_ms,
        .kafka_timeout_ms = a->timeout_ms > 0 ? (int)a->timeout_ms : IMGCTL_KAFKA_TIMEOUT_MS,
    };
    if (cmd == CMD_KEYS)
        return imgctl_cmd_keys(&env, a->rest + 1, a->nrest - 1);
    if (cmd == CMD_WEBHOOKS)
        return imgctl_cmd_webhooks(&env, a->rest + 1, a->nrest - 1);
    if (cmd == CMD_PRESETS)
        return imgctl_cmd_presets(&env, a->rest + 1, a->nrest - 1);
    if (cmd == CMD_REGEN)
        return imgctl_cmd_regenerate(&env, a->rest + 1, a->nrest - 1);
    return cmd == CMD_DLQ ? imgctl_cmd_dlq(&env, a->rest + 1, a->nrest - 1)
                          : imgctl_cmd_retry(&env, a->rest[1]);
}

int main(int argc, char **argv)
{
    imgctl_args a = {0};
    int rc = parse_options(argc, argv, &a);
    if (rc >= 0)
        return rc;
    imgctl_cmd cmd;
    if (!pick_command(&a, &cmd)) {
        usage(stderr);
        return IMGCTL_EXIT_USAGE;
    }
    /* A service name is checked before the environment is. */
    const service_entry *svc = NULL;
    if ((cmd == CMD_CALL || cmd == CMD_PING) &&
        (svc = find_service(a.rest[cmd == CMD_PING ? 1 : 0])) == NULL) {
        fprintf(stderr, "imgctl: unknown service \"%s\" (metadata or storage)\n",
                a.rest[cmd == CMD_PING ? 1 : 0]);
        return IMGCTL_EXIT_USAGE;
    }

    imgctl_config cfg = {0};
    char *errors = NULL;
    if (ip_config_load(config_table, CONFIG_N, &cfg, &errors) != IP_OK) {
        fprintf(stderr, "imgctl: configuration:\n%s", errors != NULL ? errors : "");
        free(errors);
        ip_config_free(config_table, CONFIG_N, &cfg);
        return IMGCTL_EXIT_USAGE;
    }
    ip_log_level level = IP_LOG_WARN;
    ip_log_level_parse(cfg.log_level, &level);
    /* A command-line tool: only warnings and errors of the transport go to stderr. */
    ip_log_init("imgctl", level > IP_LOG_WARN ? level : IP_LOG_WARN);

    switch (cmd) {
    case CMD_POLICY:
        rc = cmd_bucket_policy(&cfg, a.nrest == 2 ? a.rest[1] : NULL);
        break;
    case CMD_DLQ:
    case CMD_RETRY:
    case CMD_KEYS:
    case CMD_WEBHOOKS:
    case CMD_PRESETS:
    case CMD_REGEN:
        rc = run_with_env(&a, &cfg, cmd);
        break;
    default:
        rc = run_rpc(&a, &cfg, svc, cmd == CMD_PING);
    }
    ip_config_free(config_table, CONFIG_N, &cfg);
    return rc;
}
