/* imgctl_webhooks.c — `imgctl webhooks create|list|delete|deliveries|resend`:
 * webhook subscriptions and their delivery logs, through metadata-svc.
 *
 *   create URL [--events ready,failed,deleted] [--key KEY_ID] [--own]
 *          [--description TEXT]
 *           makes a subscription here (a v7 id, a new "whsec_" secret from
 *           getrandom, common/ip_webhook.h) and sends it (CreateWebhook).
 *           Without --key it is an operator's subscription (only an admin
 *           key manages it over REST); with --key it belongs to that API key,
 *           and --own limits it to the images uploaded with that key. Prints
 *           one JSON line: id, url, events, images, key_id, description,
 *           created_at and secret — the only place the secret is shown.
 *   list [--key KEY_ID]
 *           one JSON line per live subscription, oldest first (ListWebhooks):
 *           every one, or those of one key. Never the secret.
 *   delete ID
 *           DeleteWebhook: its pending deliveries are cancelled; prints
 *           {"id","cancelled"}.
 *   deliveries ID [--limit N]
 *           the delivery log, newest first (ListDeliveries, N 1..100, default
 *           24), one JSON line per delivery; readable after a delete too.
 *   resend ID DELIVERY_ID
 *           ResendDelivery: the delivery is sent again (same webhook-id and
 *           body); prints its line.
 * Every usage error (exit 2) is found before metadata-svc is called.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgctl_internal.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "ip_webhook.h"
#include "metadata.pb-c.h"

#define DESCRIPTION_MAX 200 /* bytes, as metadata-svc checks */
#define LIMIT_DEFAULT 24
#define LIMIT_MAX 100

/* What the words after "webhooks" ask for. */
typedef struct hooks_args {
    enum { HOOKS_CREATE, HOOKS_LIST, HOOKS_DELETE, HOOKS_DELIVERIES, HOOKS_RESEND } cmd;
    const char *url; /* create */
    Imageproc__WebhookEvent events[3];
    size_t n_events;         /* create */
    const char *key_id;      /* create, list: NULL = none */
    bool own;                /* create */
    const char *description; /* create */
    const char *id;          /* delete, deliveries, resend */
    const char *delivery_id; /* resend */
    int limit;               /* deliveries */
} hooks_args;

static const char hooks_usage[] =
    "usage: imgctl webhooks create URL [--events ready,failed,deleted] [--key KEY-ID] [--own]\n"
    "                              [--description TEXT]\n"
    "       imgctl webhooks list [--key KEY-ID]\n"
    "       imgctl webhooks delete SUBSCRIPTION-ID\n"
    "       imgctl webhooks deliveries SUBSCRIPTION-ID [--limit N]\n"
    "       imgctl webhooks resend SUBSCRIPTION-ID DELIVERY-ID\n";

static bool usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "imgctl: webhooks: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n%s", hooks_usage);
    va_end(ap);
    return false;
}

/* "ready,failed" (or the full names) into canonical order, each once. */
static bool parse_events(const char *list, hooks_args *h)
{
    bool seen[4] = {false, false, false, false};
    char buf[128];
    if (strlen(list) >= sizeof buf)
        return usage_error("--events: %s", "too long");
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        Imageproc__WebhookEvent e = ip_webhook_event_parse(w);
        if (e < 1 || e > 3)
            return usage_error("--events: unknown event \"%s\" (ready, failed, deleted)", w);
        if (seen[e])
            return usage_error("--events: \"%s\" twice", w);
        seen[e] = true;
    }
    h->n_events = 0;
    for (int e = 1; e <= 3; e++)
        if (seen[e])
            h->events[h->n_events++] = (Imageproc__WebhookEvent)e;
    if (h->n_events == 0)
        return usage_error("--events needs %s", "at least one of ready, failed, deleted");
    return true;
}

