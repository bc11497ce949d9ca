/* ip_lifecycle.h — start-up and shutdown common to every service binary.
 *
 * ip_lifecycle_init() blocks SIGTERM, SIGINT and SIGHUP in the calling thread
 * (call it first in main, before any thread starts, so every thread inherits
 * the mask) and ignores SIGPIPE. ip_lifecycle_wait() then waits for one of them
 * with sigtimedwait, so shutdown runs in main's normal flow, not in a handler.
 */
#ifndef IP_LIFECYCLE_H
#define IP_LIFECYCLE_H

#include <stdbool.h>

void ip_lifecycle_init(void);

/* Waits up to timeout_ms (< 0: forever) for SIGTERM/SIGINT/SIGHUP. Returns the
 * signal number, or 0 on timeout. */
int ip_lifecycle_wait(int timeout_ms);

#endif
