/* meta_store_webhooks.c — webhook subscriptions and their delivery log:
 * CreateWebhook, ListWebhooks, GetWebhook, DeleteWebhook, ListDeliveries,
 * ResendDelivery.
 *
 * A subscription is a row of webhook_subscriptions: its url, the secret the
 * dispatcher signs with (kept as given, "whsec_" + base64: it must be usable,
 * not only comparable), its events by name in canonical (enum) order, the
 * API key that made it (NULL: an operator) and whether it takes only that
 * key's images. Only CreateWebhook's reply carries the secret (and
 * ClaimDeliveries', meta_store_outbox.c); the other statements select '' in
 * its place, so no other reply can leak it.
 *
 * A deleted subscription keeps its row (deleted_at) so that its log stays
 * readable by id; it is gone from List/Get, takes no new deliveries and is
 * never claimed for. DeleteWebhook sets deleted_at and then, in a statement
 * of its own within the same transaction, cancels the pending deliveries:
 * an outbox write (or a resend) share-locks the subscription, so it either
 * ran before the delete took the row (its rows are committed by then and
 * the second statement, with a fresh snapshot, cancels them) or runs after
 * and no longer matches.
 *
 * The log is keyset-paged on (created_at, id) descending through the index
 * webhook_deliveries_log_idx, like the image listing; one row more than the
 * page tells whether another follows. ResendDelivery makes a delivery
 * pending and due now with its horizon counted from now; its id and body do
 * not change (receivers deduplicate by webhook-id).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ip_webhook.h"
#include "meta_store_internal.h"

/* "image.ready,image.deleted": the names of the events in `mask`, in enum
 * order. */
#define EVENT_LIST_MAX 64

static void events_text(unsigned mask, char out[EVENT_LIST_MAX])
{
    size_t n = 0;
    out[0] = '\0';
    for (int e = 1; e < 32; e++) {
        const char *name = ip_webhook_event_name((Imageproc__WebhookEvent)e);
        if (name == NULL || !(mask & (1u << e)))
            continue;
        n += (size_t)snprintf(out + n, EVENT_LIST_MAX - n, "%s%s", n ? "," : "", name);
    }
}

/* webhook_subscriptions.events (as "image.ready,image.failed") into the
 * subscription's events, from the arena. */
static ip_status row_events(meta_ctx *cx, const char *text, Imageproc__WebhookSubscription *w)
{
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    w->events = meta_cx_alloc(cx, cap * sizeof(*w->events));
    if (w->events == NULL)
        return meta_cx_nomem(cx);
    char name[32];
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, ",");
        snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), p);
        Imageproc__WebhookEvent e = ip_webhook_event_parse(name);
        if (n >= sizeof(name) || e == IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_EVENT_UNSPECIFIED)
            return meta_cx_fail(cx, IP_INTERNAL, "webhook_subscriptions.events: unknown '%s'",
                                text);
        w->events[w->n_events++] = e;
        p += n + (p[n] == ',');
    }
    return IP_OK;
}

/* The subscription of row `i` (META_W_*), from the arena. */
static ip_status row_webhook(meta_ctx *cx, const PGresult *r, int i,
                             Imageproc__WebhookSubscription **out)
{
    Imageproc__WebhookSubscription *w = meta_cx_alloc(cx, sizeof(*w));
    if (w == NULL)
        return meta_cx_nomem(cx);
    imageproc__webhook_subscription__init(w);
    w->id = meta_cx_strdup(cx, PQgetvalue(r, i, META_W_ID));
    w->url = meta_cx_strdup(cx, PQgetvalue(r, i, META_W_URL));
    w->secret = meta_cx_strdup(cx, PQgetvalue(r, i, META_W_SECRET));
    w->key_id = meta_cx_strdup(cx, PQgetvalue(r, i, META_W_KEY));
    w->own_images_only = strcmp(PQgetvalue(r, i, META_W_OWN), "t") == 0;
    w->description = meta_cx_strdup(cx, PQgetvalue(r, i, META_W_DESCRIPTION));
    w->created_at_us = meta_db_i64(r, i, META_W_CREATED);
    if (w->id == NULL || w->url == NULL || w->secret == NULL || w->key_id == NULL ||
        w->description == NULL)
        return meta_cx_nomem(cx);
    *out = w;
    return row_events(cx, PQgetvalue(r, i, META_W_EVENTS), w);
}

/* The one subscription of a result, or `missing` with its message when there
 * is none. Clears r. */
