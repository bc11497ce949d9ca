/* bench_metadata.c — metadata-svc against PostgreSQL itself.
 *
 * HOW IT WORKS
 * The benchmark uses a database of its own (IP_PG_DSN with the database name
 * imageproc_bench_meta, made on first use), migrated by the store's own
 * migrations and seeded once with 1,000,000 images (ids md5(n)::uuid for n in
 * 1..1,000,000, created_at in pairs that share a millisecond, so ties are
 * everywhere) and their 3,000,000 ready variants; later runs reuse it.
 * It starts the metadata-svc binary built beside it on two free ports of
 * its own (bench_port.h) against that database, and measures:
 *
 *  1. ListImages latency, limit 100, one caller: the first page against page
 *     10,000 (the last one; its cursor is the row at offset 999,899), the two
 *     alternated call by call so both see the same machine; p50 and p99. For
 *     scale, the same page by OFFSET in plain SQL, and the deep page's plan
 *     (EXPLAIN ANALYZE of the statement the store prepares, generic plan).
 *
 *  2. GetImage calls per second through nng (ip_rpc client, `concurrency`
 *     threads, random ids among the first 100,000) against pgbench running
 *     the very SELECT the store prepares for GetImage (-M prepared, the same
 *     concurrency, the id computed as md5(:n)::uuid from the same range): the
 *     floor, since the service adds an RPC hop to one such statement per call.
 *     Both run `seconds` each, in `rounds` pairs (service, then pgbench); each
 *     pair gives a ratio and the median ratio counts, so load that other work
 *     puts on the machine during one pair affects both sides of that pair.
 *
 * The last line is `metadata: GetImage/pgbench = <ratio>`.
 * Options: --concurrency N (8), --seconds S (5), --rounds R (5), --calls N (300
 * latency calls).
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <metadata.pb-c.h>

#include "ip_keys.h"
#include "ip_log.h"
#include "ip_rpc.h"
#include "ip_rpc_stubs.h"
#include "ip_variants.h"
#include "ip_time.h"
#include "meta_store.h"
#include "meta_testdb.h"

#include "../bench_port.h"

#ifndef META_BIN
#error "META_BIN must name the metadata-svc binary"
#endif

#define BENCH_DB "imageproc_bench_meta"
#define ROWS 1000000
#define HOT_IDS 100000
static char rpc_url[64], events_url[64]; /* free ports, chosen at start */

static int concurrency = 8;
static int seconds = 5;
static int calls = 300;
static int rounds = 5;
#define MAX_ROUNDS 15
static char base_dsn[1024], dsn[1024];
static char **hot_ids; /* HOT_IDS ids, index n-1 = md5(n) */
static ip_rpc_client *cli;
static pid_t service_pid; /* the metadata-svc this run started, 0 = none */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (service_pid > 0) { /* never leave our service behind */
        kill(service_pid, SIGTERM);
        waitpid(service_pid, NULL, 0);
    }
    exit(1);
}

static PGresult *sql(PGconn *c, const char *q)
{
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        die("SQL failed: %.200s\n%s", q, PQresultErrorMessage(r));
    return r;
}

