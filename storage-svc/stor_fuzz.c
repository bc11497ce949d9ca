/* stor_fuzz.c — fuzz target for the parsers of what S3 sends back and of what
 * callers send in (stor_s3_text.h).
 *
 * LLVMFuzzerTestOneInput(data, size) feeds the input to the XML error reader,
 * the ListObjectsV2 page reader, the delete-result reader, the entity decoder,
 * the key and prefix checks and the URI encoder, and checks the invariants
 * that must hold for any input (results NUL-terminated inside their buffers,
 * encoded text made only of unreserved characters and escapes). Built with
 * STOR_FUZZ_DRIVER it is its own driver: each argument is a file to replay or
 * a count of pseudo-random inputs built from XML fragments (ctest runs a
 * smoke count). clang -fsanitize=fuzzer links it as is.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stor_s3_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    char code[32], msg[48], key[40];
    stor_xml_error_parse(s, size, code, sizeof code, msg, sizeof msg);
    if (strlen(code) >= sizeof code || strlen(msg) >= sizeof msg)
        abort();

    char **keys = NULL, *next = NULL;
    size_t n = 0;
    if (stor_xml_list_parse(s, size, &keys, &n, &next) == IP_OK) {
        for (size_t i = 0; i < n; i++)
            free(keys[i]);
    } else if (keys || n || next) {
        abort();
    }
    free(keys);
    free(next);

    stor_xml_delete_result(s, size, key, sizeof key, code, sizeof code, msg, sizeof msg);
    if (strlen(key) >= sizeof key)
        abort();

    char *t = stor_xml_text_dup(s, size);
    if (t && strlen(t) > size)
        abort();
    free(t);

    const char *why;
    stor_key_check(s, &why);
    stor_prefix_check(s, &why);

    char *e = stor_uri_encode(s, size, size % 2 == 0);
    if (e) {
        for (const char *p = e; *p; p++) {
            char c = *p;
            int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_' || c == '.' || c == '~' || c == '%' || c == '/';
            if (!ok)
                abort();
        }
    }
    free(e);
    free(s);
    return 0;
}

#ifdef STOR_FUZZ_DRIVER
static uint64_t rng = 0x243F6A8885A308D3ull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Builds an input from fragments that S3 answers are made of, plus noise. */
static size_t make_input(uint8_t *buf, size_t cap)
{
    static const char *const frags[] = {"<Error>",
                                        "</Error>",
                                        "<Code>",
                                        "</Code>",
                                        "<Message>",
                                        "</Message>",
                                        "<Key>",
                                        "</Key>",
                                        "<Contents>",
                                        "</Contents>",
                                        "<IsTruncated>",
                                        "</IsTruncated>",
                                        "true",
                                        "<NextContinuationToken>",
                                        "</NextContinuationToken>",
                                        "<Empty/>",
                                        "&amp;",
                                        "&#x41;",
                                        "&#99999999;",
                                        "&",
                                        ";",
                                        "<",
                                        ">",
                                        "/",
                                        "..",
                                        "a",
                                        "%",
                                        " ",
                                        "\n",
                                        "\xc3\xa9",
                                        "&#0;"};
    size_t n = 0, parts = next_rand() % 40;
    for (size_t i = 0; i < parts; i++) {
        if (next_rand() % 5 == 0) {
            if (n < cap)
                buf[n++] = (uint8_t)next_rand();
            continue;
        }
        const char *f = frags[next_rand() % (sizeof frags / sizeof frags[0])];
        size_t fl = strlen(f);
        if (n + fl > cap)
            break;
        memcpy(buf + n, f, fl);
        n += fl;
    }
    return n;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        char *end;
        long count = strtol(argv[i], &end, 10);
        if (*end == '\0' && count > 0) {
            uint8_t buf[1024];
            for (long k = 0; k < count; k++)
                LLVMFuzzerTestOneInput(buf, make_input(buf, sizeof buf));
            continue;
        }
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            fprintf(stderr, "cannot open %s\n", argv[i]);
            return 2;
        }
        static uint8_t file[1 << 20];
        size_t len = fread(file, 1, sizeof file, f);
        fclose(f);
        LLVMFuzzerTestOneInput(file, len);
    }
    return 0;
}
#endif
