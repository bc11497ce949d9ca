/* imgctl_webhooks_test.c — `imgctl webhooks` against a fake metadata-svc
 * (typed RPC stubs on an ipc address of this process): what create sends
 * (a v7 id, a valid new secret, the URL, the events in canonical order, the
 * key and --own) and prints (the secret once), list by key or all,
 * deliveries with --limit, resend and delete; and every usage error, found
 * before any call (exit 2).
 */
#include <jansson.h>
#include <pthread.h>
#include <string.h>

#include "imgctl_testing.h"
#include "ip_rpc_stubs.h"
#include "ip_testing.h"
#include "ip_uuid.h"
#include "ip_webhook.h"

#define SUB "0190f2a4-5b6c-7d8e-9f00-0000000000b1"
#define KEY "0190f2a4-5b6c-7d8e-9f00-0000000000a1"
#define MSG "msg_0123456789abcdef0123456789abcdef"
#define CREATED_US 1795911760123456LL /* 2026-11-29T00:22:40.123456Z */

static char url[96];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char got_id[64], got_secret[IP_WEBHOOK_SECRET_MAX], got_url[256], got_key[64];
static char got_desc[256], listed_key[64];
static Imageproc__WebhookEvent got_events[4];
static size_t n_got_events;
static bool got_own, listed_all;
static int got_limit;

static ip_status h_create(void *user, ip_rpc_call *call, const Imageproc__CreateWebhookRequest *in,
                          Imageproc__CreateWebhookReply *out)
{
    (void)user;
    const Imageproc__WebhookSubscription *s = in->subscription;
    pthread_mutex_lock(&mu);
    snprintf(got_id, sizeof got_id, "%s", s->id);
    snprintf(got_secret, sizeof got_secret, "%s", s->secret);
    snprintf(got_url, sizeof got_url, "%s", s->url);
    snprintf(got_key, sizeof got_key, "%s", s->key_id);
    snprintf(got_desc, sizeof got_desc, "%s", s->description);
    n_got_events = s->n_events < 4 ? s->n_events : 4;
    memcpy(got_events, s->events, n_got_events * sizeof *got_events);
    got_own = s->own_images_only;
    pthread_mutex_unlock(&mu);
    Imageproc__WebhookSubscription *r = ip_rpc_call_alloc(call, sizeof *r);
    *r = *s;
    r->secret = "";
    r->created_at_us = CREATED_US;
    out->subscription = r;
    return IP_OK;
}

static Imageproc__WebhookEvent ready_only[] = {IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_READY};

static ip_status h_list(void *user, ip_rpc_call *call, const Imageproc__ListWebhooksRequest *in,
                        Imageproc__ListWebhooksReply *out)
{
    (void)user;
    pthread_mutex_lock(&mu);
    snprintf(listed_key, sizeof listed_key, "%s", in->key_id);
    listed_all = in->all;
    pthread_mutex_unlock(&mu);
    Imageproc__WebhookSubscription *s = ip_rpc_call_alloc(call, sizeof *s);
    imageproc__webhook_subscription__init(s);
    s->id = SUB;
    s->url = "https://example.com/h";
    s->events = ready_only;
    s->n_events = 1;
    s->created_at_us = CREATED_US;
    out->subscriptions = ip_rpc_call_alloc(call, sizeof *out->subscriptions);
    out->subscriptions[0] = s;
    out->n_subscriptions = 1;
    return IP_OK;
}

static ip_status h_delete(void *user, ip_rpc_call *call, const Imageproc__DeleteWebhookRequest *in,
                          Imageproc__DeleteWebhookReply *out)
{
    (void)user;
    if (strcmp(in->id, SUB) != 0) {
        ip_rpc_call_errorf(call, "no subscription %s", in->id);
        return IP_NOT_FOUND;
    }
    out->cancelled = 3;
    return IP_OK;
}

