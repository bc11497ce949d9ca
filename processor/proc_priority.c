/* proc_priority.c — when the regeneration topic is held (proc_priority.h).
 *
 * The rule has no hysteresis: the hold follows the jobs topic from one poll
 * to the next. Each hold discards what librdkafka had prefetched of the
 * regeneration partitions and each release fetches it again from the
 * position, a cost of one fetch per burst of uploads.
 */
#include "proc_priority.h"

bool proc_priority_hold_regen(const proc_priority_state *s)
{
    int workers = s->workers > 0 ? s->workers : 1;
    return s->main_lag > 0 || s->main_queued > 0 || s->main_running >= workers;
}

int64_t proc_priority_lag(int64_t high, int64_t position)
{
    if (high < 0 || position < 0 || position >= high)
        return 0;
    return high - position;
}

int proc_priority_regen_max(int workers, int regen_max)
{
    if (workers < 1)
        workers = 1;
    if (regen_max <= 0)
        regen_max = workers - 1;
    if (regen_max > workers)
        regen_max = workers;
    return regen_max > 0 ? regen_max : 1;
}

bool proc_priority_may_start_regen(const proc_priority_state *s)
{
    return !proc_priority_hold_regen(s) &&
           s->regen_running < proc_priority_regen_max(s->workers, s->regen_max);
}
