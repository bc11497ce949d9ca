/* gw_fuzz.c — fuzz targets for the gateway's parsers of outside input.
 *
 * LLVMFuzzerTestOneInput(data, size) runs the first byte's choice of target on
 * the rest: the multipart parser (fed in chunks the input decides), the query
 * splitter and validators, the Content-Type boundary parser and the
 * Authorization header's (gw_auth_parse), the Idempotency-Key's form, the
 * upload's on_duplicate, a webhook subscription's url, secret and
 * signature header (ip_webhook.h) and POST /webhooks' body (gw_webhook_form.h),
 * the sniffer and filename sanitiser, the Accept
 * header's parser and the file it chooses (gw_accept.h). Built with
 * GW_FUZZ_DRIVER it is its own driver: each argument is a file to replay, or a count of
 * pseudo-random inputs to try (ctest runs 20000 as a smoke test). clang -fsanitize=fuzzer links it
 * as is.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_accept.h"
#include "gw_auth.h"
#include "gw_idem.h"
#include "gw_multipart.h"
#include "gw_query.h"
#include "gw_webhook_form.h"
#include "ip_admit.h"
#include "ip_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t which = data[0] % 5, step = data[1];
    data += 2;
    size -= 2;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    switch (which) {
    case 0: {
        gw_mp_limits lim = {.max_file_bytes = 4096, .max_header_bytes = 512, .max_parts = 4};
        gw_multipart *mp = gw_multipart_new("b", &lim);
        size_t chunk = step ? step : 1;
        gw_mp_result r = GW_MP_OK;
        for (size_t off = 0; off < size && r == GW_MP_OK; off += chunk)
            r = gw_multipart_feed(mp, s + off, size - off < chunk ? size - off : chunk);
        gw_multipart_finish(mp);
        size_t len;
        free(gw_multipart_take_file(mp, &len));
        gw_multipart_free(mp);
        break;
    }
    case 1: {
        gw_kv kv[16];
        int n = gw_query_split(s, kv, 16);
        if (n >= 0) {
            gw_list_query q;
            gw_events_query e;
            gw_variant_choice v;
            const char *p;
            char d[256];
            unsigned m;
            gw_query_list(kv, (size_t)n, &q, &p, d, sizeof d);
            gw_query_events(kv, (size_t)n, &e, &p, d, sizeof d);
            gw_query_variant(kv, (size_t)n, &v, &p, d, sizeof d);
            const char *ops, *dup;
            gw_on_duplicate od;
            gw_query_upload(kv, (size_t)n, &ops, &dup, &p, d, sizeof d);
            for (int i = 0; i < n; i++) {
                gw_ops_parse(kv[i].value, &m, d, sizeof d);
                gw_on_duplicate_parse(kv[i].value, &od, d, sizeof d);
            }
        }
        break;
    }
    case 2: {
        char b[GW_BOUNDARY_MAX + 1];
        gw_multipart_boundary(s, b);
        gw_caller c;
        char e[256];
        (void)gw_auth_parse(s, &c, e, sizeof e);
        (void)gw_idem_key_valid(s);
        (void)ip_webhook_url_check(s, e, sizeof e);
        (void)ip_webhook_secret_valid(s);
        (void)ip_webhook_verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_x", 1, s, size, s);
        (void)gw_content_type_is_json(s);
        (void)gw_webhook_url_private_literal(s);
        gw_webhook_form f;
        json_t *doc = NULL;
        const char *p = NULL;
        if (gw_webhook_form_parse(s, size, step & 1, &f, &doc, &p, e, sizeof e) == IP_OK &&
            (!f.url || f.n_events < 1 || f.n_events > 3 || !f.description))
            abort();
        json_decref(doc);
        break;
    }
    case 4: {
        static const ip_format_def *const fmts[] = {&ip_format_png, &ip_format_webp,
                                                    &ip_format_avif};
        gw_accept a;
        if (gw_accept_parse(s, &a))
            for (size_t i = 0; i < a.n; i++)
                if (a.r[i].type_len + a.r[i].subtype_len > size || a.r[i].q < 0 || a.r[i].q > 1000)
                    abort();
        if (gw_accept_choose(s, fmts, 1 + step % 3) > 2)
            abort();
        break;
    }
    default: {
        (void)ip_img_sniff(data, size);
        free(gw_filename_sanitize(s, size));
        break;
    }
    }
    free(s);
    return 0;
}

#ifdef GW_FUZZ_DRIVER
static const char *const seeds[] = {
    "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nabc\r\n--b--",
    "limit=5&mode=resized&last_created_at=2026-01-01T00:00:00Z&last_id=x&id=1,2",
    "multipart/form-data; boundary=\"abc\"",
    "\x89PNG\r\n\x1a\n....",
    "image/avif,image/webp;q=0.9;a=\"x,y\", image/*;q=0.8, */*;q=0.5",
};
#define NSEEDS (sizeof seeds / sizeof seeds[0])

int main(int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        char *end;
        long n = strtol(argv[a], &end, 10);
        if (*end == '\0') {
            uint64_t x = 0x9E3779B97F4A7C15ull;
            uint8_t buf[600];
            for (long i = 0; i < n; i++) {
                const char *seed = seeds[(size_t)i % NSEEDS];
                size_t sl = strlen(seed), len = 2 + sl;
                buf[0] = (uint8_t)((size_t)i % NSEEDS);
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                buf[1] = (uint8_t)x;
                memcpy(buf + 2, seed, sl);
                /* A few random byte edits, insertions or truncations. */
                int edits = (int)(x >> 8) % 6;
                for (int e = 0; e < edits; e++) {
                    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                    size_t pos = 2 + (size_t)(x % (len - 1));
                    switch ((x >> 32) % 3) {
                    case 0:
                        buf[pos] = (uint8_t)(x >> 40);
                        break;
                    case 1:
                        len = pos;
                        break;
                    default:
                        if (len < sizeof buf - 1) {
                            memmove(buf + pos + 1, buf + pos, len - pos);
                            buf[pos] = (uint8_t)(x >> 48);
                            len++;
                        }
                    }
                    if (len < 3)
                        len = 3;
                }
                LLVMFuzzerTestOneInput(buf, len);
            }
            printf("ok   %ld pseudo-random inputs\n", n);
            continue;
        }
        FILE *f = fopen(argv[a], "rb");
        if (!f) {
            perror(argv[a]);
            return 1;
        }
        static uint8_t fb[1 << 20];
        size_t n2 = fread(fb, 1, sizeof fb, f);
        fclose(f);
        LLVMFuzzerTestOneInput(fb, n2);
    }
    return 0;
}
#endif
