/* bench_storage.c — PUT and GET throughput and latency of objects through
 * storage-svc (over nng) against direct signed libcurl requests to the same
 * S3 server at the same concurrency (the floor).
 *
 * HOW IT WORKS
 * The benchmark starts its own storage-svc (the binary built beside it) on
 * --url (default: a free port on 127.0.0.1, bench_port.h) unless --external
 * is given, with the IP_S3_* environment. For each object size (256 KiB,
 * 4 MiB) and each operation (PUT, then GET of what was put) it runs `ops`
 * requests spread over `concurrency` threads, once directly and once through
 * storage-svc, and repeats the whole set `rounds` times, alternating which
 * side goes first. Each table row is the median round of its cell; each
 * ratio is the median over rounds of the storage-svc/direct throughput of
 * runs made back to back, which cancels most of the swings of a shared
 * machine's load.
 *
 * The direct client does what any competent S3 client written with libcurl
 * does: one easy handle per thread (kept-alive connection), SigV4 by libcurl,
 * x-amz-content-sha256 computed over the body, the body sent from memory,
 * GET bodies received into a buffer sized from Content-Length. The path
 * through storage-svc adds the RPC hop: pack, nng over loopback TCP, unpack,
 * then the same S3 request. Its caller hashes a PUT's body and sends the hex
 * SHA-256 as content_sha256, as the gateway does, so each side hashes once.
 *
 * The last line is `storage: via storage-svc/direct = <ratio>` for 4 MiB PUT
 * throughput (objects per second through storage-svc divided by direct).
 */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ip_log.h"
#include "ip_rpc.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "storage.pb-c.h"

#include "../bench_port.h"

#ifndef STOR_BIN
#error "STOR_BIN must name the storage-svc binary"
#endif

typedef struct cfg {
    const char *url;
    const char *endpoint, *region, *bucket, *access, *secret;
    int concurrency;
    int rounds;
    int ops_small, ops_large;
    bool external;
} cfg;

static cfg C;
static char run_id[IP_UUID_STRLEN + 1];
static char sigv4[128];
static ip_rpc_client *cli;

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && v[0] ? v : def;
}

/* ------------------------------------------------------------ direct client */

typedef struct sink {
    uint8_t *p;
    size_t len, cap;
} sink;

static size_t sink_header(char *buf, size_t size, size_t n, void *ud)
{
    sink *s = ud;
    size_t len = size * n;
    if (len > 15 && strncasecmp(buf, "Content-Length:", 15) == 0) {
        size_t want = (size_t)strtoull(buf + 15, NULL, 10);
        if (want > s->cap) {
            uint8_t *np = realloc(s->p, want);
            if (!np)
                return 0;
            s->p = np;
            s->cap = want;
        }
    }
    return len;
}

static size_t sink_write(char *ptr, size_t size, size_t n, void *ud)
{
    sink *s = ud;
    size_t len = size * n;
    if (s->len + len > s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 65536;
        while (nc < s->len + len)
            nc *= 2;
        uint8_t *np = realloc(s->p, nc);
        if (!np)
            return 0;
        s->p = np;
        s->cap = nc;
    }
    memcpy(s->p + s->len, ptr, len);
    s->len += len;
    return len;
}

typedef struct src {
    const uint8_t *p;
    size_t left;
} src;

static size_t src_read(char *buf, size_t size, size_t n, void *ud)
{
    src *s = ud;
    size_t len = size * n;
    if (len > s->left)
        len = s->left;
    memcpy(buf, s->p, len);
    s->p += len;
    s->left -= len;
    return len;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

/* One direct PUT or GET; returns true on a 2xx answer. */
static bool direct_op(CURL *c, bool is_put, const char *key, const uint8_t *data, size_t len,
                      sink *out)
{
    char url[512], hdr[128], sha[65];
    snprintf(url, sizeof url, "%s/%s/%s", C.endpoint, C.bucket, key);
    sha256_hex(is_put ? data : (const uint8_t *)"", is_put ? len : 0, sha);
    snprintf(hdr, sizeof hdr, "x-amz-content-sha256: %s", sha);
    struct curl_slist *h = curl_slist_append(NULL, hdr);
    h = curl_slist_append(h, "Expect:");
    if (is_put)
        h = curl_slist_append(h, "Content-Type: application/octet-stream");

    src s = {data, len};
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(c, CURLOPT_USERNAME, C.access);
    curl_easy_setopt(c, CURLOPT_PASSWORD, C.secret);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024L);
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    if (is_put) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, src_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &s);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    } else {
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sink_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    }
    out->len = 0;
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    return rc == CURLE_OK && code >= 200 && code < 300 && (is_put || out->len == len);
}

