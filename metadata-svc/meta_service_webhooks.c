/* meta_service_webhooks.c — the Metadata handlers of the webhooks: the
 * subscriptions (CreateWebhook, ListWebhooks, GetWebhook, DeleteWebhook), the
 * delivery log (ListDeliveries, ResendDelivery) and the dispatchers' calls
 * (ClaimDeliveries, FinishDelivery).
 *
 * None changes an image, so none takes an image's stripe or publishes a
 * status event; the deliveries themselves are written by the image writes
 * (meta_store_outbox.c). Each handler checks its request
 * (meta_validate_webhooks.c), canonicalises the ids, calls the store and
 * fills the reply from the call's memory, with the helpers of meta_service.c
 * (meta_service_internal.h). Logs name subscriptions and deliveries by id;
 * never a secret, a url (it may carry a receiver's token) or a body.
 */
#include <stdio.h>

#include "ip_log.h"
#include "ip_uuid.h"
#include "ip_webhook.h"
#include "meta_service_internal.h"
#include "meta_validate.h"

/* The canonical form of an id already checked to be a UUID ("" stays ""). */
static void canon_checked(const char *id, char out[IP_UUID_STRLEN + 1])
{
    ip_uuid u;
    out[0] = '\0';
    if (id != NULL && id[0] != '\0' && ip_uuid_parse(id, &u))
        ip_uuid_format(&u, out);
}

/* ------------------------------------------------------------- subscriptions */

ip_status meta_h_create_webhook(void *user, ip_rpc_call *call,
                                const Imageproc__CreateWebhookRequest *req,
                                Imageproc__CreateWebhookReply *rep)
{
    meta_service *svc = user;
    char err[256], id[IP_UUID_STRLEN + 1], key_id[IP_UUID_STRLEN + 1];
    meta_ctx cx;
    unsigned events = 0;
    ip_status st = meta_check_webhook(req, &events, err, sizeof(err));
    if (st != IP_OK)
        return meta_svc_fail(call, st, err, NULL);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    const Imageproc__WebhookSubscription *w = req->subscription;
    canon_checked(w->id, id);
    canon_checked(w->key_id, key_id);
    meta_webhook_new n = {.id = id,
                          .url = w->url,
                          .secret = w->secret,
                          .events = events,
                          .key_id = key_id,
                          .own_images_only = w->own_images_only,
                          .description = w->description};
    st = meta_store_webhook_create(svc->store, &cx, &n, &rep->subscription);
    if (st != IP_OK)
        return meta_svc_fail(call, st, cx.err, NULL);
    ip_log(IP_LOG_INFO, "webhook.created", IP_LS("webhook_id", id), IP_LS("key_id", key_id),
           IP_LB("own_images_only", n.own_images_only),
           IP_LS("request_id", ip_rpc_call_request_id(call)));
    return IP_OK;
}

ip_status meta_h_list_webhooks(void *user, ip_rpc_call *call,
                               const Imageproc__ListWebhooksRequest *req,
                               Imageproc__ListWebhooksReply *rep)
{
    meta_service *svc = user;
    char err[128], key_id[IP_UUID_STRLEN + 1];
    meta_ctx cx;
    ip_status st = meta_check_list_webhooks(req, err, sizeof(err));
    if (st != IP_OK)
        return meta_svc_fail(call, st, err, NULL);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    canon_checked(req->key_id, key_id);
    st = meta_store_webhook_list(svc->store, &cx, key_id, req->all, &rep->subscriptions,
                                 &rep->n_subscriptions);
    return st == IP_OK ? IP_OK : meta_svc_fail(call, st, cx.err, NULL);
}

