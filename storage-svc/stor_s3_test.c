/* stor_s3_test.c — tests of the S3 client's behaviour against a scripted fake
 * S3 on a loopback port: retries (5xx and dropped connections retried, 4xx
 * never, bucket creation never), the mapping of answers to statuses,
 * timeouts and refused connections as UNAVAILABLE, size caps, kept-alive
 * connections, the caller's bucket policy sent as given, multi-object delete
 * errors, and ListObjectsV2 paging.
 *
 * The fake server is one thread serving one connection at a time: it reads a
 * request (headers, then Content-Length bytes), records its request line, and
 * answers with the next entry of the test's script ("close" drops the
 * connection unanswered, "hang" never answers). Run one test by name or all
 * with no argument; the table of tests is at the end.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ip_log.h"
#include "ip_time.h"
#include "stor_s3.h"
#include "ip_keys.h"
#include "ip_testing.h"

/* ------------------------------------------------------------ fake S3 */

#define MAX_SCRIPT 16
#define MAX_SEEN 32

typedef struct fake {
    int lfd;
    int port;
    pthread_t th;
    pthread_mutex_t mu;
    const char *script[MAX_SCRIPT]; /* full HTTP answers, "close" or "hang" */
    int n_script;
    int requests;              /* requests read */
    int connections;           /* connections accepted */
    char seen[MAX_SEEN][512];  /* request lines */
    char body[MAX_SEEN][1024]; /* request bodies, cut to fit */
    volatile int stop;
} fake;

static fake F;

/* Reads one request, its line into `line` and the start of its body into
 * `body`; returns false when the peer closed or on error. */
static bool read_request(int fd, char *line, size_t linelen, char *body_out, size_t bodylen)
{
    char buf[65536];
    size_t len = 0;
    char *end = NULL;
    while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
        if (len == sizeof buf)
            return false;
        ssize_t n = recv(fd, buf + len, sizeof buf - len, 0);
        if (n <= 0)
            return false;
        len += (size_t)n;
    }
    char *eol = memchr(buf, '\r', len);
    size_t ll = (size_t)(eol - buf) < linelen - 1 ? (size_t)(eol - buf) : linelen - 1;
    memcpy(line, buf, ll);
    line[ll] = '\0';
    size_t body = 0;
    char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl && cl < end)
        body = (size_t)strtoull(cl + 17, NULL, 10);
    size_t have = len - (size_t)(end + 4 - buf);
    size_t kept = have < bodylen - 1 ? have : bodylen - 1;
    memcpy(body_out, end + 4, kept);
    while (have < body) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return false;
        size_t more = kept + (size_t)n < bodylen - 1 ? (size_t)n : bodylen - 1 - kept;
        memcpy(body_out + kept, buf, more);
        kept += more;
        have += (size_t)n;
    }
    body_out[kept < body ? kept : body] = '\0';
    return true;
}

static void *fake_main(void *arg)
{
    (void)arg;
    while (!F.stop) {
        int fd = accept(F.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&F.mu);
        F.connections++;
        pthread_mutex_unlock(&F.mu);
        char line[512], body[1024];
        while (!F.stop && read_request(fd, line, sizeof line, body, sizeof body)) {
            pthread_mutex_lock(&F.mu);
            int i = F.requests++;
            if (i < MAX_SEEN) {
                snprintf(F.seen[i], sizeof F.seen[i], "%s", line);
                snprintf(F.body[i], sizeof F.body[i], "%s", body);
            }
            const char *ans = i < F.n_script ? F.script[i] : "close";
            pthread_mutex_unlock(&F.mu);
            if (strcmp(ans, "close") == 0)
                break;
            if (strcmp(ans, "hang") == 0) {
                while (!F.stop) {
                    struct timespec ts = {0, 10 * 1000000L};
                    nanosleep(&ts, NULL);
                }
                break;
            }
            size_t n = strlen(ans);
            if (send(fd, ans, n, MSG_NOSIGNAL) != (ssize_t)n)
                break;
        }
        close(fd);
    }
    return NULL;
}

