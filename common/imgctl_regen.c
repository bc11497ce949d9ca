/* imgctl_regen.c — `imgctl regenerate`: remake the variants of ready images
 * with the presets in force, on the low-priority topic.
 *
 *   regenerate --stale | --all | --id ID... [--wait] [--group NAME]
 *
 * HOW IT WORKS
 * 1. metadata-svc lists the images, a page of at most PAGE at a time
 *    (ListRegenerate, keyset on the last id): the ready ones with a stale
 *    variant (--stale), every ready one (--all), or the ready ones among the
 *    ids given (--id; the others are counted as skipped).
 * 2. Each page becomes one ProcessJob per image (ip_job_pack_regenerate:
 *    regenerate set, attempt 1, the image's requested kinds), keyed by the
 *    image id, produced to IP_KAFKA_REGEN_TOPIC as one batch and
 *    acknowledged by the brokers (acks=all, idempotent) before the next page
 *    is read. The image row is not touched: the image stays ready and served,
 *    and the processor records the new variants when it has made them.
 * 3. "regenerate: N queued on TOPIC" once every page is acknowledged.
 * 4. --wait then follows the processors (consumer group NAME, default
 *    "processor"): once a second it reads the group's committed offsets of
 *    the topic (without joining the group); a job is done when its
 *    partition's committed offset is past its own. A line "regenerate: D/N
 *    done" is printed whenever D changed (so at most one a second), and the
 *    command exits 0 when D = N. The processors commit about once a second,
 *    so the last line comes a second or so after the last job ended.
 * A page that fails to list or to produce stops the command (exit 1): the
 * jobs already acknowledged stay queued and run; running it again queues
 * the rest (and, with --all, again the ones already done, which is
 * harmless). Usage errors (exit 2) are found before anything is called.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imgctl_internal.h"
#include "ip_job.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "metadata.pb-c.h"

#define PAGE 1000           /* images per ListRegenerate, and ids per --id call */
#define WAIT_PARTS_MAX 4096 /* partitions of the topic --wait follows at most */

static const char regen_usage[] =
    "usage: imgctl regenerate --stale | --all | --id IMAGE-ID... [--wait] [--group NAME]\n";

/* What the words after "regenerate" ask for. */
typedef struct regen_args {
    bool stale, all, wait;
    const char *group;
    char **ids; /* --id: borrowed from argv */
    int nids;
} regen_args;

static bool parse_args(char **args, int nargs, regen_args *a)
{
    memset(a, 0, sizeof *a);
    a->group = "processor";
    int modes = 0;
    for (int i = 0; i < nargs; i++) {
        if (strcmp(args[i], "--stale") == 0) {
            a->stale = true;
            modes++;
        } else if (strcmp(args[i], "--all") == 0) {
            a->all = true;
            modes++;
        } else if (strcmp(args[i], "--wait") == 0) {
            a->wait = true;
        } else if (strcmp(args[i], "--group") == 0 && i + 1 < nargs) {
            a->group = args[++i];
        } else if (strcmp(args[i], "--id") == 0) {
            modes++;
            a->ids = args + i + 1;
            while (i + 1 < nargs && args[i + 1][0] != '-') {
                if (!ip_uuid_valid(args[i + 1])) {
                    fprintf(stderr, "imgctl: regenerate: \"%s\" is not an image id (a UUID)\n%s",
                            args[i + 1], regen_usage);
                    return false;
                }
                a->nids++;
                i++;
            }
            if (a->nids == 0) {
                fprintf(stderr, "imgctl: regenerate: --id needs at least one image id\n%s",
                        regen_usage);
                return false;
            }
        } else {
            fprintf(stderr, "imgctl: regenerate: unexpected \"%s\"\n%s", args[i], regen_usage);
            return false;
        }
    }
    if (modes != 1) {
        fprintf(stderr, "imgctl: regenerate: say which images: one of --stale, --all, --id\n%s",
                regen_usage);
        return false;
    }
    return true;
}

/* Where each queued job went, for --wait. */
typedef struct queued_jobs {
    int32_t *partition;
    int64_t *offset;
    size_t n, cap;
} queued_jobs;

