/* ip_rpc_internal.h — hooks into the RPC transport for tests and fuzzing only;
 * services use ip_rpc.h. */
#ifndef IP_RPC_INTERNAL_H
#define IP_RPC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ip_rpc.h"

/* Serves the request envelope in `data` (len bytes) exactly as a server worker
 * would, without any socket, and returns the packed RpcReply: owned by the
 * caller (free()), *reply_len bytes; NULL only when out of memory. */
uint8_t *ip_rpc_serve_buffer(const ProtobufCServiceDescriptor *svc, const ip_rpc_handler *handlers,
                             void *user, size_t max_msg, const void *data, size_t len,
                             size_t *reply_len);

/* The envelope writers (see "wire" in ip_rpc.c). *_size gives the exact
 * packed size; *_write fills that many bytes at p, packing `input`/`output`
 * (input_len/output_len bytes, as protobuf_c_message_get_packed_size says) in
 * place. The bytes are what protobuf-c packs for the same RpcRequest/RpcReply. */
size_t ip_rpc_request_size(const char *method, size_t input_len, const char *request_id,
                           int64_t deadline_ms);
void ip_rpc_write_request(uint8_t *p, const char *method, const ProtobufCMessage *input,
                          size_t input_len, const char *request_id, int64_t deadline_ms);
size_t ip_rpc_reply_size(int code, const char *message, size_t output_len, const char *request_id);
void ip_rpc_write_reply(uint8_t *p, int code, const char *message, const ProtobufCMessage *output,
                        size_t output_len, const char *request_id);
/* Convenience for tests: the packed envelope in a new buffer (free()), its
 * length in *len; NULL when out of memory. */
uint8_t *ip_rpc_pack_request(const char *method, const ProtobufCMessage *input,
                             const char *request_id, int64_t deadline_ms, size_t *len);
uint8_t *ip_rpc_pack_reply(int code, const char *message, const ProtobufCMessage *output,
                           const char *request_id, size_t *len);

#endif
