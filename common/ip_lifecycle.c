/* ip_lifecycle.c — signal handling for service binaries (see ip_lifecycle.h).
 *
 * The shutdown signals are blocked in main before any thread starts, so every
 * thread inherits the mask and the signals stay pending until main collects
 * them with sigtimedwait(2): shutdown then runs in ordinary code, with no
 * async-signal-safety concerns. SIGPIPE is ignored so a peer closing a socket
 * is an error return, not a dead process.
 */
#include "ip_lifecycle.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

static void shutdown_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

void ip_lifecycle_init(void)
{
    sigset_t set;
    shutdown_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int ip_lifecycle_wait(int timeout_ms)
{
    sigset_t set;
    shutdown_set(&set);
    for (;;) {
        int sig;
        if (timeout_ms < 0) {
            sig = sigwaitinfo(&set, NULL);
        } else {
            struct timespec ts = {.tv_sec = timeout_ms / 1000,
                                  .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
            sig = sigtimedwait(&set, NULL, &ts);
        }
        if (sig > 0)
            return sig;
        if (errno == EAGAIN)
            return 0;
        if (errno != EINTR)
            return 0;
        /* EINTR: a signal we do not wait for (e.g. from a debugger); wait again.
         * The remaining time is not recomputed: a rare, slightly longer wait. */
    }
}
