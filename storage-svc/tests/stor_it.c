/* stor_it.c — integration tests of storage-svc against the real S3 server
 * (versitygw) and nginx that the test command started.
 *
 * Each run starts its own storage-svc (the binary just built) on
 * IP_STOR_TEST_URL (default tcp://127.0.0.1:7211) with the IP_* environment,
 * waits until it answers "$ping", runs one test by name (common/ip_testing.h),
 * then stops it with SIGTERM and checks that it exited 0; the start-up tests
 * start theirs with bad settings instead. Calls go through the typed Storage
 * stubs (ip_rpc_stubs.h). Keys live under a fresh id per run (t/<uuid>/, and
 * the image keys of ip_keys.h for that id) so earlier runs do not matter. A
 * missing server is a failure, never a skip. The table of tests is at the end.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ip_keys.h"
#include "ip_log.h"
#include "ip_rpc.h"
#include "ip_rpc_stubs.h"
#include "ip_testing.h"
#include "ip_time.h"
#include "ip_uuid.h"

#ifndef STOR_BIN
#error "STOR_BIN must name the storage-svc binary"
#endif
#ifndef IP_SOURCE_DIR
#error "IP_SOURCE_DIR must name the repository"
#endif

static char last_err[1024];

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && v[0] ? v : def;
}

/* ------------------------------------------------------------ the server */

typedef struct server {
    pid_t pid;
    char log_path[256];
} server;

static server srv; /* this run's storage-svc, for the tests that use it */

/* Starts storage-svc with the current environment plus `extra` ("NAME=value",
 * NULL-terminated), stderr to a log file. */
static bool server_spawn(server *s, const char *url, const char *const *extra)
{
    snprintf(s->log_path, sizeof s->log_path, "/tmp/stor_it.%d.%ld.log", (int)getpid(),
             (long)ip_mono_us());
    s->pid = fork();
    if (s->pid < 0)
        return false;
    if (s->pid == 0) {
        int fd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        setenv("IP_STORAGE_RPC_URL", url, 1);
        for (size_t i = 0; extra && extra[i]; i++)
            putenv((char *)extra[i]);
        execl(STOR_BIN, STOR_BIN, (char *)NULL);
        _exit(127);
    }
    return true;
}

/* Waits for the child to exit within timeout_ms; returns its wait status or
 * -1 on timeout. */
static int server_wait_exit(server *s, int timeout_ms)
{
    int64_t until = ip_mono_ms() + timeout_ms;
    for (;;) {
        int wst;
        pid_t r = waitpid(s->pid, &wst, WNOHANG);
        if (r == s->pid) {
            s->pid = 0;
            return wst;
        }
        if (ip_mono_ms() >= until)
            return -1;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static bool server_stop(server *s)
{
    if (s->pid <= 0)
        return true;
    kill(s->pid, SIGTERM);
    int wst = server_wait_exit(s, 15000);
    if (wst == -1) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
        fprintf(stderr, "storage-svc did not stop on SIGTERM\n");
        return false;
    }
    if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0) {
        fprintf(stderr, "storage-svc exited with status %d\n", wst);
        return false;
    }
    return true;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf) {
        size_t got = fread(buf, 1, (size_t)n, f);
        buf[got] = '\0';
    }
    fclose(f);
    return buf;
}

static void dump_log(const server *s)
{
    char *log = read_file(s->log_path);
    if (log) {
        size_t n = strlen(log);
        fprintf(stderr, "--- storage-svc log (tail) ---\n%s\n", n > 4000 ? log + n - 4000 : log);
        free(log);
    }
}

/* ------------------------------------------------------------ RPC helpers */

static ip_rpc_client *cli;

/* The typed calls with a timeout; safe from any thread (each caller gives
 * its own err). A reply, when asked for, is owned by the caller. */
static ip_status rpc_put(const Imageproc__PutObjectRequest *rq, int timeout_ms, char *err,
                         size_t errlen)
{
    ip_rpc_call_opts o = {.timeout_ms = timeout_ms};
    Imageproc__PutObjectReply *out = NULL;
    ip_status st = ip_storage_put_object(cli, rq, &out, &o, err, errlen);
    if (out)
        imageproc__put_object_reply__free_unpacked(out, NULL);
    return st;
}

static ip_status rpc_get(const char *key, Imageproc__GetObjectReply **reply, int timeout_ms,
                         char *err, size_t errlen)
{
    Imageproc__GetObjectRequest rq = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
    rq.key = (char *)key;
    ip_rpc_call_opts o = {.timeout_ms = timeout_ms};
    return ip_storage_get_object(cli, &rq, reply, &o, err, errlen);
}

static ip_status rpc_head(const char *key, Imageproc__HeadObjectReply **reply, int timeout_ms,
                          char *err, size_t errlen)
{
    Imageproc__HeadObjectRequest rq = IMAGEPROC__HEAD_OBJECT_REQUEST__INIT;
    rq.key = (char *)key;
    ip_rpc_call_opts o = {.timeout_ms = timeout_ms};
    return ip_storage_head_object(cli, &rq, reply, &o, err, errlen);
}

