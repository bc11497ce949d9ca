/* meta_service.h — the Metadata RPC service (proto/metadata.proto).
 *
 * Serves `service Metadata` over ip_rpc on rpc_url and publishes a StatusEvent
 * on events_url after every committed change. Requests are checked first
 * (meta_validate.h: a bad one answers INVALID_ARGUMENT naming the field), ids
 * are brought to their lowercase canonical form, then meta_store does the work.
 */
#ifndef META_SERVICE_H
#define META_SERVICE_H

#include <stddef.h>

#include "ip_status.h"
#include "meta_store.h"

typedef struct meta_service meta_service;

typedef struct meta_service_opts {
    const char *rpc_url;    /* IP_METADATA_RPC_URL, listened on */
    const char *events_url; /* IP_METADATA_EVENTS_URL, listened on */
    int workers;            /* IP_RPC_WORKERS */
    size_t max_msg_bytes;   /* IP_RPC_MAX_MSG_BYTES */
} meta_service_opts;

/* Starts serving. `store` is borrowed and must outlive the service. */
ip_status meta_service_new(meta_store *store, const meta_service_opts *opts, meta_service **out);

/* Stops serving (calls in flight finish), closes the publisher, frees. NULL does nothing. */
void meta_service_free(meta_service *svc);

#endif
