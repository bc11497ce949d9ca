/* proc_job_store.c — a job's PutObjects in parallel.
 *
 * HOW IT WORKS
 * Each put but the first gets a thread of its own (1 MiB of stack: the call
 * only packs the request and waits for its reply), the first runs on the
 * caller, then the caller joins them all. The threads share nothing but the
 * client, which is thread-safe; each writes only its own slot. Making a
 * thread costs tens of microseconds against a round trip to storage-svc and
 * S3 of milliseconds, so no pool is kept between jobs. A thread that cannot
 * be made is not an error: its put runs on the caller after the others
 * started.
 */
#include "proc_job_store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "ip_rpc_stubs.h"

#define PUT_STACK_BYTES (1024 * 1024)

typedef struct put_task {
    ip_rpc_client *stor;
    proc_put *p;
} put_task;

static void put_one(ip_rpc_client *stor, proc_put *p)
{
    Imageproc__PutObjectRequest req = IMAGEPROC__PUT_OBJECT_REQUEST__INIT;
    req.key = (char *)p->key;
    req.data.data = (uint8_t *)p->data;
    req.data.len = p->len;
    req.content_type = (char *)p->content_type;
    req.cache_control = (char *)p->cache_control;
    p->rep = NULL;
    p->msg[0] = '\0';
    p->st = ip_storage_put_object(stor, &req, &p->rep, NULL, p->msg, sizeof(p->msg));
}

static void *put_thread(void *arg)
{
    put_task *t = arg;
    put_one(t->stor, t->p);
    return NULL;
}

void proc_put_all(ip_rpc_client *stor, proc_put *puts, int n)
{
    pthread_t th[PROC_PUT_MAX];
    put_task task[PROC_PUT_MAX];
    bool started[PROC_PUT_MAX] = {false};
    if (n > PROC_PUT_MAX)
        n = PROC_PUT_MAX;
    pthread_attr_t attr;
    bool attr_ok = pthread_attr_init(&attr) == 0;
    if (attr_ok)
        (void)pthread_attr_setstacksize(&attr, PUT_STACK_BYTES);
    for (int i = 1; i < n; i++) {
        task[i] = (put_task){.stor = stor, .p = &puts[i]};
        started[i] = pthread_create(&th[i], attr_ok ? &attr : NULL, put_thread, &task[i]) == 0;
    }
    if (attr_ok)
        pthread_attr_destroy(&attr);
    if (n > 0)
        put_one(stor, &puts[0]);
    for (int i = 1; i < n; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            put_one(stor, &puts[i]);
    }
}
