/* ip_rpc_wire.c — the bytes on the wire, and the helpers both ends share.
 *
 * ENVELOPES. A request is an RpcRequest (method, input, request_id,
 * deadline_ms) and a reply an RpcReply (code, message, output, request_id),
 * see proto/rpc.proto. Both are written by hand around the message they
 * carry, so a large input or output is packed once, straight into the nng
 * message, instead of packed, copied into the envelope and packed again. The
 * bytes are those protobuf-c would write (fields in number order, proto3
 * defaults left out); ip_rpc_test checks that byte for byte. Reading stays
 * with protobuf-c, which checks everything a peer may send. A reply whose
 * payload a handler already wrote into the reply message
 * (ip_rpc_call_reply_bytes) is written around it instead: the envelope and
 * the output's other fields packed before and after the payload, which is
 * never copied.
 *
 * CLOSING. nng 1.5.2 can deadlock in nng_close when a socket closes with
 * traffic in flight (nng issue #1543: its reaper waits for a task that was
 * prepared but never started), and once that happens the other teardown calls
 * that wait on nng's reaper or task threads (freeing an aio, closing a
 * context) can block as well. A service must still shut down, so every
 * socket's whole teardown runs through ip_rpc_run_bounded: a helper thread
 * does it and the caller waits at most IP_RPC_CLOSE_WAIT_MS; if it has not
 * returned by then, it is left to finish (or not) in that detached thread,
 * what it touches is leaked and the event is logged with what was closing.
 *
 * SHARED. The transport's metrics are registered together on first use
 * (ip_rpc_metrics_get), so a process that only calls lists the server
 * families too, as one that serves does; wire codes map to ip_status here.
 */
#include "ip_rpc_internal.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ip_log.h"
#include "ip_metrics.h"
#include "ip_pbview.h"

static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;
static ip_rpc_metrics metrics;

static void metrics_register(void)
{
    static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,    0.25,  0.5,    1,     2.5,  5,     10};
    metrics.server_calls =
        ip_metric_counter("ip_rpc_server_calls_total", "RPC calls served.", "service,method,code");
    metrics.server_seconds =
        ip_metric_histogram("ip_rpc_server_seconds", "Time to serve an RPC call, seconds.",
                            "service,method", buckets, sizeof buckets / sizeof buckets[0]);
    metrics.client_calls =
        ip_metric_counter("ip_rpc_client_calls_total", "RPC calls made.", "service,method,code");
}

const ip_rpc_metrics *ip_rpc_metrics_get(void)
{
    pthread_once(&metrics_once, metrics_register);
    return &metrics;
}

ip_status ip_rpc_status_from_code(int code)
{
    return code >= 0 && code < IP_STATUS_COUNT ? (ip_status)code : IP_INTERNAL;
}

/* ================================================================ envelopes */

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Size of a length-delimited field (tag < 128) holding n bytes; 0 when empty. */
static size_t len_field_size(size_t n)
{
    return n == 0 ? 0 : 1 + varint_len(n) + n;
}

static uint8_t *put_len_field(uint8_t *p, uint8_t tag, const void *data, size_t n)
{
    if (n == 0)
        return p;
    *p++ = tag;
    p = put_varint(p, n);
    if (data != NULL)
        memcpy(p, data, n);
    return p + n;
}

size_t ip_rpc_request_size(const char *method, size_t input_len, const char *request_id,
                           int64_t deadline_ms)
{
    return len_field_size(strlen(method)) + len_field_size(input_len) +
           len_field_size(strlen(request_id)) +
           (deadline_ms != 0 ? 1 + varint_len((uint64_t)deadline_ms) : 0);
}

void ip_rpc_write_request(uint8_t *p, const char *method, const ProtobufCMessage *input,
                          size_t input_len, const char *request_id, int64_t deadline_ms)
{
    p = put_len_field(p, 0x0a, method, strlen(method)); /* 1: method */
    if (input_len > 0) {                                /* 2: input, packed in place */
        *p++ = 0x12;
        p = put_varint(p, input_len);
        p += protobuf_c_message_pack(input, p);
    }
    p = put_len_field(p, 0x1a, request_id, strlen(request_id)); /* 3: request_id */
    if (deadline_ms != 0) {                                     /* 4: deadline_ms */
        *p++ = 0x20;
        p = put_varint(p, (uint64_t)deadline_ms);
    }
}

