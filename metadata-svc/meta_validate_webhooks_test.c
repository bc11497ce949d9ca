/* meta_validate_webhooks_test.c — unit tests of the webhook request checks
 * (meta_validate_webhooks.c; no I/O).
 *
 * Run as `meta_validate_webhooks_test <name>`; the table at the end lists the
 * tests (common/ip_testing.h), registered as metadata-svc.validate.webhook_<name>.
 * Every bad request must give IP_INVALID_ARGUMENT with a message that starts
 * with the field's name (EXPECT_BAD); every good one IP_OK.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_testing.h"
#include "ip_webhook.h"
#include "meta_validate.h"

#define EXPECT_BAD(st, err, field) expect_bad((st), (err), (field), __LINE__)

static void expect_bad(ip_status st, const char *err, const char *field, int line)
{
    if (st == IP_INVALID_ARGUMENT && strncmp(err, field, strlen(field)) == 0)
        return;
    fprintf(stderr, "%s:%d: EXPECT failed: want invalid_argument naming '%s', got %s '%s'\n",
            __FILE__, line, field, ip_strerror(st), st == IP_OK ? "" : err);
    ip_test_failures++;
}

#define ID "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6"
#define KEY "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a7"
/* base64 of 32 bytes */
#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw6jv3H6rvw2k="
#define MSG "msg_0123456789abcdef0123456789abcdef"

static Imageproc__WebhookEvent all_events[] = {IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_READY,
                                               IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_FAILED,
                                               IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_DELETED};

/* A valid subscription in *w (every field borrowed from constants). */
static void good_webhook(Imageproc__WebhookSubscription *w, Imageproc__CreateWebhookRequest *req)
{
    imageproc__webhook_subscription__init(w);
    imageproc__create_webhook_request__init(req);
    w->id = ID;
    w->url = "https://hooks.example.com/imageproc?token=abc";
    w->secret = SECRET;
    w->events = all_events;
    w->n_events = 3;
    w->key_id = "";
    w->description = "";
    req->subscription = w;
}

