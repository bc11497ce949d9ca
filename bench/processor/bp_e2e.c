/* bp_e2e.c — the end-to-end measurement: the corpus through the running
 * stack, processed by this build's processor.
 *
 * bp_e2e_start stops the stack's processor (remembering which build it ran
 * from, so `scripts/stack start processor` brings the same one back at the
 * end) and starts this build's binary (PROC_BIN) on the real topic and group,
 * with its metrics on 127.0.0.1:9153 and its stderr in <scratch>/
 * e2e-processor.log; it waits until the processor is idle (no jobs in flight
 * and the jobs counter still for 3 s), so no backlog skews the figures.
 *
 * bp_e2e_round uploads every file through nginx (POST /api/upload, raw
 * body), then polls GET /api/image/{id}/info until each is ready or failed.
 * images/s run from the first upload to the last ready; CPU-ms are the
 * processor process's utime+stime (/proc/<pid>/stat) per image; peak RSS is
 * its VmHWM. The processor's metrics tell how many jobs it ran meanwhile, and
 * its log how many partitions it holds: another member in the group, or a
 * rebalance during the round, means the round did not measure this corpus
 * alone (*jobs = -1).
 *
 * bp_e2e_stop sends SIGTERM, reports the processor's exit status and starts
 * the stack's processor again if it was up.
 */
#include <fcntl.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_processor.h"

#define NGINX "http://127.0.0.1:8080"
#define METRICS_PORT 9153

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

/* From the processor's log: the partitions of its last assignment and how
 * many assignments it has had. Another member joining the group (e.g. the
 * stack's processor started by someone meanwhile) shows as a new assignment
 * with fewer partitions. */
static void assignment(const bp_e2e_run *e, int *partitions, int *assignments)
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

/* Forks and execs this build's processor, stderr to e->log, metrics on
 * METRICS_PORT. */
static void start_processor(bp_e2e_run *e)
{
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
}

/* Waits (at most 120 s) until the processor has had nothing in flight and
 * the same jobs count for over 3 s; returns that count. */
static double wait_idle(CURL *c)
{
    double done = 0, inflight = -1, last_done = -1, stable_since = bp_now_s();
    double deadline = bp_now_s() + 120;
    while (bp_now_s() < deadline) {
        if (proc_metrics(c, &done, &inflight) && inflight == 0 && done == last_done) {
            if (bp_now_s() - stable_since > 3)
                break;
        } else {
            stable_since = bp_now_s();
        }
        last_done = done;
        usleep(200000);
    }
    return done;
}

/* Stops the stack's processor (if up) and starts this build's on the real
 * topic and group; waits until it is idle (no backlog left to skew the
 * figures). */
bool bp_e2e_start(bp_e2e_run *e, const char *scratch, char *note, size_t notelen)
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
    start_processor(e);
    e->jobs_done = wait_idle(e->c);
    /* The whole topic; IP_KAFKA_PARTITIONS as the stack makes it. */
    const char *np = getenv("IP_KAFKA_PARTITIONS");
    e->partitions = np && atoi(np) > 0 ? atoi(np) : 12;
    return true;
}

/* Uploads every file through nginx; the ids of those accepted go to ids,
 * their count is returned. */
static int upload_corpus(CURL *c, char ids[][40])
{
    char *body = NULL;
    int n = 0;
    for (int i = 0; i < bp_nfiles; i++) {
        long code = http(c, NGINX "/api/upload", bp_files[i].data, bp_files[i].len,
                         bp_files[i].type, &body);
        if (code == 202 && json_str(body, "id", ids[n], sizeof(ids[n])))
            n++;
        else
            fprintf(stderr, "upload %s: HTTP %ld %.200s\n", bp_files[i].path, code, body);
        free(body);
    }
    return n;
}

/* Polls each image's info until it is ready or failed (at most 600 s);
 * returns how many are ready, *nfailed how many failed. */
static int wait_ready(CURL *c, char ids[][40], int n, int *nfailed)
{
    char *body = NULL;
    bool ready[BP_MAX_FILES] = {0};
    int nready = 0;
    *nfailed = 0;
    double deadline = bp_now_s() + 600;
    while (nready + *nfailed < n && bp_now_s() < deadline) {
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
                    (*nfailed)++;
                    fprintf(stderr, "e2e: %s failed: %.300s\n", ids[i], body);
                }
            }
            free(body);
        }
        usleep(50000);
    }
    return nready;
}

/* One pass: every file uploaded, then polled until ready. */
bp_result bp_e2e_round(bp_e2e_run *e, char *note, size_t notelen, int *jobs)
{
    bp_result r = {0};
    CURL *c = e->c;
    int parts0 = 0, assigns0 = 0;
    assignment(e, &parts0, &assigns0);
    long ticks0 = proc_cpu_ticks(e->pid);
    double t0 = bp_now_s();
    char ids[BP_MAX_FILES][40];
    int n = upload_corpus(c, ids);
    int nfailed = 0;
    int nready = wait_ready(c, ids, n, &nfailed);
    double wall = bp_now_s() - t0;
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
int bp_e2e_stop(bp_e2e_run *e)
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
