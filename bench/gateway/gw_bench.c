/* gw_bench — how much the gateway adds over its floors.
 *
 * 1. Upload latency of a 2 MiB JPEG through nginx (POST /api/upload, the full
 *    path: ReserveUpload, storage-svc PutObject, CreateImage, Kafka produce
 *    with acks=all awaited) at concurrency 1 and 8, against a SigV4-signed PUT of the
 *    same bytes straight to the S3 server (what storing the original alone
 *    costs). Each worker alternates the two, so both see the same background
 *    load (the processor works on the uploads meanwhile). The floor does the
 *    same payload work as the real path: it hashes the body (SHA-256, timed)
 *    and sends it as x-amz-content-sha256 so S3 checks the bytes, as
 *    storage-svc does with the gateway's digest; no Expect: 100-continue on
 *    either side, and its easy handle stays kept-alive like storage-svc's.
 * 2. GET /images?limit=24 requests per second with wrk, straight to the
 *    gateway (IP_GATEWAY_LISTEN: through nginx, its per-client request rate
 *    limit would be what is measured), against pgbench
 *    (-M prepared, same concurrency) running the statement metadata-svc runs
 *    for that page: the same columns, filter, join and page size (25 rows of
 *    images, one more than asked, to tell whether a page follows).
 *    The c=1 level's uploads (>= 24) are kept until the listing is done, so
 *    both sides list a page of real images.
 * Uploaded images (each with the owner token its 202 gave) and PUT objects
 * are deleted at the end.
 *
 * Configuration from the environment (.env.example names): IP_HTTP_LISTEN,
 * IP_GATEWAY_LISTEN,
 * IP_S3_ENDPOINT, IP_S3_BUCKET, IP_S3_REGION, IP_S3_ACCESS_KEY,
 * IP_S3_SECRET_KEY, IP_PG_DSN.
 * The last two lines: `listing: gateway/pgbench = <ratio>` and `gateway: upload
 * p50 = <x> ms, aim <= 1.3 x direct PUT <p> ms + 5 ms = <y> ms` (at c=1).
 */
#include <curl/curl.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vips/vips.h>

static const char *envd(const char *k, const char *d)
{
    const char *v = getenv(k);
    return v && *v ? v : d;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static char api[256], gw_direct[256], s3[256], bucket[64], region[64], userpwd[256];
static void *img;
static size_t img_len;

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t collect(char *d, size_t sz, size_t nm, void *u)
{
    buf *b = u;
    size_t n = sz * nm;
    char *np = realloc(b->p, b->n + n + 1);
    if (!np)
        return 0;
    b->p = np;
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

/* An accepted upload: its id and the owner token that may delete it. */
typedef struct upload_ref {
    char id[40];
    char token[64];
} upload_ref;

/* The string value of "field" in a flat JSON body into out ("" if absent). */
static void json_string(const char *body, const char *field, char *out, size_t outlen)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", field);
    out[0] = '\0';
    const char *q = body ? strstr(body, pat) : NULL;
    if (!q)
        return;
    q += strlen(pat);
    size_t n = strcspn(q, "\"");
    if (n >= outlen)
        return;
    memcpy(out, q, n);
    out[n] = '\0';
}

/* POST /upload (multipart). Fills ref. Returns ms or -1. */
static double do_upload(CURL *c, upload_ref *ref)
{
    buf b = {0};
    curl_mime *m = curl_mime_init(c);
    curl_mimepart *p = curl_mime_addpart(m);
    curl_mime_name(p, "file");
    curl_mime_filename(p, "bench.jpg");
    curl_mime_data(p, img, img_len);
    p = curl_mime_addpart(m);
    curl_mime_name(p, "ops");
    curl_mime_data(p, "thumbnail", CURL_ZERO_TERMINATED);
    char url[300];
    snprintf(url, sizeof url, "%s/upload", api);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, m);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    double t0 = now_ms();
    CURLcode rc = curl_easy_perform(c);
    double ms = now_ms() - t0;
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_mime_free(m);
    json_string(b.p, "id", ref->id, sizeof ref->id);
    json_string(b.p, "owner_token", ref->token, sizeof ref->token);
    free(b.p);
    return (rc == CURLE_OK && code == 202) ? ms : -1;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static double do_put(CURL *c, const char *key, int del)
{
    char url[400];
    snprintf(url, sizeof url, "%s/%s/%s", s3, bucket, key);
    char sig[128];
    snprintf(sig, sizeof sig, "aws:amz:%s:s3", region);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sig);
    curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    double t0 = now_ms();
    char sha[65], line[128];
    sha256_hex(del ? "" : img, del ? 0 : img_len, sha);
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", sha);
    struct curl_slist *h = curl_slist_append(NULL, line);
    h = curl_slist_append(h, "Content-Type: image/jpeg");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    buf b = {0};
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (del) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, img);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)img_len);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    }
    CURLcode rc = curl_easy_perform(c);
    double ms = now_ms() - t0;
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    free(b.p);
    return (rc == CURLE_OK && code / 100 == 2) ? ms : -1;
}