static Imageproc__WebhookDelivery *delivery(ip_rpc_call *call)
{
    Imageproc__WebhookDelivery *d = ip_rpc_call_alloc(call, sizeof *d);
    imageproc__webhook_delivery__init(d);
    d->id = MSG;
    d->subscription_id = SUB;
    d->event = IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_READY;
    d->image_id = "0190f2a4-5b6c-7d8e-9f00-00000000000a";
    d->state = IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING;
    d->attempts = 2;
    d->created_at_us = CREATED_US;
    d->next_attempt_at_us = CREATED_US + 1000000;
    d->last_error = "HTTP 500: no";
    d->last_status = 500;
    return d;
}

static ip_status h_deliveries(void *user, ip_rpc_call *call,
                              const Imageproc__ListDeliveriesRequest *in,
                              Imageproc__ListDeliveriesReply *out)
{
    (void)user;
    pthread_mutex_lock(&mu);
    got_limit = in->limit;
    pthread_mutex_unlock(&mu);
    out->deliveries = ip_rpc_call_alloc(call, sizeof *out->deliveries);
    out->deliveries[0] = delivery(call);
    out->n_deliveries = 1;
    return IP_OK;
}

static ip_status h_resend(void *user, ip_rpc_call *call, const Imageproc__ResendDeliveryRequest *in,
                          Imageproc__ResendDeliveryReply *out)
{
    (void)user;
    if (strcmp(in->id, MSG) != 0)
        return IP_NOT_FOUND;
    out->delivery = delivery(call);
    return IP_OK;
}

static const ip_metadata_impl impl = {.create_webhook = h_create,
                                      .list_webhooks = h_list,
                                      .delete_webhook = h_delete,
                                      .list_deliveries = h_deliveries,
                                      .resend_delivery = h_resend};

