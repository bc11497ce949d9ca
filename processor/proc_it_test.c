/* proc_it_test.c — integration tests of the processor against the real stack
 * (ctest processor.*, label integration).
 *
 * Each test makes its own Kafka topics (a jobs topic and its DLQ, named with a
 * fresh id, deleted at the end) and runs its own processor instance(s) from
 * the build on them, in its own consumer group, so it neither disturbs nor
 * depends on the stack's processor. metadata-svc, storage-svc and Kafka are
 * the stack's (IP_* environment, defaults of .env.example); a missing one is a
 * failure. A test puts an original with storage-svc (PutObject o/<id>; every
 * key comes from ip_keys.h), creates its row with metadata-svc (CreateImage,
 * typed stubs of ip_rpc_stubs.h), produces a ProcessJob, and polls GetImage
 * until ready or failed with a deadline; variants are read back with
 * GetObject and decoded with libvips. A test that needs a service to go
 * down and come back points its processor at a switchable TCP proxy in front
 * of the stack's service (proc_it_proxy.h), so the stack itself keeps
 * running; /metrics and /healthz are read over plain HTTP. The tests' own
 * ports (proxies, metrics) move by IP_TEST_PORT_OFFSET when it is set.
 *
 * Usage: proc_it_test <test> <processor binary> <scratch dir>
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vips/vips.h>

#include "image.pb-c.h"
#include "ip_keys.h"
#include "ip_rpc.h"
#include "ip_rpc_stubs.h"
#include "ip_testing.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "job.pb-c.h"
#include "metadata.pb-c.h"
#include "proc_fixtures.h"
#include "proc_it_proxy.h"
#include "proc_variants.h"

/* ------------------------------------------------------------ environment */

static const char *proc_bin, *scratch;
static char brokers[256], meta_url[256], stor_url[256];
static char topic[96], dlq_topic[128], group[96];
static ip_rpc_client *meta, *stor;
static rd_kafka_t *producer;

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name); /* tests may read the environment */
    return v && *v ? v : def;
}

/* A port of the tests' own: `base` moved by IP_TEST_PORT_OFFSET (0 when
 * unset), so two stacks on one machine can run these tests at once. */
static int test_port(int base)
{
    int off = atoi(env_or("IP_TEST_PORT_OFFSET", "0"));
    return off > 0 && off < 20000 ? base + off : base;
}

/* "NAME=tcp://127.0.0.1:<test_port(base)>", for proc_start's settings; one of
 * four rotating buffers, enough for one proc_start. */
static const char *tcp_setting(const char *name, int base)
{
    static char bufs[4][96];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof(bufs[0]), "%s=tcp://127.0.0.1:%d", name, test_port(base));
    return b;
}

/* ------------------------------------------------------------ processes */

#define MAX_CHILDREN 8
static pid_t children[MAX_CHILDREN];

static void kill_children(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);
            children[i] = 0;
        }
    }
}

typedef struct proc_inst {
    pid_t pid;
    char log[512];
    int metrics_port;
} proc_inst;

/* Starts a processor on the test's topics with extra "NAME=value" settings
 * (NULL-terminated); its stderr goes to <scratch>/<topic>.<name>.log
 * (appended: a restarted instance of the same name continues it). */
static void proc_start(proc_inst *p, const char *name, int metrics_port, ...)
{
    snprintf(p->log, sizeof(p->log), "%s/%s.%s.log", scratch, topic, name);
    metrics_port = test_port(metrics_port);
    p->metrics_port = metrics_port;
    const char *extra[16];
    int n = 0;
    va_list ap;
    va_start(ap, metrics_port);
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL && n < 15)
        extra[n++] = s;
    va_end(ap);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        char listen[64];
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", metrics_port);
        setenv("IP_KAFKA_TOPIC", topic, 1);
        setenv("IP_KAFKA_DLQ_TOPIC", dlq_topic, 1);
        /* The test's own topics only: not the stack's regeneration topic. */
        setenv("IP_KAFKA_REGEN_TOPIC", "", 1);
        setenv("IP_KAFKA_GROUP", group, 1);
        setenv("IP_KAFKA_SESSION_TIMEOUT_MS", "6000", 1);
        setenv("IP_PROCESSOR_METRICS_LISTEN", listen, 1);
        setenv("IP_LOG_LEVEL", "info", 1);
        for (int i = 0; i < n; i++) {
            char kv[512];
            snprintf(kv, sizeof(kv), "%s", extra[i]);
            char *eq = strchr(kv, '=');
            if (eq) {
                *eq = '\0';
                setenv(kv, eq + 1, 1);
            }
        }
        execl(proc_bin, proc_bin, (char *)NULL);
        _exit(127);
    }
    p->pid = pid;
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (children[i] == 0) {
            children[i] = pid;
            break;
        }
    }
}

static void forget_child(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == pid)
            children[i] = 0;
}

/* Sends `sig` and waits up to timeout_ms; returns the exit status (or
 * 128+signal), -1 on timeout (the process is then killed). */
static int proc_stop(proc_inst *p, int sig, int timeout_ms)
{
    kill(p->pid, sig);
    int64_t until = ip_mono_ms() + timeout_ms;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid)
            break;
        if (ip_mono_ms() > until) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            forget_child(p->pid);
            return -1;
        }
        usleep(20000);
    }
    forget_child(p->pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A processor's log so far; owned (free()). "" while the child has not
 * opened it yet. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    return f ? ip_test_read_file(f) : strdup("");
}

static int count_substr(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Waits until the processor's log contains `needle` (e.g. its partitions
 * were assigned). */
static void wait_log(const proc_inst *p, const char *needle, int timeout_ms)
{
    int64_t until = ip_mono_ms() + timeout_ms;
    for (;;) {
        char *s = slurp(p->log);
        bool found = strstr(s, needle) != NULL;
        free(s);
        if (found)
            return;
        if (ip_mono_ms() > until) {
            fprintf(stderr, "timeout waiting for \"%s\" in %s\n", needle, p->log);
            CHECK(!"log line in time");
        }
        usleep(50000);
    }
}

/* GET http://127.0.0.1:<port><path>; returns the whole response (status
 * line, headers, body; owned) or NULL when nothing answers. */
static char *http_get(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    CHECK(write(fd, req, (size_t)n) == n);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    CHECK(buf != NULL);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (len + 1 == cap) {
            cap *= 2;
            CHECK((buf = realloc(buf, cap)) != NULL);
        }
    }
    close(fd);
    buf[len] = '\0';
    return buf;
}

/* Whether the processor's /metrics has the line "<series> <value>". */
static bool metrics_show(const proc_inst *p, const char *series, const char *value)
{
    char *text = http_get(p->metrics_port, "/metrics");
    CHECK(text != NULL);
    char line[256];
    snprintf(line, sizeof(line), "\n%s %s\n", series, value);
    bool found = strstr(text, line) != NULL;
    free(text);
    return found;
}

/* Polls /metrics until `series` shows `value` (jobs in flight reach their
 * next call in their own time); false after timeout_ms. */
static bool metrics_reach(const proc_inst *p, const char *series, const char *value, int timeout_ms)
{
    int64_t until = ip_mono_ms() + timeout_ms;
    while (!metrics_show(p, series, value)) {
        if (ip_mono_ms() > until)
            return false;
        usleep(50000);
    }
    return true;
}

/* /healthz answers 200 while jobs wait (waiting is healthy); prints the body. */
static void expect_healthy(const proc_inst *p)
{
    char *text = http_get(p->metrics_port, "/healthz");
    CHECK(text != NULL);
    EXPECTF(strncmp(text, "HTTP/1.0 200", 12) == 0 || strncmp(text, "HTTP/1.1 200", 12) == 0,
            "%.40s", text);
    const char *body = strstr(text, "\r\n\r\n");
    fprintf(stderr, "/healthz: %s\n", body ? body + 4 : text);
    free(text);
}