static ip_status rpc_delete(const char *const *keys, size_t n, const char *prefix, int32_t *deleted,
                            int timeout_ms, char *err, size_t errlen)
{
    Imageproc__DeleteObjectsRequest rq = IMAGEPROC__DELETE_OBJECTS_REQUEST__INIT;
    rq.keys = (char **)keys;
    rq.n_keys = n;
    rq.prefix = (char *)(prefix ? prefix : "");
    ip_rpc_call_opts o = {.timeout_ms = timeout_ms};
    Imageproc__DeleteObjectsReply *out = NULL;
    ip_status st = ip_storage_delete_objects(cli, &rq, &out, &o, err, errlen);
    if (st == IP_OK && deleted)
        *deleted = out->deleted;
    if (out)
        imageproc__delete_objects_reply__free_unpacked(out, NULL);
    return st;
}

/* The single-threaded shorthands of the tests: the reason goes to last_err. */

/* PutObject with every field the tests set; NULL strings are sent empty. */
static ip_status put_full(const char *key, const void *data, size_t len, const char *ct,
                          const char *cache_control, const char *sha)
{
    Imageproc__PutObjectRequest rq = IMAGEPROC__PUT_OBJECT_REQUEST__INIT;
    rq.key = (char *)key;
    rq.data.data = (uint8_t *)data;
    rq.data.len = len;
    rq.content_type = (char *)(ct ? ct : "");
    rq.cache_control = (char *)(cache_control ? cache_control : "");
    rq.content_sha256 = (char *)(sha ? sha : "");
    return rpc_put(&rq, 60000, last_err, sizeof last_err);
}

static ip_status put_cc(const char *key, const void *data, size_t len, const char *ct,
                        const char *cache_control)
{
    return put_full(key, data, len, ct, cache_control, NULL);
}

/* PutObject with the caller's content_sha256. */
static ip_status put_sha(const char *key, const void *data, size_t len, const char *sha)
{
    return put_full(key, data, len, "text/plain", NULL, sha);
}

static ip_status put(const char *key, const void *data, size_t len, const char *ct)
{
    return put_cc(key, data, len, ct, NULL);
}

/* On IP_OK *reply is owned by the caller. */
static ip_status get(const char *key, Imageproc__GetObjectReply **reply)
{
    return rpc_get(key, reply, 60000, last_err, sizeof last_err);
}

static ip_status head(const char *key, int64_t *size, char *ct, size_t ctlen)
{
    Imageproc__HeadObjectReply *r = NULL;
    ip_status st = rpc_head(key, &r, 10000, last_err, sizeof last_err);
    if (st == IP_OK) {
        if (size)
            *size = r->info ? r->info->size_bytes : -1;
        if (ct)
            snprintf(ct, ctlen, "%s",
                     r->info && r->info->content_type ? r->info->content_type : "");
    }
    if (r)
        imageproc__head_object_reply__free_unpacked(r, NULL);
    return st;
}

