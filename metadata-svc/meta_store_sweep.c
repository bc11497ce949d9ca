/* meta_store_sweep.c — ListStale: the rows a sweep puts back on the queue.
 *
 * Three selections, one statement (STALE_WHERE in meta_store.c), oldest
 * first by created_at:
 *   (a) pending and never enqueued, created before now - older_than (the
 *       upload's enqueue failed after its row was committed);
 *   (b) pending and enqueued before now - enqueued_older_than (the job was
 *       lost, or waits behind a stuck partition), when that age is > 0;
 *   (c) processing with a lease that ran out (the processor died or lost its
 *       partition), when expired_leases.
 *
 * CLAIMS
 * Every gateway may sweep. A sweep that passes claim_ms > 0 claims what it
 * gets: one statement picks the rows with FOR UPDATE SKIP LOCKED and sets
 * their swept_until = now + claim_ms (meta_st_stale_claim), and every
 * selection leaves out rows whose swept_until is still ahead. A concurrent
 * sweep skips the rows being claimed (locked), and one that reaches a row after
 * the claim committed re-checks it under the lock and drops it, so each row
 * goes to one sweep at a time; when the claim ends without the row having
 * moved on (the sweeper died before MarkEnqueued), the next sweep takes it.
 * Without a claim the statement only reads. A claim whose answer was lost
 * with its connection (run again by meta_db_query) only hides those rows
 * until it ends.
 */
#include <stdio.h>

#include <libpq-fe.h>

#include "meta_store_internal.h"

ip_status meta_store_list_stale(meta_store *s, meta_ctx *cx, const meta_stale_query *q,
                                Imageproc__Image ***images, size_t *n)
{
    PGresult *r = NULL;
    char age[24], lim[16], enq_age[24], claim[24];
    snprintf(age, sizeof(age), "%lld", (long long)q->older_than_us);
    snprintf(lim, sizeof(lim), "%d", q->limit);
    snprintf(enq_age, sizeof(enq_age), "%lld", (long long)q->enqueued_older_than_us);
    snprintf(claim, sizeof(claim), "%lld", (long long)q->claim_ms);
    const char *params[] = {age, lim, enq_age, q->expired_leases ? "true" : "false", claim};
    bool claiming = q->claim_ms > 0;
    *images = NULL;
    *n = 0;
    ip_status st = meta_db_query(s, cx, claiming ? META_ST_STALE_CLAIM : META_ST_STALE,
                                 claiming ? 5 : 4, params, &r);
    if (st != IP_OK)
        return st;
    st = meta_rows_images(cx, r, images, n);
    PQclear(r);
    return st;
}
