/* bp_e2e.c — the corpus through the running stack, upload to every variant
 * ready.
 *
 * It uses the stack as it runs (scripts/stack or scripts/up): nginx at
 * $IP_HTTP_LISTEN, the processor's metrics at $IP_PROCESSOR_METRICS_LISTEN.
 * bp_e2e_run starts `clients` threads, each taking the next item and POSTing
 * it raw to /api/upload (one kept-alive connection per thread); the clock
 * starts before the first upload. Then the images are waited for in upload
 * order: GET /api/image/{id}/info of the oldest not yet ready, again after
 * 100 ms while it is not, at once for the next when it is — so polling costs
 * about ten small requests a second, and the last ready is seen within
 * 100 ms. CPU of every stack component (bp_stack.c) and the machine's idle
 * share are taken before the first upload and after the last ready; the
 * processor's peak RSS starts again before the run. The processor's
 * proc_jobs_total must move by exactly the number of uploads: another user
 * of the same stack would spoil the figures, and the run is then marked not
 * clean. Afterwards every image is deleted with its owner token (not timed).
 *
 * bp_e2e_latency uploads one item alone, polls its info every 20 ms (under
 * nginx's API rate limit) and records upload-to-ready in ms.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_processor.h"

enum { POLL_US = 100000, LATENCY_POLL_US = 20000, DEADLINE_S = 900 };

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t collect(char *data, size_t size, size_t nmemb, void *user)
{
    buf *b = user;
    size_t add = size * nmemb;
    if (b->n + add > (1u << 20)) /* answers here are small JSON */
        return 0;
    char *np = realloc(b->p, b->n + add + 1);
    if (!np)
        return 0;
    b->p = np;
    memcpy(b->p + b->n, data, add);
    b->n += add;
    b->p[b->n] = '\0';
    return add;
}

static void base_url(char *out, size_t len)
{
    const char *l = getenv("IP_HTTP_LISTEN");
    snprintf(out, len, "http://%s", l && *l ? l : "127.0.0.1:8080");
}

/* GET, POST (body) or DELETE (method); returns the HTTP status, the body in
 * *out (owned, "" when none). */
