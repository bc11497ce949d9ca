/* gw_routes_webhooks_test.c — /webhooks through the real dispatch
 * (gw_routes_access on a libmicrohttpd daemon) against a fake metadata-svc
 * made with the typed RPC stubs: which path is which route, 401 without a
 * key, 400 for a bad url, field or id (naming it in `param`), 415/413 for
 * the body, 403 for a key without read scope subscribing to every image,
 * the 201's shape (secret, Location, events in canonical order) and what
 * reached metadata-svc (the caller's key id, own_images_only), the
 * listing per key and for an admin key, 404 for another key's subscription
 * (never 403), the delivery log's JSON and cursor, resend, and a literal
 * private address refused when IP_WEBHOOK_ALLOW_PRIVATE is false.
 * One case per ctest entry (gateway.routes_webhooks.<case>); ASan's leak
 * check at exit covers the replies the requests defer.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_app.h"
#include "gw_routes.h"
#include "ip_access.h"
#include "ip_rpc_stubs.h"
#include "ip_testing.h"
#include "ip_webhook.h"

#define KEY_ID_READ "0190f2a4-5b6c-7d8e-9f00-0000000000a1"
#define KEY_ID_UPLOAD "0190f2a4-5b6c-7d8e-9f00-0000000000a2"
#define KEY_ID_ADMIN "0190f2a4-5b6c-7d8e-9f00-0000000000a3"
#define SUB_READ "0190f2a4-5b6c-7d8e-9f00-0000000000b1" /* the read key's */
#define SUB_NONE "0190f2a4-5b6c-7d8e-9f00-0000000000bf" /* no such subscription */
#define MSG_ID "msg_0123456789abcdef0123456789abcdef"
#define CREATED_US 1795911760123456LL /* 2026-11-29T00:22:40.123456Z */

static gw_app app;
static struct MHD_Daemon *daemon_;
static ip_rpc_server *meta_srv;
static int port;

enum { K_READ, K_UPLOAD, K_ADMIN, NKEYS };
static const char *const key_ids[NKEYS] = {KEY_ID_READ, KEY_ID_UPLOAD, KEY_ID_ADMIN};
static const Imageproc__ApiScope key_scope[NKEYS] = {IMAGEPROC__API_SCOPE__API_SCOPE_READ,
                                                     IMAGEPROC__API_SCOPE__API_SCOPE_UPLOAD,
                                                     IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN};
static char keys[NKEYS][IP_SECRET_MAX], key_hash[NKEYS][IP_ACCESS_HASH_MAX];
static char auth[NKEYS][IP_SECRET_MAX + 40];

/* ------------------------------------------------------------ the fake */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
/* What CreateWebhook received last. */
static char got_key_id[64], got_url[IP_WEBHOOK_URL_MAX + 1], got_secret[IP_WEBHOOK_SECRET_MAX];
static bool got_own;
static size_t got_events;
static int creates;
/* What ListWebhooks / ListDeliveries received last. */
static char listed_key[64], deliveries_before[64];
static bool listed_all;
static int deliveries_limit;

static ip_status h_lookup(void *user, ip_rpc_call *call, const Imageproc__LookupApiKeyRequest *in,
                          Imageproc__LookupApiKeyReply *out)
{
    (void)user;
    for (int i = 0; i < NKEYS; i++) {
        if (strcmp(in->hash, key_hash[i]) != 0)
            continue;
        out->key = ip_rpc_call_alloc(call, sizeof *out->key);
        imageproc__api_key__init(out->key);
        out->key->id = (char *)key_ids[i];
        out->key->scopes = ip_rpc_call_alloc(call, sizeof *out->key->scopes);
        out->key->scopes[0] = key_scope[i];
        out->key->n_scopes = 1;
        return IP_OK;
    }
    return IP_NOT_FOUND;
}

static Imageproc__WebhookEvent all_events[] = {1, 2, 3};

/* The read key's subscription. */
static Imageproc__WebhookSubscription *sub_read(ip_rpc_call *call)
{
    Imageproc__WebhookSubscription *s = ip_rpc_call_alloc(call, sizeof *s);
    imageproc__webhook_subscription__init(s);
    s->id = SUB_READ;
    s->url = "https://example.com/hook";
    s->events = all_events;
    s->n_events = 3;
    s->key_id = KEY_ID_READ;
    s->description = "d";
    s->created_at_us = CREATED_US;
    return s;
}

