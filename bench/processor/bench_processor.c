/* bench_processor.c — the processor's throughput, end to end and against
 * its floor and a peer.
 *
 * Corpus: the 5120x2880 (14.7 MP) JPEG and PNG photos and renders of Debian's
 * plasma-workspace-wallpapers package (synthetic 12 MP pictures when it is
 * not installed), plus a 9600x5400 (52 MP) baseline JPEG (Q90, 4:4:4) and a
 * progressive one (Q85, 4:2:0, as web exports are) cut from one of them
 * tiled 2x2. A progressive JPEG keeps every DCT coefficient while it decodes:
 * 52 MP at 4:2:0 is ~150 MB, at 4:4:4 ~300 MB (see the decode budget).
 * Files go largest first, so that two workers finish together.
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
 * 4. End to end: every file uploaded through nginx (POST /api/upload, raw
 *    body) to the running gateway, processed by a processor this bench starts
 *    from its own build on the real topic and group (the stack's processor is
 *    stopped meanwhile and restarted after), until GET /api/image/{id}/info
 *    says ready. images/s from the first upload to the last ready; CPU-ms of
 *    the processor process per image; its peak RSS (VmHWM).
 *
 * The last line is `processor: end-to-end/libvips floor = <ratio>`.
 * Usage: bench_processor [scratch dir]     (internal: bench_processor floor ...)
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vips/vips.h>

#include "proc_variants.h"

#define MAX_FILES 32
#define NGINX "http://127.0.0.1:8080"
#define METRICS_PORT 9153

typedef struct file {
    char path[512];
    const char *type; /* image/jpeg | image/png */
    void *data;
    size_t len;
    int w, h;
} file;

static file files[MAX_FILES];
static int nfiles;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
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
    if (nfiles >= MAX_FILES)
        return;
    file *f = &files[nfiles];
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
    nfiles++;
}

static int by_pixels_desc(const void *a, const void *b)
{
    const file *x = a, *y = b;
    double px = (double)x->w * x->h, py = (double)y->w * y->h;
    return px < py ? 1 : px > py ? -1 : strcmp(x->path, y->path);
}

