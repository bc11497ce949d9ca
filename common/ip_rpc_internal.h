/* ip_rpc_internal.h — what the three files of the RPC transport share, and
 * hooks into it for tests and fuzzing. Services use ip_rpc.h only.
 *
 * The transport is split by role: ip_rpc_wire.c writes the envelopes and
 * holds the helpers both ends need (the metrics, status codes from the wire,
 * deadlines for timed waits, a bounded socket close); ip_rpc_server.c serves
 * a service on a REP socket; ip_rpc_client.c calls one over a REQ socket.
 */
#ifndef IP_RPC_INTERNAL_H
#define IP_RPC_INTERNAL_H

#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ip_metrics.h"
#include "ip_rpc.h"

/* The method the transport answers itself (ip_rpc_ping). */
#define IP_RPC_PING "$ping"

/* A bytes field this large or larger stays in the nng message instead of
 * being copied (ip_pbview.h): the envelopes' input and output, a method's
 * input's top-level bytes on the server, a view's output's on the client.
 * Smaller ones are copied as protobuf-c does (a slice costs a second small
 * buffer for the rest of the message). One threshold for all: an envelope
 * field under it cannot hold a field of the message inside that reaches it. */
#define IP_RPC_SLICE_MIN (64u * 1024u)

/* ------------------------------------------------------- shared helpers */

/* The transport's metrics (see ip_rpc.h), registered together on first use
 * so that every process lists the same families. Thread-safe. */
typedef struct ip_rpc_metrics {
    ip_metric *server_calls;   /* ip_rpc_server_calls_total{service,method,code} */
    ip_metric *server_seconds; /* ip_rpc_server_seconds{service,method} */
    ip_metric *client_calls;   /* ip_rpc_client_calls_total{service,method,code} */
} ip_rpc_metrics;
const ip_rpc_metrics *ip_rpc_metrics_get(void);

/* The ip_status of a wire code; a code outside the enum is IP_INTERNAL. */
ip_status ip_rpc_status_from_code(int code);

/* The absolute time `ms` milliseconds from now on clock `clk`, as the timed
 * waits (pthread_cond_timedwait, pthread_timedjoin_np, sem_clockwait) take it. */
struct timespec ip_rpc_time_after_ms(clockid_t clk, int64_t ms);

/* ------------------------------------------------------- envelope writers */

/* *_size gives the exact packed size; *_write fills that many bytes at p,
 * packing `input`/`output` (input_len/output_len bytes, as
 * protobuf_c_message_get_packed_size says) in place. The bytes are what
 * protobuf-c packs for the same RpcRequest/RpcReply. */
size_t ip_rpc_request_size(const char *method, size_t input_len, const char *request_id,
                           int64_t deadline_ms);
void ip_rpc_write_request(uint8_t *p, const char *method, const ProtobufCMessage *input,
                          size_t input_len, const char *request_id, int64_t deadline_ms);
size_t ip_rpc_reply_size(int code, const char *message, size_t output_len, const char *request_id);
void ip_rpc_write_reply(uint8_t *p, int code, const char *message, const ProtobufCMessage *output,
                        size_t output_len, const char *request_id);

/* An OK reply written around `output`'s bytes field `fd`, whose bytes are
 * already in `m` at offset head_room (ip_rpc_call_reply_bytes): the envelope
 * and the output's other fields go just before and after them, and m is
 * trimmed to the reply, the same bytes ip_rpc_write_reply would write. False
 * (m unchanged) when they do not fit in head_room before or in the room left
 * after, or out of memory: the caller then packs the reply as usual. */
bool ip_rpc_write_reply_around(nng_msg *m, size_t head_room, const char *message,
                               ProtobufCMessage *output, const ProtobufCFieldDescriptor *fd,
                               const char *request_id);

/* ------------------------------------------------- for tests and fuzzing */

/* Serves the request envelope in `data` (len bytes) exactly as a server worker
 * would, without any socket, and returns the packed RpcReply: owned by the
 * caller (free()), *reply_len bytes; NULL only when out of memory. */
uint8_t *ip_rpc_serve_buffer(const ProtobufCServiceDescriptor *svc, const ip_rpc_handler *handlers,
                             void *user, size_t max_msg, const void *data, size_t len,
                             size_t *reply_len);

/* The packed envelope in a new buffer (free()), its length in *len; NULL
 * when out of memory. */
uint8_t *ip_rpc_pack_request(const char *method, const ProtobufCMessage *input,
                             const char *request_id, int64_t deadline_ms, size_t *len);
uint8_t *ip_rpc_pack_reply(int code, const char *message, const ProtobufCMessage *output,
                           const char *request_id, size_t *len);

#endif