static bool remember(queued_jobs *q, int32_t partition, int64_t offset)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 1024;
        int32_t *p = realloc(q->partition, cap * sizeof *p);
        if (p == NULL)
            return false;
        q->partition = p;
        int64_t *o = realloc(q->offset, cap * sizeof *o);
        if (o == NULL)
            return false;
        q->offset = o;
        q->cap = cap;
    }
    q->partition[q->n] = partition;
    q->offset[q->n] = offset;
    q->n++;
    return true;
}

/* A run of the command: its clients and what it queued. */
typedef struct regen_run {
    const imgctl_env *env;
    ip_rpc_client *meta;
    imgctl_producer *producer;
    queued_jobs q;
} regen_run;

/* Step 2 for one page. False (said on stderr) when a job was not taken. */
static bool queue_page(regen_run *r, Imageproc__Image **images, size_t n)
{
    char err[512];
    imgctl_batch_msg *m = calloc(n ? n : 1, sizeof *m);
    uint8_t **bufs = calloc(n ? n : 1, sizeof *bufs);
    bool ok = m != NULL && bufs != NULL;
    if (!ok)
        fprintf(stderr, "imgctl: regenerate: out of memory\n");
    size_t njobs = 0;
    for (size_t i = 0; ok && i < n; i++) {
        const Imageproc__Image *img = images[i];
        size_t len = 0;
        if (ip_job_pack_regenerate(img->id, img->original_key, img->content_type, img->requested,
                                   img->n_requested, &bufs[njobs], &len, err,
                                   sizeof err) != IP_OK) {
            fprintf(stderr, "imgctl: regenerate: %s: %s\n", img->id, err);
            ok = false;
            break;
        }
        m[njobs].key = img->id;
        m[njobs].value = bufs[njobs];
        m[njobs].len = len;
        njobs++;
    }
    if (ok && njobs > 0 &&
        imgctl_produce_batch(r->producer, r->env->cfg->kafka_regen_topic, m, njobs, err,
                             sizeof err) != IP_OK) {
        fprintf(stderr, "imgctl: regenerate: %s\n", err);
        ok = false;
    }
    for (size_t i = 0; m != NULL && i < njobs; i++) {
        if (m[i].acked && !remember(&r->q, m[i].partition, m[i].offset)) {
            fprintf(stderr, "imgctl: regenerate: out of memory\n");
            ok = false;
        }
        free(bufs[i]);
    }
    free(bufs);
    free(m);
    return ok;
}

/* Step 1 and 2: every page. *skipped counts the --id images not listed. */
static bool queue_all(regen_run *r, const regen_args *a, size_t *skipped)
{
    char err[512];
    char after[64] = "";
    int next_id = 0;
    for (;;) {
        Imageproc__ListRegenerateRequest in = IMAGEPROC__LIST_REGENERATE_REQUEST__INIT;
        in.stale_only = a->stale;
        in.limit = PAGE;
        size_t asked = 0;
        if (a->nids > 0) {
            asked = (size_t)(a->nids - next_id) < PAGE ? (size_t)(a->nids - next_id) : PAGE;
            in.ids = a->ids + next_id;
            in.n_ids = asked;
            next_id += (int)asked;
        } else {
            in.after_id = after;
        }
        Imageproc__ListRegenerateReply *out = NULL;
        ip_status st = ip_metadata_list_regenerate(r->meta, &in, &out, NULL, err, sizeof err);
        if (st != IP_OK) {
            fprintf(stderr, "imgctl: regenerate: ListRegenerate: %s: %s\n", ip_strerror(st), err);
            return false;
        }
        bool ok = queue_page(r, out->images, out->n_images);
        bool more = a->nids > 0 ? next_id < a->nids : out->has_more && out->n_images > 0;
        if (a->nids > 0 && asked > out->n_images)
            *skipped += asked - out->n_images;
        if (out->n_images > 0)
            snprintf(after, sizeof after, "%s", out->images[out->n_images - 1]->id);
        imageproc__list_regenerate_reply__free_unpacked(out, NULL);
        if (!ok)
            return false;
        if (!more)
            return true;
    }
}