static void do_delete_image(CURL *c, const upload_ref *ref)
{
    char url[sizeof api + sizeof ref->id + 8], auth[128];
    snprintf(url, sizeof url, "%s/image/%s", api, ref->id);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", ref->token);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    buf b = {0};
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_perform(c);
    curl_slist_free_all(h);
    free(b.p);
}

typedef struct worker {
    int n, idx;
    bool keep; /* leave the uploads for the listing (deleted after it) */
    double *up, *put;
    int nup, nput, fails;
    upload_ref *ids;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    CURL *c = curl_easy_init();
    for (int i = 0; i < w->n; i++) {
        char key[128];
        double u = do_upload(c, &w->ids[w->nup]);
        if (u >= 0) {
            w->up[w->nup] = u;
            w->nup++;
        } else {
            w->fails++;
        }
        snprintf(key, sizeof key, "bench/gw/%d-%d", w->idx, i);
        double p = do_put(c, key, 0);
        if (p >= 0)
            w->put[w->nput++] = p;
        else
            w->fails++;
    }
    for (int i = 0; i < w->nup && !w->keep; i++)
        do_delete_image(c, &w->ids[i]);
    for (int i = 0; i < w->n; i++) {
        char key[128];
        snprintf(key, sizeof key, "bench/gw/%d-%d", w->idx, i);
        do_put(c, key, 1);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmpd);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

typedef struct level {
    double up50, up99, put50, put99;
    int fails;
} level;

/* The uploads of the level run with `keep`: the listing pages through them
 * (a page of 24 real images on both sides), then they are deleted. */
static upload_ref *kept;
static int nkept;

static level run_level(int conc, int per_worker, bool keep)
{
    worker w[16];
    pthread_t t[16];
    memset(w, 0, sizeof w);
    for (int i = 0; i < conc; i++) {
        w[i].n = per_worker;
        w[i].idx = conc * 1000 + i;
        w[i].keep = keep;
        w[i].up = calloc((size_t)per_worker, sizeof(double));
        w[i].put = calloc((size_t)per_worker, sizeof(double));
        w[i].ids = calloc((size_t)per_worker, sizeof(upload_ref));
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    int total = conc * per_worker, nu = 0, np = 0;
    double *up = calloc((size_t)total, sizeof(double)),
           *put = calloc((size_t)total, sizeof(double));
    level L = {0};
    for (int i = 0; i < conc; i++) {
        pthread_join(t[i], NULL);
        memcpy(up + nu, w[i].up, (size_t)w[i].nup * sizeof(double));
        nu += w[i].nup;
        memcpy(put + np, w[i].put, (size_t)w[i].nput * sizeof(double));
        np += w[i].nput;
        L.fails += w[i].fails;
        if (keep && w[i].nup > 0) {
            upload_ref *grown = realloc(kept, (size_t)(nkept + w[i].nup) * sizeof *kept);
            if (grown) {
                kept = grown;
                memcpy(kept + nkept, w[i].ids, (size_t)w[i].nup * sizeof *kept);
                nkept += w[i].nup;
            }
        }
        free(w[i].up);
        free(w[i].put);
        free(w[i].ids);
    }
    L.up50 = pct(up, nu, 0.5);
    L.up99 = pct(up, nu, 0.99);
    L.put50 = pct(put, np, 0.5);
    L.put99 = pct(put, np, 0.99);
    free(up);
    free(put);
    return L;
}

/* Runs a command and returns the number after `marker` in its output. */
static double run_and_parse(const char *cmd, const char *marker)
{
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    char line[512];
    double v = -1;
    while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, marker);
        if (p)
            v = atof(p + strlen(marker));
    }
    pclose(f);
    return v;
}

