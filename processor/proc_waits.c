/* proc_waits.c — the registry of jobs waiting on a dependency (see
 * proc_waits.h): counts per dependency under one mutex, mirrored into the
 * proc_jobs_waiting gauge at every change, and the JSON body of /healthz
 * built with jansson from a snapshot taken under the lock.
 */
#include "proc_waits.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_time.h"

void proc_waits_init(proc_waits *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    w->m_waiting =
        ip_metric_gauge("proc_jobs_waiting",
                        "jobs held by their partition's worker until a dependency answers", "on");
    w->m_transient = ip_metric_counter(
        "proc_transient_retries_total",
        "job runs and outcome recordings tried again after a transient failure (no attempt used)",
        "on");
    for (int d = PROC_DEP_NONE + 1; d < PROC_DEP_COUNT; d++) {
        ip_metric_set(w->m_waiting, proc_dep_name((proc_dep)d), 0);
        ip_metric_add(w->m_transient, proc_dep_name((proc_dep)d), 0);
    }
}

void proc_waits_fini(proc_waits *w)
{
    pthread_mutex_destroy(&w->mu);
}

static bool dep_valid(proc_dep d)
{
    return d > PROC_DEP_NONE && d < PROC_DEP_COUNT;
}

void proc_waits_move(proc_waits *w, proc_dep from, proc_dep to)
{
    if (from == to)
        return;
    pthread_mutex_lock(&w->mu);
    if (dep_valid(from) && w->jobs[from] > 0) {
        w->jobs[from]--;
        ip_metric_set(w->m_waiting, proc_dep_name(from), w->jobs[from]);
    }
    if (dep_valid(to)) {
        if (w->jobs[to]++ == 0)
            w->since_us[to] = ip_now_us();
        ip_metric_set(w->m_waiting, proc_dep_name(to), w->jobs[to]);
    }
    pthread_mutex_unlock(&w->mu);
}

void proc_waits_note(proc_waits *w, proc_dep dep, bool transient, const char *err)
{
    if (!dep_valid(dep))
        return;
    pthread_mutex_lock(&w->mu);
    snprintf(w->last_error[dep], sizeof(w->last_error[dep]), "%s", err ? err : "");
    pthread_mutex_unlock(&w->mu);
    if (transient)
        ip_metric_add(w->m_transient, proc_dep_name(dep), 1);
}

/* One dependency's entry of the health body; the error text is dropped if
 * it is not valid UTF-8 (jansson refuses it), the rest is kept. */
static json_t *health_entry(proc_dep d, int jobs, int64_t since_us, int64_t now_us,
                            const char *last_error)
{
    char since[IP_RFC3339_LEN + 1];
    ip_time_format(since_us, since);
    double for_s = now_us > since_us ? (double)(now_us - since_us) / 1e6 : 0;
    const char *fmt = "{s:s, s:i, s:s, s:f, s:s}";
    json_t *e = json_pack(fmt, "on", proc_dep_name(d), "jobs", jobs, "since", since, "for_s", for_s,
                          "last_error", last_error);
    return e ? e
             : json_pack(fmt, "on", proc_dep_name(d), "jobs", jobs, "since", since, "for_s", for_s,
                         "last_error", "");
}

char *proc_waits_health_json(proc_waits *w, int64_t now_us)
{
    int jobs[PROC_DEP_COUNT];
    int64_t since_us[PROC_DEP_COUNT];
    char last_error[PROC_DEP_COUNT][sizeof(w->last_error[0])];
    pthread_mutex_lock(&w->mu);
    memcpy(jobs, w->jobs, sizeof(jobs));
    memcpy(since_us, w->since_us, sizeof(since_us));
    memcpy(last_error, w->last_error, sizeof(last_error));
    pthread_mutex_unlock(&w->mu);

    json_t *list = json_array();
    for (int d = PROC_DEP_NONE + 1; d < PROC_DEP_COUNT && list; d++)
        if (jobs[d] > 0)
            json_array_append_new(
                list, health_entry((proc_dep)d, jobs[d], since_us[d], now_us, last_error[d]));
    json_t *body = json_pack("{s:s, s:o}", "status",
                             list && json_array_size(list) ? "waiting" : "ok", "waiting", list);
    char *text =
        body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))
             : NULL;
    json_decref(body);
    return text;
}
