/* ip_rpc_test.c — the nng transport: envelopes, concurrency, restarts, bad
 * input, deadlines, sizes, several addresses.
 *
 * The test service is the real Storage service (served and called through
 * the typed stubs of ip_rpc_stubs.h) with test handlers: GetObject echoes the
 * key as the data (and the request id as the etag; key "big:N" answers N
 * bytes of a known pattern, "place:N" the same written straight into the
 * reply message), HeadObject "sleep:N" sleeps N ms, PutObject
 * reports the size it got (and a checksum of the bytes as the etag),
 * DeleteObjects fails with NOT_FOUND and a message. `ip_rpc_test serve URL`
 * runs that server in a process of its own until SIGTERM/SIGKILL, so the
 * restart test can kill a real server process. Ports 7281-7290 are used.
 *
 * Views (ip_pbview.h, ip_rpc_invoke_view) are checked against protobuf-c's
 * own unpack on a message made for the purpose (singular, optional, repeated
 * and oneof bytes next to a nested message), and through the transport with
 * payloads of several MiB both ways.
 */
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ip_lifecycle.h"
#include "ip_log.h"
#include "ip_metrics.h"
#include "ip_pbview.h"
#include "ip_rpc.h"
#include "ip_rpc_internal.h"
#include "ip_rpc_stubs.h"
#include "ip_testing.h"
#include "ip_time.h"
#include "rpc.pb-c.h"

extern char **environ;

static const ProtobufCServiceDescriptor *SVC = &imageproc__storage__descriptor;
static atomic_int served_by[2];

static Imageproc__ObjectInfo *new_info(ip_rpc_call *call, const char *key)
{
    Imageproc__ObjectInfo *info = ip_rpc_call_alloc(call, sizeof *info);
    if (info == NULL)
        return NULL;
    imageproc__object_info__init(info);
    info->key = ip_rpc_call_strdup(call, key);
    return info;
}

/* The byte at i of the test payloads. */
static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 131u + (i >> 9));
}

static uint8_t *pattern_new(size_t n, size_t from)
{
    uint8_t *p = malloc(n ? n : 1);
    CHECK(p != NULL);
    for (size_t i = 0; i < n; i++)
        p[i] = pattern(from + i);
    return p;
}

static bool is_pattern(const uint8_t *p, size_t n, size_t from)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern(from + i))
            return false;
    return true;
}

/* FNV-1a of n bytes, as 16 hex digits. */
static void checksum_hex(const uint8_t *p, size_t n, char out[17])
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static ip_status h_get(void *user, ip_rpc_call *call, const Imageproc__GetObjectRequest *req,
                       Imageproc__GetObjectReply *rep)
{
    if (user != NULL)
        atomic_fetch_add((atomic_int *)user, 1);
    size_t n = strlen(req->key), big = 0;
    if (sscanf(req->key, "place:%zu", &big) == 1) {
        /* Written into the reply message; asked for twice, smaller first. */
        uint8_t *p = ip_rpc_call_reply_bytes(call, big / 2);
        if (p == NULL || (p = ip_rpc_call_reply_bytes(call, big)) == NULL)
            return IP_RESOURCE_EXHAUSTED;
        for (size_t i = 0; i < big; i++)
            p[i] = pattern(i);
        rep->data.data = p;
        rep->data.len = big;
    } else if (sscanf(req->key, "big:%zu", &big) == 1) {
        uint8_t *p = ip_rpc_call_alloc(call, big);
        if (p == NULL)
            return IP_RESOURCE_EXHAUSTED;
        for (size_t i = 0; i < big; i++)
            p[i] = pattern(i);
        rep->data.data = p;
        rep->data.len = big;
    } else {
        rep->data.data = ip_rpc_call_memdup(call, req->key, n);
        rep->data.len = n;
    }
    rep->info = new_info(call, req->key);
    if (rep->info == NULL)
        return IP_RESOURCE_EXHAUSTED;
    rep->info->etag = ip_rpc_call_strdup(call, ip_rpc_call_request_id(call));
    return IP_OK;
}

static ip_status h_head(void *user, ip_rpc_call *call, const Imageproc__HeadObjectRequest *req,
                        Imageproc__HeadObjectReply *rep)
{
    int ms;
    if (sscanf(req->key, "sleep:%d", &ms) == 1)
        usleep((useconds_t)ms * 1000);
    rep->info = new_info(call, req->key);
    rep->info->size_bytes = ip_rpc_call_remaining_ms(call);
    return IP_OK;
}

static ip_status h_put(void *user, ip_rpc_call *call, const Imageproc__PutObjectRequest *req,
                       Imageproc__PutObjectReply *rep)
{
    rep->info = new_info(call, req->key);
    rep->info->size_bytes = (int64_t)req->data.len;
    char sum[17];
    checksum_hex(req->data.data, req->data.len, sum);
    rep->info->etag = ip_rpc_call_strdup(call, sum);
    /* A buffer handed over to the call is released after the reply. */
    char *lib = strdup("from a library");
    ip_rpc_call_defer_free(call, lib, free);
    rep->info->content_type = lib;
    return IP_OK;
}

static ip_status h_delete(void *user, ip_rpc_call *call, const Imageproc__DeleteObjectsRequest *req,
                          Imageproc__DeleteObjectsReply *rep)
{
    ip_rpc_call_errorf(call, "nothing under %s", req->prefix);
    return IP_NOT_FOUND;
}

/* The test servers' handlers; `user` counts the GetObject calls a server
 * answered (several_urls), or is NULL. */
#define TEST_IMPL(counter)                                                                         \
    {                                                                                              \
        .user = (counter), .put_object = h_put, .get_object = h_get, .head_object = h_head,        \
        .delete_objects = h_delete                                                                 \
    }
static const ip_storage_impl impls[] = {TEST_IMPL(NULL), TEST_IMPL(&served_by[0]),
                                        TEST_IMPL(&served_by[1])};

static const ip_storage_impl *impl_for(atomic_int *counter)
{
    return counter == NULL ? &impls[0] : counter == &served_by[0] ? &impls[1] : &impls[2];
}

static ip_rpc_server *start_server(const char *url, int workers, size_t max_msg,
                                   atomic_int *counter)
{
    ip_rpc_server *srv = NULL;
    ip_rpc_server_opts o = {.url = url, .workers = workers, .max_msg_bytes = max_msg};
    ip_status st = IP_UNAVAILABLE;
    /* A just-closed listener may linger for a moment; retry briefly. */
    for (int i = 0; i < 150 && st != IP_OK; i++) {
        st = ip_storage_server_new(impl_for(counter), &o, &srv);
        if (st != IP_OK)
            usleep(20000);
    }
    CHECK_EQ_INT(st, IP_OK);
    return srv;
}

static ip_rpc_client *new_client(const char *urls, int timeout_ms, size_t max_msg)
{
    ip_rpc_client *c = NULL;
    ip_rpc_client_opts o = {.urls = urls, .timeout_ms = timeout_ms, .max_msg_bytes = max_msg};
    CHECK_EQ_INT(ip_rpc_client_new(SVC, &o, &c), IP_OK);
    return c;
}