uint8_t *ip_rpc_pack_request(const char *method, const ProtobufCMessage *input,
                             const char *request_id, int64_t deadline_ms, size_t *len)
{
    size_t il = input != NULL ? protobuf_c_message_get_packed_size(input) : 0;
    size_t n = ip_rpc_request_size(method, il, request_id, deadline_ms);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL)
        return NULL;
    ip_rpc_write_request(buf, method, input, il, request_id, deadline_ms);
    *len = n;
    return buf;
}

uint8_t *ip_rpc_pack_reply(int code, const char *message, const ProtobufCMessage *output,
                           const char *request_id, size_t *len)
{
    size_t ol = output != NULL ? protobuf_c_message_get_packed_size(output) : 0;
    size_t n = ip_rpc_reply_size(code, message, ol, request_id);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL)
        return NULL;
    ip_rpc_write_reply(buf, code, message, output, ol, request_id);
    *len = n;
    return buf;
}

size_t ip_rpc_reply_size(int code, const char *message, size_t output_len, const char *request_id)
{
    return (code != 0 ? 1 + varint_len((uint64_t)(int64_t)code) : 0) +
           len_field_size(strlen(message)) + len_field_size(output_len) +
           len_field_size(strlen(request_id));
}

void ip_rpc_write_reply(uint8_t *p, int code, const char *message, const ProtobufCMessage *output,
                        size_t output_len, const char *request_id)
{
    if (code != 0) { /* 1: code (an enum: negative values sign-extended, as protobuf-c does) */
        *p++ = 0x08;
        p = put_varint(p, (uint64_t)(int64_t)code);
    }
    p = put_len_field(p, 0x12, message, strlen(message)); /* 2: message */
    if (output_len > 0) {                                 /* 3: output, packed in place */
        *p++ = 0x1a;
        p = put_varint(p, output_len);
        p += protobuf_c_message_pack(output, p);
    }
    put_len_field(p, 0x22, request_id, strlen(request_id)); /* 4: request_id */
}

bool ip_rpc_write_reply_around(nng_msg *m, size_t head_room, const char *message,
                               ProtobufCMessage *output, const ProtobufCFieldDescriptor *fd,
                               const char *request_id)
{
    /* The output's other fields, packed with the payload's field left out. */
    ProtobufCBinaryData *bd = (ProtobufCBinaryData *)((char *)output + fd->offset);
    ProtobufCBinaryData payload = *bd;
    protobuf_c_boolean *has = fd->label == PROTOBUF_C_LABEL_OPTIONAL
                                  ? (protobuf_c_boolean *)((char *)output + fd->quantifier_offset)
                                  : NULL;
    protobuf_c_boolean had = has != NULL ? *has : 0;
    *bd = (ProtobufCBinaryData){0, NULL};
    if (has != NULL)
        *has = 0;
    size_t olen = protobuf_c_message_get_packed_size(output);
    uint8_t *others = malloc(olen ? olen : 1);
    if (others != NULL)
        protobuf_c_message_pack(output, others);
    *bd = payload;
    if (has != NULL)
        *has = had;
    if (others == NULL)
        return false;
    size_t split = ip_pbview_split(others, olen, fd->id);
    uint64_t tag = (uint64_t)fd->id << 3 | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
    size_t field_head = varint_len(tag) + varint_len(payload.len);
    size_t inner = olen + field_head + payload.len;
    size_t env_head = ip_rpc_reply_size(0, message, 0, ""); /* the message field */
    size_t head = env_head + 1 + varint_len(inner) + split + field_head;
    size_t tail = olen - split + len_field_size(strlen(request_id));
    if (split == SIZE_MAX || head > head_room || nng_msg_len(m) - head_room - payload.len < tail) {
        free(others);
        return false;
    }
    uint8_t *p = (uint8_t *)nng_msg_body(m) + head_room - head;
    ip_rpc_write_reply(p, 0, message, NULL, 0, "");
    p += env_head;
    *p++ = 0x1a; /* 3: output */
    p = put_varint(p, inner);
    memcpy(p, others, split);
    p = put_varint(p + split, tag);
    p = put_varint(p, payload.len); /* the payload itself is already here */
    p += payload.len;
    memcpy(p, others + split, olen - split);
    put_len_field(p + olen - split, 0x22, request_id, strlen(request_id)); /* 4: request_id */
    free(others);
    nng_msg_trim(m, head_room - head);
    nng_msg_chop(m, nng_msg_len(m) - (head + payload.len + tail));
    return true;
}