/* The 14.7 MP wallpapers, or synthetic 12 MP pictures; then the 59 MP tiles. */
static void build_corpus(const char *scratch)
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
    if (nfiles == 0) {
        fprintf(stderr, "plasma-workspace-wallpapers not installed: synthetic 12 MP corpus\n");
        for (int i = 0; i < 6; i++) {
            snprintf(path, sizeof(path), "%s/synthetic-%d.%s", scratch, i, i % 2 ? "png" : "jpg");
            if (access(path, R_OK) != 0) {
                VipsImage *a = NULL, *b = NULL, *c = NULL, *d = NULL;
                if (vips_perlin(&a, 4000, 3000, "cell_size", 64 << (i % 3), "uchar", TRUE, "seed",
                                i, NULL) == 0 &&
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
            add_file(path);
        }
    }
    /* 52 MP: the first file tiled 2x2 and cut, baseline and progressive. */
    if (nfiles > 0) {
        char base[600], prog[600];
        snprintf(base, sizeof(base), "%s/tiled-52mp.jpg", scratch);
        snprintf(prog, sizeof(prog), "%s/tiled-52mp-progressive-420.jpg", scratch);
        if (access(base, R_OK) != 0 || access(prog, R_OK) != 0) {
            VipsImage *in = vips_image_new_from_file(files[0].path, NULL), *t = NULL, *u = NULL;
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
        add_file(base);
        add_file(prog);
    }
    qsort(files, (size_t)nfiles, sizeof(files[0]), by_pixels_desc);
}

/* ------------------------------------------------------------ floor */

static atomic_int next_file;
static atomic_int floor_failures;

static void *floor_worker(void *arg)
{
    const proc_settings *s = arg;
    for (;;) {
        int i = atomic_fetch_add(&next_file, 1);
        if (i >= nfiles)
            break;
        proc_variants out;
        char err[512];
        if (proc_variants_make(files[i].data, files[i].len, PROC_OPS_ALL, s, &out, err,
                               sizeof(err)) != IP_OK) {
            fprintf(stderr, "floor: %s: %s\n", files[i].path, err);
            atomic_fetch_add(&floor_failures, 1);
            continue;
        }
        proc_variants_fini(&out);
    }
    return NULL;
}

/* Child mode: bench_processor floor <scratch> <workers> <concurrency> <cache 0|1>.
 * Prints one line: FLOOR <images> <wall s> <cpu s> <maxrss KB>. */
static int floor_child(int argc, char **argv)
{
    if (argc < 6)
        return 2;
    int workers = atoi(argv[3]), conc = atoi(argv[4]), cache = atoi(argv[5]);
    build_corpus(argv[2]);
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
    double t0 = now_s();
    pthread_t th[16];
    for (int i = 0; i < workers && i < 16; i++)
        pthread_create(&th[i], NULL, floor_worker, &s);
    for (int i = 0; i < workers && i < 16; i++)
        pthread_join(th[i], NULL);
    double wall = now_s() - t0;
    getrusage(RUSAGE_SELF, &r1);
    double cpu = tv_s(r1.ru_utime) - tv_s(r0.ru_utime) + tv_s(r1.ru_stime) - tv_s(r0.ru_stime);
    printf("FLOOR %d %.3f %.3f %ld\n", nfiles - atomic_load(&floor_failures), wall, cpu,
           r1.ru_maxrss);
    return 0;
}

typedef struct result {
    double images_s, cpu_ms, rss_mb;
    int images;
} result;

/* Runs the floor in a child with the given settings; arenas < 0 leaves
 * MALLOC_ARENA_MAX unset. */
static result run_floor(const char *self, const char *scratch, int workers, int conc, int cache,
                        int arenas)
{
    result r = {0};
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

static result run_imagemagick(const char *scratch)
{
    result r = {0};
    char outdir[600];
    snprintf(outdir, sizeof(outdir), "%s/im-out", scratch);
    mkdir(outdir, 0755);
    double t0 = now_s();
    double cpu = 0;
    long maxrss = 0;
    int running = 0, next = 0, ok = 0;
    while (next < nfiles || running > 0) {
        if (next < nfiles && running < 2) {
            int i = next++;
            pid_t pid = fork();
            if (pid == 0) {
                int devnull = open("/dev/null", O_WRONLY);
                if (devnull >= 0)
                    dup2(devnull, 1);
                setenv("MAGICK_THREAD_LIMIT", "1", 1);
                char thumb[700], resized[700], wm[700];
                snprintf(thumb, sizeof(thumb), "%s/%d-thumbnail.jpg", outdir, i);
                snprintf(resized, sizeof(resized), "%s/%d-resized.jpg", outdir, i);
                snprintf(wm, sizeof(wm), "%s/%d-watermarked.jpg", outdir, i);
                bool jpeg = strcmp(files[i].type, "image/jpeg") == 0;
                execlp("convert", "convert", "-limit", "thread", "1", "-define",
                       jpeg ? "jpeg:size=2560x2560" : "png:ignore-crc=false", files[i].path,
                       "-auto-orient", "-colorspace", "sRGB", "-strip", "-quality", "85", "(",
                       "+clone", "-thumbnail", "320x320^", "-gravity", "center", "-extent",
                       "320x320", "-write", thumb, "+delete", ")", "-resize", "1280x1280>", "(",
                       "+clone", "-write", resized, "+delete", ")", "-gravity", "southeast",
                       "-font", "DejaVu-Sans-Bold", "-pointsize", "48", "-stroke",
                       "rgba(0,0,0,0.5)", "-strokewidth", "3", "-fill", "rgba(255,255,255,0.55)",
                       "-annotate", "+25+25", "ImageProcessor", wm, (char *)NULL);
                _exit(127);
            }
            running++;
            continue;
        }
        int status = 0;
        struct rusage ru;
        pid_t p = wait4(-1, &status, 0, &ru);
        if (p <= 0)
            break;
        running--;
        cpu += tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
        if (ru.ru_maxrss > maxrss)
            maxrss = ru.ru_maxrss;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
        else
            fprintf(stderr, "convert failed (status %d)\n", status);
    }
    double wall = now_s() - t0;
    r.images = ok;
    r.images_s = ok / wall;
    r.cpu_ms = ok ? cpu * 1000 / ok : 0;
    r.rss_mb = maxrss / 1024.0;
    return r;
}

/* ------------------------------------------------------------ end to end */

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t collect(char *data, size_t size, size_t nmemb, void *user)
{
    buf *b = user;
    size_t add = size * nmemb;
    char *np = realloc(b->p, b->n + add + 1);
    if (!np)
        return 0;
    b->p = np;
    memcpy(b->p + b->n, data, add);
    b->n += add;
    b->p[b->n] = '\0';
    return add;
}

/* GET or POST (body != NULL); returns the HTTP status, body in *out (owned). */
static long http(CURL *c, const char *url, const void *body, size_t len, const char *type,
                 char **out)
{
    buf b = {0};
    struct curl_slist *h = NULL;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    if (body) {
        char ct[64];
        snprintf(ct, sizeof(ct), "Content-Type: %s", type);
        h = curl_slist_append(h, ct);
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    *out = b.p ? b.p : strdup("");
    return code;
}

/* The value of the first "key":"value" in a JSON text (no escapes expected). */
static bool json_str(const char *json, const char *key, char *out, size_t outlen)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "\"%s\":\"", key);
    const char *p = strstr(json, needle);
    if (!p)
        return false;
    p += strlen(needle);
    const char *e = strchr(p, '"');
    if (!e || (size_t)(e - p) >= outlen)
        return false;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return true;
}

static long proc_cpu_ticks(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = '\0';
    char *p = strrchr(line, ')');
    if (!p)
        return -1;
    long ut = 0, st = 0;
    /* after ") ": state(3) ppid ... utime is field 14, stime 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st) != 2)
        return -1;
    return ut + st;
}

static long proc_hwm_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* Sum of proc_jobs_total and the in-flight gauge from the processor's metrics. */
static bool proc_metrics(CURL *c, double *done, double *in_flight)
{
    char url[128], *body = NULL;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", METRICS_PORT);
    if (http(c, url, NULL, 0, NULL, &body) != 200) {
        free(body);
        return false;
    }
    *done = 0;
    *in_flight = -1;
    for (char *line = strtok(body, "\n"); line; line = strtok(NULL, "\n")) {
        double v;
        char *sp = strrchr(line, ' ');
        if (line[0] == '#' || !sp || sscanf(sp + 1, "%lf", &v) != 1)
            continue;
        if (strncmp(line, "proc_jobs_total{", 16) == 0)
            *done += v;
        else if (strncmp(line, "proc_jobs_in_flight", 19) == 0)
            *in_flight = v;
    }
    free(body);
    return true;
}

/* The build directory of the stack's running processor (from its pid file
 * and /proc/<pid>/exe), so that it is started again from the same build. */
static char stack_build_dir[700];

static void remember_stack_build(void)
{
    char path[700], exe[700];
    snprintf(path, sizeof(path), "%s/var/run/processor.pid", IP_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    snprintf(path, sizeof(path), "/proc/%d/exe", pid);
    ssize_t n = pid > 0 ? readlink(path, exe, sizeof(exe) - 1) : -1;
    stack_build_dir[0] = '\0';
    if (n > 0) {
        exe[n] = '\0';
        char *cut = strstr(exe, "/processor/processor");
        if (cut) {
            *cut = '\0';
            snprintf(stack_build_dir, sizeof(stack_build_dir), "%s", exe);
        }
    }
}

static int stack_cmd(const char *what)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cd '%s' && %s%s%s scripts/stack %s processor >/dev/null 2>&1",
             IP_SOURCE_DIR, stack_build_dir[0] ? "IP_BUILD_DIR='" : "", stack_build_dir,
             stack_build_dir[0] ? "'" : "", what);
    return system(cmd);
}

static bool stack_processor_up(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && scripts/stack status processor 2>/dev/null | grep -q ' up '",
             IP_SOURCE_DIR);
    return system(cmd) == 0;
}

typedef struct e2e_run {
    CURL *c;
    pid_t pid;
    bool was_up;
    double jobs_done;
    char log[600];
    int partitions; /* of the first assignment: the whole topic */
} e2e_run;

/* From the processor's log: the partitions of its last assignment and how
 * many assignments it has had. Another member joining the group (e.g. the
 * stack's processor started by someone meanwhile) shows as a new assignment
 * with fewer partitions. */
static void assignment(const e2e_run *e, int *partitions, int *assignments)
{
    *partitions = 0;
    *assignments = 0;
    gchar *text = NULL;
    if (!g_file_get_contents(e->log, &text, NULL, NULL))
        return;
    const char *needle = "\"event\":\"kafka.assigned\",\"partitions\":";
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) {
        *partitions = atoi(p + strlen(needle));
        (*assignments)++;
    }
    g_free(text);
}