static ip_status del(const char *const *keys, size_t n, const char *prefix, int32_t *deleted)
{
    return rpc_delete(keys, n, prefix, deleted, 60000, last_err, sizeof last_err);
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

static char run_id[IP_UUID_STRLEN + 1];

/* ------------------------------------------------------------ anonymous HTTP */

typedef struct http_body {
    char *p;
    size_t len;
    char headers[4096]; /* the answer's header lines, cut to fit */
} http_body;

static size_t http_header(char *buf, size_t size, size_t n, void *ud)
{
    http_body *b = ud;
    size_t have = strlen(b->headers), len = size * n;
    size_t room = sizeof b->headers - 1 - have;
    memcpy(b->headers + have, buf, len < room ? len : room);
    b->headers[have + (len < room ? len : room)] = '\0';
    return len;
}

static size_t http_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    http_body *b = ud;
    size_t n = size * nmemb;
    char *np = realloc(b->p, b->len + n + 1);
    if (!np)
        return 0;
    b->p = np;
    memcpy(b->p + b->len, ptr, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

/* Anonymous GET; returns the HTTP status (0 when no answer). path_as_is keeps
 * "../" in the URL as written. */
static long http_get(const char *url, http_body *body, bool path_as_is)
{
    CURL *c = curl_easy_init();
    long code = 0;
    memset(body, 0, sizeof *body);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, path_as_is ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

/* ------------------------------------------------------------ tests */

static void roundtrip(size_t n, const char *ct)
{
    char key[128];
    snprintf(key, sizeof key, "t/%s/obj-%zu", run_id, n);
    uint8_t *data = malloc(n ? n : 1);
    fill(data, n, (uint32_t)n);

    EXPECT_ST(put(key, data, n, ct), IP_OK, last_err);
    Imageproc__GetObjectReply *r = NULL;
    EXPECT_ST(get(key, &r), IP_OK, last_err);
    if (r) {
        EXPECT(r->data.len == n);
        EXPECT(n == 0 || (r->data.len == n && memcmp(r->data.data, data, n) == 0));
        EXPECT(r->info && r->info->size_bytes == (int64_t)n);
        EXPECT(r->info && r->info->content_type && strcmp(r->info->content_type, ct) == 0);
        EXPECT(r->info && r->info->etag && r->info->etag[0] && r->info->etag[0] != '"');
        imageproc__get_object_reply__free_unpacked(r, NULL);
    }
    int64_t size = -1;
    char got_ct[128] = "";
    EXPECT_ST(head(key, &size, got_ct, sizeof got_ct), IP_OK, last_err);
    EXPECT(size == (int64_t)n);
    EXPECT(strcmp(got_ct, ct) == 0);

    const char *keys[] = {key};
    int32_t deleted = -1;
    EXPECT_ST(del(keys, 1, NULL, &deleted), IP_OK, last_err);
    EXPECT(deleted == 1);
    EXPECT_ST(head(key, NULL, NULL, 0), IP_NOT_FOUND, last_err);
    free(data);
}

static void test_roundtrip_empty(void)
{
    roundtrip(0, "application/octet-stream");
}
static void test_roundtrip_one_byte(void)
{
    roundtrip(1, "text/plain");
}
static void test_roundtrip_1mib(void)
{
    roundtrip(1u << 20, "image/jpeg");
}
static void test_roundtrip_50mib(void)
{
    roundtrip(50u << 20, "image/png");
}

static void test_default_content_type(void)
{
    char key[128];
    snprintf(key, sizeof key, "t/%s/noct", run_id);
    EXPECT_ST(put(key, "x", 1, ""), IP_OK, last_err);
    char ct[128] = "";
    EXPECT_ST(head(key, NULL, ct, sizeof ct), IP_OK, last_err);
    EXPECT(strcmp(ct, "application/octet-stream") == 0);
    /* Keys with characters that need encoding round-trip too. */
    char odd[192];
    snprintf(odd, sizeof odd, "t/%s/a b+c=d&e%%f(1)!*'~.jpg", run_id);
    EXPECT_ST(put(odd, "yz", 2, "image/jpeg"), IP_OK, last_err);
    Imageproc__GetObjectReply *r = NULL;
    EXPECT_ST(get(odd, &r), IP_OK, last_err);
    EXPECT(r && r->data.len == 2 && memcmp(r->data.data, "yz", 2) == 0);
    if (r)
        imageproc__get_object_reply__free_unpacked(r, NULL);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "t/%s/", run_id);
    int32_t deleted = 0;
    EXPECT_ST(del(NULL, 0, prefix, &deleted), IP_OK, last_err);
    EXPECT(deleted == 2);
}

/* GetObject of [offset, offset + length); on IP_OK *reply is the caller's. */
static ip_status get_range(const char *key, uint64_t offset, uint64_t length,
                           Imageproc__GetObjectReply **reply)
{
    Imageproc__GetObjectRequest rq = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
    rq.key = (char *)key;
    rq.offset = offset;
    rq.length = length;
    ip_rpc_call_opts o = {.timeout_ms = 60000};
    return ip_storage_get_object(cli, &rq, reply, &o, last_err, sizeof last_err);
}

/* A 5 MiB (and a bit) object read in 1 MiB ranges equals the whole; each
 * reply gives the whole object's size; a range past the end is
 * INVALID_ARGUMENT saying so; an empty object's first range is empty. */
static void test_ranged_get(void)
{
    enum { MIB = 1 << 20 };
    const size_t n = 5 * MIB + 4321;
    char key[128];
    snprintf(key, sizeof key, "t/%s/ranged", run_id);
    uint8_t *data = malloc(n), *joined = calloc(1, n);
    CHECK(data && joined);
    fill(data, n, 77);
    CHECK_ST(put(key, data, n, "image/png"), IP_OK, last_err);
    Imageproc__GetObjectReply *whole = NULL;
    CHECK_ST(get(key, &whole), IP_OK, last_err);
    EXPECT(whole->data.len == n && memcmp(whole->data.data, data, n) == 0);
    size_t off = 0;
    int calls = 0;
    while (off < n) {
        Imageproc__GetObjectReply *r = NULL;
        EXPECT_ST(get_range(key, off, MIB, &r), IP_OK, last_err);
        if (!r)
            break;
        EXPECTF(r->info && r->info->size_bytes == (int64_t)n, "size %lld",
                r->info ? (long long)r->info->size_bytes : -1LL);
        size_t want = n - off < MIB ? n - off : MIB;
        EXPECTF(r->data.len == want, "%zu bytes at %zu", r->data.len, off);
        if (r->data.len == 0 || r->data.len > n - off) {
            imageproc__get_object_reply__free_unpacked(r, NULL);
            break;
        }
        memcpy(joined + off, r->data.data, r->data.len);
        off += r->data.len;
        calls++;
        imageproc__get_object_reply__free_unpacked(r, NULL);
    }
    EXPECT_EQ_INT(calls, 6);
    EXPECT(off == n && memcmp(joined, whole->data.data, n) == 0);
    imageproc__get_object_reply__free_unpacked(whole, NULL);
    /* length 0 from an offset: to the end. */
    Imageproc__GetObjectReply *tail = NULL;
    EXPECT_ST(get_range(key, n - 10, 0, &tail), IP_OK, last_err);
    EXPECT(tail && tail->data.len == 10 && memcmp(tail->data.data, data + n - 10, 10) == 0);
    if (tail)
        imageproc__get_object_reply__free_unpacked(tail, NULL);
    Imageproc__GetObjectReply *past = NULL;
    EXPECT_ST(get_range(key, n, MIB, &past), IP_INVALID_ARGUMENT, last_err);
    EXPECTF(strstr(last_err, "past the end") != NULL, "%s", last_err);
    EXPECT(past == NULL);
    char empty[128];
    snprintf(empty, sizeof empty, "t/%s/ranged-empty", run_id);
    CHECK_ST(put(empty, "", 0, "image/png"), IP_OK, last_err);
    Imageproc__GetObjectReply *e = NULL;
    EXPECT_ST(get_range(empty, 0, MIB, &e), IP_OK, last_err);
    EXPECT(e && e->data.len == 0 && e->info && e->info->size_bytes == 0);
    if (e)
        imageproc__get_object_reply__free_unpacked(e, NULL);
    const char *keys[] = {key, empty};
    EXPECT_ST(del(keys, 2, NULL, NULL), IP_OK, last_err);
    free(data);
    free(joined);
}

static void test_missing_key(void)
{
    char key[128];
    snprintf(key, sizeof key, "o/%s-missing", run_id);
    Imageproc__GetObjectReply *r = NULL;
    EXPECT_ST(get(key, &r), IP_NOT_FOUND, last_err);
    EXPECT(r == NULL);
    EXPECT_ST(head(key, NULL, NULL, 0), IP_NOT_FOUND, last_err);
    /* Deleting what is not there is fine. */
    const char *keys[] = {key};
    EXPECT_ST(del(keys, 1, NULL, NULL), IP_OK, last_err);
}

static void test_invalid_key(void)
{
    const char *bad[] = {"",   "/o/x",  "v/../o/x", "a\nb", "caf\xc3\xa9",
                         "..", "a\x01", "a//b",     "a/./b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Imageproc__GetObjectReply *r = NULL;
        EXPECT_ST(put(bad[i], "x", 1, "text/plain"), IP_INVALID_ARGUMENT, last_err);
        EXPECT_ST(get(bad[i], &r), IP_INVALID_ARGUMENT, last_err);
        EXPECT_ST(head(bad[i], NULL, NULL, 0), IP_INVALID_ARGUMENT, last_err);
        if (bad[i][0]) {
            const char *keys[] = {bad[i]};
            EXPECT_ST(del(keys, 1, NULL, NULL), IP_INVALID_ARGUMENT, last_err);
            EXPECT_ST(del(NULL, 0, bad[i], NULL), IP_INVALID_ARGUMENT, last_err);
        }
    }
    char key[128];
    snprintf(key, sizeof key, "t/%s/hdr", run_id);
    EXPECT_ST(put(key, "x", 1, "text/plain\r\nX-Evil: 1"), IP_INVALID_ARGUMENT, last_err);
    EXPECT_ST(head(key, NULL, NULL, 0), IP_NOT_FOUND, last_err);
}

static void test_too_large(void)
{
    size_t limit = (size_t)strtoull(env_or("IP_UPLOAD_MAX_BYTES", "52428800"), NULL, 10);
    size_t n = limit + 1;
    uint8_t *data = malloc(n);
    fill(data, n, 7);
    char key[IP_KEY_MAX];
    CHECK(ip_key_original(key, run_id) == IP_OK);
    EXPECT_ST(put(key, data, n, "image/jpeg"), IP_INVALID_ARGUMENT, last_err);
    EXPECT(strstr(last_err, "limit") != NULL);
    EXPECT_ST(head(key, NULL, NULL, 0), IP_NOT_FOUND, last_err); /* nothing partial stays */
    /* Exactly the limit is accepted. */
    EXPECT_ST(put(key, data, limit, "image/jpeg"), IP_OK, last_err);
    int64_t size = -1;
    EXPECT_ST(head(key, &size, NULL, 0), IP_OK, last_err);
    EXPECT(size == (int64_t)limit);
    const char *keys[] = {key};
    EXPECT_ST(del(keys, 1, NULL, NULL), IP_OK, last_err);
    free(data);
}

/* A caller's payload hash is used as sent: right -> stored; wrong -> S3
 * refuses it and nothing is stored; malformed -> refused before any I/O. */
static void test_content_sha256(void)
{
    static const char abc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    char key[128];
    snprintf(key, sizeof key, "t/%s/sha-ok", run_id);
    EXPECT_ST(put_sha(key, "abc", 3, abc), IP_OK, last_err);
    Imageproc__GetObjectReply *r = NULL;
    EXPECT_ST(get(key, &r), IP_OK, last_err);
    EXPECT(r && r->data.len == 3 && memcmp(r->data.data, "abc", 3) == 0);
    if (r)
        imageproc__get_object_reply__free_unpacked(r, NULL);

    char bad[128];
    snprintf(bad, sizeof bad, "t/%s/sha-bad", run_id);
    EXPECT_ST(put_sha(bad, "abd", 3, abc), IP_INVALID_ARGUMENT, last_err);
    EXPECT_ST(head(bad, NULL, NULL, 0), IP_NOT_FOUND, last_err);
    const char *malformed[] = {
        "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",  /* upper case */
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",   /* 63 digits */
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0", /* 65 digits */
        "UNSIGNED-PAYLOAD", "zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        EXPECT_ST(put_sha(bad, "abc", 3, malformed[i]), IP_INVALID_ARGUMENT, last_err);
        EXPECT(strstr(last_err, "content_sha256") != NULL);
    }
    EXPECT_ST(head(bad, NULL, NULL, 0), IP_NOT_FOUND, last_err);

    char prefix[128];
    snprintf(prefix, sizeof prefix, "t/%s/", run_id);
    EXPECT_ST(del(NULL, 0, prefix, NULL), IP_OK, last_err);
}

typedef struct put_job {
    const char *prefix;
    int from, to;
    int failed;
} put_job;

static void *put_range(void *p)
{
    put_job *j = p;
    for (int i = j->from; i < j->to; i++) {
        char key[160], body[32];
        snprintf(key, sizeof key, "%s%04d", j->prefix, i);
        int n = snprintf(body, sizeof body, "object %d", i);
        Imageproc__PutObjectRequest rq = IMAGEPROC__PUT_OBJECT_REQUEST__INIT;
        rq.key = key;
        rq.data.data = (uint8_t *)body;
        rq.data.len = (size_t)n;
        rq.content_type = (char *)"text/plain";
        if (rpc_put(&rq, 10000, NULL, 0) != IP_OK)
            j->failed++;
    }
    return NULL;
}

/* Puts <prefix>0000 .. <prefix>(n-1) from `threads` callers at once;
 * returns how many puts failed. */
static int put_many(const char *prefix, int n, int threads)
{
    pthread_t th[16];
    put_job jobs[16];
    if (threads > 16)
        threads = 16;
    for (int t = 0; t < threads; t++) {
        jobs[t] = (put_job){prefix, t * n / threads, (t + 1) * n / threads, 0};
        pthread_create(&th[t], NULL, put_range, &jobs[t]);
    }
    int failed = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        failed += jobs[t].failed;
    }
    return failed;
}

static void test_prefix_delete_1000(void)
{
    char prefix[128], other[160];
    snprintf(prefix, sizeof prefix, "t/%s/many/", run_id);
    /* A neighbour that shares the prefix's text but not its folder must stay. */
    snprintf(other, sizeof other, "t/%s/many-not/keep", run_id);
    EXPECT_ST(put(other, "k", 1, "text/plain"), IP_OK, last_err);

    enum { N = 1000, T = 8 };
    EXPECT(put_many(prefix, N, T) == 0);

    int32_t deleted = -1;
    int64_t t0 = ip_mono_ms();
    EXPECT_ST(del(NULL, 0, prefix, &deleted), IP_OK, last_err);
    fprintf(stderr, "prefix delete of %d objects: %lld ms\n", N, (long long)(ip_mono_ms() - t0));
    EXPECT(deleted == N);
    char key[160];
    for (int i = 0; i < N; i += 97) {
        snprintf(key, sizeof key, "%s%04d", prefix, i);
        EXPECT_ST(head(key, NULL, NULL, 0), IP_NOT_FOUND, last_err);
    }
    EXPECT_ST(head(other, NULL, NULL, 0), IP_OK, last_err);
    /* A second delete finds nothing. */
    EXPECT_ST(del(NULL, 0, prefix, &deleted), IP_OK, last_err);
    EXPECT(deleted == 0);

    /* Many keys by name, more than one multi-delete request holds. */
    enum { M = 1200 };
    char **keys = calloc(M, sizeof *keys);
    for (int i = 0; i < M; i++) {
        keys[i] = malloc(160);
        snprintf(keys[i], 160, "%s%04d", prefix, i);
    }
    put_job j = {prefix, 1100, 1105, 0};
    put_range(&j);
    EXPECT(j.failed == 0);
    EXPECT_ST(del((const char *const *)keys, M, other, &deleted), IP_OK, last_err);
    EXPECT(deleted == M + 1);
    EXPECT_ST(head(other, NULL, NULL, 0), IP_NOT_FOUND, last_err);
    snprintf(key, sizeof key, "%s1102", prefix);
    EXPECT_ST(head(key, NULL, NULL, 0), IP_NOT_FOUND, last_err);
    for (int i = 0; i < M; i++)
        free(keys[i]);
    free(keys);
}

/* More keys than one ListObjectsV2 page (1000) holds: the delete follows the
 * continuation token to the end. */
static void test_prefix_delete_paged(void)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "t/%s/paged/", run_id);
    enum { N = 1050, T = 8 };
    EXPECT(put_many(prefix, N, T) == 0);
    int32_t deleted = -1;
    EXPECT_ST(del(NULL, 0, prefix, &deleted), IP_OK, last_err);
    EXPECT(deleted == N);
    char key[160];
    snprintf(key, sizeof key, "%s%04d", prefix, N - 1);
    EXPECT_ST(head(key, NULL, NULL, 0), IP_NOT_FOUND, last_err);
    EXPECT_ST(del(NULL, 0, prefix, &deleted), IP_OK, last_err);
    EXPECT(deleted == 0);
}

