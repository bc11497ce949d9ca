/* bench_processor.c — the processor's throughput, end to end and against
 * its floor and a peer.
 *
 * Corpus (bp_local.c): the 14.7 MP wallpapers of Debian's
 * plasma-workspace-wallpapers package (synthetic 12 MP pictures when it is
 * not installed) and two 52 MP JPEGs (baseline and progressive) cut from the
 * first tiled 2x2; largest first.
 *
 * 1. Settings sweep: the floor (below) in a child process per setting of
 *    workers x libvips concurrency, libvips cache on/off and MALLOC_ARENA_MAX,
 *    reporting images/s, CPU-ms per image and the child's peak RSS.
 * 2. Floor: an in-process program doing the identical transforms with the
 *    processor's own code (proc_variants_make) on the same files, with the
 *    processor's default settings (2 workers, concurrency 1, cache off).
 * 3. Peer: ImageMagick's convert making the same three variants per file
 *    (shrink-on-load hint for JPEG, auto-orient, sRGB, strip, 320 cover,
 *    1280 fit, annotated watermark), two processes at a time, one thread each.
 * 4. End to end (bp_e2e.c): every file uploaded through nginx (POST
 *    /api/upload, raw body) to the running gateway, processed by a processor
 *    this bench starts from its own build on the real topic and group (the
 *    stack's processor is stopped meanwhile and restarted after), until GET
 *    /api/image/{id}/info says ready. images/s from the first upload to the
 *    last ready; CPU-ms of the processor process per image; its peak RSS
 *    (VmHWM).
 *
 * This file runs them: the sweep once, then floor, end to end and peer back
 * to back in rounds (tries whose end-to-end run the shared topic disturbed
 * are left out), and prints the medians over the rounds.
 *
 * The last line is `processor: end-to-end/libvips floor = <ratio>`.
 * Usage: bench_processor [scratch dir]     (internal: bench_processor floor ...)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "bench_processor.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    double t[16];
    for (int i = 0; i < n; i++)
        t[i] = v[i];
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* Each field's median over the rounds. */
static bp_result median_result(const bp_result *r, int n)
{
    double a[16], b[16], c[16];
    for (int i = 0; i < n; i++) {
        a[i] = r[i].images_s;
        b[i] = r[i].cpu_ms;
        c[i] = r[i].rss_mb;
    }
    bp_result m = {median(a, n), median(b, n), median(c, n), r[0].images};
    return m;
}

/* Lists the corpus: path, size in pixels and MB, total megapixels. */
static void print_corpus(void)
{
    double mp = 0;
    printf("corpus: %d files\n", bp_nfiles);
    for (int i = 0; i < bp_nfiles; i++) {
        printf("  %-62s %5dx%-5d %6.1f MB\n", bp_files[i].path, bp_files[i].w, bp_files[i].h,
               bp_files[i].len / 1e6);
        mp += bp_files[i].w * (double)bp_files[i].h / 1e6;
    }
    printf("  total %.0f megapixels\n\n", mp);
}

/* 1. Settings sweep on the floor: one child per setting, one line each. */
static void run_sweep(const char *self, const char *scratch)
{
    static const struct {
        int workers, conc, cache, arenas;
    } sweep[] = {
        {2, 1, 0, 2},  /* the processor's defaults */
        {2, 1, 0, -1}, /* glibc's default arenas */
        {2, 1, 1, 2},  /* libvips cache on (its defaults: 100 ops, 100 MB) */
        {1, 2, 0, 2},  /* one job at a time, two libvips threads */
        {2, 2, 0, 2},  /* two jobs, two libvips threads each */
        {4, 1, 0, -1}, /* four jobs, glibc arenas */
        {4, 1, 0, 2},  /* four jobs, two arenas */
        {1, 1, 0, 2},  /* one thread in all */
    };
    printf("settings sweep (floor, in-process, one pass over the corpus)\n");
    printf("  workers  vips-conc  cache  MALLOC_ARENA_MAX   images/s  CPU-ms/image  peak RSS MB\n");
    for (size_t i = 0; i < sizeof(sweep) / sizeof(sweep[0]); i++) {
        bp_result r = bp_run_floor(self, scratch, sweep[i].workers, sweep[i].conc, sweep[i].cache,
                                   sweep[i].arenas);
        char ar[16];
        snprintf(ar, sizeof(ar), "%d", sweep[i].arenas);
        printf("  %7d  %9d  %5s  %16s   %8.2f  %12.0f  %11.0f\n", sweep[i].workers, sweep[i].conc,
               sweep[i].cache ? "on" : "off", sweep[i].arenas < 0 ? "glibc default" : ar,
               r.images_s, r.cpu_ms, r.rss_mb);
        fflush(stdout);
    }
    printf("\n");
}

/* 2.-4. Floor, end to end and peer, interleaved in ROUNDS: the machine is
 * shared, so a ratio is taken within a round (the two runs back to back)
 * and the median over rounds is reported; the table shows medians. */
enum { ROUNDS = 3, MAX_TRIES = 6 };

typedef struct rounds {
    bp_result fr[ROUNDS], er[ROUNDS], pr[ROUNDS]; /* floor, end to end, peer */
    double ratio[ROUNDS], peer_ratio[ROUNDS];     /* e2e/floor, floor/peer */
    char note[256];                               /* why end to end could not start */
    double e2e_rss;                               /* the processor's VmHWM at the end */
    int round, excluded;                          /* rounds kept, tries left out */
    int exit_status;                              /* the processor's, after SIGTERM */
} rounds;

