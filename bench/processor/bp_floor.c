/* bp_floor.c — the independent floor: the three variants made with plain
 * libvips calls, none of the service's code, in a child process.
 *
 * What a skilled person would write with libvips alone to make the same
 * output as the processor:
 * - decode once: vips_thumbnail_buffer to the largest box a variant needs
 *   (the resized variant's 1280 fit, or the thumbnail's 320 cover when that
 *   is larger; the header is read first for the size and EXIF orientation),
 *   which shrinks on load, turns the image upright and, for images with an
 *   ICC profile, exports sRGB; then 8-bit sRGB, copied into memory, and an
 *   alpha band that is 255 everywhere dropped (such images go out as JPEG);
 * - thumbnail: 320x320 cover, attention crop; resized: the decoded image
 *   (fitted again only when larger than 1280); watermarked: resized with
 *   "ImageProcessor" (DejaVu Sans Bold 12 at 432 dpi, rendered once per
 *   process and scaled to ~30% of the width) in the lower right, white at
 *   55% over a blurred black halo at 50%, 1/50 of the width from the edges;
 * - encode without metadata: JPEG Q85 with optimised Huffman tables, or PNG
 *   (compression 6) when a real alpha channel is left, and WebP Q80 (effort
 *   2, as the processor) beside it (the default presets' formats).
 * `threads` threads each take the next item from a shared counter; libvips
 * concurrency and its cache (off) are set once. The child prints one FLOOR
 * line: images, wall and CPU seconds, peak RSS, and the median per-image
 * time (the figure the latency comparison uses, with one thread).
 *
 * FORMATS (bench_processor formats <corpus> <scratch> <copies>): the same
 * variants made one image at a time (one thread, libvips concurrency 1),
 * each variant encoded in every format: the primary (JPEG Q85, or PNG),
 * WebP Q80 (effort 2) and AVIF Q55 (heifsave, AV1, effort 2), as the
 * processor makes them. The
 * process CPU clock is read around each encode, so each format's CPU per
 * image is its three encodes, and "decode + variants" is the rest (decode,
 * resizes, crop, watermark). Prints a table: CPU ms per image and mean
 * bytes per variant (thumbnail, resized, watermarked) for each format.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vips/vips.h>

#include "bench_processor.h"

#define THUMB 320
#define RESIZED 1280
#define QUALITY 85
#define WEBP_QUALITY 80
#define WEBP_EFFORT 2
#define AVIF_QUALITY 55
#define AVIF_EFFORT 2

/* The formats table's columns; FMT_PRIMARY is JPEG or PNG. */
enum { FMT_PRIMARY, FMT_WEBP, FMT_AVIF, FMT_N };
static const char *const fmt_names[FMT_N] = {"jpeg/png", "webp", "avif"};

/* Formats mode: every format of every variant, CPU and bytes added up
 * (one thread, so plain globals). */
static bool formats_mode;
static double fmt_cpu_s[FMT_N], all_cpu_s;
static double fmt_bytes[FMT_N][3];

static const bp_corpus *corpus;
static atomic_int next_item, failures;
static VipsImage *text_mask; /* rendered once, read by every thread */
static double item_ms[BP_MAX_ITEMS];

static double cpu_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One file of `in` in format `f`; its size, or 0 on failure. */
static size_t encode_one(VipsImage *in, int f)
{
    void *buf = NULL;
    size_t len = 0;
    int rc;
    if (f == FMT_WEBP)
        rc = vips_webpsave_buffer(in, &buf, &len, "Q", WEBP_QUALITY, "effort", WEBP_EFFORT, "strip",
                                  TRUE, NULL);
    else if (f == FMT_AVIF)
        rc = vips_heifsave_buffer(in, &buf, &len, "Q", AVIF_QUALITY, "compression",
                                  VIPS_FOREIGN_HEIF_COMPRESSION_AV1, "effort", AVIF_EFFORT, "strip",
                                  TRUE, NULL);
    else if (in->Bands == 4)
        rc = vips_pngsave_buffer(in, &buf, &len, "strip", TRUE, "compression", 6, NULL);
    else
        rc = vips_jpegsave_buffer(in, &buf, &len, "Q", QUALITY, "strip", TRUE, "optimize_coding",
                                  TRUE, NULL);
    g_free(buf);
    if (rc) {
        atomic_fetch_add(&failures, 1);
        return 0;
    }
    return len;
}

