/* gw_routes_webhooks.c — /webhooks: subscriptions, their delivery logs and
 * resends, for API keys.
 *
 * WHO SEES WHAT. Every call needs an API key (401 without one). A
 * subscription belongs to the key that made it (its key_id); that key and an
 * admin key manage it (gw_auth_may_manage_webhook). Another key asking for
 * it gets 404, as for an unknown id, so ids of others are never confirmed.
 * POST /webhooks needs read (or admin) scope for a subscription to every
 * image's events; any key may subscribe to its own images' ("images":
 * "own"), gw_auth_may_subscribe. The listing is the caller's key's own
 * subscriptions, or every one for an admin key.
 *
 * THE BODY. POST /webhooks reads a JSON object of at most
 * GW_WEBHOOK_BODY_MAX bytes (kept by the dispatch; over it 413), sent as
 * application/json (else 415): url (required), events, images,
 * description, secret; any other member is 400 with `param` naming it. The
 * url's form is ip_webhook_url_check's; with IP_WEBHOOK_ALLOW_PRIVATE=false
 * a url whose host is a literal private address is refused here at once
 * (a name that resolves to one is refused by the dispatcher when it
 * connects). The secret is the caller's ("whsec_…") or a new one, and
 * appears only in the 201.
 *
 * Ids are checked before any call: a subscription id is a UUID, a delivery
 * id "msg_" + 32 hex digits; anything else is 400 naming the parameter.
 * metadata-svc's replies belong to the request until the answer is sent.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_handlers.h"
#include "gw_json.h"
#include "gw_response.h"
#include "gw_webhook_form.h"
#include "ip_log.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "ip_webhook.h"

#define DELIVERIES_DEFAULT 24
#define DELIVERIES_MAX 100

static const char not_found[] =
    "no webhook subscription has this id for this key (it may have been deleted)";

/* ------------------------------------------------------------ the documents */

static void json_free(void *doc)
{
    json_decref(doc);
}

static const char *images_name(bool own)
{
    return own ? "own" : "all";
}

/* {id, url, events, images, description, created_at} (+ secret when given). */
static json_t *subscription_json(const Imageproc__WebhookSubscription *s, const char *secret)
{
    json_t *events = json_array();
    for (size_t i = 0; events && i < s->n_events; i++) {
        const char *name = ip_webhook_event_name(s->events[i]);
        if (name)
            json_array_append_new(events, json_string(name));
    }
    json_t *o = json_pack("{s:s,s:s,s:o*,s:s,s:s,s:o*}", "id", s->id, "url", s->url, "events",
                          events, "images", images_name(s->own_images_only), "description",
                          s->description ? s->description : "", "created_at",
                          gw_json_time(s->created_at_us));
    if (o && secret)
        json_object_set_new(o, "secret", json_string(secret));
    return o;
}

static json_t *delivery_json(const Imageproc__WebhookDelivery *d)
{
    const char *event = ip_webhook_event_name(d->event);
    const char *state = ip_delivery_state_name(d->state);
    bool pending = d->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING;
    return json_pack(
        "{s:s,s:s?,s:s,s:s?,s:I,s:o*,s:o*,s:o*,s:o*,s:o*,s:s,s:I}", "id", d->id, "event", event,
        "image_id", d->image_id, "state", state, "attempts", (json_int_t)d->attempts, "created_at",
        gw_json_time(d->created_at_us), "next_attempt_at",
        pending ? gw_json_time(d->next_attempt_at_us) : json_null(), "delivered_at",
        gw_json_time(d->delivered_at_us), "last_attempt_at", gw_json_time(d->last_attempt_at_us),
        "last_status", d->last_status ? json_integer(d->last_status) : json_null(), "last_error",
        d->last_error ? d->last_error : "", "last_duration_ms", (json_int_t)d->last_duration_ms);
}

/* ------------------------------------------------------------ shared checks */

/* Every route here needs an API key: else 401 (or 403 for an owner token)
 * into *ret. */
static bool need_key(struct MHD_Connection *conn, gw_req *rq, enum MHD_Result *ret)
{
    if (rq->caller.kind == GW_CALLER_KEY)
        return true;
    *ret = gw_send_verdict(conn, rq, gw_auth_may_subscribe(&rq->caller, true));
    return false;
}

static bool is_admin(const gw_caller *c)
{
    return c->kind == GW_CALLER_KEY &&
           ip_scopes_allow(c->scopes, IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN);
}

