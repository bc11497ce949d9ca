/* proc_fuzz.c — fuzz target for the image path: header reading, the pixel
 * limit, the decode and the variants (proc_variants.h).
 *
 * LLVMFuzzerTestOneInput(data, size) hands the input to proc_variants_make
 * with a small pixel limit (so a fuzzer explores headers, not big decodes)
 * and checks what must hold for any input: success gives every requested
 * variant with bytes and a positive size (the thumbnail exactly square),
 * failure gives no variant and a reason. Built with PROC_FUZZ_DRIVER it is
 * its own driver: each argument is a file to replay or a count of inputs
 * made by damaging small fixtures of every format (bytes flipped, runs
 * overwritten, truncated, header fields changed); ctest runs a smoke count.
 * Built for libFuzzer (without PROC_FUZZ_DRIVER; cmake -DIP_FUZZ=ON, or
 * scripts/fuzz), LLVMFuzzerInitialize starts libvips and the processor's
 * global settings once, as the driver's main does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "proc_fixtures.h"
#include "proc_variants.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proc_settings s;
    proc_settings_default(&s);
    s.pixel_limit = 4 * 1000 * 1000;
    proc_variants out;
    char err[512];
    ip_status st = proc_variants_make(data, size, IP_VARIANT_MASK_ALL, &s, &out, err, sizeof(err));
    if (st == IP_OK) {
        if (out.n != IP_VARIANT_COUNT)
            abort();
        for (int i = 0; i < out.n; i++) {
            const proc_variant *v = &out.v[i];
            if (!v->data || v->len == 0 || v->width <= 0 || v->height <= 0)
                abort();
            if (v->kind == IP_VARIANT_THUMBNAIL && (v->width != 320 || v->height != 320))
                abort();
        }
        proc_variants_fini(&out);
    } else if (out.n != 0 || err[0] == '\0') {
        abort();
    }
    return 0;
}

#ifndef PROC_FUZZ_DRIVER
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (VIPS_INIT((*argv)[0]))
        abort();
    proc_variants_global_init(1, 64LL << 20);
    return 0;
}
#else
static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

/* One damaged copy of `src`: a few of flips, overwritten runs, truncation. */
static size_t damage(const uint8_t *src, size_t len, uint8_t *dst)
{
    memcpy(dst, src, len);
    size_t n = len;
    int edits = 1 + (int)(next_rand() % 4);
    for (int e = 0; e < edits && n > 0; e++) {
        switch (next_rand() % 4) {
        case 0: /* flip a byte, mostly in the header */
            dst[next_rand() % (n < 256 ? n : (next_rand() % 2 ? 256 : n))] ^=
                (uint8_t)(1u << (next_rand() % 8));
            break;
        case 1: { /* overwrite a run */
            size_t at = next_rand() % n, run = 1 + next_rand() % 64;
            uint8_t v = (uint8_t)next_rand();
            for (size_t i = at; i < n && i < at + run; i++)
                dst[i] = v;
            break;
        }
        case 2: /* truncate */
            n = next_rand() % n;
            break;
        default: /* a large 16/32-bit value somewhere in the first bytes */
            if (n > 32) {
                size_t at = 8 + next_rand() % 24;
                dst[at] = 0xff;
                dst[at - 1] = (uint8_t)next_rand();
            }
            break;
        }
    }
    return n;
}

static int replay_file(const char *path)
{
    gchar *b = NULL;
    gsize n = 0;
    if (!g_file_get_contents(path, &b, &n, NULL)) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)b, n);
    g_free(b);
    return 0;
}

int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0]))
        return 2;
    proc_variants_global_init(1, 64LL << 20);
    int rc = 0;
    for (int a = 1; a < argc; a++) {
        char *end = NULL;
        long count = strtol(argv[a], &end, 10);
        if (!end || *end != '\0') {
            rc |= replay_file(argv[a]);
            continue;
        }
        void *fx[FX_COUNT] = {0};
        size_t fxlen[FX_COUNT] = {0};
        for (int k = 0; k < FX_COUNT; k++)
            if (proc_fixture_make((proc_fixture_kind)k, 96, 64, &fx[k], &fxlen[k]) != 0)
                fx[k] = NULL;
        uint8_t *buf = malloc(1 << 20);
        for (long i = 0; i < count; i++) {
            int k = (int)(next_rand() % FX_COUNT);
            if (!fx[k] || fxlen[k] > (1 << 20))
                continue;
            size_t n = damage(fx[k], fxlen[k], buf);
            LLVMFuzzerTestOneInput(buf, n);
        }
        free(buf);
        for (int k = 0; k < FX_COUNT; k++)
            g_free(fx[k]);
        fprintf(stderr, "%ld damaged inputs: no crash, every contract held\n", count);
    }
    vips_shutdown();
    return rc;
}
#endif
