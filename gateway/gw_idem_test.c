/* gw_idem_test.c — the Idempotency-Key's form and the sealed first answer:
 * a seal opens only with the same bytes, scope and key, and any change to
 * the sealed text fails cleanly. ctest: gateway.idem.<case>. */
#include "gw_idem.h"

#include <openssl/evp.h>
#include <string.h>

#include "ip_testing.h"

static const char body[] =
    "{\"id\":\"0190f2a4-5b6c-7d8e-9f00-112233445566\",\"status\":\"pending\","
    "\"owner_token\":\"ipo_secret\"}";
static const char bytes[] = "the uploaded image's bytes";

static void test_key_form(void)
{
    char longest[GW_IDEM_KEY_MAX + 2];
    memset(longest, 'k', GW_IDEM_KEY_MAX);
    longest[GW_IDEM_KEY_MAX] = '\0';
    EXPECT(gw_idem_key_valid("a"));
    EXPECT(gw_idem_key_valid("order-42:retry/1~!"));
    EXPECT(gw_idem_key_valid(longest));
    longest[GW_IDEM_KEY_MAX] = 'k';
    longest[GW_IDEM_KEY_MAX + 1] = '\0';
    EXPECT(!gw_idem_key_valid(longest)); /* 256 */
    EXPECT(!gw_idem_key_valid(""));
    EXPECT(!gw_idem_key_valid(NULL));
    EXPECT(!gw_idem_key_valid("two words"));
    EXPECT(!gw_idem_key_valid("tab\there"));
    EXPECT(!gw_idem_key_valid("del\x7f"));
    EXPECT(!gw_idem_key_valid("caf\xc3\xa9"));
}

