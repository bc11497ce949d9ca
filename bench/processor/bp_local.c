/* bp_local.c — the corpus, and the two measurements made on this machine
 * without the service: the libvips floor and ImageMagick (the peer).
 *
 * Corpus: the 5120x2880 (14.7 MP) JPEG and PNG photos and renders of Debian's
 * plasma-workspace-wallpapers package (synthetic 12 MP pictures when it is
 * not installed), plus a 9600x5400 (52 MP) baseline JPEG (Q90, 4:4:4) and a
 * progressive one (Q85, 4:2:0, as web exports are) cut from one of them
 * tiled 2x2. A progressive JPEG keeps every DCT coefficient while it decodes:
 * 52 MP at 4:2:0 is ~150 MB, at 4:4:4 ~300 MB (see the decode budget).
 * Files go largest first, so that two workers finish together. Generated
 * files are kept in the scratch directory and reused.
 *
 * Floor: the processor's own transforms (proc_variants_make, all variants)
 * run in-process by `workers` threads pulling files from a shared counter.
 * It runs in a child (this program re-executed as `bench_processor floor
 * ...`) so that each setting of libvips concurrency, cache and
 * MALLOC_ARENA_MAX starts clean and its peak RSS is its own; the child
 * prints one FLOOR line that the parent parses.
 *
 * Peer: ImageMagick's convert making the same three variants per file
 * (shrink-on-load hint for JPEG, auto-orient, sRGB, strip, 320 cover, 1280
 * fit, annotated watermark), two processes at a time, one thread each; CPU
 * and peak RSS come from wait4's rusage of each process.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vips/vips.h>

#include "bench_processor.h"
#include "proc_variants.h"

bp_file bp_files[BP_MAX_FILES];
int bp_nfiles;

double bp_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

double bp_tv_s(struct timeval tv)
{
    return tv.tv_sec + tv.tv_usec / 1e6;
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static void add_file(const char *path)
{
    if (bp_nfiles >= BP_MAX_FILES)
        return;
    bp_file *f = &bp_files[bp_nfiles];
    snprintf(f->path, sizeof(f->path), "%s", path);
    f->type = ends_with(path, ".png") ? "image/png" : "image/jpeg";
    gchar *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &data, &len, NULL))
        return;
    VipsImage *h = vips_image_new_from_file(path, NULL);
    if (!h) {
        g_free(data);
        vips_error_clear();
        return;
    }
    f->w = h->Xsize;
    f->h = h->Ysize;
    g_object_unref(h);
    f->data = data;
    f->len = len;
    bp_nfiles++;
}

static int by_pixels_desc(const void *a, const void *b)
{
    const bp_file *x = a, *y = b;
    double px = (double)x->w * x->h, py = (double)y->w * y->h;
    return px < py ? 1 : px > py ? -1 : strcmp(x->path, y->path);
}

/* Writes a synthetic 12 MP picture (Perlin noise plus Gaussian noise, sRGB)
 * to path; nothing is written when libvips fails. */
static void make_synthetic(const char *path, int i)
{
    VipsImage *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    if (vips_perlin(&a, 4000, 3000, "cell_size", 64 << (i % 3), "uchar", TRUE, "seed", i, NULL) ==
            0 &&
        vips_gaussnoise(&b, 4000, 3000, "sigma", 12.0, "mean", 0.0, NULL) == 0) {
        VipsImage *bands[3] = {a, a, a};
        if (vips_bandjoin(bands, &c, 3, NULL) == 0 && vips_add(c, b, &d, NULL) == 0) {
            VipsImage *e = NULL, *f = NULL;
            if (vips_cast(d, &e, VIPS_FORMAT_UCHAR, NULL) == 0 &&
                vips_copy(e, &f, "interpretation", VIPS_INTERPRETATION_sRGB, NULL) == 0)
                vips_image_write_to_file(f, path, NULL);
            if (e)
                g_object_unref(e);
            if (f)
                g_object_unref(f);
        }
    }
    VipsImage *all[4] = {a, b, c, d};
    for (int k = 0; k < 4; k++)
        if (all[k])
            g_object_unref(all[k]);
}

/* 52 MP: the first file tiled 2x2 and cut, baseline (base) and progressive
 * (prog), written unless both are there already. */
