/* ip_admit_fuzz.c — fuzz entry point of the admission check.
 *
 * LLVMFuzzerTestOneInput runs ip_admit_check with the default limits (tighter
 * metadata so the inflate path ends early) on a copy of the input of exactly
 * its size, so the sanitizers see any read past the end. With clang's
 * -fsanitize=fuzzer this file links as is. Built with IP_ADMIT_FUZZ_DRIVER it
 * is also a replay driver: `ip_admit_fuzz N` runs N pseudo-random mutations
 * (byte edits, big-endian and little-endian length fields set to edge values,
 * insertions, truncations) of small seeds of every accepted type built here;
 * other arguments are files to replay.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_admit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    ip_admit_limits lim;
    ip_admit_limits_default(&lim);
    lim.metadata_bytes = 1 << 20;
    ip_admit_result r;
    (void)ip_admit_check(copy, size, &lim, &r);
    free(copy);
    return 0;
}

#ifdef IP_ADMIT_FUZZ_DRIVER
/* Small containers of every type, by hand (CRCs are not checked). */
static const uint8_t seed_png[] =
    "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0...."
    "\0\0\0\x10zTXtk\0\0\x78\x9c\x63\x60\x18\x05\x00\x00\x00\x00...."
    "\0\0\0\x0ciTXtk\0\x01\0\0\0\x78\x9c\x63\x00\x00\x01...."
    "\0\0\0\x0cIDAT\x78\x9c\x63\x60\x60\x60\x00\x00\x00\x04\x00\x01...."
    "\0\0\0\0IEND....";
static const uint8_t seed_jpeg[] =
    "\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xff\xfe\0\x05hi\0"
    "\xff\xc2\0\x0b\x08\0\x10\0\x10\x01\x01\x11\0\xff\xc4\0\x03\0"
    "\xff\xda\0\x08\x01\x01\0\0\x3f\0\x12\xff\0\x34\xff\xd0\x56"
    "\xff\xda\0\x08\x01\x01\0\0\x3f\0\x12\xff\xd9";
static const uint8_t seed_gif[] = "GIF89a\x02\0\x02\0\x80\0\0\0\0\0\xff\xff\xff"
                                  "\x21\xff\x0bNETSCAPE2.0\x03\x01\0\0\0\x21\xfe\x02hi\0"
                                  "\x21\xf9\x04\x04\x0a\0\0\0"
                                  "\x2c\0\0\0\0\x02\0\x02\0\0\x02\x02\x44\x01\0\x3b";
static const uint8_t seed_webp[] = "RIFF\x44\0\0\0WEBPVP8X\x0a\0\0\0\x12\0\0\0\x09\0\0\x09\0\0"
                                   "ANIM\x06\0\0\0\0\0\0\0\0\0ICCP\x03\0\0\0abc\0"
                                   "ANMF\x10\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
static const uint8_t seed_tiff[] = "II*\0\x08\0\0\0\x03\0\0\x01\x03\0\x01\0\0\0\x10\0\0\0"
                                   "\x01\x01\x03\0\x01\0\0\0\x09\0\0\0"
                                   "\xbc\x02\x01\0\x04\0\0\0abcd\x2c\0\0\0"
                                   "\x01\0\0\x01\x03\0\x01\0\0\0\x10\0\0\0\x08\0\0\0";
static const uint8_t seed_heif[] =
    "\0\0\0\x18" "ftypheic\0\0\0\0mif1heic"
    "\0\0\0\x48meta\0\0\0\0\0\0\0\x0ehdlr\0\0\0\0pi"
    "\0\0\0\x0eiinf\0\0\0\0\0\x01\0\0"
    "\0\0\0\x1ciprp\0\0\0\x14ipco\0\0\0\x14ispe\0\0\0\0\0\0\x02\x80\0\0\x01\xe0"
    "\0\0\0\x10mdat\0\0\0\0\0\0\0\0";

static const struct {
    const uint8_t *p;
    size_t n;
} seeds[] = {
    {seed_png, sizeof seed_png - 1},   {seed_jpeg, sizeof seed_jpeg - 1},
    {seed_gif, sizeof seed_gif - 1},   {seed_webp, sizeof seed_webp - 1},
    {seed_tiff, sizeof seed_tiff - 1}, {seed_heif, sizeof seed_heif - 1},
};
#define NSEEDS (sizeof seeds / sizeof seeds[0])

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* One edit of buf[0..*len) (capacity cap). */
static void mutate(uint8_t *buf, size_t *len, size_t cap, uint64_t *x)
{
    static const uint32_t edge[] = {0, 1, 2, 7, 8, 12, 16, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                                    0xFFFF, 0xFFFE};
    uint64_t r = next(x);
    size_t pos = *len ? (size_t)(r % *len) : 0;
    switch ((r >> 32) % 5) {
    case 0:
        if (*len)
            buf[pos] = (uint8_t)(r >> 40);
        break;
    case 1:
        *len = pos;
        break;
    case 2:
        if (*len < cap) {
            memmove(buf + pos + 1, buf + pos, *len - pos);
            buf[pos] = (uint8_t)(r >> 48);
            (*len)++;
        }
        break;
    default: {
        uint32_t v = edge[(r >> 40) % (sizeof edge / sizeof *edge)];
        bool be = (r >> 36) & 1;
        for (int i = 0; i < 4 && pos + (size_t)i < *len; i++)
            buf[pos + (size_t)i] = (uint8_t)(be ? v >> (24 - 8 * i) : v >> (8 * i));
    }
    }
}

int main(int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        char *end;
        long n = strtol(argv[a], &end, 10);
        if (*end == '\0') {
            uint64_t x = 0x9E3779B97F4A7C15ull;
            uint8_t buf[1024];
            for (long i = 0; i < n; i++) {
                size_t len = seeds[(size_t)i % NSEEDS].n;
                memcpy(buf, seeds[(size_t)i % NSEEDS].p, len);
                int edits = 1 + (int)(next(&x) % 4);
                for (int e = 0; e < edits; e++)
                    mutate(buf, &len, sizeof buf, &x);
                LLVMFuzzerTestOneInput(buf, len);
            }
            for (size_t s = 0; s < NSEEDS; s++)
                LLVMFuzzerTestOneInput(seeds[s].p, seeds[s].n);
            printf("ok   %ld pseudo-random inputs\n", n);
            continue;
        }
        FILE *f = fopen(argv[a], "rb");
        if (!f) {
            perror(argv[a]);
            return 1;
        }
        static uint8_t fb[1 << 24];
        size_t got = fread(fb, 1, sizeof fb, f);
        fclose(f);
        LLVMFuzzerTestOneInput(fb, got);
    }
    return 0;
}
#endif
