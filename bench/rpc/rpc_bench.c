/* rpc_bench — the cost of the RPC transport over raw nng REQ/REP.
 *
 * For tcp and ipc, at 1, 8 and 64 concurrent callers, it measures in the same
 * run:
 *   - rpc: an empty call through ip_rpc (Metadata.GetImage with an empty input;
 *     the handler returns an empty reply): envelope packing, method lookup,
 *     input unpack, handler, output pack, a context and an aio per call, a
 *     fresh request id, deadline bookkeeping;
 *   - raw: an echo of a message of the same size over nng REQ/REP, with the
 *     server built the same way (the same number of worker threads, each with
 *     a context and an aio) and each caller reusing one context and aio: the
 *     floor for this machine.
 * Each cell runs for a fixed time; every call's latency is recorded and the
 * table shows calls/s, p50 and p99. The last line is the ratio of rpc to raw
 * calls/s at 64 callers over tcp.
 *
 * The machine is shared and noisy, so the final ratio is the median of R
 * interleaved raw/rpc pairs at 64 callers over tcp (the table's pair and
 * R - 1 more; --repeat R, default 3).
 *
 *   bench/rpc/rpc_bench [--seconds S] [--workers N] [--transport tcp|ipc] [--callers N]
 *                       [--repeat R]
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ip_log.h"
#include "ip_rpc.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"
#include "metadata.pb-c.h"
#include "rpc.pb-c.h"

static double seconds = 2.0;
static int workers = 32;
static int repeat = 3;             /* --repeat R: tcp/64 pairs for the final ratio */
static const char *only_transport; /* --transport tcp|ipc: just that one */
static int only_callers;           /* --callers N: just that level */

typedef struct result {
    double calls_per_s;
    double p50_us, p99_us;
    long errors;
} result;

/* ------------------------------------------------------------ callers */

typedef struct caller {
    pthread_t t;
    int64_t *lat; /* microseconds */
    size_t n, cap;
    long errors;
    const atomic_bool *stop;
    void *target; /* ip_rpc_client* or nng_socket* */
} caller;

static void record(caller *c, int64_t us)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4096;
        c->lat = realloc(c->lat, c->cap * sizeof *c->lat);
        if (c->lat == NULL)
            abort();
    }
    c->lat[c->n++] = us;
}

static void *rpc_caller(void *arg)
{
    caller *c = arg;
    ip_rpc_client *client = c->target;
    Imageproc__GetImageRequest req = IMAGEPROC__GET_IMAGE_REQUEST__INIT;
    while (!atomic_load_explicit(c->stop, memory_order_relaxed)) {
        Imageproc__GetImageReply *out = NULL;
        int64_t t0 = ip_mono_us();
        ip_status st = ip_metadata_get_image(client, &req, &out, NULL, NULL, 0);
        int64_t dt = ip_mono_us() - t0;
        if (st != IP_OK) {
            c->errors++;
            continue;
        }
        imageproc__get_image_reply__free_unpacked(out, NULL);
        record(c, dt);
    }
    return NULL;
}

/* Size of the rpc request envelope, so the raw echo carries as many bytes. */
static size_t envelope_size;

