/* ip_metrics_test.c — the registry renders the Prometheus text format; the
 * HTTP endpoint serves it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ip_metrics.h"
#include "ip_testing.h"

static void test_render(void)
{
    ip_metric *c = ip_metric_counter("t_requests_total", "Requests.", "route,code");
    CHECK(ip_metric_counter("t_requests_total", "again", "route,code") == c);
    ip_metric *g = ip_metric_gauge("t_inflight", "In flight.", NULL);
    static const double b[] = {0.1, 1};
    ip_metric *h = ip_metric_histogram("t_seconds", "Latency.", "route", b, 2);
    ip_metric_add(c, "upload,202", 1);
    ip_metric_add(c, "upload,202", 2);
    ip_metric_add(c, "get,404", 1);
    ip_metric_set(g, NULL, 5);
    ip_metric_observe(h, "upload", 0.05);
    ip_metric_observe(h, "upload", 0.5);
    ip_metric_observe(h, "upload", 5);
    ip_metric_add(c, "q\"uote,1", 1);
    char *t = ip_metrics_render();
    CHECK(t != NULL);
    fprintf(stderr, "%s", t);
    CHECK(strstr(t, "# TYPE t_requests_total counter\n") != NULL);
    CHECK(strstr(t, "t_requests_total{route=\"upload\",code=\"202\"} 3\n") != NULL);
    CHECK(strstr(t, "t_requests_total{route=\"get\",code=\"404\"} 1\n") != NULL);
    CHECK(strstr(t, "t_requests_total{route=\"q\\\"uote\",code=\"1\"} 1\n") != NULL);
    CHECK(strstr(t, "t_inflight 5\n") != NULL);
    CHECK(strstr(t, "t_seconds_bucket{route=\"upload\",le=\"0.10000000000000001\"} 1\n") != NULL ||
          strstr(t, "t_seconds_bucket{route=\"upload\",le=\"0.1\"} 1\n") != NULL);
    CHECK(strstr(t, "t_seconds_bucket{route=\"upload\",le=\"1\"} 2\n") != NULL);
    CHECK(strstr(t, "t_seconds_bucket{route=\"upload\",le=\"+Inf\"} 3\n") != NULL);
    CHECK(strstr(t, "t_seconds_count{route=\"upload\"} 3\n") != NULL);
    CHECK(strstr(t, "t_seconds_sum{route=\"upload\"} 5.5499999999999998\n") != NULL ||
          strstr(t, "t_seconds_sum{route=\"upload\"} 5.55\n") != NULL);
    free(t);
}

static char *http_get(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
    CHECK(write(fd, req, (size_t)n) == n);
    size_t cap = 65536, len = 0;
    char *buf = calloc(1, cap);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - len - 1)) > 0)
        len += (size_t)r;
    close(fd);
    return buf;
}

static void test_http(void)
{
    ip_metric *c = ip_metric_counter("t_http_total", "Hits.", NULL);
    ip_metric_add(c, NULL, 7);
    ip_metrics_http *h = NULL;
    CHECK_EQ_INT(ip_metrics_http_new("127.0.0.1:19399", &h), IP_OK);
    char *r = http_get(19399, "/metrics");
    CHECK(strstr(r, "200 OK") != NULL);
    CHECK(strstr(r, "t_http_total 7\n") != NULL);
    free(r);
    r = http_get(19399, "/healthz");
    CHECK(strstr(r, "200 OK") != NULL);
    free(r);
    r = http_get(19399, "/nope");
    CHECK(strstr(r, "404") != NULL);
    free(r);
    ip_metrics_http_free(h);
    ip_metrics_http *bad = NULL;
    CHECK_EQ_INT(ip_metrics_http_new("nonsense", &bad), IP_INVALID_ARGUMENT);
    CHECK(bad == NULL);
}

static const ip_test_case tests[] = {IP_TEST(render), IP_TEST(http)};
IP_TEST_MAIN(tests)