static long http(CURL *c, const char *method, const char *url, const void *body, size_t len,
                 const char *header, char **out)
{
    buf b = {0};
    struct curl_slist *h = NULL;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    h = curl_slist_append(h, "Expect:");
    if (header)
        h = curl_slist_append(h, header);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (method) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
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
    const char *p = json ? strstr(json, needle) : NULL;
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

/* Sum of proc_jobs_total over outcomes from the processor's metrics; -1
 * when they do not answer. */
static long long jobs_total(CURL *c)
{
    const char *l = getenv("IP_PROCESSOR_METRICS_LISTEN");
    char url[160], *body = NULL;
    snprintf(url, sizeof(url), "http://%s/metrics", l && *l ? l : "127.0.0.1:9103");
    long long sum = -1;
    if (http(c, NULL, url, NULL, 0, NULL, &body) == 200) {
        sum = 0;
        for (char *line = strtok(body, "\n"); line; line = strtok(NULL, "\n")) {
            double v;
            char *sp = strrchr(line, ' ');
            if (strncmp(line, "proc_jobs_total{", 16) == 0 && sp && sscanf(sp + 1, "%lf", &v) == 1)
                sum += (long long)v;
        }
    }
    free(body);
    return sum;
}

bool bp_e2e_ready(char *note, size_t notelen)
{
    CURL *c = curl_easy_init();
    char url[200], base[128], *body = NULL;
    base_url(base, sizeof(base));
    snprintf(url, sizeof(url), "%s/api/healthz", base);
    bool ok = c && http(c, NULL, url, NULL, 0, NULL, &body) == 200;
    free(body);
    if (!ok)
        snprintf(note, notelen, "nginx/gateway not answering at %s", base);
    else if (jobs_total(c) < 0)
        snprintf(note, notelen, "the processor's metrics do not answer");
    ok = ok && jobs_total(c) >= 0;
    if (c)
        curl_easy_cleanup(c);
    return ok;
}

/* ---------------------------------------------------------------- run */

typedef struct upload {
    char id[40];
    char token[96];
    bool accepted;
} upload;

typedef struct run {
    const bp_corpus *c;
    upload *up;
    atomic_int next;
} run;

/* POSTs item i; its id and owner token into *u. */
static void upload_one(CURL *c, const bp_corpus *corp, int i, upload *u)
{
    const bp_file *f = &corp->files[corp->item_file[i]];
    char base[128], url[200], ct[64], *body = NULL;
    base_url(base, sizeof(base));
    snprintf(url, sizeof(url), "%s/api/upload", base);
    snprintf(ct, sizeof(ct), "Content-Type: %s", f->type);
    long code = http(c, NULL, url, f->data, f->len, ct, &body);
    u->accepted = code == 202 && json_str(body, "id", u->id, sizeof(u->id)) &&
                  json_str(body, "owner_token", u->token, sizeof(u->token));
    if (!u->accepted)
        fprintf(stderr, "upload %s: HTTP %ld %.200s\n", f->path, code, body);
    free(body);
}

static void *uploader(void *arg)
{
    run *r = arg;
    CURL *c = curl_easy_init();
    for (int i; c && (i = atomic_fetch_add(&r->next, 1)) < r->c->nitems;)
        upload_one(c, r->c, i, &r->up[i]);
    if (c)
        curl_easy_cleanup(c);
    return NULL;
}

/* "ready", "failed", or "" (pending, processing, no answer). */
static void image_status(CURL *c, const char *id, char *st, size_t stlen)
{
    char base[128], url[256], *body = NULL;
    base_url(base, sizeof(base));
    snprintf(url, sizeof(url), "%s/api/image/%s/info", base, id);
    st[0] = '\0';
    if (http(c, NULL, url, NULL, 0, NULL, &body) != 200 || !json_str(body, "status", st, stlen))
        st[0] = '\0';
    if (strcmp(st, "failed") == 0)
        fprintf(stderr, "e2e: %s failed: %.300s\n", id, body);
    free(body);
}

/* Waits for each accepted upload in order (see the top of the file);
 * returns how many are ready, *failed how many failed. */
static int wait_all(CURL *c, const upload *up, int n, int *failed)
{
    int ready = 0;
    *failed = 0;
    double deadline = bp_now_s() + DEADLINE_S;
    for (int i = 0; i < n && bp_now_s() < deadline;) {
        char st[32];
        if (!up[i].accepted) {
            i++;
            continue;
        }
        image_status(c, up[i].id, st, sizeof(st));
        if (strcmp(st, "ready") == 0 || strcmp(st, "failed") == 0) {
            ready += st[0] == 'r';
            *failed += st[0] == 'f';
            i++;
        } else {
            usleep(POLL_US);
        }
    }
    return ready;
}

static void delete_all(CURL *c, const upload *up, int n)
{
    char base[128], url[256], auth[128], *body = NULL;
    base_url(base, sizeof(base));
    for (int i = 0; i < n; i++) {
        if (!up[i].accepted)
            continue;
        snprintf(url, sizeof(url), "%s/api/image/%s", base, up[i].id);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", up[i].token);
        long code = http(c, "DELETE", url, NULL, 0, auth, &body);
        if (code / 100 != 2)
            fprintf(stderr, "delete %s: HTTP %ld %.200s\n", up[i].id, code, body);
        free(body);
        usleep(LATENCY_POLL_US); /* under nginx's API rate */
    }
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return bp_tv_s(ru.ru_utime) + bp_tv_s(ru.ru_stime);
}

bp_e2e_result bp_e2e_run(const bp_corpus *corp, int clients)
{
    bp_e2e_result out;
    memset(&out, 0, sizeof(out));
    CURL *c = curl_easy_init();
    run r = {.c = corp, .up = calloc((size_t)corp->nitems, sizeof(upload))};
    atomic_init(&r.next, 0);
    if (!c || !r.up || clients < 1 || clients > 64)
        goto done;
    int ppid = bp_stack_pid("processor");
    bp_hwm_reset(ppid);
    long long jobs0 = jobs_total(c);
    bp_cpu_snap s0, s1;
    bp_cpu_take(&s0);
    double self0 = self_cpu_s(), t0 = bp_now_s();

    pthread_t th[64];
    for (int i = 0; i < clients; i++)
        pthread_create(&th[i], NULL, uploader, &r);
    for (int i = 0; i < clients; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < corp->nitems; i++)
        out.uploaded += r.up[i].accepted;
    int ready = wait_all(c, r.up, corp->nitems, &out.failed);

    double wall = bp_now_s() - t0, self1 = self_cpu_s();
    bp_cpu_take(&s1);
    out.r.rss_mb = bp_proc_hwm_mb(ppid);
    /* The job counter moves once the job has finished; give it a moment. */
    long long jobs1 = jobs_total(c);
    for (int k = 0; k < 20 && jobs1 - jobs0 < ready + out.failed; k++) {
        usleep(100000);
        jobs1 = jobs_total(c);
    }
    out.jobs = jobs1 - jobs0;
    out.r.images = ready;
    out.r.wall_s = wall;
    out.r.images_s = ready / wall;
    double hz = (double)sysconf(_SC_CLK_TCK);
    for (int k = 0; k < BP_NPROCS; k++)
        out.cpu_ms[k] = s0.ticks[k] >= 0 && s1.ticks[k] >= 0 && ready
                            ? (s1.ticks[k] - s0.ticks[k]) * 1000.0 / hz / ready
                            : -1;
    out.r.cpu_ms = out.cpu_ms[0];
    out.idle_pct = s1.total > s0.total ? 100.0 * (s1.idle - s0.idle) / (s1.total - s0.total) : 0;
    out.client_cpu_ms = ready ? (self1 - self0) * 1000 / ready : 0;
    out.clean = ready == corp->nitems && out.jobs == corp->nitems;
    delete_all(c, r.up, corp->nitems);
done:
    free(r.up);
    if (c)
        curl_easy_cleanup(c);
    return out;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int bp_e2e_latency(const bp_corpus *corp, int tries, double *ms)
{
    CURL *c = curl_easy_init();
    int n = 0;
    for (int t = 0; c && t < tries; t++) {
        upload u = {0};
        double t0 = bp_now_s();
        upload_one(c, corp, 0, &u);
        if (!u.accepted)
            continue;
        char st[32] = "";
        double deadline = t0 + 120;
        while (bp_now_s() < deadline) {
            image_status(c, u.id, st, sizeof(st));
            if (strcmp(st, "ready") == 0 || strcmp(st, "failed") == 0)
                break;
            usleep(LATENCY_POLL_US);
        }
        if (strcmp(st, "ready") == 0)
            ms[n++] = (bp_now_s() - t0) * 1000;
        delete_all(c, &u, 1);
    }
    if (c)
        curl_easy_cleanup(c);
    qsort(ms, (size_t)n, sizeof(double), cmp_double);
    return n;
}