static void test_create(void)
{
    char err[256];
    unsigned mask = 0;
    Imageproc__WebhookSubscription w;
    Imageproc__CreateWebhookRequest req;
    good_webhook(&w, &req);
    EXPECT_ST(meta_check_webhook(&req, &mask, err, sizeof(err)), IP_OK, err);
    EXPECT_EQ_INT(mask, (1u << 1) | (1u << 2) | (1u << 3));

    /* Events: any order in, the set out; one is enough. */
    Imageproc__WebhookEvent two[] = {IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_DELETED,
                                     IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_READY};
    w.events = two;
    w.n_events = 2;
    EXPECT_ST(meta_check_webhook(&req, &mask, err, sizeof(err)), IP_OK, err);
    EXPECT_EQ_INT(mask, (1u << 1) | (1u << 3));
    Imageproc__WebhookEvent dup[] = {IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_FAILED,
                                     IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_FAILED};
    w.events = dup;
    EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err, "subscription.events[1]");
    EXPECT_EQ_INT(mask, 0);
    Imageproc__WebhookEvent unknown[] = {IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_READY,
                                         (Imageproc__WebhookEvent)9};
    w.events = unknown;
    EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err, "subscription.events[1]");
    Imageproc__WebhookEvent unspecified[] = {IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_EVENT_UNSPECIFIED};
    w.events = unspecified;
    w.n_events = 1;
    EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err, "subscription.events[0]");
    w.n_events = 0;
    EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err, "subscription.events");

    /* Ids. */
    good_webhook(&w, &req);
    w.id = "";
    EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err, "subscription.id");
    w.id = "hook-1";
    EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err, "subscription.id");
    good_webhook(&w, &req);
    w.key_id = "not-a-key";
    EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err, "subscription.key_id");
    w.key_id = KEY;
    EXPECT_ST(meta_check_webhook(&req, &mask, err, sizeof(err)), IP_OK, err);
    w.own_images_only = true;
    EXPECT_ST(meta_check_webhook(&req, &mask, err, sizeof(err)), IP_OK, err);
    w.key_id = "";
    EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err,
               "subscription.own_images_only");
    w.key_id = NULL;
    EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err,
               "subscription.own_images_only");

    /* The url: the form common/ip_webhook.h checks. */
    const char *bad_urls[] = {"",
                              "ftp://example.com/x",
                              "https://user:pw@example.com/",
                              "https://example.com/#frag",
                              "https://exa mple.com/",
                              "example.com/hook",
                              "https:///nohost"};
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        good_webhook(&w, &req);
        w.url = (char *)bad_urls[i];
        EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err, "subscription.url");
    }
    good_webhook(&w, &req);
    w.url = NULL;
    EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err, "subscription.url");
    static char long_url[IP_WEBHOOK_URL_MAX + 2];
    memset(long_url, 'a', sizeof(long_url) - 1);
    memcpy(long_url, "https://example.com/", 20);
    w.url = long_url; /* IP_WEBHOOK_URL_MAX + 1 bytes */
    EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err, "subscription.url");
    long_url[IP_WEBHOOK_URL_MAX] = '\0'; /* exactly the most */
    EXPECT_ST(meta_check_webhook(&req, &mask, err, sizeof(err)), IP_OK, err);
    w.url = "http://127.0.0.1:9000/hook"; /* private addresses are the sender's call */
    EXPECT_ST(meta_check_webhook(&req, &mask, err, sizeof(err)), IP_OK, err);

    /* The secret. */
    const char *bad_secrets[] = {"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw6jv3H6rvw2k=", "whsec_",
                                 "whsec_c2hvcnQ=", "whsec_!!!!not-base64!!!!!!!!!!!!!!!!!!!!"};
    for (size_t i = 0; i < sizeof(bad_secrets) / sizeof(bad_secrets[0]); i++) {
        good_webhook(&w, &req);
        w.secret = (char *)bad_secrets[i];
        EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err, "subscription.secret");
    }

    /* The description: at most 200 bytes of UTF-8. */
    char desc[META_WEBHOOK_DESCRIPTION_MAX + 2];
    good_webhook(&w, &req);
    memset(desc, 'd', META_WEBHOOK_DESCRIPTION_MAX);
    desc[META_WEBHOOK_DESCRIPTION_MAX] = '\0';
    w.description = desc;
    EXPECT_ST(meta_check_webhook(&req, &mask, err, sizeof(err)), IP_OK, err);
    desc[META_WEBHOOK_DESCRIPTION_MAX] = 'd';
    desc[META_WEBHOOK_DESCRIPTION_MAX + 1] = '\0';
    EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err, "subscription.description");
    w.description = "caf\xc3";
    EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err, "subscription.description");

    /* No subscription at all. */
    req.subscription = NULL;
    EXPECT_BAD(meta_check_webhook(&req, &mask, err, sizeof(err)), err, "subscription");
}