static PGconn *connect_or_die(const char *d)
{
    PGconn *c = PQconnectdb(d);
    if (PQstatus(c) != CONNECTION_OK)
        die("cannot connect to PostgreSQL: %s", PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

/* base_dsn with its database replaced, as a key=value string. */
static void dsn_with_db(const char *db, char *out, size_t outlen)
{
    if (meta_dsn_with_db(base_dsn, db, out, outlen) != IP_OK)
        die("IP_PG_DSN does not parse");
}

/* ------------------------------------------------------------- setup */

/* The variant names as an SQL array literal: ARRAY['thumbnail',...]. */
static void variant_array(char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "ARRAY[");
    for (int i = 0; i < IP_VARIANT_COUNT && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s'%s'", i ? "," : "", ip_variants[i].name);
    if (len < n)
        snprintf(buf + len, n - len, "]");
}

/* Fills images and variants with ROWS ready images, every variant requested
 * and made, keys laid out as ip_keys.h says. */
static void seed_rows(PGconn *c)
{
    char names[128], q[2048];
    variant_array(names, sizeof names);
    snprintf(q, sizeof q,
             "INSERT INTO images (id, created_at, updated_at, filename, content_type,"
             " size_bytes, width, height, sha256, original_key, ops, status, enqueued_at)"
             " SELECT md5(g::text)::uuid,"
             " timestamptz '2025-01-01' + (g / 2) * interval '1 millisecond',"
             " timestamptz '2025-01-01' + (g / 2) * interval '1 millisecond',"
             " 'photo-' || g || '.jpg', 'image/jpeg', 1000000 + g, 4000, 3000,"
             " md5('sha' || g), '" IP_KEY_ORIGINAL_PREFIX "' || md5(g::text)::uuid,"
             " %s, 'ready',"
             " timestamptz '2025-01-01' FROM generate_series(1, 1000000) g",
             names);
    PQclear(sql(c, q));
    snprintf(q, sizeof q,
             "INSERT INTO variants (image_id, name, status, object_key, width, height,"
             " size_bytes, format) SELECT i.id, n, 'ready',"
             " '" IP_KEY_PUBLIC_PREFIX "' || i.id || '/' || n || '.%s', 320, 240, 20000, '%s'"
             " FROM images i, unnest(%s) n",
             ip_format_jpeg.ext, ip_format_jpeg.name, names);
    PQclear(sql(c, q));
}

static void setup_db(void)
{
    PGconn *c = connect_or_die(base_dsn);
    PGresult *r = sql(c, "SELECT 1 FROM pg_database WHERE datname = '" BENCH_DB "'");
    if (PQntuples(r) == 0)
        PQclear(sql(c, "CREATE DATABASE " BENCH_DB));
    PQclear(r);
    PQfinish(c);
    dsn_with_db(BENCH_DB, dsn, sizeof(dsn));

    meta_store *s = NULL;
    char err[256];
    meta_store_opts so = {.dsn = dsn, .pool_size = 1};
    if (meta_store_new(&so, &s, err, sizeof(err)) != IP_OK)
        die("store: %s", err);
    meta_ctx cx = {0};
    if (meta_store_migrate(s, &cx, NULL) != IP_OK)
        die("migrate: %s", cx.err);
    meta_store_free(s);

    c = connect_or_die(dsn);
    r = sql(c, "SELECT count(*) FROM images");
    long have = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (have != ROWS) {
        fprintf(stderr, "seeding %d images and %d variants (once)...\n", ROWS,
                IP_VARIANT_COUNT * ROWS);
        int64_t t0 = ip_mono_ms();
        PQclear(sql(c, "SET synchronous_commit = off"));
        PQclear(sql(c, "TRUNCATE images CASCADE"));
        seed_rows(c);
        fprintf(stderr, "seeded in %.1f s\n", (double)(ip_mono_ms() - t0) / 1000.0);
    }
    PQclear(sql(c, "VACUUM ANALYZE images"));
    PQclear(sql(c, "VACUUM ANALYZE variants"));

    hot_ids = calloc(HOT_IDS, sizeof(*hot_ids));
    r = sql(c, "SELECT md5(g::text)::uuid FROM generate_series(1, 100000) g ORDER BY g");
    for (int i = 0; i < HOT_IDS; i++)
        hot_ids[i] = strdup(PQgetvalue(r, i, 0));
    PQclear(r);
    PQfinish(c);
}

static pid_t start_service(void)
{
    char pool[16];
    snprintf(pool, sizeof(pool), "%d", concurrency);
    if (!bench_free_tcp_url(rpc_url, sizeof rpc_url) ||
        !bench_free_tcp_url(events_url, sizeof events_url) || strcmp(rpc_url, events_url) == 0)
        die("no free port");
    pid_t pid = fork();
    if (pid < 0)
        die("fork failed");
    if (pid == 0) {
        setenv("IP_METADATA_RPC_URL", rpc_url, 1);
        setenv("IP_METADATA_EVENTS_URL", events_url, 1);
        setenv("IP_PG_DSN", dsn, 1);
        setenv("IP_PG_POOL_SIZE", pool, 1);
        setenv("IP_LOG_LEVEL", "warn", 1);
        execl(META_BIN, META_BIN, (char *)NULL);
        _exit(127);
    }
    service_pid = pid;
    ip_rpc_client_opts co = {.urls = rpc_url, .timeout_ms = 10000};
    if (ip_rpc_client_new(&imageproc__metadata__descriptor, &co, &cli) != IP_OK)
        die("rpc client");
    int64_t deadline = ip_mono_ms() + 30000;
    while (ip_rpc_ping(cli, 1000) != IP_OK) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            die("metadata-svc exited (status %d)", status);
        if (ip_mono_ms() > deadline)
            die("metadata-svc did not answer within 30 s");
    }
    return pid;
}

/* ------------------------------------------------------------- ListImages */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct(int64_t *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_i64);
    int k = (int)(p * (n - 1) + 0.5);
    return (double)v[k] / 1000.0;
}