/* GetObject(key); returns the status and checks an OK reply echoes the key. */
static ip_status get(ip_rpc_client *c, const char *key, int timeout_ms, char *err, size_t errlen)
{
    Imageproc__GetObjectRequest req = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
    req.key = (char *)key;
    Imageproc__GetObjectReply *out = NULL;
    ip_rpc_call_opts o = {.timeout_ms = timeout_ms};
    ip_status st = ip_storage_get_object(c, &req, &out, &o, err, errlen);
    if (st == IP_OK) {
        CHECK(out->data.len == strlen(key) && memcmp(out->data.data, key, out->data.len) == 0);
        CHECK(out->info != NULL);
        CHECK_EQ_STR(out->info->key, key);
        imageproc__get_object_reply__free_unpacked(out, NULL);
    } else {
        CHECK(out == NULL);
    }
    return st;
}

/* Waits (bounded) until a call through c succeeds. */
static void wait_ready(ip_rpc_client *c)
{
    int64_t until = ip_mono_ms() + 10000;
    while (ip_rpc_ping(c, 500) != IP_OK) {
        CHECK(ip_mono_ms() < until);
        usleep(10000);
    }
}

/* ---------------------------------------------------------------- envelopes */

static void test_envelopes(void)
{
    /* The status enum and RpcCode agree, name for name. */
    const ProtobufCEnumDescriptor *ed = &imageproc__rpc_code__descriptor;
    CHECK_EQ_INT(ed->n_values, IP_STATUS_COUNT);
    for (unsigned i = 0; i < ed->n_values; i++) {
        char lower[64];
        const char *n = ed->values[i].name + 4; /* "RPC_" */
        size_t k = 0;
        for (; n[k] && k < sizeof lower - 1; k++)
            lower[k] = (char)(n[k] >= 'A' && n[k] <= 'Z' ? n[k] + 32 : n[k]);
        lower[k] = '\0';
        CHECK_EQ_STR(ip_strerror((ip_status)ed->values[i].value), lower);
    }

    uint8_t blob[3000];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t)(i * 7);
    Imageproc__RpcRequest rq = IMAGEPROC__RPC_REQUEST__INIT;
    rq.method = "GetImage";
    rq.input.data = blob;
    rq.input.len = sizeof blob;
    rq.request_id = "0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f";
    rq.deadline_ms = 1795911760123;
    size_t n = imageproc__rpc_request__get_packed_size(&rq);
    uint8_t *buf = malloc(n);
    imageproc__rpc_request__pack(&rq, buf);
    Imageproc__RpcRequest *rq2 = imageproc__rpc_request__unpack(NULL, n, buf);
    CHECK(rq2 != NULL);
    CHECK_EQ_STR(rq2->method, rq.method);
    CHECK_EQ_STR(rq2->request_id, rq.request_id);
    CHECK_EQ_INT(rq2->deadline_ms, rq.deadline_ms);
    CHECK(rq2->input.len == sizeof blob && memcmp(rq2->input.data, blob, sizeof blob) == 0);
    imageproc__rpc_request__free_unpacked(rq2, NULL);
    free(buf);

    /* An empty request unpacks to the defaults. */
    rq2 = imageproc__rpc_request__unpack(NULL, 0, (const uint8_t *)"");
    CHECK(rq2 != NULL && rq2->method[0] == '\0' && rq2->deadline_ms == 0);
    imageproc__rpc_request__free_unpacked(rq2, NULL);

    for (unsigned code = 0; code < IP_STATUS_COUNT; code++) {
        Imageproc__RpcReply rp = IMAGEPROC__RPC_REPLY__INIT;
        rp.code = (Imageproc__RpcCode)code;
        rp.message = code ? "what went wrong: ünïcødé" : "";
        rp.output.data = code ? NULL : blob;
        rp.output.len = code ? 0 : 100;
        rp.request_id = "rid";
        n = imageproc__rpc_reply__get_packed_size(&rp);
        buf = malloc(n ? n : 1);
        imageproc__rpc_reply__pack(&rp, buf);
        Imageproc__RpcReply *rp2 = imageproc__rpc_reply__unpack(NULL, n, buf);
        CHECK(rp2 != NULL);
        CHECK_EQ_INT(rp2->code, code);
        CHECK_EQ_STR(rp2->message, rp.message);
        CHECK_EQ_STR(rp2->request_id, "rid");
        CHECK_EQ_INT(rp2->output.len, rp.output.len);
        CHECK(rp.output.len == 0 || memcmp(rp2->output.data, blob, rp.output.len) == 0);
        imageproc__rpc_reply__free_unpacked(rp2, NULL);
        free(buf);
    }
}

/* The hand-written envelope writers produce exactly protobuf-c's bytes. */
static void test_envelope_writers(void)
{
    static const size_t key_sizes[] = {0, 1, 127, 128, 200, 70000};
    static const char *const rids[] = {"", "r", "0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f"};
    static const int64_t deadlines[] = {0, 1, 127, 128, 1795911760123LL, -5};
    char *key = malloc(70001);
    memset(key, 'k', 70000);
    for (size_t k = 0; k < sizeof key_sizes / sizeof key_sizes[0]; k++) {
        key[key_sizes[k]] = '\0';
        Imageproc__GetObjectRequest in = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
        in.key = key;
        size_t il = imageproc__get_object_request__get_packed_size(&in);
        uint8_t *ib = malloc(il ? il : 1);
        imageproc__get_object_request__pack(&in, ib);
        for (size_t r = 0; r < 3; r++) {
            for (size_t d = 0; d < sizeof deadlines / sizeof deadlines[0]; d++) {
                Imageproc__RpcRequest rq = IMAGEPROC__RPC_REQUEST__INIT;
                rq.method = "GetObject";
                rq.input.data = ib;
                rq.input.len = il;
                rq.request_id = (char *)rids[r];
                rq.deadline_ms = deadlines[d];
                size_t want_n = imageproc__rpc_request__get_packed_size(&rq), got_n = 0;
                uint8_t *want = malloc(want_n ? want_n : 1);
                imageproc__rpc_request__pack(&rq, want);
                uint8_t *got =
                    ip_rpc_pack_request("GetObject", &in.base, rids[r], deadlines[d], &got_n);
                CHECK(got != NULL);
                CHECK_EQ_INT(got_n, want_n);
                CHECK(memcmp(got, want, want_n) == 0);
                free(got);
                free(want);
            }
            for (int code = 0; code <= 9; code++) {
                const char *msg = code ? "something went wrong" : "";
                Imageproc__GetObjectReply out = IMAGEPROC__GET_OBJECT_REPLY__INIT;
                out.data.data = (uint8_t *)key;
                out.data.len = key_sizes[k];
                size_t ol = imageproc__get_object_reply__get_packed_size(&out);
                uint8_t *ob = malloc(ol ? ol : 1);
                imageproc__get_object_reply__pack(&out, ob);
                Imageproc__RpcReply rp = IMAGEPROC__RPC_REPLY__INIT;
                rp.code = (Imageproc__RpcCode)code;
                rp.message = (char *)msg;
                rp.output.data = ob;
                rp.output.len = ol;
                rp.request_id = (char *)rids[r];
                size_t want_n = imageproc__rpc_reply__get_packed_size(&rp), got_n = 0;
                uint8_t *want = malloc(want_n ? want_n : 1);
                imageproc__rpc_reply__pack(&rp, want);
                uint8_t *got = ip_rpc_pack_reply(code, msg, &out.base, rids[r], &got_n);
                CHECK(got != NULL);
                CHECK_EQ_INT(got_n, want_n);
                CHECK(memcmp(got, want, want_n) == 0);
                free(got);
                free(want);
                free(ob);
            }
        }
        free(ib);
    }
    free(key);
    /* No input at all (a ping). */
    size_t n;
    uint8_t *got = ip_rpc_pack_request("$ping", NULL, "", 0, &n);
    Imageproc__RpcRequest *back = imageproc__rpc_request__unpack(NULL, n, got);
    CHECK(back != NULL);
    CHECK_EQ_STR(back->method, "$ping");
    CHECK_EQ_INT(back->input.len, 0);
    imageproc__rpc_request__free_unpacked(back, NULL);
    free(got);
}

