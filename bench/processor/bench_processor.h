/* bench_processor.h — what the parts of bench_processor share.
 *
 * A corpus (bp_corpus.c) is a list of items, each naming one of a few files
 * held in memory: the wallpapers (four 14.7 MP JPEGs, each item repeated),
 * the mixed corpus (JPEG, PNG, two 52 MP JPEGs) or the one JPEG the latency
 * figure uses. The independent floor (bp_floor.c, plain libvips, in a child
 * process) and the end-to-end run through the stack (bp_e2e.c, with the
 * stack's accounting from bp_stack.c) each make one bp_result from a corpus;
 * bench_processor.c runs them in rounds and prints the tables.
 */
#ifndef BENCH_PROCESSOR_H
#define BENCH_PROCESSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>
#include <sys/types.h>

#define BP_MAX_FILES 16
#define BP_MAX_ITEMS 512

typedef struct bp_file {
    char path[512];
    const char *type; /* image/jpeg | image/png */
    void *data;       /* the whole file, owned by the corpus */
    size_t len;
    int w, h;
} bp_file;

typedef struct bp_corpus {
    char name[32]; /* wallpapers | mixed | latency */
    bp_file files[BP_MAX_FILES];
    int nfiles;
    int item_file[BP_MAX_ITEMS]; /* item i is files[item_file[i]] */
    int nitems;
} bp_corpus;

/* Seconds on the monotonic clock; a timeval (rusage times) in seconds. */
double bp_now_s(void);
double bp_tv_s(struct timeval tv);

/* Fills c with the corpus `name`: "wallpapers" (the four JPEGs, `copies`
 * items each, interleaved), "mixed" (ten wallpapers in JPEG and PNG plus a
 * baseline and a progressive 52 MP JPEG made once in scratch, largest first,
 * one item each) or "latency" (the first wallpaper JPEG, one item). false
 * (why on stderr) when a file is missing; plasma-workspace-wallpapers must
 * be installed. */
bool bp_corpus_load(bp_corpus *c, const char *name, const char *scratch, int copies);
void bp_corpus_free(bp_corpus *c);
/* Megapixels of all items. */
double bp_corpus_mp(const bp_corpus *c);

/* One measurement of a corpus. */
typedef struct bp_result {
    int images;         /* made (floor) or ready (end to end) */
    double wall_s;      /* first image started/uploaded .. last finished/ready */
    double images_s;    /* images / wall_s */
    double cpu_ms;      /* floor: its process; end to end: the processor */
    double rss_mb;      /* peak RSS: the floor's process; the processor */
    double item_ms_p50; /* floor with one thread: per-image time, p50 */
} bp_result;

/* Child mode: bench_processor floor <corpus> <scratch> <copies> <threads>
 * <vips concurrency>. Prints FLOOR <images> <wall s> <cpu s> <maxrss KB>
 * <p50 ms per image>. Returns the exit status. */
int bp_floor_child(int argc, char **argv);

/* Child mode: bench_processor formats <corpus> <scratch> <copies>: CPU per
 * image and bytes per variant of every format (bp_floor.c); prints its
 * table. Returns the exit status. */
int bp_formats_child(int argc, char **argv);

/* Runs the floor in a child (this program re-executed) and parses its line;
 * all zeros when it gave none. */
bp_result bp_floor_run(const char *self, const char *corpus, const char *scratch, int copies,
                       int threads, int conc);

/* ---- the stack's processes (bp_stack.c) ---- */

enum { BP_NPROCS = 8 };
extern const char *const bp_proc_names[BP_NPROCS]; /* processor, gateway, ... */

/* CPU ticks of each stack component (its pid file's process and all its
 * descendants, exited children included) and of the whole machine. */
typedef struct bp_cpu_snap {
    long long ticks[BP_NPROCS]; /* -1 when the component is not running */
    long long total, idle;      /* /proc/stat: all CPUs */
} bp_cpu_snap;

void bp_cpu_take(bp_cpu_snap *s);
/* Pid of a component from var/run/<name>.pid (0 when none). */
int bp_stack_pid(const char *name);
/* The processor's VmHWM in MB; bp_hwm_reset makes the peak start again. */
double bp_proc_hwm_mb(int pid);
void bp_hwm_reset(int pid);

/* ---- end to end (bp_e2e.c) ---- */

typedef struct bp_e2e_result {
    bp_result r;
    int uploaded, failed;
    long long jobs;           /* the processor's job count moved by */
    double cpu_ms[BP_NPROCS]; /* per image, per component */
    double idle_pct;          /* of all CPUs over the run */
    double client_cpu_ms;     /* this program's threads, per image */
    bool clean;               /* jobs == uploaded == ready */
} bp_e2e_result;

/* false (why in note) when nginx, the gateway or the processor's metrics do
 * not answer. */
bool bp_e2e_ready(char *note, size_t notelen);

/* Every item uploaded through nginx by `clients` threads, then waited for
 * until every variant is ready (polling at most every 100 ms); the images
 * are deleted afterwards (not timed). */
bp_e2e_result bp_e2e_run(const bp_corpus *c, int clients);

/* One item uploaded alone `tries` times; upload-to-ready times (ms) into
 * ms[], sorted; returns how many tries ended ready. */
int bp_e2e_latency(const bp_corpus *c, int tries, double *ms);

#endif