/* ------------------------------------------------------------ via storage-svc */

static bool svc_op(bool is_put, const char *key, const uint8_t *data, size_t len)
{
    ip_rpc_call_opts o = {.timeout_ms = 60000};
    ip_status st;
    if (is_put) {
        Imageproc__PutObjectRequest rq = IMAGEPROC__PUT_OBJECT_REQUEST__INIT;
        rq.key = (char *)key;
        rq.data.data = (uint8_t *)data;
        rq.data.len = len;
        rq.content_type = (char *)"application/octet-stream";
        /* As the gateway does: the caller hashes the body once (timed, like the
         * direct client's hash) and storage-svc sends that as the payload hash. */
        char sha[65];
        sha256_hex(data, len, sha);
        rq.content_sha256 = sha;
        Imageproc__PutObjectReply *out = NULL;
        st = ip_storage_put_object(cli, &rq, &out, &o, NULL, 0);
        if (out)
            imageproc__put_object_reply__free_unpacked(out, NULL);
    } else {
        Imageproc__GetObjectRequest rq = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
        rq.key = (char *)key;
        Imageproc__GetObjectReply *out = NULL;
        st = ip_storage_get_object(cli, &rq, &out, &o, NULL, 0);
        if (st == IP_OK && out->data.len != len)
            st = IP_INTERNAL;
        if (out)
            imageproc__get_object_reply__free_unpacked(out, NULL);
    }
    return st == IP_OK;
}

/* ------------------------------------------------------------ runs */

typedef struct cell {
    bool via_svc, is_put;
    size_t size;
    int ops;
    const uint8_t *data;
    /* filled by the run */
    int next; /* next op index, under mu */
    int failed;
    double *lat_ms; /* per op */
    pthread_mutex_t mu;
} cell;

static void *worker(void *p)
{
    cell *c = p;
    CURL *curl = c->via_svc ? NULL : curl_easy_init();
    sink out = {0};
    for (;;) {
        pthread_mutex_lock(&c->mu);
        int i = c->next++;
        pthread_mutex_unlock(&c->mu);
        if (i >= c->ops)
            break;
        char key[160];
        snprintf(key, sizeof key, "t/bench-%s/%s-%zu-%d", run_id, c->via_svc ? "svc" : "direct",
                 c->size, i);
        int64_t t0 = ip_mono_us();
        bool ok = c->via_svc ? svc_op(c->is_put, key, c->data, c->size)
                             : direct_op(curl, c->is_put, key, c->data, c->size, &out);
        c->lat_ms[i] = (double)(ip_mono_us() - t0) / 1000.0;
        if (!ok) {
            pthread_mutex_lock(&c->mu);
            c->failed++;
            pthread_mutex_unlock(&c->mu);
        }
    }
    free(out.p);
    if (curl)
        curl_easy_cleanup(curl);
    return NULL;
}

typedef struct result {
    double ops_per_s, mib_per_s, p50, p99;
    int failed;
} result;

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static result run_cell(bool via_svc, bool is_put, size_t size, int ops, const uint8_t *data)
{
    cell c = {.via_svc = via_svc, .is_put = is_put, .size = size, .ops = ops, .data = data};
    c.lat_ms = calloc((size_t)ops, sizeof *c.lat_ms);
    pthread_mutex_init(&c.mu, NULL);
    pthread_t th[64];
    int n = C.concurrency;
    int64_t t0 = ip_mono_us();
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, worker, &c);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(ip_mono_us() - t0) / 1e6;
    qsort(c.lat_ms, (size_t)ops, sizeof *c.lat_ms, cmp_dbl);
    result r = {
        .ops_per_s = ops / secs,
        .mib_per_s = (double)ops * (double)size / (1024.0 * 1024.0) / secs,
        .p50 = c.lat_ms[ops / 2],
        .p99 = c.lat_ms[(ops * 99) / 100 < ops ? (ops * 99) / 100 : ops - 1],
        .failed = c.failed,
    };
    free(c.lat_ms);
    pthread_mutex_destroy(&c.mu);
    return r;
}

static int cmp_result(const void *a, const void *b)
{
    return cmp_dbl(&((const result *)a)->ops_per_s, &((const result *)b)->ops_per_s);
}