static int64_t list_once(int64_t last_us, const char *last_id, size_t *n)
{
    Imageproc__ListImagesRequest req = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
    req.last_created_at_us = last_us;
    req.last_id = (char *)last_id;
    req.limit = 100;
    Imageproc__ListImagesReply *out = NULL;
    char err[256];
    int64_t t0 = ip_mono_us();
    ip_status st = ip_metadata_list_images(cli, &req, &out, NULL, err, sizeof(err));
    int64_t us = ip_mono_us() - t0;
    if (st != IP_OK)
        die("ListImages: %s %s", ip_strerror(st), err);
    *n = out->n_images;
    imageproc__list_images_reply__free_unpacked(out, NULL);
    return us;
}

static double list_bench(double *first_p50, double *deep_p50)
{
    PGconn *c = connect_or_die(dsn);
    PGresult *r = sql(c, "SELECT (extract(epoch from created_at) * 1000000)::bigint, id FROM images"
                         " ORDER BY created_at DESC, id DESC OFFSET 999899 LIMIT 1");
    int64_t cur_us = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    char cur_id[64];
    snprintf(cur_id, sizeof(cur_id), "%s", PQgetvalue(r, 0, 1));
    PQclear(r);

    int64_t *first = calloc((size_t)calls, sizeof(int64_t));
    int64_t *deep = calloc((size_t)calls, sizeof(int64_t));
    size_t n1 = 0, n2 = 0;
    for (int i = 0; i < 20; i++) { /* warm-up */
        list_once(0, "", &n1);
        list_once(cur_us, cur_id, &n2);
    }
    for (int i = 0; i < calls; i++) {
        first[i] = list_once(0, "", &n1);
        deep[i] = list_once(cur_us, cur_id, &n2);
    }
    if (n1 != 100 || n2 != 100)
        die("pages of %zu and %zu images, want 100", n1, n2);

    /* OFFSET for scale. */
    int64_t t0 = ip_mono_us();
    PQclear(
        sql(c, "SELECT id FROM images ORDER BY created_at DESC, id DESC OFFSET 999900 LIMIT 100"));
    double offset_ms = (double)(ip_mono_us() - t0) / 1000.0;

    /* The deep page's plan, generic as the pool's prepared statement runs it. */
    const char *q = meta_store_statement_sql("meta_list_after");
    PQclear(sql(c, "SET plan_cache_mode = force_generic_plan"));
    PGresult *p = PQprepare(c, "la", q, 0, NULL);
    if (PQresultStatus(p) != PGRES_COMMAND_OK)
        die("prepare: %s", PQresultErrorMessage(p));
    PQclear(p);
    char ex[512];
    snprintf(ex, sizeof(ex), "EXPLAIN (ANALYZE, BUFFERS) EXECUTE la('', 101, %lld, '%s')",
             (long long)cur_us, cur_id);
    r = sql(c, ex);
    const char *scan = "(no index scan!)", *exec = "";
    char buffers[128] = "";
    for (int i = 0; i < PQntuples(r); i++) {
        const char *line = PQgetvalue(r, i, 0);
        if (strstr(line, "Index Scan using images_created_id_idx") && scan[0] == '(')
            scan = "Index Scan using images_created_id_idx";
        if (strstr(line, "Execution Time"))
            exec = line;
        if (strstr(line, "Buffers:") && buffers[0] == '\0')
            snprintf(buffers, sizeof(buffers), "%s", line + strspn(line, " "));
    }

    double f50 = pct(first, calls, 0.5), f99 = pct(first, calls, 0.99);
    double d50 = pct(deep, calls, 0.5), d99 = pct(deep, calls, 0.99);
    printf("ListImages, limit 100, %d calls each, one caller, 1,000,000 rows\n", calls);
    printf("  %-34s %9s %9s\n", "page", "p50 ms", "p99 ms");
    printf("  %-34s %9.3f %9.3f\n", "1 (no cursor)", f50, f99);
    printf("  %-34s %9.3f %9.3f\n", "10,000 (keyset cursor, last page)", d50, d99);
    printf("  %-34s %9.3f %9s\n", "10,000 by OFFSET in plain SQL", offset_ms, "-");
    printf("  deep page plan: %s; %s; %s\n", scan, buffers, exec + strspn(exec, " "));
    printf("  deep/first p50 = %.2f\n\n", d50 / f50);
    PQclear(r);
    PQfinish(c);
    free(first);
    free(deep);
    *first_p50 = f50;
    *deep_p50 = d50;
    return d50 / f50;
}

