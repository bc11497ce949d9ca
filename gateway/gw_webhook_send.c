/* gw_webhook_send.c — one webhook attempt over a libcurl easy handle.
 *
 * HOW IT WORKS. A fresh easy handle per attempt (attempts are seconds apart,
 * a connection cache would hold sockets to receivers for nothing): POST with
 * the body as it was fixed when the outbox row was written, the headers of
 * the Standard Webhooks scheme, "Expect:" cleared so a large body is sent
 * without waiting for 100-continue. The protocols are limited to http and
 * https for the request and for redirects, redirects are not followed (a 3xx
 * is reported as such: following one would let a receiver point the gateway
 * anywhere), the proxy is "" so no *_proxy variable of the environment
 * applies.
 *
 * LIMITS. CURLOPT_TIMEOUT_MS bounds the attempt, CURLOPT_CONNECTTIMEOUT_MS
 * the connection. The write callback counts the answer's bytes, keeps the
 * first ERR_BODY_KEEP for the error text and ends the transfer once
 * response_max_bytes have come: memory per attempt is a few hundred bytes
 * whatever the receiver sends, and a 2xx whose body was cut is delivered.
 * The progress callback ends the attempt when the stop flag is set.
 *
 * PRIVATE ADDRESSES. With allow_private false, CURLOPT_OPENSOCKETFUNCTION
 * sees every address libcurl is about to connect to (after name
 * resolution, for every address it tries) and returns CURL_SOCKET_BAD for a
 * private one: no socket, so no byte reaches it. The first refused address
 * is remembered for the error text; a name with a public and a private
 * address connects to the public one only.
 */
#include "gw_webhook_send.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "ip_time.h"
#include "ip_webhook.h"

/* Bytes of the answer kept for the error text of a failed attempt. */
#define ERR_BODY_KEEP 400

static const char *const result_names[] = {
    [GW_WEBHOOK_DELIVERED] = "delivered", [GW_WEBHOOK_HTTP_ERROR] = "http_error",
    [GW_WEBHOOK_TIMEOUT] = "timeout",     [GW_WEBHOOK_CONNECT_ERROR] = "connect_error",
    [GW_WEBHOOK_REFUSED] = "refused",     [GW_WEBHOOK_REDIRECT] = "redirect",
    [GW_WEBHOOK_STOPPED] = "stopped",
};

const char *gw_webhook_result_name(gw_webhook_result r)
{
    if ((int)r < 0 || (size_t)r >= sizeof result_names / sizeof result_names[0])
        return "unknown";
    return result_names[r];
}

/* ------------------------------------------------------- private addresses */