/* ------------------------------------------------------------ kafka */

static void admin_topics(bool create, const char *const *names, int n, int partitions)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    CHECK(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) ==
          RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    CHECK(rk != NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev = NULL;
    if (create) {
        rd_kafka_NewTopic_t *nt[4];
        for (int i = 0; i < n; i++)
            CHECK((nt[i] = rd_kafka_NewTopic_new(names[i], partitions, 1, err, sizeof(err))));
        rd_kafka_CreateTopics(rk, nt, (size_t)n, NULL, q);
        ev = rd_kafka_queue_poll(q, 20000);
        CHECK(ev != NULL);
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        CHECK(cnt == (size_t)n);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                fprintf(stderr, "create topic %s: %s\n", names[i], rd_kafka_err2str(e));
            CHECK(e == 0 || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
        }
        for (int i = 0; i < n; i++)
            rd_kafka_NewTopic_destroy(nt[i]);
    } else {
        rd_kafka_DeleteTopic_t *dt[4];
        for (int i = 0; i < n; i++)
            dt[i] = rd_kafka_DeleteTopic_new(names[i]);
        rd_kafka_DeleteTopics(rk, dt, (size_t)n, NULL, q);
        ev = rd_kafka_queue_poll(q, 20000);
        for (int i = 0; i < n; i++)
            rd_kafka_DeleteTopic_destroy(dt[i]);
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

static void delete_topics(void)
{
    const char *names[2] = {topic, dlq_topic};
    if (topic[0])
        admin_topics(false, names, 2, 0);
}

/* At exit, pass or fail: no processor outlives the test, no topic stays. */
static void presets_restore(void);

static void cleanup(void)
{
    presets_restore();
    kill_children();
    delete_topics();
}

static int delivery_errors;
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        delivery_errors++;
}

/* Produces the ProcessJob of image `id` to the test topic, to `partition`
 * (or by key when < 0), a regeneration when `regenerate`. */
static void produce_job_as(const char *id, int partition, bool regenerate)
{
    Imageproc__ProcessJob job = IMAGEPROC__PROCESS_JOB__INIT;
    char okey[IP_KEY_MAX];
    CHECK(ip_key_original(okey, id) == IP_OK);
    ip_variant_kind all[IP_VARIANT_COUNT];
    job.id = (char *)id;
    job.original_key = okey;
    job.requested = all;
    job.n_requested = ip_variant_mask_kinds(IP_VARIANT_MASK_ALL, all);
    job.attempt = 1;
    job.enqueued_at_us = ip_now_us();
    job.regenerate = regenerate;
    size_t len = imageproc__process_job__get_packed_size(&job);
    uint8_t *buf = malloc(len + 1);
    imageproc__process_job__pack(&job, buf);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(id, strlen(id)),
        RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
        RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    free(buf);
    CHECK(e == 0);
}

static void produce_job(const char *id, int partition)
{
    produce_job_as(id, partition, false);
}

static void produce_flush(void)
{
    CHECK(rd_kafka_flush(producer, 20000) == 0);
    CHECK(delivery_errors == 0);
}

/* ------------------------------------------------------------ services */

/* PutObject of `buf` at `key`; CHECKs success. */
static void put_object(const char *key, const void *buf, size_t len, const char *content_type)
{
    Imageproc__PutObjectRequest put = IMAGEPROC__PUT_OBJECT_REQUEST__INIT;
    put.key = (char *)key;
    put.data.data = (uint8_t *)buf;
    put.data.len = len;
    put.content_type = (char *)content_type;
    Imageproc__PutObjectReply *rep = NULL;
    char err[512];
    ip_status st = ip_storage_put_object(stor, &put, &rep, NULL, err, sizeof(err));
    CHECK_ST(st, IP_OK, err);
    imageproc__put_object_reply__free_unpacked(rep, NULL);
}

/* Stores `buf` as the original of a fresh image and creates its row, with
 * every variant requested. Writes the id into `id`. */
static void new_image(const void *buf, size_t len, const char *content_type,
                      char id[IP_UUID_STRLEN + 1])
{
    ip_uuid_v7_str(id);
    char key[IP_KEY_MAX], err[512];
    CHECK(ip_key_original(key, id) == IP_OK);
    put_object(key, buf, len, content_type);
    ip_variant_kind all[IP_VARIANT_COUNT];
    Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
    img.id = id;
    img.created_at_us = ip_now_us();
    img.filename = "it-fixture";
    img.content_type = (char *)content_type;
    img.size_bytes = (int64_t)len;
    img.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    img.requested = all;
    img.n_requested = ip_variant_mask_kinds(IP_VARIANT_MASK_ALL, all);
    img.original_key = key;
    Imageproc__CreateImageRequest cr = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
    cr.image = &img;
    Imageproc__CreateImageReply *rep = NULL;
    ip_status st = ip_metadata_create_image(meta, &cr, &rep, NULL, err, sizeof(err));
    CHECK_ST(st, IP_OK, err);
    imageproc__create_image_reply__free_unpacked(rep, NULL);
}

/* A fresh w x h JPEG image (new_image) whose job is produced and
 * acknowledged; its id goes to `id`. */
static void queue_jpeg(int w, int h, char id[IP_UUID_STRLEN + 1])
{
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_JPEG, w, h, &buf, &len) == 0);
    new_image(buf, len, "image/jpeg", id);
    g_free(buf);
    produce_job(id, -1);
    produce_flush();
}

static Imageproc__Image *get_image(const char *id, ip_status *st_out)
{
    Imageproc__GetImageRequest req = IMAGEPROC__GET_IMAGE_REQUEST__INIT;
    req.id = (char *)id;
    Imageproc__GetImageReply *rep = NULL;
    char err[256];
    ip_status st = ip_metadata_get_image(meta, &req, &rep, NULL, err, sizeof(err));
    if (st_out)
        *st_out = st;
    if (st != IP_OK)
        return NULL;
    Imageproc__Image *img = rep->image;
    rep->image = NULL; /* keep the image, free the reply */
    imageproc__get_image_reply__free_unpacked(rep, NULL);
    return img;
}

static void image_free(Imageproc__Image *img)
{
    if (img)
        protobuf_c_message_free_unpacked(&img->base, NULL);
}

/* Polls GetImage until ready or failed; returns the image (owned). */
static Imageproc__Image *wait_final(const char *id, int timeout_ms)
{
    int64_t until = ip_mono_ms() + timeout_ms;
    for (;;) {
        Imageproc__Image *img = get_image(id, NULL);
        if (img && (img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY ||
                    img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED))
            return img;
        image_free(img);
        if (ip_mono_ms() > until) {
            fprintf(stderr, "image %s not final in %d ms\n", id, timeout_ms);
            CHECK(!"image final in time");
        }
        usleep(50000);
    }
}

static const Imageproc__Variant *variant_of(const Imageproc__Image *img, ip_variant_kind kind)
{
    for (size_t i = 0; i < img->n_variants; i++)
        if (img->variants[i]->kind == kind)
            return img->variants[i];
    return NULL;
}

/* GetObject; returns the reply (owned) or NULL with *st set. */
static Imageproc__GetObjectReply *get_object(const char *key, ip_status *st_out)
{
    Imageproc__GetObjectRequest req = IMAGEPROC__GET_OBJECT_REQUEST__INIT;
    req.key = (char *)key;
    Imageproc__GetObjectReply *rep = NULL;
    char err[256];
    ip_status st = ip_storage_get_object(stor, &req, &rep, NULL, err, sizeof(err));
    if (st_out)
        *st_out = st;
    return rep;
}

/* Reads a ready variant back and checks its row against the object: size,
 * format by magic bytes, content type, dimensions and bands after decoding.
 * Returns the decoded image (owned) for further checks. */