/* Runs imgctl against the fake, expects exit 0 and one JSON line; it parsed. */
static json_t *one_line(const char *args)
{
    char cmd[1024], *out, *err;
    snprintf(cmd, sizeof cmd, "--url %s %s", url, args);
    int rc = imgctl_run(cmd, &out, &err);
    CHECKF(rc == 0, "imgctl %s: exit %d: %s", args, rc, err);
    char *nl = strchr(out, '\n');
    CHECKF(nl != NULL && nl[1] == '\0', "imgctl %s: not one line: %s", args, out);
    json_t *j = json_loads(out, 0, NULL);
    CHECKF(j != NULL, "imgctl %s: not JSON: %s", args, out);
    free(out);
    free(err);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void test_webhooks_roundtrip(void)
{
    snprintf(url, sizeof url, "ipc:///tmp/imgctl_webhooks_test_%d", (int)getpid());
    ip_rpc_server *srv = NULL;
    ip_rpc_server_opts so = {.url = url, .workers = 2};
    CHECK_ST(ip_metadata_server_new(&impl, &so, &srv), IP_OK, url);

    json_t *j = one_line("webhooks create https://example.com/h --events deleted,ready --key " KEY
                         " --own --description 'from ops'");
    EXPECT(ip_uuid_valid(got_id) && !strcmp(jstr(j, "id"), got_id));
    EXPECT(ip_webhook_secret_valid(got_secret));
    EXPECT_EQ_STR(jstr(j, "secret"), got_secret); /* printed once, as sent */
    EXPECT_EQ_STR(got_url, "https://example.com/h");
    EXPECT_EQ_STR(got_key, KEY);
    EXPECT_EQ_STR(got_desc, "from ops");
    EXPECT(got_own && n_got_events == 2 &&
           got_events[0] == IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_READY &&
           got_events[1] == IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_DELETED);
    EXPECT_EQ_STR(jstr(j, "images"), "own");
    EXPECT_EQ_STR(jstr(j, "key_id"), KEY);
    EXPECT_EQ_STR(jstr(j, "created_at"), "2026-11-29T00:22:40.123456Z");
    json_decref(j);

    /* Without options: every event, an operator's subscription. */
    j = one_line("webhooks create http://127.0.0.1:9/h");
    EXPECT(n_got_events == 3 && !got_own && !strcmp(got_key, ""));
    EXPECT(json_is_null(json_object_get(j, "key_id")));
    json_decref(j);

    j = one_line("webhooks list");
    EXPECT(listed_all && json_object_get(j, "secret") == NULL && !strcmp(jstr(j, "id"), SUB));
    json_decref(j);
    j = one_line("webhooks list --key " KEY);
    EXPECT(!listed_all && !strcmp(listed_key, KEY));
    json_decref(j);

    j = one_line("webhooks deliveries " SUB " --limit 7");
    EXPECT_EQ_INT(got_limit, 7);
    EXPECT_EQ_STR(jstr(j, "id"), MSG);
    EXPECT_EQ_STR(jstr(j, "state"), "pending");
    EXPECT_EQ_STR(jstr(j, "event"), "image.ready");
    EXPECT_EQ_INT(json_integer_value(json_object_get(j, "last_status")), 500);
    EXPECT_EQ_STR(jstr(j, "next_attempt_at"), "2026-11-29T00:22:41.123456Z");
    json_decref(j);
    j = one_line("webhooks deliveries " SUB);
    EXPECT_EQ_INT(got_limit, 24);
    json_decref(j);

    j = one_line("webhooks resend " SUB " " MSG);
    EXPECT_EQ_STR(jstr(j, "id"), MSG);
    json_decref(j);
    j = one_line("webhooks delete " SUB);
    EXPECT(!strcmp(jstr(j, "id"), SUB) && json_integer_value(json_object_get(j, "cancelled")) == 3);
    json_decref(j);
    imgctl_expect(1, NULL, "not found", "--url %s webhooks delete %s", url,
                  "0190f2a4-5b6c-7d8e-9f00-0000000000b9");
    ip_rpc_server_free(srv);
}

static void test_webhooks_usage(void)
{
    static const struct {
        const char *args, *says;
    } bad[] = {
        {"webhooks", "usage"},
        {"webhooks nope", "unknown command \"nope\""},
        {"webhooks create", "create needs the URL"},
        {"webhooks create ftp://example.com/h", "scheme"},
        {"webhooks create https://example.com/h extra", "unexpected \"extra\""},
        {"webhooks create https://example.com/h --own", "--own needs --key"},
        {"webhooks create https://example.com/h --key nope", "--key takes a key id"},
        {"webhooks create https://example.com/h --events", "--events needs a value"},
        {"webhooks create https://example.com/h --events ready,nope", "unknown event \"nope\""},
        {"webhooks create https://example.com/h --events ready,ready", "\"ready\" twice"},
        {"webhooks create https://example.com/h --events ,", "at least one"},
        {"webhooks create https://example.com/h --bogus", "unexpected \"--bogus\""},
        {"webhooks list --all", "list takes only --key"},
        {"webhooks list --key nope", "not a key id"},
        {"webhooks delete", "delete takes one subscription id"},
        {"webhooks delete nope", "not a subscription id"},
        {"webhooks deliveries " SUB " --limit 0", "--limit takes 1..100"},
        {"webhooks deliveries " SUB " --limit 101", "--limit takes 1..100"},
        {"webhooks deliveries " SUB " --limit", "deliveries takes"},
        {"webhooks resend " SUB, "resend takes"},
        {"webhooks resend " SUB " msg_12", "not a delivery id"},
        {"webhooks resend nope " MSG, "not a subscription id"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        imgctl_expect(2, NULL, bad[i].says, "--url ipc:///tmp/imgctl-nobody %s", bad[i].args);
    char desc[300];
    memset(desc, 'd', 201);
    desc[201] = '\0';
    imgctl_expect(2, NULL, "--description takes at most 200 bytes",
                  "webhooks create https://example.com/h --description %s", desc);
}

static const ip_test_case tests[] = {IP_TEST(webhooks_roundtrip), IP_TEST(webhooks_usage)};
IP_TEST_MAIN(tests)