static void test_ids(void)
{
    char err[128];
    EXPECT_ST(meta_check_delivery_id(MSG, "id", err, sizeof(err)), IP_OK, err);
    const char *bad[] = {"",
                         "msg_0123456789ABCDEF0123456789abcdef",
                         "msg_0123456789abcdef0123456789abcde",
                         "msg_0123456789abcdef0123456789abcdef0",
                         "evt_0123456789abcdef0123456789abcdef",
                         "msg_0123456789abcdef0123456789abcdeg",
                         "'; DROP TABLE webhook_deliveries; --"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_BAD(meta_check_delivery_id(bad[i], "id", err, sizeof(err)), err, "id");
    EXPECT_BAD(meta_check_delivery_id(NULL, "before_id", err, sizeof(err)), err, "before_id");

    Imageproc__ListWebhooksRequest l = IMAGEPROC__LIST_WEBHOOKS_REQUEST__INIT;
    EXPECT_ST(meta_check_list_webhooks(&l, err, sizeof(err)), IP_OK, err);
    l.key_id = KEY;
    EXPECT_ST(meta_check_list_webhooks(&l, err, sizeof(err)), IP_OK, err);
    l.key_id = "nope";
    EXPECT_BAD(meta_check_list_webhooks(&l, err, sizeof(err)), err, "key_id");

    Imageproc__ResendDeliveryRequest r = IMAGEPROC__RESEND_DELIVERY_REQUEST__INIT;
    r.subscription_id = ID;
    r.id = MSG;
    EXPECT_ST(meta_check_resend(&r, err, sizeof(err)), IP_OK, err);
    r.id = ID;
    EXPECT_BAD(meta_check_resend(&r, err, sizeof(err)), err, "id");
    r.id = MSG;
    r.subscription_id = "";
    EXPECT_BAD(meta_check_resend(&r, err, sizeof(err)), err, "subscription_id");
}

static void test_deliveries(void)
{
    char err[128];
    bool cursor = true;
    Imageproc__ListDeliveriesRequest q = IMAGEPROC__LIST_DELIVERIES_REQUEST__INIT;
    q.subscription_id = ID;
    q.limit = 24;
    EXPECT_ST(meta_check_list_deliveries(&q, &cursor, err, sizeof(err)), IP_OK, err);
    EXPECT(!cursor);
    q.before_created_at_us = 1764375760123457;
    q.before_id = MSG;
    EXPECT_ST(meta_check_list_deliveries(&q, &cursor, err, sizeof(err)), IP_OK, err);
    EXPECT(cursor);
    q.before_id = "";
    EXPECT_BAD(meta_check_list_deliveries(&q, &cursor, err, sizeof(err)), err, "before_id");
    EXPECT(!cursor);
    q.before_id = ID;
    EXPECT_BAD(meta_check_list_deliveries(&q, &cursor, err, sizeof(err)), err, "before_id");
    q.before_id = MSG;
    q.before_created_at_us = 0;
    EXPECT_BAD(meta_check_list_deliveries(&q, &cursor, err, sizeof(err)), err,
               "before_created_at_us");
    q.before_created_at_us = -5;
    EXPECT_BAD(meta_check_list_deliveries(&q, &cursor, err, sizeof(err)), err,
               "before_created_at_us");
    q.before_created_at_us = META_MAX_US + 1;
    EXPECT_BAD(meta_check_list_deliveries(&q, &cursor, err, sizeof(err)), err,
               "before_created_at_us");
    q.before_created_at_us = 0;
    q.before_id = "";
    int32_t limits[] = {0, -1, META_DELIVERIES_MAX + 1};
    for (size_t i = 0; i < 3; i++) {
        q.limit = limits[i];
        EXPECT_BAD(meta_check_list_deliveries(&q, &cursor, err, sizeof(err)), err, "limit");
    }
    q.limit = 1;
    EXPECT_ST(meta_check_list_deliveries(&q, &cursor, err, sizeof(err)), IP_OK, err);
    q.limit = META_DELIVERIES_MAX;
    EXPECT_ST(meta_check_list_deliveries(&q, &cursor, err, sizeof(err)), IP_OK, err);
    q.subscription_id = "x";
    EXPECT_BAD(meta_check_list_deliveries(&q, &cursor, err, sizeof(err)), err, "subscription_id");
}

static void test_claim(void)
{
    char err[128];
    EXPECT_ST(meta_check_claim_deliveries(1, 1000, err, sizeof(err)), IP_OK, err);
    EXPECT_ST(meta_check_claim_deliveries(100, 600000, err, sizeof(err)), IP_OK, err);
    EXPECT_BAD(meta_check_claim_deliveries(0, 30000, err, sizeof(err)), err, "limit");
    EXPECT_BAD(meta_check_claim_deliveries(101, 30000, err, sizeof(err)), err, "limit");
    EXPECT_BAD(meta_check_claim_deliveries(10, 999, err, sizeof(err)), err, "claim_ms");
    EXPECT_BAD(meta_check_claim_deliveries(10, 0, err, sizeof(err)), err, "claim_ms");
    EXPECT_BAD(meta_check_claim_deliveries(10, 600001, err, sizeof(err)), err, "claim_ms");
}

static void test_finish(void)
{
    char err[128];
    Imageproc__FinishDeliveryRequest f = IMAGEPROC__FINISH_DELIVERY_REQUEST__INIT;
    f.id = MSG;
    f.delivered = true;
    f.status = 204;
    f.duration_ms = 12;
    EXPECT_ST(meta_check_finish_delivery(&f, err, sizeof(err)), IP_OK, err);
    f.status = 500; /* delivered means 2xx */
    EXPECT_BAD(meta_check_finish_delivery(&f, err, sizeof(err)), err, "status");
    f.delivered = false;
    f.retry_after_ms = 5000;
    f.horizon_ms = 86400000;
    EXPECT_ST(meta_check_finish_delivery(&f, err, sizeof(err)), IP_OK, err);
    f.status = 0; /* no answer */
    EXPECT_ST(meta_check_finish_delivery(&f, err, sizeof(err)), IP_OK, err);
    f.status = -1;
    EXPECT_BAD(meta_check_finish_delivery(&f, err, sizeof(err)), err, "status");
    f.status = 1000;
    EXPECT_BAD(meta_check_finish_delivery(&f, err, sizeof(err)), err, "status");
    f.status = 503;
    f.duration_ms = -1;
    EXPECT_BAD(meta_check_finish_delivery(&f, err, sizeof(err)), err, "duration_ms");
    f.duration_ms = 0;
    int64_t retry[][2] = {{999, 0}, {86400001, 0}, {1000, 1}, {86400000, 1}};
    for (size_t i = 0; i < 4; i++) {
        f.retry_after_ms = retry[i][0];
        if (retry[i][1])
            EXPECT_ST(meta_check_finish_delivery(&f, err, sizeof(err)), IP_OK, err);
        else
            EXPECT_BAD(meta_check_finish_delivery(&f, err, sizeof(err)), err, "retry_after_ms");
    }
    int64_t horizon[][2] = {{59999, 0}, {604800001, 0}, {60000, 1}, {604800000, 1}};
    for (size_t i = 0; i < 4; i++) {
        f.horizon_ms = horizon[i][0];
        if (horizon[i][1])
            EXPECT_ST(meta_check_finish_delivery(&f, err, sizeof(err)), IP_OK, err);
        else
            EXPECT_BAD(meta_check_finish_delivery(&f, err, sizeof(err)), err, "horizon_ms");
    }
    /* A delivered attempt needs no retry settings. */
    f.delivered = true;
    f.status = 200;
    f.retry_after_ms = 0;
    f.horizon_ms = 0;
    EXPECT_ST(meta_check_finish_delivery(&f, err, sizeof(err)), IP_OK, err);
    f.id = "msg_1";
    EXPECT_BAD(meta_check_finish_delivery(&f, err, sizeof(err)), err, "id");
}

static void test_error_clean(void)
{
    char out[META_DELIVERY_ERROR_MAX + 1];
    meta_delivery_error_clean(NULL, out);
    EXPECT_EQ_STR(out, "");
    meta_delivery_error_clean("connect: Connection refused", out);
    EXPECT_EQ_STR(out, "connect: Connection refused");
    /* Bytes that are not UTF-8 become '?', valid characters stay. */
    meta_delivery_error_clean("HTTP 500: caf\xc3\xa9 \xff\xfe ok \xc3", out);
    EXPECT_EQ_STR(out, "HTTP 500: caf\xc3\xa9 ?? ok ?");
    /* Long: cut at META_DELIVERY_ERROR_MAX bytes, never inside a character. */
    char in[1200];
    memset(in, 'x', sizeof(in) - 1);
    in[sizeof(in) - 1] = '\0';
    meta_delivery_error_clean(in, out);
    EXPECT_EQ_INT(strlen(out), META_DELIVERY_ERROR_MAX);
    /* 499 ASCII bytes then a 2-byte character: it does not fit, so 499. */
    memset(in, 'y', 499);
    memcpy(in + 499, "\xc3\xa9\xc3\xa9", 4);
    in[503] = '\0';
    meta_delivery_error_clean(in, out);
    EXPECT_EQ_INT(strlen(out), 499);
    /* 498 then the character: 500 exactly. */
    memset(in, 'y', 498);
    memcpy(in + 498, "\xc3\xa9zz", 4);
    in[502] = '\0';
    meta_delivery_error_clean(in, out);
    EXPECT_EQ_INT(strlen(out), 500);
    EXPECT(memcmp(out + 498, "\xc3\xa9", 2) == 0);
}

static const ip_test_case tests[] = {
    IP_TEST(create), IP_TEST(ids),    IP_TEST(deliveries),
    IP_TEST(claim),  IP_TEST(finish), IP_TEST(error_clean),
};

IP_TEST_MAIN(tests)