static void test_public_read(void)
{
    const char *endpoint = env_or("IP_S3_ENDPOINT", "http://127.0.0.1:19000");
    const char *bucket = env_or("IP_S3_BUCKET", "images");
    const char *listen = env_or("IP_HTTP_LISTEN", "127.0.0.1:8080");
    char vkey[IP_KEY_MAX], okey[IP_KEY_MAX], url[512];
    CHECK(ip_key_variant(vkey, run_id, IP_VARIANT_THUMBNAIL, &ip_format_jpeg) == IP_OK);
    CHECK(ip_key_original(okey, run_id) == IP_OK);
    char *media = ip_key_media_path(vkey);
    CHECK(media != NULL);
    uint8_t data[4096];
    fill(data, sizeof data, 42);
    EXPECT_ST(put_cc(vkey, data, sizeof data, "image/jpeg", "public, max-age=31536000, immutable"),
              IP_OK, last_err);
    EXPECT_ST(put(okey, data, sizeof data, "image/jpeg"), IP_OK, last_err);

    http_body b;
    /* Through the S3 endpoint, anonymously, with the type and caching it was stored with. */
    snprintf(url, sizeof url, "%s/%s/%s", endpoint, bucket, vkey);
    EXPECT(http_get(url, &b, false) == 200);
    EXPECT(b.len == sizeof data && memcmp(b.p, data, sizeof data) == 0);
    EXPECT(strcasestr(b.headers, "Content-Type: image/jpeg") != NULL);
    EXPECT(strcasestr(b.headers, "Cache-Control: public, max-age=31536000, immutable") != NULL);
    free(b.p);
    snprintf(url, sizeof url, "%s/%s/%s", endpoint, bucket, okey);
    long code = http_get(url, &b, false);
    EXPECT(code == 403);
    EXPECT(!(b.len == sizeof data && memcmp(b.p, data, sizeof data) == 0));
    free(b.p);
    snprintf(url, sizeof url, "%s/%s?list-type=2&prefix=%s", endpoint, bucket,
             IP_KEY_ORIGINAL_PREFIX);
    code = http_get(url, &b, false);
    EXPECT(code == 403);
    EXPECT(!b.p || strstr(b.p, run_id) == NULL);
    free(b.p);
    snprintf(url, sizeof url, "%s/%s", endpoint, bucket);
    EXPECT(http_get(url, &b, false) == 403);
    free(b.p);

    /* Through nginx: the variant's media path (ip_keys.h) serves the key. */
    snprintf(url, sizeof url, "http://%s%s", listen, media);
    EXPECT(http_get(url, &b, false) == 200);
    EXPECT(b.len == sizeof data && memcmp(b.p, data, sizeof data) == 0);
    free(b.p);
    /* Ways out of /media/ toward the originals: none may serve them. */
    const char *escapes[] = {"/media/../o/", "/media/%2E%2E/o/", "/media/..%2Fo%2F", "/o/",
                             "/media/%2e%2e%2fo%2f"};
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        snprintf(url, sizeof url, "http://%s%s%s", listen, escapes[i], run_id);
        code = http_get(url, &b, true);
        EXPECT(code != 200 || !(b.len == sizeof data && memcmp(b.p, data, sizeof data) == 0));
        EXPECT(code != 0);
        free(b.p);
    }

    const char *keys[] = {vkey, okey};
    EXPECT_ST(del(keys, 2, NULL, NULL), IP_OK, last_err);
    snprintf(url, sizeof url, "http://%s%s", listen, media);
    code = http_get(url, &b, false);
    EXPECT(code == 404 || code == 403);
    free(b.p);
    free(media);
}

