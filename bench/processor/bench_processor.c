/* bench_processor.c — the service end to end against an independent libvips
 * floor, and one image's upload-to-ready latency against the floor's time.
 *
 * Throughput, per corpus (bp_corpus.c: the wallpapers, four 14.7 MP JPEGs x
 * 24 = 96 uploads; the mixed corpus, JPEG + PNG + two 52 MP JPEGs):
 * - floor (bp_floor.c): a child process of plain libvips calls making the
 *   same three variants, 2 threads (= the machine's cores) each taking the
 *   next image, libvips concurrency 1;
 * - end to end (bp_e2e.c): every image uploaded through nginx by 4 client
 *   threads, processed by the running stack's processor, from the first
 *   upload until every variant is ready; CPU per image of every stack
 *   process, the machine's idle share, the processor's peak RSS.
 * Floor and end to end run back to back, first one then the other in
 * alternate rounds; each round gives a ratio (end-to-end images/s / floor
 * images/s) and the figure is the median ratio over the rounds. A round whose
 * end-to-end run was not clean (not every image ready, or the processor ran
 * other jobs meanwhile) is left out and tried again, up to twice the rounds.
 *
 * Latency: one 14.7 MP JPEG uploaded alone, upload to ready, `tries` times,
 * p50; against the floor making that image's three variants in process with
 * libvips concurrency = cores (one image alone may use every core), p50 of
 * as many tries.
 *
 * The CPU the floor spends per image against what all the stack's processes
 * spend per image end to end is printed too: on a busy machine the many
 * processes of the stack get a larger share of the cores than the floor's
 * two threads, so the images/s ratio flatters the service there while the
 * CPU ratio does not.
 * The last two lines: `processor: CPU per image, floor/end to end = <w>
 * (wallpapers), <m> (mixed)` and `processor: end-to-end/independent floor =
 * <w> (wallpapers), <m> (mixed); latency p50 = <n> ms against floor <f> ms`.
 * Formats (--only formats; not part of the default run, and needs no
 * stack): CPU per image and bytes per variant of each format (the primary
 * JPEG/PNG, WebP, AVIF) on the wallpapers (`copies` of each, at most 4) and
 * the mixed corpus, one image at a time in a child process (bp_floor.c).
 * Usage: bench_processor [--rounds 3] [--copies 24] [--clients 4]
 *        [--tries 10] [--only wallpapers,mixed,latency,formats] [--scratch DIR]
 * (internal: bench_processor floor ..., bench_processor formats ...)
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vips/vips.h>

#include "bench_processor.h"

enum { MAX_ROUNDS = 16 };

typedef struct opts {
    int rounds, copies, clients, tries;
    char only[128], scratch[512];
    const char *self;
    int cores;
} opts;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    double t[MAX_ROUNDS * 2];
    if (n <= 0)
        return 0;
    memcpy(t, v, sizeof(double) * (size_t)n);
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static bool wanted(const opts *o, const char *name)
{
    return strstr(o->only, name) != NULL;
}

/* The kept rounds of one corpus. */
typedef struct series {
    bp_result floor[MAX_ROUNDS];
    bp_e2e_result e2e[MAX_ROUNDS];
    double ratio[MAX_ROUNDS];
    int n, excluded;
} series;

static void print_e2e_line(const char *corpus, int t, const bp_e2e_result *e)
{
    printf("  %-10s try %d: end to end %6.2f images/s (%d of %d ready in %.1f s, %lld jobs), "
           "idle %.0f %%, processor peak RSS %.0f MB\n",
           corpus, t + 1, e->r.images_s, e->r.images, e->uploaded, e->r.wall_s, e->jobs,
           e->idle_pct, e->r.rss_mb);
    printf("  %-10s        CPU-ms/image:", "");
    for (int k = 0; k < BP_NPROCS; k++)
        printf(" %s %.0f", bp_proc_names[k], e->cpu_ms[k]);
    printf(", bench client %.0f\n", e->client_cpu_ms);
}

/* Floor and end to end back to back, alternating which goes first. */
static void run_series(const opts *o, const bp_corpus *c, series *S)
{
    for (int t = 0; t < o->rounds * 2 && S->n < o->rounds && S->n < MAX_ROUNDS; t++) {
        bp_result f = {0};
        bp_e2e_result e;
        bool floor_first = t % 2 == 0;
        if (floor_first)
            f = bp_floor_run(o->self, c->name, o->scratch, o->copies, o->cores, 1);
        e = bp_e2e_run(c, o->clients);
        if (!floor_first)
            f = bp_floor_run(o->self, c->name, o->scratch, o->copies, o->cores, 1);
        printf("  %-10s try %d: floor      %6.2f images/s (%d in %.1f s), %.0f CPU-ms/image, "
               "peak RSS %.0f MB%s\n",
               c->name, t + 1, f.images_s, f.images, f.wall_s, f.cpu_ms, f.rss_mb,
               floor_first ? " (ran first)" : "");
        print_e2e_line(c->name, t, &e);
        if (!e.clean || f.images != c->nitems) {
            printf("  %-10s try %d: left out (%s)\n", c->name, t + 1,
                   f.images != c->nitems     ? "the floor failed"
                   : e.r.images != c->nitems ? "not every image ready"
                                             : "the processor ran other jobs meanwhile");
            S->excluded++;
            fflush(stdout);
            continue;
        }
        S->floor[S->n] = f;
        S->e2e[S->n] = e;
        S->ratio[S->n] = f.images_s > 0 ? e.r.images_s / f.images_s : 0;
        printf("  %-10s round %d: end-to-end/floor = %.2f\n", c->name, S->n + 1, S->ratio[S->n]);
        S->n++;
        fflush(stdout);
    }
}