static ip_status h_create(void *user, ip_rpc_call *call, const Imageproc__CreateWebhookRequest *in,
                          Imageproc__CreateWebhookReply *out)
{
    (void)user;
    const Imageproc__WebhookSubscription *s = in->subscription;
    pthread_mutex_lock(&mu);
    creates++;
    snprintf(got_key_id, sizeof got_key_id, "%s", s->key_id);
    snprintf(got_url, sizeof got_url, "%s", s->url);
    snprintf(got_secret, sizeof got_secret, "%s", s->secret);
    got_own = s->own_images_only;
    got_events = s->n_events;
    pthread_mutex_unlock(&mu);
    /* The reply is the request's subscription with its time; never the secret. */
    Imageproc__WebhookSubscription *r = ip_rpc_call_alloc(call, sizeof *r);
    *r = *s;
    r->secret = "";
    r->created_at_us = CREATED_US;
    out->subscription = r;
    return IP_OK;
}

static ip_status h_get(void *user, ip_rpc_call *call, const Imageproc__GetWebhookRequest *in,
                       Imageproc__GetWebhookReply *out)
{
    (void)user;
    if (strcmp(in->id, SUB_READ) != 0)
        return IP_NOT_FOUND;
    out->subscription = sub_read(call);
    return IP_OK;
}

static ip_status h_list(void *user, ip_rpc_call *call, const Imageproc__ListWebhooksRequest *in,
                        Imageproc__ListWebhooksReply *out)
{
    (void)user;
    pthread_mutex_lock(&mu);
    snprintf(listed_key, sizeof listed_key, "%s", in->key_id);
    listed_all = in->all;
    pthread_mutex_unlock(&mu);
    if (in->all || !strcmp(in->key_id, KEY_ID_READ)) {
        out->subscriptions = ip_rpc_call_alloc(call, sizeof *out->subscriptions);
        out->subscriptions[0] = sub_read(call);
        out->n_subscriptions = 1;
    }
    return IP_OK;
}

static ip_status h_delete(void *user, ip_rpc_call *call, const Imageproc__DeleteWebhookRequest *in,
                          Imageproc__DeleteWebhookReply *out)
{
    (void)user, (void)call;
    out->cancelled = 2;
    return strcmp(in->id, SUB_READ) ? IP_NOT_FOUND : IP_OK;
}

static Imageproc__WebhookDelivery *delivery(ip_rpc_call *call, Imageproc__DeliveryState st)
{
    Imageproc__WebhookDelivery *d = ip_rpc_call_alloc(call, sizeof *d);
    imageproc__webhook_delivery__init(d);
    d->id = MSG_ID;
    d->subscription_id = SUB_READ;
    d->event = IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_READY;
    d->image_id = "0190f2a4-5b6c-7d8e-9f00-00000000000a";
    d->state = st;
    d->attempts = 3;
    d->created_at_us = CREATED_US;
    d->next_attempt_at_us = CREATED_US + 5000000;
    d->last_attempt_at_us = CREATED_US + 1000000;
    d->last_status = st == IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING ? 0 : 500;
    d->last_error = st == IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING ? "timeout after 2000 ms"
                                                                      : "HTTP 500: boom";
    d->last_duration_ms = 2001;
    return d;
}

static ip_status h_deliveries(void *user, ip_rpc_call *call,
                              const Imageproc__ListDeliveriesRequest *in,
                              Imageproc__ListDeliveriesReply *out)
{
    (void)user;
    pthread_mutex_lock(&mu);
    deliveries_limit = in->limit;
    snprintf(deliveries_before, sizeof deliveries_before, "%s", in->before_id);
    pthread_mutex_unlock(&mu);
    out->deliveries = ip_rpc_call_alloc(call, 2 * sizeof *out->deliveries);
    out->deliveries[0] = delivery(call, IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING);
    out->deliveries[1] = delivery(call, IMAGEPROC__DELIVERY_STATE__DELIVERY_FAILED);
    out->n_deliveries = 2;
    out->has_more = true;
    return IP_OK;
}

