/* ip_budget.c — the process's memory budget (ip_budget.h).
 *
 * Three atomics: the limit, the bytes charged now and the most ever charged.
 * ip_budget_try adds with a compare-and-swap loop so that a charge that does
 * not fit is never visible to another thread (no add-then-undo window in
 * which a second charger would be refused for bytes that were never held).
 * The peak is raised the same way after a successful charge.
 */
#include "ip_budget.h"

#include <stdatomic.h>

#define DEFAULT_LIMIT (1024LL * 1024 * 1024)

static _Atomic int64_t limit_bytes = DEFAULT_LIMIT;
static _Atomic int64_t used_bytes;
static _Atomic int64_t peak_bytes;

void ip_budget_set_limit(int64_t bytes)
{
    atomic_store(&limit_bytes, bytes > 0 ? bytes : 0);
}

int64_t ip_budget_limit(void)
{
    return atomic_load(&limit_bytes);
}

static void raise_peak(int64_t now)
{
    int64_t peak = atomic_load(&peak_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, now)) {
    }
}

bool ip_budget_try(int64_t n)
{
    if (n <= 0)
        return n == 0;
    int64_t lim = atomic_load(&limit_bytes);
    int64_t cur = atomic_load(&used_bytes);
    do {
        if (n > lim - cur)
            return false;
    } while (!atomic_compare_exchange_weak(&used_bytes, &cur, cur + n));
    raise_peak(cur + n);
    return true;
}

void ip_budget_give(int64_t n)
{
    if (n > 0)
        atomic_fetch_sub(&used_bytes, n);
}

int64_t ip_budget_used(void)
{
    return atomic_load(&used_bytes);
}

int64_t ip_budget_peak(void)
{
    return atomic_load(&peak_bytes);
}