/* ---------------------------------------------------------------- basics */

static void test_basic(void)
{
    ip_rpc_server *srv = start_server("tcp://127.0.0.1:7281", 4, 0, NULL);
    ip_rpc_client *c = new_client("tcp://127.0.0.1:7281", 2000, 0);
    char err[256];
    CHECK_EQ_INT(ip_rpc_ping(c, 1000), IP_OK);
    CHECK_EQ_INT(get(c, "hello", 0, err, sizeof err), IP_OK);

    /* The request id travels to the server (echoed as the etag). */
    Imageproc__GetObjectRequest gr = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
    gr.key = "k";
    Imageproc__GetObjectReply *got = NULL;
    ip_rpc_call_opts o = {.request_id = "my-request-id"};
    CHECK_EQ_INT(ip_storage_get_object(c, &gr, &got, &o, err, sizeof err), IP_OK);
    EXPECT_EQ_STR(got->info->etag, "my-request-id");
    imageproc__get_object_reply__free_unpacked(got, NULL);

    /* A server error comes back with its code and message. */
    Imageproc__DeleteObjectsRequest dr = IMAGEPROC__DELETE_OBJECTS_REQUEST__INIT;
    dr.prefix = "v/x/";
    Imageproc__DeleteObjectsReply *deleted = NULL;
    EXPECT_EQ_INT(ip_storage_delete_objects(c, &dr, &deleted, NULL, err, sizeof err), IP_NOT_FOUND);
    EXPECT(deleted == NULL);
    EXPECT_EQ_STR(err, "nothing under v/x/");

    /* Deferred frees and nested messages. */
    Imageproc__PutObjectRequest pr = IMAGEPROC__PUT_OBJECT_REQUEST__INIT;
    pr.key = "o/1";
    uint8_t data[1000] = {1, 2, 3};
    pr.data.data = data;
    pr.data.len = sizeof data;
    Imageproc__PutObjectReply *put = NULL;
    CHECK_EQ_INT(ip_storage_put_object(c, &pr, &put, NULL, err, sizeof err), IP_OK);
    EXPECT_EQ_INT(put->info->size_bytes, 1000);
    EXPECT_EQ_STR(put->info->content_type, "from a library");
    imageproc__put_object_reply__free_unpacked(put, NULL);

    /* Through the generic call: an unknown method name and a wrong input type
     * are refused locally. */
    ProtobufCMessage *out = NULL;
    EXPECT_EQ_INT(ip_rpc_invoke(c, "NoSuch", &gr.base, &out, NULL, err, sizeof err),
                  IP_INVALID_ARGUMENT);
    EXPECT_EQ_INT(ip_rpc_invoke(c, "PutObject", &gr.base, &out, NULL, err, sizeof err),
                  IP_INVALID_ARGUMENT);
    EXPECT(out == NULL);

    /* The handler sees the deadline. */
    Imageproc__HeadObjectRequest hr = IMAGEPROC__HEAD_OBJECT_REQUEST__INIT;
    hr.key = "x";
    Imageproc__HeadObjectReply *head = NULL;
    o = (ip_rpc_call_opts){.timeout_ms = 3000};
    CHECK_EQ_INT(ip_storage_head_object(c, &hr, &head, &o, err, sizeof err), IP_OK);
    int64_t left = head->info->size_bytes;
    EXPECT(left > 2000 && left <= 3000);
    imageproc__head_object_reply__free_unpacked(head, NULL);

    /* Calls are counted by service, method and code. */
    char *metrics = ip_metrics_render();
    CHECK(strstr(metrics, "ip_rpc_server_calls_total{service=\"imageproc.Storage\",method="
                          "\"GetObject\",code=\"ok\"} 2\n") != NULL);
    CHECK(strstr(metrics, "ip_rpc_server_calls_total{service=\"imageproc.Storage\",method="
                          "\"DeleteObjects\",code=\"not_found\"} 1\n") != NULL);
    CHECK(strstr(metrics, "ip_rpc_client_calls_total{service=\"imageproc.Storage\",method="
                          "\"GetObject\",code=\"ok\"} 2\n") != NULL);
    free(metrics);

    ip_rpc_client_free(c);
    ip_rpc_server_free(srv);

    /* A second server on a taken address fails cleanly. */
    ip_rpc_server *a = start_server("tcp://127.0.0.1:7282", 1, 0, NULL), *b = NULL;
    ip_rpc_server_opts so = {.url = "tcp://127.0.0.1:7282"};
    CHECK(ip_storage_server_new(impl_for(NULL), &so, &b) != IP_OK);
    CHECK(b == NULL);
    ip_rpc_server_close(a);
    ip_rpc_server_close(a); /* idempotent */
    ip_rpc_server_free(a);
    ip_rpc_server_free(NULL);
    ip_rpc_client_free(NULL);
}

/* ---------------------------------------------------------------- concurrency */

#define CALLERS 64
#define CALLS 1000

typedef struct caller {
    ip_rpc_client *c;
    int id;
    int ok;
} caller;

static void *caller_main(void *arg)
{
    caller *k = arg;
    char key[64], err[256];
    for (int i = 0; i < CALLS; i++) {
        snprintf(key, sizeof key, "caller-%d-call-%d", k->id, i);
        ip_status st = get(k->c, key, 30000, err, sizeof err);
        if (st != IP_OK) {
            fprintf(stderr, "caller %d call %d: %s %s\n", k->id, i, ip_strerror(st), err);
            continue;
        }
        k->ok++;
    }
    return NULL;
}