static pid_t start_server(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        setenv("IP_STORAGE_RPC_URL", C.url, 1);
        setenv("IP_LOG_LEVEL", "warn", 1);
        char workers[16];
        snprintf(workers, sizeof workers, "%d", C.concurrency < 32 ? 32 : C.concurrency);
        setenv("IP_RPC_WORKERS", workers, 0);
        execl(STOR_BIN, STOR_BIN, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void stop_server(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_storage [--concurrency N] [--rounds N] [--ops-small N] "
                    "[--ops-large N] [--url tcp://...] [--external]\n"
                    "S3 settings from IP_S3_ENDPOINT, IP_S3_REGION, IP_S3_BUCKET, "
                    "IP_S3_ACCESS_KEY, IP_S3_SECRET_KEY.\n");
    exit(2);
}

/* Reads the options into C (defaults and IP_S3_* first); usage() on a bad one. */
static void parse_options(int argc, char **argv)
{
    C = (cfg){
        .url = NULL,
        .endpoint = env_or("IP_S3_ENDPOINT", "http://127.0.0.1:19000"),
        .region = env_or("IP_S3_REGION", "us-east-1"),
        .bucket = env_or("IP_S3_BUCKET", "images"),
        .access = env_or("IP_S3_ACCESS_KEY", "imageproc-local"),
        .secret = env_or("IP_S3_SECRET_KEY", "imageproc-local-secret"),
        .concurrency = 4,
        .rounds = 7,
        .ops_small = 200,
        .ops_large = 32,
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--external") == 0) {
            C.external = true;
            continue;
        }
        if (!v)
            usage();
        if (strcmp(a, "--concurrency") == 0)
            C.concurrency = atoi(v);
        else if (strcmp(a, "--rounds") == 0)
            C.rounds = atoi(v);
        else if (strcmp(a, "--ops-small") == 0)
            C.ops_small = atoi(v);
        else if (strcmp(a, "--ops-large") == 0)
            C.ops_large = atoi(v);
        else if (strcmp(a, "--url") == 0)
            C.url = v;
        else
            usage();
        i++;
    }
    static char free_url[64];
    if (!C.url) {
        if (!bench_free_tcp_url(free_url, sizeof free_url))
            usage();
        C.url = free_url;
    }
    if (C.concurrency < 1 || C.concurrency > 64 || C.rounds < 1 || C.rounds > 15 ||
        C.ops_small < 1 || C.ops_large < 1)
        usage();
}

/* Starts storage-svc (unless --external; its pid in *pid, else 0), makes the
 * RPC client cli and waits up to 30 s for the service to answer. false
 * (said on stderr, the client freed, the service stopped) when it does not. */