/* The endpoints and credentials from the environment (.env.example names);
 * the PostgreSQL DSN in *dsn. */
static void read_env(const char **dsn)
{
    snprintf(api, sizeof api, "http://%s/api", envd("IP_HTTP_LISTEN", "127.0.0.1:8080"));
    snprintf(gw_direct, sizeof gw_direct, "http://%s", envd("IP_GATEWAY_LISTEN", "127.0.0.1:8081"));
    snprintf(s3, sizeof s3, "%s", envd("IP_S3_ENDPOINT", "http://127.0.0.1:19000"));
    snprintf(bucket, sizeof bucket, "%s", envd("IP_S3_BUCKET", "images"));
    snprintf(region, sizeof region, "%s", envd("IP_S3_REGION", "us-east-1"));
    snprintf(userpwd, sizeof userpwd, "%s:%s", envd("IP_S3_ACCESS_KEY", "imageproc-local"),
             envd("IP_S3_SECRET_KEY", "imageproc-local-secret"));
    *dsn = envd("IP_PG_DSN", "postgresql://imageproc:imageproc-local@127.0.0.1:55432/imageproc");
}

/* A 2 MiB JPEG in img/img_len (g_free'd): noise compresses badly, so its
 * size follows its area. false when libvips fails. */
static bool make_jpeg(void)
{
    VipsImage *noise = NULL, *u8 = NULL;
    if (vips_gaussnoise(&noise, 1024, 1024, "mean", 128.0, "sigma", 40.0, NULL) ||
        vips_cast_uchar(noise, &u8, NULL) ||
        vips_jpegsave_buffer(u8, &img, &img_len, "Q", 92, NULL)) {
        fprintf(stderr, "gw_bench: cannot make the JPEG: %s\n", vips_error_buffer());
        return false;
    }
    g_object_unref(noise);
    g_object_unref(u8);
    /* Scale to about 2 MiB by repeating the area test once. */
    double scale = (2.0 * 1024 * 1024) / (double)img_len;
    if (scale > 1.05 || scale < 0.95) {
        int side = (int)(1024 * sqrt(scale));
        g_free(img);
        if (vips_gaussnoise(&noise, side, side, "mean", 128.0, "sigma", 40.0, NULL) ||
            vips_cast_uchar(noise, &u8, NULL) ||
            vips_jpegsave_buffer(u8, &img, &img_len, "Q", 92, NULL))
            return false;
        g_object_unref(noise);
        g_object_unref(u8);
    }
    return true;
}

/* 1. Upload latency against the direct PUT at c=1 and c=8; returns c=1. */
static level upload_bench(int n, int seconds)
{
    printf("gateway bench: %zu-byte JPEG, %d uploads and %d PUTs per level; listing %d s\n",
           img_len, n, n, seconds);
    printf("%-34s %10s %10s\n", "what", "p50 ms", "p99 ms");
    /* Warm-up: connections, Kafka producer id, caches. */
    run_level(1, 5, false);
    level l1 = run_level(1, n, true);
    level l8 = run_level(8, n / 8 > 0 ? n / 8 : 1, false);
    printf("%-34s %10.2f %10.2f\n", "upload via nginx, c=1", l1.up50, l1.up99);
    printf("%-34s %10.2f %10.2f\n", "direct S3 PUT, c=1 (floor)", l1.put50, l1.put99);
    printf("%-34s %10.2f %10.2f\n", "upload via nginx, c=8", l8.up50, l8.up99);
    printf("%-34s %10.2f %10.2f\n", "direct S3 PUT, c=8 (floor)", l8.put50, l8.put99);
    if (l1.fails || l8.fails)
        printf("(failed requests: %d)\n", l1.fails + l8.fails);
    return l1;
}

