/* meta_validate_webhooks.c — the request checks of the webhook RPCs
 * (declared in meta_validate.h): subscriptions, the delivery log, resends,
 * claims and outcomes.
 *
 * Like meta_validate.c, each check returns IP_OK or IP_INVALID_ARGUMENT with
 * a message that starts with the offending field ("subscription.url: ...",
 * "retry_after_ms: ..."), and touches nothing but its arguments. The form of
 * a url and of a secret, and the names of the events, are common/ip_webhook.h's:
 * the gateway and imgctl check with the same functions, so they never
 * disagree with the store. The one field that is cleaned rather than refused
 * is an attempt's error text (meta_delivery_error_clean): it may quote what a
 * receiver sent, and refusing it would only leave the delivery claimed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ip_utf8.h"
#include "ip_webhook.h"
#include "meta_validate.h"

static ip_status invalid(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static ip_status invalid(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return IP_INVALID_ARGUMENT;
}

static bool empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* "" or a UUID. */
static ip_status check_optional_id(const char *id, const char *field, char *err, size_t errlen)
{
    return empty(id) ? IP_OK : meta_check_id(id, field, err, errlen);
}

/* Subscription.events: at least one, each known, each once; the set into
 * *mask. */
static ip_status check_events(const Imageproc__WebhookEvent *events, size_t n, unsigned *mask,
                              char *err, size_t errlen)
{
    unsigned m = 0;
    if (n == 0)
        return invalid(err, errlen,
                       "subscription.events: at least one of image.ready, image.failed, "
                       "image.deleted");
    for (size_t i = 0; i < n; i++) {
        if (ip_webhook_event_name(events[i]) == NULL)
            return invalid(err, errlen, "subscription.events[%zu]: unknown event", i);
        unsigned bit = 1u << (unsigned)events[i];
        if (m & bit)
            return invalid(err, errlen, "subscription.events[%zu]: %s given twice", i,
                           ip_webhook_event_name(events[i]));
        m |= bit;
    }
    *mask = m;
    return IP_OK;
}

ip_status meta_check_webhook(const Imageproc__CreateWebhookRequest *req, unsigned *events,
                             char *err, size_t errlen)
{
    ip_status st;
    char why[128];
    *events = 0;
    const Imageproc__WebhookSubscription *w = req != NULL ? req->subscription : NULL;
    if (w == NULL)
        return invalid(err, errlen, "subscription: required");
    if ((st = meta_check_id(w->id, "subscription.id", err, errlen)) != IP_OK)
        return st;
    if (empty(w->url))
        return invalid(err, errlen, "subscription.url: required");
    if (ip_webhook_url_check(w->url, why, sizeof(why)) != IP_OK)
        return invalid(err, errlen, "subscription.url: %s", why);
    if (!ip_webhook_secret_valid(w->secret))
        return invalid(err, errlen,
                       "subscription.secret: want \"" IP_WEBHOOK_SECRET_PREFIX
                       "\" + base64 of 24..64 bytes");
    if ((st = check_events(w->events, w->n_events, events, err, errlen)) != IP_OK)
        return st;
    if ((st = check_optional_id(w->key_id, "subscription.key_id", err, errlen)) != IP_OK)
        return st;
    if (w->own_images_only && empty(w->key_id))
        return invalid(err, errlen, "subscription.own_images_only: needs key_id");
    if ((st = meta_check_text(w->description, "subscription.description", err, errlen)) != IP_OK)
        return st;
    if (w->description != NULL && strlen(w->description) > META_WEBHOOK_DESCRIPTION_MAX)
        return invalid(err, errlen, "subscription.description: longer than %d bytes",
                       META_WEBHOOK_DESCRIPTION_MAX);
    return IP_OK;
}

ip_status meta_check_list_webhooks(const Imageproc__ListWebhooksRequest *req, char *err,
                                   size_t errlen)
{
    return check_optional_id(req->key_id, "key_id", err, errlen);
}

ip_status meta_check_delivery_id(const char *id, const char *field, char *err, size_t errlen)
{
    if (empty(id))
        return invalid(err, errlen, "%s: required", field);
    size_t n = strlen(id);
    if (n != 36 || strncmp(id, "msg_", 4) != 0 || strspn(id + 4, "0123456789abcdef") != 32)
        return invalid(err, errlen, "%s: want \"msg_\" + 32 lowercase hex digits", field);
    return IP_OK;
}

