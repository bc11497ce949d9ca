/* meta_service_internal.h — what the Metadata handlers share across files.
 *
 * meta_service.c holds the service, the image handlers and the helpers every
 * handler uses; meta_service_admin.c the handlers that change no image (API
 * keys, presets, ListRegenerate) and meta_service_uploads.c GetIdempotency,
 * all registered by meta_service_new.
 */
#ifndef META_SERVICE_INTERNAL_H
#define META_SERVICE_INTERNAL_H

#include <pthread.h>

#include "ip_rpc.h"
#include "ip_rpc_stubs.h"
#include "ip_uuid.h"
#include "meta_events.h"
#include "meta_service.h"
#include "meta_store.h"

#define META_STRIPES 1024

struct meta_service {
    meta_store *store;
    meta_events *events;
    ip_rpc_server *server;
    ip_metadata_impl impl; /* the handlers; borrowed by the server */
    pthread_mutex_t stripes[META_STRIPES];
};

/* Sets up the store context for one call; IP_DEADLINE_EXCEEDED (reported to
 * the caller) when no time is left. */
ip_status meta_svc_ctx_init(meta_ctx *cx, ip_rpc_call *call);
/* Reports a failed call: `msg` to the caller, and a log line for the
 * failures that are ours or the database's. Returns `st`. */
ip_status meta_svc_fail(ip_rpc_call *call, ip_status st, const char *msg, const char *image_id);
/* Checks an id field and writes its canonical lowercase form into `out`. */
ip_status meta_svc_canon_id(ip_rpc_call *call, const char *id, const char *field,
                            char out[IP_UUID_STRLEN + 1], ip_uuid *u);

/* meta_service_admin.c */
ip_status meta_h_create_api_key(void *user, ip_rpc_call *call,
                                const Imageproc__CreateApiKeyRequest *req,
                                Imageproc__CreateApiKeyReply *rep);
ip_status meta_h_list_api_keys(void *user, ip_rpc_call *call,
                               const Imageproc__ListApiKeysRequest *req,
                               Imageproc__ListApiKeysReply *rep);
ip_status meta_h_revoke_api_key(void *user, ip_rpc_call *call,
                                const Imageproc__RevokeApiKeyRequest *req,
                                Imageproc__RevokeApiKeyReply *rep);
ip_status meta_h_lookup_api_key(void *user, ip_rpc_call *call,
                                const Imageproc__LookupApiKeyRequest *req,
                                Imageproc__LookupApiKeyReply *rep);
ip_status meta_h_get_presets(void *user, ip_rpc_call *call, const Imageproc__GetPresetsRequest *req,
                             Imageproc__GetPresetsReply *rep);
ip_status meta_h_set_preset(void *user, ip_rpc_call *call, const Imageproc__SetPresetRequest *req,
                            Imageproc__SetPresetReply *rep);
ip_status meta_h_list_regenerate(void *user, ip_rpc_call *call,
                                 const Imageproc__ListRegenerateRequest *req,
                                 Imageproc__ListRegenerateReply *rep);

/* meta_service_uploads.c */
ip_status meta_h_get_idempotency(void *user, ip_rpc_call *call,
                                 const Imageproc__GetIdempotencyRequest *req,
                                 Imageproc__GetIdempotencyReply *rep);

/* meta_service_webhooks.c */
ip_status meta_h_create_webhook(void *user, ip_rpc_call *call,
                                const Imageproc__CreateWebhookRequest *req,
                                Imageproc__CreateWebhookReply *rep);
ip_status meta_h_list_webhooks(void *user, ip_rpc_call *call,
                               const Imageproc__ListWebhooksRequest *req,
                               Imageproc__ListWebhooksReply *rep);
ip_status meta_h_get_webhook(void *user, ip_rpc_call *call, const Imageproc__GetWebhookRequest *req,
                             Imageproc__GetWebhookReply *rep);
ip_status meta_h_delete_webhook(void *user, ip_rpc_call *call,
                                const Imageproc__DeleteWebhookRequest *req,
                                Imageproc__DeleteWebhookReply *rep);
ip_status meta_h_list_deliveries(void *user, ip_rpc_call *call,
                                 const Imageproc__ListDeliveriesRequest *req,
                                 Imageproc__ListDeliveriesReply *rep);
ip_status meta_h_resend_delivery(void *user, ip_rpc_call *call,
                                 const Imageproc__ResendDeliveryRequest *req,
                                 Imageproc__ResendDeliveryReply *rep);
ip_status meta_h_claim_deliveries(void *user, ip_rpc_call *call,
                                  const Imageproc__ClaimDeliveriesRequest *req,
                                  Imageproc__ClaimDeliveriesReply *rep);
ip_status meta_h_finish_delivery(void *user, ip_rpc_call *call,
                                 const Imageproc__FinishDeliveryRequest *req,
                                 Imageproc__FinishDeliveryReply *rep);

#endif
