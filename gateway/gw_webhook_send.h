/* gw_webhook_send.h — one attempt of one webhook delivery.
 *
 * gw_webhook_send POSTs a delivery's body to its subscription's URL with
 * libcurl: the Standard Webhooks headers (webhook-id, webhook-timestamp, and
 * webhook-signature made now, with this attempt's timestamp), only http and
 * https, no redirects followed, no proxy from the environment, a total and a
 * connect timeout, and at most response_max_bytes of the answer read. With
 * allow_private false, every address libcurl is about to connect to is
 * checked (gw_webhook_addr_private) and refused before the connection is
 * made, so a name that resolves to a private address never gets a request.
 *
 * Thread-safe: each call uses its own easy handle; curl_global_init must have
 * run (gateway/main.c). Nothing here logs and no secret leaves the call.
 */
#ifndef GW_WEBHOOK_SEND_H
#define GW_WEBHOOK_SEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Bytes of an attempt's error text at most, NUL included: FinishDelivery
 * keeps 500. */
#define GW_WEBHOOK_ERROR_MAX 501

typedef enum gw_webhook_result {
    GW_WEBHOOK_DELIVERED = 0,     /* a 2xx answer */
    GW_WEBHOOK_HTTP_ERROR = 1,    /* an answer that is neither 2xx nor 3xx */
    GW_WEBHOOK_TIMEOUT = 2,       /* no complete answer within the timeout */
    GW_WEBHOOK_CONNECT_ERROR = 3, /* name, connection, TLS or transfer failure */
    GW_WEBHOOK_REFUSED = 4,       /* a private address, or a URL libcurl refuses */
    GW_WEBHOOK_REDIRECT = 5,      /* a 3xx answer: redirects are not followed */
    GW_WEBHOOK_STOPPED = 6,       /* the stop flag was set during the attempt */
} gw_webhook_result;

/* "delivered", "http_error", "timeout", "connect_error", "refused",
 * "redirect", "stopped": the label of gw_webhook_attempts_total. */
const char *gw_webhook_result_name(gw_webhook_result r);

typedef struct gw_webhook_send_opts {
    int64_t timeout_ms;         /* the whole attempt */
    int64_t connect_timeout_ms; /* 0: min(timeout_ms, 10 s) */
    size_t response_max_bytes;  /* bytes of the answer read at most; then the transfer is cut */
    bool allow_private;         /* false: refuse private, loopback, ... addresses */
    const atomic_bool *stop;    /* NULL, or a flag that ends the attempt within about 1 s */
} gw_webhook_send_opts;

typedef struct gw_webhook_attempt {
    gw_webhook_result result;
    bool delivered;        /* result == GW_WEBHOOK_DELIVERED */
    int status;            /* the answer's HTTP status; 0 = no answer */
    int duration_ms;       /* from the start of the attempt to its end */
    size_t response_bytes; /* bytes of the answer's body read (at most response_max_bytes) */
    bool response_cut;     /* the answer was longer and the transfer was cut */
    /* "" when delivered; else "HTTP 500: <start of the body>", "HTTP 302:
     * redirect not followed", "timeout after N ms", "connect: ...",
     * "refused: 127.0.0.1 is a private address", ... (printable ASCII). */
    char error[GW_WEBHOOK_ERROR_MAX];
} gw_webhook_attempt;

/* One attempt: POST body[0..body_len) to `url`, signed with `secret` for
 * delivery `msg_id` at `timestamp_s` (unix seconds). All borrowed. The
 * outcome in *out (always filled). */
void gw_webhook_send(const char *url, const char *secret, const char *msg_id, int64_t timestamp_s,
                     const char *body, size_t body_len, const gw_webhook_send_opts *opts,
                     gw_webhook_attempt *out);

/* true when `sa` (AF_INET or AF_INET6) is an address a webhook must not
 * reach when private addresses are refused: unspecified (0.0.0.0/8, ::),
 * loopback (127/8, ::1), RFC 1918 (10/8, 172.16/12, 192.168/16), link-local
 * (169.254/16, fe80::/10), CGNAT (100.64/10), multicast (224/4, ff00::/8),
 * reserved and broadcast (240/4), unique local (fc00::/7), and the same IPv4
 * ranges in IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96) and NAT64
 * (64:ff9b::/96) IPv6 forms. Any other family counts as private. */
bool gw_webhook_addr_private(const struct sockaddr *sa);

#endif