static void *raw_caller(void *arg)
{
    caller *c = arg;
    nng_socket *s = c->target;
    nng_ctx ctx;
    nng_aio *aio;
    if (nng_ctx_open(&ctx, *s) != 0 || nng_aio_alloc(&aio, NULL, NULL) != 0)
        abort();
    nng_aio_set_timeout(aio, 5000);
    while (!atomic_load_explicit(c->stop, memory_order_relaxed)) {
        nng_msg *m;
        if (nng_msg_alloc(&m, envelope_size) != 0)
            abort();
        memset(nng_msg_body(m), 'x', envelope_size);
        int64_t t0 = ip_mono_us();
        nng_aio_set_msg(aio, m);
        nng_ctx_send(ctx, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0) {
            nng_msg_free(nng_aio_get_msg(aio));
            c->errors++;
            continue;
        }
        nng_ctx_recv(ctx, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0) {
            c->errors++;
            continue;
        }
        nng_msg_free(nng_aio_get_msg(aio));
        record(c, ip_mono_us() - t0);
    }
    nng_ctx_close(ctx);
    nng_aio_free(aio);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static result run_callers(int n, void *(*fn)(void *), void *target)
{
    atomic_bool stop = false;
    caller *cs = calloc((size_t)n, sizeof *cs);
    for (int i = 0; i < n; i++) {
        cs[i].stop = &stop;
        cs[i].target = target;
    }
    int64_t t0 = ip_mono_us();
    for (int i = 0; i < n; i++)
        pthread_create(&cs[i].t, NULL, fn, &cs[i]);
    usleep((useconds_t)(seconds * 1e6));
    atomic_store(&stop, true);
    size_t total = 0;
    long errors = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(cs[i].t, NULL);
        total += cs[i].n;
        errors += cs[i].errors;
    }
    double elapsed = (double)(ip_mono_us() - t0) / 1e6;
    int64_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        memcpy(all + k, cs[i].lat, cs[i].n * sizeof *all);
        k += cs[i].n;
        free(cs[i].lat);
    }
    qsort(all, total, sizeof *all, cmp_i64);
    result r = {
        .calls_per_s = (double)total / elapsed,
        .p50_us = total ? (double)all[total / 2] : 0,
        .p99_us = total ? (double)all[total * 99 / 100] : 0,
        .errors = errors,
    };
    free(all);
    free(cs);
    return r;
}

/* ------------------------------------------------------------ rpc */

static ip_status h_get_image(void *user, ip_rpc_call *call, const Imageproc__GetImageRequest *in,
                             Imageproc__GetImageReply *out)
{
    return IP_OK; /* an empty reply */
}

static result bench_rpc(const char *url, int callers)
{
    static const ip_metadata_impl impl = {.get_image = h_get_image};
    const ProtobufCServiceDescriptor *svc = &imageproc__metadata__descriptor;
    ip_rpc_server *srv = NULL;
    ip_rpc_server_opts so = {.url = url, .workers = workers};
    if (ip_metadata_server_new(&impl, &so, &srv) != IP_OK) {
        fprintf(stderr, "rpc_bench: cannot listen on %s\n", url);
        exit(1);
    }
    ip_rpc_client *c = NULL;
    ip_rpc_client_opts co = {.urls = url, .timeout_ms = 5000};
    if (ip_rpc_client_new(svc, &co, &c) != IP_OK)
        exit(1);
    int64_t until = ip_mono_ms() + 5000;
    while (ip_rpc_ping(c, 500) != IP_OK && ip_mono_ms() < until)
        usleep(10000);
    result r = run_callers(callers, rpc_caller, c);
    ip_rpc_client_free(c);
    ip_rpc_server_free(srv);
    return r;
}

/* ------------------------------------------------------------ raw nng */

typedef struct raw_worker {
    pthread_t t;
    nng_socket sock;
} raw_worker;

static void *raw_server_worker(void *arg)
{
    raw_worker *w = arg;
    nng_ctx ctx;
    nng_aio *aio;
    if (nng_ctx_open(&ctx, w->sock) != 0 || nng_aio_alloc(&aio, NULL, NULL) != 0)
        abort();
    for (;;) {
        nng_ctx_recv(ctx, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0)
            break;
        nng_ctx_send(ctx, aio); /* echo the same message */
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0) {
            nng_msg_free(nng_aio_get_msg(aio));
            if (nng_aio_result(aio) == NNG_ECLOSED)
                break;
        }
    }
    nng_aio_free(aio);
    return NULL;
}

