/* stor_s3_retry.c — stor_s3_perform: one S3 call, its attempts included.
 *
 * RETRIES
 * The request is built once (stor_s3_request.c); then attempts
 * (stor_s3_attempt.c) run until one settles it. Whether to try again is read
 * from the translated status only: ip_status_is_transient says whether the
 * same request may succeed later. That is true for what the attempt
 * translated to IP_UNAVAILABLE — the connection failed (refused, reset,
 * nothing received, timed out), S3 answered 5xx, or an object PUT met the
 * one transient conflict of a file-backed S3 (409 ExistingObjectIsDirectory,
 * see racing_folder there) — and for nothing else: a 4xx will not change.
 *
 * Only a request marked idempotent is tried again (every object call, the
 * listing and the multi-object delete: repeating any of them gives the same
 * end state), at most s3->retries more times. Bucket creation and the policy
 * are not marked: start-up decides what to do with their failure. The wait
 * doubles from 50 ms up to 1 s, each wait drawn from its upper half (jitter,
 * so that the workers that failed together do not come back together), and
 * no attempt starts when the call's budget would run out during the wait:
 * the call then ends at once with the last attempt's status.
 */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "ip_log.h"
#include "ip_time.h"
#include "stor_s3_internal.h"

#define BACKOFF_FIRST_MS 50
#define BACKOFF_MAX_MS 1000

/* Whether attempt number `attempt` (0 the first), which ended in `st`, is
 * followed by another. */
static bool retry_allowed(const stor_s3 *s3, const stor_s3_req *rq, ip_status st, int attempt)
{
    return rq->idempotent && ip_status_is_transient(st) && attempt < s3->retries;
}

/* A wait in [backoff/2, backoff] milliseconds. */
static long jittered(stor_s3_handle *h, long backoff)
{
    return backoff / 2 + (long)(stor_s3_handle_rand(h) % (uint64_t)(backoff / 2 + 1));
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

ip_status stor_s3_perform(stor_s3 *s3, const stor_s3_req *rq, stor_s3_resp *resp, int64_t budget_ms,
                          char *err, size_t errlen)
{
    stor_s3_resp_reset(resp, rq->max_body);
    ip_errorf(err, errlen, "%s", "");
    int64_t deadline = stor_s3_deadline_ms(s3, budget_ms);

    stor_s3_built b;
    ip_status st = stor_s3_request_build(s3, rq, &b, err, errlen);
    if (st != IP_OK)
        return st;
    stor_s3_handle *h = stor_s3_handle_get(s3);
    if (!h) {
        ip_errorf(err, errlen, "s3 %s: out of memory for a curl handle", b.what);
        stor_s3_request_fini(&b);
        return IP_RESOURCE_EXHAUSTED;
    }

    long backoff = BACKOFF_FIRST_MS;
    for (int attempt = 0;; attempt++) {
        int64_t left = deadline - ip_mono_ms();
        if (left <= 0) {
            ip_errorf(err, errlen, "s3 %s: timed out", b.what);
            st = IP_UNAVAILABLE;
            break;
        }
        st = stor_s3_attempt(s3, h->curl, rq, &b, resp, left, attempt, err, errlen);
        if (!retry_allowed(s3, rq, st, attempt))
            break;
        long wait = jittered(h, backoff);
        if (deadline - ip_mono_ms() <= wait)
            break;
        ip_log(IP_LOG_WARN, "s3.retry", IP_LS("method", rq->method),
               IP_LS("key", rq->key ? rq->key : ""), IP_LI("attempt", attempt + 1),
               IP_LI("wait_ms", wait), IP_LS("err", err ? err : ""));
        sleep_ms(wait);
        if (backoff < BACKOFF_MAX_MS)
            backoff *= 2;
    }
    stor_s3_request_fini(&b);
    return st;
}