static VipsImage *check_variant(const Imageproc__Image *img, ip_variant_kind kind, int w, int h,
                                bool alpha)
{
    const char *name = ip_variant_name(kind);
    const Imageproc__Variant *v = variant_of(img, kind);
    CHECK(v != NULL);
    if (v->status != IMAGEPROC__VARIANT_STATUS__VARIANT_READY)
        fprintf(stderr, "%s: %s is not ready: %s\n", img->id, name, v->error);
    CHECK(v->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY);
    const ip_format_def *fmt = alpha ? &ip_format_png : &ip_format_jpeg;
    char key[IP_KEY_MAX];
    CHECK(ip_key_variant_version(key, img->id, kind, fmt, v->preset_version) == IP_OK);
    CHECK_EQ_STR(v->object_key, key);
    CHECK_EQ_STR(v->format, fmt->name);
    if (v->width != w || v->height != h)
        fprintf(stderr, "%s %s: %dx%d, want %dx%d\n", img->id, name, v->width, v->height, w, h);
    CHECK(v->width == w && v->height == h);
    ip_status st;
    Imageproc__GetObjectReply *o = get_object(key, &st);
    CHECK(o != NULL);
    CHECK_EQ_INT(o->data.len, v->size_bytes);
    CHECK_EQ_STR(o->info->content_type, fmt->content_type);
    if (alpha)
        CHECK(o->data.len > 8 && memcmp(o->data.data, "\x89PNG", 4) == 0);
    else
        CHECK(o->data.len > 3 && memcmp(o->data.data, "\xff\xd8\xff", 3) == 0);
    CHECK(memmem(o->data.data, o->data.len, "Exif\0\0", 6) == NULL);
    VipsImage *im = vips_image_new_from_buffer(o->data.data, o->data.len, "", NULL);
    CHECK(im != NULL);
    VipsImage *m = vips_image_copy_memory(im);
    g_object_unref(im);
    imageproc__get_object_reply__free_unpacked(o, NULL);
    CHECK(m != NULL);
    CHECK_EQ_INT(m->Xsize, w);
    CHECK_EQ_INT(m->Ysize, h);
    CHECK_EQ_INT(m->Bands, alpha ? 4 : 3);
    CHECK(!vips_image_get_typeof(m, VIPS_META_EXIF_NAME));
    return m;
}

static void check_red_at(VipsImage *im, int x, int y, bool want)
{
    double *vec = NULL;
    int n = 0;
    CHECK(vips_getpoint(im, &vec, &n, x, y, NULL) == 0);
    unsigned char px[3] = {(unsigned char)vec[0], (unsigned char)vec[1], (unsigned char)vec[2]};
    g_free(vec);
    if (proc_fixture_is_red(px) != want)
        fprintf(stderr, "pixel %d,%d = %d,%d,%d, want %sred\n", x, y, px[0], px[1], px[2],
                want ? "" : "not ");
    CHECK(proc_fixture_is_red(px) == want);
}

static void check_upright(VipsImage *im)
{
    int w = im->Xsize, h = im->Ysize;
    check_red_at(im, w / 8, h / 8, true);
    check_red_at(im, w - w / 8, h / 8, false);
    check_red_at(im, w / 8, h - h / 8, false);
}

/* ------------------------------------------------------------ set-up */

static void setup(const char *name)
{
    snprintf(brokers, sizeof(brokers), "%s", env_or("IP_KAFKA_BROKERS", "127.0.0.1:19092"));
    snprintf(meta_url, sizeof(meta_url), "%s",
             env_or("IP_METADATA_RPC_URL", "tcp://127.0.0.1:7101"));
    snprintf(stor_url, sizeof(stor_url), "%s",
             env_or("IP_STORAGE_RPC_URL", "tcp://127.0.0.1:7201"));
    char u[IP_UUID_STRLEN + 1];
    ip_uuid_v4_str(u);
    u[8] = '\0';
    snprintf(topic, sizeof(topic), "proc-it-%s-%s", name, u);
    snprintf(dlq_topic, sizeof(dlq_topic), "%s.dlq", topic);
    snprintf(group, sizeof(group), "proc-it-%s-%s", name, u);
    mkdir(scratch, 0755);

    ip_rpc_client_opts mo = {.urls = meta_url, .timeout_ms = 10000};
    ip_rpc_client_opts so = {.urls = stor_url, .timeout_ms = 20000};
    CHECK(ip_rpc_client_new(&imageproc__metadata__descriptor, &mo, &meta) == IP_OK);
    CHECK(ip_rpc_client_new(&imageproc__storage__descriptor, &so, &stor) == IP_OK);
    if (ip_rpc_ping(meta, 5000) != IP_OK)
        fprintf(stderr, "metadata-svc does not answer at %s\n", meta_url);
    CHECK(ip_rpc_ping(meta, 5000) == IP_OK);
    if (ip_rpc_ping(stor, 5000) != IP_OK)
        fprintf(stderr, "storage-svc does not answer at %s\n", stor_url);
    CHECK(ip_rpc_ping(stor, 5000) == IP_OK);

    const char *names[2] = {topic, dlq_topic};
    admin_topics(true, names, 2, 4);

    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    CHECK(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) == 0);
    CHECK(rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) == 0);
    CHECK(rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err)) == 0);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    CHECK(producer != NULL);
    fprintf(stderr, "topic %s, group %s, logs in %s\n", topic, group, scratch);
}

/* Starts one processor and waits until it owns partitions. */
static void start_one(proc_inst *p, const char *name, int port)
{
    proc_start(p, name, port, (const char *)NULL);
    wait_log(p, "\"kafka.assigned\"", 30000);
}

/* ------------------------------------------------------------ tests */

static void test_formats(void)
{
    setup("formats");
    proc_inst p;
    start_one(&p, "formats", 9131);
    char ids[FX_COUNT][IP_UUID_STRLEN + 1];
    for (int k = 0; k < FX_COUNT; k++) {
        void *buf = NULL;
        size_t len = 0;
        CHECK(proc_fixture_make((proc_fixture_kind)k, 1600, 1000, &buf, &len) == 0);
        new_image(buf, len, "application/octet-stream", ids[k]);
        g_free(buf);
        produce_job(ids[k], -1);
    }
    produce_flush();
    for (int k = 0; k < FX_COUNT; k++) {
        Imageproc__Image *img = wait_final(ids[k], 60000);
        if (img->status != IMAGEPROC__IMAGE_STATUS__IMAGE_READY)
            fprintf(stderr, "%s failed: %s\n", proc_fixture_name((proc_fixture_kind)k), img->error);
        CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
        bool alpha = proc_fixture_has_alpha((proc_fixture_kind)k);
        g_object_unref(check_variant(img, IP_VARIANT_THUMBNAIL, 320, 320, alpha));
        VipsImage *r = check_variant(img, IP_VARIANT_RESIZED, 1280, 800, alpha);
        if (k != FX_PNG_GREY)
            check_upright(r);
        g_object_unref(r);
        g_object_unref(check_variant(img, IP_VARIANT_WATERMARKED, 1280, 800, alpha));
        fprintf(stderr, "%-17s ready\n", proc_fixture_name((proc_fixture_kind)k));
        image_free(img);
    }
    CHECK_EQ_INT(proc_stop(&p, SIGTERM, 30000), 0);
}

static void test_orientation(void)
{
    setup("orientation");
    proc_inst p;
    start_one(&p, "orientation", 9132);
    char ids[9][IP_UUID_STRLEN + 1];
    for (int o = 1; o <= 8; o++) {
        void *buf = NULL;
        size_t len = 0;
        CHECK(proc_fixture_oriented_jpeg(o, 600, 400, &buf, &len) == 0);
        new_image(buf, len, "image/jpeg", ids[o]);
        g_free(buf);
        produce_job(ids[o], -1);
    }
    produce_flush();
    for (int o = 1; o <= 8; o++) {
        Imageproc__Image *img = wait_final(ids[o], 60000);
        CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
        ip_variant_kind upright[] = {IP_VARIANT_RESIZED, IP_VARIANT_WATERMARKED};
        for (int v = 0; v < 2; v++) {
            VipsImage *im = check_variant(img, upright[v], 600, 400, false);
            check_upright(im);
            g_object_unref(im);
        }
        g_object_unref(check_variant(img, IP_VARIANT_THUMBNAIL, 320, 320, false));
        fprintf(stderr, "orientation %d upright\n", o);
        image_free(img);
    }
    CHECK_EQ_INT(proc_stop(&p, SIGTERM, 30000), 0);
}