static bool parse_create(char **args, int nargs, hooks_args *h)
{
    char err[200];
    for (int i = 1; i < nargs; i++) {
        const char *a = args[i];
        bool has_value = i + 1 < nargs;
        if (strcmp(a, "--own") == 0) {
            h->own = true;
        } else if (strcmp(a, "--events") == 0 || strcmp(a, "--key") == 0 ||
                   strcmp(a, "--description") == 0) {
            if (!has_value)
                return usage_error("%s needs a value", a);
            const char *v = args[++i];
            if (strcmp(a, "--events") == 0 && !parse_events(v, h))
                return false;
            if (strcmp(a, "--key") == 0)
                h->key_id = v;
            if (strcmp(a, "--description") == 0)
                h->description = v;
        } else if (a[0] == '-' || h->url) {
            return usage_error("unexpected \"%s\"", a);
        } else {
            h->url = a;
        }
    }
    if (!h->url)
        return usage_error("create needs %s", "the URL that receives the webhooks");
    if (ip_webhook_url_check(h->url, err, sizeof err) != IP_OK)
        return usage_error("URL: %s", err);
    if (h->key_id && !ip_uuid_valid(h->key_id))
        return usage_error("--key takes a key id (a UUID, as keys list shows it), not \"%s\"",
                           h->key_id);
    if (h->own && !h->key_id)
        return usage_error("--own needs %s", "--key: the images of which key");
    if (h->description && strlen(h->description) > DESCRIPTION_MAX)
        return usage_error("--description takes %s", "at most 200 bytes");
    if (h->n_events == 0) {
        for (int e = 1; e <= 3; e++)
            h->events[h->n_events++] = (Imageproc__WebhookEvent)e;
    }
    return true;
}

static bool parse_id(const char *s, const char *what)
{
    if (ip_uuid_valid(s))
        return true;
    return usage_error("\"%s\" is not a %s id (a UUID)", s, what);
}

/* The words after "webhooks"; false (said on stderr) for a usage error. */
static bool parse_hooks(char **args, int nargs, hooks_args *h)
{
    memset(h, 0, sizeof *h);
    h->limit = LIMIT_DEFAULT;
    const char *w = nargs >= 1 ? args[0] : "";
    if (strcmp(w, "create") == 0) {
        h->cmd = HOOKS_CREATE;
        return parse_create(args, nargs, h);
    }
    if (strcmp(w, "list") == 0) {
        h->cmd = HOOKS_LIST;
        if (nargs == 1)
            return true;
        if (nargs != 3 || strcmp(args[1], "--key") != 0)
            return usage_error("list takes only %s", "--key KEY-ID");
        h->key_id = args[2];
        return parse_id(h->key_id, "key");
    }
    if (strcmp(w, "delete") == 0) {
        h->cmd = HOOKS_DELETE;
        if (nargs != 2)
            return usage_error("delete takes %s", "one subscription id");
        h->id = args[1];
        return parse_id(h->id, "subscription");
    }
    if (strcmp(w, "deliveries") == 0) {
        h->cmd = HOOKS_DELIVERIES;
        if (nargs != 2 && !(nargs == 4 && strcmp(args[2], "--limit") == 0))
            return usage_error("deliveries takes %s", "one subscription id and --limit N");
        h->id = args[1];
        if (nargs == 4) {
            char *end = NULL;
            long n = strtol(args[3], &end, 10);
            if (!*args[3] || *end || n < 1 || n > LIMIT_MAX)
                return usage_error("--limit takes %s", "1..100");
            h->limit = (int)n;
        }
        return parse_id(h->id, "subscription");
    }
    if (strcmp(w, "resend") == 0) {
        h->cmd = HOOKS_RESEND;
        if (nargs != 3)
            return usage_error("resend takes %s", "a subscription id and a delivery id");
        h->id = args[1];
        h->delivery_id = args[2];
        if (!parse_id(h->id, "subscription"))
            return false;
        size_t n = strlen(h->delivery_id);
        if (n != IP_WEBHOOK_ID_MAX - 1 || strncmp(h->delivery_id, "msg_", 4) != 0 ||
            strspn(h->delivery_id + 4, "0123456789abcdef") != n - 4)
            return usage_error("\"%s\" is not a delivery id (msg_ and 32 hex digits)",
                               h->delivery_id);
        return true;
    }
    return usage_error("unknown command \"%s\"", w);
}

/* ------------------------------------------------------------------ output */