static ip_status one_webhook(meta_ctx *cx, PGresult *r, ip_status missing, const char *what,
                             const char *id, Imageproc__WebhookSubscription **out)
{
    ip_status st = PQntuples(r) > 0 ? row_webhook(cx, r, 0, out)
                                    : meta_cx_fail(cx, missing, "webhook %s %s", id, what);
    PQclear(r);
    return st;
}

static Imageproc__DeliveryState state_parse(const char *s)
{
    for (int i = 1; i < 8; i++) {
        const char *name = ip_delivery_state_name((Imageproc__DeliveryState)i);
        if (name != NULL && strcmp(name, s) == 0)
            return (Imageproc__DeliveryState)i;
    }
    return IMAGEPROC__DELIVERY_STATE__DELIVERY_STATE_UNSPECIFIED;
}

ip_status meta_rows_delivery(meta_ctx *cx, const PGresult *r, int i, bool claimed,
                             Imageproc__WebhookDelivery **out)
{
    Imageproc__WebhookDelivery *d = meta_cx_alloc(cx, sizeof(*d));
    if (d == NULL)
        return meta_cx_nomem(cx);
    imageproc__webhook_delivery__init(d);
    d->id = meta_cx_strdup(cx, PQgetvalue(r, i, META_D_ID));
    d->subscription_id = meta_cx_strdup(cx, PQgetvalue(r, i, META_D_SUBSCRIPTION));
    d->event = ip_webhook_event_parse(PQgetvalue(r, i, META_D_EVENT));
    d->image_id = meta_cx_strdup(cx, PQgetvalue(r, i, META_D_IMAGE));
    d->state = state_parse(PQgetvalue(r, i, META_D_STATE));
    d->attempts = (int32_t)meta_db_i64(r, i, META_D_ATTEMPTS);
    d->created_at_us = meta_db_i64(r, i, META_D_CREATED);
    d->next_attempt_at_us = meta_db_i64(r, i, META_D_NEXT);
    d->delivered_at_us = meta_db_i64(r, i, META_D_DELIVERED);
    d->last_status = (int32_t)meta_db_i64(r, i, META_D_STATUS);
    d->last_error = meta_cx_strdup(cx, PQgetvalue(r, i, META_D_ERROR));
    d->last_attempt_at_us = meta_db_i64(r, i, META_D_LAST_ATTEMPT);
    d->last_duration_ms = (int32_t)meta_db_i64(r, i, META_D_DURATION);
    if (claimed) {
        d->body = meta_cx_strdup(cx, PQgetvalue(r, i, META_D_BODY));
        d->url = meta_cx_strdup(cx, PQgetvalue(r, i, META_D_URL));
        d->secret = meta_cx_strdup(cx, PQgetvalue(r, i, META_D_SECRET));
        if (d->body == NULL || d->url == NULL || d->secret == NULL)
            return meta_cx_nomem(cx);
    }
    if (d->id == NULL || d->subscription_id == NULL || d->image_id == NULL || d->last_error == NULL)
        return meta_cx_nomem(cx);
    if (d->event == IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_EVENT_UNSPECIFIED ||
        d->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_STATE_UNSPECIFIED)
        return meta_cx_fail(cx, IP_INTERNAL, "delivery %s: unknown event or state", d->id);
    *out = d;
    return IP_OK;
}

/* ------------------------------------------------------------- subscriptions */

ip_status meta_store_webhook_create(meta_store *s, meta_ctx *cx, const meta_webhook_new *w,
                                    Imageproc__WebhookSubscription **out)
{
    PGresult *r = NULL;
    char events[EVENT_LIST_MAX];
    events_text(w->events, events);
    const char *params[] = {w->id,
                            w->url,
                            w->secret,
                            events,
                            w->key_id ? w->key_id : "",
                            w->own_images_only ? "true" : "false",
                            w->description ? w->description : ""};
    ip_status st = meta_db_query(s, cx, META_ST_WEBHOOK_CREATE, 7, params, &r);
    if (st != IP_OK)
        return st;
    return one_webhook(cx, r, IP_ALREADY_EXISTS, "already exists", w->id, out);
}