static bool stack(const char *verb)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/scripts/stack %s s3 >&2", IP_SOURCE_DIR, verb);
    int rc = system(cmd);
    return rc == 0;
}

static void test_s3_outage(void)
{
    char key[128];
    snprintf(key, sizeof key, "t/%s/outage", run_id);
    EXPECT_ST(put(key, "before", 6, "text/plain"), IP_OK, last_err);

    EXPECT(stack("stop"));
    int64_t t0 = ip_mono_ms();
    EXPECT_ST(put(key, "during", 6, "text/plain"), IP_UNAVAILABLE, last_err);
    Imageproc__GetObjectReply *r = NULL;
    EXPECT_ST(get(key, &r), IP_UNAVAILABLE, last_err);
    EXPECT_ST(head(key, NULL, NULL, 0), IP_UNAVAILABLE, last_err);
    EXPECT(ip_mono_ms() - t0 < 10000); /* answered promptly, not at the deadline */
    fprintf(stderr, "unavailable answers took %lld ms\n", (long long)(ip_mono_ms() - t0));

    bool started = stack("start");
    EXPECT(started);
    /* The same storage-svc recovers: poll until a call succeeds. */
    ip_status st = IP_UNAVAILABLE;
    int64_t until = ip_mono_ms() + 30000;
    while (ip_mono_ms() < until) {
        st = head(key, NULL, NULL, 0);
        if (st == IP_OK)
            break;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    EXPECT_ST(st, IP_OK, last_err);
    EXPECT_ST(get(key, &r), IP_OK, last_err);
    EXPECT(r && r->data.len == 6 && memcmp(r->data.data, "before", 6) == 0);
    if (r)
        imageproc__get_object_reply__free_unpacked(r, NULL);
    const char *keys[] = {key};
    EXPECT_ST(del(keys, 1, NULL, NULL), IP_OK, last_err);
}

typedef struct head_job {
    const char *key;
    int n, failed;
} head_job;

static void *head_loop(void *p)
{
    head_job *j = p;
    for (int i = 0; i < j->n; i++) {
        Imageproc__HeadObjectReply *out = NULL;
        if (rpc_head(j->key, &out, 10000, NULL, 0) != IP_OK)
            j->failed++;
        if (out)
            imageproc__head_object_reply__free_unpacked(out, NULL);
    }
    return NULL;
}

/* Counts the new connections storage-svc reported in its debug log. */
static long count_new_conns(const char *log)
{
    long total = 0;
    for (const char *p = log; (p = strstr(p, "\"event\":\"s3.request\"")) != NULL; p++) {
        const char *nc = strstr(p, "\"new_conns\":");
        const char *eol = strchr(p, '\n');
        if (nc && (!eol || nc < eol))
            total += strtol(nc + 12, NULL, 10);
    }
    return total;
}

typedef struct mixed_job {
    int id, n, failed;
} mixed_job;

/* One caller: put an object of a size of its own, read it back byte for byte,
 * head it, delete it; repeated. */
static void *mixed_loop(void *p)
{
    mixed_job *j = p;
    for (int i = 0; i < j->n; i++) {
        char key[160];
        snprintf(key, sizeof key, "t/%s/mixed/%d-%d", run_id, j->id, i);
        size_t n = ((size_t)(j->id * 7919 + i * 104729) % (2u << 20)) + (i % 3 == 0 ? 0 : 1);
        uint8_t *data = malloc(n ? n : 1);
        fill(data, n, (uint32_t)(j->id * 1000 + i));
        bool ok = true;

        Imageproc__PutObjectRequest pr = IMAGEPROC__PUT_OBJECT_REQUEST__INIT;
        pr.key = key;
        pr.data.data = data;
        pr.data.len = n;
        pr.content_type = (char *)"application/x-test";
        char e[512] = "";
        ip_status st = rpc_put(&pr, 30000, e, sizeof e);
        if (st != IP_OK) {
            fprintf(stderr, "put %s: %s (%s)\n", key, ip_strerror(st), e);
            ok = false;
        }

        Imageproc__GetObjectReply *r = NULL;
        if (ok && (st = rpc_get(key, &r, 30000, e, sizeof e)) == IP_OK) {
            ok = r->data.len == n && (n == 0 || memcmp(r->data.data, data, n) == 0);
            if (!ok)
                fprintf(stderr, "get %s: %zu bytes differ from the %zu put\n", key, r->data.len, n);
        } else if (ok) {
            fprintf(stderr, "get %s: %s (%s)\n", key, ip_strerror(st), e);
            ok = false;
        }
        if (r)
            imageproc__get_object_reply__free_unpacked(r, NULL);

        const char *keys[] = {key};
        if (ok && (st = rpc_delete(keys, 1, NULL, NULL, 30000, e, sizeof e)) != IP_OK) {
            fprintf(stderr, "delete %s: %s (%s)\n", key, ip_strerror(st), e);
            ok = false;
        }
        if (!ok)
            j->failed++;
        free(data);
    }
    return NULL;
}

/* Many callers at once, objects of many sizes: every byte comes back. */
static void test_concurrent(void)
{
    enum { T = 12, N = 15 };
    pthread_t th[T];
    mixed_job jobs[T];
    for (int t = 0; t < T; t++) {
        jobs[t] = (mixed_job){t, N, 0};
        pthread_create(&th[t], NULL, mixed_loop, &jobs[t]);
    }
    int failed = 0;
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        failed += jobs[t].failed;
    }
    EXPECT(failed == 0);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "t/%s/mixed/", run_id);
    int32_t deleted = -1;
    EXPECT_ST(del(NULL, 0, prefix, &deleted), IP_OK, last_err);
    EXPECT(deleted == 0); /* every caller cleaned up after itself */
}

