/* ip_webhook_test.c — the webhook vocabulary: event and state names, the
 * Standard Webhooks reference vector, signatures that must not verify (wrong
 * secret, changed body, id or timestamp), headers with several signatures,
 * the form of secrets and of subscription URLs. ctest: common.webhook.<test>,
 * label unit.
 */
#include <string.h>

#include "ip_testing.h"
#include "ip_webhook.h"

#define READY IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_READY
#define FAILED IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_FAILED
#define DELETED IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_DELETED
#define NO_EVENT IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_EVENT_UNSPECIFIED

/* The reference vector of the Standard Webhooks libraries' tests. */
#define REF_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define REF_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define REF_TS 1614265330
#define REF_BODY "{\"test\": 2432232314}"
#define REF_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static void test_names(void)
{
    EXPECT_EQ_STR(ip_webhook_event_name(READY), "image.ready");
    EXPECT_EQ_STR(ip_webhook_event_name(FAILED), "image.failed");
    EXPECT_EQ_STR(ip_webhook_event_name(DELETED), "image.deleted");
    EXPECT(ip_webhook_event_name(NO_EVENT) == NULL);
    EXPECT(ip_webhook_event_name((Imageproc__WebhookEvent)4) == NULL);
    EXPECT(ip_webhook_event_name((Imageproc__WebhookEvent)-1) == NULL);

    EXPECT_EQ_INT(ip_webhook_event_parse("image.ready"), READY);
    EXPECT_EQ_INT(ip_webhook_event_parse("image.failed"), FAILED);
    EXPECT_EQ_INT(ip_webhook_event_parse("image.deleted"), DELETED);
    EXPECT_EQ_INT(ip_webhook_event_parse("ready"), READY);
    EXPECT_EQ_INT(ip_webhook_event_parse("failed"), FAILED);
    EXPECT_EQ_INT(ip_webhook_event_parse("deleted"), DELETED);
    static const char *const bad[] = {
        "", "image.", "image", "Ready", "image.READY", "image.ready ", "e.ready", "image.created"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECTF(ip_webhook_event_parse(bad[i]) == NO_EVENT, "\"%s\" parsed", bad[i]);
    EXPECT_EQ_INT(ip_webhook_event_parse(NULL), NO_EVENT);

    EXPECT_EQ_STR(ip_delivery_state_name(IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING), "pending");
    EXPECT_EQ_STR(ip_delivery_state_name(IMAGEPROC__DELIVERY_STATE__DELIVERY_DELIVERED),
                  "delivered");
    EXPECT_EQ_STR(ip_delivery_state_name(IMAGEPROC__DELIVERY_STATE__DELIVERY_FAILED), "failed");
    EXPECT_EQ_STR(ip_delivery_state_name(IMAGEPROC__DELIVERY_STATE__DELIVERY_CANCELLED),
                  "cancelled");
    EXPECT(ip_delivery_state_name(IMAGEPROC__DELIVERY_STATE__DELIVERY_STATE_UNSPECIFIED) == NULL);
    EXPECT(ip_delivery_state_name((Imageproc__DeliveryState)5) == NULL);
}

/* The signature every Standard Webhooks library computes for these inputs. */
static void test_reference_vector(void)
{
    char sig[IP_WEBHOOK_SIGNATURE_MAX];
    CHECK_EQ_INT(ip_webhook_sign(REF_SECRET, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), sig),
                 IP_OK);
    EXPECT_EQ_STR(sig, REF_SIG);
    EXPECT(ip_webhook_verify(REF_SECRET, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), REF_SIG));
}

/* A new secret signs, and its signature verifies against the same inputs. */
static void test_sign_verify(void)
{
    char secret[IP_WEBHOOK_SECRET_MAX], sig[IP_WEBHOOK_SIGNATURE_MAX];
    CHECK_EQ_INT(ip_webhook_new_secret(secret), IP_OK);
    const char *body = "{\"type\":\"image.ready\",\"data\":{}}";
    CHECK_EQ_INT(ip_webhook_sign(secret, "msg_0123", 1700000000, body, strlen(body), sig), IP_OK);
    EXPECT_EQ_INT(strlen(sig), 47);
    EXPECT(strncmp(sig, "v1,", 3) == 0);
    EXPECT(ip_webhook_verify(secret, "msg_0123", 1700000000, body, strlen(body), sig));
    /* an empty body signs too */
    CHECK_EQ_INT(ip_webhook_sign(secret, "msg_0123", 1, "", 0, sig), IP_OK);
    EXPECT(ip_webhook_verify(secret, "msg_0123", 1, "", 0, sig));
    EXPECT(!ip_webhook_verify(secret, "msg_0123", 1, "x", 1, sig));
    /* a bad secret signs nothing */
    EXPECT_EQ_INT(ip_webhook_sign("whsec_short", "msg_0123", 1, "", 0, sig), IP_INVALID_ARGUMENT);
    EXPECT_EQ_STR(sig, "");
    EXPECT_EQ_INT(ip_webhook_sign(NULL, "msg_0123", 1, "", 0, sig), IP_INVALID_ARGUMENT);
}

