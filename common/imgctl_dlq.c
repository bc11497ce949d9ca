/* imgctl_dlq.c — `imgctl dlq list|show|replay`: the dead-letter topic read,
 * shown and replayed.
 *
 * The dead-letter topic (IP_KAFKA_DLQ_TOPIC) holds poison jobs only: a
 * processor produces a job there, with attempt and last_error set, when it
 * gave up on it (permanent failures, or runs it died in); a transient outage
 * never sends a job there. Every command reads the whole topic, each
 * partition from its beginning to its end when the command started
 * (imgctl_kafka.c; no consumer group, nothing committed, so reading changes
 * nothing), and decodes each value as a ProcessJob. A value that does not
 * decode is shown with "error"; its key, when it is an image id, still names
 * the image.
 *
 *   list    one JSON line per message, in partition and offset order:
 *           partition, offset, id, attempt, last_error, enqueued_at,
 *           requested (names), dead_lettered_at (the message's time).
 *   show    the messages of one image id, or the one at partition:offset,
 *           as pretty JSON (also key, original_key and content_type).
 *   replay  per image id (one, or --all) its newest message, handed to
 *           imgctl_requeue_image in DLQ order. The job produced is made from
 *           the image row, not copied from the DLQ: attempt 1, the row's
 *           requested variants, enqueued_at now. Messages stay in the topic
 *           (it is a log, not a queue): a second replay skips images that
 *           are no longer failed.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imgctl_internal.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "ip_variants.h"
#include "job.pb-c.h"

/* One message of the DLQ, decoded. */
typedef struct dlq_entry {
    const imgctl_msg *msg;      /* borrowed from the imgctl_msgs */
    Imageproc__ProcessJob *job; /* owned; NULL when the value is not a ProcessJob */
    const char *id;             /* the job's id, else the key when it is a UUID; else NULL */
} dlq_entry;

typedef struct dlq {
    imgctl_msgs msgs;
    dlq_entry *e; /* msgs.n, same order */
    size_t n;
} dlq;

static void dlq_fini(dlq *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->e[i].job != NULL)
            imageproc__process_job__free_unpacked(d->e[i].job, NULL);
    free(d->e);
    imgctl_msgs_fini(&d->msgs);
}

/* Reads and decodes the DLQ; false (said on stderr) when it cannot be read. */
static bool dlq_load(const imgctl_env *env, dlq *d)
{
    const imgctl_config *cfg = env->cfg;
    char err[512];
    memset(d, 0, sizeof *d);
    ip_status st = imgctl_kafka_read_topic(cfg->kafka_brokers, cfg->kafka_dlq_topic,
                                           env->kafka_timeout_ms, &d->msgs, err, sizeof err);
    if (st != IP_OK) {
        fprintf(stderr,
                "imgctl: cannot read the dead-letter topic (IP_KAFKA_DLQ_TOPIC) at %s: %s\n",
                cfg->kafka_brokers, err);
        return false;
    }
    d->e = calloc(d->msgs.n ? d->msgs.n : 1, sizeof *d->e);
    if (d->e == NULL) {
        fprintf(stderr, "imgctl: out of memory\n");
        return false;
    }
    d->n = d->msgs.n;
    for (size_t i = 0; i < d->n; i++) {
        dlq_entry *e = &d->e[i];
        e->msg = &d->msgs.v[i];
        e->job = imageproc__process_job__unpack(NULL, e->msg->len, e->msg->value);
        if (e->job != NULL && e->job->id != NULL && ip_uuid_valid(e->job->id))
            e->id = e->job->id;
        else if (e->msg->key_len == strlen(e->msg->key) && ip_uuid_valid(e->msg->key))
            e->id = e->msg->key;
    }
    return true;
}

/* ------------------------------------------------------------------- JSON */

/* A JSON string of n bytes; bytes that are not UTF-8 are said, not copied. */
static json_t *text(const char *s, size_t n)
{
    if (s == NULL)
        return json_null();
    json_t *j = json_stringn(s, n);
    return j != NULL ? j : json_sprintf("(%zu bytes, not UTF-8)", n);
}

static json_t *time_or_null(int64_t us)
{
    if (us <= 0)
        return json_null();
    char t[IP_RFC3339_LEN + 1];
    ip_time_format(us, t);
    return json_string(t);
}

static json_t *requested_names(const Imageproc__ProcessJob *job)
{
    json_t *a = json_array();
    for (size_t i = 0; i < job->n_requested; i++) {
        const char *name = ip_variant_name((ip_variant_kind)job->requested[i]);
        json_array_append_new(a, name != NULL ? json_string(name)
                                              : json_integer((json_int_t)job->requested[i]));
    }
    return a;
}