static void test_keepalive(void)
{
    char key[128];
    snprintf(key, sizeof key, "t/%s/ka", run_id);
    EXPECT_ST(put(key, "k", 1, "text/plain"), IP_OK, last_err);
    char *log = read_file(srv.log_path);
    long before = log ? count_new_conns(log) : 0;
    free(log);

    enum { T = 4, N = 100 };
    pthread_t th[T];
    head_job jobs[T];
    for (int t = 0; t < T; t++) {
        jobs[t] = (head_job){key, N, 0};
        pthread_create(&th[t], NULL, head_loop, &jobs[t]);
    }
    int failed = 0;
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        failed += jobs[t].failed;
    }
    EXPECT(failed == 0);
    log = read_file(srv.log_path);
    long after = log ? count_new_conns(log) : 0;
    free(log);
    fprintf(stderr, "%d calls opened %ld new S3 connections\n", T * N, after - before);
    /* At most one connection per worker that served a call; nowhere near one per call. */
    EXPECT(after - before <= 32);
    EXPECT(after - before < T * N / 4);
    const char *keys[] = {key};
    EXPECT_ST(del(keys, 1, NULL, NULL), IP_OK, last_err);
}

/* Runs without the shared server: wrong credentials must stop start-up with
 * S3's reason in the log. `setting` is the bad variable, `want` a text the
 * log must hold. */
