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

#endif
