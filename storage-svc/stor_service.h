/* stor_service.h — the handlers of `service Storage` (proto/storage.proto).
 *
 * Each handler checks its request (keys, content type, size), runs the S3
 * call on the RPC worker's thread with the call's remaining deadline as its
 * budget, and fills the reply from per-call memory. stor_service_serve()
 * starts the generated typed Storage server (ip_rpc_stubs.h) with them.
 */
#ifndef STOR_SERVICE_H
#define STOR_SERVICE_H

#include <stddef.h>

#include "ip_rpc.h"
#include "ip_rpc_stubs.h"
#include "ip_status.h"
#include "stor_s3.h"

typedef struct stor_service {
    stor_s3 *s3;             /* borrowed */
    size_t upload_max_bytes; /* PutObject data over this -> INVALID_ARGUMENT */
    size_t get_max_bytes;    /* GetObject of a larger object -> RESOURCE_EXHAUSTED */
    ip_storage_impl impl;    /* filled by stor_service_serve; the server borrows it */
} stor_service;

/* Serves `svc` on opts->url: fills svc->impl and starts the server in *out.
 * `svc` is borrowed for the server's life (free the server first). Errors are
 * ip_storage_server_new's. */
ip_status stor_service_serve(stor_service *svc, const ip_rpc_server_opts *opts,
                             ip_rpc_server **out);

#endif