/* Variant `kind` (0 thumbnail, 1 resized, 2 watermarked) of one image: the
 * primary and WebP; in formats mode every format, measured. */
static void encode(VipsImage *in, int kind)
{
    if (!formats_mode) {
        encode_one(in, FMT_PRIMARY);
        encode_one(in, FMT_WEBP);
        return;
    }
    for (int f = 0; f < FMT_N; f++) {
        double t0 = cpu_now_s();
        size_t len = encode_one(in, f);
        fmt_cpu_s[f] += cpu_now_s() - t0;
        fmt_bytes[f][kind] += (double)len;
    }
}

/* in with the text mask in its lower right (as the processor places it). */
static int watermark(VipsObject *ctx, VipsImage *in, VipsImage **out)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 18);
    int W = in->Xsize, H = in->Ysize;
    double scale = fmin(W * 0.30 / text_mask->Xsize, H * 0.25 / text_mask->Ysize);
    if (vips_resize(text_mask, &t[1], scale, NULL))
        return -1;
    int pad = t[1]->Ysize / 5 > 2 ? t[1]->Ysize / 5 : 2;
    int pw = t[1]->Xsize + 2 * pad, ph = t[1]->Ysize + 2 * pad, margin = W / 50;
    if (W < 16 || H < 16 || pw + margin > W || ph + margin > H) {
        *out = in;
        g_object_ref(in);
        return 0;
    }
    int x = W - pw - margin, y = H - ph - margin;
    double sigma = fmax(0.7, t[1]->Ysize / 12.0);
    if (vips_embed(t[1], &t[2], pad, pad, pw, ph, NULL) ||
        vips_gaussblur(t[2], &t[3], sigma, NULL) ||
        vips_linear1(t[3], &t[4], 3.0, 0, "uchar", TRUE, NULL) ||
        vips_linear1(t[4], &t[5], 0.5, 0, "uchar", TRUE, NULL) ||
        vips_black(&t[6], pw, ph, "bands", 3, NULL) ||
        vips_cast(t[6], &t[7], VIPS_FORMAT_UCHAR, NULL) ||
        vips_bandjoin2(t[7], t[5], &t[8], NULL) ||
        vips_copy(t[8], &t[9], "interpretation", VIPS_INTERPRETATION_sRGB, NULL) ||
        vips_linear1(t[2], &t[10], 0.55, 0, "uchar", TRUE, NULL) ||
        vips_linear1(t[7], &t[11], 0, 255, "uchar", TRUE, NULL) ||
        vips_bandjoin2(t[11], t[10], &t[12], NULL) ||
        vips_copy(t[12], &t[13], "interpretation", VIPS_INTERPRETATION_sRGB, NULL) ||
        vips_composite2(in, t[9], &t[14], VIPS_BLEND_MODE_OVER, "x", x, "y", y, NULL) ||
        vips_composite2(t[14], t[13], &t[15], VIPS_BLEND_MODE_OVER, "x", x, "y", y, NULL) ||
        vips_cast(t[15], &t[16], VIPS_FORMAT_UCHAR, NULL) ||
        vips_extract_band(t[16], &t[17], 0, "n", in->Bands, NULL))
        return -1;
    *out = t[17];
    g_object_ref(*out);
    return 0;
}

/* The decode box: the 1280 fit, or the 320 cover when larger, upright. */
static void decode_box(const bp_file *f, VipsImage *hdr, int *dw, int *dh)
{
    bool swap = vips_image_get_orientation_swap(hdr);
    double ow = swap ? f->h : f->w, oh = swap ? f->w : f->h;
    double sc = fmin(1.0, RESIZED / fmax(ow, oh));
    sc = fmax(sc, fmin(1.0, fmax(THUMB / ow, THUMB / oh)));
    *dw = (int)fmax(1.0, lround(ow * sc));
    *dh = (int)fmax(1.0, lround(oh * sc));
}

