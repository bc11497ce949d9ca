/* ip_budget.h — one memory budget per process for its large buffers.
 *
 * Every buffer whose size an outside party can influence (an upload being
 * received, the RPC message that carries it, a chunk of an original being
 * sent, a downloaded original) is charged here before it is allocated and
 * given back when it is freed. ip_budget_try() refuses (false) when the charge
 * would take the total over the limit: the caller answers 503 "busy" and
 * allocates nothing. Sizes are what is really held (a buffer's capacity, each
 * copy counted), never a client's Content-Length. Lock-free (one atomic).
 */
#ifndef IP_BUDGET_H
#define IP_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

/* Sets the process's limit in bytes (once, at start; default 1 GiB). */
void ip_budget_set_limit(int64_t bytes);
int64_t ip_budget_limit(void);

/* Charges n bytes if they fit; false (nothing charged) when they do not. */
bool ip_budget_try(int64_t n);

/* Gives back n bytes charged earlier. */
void ip_budget_give(int64_t n);

/* Bytes charged now, and the most ever charged at once. */
int64_t ip_budget_used(void);
int64_t ip_budget_peak(void);

#endif