static void start_with_bad_credentials(const char *setting, const char *bad_value, const char *want)
{
    const char *url = env_or("IP_STOR_TEST_URL2", "tcp://127.0.0.1:7212");
    char var[256];
    snprintf(var, sizeof var, "%s=%s", setting, bad_value);
    const char *extra[] = {var, "IP_S3_START_WAIT_MS=5000", NULL};
    server s = {0};
    EXPECT(server_spawn(&s, url, extra));
    int wst = server_wait_exit(&s, 20000);
    EXPECT(wst != -1);
    if (wst == -1) {
        kill(s.pid, SIGKILL);
        waitpid(s.pid, NULL, 0);
    } else {
        EXPECT(WIFEXITED(wst) && WEXITSTATUS(wst) != 0);
    }
    char *log = read_file(s.log_path);
    EXPECT(log && strstr(log, "\"event\":\"s3.credentials_rejected\""));
    EXPECT(log && strstr(log, want));
    EXPECT(log && strstr(log, bad_value) == NULL); /* no secrets in logs */
    if (ip_test_failures)
        dump_log(&s);
    free(log);
    unlink(s.log_path);
}

static void test_wrong_secret(void)
{
    start_with_bad_credentials("IP_S3_SECRET_KEY", "definitely-not-the-secret",
                               "SignatureDoesNotMatch");
}