static int make_all(const bp_file *f)
{
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 12);
    int rc = -1, dw, dh;
    if (!(t[0] = vips_image_new_from_buffer(f->data, f->len, "", "access", VIPS_ACCESS_SEQUENTIAL,
                                            NULL)))
        goto done;
    decode_box(f, t[0], &dw, &dh);
    bool icc = vips_image_get_typeof(t[0], VIPS_META_ICC_NAME) != 0;
    if (icc ? vips_thumbnail_buffer(f->data, f->len, &t[1], dw, "height", dh, "size",
                                    VIPS_SIZE_DOWN, "export_profile", "srgb", NULL)
            : vips_thumbnail_buffer(f->data, f->len, &t[1], dw, "height", dh, "size",
                                    VIPS_SIZE_DOWN, NULL))
        goto done;
    VipsImage *cur = t[1];
    if (cur->Type != VIPS_INTERPRETATION_sRGB || cur->BandFmt != VIPS_FORMAT_UCHAR) {
        if (vips_colourspace(cur, &t[2], VIPS_INTERPRETATION_sRGB, NULL))
            goto done;
        cur = t[2];
    }
    if (cur->BandFmt != VIPS_FORMAT_UCHAR) {
        if (vips_cast(cur, &t[3], VIPS_FORMAT_UCHAR, "shift", TRUE, NULL))
            goto done;
        cur = t[3];
    }
    int want = vips_image_hasalpha(cur) ? 4 : 3;
    if (cur->Bands > want) {
        if (vips_extract_band(cur, &t[4], 0, "n", want, NULL))
            goto done;
        cur = t[4];
    }
    if (!(t[5] = vips_image_copy_memory(cur)))
        goto done;
    VipsImage *base = t[5];
    if (base->Bands == 4) { /* an alpha that is 255 everywhere goes */
        double mn = 0;
        if (vips_extract_band(base, &t[6], 3, NULL) || vips_min(t[6], &mn, NULL))
            goto done;
        if (mn >= 255.0) {
            if (vips_extract_band(base, &t[7], 0, "n", 3, NULL))
                goto done;
            base = t[7];
        }
    }
    VipsImage *resized = base;
    if (base->Xsize > RESIZED || base->Ysize > RESIZED) {
        if (vips_thumbnail_image(base, &t[8], RESIZED, "height", RESIZED, "size", VIPS_SIZE_DOWN,
                                 "no_rotate", TRUE, NULL) ||
            !(t[9] = vips_image_copy_memory(t[8])))
            goto done;
        resized = t[9];
    }
    if (vips_thumbnail_image(base, &t[10], THUMB, "height", THUMB, "crop",
                             VIPS_INTERESTING_ATTENTION, "no_rotate", TRUE, NULL))
        goto done;
    encode(t[10], 0);
    encode(resized, 1);
    if (watermark(ctx, resized, &t[11]))
        goto done;
    encode(t[11], 2);
    rc = 0;
done:
    if (rc) {
        fprintf(stderr, "floor: %s: %s\n", f->path, vips_error_buffer());
        vips_error_clear();
    }
    g_object_unref(ctx);
    return rc;
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        int i = atomic_fetch_add(&next_item, 1);
        if (i >= corpus->nitems)
            break;
        double t0 = bp_now_s();
        if (make_all(&corpus->files[corpus->item_file[i]]))
            atomic_fetch_add(&failures, 1);
        item_ms[i] = (bp_now_s() - t0) * 1000;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* libvips set up as the floor runs it, and the text mask rendered. */
static int floor_setup(int conc)
{
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    vips_concurrency_set(conc > 0 ? conc : 1);
    VipsImage *drawn = NULL;
    if (vips_text(&drawn, "ImageProcessor", "font", "DejaVu Sans Bold 12", "dpi", 432, NULL) ||
        !(text_mask = vips_image_copy_memory(drawn)))
        return -1;
    g_object_unref(drawn);
    return 0;
}