static void test_gps_stripped(void)
{
    setup("gps");
    proc_inst p;
    start_one(&p, "gps", 9133);
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_gps_jpeg(1000, 700, &buf, &len) == 0);
    CHECK(memmem(buf, len, "Exif\0\0", 6) != NULL);
    char id[IP_UUID_STRLEN + 1];
    new_image(buf, len, "image/jpeg", id);
    g_free(buf);
    produce_job(id, -1);
    produce_flush();
    Imageproc__Image *img = wait_final(id, 60000);
    CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    /* check_variant refuses any EXIF block in the bytes and in the decode. */
    g_object_unref(check_variant(img, IP_VARIANT_THUMBNAIL, 320, 320, false));
    g_object_unref(check_variant(img, IP_VARIANT_RESIZED, 1000, 700, false));
    g_object_unref(check_variant(img, IP_VARIANT_WATERMARKED, 1000, 700, false));
    image_free(img);
    CHECK_EQ_INT(proc_stop(&p, SIGTERM, 30000), 0);
}

/* A corrupt file fails at once with its reason; the next job of the same
 * partition still runs; an image over the pixel limit fails from its header. */
static void test_corrupt_then_next(void)
{
    setup("corrupt");
    proc_inst p;
    start_one(&p, "corrupt", 9134);
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_JPEG, 1200, 900, &buf, &len) == 0);
    char bad[IP_UUID_STRLEN + 1], huge[IP_UUID_STRLEN + 1], good[IP_UUID_STRLEN + 1];
    new_image(buf, len / 2, "image/jpeg", bad); /* truncated */
    new_image(buf, len, "image/jpeg", good);
    g_free(buf);
    CHECK(proc_fixture_huge_png(30000, 30000, &buf, &len) == 0);
    new_image(buf, len, "image/png", huge);
    g_free(buf);
    produce_job(bad, 0);
    produce_job(huge, 0);
    produce_job(good, 0);
    produce_flush();

    Imageproc__Image *img = wait_final(bad, 60000);
    fprintf(stderr, "truncated: %s\n", img->error);
    CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED);
    CHECK(strstr(img->error, "Premature end") != NULL);
    image_free(img);
    img = wait_final(huge, 60000);
    fprintf(stderr, "30000x30000: %s\n", img->error);
    CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED);
    CHECK(strstr(img->error, "over the limit") != NULL);
    image_free(img);
    img = wait_final(good, 60000);
    CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    image_free(img);
    /* Failed at once: one run each, no retries. */
    CHECK_EQ_INT(proc_stop(&p, SIGTERM, 30000), 0);
    char *log = slurp(p.log);
    CHECK(strstr(log, "\"job.retry\"") == NULL);
    CHECK_EQ_INT(count_substr(log, "\"outcome\":\"failed\""), 2);
    free(log);
}

/* The image is deleted before its job runs: nothing is left under v/<id>/
 * (not even an object an earlier attempt left there). */
static void test_deleted_meanwhile(void)
{
    setup("deleted");
    proc_inst p;
    start_one(&p, "deleted", 9135);
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_JPEG, 800, 600, &buf, &len) == 0);
    char id[IP_UUID_STRLEN + 1], next[IP_UUID_STRLEN + 1];
    new_image(buf, len, "image/jpeg", id);
    new_image(buf, len, "image/jpeg", next);
    /* A stray variant, as a crashed earlier run would leave. */
    char stray[IP_KEY_MAX], err[256];
    CHECK(ip_key_variant(stray, id, IP_VARIANT_THUMBNAIL, &ip_format_jpeg) == IP_OK);
    put_object(stray, buf, len, ip_format_jpeg.content_type);
    g_free(buf);
    Imageproc__DeleteImageRequest del = IMAGEPROC__DELETE_IMAGE_REQUEST__INIT;
    del.id = id;
    Imageproc__DeleteImageReply *drep = NULL;
    ip_status dst = ip_metadata_delete_image(meta, &del, &drep, NULL, err, sizeof(err));
    CHECK_ST(dst, IP_OK, err);
    imageproc__delete_image_reply__free_unpacked(drep, NULL);
    produce_job(id, 1);
    produce_job(next, 1);
    produce_flush();
    Imageproc__Image *img = wait_final(next, 60000);
    CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    image_free(img);
    ip_status st;
    CHECK(get_object(stray, &st) == NULL && st == IP_NOT_FOUND);
    CHECK(get_image(id, &st) == NULL && st == IP_NOT_FOUND);
    CHECK_EQ_INT(proc_stop(&p, SIGTERM, 30000), 0);
    char *log = slurp(p.log);
    CHECK(strstr(log, "\"job.deleted_meanwhile\"") != NULL);
    CHECK(strstr(log, "\"outcome\":\"deleted\"") != NULL);
    free(log);
}

/* The dead letter of image `id` on the test's DLQ topic (owned), or NULL
 * when none comes within 20 s. */
static Imageproc__ProcessJob *dlq_find(const char *id)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    CHECK(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) == 0);
    char reader[128];
    snprintf(reader, sizeof(reader), "%s-dlq-reader", group);
    CHECK(rd_kafka_conf_set(conf, "group.id", reader, err, sizeof(err)) == 0);
    CHECK(rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)) == 0);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    CHECK(c != NULL);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (int i = 0; i < 4; i++)
        rd_kafka_topic_partition_list_add(l, dlq_topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    CHECK(rd_kafka_assign(c, l) == 0);
    rd_kafka_topic_partition_list_destroy(l);
    Imageproc__ProcessJob *found = NULL;
    int64_t until = ip_mono_ms() + 20000;
    while (!found && ip_mono_ms() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m)
            continue;
        if (!m->err) {
            Imageproc__ProcessJob *j = imageproc__process_job__unpack(NULL, m->len, m->payload);
            if (j && strcmp(j->id, id) == 0)
                found = j;
            else if (j)
                imageproc__process_job__free_unpacked(j, NULL);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    if (found)
        fprintf(stderr, "dlq message: attempt %d, last_error %s\n", found->attempt,
                found->last_error);
    return found;
}

/* storage-svc unreachable: the job waits, using no attempt (/metrics shows
 * it waiting on storage-svc), until the retry horizon; then it goes to the
 * DLQ with its last error and the image fails with that reason. */
static void test_dlq(void)
{
    setup("dlq");
    proc_inst p;
    proc_start(&p, "dlq", 9136, tcp_setting("IP_STORAGE_RPC_URL", 7299), "IP_JOB_MAX_ATTEMPTS=1",
               "IP_JOB_BACKOFF_MS=100", "IP_JOB_BACKOFF_MAX_MS=400", "IP_JOB_RETRY_HORIZON_MS=5000",
               "IP_RPC_TIMEOUT_MS=300", (const char *)NULL);
    wait_log(&p, "\"kafka.assigned\"", 30000);
    char id[IP_UUID_STRLEN + 1];
    queue_jpeg(400, 300, id);
    wait_log(&p, "\"on\":\"storage-svc\"", 30000);
    EXPECT(metrics_show(&p, "proc_jobs_waiting{on=\"storage-svc\"}", "1"));
    expect_healthy(&p);
    Imageproc__Image *img = wait_final(id, 60000);
    fprintf(stderr, "dlq: %s\n", img->error);
    CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED);
    EXPECT(strstr(img->error, "gave up after waiting ") != NULL);
    EXPECT(strstr(img->error, "for storage-svc: GetObject") != NULL);
    image_free(img);

    /* The DLQ holds the job with its last error; no attempt was used. */
    Imageproc__ProcessJob *j = dlq_find(id);
    CHECK(j != NULL);
    EXPECT_EQ_INT(j->attempt, 1);
    EXPECT(strstr(j->last_error, "unavailable") || strstr(j->last_error, "deadline"));
    imageproc__process_job__free_unpacked(j, NULL);
    EXPECT(metrics_show(&p, "proc_jobs_waiting{on=\"storage-svc\"}", "0"));
    CHECK_EQ_INT(proc_stop(&p, SIGTERM, 30000), 0);
    char *log = slurp(p.log);
    EXPECT_EQ_INT(count_substr(log, "\"job.retry\""), 0);
    EXPECT(count_substr(log, "\"job.waiting\"") >= 3);
    EXPECT(strstr(log, "\"outcome\":\"dlq\"") != NULL);
    free(log);
}

