/* imgctl — the internal RPC client for operators and tests.
 *
 *   imgctl [--url URL] [--timeout MS] metadata|storage METHOD ['JSON' | -]
 *   imgctl [--url URL] [--timeout MS] ping metadata|storage
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
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_config.h"
#include "ip_keys.h"
#include "ip_log.h"
#include "ip_pbjson.h"
#include "ip_rpc.h"
#include "ip_settings.h"
#include "metadata.pb-c.h"
#include "storage.pb-c.h"

typedef struct imgctl_config {
    char *metadata_url;
    char *storage_url;
    int64_t timeout_ms;
    int64_t max_msg_bytes;
    char *log_level;
    char *s3_bucket;
} imgctl_config;

static const ip_cfg_var config_table[] = {
    IP_SETTING_METADATA_RPC_URL(offsetof(imgctl_config, metadata_url)),
    IP_SETTING_STORAGE_RPC_URL(offsetof(imgctl_config, storage_url)),
    IP_SETTING_RPC_TIMEOUT_MS(offsetof(imgctl_config, timeout_ms)),
    IP_SETTING_RPC_MAX_MSG_BYTES(offsetof(imgctl_config, max_msg_bytes)),
    IP_SETTING_LOG_LEVEL(offsetof(imgctl_config, log_level)),
    IP_SETTING_S3_BUCKET(offsetof(imgctl_config, s3_bucket)),
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
    fprintf(out, "usage: imgctl [--url URL] [--timeout MS] metadata|storage METHOD ['JSON' | -]\n"
                 "       imgctl [--url URL] [--timeout MS] ping metadata|storage\n"
                 "       imgctl bucket-policy [BUCKET]\n"
                 "       imgctl --help | --config-vars\n"
                 "\n"
                 "Calls a method of an internal service with JSON in and JSON out. Field names\n"
                 "are those of the .proto files; enums by name (or number); bytes in base64;\n"
                 "int64 as numbers. '-' reads the JSON from stdin; no JSON means {}.\n"
                 "Exit status: 0 on success, 1 on an RPC error (status and message on stderr),\n"
                 "2 on a usage error.\n"
                 "\n"
                 "bucket-policy prints the bucket's policy as JSON (anyone may read the\n"
                 "variants under v/, nothing else), for BUCKET or else IP_S3_BUCKET.\n"
                 "\n"
                 "Environment (see --config-vars): IP_METADATA_RPC_URL, IP_STORAGE_RPC_URL,\n"
                 "IP_RPC_TIMEOUT_MS, IP_RPC_MAX_MSG_BYTES, IP_S3_BUCKET.\n");
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

int main(int argc, char **argv)
{
    imgctl_args a = {0};
    int rc = parse_options(argc, argv, &a);
    if (rc >= 0)
        return rc;
    const char *cmd = a.nrest >= 1 ? a.rest[0] : "";
    bool policy = strcmp(cmd, "bucket-policy") == 0, ping = strcmp(cmd, "ping") == 0;
    if ((policy && a.nrest > 2) || (ping && a.nrest != 2) ||
        (!policy && !ping && (a.nrest < 2 || a.nrest > 3))) {
        usage(stderr);
        return 2;
    }
    /* A service name is checked before the environment is. */
    const service_entry *svc = NULL;
    if (!policy && (svc = find_service(a.rest[ping ? 1 : 0])) == NULL) {
        fprintf(stderr, "imgctl: unknown service \"%s\" (metadata or storage)\n",
                a.rest[ping ? 1 : 0]);
        return 2;
    }

    imgctl_config cfg = {0};
    char *errors = NULL;
    if (ip_config_load(config_table, CONFIG_N, &cfg, &errors) != IP_OK) {
        fprintf(stderr, "imgctl: configuration:\n%s", errors != NULL ? errors : "");
        free(errors);
        ip_config_free(config_table, CONFIG_N, &cfg);
        return 2;
    }
    ip_log_level level = IP_LOG_WARN;
    ip_log_level_parse(cfg.log_level, &level);
    /* A command-line tool: only warnings and errors of the transport go to stderr. */
    ip_log_init("imgctl", level > IP_LOG_WARN ? level : IP_LOG_WARN);

    rc = policy ? cmd_bucket_policy(&cfg, a.nrest == 2 ? a.rest[1] : NULL)
                : run_rpc(&a, &cfg, svc, ping);
    ip_config_free(config_table, CONFIG_N, &cfg);
    return rc;
}