/* One try: the three runs back to back; kept as the next round unless the
 * end-to-end run did not measure this corpus alone. */
static void run_try(rounds *R, int t, const char *self, const char *scratch, bp_e2e_run *e,
                    bool e2e_ok)
{
    char rnote[256] = "";
    bp_result f = bp_run_floor(self, scratch, 2, 1, 0, 2);
    printf("try %d: floor       %5.2f images/s, %4.0f CPU-ms/image, peak RSS %3.0f MB\n", t + 1,
           f.images_s, f.cpu_ms, f.rss_mb);
    bp_result r = {0};
    int jobs = 0;
    if (e2e_ok) {
        r = bp_e2e_round(e, rnote, sizeof(rnote), &jobs);
        R->e2e_rss = r.rss_mb; /* VmHWM: the peak over all rounds so far */
        printf("try %d: end to end  %5.2f images/s, %4.0f CPU-ms/image, peak RSS %3.0f MB (%s)\n",
               t + 1, r.images_s, r.cpu_ms, r.rss_mb, rnote);
    }
    bp_result p = bp_run_imagemagick(scratch);
    printf("try %d: ImageMagick %5.2f images/s, %4.0f CPU-ms/image, peak RSS %3.0f MB\n", t + 1,
           p.images_s, p.cpu_ms, p.rss_mb);
    /* The processor serves the shared topic: a try in which other
     * uploads made it run many more jobs than ours, or in which ours did
     * not all finish, does not measure this corpus. */
    if (e2e_ok && (r.images < bp_nfiles || jobs < 0 || jobs > bp_nfiles + bp_nfiles / 2)) {
        printf("try %d: excluded (%d of %d ready, %s)\n", t + 1, r.images, bp_nfiles,
               jobs < 0 ? "another processor in the group" : "other jobs on the topic");
        R->excluded++;
        return;
    }
    int i = R->round;
    R->fr[i] = f;
    R->er[i] = r;
    R->pr[i] = p;
    R->ratio[i] = f.images_s > 0 ? r.images_s / f.images_s : 0;
    R->peer_ratio[i] = p.images_s > 0 ? f.images_s / p.images_s : 0;
    printf("round %d: end-to-end/floor %.2f, floor/peer %.2f\n", i + 1, R->ratio[i],
           R->peer_ratio[i]);
    R->round++;
    fflush(stdout);
}

/* Starts the end-to-end processor, runs tries until ROUNDS are kept (or
 * MAX_TRIES made) and stops it again. */
static void run_rounds(rounds *R, const char *self, const char *scratch)
{
    bp_e2e_run e;
    bool e2e_ok = bp_e2e_start(&e, scratch, R->note, sizeof(R->note));
    for (int t = 0; t < MAX_TRIES && R->round < ROUNDS; t++)
        run_try(R, t, self, scratch, &e, e2e_ok);
    if (R->round == 0)
        R->round = 1; /* nothing clean: report the zeros */
    R->exit_status = e2e_ok ? bp_e2e_stop(&e) : -1;
}

/* The medians table and the closing ratio line; returns the exit status
 * (1 when no image went through end to end). */
static int print_table(const rounds *R)
{
    int round = R->round;
    bp_result floor = median_result(R->fr, round), peer = median_result(R->pr, round),
              e2e = median_result(R->er, round);
    e2e.rss_mb = R->e2e_rss;
    double loadavg[3] = {0};
    getloadavg(loadavg, 3);
    printf("\nmedians of %d rounds (%d tries excluded); load average at the end %.1f %.1f %.1f "
           "(2 cores, shared)\n",
           round, R->excluded, loadavg[0], loadavg[1], loadavg[2]);
    printf("processor exit status after SIGTERM: %d\n\n", R->exit_status);

    printf("                                   images/s  CPU-ms/image  peak RSS MB\n");
    printf("  libvips floor (in-process)       %8.2f  %12.0f  %11.0f\n", floor.images_s,
           floor.cpu_ms, floor.rss_mb);
    printf("  ImageMagick convert (peer)       %8.2f  %12.0f  %11.0f\n", peer.images_s, peer.cpu_ms,
           peer.rss_mb);
    printf("  end to end via nginx (processor) %8.2f  %12.0f  %11.0f\n", e2e.images_s, e2e.cpu_ms,
           e2e.rss_mb);
    printf("  end to end: %s\n", R->note);
    printf("  floor/peer (median of rounds) = %.2f, end-to-end/peer = %.2f\n",
           median(R->peer_ratio, round), peer.images_s > 0 ? e2e.images_s / peer.images_s : 0);
    printf("  CPU: end to end %.0f ms/image against the floor's %.0f (%.2f)\n", e2e.cpu_ms,
           floor.cpu_ms, e2e.cpu_ms > 0 ? floor.cpu_ms / e2e.cpu_ms : 0);
    printf("processor: end-to-end/libvips floor = %.2f\n", median(R->ratio, round));
    return e2e.images > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0]))
        return 2;
    if (argc > 1 && strcmp(argv[1], "floor") == 0)
        return bp_floor_child(argc, argv);

    char scratch[512];
    snprintf(scratch, sizeof(scratch), "%s", argc > 1 ? argv[1] : "/tmp/bench-processor");
    bp_build_corpus(scratch);
    if (bp_nfiles == 0) {
        fprintf(stderr, "no corpus\n");
        return 1;
    }
    print_corpus();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    run_sweep(argv[0], scratch);
    static rounds R;
    run_rounds(&R, argv[0], scratch);
    int status = print_table(&R);
    curl_global_cleanup();
    return status;
}