static void test_concurrency(void)
{
    ip_rpc_server *srv = start_server("tcp://127.0.0.1:7283", 16, 0, NULL);
    ip_rpc_client *c = new_client("tcp://127.0.0.1:7283", 30000, 0);
    wait_ready(c);
    pthread_t t[CALLERS];
    caller k[CALLERS];
    int64_t t0 = ip_mono_ms();
    for (int i = 0; i < CALLERS; i++) {
        k[i] = (caller){.c = c, .id = i};
        CHECK(pthread_create(&t[i], NULL, caller_main, &k[i]) == 0);
    }
    int total = 0;
    for (int i = 0; i < CALLERS; i++) {
        pthread_join(t[i], NULL);
        total += k[i].ok;
    }
    fprintf(stderr, "%d calls in %lld ms\n", total, (long long)(ip_mono_ms() - t0));
    CHECK_EQ_INT(total, CALLERS * CALLS);
    ip_rpc_client_free(c);
    ip_rpc_server_free(srv);
}

/* ---------------------------------------------------------------- restarts */

typedef struct restart_caller {
    ip_rpc_client *c;
    atomic_bool *stop;
    int ok, unavailable, deadline, other;
    int64_t longest_ms;
    int64_t last_ok_ms;
} restart_caller;

#define RESTART_TIMEOUT_MS 1000

static void *restart_main(void *arg)
{
    restart_caller *r = arg;
    char err[256];
    int i = 0;
    while (!atomic_load(r->stop)) {
        char key[32];
        snprintf(key, sizeof key, "r%d", i++);
        int64_t t0 = ip_mono_ms();
        ip_status st = get(r->c, key, RESTART_TIMEOUT_MS, err, sizeof err);
        int64_t dt = ip_mono_ms() - t0;
        if (dt > r->longest_ms)
            r->longest_ms = dt;
        if (st == IP_OK) {
            r->ok++;
            r->last_ok_ms = ip_mono_ms();
        } else if (st == IP_UNAVAILABLE) {
            r->unavailable++;
        } else if (st == IP_DEADLINE_EXCEEDED) {
            r->deadline++;
        } else {
            fprintf(stderr, "unexpected %s: %s\n", ip_strerror(st), err);
            r->other++;
        }
        usleep(2000);
    }
    return NULL;
}

static pid_t spawn_server(const char *self, const char *url)
{
    pid_t pid;
    char *argv[] = {(char *)self, (char *)"serve", (char *)url, NULL};
    CHECK(posix_spawn(&pid, self, NULL, NULL, argv, environ) == 0);
    return pid;
}

static char self_path[4096];

/* Waits (bounded) for a server process to exit; returns its wait status. */
static int reap_server(pid_t pid)
{
    int status = 0;
    int64_t until = ip_mono_ms() + 10000;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (ip_mono_ms() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "server %d did not exit in time\n", (int)pid);
            CHECK(0);
        }
        usleep(10000);
    }
    return status;
}

/* A server process stopped mid-run with `sig` (SIGTERM: a graceful close with
 * calls in flight; SIGKILL: gone at once), then started again. */
static void run_restart(int sig)
{
    const char *url = "tcp://127.0.0.1:7284";
    pid_t pid = spawn_server(self_path, url);
    ip_rpc_client *c = new_client(url, RESTART_TIMEOUT_MS, 0);
    wait_ready(c);

    atomic_bool stop = false;
    restart_caller rc[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        rc[i] = (restart_caller){.c = c, .stop = &stop};
        pthread_create(&t[i], NULL, restart_main, &rc[i]);
    }
    usleep(300000);
    kill(pid, sig);
    int status = reap_server(pid);
    if (sig == SIGTERM)
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    usleep(1500000); /* down: calls must fail, quickly or by their deadline */
    int64_t restarted = ip_mono_ms();
    pid = spawn_server(self_path, url);
    /* Up again: every caller must get through within a few seconds. */
    int64_t until = restarted + 8000;
    for (;;) {
        bool all = true;
        for (int i = 0; i < 8; i++)
            all = all && rc[i].last_ok_ms > restarted;
        if (all)
            break;
        CHECK(ip_mono_ms() < until);
        usleep(20000);
    }
    atomic_store(&stop, true);
    int fails = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        fprintf(stderr, "caller %d: ok %d unavailable %d deadline %d other %d longest %lld ms\n", i,
                rc[i].ok, rc[i].unavailable, rc[i].deadline, rc[i].other,
                (long long)rc[i].longest_ms);
        CHECK_EQ_INT(rc[i].other, 0);
        /* No hang: no call outlived its deadline by much. */
        CHECK(rc[i].longest_ms < RESTART_TIMEOUT_MS + 700);
        fails += rc[i].unavailable + rc[i].deadline;
    }
    CHECK(fails > 0);
    ip_rpc_client_free(c);
    kill(pid, SIGTERM);
    status = reap_server(pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_restart_graceful(void)
{
    run_restart(SIGTERM);
}

static void test_restart_killed(void)
{
    run_restart(SIGKILL);
}

/* ---------------------------------------------------------------- bad input */

/* Sends raw bytes on a REQ socket; returns the unpacked reply or NULL when
 * nothing came back within timeout_ms. */
static Imageproc__RpcReply *raw_call(nng_socket s, const void *data, size_t len, int timeout_ms)
{
    nng_msg *m;
    CHECK(nng_msg_alloc(&m, len) == 0);
    if (len)
        memcpy(nng_msg_body(m), data, len);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms);
    if (nng_sendmsg(s, m, 0) != 0) {
        nng_msg_free(m);
        return NULL;
    }
    nng_msg *r;
    if (nng_recvmsg(s, &r, 0) != 0)
        return NULL;
    Imageproc__RpcReply *rep = imageproc__rpc_reply__unpack(NULL, nng_msg_len(r), nng_msg_body(r));
    CHECK(rep != NULL);
    nng_msg_free(r);
    return rep;
}

static uint8_t *pack_request(const char *method, const void *input, size_t ilen, int64_t deadline,
                             size_t *n)
{
    Imageproc__RpcRequest rq = IMAGEPROC__RPC_REQUEST__INIT;
    rq.method = (char *)method;
    rq.input.data = (uint8_t *)input;
    rq.input.len = ilen;
    rq.request_id = "raw";
    rq.deadline_ms = deadline;
    *n = imageproc__rpc_request__get_packed_size(&rq);
    uint8_t *buf = malloc(*n);
    imageproc__rpc_request__pack(&rq, buf);
    return buf;
}

static void expect_code(nng_socket s, const void *data, size_t len, ip_status want)
{
    Imageproc__RpcReply *r = raw_call(s, data, len, 5000);
    CHECK(r != NULL);
    if ((ip_status)r->code != want)
        fprintf(stderr, "got %s (%s), want %s\n", ip_strerror((ip_status)r->code), r->message,
                ip_strerror(want));
    CHECK_EQ_INT(r->code, want);
    CHECK((int)r->code == 0 || r->message[0] != '\0');
    imageproc__rpc_reply__free_unpacked(r, NULL);
}