static void test_wrong_access_key(void)
{
    /* AWS answers InvalidAccessKeyId, versitygw XAdminUserNotFound (404). */
    start_with_bad_credentials("IP_S3_ACCESS_KEY", "no-such-access-key", "credentials");
}

static const ip_test_case tests[] = {
    {"roundtrip.empty", test_roundtrip_empty},
    {"roundtrip.one_byte", test_roundtrip_one_byte},
    {"roundtrip.1mib", test_roundtrip_1mib},
    {"roundtrip.50mib", test_roundtrip_50mib},
    {"roundtrip.encoding", test_default_content_type},
    {"ranged_get", test_ranged_get},
    {"missing_key", test_missing_key},
    {"invalid_key", test_invalid_key},
    {"too_large", test_too_large},
    {"content_sha256", test_content_sha256},
    {"prefix_delete_1000", test_prefix_delete_1000},
    {"prefix_delete_paged", test_prefix_delete_paged},
    {"public_read", test_public_read},
    {"keepalive", test_keepalive},
    {"concurrent", test_concurrent},
    {"s3_outage", test_s3_outage},
    {"wrong_secret", test_wrong_secret},
    {"wrong_access_key", test_wrong_access_key},
};
#define N_TESTS (sizeof tests / sizeof tests[0])

/* The start-up tests run storage-svc themselves, with bad settings; every
 * other test uses this run's storage-svc. */
static bool uses_shared_server(const char *name)
{
    return strcmp(name, "wrong_secret") != 0 && strcmp(name, "wrong_access_key") != 0;
}

/* Starts this run's storage-svc on `url` and waits until it answers. */
static bool shared_server_start(const char *url)
{
    const char *extra[] = {"IP_LOG_LEVEL=debug", NULL};
    if (!server_spawn(&srv, url, extra)) {
        fprintf(stderr, "cannot start %s\n", STOR_BIN);
        return false;
    }
    ip_rpc_client_opts co = {.urls = url, .timeout_ms = 10000};
    if (ip_rpc_client_new(&imageproc__storage__descriptor, &co, &cli) != IP_OK) {
        fprintf(stderr, "cannot make an RPC client\n");
        server_stop(&srv);
        return false;
    }
    int64_t until = ip_mono_ms() + 30000;
    bool up = false;
    while (!up && ip_mono_ms() < until) {
        up = ip_rpc_ping(cli, 500) == IP_OK;
        if (!up) {
            if (waitpid(srv.pid, NULL, WNOHANG) == srv.pid) {
                srv.pid = 0;
                break;
            }
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (!up) {
        fprintf(stderr, "storage-svc did not come up on %s (is S3 running?)\n", url);
        dump_log(&srv);
        server_stop(&srv);
        ip_rpc_client_free(cli);
        return false;
    }
    return true;
}

/* Stops this run's storage-svc; it must exit 0 on SIGTERM. */
static void shared_server_stop(void)
{
    ip_rpc_client_free(cli);
    EXPECT(server_stop(&srv));
    if (ip_test_failures)
        dump_log(&srv);
    unlink(srv.log_path);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <test>\n", argv[0]);
        return 2;
    }
    bool known = false;
    for (size_t i = 0; i < N_TESTS; i++)
        known = known || strcmp(argv[1], tests[i].name) == 0;
    if (!known) {
        fprintf(stderr, "no test named %s\n", argv[1]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    ip_log_init("stor_it", IP_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ip_uuid_v4_str(run_id);

    bool shared = uses_shared_server(argv[1]);
    if (shared && !shared_server_start(env_or("IP_STOR_TEST_URL", "tcp://127.0.0.1:7211")))
        return 1;
    int rc = ip_test_main(argc, argv, tests, N_TESTS);
    if (shared) {
        shared_server_stop();
        rc = ip_test_failures ? 1 : rc;
    }
    curl_global_cleanup();
    return rc;
}
