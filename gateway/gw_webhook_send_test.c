/* gw_webhook_send_test.c — one webhook attempt against a tiny HTTP receiver
 * on a loopback socket (a thread of this process; no other server).
 *
 * The receiver accepts connections, reads one request (headers and a
 * Content-Length body), records the first one, and answers as the test set
 * it up: a status with a body, a large body, or nothing at all (it holds
 * the connection until the client gives up). A second receiver stands for a
 * redirect's target and must see no connection. ctest: gateway.webhook_send.
 * <test>, label unit.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_webhook_send.h"
#include "ip_testing.h"
#include "ip_time.h"
#include "ip_webhook.h"

#define REQ_MAX (256 * 1024)

typedef struct receiver {
    int fd, port;
    pthread_t thread;
    atomic_bool stop;
    /* how it answers */
    const char *head; /* status line and headers, without the blank line; NULL: no answer */
    const char *body;
    size_t big; /* > 0: a body of this many 'x' instead */
    /* what it saw */
    atomic_int connections;
    atomic_int served; /* connections answered and closed */
    atomic_size_t body_sent;
    pthread_mutex_t mu;
    char req[REQ_MAX + 1];
    size_t req_len;
    bool have_req;
} receiver;

static int64_t content_length(const char *head)
{
    const char *p = head;
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, "content-length:", 15) == 0)
            return strtoll(p + 15, NULL, 10);
    }
    return 0;
}

/* Reads one request into buf (headers and body); its length, or -1. */
static ssize_t read_request(receiver *r, int c, char *buf, size_t cap)
{
    size_t n = 0;
    int64_t deadline = ip_mono_ms() + 5000;
    while (n < cap && ip_mono_ms() < deadline && !atomic_load(&r->stop)) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t k = recv(c, buf + n, cap - n, 0);
        if (k <= 0)
            return -1;
        n += (size_t)k;
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end != NULL && (size_t)(end + 4 - buf) + (size_t)content_length(buf) <= n)
            return (ssize_t)n;
    }
    return -1;
}