static void test_bad_input(void)
{
    const char *url = "tcp://127.0.0.1:7285";
    ip_rpc_server *srv = start_server(url, 4, 64 * 1024, NULL);
    nng_socket s;
    CHECK(nng_req0_open(&s) == 0);
    CHECK(nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE) == 0);
    CHECK(nng_dial(s, url, NULL, 0) == 0);

    /* Garbage bytes. */
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03};
    expect_code(s, garbage, sizeof garbage, IP_INVALID_ARGUMENT);
    uint8_t noise[512];
    unsigned seed = 12345;
    for (int round = 0; round < 200; round++) {
        size_t len = (size_t)(rand_r(&seed) % (int)sizeof noise);
        for (size_t i = 0; i < len; i++)
            noise[i] = (uint8_t)rand_r(&seed);
        Imageproc__RpcReply *r = raw_call(s, noise, len, 5000);
        CHECK(r != NULL); /* always answered */
        CHECK((int)r->code != IP_OK || r->output.len == 0);
        imageproc__rpc_reply__free_unpacked(r, NULL);
    }
    /* An empty message names no method. */
    expect_code(s, "", 0, IP_INVALID_ARGUMENT);

    /* Truncated envelopes: each cut is answered; a cut inside a field is refused. */
    Imageproc__GetObjectRequest gr = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
    gr.key = "some/key";
    uint8_t in[64];
    size_t ilen = imageproc__get_object_request__pack(&gr, in);
    size_t n;
    uint8_t *env = pack_request("GetObject", in, ilen, ip_now_ms() + 10000, &n);
    for (size_t cut = 1; cut < n; cut++) {
        Imageproc__RpcReply *r = raw_call(s, env, cut, 5000);
        CHECK(r != NULL);
        imageproc__rpc_reply__free_unpacked(r, NULL);
    }
    expect_code(s, env, n - 1, IP_INVALID_ARGUMENT); /* the deadline varint cut short */
    expect_code(s, env, 4, IP_INVALID_ARGUMENT);     /* inside the method name */
    expect_code(s, env, n, IP_OK);
    free(env);

    /* Unknown method, input that does not unpack, deadline already past. */
    env = pack_request("NoSuchMethod", in, ilen, 0, &n);
    expect_code(s, env, n, IP_INVALID_ARGUMENT);
    free(env);
    env = pack_request("GetObject", garbage, sizeof garbage, 0, &n);
    expect_code(s, env, n, IP_INVALID_ARGUMENT);
    free(env);
    env = pack_request("GetObject", in, ilen, ip_now_ms() - 1, &n);
    expect_code(s, env, n, IP_DEADLINE_EXCEEDED);
    free(env);
    env = pack_request("$ping", NULL, 0, 0, &n);
    expect_code(s, env, n, IP_OK);
    free(env);

    /* Oversized: nng drops the pipe (no reply); the server keeps serving. */
    size_t big = 100 * 1024;
    uint8_t *huge = calloc(1, big);
    CHECK(raw_call(s, huge, big, 500) == NULL);
    free(huge);
    nng_close(s);

    ip_rpc_client *c = new_client(url, 2000, 0);
    wait_ready(c);
    char err[256];
    CHECK_EQ_INT(get(c, "still-serving", 0, err, sizeof err), IP_OK);

    /* Through the client: an oversized request loses its connection (UNAVAILABLE,
     * at once) and the client reconnects by itself. */
    Imageproc__PutObjectRequest pr = IMAGEPROC__PUT_OBJECT_REQUEST__INIT;
    pr.key = "big";
    pr.data.data = calloc(1, big);
    pr.data.len = big;
    Imageproc__PutObjectReply *out = NULL;
    int64_t t0 = ip_mono_ms();
    ip_status st = ip_storage_put_object(c, &pr, &out, NULL, err, sizeof err);
    fprintf(stderr, "oversized through the client: %s (%s) in %lld ms\n", ip_strerror(st), err,
            (long long)(ip_mono_ms() - t0));
    CHECK(st == IP_UNAVAILABLE || st == IP_DEADLINE_EXCEEDED);
    wait_ready(c);
    CHECK_EQ_INT(get(c, "after-oversized", 0, err, sizeof err), IP_OK);
    ip_rpc_client_free(c);

    /* The client refuses a request over its own limit without any I/O. */
    c = new_client(url, 2000, 64 * 1024);
    CHECK_EQ_INT(ip_storage_put_object(c, &pr, &out, NULL, err, sizeof err), IP_RESOURCE_EXHAUSTED);
    ip_rpc_client_free(c);
    free(pr.data.data);
    ip_rpc_server_free(srv);
}

/* ---------------------------------------------------------------- deadlines */

static void test_deadline(void)
{
    const char *url = "tcp://127.0.0.1:7286";
    ip_rpc_server *srv = start_server(url, 4, 0, NULL);
    ip_rpc_client *c = new_client(url, 5000, 0);
    wait_ready(c);
    Imageproc__HeadObjectRequest hr = IMAGEPROC__HEAD_OBJECT_REQUEST__INIT;
    hr.key = "sleep:1500";
    Imageproc__HeadObjectReply *out = NULL;
    char err[256];
    ip_rpc_call_opts o = {.timeout_ms = 200};
    int64_t t0 = ip_mono_ms();
    CHECK_EQ_INT(ip_storage_head_object(c, &hr, &out, &o, err, sizeof err), IP_DEADLINE_EXCEEDED);
    int64_t dt = ip_mono_ms() - t0;
    fprintf(stderr, "deadline exceeded after %lld ms: %s\n", (long long)dt, err);
    CHECK(dt >= 190 && dt < 800);
    CHECK(out == NULL);
    /* The server is still serving (other workers), and the late reply of the
     * slow call is dropped, not delivered to a later call. */
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        CHECK_EQ_INT(get(c, key, 3000, err, sizeof err), IP_OK);
        usleep(100000);
    }
    ip_rpc_client_free(c);
    ip_rpc_server_free(srv);
}

static void *close_after_100ms(void *arg)
{
    usleep(100000);
    ip_rpc_server_close(arg);
    return NULL;
}

static void test_close_finishes_inflight(void)
{
    const char *url = "tcp://127.0.0.1:7287";
    ip_rpc_server *srv = start_server(url, 2, 0, NULL);
    ip_rpc_client *c = new_client(url, 5000, 0);
    wait_ready(c);
    pthread_t t;
    pthread_create(&t, NULL, close_after_100ms, srv);
    Imageproc__HeadObjectRequest hr = IMAGEPROC__HEAD_OBJECT_REQUEST__INIT;
    hr.key = "sleep:400";
    Imageproc__HeadObjectReply *out = NULL;
    char err[256];
    CHECK_EQ_INT(ip_storage_head_object(c, &hr, &out, NULL, err, sizeof err), IP_OK);
    imageproc__head_object_reply__free_unpacked(out, NULL);
    pthread_join(t, NULL);
    ip_rpc_server_free(srv);
    /* Closed: the next call fails promptly. */
    int64_t t0 = ip_mono_ms();
    ip_status st = get(c, "gone", 0, err, sizeof err);
    CHECK_EQ_INT(st, IP_UNAVAILABLE);
    CHECK(ip_mono_ms() - t0 < 1500);
    ip_rpc_client_free(c);
}

/* ---------------------------------------------------------------- no server */