/* Stops the stack's processor (if up) and starts this build's on the real
 * topic and group; waits until it is idle (no backlog left to skew the
 * figures). */
static bool e2e_start(e2e_run *e, const char *scratch, char *note, size_t notelen)
{
    memset(e, 0, sizeof(*e));
    e->c = curl_easy_init();
    char *body = NULL;
    if (http(e->c, NGINX "/api/healthz", NULL, 0, NULL, &body) != 200) {
        snprintf(note, notelen, "nginx/gateway not answering at " NGINX);
        free(body);
        return false;
    }
    free(body);
    e->was_up = stack_processor_up();
    if (e->was_up) {
        remember_stack_build();
        stack_cmd("stop");
    }
    snprintf(e->log, sizeof(e->log), "%s/e2e-processor.log", scratch);
    e->pid = fork();
    if (e->pid == 0) {
        int fd = open(e->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0)
            dup2(fd, 2);
        char listen[64];
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", METRICS_PORT);
        setenv("IP_PROCESSOR_METRICS_LISTEN", listen, 1);
        execl(PROC_BIN, PROC_BIN, (char *)NULL);
        _exit(127);
    }
    double done = 0, inflight = -1, last_done = -1, stable_since = now_s();
    double deadline = now_s() + 120;
    while (now_s() < deadline) {
        if (proc_metrics(e->c, &done, &inflight) && inflight == 0 && done == last_done) {
            if (now_s() - stable_since > 3)
                break;
        } else {
            stable_since = now_s();
        }
        last_done = done;
        usleep(200000);
    }
    e->jobs_done = done;
    /* The whole topic; IP_KAFKA_PARTITIONS as the stack makes it. */
    const char *np = getenv("IP_KAFKA_PARTITIONS");
    e->partitions = np && atoi(np) > 0 ? atoi(np) : 12;
    return true;
}

