/* gw_purge.c — removing a deleted image's objects, now and later.
 *
 * HOW IT WORKS. A purge is a record in PostgreSQL made by DeleteImage in the
 * same transaction that removes the row: once the image is gone from the API,
 * its objects are owed a removal, and the record outlives any crash of the
 * gateway that answered the DELETE. The request itself tries first: one
 * DeleteObjects (the keys metadata-svc listed, the original among them, and
 * the variant prefix) bounded by IP_GATEWAY_DELETE_WAIT_MS, then
 * FinishPurge(""). When both succeed the DELETE answers 204; otherwise 202
 * and the record stays. A record removes exactly its keys and its prefix and
 * nothing else: a regeneration's record names only the replaced files of an
 * image that lives on, and an upload's reservation only its original.
 *
 * THE PURGER. Every gateway runs gw_purge_once every
 * IP_GATEWAY_PURGE_INTERVAL_MS. ClaimPurges hands out due records, oldest
 * first, and hides them from other claimers for gw_purge_claim_ms (FOR UPDATE
 * SKIP LOCKED: each record goes to one purger at a time). Each is retried
 * with DeleteObjects; FinishPurge("") deletes the record, FinishPurge(error)
 * keeps it with the error, to be claimed again when the claim runs out — so
 * the claim is also the delay between attempts. Removing objects twice is
 * harmless (missing keys are not an error), so a purger that overruns its
 * claim, or a request racing the purger, costs a duplicate call, not a
 * mistake; a FinishPurge that finds no record means someone else finished.
 *
 * LIMITATIONS. A transient failure (storage-svc or S3 down, metadata-svc
 * down) ends the pass at once: the remaining claims would fail alike, each
 * waiting out a deadline. A pass also stops taking new purges after
 * gw_purge_pass_ms, so that work is not started on a claim about to expire.
 */
#include "gw_purge.h"

#include <stdio.h>
#include <stdlib.h>

#include "ip_keys.h"
#include "ip_log.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"

ip_status gw_purge_objects(gw_app *app, const char *id, char *const *keys, size_t n,
                           const char *prefix, int timeout_ms, char *err, size_t errlen)
{
    char okey[IP_KEY_MAX], vprefix[IP_KEY_MAX];
    char *whole[1] = {okey};
    bool everything = keys == NULL && n == 0 && prefix == NULL;
    if (everything) {
        /* No record: the original and everything under the variant prefix. */
        if (ip_key_original(okey, id) != IP_OK || ip_key_variant_prefix(vprefix, id) != IP_OK) {
            snprintf(err, errlen, "image id %.64s makes no object key", id);
            return IP_INVALID_ARGUMENT;
        }
        keys = whole;
        n = 1;
        prefix = vprefix;
    }
    Imageproc__DeleteObjectsRequest rq = IMAGEPROC__DELETE_OBJECTS_REQUEST__INIT;
    rq.keys = (char **)keys;
    rq.n_keys = n;
    rq.prefix = (char *)(prefix ? prefix : "");
    ip_rpc_call_opts opts = {.timeout_ms = timeout_ms};
    Imageproc__DeleteObjectsReply *out = NULL;
    ip_status st = ip_storage_delete_objects(app->stor, &rq, &out, &opts, err, errlen);
    if (out)
        imageproc__delete_objects_reply__free_unpacked(out, NULL);
    return st;
}

ip_status gw_purge_finish(gw_app *app, const char *id, const char *error, char *err, size_t errlen)
{
    Imageproc__FinishPurgeRequest rq = IMAGEPROC__FINISH_PURGE_REQUEST__INIT;
    rq.image_id = (char *)id;
    rq.error = (char *)(error ? error : "");
    Imageproc__FinishPurgeReply *out = NULL;
    ip_status st = ip_metadata_finish_purge(app->meta, &rq, &out, NULL, err, errlen);
    if (out)
        imageproc__finish_purge_reply__free_unpacked(out, NULL);
    return st == IP_NOT_FOUND ? IP_OK : st;
}