ip_status meta_check_list_deliveries(const Imageproc__ListDeliveriesRequest *req, bool *has_cursor,
                                     char *err, size_t errlen)
{
    ip_status st;
    *has_cursor = false;
    if ((st = meta_check_id(req->subscription_id, "subscription_id", err, errlen)) != IP_OK)
        return st;
    if (req->limit < 1 || req->limit > META_DELIVERIES_MAX)
        return invalid(err, errlen, "limit: must be 1..%d", META_DELIVERIES_MAX);
    bool id_set = !empty(req->before_id);
    if (!id_set && req->before_created_at_us == 0)
        return IP_OK;
    if (!id_set)
        return invalid(err, errlen, "before_id: required with before_created_at_us");
    if (req->before_created_at_us == 0)
        return invalid(err, errlen, "before_created_at_us: required with before_id");
    if (req->before_created_at_us < 0 || req->before_created_at_us > META_MAX_US)
        return invalid(err, errlen, "before_created_at_us: out of range");
    if ((st = meta_check_delivery_id(req->before_id, "before_id", err, errlen)) != IP_OK)
        return st;
    *has_cursor = true;
    return IP_OK;
}

ip_status meta_check_resend(const Imageproc__ResendDeliveryRequest *req, char *err, size_t errlen)
{
    ip_status st = meta_check_id(req->subscription_id, "subscription_id", err, errlen);
    return st == IP_OK ? meta_check_delivery_id(req->id, "id", err, errlen) : st;
}

ip_status meta_check_claim_deliveries(int32_t limit, int64_t claim_ms, char *err, size_t errlen)
{
    if (limit < 1 || limit > META_DELIVERIES_MAX)
        return invalid(err, errlen, "limit: must be 1..%d", META_DELIVERIES_MAX);
    if (claim_ms < META_DELIVERY_CLAIM_MIN_MS || claim_ms > META_DELIVERY_CLAIM_MAX_MS)
        return invalid(err, errlen, "claim_ms: must be %lld..%lld",
                       (long long)META_DELIVERY_CLAIM_MIN_MS,
                       (long long)META_DELIVERY_CLAIM_MAX_MS);
    return IP_OK;
}

ip_status meta_check_finish_delivery(const Imageproc__FinishDeliveryRequest *req, char *err,
                                     size_t errlen)
{
    ip_status st = meta_check_delivery_id(req->id, "id", err, errlen);
    if (st != IP_OK)
        return st;
    if (req->status < 0 || req->status > 999)
        return invalid(err, errlen, "status: must be 0 (no answer) or an HTTP status");
    if (req->duration_ms < 0)
        return invalid(err, errlen, "duration_ms: negative");
    if (req->delivered) {
        if (req->status < 200 || req->status > 299)
            return invalid(err, errlen, "status: a delivered attempt was answered 2xx");
        return IP_OK;
    }
    if (req->retry_after_ms < META_RETRY_AFTER_MIN_MS ||
        req->retry_after_ms > META_RETRY_AFTER_MAX_MS)
        return invalid(err, errlen, "retry_after_ms: must be %lld..%lld",
                       (long long)META_RETRY_AFTER_MIN_MS, (long long)META_RETRY_AFTER_MAX_MS);
    if (req->horizon_ms < META_HORIZON_MIN_MS || req->horizon_ms > META_HORIZON_MAX_MS)
        return invalid(err, errlen, "horizon_ms: must be %lld..%lld",
                       (long long)META_HORIZON_MIN_MS, (long long)META_HORIZON_MAX_MS);
    return IP_OK;
}

void meta_delivery_error_clean(const char *error, char out[META_DELIVERY_ERROR_MAX + 1])
{
    const unsigned char *p = (const unsigned char *)(error != NULL ? error : "");
    size_t n = 0;
    while (*p != '\0') {
        size_t len = ip_utf8_seq(p, strnlen((const char *)p, 4));
        const unsigned char *from = len > 0 ? p : (const unsigned char *)"?";
        size_t take = len > 0 ? len : 1;
        if (n + take > META_DELIVERY_ERROR_MAX)
            break;
        memcpy(out + n, from, take);
        n += take;
        p += take;
    }
    out[n] = '\0';
}
