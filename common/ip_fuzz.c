/* ip_fuzz.c — a libFuzzer target for the parsers of outside input in common/:
 * the request envelope as a server serves it (ip_rpc_serve_buffer, with a
 * Storage service whose GetObject echoes), the reply envelope and output as a
 * client reads them, JSON -> protobuf (and back) as imgctl converts it, and
 * the RFC 3339 and UUID parsers. The first byte picks the parser.
 *
 * With clang it is built as `ip_fuzz` (-fsanitize=fuzzer,address,undefined):
 *   <build>/common/ip_fuzz -max_total_time=60
 * Without clang, the same code is built as `ip_fuzz_replay`, a driver that runs
 * the files named on its command line (a corpus, or crashes to reproduce) and
 * then a few thousand pseudo-random inputs derived from built-in seeds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_log.h"
#include "ip_pbjson.h"
#include "ip_rpc_internal.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "metadata.pb-c.h"
#include "rpc.pb-c.h"
#include "storage.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ip_status fz_get(void *user, ip_rpc_call *call, const ProtobufCMessage *in,
                        ProtobufCMessage *out)
{
    const Imageproc__GetObjectRequest *req = (const void *)in;
    Imageproc__GetObjectReply *rep = (void *)out;
    size_t n = strlen(req->key);
    rep->data.data = ip_rpc_call_memdup(call, req->key, n);
    rep->data.len = rep->data.data != NULL ? n : 0;
    if (n > 0 && req->key[0] == 'E') {
        ip_rpc_call_errorf(call, "error for %s", req->key);
        return IP_NOT_FOUND;
    }
    return IP_OK;
}

static void fuzz_serve(const uint8_t *d, size_t n)
{
    static ip_rpc_handler h[4];
    const ProtobufCServiceDescriptor *svc = &imageproc__storage__descriptor;
    h[protobuf_c_service_descriptor_get_method_by_name(svc, "GetObject") - svc->methods] = fz_get;
    size_t rlen;
    uint8_t *r = ip_rpc_serve_buffer(svc, h, NULL, 1 << 20, d, n, &rlen);
    if (r == NULL)
        return;
    /* Whatever came in, the reply is a well-formed envelope. */
    Imageproc__RpcReply *rep = imageproc__rpc_reply__unpack(NULL, rlen, r);
    if (rep == NULL)
        abort();
    imageproc__rpc_reply__free_unpacked(rep, NULL);
    free(r);
}

static void fuzz_reply(const uint8_t *d, size_t n)
{
    Imageproc__RpcReply *rep = imageproc__rpc_reply__unpack(NULL, n, d);
    if (rep == NULL)
        return;
    ProtobufCMessage *out = protobuf_c_message_unpack(&imageproc__list_images_reply__descriptor,
                                                      NULL, rep->output.len, rep->output.data);
    if (out != NULL) {
        char *j = ip_pbjson_format(out, 0);
        free(j);
        protobuf_c_message_free_unpacked(out, NULL);
    }
    imageproc__rpc_reply__free_unpacked(rep, NULL);
}