/* One pass: every file uploaded, then polled until ready. */
static result e2e_round(e2e_run *e, char *note, size_t notelen, int *jobs)
{
    result r = {0};
    CURL *c = e->c;
    char *body = NULL;
    int parts0 = 0, assigns0 = 0;
    assignment(e, &parts0, &assigns0);
    long ticks0 = proc_cpu_ticks(e->pid);
    double t0 = now_s();
    char ids[MAX_FILES][40];
    int n = 0;
    for (int i = 0; i < nfiles; i++) {
        long code = http(c, NGINX "/api/upload", files[i].data, files[i].len, files[i].type, &body);
        if (code == 202 && json_str(body, "id", ids[n], sizeof(ids[n])))
            n++;
        else
            fprintf(stderr, "upload %s: HTTP %ld %.200s\n", files[i].path, code, body);
        free(body);
    }
    bool ready[MAX_FILES] = {0};
    int nready = 0, nfailed = 0;
    double deadline = now_s() + 600;
    while (nready + nfailed < n && now_s() < deadline) {
        for (int i = 0; i < n; i++) {
            if (ready[i])
                continue;
            char url[128], st[32];
            snprintf(url, sizeof(url), NGINX "/api/image/%.36s/info", ids[i]);
            if (http(c, url, NULL, 0, NULL, &body) == 200 &&
                json_str(body, "status", st, sizeof(st))) {
                if (strcmp(st, "ready") == 0) {
                    ready[i] = true;
                    nready++;
                } else if (strcmp(st, "failed") == 0) {
                    ready[i] = true;
                    nfailed++;
                    fprintf(stderr, "e2e: %s failed: %.300s\n", ids[i], body);
                }
            }
            free(body);
        }
        usleep(50000);
    }
    double wall = now_s() - t0;
    long ticks1 = proc_cpu_ticks(e->pid);
    double done = 0, inflight = 0;
    proc_metrics(c, &done, &inflight);
    double cpu = (ticks1 - ticks0) / (double)sysconf(_SC_CLK_TCK);
    r.images = nready;
    r.images_s = nready / wall;
    r.cpu_ms = nready ? cpu * 1000 / nready : 0;
    r.rss_mb = proc_hwm_kb(e->pid) / 1024.0;
    int parts1 = 0, assigns1 = 0;
    assignment(e, &parts1, &assigns1);
    snprintf(note, notelen,
             "%d uploaded, %d ready, %d failed, %.0f jobs run by the processor, "
             "%d partitions%s",
             n, nready, nfailed, done - e->jobs_done, parts1,
             assigns1 != assigns0 ? ", rebalanced meanwhile" : "");
    *jobs = (int)(done - e->jobs_done);
    /* Not the group's only member, or a rebalance during the try: another
     * processor took part of the work. */
    if (assigns1 != assigns0 || parts1 < e->partitions)
        *jobs = -1;
    e->jobs_done = done;
    return r;
}

