/* gw_purge.h — removing a deleted image's objects from the bucket.
 *
 * DeleteImage removes the row and, in the same transaction, records a purge
 * (the image's object keys and its variant prefix) that stays in PostgreSQL
 * until someone reports the objects gone with FinishPurge. The DELETE request
 * tries at once (gw_purge_now, with a short deadline); the purger of every
 * gateway (gw_purge_once, every IP_GATEWAY_PURGE_INTERVAL_MS) claims what is
 * left and retries until storage-svc confirms.
 */
#ifndef GW_PURGE_H
#define GW_PURGE_H

#include <stddef.h>
#include <stdint.h>

#include "gw_app.h"

/* Most purges one purger pass claims. */
#define GW_PURGE_BATCH 100

/* DeleteObjects of keys[0..n) and everything under `prefix` ("" = no
 * prefix): exactly what a purge record names. With no keys and a NULL prefix,
 * everything of `id`: its original and its variant prefix (an upload undone
 * before it had a row). `timeout_ms` bounds the call (0: the client's
 * default). All borrowed.
 * storage-svc's status (IP_OK: S3 confirmed), its message in err. */
ip_status gw_purge_objects(gw_app *app, const char *id, char *const *keys, size_t n,
                           const char *prefix, int timeout_ms, char *err, size_t errlen);

/* FinishPurge(id, error): `error` NULL or "" reports the objects gone (the
 * record is deleted); otherwise the attempt's failure is kept on the record,
 * which is handed out again once its claim runs out. NOT_FOUND (no such
 * record: another gateway finished it) counts as IP_OK. */
ip_status gw_purge_finish(gw_app *app, const char *id, const char *error, char *err, size_t errlen);

/* The purge of an image just deleted: gw_purge_objects within `timeout_ms`,
 * then gw_purge_finish(""). IP_OK when both succeeded: nothing is left to
 * do. Else the failing step's status, err saying which step and why; the
 * record stays and the purger finishes it. */
ip_status gw_purge_now(gw_app *app, const char *id, char *const *keys, size_t n, const char *prefix,
                       int timeout_ms, char *err, size_t errlen);

/* DeleteImage(id), which removes the row and records a purge of what it
 * names, then gw_purge_now of those objects with the client's deadline.
 * Returns DeleteImage's status (its message in row_err); only on IP_OK is
 * *purge_st set, to gw_purge_now's (its message in purge_err; a purge that
 * failed is finished by the purger). For an image removed at once: an
 * upload's undo, the sweep's row without its original — images no client
 * was answered 202 for, so DeleteImage is sent with undo (no image.deleted
 * webhook delivery is written). */
ip_status gw_purge_delete_row(gw_app *app, const char *id, ip_status *purge_st, char *row_err,
                              size_t row_errlen, char *purge_err, size_t purge_errlen);

/* How long a purger pass may keep claiming work, and the claim it takes on
 * the purges it is handed (the pass's span plus one DeleteObjects and one
 * FinishPurge that may start at its end), in milliseconds. */
int64_t gw_purge_pass_ms(const gw_config *cfg);
int64_t gw_purge_claim_ms(const gw_config *cfg);

/* One pass of the purger: ClaimPurges(GW_PURGE_BATCH, gw_purge_claim_ms),
 * then for each DeleteObjects and FinishPurge ("" or the error text).
 * *done and *failed count the purges finished and those whose attempt failed
 * (each logged and counted in gw_purges_total). A transient failure ends the
 * pass: the other claimed purges come back once their claim runs out; so
 * does the pass reaching gw_purge_pass_ms. Returns IP_OK, the status of
 * ClaimPurges, or the transient status that ended the pass. */
ip_status gw_purge_once(gw_app *app, int *done, int *failed);

#endif