/* metadata-svc, then storage-svc, down (a proxy in front of each is
 * switched off) while jobs wait: with one attempt allowed, nothing fails;
 * /metrics names what the jobs wait on; both images end ready once the
 * services are back. */
static void test_outage_then_ready(void)
{
    setup("outage");
    it_proxy *mp = it_proxy_new(test_port(7198), meta_url),
             *sp = it_proxy_new(test_port(7298), stor_url);
    CHECK(mp != NULL && sp != NULL);
    proc_inst p;
    proc_start(&p, "outage", 9140, tcp_setting("IP_METADATA_RPC_URL", 7198),
               tcp_setting("IP_STORAGE_RPC_URL", 7298), "IP_JOB_MAX_ATTEMPTS=1",
               "IP_JOB_BACKOFF_MS=50", "IP_JOB_BACKOFF_MAX_MS=500", "IP_RPC_TIMEOUT_MS=1000",
               (const char *)NULL);
    wait_log(&p, "\"kafka.assigned\"", 30000);
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_JPEG, 800, 600, &buf, &len) == 0);
    char a[IP_UUID_STRLEN + 1], b[IP_UUID_STRLEN + 1];
    new_image(buf, len, "image/jpeg", a);
    new_image(buf, len, "image/jpeg", b);
    g_free(buf);
    produce_job(a, 0);
    produce_job(b, 0);
    produce_flush();

    /* Both jobs of partition 0 wait at once: jobs of different images run
     * side by side whatever their partition. */
    EXPECT(metrics_reach(&p, "proc_jobs_waiting{on=\"metadata-svc\"}", "2", 30000));
    expect_healthy(&p);
    sleep(3);
    CHECK(it_proxy_set_up(mp, true));
    EXPECT(metrics_reach(&p, "proc_jobs_waiting{on=\"storage-svc\"}", "2", 30000));
    EXPECT(metrics_show(&p, "proc_jobs_waiting{on=\"metadata-svc\"}", "0"));
    expect_healthy(&p);
    sleep(3);
    CHECK(it_proxy_set_up(sp, true));
    const char *ids[] = {a, b};
    for (int i = 0; i < 2; i++) {
        Imageproc__Image *img = wait_final(ids[i], 60000);
        if (img->status != IMAGEPROC__IMAGE_STATUS__IMAGE_READY)
            fprintf(stderr, "%s: %s\n", ids[i], img->error);
        EXPECT(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
        EXPECT_EQ_INT(img->runs, 1);
        image_free(img);
    }
    EXPECT(metrics_show(&p, "proc_jobs_waiting{on=\"storage-svc\"}", "0"));
    CHECK_EQ_INT(proc_stop(&p, SIGTERM, 30000), 0);
    it_proxy_free(mp);
    it_proxy_free(sp);
    char *log = slurp(p.log);
    EXPECT_EQ_INT(count_substr(log, "\"job.retry\""), 0);
    EXPECT_EQ_INT(count_substr(log, "\"outcome\":\"ready\""), 2);
    EXPECT(strstr(log, "\"outcome\":\"failed\"") == NULL);
    EXPECT(strstr(log, "\"outcome\":\"dlq\"") == NULL);
    free(log);
}

/* storage-svc dies in the middle of a job, at its first PutObject (the
 * proxy cuts the first large request, after the original was fetched): the
 * job waits, using no attempt, with nothing recorded on the row (a row never
 * names an object that is not there); once storage-svc is back the image ends
 * ready with every variant stored and recorded. */
static void test_storage_cut_mid_job(void)
{
    setup("cut");
    it_proxy *sp = it_proxy_new(test_port(7296), stor_url);
    CHECK(sp != NULL);
    it_proxy_cut_after(sp, 4096);
    CHECK(it_proxy_set_up(sp, true));
    proc_inst p;
    proc_start(&p, "cut", 9142, tcp_setting("IP_STORAGE_RPC_URL", 7296), "IP_JOB_MAX_ATTEMPTS=1",
               "IP_JOB_BACKOFF_MS=50", "IP_JOB_BACKOFF_MAX_MS=500", "IP_RPC_TIMEOUT_MS=1000",
               (const char *)NULL);
    wait_log(&p, "\"kafka.assigned\"", 30000);
    char id[IP_UUID_STRLEN + 1];
    queue_jpeg(800, 600, id);
    wait_log(&p, "\"on\":\"storage-svc\"", 30000);
    CHECK(it_proxy_was_cut(sp));
    char *log = slurp(p.log);
    EXPECT(strstr(log, "PutObject") != NULL); /* the wait names the put that failed */
    free(log);
    Imageproc__Image *img = get_image(id, NULL);
    CHECK(img != NULL);
    EXPECT(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING);
    for (size_t i = 0; i < img->n_variants; i++)
        EXPECT(img->variants[i]->status == IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING &&
               img->variants[i]->object_key[0] == '\0');
    image_free(img);

    CHECK(it_proxy_set_up(sp, false)); /* clears the cut */
    it_proxy_cut_after(sp, 0);
    CHECK(it_proxy_set_up(sp, true));
    img = wait_final(id, 60000);
    if (img->status != IMAGEPROC__IMAGE_STATUS__IMAGE_READY)
        fprintf(stderr, "%s: %s\n", id, img->error);
    CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    EXPECT_EQ_INT(img->runs, 1);
    EXPECT_EQ_INT(img->n_variants, IP_VARIANT_COUNT);
    for (size_t i = 0; i < img->n_variants; i++) {
        const Imageproc__Variant *v = img->variants[i];
        EXPECT(v->status == IMAGEPROC__VARIANT_STATUS__VARIANT_READY);
        ip_status st;
        Imageproc__GetObjectReply *o = get_object(v->object_key, &st);
        CHECK(o != NULL);
        EXPECT_EQ_INT(o->data.len, v->size_bytes);
        imageproc__get_object_reply__free_unpacked(o, NULL);
    }
    image_free(img);
    CHECK_EQ_INT(proc_stop(&p, SIGTERM, 30000), 0);
    it_proxy_free(sp);
    log = slurp(p.log);
    EXPECT_EQ_INT(count_substr(log, "\"job.retry\""), 0);
    EXPECT_EQ_INT(count_substr(log, "\"outcome\":\"ready\""), 1);
    free(log);
}

/* A job that loses its processor more often than the attempts allow is
 * poison: processor a takes the job (one run), waits on an unreachable
 * storage-svc and is killed; processor b gets the job again (run two, over
 * IP_JOB_MAX_ATTEMPTS=1), does no work, dead-letters it and fails the image
 * with the reason. */
