/* meta_store_outbox.c — the webhook outbox: deliveries written with the
 * change they tell of, handed out to the gateways' dispatchers
 * (ClaimDeliveries) and closed with each attempt's outcome (FinishDelivery).
 *
 * HOW IT WORKS
 * A delivery is a row of webhook_deliveries. meta_outbox_write inserts the
 * rows of one change inside the transaction that makes the change (FinishImage
 * and FailImage after the new status is set, DeleteImage before the row goes),
 * behind the image row's lock: one per live subscription that lists the event
 * and takes the image (own_images_only: the image's key_id must be the
 * subscription's). Its body is built by PostgreSQL from the row at that
 * moment and never changes, so every attempt sends the same bytes, and the
 * rows exist exactly when the change committed — a rolled-back change leaves
 * none, a committed one cannot lose them.
 *
 * ORDER AND SHARING
 * seq (an identity column) orders the rows of one (subscription, image). A
 * claim hands out a pending row only when it is due and no earlier row of
 * its pair is still pending, so a receiver gets one image's events one at a
 * time, in the order they happened, whatever the retries in between. Claims
 * pick rows FOR UPDATE SKIP LOCKED and push next_attempt_at to now + claim_ms
 * in the same statement: dispatchers in any number of gateways share the work
 * without waiting for each other and never get the same row while its claim
 * runs; a dispatcher that dies leaves its rows to be claimed again once the
 * claim ends (attempts counts every claim).
 *
 * OUTCOMES
 * FinishDelivery changes only a pending row: delivered (2xx), or due again
 * after retry_after_ms, or failed when that would be past its horizon
 * (horizon_from — created_at or the last resend — plus horizon_ms). The
 * backoff itself is the dispatcher's choice; the store keeps the time. A row
 * cancelled meanwhile (its subscription deleted) stays cancelled, and a late
 * repeat of a finish changes nothing.
 *
 * RETENTION
 * A claim that finds nothing due (an idle dispatcher) also removes up to 100
 * finished deliveries older than 30 days, so the log stays bounded without
 * a job of its own and without costing a busy dispatcher anything.
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "ip_webhook.h"
#include "meta_store_internal.h"

ip_status meta_outbox_write(meta_ctx *cx, PGconn *conn, const char *image_id,
                            Imageproc__WebhookEvent event, int *written)
{
    PGresult *r = NULL;
    const char *name = ip_webhook_event_name(event);
    if (name == NULL)
        return meta_cx_fail(cx, IP_INTERNAL, "outbox: unknown event %d", (int)event);
    const char *params[] = {image_id, name};
    ip_status st = meta_db_run(cx, conn, META_ST_OUTBOX_WRITE, 2, params, &r);
    if (st != IP_OK)
        return st;
    if (written != NULL)
        *written = PQntuples(r);
    PQclear(r);
    return IP_OK;
}

ip_status meta_store_deliveries_claim(meta_store *s, meta_ctx *cx, int limit, int64_t claim_ms,
                                      Imageproc__WebhookDelivery ***out, size_t *n)
{
    PGresult *r = NULL;
    char lim[16], ms[24];
    snprintf(lim, sizeof(lim), "%d", limit);
    snprintf(ms, sizeof(ms), "%lld", (long long)claim_ms);
    const char *params[] = {lim, ms};
    *out = NULL;
    *n = 0;
    /* One statement: it claims and returns the rows at once. A claim whose
     * answer was lost leaves its rows to come back after claim_ms. */
    ip_status st = meta_db_query(s, cx, META_ST_DELIVERIES_CLAIM, 2, params, &r);
    if (st != IP_OK)
        return st;
    int rows = PQntuples(r);
    if (rows == 0) {
        PGresult *pr = NULL;
        /* Best effort: a failed prune is tried again at the next idle claim. */
        if (meta_db_query(s, cx, META_ST_DELIVERIES_PRUNE, 0, NULL, &pr) == IP_OK)
            PQclear(pr);
        cx->err[0] = '\0';
    }
    Imageproc__WebhookDelivery **arr = meta_cx_alloc(cx, (size_t)(rows ? rows : 1) * sizeof(*arr));
    if (arr == NULL) {
        PQclear(r);
        return meta_cx_nomem(cx);
    }
    for (int i = 0; i < rows && st == IP_OK; i++)
        st = meta_rows_delivery(cx, r, i, true, &arr[i]);
    PQclear(r);
    if (st != IP_OK)
        return st;
    *out = arr;
    *n = (size_t)rows;
    return IP_OK;
}

ip_status meta_store_delivery_finish(meta_store *s, meta_ctx *cx, const meta_delivery_result *res,
                                     Imageproc__WebhookDelivery **out, bool *changed)
{
    PGresult *r = NULL;
    char status[16], duration[16], retry[24], horizon[24];
    snprintf(status, sizeof(status), "%d", res->status);
    snprintf(duration, sizeof(duration), "%d", res->duration_ms);
    snprintf(retry, sizeof(retry), "%lld", res->delivered ? 0LL : (long long)res->retry_after_ms);
    snprintf(horizon, sizeof(horizon), "%lld", res->delivered ? 0LL : (long long)res->horizon_ms);
    const char *params[] = {res->id,  res->delivered ? "true" : "false",
                            status,   res->delivered || res->error == NULL ? "" : res->error,
                            duration, retry,
                            horizon};
    ip_status st = meta_db_query(s, cx, META_ST_DELIVERY_FINISH, 7, params, &r);
    if (st != IP_OK)
        return st;
    *changed = false;
    if (PQntuples(r) == 1) {
        st = meta_rows_delivery(cx, r, 0, false, out);
        *changed = strcmp(PQgetvalue(r, 0, META_D_BODY), "t") == 0; /* the flag column */
    } else {
        st = meta_cx_fail(cx, IP_NOT_FOUND, "delivery %s not found", res->id);
    }
    PQclear(r);
    return st;
}