/* The medians table of one corpus; returns the median ratio, and in
 *cpu_ratio the floor's CPU per image over the whole stack's (medians). */
static double print_series(const bp_corpus *c, const series *S, double *cpu_ratio)
{
    double a[MAX_ROUNDS], b[MAX_ROUNDS], d[MAX_ROUNDS], e[MAX_ROUNDS], g[MAX_ROUNDS];
    int n = S->n;
    printf("\n%s: %d images (%.0f MP), %d rounds kept, %d tries left out\n", c->name, c->nitems,
           bp_corpus_mp(c), n, S->excluded);
    if (n == 0)
        return 0;
    for (int i = 0; i < n; i++) {
        a[i] = S->floor[i].images_s;
        b[i] = S->floor[i].cpu_ms;
        d[i] = S->floor[i].rss_mb;
    }
    printf("  | what | images/s | CPU-ms/image | peak RSS MB |\n  | --- | ---: | ---: | ---: |\n");
    printf("  | independent floor (plain libvips, 2 threads) | %.2f | %.0f | %.0f |\n",
           median(a, n), median(b, n), median(d, n));
    for (int i = 0; i < n; i++) {
        a[i] = S->e2e[i].r.images_s;
        d[i] = S->e2e[i].r.rss_mb;
        e[i] = S->e2e[i].idle_pct;
        g[i] = S->e2e[i].client_cpu_ms;
    }
    double procs[BP_NPROCS], others = 0;
    for (int k = 0; k < BP_NPROCS; k++) {
        for (int i = 0; i < n; i++)
            b[i] = S->e2e[i].cpu_ms[k];
        procs[k] = median(b, n);
        if (k > 0 && procs[k] > 0)
            others += procs[k];
    }
    printf("  | end to end via nginx, 4 clients | %.2f | processor %.0f, the others %.0f | "
           "processor %.0f |\n",
           median(a, n), procs[0], others, median(d, n));
    printf("  end to end CPU-ms/image (medians):");
    for (int k = 0; k < BP_NPROCS; k++)
        printf(" %s %.0f%s", bp_proc_names[k], procs[k], k + 1 < BP_NPROCS ? "," : "");
    printf("; bench client %.0f; idle %.0f %%\n", median(g, n), median(e, n));
    printf("  end-to-end/floor per round:");
    for (int i = 0; i < n; i++)
        printf(" %.2f", S->ratio[i]);
    printf(" (median %.2f)\n", median(S->ratio, n));
    for (int i = 0; i < n; i++)
        b[i] = S->floor[i].cpu_ms;
    double stack = procs[0] > 0 ? procs[0] + others : 0;
    *cpu_ratio = stack > 0 ? median(b, n) / stack : 0;
    printf("  CPU per image: floor %.0f ms, end to end %.0f ms in all the stack's processes "
           "(floor/end to end %.2f)\n",
           median(b, n), stack, *cpu_ratio);
    return median(S->ratio, n);
}

/* Upload-to-ready of one image alone against the floor's time for it. */
static void run_latency(const opts *o, double *e2e_p50, double *floor_p50)
{
    bp_corpus c;
    *e2e_p50 = *floor_p50 = 0;
    if (!bp_corpus_load(&c, "latency", o->scratch, 1))
        return;
    double ms[64], fl[64];
    int tries = o->tries < 64 ? o->tries : 64, n = 0, nf = 0;
    /* alternate: a floor try (its own process, cores threads of libvips),
     * then an upload, so both see the same machine */
    for (int t = 0; t < tries; t++) {
        bp_result f = bp_floor_run(o->self, "latency", o->scratch, 1, 1, o->cores);
        if (f.images == 1)
            fl[nf++] = f.item_ms_p50;
        double one[1];
        if (bp_e2e_latency(&c, 1, one) == 1)
            ms[n++] = one[0];
    }
    qsort(ms, (size_t)n, sizeof(double), cmp_double);
    qsort(fl, (size_t)nf, sizeof(double), cmp_double);
    *e2e_p50 = median(ms, n);
    *floor_p50 = median(fl, nf);
    printf("\nlatency: %s (%dx%d), %d tries\n", c.files[0].path, c.files[0].w, c.files[0].h, tries);
    printf("  upload to ready (ms, sorted):");
    for (int i = 0; i < n; i++)
        printf(" %.0f", ms[i]);
    printf("\n  floor, that image's three variants in process, libvips concurrency %d (ms, "
           "sorted):",
           o->cores);
    for (int i = 0; i < nf; i++)
        printf(" %.0f", fl[i]);
    printf("\n  p50: upload to ready %.0f ms, floor %.0f ms (%.2fx)\n", *e2e_p50, *floor_p50,
           *floor_p50 > 0 ? *e2e_p50 / *floor_p50 : 0);
    bp_corpus_free(&c);
}

