/* proc_job.h — one ProcessJob, start to finish, against metadata-svc and
 * storage-svc: MarkProcessing -> GetObject(original) -> variants ->
 * PutObject each -> PutVariant each -> FinishImage.
 *
 * Every call is idempotent (same keys, same rows), so a job may run again
 * after a crash or a retry with the same result. Whether a failed call is
 * worth another run is decided in one place, proc_job_status_retryable.
 */
#ifndef PROC_JOB_H
#define PROC_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include "ip_rpc.h"
#include "job.pb-c.h"
#include "proc_variants.h"

#define PROC_CACHE_CONTROL "public, max-age=31536000, immutable"

typedef struct proc_job_ctx {
    ip_rpc_client *meta;           /* service Metadata; borrowed */
    ip_rpc_client *stor;           /* service Storage; borrowed */
    const proc_settings *settings; /* borrowed */
} proc_job_ctx;

typedef enum proc_outcome {
    PROC_JOB_READY = 0, /* every variant stored and recorded, image finished */
    PROC_JOB_FAILED,    /* permanent failure recorded on the image (FailImage) */
    PROC_JOB_DELETED,   /* the image was deleted meanwhile; what this job wrote is removed */
    PROC_JOB_INVALID,   /* the job names no valid image id: nothing can be recorded */
    PROC_JOB_RETRY,     /* a call failed in a way worth another run (see
                         * proc_job_status_retryable); nothing final recorded */
    PROC_JOB_OUTCOME_COUNT
} proc_outcome;

/* "ready" | "failed" | "deleted" | "invalid" | "retry". */
const char *proc_outcome_name(proc_outcome o);

/* The processor's one answer to "is a job whose call failed with `st` worth
 * running again?": a transient status (ip_status_is_transient: the service
 * was down or slow) or INTERNAL (a fault on the other side that a later run
 * may not meet). The consumer counts every such run as an attempt and sends
 * the job to the DLQ after IP_JOB_MAX_ATTEMPTS of them. */
bool proc_job_status_retryable(ip_status st);

/* Runs `job` (borrowed) once. `err` receives the reason for anything but
 * READY (the permanent reason recorded, or the last retryable error). */
proc_outcome proc_job_run(const proc_job_ctx *ctx, const Imageproc__ProcessJob *job, char *err,
                          size_t errlen);

/* Records a permanent failure of the whole image: FailImage(id, reason).
 * Returns PROC_JOB_FAILED when recorded (or refused by metadata-svc, which is
 * logged), PROC_JOB_DELETED when the image is gone (and removes v/<id>/),
 * PROC_JOB_RETRY when metadata-svc failed in a retryable way. */
proc_outcome proc_job_fail_image(const proc_job_ctx *ctx, const char *id, const char *reason,
                                 char *err, size_t errlen);

#endif