ip_status gw_purge_now(gw_app *app, const char *id, char *const *keys, size_t n, const char *prefix,
                       int timeout_ms, char *err, size_t errlen)
{
    char why[256] = "";
    ip_status st = gw_purge_objects(app, id, keys, n, prefix, timeout_ms, why, sizeof why);
    if (st != IP_OK) {
        snprintf(err, errlen, "DeleteObjects: %s: %s", ip_strerror(st), why);
        return st;
    }
    st = gw_purge_finish(app, id, "", why, sizeof why);
    if (st != IP_OK)
        snprintf(err, errlen, "FinishPurge: %s: %s", ip_strerror(st), why);
    return st;
}

ip_status gw_purge_delete_row(gw_app *app, const char *id, ip_status *purge_st, char *row_err,
                              size_t row_errlen, char *purge_err, size_t purge_errlen)
{
    Imageproc__DeleteImageRequest rq = IMAGEPROC__DELETE_IMAGE_REQUEST__INIT;
    rq.id = (char *)id;
    rq.undo = true; /* an image no client was told of: no image.deleted webhook */
    Imageproc__DeleteImageReply *out = NULL;
    ip_status st = ip_metadata_delete_image(app->meta, &rq, &out, NULL, row_err, row_errlen);
    if (st == IP_OK)
        *purge_st = gw_purge_now(app, id, out->object_keys, out->n_object_keys, out->purge_prefix,
                                 0, purge_err, purge_errlen);
    if (out)
        imageproc__delete_image_reply__free_unpacked(out, NULL);
    return st;
}

int64_t gw_purge_pass_ms(const gw_config *cfg)
{
    return 3 * cfg->purge_interval_ms;
}

int64_t gw_purge_claim_ms(const gw_config *cfg)
{
    return gw_purge_pass_ms(cfg) + 2 * cfg->rpc_timeout_ms;
}

/* One claimed purge: DeleteObjects, then FinishPurge with the outcome.
 * Returns the status that should end the pass (a transient one), else IP_OK;
 * *ok tells whether the objects are gone and the record with them. */
static ip_status purge_one(gw_app *app, const Imageproc__Purge *p, bool *ok)
{
    char err[256] = "", ferr[256] = "";
    ip_status st = gw_purge_objects(app, p->image_id, p->object_keys, p->n_object_keys, p->prefix,
                                    0, err, sizeof err);
    char error[300] = "";
    if (st != IP_OK)
        snprintf(error, sizeof error, "DeleteObjects: %s: %s", ip_strerror(st), err);
    ip_status fst = gw_purge_finish(app, p->image_id, error, ferr, sizeof ferr);
    *ok = st == IP_OK && fst == IP_OK;
    ip_metric_add(app->m.purges, *ok ? "purger,done" : "purger,failed", 1);
    if (*ok) {
        ip_log(IP_LOG_INFO, "purge.done", IP_LS("image_id", p->image_id),
               IP_LI("attempts", p->attempts));
        return IP_OK;
    }
    ip_log(IP_LOG_WARN, "purge.failed", IP_LS("image_id", p->image_id),
           IP_LI("attempts", p->attempts), IP_LS("objects", ip_strerror(st)),
           IP_LS("finish", ip_strerror(fst)), IP_LS("err", st != IP_OK ? err : ferr));
    if (ip_status_is_transient(st))
        return st;
    return ip_status_is_transient(fst) ? fst : IP_OK;
}

ip_status gw_purge_once(gw_app *app, int *done, int *failed)
{
    *done = *failed = 0;
    char err[256] = "";
    Imageproc__ClaimPurgesRequest rq = IMAGEPROC__CLAIM_PURGES_REQUEST__INIT;
    rq.limit = GW_PURGE_BATCH;
    rq.claim_ms = gw_purge_claim_ms(&app->cfg);
    Imageproc__ClaimPurgesReply *r = NULL;
    ip_status st = ip_metadata_claim_purges(app->meta, &rq, &r, NULL, err, sizeof err);
    if (st != IP_OK) {
        ip_log(IP_LOG_WARN, "purge.claim_failed", IP_LS("err", err));
        return st;
    }
    int64_t until = ip_mono_ms() + gw_purge_pass_ms(&app->cfg);
    for (size_t i = 0; i < r->n_purges && ip_mono_ms() < until; i++) {
        bool ok = false;
        st = purge_one(app, r->purges[i], &ok);
        ++*(ok ? done : failed);
        if (st != IP_OK)
            break;
    }
    imageproc__claim_purges_reply__free_unpacked(r, NULL);
    return st;
}