static void make_tiles(const char *base, const char *prog)
{
    if (access(base, R_OK) == 0 && access(prog, R_OK) == 0)
        return;
    VipsImage *in = vips_image_new_from_file(bp_files[0].path, NULL), *t = NULL, *u = NULL;
    if (in && vips_replicate(in, &u, 2, 2, NULL) == 0 &&
        vips_crop(u, &t, 0, 0, 9600, 5400, NULL) == 0) {
        vips_jpegsave(t, base, "Q", 90, NULL);
        VipsImage *t2 = vips_image_new_from_file(base, NULL);
        if (t2) {
            vips_jpegsave(t2, prog, "Q", 85, "interlace", TRUE, "subsample_mode",
                          VIPS_FOREIGN_SUBSAMPLE_ON, NULL);
            g_object_unref(t2);
        }
    }
    if (t)
        g_object_unref(t);
    if (u)
        g_object_unref(u);
    if (in)
        g_object_unref(in);
}

/* The 14.7 MP wallpapers, or synthetic 12 MP pictures; then the 52 MP tiles. */
void bp_build_corpus(const char *scratch)
{
    static const char *const wall[] = {
        "Flow/contents/images/5120x2880.jpg",        "Honeywave/contents/images/5120x2880.jpg",
        "SafeLanding/contents/images/5120x2880.jpg", "Shell/contents/images/5120x2880.jpg",
        "Volna/contents/images/5120x2880.jpg",       "Altai/contents/images/5120x2880.png",
        "IceCold/contents/images/5120x2880.png",     "Kay/contents/images/5120x2880.png",
        "MilkyWay/contents/images/5120x2880.png",    "Patak/contents/images/5120x2880.png",
    };
    char path[600];
    for (size_t i = 0; i < sizeof(wall) / sizeof(wall[0]); i++) {
        snprintf(path, sizeof(path), "/usr/share/wallpapers/%s", wall[i]);
        if (access(path, R_OK) == 0)
            add_file(path);
    }
    mkdir(scratch, 0755);
    if (bp_nfiles == 0) {
        fprintf(stderr, "plasma-workspace-wallpapers not installed: synthetic 12 MP corpus\n");
        for (int i = 0; i < 6; i++) {
            snprintf(path, sizeof(path), "%s/synthetic-%d.%s", scratch, i, i % 2 ? "png" : "jpg");
            if (access(path, R_OK) != 0)
                make_synthetic(path, i);
            add_file(path);
        }
    }
    if (bp_nfiles > 0) {
        char base[600], prog[600];
        snprintf(base, sizeof(base), "%s/tiled-52mp.jpg", scratch);
        snprintf(prog, sizeof(prog), "%s/tiled-52mp-progressive-420.jpg", scratch);
        make_tiles(base, prog);
        add_file(base);
        add_file(prog);
    }
    qsort(bp_files, (size_t)bp_nfiles, sizeof(bp_files[0]), by_pixels_desc);
}

/* ------------------------------------------------------------ floor */

static atomic_int next_file;
static atomic_int floor_failures;

static void *floor_worker(void *arg)
{
    const proc_settings *s = arg;
    for (;;) {
        int i = atomic_fetch_add(&next_file, 1);
        if (i >= bp_nfiles)
            break;
        proc_variants out;
        char err[512];
        if (proc_variants_make(bp_files[i].data, bp_files[i].len, IP_VARIANT_MASK_ALL, s, &out, err,
                               sizeof(err)) != IP_OK) {
            fprintf(stderr, "floor: %s: %s\n", bp_files[i].path, err);
            atomic_fetch_add(&floor_failures, 1);
            continue;
        }
        proc_variants_fini(&out);
    }
    return NULL;
}

/* Child mode (contract in bench_processor.h). */
int bp_floor_child(int argc, char **argv)
{
    if (argc < 6)
        return 2;
    int workers = atoi(argv[3]), conc = atoi(argv[4]), cache = atoi(argv[5]);
    bp_build_corpus(argv[2]);
    proc_variants_global_init(conc, 320LL << 20);
    if (cache) {
        vips_cache_set_max(100);
        vips_cache_set_max_mem(100 * 1024 * 1024);
        vips_cache_set_max_files(100);
    }
    proc_settings s;
    proc_settings_default(&s);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = bp_now_s();
    pthread_t th[16];
    for (int i = 0; i < workers && i < 16; i++)
        pthread_create(&th[i], NULL, floor_worker, &s);
    for (int i = 0; i < workers && i < 16; i++)
        pthread_join(th[i], NULL);
    double wall = bp_now_s() - t0;
    getrusage(RUSAGE_SELF, &r1);
    double cpu =
        bp_tv_s(r1.ru_utime) - bp_tv_s(r0.ru_utime) + bp_tv_s(r1.ru_stime) - bp_tv_s(r0.ru_stime);
    printf("FLOOR %d %.3f %.3f %ld\n", bp_nfiles - atomic_load(&floor_failures), wall, cpu,
           r1.ru_maxrss);
    return 0;
}

