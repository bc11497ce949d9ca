/* bp_stack.c — CPU and memory of the running stack's processes.
 *
 * A component is found by its pid file, $IP_VAR_DIR/run/<name>.pid (var/run
 * of the source tree by default), as scripts/stack writes it. Its CPU is
 * utime+stime+cutime+cstime (clock ticks, /proc/<pid>/stat) of that process
 * and of every live descendant: PostgreSQL's backends and nginx's workers
 * are children, and a child that exited was reaped into its parent's
 * cutime/cstime. The machine's idle share comes from the first line of
 * /proc/stat (idle + iowait over all fields). Peak RSS is VmHWM from
 * /proc/<pid>/status; writing 5 to /proc/<pid>/clear_refs starts it again.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_processor.h"

const char *const bp_proc_names[BP_NPROCS] = {
    "processor", "gateway", "storage-svc", "metadata-svc", "nginx", "postgres", "kafka", "s3"};

int bp_stack_pid(const char *name)
{
    const char *var = getenv("IP_VAR_DIR");
    char path[700];
    if (var && *var)
        snprintf(path, sizeof(path), "%s/run/%s.pid", var, name);
    else
        snprintf(path, sizeof(path), "%s/var/run/%s.pid", IP_SOURCE_DIR, name);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid;
}

typedef struct pinfo {
    int pid, ppid;
    long long ticks;
} pinfo;

enum { MAX_PROCS = 4096 };

/* Every process's parent and CPU ticks; returns how many. */
static int read_procs(pinfo *p)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < MAX_PROCS) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], line[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t k = fread(line, 1, sizeof(line) - 1, f);
        fclose(f);
        line[k] = '\0';
        char *q = strrchr(line, ')');
        long long ut, st, cut, cst;
        int ppid;
        if (!q || sscanf(q + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld %lld %lld",
                         &ppid, &ut, &st, &cut, &cst) != 5)
            continue;
        p[n].pid = pid;
        p[n].ppid = ppid;
        p[n].ticks = ut + st + cut + cst;
        n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* Ticks of root and all its descendants (processes are few: a scan per
 * level is enough). */
static long long tree_ticks(const pinfo *p, int n, int root)
{
    static int in[MAX_PROCS];
    long long sum = 0;
    bool found = false;
    for (int i = 0; i < n; i++) {
        in[i] = p[i].pid == root;
        if (in[i]) {
            sum += p[i].ticks;
            found = true;
        }
    }
    if (!found)
        return -1;
    for (bool grew = true; grew;) {
        grew = false;
        for (int i = 0; i < n; i++) {
            if (in[i])
                continue;
            for (int j = 0; j < n; j++)
                if (in[j] && p[j].pid == p[i].ppid) {
                    in[i] = 1;
                    sum += p[i].ticks;
                    grew = true;
                    break;
                }
        }
    }
    return sum;
}

void bp_cpu_take(bp_cpu_snap *s)
{
    static pinfo p[MAX_PROCS];
    int n = read_procs(p);
    for (int k = 0; k < BP_NPROCS; k++) {
        int pid = bp_stack_pid(bp_proc_names[k]);
        s->ticks[k] = pid > 0 ? tree_ticks(p, n, pid) : -1;
    }
    s->total = s->idle = 0;
    FILE *f = fopen("/proc/stat", "r");
    long long v[10] = {0};
    if (f && fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2],
                    &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8) {
        for (int i = 0; i < 8; i++) /* guest time is already in user */
            s->total += v[i];
        s->idle = v[3] + v[4];
    }
    if (f)
        fclose(f);
}

double bp_proc_hwm_mb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb / 1024.0;
}

void bp_hwm_reset(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/clear_refs", pid);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}