/* ------------------------------------------------------------- GetImage */

typedef struct worker {
    pthread_t th;
    unsigned seed;
    long ok;
    long failed;
    char first_err[200]; /* of the first failed call */
} worker;

static atomic_bool stop_flag;

static void *get_worker(void *p)
{
    worker *w = p;
    while (!atomic_load(&stop_flag)) {
        Imageproc__GetImageRequest req = IMAGEPROC__GET_IMAGE_REQUEST__INIT;
        req.id = hot_ids[rand_r(&w->seed) % HOT_IDS];
        Imageproc__GetImageReply *out = NULL;
        char err[160] = "";
        ip_status st = ip_metadata_get_image(cli, &req, &out, NULL, err, sizeof(err));
        if (st == IP_OK && out->image->n_variants == 3) {
            w->ok++;
        } else {
            if (w->failed++ == 0)
                snprintf(w->first_err, sizeof(w->first_err), "%s: %s", ip_strerror(st), err);
        }
        if (out)
            imageproc__get_image_reply__free_unpacked(out, NULL);
    }
    return NULL;
}

/* Calls/s of one round; *failed gets the calls that did not answer OK (a
 * database restarted by someone else's test shows up here, not as an abort). */
static double get_round(long *failed_out)
{
    worker *ws = calloc((size_t)concurrency, sizeof(*ws));
    atomic_store(&stop_flag, false);
    for (int i = 0; i < concurrency; i++) {
        ws[i].seed = (unsigned)(i * 7919 + ip_mono_us());
        pthread_create(&ws[i].th, NULL, get_worker, &ws[i]);
    }
    int64_t t0 = ip_mono_us();
    usleep((useconds_t)seconds * 1000000u);
    atomic_store(&stop_flag, true);
    long ok = 0, failed = 0;
    for (int i = 0; i < concurrency; i++) {
        pthread_join(ws[i].th, NULL);
        ok += ws[i].ok;
        failed += ws[i].failed;
        if (ws[i].failed)
            fprintf(stderr, "caller %d: %ld failed, first: %s\n", i, ws[i].failed, ws[i].first_err);
    }
    double secs = (double)(ip_mono_us() - t0) / 1e6;
    free(ws);
    *failed_out = failed;
    return (double)ok / secs;
}

/* Writes the pgbench script: the store's GetImage SELECT with the id from n. */
static void write_pgbench_script(const char *path)
{
    const char *q = meta_store_statement_sql("meta_get");
    const char *at = strstr(q, "$1::uuid");
    if (at == NULL)
        die("meta_get has no $1::uuid");
    FILE *f = fopen(path, "w");
    if (f == NULL)
        die("cannot write %s", path);
    fprintf(f, "\\set n random(1, %d)\n", HOT_IDS);
    fprintf(f, "%.*smd5(:n::text)::uuid%s;\n", (int)(at - q), q, at + strlen("$1::uuid"));
    fclose(f);
}