static void test_wrong_secret(void)
{
    char other[IP_WEBHOOK_SECRET_MAX];
    CHECK_EQ_INT(ip_webhook_new_secret(other), IP_OK);
    EXPECT(!ip_webhook_verify(other, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), REF_SIG));
    /* the secret's text used as the key (a common receiver mistake) differs */
    EXPECT(!ip_webhook_verify("whsec_TWZLUTlyOEdLWXFyVHdqVVBEOElMUFpJbzJMYUxhU3c=", REF_ID, REF_TS,
                              REF_BODY, strlen(REF_BODY), REF_SIG));
    EXPECT(!ip_webhook_verify("not a secret", REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), REF_SIG));
    EXPECT(!ip_webhook_verify(NULL, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), REF_SIG));
}

static void test_tampered(void)
{
    const char *b2 = "{\"test\": 2432232315}";
    EXPECT(!ip_webhook_verify(REF_SECRET, REF_ID, REF_TS, b2, strlen(b2), REF_SIG));
    /* the body with its spaces removed (re-serialised JSON) is another body */
    const char *b3 = "{\"test\":2432232314}";
    EXPECT(!ip_webhook_verify(REF_SECRET, REF_ID, REF_TS, b3, strlen(b3), REF_SIG));
    /* a prefix of the body */
    EXPECT(!ip_webhook_verify(REF_SECRET, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY) - 1, REF_SIG));
    EXPECT(!ip_webhook_verify(REF_SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJel", REF_TS, REF_BODY,
                              strlen(REF_BODY), REF_SIG));
    EXPECT(!ip_webhook_verify(REF_SECRET, REF_ID, REF_TS + 1, REF_BODY, strlen(REF_BODY), REF_SIG));
    /* the signature itself changed, cut, or without its version */
    EXPECT(!ip_webhook_verify(REF_SECRET, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY),
                              "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE"));
    EXPECT(!ip_webhook_verify(REF_SECRET, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY),
                              "v1,h0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    EXPECT(!ip_webhook_verify(REF_SECRET, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY),
                              "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    EXPECT(!ip_webhook_verify(REF_SECRET, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY),
                              "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    EXPECT(!ip_webhook_verify(REF_SECRET, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), ""));
    EXPECT(!ip_webhook_verify(REF_SECRET, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), NULL));
}

/* A header may carry several space-separated signatures (key rotation):
 * one that matches is enough, wherever it stands. */
static void test_multi_signature(void)
{
    const char *hdrs_ok[] = {
        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " REF_SIG,
        REF_SIG " v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        "v1a,xyz " REF_SIG " v2,abc",
        "  " REF_SIG "  ",
    };
    for (size_t i = 0; i < sizeof hdrs_ok / sizeof hdrs_ok[0]; i++)
        EXPECTF(
            ip_webhook_verify(REF_SECRET, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), hdrs_ok[i]),
            "\"%s\" refused", hdrs_ok[i]);
    const char *hdrs_bad[] = {
        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,AAAA",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=x",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=,v1,abc",
    };
    for (size_t i = 0; i < sizeof hdrs_bad / sizeof hdrs_bad[0]; i++)
        EXPECTF(
            !ip_webhook_verify(REF_SECRET, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), hdrs_bad[i]),
            "\"%s\" accepted", hdrs_bad[i]);
}