static bool start_service(pid_t *pid)
{
    *pid = C.external ? 0 : start_server();
    ip_rpc_client_opts co = {.urls = C.url, .timeout_ms = 60000};
    if (ip_rpc_client_new(&imageproc__storage__descriptor, &co, &cli) != IP_OK) {
        fprintf(stderr, "cannot make an RPC client\n");
        stop_server(*pid);
        return false;
    }
    int64_t until = ip_mono_ms() + 30000;
    while (ip_rpc_ping(cli, 500) != IP_OK) {
        if (*pid > 0 && waitpid(*pid, NULL, WNOHANG) == *pid) {
            fprintf(stderr, "storage-svc exited at start (is S3 up?)\n");
            ip_rpc_client_free(cli);
            return false;
        }
        if (ip_mono_ms() > until) {
            fprintf(stderr, "storage-svc does not answer on %s\n", C.url);
            ip_rpc_client_free(cli);
            stop_server(*pid);
            return false;
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return true;
}

enum { SIZES = 2 };
static const size_t sizes[SIZES] = {256u * 1024u, 4u * 1024u * 1024u};

/* Every run's result: [size][op put/get][direct/svc][round]. */
typedef struct runs {
    result r[SIZES][2][2][16];
} runs;

/* All the runs: per round, per size and operation, direct and through
 * storage-svc back to back, alternating which goes first. */
static void run_all(runs *res, uint8_t *const data[SIZES])
{
    for (int r = 0; r < C.rounds; r++) {
        for (int s = 0; s < SIZES; s++) {
            int ops = s == 0 ? C.ops_small : C.ops_large;
            for (int op = 0; op < 2; op++) {
                bool put = op == 0;
                /* Alternate which side goes first from round to round. */
                for (int k = 0; k < 2; k++) {
                    int side = (k + r) % 2;
                    res->r[s][op][side][r] = run_cell(side == 1, put, sizes[s], ops, data[s]);
                }
            }
        }
    }
}

/* One size and operation: a row per side (its median round) and the ratio
 * row; returns the ratio, adds the failed operations to *failed_total. */
static double print_cell(runs *res, int s, int op, int *failed_total)
{
    /* Rounds pair a direct and a storage-svc run made back to back, so the
     * ratio of each pair cancels the machine's slow swings in load. */
    double ratios[16];
    for (int r = 0; r < C.rounds; r++)
        ratios[r] = res->r[s][op][1][r].ops_per_s / res->r[s][op][0][r].ops_per_s;
    qsort(ratios, (size_t)C.rounds, sizeof ratios[0], cmp_dbl);
    double ratio = ratios[C.rounds / 2];
    for (int side = 0; side < 2; side++) {
        result *rr = res->r[s][op][side];
        int failed = 0;
        for (int r = 0; r < C.rounds; r++)
            failed += rr[r].failed;
        *failed_total += failed;
        qsort(rr, (size_t)C.rounds, sizeof *rr, cmp_result);
        result m = rr[C.rounds / 2];
        printf("%-5s %-4s %-14s %6d %10.1f %9.1f %9.2f %9.2f %6d\n", s == 0 ? "256K" : "4M",
               op == 0 ? "PUT" : "GET", side == 0 ? "direct" : "storage-svc",
               s == 0 ? C.ops_small : C.ops_large, m.ops_per_s, m.mib_per_s, m.p50, m.p99, failed);
    }
    printf("%-5s %-4s %-14s %6s %10.2f   (rounds: %.2f .. %.2f)\n", s == 0 ? "256K" : "4M",
           op == 0 ? "PUT" : "GET", "ratio", "", ratio, ratios[0], ratios[C.rounds - 1]);
    return ratio;
}

/* The table; returns the 4 MiB PUT ratio, the failed operations in *failed. */
static double print_table(runs *res, int *failed)
{
    printf("storage bench: concurrency %d, %d rounds, S3 %s\n", C.concurrency, C.rounds,
           C.endpoint);
    printf("(each row: the median round; ratio: median over rounds of storage-svc/direct "
           "obj/s measured back to back)\n");
    printf("%-5s %-4s %-14s %6s %10s %9s %9s %9s %6s\n", "size", "op", "path", "ops", "obj/s",
           "MiB/s", "p50 ms", "p99 ms", "fail");
    double ratio_put4 = 0;
    *failed = 0;
    for (int s = 0; s < SIZES; s++) {
        for (int op = 0; op < 2; op++) {
            double ratio = print_cell(res, s, op, failed);
            if (s == 1 && op == 0)
                ratio_put4 = ratio;
        }
    }
    return ratio_put4;
}

/* Deletes every object of this run through the service. */
static void delete_run_objects(void)
{
    Imageproc__DeleteObjectsRequest dr = IMAGEPROC__DELETE_OBJECTS_REQUEST__INIT;
    char prefix[96];
    snprintf(prefix, sizeof prefix, "t/bench-%s/", run_id);
    dr.prefix = prefix;
    Imageproc__DeleteObjectsReply *out = NULL;
    ip_rpc_call_opts o = {.timeout_ms = 60000};
    if (ip_storage_delete_objects(cli, &dr, &out, &o, NULL, 0) != IP_OK)
        fprintf(stderr, "cleanup of %s failed\n", prefix);
    if (out)
        imageproc__delete_objects_reply__free_unpacked(out, NULL);
}

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    ip_log_init("bench_storage", IP_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ip_uuid_v4_str(run_id);
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", C.region);

    pid_t pid;
    if (!start_service(&pid))
        return 1;

    uint8_t *data[SIZES];
    for (int s = 0; s < SIZES; s++) {
        data[s] = malloc(sizes[s]);
        for (size_t i = 0; i < sizes[s]; i++)
            data[s][i] = (uint8_t)(i * 2654435761u >> 13);
    }
    static runs res;
    run_all(&res, data);
    int total_failed = 0;
    double ratio_put4 = print_table(&res, &total_failed);

    delete_run_objects();
    ip_rpc_client_free(cli);
    stop_server(pid);
    free(data[0]);
    free(data[1]);
    curl_global_cleanup();
    if (total_failed)
        printf("failed operations: %d\n", total_failed);
    printf("storage: via storage-svc/direct = %.2f\n", ratio_put4);
    return total_failed ? 1 : 0;
}