static json_t *time_or_null(int64_t us)
{
    char t[IP_RFC3339_LEN + 1];
    if (us <= 0)
        return json_null();
    ip_time_format(us, t);
    return json_string(t);
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *subscription_json(const Imageproc__WebhookSubscription *s, const char *secret)
{
    json_t *events = json_array();
    for (size_t i = 0; i < s->n_events; i++) {
        const char *name = ip_webhook_event_name(s->events[i]);
        json_array_append_new(events, name ? json_string(name) : json_null());
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(s->id));
    json_object_set_new(o, "url", json_string(s->url));
    json_object_set_new(o, "events", events);
    json_object_set_new(o, "images", json_string(s->own_images_only ? "own" : "all"));
    json_object_set_new(o, "key_id", str_or_null(s->key_id));
    json_object_set_new(o, "description", json_string(s->description ? s->description : ""));
    json_object_set_new(o, "created_at", time_or_null(s->created_at_us));
    if (secret)
        json_object_set_new(o, "secret", json_string(secret));
    return o;
}

static json_t *delivery_json(const Imageproc__WebhookDelivery *d)
{
    json_t *o = json_object();
    const char *event = ip_webhook_event_name(d->event);
    const char *state = ip_delivery_state_name(d->state);
    json_object_set_new(o, "id", json_string(d->id));
    json_object_set_new(o, "event", event ? json_string(event) : json_null());
    json_object_set_new(o, "image_id", json_string(d->image_id));
    json_object_set_new(o, "state", state ? json_string(state) : json_null());
    json_object_set_new(o, "attempts", json_integer(d->attempts));
    json_object_set_new(o, "created_at", time_or_null(d->created_at_us));
    json_object_set_new(o, "next_attempt_at",
                        d->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING
                            ? time_or_null(d->next_attempt_at_us)
                            : json_null());
    json_object_set_new(o, "delivered_at", time_or_null(d->delivered_at_us));
    json_object_set_new(o, "last_attempt_at", time_or_null(d->last_attempt_at_us));
    json_object_set_new(o, "last_status",
                        d->last_status ? json_integer(d->last_status) : json_null());
    json_object_set_new(o, "last_error", json_string(d->last_error ? d->last_error : ""));
    json_object_set_new(o, "last_duration_ms", json_integer(d->last_duration_ms));
    return o;
}

/* Prints `o` (consumed) as one line; false when it could not be made. */
static bool print_line(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    if (!s) {
        fprintf(stderr, "imgctl: webhooks: cannot format the reply\n");
        return false;
    }
    printf("%s\n", s);
    free(s);
    return true;
}

/* ------------------------------------------------------------------ commands */

static int rpc_failed(const char *what, ip_status st, const char *err)
{
    if (st == IP_NOT_FOUND)
        fprintf(stderr, "imgctl: webhooks %s: not found: %s\n", what, err);
    else
        fprintf(stderr, "imgctl: webhooks %s: %s: %s\n", what, ip_strerror(st), err);
    return IMGCTL_EXIT_FAILED;
}

static int hooks_create(ip_rpc_client *meta, const hooks_args *a)
{
    char id[IP_UUID_STRLEN + 1], secret[IP_WEBHOOK_SECRET_MAX], err[512];
    ip_status st = ip_webhook_new_secret(secret);
    if (st != IP_OK)
        return rpc_failed("create", st, "no randomness from the system");
    ip_uuid_v7_str(id);
    Imageproc__WebhookSubscription s = IMAGEPROC__WEBHOOK_SUBSCRIPTION__INIT;
    s.id = id;
    s.url = (char *)a->url;
    s.secret = secret;
    s.events = (Imageproc__WebhookEvent *)a->events;
    s.n_events = a->n_events;
    s.key_id = (char *)(a->key_id ? a->key_id : "");
    s.own_images_only = a->own;
    s.description = (char *)(a->description ? a->description : "");
    Imageproc__CreateWebhookRequest in = IMAGEPROC__CREATE_WEBHOOK_REQUEST__INIT;
    in.subscription = &s;
    Imageproc__CreateWebhookReply *out = NULL;
    st = ip_metadata_create_webhook(meta, &in, &out, NULL, err, sizeof err);
    int rc = IMGCTL_EXIT_FAILED;
    if (st != IP_OK)
        rc = rpc_failed("create", st, err);
    else if (!out->subscription)
        fprintf(stderr, "imgctl: webhooks create: metadata-svc replied without it\n");
    else if (print_line(subscription_json(out->subscription, secret)))
        rc = IMGCTL_EXIT_OK;
    if (out)
        imageproc__create_webhook_reply__free_unpacked(out, NULL);
    memset(secret, 0, sizeof secret);
    return rc;
}

static int hooks_list(ip_rpc_client *meta, const hooks_args *a)
{
    char err[512];
    Imageproc__ListWebhooksRequest in = IMAGEPROC__LIST_WEBHOOKS_REQUEST__INIT;
    in.key_id = (char *)(a->key_id ? a->key_id : "");
    in.all = a->key_id == NULL;
    Imageproc__ListWebhooksReply *out = NULL;
    ip_status st = ip_metadata_list_webhooks(meta, &in, &out, NULL, err, sizeof err);
    if (st != IP_OK)
        return rpc_failed("list", st, err);
    int rc = IMGCTL_EXIT_OK;
    for (size_t i = 0; i < out->n_subscriptions && rc == IMGCTL_EXIT_OK; i++)
        if (!print_line(subscription_json(out->subscriptions[i], NULL)))
            rc = IMGCTL_EXIT_FAILED;
    imageproc__list_webhooks_reply__free_unpacked(out, NULL);
    return rc;
}

static int hooks_delete(ip_rpc_client *meta, const hooks_args *a)
{
    char err[512];
    Imageproc__DeleteWebhookRequest in = IMAGEPROC__DELETE_WEBHOOK_REQUEST__INIT;
    in.id = (char *)a->id;
    Imageproc__DeleteWebhookReply *out = NULL;
    ip_status st = ip_metadata_delete_webhook(meta, &in, &out, NULL, err, sizeof err);
    if (st != IP_OK)
        return rpc_failed("delete", st, err);
    json_t *o = json_pack("{s:s,s:i}", "id", a->id, "cancelled", (int)out->cancelled);
    imageproc__delete_webhook_reply__free_unpacked(out, NULL);
    return print_line(o) ? IMGCTL_EXIT_OK : IMGCTL_EXIT_FAILED;
}

static int hooks_deliveries(ip_rpc_client *meta, const hooks_args *a)
{
    char err[512];
    Imageproc__ListDeliveriesRequest in = IMAGEPROC__LIST_DELIVERIES_REQUEST__INIT;
    in.subscription_id = (char *)a->id;
    in.limit = a->limit;
    Imageproc__ListDeliveriesReply *out = NULL;
    ip_status st = ip_metadata_list_deliveries(meta, &in, &out, NULL, err, sizeof err);
    if (st != IP_OK)
        return rpc_failed("deliveries", st, err);
    int rc = IMGCTL_EXIT_OK;
    for (size_t i = 0; i < out->n_deliveries && rc == IMGCTL_EXIT_OK; i++)
        if (!print_line(delivery_json(out->deliveries[i])))
            rc = IMGCTL_EXIT_FAILED;
    imageproc__list_deliveries_reply__free_unpacked(out, NULL);
    return rc;
}

static int hooks_resend(ip_rpc_client *meta, const hooks_args *a)
{
    char err[512];
    Imageproc__ResendDeliveryRequest in = IMAGEPROC__RESEND_DELIVERY_REQUEST__INIT;
    in.subscription_id = (char *)a->id;
    in.id = (char *)a->delivery_id;
    Imageproc__ResendDeliveryReply *out = NULL;
    ip_status st = ip_metadata_resend_delivery(meta, &in, &out, NULL, err, sizeof err);
    if (st != IP_OK)
        return rpc_failed("resend", st, err);
    int rc = IMGCTL_EXIT_FAILED;
    if (!out->delivery)
        fprintf(stderr, "imgctl: webhooks resend: metadata-svc replied without it\n");
    else if (print_line(delivery_json(out->delivery)))
        rc = IMGCTL_EXIT_OK;
    imageproc__resend_delivery_reply__free_unpacked(out, NULL);
    return rc;
}

int imgctl_cmd_webhooks(const imgctl_env *env, char **args, int nargs)
{
    hooks_args a;
    if (!parse_hooks(args, nargs, &a))
        return IMGCTL_EXIT_USAGE;
    ip_rpc_client *meta = imgctl_client(env, &imageproc__metadata__descriptor, env->metadata_url);
    if (meta == NULL)
        return IMGCTL_EXIT_USAGE;
    int rc;
    switch (a.cmd) {
    case HOOKS_CREATE:
        rc = hooks_create(meta, &a);
        break;
    case HOOKS_LIST:
        rc = hooks_list(meta, &a);
        break;
    case HOOKS_DELETE:
        rc = hooks_delete(meta, &a);
        break;
    case HOOKS_DELIVERIES:
        rc = hooks_deliveries(meta, &a);
        break;
    default:
        rc = hooks_resend(meta, &a);
        break;
    }
    ip_rpc_client_free(meta);
    return rc;
}