static void test_no_server(void)
{
    ip_rpc_client *c = new_client("tcp://127.0.0.1:7288", 5000, 0);
    char err[256];
    int64_t t0 = ip_mono_ms();
    CHECK_EQ_INT(get(c, "x", 0, err, sizeof err), IP_UNAVAILABLE);
    int64_t dt = ip_mono_ms() - t0;
    fprintf(stderr, "no server: %s after %lld ms\n", err, (long long)dt);
    CHECK(dt < 1000);
    CHECK_EQ_INT(ip_rpc_ping(c, 5000), IP_UNAVAILABLE);
    /* The server comes up later: the same client gets through. */
    ip_rpc_server *srv = start_server("tcp://127.0.0.1:7288", 2, 0, NULL);
    wait_ready(c);
    CHECK_EQ_INT(get(c, "y", 0, err, sizeof err), IP_OK);
    ip_rpc_client_free(c);
    ip_rpc_server_free(srv);

    /* Bad addresses are refused at creation. */
    ip_rpc_client *bad = NULL;
    ip_rpc_client_opts o = {.urls = "nonsense://x"};
    CHECK(ip_rpc_client_new(SVC, &o, &bad) != IP_OK && bad == NULL);
    o.urls = " , ";
    CHECK(ip_rpc_client_new(SVC, &o, &bad) != IP_OK && bad == NULL);
}

/* ---------------------------------------------------------------- several urls */

