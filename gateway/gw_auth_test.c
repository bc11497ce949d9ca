/* gw_auth_test.c — the access rules as a table: every caller (anonymous, the
 * image's owner, another image's owner, a key of each scope, an admin key)
 * against every rule (upload open and closed, the original, DELETE, retry,
 * the internals on the gateway's address and through the proxy, an image
 * from before owners, subscribing to webhooks, managing a subscription), and
 * the Authorization header's forms that are refused before any lookup. Keys
 * are looked up by gw_auth_identify against metadata-svc; that path
 * (unknown, revoked, metadata down) runs in gw_routes_test.c against a fake
 * server.
 */
#include <string.h>

#include "gw_auth.h"
#include "ip_testing.h"

#define SCOPE(s) (1u << IMAGEPROC__API_SCOPE__API_SCOPE_##s)

enum { ANON, OWNER, OTHER, K_READ, K_UPLOAD, K_DELETE, K_ADMIN, NCALLERS };
static const char *const names[NCALLERS] = {"anonymous",  "owner",      "other owner", "read key",
                                            "upload key", "delete key", "admin key"};
static gw_caller callers[NCALLERS];
static char owner_hash[IP_ACCESS_HASH_MAX];

static void callers_init(void)
{
    char tok[IP_SECRET_MAX], other[IP_SECRET_MAX];
    CHECK_ST(ip_access_new_secret(IP_SECRET_OWNER, tok), IP_OK, "token");
    CHECK_ST(ip_access_new_secret(IP_SECRET_OWNER, other), IP_OK, "token");
    ip_access_hash(tok, owner_hash);
    char err[256];
    for (int i = 0; i < NCALLERS; i++)
        memset(&callers[i], 0, sizeof callers[i]);
    char h[300];
    snprintf(h, sizeof h, "Bearer %s", tok);
    CHECK_ST(gw_auth_identify(NULL, h, &callers[OWNER], err, sizeof err), IP_OK, err);
    snprintf(h, sizeof h, "bearer   %s  ", other); /* any case, spaces around */
    CHECK_ST(gw_auth_identify(NULL, h, &callers[OTHER], err, sizeof err), IP_OK, err);
    CHECK_ST(gw_auth_identify(NULL, NULL, &callers[ANON], err, sizeof err), IP_OK, err);
    static const uint32_t masks[] = {SCOPE(READ), SCOPE(UPLOAD), SCOPE(DELETE), SCOPE(ADMIN)};
    for (int i = K_READ; i <= K_ADMIN; i++) {
        callers[i].kind = GW_CALLER_KEY;
        callers[i].scopes = masks[i - K_READ];
        memcpy(callers[i].key_id, "00000000-0000-4000-8000-000000000000", 37);
        callers[i].key_id[35] = (char)('0' + i);
    }
}

typedef gw_verdict (*rule_fn)(const gw_caller *c, const char *owner_hash);

/* Expected status per caller, in the order of the enum. */
static void expect_rule(const char *rule, rule_fn fn, const char *hash,
                        const unsigned want[NCALLERS])
{
    for (int i = 0; i < NCALLERS; i++) {
        gw_verdict v = fn(&callers[i], hash);
        EXPECTF(v.status == want[i], "%s, %s: %u, want %u", rule, names[i], v.status, want[i]);
        EXPECTF(v.status == 0 || (v.need && *v.need), "%s, %s: no detail", rule, names[i]);
    }
}

static void test_identify_forms(void)
{
    callers_init();
    EXPECT_EQ_INT(callers[ANON].kind, GW_CALLER_ANONYMOUS);
    EXPECT_EQ_STR(callers[ANON].label, "anonymous");
    EXPECT_EQ_INT(callers[OWNER].kind, GW_CALLER_OWNER);
    EXPECT_EQ_STR(callers[OWNER].label, "owner"); /* never the token */
    EXPECT_EQ_STR(callers[OWNER].hash, owner_hash);
    EXPECT(strcmp(callers[OTHER].hash, owner_hash) != 0);
    static const char *const bad[] = {
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearerx ipo_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Bearer ipo_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA extra",
        "Bearer ipo_short",
        "Bearer ipx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Bearer ipo_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*",
        "Bearer ipo_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gw_caller c;
        char err[256] = "";
        EXPECTF(gw_auth_identify(NULL, bad[i], &c, err, sizeof err) == IP_INVALID_ARGUMENT,
                "accepted \"%s\"", bad[i]);
        EXPECTF(*err && !strstr(err, "AAAAAAAA"), "\"%s\": err \"%s\"", bad[i], err);
        EXPECT_EQ_INT(c.kind, GW_CALLER_ANONYMOUS);
    }
    /* A key is recognised by its form, hashed, and named by its prefix only. */
    char key[IP_SECRET_MAX], h[300], want[IP_ACCESS_HASH_MAX], err[256];
    CHECK_ST(ip_access_new_secret(IP_SECRET_KEY, key), IP_OK, "key");
    snprintf(h, sizeof h, "Bearer %s", key);
    gw_caller c;
    CHECK_ST(gw_auth_parse(h, &c, err, sizeof err), IP_OK, err);
    ip_access_hash(key, want);
    EXPECT_EQ_INT(c.kind, GW_CALLER_KEY);
    EXPECT_EQ_STR(c.hash, want);
    EXPECT_EQ_INT(strlen(c.label), IP_KEY_PREFIX_LEN);
    EXPECT(strncmp(c.label, key, IP_KEY_PREFIX_LEN) == 0 && c.scopes == 0);
}