/* ================================================================ closing */

struct timespec ip_rpc_time_after_ms(clockid_t clk, int64_t ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* How long ip_rpc_close_bounded waits for nng_close (see the file header).
 * The wait is long enough for a close that is merely slow: under valgrind on a
 * loaded two-core machine a healthy nng_close (pipes torn down by nng's reaper
 * and task threads) was seen to take more than two seconds, and a wait of 2 s
 * then leaked a client that would have closed. A real #1543 hang never returns,
 * so a longer wait only delays the exit of a process that is stuck anyway. */
#define IP_RPC_CLOSE_WAIT_MS 10000

typedef struct closer {
    void (*fn)(void *);
    void *arg;
    sem_t done;
    atomic_int refs; /* the helper and the waiter; the last one frees */
} closer;

static void closer_release(closer *cl)
{
    if (atomic_fetch_sub(&cl->refs, 1) == 1) {
        sem_destroy(&cl->done);
        free(cl);
    }
}

static void *closer_main(void *arg)
{
    closer *cl = arg;
    cl->fn(cl->arg);
    sem_post(&cl->done);
    closer_release(cl);
    return NULL;
}

bool ip_rpc_run_bounded(void (*fn)(void *), void *arg, const char *what)
{
    closer *cl = calloc(1, sizeof *cl);
    pthread_t t;
    if (cl == NULL) {
        fn(arg);
        return true;
    }
    cl->fn = fn;
    cl->arg = arg;
    sem_init(&cl->done, 0, 0);
    atomic_store(&cl->refs, 2);
    if (pthread_create(&t, NULL, closer_main, cl) != 0) {
        sem_destroy(&cl->done);
        free(cl);
        fn(arg);
        return true;
    }
    pthread_detach(t);
    struct timespec ts = ip_rpc_time_after_ms(CLOCK_MONOTONIC, IP_RPC_CLOSE_WAIT_MS);
    int rv;
    while ((rv = sem_clockwait(&cl->done, CLOCK_MONOTONIC, &ts)) != 0 && errno == EINTR)
        ;
    closer_release(cl);
    if (rv != 0)
        ip_log(IP_LOG_ERROR, "rpc.close_stuck", IP_LS("what", what),
               IP_LI("waited_ms", IP_RPC_CLOSE_WAIT_MS),
               IP_LS("err", "nng did not return; what it holds is left behind"));
    return rv == 0;
}

static void close_socket(void *arg)
{
    nng_close(*(nng_socket *)arg);
}

bool ip_rpc_close_bounded(nng_socket sock, const char *what)
{
    nng_socket *held = malloc(sizeof *held);
    if (held == NULL) {
        nng_close(sock);
        return true;
    }
    *held = sock;
    bool done = ip_rpc_run_bounded(close_socket, held, what);
    if (done)
        free(held);
    return done; /* otherwise the helper still reads it: left behind */
}

ip_status ip_rpc_dial_list(nng_socket sock, const char *urls)
{
    int ndial = 0, rv;
    char *save = NULL;
    char *list = urls ? strdup(urls) : NULL;
    if (list == NULL)
        return urls ? IP_RESOURCE_EXHAUSTED : IP_INVALID_ARGUMENT;
    for (char *u = strtok_r(list, ",", &save); u != NULL; u = strtok_r(NULL, ",", &save)) {
        while (*u == ' ' || *u == '\t')
            u++;
        size_t n = strlen(u);
        while (n > 0 && (u[n - 1] == ' ' || u[n - 1] == '\t'))
            u[--n] = '\0';
        if (n == 0)
            continue;
        if ((rv = nng_dial(sock, u, NULL, NNG_FLAG_NONBLOCK)) != 0) {
            ip_log(IP_LOG_ERROR, "rpc.dial_failed", IP_LS("url", u),
                   IP_LS("err", nng_strerror(rv)));
            free(list);
            return IP_INVALID_ARGUMENT;
        }
        ndial++;
    }
    free(list);
    return ndial > 0 ? IP_OK : IP_INVALID_ARGUMENT;
}
