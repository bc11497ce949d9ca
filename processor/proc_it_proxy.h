/* proc_it_proxy.h — a TCP proxy that an integration test switches off and
 * on, so that a processor sees a service go down and come back while the
 * service itself keeps running for everyone else (test code only).
 *
 * Down: nothing listens on the port (connections are refused) and every
 * connection it carried is closed, as when the service is killed. Up: it
 * accepts and forwards each connection to the target, byte for byte. Cut: up,
 * but the service "dies" at the first large request (it_proxy_cut_after).
 */
#ifndef PROC_IT_PROXY_H
#define PROC_IT_PROXY_H

#include <stdbool.h>
#include <stddef.h>

typedef struct it_proxy it_proxy;

/* A proxy from 127.0.0.1:`port` to `target_url` ("tcp://host:port"), down.
 * NULL when the URL does not parse or out of memory. */
it_proxy *it_proxy_new(int port, const char *target_url);

/* Switches it up (listening, forwarding) or down (refusing, every
 * connection closed). false when the port cannot be bound. */
bool it_proxy_set_up(it_proxy *p, bool up);

/* Arms a cut: the first connection that has carried more than `bytes`
 * towards the target (a large request, such as a PutObject, where small ones
 * passed) is closed before those bytes are forwarded, and from then on every
 * new connection is closed at once, as if the service had died mid-job.
 * it_proxy_set_up(p, false) then (p, true) ends it; 0 disarms. */
void it_proxy_cut_after(it_proxy *p, size_t bytes);

/* The cut happened. */
bool it_proxy_was_cut(it_proxy *p);

/* Down, then freed. NULL does nothing. */
void it_proxy_free(it_proxy *p);

#endif