/* How many of the queued jobs the group has committed past. */
static size_t count_done(const queued_jobs *q, const int64_t *committed, int nparts)
{
    size_t d = 0;
    for (size_t i = 0; i < q->n; i++)
        if (q->partition[i] >= 0 && q->partition[i] < nparts &&
            committed[q->partition[i]] > q->offset[i])
            d++;
    return d;
}

/* Step 4. */
static int wait_done(regen_run *r, const char *group)
{
    const imgctl_env *env = r->env;
    const char *topic = env->cfg->kafka_regen_topic;
    char err[512];
    int nparts = 0;
    for (size_t i = 0; i < r->q.n; i++)
        if (r->q.partition[i] >= nparts)
            nparts = r->q.partition[i] + 1;
    if (nparts > WAIT_PARTS_MAX) {
        fprintf(stderr, "imgctl: regenerate: %s has too many partitions to follow\n", topic);
        return IMGCTL_EXIT_FAILED;
    }
    int64_t *committed = calloc(nparts > 0 ? (size_t)nparts : 1, sizeof *committed);
    imgctl_group_watch *w = NULL;
    if (committed == NULL ||
        imgctl_group_watch_new(env->cfg->kafka_brokers, group, env->kafka_timeout_ms, &w, err,
                               sizeof err) != IP_OK) {
        fprintf(stderr, "imgctl: regenerate: %s\n", committed == NULL ? "out of memory" : err);
        free(committed);
        return IMGCTL_EXIT_FAILED;
    }
    int rc = IMGCTL_EXIT_OK;
    size_t shown = (size_t)-1;
    int64_t quiet_since = ip_mono_ms();
    for (;;) {
        ip_status st = imgctl_group_committed(w, topic, nparts, committed, err, sizeof err);
        if (st == IP_OK) {
            quiet_since = ip_mono_ms();
            size_t d = count_done(&r->q, committed, nparts);
            if (d != shown) {
                printf("regenerate: %zu/%zu done\n", d, r->q.n);
                shown = d;
            }
            if (d == r->q.n)
                break;
        } else if (ip_mono_ms() - quiet_since > env->kafka_timeout_ms) {
            fprintf(stderr, "imgctl: regenerate: %s: %s\n", ip_strerror(st), err);
            rc = IMGCTL_EXIT_FAILED;
            break;
        }
        sleep(1);
    }
    imgctl_group_watch_free(w);
    free(committed);
    return rc;
}

int imgctl_cmd_regenerate(const imgctl_env *env, char **args, int nargs)
{
    regen_args a;
    if (!parse_args(args, nargs, &a))
        return IMGCTL_EXIT_USAGE;
    regen_run r = {.env = env};
    char err[512];
    r.meta = imgctl_client(env, &imageproc__metadata__descriptor, env->metadata_url);
    if (r.meta == NULL)
        return IMGCTL_EXIT_USAGE;
    ip_status st;
    int rc = IMGCTL_EXIT_FAILED;
    size_t skipped = 0;
    st = imgctl_producer_new(env->cfg->kafka_brokers, env->kafka_timeout_ms, &r.producer, err,
                             sizeof err);
    if (st == IP_OK)
        st = imgctl_producer_check_topic(r.producer, env->cfg->kafka_regen_topic, err, sizeof err);
    if (st != IP_OK) {
        fprintf(stderr, "imgctl: regenerate: Kafka at %s: %s: %s; nothing queued\n",
                env->cfg->kafka_brokers, ip_strerror(st), err);
        goto out;
    }
    bool ok = queue_all(&r, &a, &skipped);
    if (ok || r.q.n > 0) {
        printf("regenerate: %zu queued on %s", r.q.n, env->cfg->kafka_regen_topic);
        if (skipped > 0)
            printf(" (%zu skipped: not ready or no such image)", skipped);
        printf("\n");
    }
    if (!ok)
        goto out;
    rc = a.wait && r.q.n > 0 ? wait_done(&r, a.group) : IMGCTL_EXIT_OK;
out:
    imgctl_producer_free(r.producer);
    ip_rpc_client_free(r.meta);
    free(r.q.partition);
    free(r.q.offset);
    return rc;
}
