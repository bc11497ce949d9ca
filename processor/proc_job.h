/* proc_job.h — one ProcessJob, start to finish, against metadata-svc and
 * storage-svc: MarkProcessing (the image and the presets) -> GetObject(the
 * presets' logos, when not kept) -> GetObject(original) -> variants and
 * placeholder -> PutObject each file (in parallel) -> FinishImage with the
 * variants and the placeholder.
 *
 * A regeneration (ProcessJob.regenerate) remakes the variants of a ready image
 * with the current presets; it never changes the image's status: one that
 * cannot be done ends SKIPPED (logged and counted), never with FailImage.
 *
 * Every call is idempotent (same keys, same rows), so a job may run again
 * after a crash or a retry with the same result. What a failed call means
 * for the job (wait, count an attempt, or fail the image) is read by
 * proc_policy_classify; this module only reports it, and the consumer
 * (proc_retry.c) decides when to run the job again.
 */
#ifndef PROC_JOB_H
#define PROC_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_rpc.h"
#include "job.pb-c.h"
#include "proc_policy.h"
#include "proc_variants.h"

#define PROC_CACHE_CONTROL "public, max-age=31536000, immutable"

typedef struct proc_job_ctx {
    ip_rpc_client *meta;           /* service Metadata; borrowed */
    ip_rpc_client *stor;           /* service Storage; borrowed */
    const proc_settings *settings; /* borrowed */
    int64_t lease_ms;              /* MarkProcessing's lease; 0 = metadata-svc's default */
    int max_attempts;              /* an image with more runs than this is poison; <= 0: none */
} proc_job_ctx;

typedef enum proc_outcome {
    PROC_JOB_READY = 0, /* every variant stored and recorded, image finished */
    PROC_JOB_FAILED,    /* permanent failure recorded on the image (FailImage) */
    PROC_JOB_DELETED,   /* the image was deleted meanwhile; what this job wrote is removed */
    PROC_JOB_INVALID,   /* the job names no valid image id: nothing can be recorded */
    PROC_JOB_WAIT,      /* a call failed transiently (the service in `dep`): nothing final
                         * recorded; run again later, using no attempt */
    PROC_JOB_RETRY,     /* a call failed with INTERNAL: nothing final recorded; another run
                         * counts an attempt */
    PROC_JOB_POISON,    /* the image has more runs than max_attempts: nothing was done; the
                         * consumer dead-letters the job and fails the image */
    PROC_JOB_SKIPPED,   /* a regeneration that was not done: the image is not ready or gone,
                         * or a permanent failure (reason in err); the image keeps its
                         * variants and what this job stored is removed */
    PROC_JOB_OUTCOME_COUNT
} proc_outcome;

/* "ready" | "failed" | "deleted" | "invalid" | "wait" | "retry" | "poison" |
 * "skipped". */
const char *proc_outcome_name(proc_outcome o);

/* What one run reports besides its outcome. */
typedef struct proc_job_result {
    proc_outcome out;
    proc_dep dep;   /* WAIT, RETRY: the service whose call failed */
    bool marked;    /* MarkProcessing succeeded: this delivery's run is counted */
    int runs;       /* the image's runs after MarkProcessing; 0 when not marked */
    char err[1024]; /* the reason for anything but READY: the permanent reason
                     * recorded, or the call that failed ("<Method>: <status>: <msg>") */
} proc_job_result;

/* Counts a regeneration's end in proc_regenerations_total{outcome} ("done",
 * "skipped", "failed", "dropped"). Thread-safe. */
void proc_job_count_regeneration(const char *outcome);

/* Runs `job` (borrowed) once into *res and returns res->out. `new_delivery`
 * is passed to MarkProcessing: true on the first run of each delivery (the
 * image's runs count it), false on reruns in this process. A ready image
 * ends the run READY at once (a redelivered job whose outcome was recorded);
 * one with more runs than ctx->max_attempts ends it POISON before any work. */
proc_outcome proc_job_run(const proc_job_ctx *ctx, const Imageproc__ProcessJob *job,
                          bool new_delivery, proc_job_result *res);

/* Records a permanent failure of the whole image: FailImage(id, reason),
 * into *res (`reason` is borrowed and must not point into *res, which is
 * cleared first). Returns FAILED when recorded (or refused by metadata-svc with a
 * permanent status, which is logged), DELETED when the image is gone (and
 * removes v/<id>/), WAIT or RETRY when a call failed in a way worth trying
 * again (res->dep says whose). */
proc_outcome proc_job_fail_image(const proc_job_ctx *ctx, const char *id, const char *reason,
                                 proc_job_result *res);

#endif