static void test_poison(void)
{
    setup("poison");
    proc_inst pa, pb;
    proc_start(&pa, "poison-a", 9141, tcp_setting("IP_STORAGE_RPC_URL", 7297),
               "IP_JOB_MAX_ATTEMPTS=1", (const char *)NULL);
    wait_log(&pa, "\"kafka.assigned\"", 30000);
    char id[IP_UUID_STRLEN + 1];
    queue_jpeg(400, 300, id);
    wait_log(&pa, "\"on\":\"storage-svc\"", 30000);
    Imageproc__Image *img = get_image(id, NULL);
    CHECK(img != NULL);
    EXPECT(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING);
    EXPECT_EQ_INT(img->runs, 1);
    EXPECT(img->lease_until_us > ip_now_us());
    image_free(img);
    CHECK_EQ_INT(proc_stop(&pa, SIGKILL, 5000), 128 + SIGKILL);

    proc_start(&pb, "poison-b", 9141, "IP_JOB_MAX_ATTEMPTS=1", (const char *)NULL);
    img = wait_final(id, 90000);
    fprintf(stderr, "poison: %s\n", img->error);
    EXPECT(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED);
    EXPECT(strstr(img->error, "gave up after 1 runs: killed or lost its processor 1 times") !=
           NULL);
    EXPECT_EQ_INT(img->runs, 2);
    image_free(img);
    Imageproc__ProcessJob *j = dlq_find(id);
    CHECK(j != NULL);
    EXPECT(strstr(j->last_error, "killed or lost its processor") != NULL);
    imageproc__process_job__free_unpacked(j, NULL);
    CHECK_EQ_INT(proc_stop(&pb, SIGTERM, 30000), 0);
    char *log = slurp(pb.log);
    EXPECT(strstr(log, "\"job.poison\"") != NULL);
    EXPECT(strstr(log, "\"job.decode_failed\"") == NULL);
    free(log);
}

/* Killed with SIGKILL in the middle of a job: after a restart the job
 * completes, with the variants an uninterrupted run makes. */
static void test_sigkill_restart(void)
{
    setup("sigkill");
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_PNG8, 8000, 6000, &buf, &len) == 0);
    proc_settings s;
    proc_settings_default(&s);
    proc_variants want;
    char err[256];
    CHECK(proc_variants_make(buf, len, IP_VARIANT_MASK_ALL, &s, &want, err, sizeof(err)) == IP_OK);

    char id[IP_UUID_STRLEN + 1];
    bool killed_mid_job = false;
    proc_inst p;
    for (int round = 0; round < 3 && !killed_mid_job; round++) {
        new_image(buf, len, "image/png", id);
        start_one(&p, "sigkill", 9137);
        produce_job(id, -1);
        produce_flush();
        /* Kill as soon as the job is under way (MarkProcessing recorded). */
        int64_t until = ip_mono_ms() + 60000;
        for (;;) {
            Imageproc__Image *img = get_image(id, NULL);
            int status = img ? img->status : 0;
            image_free(img);
            if (status != IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING)
                break;
            CHECK(ip_mono_ms() < until);
            usleep(5000);
        }
        CHECK_EQ_INT(proc_stop(&p, SIGKILL, 5000), 128 + SIGKILL);
        Imageproc__Image *img = get_image(id, NULL);
        CHECK(img != NULL);
        killed_mid_job = img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING;
        fprintf(stderr, "round %d: killed with the image %s\n", round,
                killed_mid_job ? "processing" : "already final");
        image_free(img);
        if (!killed_mid_job) {
            /* Too late; let it be consumed and try again with a new image. */
            start_one(&p, "sigkill", 9137);
            image_free(wait_final(id, 60000));
            CHECK_EQ_INT(proc_stop(&p, SIGTERM, 30000), 0);
        }
    }
    CHECK(killed_mid_job);
    start_one(&p, "sigkill", 9137);
    Imageproc__Image *img = wait_final(id, 120000);
    CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    for (int i = 0; i < want.n; i++) {
        const Imageproc__Variant *v = variant_of(img, want.v[i].kind);
        CHECK(v != NULL);
        fprintf(stderr, "%s: %dx%d %lld B (uninterrupted run: %dx%d %zu B)\n",
                ip_variant_name(v->kind), v->width, v->height, (long long)v->size_bytes,
                want.v[i].width, want.v[i].height, want.v[i].len);
        CHECK_EQ_INT(v->width, want.v[i].width);
        CHECK_EQ_INT(v->height, want.v[i].height);
        CHECK_EQ_INT(v->size_bytes, want.v[i].len);
        CHECK_EQ_STR(v->format, want.v[i].format->name);
    }
    image_free(img);
    proc_variants_fini(&want);
    g_free(buf);
    CHECK_EQ_INT(proc_stop(&p, SIGTERM, 30000), 0);
}

/* Two processors in the group share the partitions and together finish 200
 * jobs; each job's outcome is recorded once. The second joins while the
 * first is busy, so the rebalance revokes partitions with jobs in flight and
 * queued: those finish and are committed, or are dropped uncommitted and run
 * by the new owner, never both. */
static void test_two_processors(void)
{
    setup("two");
    enum { N = 200 };
    static char ids[N][IP_UUID_STRLEN + 1];
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_JPEG, 1600, 1200, &buf, &len) == 0);
    for (int i = 0; i < N; i++) {
        new_image(buf, len, "image/jpeg", ids[i]);
        produce_job(ids[i], i % 4);
    }
    g_free(buf);
    produce_flush();

    proc_inst a, b;
    start_one(&a, "two-a", 9138);
    /* Let a get going (a few jobs done, more in flight and queued), then b
     * joins. */
    int64_t until = ip_mono_ms() + 60000;
    for (;;) {
        char *la = slurp(a.log);
        int n = count_substr(la, "\"event\":\"job.done\"");
        free(la);
        if (n >= 8)
            break;
        CHECK(ip_mono_ms() < until);
        usleep(20000);
    }
    proc_start(&b, "two-b", 9139, (const char *)NULL);
    wait_log(&b, "\"kafka.assigned\"", 30000);
    for (int i = 0; i < N; i++) {
        Imageproc__Image *img = wait_final(ids[i], 180000);
        CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
        image_free(img);
    }
    CHECK_EQ_INT(proc_stop(&a, SIGTERM, 30000), 0);
    CHECK_EQ_INT(proc_stop(&b, SIGTERM, 30000), 0);
    char *la = slurp(a.log), *lb = slurp(b.log);
    int done_a = count_substr(la, "\"event\":\"job.done\"");
    int done_b = count_substr(lb, "\"event\":\"job.done\"");
    fprintf(stderr,
            "processor a finished %d jobs, b %d; a revoked %d time(s), dropped queued: %s\n",
            done_a, done_b, count_substr(la, "\"kafka.revoked\""),
            strstr(la, "\"dropped_queued\":0") ? "none at some revoke" : "some");
    CHECK(done_a > 0 && done_b > 0);
    CHECK(count_substr(la, "\"kafka.revoked\"") >= 1);
    CHECK_EQ_INT(done_a + done_b, N);
    for (int i = 0; i < N; i++) {
        char needle[128];
        snprintf(needle, sizeof(needle), "\"image_id\":\"%.36s\",\"outcome\"", ids[i]);
        CHECK_EQ_INT(count_substr(la, needle) + count_substr(lb, needle), 1);
    }
    CHECK(strstr(la, "\"processor.stopped\"") && strstr(lb, "\"processor.stopped\""));
    free(la);
    free(lb);
}

/* ------------------------------------------------------------ presets */

/* The presets as the test found them, put back at its end (also on a
 * failed CHECK, from cleanup). */
static Imageproc__GetPresetsReply *saved_presets;

static Imageproc__GetPresetsReply *get_presets(void)
{
    Imageproc__GetPresetsRequest req = IMAGEPROC__GET_PRESETS_REQUEST__INIT;
    Imageproc__GetPresetsReply *rep = NULL;
    char err[256];
    ip_status st = ip_metadata_get_presets(meta, &req, &rep, NULL, err, sizeof(err));
    CHECK_ST(st, IP_OK, err);
    CHECK_EQ_INT(rep->n_presets, IP_VARIANT_COUNT);
    return rep;
}