static ip_status h_resend(void *user, ip_rpc_call *call, const Imageproc__ResendDeliveryRequest *in,
                          Imageproc__ResendDeliveryReply *out)
{
    (void)user;
    if (strcmp(in->id, MSG_ID) != 0 || strcmp(in->subscription_id, SUB_READ) != 0)
        return IP_NOT_FOUND;
    out->delivery = delivery(call, IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING);
    return IP_OK;
}

static const ip_metadata_impl meta_impl = {
    .lookup_api_key = h_lookup,
    .create_webhook = h_create,
    .get_webhook = h_get,
    .list_webhooks = h_list,
    .delete_webhook = h_delete,
    .list_deliveries = h_deliveries,
    .resend_delivery = h_resend,
};

/* ------------------------------------------------------------ the gateway */

static void start(void)
{
    if (daemon_)
        return;
    for (int i = 0; i < NKEYS; i++) {
        CHECK_ST(ip_access_new_secret(IP_SECRET_KEY, keys[i]), IP_OK, "key");
        ip_access_hash(keys[i], key_hash[i]);
        snprintf(auth[i], sizeof auth[i], "Authorization: Bearer %s\r\n", keys[i]);
    }
    static char murl[96];
    snprintf(murl, sizeof murl, "ipc:///tmp/gw_routes_webhooks_test_%d", (int)getpid());
    ip_rpc_server_opts mo = {.url = murl, .workers = 2};
    CHECK_ST(ip_metadata_server_new(&meta_impl, &mo, &meta_srv), IP_OK, murl);
    ip_rpc_client_opts mc = {.urls = murl, .timeout_ms = 2000};
    CHECK_ST(ip_rpc_client_new(&imageproc__metadata__descriptor, &mc, &app.meta), IP_OK, murl);
    app.cfg.rpc_timeout_ms = 2000;
    app.cfg.webhook_allow_private = true;
    gw_metrics_register(&app.m);
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME, 0, NULL,
                               NULL, gw_routes_access, &app, MHD_OPTION_NOTIFY_COMPLETED,
                               gw_routes_done, &app, MHD_OPTION_END);
    CHECK(daemon_ != NULL);
    port = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void stop(void)
{
    if (!daemon_)
        return;
    MHD_stop_daemon(daemon_);
    ip_rpc_client_free(app.meta);
    ip_rpc_server_free(meta_srv);
    daemon_ = NULL;
}

/* One request on its own connection; the whole answer in out, its status
 * returned (0 when none came within 5 s). */