/* The entry as a JSON object; `full` adds what `show` shows. */
static json_t *entry_json(const dlq_entry *e, bool full)
{
    const imgctl_msg *m = e->msg;
    const Imageproc__ProcessJob *job = e->job;
    json_t *o = json_object();
    json_object_set_new(o, "partition", json_integer(m->partition));
    json_object_set_new(o, "offset", json_integer(m->offset));
    if (full)
        json_object_set_new(o, "key", text(m->key, m->key_len));
    json_object_set_new(o, "id", text(e->id, e->id ? strlen(e->id) : 0));
    if (job != NULL) {
        json_object_set_new(o, "attempt", json_integer(job->attempt));
        json_object_set_new(o, "last_error", text(job->last_error, strlen(job->last_error)));
        json_object_set_new(o, "enqueued_at", time_or_null(job->enqueued_at_us));
        json_object_set_new(o, "requested", requested_names(job));
    } else {
        json_object_set_new(o, "error", json_sprintf("not a ProcessJob (%zu bytes)", m->len));
    }
    json_object_set_new(o, "dead_lettered_at",
                        time_or_null(m->timestamp_ms > 0 ? m->timestamp_ms * 1000 : 0));
    if (full && job != NULL) {
        json_object_set_new(o, "original_key", text(job->original_key, strlen(job->original_key)));
        json_object_set_new(o, "content_type", text(job->content_type, strlen(job->content_type)));
    }
    return o;
}

/* Prints the entry on one line (`pretty` false) or indented. */
static bool print_entry(const dlq_entry *e, bool pretty)
{
    json_t *o = entry_json(e, pretty);
    char *s = json_dumps(o, JSON_PRESERVE_ORDER | (pretty ? JSON_INDENT(2) : JSON_COMPACT));
    json_decref(o);
    if (s == NULL) {
        fprintf(stderr, "imgctl: out of memory\n");
        return false;
    }
    printf("%s\n", s);
    free(s);
    return true;
}

/* --------------------------------------------------------------- commands */

static int cmd_list(const dlq *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (!print_entry(&d->e[i], false))
            return IMGCTL_EXIT_FAILED;
    return IMGCTL_EXIT_OK;
}

/* "P:O" with decimal numbers. */
static bool parse_position(const char *s, int32_t *partition, int64_t *offset)
{
    char *end;
    if (s[0] < '0' || s[0] > '9')
        return false;
    long p = strtol(s, &end, 10);
    if (*end != ':' || p > INT32_MAX || end[1] < '0' || end[1] > '9')
        return false;
    long long o = strtoll(end + 1, &end, 10);
    if (*end != '\0')
        return false;
    *partition = (int32_t)p;
    *offset = o;
    return true;
}

static int cmd_show(const imgctl_env *env, const dlq *d, const char *what)
{
    int32_t partition = -1;
    int64_t offset = -1;
    bool by_id = !parse_position(what, &partition, &offset);
    size_t shown = 0;
    for (size_t i = 0; i < d->n; i++) {
        const dlq_entry *e = &d->e[i];
        bool match = by_id ? e->id != NULL && strcasecmp(e->id, what) == 0
                           : e->msg->partition == partition && e->msg->offset == offset;
        if (match) {
            if (!print_entry(e, true))
                return IMGCTL_EXIT_FAILED;
            shown++;
        }
    }
    if (shown == 0) {
        fprintf(stderr, "imgctl: no message %s %s in %s\n", by_id ? "of image" : "at", what,
                env->cfg->kafka_dlq_topic);
        return IMGCTL_EXIT_FAILED;
    }
    return IMGCTL_EXIT_OK;
}

/* Whether `a` was dead-lettered after `b` (same image). One key goes to one
 * partition, where offsets order; across partitions (the topic was resized)
 * the timestamps do. */
static bool newer(const dlq_entry *a, const dlq_entry *b)
{
    if (a->msg->partition == b->msg->partition)
        return a->msg->offset > b->msg->offset;
    return a->msg->timestamp_ms > b->msg->timestamp_ms;
}

static int cmp_id(const void *a, const void *b)
{
    const dlq_entry *x = *(const dlq_entry *const *)a, *y = *(const dlq_entry *const *)b;
    return strcasecmp(x->id, y->id);
}