static double pgbench_round(const char *script)
{
    char cmd[2048];
    char jobs[8];
    snprintf(jobs, sizeof(jobs), "%d", concurrency < 2 ? 1 : 2);
    /* pgbench takes a connection string (here key='value' pairs) as its
     * database argument, so it connects exactly as the service does. */
    snprintf(cmd, sizeof(cmd), "pgbench -n -M prepared -c %d -j %s -T %d -f '%s' \"%s\" 2>&1",
             concurrency, jobs, seconds, script, dsn);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        die("cannot run pgbench");
    char line[512];
    double tps = -1;
    while (fgets(line, sizeof(line), p) != NULL) {
        const char *t = strstr(line, "tps = ");
        if (t != NULL && tps < 0)
            tps = strtod(t + 6, NULL);
    }
    int rc = pclose(p);
    if (tps < 0 || rc != 0)
        die("pgbench failed (rc %d); command: %s", rc, cmd);
    return tps;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--concurrency") == 0 && i + 1 < argc)
            concurrency = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc)
            calls = atoi(argv[++i]);
        else {
            fprintf(
                stderr,
                "usage: bench_metadata [--concurrency N] [--seconds S] [--rounds R] [--calls N]\n");
            return 2;
        }
    }
    if (concurrency < 1 || seconds < 1 || calls < 10 || rounds < 1 || rounds > MAX_ROUNDS)
        die("bad options");
    ip_log_init("bench-metadata", IP_LOG_WARN);
    const char *env = getenv("IP_PG_DSN");
    snprintf(base_dsn, sizeof(base_dsn), "%s",
             env && env[0] ? env
                           : "postgresql://imageproc:imageproc-local@127.0.0.1:55432/imageproc");
    setup_db();
    pid_t pid = start_service();

    double first_p50, deep_p50;
    double list_ratio = list_bench(&first_p50, &deep_p50);

    char script[] = "/tmp/bench_metadata_XXXXXX";
    int fd = mkstemp(script);
    if (fd < 0)
        die("mkstemp");
    close(fd);
    write_pgbench_script(script);
    double svc[MAX_ROUNDS], pgb[MAX_ROUNDS], ratio[MAX_ROUNDS];
    long failed = 0, failed_total = 0;
    get_round(&failed); /* warm-up: every pooled connection prepared, caches hot */
    printf("GetImage (image + 3 variants), %d callers, %d s per side, %d rounds\n", concurrency,
           seconds, rounds);
    printf("  %-6s %22s %18s %8s %8s\n", "round", "metadata-svc calls/s", "pgbench tps", "ratio",
           "failed");
    for (int r = 0; r < rounds; r++) {
        svc[r] = get_round(&failed);
        failed_total += failed;
        pgb[r] = pgbench_round(script);
        ratio[r] = svc[r] / pgb[r];
        printf("  %-6d %22.0f %18.0f %8.2f %8ld\n", r + 1, svc[r], pgb[r], ratio[r], failed);
        fflush(stdout);
    }
    unlink(script);
    qsort(svc, (size_t)rounds, sizeof(double), cmp_dbl);
    qsort(pgb, (size_t)rounds, sizeof(double), cmp_dbl);
    qsort(ratio, (size_t)rounds, sizeof(double), cmp_dbl);
    printf("  median %22.0f %18.0f %8.2f %8ld\n\n", svc[rounds / 2], pgb[rounds / 2],
           ratio[rounds / 2], failed_total);

    ip_rpc_client_free(cli);
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    service_pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "metadata-svc did not exit cleanly (status %d)\n", status);
    printf("metadata: ListImages page 10000/page 1 p50 = %.2f (%.3f ms / %.3f ms)\n", list_ratio,
           deep_p50, first_p50);
    printf("metadata: GetImage/pgbench = %.2f\n", ratio[rounds / 2]);
    return 0;
}