/* A delivery id: "msg_" + 32 hex digits, lowercased into out. */
static bool delivery_id_parse(const char *s, char out[IP_WEBHOOK_ID_MAX])
{
    if (strncmp(s, "msg_", 4) != 0 || strlen(s) != IP_WEBHOOK_ID_MAX - 1)
        return false;
    memcpy(out, "msg_", 4);
    for (size_t i = 4; i < IP_WEBHOOK_ID_MAX - 1; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return false;
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[IP_WEBHOOK_ID_MAX - 1] = '\0';
    return true;
}

static enum MHD_Result rpc_failed(struct MHD_Connection *conn, gw_req *rq, const char *what,
                                  ip_status st, const char *err)
{
    if (st == IP_NOT_FOUND)
        return gw_send_problem(conn, rq, 404, not_found, NULL);
    if (st == IP_INVALID_ARGUMENT)
        return gw_send_problem(conn, rq, 400, err, NULL);
    ip_log(IP_LOG_WARN, what, IP_LS("caller", rq->caller.label), IP_LS("err", err));
    return gw_send_dependency(conn, rq, "metadata service", st);
}

/* The path's subscription: its id checked (400), read (404, 503) and the
 * caller allowed to manage it (404 otherwise). true with *sub borrowed from
 * the reply, which the request frees. */
static bool load_subscription(gw_app *app, struct MHD_Connection *conn, gw_req *rq,
                              const Imageproc__WebhookSubscription **sub, enum MHD_Result *ret)
{
    if (!need_key(conn, rq, ret))
        return false;
    ip_uuid u;
    char id[IP_UUID_STRLEN + 1];
    if (!ip_uuid_parse(rq->id, &u)) {
        *ret = gw_send_problem(conn, rq, 400,
                               "the subscription id in the path must be a UUID such as "
                               "0190f2a4-5b6c-7d8e-9f00-112233445566",
                               "id");
        return false;
    }
    ip_uuid_format(&u, id);
    Imageproc__GetWebhookRequest in = IMAGEPROC__GET_WEBHOOK_REQUEST__INIT;
    in.id = id;
    Imageproc__GetWebhookReply *reply = NULL;
    char err[256];
    ip_status st = ip_metadata_get_webhook(app->meta, &in, &reply, NULL, err, sizeof err);
    gw_req_defer_message(rq, reply);
    if (st == IP_OK && !reply->subscription)
        st = IP_NOT_FOUND;
    if (st != IP_OK) {
        *ret = rpc_failed(conn, rq, "rpc.get_webhook_failed", st, err);
        return false;
    }
    gw_verdict v = gw_auth_may_manage_webhook(&rq->caller, reply->subscription->key_id);
    if (v.status) {
        ip_log(IP_LOG_INFO, "auth.denied", IP_LS("route", gw_route_name(rq->route)),
               IP_LS("subscription_id", id), IP_LS("caller", rq->caller.label),
               IP_LI("status", 404));
        *ret = gw_send_problem(conn, rq, 404, not_found, NULL);
        return false;
    }
    *sub = reply->subscription;
    return true;
}

/* ------------------------------------------------------------ POST /webhooks */

enum MHD_Result gw_handle_webhook_create(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    enum MHD_Result ret;
    if (!need_key(conn, rq, &ret))
        return ret;
    if (rq->body_over) {
        char d[96];
        snprintf(d, sizeof d, "the body is over %u bytes", GW_WEBHOOK_BODY_MAX);
        return gw_send_problem(conn, rq, 413, d, NULL);
    }
    if (!gw_content_type_is_json(gw_req_header(conn, "Content-Type")))
        return gw_send_problem(conn, rq, 415, "send the subscription as application/json",
                               "Content-Type");
    gw_webhook_form f;
    json_t *doc = NULL;
    const char *param = NULL;
    char detail[300];
    ip_status st = gw_webhook_form_parse(rq->body, rq->body_len, app->cfg.webhook_allow_private, &f,
                                         &doc, &param, detail, sizeof detail);
    if (doc)
        gw_req_defer(rq, json_free, doc);
    if (st != IP_OK)
        return gw_send_problem(conn, rq, 400, detail, param);
    gw_verdict v = gw_auth_may_subscribe(&rq->caller, f.own);
    if (v.status)
        return gw_send_verdict(conn, rq, v);

    char id[IP_UUID_STRLEN + 1], secret[IP_WEBHOOK_SECRET_MAX];
    ip_uuid_v7_str(id);
    if (f.secret)
        snprintf(secret, sizeof secret, "%s", f.secret);
    else if (ip_webhook_new_secret(secret) != IP_OK)
        return gw_send_problem(conn, rq, 503, "no randomness for a secret; try again", NULL);
    Imageproc__WebhookSubscription sub = IMAGEPROC__WEBHOOK_SUBSCRIPTION__INIT;
    sub.id = id;
    sub.url = (char *)f.url;
    sub.secret = secret;
    sub.events = f.events;
    sub.n_events = f.n_events;
    sub.key_id = rq->caller.key_id;
    sub.own_images_only = f.own;
    sub.description = (char *)f.description;
    Imageproc__CreateWebhookRequest in = IMAGEPROC__CREATE_WEBHOOK_REQUEST__INIT;
    in.subscription = &sub;
    Imageproc__CreateWebhookReply *reply = NULL;
    char err[256];
    st = ip_metadata_create_webhook(app->meta, &in, &reply, NULL, err, sizeof err);
    gw_req_defer_message(rq, reply);
    if (st == IP_OK && !reply->subscription)
        st = IP_INTERNAL;
    if (st != IP_OK) {
        explicit_bzero(secret, sizeof secret);
        if (st == IP_NOT_FOUND)
            st = IP_INTERNAL;
        return rpc_failed(conn, rq, "rpc.create_webhook_failed", st, err);
    }
    ip_log(IP_LOG_INFO, "webhook.created", IP_LS("subscription_id", id),
           IP_LS("caller", rq->caller.label), IP_LS("images", images_name(f.own)));
    json_t *j = subscription_json(reply->subscription, secret);
    explicit_bzero(secret, sizeof secret);
    char location[160];
    snprintf(location, sizeof location, "%s/webhooks/%s", gw_req_public_prefix(conn), id);
    return gw_send_json_h(conn, rq, 201, j, NULL, "Location", location);
}

/* ------------------------------------------------------------ GET /webhooks */

enum MHD_Result gw_handle_webhooks_list(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    enum MHD_Result ret;
    if (!need_key(conn, rq, &ret))
        return ret;
    Imageproc__ListWebhooksRequest in = IMAGEPROC__LIST_WEBHOOKS_REQUEST__INIT;
    in.all = is_admin(&rq->caller);
    in.key_id = in.all ? "" : rq->caller.key_id;
    Imageproc__ListWebhooksReply *reply = NULL;
    char err[256];
    ip_status st = ip_metadata_list_webhooks(app->meta, &in, &reply, NULL, err, sizeof err);
    gw_req_defer_message(rq, reply);
    if (st != IP_OK) {
        if (st == IP_NOT_FOUND)
            st = IP_INTERNAL;
        return rpc_failed(conn, rq, "rpc.list_webhooks_failed", st, err);
    }
    json_t *items = json_array();
    for (size_t i = 0; items && i < reply->n_subscriptions; i++)
        json_array_append_new(items, subscription_json(reply->subscriptions[i], NULL));
    return gw_send_json(conn, rq, 200, json_pack("{s:o*}", "items", items));
}

/* ------------------------------------------------------------ /webhooks/{id} */

enum MHD_Result gw_handle_webhook_get(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    enum MHD_Result ret;
    const Imageproc__WebhookSubscription *sub = NULL;
    if (!load_subscription(app, conn, rq, &sub, &ret))
        return ret;
    return gw_send_json(conn, rq, 200, subscription_json(sub, NULL));
}

enum MHD_Result gw_handle_webhook_delete(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    enum MHD_Result ret;
    const Imageproc__WebhookSubscription *sub = NULL;
    if (!load_subscription(app, conn, rq, &sub, &ret))
        return ret;
    Imageproc__DeleteWebhookRequest in = IMAGEPROC__DELETE_WEBHOOK_REQUEST__INIT;
    in.id = sub->id;
    Imageproc__DeleteWebhookReply *reply = NULL;
    char err[256];
    ip_status st = ip_metadata_delete_webhook(app->meta, &in, &reply, NULL, err, sizeof err);
    gw_req_defer_message(rq, reply);
    if (st != IP_OK)
        return rpc_failed(conn, rq, "rpc.delete_webhook_failed", st, err);
    ip_log(IP_LOG_INFO, "webhook.deleted", IP_LS("subscription_id", sub->id),
           IP_LS("caller", rq->caller.label), IP_LI("cancelled", reply->cancelled));
    return gw_queue(conn, rq, 204, gw_response_empty());
}

/* ------------------------------------------------------------ the delivery log */

/* limit, before_created_at, before_id (both or neither). */
static bool deliveries_query(struct MHD_Connection *conn, Imageproc__ListDeliveriesRequest *in,
                             char before_id[IP_WEBHOOK_ID_MAX], const char **param, char *detail,
                             size_t dlen)
{
    gw_args args;
    *param = NULL;
    if (!gw_req_args(conn, &args)) {
        snprintf(detail, dlen, "too many query parameters");
        return false;
    }
    in->limit = DELIVERIES_DEFAULT;
    bool has_at = false, has_id = false;
    for (size_t i = 0; i < args.n; i++) {
        const char *k = args.kv[i].key, *v = args.kv[i].value;
        if (!strcmp(k, "limit")) {
            char *end = NULL;
            long n = strtol(v, &end, 10);
            if (!*v || *end || !isdigit((unsigned char)*v) || n < 1 || n > DELIVERIES_MAX) {
                snprintf(detail, dlen, "limit must be a whole number from 1 to %d", DELIVERIES_MAX);
                *param = "limit";
                return false;
            }
            in->limit = (int32_t)n;
        } else if (!strcmp(k, "before_created_at")) {
            if (ip_time_parse(v, &in->before_created_at_us) != IP_OK ||
                in->before_created_at_us <= 0) {
                snprintf(detail, dlen,
                         "before_created_at must be an RFC 3339 time from the "
                         "previous page's next");
                *param = "before_created_at";
                return false;
            }
            has_at = true;
        } else if (!strcmp(k, "before_id")) {
            if (!delivery_id_parse(v, before_id)) {
                snprintf(detail, dlen,
                         "before_id must be a delivery id (msg_ and 32 hex "
                         "digits) from the previous page's next");
                *param = "before_id";
                return false;
            }
            in->before_id = before_id;
            has_id = true;
        } else {
            snprintf(detail, dlen,
                     "unknown query parameter %.64s: use limit, before_created_at and before_id",
                     k);
            *param = k;
            return false;
        }
    }
    if (has_at != has_id) {
        snprintf(detail, dlen, "before_created_at and before_id go together (both or neither)");
        *param = has_at ? "before_id" : "before_created_at";
        return false;
    }
    return true;
}

enum MHD_Result gw_handle_webhook_deliveries(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    enum MHD_Result ret;
    const Imageproc__WebhookSubscription *sub = NULL;
    if (!load_subscription(app, conn, rq, &sub, &ret))
        return ret;
    Imageproc__ListDeliveriesRequest in = IMAGEPROC__LIST_DELIVERIES_REQUEST__INIT;
    char before_id[IP_WEBHOOK_ID_MAX] = "", detail[256];
    const char *param = NULL;
    if (!deliveries_query(conn, &in, before_id, &param, detail, sizeof detail))
        return gw_send_problem(conn, rq, 400, detail, param);
    in.subscription_id = sub->id;
    Imageproc__ListDeliveriesReply *reply = NULL;
    char err[256];
    ip_status st = ip_metadata_list_deliveries(app->meta, &in, &reply, NULL, err, sizeof err);
    gw_req_defer_message(rq, reply);
    if (st != IP_OK)
        return rpc_failed(conn, rq, "rpc.list_deliveries_failed", st, err);
    json_t *items = json_array();
    for (size_t i = 0; items && i < reply->n_deliveries; i++)
        json_array_append_new(items, delivery_json(reply->deliveries[i]));
    json_t *next = json_null();
    if (reply->has_more && reply->n_deliveries > 0) {
        const Imageproc__WebhookDelivery *last = reply->deliveries[reply->n_deliveries - 1];
        json_decref(next);
        next = json_pack("{s:o*,s:s}", "before_created_at", gw_json_time(last->created_at_us),
                         "before_id", last->id);
    }
    return gw_send_json(conn, rq, 200, json_pack("{s:o*,s:o*}", "items", items, "next", next));
}

enum MHD_Result gw_handle_webhook_resend(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    enum MHD_Result ret;
    const Imageproc__WebhookSubscription *sub = NULL;
    if (!load_subscription(app, conn, rq, &sub, &ret))
        return ret;
    char did[IP_WEBHOOK_ID_MAX];
    if (!delivery_id_parse(rq->id2, did))
        return gw_send_problem(conn, rq, 400,
                               "the delivery id in the path must be msg_ followed by 32 hex "
                               "digits, as in the delivery log",
                               "delivery_id");
    Imageproc__ResendDeliveryRequest in = IMAGEPROC__RESEND_DELIVERY_REQUEST__INIT;
    in.subscription_id = sub->id;
    in.id = did;
    Imageproc__ResendDeliveryReply *reply = NULL;
    char err[256];
    ip_status st = ip_metadata_resend_delivery(app->meta, &in, &reply, NULL, err, sizeof err);
    gw_req_defer_message(rq, reply);
    if (st == IP_OK && !reply->delivery)
        st = IP_INTERNAL;
    if (st == IP_NOT_FOUND)
        return gw_send_problem(conn, rq, 404, "this subscription has no delivery with this id",
                               NULL);
    if (st != IP_OK)
        return rpc_failed(conn, rq, "rpc.resend_delivery_failed", st, err);
    ip_log(IP_LOG_INFO, "webhook.resend", IP_LS("subscription_id", sub->id),
           IP_LS("delivery_id", did), IP_LS("caller", rq->caller.label));
    return gw_send_json(conn, rq, 202, delivery_json(reply->delivery));
}