static void fake_start(const char *const *script, int n)
{
    memset(&F, 0, sizeof F);
    pthread_mutex_init(&F.mu, NULL);
    for (int i = 0; i < n && i < MAX_SCRIPT; i++)
        F.script[i] = script[i];
    F.n_script = n;
    F.lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(F.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(F.lfd, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(F.lfd, (struct sockaddr *)&a, &al);
    F.port = ntohs(a.sin_port);
    listen(F.lfd, 8);
    /* accept() wakes up every 100 ms to notice stop. */
    struct timeval tv = {0, 100000};
    setsockopt(F.lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    pthread_create(&F.th, NULL, fake_main, NULL);
}

static void fake_stop(void)
{
    F.stop = 1;
    shutdown(F.lfd, SHUT_RDWR);
    pthread_join(F.th, NULL);
    close(F.lfd);
    pthread_mutex_destroy(&F.mu);
}

static stor_s3 *client(int port, int retries)
{
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d/", port);
    stor_s3_opts o = {.endpoint = ep,
                      .region = "us-east-1",
                      .bucket = "images",
                      .access_key = "ak",
                      .secret_key = "sk",
                      .connect_timeout_ms = 1000,
                      .timeout_ms = 5000,
                      .retries = retries};
    stor_s3 *s3 = NULL;
    CHECK_ST(stor_s3_new(&o, &s3), IP_OK, "stor_s3_new");
    return s3;
}

#define OK_EMPTY "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
#define ANS(status, body)                                                                          \
    "HTTP/1.1 " status "\r\nContent-Type: application/xml\r\nContent-Length: " body

static char err[512];

/* ------------------------------------------------------------ tests */

static void test_retry_5xx(void)
{
    const char *script[] = {"HTTP/1.1 503 Slow Down\r\nContent-Length: 0\r\n\r\n",
                            "HTTP/1.1 500 Internal\r\nContent-Length: 0\r\n\r\n",
                            ("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nETag: \"abc\"\r\n"
                             "Content-Type: text/plain\r\n\r\n")};
    fake_start(script, 3);
    stor_s3 *s3 = client(F.port, 3);
    stor_obj_info info;
    EXPECT_ST(stor_s3_head(s3, "o/x", &info, 0, err, sizeof err), IP_OK, err);
    EXPECT(F.requests == 3);
    EXPECT(info.size == 7 && strcmp(info.etag, "abc") == 0);
    EXPECT(strcmp(info.content_type, "text/plain") == 0);
    EXPECT(strncmp(F.seen[0], "HEAD /images/o/x HTTP/1.1", 25) == 0);
    stor_s3_free(s3);
    fake_stop();
}

static void test_retry_exhausted(void)
{
    const char *e500 = "HTTP/1.1 500 Internal\r\nContent-Length: 0\r\n\r\n";
    const char *script[] = {e500, e500, e500, e500, e500, e500};
    fake_start(script, 6);
    stor_s3 *s3 = client(F.port, 2);
    EXPECT_ST(stor_s3_put(s3, "o/x", "abc", 3, "text/plain", NULL, NULL, 0, err, sizeof err),
              IP_UNAVAILABLE, err);
    EXPECT(F.requests == 3); /* one try and two retries */
    stor_s3_free(s3);
    fake_stop();
}

static void test_retry_dropped(void)
{
    /* A connection dropped without an answer is retried on a new connection. */
    const char *script[] = {"close", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"};
    fake_start(script, 2);
    stor_s3 *s3 = client(F.port, 3);
    void *data = NULL;
    size_t len = 0;
    EXPECT_ST(stor_s3_get(s3, "o/x", 1024, &data, &len, NULL, 0, err, sizeof err), IP_OK, err);
    EXPECT(len == 2 && data && memcmp(data, "hi", 2) == 0);
    EXPECT(F.requests == 2 && F.connections == 2);
    free(data);
    stor_s3_free(s3);
    fake_stop();
}

static void test_no_retry_4xx(void)
{
    const char *body = "<Error><Code>InvalidArgument</Code><Message>bad thing</Message></Error>";
    char ans[512];
    snprintf(ans, sizeof ans,
             "HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    const char *script[] = {ans, OK_EMPTY};
    fake_start(script, 2);
    stor_s3 *s3 = client(F.port, 3);
    EXPECT_ST(stor_s3_put(s3, "o/x", "abc", 3, NULL, NULL, NULL, 0, err, sizeof err),
              IP_INVALID_ARGUMENT, err);
    EXPECT(F.requests == 1);
    EXPECT(strstr(err, "InvalidArgument") && strstr(err, "bad thing"));
    stor_s3_free(s3);
    fake_stop();
}

static void test_map_403_404(void)
{
    const char *b403 = "<Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>";
    const char *b404 = "<Error><Code>NoSuchKey</Code><Message>no key</Message></Error>";
    const char *bnb = "<Error><Code>NoSuchBucket</Code><Message>no bucket</Message></Error>";
    char a1[512], a2[512], a3[512];
    snprintf(a1, sizeof a1, "HTTP/1.1 403 Forbidden\r\nContent-Length: %zu\r\n\r\n%s", strlen(b403),
             b403);
    snprintf(a2, sizeof a2, "HTTP/1.1 404 Not Found\r\nContent-Length: %zu\r\n\r\n%s", strlen(b404),
             b404);
    snprintf(a3, sizeof a3, "HTTP/1.1 404 Not Found\r\nContent-Length: %zu\r\n\r\n%s", strlen(bnb),
             bnb);
    const char *script[] = {a1, a2, a3};
    fake_start(script, 3);
    stor_s3 *s3 = client(F.port, 3);
    void *data = NULL;
    size_t len = 0;
    EXPECT_ST(stor_s3_get(s3, "o/x", 1024, &data, &len, NULL, 0, err, sizeof err),
              IP_FAILED_PRECONDITION, err);
    EXPECT(strstr(err, "Access Denied.") != NULL);
    EXPECT_ST(stor_s3_get(s3, "o/x", 1024, &data, &len, NULL, 0, err, sizeof err), IP_NOT_FOUND,
              err);
    EXPECT_ST(stor_s3_get(s3, "o/x", 1024, &data, &len, NULL, 0, err, sizeof err),
              IP_FAILED_PRECONDITION, err);
    EXPECT(strstr(err, "NoSuchBucket") != NULL);
    EXPECT(data == NULL && len == 0);
    EXPECT(F.requests == 3);
    stor_s3_free(s3);
    fake_stop();
}

static void test_timeout(void)
{
    const char *script[] = {"hang"};
    fake_start(script, 1);
    stor_s3 *s3 = client(F.port, 3);
    int64_t t0 = ip_mono_ms();
    EXPECT_ST(stor_s3_head(s3, "o/x", NULL, 300, err, sizeof err), IP_UNAVAILABLE, err);
    int64_t ms = ip_mono_ms() - t0;
    EXPECT(ms >= 250 && ms < 1500);
    stor_s3_free(s3);
    fake_stop();
}

static void test_refused(void)
{
    /* A port that was just free: nothing listens there. */
    fake_start(NULL, 0);
    int port = F.port;
    fake_stop();
    stor_s3 *s3 = client(port, 3);
    int64_t t0 = ip_mono_ms();
    EXPECT_ST(stor_s3_head(s3, "o/x", NULL, 5000, err, sizeof err), IP_UNAVAILABLE, err);
    EXPECT(ip_mono_ms() - t0 < 2000); /* retried with backoff, not until the budget */
    EXPECT(strstr(err, "unreachable") != NULL);
    stor_s3_free(s3);
}

static void test_keepalive(void)
{
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    const char *script[MAX_SCRIPT];
    for (int i = 0; i < MAX_SCRIPT; i++)
        script[i] = ok;
    fake_start(script, MAX_SCRIPT);
    stor_s3 *s3 = client(F.port, 0);
    for (int i = 0; i < MAX_SCRIPT; i++)
        EXPECT_ST(stor_s3_head(s3, "o/x", NULL, 0, err, sizeof err), IP_OK, err);
    EXPECT(F.requests == MAX_SCRIPT);
    EXPECT(F.connections == 1);
    stor_s3_free(s3);
    fake_stop();
}

static void test_bucket_create_not_retried(void)
{
    const char *nb = "<Error><Code>NoSuchBucket</Code><Message>none</Message></Error>";
    char get404[512];
    snprintf(get404, sizeof get404, "HTTP/1.1 404 Not Found\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(nb), nb);
    const char *script[] = {"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", get404,
                            "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", OK_EMPTY, OK_EMPTY};
    char *policy = ip_bucket_policy_json("images");
    CHECK(policy != NULL);
    fake_start(script, 5);
    stor_s3 *s3 = client(F.port, 3);
    EXPECT_ST(stor_s3_ensure_bucket(s3, policy, 0, err, sizeof err), IP_UNAVAILABLE, err);
    EXPECT(F.requests == 3);
    EXPECT(strncmp(F.seen[1], "GET /images?location= ", 22) == 0);
    EXPECT(strncmp(F.seen[2], "PUT /images ", 12) == 0);
    stor_s3_free(s3);
    fake_stop();

    /* Made, then the policy: the caller's text, sent as given. */
    const char *script2[] = {"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", get404,
                             OK_EMPTY, "HTTP/1.1 204 No Content\r\n\r\n"};
    fake_start(script2, 4);
    s3 = client(F.port, 3);
    EXPECT_ST(stor_s3_ensure_bucket(s3, policy, 0, err, sizeof err), IP_OK, err);
    EXPECT(F.requests == 4);
    EXPECT(strncmp(F.seen[3], "PUT /images?policy= ", 20) == 0);
    EXPECT_EQ_STR(F.body[3], policy);
    stor_s3_free(s3);
    fake_stop();
    free(policy);

    /* A bucket that exists and no policy given: one HEAD, nothing else. */
    const char *script3[] = {OK_EMPTY, OK_EMPTY};
    fake_start(script3, 2);
    s3 = client(F.port, 3);
    EXPECT_ST(stor_s3_ensure_bucket(s3, NULL, 0, err, sizeof err), IP_OK, err);
    EXPECT(F.requests == 1);
    EXPECT(strncmp(F.seen[0], "HEAD /images ", 13) == 0);
    stor_s3_free(s3);
    fake_stop();
}

static void test_wrong_credentials(void)
{
    const char *sig = "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature "
                      "we calculated does not match</Message></Error>";
    char get403[512];
    snprintf(get403, sizeof get403, "HTTP/1.1 403 Forbidden\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(sig), sig);
    const char *script[] = {"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", get403};
    fake_start(script, 2);
    stor_s3 *s3 = client(F.port, 3);
    EXPECT_ST(stor_s3_ensure_bucket(s3, NULL, 0, err, sizeof err), IP_FAILED_PRECONDITION, err);
    EXPECT(strstr(err, "SignatureDoesNotMatch") && strstr(err, "does not match"));
    EXPECT(F.requests == 2);
    stor_s3_free(s3);
    fake_stop();
}

static void test_get_too_large(void)
{
    const char *script[] = {"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"};
    fake_start(script, 1);
    stor_s3 *s3 = client(F.port, 3);
    void *data = (void *)1;
    size_t len = 1;
    EXPECT_ST(stor_s3_get(s3, "o/x", 100, &data, &len, NULL, 0, err, sizeof err),
              IP_RESOURCE_EXHAUSTED, err);
    EXPECT(data == NULL && len == 0);
    EXPECT(F.requests == 1);
    stor_s3_free(s3);
    fake_stop();
}

static void test_delete_errors(void)
{
    const char *body = "<DeleteResult><Error><Key>o/a</Key><Code>AccessDenied</Code>"
                       "<Message>Access Denied</Message></Error></DeleteResult>";
    char ans[512];
    snprintf(ans, sizeof ans, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(body),
             body);
    const char *script[] = {ans};
    fake_start(script, 1);
    stor_s3 *s3 = client(F.port, 3);
    const char *keys[] = {"o/a", "o/b"};
    int64_t deleted = -1;
    EXPECT_ST(stor_s3_delete_keys(s3, keys, 2, &deleted, 0, err, sizeof err),
              IP_FAILED_PRECONDITION, err);
    EXPECT(deleted == 1);
    EXPECT(strstr(err, "o/a") && strstr(err, "AccessDenied"));
    EXPECT(strncmp(F.seen[0], "POST /images?delete= ", 21) == 0);
    stor_s3_free(s3);
    fake_stop();
}

static void test_list_paging(void)
{
    const char *p1 = "<ListBucketResult><IsTruncated>true</IsTruncated>"
                     "<NextContinuationToken>tok+1/=</NextContinuationToken>"
                     "<Contents><Key>t/p/a</Key></Contents><Contents><Key>t/p/b</Key></Contents>"
                     "</ListBucketResult>";
    const char *p2 = "<ListBucketResult><IsTruncated>false</IsTruncated>"
                     "<Contents><Key>t/p/c</Key></Contents></ListBucketResult>";
    const char *dr = "<DeleteResult></DeleteResult>";
    char a1[1024], a2[1024], a3[256], a4[256];
    snprintf(a1, sizeof a1, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(p1), p1);
    snprintf(a2, sizeof a2, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(dr), dr);
    snprintf(a3, sizeof a3, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(p2), p2);
    snprintf(a4, sizeof a4, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(dr), dr);
    const char *script[] = {a1, a2, a3, a4};
    fake_start(script, 4);
    stor_s3 *s3 = client(F.port, 3);
    int64_t deleted = -1;
    EXPECT_ST(stor_s3_delete_prefix(s3, "t/p/", &deleted, 0, err, sizeof err), IP_OK, err);
    EXPECT(deleted == 3);
    EXPECT(F.requests == 4);
    EXPECT(strstr(F.seen[0], "GET /images?list-type=2&max-keys=1000&prefix=t%2Fp%2F ") ==
           F.seen[0]);
    EXPECT(strstr(F.seen[2], "GET /images?continuation-token=tok%2B1%2F%3D&list-type=2&"
                             "max-keys=1000&prefix=t%2Fp%2F ") == F.seen[2]);
    stor_s3_free(s3);
    fake_stop();
}

static void test_retry_racing_folder(void)
{
    const char *b = "<Error><Code>ExistingObjectIsDirectory</Code>"
                    "<Message>Existing Object is a directory.</Message></Error>";
    char a409[512];
    snprintf(a409, sizeof a409, "HTTP/1.1 409 Conflict\r\nContent-Length: %zu\r\n\r\n%s", strlen(b),
             b);
    const char *script[] = {a409, OK_EMPTY};
    fake_start(script, 2);
    stor_s3 *s3 = client(F.port, 3);
    EXPECT_ST(stor_s3_put(s3, "t/a/b.jpg", "x", 1, "image/jpeg", NULL, NULL, 0, err, sizeof err),
              IP_OK, err);
    EXPECT(F.requests == 2);
    stor_s3_free(s3);
    fake_stop();

    /* Any other conflict is final. */
    const char *other = "<Error><Code>OperationAborted</Code><Message>x</Message></Error>";
    char o409[512];
    snprintf(o409, sizeof o409, "HTTP/1.1 409 Conflict\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(other), other);
    const char *script2[] = {o409, OK_EMPTY};
    fake_start(script2, 2);
    s3 = client(F.port, 3);
    EXPECT_ST(stor_s3_put(s3, "t/a/b.jpg", "x", 1, "image/jpeg", NULL, NULL, 0, err, sizeof err),
              IP_FAILED_PRECONDITION, err);
    EXPECT(F.requests == 1);
    stor_s3_free(s3);
    fake_stop();
}

static void test_key_encoding(void)
{
    const char *script[] = {OK_EMPTY};
    fake_start(script, 1);
    stor_s3 *s3 = client(F.port, 0);
    EXPECT_ST(stor_s3_put(s3, "t/a b+c/%x=~.jpg", "x", 1, "image/jpeg", "max-age=60", NULL, 0, err,
                          sizeof err),
              IP_OK, err);
    EXPECT(strncmp(F.seen[0], "PUT /images/t/a%20b%2Bc/%25x%3D~.jpg HTTP/1.1", 45) == 0);
    stor_s3_free(s3);
    fake_stop();
}

static const ip_test_case tests[] = {
    IP_TEST(retry_5xx),         IP_TEST(retry_exhausted), IP_TEST(retry_dropped),
    IP_TEST(no_retry_4xx),      IP_TEST(map_403_404),     IP_TEST(timeout),
    IP_TEST(refused),           IP_TEST(keepalive),       IP_TEST(bucket_create_not_retried),
    IP_TEST(wrong_credentials), IP_TEST(get_too_large),   IP_TEST(delete_errors),
    IP_TEST(list_paging),       IP_TEST(key_encoding),    IP_TEST(retry_racing_folder),
};

int main(int argc, char **argv)
{
    ip_log_init("stor_s3_test", IP_LOG_ERROR);
    return ip_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