static void send_all(receiver *r, int c, const char *p, size_t n, bool count)
{
    while (n > 0 && !atomic_load(&r->stop)) {
        ssize_t k = send(c, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        if (count)
            atomic_fetch_add(&r->body_sent, (size_t)k);
        p += k;
        n -= (size_t)k;
    }
}

static void serve(receiver *r, int c)
{
    static char buf[REQ_MAX + 1];
    ssize_t n = read_request(r, c, buf, REQ_MAX);
    if (n < 0)
        return;
    pthread_mutex_lock(&r->mu);
    if (!r->have_req) {
        memcpy(r->req, buf, (size_t)n);
        r->req[n] = '\0';
        r->req_len = (size_t)n;
        r->have_req = true;
    }
    pthread_mutex_unlock(&r->mu);
    if (r->head == NULL) { /* no answer: hold the connection until the client leaves */
        while (!atomic_load(&r->stop)) {
            struct pollfd p = {.fd = c, .events = POLLIN};
            if (poll(&p, 1, 50) > 0 && recv(c, buf, sizeof buf - 1, 0) <= 0)
                return;
        }
        return;
    }
    size_t blen = r->big > 0 ? r->big : strlen(r->body ? r->body : "");
    char head[1024];
    int hn = snprintf(head, sizeof head, "%s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                      r->head, blen);
    send_all(r, c, head, (size_t)hn, false);
    if (r->big > 0) {
        static char chunk[65536];
        memset(chunk, 'x', sizeof chunk);
        for (size_t left = blen; left > 0 && !atomic_load(&r->stop);) {
            size_t k = left < sizeof chunk ? left : sizeof chunk;
            size_t before = atomic_load(&r->body_sent);
            send_all(r, c, chunk, k, true);
            if (atomic_load(&r->body_sent) - before < k)
                break; /* the client went away */
            left -= k;
        }
    } else {
        send_all(r, c, r->body ? r->body : "", blen, true);
    }
}

static void *receiver_main(void *arg)
{
    receiver *r = arg;
    while (!atomic_load(&r->stop)) {
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(r->fd, NULL, NULL);
        if (c < 0)
            continue;
        atomic_fetch_add(&r->connections, 1);
        serve(r, c);
        close(c);
        atomic_fetch_add(&r->served, 1);
    }
    return NULL;
}

static receiver *receiver_start(const char *head, const char *body, size_t big)
{
    receiver *r = calloc(1, sizeof *r);
    CHECK(r != NULL);
    r->head = head;
    r->body = body;
    r->big = big;
    pthread_mutex_init(&r->mu, NULL);
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(r->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(r->fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(r->fd, 16) == 0);
    socklen_t al = sizeof a;
    CHECK(getsockname(r->fd, (struct sockaddr *)&a, &al) == 0);
    r->port = ntohs(a.sin_port);
    CHECK(pthread_create(&r->thread, NULL, receiver_main, r) == 0);
    return r;
}

static void receiver_stop(receiver *r)
{
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    close(r->fd);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* The value of header `name` in the recorded request into out ("" if absent). */
static void req_header(receiver *r, const char *name, char *out, size_t outlen)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    const char *p = r->req;
    const char *end = strstr(r->req, "\r\n\r\n");
    while (end != NULL && (p = strstr(p, "\r\n")) != NULL && p < end) {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = strcspn(v, "\r");
            snprintf(out, outlen, "%.*s", (int)vl, v);
            return;
        }
    }
}

static const char *req_body(receiver *r)
{
    const char *e = strstr(r->req, "\r\n\r\n");
    return e != NULL ? e + 4 : "";
}

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define MSG_ID "msg_0123456789abcdef0123456789abcdef"
#define BODY "{\"type\":\"image.ready\",\"data\":{\"id\":\"x\"}}"

static gw_webhook_send_opts opts_default(void)
{
    return (gw_webhook_send_opts){
        .timeout_ms = 5000, .response_max_bytes = 65536, .allow_private = true};
}

static void url_of(const receiver *r, const char *path, char *out, size_t n)
{
    snprintf(out, n, "http://127.0.0.1:%d%s", r->port, path);
}

/* The headers of the scheme arrive, and the signature verifies over the
 * bytes received with the timestamp received. */
static void test_headers_signed(void)
{
    receiver *r = receiver_start("HTTP/1.1 200 OK", "ok", 0);
    char url[128];
    url_of(r, "/hook?a=1", url, sizeof url);
    gw_webhook_send_opts o = opts_default();
    gw_webhook_attempt a;
    int64_t now = ip_now_us() / 1000000;
    gw_webhook_send(url, SECRET, MSG_ID, now, BODY, strlen(BODY), &o, &a);
    EXPECTF(a.delivered, "%s", a.error);
    EXPECT_EQ_INT(a.status, 200);
    EXPECT_EQ_STR(a.error, "");
    EXPECT_EQ_STR(gw_webhook_result_name(a.result), "delivered");
    EXPECT_EQ_INT(a.response_bytes, 2);
    CHECK(r->have_req);
    EXPECTF(strncmp(r->req, "POST /hook?a=1 HTTP/1.1\r\n", 25) == 0, "%.40s", r->req);
    char v[256];
    req_header(r, "content-type", v, sizeof v);
    EXPECT_EQ_STR(v, "application/json");
    req_header(r, "user-agent", v, sizeof v);
    EXPECT_EQ_STR(v, "ImageProcessor-Webhooks/1");
    req_header(r, "webhook-id", v, sizeof v);
    EXPECT_EQ_STR(v, MSG_ID);
    req_header(r, "webhook-timestamp", v, sizeof v);
    long long ts = strtoll(v, NULL, 10);
    EXPECT_EQ_INT(ts, now);
    char sig[256];
    req_header(r, "webhook-signature", sig, sizeof sig);
    const char *body = req_body(r);
    EXPECT_EQ_STR(body, BODY);
    EXPECTF(ip_webhook_verify(SECRET, MSG_ID, ts, body, strlen(body), sig), "signature %s", sig);
    EXPECT(!ip_webhook_verify(SECRET, MSG_ID, ts + 1, body, strlen(body), sig));
    req_header(r, "expect", v, sizeof v);
    EXPECT_EQ_STR(v, "");
    receiver_stop(r);
}

/* 204 No Content is delivered; a large body is sent whole (no 100-continue). */
static void test_delivered_204(void)
{
    receiver *r = receiver_start("HTTP/1.1 204 No Content", "", 0);
    char url[128];
    url_of(r, "/", url, sizeof url);
    static char body[100000];
    memset(body, 'a', sizeof body - 1);
    gw_webhook_send_opts o = opts_default();
    gw_webhook_attempt a;
    gw_webhook_send(url, SECRET, MSG_ID, 1700000000, body, strlen(body), &o, &a);
    EXPECTF(a.delivered, "%s", a.error);
    EXPECT_EQ_INT(a.status, 204);
    EXPECT_EQ_INT(a.result, GW_WEBHOOK_DELIVERED);
    EXPECT_EQ_INT(strlen(req_body(r)), strlen(body));
    EXPECT(a.duration_ms >= 0 && a.duration_ms < 5000);
    receiver_stop(r);
}

/* 500: not delivered; the status and the start of the answer in the error,
 * control characters replaced. */
static void test_http_500(void)
{
    receiver *r = receiver_start("HTTP/1.1 500 Internal Server Error", "broken\r\n\tagain\x01", 0);
    char url[128];
    url_of(r, "/", url, sizeof url);
    gw_webhook_send_opts o = opts_default();
    gw_webhook_attempt a;
    gw_webhook_send(url, SECRET, MSG_ID, 1700000000, BODY, strlen(BODY), &o, &a);
    EXPECT(!a.delivered);
    EXPECT_EQ_INT(a.status, 500);
    EXPECT_EQ_INT(a.result, GW_WEBHOOK_HTTP_ERROR);
    EXPECT_EQ_STR(a.error, "HTTP 500: broken???again?");
    receiver_stop(r);

    /* a long error page: the text stays within 500 bytes */
    static char page[5000];
    memset(page, 'e', sizeof page - 1);
    r = receiver_start("HTTP/1.1 503 Service Unavailable", page, 0);
    url_of(r, "/", url, sizeof url);
    gw_webhook_send(url, SECRET, MSG_ID, 1700000000, BODY, strlen(BODY), &o, &a);
    EXPECT_EQ_INT(a.status, 503);
    EXPECT(strlen(a.error) <= 500);
    EXPECT(strncmp(a.error, "HTTP 503: eeee", 14) == 0);
    receiver_stop(r);

    /* 404 with no body */
    r = receiver_start("HTTP/1.1 404 Not Found", "", 0);
    url_of(r, "/", url, sizeof url);
    gw_webhook_send(url, SECRET, MSG_ID, 1700000000, BODY, strlen(BODY), &o, &a);
    EXPECT_EQ_INT(a.status, 404);
    EXPECT_EQ_STR(a.error, "HTTP 404");
    receiver_stop(r);
}

/* 302: not delivered, and the Location's target never sees a connection. */
static void test_redirect_not_followed(void)
{
    receiver *target = receiver_start("HTTP/1.1 200 OK", "", 0);
    char loc[256];
    snprintf(loc, sizeof loc, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/elsewhere",
             target->port);
    receiver *r = receiver_start(loc, "", 0);
    char url[128];
    url_of(r, "/", url, sizeof url);
    gw_webhook_send_opts o = opts_default();
    gw_webhook_attempt a;
    gw_webhook_send(url, SECRET, MSG_ID, 1700000000, BODY, strlen(BODY), &o, &a);
    EXPECT(!a.delivered);
    EXPECT_EQ_INT(a.status, 302);
    EXPECT_EQ_INT(a.result, GW_WEBHOOK_REDIRECT);
    EXPECT_EQ_STR(a.error, "HTTP 302: redirect not followed");
    EXPECT_EQ_INT(atomic_load(&r->connections), 1);
    EXPECT_EQ_INT(atomic_load(&target->connections), 0);
    receiver_stop(r);
    receiver_stop(target);
}

/* Waits (up to 5 s) until the receiver has answered n connections. */
static bool wait_served(receiver *r, int n)
{
    int64_t deadline = ip_mono_ms() + 5000;
    while (atomic_load(&r->served) < n && ip_mono_ms() < deadline)
        usleep(5000);
    return atomic_load(&r->served) >= n;
}

/* A 64 MiB answer: read up to the bound, then cut (the receiver could not
 * send it all: more than the sockets' buffers hold was never read); a 2xx
 * is still delivered. */
static void test_large_response_cut(void)
{
    size_t big = 64 * 1024 * 1024;
    receiver *r = receiver_start("HTTP/1.1 200 OK", NULL, big);
    char url[128];
    url_of(r, "/", url, sizeof url);
    gw_webhook_send_opts o = opts_default();
    o.response_max_bytes = 65536;
    gw_webhook_attempt a;
    gw_webhook_send(url, SECRET, MSG_ID, 1700000000, BODY, strlen(BODY), &o, &a);
    EXPECTF(a.delivered, "%s", a.error);
    EXPECT_EQ_INT(a.status, 200);
    EXPECT(a.response_cut);
    EXPECT_EQ_INT(a.response_bytes, 65536);
    CHECK(wait_served(r, 1));
    EXPECTF(atomic_load(&r->body_sent) < big, "the receiver sent all %zu bytes", big);
    receiver_stop(r);

    /* the same for a failure: the error shows the start, the read is cut */
    r = receiver_start("HTTP/1.1 500 Oops", NULL, big);
    url_of(r, "/", url, sizeof url);
    gw_webhook_send(url, SECRET, MSG_ID, 1700000000, BODY, strlen(BODY), &o, &a);
    EXPECT(!a.delivered);
    EXPECT_EQ_INT(a.status, 500);
    EXPECT(a.response_cut);
    EXPECT_EQ_INT(a.response_bytes, 65536);
    EXPECT(strncmp(a.error, "HTTP 500: xxxx", 14) == 0 && strlen(a.error) <= 500);
    receiver_stop(r);
}

/* A receiver that reads the request and never answers: a timeout within
 * the set time. */
static void test_timeout(void)
{
    receiver *r = receiver_start(NULL, NULL, 0);
    char url[128];
    url_of(r, "/", url, sizeof url);
    gw_webhook_send_opts o = opts_default();
    o.timeout_ms = 300;
    gw_webhook_attempt a;
    int64_t t0 = ip_mono_ms();
    gw_webhook_send(url, SECRET, MSG_ID, 1700000000, BODY, strlen(BODY), &o, &a);
    int64_t took = ip_mono_ms() - t0;
    EXPECT(!a.delivered);
    EXPECT_EQ_INT(a.result, GW_WEBHOOK_TIMEOUT);
    EXPECT_EQ_INT(a.status, 0);
    EXPECT_EQ_STR(a.error, "timeout after 300 ms");
    EXPECTF(took >= 250 && took < 2000, "took %lld ms", (long long)took);
    EXPECT(r->have_req); /* the request did arrive */
    receiver_stop(r);
}

/* Nobody listening: a connection error, no status. */
static void test_connect_error(void)
{
    receiver *r = receiver_start("HTTP/1.1 200 OK", "", 0);
    char url[128];
    url_of(r, "/", url, sizeof url);
    receiver_stop(r); /* the port is closed now */
    gw_webhook_send_opts o = opts_default();
    gw_webhook_attempt a;
    gw_webhook_send(url, SECRET, MSG_ID, 1700000000, BODY, strlen(BODY), &o, &a);
    EXPECT(!a.delivered);
    EXPECT_EQ_INT(a.result, GW_WEBHOOK_CONNECT_ERROR);
    EXPECT_EQ_INT(a.status, 0);
    EXPECTF(strncmp(a.error, "connect: ", 9) == 0, "%s", a.error);

    /* only http and https */
    gw_webhook_send("ftp://127.0.0.1/x", SECRET, MSG_ID, 1, BODY, strlen(BODY), &o, &a);
    EXPECT_EQ_INT(a.result, GW_WEBHOOK_REFUSED);
    EXPECTF(strncmp(a.error, "refused: ", 9) == 0, "%s", a.error);
    /* a secret that is not one signs nothing and sends nothing */
    gw_webhook_send(url, "whsec_bad", MSG_ID, 1, BODY, strlen(BODY), &o, &a);
    EXPECT_EQ_INT(a.result, GW_WEBHOOK_REFUSED);
}

/* allow_private=false: 127.0.0.1 (literal or by name) is refused before any
 * connection reaches the receiver. */
static void test_private_refused(void)
{
    receiver *r = receiver_start("HTTP/1.1 200 OK", "", 0);
    char url[128];
    url_of(r, "/", url, sizeof url);
    gw_webhook_send_opts o = opts_default();
    o.allow_private = false;
    gw_webhook_attempt a;
    gw_webhook_send(url, SECRET, MSG_ID, 1700000000, BODY, strlen(BODY), &o, &a);
    EXPECT(!a.delivered);
    EXPECT_EQ_INT(a.result, GW_WEBHOOK_REFUSED);
    EXPECT_EQ_STR(a.error, "refused: 127.0.0.1 is a private address");
    EXPECT_EQ_INT(a.status, 0);

    snprintf(url, sizeof url, "http://localhost:%d/", r->port);
    gw_webhook_send(url, SECRET, MSG_ID, 1700000000, BODY, strlen(BODY), &o, &a);
    EXPECT_EQ_INT(a.result, GW_WEBHOOK_REFUSED);
    EXPECTF(strstr(a.error, "is a private address") != NULL, "%s", a.error);
    EXPECT_EQ_INT(atomic_load(&r->connections), 0);

    /* the same receiver with private addresses allowed: delivered */
    o.allow_private = true;
    url_of(r, "/", url, sizeof url);
    gw_webhook_send(url, SECRET, MSG_ID, 1700000000, BODY, strlen(BODY), &o, &a);
    EXPECTF(a.delivered, "%s", a.error);
    EXPECT_EQ_INT(atomic_load(&r->connections), 1);
    receiver_stop(r);
}

static void *set_stop_later(void *arg)
{
    usleep(200 * 1000); /* the attempt is under way; the flag is what is tested */
    atomic_store((atomic_bool *)arg, true);
    return NULL;
}

/* The stop flag ends a hanging attempt long before its timeout. */
static void test_stop_flag(void)
{
    receiver *r = receiver_start(NULL, NULL, 0);
    char url[128];
    url_of(r, "/", url, sizeof url);
    atomic_bool stop = false;
    gw_webhook_send_opts o = opts_default();
    o.timeout_ms = 20000;
    o.stop = &stop;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, set_stop_later, &stop) == 0);
    gw_webhook_attempt a;
    int64_t t0 = ip_mono_ms();
    gw_webhook_send(url, SECRET, MSG_ID, 1700000000, BODY, strlen(BODY), &o, &a);
    int64_t took = ip_mono_ms() - t0;
    pthread_join(th, NULL);
    EXPECT_EQ_INT(a.result, GW_WEBHOOK_STOPPED);
    EXPECT(!a.delivered);
    EXPECTF(took < 1500, "took %lld ms", (long long)took);
    receiver_stop(r);
}

