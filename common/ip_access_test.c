/* ip_access_test.c — owner tokens and API keys: the form of new secrets, how
 * presented ones are told apart, the hash against known SHA-256 values, the
 * constant-time compare's answers, scope names, scope lists (and their
 * errors) and masks. ctest: common.access.<test>, label unit.
 */
#include <string.h>

#include "ip_access.h"
#include "ip_testing.h"

#define READ IMAGEPROC__API_SCOPE__API_SCOPE_READ
#define UPLOAD IMAGEPROC__API_SCOPE__API_SCOPE_UPLOAD
#define DELETE IMAGEPROC__API_SCOPE__API_SCOPE_DELETE
#define ADMIN IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN
#define NO_SCOPE IMAGEPROC__API_SCOPE__API_SCOPE_UNSPECIFIED

static bool all_b64url(const char *s)
{
    return s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")] == '\0';
}

/* New secrets: prefix, 43 base64url characters, recognised as their kind,
 * never the same twice. */
static void test_forms(void)
{
    char a[IP_SECRET_MAX], b[IP_SECRET_MAX];
    CHECK_EQ_INT(ip_access_new_secret(IP_SECRET_OWNER, a), IP_OK);
    CHECK_EQ_INT(ip_access_new_secret(IP_SECRET_KEY, b), IP_OK);
    EXPECT_EQ_INT(strlen(a), 47);
    EXPECT_EQ_INT(strlen(b), 47);
    EXPECT(strncmp(a, "ipo_", 4) == 0 && all_b64url(a + 4));
    EXPECT(strncmp(b, "ipk_", 4) == 0 && all_b64url(b + 4));
    EXPECT_EQ_INT(ip_access_kind(a), IP_SECRET_OWNER);
    EXPECT_EQ_INT(ip_access_kind(b), IP_SECRET_KEY);
    EXPECT(strcmp(a + 4, b + 4) != 0);

    /* 256 random bits: a thousand keys are all different. */
    static char seen[1000][IP_SECRET_MAX];
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ_INT(ip_access_new_secret(IP_SECRET_KEY, seen[i]), IP_OK);
        for (int j = 0; j < i; j++)
            EXPECT(strcmp(seen[i], seen[j]) != 0);
    }
    EXPECT_EQ_INT(ip_access_new_secret(IP_SECRET_NONE, a), IP_INVALID_ARGUMENT);
    EXPECT_EQ_STR(a, "");
}

