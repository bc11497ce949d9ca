/* gw_events_test.c — the SSE hub with a real libmicrohttpd daemon in-process:
 * a reading client gets every event in order, an id filter holds, a client
 * that stops reading is dropped once its buffer bound is passed (the others
 * keep going), and closing the hub ends suspended streams so the daemon stops
 * without hanging. The daemon shrinks each accepted socket's send buffer so a
 * non-reading client fills it quickly. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_app.h"
#include "gw_events.h"
#include "ip_testing.h"
#include "ip_time.h"

static gw_app app;

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *size, void **con_cls)
{
    (void)cls, (void)method, (void)version, (void)data, (void)size;
    if (!*con_cls) {
        *con_cls = (void *)1;
        return MHD_YES;
    }
    gw_events_query q = {0};
    if (strcmp(url, "/filtered") == 0) {
        q.nids = 1;
        strcpy(q.ids[0], "00000000-0000-7000-8000-000000000001");
    }
    struct MHD_Response *r = gw_events_response(app.events, c, &q);
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static void small_sndbuf(void *cls, struct MHD_Connection *c, void **socket_context,
                         enum MHD_ConnectionNotificationCode code)
{
    (void)cls, (void)socket_context;
    if (code != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    int sz = 4096;
    setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
}

static int client(int port, const char *path, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return -1;
    char req[128];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n)
        return -1;
    return fd;
}

/* Reads what is there (waiting up to ms); appends to buf. Returns bytes read,
 * -1 on EOF. */
static ssize_t drain(int fd, char *buf, size_t cap, size_t *len, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t total = 0;
    while (poll(&p, 1, ms) > 0) {
        char tmp[65536];
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n <= 0)
            return total ? total : -1;
        size_t k = (size_t)n < cap - *len - 1 ? (size_t)n : cap - *len - 1;
        memcpy(buf + *len, tmp, k);
        *len += k;
        buf[*len] = '\0';
        total += n;
        ms = 5;
    }
    return total;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Counts "event: status" in buf incrementally: *pos is where the last scan
 * stopped (a needle split across reads is found on the next call). */
static size_t events_seen(const char *buf, size_t len, size_t *pos, size_t *total)
{
    static const char needle[] = "event: status";
    const char *p = buf + *pos;
    while ((p = strstr(p, needle))) {
        (*total)++;
        p += sizeof needle - 1;
        *pos = (size_t)(p - buf);
    }
    if (len >= sizeof needle && *pos < len - (sizeof needle - 1))
        *pos = len - (sizeof needle - 1);
    return *total;
}

static void publish(int i, const char *id)
{
    Imageproc__StatusEvent e = IMAGEPROC__STATUS_EVENT__INIT;
    e.id = (char *)id;
    e.status = IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING;
    e.variant_kind = IP_VARIANT_THUMBNAIL;
    e.variant_status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    e.at_us = ip_now_us();
    e.seq = i;
    gw_events_publish(app.events, &e);
}

static void test_hub(void)
{
    app.cfg.metadata_events_url = "tcp://127.0.0.1:1"; /* nothing there: dials in the background */
    app.cfg.sse_heartbeat_ms = 200;
    app.cfg.sse_buffer_bytes = 16 * 1024;
    app.cfg.sse_max_clients = 8;
    gw_metrics_register(&app.m);
    CHECK_ST(gw_events_new(&app, &app.events), IP_OK, "the hub did not start");
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME,
                         0, NULL, NULL, access_cb, NULL, MHD_OPTION_THREAD_POOL_SIZE, 2u,
                         MHD_OPTION_NOTIFY_CONNECTION, small_sndbuf, NULL, MHD_OPTION_END);
    CHECK(d != NULL);
    int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    int fast = client(port, "/all", 0);
    int filt = client(port, "/filtered", 0);
    int slow = client(port, "/all", 2048);
    CHECK(fast >= 0 && filt >= 0 && slow >= 0);
    static char fb[4 << 20], xb[1 << 16], sb[1 << 16];
    size_t fl = 0, xl = 0, sl = 0;
    drain(fast, fb, sizeof fb, &fl, 1000);
    drain(filt, xb, sizeof xb, &xl, 1000);
    drain(slow, sb, sizeof sb, &sl, 1000);
    EXPECT(strstr(fb, "text/event-stream") && strstr(fb, ": connected"));
    /* Heartbeats at 200 ms. */
    drain(fast, fb, sizeof fb, &fl, 700);
    EXPECT(count(fb, ": heartbeat") >= 1);
    /* 2000 events of ~250 bytes: far past the slow client's 16 KiB bound. */
    size_t fpos = 0, fseen = 0;
    for (int i = 0; i < 2000; i++) {
        publish(i, i == 1000 ? "00000000-0000-7000-8000-000000000001"
                             : "00000000-0000-7000-8000-000000000002");
        /* Pace like a real publisher: let the reading client catch up every
         * 20 events (about 5 KiB, under its bound). */
        if (i % 20 == 19)
            for (int k = 0; k < 100 && events_seen(fb, fl, &fpos, &fseen) < (size_t)i + 1; k++)
                drain(fast, fb, sizeof fb, &fl, 20);
    }
    for (int k = 0; k < 40 && events_seen(fb, fl, &fpos, &fseen) < 2000; k++)
        drain(fast, fb, sizeof fb, &fl, 100);
    EXPECT(count(fb, "event: status") == 2000);
    EXPECT(strstr(fb, "id: 0\n") && strstr(fb, "id: 1999\n") &&
           strstr(fb, "id: 0\n") < strstr(fb, "id: 1999\n"));
    drain(filt, xb, sizeof xb, &xl, 300);
    EXPECT(count(xb, "event: status") == 1 && strstr(xb, "id: 1000\n"));
    /* The slow client was dropped: what it can still read ends in EOF, short of 2000. */
    ssize_t r = 0;
    for (int k = 0; k < 100 && r >= 0; k++)
        r = drain(slow, sb, sizeof sb, &sl, 100);
    EXPECT(r == -1);
    EXPECT(count(sb, "event: status") < 2000);
    char *m = ip_metrics_render();
    EXPECT(m && strstr(m, "gw_sse_dropped_total 1"));
    free(m);
    /* Closing the hub ends the (suspended) streams — the chunked body's last
     * chunk arrives — and the daemon stops without waiting on them. */
    gw_events_close(app.events);
    for (int k = 0; k < 50 && !(fl >= 5 && !memcmp(fb + fl - 5, "0\r\n\r\n", 5)); k++)
        drain(fast, fb, sizeof fb, &fl, 100);
    EXPECT(fl >= 5 && !memcmp(fb + fl - 5, "0\r\n\r\n", 5));
    MHD_stop_daemon(d);
    gw_events_free(app.events);
    close(fast);
    close(filt);
    close(slow);
}

static const ip_test_case tests[] = {
    IP_TEST(hub),
};

IP_TEST_MAIN(tests)