/* true when the IPv4 address a (host order) is in a refused range. */
static bool v4_private(uint32_t a)
{
    static const struct {
        uint32_t net, mask;
    } ranges[] = {
        {0x00000000u, 0xff000000u}, /* 0.0.0.0/8: this network, unspecified */
        {0x0a000000u, 0xff000000u}, /* 10/8 */
        {0x64400000u, 0xffc00000u}, /* 100.64/10: CGNAT */
        {0x7f000000u, 0xff000000u}, /* 127/8: loopback */
        {0xa9fe0000u, 0xffff0000u}, /* 169.254/16: link-local */
        {0xac100000u, 0xfff00000u}, /* 172.16/12 */
        {0xc0a80000u, 0xffff0000u}, /* 192.168/16 */
        {0xe0000000u, 0xf0000000u}, /* 224/4: multicast */
        {0xf0000000u, 0xf0000000u}, /* 240/4: reserved, broadcast */
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if ((a & ranges[i].mask) == ranges[i].net)
            return true;
    return false;
}

static uint32_t v4_at(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static bool v6_private(const unsigned char b[16])
{
    static const unsigned char zero[16] = {0};
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
        return true; /* :: and ::1 */
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, zero, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return v4_private(v4_at(b + 12));
    if ((b[0] & 0xfe) == 0xfc)
        return true; /* fc00::/7: unique local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return true; /* fe80::/10: link-local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
        return true; /* fec0::/10: site-local (deprecated, still private) */
    if (b[0] == 0xff)
        return true; /* ff00::/8: multicast */
    return false;
}

bool gw_webhook_addr_private(const struct sockaddr *sa)
{
    if (sa == NULL)
        return true;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return v4_private(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return v6_private(in6->sin6_addr.s6_addr);
    }
    return true;
}

/* --------------------------------------------------------------- transfer */

typedef struct attempt_ctx {
    const gw_webhook_send_opts *opts;
    size_t got;                   /* bytes of the answer read */
    bool cut;                     /* the transfer was ended at response_max_bytes */
    char body[ERR_BODY_KEEP + 1]; /* the first bytes of the answer */
    size_t kept;
    char refused[INET6_ADDRSTRLEN]; /* the first private address refused */
} attempt_ctx;

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    attempt_ctx *c = arg;
    size_t n = size * nmemb;
    size_t room = c->opts->response_max_bytes - c->got;
    size_t take = n < room ? n : room;
    if (c->kept < ERR_BODY_KEEP) {
        size_t k = ERR_BODY_KEEP - c->kept < take ? ERR_BODY_KEEP - c->kept : take;
        memcpy(c->body + c->kept, data, k);
        c->kept += k;
    }
    c->got += take;
    if (take < n) {
        c->cut = true;
        return CURL_WRITEFUNC_ERROR; /* ends the transfer: the rest is never read */
    }
    return n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const attempt_ctx *c = arg;
    return c->opts->stop != NULL && atomic_load(c->opts->stop) ? 1 : 0;
}

static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    attempt_ctx *c = arg;
    if (purpose == CURLSOCKTYPE_IPCXN && !c->opts->allow_private &&
        gw_webhook_addr_private(&addr->addr)) {
        if (c->refused[0] == '\0') {
            const void *a = addr->family == AF_INET6
                                ? (const void *)&((struct sockaddr_in6 *)&addr->addr)->sin6_addr
                                : (const void *)&((struct sockaddr_in *)&addr->addr)->sin_addr;
            if (inet_ntop(addr->family, a, c->refused, sizeof c->refused) == NULL)
                snprintf(c->refused, sizeof c->refused, "an address");
        }
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* "HTTP <status>: <the first bytes of the answer>", bytes outside printable
 * ASCII replaced by '?' (the text goes to PostgreSQL and JSON). */
static void http_error_text(int status, const attempt_ctx *c, char *out, size_t outlen)
{
    char clean[ERR_BODY_KEEP + 1];
    size_t n = 0;
    for (size_t i = 0; i < c->kept; i++) {
        unsigned char ch = (unsigned char)c->body[i];
        clean[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    while (n > 0 && clean[n - 1] == ' ')
        n--;
    clean[n] = '\0';
    if (n > 0)
        snprintf(out, outlen, "HTTP %d: %s", status, clean);
    else
        snprintf(out, outlen, "HTTP %d", status);
}

static void finish(gw_webhook_attempt *out, gw_webhook_result r, int64_t started)
{
    out->result = r;
    out->delivered = r == GW_WEBHOOK_DELIVERED;
    int64_t ms = ip_mono_ms() - started;
    out->duration_ms = ms < 0 ? 0 : ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* The outcome of a transfer that ended with `rc`. */
static gw_webhook_result classify(CURLcode rc, long status, const attempt_ctx *c,
                                  const char *curl_err, int64_t timeout_ms, gw_webhook_attempt *out)
{
    /* A complete answer, or one cut at the size bound: judged by status. */
    if ((rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && c->cut)) && status > 0) {
        out->status = (int)status;
        if (status >= 200 && status < 300)
            return GW_WEBHOOK_DELIVERED;
        if (status >= 300 && status < 400) {
            snprintf(out->error, sizeof out->error, "HTTP %ld: redirect not followed", status);
            return GW_WEBHOOK_REDIRECT;
        }
        http_error_text((int)status, c, out->error, sizeof out->error);
        return GW_WEBHOOK_HTTP_ERROR;
    }
    out->status = status > 0 ? (int)status : 0;
    const char *why = curl_err[0] != '\0' ? curl_err : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK:
        snprintf(out->error, sizeof out->error, "stopped: the gateway is shutting down");
        return GW_WEBHOOK_STOPPED;
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(out->error, sizeof out->error, "timeout after %lld ms", (long long)timeout_ms);
        return GW_WEBHOOK_TIMEOUT;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        snprintf(out->error, sizeof out->error, "refused: %s", why);
        return GW_WEBHOOK_REFUSED;
    case CURLE_COULDNT_CONNECT:
        if (c->refused[0] != '\0') {
            snprintf(out->error, sizeof out->error, "refused: %s is a private address", c->refused);
            return GW_WEBHOOK_REFUSED;
        }
        snprintf(out->error, sizeof out->error, "connect: %s", why);
        return GW_WEBHOOK_CONNECT_ERROR;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(out->error, sizeof out->error, "resolve: %s", why);
        return GW_WEBHOOK_CONNECT_ERROR;
    default:
        if (status > 0) /* an answer that broke off */
            snprintf(out->error, sizeof out->error, "HTTP %ld: %s", status, why);
        else
            snprintf(out->error, sizeof out->error, "connect: %s", why);
        return GW_WEBHOOK_CONNECT_ERROR;
    }
}

void gw_webhook_send(const char *url, const char *secret, const char *msg_id, int64_t timestamp_s,
                     const char *body, size_t body_len, const gw_webhook_send_opts *opts,
                     gw_webhook_attempt *out)
{
    memset(out, 0, sizeof *out);
    int64_t started = ip_mono_ms();
    char sig[IP_WEBHOOK_SIGNATURE_MAX];
    if (ip_webhook_sign(secret, msg_id, timestamp_s, body, body_len, sig) != IP_OK) {
        snprintf(out->error, sizeof out->error, "refused: the subscription's secret is not valid");
        finish(out, GW_WEBHOOK_REFUSED, started);
        return;
    }
    char h_id[64 + IP_WEBHOOK_ID_MAX], h_ts[64], h_sig[64 + IP_WEBHOOK_SIGNATURE_MAX];
    snprintf(h_id, sizeof h_id, "webhook-id: %s", msg_id);
    snprintf(h_ts, sizeof h_ts, "webhook-timestamp: %lld", (long long)timestamp_s);
    snprintf(h_sig, sizeof h_sig, "webhook-signature: %s", sig);

    attempt_ctx c = {.opts = opts};
    char curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL, *t;
    const char *lines[] = {"Content-Type: application/json",
                           "User-Agent: ImageProcessor-Webhooks/1",
                           "Expect:",
                           h_id,
                           h_ts,
                           h_sig};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if ((t = curl_slist_append(hdrs, lines[i])) == NULL)
            goto no_memory;
        hdrs = t;
    }
    CURL *h = curl_easy_init();
    if (h == NULL)
        goto no_memory;
    int64_t connect_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
                         : opts->timeout_ms < 10000   ? opts->timeout_ms
                                                      : 10000;
    bool ok = curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_PROXY, "") == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)opts->timeout_ms) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "") == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_WRITEDATA, &c) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_XFERINFODATA, &c) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &c) == CURLE_OK &&
              curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err) == CURLE_OK;
    if (!ok) {
        snprintf(out->error, sizeof out->error, "refused: the url cannot be used");
        curl_easy_cleanup(h);
        curl_slist_free_all(hdrs);
        finish(out, GW_WEBHOOK_REFUSED, started);
        return;
    }
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    out->response_bytes = c.got;
    out->response_cut = c.cut;
    gw_webhook_result r = classify(rc, status, &c, curl_err, opts->timeout_ms, out);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    finish(out, r, started);
    return;
no_memory:
    curl_slist_free_all(hdrs);
    snprintf(out->error, sizeof out->error, "connect: out of memory");
    finish(out, GW_WEBHOOK_CONNECT_ERROR, started);
}
