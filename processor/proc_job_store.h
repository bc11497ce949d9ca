/* proc_job_store.h — a job's objects written to storage-svc at the same time.
 *
 * proc_put_all sends every PutObject of `puts` at once (the client is
 * thread-safe) and returns when all have answered; each put's status, reply
 * and message are in its own slot, so the caller reads them in the order it
 * gave and decides as if they had been sent one after another.
 */
#ifndef PROC_JOB_STORE_H
#define PROC_JOB_STORE_H

#include <stddef.h>

#include "ip_rpc.h"
#include "storage.pb-c.h"

/* At most this many puts in one proc_put_all. */
#define PROC_PUT_MAX 12 /* every file of every variant: 3 x (primary, webp, avif) */

typedef struct proc_put {
    /* in: one object; everything borrowed and unchanged until the call returns */
    const char *key;
    const void *data;
    size_t len;
    const char *content_type;
    const char *cache_control;
    /* out */
    ip_status st;
    Imageproc__PutObjectReply *rep; /* the caller frees it (NULL on failure) */
    char msg[384];                  /* the failure's message, "" on success */
} proc_put;

/* Stores puts[0..n) (n <= PROC_PUT_MAX) on `stor`: puts[1..n) each on a
 * short-lived thread, puts[0] on the calling one; a put whose thread cannot
 * be started runs on the calling thread after puts[0]. Returns once every put
 * has its answer. */
void proc_put_all(ip_rpc_client *stor, proc_put *puts, int n);

#endif