ip_status meta_h_get_webhook(void *user, ip_rpc_call *call, const Imageproc__GetWebhookRequest *req,
                             Imageproc__GetWebhookReply *rep)
{
    meta_service *svc = user;
    char id[IP_UUID_STRLEN + 1];
    ip_uuid u;
    meta_ctx cx;
    ip_status st;
    if ((st = meta_svc_canon_id(call, req->id, "id", id, &u)) != IP_OK ||
        (st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    st = meta_store_webhook_get(svc->store, &cx, id, &rep->subscription);
    return st == IP_OK ? IP_OK : meta_svc_fail(call, st, cx.err, NULL);
}

ip_status meta_h_delete_webhook(void *user, ip_rpc_call *call,
                                const Imageproc__DeleteWebhookRequest *req,
                                Imageproc__DeleteWebhookReply *rep)
{
    meta_service *svc = user;
    char id[IP_UUID_STRLEN + 1];
    ip_uuid u;
    meta_ctx cx;
    ip_status st;
    int cancelled = 0;
    if ((st = meta_svc_canon_id(call, req->id, "id", id, &u)) != IP_OK ||
        (st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    st = meta_store_webhook_delete(svc->store, &cx, id, &cancelled);
    if (st != IP_OK)
        return meta_svc_fail(call, st, cx.err, NULL);
    rep->cancelled = cancelled;
    ip_log(IP_LOG_INFO, "webhook.deleted", IP_LS("webhook_id", id), IP_LI("cancelled", cancelled),
           IP_LS("request_id", ip_rpc_call_request_id(call)));
    return IP_OK;
}

/* ------------------------------------------------------------- the log */

ip_status meta_h_list_deliveries(void *user, ip_rpc_call *call,
                                 const Imageproc__ListDeliveriesRequest *req,
                                 Imageproc__ListDeliveriesReply *rep)
{
    meta_service *svc = user;
    char err[128], sub[IP_UUID_STRLEN + 1];
    meta_ctx cx;
    meta_delivery_query q = {0};
    ip_status st = meta_check_list_deliveries(req, &q.has_cursor, err, sizeof(err));
    if (st != IP_OK)
        return meta_svc_fail(call, st, err, NULL);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    canon_checked(req->subscription_id, sub);
    q.subscription_id = sub;
    q.before_created_at_us = req->before_created_at_us;
    q.before_id = req->before_id;
    q.limit = req->limit;
    bool has_more = false;
    st =
        meta_store_deliveries(svc->store, &cx, &q, &rep->deliveries, &rep->n_deliveries, &has_more);
    if (st != IP_OK)
        return meta_svc_fail(call, st, cx.err, NULL);
    rep->has_more = has_more;
    return IP_OK;
}

ip_status meta_h_resend_delivery(void *user, ip_rpc_call *call,
                                 const Imageproc__ResendDeliveryRequest *req,
                                 Imageproc__ResendDeliveryReply *rep)
{
    meta_service *svc = user;
    char err[128], sub[IP_UUID_STRLEN + 1];
    meta_ctx cx;
    ip_status st = meta_check_resend(req, err, sizeof(err));
    if (st != IP_OK)
        return meta_svc_fail(call, st, err, NULL);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    canon_checked(req->subscription_id, sub);
    st = meta_store_delivery_resend(svc->store, &cx, sub, req->id, &rep->delivery);
    if (st != IP_OK)
        return meta_svc_fail(call, st, cx.err, NULL);
    ip_log(IP_LOG_INFO, "delivery.resent", IP_LS("webhook_id", sub), IP_LS("delivery_id", req->id),
           IP_LS("image_id", rep->delivery->image_id),
           IP_LS("request_id", ip_rpc_call_request_id(call)));
    return IP_OK;
}

/* ------------------------------------------------------------- dispatchers */

ip_status meta_h_claim_deliveries(void *user, ip_rpc_call *call,
                                  const Imageproc__ClaimDeliveriesRequest *req,
                                  Imageproc__ClaimDeliveriesReply *rep)
{
    meta_service *svc = user;
    char err[128];
    meta_ctx cx;
    ip_status st = meta_check_claim_deliveries(req->limit, req->claim_ms, err, sizeof(err));
    if (st != IP_OK)
        return meta_svc_fail(call, st, err, NULL);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    st = meta_store_deliveries_claim(svc->store, &cx, req->limit, req->claim_ms, &rep->deliveries,
                                     &rep->n_deliveries);
    if (st != IP_OK)
        return meta_svc_fail(call, st, cx.err, NULL);
    if (rep->n_deliveries > 0)
        ip_log(IP_LOG_DEBUG, "deliveries.claimed", IP_LI("count", rep->n_deliveries),
               IP_LS("request_id", ip_rpc_call_request_id(call)));
    return IP_OK;
}

ip_status meta_h_finish_delivery(void *user, ip_rpc_call *call,
                                 const Imageproc__FinishDeliveryRequest *req,
                                 Imageproc__FinishDeliveryReply *rep)
{
    meta_service *svc = user;
    char err[128], error[META_DELIVERY_ERROR_MAX + 1];
    meta_ctx cx;
    ip_status st = meta_check_finish_delivery(req, err, sizeof(err));
    if (st != IP_OK)
        return meta_svc_fail(call, st, err, NULL);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    meta_delivery_error_clean(req->delivered ? "" : req->error, error);
    meta_delivery_result res = {.id = req->id,
                                .delivered = req->delivered,
                                .status = req->status,
                                .error = error,
                                .duration_ms = req->duration_ms,
                                .retry_after_ms = req->retry_after_ms,
                                .horizon_ms = req->horizon_ms};
    bool changed = false;
    st = meta_store_delivery_finish(svc->store, &cx, &res, &rep->delivery, &changed);
    if (st != IP_OK)
        return meta_svc_fail(call, st, cx.err, NULL);
    const Imageproc__WebhookDelivery *d = rep->delivery;
    /* Giving up is worth a warning; every attempt's outcome is in the
     * delivery log, and a finish that changed nothing (the delivery was
     * cancelled or finished meanwhile) only at debug level. */
    bool gave_up = changed && d->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_FAILED;
    ip_log(gave_up ? IP_LOG_WARN : IP_LOG_DEBUG, gave_up ? "delivery.failed" : "delivery.attempt",
           IP_LS("delivery_id", d->id), IP_LS("webhook_id", d->subscription_id),
           IP_LS("image_id", d->image_id), IP_LS("state", ip_delivery_state_name(d->state)),
           IP_LI("status", req->status), IP_LI("attempts", d->attempts), IP_LB("changed", changed),
           IP_LI("ms", req->duration_ms), IP_LS("err", error));
    return IP_OK;
}
