/* imgctl — the internal RPC client for operators and tests.
 *
 *   imgctl [--url URL] [--timeout MS] metadata|storage METHOD ['JSON' | -]
 *   imgctl [--url URL] [--timeout MS] ping metadata|storage
 *   imgctl --help | --config-vars
 *
 * The JSON input is converted to the method's input message through the
 * protobuf-c descriptors (ip_pbjson), sent with ip_rpc, and the reply is
 * printed as JSON on stdout. "-" reads the JSON from stdin; no JSON means {}.
 * On an error the status name and message go to stderr and the exit status is
 * 1 (2 for a usage error). `ping` exits 0 when the service answers: the stack
 * scripts use it as the readiness probe of metadata-svc and storage-svc.
 * Addresses default to IP_METADATA_RPC_URL / IP_STORAGE_RPC_URL.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_config.h"
#include "ip_log.h"
#include "ip_pbjson.h"
#include "ip_rpc.h"
#include "metadata.pb-c.h"
#include "storage.pb-c.h"

typedef struct imgctl_config {
    char *metadata_url;
    char *storage_url;
    int64_t timeout_ms;
    int64_t max_msg_bytes;
    char *log_level;
} imgctl_config;

static const ip_cfg_var config_table[] = {
    {"IP_METADATA_RPC_URL", IP_CFG_STRING, "tcp://127.0.0.1:7101", 0, 0, false,
     offsetof(imgctl_config, metadata_url), "metadata-svc RPC address(es), comma-separated"},
    {"IP_STORAGE_RPC_URL", IP_CFG_STRING, "tcp://127.0.0.1:7201", 0, 0, false,
     offsetof(imgctl_config, storage_url), "storage-svc RPC address(es), comma-separated"},
    {"IP_RPC_TIMEOUT_MS", IP_CFG_INT, "5000", 1, 3600000, false,
     offsetof(imgctl_config, timeout_ms), "deadline of one call, milliseconds"},
    {"IP_RPC_MAX_MSG_BYTES", IP_CFG_INT, "67108864", 1024, 1073741824, false,
     offsetof(imgctl_config, max_msg_bytes), "largest RPC message, bytes"},
    {"IP_LOG_LEVEL", IP_CFG_STRING, "info", 0, 0, false, offsetof(imgctl_config, log_level),
     "debug | info | warn | error"},
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
                 "       imgctl --help | --config-vars\n"
                 "\n"
                 "Calls a method of an internal service with JSON in and JSON out. Field names\n"
                 "are those of the .proto files; enums by name (or number); bytes in base64;\n"
                 "int64 as numbers. '-' reads the JSON from stdin; no JSON means {}.\n"
                 "Exit status: 0 on success, 1 on an RPC error (status and message on stderr),\n"
                 "2 on a usage error.\n"
                 "\n"
                 "Environment (see --config-vars): IP_METADATA_RPC_URL, IP_STORAGE_RPC_URL,\n"
                 "IP_RPC_TIMEOUT_MS, IP_RPC_MAX_MSG_BYTES.\n");
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

int main(int argc, char **argv)
{
    const char *url = NULL;
    long timeout_ms = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--config-vars") == 0) {
            ip_config_print_vars(stdout, config_table, CONFIG_N);
            return 0;
        } else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
            url = argv[++i];
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            char *end;
            timeout_ms = strtol(argv[++i], &end, 10);
            if (*end != '\0' || timeout_ms <= 0 || timeout_ms > 3600000) {
                fprintf(stderr, "imgctl: --timeout takes milliseconds (1..3600000)\n");
                return 2;
            }
        } else {
            fprintf(stderr, "imgctl: unknown option %s (see --help)\n", argv[i]);
            return 2;
        }
    }
    int nargs = argc - i;
    bool ping = nargs >= 1 && strcmp(argv[i], "ping") == 0;
    if ((ping && nargs != 2) || (!ping && (nargs < 2 || nargs > 3))) {
        usage(stderr);
        return 2;
    }
    const service_entry *svc = find_service(argv[i + (ping ? 1 : 0)]);
    if (svc == NULL) {
        fprintf(stderr, "imgctl: unknown service \"%s\" (metadata or storage)\n",
                argv[i + (ping ? 1 : 0)]);
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

    int rc = 1;
    ip_rpc_client *client = NULL;
    ProtobufCMessage *input = NULL, *output = NULL;
    char *text = NULL, *json = NULL;
    char err[1024];
    ip_rpc_client_opts co = {
        .urls = url != NULL                                     ? url
                : svc->desc == &imageproc__metadata__descriptor ? cfg.metadata_url
                                                                : cfg.storage_url,
        .timeout_ms = timeout_ms > 0 ? (int)timeout_ms : (int)cfg.timeout_ms,
        .max_msg_bytes = (size_t)cfg.max_msg_bytes,
    };
    ip_status st = ip_rpc_client_new(svc->desc, &co, &client);
    if (st != IP_OK) {
        fprintf(stderr, "%s: cannot use address %s\n", ip_strerror(st), co.urls);
        rc = 2;
        goto out;
    }

    if (ping) {
        st = ip_rpc_ping(client, co.timeout_ms);
        if (st != IP_OK) {
            fprintf(stderr, "%s: %s at %s does not answer\n", ip_strerror(st), svc->name, co.urls);
            goto out;
        }
        printf("ok\n");
        rc = 0;
        goto out;
    }

    const char *method = argv[i + 1];
    const ProtobufCMethodDescriptor *md =
        protobuf_c_service_descriptor_get_method_by_name(svc->desc, method);
    if (md == NULL) {
        fprintf(stderr, "imgctl: %s has no method %s (see --help)\n", svc->name, method);
        rc = 2;
        goto out;
    }
    size_t jlen;
    if (nargs == 3 && strcmp(argv[i + 2], "-") == 0) {
        json = read_all(stdin, &jlen);
        if (json == NULL) {
            fprintf(stderr, "imgctl: cannot read stdin\n");
            goto out;
        }
    } else {
        json = strdup(nargs == 3 ? argv[i + 2] : "{}");
        if (json == NULL)
            goto out;
        jlen = strlen(json);
    }
    st = ip_pbjson_parse(md->input, json, jlen, &input, err, sizeof err);
    if (st != IP_OK) {
        fprintf(stderr, "%s: input for %s: %s\n", ip_strerror(st), md->input->short_name, err);
        rc = 2;
        goto out;
    }
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
    ip_rpc_client_free(client);
    ip_config_free(config_table, CONFIG_N, &cfg);
    return rc;
}