static void test_secret_forms(void)
{
    static const struct {
        const char *s;
        bool valid;
    } cases[] = {
        {REF_SECRET, true},                                           /* 24 bytes */
        {"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", true}, /* 32 bytes */
        {"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
         "==",
         true}, /* 64 bytes */
        {"whsec_"
         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
         "AAAA",
         false},                                           /* 66 bytes */
        {"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", false}, /* 22 bytes */
        {"whsec_", false},
        {"", false},
        {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false},         /* no prefix */
        {"WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false},   /* prefix case */
        {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", false},    /* not a multiple of 4 */
        {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-w", false},   /* base64url alphabet */
        {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa w", false},   /* space */
        {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaL=Sw", false},   /* padding inside */
        {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", false}, /* newline */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        EXPECTF(ip_webhook_secret_valid(cases[i].s) == cases[i].valid, "\"%s\": want %s",
                cases[i].s, cases[i].valid ? "valid" : "invalid");
    EXPECT(!ip_webhook_secret_valid(NULL));
}

/* New secrets: the prefix, base64 of IP_WEBHOOK_SECRET_BYTES, valid, never
 * the same twice. */
static void test_new_secret(void)
{
    static char seen[200][IP_WEBHOOK_SECRET_MAX];
    for (int i = 0; i < 200; i++) {
        CHECK_EQ_INT(ip_webhook_new_secret(seen[i]), IP_OK);
        EXPECT_EQ_INT(strlen(seen[i]), 6 + (IP_WEBHOOK_SECRET_BYTES + 2) / 3 * 4);
        EXPECT(strncmp(seen[i], "whsec_", 6) == 0);
        EXPECTF(ip_webhook_secret_valid(seen[i]), "%s", seen[i]);
        for (int j = 0; j < i; j++)
            EXPECT(strcmp(seen[i], seen[j]) != 0);
    }
}

static void test_url_forms(void)
{
    static const struct {
        const char *url;
        bool ok;
        const char *why; /* part of the reason when refused */
    } cases[] = {
        {"https://example.com/hooks", true, NULL},
        {"http://example.com", true, NULL},
        {"https://Example.COM/x?y=1&z=%20", true, NULL},
        {"HTTPS://example.com/", false, "scheme"},
        {"http://127.0.0.1:8080/hook", true, NULL},
        {"http://[::1]:9000/hook", true, NULL},
        {"https://[2001:db8::1]/", true, NULL},
        {"http://[::ffff:192.0.2.1]/", true, NULL},
        {"http://host_name.internal:1/", true, NULL},
        {"http://h?q", true, NULL},
        {"ftp://example.com/", false, "scheme"},
        {"file:///etc/passwd", false, "scheme"},
        {"gopher://example.com", false, "scheme"},
        {"example.com/hook", false, "scheme"},
        {"http:/example.com", false, "scheme"},
        {"http://", false, "no host"},
        {"http:///path", false, "no host"},
        {"http://?q=1", false, "no host"},
        {"http://:80/", false, "no host"},
        {"http://user:pw@example.com/", false, "user name"},
        {"http://user@example.com/", false, "user name"},
        {"http://example.com/#frag", false, "fragment"},
        {"http://example.com#", false, "fragment"},
        {"http://example.com/a b", false, "spaces"},
        {" http://example.com/", false, "spaces"},
        {"http://example.com/\n", false, "spaces"},
        {"http://exa\tmple.com/", false, "spaces"},
        {"http://ex\xc3\xa4mple.com/", false, "non-ASCII"},
        {"http://[::1/", false, "IPv6"},
        {"http://[]/", false, "IPv6"},
        {"http://[zz::1]/", false, "IPv6"},
        {"http://[::1]x/", false, "host"},
        {"http://exa%6dple.com/", false, "host"},
        {"http://example.com:/", false, "port"},
        {"http://example.com:0/", false, "port"},
        {"http://example.com:65536/", false, "port"},
        {"http://example.com:80a/", false, "port"},
        {"", false, "empty"},
    };
    char err[160];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ip_status st = ip_webhook_url_check(cases[i].url, err, sizeof err);
        if (cases[i].ok) {
            EXPECTF(st == IP_OK, "\"%s\" refused: %s", cases[i].url, err);
        } else {
            EXPECTF(st == IP_INVALID_ARGUMENT, "\"%s\" accepted", cases[i].url);
            EXPECTF(strstr(err, cases[i].why) != NULL, "\"%s\": reason \"%s\" lacks \"%s\"",
                    cases[i].url, err, cases[i].why);
        }
    }
    EXPECT_EQ_INT(ip_webhook_url_check(NULL, err, sizeof err), IP_INVALID_ARGUMENT);

    /* the length bound: 2048 bytes pass, 2049 do not */
    static char url[IP_WEBHOOK_URL_MAX + 2];
    memcpy(url, "https://example.com/", 20);
    memset(url + 20, 'a', IP_WEBHOOK_URL_MAX - 20);
    url[IP_WEBHOOK_URL_MAX] = '\0';
    EXPECT_EQ_INT(ip_webhook_url_check(url, err, sizeof err), IP_OK);
    url[IP_WEBHOOK_URL_MAX] = 'a';
    url[IP_WEBHOOK_URL_MAX + 1] = '\0';
    EXPECT_EQ_INT(ip_webhook_url_check(url, err, sizeof err), IP_INVALID_ARGUMENT);
    EXPECT(strstr(err, "longer") != NULL);
    /* no room for the reason is fine */
    EXPECT_EQ_INT(ip_webhook_url_check("ftp://x", NULL, 0), IP_INVALID_ARGUMENT);
}

static const ip_test_case tests[] = {
    IP_TEST(names),        IP_TEST(reference_vector), IP_TEST(sign_verify),
    IP_TEST(wrong_secret), IP_TEST(tampered),         IP_TEST(multi_signature),
    IP_TEST(secret_forms), IP_TEST(new_secret),       IP_TEST(url_forms),
};
IP_TEST_MAIN(tests)