static void fuzz_json(const uint8_t *d, size_t n)
{
    ProtobufCMessage *m = NULL;
    char err[256];
    if (ip_pbjson_parse(&imageproc__create_image_request__descriptor, (const char *)d, n, &m, err,
                        sizeof err) != IP_OK)
        return;
    /* What parses formats, and the text parses again to the same bytes. */
    char *j = ip_pbjson_format(m, 0);
    if (j == NULL)
        abort();
    ProtobufCMessage *m2 = NULL;
    if (ip_pbjson_parse(&imageproc__create_image_request__descriptor, j, strlen(j), &m2, err,
                        sizeof err) != IP_OK)
        abort();
    size_t a = protobuf_c_message_get_packed_size(m), b = protobuf_c_message_get_packed_size(m2);
    if (a != b)
        abort();
    free(j);
    protobuf_c_message_free_unpacked(m2, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void fuzz_text(const uint8_t *d, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        return;
    memcpy(s, d, n);
    s[n] = '\0';
    int64_t us;
    if (ip_time_parse(s, &us) == IP_OK) {
        char out[IP_RFC3339_LEN + 1];
        int64_t back;
        ip_time_format(us, out);
        if (ip_time_parse(out, &back) != IP_OK || back != us)
            abort();
    }
    ip_uuid u;
    if (ip_uuid_parse(s, &u)) {
        char out[IP_UUID_STRLEN + 1];
        ip_uuid_format(&u, out);
        if (strcasecmp(out, s) != 0)
            abort();
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        ip_log_init("ip_fuzz", IP_LOG_ERROR);
        init = 1;
    }
    if (size == 0)
        return 0;
    switch (data[0] % 4) {
    case 0:
        fuzz_serve(data + 1, size - 1);
        break;
    case 1:
        fuzz_reply(data + 1, size - 1);
        break;
    case 2:
        fuzz_json(data + 1, size - 1);
        break;
    default:
        fuzz_text(data + 1, size - 1);
        break;
    }
    return 0;
}

#ifndef IP_FUZZ_LIBFUZZER
/* The replay driver for compilers without libFuzzer. */
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            perror(argv[i]);
            return 2;
        }
        uint8_t buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    if (argc > 1)
        return 0;
    /* Seeds: a valid request envelope, a reply, JSON, a time and a UUID. */
    uint8_t seeds[5][256];
    size_t lens[5];
    Imageproc__GetObjectRequest g = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
    g.key = "o/0192d4e8";
    uint8_t in[64];
    size_t ilen = imageproc__get_object_request__pack(&g, in);
    Imageproc__RpcRequest rq = IMAGEPROC__RPC_REQUEST__INIT;
    rq.method = "GetObject";
    rq.input.data = in;
    rq.input.len = ilen;
    rq.request_id = "r";
    seeds[0][0] = 0;
    lens[0] = 1 + imageproc__rpc_request__pack(&rq, seeds[0] + 1);
    Imageproc__RpcReply rp = IMAGEPROC__RPC_REPLY__INIT;
    rp.output.data = in;
    rp.output.len = ilen;
    seeds[1][0] = 1;
    lens[1] = 1 + imageproc__rpc_reply__pack(&rp, seeds[1] + 1);
    const char *texts[3] = {
        "\x02{\"image\":{\"id\":\"a\",\"ops\":[\"x\"],\"status\":\"IMAGE_READY\","
        "\"variants\":[{\"name\":\"t\",\"width\":3}]}}",
        "\x03"
        "2026-11-29T00:22:40.123456+01:00",
        "\x03"
        "0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f"};
    for (int i = 0; i < 3; i++) {
        lens[2 + i] = strlen(texts[i]);
        memcpy(seeds[2 + i], texts[i], lens[2 + i]);
    }
    unsigned seed = 1;
    for (int round = 0; round < 20000; round++) {
        int k = round % 5;
        uint8_t buf[256];
        size_t n = lens[k];
        memcpy(buf, seeds[k], n);
        int edits = 1 + rand_r(&seed) % 4;
        for (int e = 0; e < edits; e++) {
            int op = rand_r(&seed) % 3;
            size_t pos = n > 1 ? 1 + (size_t)rand_r(&seed) % (n - 1) : 0;
            if (op == 0 && n > 1)
                buf[pos] = (uint8_t)rand_r(&seed);
            else if (op == 1 && n > 1)
                n = pos; /* truncate */
            else if (n < sizeof buf)
                buf[n++] = (uint8_t)rand_r(&seed);
        }
        LLVMFuzzerTestOneInput(buf, n);
    }
    fprintf(stderr, "ip_fuzz_replay: 20000 inputs, no crash\n");
    return 0;
}
#endif
