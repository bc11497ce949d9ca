/* bench_processor.h — what the parts of bench_processor share.
 *
 * The corpus (bp_files, filled once by bp_build_corpus and read-only after),
 * the figures one measurement yields (bp_result), and the three measurements:
 * the in-process libvips floor and ImageMagick's convert (bp_local.c), and the
 * end-to-end run through the stack with this build's processor (bp_e2e.c).
 * bench_processor.c runs them in rounds and prints the table.
 */
#ifndef BENCH_PROCESSOR_H
#define BENCH_PROCESSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>
#include <sys/types.h>

#include <curl/curl.h>

#define BP_MAX_FILES 32

typedef struct bp_file {
    char path[512];
    const char *type; /* image/jpeg | image/png */
    void *data;       /* the whole file, owned by the corpus */
    size_t len;
    int w, h;
} bp_file;

/* The corpus, largest first; bp_nfiles of them (0 when none could be read). */
extern bp_file bp_files[BP_MAX_FILES];
extern int bp_nfiles;

/* One pass over the corpus: throughput, CPU per image and peak RSS. */
typedef struct bp_result {
    double images_s, cpu_ms, rss_mb;
    int images;
} bp_result;

/* Seconds on the monotonic clock; a timeval (rusage times) in seconds. */
double bp_now_s(void);
double bp_tv_s(struct timeval tv);

/* Fills bp_files: the wallpapers (or synthetic pictures made in scratch,
 * which is created if missing), then the 52 MP tiles kept in scratch. Files
 * that cannot be read are left out. */
void bp_build_corpus(const char *scratch);

/* Child mode: bench_processor floor <scratch> <workers> <concurrency> <cache 0|1>.
 * Prints one line: FLOOR <images> <wall s> <cpu s> <maxrss KB>. Returns the
 * exit status (2 when arguments are missing). */
int bp_floor_child(int argc, char **argv);

/* Runs the floor in a child (self re-executed in floor mode) with the given
 * settings; arenas < 0 leaves MALLOC_ARENA_MAX unset. All zeros when the
 * child gave no figures. */
bp_result bp_run_floor(const char *self, const char *scratch, int workers, int conc, int cache,
                       int arenas);

/* ImageMagick's convert making the three variants of every file, two
 * processes at a time; outputs go to <scratch>/im-out. */
bp_result bp_run_imagemagick(const char *scratch);

/* The end-to-end run: this build's processor on the real topic and group. */
typedef struct bp_e2e_run {
    CURL *c;     /* owned */
    pid_t pid;   /* this build's processor */
    bool was_up; /* the stack's processor was up: start it again at the end */
    double jobs_done;
    char log[600];  /* the processor's stderr */
    int partitions; /* of the first assignment: the whole topic */
} bp_e2e_run;

/* Stops the stack's processor (if up) and starts this build's; waits until
 * it is idle. false (why in note) when nginx/gateway does not answer; then
 * nothing was started and bp_e2e_stop is not to be called. */
bool bp_e2e_start(bp_e2e_run *e, const char *scratch, char *note, size_t notelen);

/* One pass: every file uploaded, then polled until ready. note tells what
 * happened; *jobs is the jobs the processor ran meanwhile, or -1 when another
 * processor took part of the work. */
bp_result bp_e2e_round(bp_e2e_run *e, char *note, size_t notelen, int *jobs);

/* SIGTERM to this build's processor, the stack's back if it was up; frees
 * the curl handle. Returns the processor's exit status (-1 if it did not
 * exit normally). */
int bp_e2e_stop(bp_e2e_run *e);

#endif