static void test_upload_rule(void)
{
    callers_init();
    for (int i = 0; i < NCALLERS; i++)
        EXPECTF(gw_auth_may_upload(&callers[i], false).status == 0, "open upload: %s", names[i]);
    static const unsigned closed[NCALLERS] = {401, 403, 403, 403, 0, 403, 0};
    for (int i = 0; i < NCALLERS; i++)
        EXPECTF(gw_auth_may_upload(&callers[i], true).status == closed[i], "closed upload: %s",
                names[i]);
}

static void test_image_rules(void)
{
    callers_init();
    /*                                      anon owner other read upload delete admin */
    static const unsigned original[NCALLERS] = {401, 0, 403, 403, 403, 403, 0};
    static const unsigned del[NCALLERS] = {401, 0, 403, 403, 403, 0, 0};
    static const unsigned retry[NCALLERS] = {401, 0, 403, 403, 403, 403, 0};
    expect_rule("original", gw_auth_may_read_original, owner_hash, original);
    expect_rule("delete", gw_auth_may_delete, owner_hash, del);
    expect_rule("retry", gw_auth_may_retry, owner_hash, retry);
    /* An image from before owners: no owner token matches it, keys as before. */
    static const unsigned original_old[NCALLERS] = {401, 403, 403, 403, 403, 403, 0};
    static const unsigned del_old[NCALLERS] = {401, 403, 403, 403, 403, 0, 0};
    expect_rule("original, no owner", gw_auth_may_read_original, "", original_old);
    expect_rule("delete, no owner", gw_auth_may_delete, "", del_old);
    expect_rule("delete, NULL owner", gw_auth_may_delete, NULL, del_old);
    expect_rule("retry, no owner", gw_auth_may_retry, "", original_old);
    EXPECT(gw_auth_is_owner(&callers[OWNER]) && !gw_auth_is_owner(&callers[K_ADMIN]));
    /* A detail that says what is needed. */
    EXPECT(strstr(gw_auth_may_delete(&callers[K_READ], owner_hash).need,
                  "owner token or an API key with delete scope") != NULL);
}

static void test_internals_rule(void)
{
    callers_init();
    for (int i = 0; i < NCALLERS; i++)
        EXPECTF(gw_auth_may_see_internals(&callers[i], false).status == 0, "direct: %s", names[i]);
    static const unsigned proxied[NCALLERS] = {401, 403, 403, 403, 403, 403, 0};
    for (int i = 0; i < NCALLERS; i++)
        EXPECTF(gw_auth_may_see_internals(&callers[i], true).status == proxied[i], "proxied: %s",
                names[i]);
}

static void test_webhook_rules(void)
{
    callers_init();
    /*                                      anon owner other read upload delete admin */
    static const unsigned all[NCALLERS] = {401, 403, 403, 0, 403, 403, 0};
    static const unsigned own[NCALLERS] = {401, 403, 403, 0, 0, 0, 0};
    for (int i = 0; i < NCALLERS; i++) {
        gw_verdict v = gw_auth_may_subscribe(&callers[i], false);
        EXPECTF(v.status == all[i], "subscribe all, %s: %u", names[i], v.status);
        EXPECTF(v.status == 0 || (v.need && *v.need), "subscribe all, %s: no detail", names[i]);
        v = gw_auth_may_subscribe(&callers[i], true);
        EXPECTF(v.status == own[i], "subscribe own, %s: %u", names[i], v.status);
    }
    /* The upload key's subscription: it and an admin key manage it. */
    const char *sub_key = callers[K_UPLOAD].key_id;
    static const unsigned manage[NCALLERS] = {401, 403, 403, 403, 0, 403, 0};
    expect_rule("manage", gw_auth_may_manage_webhook, sub_key, manage);
    /* An operator's subscription (no key): admin only, even for a key whose
     * id were empty. */
    static const unsigned manage_op[NCALLERS] = {401, 403, 403, 403, 403, 403, 0};
    expect_rule("manage, operator's", gw_auth_may_manage_webhook, "", manage_op);
    expect_rule("manage, NULL", gw_auth_may_manage_webhook, NULL, manage_op);
    gw_caller nameless = callers[K_READ];
    nameless.key_id[0] = '\0';
    EXPECT_EQ_INT(gw_auth_may_manage_webhook(&nameless, "").status, 403);
    EXPECT(strstr(gw_auth_may_subscribe(&callers[K_UPLOAD], false).need, "read") != NULL);
}

static const ip_test_case tests[] = {
    IP_TEST(identify_forms), IP_TEST(upload_rule),   IP_TEST(image_rules),
    IP_TEST(internals_rule), IP_TEST(webhook_rules),
};

IP_TEST_MAIN(tests)