/* SIGTERM to this build's processor (its exit status returned), and the
 * stack's processor back if it was up. */
static int e2e_stop(e2e_run *e)
{
    int status = 0;
    if (e->pid > 0) {
        kill(e->pid, SIGTERM);
        waitpid(e->pid, &status, 0);
    }
    if (e->was_up)
        stack_cmd("start");
    if (e->c)
        curl_easy_cleanup(e->c);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------------------------ main */

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
static result median_result(const result *r, int n)
{
    double a[16], b[16], c[16];
    for (int i = 0; i < n; i++) {
        a[i] = r[i].images_s;
        b[i] = r[i].cpu_ms;
        c[i] = r[i].rss_mb;
    }
    result m = {median(a, n), median(b, n), median(c, n), r[0].images};
    return m;
}

int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0]))
        return 2;
    if (argc > 1 && strcmp(argv[1], "floor") == 0)
        return floor_child(argc, argv);

    char scratch[512];
    snprintf(scratch, sizeof(scratch), "%s", argc > 1 ? argv[1] : "/tmp/bench-processor");
    build_corpus(scratch);
    if (nfiles == 0) {
        fprintf(stderr, "no corpus\n");
        return 1;
    }
    double mp = 0;
    printf("corpus: %d files\n", nfiles);
    for (int i = 0; i < nfiles; i++) {
        printf("  %-62s %5dx%-5d %6.1f MB\n", files[i].path, files[i].w, files[i].h,
               files[i].len / 1e6);
        mp += files[i].w * (double)files[i].h / 1e6;
    }
    printf("  total %.0f megapixels\n\n", mp);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    /* 1. Settings sweep on the floor. */
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
        result r = run_floor(argv[0], scratch, sweep[i].workers, sweep[i].conc, sweep[i].cache,
                             sweep[i].arenas);
        char ar[16];
        snprintf(ar, sizeof(ar), "%d", sweep[i].arenas);
        printf("  %7d  %9d  %5s  %16s   %8.2f  %12.0f  %11.0f\n", sweep[i].workers, sweep[i].conc,
               sweep[i].cache ? "on" : "off", sweep[i].arenas < 0 ? "glibc default" : ar,
               r.images_s, r.cpu_ms, r.rss_mb);
        fflush(stdout);
    }
    printf("\n");

    /* 2.-4. Floor, end to end and peer, interleaved in ROUNDS: the machine is
     * shared, so a ratio is taken within a round (the two runs back to back)
     * and the median over rounds is reported; the table shows medians. */
    enum { ROUNDS = 3, MAX_TRIES = 6 };
    result fr[ROUNDS] = {{0}}, er[ROUNDS] = {{0}}, pr[ROUNDS] = {{0}};
    double ratio[ROUNDS] = {0}, peer_ratio[ROUNDS] = {0};
    char note[256] = "", rnote[256] = "";
    double e2e_rss = 0;
    int round = 0, excluded = 0;
    e2e_run e;
    bool e2e_ok = e2e_start(&e, scratch, note, sizeof(note));
    for (int t = 0; t < MAX_TRIES && round < ROUNDS; t++) {
        result f = run_floor(argv[0], scratch, 2, 1, 0, 2);
        printf("try %d: floor       %5.2f images/s, %4.0f CPU-ms/image, peak RSS %3.0f MB\n", t + 1,
               f.images_s, f.cpu_ms, f.rss_mb);
        result r = {0};
        int jobs = 0;
        if (e2e_ok) {
            r = e2e_round(&e, rnote, sizeof(rnote), &jobs);
            e2e_rss = r.rss_mb; /* VmHWM: the peak over all rounds so far */
            printf(
                "try %d: end to end  %5.2f images/s, %4.0f CPU-ms/image, peak RSS %3.0f MB (%s)\n",
                t + 1, r.images_s, r.cpu_ms, r.rss_mb, rnote);
        }
        result p = run_imagemagick(scratch);
        printf("try %d: ImageMagick %5.2f images/s, %4.0f CPU-ms/image, peak RSS %3.0f MB\n", t + 1,
               p.images_s, p.cpu_ms, p.rss_mb);
        /* The processor serves the shared topic: a try in which other
         * uploads made it run many more jobs than ours, or in which ours did
         * not all finish, does not measure this corpus. */
        if (e2e_ok && (r.images < nfiles || jobs < 0 || jobs > nfiles + nfiles / 2)) {
            printf("try %d: excluded (%d of %d ready, %s)\n", t + 1, r.images, nfiles,
                   jobs < 0 ? "another processor in the group" : "other jobs on the topic");
            excluded++;
            continue;
        }
        fr[round] = f;
        er[round] = r;
        pr[round] = p;
        ratio[round] = f.images_s > 0 ? r.images_s / f.images_s : 0;
        peer_ratio[round] = p.images_s > 0 ? f.images_s / p.images_s : 0;
        printf("round %d: end-to-end/floor %.2f, floor/peer %.2f\n", round + 1, ratio[round],
               peer_ratio[round]);
        round++;
        fflush(stdout);
    }
    if (round == 0)
        round = 1; /* nothing clean: report the zeros */
    int exit_status = e2e_ok ? e2e_stop(&e) : -1;
    result floor = median_result(fr, round), peer = median_result(pr, round),
           e2e = median_result(er, round);
    e2e.rss_mb = e2e_rss;
    double loadavg[3] = {0};
    getloadavg(loadavg, 3);
    printf("\nmedians of %d rounds (%d tries excluded); load average at the end %.1f %.1f %.1f "
           "(2 cores, shared)\n",
           round, excluded, loadavg[0], loadavg[1], loadavg[2]);
    printf("processor exit status after SIGTERM: %d\n\n", exit_status);

    printf("                                   images/s  CPU-ms/image  peak RSS MB\n");
    printf("  libvips floor (in-process)       %8.2f  %12.0f  %11.0f\n", floor.images_s,
           floor.cpu_ms, floor.rss_mb);
    printf("  ImageMagick convert (peer)       %8.2f  %12.0f  %11.0f\n", peer.images_s, peer.cpu_ms,
           peer.rss_mb);
    printf("  end to end via nginx (processor) %8.2f  %12.0f  %11.0f\n", e2e.images_s, e2e.cpu_ms,
           e2e.rss_mb);
    printf("  end to end: %s\n", note);
    printf("  floor/peer (median of rounds) = %.2f, end-to-end/peer = %.2f\n",
           median(peer_ratio, round), peer.images_s > 0 ? e2e.images_s / peer.images_s : 0);
    printf("  CPU: end to end %.0f ms/image against the floor's %.0f (%.2f)\n", e2e.cpu_ms,
           floor.cpu_ms, e2e.cpu_ms > 0 ? floor.cpu_ms / e2e.cpu_ms : 0);
    printf("processor: end-to-end/libvips floor = %.2f\n", median(ratio, round));
    curl_global_cleanup();
    return e2e.images > 0 ? 0 : 1;
}