/* pgbench running metadata-svc's first-page statement for 24 images: its
 * tps in *tps (-1 when pgbench gave none). false when the script file cannot
 * be written. */
static bool pgbench_listing(const char *dsn, int seconds, double *tps)
{
    char cmd[1024];
    char sqlf[] = "/tmp/gw_bench_sqlXXXXXX";
    int fd = mkstemp(sqlf);
    /* metadata-svc's meta_list_first statement, character for character in
     * its columns (the microsecond times, the ops string) and its mode filter,
     * with the page size (limit + 1) as a parameter as the service sends it;
     * the mode is the literal '' the gateway sends for no mode. */
#define GW_US(t) "(extract(epoch from " t ") * 1000000)::bigint"
    const char *sql =
        "\\set lim 25\n"
        "SELECT i.id, " GW_US("i.created_at") ", " GW_US(
            "i.updated_at") ", i.filename,"
                            " i.content_type, i.size_bytes, i.width, i.height, i.sha256, "
                            "array_to_string(i.ops, ','),"
                            " i.status, i.error, coalesce(" GW_US(
                                "i.enqueued_at") ", 0), i.original_key, v.name,"
                                                 " v.status, v.object_key, v.width, v.height, "
                                                 "v.size_bytes, v.format, v.error"
                                                 " FROM (SELECT * FROM images WHERE (''::text = '' "
                                                 "OR ops @> ARRAY[''::text])"
                                                 " ORDER BY created_at DESC, id DESC LIMIT "
                                                 ":lim::int) i"
                                                 " LEFT JOIN variants v ON v.image_id = i.id"
                                                 " ORDER BY i.created_at DESC, i.id DESC, "
                                                 "array_position(i.ops, v.name);\n";
#undef GW_US
    if (fd < 0 || write(fd, sql, strlen(sql)) < 0)
        return false;
    close(fd);
    snprintf(cmd, sizeof cmd, "pgbench -n -M prepared -c8 -j2 -T%d -f %s '%s' 2>&1", seconds, sqlf,
             dsn);
    *tps = run_and_parse(cmd, "tps = ");
    unlink(sqlf);
    return true;
}

/* 2. The listing with wrk against pgbench, and the closing lines. false when
 * pgbench's script cannot be written. */
static bool listing_bench(const char *dsn, int seconds, level l1)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "wrk -t2 -c8 -d%ds '%s/images?limit=24' 2>&1", seconds, gw_direct);
    double wrk_rps = run_and_parse(cmd, "Requests/sec:");
    double pg_tps = 0;
    if (!pgbench_listing(dsn, seconds, &pg_tps))
        return false;
    printf("%-34s %10.0f req/s\n", "GET /images?limit=24 (wrk c=8, gw)", wrk_rps);
    printf("%-34s %10.0f tx/s\n", "pgbench same SELECT (c=8, floor)", pg_tps);
    printf("listing: gateway/pgbench = %.2f (aim >= 0.5)\n", pg_tps > 0 ? wrk_rps / pg_tps : 0);
    printf("gateway: upload p50 = %.1f ms, aim <= 1.3 x direct PUT %.1f ms + 5 ms = %.1f ms "
           "(upload/PUT p50 = %.2f)\n",
           l1.up50, l1.put50, 1.3 * l1.put50 + 5, l1.put50 > 0 ? l1.up50 / l1.put50 : 0);
    return true;
}

int main(int argc, char **argv)
{
    int n = 100, seconds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n"))
            n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atoi(argv[i + 1]);
    }
    if (VIPS_INIT(argv[0]))
        return 1;
    const char *dsn;
    read_env(&dsn);
    if (!make_jpeg())
        return 1;
    curl_global_init(CURL_GLOBAL_ALL);
    level l1 = upload_bench(n, seconds);
    bool listed = listing_bench(dsn, seconds, l1);
    CURL *c = curl_easy_init();
    for (int i = 0; c && i < nkept; i++)
        do_delete_image(c, &kept[i]);
    if (c)
        curl_easy_cleanup(c);
    free(kept);
    if (!listed)
        return 1;
    g_free(img);
    vips_shutdown();
    return 0;
}