static void test_digest(void)
{
    char hex[65];
    gw_idem_secret s;
    gw_idem_digest("abc", 3, hex, &s);
    EXPECT_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* The sealing key is not the plain digest, and is the label's hash. */
    unsigned char plain[32], want[32];
    unsigned int n = 0;
    EVP_Digest("abc", 3, plain, &n, EVP_sha256(), NULL);
    EXPECT(memcmp(s.k, plain, 32) != 0);
    EVP_Digest("imageprocessor idempotency v1\0abc", 33, want, &n, EVP_sha256(), NULL);
    EXPECT(memcmp(s.k, want, 32) == 0);
    char hex2[65];
    gw_idem_digest("abc", 3, hex2, NULL);
    EXPECT_EQ_STR(hex2, hex);
    gw_idem_digest("", 0, hex, NULL);
    EXPECT_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void sealed_body(gw_idem_secret *s, unsigned char *sealed, size_t *slen)
{
    char hex[65];
    gw_idem_digest(bytes, sizeof bytes - 1, hex, s);
    CHECK_ST(gw_idem_seal(s, "key-id", "k1", body, strlen(body), sealed, GW_IDEM_SEALED_MAX, slen),
             IP_OK, "seal");
    CHECK(*slen == strlen(body) + GW_IDEM_OVERHEAD);
}

static void test_round_trip(void)
{
    gw_idem_secret s;
    unsigned char sealed[GW_IDEM_SEALED_MAX];
    size_t slen = 0, olen = 0;
    sealed_body(&s, sealed, &slen);
    EXPECT(memmem(sealed, slen, "ipo_secret", 10) == NULL); /* not in the clear */
    char out[1024];
    EXPECT_ST(gw_idem_open(&s, "key-id", "k1", sealed, slen, out, sizeof out, &olen), IP_OK,
              "open");
    EXPECT_EQ_STR(out, body);
    EXPECT(olen == strlen(body));
    /* Two seals of one body differ (fresh nonce) and both open. */
    unsigned char again[GW_IDEM_SEALED_MAX];
    size_t alen = 0;
    CHECK_ST(gw_idem_seal(&s, "key-id", "k1", body, strlen(body), again, sizeof again, &alen),
             IP_OK, "seal");
    EXPECT(alen == slen && memcmp(again, sealed, slen) != 0);
    EXPECT_ST(gw_idem_open(&s, "key-id", "k1", again, alen, out, sizeof out, &olen), IP_OK, "open");
    /* An empty scope (uploads without a key) works too. */
    CHECK_ST(gw_idem_seal(&s, "", "k1", body, strlen(body), again, sizeof again, &alen), IP_OK,
             "seal");
    EXPECT_ST(gw_idem_open(&s, "", "k1", again, alen, out, sizeof out, &olen), IP_OK, "open");
    EXPECT_EQ_STR(out, body);
}

static void test_mismatch(void)
{
    gw_idem_secret s, other;
    unsigned char sealed[GW_IDEM_SEALED_MAX];
    size_t slen = 0, olen = 7;
    char out[1024], hex[65];
    sealed_body(&s, sealed, &slen);
    gw_idem_digest("other bytes", 11, hex, &other);
    EXPECT(gw_idem_open(&other, "key-id", "k1", sealed, slen, out, sizeof out, &olen) ==
           IP_FAILED_PRECONDITION);
    EXPECT(olen == 0 && out[0] == '\0');
    EXPECT(gw_idem_open(&s, "key-id2", "k1", sealed, slen, out, sizeof out, &olen) ==
           IP_FAILED_PRECONDITION);
    EXPECT(gw_idem_open(&s, "key-id", "k2", sealed, slen, out, sizeof out, &olen) ==
           IP_FAILED_PRECONDITION);
    /* scope 0x00 key keeps ("a", "bc") apart from ("ab", "c"). */
    CHECK_ST(gw_idem_seal(&s, "a", "bc", body, strlen(body), sealed, sizeof sealed, &slen), IP_OK,
             "seal");
    EXPECT(gw_idem_open(&s, "ab", "c", sealed, slen, out, sizeof out, &olen) ==
           IP_FAILED_PRECONDITION);
    EXPECT_ST(gw_idem_open(&s, "a", "bc", sealed, slen, out, sizeof out, &olen), IP_OK, "open");
}

static void test_tampered(void)
{
    gw_idem_secret s;
    unsigned char sealed[GW_IDEM_SEALED_MAX];
    size_t slen = 0, olen = 0;
    char out[1024];
    sealed_body(&s, sealed, &slen);
    for (size_t i = 0; i < slen; i++) { /* every byte: nonce, ciphertext, tag */
        sealed[i] ^= 0x01;
        EXPECT(gw_idem_open(&s, "key-id", "k1", sealed, slen, out, sizeof out, &olen) ==
               IP_FAILED_PRECONDITION);
        EXPECT(out[0] == '\0');
        sealed[i] ^= 0x01;
    }
    for (size_t cut = 0; cut < slen; cut += 7)
        EXPECT(gw_idem_open(&s, "key-id", "k1", sealed, cut, out, sizeof out, &olen) ==
               IP_FAILED_PRECONDITION);
    EXPECT(gw_idem_open(&s, "key-id", "k1", sealed, slen, out, sizeof out, &olen) == IP_OK);
}

static void test_bounds(void)
{
    gw_idem_secret s;
    unsigned char sealed[GW_IDEM_SEALED_MAX];
    size_t slen = 0, olen = 0;
    char out[16];
    sealed_body(&s, sealed, &slen);
    /* The body does not fit `out`: refused, nothing written. */
    EXPECT(gw_idem_open(&s, "key-id", "k1", sealed, slen, out, sizeof out, &olen) ==
           IP_INVALID_ARGUMENT);
    EXPECT(out[0] == '\0');
    static char big[GW_IDEM_BODY_MAX + 1];
    memset(big, 'x', sizeof big);
    EXPECT(gw_idem_seal(&s, "", "k", big, sizeof big, sealed, sizeof sealed, &slen) ==
           IP_INVALID_ARGUMENT);
    EXPECT(gw_idem_seal(&s, "", "k", big, GW_IDEM_BODY_MAX, sealed, sizeof sealed, &slen) == IP_OK);
    EXPECT(slen == GW_IDEM_SEALED_MAX);
    EXPECT(gw_idem_seal(&s, "", "k", body, strlen(body), sealed, strlen(body), &slen) ==
           IP_INVALID_ARGUMENT);
}

static const ip_test_case tests[] = {
    IP_TEST(key_form), IP_TEST(digest),   IP_TEST(round_trip),
    IP_TEST(mismatch), IP_TEST(tampered), IP_TEST(bounds),
};

IP_TEST_MAIN(tests)