/* SetPreset; returns the version now stored. */
static int set_preset(Imageproc__Preset *p)
{
    Imageproc__SetPresetRequest req = IMAGEPROC__SET_PRESET_REQUEST__INIT;
    req.preset = p;
    Imageproc__SetPresetReply *rep = NULL;
    char err[256];
    ip_status st = ip_metadata_set_preset(meta, &req, &rep, NULL, err, sizeof(err));
    CHECK_ST(st, IP_OK, err);
    int v = rep->preset->version;
    imageproc__set_preset_reply__free_unpacked(rep, NULL);
    return v;
}

static void presets_save(void)
{
    saved_presets = get_presets();
}

static void presets_restore(void)
{
    Imageproc__GetPresetsReply *s = saved_presets;
    saved_presets = NULL;
    if (!s)
        return;
    for (size_t i = 0; i < s->n_presets; i++) {
        Imageproc__SetPresetRequest req = IMAGEPROC__SET_PRESET_REQUEST__INIT;
        req.preset = s->presets[i];
        Imageproc__SetPresetReply *rep = NULL;
        char err[256];
        if (ip_metadata_set_preset(meta, &req, &rep, NULL, err, sizeof(err)) == IP_OK)
            imageproc__set_preset_reply__free_unpacked(rep, NULL);
        else
            fprintf(stderr, "presets not restored: %s\n", err);
    }
    imageproc__get_presets_reply__free_unpacked(s, NULL);
}

/* The current preset of `kind` (from a fresh GetPresets, owned by *hold). */
static Imageproc__Preset *preset_of(Imageproc__GetPresetsReply **hold, ip_variant_kind kind)
{
    *hold = get_presets();
    for (size_t i = 0; i < (*hold)->n_presets; i++)
        if ((*hold)->presets[i]->kind == kind)
            return (*hold)->presets[i];
    CHECK(!"preset of every kind");
    return NULL;
}

/* Every file of variant `kind`: the row lists them primary first, each at
 * its key by the variant's preset version, stored with its size and media
 * type, decoding at the variant's size. */
static void check_files(const Imageproc__Image *img, ip_variant_kind kind, const char *const *fmts,
                        int n)
{
    const Imageproc__Variant *v = variant_of(img, kind);
    CHECK(v != NULL);
    if ((int)v->n_files != n)
        fprintf(stderr, "%s: %zu files, want %d\n", ip_variant_name(kind), v->n_files, n);
    CHECK_EQ_INT(v->n_files, n);
    CHECK_EQ_STR(v->files[0]->object_key, v->object_key);
    for (int i = 0; i < n; i++) {
        const Imageproc__VariantFile *f = v->files[i];
        const ip_format_def *fmt = ip_format_by_name(fmts[i]);
        CHECK(fmt != NULL);
        CHECK_EQ_STR(f->format, fmts[i]);
        char key[IP_KEY_MAX];
        CHECK(ip_key_variant_version(key, img->id, kind, fmt, v->preset_version) == IP_OK);
        CHECK_EQ_STR(f->object_key, key);
        ip_status st;
        Imageproc__GetObjectReply *o = get_object(key, &st);
        CHECK(o != NULL);
        CHECK_EQ_INT(o->data.len, f->size_bytes);
        CHECK_EQ_STR(o->info->content_type, fmt->content_type);
        VipsImage *im = vips_image_new_from_buffer(o->data.data, o->data.len, "", NULL);
        CHECK(im != NULL);
        CHECK_EQ_INT(im->Xsize, v->width);
        CHECK_EQ_INT(im->Ysize, v->height);
        CHECK(!vips_image_get_typeof(im, VIPS_META_EXIF_NAME));
        g_object_unref(im);
        imageproc__get_object_reply__free_unpacked(o, NULL);
    }
}

/* A job stores every file of every variant (JPEG and WebP by the default
 * presets) and FinishImage records them with the placeholder; a SetPreset
 * changes the next job: its thumbnail has the new box and AVIF too, at the
 * new version's keys. */
static void test_presets_files(void)
{
    setup("presets_files");
    presets_save();
    proc_inst p;
    start_one(&p, "presets_files", 9143);
    Imageproc__GetPresetsReply *hold = NULL;
    Imageproc__Preset *t = preset_of(&hold, IP_VARIANT_THUMBNAIL);
    bool defaults = t->webp && !t->avif;
    imageproc__get_presets_reply__free_unpacked(hold, NULL);

    char id[IP_UUID_STRLEN + 1];
    queue_jpeg(1600, 1000, id);
    Imageproc__Image *img = wait_final(id, 60000);
    CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    static const char *const jw[] = {"jpeg", "webp"}, *const jwa[] = {"jpeg", "webp", "avif"};
    if (defaults)
        for (int k = 1; k <= IP_VARIANT_COUNT; k++)
            check_files(img, (ip_variant_kind)k, jw, 2);
    fprintf(stderr, "placeholder %s %s\n", img->thumbhash, img->dominant_color);
    CHECK(img->thumbhash && strlen(img->thumbhash) >= 8);
    CHECK(img->dominant_color && strlen(img->dominant_color) == 7 && img->dominant_color[0] == '#');
    image_free(img);

    t = preset_of(&hold, IP_VARIANT_THUMBNAIL);
    t->width = 200;
    t->height = 100;
    t->fit = IMAGEPROC__PRESET_FIT__FIT_COVER;
    t->webp = true;
    t->avif = true;
    int version = set_preset(t);
    imageproc__get_presets_reply__free_unpacked(hold, NULL);
    CHECK(version >= 2);
    queue_jpeg(1600, 1000, id);
    img = wait_final(id, 60000);
    CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    const Imageproc__Variant *v = variant_of(img, IP_VARIANT_THUMBNAIL);
    CHECK(v != NULL);
    CHECK_EQ_INT(v->preset_version, version);
    CHECK_EQ_INT(v->width, 200);
    CHECK_EQ_INT(v->height, 100);
    check_files(img, IP_VARIANT_THUMBNAIL, jwa, 3);
    CHECK(strstr(v->object_key, ".v") != NULL);
    image_free(img);
    presets_restore();
    CHECK_EQ_INT(proc_stop(&p, SIGTERM, 30000), 0);
}

/* A regeneration after a preset change: the image stays ready throughout,
 * the variant switches to the new version's keys and size; one for an image
 * that is not ready is skipped and leaves it as it was. */
static void test_regenerate(void)
{
    setup("regenerate");
    presets_save();
    proc_inst p;
    start_one(&p, "regenerate", 9144);
    char id[IP_UUID_STRLEN + 1];
    queue_jpeg(1600, 1000, id);
    Imageproc__Image *img = wait_final(id, 60000);
    CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    const Imageproc__Variant *v = variant_of(img, IP_VARIANT_RESIZED);
    CHECK(v != NULL);
    char old_key[IP_KEY_MAX];
    snprintf(old_key, sizeof(old_key), "%s", v->object_key);
    int old_version = v->preset_version;
    image_free(img);

    Imageproc__GetPresetsReply *hold = NULL;
    Imageproc__Preset *z = preset_of(&hold, IP_VARIANT_RESIZED);
    z->width = z->width == 640 ? 600 : 640;
    z->height = z->width;
    int want_w = z->width;
    int version = set_preset(z);
    imageproc__get_presets_reply__free_unpacked(hold, NULL);
    CHECK(version > old_version);

    produce_job_as(id, -1, true);
    produce_flush();
    int64_t until = ip_mono_ms() + 60000;
    for (;;) {
        img = get_image(id, NULL);
        CHECK(img != NULL);
        CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
        v = variant_of(img, IP_VARIANT_RESIZED);
        if (v && v->preset_version == version)
            break;
        image_free(img);
        CHECK(ip_mono_ms() < until);
        usleep(50000);
    }
    CHECK_EQ_INT(v->width, want_w);
    CHECK_EQ_INT(v->height, want_w * 1000 / 1600);
    CHECK(strcmp(v->object_key, old_key) != 0);
    CHECK(!v->stale);
    fprintf(stderr, "resized %s -> %s\n", old_key, v->object_key);
    check_files(img, IP_VARIANT_RESIZED, (const char *const[]){"jpeg", "webp"}, 2);
    image_free(img);
    CHECK(metrics_reach(&p, "proc_regenerations_total{outcome=\"done\"}", "1", 10000));

    /* an image that is not ready: skipped, nothing changes, no failure */
    void *buf = NULL;
    size_t len = 0;
    CHECK(proc_fixture_make(FX_JPEG, 640, 480, &buf, &len) == 0);
    char pending[IP_UUID_STRLEN + 1];
    new_image(buf, len, "image/jpeg", pending);
    g_free(buf);
    produce_job_as(pending, -1, true);
    produce_flush();
    CHECK(metrics_reach(&p, "proc_regenerations_total{outcome=\"skipped\"}", "1", 30000));
    img = get_image(pending, NULL);
    CHECK(img != NULL);
    CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING);
    CHECK_EQ_INT(img->n_variants > 0 ? variant_of(img, IP_VARIANT_RESIZED)->status
                                     : IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING,
                 IMAGEPROC__VARIANT_STATUS__VARIANT_PENDING);
    image_free(img);
    presets_restore();
    CHECK_EQ_INT(proc_stop(&p, SIGTERM, 30000), 0);
}