/* Presented secrets are told apart by prefix, length and alphabet. */
static void test_kinds(void)
{
    static const struct {
        const char *s;
        ip_secret_kind want;
    } cases[] = {
        {"ipk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", IP_SECRET_KEY},
        {"ipo_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", IP_SECRET_OWNER},
        {"ipk_abcdefghijklmnopqrstuvwxyz-_0123456789ABCDE", IP_SECRET_KEY},
        {"ipk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", IP_SECRET_NONE},   /* 42 */
        {"ipk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", IP_SECRET_NONE}, /* 44 */
        {"ipk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", IP_SECRET_NONE},  /* padding */
        {"ipk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+", IP_SECRET_NONE},  /* base64, not url */
        {"ipk_AAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAA", IP_SECRET_NONE},
        {"ipx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", IP_SECRET_NONE},
        {"IPK_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", IP_SECRET_NONE},
        {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", IP_SECRET_NONE},
        {"ipk_", IP_SECRET_NONE},
        {"", IP_SECRET_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        EXPECTF(ip_access_kind(cases[i].s) == cases[i].want, "\"%s\": %d, want %d", cases[i].s,
                (int)ip_access_kind(cases[i].s), (int)cases[i].want);
    EXPECT_EQ_INT(ip_access_kind(NULL), IP_SECRET_NONE);
}

/* The hash is the lowercase hex SHA-256 of the whole secret (the values were
 * computed with sha256sum). */
static void test_hash(void)
{
    char h[IP_ACCESS_HASH_MAX];
    ip_access_hash("abc", h);
    EXPECT_EQ_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ip_access_hash("ipk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", h);
    EXPECT_EQ_STR(h, "4f596011b7dacf318adee3f2581d96905e4a64e92200304c351171f28d3d36f1");
    ip_access_hash("", h);
    EXPECT_EQ_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* The prefix is hashed too: a token and a key of the same bits differ. */
    char o[IP_ACCESS_HASH_MAX];
    ip_access_hash("ipo_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", o);
    EXPECT(strcmp(o, h) != 0 && strlen(o) == 64);
}

static void test_equal(void)
{
    char a[IP_ACCESS_HASH_MAX], b[IP_ACCESS_HASH_MAX];
    ip_access_hash("ipk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", a);
    ip_access_hash("ipk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", b);
    EXPECT(ip_access_hash_equal(a, b));
    /* A difference in the first or the last digit. */
    b[0] = b[0] == '0' ? '1' : '0';
    EXPECT(!ip_access_hash_equal(a, b));
    ip_access_hash("ipk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", b);
    b[63] = b[63] == '0' ? '1' : '0';
    EXPECT(!ip_access_hash_equal(a, b));
    /* A prefix of a hash is not the hash; empty and NULL match nothing. */
    char shorter[IP_ACCESS_HASH_MAX];
    memcpy(shorter, a, 63);
    shorter[63] = '\0';
    EXPECT(!ip_access_hash_equal(a, shorter));
    EXPECT(!ip_access_hash_equal(shorter, a));
    EXPECT(!ip_access_hash_equal("", ""));
    EXPECT(!ip_access_hash_equal(NULL, a));
    EXPECT(!ip_access_hash_equal(a, NULL));
    EXPECT(!ip_access_hash_equal(NULL, NULL));
}

static void test_prefix(void)
{
    char p[IP_KEY_PREFIX_LEN + 1];
    ip_access_prefix("ipk_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", p);
    EXPECT_EQ_STR(p, "ipk_abcdefgh");
    ip_access_prefix("ipk_ab", p);
    EXPECT_EQ_STR(p, "ipk_ab");
    ip_access_prefix(NULL, p);
    EXPECT_EQ_STR(p, "");
}

static void test_scope_names(void)
{
    EXPECT_EQ_STR(ip_scope_name(READ), "read");
    EXPECT_EQ_STR(ip_scope_name(UPLOAD), "upload");
    EXPECT_EQ_STR(ip_scope_name(DELETE), "delete");
    EXPECT_EQ_STR(ip_scope_name(ADMIN), "admin");
    EXPECT(ip_scope_name(NO_SCOPE) == NULL);
    EXPECT(ip_scope_name((Imageproc__ApiScope)5) == NULL);
    EXPECT(ip_scope_name((Imageproc__ApiScope)-1) == NULL);
    /* Every name parses back to its scope. */
    for (int s = 1; s <= 4; s++) {
        Imageproc__ApiScope got = NO_SCOPE;
        EXPECT_EQ_INT(ip_scope_parse(ip_scope_name((Imageproc__ApiScope)s), &got), IP_OK);
        EXPECT_EQ_INT(got, s);
    }
    Imageproc__ApiScope got = READ;
    EXPECT_EQ_INT(ip_scope_parse("Admin", &got), IP_INVALID_ARGUMENT);
    EXPECT_EQ_INT(ip_scope_parse("", &got), IP_INVALID_ARGUMENT);
    EXPECT_EQ_INT(ip_scope_parse("readx", &got), IP_INVALID_ARGUMENT);
    EXPECT_EQ_INT(ip_scope_parse(NULL, &got), IP_INVALID_ARGUMENT);
    EXPECT_EQ_INT(got, READ);
}

/* Lists: the mask of the names; each refusal says what was wrong. */
static void test_lists(void)
{
    uint32_t m = 0;
    char err[128] = "";
    EXPECT_EQ_INT(ip_scopes_parse_list("read", &m, err, sizeof err), IP_OK);
    EXPECT_EQ_INT(m, 1u << READ);
    EXPECT_EQ_INT(ip_scopes_parse_list("upload,delete", &m, err, sizeof err), IP_OK);
    EXPECT_EQ_INT(m, (1u << UPLOAD) | (1u << DELETE));
    EXPECT_EQ_INT(ip_scopes_parse_list("admin,read,upload,delete", &m, err, sizeof err), IP_OK);
    EXPECT_EQ_INT(m, (1u << READ) | (1u << UPLOAD) | (1u << DELETE) | (1u << ADMIN));

    static const struct {
        const char *list;
        const char *says;
    } bad[] = {
        {"", "no scopes"},
        {NULL, "no scopes"},
        {"write", "unknown scope \"write\""},
        {"read,writ", "unknown scope \"writ\""},
        {"read,,upload", "empty scope name"},
        {"read,", "empty scope name"},
        {",read", "empty scope name"},
        {"read, upload", "unknown scope \" upload\""},
        {"READ", "unknown scope"},
        {"read,upload,read", "given twice: \"read\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = 99;
        err[0] = '\0';
        EXPECT_EQ_INT(ip_scopes_parse_list(bad[i].list, &m, err, sizeof err), IP_INVALID_ARGUMENT);
        EXPECTF(strstr(err, bad[i].says) != NULL, "\"%s\": \"%s\", want \"%s\"",
                bad[i].list ? bad[i].list : "(null)", err, bad[i].says);
        EXPECT_EQ_INT(m, 0);
    }
    /* No error buffer is fine. */
    EXPECT_EQ_INT(ip_scopes_parse_list("x", &m, NULL, 0), IP_INVALID_ARGUMENT);
}

/* Masks of a key's scopes, and what they allow: admin allows everything. */
static void test_masks(void)
{
    Imageproc__ApiScope del[] = {DELETE};
    uint32_t m = ip_scopes_mask(del, 1);
    EXPECT(ip_scopes_allow(m, DELETE));
    EXPECT(!ip_scopes_allow(m, READ));
    EXPECT(!ip_scopes_allow(m, UPLOAD));
    EXPECT(!ip_scopes_allow(m, ADMIN));

    Imageproc__ApiScope ru[] = {READ, UPLOAD, NO_SCOPE};
    m = ip_scopes_mask(ru, 3);
    EXPECT_EQ_INT(m, (1u << READ) | (1u << UPLOAD));
    EXPECT(ip_scopes_allow(m, UPLOAD) && ip_scopes_allow(m, READ));
    EXPECT(!ip_scopes_allow(m, DELETE) && !ip_scopes_allow(m, ADMIN));

    Imageproc__ApiScope adm[] = {ADMIN};
    m = ip_scopes_mask(adm, 1);
    for (int s = 1; s <= 4; s++)
        EXPECTF(ip_scopes_allow(m, (Imageproc__ApiScope)s), "admin does not allow %d", s);
    EXPECT(!ip_scopes_allow(m, NO_SCOPE));

    EXPECT_EQ_INT(ip_scopes_mask(NULL, 0), 0);
    for (int s = 0; s <= 4; s++)
        EXPECT(!ip_scopes_allow(0, (Imageproc__ApiScope)s));
}

static const ip_test_case tests[] = {
    IP_TEST(forms),  IP_TEST(kinds),       IP_TEST(hash),  IP_TEST(equal),
    IP_TEST(prefix), IP_TEST(scope_names), IP_TEST(lists), IP_TEST(masks),
};
IP_TEST_MAIN(tests)