static void test_several_urls(void)
{
    char ipc[128];
    snprintf(ipc, sizeof ipc, "ipc:///tmp/ip-rpc-test-%d.sock", (int)getpid());
    atomic_store(&served_by[0], 0);
    atomic_store(&served_by[1], 0);
    ip_rpc_server *a = start_server("tcp://127.0.0.1:7289", 4, 0, &served_by[0]);
    ip_rpc_server *b = start_server(ipc, 4, 0, &served_by[1]);
    char urls[256];
    snprintf(urls, sizeof urls, "tcp://127.0.0.1:7289, %s", ipc);
    ip_rpc_client *c = new_client(urls, 3000, 0);
    /* Both connections up before measuring the spread. */
    int64_t until = ip_mono_ms() + 5000;
    while (atomic_load(&served_by[0]) == 0 || atomic_load(&served_by[1]) == 0) {
        char err[256];
        get(c, "warm", 0, err, sizeof err);
        CHECK(ip_mono_ms() < until);
    }
    pthread_t t[8];
    caller k[8];
    for (int i = 0; i < 8; i++) {
        k[i] = (caller){.c = c, .id = i};
        pthread_create(&t[i], NULL, caller_main, &k[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ_INT(k[i].ok, CALLS);
    }
    int na = atomic_load(&served_by[0]), nb = atomic_load(&served_by[1]);
    fprintf(stderr, "tcp server %d calls, ipc server %d calls\n", na, nb);
    CHECK(na > 8 * CALLS / 10 && nb > 8 * CALLS / 10);
    /* One server goes: the other carries on. */
    ip_rpc_server_free(a);
    char err[256];
    for (int i = 0; i < 50; i++) {
        ip_status st = get(c, "one-left", 0, err, sizeof err);
        CHECK(st == IP_OK || st == IP_UNAVAILABLE);
    }
    CHECK_EQ_INT(get(c, "one-left", 0, err, sizeof err), IP_OK);
    ip_rpc_client_free(c);
    ip_rpc_server_free(b);
}

/* ---------------------------------------------------------------- views */

/* A message made for the view tests: every kind of bytes field next to a
 * nested message (ip_pbview slices only `one` and `opt`). */
typedef struct view_msg {
    ProtobufCMessage base;
    ProtobufCBinaryData one; /* 1: bytes */
    size_t n_many;
    ProtobufCBinaryData *many;   /* 2: repeated bytes */
    Imageproc__ObjectInfo *info; /* 3: a nested message */
    protobuf_c_boolean has_opt;
    ProtobufCBinaryData opt; /* 4: optional bytes (with has_) */
    uint32_t which;
    ProtobufCBinaryData alt; /* 5: bytes in a oneof */
} view_msg;

static const ProtobufCMessageDescriptor view_msg_desc;

static void view_msg_init(ProtobufCMessage *m)
{
    memset(m, 0, sizeof(view_msg));
    m->descriptor = &view_msg_desc;
}

static const ProtobufCFieldDescriptor view_msg_fields[] = {
    {"one", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_BYTES, 0, offsetof(view_msg, one), NULL, NULL,
     0, 0, NULL, NULL},
    {"many", 2, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_BYTES, offsetof(view_msg, n_many),
     offsetof(view_msg, many), NULL, NULL, 0, 0, NULL, NULL},
    {"info", 3, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0, offsetof(view_msg, info),
     &imageproc__object_info__descriptor, NULL, 0, 0, NULL, NULL},
    {"opt", 4, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_BYTES, offsetof(view_msg, has_opt),
     offsetof(view_msg, opt), NULL, NULL, 0, 0, NULL, NULL},
    {"alt", 5, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_BYTES, offsetof(view_msg, which),
     offsetof(view_msg, alt), NULL, NULL, PROTOBUF_C_FIELD_FLAG_ONEOF, 0, NULL, NULL},
};
static const unsigned view_msg_by_name[] = {4, 2, 1, 0, 3}; /* alt info many one opt */
static const ProtobufCIntRange view_msg_ranges[] = {{1, 0}, {0, 5}};
static const ProtobufCMessageDescriptor view_msg_desc = {PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                                         "test.ViewMsg",
                                                         "ViewMsg",
                                                         "ViewMsg",
                                                         "test",
                                                         sizeof(view_msg),
                                                         5,
                                                         view_msg_fields,
                                                         view_msg_by_name,
                                                         1,
                                                         view_msg_ranges,
                                                         view_msg_init,
                                                         NULL,
                                                         NULL,
                                                         NULL};

static bool points_into(const void *p, const uint8_t *buf, size_t len)
{
    return p != NULL && (uintptr_t)p >= (uintptr_t)buf && (uintptr_t)p - (uintptr_t)buf < len;
}

static bool same_bytes(ProtobufCBinaryData a, ProtobufCBinaryData b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* The view of buf equals protobuf-c's unpack of it, field by field. */
static void check_like_protobuf_c(const uint8_t *buf, size_t n, size_t min_slice)
{
    view_msg *want = (view_msg *)protobuf_c_message_unpack(&view_msg_desc, NULL, n, buf);
    view_msg *got = (view_msg *)ip_pbview_unpack(&view_msg_desc, n, buf, min_slice);
    CHECK((want == NULL) == (got == NULL));
    if (want != NULL) {
        CHECK(same_bytes(got->one, want->one));
        CHECK_EQ_INT(got->n_many, want->n_many);
        for (size_t i = 0; i < want->n_many; i++)
            CHECK(same_bytes(got->many[i], want->many[i]));
        CHECK((got->info == NULL) == (want->info == NULL));
        if (want->info != NULL) {
            CHECK_EQ_STR(got->info->key, want->info->key);
            CHECK_EQ_INT(got->info->size_bytes, want->info->size_bytes);
        }
        CHECK_EQ_INT(got->has_opt, want->has_opt);
        CHECK(same_bytes(got->opt, want->opt));
        CHECK_EQ_INT(got->which, want->which);
        CHECK(same_bytes(got->alt, want->alt));
    }
    ip_pbview_free((ProtobufCMessage *)got, buf, n);
    if (want != NULL)
        protobuf_c_message_free_unpacked(&want->base, NULL);
}

/* Appends a length-delimited field (number < 16) of n bytes to buf at *len. */
static void put_field(uint8_t *buf, size_t *len, unsigned number, const void *data, size_t n)
{
    buf[(*len)++] = (uint8_t)(number << 3 | 2);
    size_t v = n;
    do {
        buf[(*len)++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        v >>= 7;
    } while (v > 0);
    memcpy(buf + *len, data, n);
    *len += n;
}

static void test_views(void)
{
    enum { ONE = 200 * 1024, MANY = 100 * 1024, OPT = 70 * 1024, ALT = 80 * 1024 };
    uint8_t *one = pattern_new(ONE, 0), *many0 = pattern_new(MANY, 1), *opt = pattern_new(OPT, 2),
            *alt = pattern_new(ALT, 3);
    ProtobufCBinaryData many[2] = {{MANY, many0}, {5, (uint8_t *)"small"}};
    Imageproc__ObjectInfo info = IMAGEPROC__OBJECT_INFO__INIT;
    info.key = "nested/key";
    info.size_bytes = 12345;
    view_msg m;
    view_msg_init(&m.base);
    m.one = (ProtobufCBinaryData){ONE, one};
    m.n_many = 2;
    m.many = many;
    m.info = &info;
    m.has_opt = 1;
    m.opt = (ProtobufCBinaryData){OPT, opt};
    m.which = 5;
    m.alt = (ProtobufCBinaryData){ALT, alt};
    size_t n = protobuf_c_message_get_packed_size(&m.base);
    uint8_t *buf = malloc(n + 64);
    CHECK_EQ_INT(protobuf_c_message_pack(&m.base, buf), n);

    /* Large singular bytes point into the buffer; everything else is copied. */
    view_msg *v = (view_msg *)ip_pbview_unpack(&view_msg_desc, n, buf, 64 * 1024);
    CHECK(v != NULL);
    CHECK(points_into(v->one.data, buf, n) && v->one.len == ONE && is_pattern(v->one.data, ONE, 0));
    CHECK(points_into(v->opt.data, buf, n) && v->has_opt && is_pattern(v->opt.data, OPT, 2));
    CHECK(v->n_many == 2 && !points_into(v->many[0].data, buf, n));
    CHECK(v->many[0].len == MANY && is_pattern(v->many[0].data, MANY, 1));
    CHECK(v->many[1].len == 5 && memcmp(v->many[1].data, "small", 5) == 0);
    CHECK(v->info != NULL && strcmp(v->info->key, "nested/key") == 0);
    CHECK_EQ_INT(v->info->size_bytes, 12345);
    CHECK(v->which == 5 && !points_into(v->alt.data, buf, n) && is_pattern(v->alt.data, ALT, 3));
    ip_pbview_free(&v->base, buf, n);
    for (size_t min = 0; min <= 256 * 1024; min += 64 * 1024)
        check_like_protobuf_c(buf, n, min);
    /* Under the threshold nothing is sliced. */
    v = (view_msg *)ip_pbview_unpack(&view_msg_desc, n, buf, 1024 * 1024);
    CHECK(v != NULL && !points_into(v->one.data, buf, n) && !points_into(v->opt.data, buf, n));
    ip_pbview_free(&v->base, buf, n);

    /* A field given twice: the last one counts, large or small. */
    size_t n2 = n;
    put_field(buf, &n2, 1, "tail", 4);
    check_like_protobuf_c(buf, n2, 64 * 1024);
    v = (view_msg *)ip_pbview_unpack(&view_msg_desc, n2, buf, 64 * 1024);
    CHECK(v != NULL && v->one.len == 4 && memcmp(v->one.data, "tail", 4) == 0);
    ip_pbview_free(&v->base, buf, n2);
    uint8_t *twice = malloc(n + 16);
    size_t n3 = 0;
    put_field(twice, &n3, 1, "head", 4);
    memcpy(twice + n3, buf, n);
    n3 += n;
    check_like_protobuf_c(twice, n3, 64 * 1024);
    free(twice);

    /* Cut anywhere, it is refused exactly when protobuf-c refuses it. */
    static const size_t cuts[] = {0, 1, 2, 3, 4, 5, 100, 65536, 200000};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        check_like_protobuf_c(buf, cuts[i], 64 * 1024);
    for (size_t cut = n - 40; cut < n; cut++)
        check_like_protobuf_c(buf, cut, 64 * 1024);
    /* A bytes field whose length runs past the end. */
    static const uint8_t past_end[] = {0x0a, 0x80, 0x80, 0x04, 'a', 'b'};
    CHECK(ip_pbview_unpack(&view_msg_desc, sizeof past_end, past_end, 0) == NULL);
    static const uint8_t bad_varint[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CHECK(ip_pbview_unpack(&view_msg_desc, sizeof bad_varint, bad_varint, 0) == NULL);
    ip_pbview_free(NULL, buf, n);

    free(buf);
    free(one);
    free(many0);
    free(opt);
    free(alt);
}

/* Payloads of several MiB both ways: PutObject's data reaches the handler
 * intact (a slice of the request message, read after the unpack), GetObject's
 * comes back as a view that stays valid across other calls until released. */
static void test_large_bytes(void)
{
    const char *url = "tcp://127.0.0.1:7290";
    const size_t max = 16u * 1024 * 1024, big = 5u * 1024 * 1024 + 7;
    ip_rpc_server *srv = start_server(url, 4, max, NULL);
    ip_rpc_client *c = new_client(url, 10000, max);
    wait_ready(c);
    char err[256], sum[17];

    Imageproc__PutObjectRequest pr = IMAGEPROC__PUT_OBJECT_REQUEST__INIT;
    pr.key = "big/put";
    pr.data.data = pattern_new(big, 9);
    pr.data.len = big;
    checksum_hex(pr.data.data, big, sum);
    Imageproc__PutObjectReply *put = NULL;
    CHECK_ST(ip_storage_put_object(c, &pr, &put, NULL, err, sizeof err), IP_OK, err);
    EXPECT_EQ_INT(put->info->size_bytes, (int64_t)big);
    EXPECT_EQ_STR(put->info->etag, sum);
    imageproc__put_object_reply__free_unpacked(put, NULL);

    /* Views: two held at once, used after other calls, released in any order. */
    char key[32];
    snprintf(key, sizeof key, "big:%zu", big);
    Imageproc__GetObjectRequest gr = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
    gr.key = key;
    const Imageproc__GetObjectReply *v1 = NULL, *v2 = NULL;
    ip_rpc_view *h1 = NULL, *h2 = NULL;
    CHECK_ST(ip_storage_get_object_view(c, &gr, &v1, &h1, NULL, err, sizeof err), IP_OK, err);
    gr.key = "big:100";
    CHECK_ST(ip_storage_get_object_view(c, &gr, &v2, &h2, NULL, err, sizeof err), IP_OK, err);
    CHECK(h1 != NULL && h2 != NULL);
    CHECK_EQ_STR(get(c, "between", 0, err, sizeof err) == IP_OK ? "ok" : err, "ok");
    CHECK(v2->data.len == 100 && is_pattern(v2->data.data, 100, 0));
    CHECK_EQ_STR(v2->info->key, "big:100");
    ip_rpc_view_release(h2);
    CHECK(v1->data.len == big && is_pattern(v1->data.data, big, 0));
    CHECK_EQ_STR(v1->info->key, key);
    ip_rpc_view_release(h1);
    ip_rpc_view_release(NULL);

    /* A payload the server wrote into its reply message. */
    snprintf(key, sizeof key, "place:%zu", big);
    gr.key = key;
    CHECK_ST(ip_storage_get_object_view(c, &gr, &v1, &h1, NULL, err, sizeof err), IP_OK, err);
    CHECK(v1->data.len == big && is_pattern(v1->data.data, big, 0));
    CHECK_EQ_STR(v1->info->key, key);
    ip_rpc_view_release(h1);

    /* The plain call still hands out an output of its own. */
    gr.key = key;
    Imageproc__GetObjectReply *got = NULL;
    CHECK_ST(ip_storage_get_object(c, &gr, &got, NULL, err, sizeof err), IP_OK, err);
    CHECK(got->data.len == big && is_pattern(got->data.data, big, 0));
    imageproc__get_object_reply__free_unpacked(got, NULL);

    /* A failed view call holds nothing; a view without a hold is refused. */
    Imageproc__DeleteObjectsRequest dr = IMAGEPROC__DELETE_OBJECTS_REQUEST__INIT;
    dr.prefix = "p/";
    ProtobufCMessage *out = NULL;
    ip_rpc_view *h = NULL;
    EXPECT_EQ_INT(ip_rpc_invoke_view(c, "DeleteObjects", &dr.base, &out, &h, NULL, err, sizeof err),
                  IP_NOT_FOUND);
    EXPECT(out == NULL && h == NULL);
    EXPECT_EQ_INT(
        ip_rpc_invoke_view(c, "DeleteObjects", &dr.base, &out, NULL, NULL, err, sizeof err),
        IP_INVALID_ARGUMENT);

    /* An input whose data runs past its end is refused by the server. */
    pr.data.len = 100 * 1024;
    size_t il = imageproc__put_object_request__get_packed_size(&pr);
    uint8_t *ib = malloc(il);
    imageproc__put_object_request__pack(&pr, ib);
    nng_socket s;
    CHECK(nng_req0_open(&s) == 0);
    CHECK(nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE) == 0);
    CHECK(nng_dial(s, url, NULL, 0) == 0);
    size_t n;
    uint8_t *env = pack_request("PutObject", ib, il - 10, 0, &n);
    expect_code(s, env, n, IP_INVALID_ARGUMENT);
    free(env);
    env = pack_request("PutObject", ib, il, 0, &n);
    expect_code(s, env, n, IP_OK);
    free(env);
    nng_close(s);
    free(ib);

    free(pr.data.data);
    ip_rpc_client_free(c);
    ip_rpc_server_free(srv);
}

/* A payload written into the reply message (ip_rpc_call_reply_bytes) gives
 * exactly the bytes of a reply packed the usual way, also when the envelope
 * does not fit around it (a long request id) and when the call fails. */
static ip_status h_get_generic(void *user, ip_rpc_call *call, const ProtobufCMessage *in,
                               ProtobufCMessage *out)
{
    return h_get(user, call, (const Imageproc__GetObjectRequest *)in,
                 (Imageproc__GetObjectReply *)out);
}

static void test_reply_in_place(void)
{
    static const ip_rpc_handler handlers[] = {NULL, h_get_generic, NULL, NULL};
    CHECK_EQ_INT(SVC->n_methods, 4);
    CHECK_EQ_STR(SVC->methods[1].name, "GetObject");
    char *long_rid = malloc(2001);
    memset(long_rid, 'r', 2000);
    long_rid[2000] = '\0';
    const char *rids[] = {"rid-1", long_rid};
    const char *keys[] = {"place:1", "place:300000", "big:300000", "place:0"};
    for (size_t r = 0; r < 2; r++) {
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            Imageproc__GetObjectRequest gr = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
            gr.key = (char *)keys[k];
            size_t n, got_n;
            uint8_t *env = ip_rpc_pack_request("GetObject", &gr.base, rids[r], 0, &n);
            uint8_t *got = ip_rpc_serve_buffer(SVC, handlers, NULL, 1u << 24, env, n, &got_n);
            CHECK(got != NULL);
            Imageproc__RpcReply *rp = imageproc__rpc_reply__unpack(NULL, got_n, got);
            CHECK(rp != NULL);
            CHECK_EQ_INT(rp->code, IP_OK);
            CHECK_EQ_STR(rp->request_id, rids[r]);
            Imageproc__GetObjectReply *out =
                imageproc__get_object_reply__unpack(NULL, rp->output.len, rp->output.data);
            CHECK(out != NULL && out->info != NULL);
            CHECK_EQ_STR(out->info->key, keys[k]);
            size_t want_len = 0;
            sscanf(keys[k], "%*[a-z]:%zu", &want_len);
            CHECK(out->data.len == want_len && is_pattern(out->data.data, want_len, 0));
            size_t want_n = 0;
            uint8_t *want = ip_rpc_pack_reply(0, "", &out->base, rids[r], &want_n);
            CHECK_EQ_INT(got_n, want_n);
            CHECK(memcmp(got, want, want_n) == 0);
            free(want);
            imageproc__get_object_reply__free_unpacked(out, NULL);
            imageproc__rpc_reply__free_unpacked(rp, NULL);
            free(got);
            free(env);
        }
    }
    free(long_rid);
}

/* ---------------------------------------------------------------- serve mode */

static int serve(const char *url)
{
    ip_lifecycle_init();
    ip_log_init("ip_rpc_test-server", IP_LOG_WARN);
    ip_rpc_server *srv = start_server(url, 8, 0, NULL);
    while (ip_lifecycle_wait(-1) == 0)
        ;
    ip_rpc_server_free(srv);
    return 0;
}

static const ip_test_case tests[] = {
    IP_TEST(envelopes),   IP_TEST(envelope_writers), IP_TEST(basic),
    IP_TEST(concurrency), IP_TEST(restart_graceful), IP_TEST(restart_killed),
    IP_TEST(bad_input),   IP_TEST(deadline),         IP_TEST(close_finishes_inflight),
    IP_TEST(no_server),   IP_TEST(several_urls),     IP_TEST(views),
    IP_TEST(large_bytes), IP_TEST(reply_in_place),
};

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "serve") == 0)
        return serve(argv[2]);
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    CHECK(n > 0);
    self_path[n] = '\0';
    ip_log_init("ip_rpc_test", IP_LOG_WARN);
    return ip_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