/* A logo preset: the logo is fetched from the bucket and drawn where the
 * preset says at the opacity it says; a logo over 4 MiB fails the image
 * with that reason. */
static void test_logo(void)
{
    setup("logo");
    presets_save();
    proc_inst p;
    start_one(&p, "logo", 9145);
    /* a red 40x20 logo, kept under a key of the logo form */
    VipsImage *b = NULL, *l = NULL, *sr = NULL;
    double red[4] = {255, 0, 0, 255}, zero[4] = {0, 0, 0, 0};
    CHECK(vips_black(&b, 40, 20, "bands", 4, NULL) == 0);
    CHECK(vips_linear(b, &l, zero, red, 4, "uchar", TRUE, NULL) == 0);
    CHECK(vips_copy(l, &sr, "interpretation", VIPS_INTERPRETATION_sRGB, NULL) == 0);
    void *png = NULL;
    size_t plen = 0;
    CHECK(vips_pngsave_buffer(sr, &png, &plen, NULL) == 0);
    g_object_unref(sr);
    g_object_unref(l);
    g_object_unref(b);
    char hex[65], lkey[IP_KEY_MAX];
    for (int i = 0; i < 64; i++)
        hex[i] = "0123456789abcdef"[(unsigned)rand() % 16]; /* unique per run */
    hex[64] = '\0';
    CHECK(ip_key_logo(lkey, hex) == IP_OK);
    put_object(lkey, png, plen, "image/png");
    g_free(png);

    Imageproc__GetPresetsReply *hold = NULL;
    Imageproc__Preset *w = preset_of(&hold, IP_VARIANT_WATERMARKED);
    Imageproc__Watermark wm = IMAGEPROC__WATERMARK__INIT;
    wm.text = "";
    wm.logo_key = lkey;
    wm.position = IMAGEPROC__WATERMARK_POSITION__WATERMARK_TOP_LEFT;
    wm.margin = 0.1;
    wm.scale = 0.25;
    wm.opacity = 1.0;
    Imageproc__Watermark *theirs = w->watermark;
    w->watermark = &wm;
    w->width = w->height = 1280;
    w->fit = IMAGEPROC__PRESET_FIT__FIT_INSIDE;
    (void)set_preset(w);
    w->watermark = theirs; /* freed with the reply */
    imageproc__get_presets_reply__free_unpacked(hold, NULL);

    /* a grey 800x600 picture: the mark is 200x100 from 60 pixels in */
    CHECK(vips_black(&b, 800, 600, "bands", 3, NULL) == 0);
    CHECK(vips_linear1(b, &l, 1, 128, "uchar", TRUE, NULL) == 0);
    CHECK(vips_copy(l, &sr, "interpretation", VIPS_INTERPRETATION_sRGB, NULL) == 0);
    void *jpg = NULL;
    size_t jlen = 0;
    CHECK(vips_pngsave_buffer(sr, &jpg, &jlen, NULL) == 0);
    g_object_unref(sr);
    g_object_unref(l);
    g_object_unref(b);
    char id[IP_UUID_STRLEN + 1];
    new_image(jpg, jlen, "image/png", id);
    g_free(jpg);
    produce_job(id, -1);
    produce_flush();
    Imageproc__Image *img = wait_final(id, 60000);
    if (img->status != IMAGEPROC__IMAGE_STATUS__IMAGE_READY)
        fprintf(stderr, "failed: %s\n", img->error);
    CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    VipsImage *im = check_variant(img, IP_VARIANT_WATERMARKED, 800, 600, false);
    double *vec = NULL;
    int n = 0;
    CHECK(vips_getpoint(im, &vec, &n, 160, 110, NULL) == 0);
    fprintf(stderr, "inside the mark: %.0f,%.0f,%.0f\n", vec[0], vec[1], vec[2]);
    CHECK(vec[0] > 220 && vec[1] < 40 && vec[2] < 40);
    g_free(vec);
    CHECK(vips_getpoint(im, &vec, &n, 600, 450, NULL) == 0);
    CHECK(vec[0] > 110 && vec[0] < 146 && vec[1] > 110);
    g_free(vec);
    g_object_unref(im);
    image_free(img);

    /* a logo over 4 MiB: refused from its size, the image fails with why */
    size_t big_len = 4 * 1024 * 1024 + 1;
    char *big = calloc(1, big_len);
    CHECK(big != NULL);
    hex[0] = hex[0] == 'a' ? 'b' : 'a';
    char bkey[IP_KEY_MAX];
    CHECK(ip_key_logo(bkey, hex) == IP_OK);
    put_object(bkey, big, big_len, "image/png");
    free(big);
    w = preset_of(&hold, IP_VARIANT_WATERMARKED);
    theirs = w->watermark;
    wm.logo_key = bkey;
    w->watermark = &wm;
    (void)set_preset(w);
    w->watermark = theirs;
    imageproc__get_presets_reply__free_unpacked(hold, NULL);
    queue_jpeg(640, 480, id);
    img = wait_final(id, 60000);
    fprintf(stderr, "with a large logo: %s\n", img->error ? img->error : "");
    CHECK(img->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED);
    CHECK(strstr(img->error, "over the limit") != NULL);
    image_free(img);
    presets_restore();
    CHECK_EQ_INT(proc_stop(&p, SIGTERM, 30000), 0);
}

static const ip_test_case tests[] = {
    IP_TEST(formats),
    IP_TEST(orientation),
    IP_TEST(gps_stripped),
    IP_TEST(corrupt_then_next),
    IP_TEST(deleted_meanwhile),
    IP_TEST(dlq),
    IP_TEST(outage_then_ready),
    IP_TEST(poison),
    IP_TEST(sigkill_restart),
    IP_TEST(two_processors),
    IP_TEST(storage_cut_mid_job),
    IP_TEST(presets_files),
    IP_TEST(regenerate),
    IP_TEST(logo),
};

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: proc_it_test <test> <processor binary> <scratch dir>\n");
        return 2;
    }
    proc_bin = argv[2];
    scratch = argv[3];
    if (VIPS_INIT(argv[0]))
        return 2;
    proc_variants_global_init(1, 0);
    srand((unsigned)ip_now_us());
    atexit(cleanup);
    int rc = ip_test_main(2, argv, tests, sizeof(tests) / sizeof(tests[0]));
    if (producer) {
        rd_kafka_flush(producer, 5000);
        rd_kafka_destroy(producer);
    }
    ip_rpc_client_free(meta);
    ip_rpc_client_free(stor);
    return rc;
}