/* The formats table of `corpus`, from a child (bp_formats_child) writing
 * to our stdout. */
static bool run_formats(const opts *o, const char *corpus, int copies)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("MALLOC_ARENA_MAX", "2", 1);
        char cp[16];
        snprintf(cp, sizeof(cp), "%d", copies);
        execl(o->self, o->self, "formats", corpus, o->scratch, cp, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

static void parse(opts *o, int argc, char **argv)
{
    *o = (opts){.rounds = 3, .copies = 24, .clients = 4, .tries = 10, .self = argv[0]};
    snprintf(o->only, sizeof(o->only), "wallpapers,mixed,latency");
    snprintf(o->scratch, sizeof(o->scratch), "/tmp/bench-processor");
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--rounds") == 0)
            o->rounds = atoi(v) > 0 && atoi(v) <= MAX_ROUNDS ? atoi(v) : 3;
        else if (strcmp(k, "--copies") == 0)
            o->copies = atoi(v) > 0 ? atoi(v) : 24;
        else if (strcmp(k, "--clients") == 0)
            o->clients = atoi(v) > 0 && atoi(v) <= 64 ? atoi(v) : 4;
        else if (strcmp(k, "--tries") == 0)
            o->tries = atoi(v) > 0 ? atoi(v) : 10;
        else if (strcmp(k, "--only") == 0)
            snprintf(o->only, sizeof(o->only), "%s", v);
        else if (strcmp(k, "--scratch") == 0)
            snprintf(o->scratch, sizeof(o->scratch), "%s", v);
        else
            fprintf(stderr, "unknown option %s\n", k);
    }
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    o->cores = nc > 0 && nc <= 16 ? (int)nc : 2;
}

int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0]))
        return 2;
    if (argc > 1 && strcmp(argv[1], "floor") == 0)
        return bp_floor_child(argc, argv);
    if (argc > 1 && strcmp(argv[1], "formats") == 0)
        return bp_formats_child(argc, argv);
    opts o;
    parse(&o, argc, argv);
    if (strcmp(o.only, "formats") == 0) {
        bool fok = run_formats(&o, "wallpapers", o.copies < 4 ? o.copies : 4);
        fok = run_formats(&o, "mixed", 1) && fok;
        return fok ? 0 : 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char note[256] = "";
    if (!bp_e2e_ready(note, sizeof(note))) {
        fprintf(stderr, "bench_processor: %s (start the stack: scripts/stack start)\n", note);
        return 1;
    }
    double load[3] = {0};
    getloadavg(load, 3);
    printf("load average at the start %.2f %.2f %.2f, %d cores\n", load[0], load[1], load[2],
           o.cores);

    static const char *const names[2] = {"wallpapers", "mixed"};
    double ratio[2] = {0}, cpu_ratio[2] = {0};
    bool ok = true;
    static series S[2];
    static bp_corpus corp[2];
    for (int i = 0; i < 2; i++) {
        if (!wanted(&o, names[i]))
            continue;
        if (!bp_corpus_load(&corp[i], names[i], o.scratch, o.copies)) {
            ok = false;
            continue;
        }
        printf("%s: %d images, %.0f MP\n", names[i], corp[i].nitems, bp_corpus_mp(&corp[i]));
        fflush(stdout);
        run_series(&o, &corp[i], &S[i]);
    }
    for (int i = 0; i < 2; i++)
        if (corp[i].nitems) {
            ratio[i] = print_series(&corp[i], &S[i], &cpu_ratio[i]);
            ok = ok && S[i].n > 0;
            bp_corpus_free(&corp[i]);
        }
    double lat = 0, lat_floor = 0;
    if (wanted(&o, "latency")) {
        run_latency(&o, &lat, &lat_floor);
        ok = ok && lat > 0;
    }
    getloadavg(load, 3);
    printf("\nload average at the end %.2f %.2f %.2f\n", load[0], load[1], load[2]);
    printf("processor: CPU per image, floor/end to end = %.2f (wallpapers), %.2f (mixed)\n",
           cpu_ratio[0], cpu_ratio[1]);
    printf("processor: end-to-end/independent floor = %.2f (wallpapers), %.2f (mixed); "
           "latency p50 = %.0f ms against floor %.0f ms\n",
           ratio[0], ratio[1], lat, lat_floor);
    curl_global_cleanup();
    return ok ? 0 : 1;
}