ip_status meta_store_webhook_list(meta_store *s, meta_ctx *cx, const char *key_id, bool all,
                                  Imageproc__WebhookSubscription ***subs, size_t *n)
{
    PGresult *r = NULL;
    const char *params[] = {key_id ? key_id : "", all ? "true" : "false"};
    *subs = NULL;
    *n = 0;
    ip_status st = meta_db_query(s, cx, META_ST_WEBHOOK_LIST, 2, params, &r);
    if (st != IP_OK)
        return st;
    int rows = PQntuples(r);
    Imageproc__WebhookSubscription **arr =
        meta_cx_alloc(cx, (size_t)(rows ? rows : 1) * sizeof(*arr));
    if (arr == NULL) {
        PQclear(r);
        return meta_cx_nomem(cx);
    }
    for (int i = 0; i < rows && st == IP_OK; i++)
        st = row_webhook(cx, r, i, &arr[i]);
    PQclear(r);
    if (st != IP_OK)
        return st;
    *subs = arr;
    *n = (size_t)rows;
    return IP_OK;
}

ip_status meta_store_webhook_get(meta_store *s, meta_ctx *cx, const char *id,
                                 Imageproc__WebhookSubscription **out)
{
    PGresult *r = NULL;
    const char *params[] = {id};
    ip_status st = meta_db_query(s, cx, META_ST_WEBHOOK_GET, 1, params, &r);
    if (st != IP_OK)
        return st;
    return one_webhook(cx, r, IP_NOT_FOUND, "not found", id, out);
}

ip_status meta_store_webhook_delete(meta_store *s, meta_ctx *cx, const char *id, int *cancelled)
{
    PGconn *conn = NULL;
    PGresult *r = NULL;
    const char *params[] = {id};
    *cancelled = 0;
    ip_status st = meta_db_begin(s, cx, &conn);
    if (st != IP_OK)
        return st;
    if ((st = meta_db_run(cx, conn, META_ST_WEBHOOK_DELETE, 1, params, &r)) != IP_OK)
        goto out;
    int deleted = PQntuples(r);
    PQclear(r);
    if (deleted == 0) {
        st = meta_cx_fail(cx, IP_NOT_FOUND, "webhook %s not found", id);
        goto out;
    }
    if ((st = meta_db_run(cx, conn, META_ST_WEBHOOK_CANCEL, 1, params, &r)) != IP_OK)
        goto out;
    int n = atoi(PQcmdTuples(r));
    PQclear(r);
    if ((st = meta_db_commit(cx, conn)) != IP_OK)
        goto out;
    *cancelled = n;
out:
    meta_pool_release(s->pool, conn);
    return st;
}

/* ------------------------------------------------------------- the log */

ip_status meta_store_deliveries(meta_store *s, meta_ctx *cx, const meta_delivery_query *q,
                                Imageproc__WebhookDelivery ***out, size_t *n, bool *has_more)
{
    PGresult *r = NULL;
    char lim[16], before[24];
    snprintf(lim, sizeof(lim), "%d", q->limit + 1); /* one more: is there another page? */
    snprintf(before, sizeof(before), "%lld", (long long)q->before_created_at_us);
    const char *params[] = {q->subscription_id, lim, before, q->before_id ? q->before_id : ""};
    *out = NULL;
    *n = 0;
    *has_more = false;
    ip_status st = q->has_cursor ? meta_db_query(s, cx, META_ST_DELIVERIES_AFTER, 4, params, &r)
                                 : meta_db_query(s, cx, META_ST_DELIVERIES_FIRST, 2, params, &r);
    if (st != IP_OK)
        return st;
    int rows = PQntuples(r);
    bool more = rows > q->limit;
    if (more)
        rows = q->limit;
    Imageproc__WebhookDelivery **arr = meta_cx_alloc(cx, (size_t)(rows ? rows : 1) * sizeof(*arr));
    if (arr == NULL) {
        PQclear(r);
        return meta_cx_nomem(cx);
    }
    for (int i = 0; i < rows && st == IP_OK; i++)
        st = meta_rows_delivery(cx, r, i, false, &arr[i]);
    PQclear(r);
    if (st != IP_OK)
        return st;
    *out = arr;
    *n = (size_t)rows;
    *has_more = more;
    return IP_OK;
}

ip_status meta_store_delivery_resend(meta_store *s, meta_ctx *cx, const char *subscription_id,
                                     const char *id, Imageproc__WebhookDelivery **out)
{
    PGresult *r = NULL;
    const char *params[] = {subscription_id, id};
    ip_status st = meta_db_query(s, cx, META_ST_DELIVERY_RESEND, 2, params, &r);
    if (st != IP_OK)
        return st;
    if (PQntuples(r) == 1)
        st = meta_rows_delivery(cx, r, 0, false, out);
    else
        st = meta_cx_fail(cx, IP_NOT_FOUND, "delivery %s of webhook %s not found", id,
                          subscription_id);
    PQclear(r);
    return st;
}