static bool private_of(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        CHECKF(inet_pton(AF_INET6, text, &a->sin6_addr) == 1, "%s", text);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        CHECKF(inet_pton(AF_INET, text, &a->sin_addr) == 1, "%s", text);
    }
    return gw_webhook_addr_private((struct sockaddr *)&ss);
}

static void test_addr_private(void)
{
    static const struct {
        const char *addr;
        bool priv;
    } cases[] = {
        {"127.0.0.1", true},
        {"127.255.255.254", true},
        {"10.0.0.1", true},
        {"10.255.255.255", true},
        {"172.16.0.1", true},
        {"172.31.255.255", true},
        {"172.15.255.255", false},
        {"172.32.0.1", false},
        {"192.168.1.1", true},
        {"192.169.0.1", false},
        {"169.254.169.254", true},
        {"100.64.0.1", true},
        {"100.127.255.255", true},
        {"100.63.255.255", false},
        {"100.128.0.1", false},
        {"0.0.0.0", true},
        {"0.1.2.3", true},
        {"224.0.0.1", true},
        {"239.255.255.255", true},
        {"255.255.255.255", true},
        {"8.8.8.8", false},
        {"93.184.216.34", false},
        {"1.1.1.1", false},
        {"::", true},
        {"::1", true},
        {"fe80::1", true},
        {"febf::1", true},
        {"fc00::1", true},
        {"fd12:3456::1", true},
        {"ff02::1", true},
        {"::ffff:127.0.0.1", true},
        {"::ffff:10.1.2.3", true},
        {"::ffff:169.254.1.1", true},
        {"::ffff:8.8.8.8", false},
        {"::127.0.0.1", true},
        {"64:ff9b::a00:1", true},
        {"64:ff9b::808:808", false},
        {"2001:4860:4860::8888", false},
        {"2606:4700::1111", false},
        {"fbff::1", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        EXPECTF(private_of(cases[i].addr) == cases[i].priv, "%s: want %s", cases[i].addr,
                cases[i].priv ? "private" : "public");
    struct sockaddr un = {.sa_family = AF_UNIX};
    EXPECT(gw_webhook_addr_private(&un));
    EXPECT(gw_webhook_addr_private(NULL));
}

static const ip_test_case tests[] = {
    IP_TEST(headers_signed),        IP_TEST(delivered_204),      IP_TEST(http_500),
    IP_TEST(redirect_not_followed), IP_TEST(large_response_cut), IP_TEST(timeout),
    IP_TEST(connect_error),         IP_TEST(private_refused),    IP_TEST(stop_flag),
    IP_TEST(addr_private),
};

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = ip_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
    curl_global_cleanup();
    return rc;
}