/* Runs the floor in a child with the given settings (contract in
 * bench_processor.h). */
bp_result bp_run_floor(const char *self, const char *scratch, int workers, int conc, int cache,
                       int arenas)
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
        if (arenas >= 0) {
            char a[16];
            snprintf(a, sizeof(a), "%d", arenas);
            setenv("MALLOC_ARENA_MAX", a, 1);
        } else {
            unsetenv("MALLOC_ARENA_MAX");
        }
        char w[16], c[16], k[16];
        snprintf(w, sizeof(w), "%d", workers);
        snprintf(c, sizeof(c), "%d", conc);
        snprintf(k, sizeof(k), "%d", cache);
        execl(self, self, "floor", scratch, w, c, k, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[256] = "";
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    if (n <= 0)
        return r;
    buf[n] = '\0';
    int images = 0;
    double wall = 0, cpu = 0;
    long rss = 0;
    if (sscanf(buf, "FLOOR %d %lf %lf %ld", &images, &wall, &cpu, &rss) == 4 && wall > 0) {
        r.images = images;
        r.images_s = images / wall;
        r.cpu_ms = images ? cpu * 1000 / images : 0;
        r.rss_mb = rss / 1024.0;
    }
    return r;
}

/* ------------------------------------------------------------ peer */

/* In a forked child: convert making file i's three variants in outdir, its
 * stdout to /dev/null, one thread. Does not return. */
static void exec_convert(const char *outdir, int i)
{
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0)
        dup2(devnull, 1);
    setenv("MAGICK_THREAD_LIMIT", "1", 1);
    char thumb[700], resized[700], wm[700];
    snprintf(thumb, sizeof(thumb), "%s/%d-thumbnail.jpg", outdir, i);
    snprintf(resized, sizeof(resized), "%s/%d-resized.jpg", outdir, i);
    snprintf(wm, sizeof(wm), "%s/%d-watermarked.jpg", outdir, i);
    bool jpeg = strcmp(bp_files[i].type, "image/jpeg") == 0;
    execlp("convert", "convert", "-limit", "thread", "1", "-define",
           jpeg ? "jpeg:size=2560x2560" : "png:ignore-crc=false", bp_files[i].path, "-auto-orient",
           "-colorspace", "sRGB", "-strip", "-quality", "85", "(", "+clone", "-thumbnail",
           "320x320^", "-gravity", "center", "-extent", "320x320", "-write", thumb, "+delete", ")",
           "-resize", "1280x1280>", "(", "+clone", "-write", resized, "+delete", ")", "-gravity",
           "southeast", "-font", "DejaVu-Sans-Bold", "-pointsize", "48", "-stroke",
           "rgba(0,0,0,0.5)", "-strokewidth", "3", "-fill", "rgba(255,255,255,0.55)", "-annotate",
           "+25+25", "ImageProcessor", wm, (char *)NULL);
    _exit(127);
}

/* Every file through convert, two processes at a time (contract in
 * bench_processor.h). */
bp_result bp_run_imagemagick(const char *scratch)
{
    bp_result r = {0};
    char outdir[600];
    snprintf(outdir, sizeof(outdir), "%s/im-out", scratch);
    mkdir(outdir, 0755);
    double t0 = bp_now_s();
    double cpu = 0;
    long maxrss = 0;
    int running = 0, next = 0, ok = 0;
    while (next < bp_nfiles || running > 0) {
        if (next < bp_nfiles && running < 2) {
            int i = next++;
            pid_t pid = fork();
            if (pid == 0)
                exec_convert(outdir, i);
            running++;
            continue;
        }
        int status = 0;
        struct rusage ru;
        pid_t p = wait4(-1, &status, 0, &ru);
        if (p <= 0)
            break;
        running--;
        cpu += bp_tv_s(ru.ru_utime) + bp_tv_s(ru.ru_stime);
        if (ru.ru_maxrss > maxrss)
            maxrss = ru.ru_maxrss;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
        else
            fprintf(stderr, "convert failed (status %d)\n", status);
    }
    double wall = bp_now_s() - t0;
    r.images = ok;
    r.images_s = ok / wall;
    r.cpu_ms = ok ? cpu * 1000 / ok : 0;
    r.rss_mb = maxrss / 1024.0;
    return r;
}