int bp_formats_child(int argc, char **argv)
{
    if (argc < 5)
        return 2;
    static bp_corpus c;
    if (!bp_corpus_load(&c, argv[2], argv[3], atoi(argv[4])) || floor_setup(1))
        return 1;
    formats_mode = true;
    int made = 0;
    for (int i = 0; i < c.nitems; i++) {
        double t0 = cpu_now_s();
        if (make_all(&c.files[c.item_file[i]]) == 0)
            made++;
        all_cpu_s += cpu_now_s() - t0;
    }
    double enc = 0;
    for (int f = 0; f < FMT_N; f++)
        enc += fmt_cpu_s[f];
    printf("\nformats, %s: %d images (%.0f MP), one at a time, libvips concurrency 1\n", c.name,
           made, bp_corpus_mp(&c));
    printf("  %-18s %14s %12s %12s %12s\n", "", "CPU ms/image", "thumbnail B", "resized B",
           "watermarked B");
    printf("  %-18s %14.1f\n", "decode + variants", made ? (all_cpu_s - enc) * 1000 / made : 0);
    for (int f = 0; f < FMT_N; f++)
        printf("  %-18s %14.1f %12.0f %12.0f %12.0f\n", fmt_names[f],
               made ? fmt_cpu_s[f] * 1000 / made : 0, made ? fmt_bytes[f][0] / made : 0,
               made ? fmt_bytes[f][1] / made : 0, made ? fmt_bytes[f][2] / made : 0);
    printf("  failures: %d\n", atomic_load(&failures));
    fflush(stdout);
    int all = made == c.nitems;
    g_object_unref(text_mask);
    bp_corpus_free(&c);
    return all ? 0 : 1;
}

int bp_floor_child(int argc, char **argv)
{
    if (argc < 7)
        return 2;
    static bp_corpus c;
    int copies = atoi(argv[4]), threads = atoi(argv[5]), conc = atoi(argv[6]);
    if (threads < 1 || threads > 16 || !bp_corpus_load(&c, argv[2], argv[3], copies))
        return 1;
    corpus = &c;
    if (floor_setup(conc))
        return 1;

    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = bp_now_s();
    pthread_t th[16];
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double wall = bp_now_s() - t0;
    getrusage(RUSAGE_SELF, &r1);
    double cpu =
        bp_tv_s(r1.ru_utime) - bp_tv_s(r0.ru_utime) + bp_tv_s(r1.ru_stime) - bp_tv_s(r0.ru_stime);
    qsort(item_ms, (size_t)c.nitems, sizeof(double), cmp_double);
    printf("FLOOR %d %.3f %.3f %ld %.1f\n", c.nitems - atomic_load(&failures), wall, cpu,
           r1.ru_maxrss, item_ms[c.nitems / 2]);
    g_object_unref(text_mask);
    bp_corpus_free(&c);
    return 0;
}

bp_result bp_floor_run(const char *self, const char *name, const char *scratch, int copies,
                       int threads, int conc)
{
    bp_result r = {0};
    int fds[2];
    if (pipe(fds) != 0)
        return r;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        setenv("MALLOC_ARENA_MAX", "2", 1); /* as the processor runs */
        char cp[16], th[16], cc[16];
        snprintf(cp, sizeof(cp), "%d", copies);
        snprintf(th, sizeof(th), "%d", threads);
        snprintf(cc, sizeof(cc), "%d", conc);
        execl(self, self, "floor", name, scratch, cp, th, cc, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[256] = "";
    size_t n = 0;
    ssize_t k;
    while (n < sizeof(buf) - 1 && (k = read(fds[0], buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)k;
    close(fds[0]);
    waitpid(pid, NULL, 0);
    buf[n] = '\0';
    long rss = 0;
    if (sscanf(buf, "FLOOR %d %lf %lf %ld %lf", &r.images, &r.wall_s, &r.cpu_ms, &rss,
               &r.item_ms_p50) == 5 &&
        r.wall_s > 0) {
        r.images_s = r.images / r.wall_s;
        r.cpu_ms = r.images ? r.cpu_ms * 1000 / r.images : 0;
        r.rss_mb = rss / 1024.0;
    } else {
        memset(&r, 0, sizeof(r));
    }
    return r;
}