static int cmp_position(const void *a, const void *b)
{
    const dlq_entry *x = *(const dlq_entry *const *)a, *y = *(const dlq_entry *const *)b;
    return x->msg < y->msg ? -1 : x->msg > y->msg; /* msgs are in position order */
}

/* The newest entry of each image (or of image `only`), in DLQ order, in
 * *out (owned; free()). Entries without an image id are said on stderr. */
static size_t newest_per_image(const dlq *d, const char *only, const dlq_entry ***out)
{
    const dlq_entry **v = calloc(d->n ? d->n : 1, sizeof *v);
    size_t n = 0, kept = 0;
    *out = v;
    if (v == NULL)
        return 0;
    for (size_t i = 0; i < d->n; i++) {
        const dlq_entry *e = &d->e[i];
        if (e->id == NULL && only == NULL)
            fprintf(stderr, "imgctl: %s partition %d offset %" PRId64 " names no image: skipped\n",
                    d->e[i].job != NULL ? "the job at" : "the message at", (int)e->msg->partition,
                    e->msg->offset);
        if (e->id != NULL && (only == NULL || strcasecmp(e->id, only) == 0))
            v[n++] = e;
    }
    qsort(v, n, sizeof *v, cmp_id);
    for (size_t i = 0; i < n; i++) {
        if (kept > 0 && strcasecmp(v[kept - 1]->id, v[i]->id) == 0) {
            if (newer(v[i], v[kept - 1]))
                v[kept - 1] = v[i];
        } else {
            v[kept++] = v[i];
        }
    }
    qsort(v, kept, sizeof *v, cmp_position);
    return kept;
}

static int cmd_replay(const imgctl_env *env, const dlq *d, const char *only)
{
    const dlq_entry **todo = NULL;
    size_t n = newest_per_image(d, only, &todo);
    if (todo == NULL) {
        fprintf(stderr, "imgctl: out of memory\n");
        return IMGCTL_EXIT_FAILED;
    }
    if (n == 0) {
        free(todo);
        if (only != NULL) {
            fprintf(stderr, "imgctl: no message of image %s in %s\n", only,
                    env->cfg->kafka_dlq_topic);
            return IMGCTL_EXIT_FAILED;
        }
        printf("%s holds no job to replay\n", env->cfg->kafka_dlq_topic);
        return IMGCTL_EXIT_OK;
    }
    imgctl_requeue rq;
    if (imgctl_requeue_init(&rq, env) != IP_OK) {
        free(todo);
        return IMGCTL_EXIT_USAGE;
    }
    size_t count[3] = {0};
    for (size_t i = 0; i < n; i++)
        count[imgctl_requeue_image(&rq, todo[i]->id, false)]++;
    imgctl_requeue_fini(&rq);
    free(todo);
    if (only == NULL)
        printf("replayed %zu, skipped %zu, failed %zu\n", count[IMGCTL_REQUEUED],
               count[IMGCTL_SKIPPED], count[IMGCTL_FAILED]);
    return count[IMGCTL_FAILED] > 0 ? IMGCTL_EXIT_FAILED : IMGCTL_EXIT_OK;
}

/* The command line after "dlq": usage errors before any I/O. */
static bool dlq_usage_ok(char **args, int nargs)
{
    if (nargs == 1 && strcmp(args[0], "list") == 0)
        return true;
    if (nargs != 2)
        return false;
    int32_t p;
    int64_t o;
    if (strcmp(args[0], "show") == 0)
        return ip_uuid_valid(args[1]) || parse_position(args[1], &p, &o);
    if (strcmp(args[0], "replay") == 0)
        return strcmp(args[1], "--all") == 0 || ip_uuid_valid(args[1]);
    return false;
}

int imgctl_cmd_dlq(const imgctl_env *env, char **args, int nargs)
{
    if (!dlq_usage_ok(args, nargs)) {
        fprintf(stderr, "usage: imgctl dlq list\n"
                        "       imgctl dlq show IMAGE-ID|PARTITION:OFFSET\n"
                        "       imgctl dlq replay IMAGE-ID|--all\n");
        return IMGCTL_EXIT_USAGE;
    }
    dlq d;
    if (!dlq_load(env, &d)) {
        dlq_fini(&d);
        return IMGCTL_EXIT_FAILED;
    }
    int rc;
    if (strcmp(args[0], "list") == 0)
        rc = cmd_list(&d);
    else if (strcmp(args[0], "show") == 0)
        rc = cmd_show(env, &d, args[1]);
    else
        rc = cmd_replay(env, &d, strcmp(args[1], "--all") == 0 ? NULL : args[1]);
    dlq_fini(&d);
    return rc;
}