static int http(const char *method, const char *path, const char *headers, const char *body,
                char *out, size_t cap)
{
    start();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    static char req[40000];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%sContent-Length: "
                     "%zu\r\n\r\n%s",
                     method, path, headers ? headers : "", blen, body ? body : "");
    CHECK(n > 0 && (size_t)n < sizeof req);
    CHECK(write(fd, req, (size_t)n) == n);
    size_t len = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (len < cap - 1 && poll(&p, 1, 5000) > 0) {
        ssize_t r = read(fd, out + len, cap - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    out[len] = '\0';
    close(fd);
    int status = 0;
    sscanf(out, "HTTP/1.1 %d", &status);
    return status;
}

/* The answer's body parsed (json_decref it). */
static json_t *body_json(const char *answer)
{
    const char *b = strstr(answer, "\r\n\r\n");
    json_t *j = b ? json_loads(b + 4, 0, NULL) : NULL;
    CHECKF(j != NULL, "not JSON: %.300s", answer);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Expects `status` problem+json naming `param` (NULL: any). */
static void expect_problem(const char *what, const char *answer, int got, int status,
                           const char *param)
{
    EXPECTF(got == status, "%s: %d, want %d: %.300s", what, got, status, answer);
    EXPECTF(strstr(answer, "application/problem+json") != NULL, "%s: not problem+json", what);
    if (param && got == status) {
        json_t *j = body_json(answer);
        EXPECTF(!strcmp(jstr(j, "param"), param), "%s: param \"%s\", want %s", what,
                jstr(j, "param"), param);
        json_decref(j);
    }
}

#define JSON_CT "Content-Type: application/json\r\n"

static char ans[65536];
static char hdrs[256];

/* The key's Authorization header plus a JSON Content-Type. */
static const char *as_json(int k)
{
    start(); /* the keys */
    snprintf(hdrs, sizeof hdrs, "%s" JSON_CT, auth[k]);
    return hdrs;
}

/* ------------------------------------------------------------ tests */

static void test_route_match(void)
{
    char id[64], id2[64];
    EXPECT_EQ_INT(gw_route_match_ids("/webhooks", id, id2), GW_R_WEBHOOKS);
    EXPECT_EQ_INT(gw_route_match_ids("/api/webhooks/abc", id, id2), GW_R_WEBHOOK);
    EXPECT_EQ_STR(id, "abc");
    EXPECT_EQ_INT(gw_route_match_ids("/webhooks/abc/deliveries", id, id2), GW_R_DELIVERIES);
    EXPECT_EQ_INT(gw_route_match_ids("/webhooks/abc/deliveries/msg_1/resend", id, id2),
                  GW_R_RESEND);
    EXPECT(!strcmp(id, "abc") && !strcmp(id2, "msg_1"));
    static const char *const unknown[] = {
        "/webhooks/",
        "/webhooks//deliveries",
        "/webhooks/a/b",
        "/webhooks/a/deliveries/",
        "/webhooks/a/deliveries/m",
        "/webhooks/a/deliveries//resend",
        "/webhooks/a/deliveries/m/resend/x",
        "/webhooksx",
    };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        EXPECTF(gw_route_match_ids(unknown[i], id, id2) == GW_R_UNKNOWN, "%s", unknown[i]);
    /* The image routes keep matching as before. */
    EXPECT_EQ_INT(gw_route_match("/image/x/info", id), GW_R_INFO);
    EXPECT_EQ_STR(id, "x");
    EXPECT_EQ_INT(gw_route_match("/image/x", id), GW_R_IMAGE);
    EXPECT_EQ_INT(gw_route_match("/image/", id), GW_R_UNKNOWN);
    /* An over-long id is cut (validation answers 400). */
    char longp[200];
    snprintf(longp, sizeof longp, "/webhooks/%0100d", 7);
    EXPECT_EQ_INT(gw_route_match_ids(longp, id, id2), GW_R_WEBHOOK);
    EXPECT_EQ_INT(strlen(id), 63);
}

static void test_needs_key(void)
{
    int st =
        http("POST", "/webhooks", JSON_CT, "{\"url\":\"https://example.com/h\"}", ans, sizeof ans);
    expect_problem("no key", ans, st, 401, NULL);
    EXPECT(strstr(ans, "WWW-Authenticate: Bearer") != NULL);
    st = http("GET", "/webhooks", NULL, NULL, ans, sizeof ans);
    expect_problem("list, no key", ans, st, 401, NULL);
    st = http("GET", "/webhooks/" SUB_READ "/deliveries", NULL, NULL, ans, sizeof ans);
    expect_problem("log, no key", ans, st, 401, NULL);
    char owner[IP_SECRET_MAX], h[200];
    CHECK_ST(ip_access_new_secret(IP_SECRET_OWNER, owner), IP_OK, "token");
    snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", owner);
    st = http("GET", "/webhooks", h, NULL, ans, sizeof ans);
    expect_problem("owner token", ans, st, 403, NULL);
    st = http("PUT", "/webhooks", auth[K_READ], NULL, ans, sizeof ans);
    expect_problem("PUT", ans, st, 405, NULL);
    EXPECT(strstr(ans, "Allow: GET, HEAD, POST") != NULL);
    EXPECT_EQ_INT(creates, 0);
}

static void test_create_refusals(void)
{
    static const struct {
        const char *body, *param;
        int status;
    } cases[] = {
        {"{\"url\":\"ftp://example.com/h\"}", "url", 400},
        {"{\"url\":\"https://u:p@example.com/h\"}", "url", 400},
        {"{\"url\":\"https://example.com/h#f\"}", "url", 400},
        {"{\"url\":7}", "url", 400},
        {"{}", "url", 400},
        {"{\"url\":\"https://example.com/h\",\"events\":[]}", "events", 400},
        {"{\"url\":\"https://example.com/h\",\"events\":[\"ready\"]}", "events", 400},
        {"{\"url\":\"https://example.com/h\",\"events\":[\"image.ready\",\"image.ready\"]}",
         "events", 400},
        {"{\"url\":\"https://example.com/h\",\"images\":\"some\"}", "images", 400},
        {"{\"url\":\"https://example.com/h\",\"secret\":\"whsec_short\"}", "secret", 400},
        {"{\"url\":\"https://example.com/h\",\"key_id\":\"x\"}", "key_id", 400},
        {"[1]", NULL, 400},
        {"{\"url\":", NULL, 400},
        {"", NULL, 400},
        {"{\"url\":\"https://example.com/h\",\"url\":\"https://example.com/h\"}", NULL, 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = http("POST", "/webhooks", as_json(K_READ), cases[i].body, ans, sizeof ans);
        expect_problem(cases[i].body, ans, st, cases[i].status, cases[i].param);
    }
    char desc[300];
    memset(desc, 'x', 201);
    desc[201] = '\0';
    char body[400];
    snprintf(body, sizeof body, "{\"url\":\"https://example.com/h\",\"description\":\"%s\"}", desc);
    int st = http("POST", "/webhooks", as_json(K_READ), body, ans, sizeof ans);
    expect_problem("description", ans, st, 400, "description");
    /* Not JSON; too big. */
    char th[256];
    snprintf(th, sizeof th, "%sContent-Type: text/plain\r\n", auth[K_READ]);
    st = http("POST", "/webhooks", th, "{\"url\":\"https://example.com/h\"}", ans, sizeof ans);
    expect_problem("text/plain", ans, st, 415, NULL);
    static char big[20000];
    memset(big, ' ', sizeof big - 1);
    memcpy(big, "{\"url\":\"https://example.com/h\"}", 31);
    st = http("POST", "/webhooks", as_json(K_READ), big, ans, sizeof ans);
    expect_problem("17 KiB", ans, st, 413, NULL);
    /* Every image's events need read scope; an upload key may take its own. */
    st = http("POST", "/webhooks", as_json(K_UPLOAD), "{\"url\":\"https://example.com/h\"}", ans,
              sizeof ans);
    expect_problem("upload key, all", ans, st, 403, NULL);
    EXPECT_EQ_INT(creates, 0);
    /* A literal private address while they are refused. */
    app.cfg.webhook_allow_private = false;
    static const char *const private_urls[] = {
        "{\"url\":\"http://127.0.0.1:8080/h\"}", "{\"url\":\"http://10.1.2.3/h\"}",
        "{\"url\":\"http://[::1]:9000/h\"}", "{\"url\":\"http://[::ffff:192.168.0.1]/h\"}",
        "{\"url\":\"http://169.254.169.254/latest\"}"};
    for (size_t i = 0; i < sizeof private_urls / sizeof private_urls[0]; i++) {
        st = http("POST", "/webhooks", as_json(K_READ), private_urls[i], ans, sizeof ans);
        expect_problem(private_urls[i], ans, st, 400, "url");
    }
    st = http("POST", "/webhooks", as_json(K_READ), "{\"url\":\"http://93.184.215.14/h\"}", ans,
              sizeof ans);
    EXPECTF(st == 201, "a public address: %d %.200s", st, ans);
    app.cfg.webhook_allow_private = true;
    st = http("POST", "/webhooks", as_json(K_READ), "{\"url\":\"http://127.0.0.1:8080/h\"}", ans,
              sizeof ans);
    EXPECTF(st == 201, "private allowed: %d %.200s", st, ans);
}

static void test_create(void)
{
    int st = http("POST", "/webhooks", as_json(K_UPLOAD),
                  "{\"url\":\"https://example.com/h\",\"images\":\"own\",\"events\":"
                  "[\"image.deleted\",\"image.ready\"],\"description\":\"mine\"}",
                  ans, sizeof ans);
    CHECKF(st == 201, "%d %.300s", st, ans);
    json_t *j = body_json(ans);
    const char *id = jstr(j, "id");
    EXPECT_EQ_INT(strlen(id), 36);
    char loc[120];
    snprintf(loc, sizeof loc, "Location: /webhooks/%s\r\n", id);
    EXPECTF(strstr(ans, loc) != NULL, "%s", loc);
    EXPECT(ip_webhook_secret_valid(jstr(j, "secret")));
    EXPECT_EQ_STR(jstr(j, "secret"), got_secret); /* made here, sent to metadata-svc */
    EXPECT_EQ_STR(jstr(j, "images"), "own");
    EXPECT_EQ_STR(jstr(j, "description"), "mine");
    EXPECT_EQ_STR(jstr(j, "created_at"), "2026-11-29T00:22:40.123456Z");
    json_t *ev = json_object_get(j, "events");
    EXPECT(json_array_size(ev) == 2 &&
           !strcmp(json_string_value(json_array_get(ev, 0)), "image.ready") &&
           !strcmp(json_string_value(json_array_get(ev, 1)), "image.deleted"));
    EXPECT_EQ_INT(json_object_size(j), 7); /* never the key id */
    EXPECT_EQ_STR(got_key_id, KEY_ID_UPLOAD);
    EXPECT(got_own && got_events == 2);
    json_decref(j);
    /* A secret given is used; the events default to all three. */
    st = http("POST", "/webhooks", as_json(K_READ),
              "{\"url\":\"https://example.com/h\",\"secret\":\"whsec_"
              "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}",
              ans, sizeof ans);
    CHECKF(st == 201, "%d %.300s", st, ans);
    j = body_json(ans);
    EXPECT_EQ_STR(jstr(j, "secret"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    EXPECT_EQ_STR(jstr(j, "images"), "all");
    EXPECT_EQ_INT(json_array_size(json_object_get(j, "events")), 3);
    EXPECT(!got_own && got_events == 3);
    json_decref(j);
}

static void test_read_and_ownership(void)
{
    /* The owner reads it, without its secret. */
    int st = http("GET", "/webhooks/" SUB_READ, auth[K_READ], NULL, ans, sizeof ans);
    CHECKF(st == 200, "%d %.300s", st, ans);
    json_t *j = body_json(ans);
    EXPECT_EQ_STR(jstr(j, "id"), SUB_READ);
    EXPECT(json_object_get(j, "secret") == NULL && json_object_get(j, "key_id") == NULL);
    json_decref(j);
    /* Another key: 404 everywhere, like an unknown id; an admin key: allowed. */
    static const struct {
        const char *method, *path;
    } paths[] = {{"GET", "/webhooks/" SUB_READ},
                 {"DELETE", "/webhooks/" SUB_READ},
                 {"GET", "/webhooks/" SUB_READ "/deliveries"},
                 {"POST", "/webhooks/" SUB_READ "/deliveries/" MSG_ID "/resend"}};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        st = http(paths[i].method, paths[i].path, auth[K_UPLOAD], NULL, ans, sizeof ans);
        expect_problem(paths[i].path, ans, st, 404, NULL);
        st = http(paths[i].method, paths[i].path, auth[K_ADMIN], NULL, ans, sizeof ans);
        EXPECTF(st / 100 == 2, "admin %s %s: %d", paths[i].method, paths[i].path, st);
    }
    st = http("GET", "/webhooks/" SUB_NONE, auth[K_READ], NULL, ans, sizeof ans);
    expect_problem("unknown", ans, st, 404, NULL);
    st = http("GET", "/webhooks/not-a-uuid", auth[K_READ], NULL, ans, sizeof ans);
    expect_problem("bad id", ans, st, 400, "id");
    st = http("DELETE", "/webhooks/" SUB_READ, auth[K_READ], NULL, ans, sizeof ans);
    EXPECT_EQ_INT(st, 204);
    /* The listing: the caller's own; every one for an admin key. */
    st = http("GET", "/webhooks", auth[K_READ], NULL, ans, sizeof ans);
    CHECKF(st == 200, "%d", st);
    j = body_json(ans);
    EXPECT_EQ_INT(json_array_size(json_object_get(j, "items")), 1);
    EXPECT(!listed_all && !strcmp(listed_key, KEY_ID_READ));
    json_decref(j);
    st = http("GET", "/webhooks", auth[K_UPLOAD], NULL, ans, sizeof ans);
    j = body_json(ans);
    EXPECT(st == 200 && json_array_size(json_object_get(j, "items")) == 0);
    json_decref(j);
    st = http("GET", "/webhooks", auth[K_ADMIN], NULL, ans, sizeof ans);
    EXPECT(st == 200 && listed_all && !strcmp(listed_key, ""));
}

static void test_deliveries(void)
{
    int st = http("GET", "/webhooks/" SUB_READ "/deliveries", auth[K_READ], NULL, ans, sizeof ans);
    CHECKF(st == 200, "%d %.300s", st, ans);
    EXPECT_EQ_INT(deliveries_limit, 24);
    json_t *j = body_json(ans);
    json_t *items = json_object_get(j, "items");
    CHECK(json_array_size(items) == 2);
    json_t *p = json_array_get(items, 0), *f = json_array_get(items, 1);
    EXPECT_EQ_STR(jstr(p, "id"), MSG_ID);
    EXPECT_EQ_STR(jstr(p, "event"), "image.ready");
    EXPECT_EQ_STR(jstr(p, "state"), "pending");
    EXPECT_EQ_INT(json_integer_value(json_object_get(p, "attempts")), 3);
    EXPECT_EQ_STR(jstr(p, "next_attempt_at"), "2026-11-29T00:22:45.123456Z");
    EXPECT(json_is_null(json_object_get(p, "last_status")));
    EXPECT(json_is_null(json_object_get(p, "delivered_at")));
    EXPECT_EQ_STR(jstr(p, "last_error"), "timeout after 2000 ms");
    EXPECT_EQ_STR(jstr(f, "state"), "failed");
    EXPECT(json_is_null(json_object_get(f, "next_attempt_at")));
    EXPECT_EQ_INT(json_integer_value(json_object_get(f, "last_status")), 500);
    EXPECT_EQ_INT(json_integer_value(json_object_get(f, "last_duration_ms")), 2001);
    EXPECT_EQ_INT(json_object_size(p), 12);
    json_t *next = json_object_get(j, "next");
    EXPECT_EQ_STR(jstr(next, "before_id"), MSG_ID);
    EXPECT_EQ_STR(jstr(next, "before_created_at"), "2026-11-29T00:22:40.123456Z");
    json_decref(j);
    st = http("GET",
              "/webhooks/" SUB_READ "/deliveries?limit=5&before_created_at=2026-11-29T00:22:40."
              "123456Z&before_id=msg_0123456789ABCDEF0123456789ABCDEF",
              auth[K_READ], NULL, ans, sizeof ans);
    EXPECTF(st == 200, "%d %.300s", st, ans);
    EXPECT(deliveries_limit == 5 && !strcmp(deliveries_before, MSG_ID));
    static const struct {
        const char *q, *param;
    } bad[] = {{"limit=0", "limit"},
               {"limit=101", "limit"},
               {"limit=+5", "limit"},
               {"before_id=" MSG_ID, "before_created_at"},
               {"before_created_at=2026-11-29T00:22:40Z", "before_id"},
               {"before_created_at=soon&before_id=" MSG_ID, "before_created_at"},
               {"before_created_at=2026-11-29T00:22:40Z&before_id=msg_12", "before_id"},
               {"order=asc", "order"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[300];
        snprintf(path, sizeof path, "/webhooks/" SUB_READ "/deliveries?%s", bad[i].q);
        st = http("GET", path, auth[K_READ], NULL, ans, sizeof ans);
        expect_problem(bad[i].q, ans, st, 400, bad[i].param);
    }
}

static void test_resend(void)
{
    int st = http("POST", "/webhooks/" SUB_READ "/deliveries/" MSG_ID "/resend", auth[K_READ], NULL,
                  ans, sizeof ans);
    CHECKF(st == 202, "%d %.300s", st, ans);
    json_t *j = body_json(ans);
    EXPECT(!strcmp(jstr(j, "id"), MSG_ID) && !strcmp(jstr(j, "state"), "pending"));
    json_decref(j);
    st = http("POST", "/webhooks/" SUB_READ "/deliveries/msg_0000/resend", auth[K_READ], NULL, ans,
              sizeof ans);
    expect_problem("bad delivery id", ans, st, 400, "delivery_id");
    st = http("POST",
              "/webhooks/" SUB_READ "/deliveries/msg_00000000000000000000000000000000/resend",
              auth[K_READ], NULL, ans, sizeof ans);
    expect_problem("unknown delivery", ans, st, 404, NULL);
    st = http("GET", "/webhooks/" SUB_READ "/deliveries/" MSG_ID "/resend", auth[K_READ], NULL, ans,
              sizeof ans);
    expect_problem("GET resend", ans, st, 405, NULL);
}

static const ip_test_case tests[] = {
    IP_TEST(route_match),        IP_TEST(needs_key),  IP_TEST(create_refusals), IP_TEST(create),
    IP_TEST(read_and_ownership), IP_TEST(deliveries), IP_TEST(resend),
};

int main(int argc, char **argv)
{
    int rc = ip_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
    stop();
    return rc;
}