static result bench_raw(const char *url, int callers)
{
    nng_socket srv, cli;
    if (nng_rep0_open(&srv) != 0 || nng_listen(srv, url, NULL, 0) != 0) {
        fprintf(stderr, "rpc_bench: raw cannot listen on %s\n", url);
        exit(1);
    }
    nng_socket_set_size(srv, NNG_OPT_RECVMAXSZ, IP_RPC_DEFAULT_MAX_MSG);
    raw_worker *ws = calloc((size_t)workers, sizeof *ws);
    for (int i = 0; i < workers; i++) {
        ws[i].sock = srv;
        pthread_create(&ws[i].t, NULL, raw_server_worker, &ws[i]);
    }
    if (nng_req0_open(&cli) != 0)
        exit(1);
    nng_socket_set_size(cli, NNG_OPT_RECVMAXSZ, IP_RPC_DEFAULT_MAX_MSG);
    nng_socket_set_ms(cli, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    if (nng_dial(cli, url, NULL, 0) != 0)
        exit(1);
    result r = run_callers(callers, raw_caller, &cli);
    nng_close(cli);
    /* Closing the socket fails the workers' pending receives (ECLOSED). */
    nng_close(srv);
    for (int i = 0; i < workers; i++)
        pthread_join(ws[i].t, NULL);
    free(ws);
    return r;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
            workers = atoi(argv[++i]);
        else if (strcmp(argv[i], "--transport") == 0 && i + 1 < argc)
            only_transport = argv[++i];
        else if (strcmp(argv[i], "--callers") == 0 && i + 1 < argc)
            only_callers = atoi(argv[++i]);
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: rpc_bench [--seconds S] [--workers N] [--transport tcp|ipc] "
                            "[--callers N] [--repeat R]\n");
            return 2;
        }
    }
    if (seconds <= 0 || workers <= 0)
        return 2;
    ip_log_init("rpc_bench", IP_LOG_WARN);

    /* An empty GetImage envelope, as the client builds it. */
    Imageproc__RpcRequest env = IMAGEPROC__RPC_REQUEST__INIT;
    env.method = (char *)"GetImage";
    env.request_id = (char *)"01234567-89ab-4def-8123-456789abcdef";
    env.deadline_ms = ip_now_ms() + 5000;
    envelope_size = imageproc__rpc_request__get_packed_size(&env);

    char ipc[128];
    snprintf(ipc, sizeof ipc, "ipc:///tmp/rpc-bench-%d.sock", (int)getpid());
    const struct {
        const char *name, *url;
    } transports[] = {{"tcp", "tcp://127.0.0.1:7299"}, {"ipc", ipc}};
    const int levels[] = {1, 8, 64};
    double ratio64tcp = 0;

    printf("rpc_bench: %.1f s per cell, %d server workers, %zu-byte requests\n", seconds, workers,
           envelope_size);
    printf("%-5s %7s | %12s %9s %9s | %12s %9s %9s | %6s\n", "trans", "callers", "rpc calls/s",
           "p50 us", "p99 us", "raw calls/s", "p50 us", "p99 us", "ratio");
    for (size_t t = 0; t < 2; t++) {
        if (only_transport != NULL && strcmp(only_transport, transports[t].name) != 0)
            continue;
        for (size_t l = 0; l < 3; l++) {
            if (only_callers > 0 && only_callers != levels[l])
                continue;
            result raw = bench_raw(transports[t].url, levels[l]);
            result rpc = bench_rpc(transports[t].url, levels[l]);
            double ratio = raw.calls_per_s > 0 ? rpc.calls_per_s / raw.calls_per_s : 0;
            printf("%-5s %7d | %12.0f %9.0f %9.0f | %12.0f %9.0f %9.0f | %6.2f\n",
                   transports[t].name, levels[l], rpc.calls_per_s, rpc.p50_us, rpc.p99_us,
                   raw.calls_per_s, raw.p50_us, raw.p99_us, ratio);
            if (rpc.errors || raw.errors)
                printf("      (errors: rpc %ld, raw %ld)\n", rpc.errors, raw.errors);
            fflush(stdout);
            if (t == 0 && levels[l] == 64)
                ratio64tcp = ratio;
        }
    }
    if (only_transport == NULL || strcmp(only_transport, "tcp") == 0) {
        if (only_callers == 0 || only_callers == 64) {
            double ratios[64];
            int nr = 0;
            ratios[nr++] = ratio64tcp;
            for (int i = 1; i < repeat && nr < 64; i++) {
                result raw = bench_raw(transports[0].url, 64);
                result rpc = bench_rpc(transports[0].url, 64);
                ratios[nr++] = raw.calls_per_s > 0 ? rpc.calls_per_s / raw.calls_per_s : 0;
            }
            qsort(ratios, (size_t)nr, sizeof ratios[0], cmp_double);
            printf("tcp 64 callers, %d interleaved pairs, rpc/raw:", nr);
            for (int i = 0; i < nr; i++)
                printf(" %.2f", ratios[i]);
            printf(" (median %.2f)\n", ratios[nr / 2]);
            ratio64tcp = ratios[nr / 2];
        }
    }
    printf("rpc: transport/raw nng = %.2f\n", ratio64tcp);
    return 0;
}
