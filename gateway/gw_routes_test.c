/* gw_routes_test.c — the routes end to end inside one process: the real
 * dispatch (gw_routes_access/gw_routes_done on a libmicrohttpd daemon) against
 * fake metadata-svc and storage-svc servers made with the typed RPC stubs.
 * It covers what GET /image/{id} picks and answers (default variant by
 * serve_rank, 202/404/422, ETag and 304, X-Accel-Redirect behind the proxy,
 * the file chosen by Accept or forced by ?format= with Vary: Accept on what
 * Accept chose (redirected, streamed and 304) and 400/404 for a bad format,
 * the bytes and the original directly), the info and listing views (mode
 * travels as with_variant), DELETE (204 when the purge finished within the
 * request; 202 when storage-svc is down, failing or slower than
 * IP_GATEWAY_DELETE_WAIT_MS; 404), GET /config and the table's 405s. The same
 * fakes serve the background passes: the purger (a claimed purge finished,
 * a failed one recorded with its error, a transient failure ending the pass),
 * the sweep's ListStale request, and the ticker that runs them.
 * The work pool and the memory budget: while storage-svc hangs, the listing,
 * /info and /healthz answer (one HTTP thread, so work left on it would block
 * them); an original of several chunks arrives byte for byte; a budget too
 * small for a chunk or a body buffer is 503 busy; a raw upload announcing
 * 50 MB and sending 10 bytes holds at most 64 KiB; a full work queue is 503.
 * ASan's leak check at exit covers the replies that requests defer.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <vips/vips.h>

#include "gw_accept.h"
#include "gw_app.h"
#include "gw_kafka.h"
#include "gw_purge.h"
#include "gw_routes.h"
#include "gw_sweep.h"
#include "gw_work.h"
#include "ip_access.h"
#include "ip_budget.h"
#include "ip_keys.h"
#include "ip_rpc_stubs.h"
#include "ip_testing.h"
#include "ip_time.h"
#include "ip_vips_admit.h"

#define ID_A "0190f2a4-5b6c-7d8e-9f00-00000000000a"    /* ready: thumbnail, resized */
#define ID_B "0190f2a4-5b6c-7d8e-9f00-00000000000b"    /* processing: all requested */
#define ID_C "0190f2a4-5b6c-7d8e-9f00-00000000000c"    /* failed: thumbnail failed */
#define ID_D "0190f2a4-5b6c-7d8e-9f00-00000000000d"    /* deleted; its purge finished elsewhere */
#define ID_E "0190f2a4-5b6c-7d8e-9f00-00000000000e"    /* ready, owned; DeleteImage removes it */
#define ID_NONE "0190f2a4-5b6c-7d8e-9f00-000000000999" /* no such image */
/* Purges the purger is handed: storage-svc removes P1's objects, fails P2's
 * (INTERNAL), is down for P3's (UNAVAILABLE); P4 comes after the pass ends. */
#define ID_P1 "0190f2a4-5b6c-7d8e-9f00-0000000000f1"
#define ID_P2 "0190f2a4-5b6c-7d8e-9f00-0000000000f2"
#define ID_P3 "0190f2a4-5b6c-7d8e-9f00-0000000000f3"
#define ID_P4 "0190f2a4-5b6c-7d8e-9f00-0000000000f4"

static gw_app app;
static struct MHD_Daemon *daemon_;
static rd_kafka_t *mock_rk; /* holds librdkafka's mock cluster, the gateway's Kafka */
static ip_rpc_server *meta_srv, *stor_srv;
static int port;

/* ------------------------------------------------------------ fixtures */

static Imageproc__Variant a_th, a_rs, b_th, c_th;
static Imageproc__Variant *a_vs[] = {&a_th, &a_rs}, *b_vs[] = {&b_th}, *c_vs[] = {&c_th};
static Imageproc__VariantKind a_req[] = {IP_VARIANT_THUMBNAIL, IP_VARIANT_RESIZED};
static Imageproc__VariantKind all_req[] = {IP_VARIANT_THUMBNAIL, IP_VARIANT_RESIZED,
                                           IP_VARIANT_WATERMARKED};
static Imageproc__Image img_a, img_b, img_c;
static Imageproc__Image *images[] = {&img_a, &img_b, &img_c};
static char a_th_key[IP_KEY_MAX], a_rs_key[IP_KEY_MAX], b_th_key[IP_KEY_MAX];
/* A's thumbnail is stored as JPEG and WebP (its files); the others are
 * records from before formats (no files: the primary alone). */
static char a_th_webp_key[IP_KEY_MAX];
static Imageproc__VariantFile a_th_jpeg_file, a_th_webp_file;
static Imageproc__VariantFile *a_th_files[] = {&a_th_jpeg_file, &a_th_webp_file};
/* DeleteImage names every object of A, its original too. */
static char *a_keys[] = {a_th_key, a_rs_key, (char *)"o/" ID_A};

static void ready_variant(Imageproc__Variant *v, const char *id, ip_variant_kind kind, char *key)
{
    imageproc__variant__init(v);
    v->kind = kind;
    v->status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
    CHECK_ST(ip_key_variant(key, id, kind, &ip_format_jpeg), IP_OK, id);
    v->object_key = key;
    v->format = (char *)ip_format_jpeg.name;
    v->width = 32;
    v->height = 24;
    v->size_bytes = 100;
}

static void image_init(Imageproc__Image *img, const char *id, Imageproc__ImageStatus st,
                       Imageproc__VariantKind *req, size_t nreq, Imageproc__Variant **vs,
                       size_t nvs)
{
    imageproc__image__init(img);
    img->id = (char *)id;
    img->status = st;
    img->content_type = "image/png";
    img->created_at_us = 1767322800000000LL;
    img->requested = req;
    img->n_requested = nreq;
    img->variants = vs;
    img->n_variants = nvs;
}

/* Owner tokens (A's, C's, E's, and one of an image the fakes do not know)
 * and API keys (one per scope, a revoked one, one never made); the fakes
 * know only their hashes, as metadata-svc does. */
static char tok_a[IP_SECRET_MAX], tok_c[IP_SECRET_MAX], tok_e[IP_SECRET_MAX], tok_x[IP_SECRET_MAX];
static char hash_a[IP_ACCESS_HASH_MAX], hash_c[IP_ACCESS_HASH_MAX], hash_e[IP_ACCESS_HASH_MAX];
enum { KEY_READ, KEY_UPLOAD, KEY_DELETE, KEY_ADMIN, KEY_REVOKED, KEY_UNKNOWN, NKEYS };
static char keys[NKEYS][IP_SECRET_MAX], key_hash[NKEYS][IP_ACCESS_HASH_MAX];
static const Imageproc__ApiScope key_scope[NKEYS] = {
    IMAGEPROC__API_SCOPE__API_SCOPE_READ,   IMAGEPROC__API_SCOPE__API_SCOPE_UPLOAD,
    IMAGEPROC__API_SCOPE__API_SCOPE_DELETE, IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN,
    IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN,  IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN};
static Imageproc__Image img_e, img_c_pending; /* C as RetryImage returns it */

static void secret_init(ip_secret_kind kind, char secret[IP_SECRET_MAX], char *hash)
{
    CHECK_ST(ip_access_new_secret(kind, secret), IP_OK, "secret");
    if (hash)
        ip_access_hash(secret, hash);
}

static void secrets_init(void)
{
    secret_init(IP_SECRET_OWNER, tok_a, hash_a);
    secret_init(IP_SECRET_OWNER, tok_c, hash_c);
    secret_init(IP_SECRET_OWNER, tok_e, hash_e);
    secret_init(IP_SECRET_OWNER, tok_x, NULL);
    for (int i = 0; i < NKEYS; i++)
        secret_init(IP_SECRET_KEY, keys[i], key_hash[i]);
}

/* "Authorization: Bearer <secret>\r\n" then `extra` (NULL: none), in one
 * of a ring of buffers (a test uses a few at once). */
static const char *bearer(const char *secret, const char *extra)
{
    static char ring[8][256];
    static unsigned next;
    char *b = ring[next++ % 8];
    snprintf(b, sizeof ring[0], "Authorization: Bearer %s\r\n%s", secret, extra ? extra : "");
    return b;
}

static void fixtures_init(void)
{
    secrets_init();
    ready_variant(&a_th, ID_A, IP_VARIANT_THUMBNAIL, a_th_key);
    CHECK_ST(ip_key_variant(a_th_webp_key, ID_A, IP_VARIANT_THUMBNAIL, &ip_format_webp), IP_OK,
             "key");
    imageproc__variant_file__init(&a_th_jpeg_file);
    a_th_jpeg_file.format = (char *)ip_format_jpeg.name;
    a_th_jpeg_file.object_key = a_th_key;
    a_th_jpeg_file.size_bytes = 100;
    imageproc__variant_file__init(&a_th_webp_file);
    a_th_webp_file.format = (char *)ip_format_webp.name;
    a_th_webp_file.object_key = a_th_webp_key;
    a_th_webp_file.size_bytes = 60;
    a_th.files = a_th_files;
    a_th.n_files = 2;
    ready_variant(&a_rs, ID_A, IP_VARIANT_RESIZED, a_rs_key);
    ready_variant(&b_th, ID_B, IP_VARIANT_THUMBNAIL, b_th_key);
    imageproc__variant__init(&c_th);
    c_th.kind = IP_VARIANT_THUMBNAIL;
    c_th.status = IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED;
    c_th.error = "cannot decode";
    image_init(&img_a, ID_A, IMAGEPROC__IMAGE_STATUS__IMAGE_READY, a_req, 2, a_vs, 2);
    image_init(&img_b, ID_B, IMAGEPROC__IMAGE_STATUS__IMAGE_PROCESSING, all_req, 3, b_vs, 1);
    image_init(&img_c, ID_C, IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED, all_req, 3, c_vs, 1);
    img_c.error = "cannot decode";
    img_a.owner_hash = hash_a;
    img_c.owner_hash = hash_c; /* B has none: it is from before owners */
    image_init(&img_e, ID_E, IMAGEPROC__IMAGE_STATUS__IMAGE_READY, a_req, 2, NULL, 0);
    img_e.owner_hash = hash_e;
    img_c_pending = img_c;
    img_c_pending.status = IMAGEPROC__IMAGE_STATUS__IMAGE_PENDING;
    img_c_pending.error = "";
    img_c_pending.n_variants = 0;
}

/* ------------------------------------------------------------ fake services */

static ip_variant_kind listed_with; /* the last ListImages' with_variant */

/* What the fakes saw and how they answer; the RPC workers write, the tests
 * read: under fake_mu. */
static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;
static char purged[8][IP_KEY_MAX]; /* the last DeleteObjects: keys, then the prefix */
static size_t npurged;
static int deletes_done;        /* DeleteObjects calls that have returned */
static ip_status stor_answer;   /* what DeleteObjects answers by default */
static int stor_sleep_ms;       /* and how long it takes */
static char finished[8][40];    /* FinishPurge calls: image id ... */
static char finish_err[8][160]; /* ... and error */
static size_t nfinished;
static Imageproc__ClaimPurgesRequest claimed;      /* the last ClaimPurges' limit and claim_ms */
static Imageproc__ListStaleRequest listed_stale;   /* the last ListStale's fields */
static int marked;                                 /* MarkEnqueued calls */
static int meta_deletes, retries, lookups;         /* DeleteImage, RetryImage, LookupApiKey calls */
static bool keys_down;                             /* LookupApiKey answers UNAVAILABLE */
static bool e_deleted;                             /* DeleteImage removed E */
static int created;                                /* CreateImage calls ... */
static char created_owner[IP_ACCESS_HASH_MAX + 8]; /* ... and the last one's owner_hash */

static void fake_reset(void)
{
    pthread_mutex_lock(&fake_mu);
    npurged = 0;
    deletes_done = 0;
    stor_answer = IP_OK;
    stor_sleep_ms = 0;
    nfinished = 0;
    marked = 0;
    meta_deletes = retries = lookups = created = 0;
    keys_down = false;
    created_owner[0] = '\0';
    pthread_mutex_unlock(&fake_mu);
}

static int deletes_returned(void)
{
    pthread_mutex_lock(&fake_mu);
    int n = deletes_done;
    pthread_mutex_unlock(&fake_mu);
    return n;
}

/* Reads a counter of the fakes under their lock. */
static int fake_count(const int *counter)
{
    pthread_mutex_lock(&fake_mu);
    int n = *counter;
    pthread_mutex_unlock(&fake_mu);
    return n;
}

static Imageproc__Image *find(const char *id)
{
    if (!strcmp(id, ID_E)) {
        pthread_mutex_lock(&fake_mu);
        bool gone = e_deleted;
        pthread_mutex_unlock(&fake_mu);
        return gone ? NULL : &img_e;
    }
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++)
        if (!strcmp(images[i]->id, id))
            return images[i];
    return NULL;
}

static ip_status meta_get(void *user, ip_rpc_call *call, const Imageproc__GetImageRequest *in,
                          Imageproc__GetImageReply *out)
{
    (void)user, (void)call;
    out->image = find(in->id);
    return out->image ? IP_OK : IP_NOT_FOUND;
}

static ip_status meta_list(void *user, ip_rpc_call *call, const Imageproc__ListImagesRequest *in,
                           Imageproc__ListImagesReply *out)
{
    (void)user;
    listed_with = in->with_variant;
    out->images = ip_rpc_call_alloc(call, sizeof images);
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
        const char *sha = images[i]->sha256 ? images[i]->sha256 : "";
        const char *key = images[i]->key_id ? images[i]->key_id : "";
        if ((in->sha256 && in->sha256[0] && strcmp(in->sha256, sha) != 0) ||
            (in->key_id && in->key_id[0] && strcmp(in->key_id, key) != 0))
            continue; /* the checksum filter and the duplicate check */
        unsigned req = ip_variant_mask_of(images[i]->requested, images[i]->n_requested);
        if (in->with_variant == IP_VARIANT_NONE || (req & ip_variant_bit(in->with_variant)))
            out->images[out->n_images++] = images[i];
    }
    return IP_OK;
}

static ip_status meta_delete(void *user, ip_rpc_call *call, const Imageproc__DeleteImageRequest *in,
                             Imageproc__DeleteImageReply *out)
{
    (void)user;
    pthread_mutex_lock(&fake_mu);
    meta_deletes++;
    bool e_here = !strcmp(in->id, ID_E) && !e_deleted;
    if (e_here)
        e_deleted = true;
    pthread_mutex_unlock(&fake_mu);
    if (strcmp(in->id, ID_A) != 0 && strcmp(in->id, ID_D) != 0 && !e_here)
        return IP_NOT_FOUND;
    if (!strcmp(in->id, ID_A)) {
        out->object_keys = a_keys;
        out->n_object_keys = 3;
    }
    out->purge_prefix = ip_rpc_call_alloc(call, IP_KEY_MAX);
    return ip_key_variant_prefix(out->purge_prefix, in->id);
}

/* The keys metadata-svc knows: every one of `keys` but the revoked and the
 * unknown one (LookupApiKey answers NOT_FOUND for both, as the real one does). */
static ip_status meta_lookup_key(void *user, ip_rpc_call *call,
                                 const Imageproc__LookupApiKeyRequest *in,
                                 Imageproc__LookupApiKeyReply *out)
{
    (void)user;
    pthread_mutex_lock(&fake_mu);
    lookups++;
    bool down = keys_down;
    pthread_mutex_unlock(&fake_mu);
    if (down) {
        ip_rpc_call_errorf(call, "PostgreSQL is down");
        return IP_UNAVAILABLE;
    }
    for (int i = 0; i < KEY_REVOKED; i++) {
        if (strcmp(in->hash, key_hash[i]) != 0)
            continue;
        out->key = ip_rpc_call_alloc(call, sizeof *out->key);
        imageproc__api_key__init(out->key);
        out->key->scopes = ip_rpc_call_alloc(call, sizeof *out->key->scopes);
        out->key->scopes[0] = key_scope[i];
        out->key->n_scopes = 1;
        return IP_OK;
    }
    return IP_NOT_FOUND;
}

/* RetryImage: C (failed) goes pending; the other known images are not failed. */
static ip_status meta_retry(void *user, ip_rpc_call *call, const Imageproc__RetryImageRequest *in,
                            Imageproc__RetryImageReply *out)
{
    (void)user;
    pthread_mutex_lock(&fake_mu);
    retries++;
    pthread_mutex_unlock(&fake_mu);
    if (!strcmp(in->id, ID_C)) {
        out->image = &img_c_pending;
        return IP_OK;
    }
    if (find(in->id)) {
        ip_rpc_call_errorf(call, "the image is not failed");
        return IP_FAILED_PRECONDITION;
    }
    return IP_NOT_FOUND;
}

static ip_status meta_reserve(void *user, ip_rpc_call *call,
                              const Imageproc__ReserveUploadRequest *in,
                              Imageproc__ReserveUploadReply *out)
{
    (void)user, (void)call, (void)in, (void)out;
    return IP_OK;
}

/* CreateImage keeps the owner_hash it was sent and answers the row. */
static ip_status meta_create(void *user, ip_rpc_call *call, const Imageproc__CreateImageRequest *in,
                             Imageproc__CreateImageReply *out)
{
    (void)user, (void)call;
    pthread_mutex_lock(&fake_mu);
    created++;
    snprintf(created_owner, sizeof created_owner, "%s",
             in->image && in->image->owner_hash ? in->image->owner_hash : "");
    pthread_mutex_unlock(&fake_mu);
    out->image = in->image;
    return IP_OK;
}

/* The purges ClaimPurges hands out: P1..P4, each with one variant key and
 * the original, as DeleteImage records them. */
static char p_keys[4][IP_KEY_MAX], p_orig[4][IP_KEY_MAX], p_prefix[4][IP_KEY_MAX];
static char *p_keyv[4][2] = {
    {p_keys[0], p_orig[0]}, {p_keys[1], p_orig[1]}, {p_keys[2], p_orig[2]}, {p_keys[3], p_orig[3]}};
static Imageproc__Purge purges[4];
static Imageproc__Purge *purgev[] = {&purges[0], &purges[1], &purges[2], &purges[3]};

static void purges_init(void)
{
    static const char *ids[] = {ID_P1, ID_P2, ID_P3, ID_P4};
    for (size_t i = 0; i < 4; i++) {
        imageproc__purge__init(&purges[i]);
        purges[i].image_id = (char *)ids[i];
        CHECK_ST(ip_key_variant(p_keys[i], ids[i], IP_VARIANT_THUMBNAIL, &ip_format_jpeg), IP_OK,
                 ids[i]);
        CHECK_ST(ip_key_original(p_orig[i], ids[i]), IP_OK, ids[i]);
        CHECK_ST(ip_key_variant_prefix(p_prefix[i], ids[i]), IP_OK, ids[i]);
        purges[i].object_keys = p_keyv[i];
        purges[i].n_object_keys = 2;
        purges[i].prefix = p_prefix[i];
        purges[i].attempts = 1;
    }
}

static ip_status meta_claim(void *user, ip_rpc_call *call, const Imageproc__ClaimPurgesRequest *in,
                            Imageproc__ClaimPurgesReply *out)
{
    (void)user, (void)call;
    pthread_mutex_lock(&fake_mu);
    claimed.limit = in->limit;
    claimed.claim_ms = in->claim_ms;
    pthread_mutex_unlock(&fake_mu);
    out->purges = purgev;
    out->n_purges = 4;
    return IP_OK;
}

static ip_status meta_finish(void *user, ip_rpc_call *call, const Imageproc__FinishPurgeRequest *in,
                             Imageproc__FinishPurgeReply *out)
{
    (void)user, (void)call, (void)out;
    pthread_mutex_lock(&fake_mu);
    if (nfinished < 8) {
        snprintf(finished[nfinished], sizeof finished[0], "%s", in->image_id);
        snprintf(finish_err[nfinished], sizeof finish_err[0], "%s", in->error);
        nfinished++;
    }
    pthread_mutex_unlock(&fake_mu);
    return strcmp(in->image_id, ID_D) ? IP_OK : IP_NOT_FOUND; /* D: another gateway finished it */
}

static ip_status meta_list_stale(void *user, ip_rpc_call *call,
                                 const Imageproc__ListStaleRequest *in,
                                 Imageproc__ListStaleReply *out)
{
    (void)user, (void)call;
    pthread_mutex_lock(&fake_mu);
    listed_stale = *in;
    pthread_mutex_unlock(&fake_mu);
    out->images = images + 1; /* B (processing) and C */
    out->n_images = 2;
    return IP_OK;
}

static ip_status meta_mark_enqueued(void *user, ip_rpc_call *call,
                                    const Imageproc__MarkEnqueuedRequest *in,
                                    Imageproc__MarkEnqueuedReply *out)
{
    (void)user, (void)call, (void)in, (void)out;
    pthread_mutex_lock(&fake_mu);
    marked++;
    pthread_mutex_unlock(&fake_mu);
    return IP_OK;
}

/* The objects storage-svc holds: o/<B> and o/<C> are BIG_LEN pseudo-random
 * bytes (several download chunks; C's fail after the first); any other key
 * holds "BYTES <key>". */
#define BIG_LEN (5 * 65536 + 12345)
static unsigned char big[BIG_LEN];
static int gets;  /* GetObject calls */
static bool hang; /* GetObject waits for the gate ... */
static int hung;  /* ... counting the calls that are waiting */
static pthread_cond_t fake_cv = PTHREAD_COND_INITIALIZER;

static void big_init(void)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < BIG_LEN; i++) {
        x = x * 1103515245u + 12345u;
        big[i] = (unsigned char)(x >> 16);
    }
}

/* Holds the call while `hang` is set; the test waits for `hung` to rise. */
static void maybe_hang(void)
{
    pthread_mutex_lock(&fake_mu);
    if (hang) {
        hung++;
        pthread_cond_broadcast(&fake_cv);
        while (hang)
            pthread_cond_wait(&fake_cv, &fake_mu);
        hung--;
    }
    pthread_mutex_unlock(&fake_mu);
}

static void set_hang(bool on)
{
    pthread_mutex_lock(&fake_mu);
    hang = on;
    pthread_cond_broadcast(&fake_cv);
    pthread_mutex_unlock(&fake_mu);
}

static void wait_hung(int n)
{
    pthread_mutex_lock(&fake_mu);
    while (hung < n)
        pthread_cond_wait(&fake_cv, &fake_mu);
    pthread_mutex_unlock(&fake_mu);
}

static ip_status stor_get(void *user, ip_rpc_call *call, const Imageproc__GetObjectRequest *in,
                          Imageproc__GetObjectReply *out)
{
    (void)user;
    pthread_mutex_lock(&fake_mu);
    gets++;
    pthread_mutex_unlock(&fake_mu);
    maybe_hang();
    const uint8_t *obj;
    size_t size;
    if (!strcmp(in->key, "o/" ID_C) && in->offset > 0) {
        ip_rpc_call_errorf(call, "S3 went away");
        return IP_UNAVAILABLE; /* C's original: storage fails after the first chunk */
    }
    if (!strcmp(in->key, "o/" ID_B) || !strcmp(in->key, "o/" ID_C)) {
        obj = big;
        size = BIG_LEN;
    } else {
        char *s = ip_rpc_call_alloc(call, IP_KEY_MAX + 8);
        snprintf(s, IP_KEY_MAX + 8, "BYTES %s", in->key);
        obj = (const uint8_t *)s;
        size = strlen(s);
    }
    if (in->offset >= size && size > 0) {
        ip_rpc_call_errorf(call, "offset past the end");
        return IP_INVALID_ARGUMENT;
    }
    size_t n = size - in->offset;
    if (in->length && in->length < n)
        n = in->length;
    out->info = ip_rpc_call_alloc(call, sizeof *out->info);
    imageproc__object_info__init(out->info);
    out->info->key = ip_rpc_call_strdup(call, in->key);
    out->info->size_bytes = (int64_t)size;
    out->data.data = (uint8_t *)obj + in->offset;
    out->data.len = n;
    return IP_OK;
}

/* Records the call; answers stor_answer after stor_sleep_ms, except for
 * the purges P2 (INTERNAL) and P3 (UNAVAILABLE). */
static ip_status stor_delete(void *user, ip_rpc_call *call,
                             const Imageproc__DeleteObjectsRequest *in,
                             Imageproc__DeleteObjectsReply *out)
{
    (void)user, (void)call, (void)out;
    pthread_mutex_lock(&fake_mu);
    npurged = 0;
    for (size_t i = 0; i < in->n_keys && npurged < 7; i++)
        snprintf(purged[npurged++], IP_KEY_MAX, "%s", in->keys[i]);
    snprintf(purged[npurged++], IP_KEY_MAX, "%s", in->prefix ? in->prefix : "");
    ip_status st = stor_answer;
    int sleep_ms = stor_sleep_ms;
    pthread_mutex_unlock(&fake_mu);
    if (in->prefix && !strcmp(in->prefix, p_prefix[1]))
        st = IP_INTERNAL;
    if (in->prefix && !strcmp(in->prefix, p_prefix[2]))
        st = IP_UNAVAILABLE;
    if (sleep_ms)
        usleep((useconds_t)sleep_ms * 1000);
    pthread_mutex_lock(&fake_mu);
    deletes_done++;
    pthread_mutex_unlock(&fake_mu);
    if (st != IP_OK)
        ip_rpc_call_errorf(call, "S3 answered 503");
    return st;
}

static ip_status stor_put(void *user, ip_rpc_call *call, const Imageproc__PutObjectRequest *in,
                          Imageproc__PutObjectReply *out)
{
    (void)user, (void)call, (void)in, (void)out;
    return IP_OK;
}

static const ip_metadata_impl meta_impl = {.get_image = meta_get,
                                           .lookup_api_key = meta_lookup_key,
                                           .retry_image = meta_retry,
                                           .reserve_upload = meta_reserve,
                                           .create_image = meta_create,
                                           .list_images = meta_list,
                                           .delete_image = meta_delete,
                                           .claim_purges = meta_claim,
                                           .finish_purge = meta_finish,
                                           .list_stale = meta_list_stale,
                                           .mark_enqueued = meta_mark_enqueued};
static const ip_storage_impl stor_impl = {
    .get_object = stor_get, .put_object = stor_put, .delete_objects = stor_delete};

/* ------------------------------------------------------------ set-up */

/* A one-broker mock cluster (librdkafka's) with the topic, and the
 * gateway's producer on it: uploads and retries get their jobs acknowledged. */
static void start_kafka(void)
{
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    CHECK(rd_kafka_conf_set(kc, "test.mock.num.brokers", "1", err, sizeof err) == RD_KAFKA_CONF_OK);
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof err);
    CHECKF(mock_rk != NULL, "%s", err);
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mock_rk);
    CHECK(mc != NULL);
    CHECK(rd_kafka_mock_topic_create(mc, "image-jobs-test", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK_ST(
        gw_kafka_new(rd_kafka_mock_cluster_bootstraps(mc), "image-jobs-test", 5000, &app.kafka),
        IP_OK, "kafka");
}

static void start(void)
{
    if (daemon_)
        return;
    fixtures_init();
    purges_init();
    big_init();
    static char murl[96], surl[96];
    snprintf(murl, sizeof murl, "ipc:///tmp/gw_routes_test_meta_%d", (int)getpid());
    snprintf(surl, sizeof surl, "ipc:///tmp/gw_routes_test_stor_%d", (int)getpid());
    ip_rpc_server_opts mo = {.url = murl, .workers = 4}, so = {.url = surl, .workers = 4};
    CHECK_ST(ip_metadata_server_new(&meta_impl, &mo, &meta_srv), IP_OK, murl);
    CHECK_ST(ip_storage_server_new(&stor_impl, &so, &stor_srv), IP_OK, surl);
    ip_rpc_client_opts mc = {.urls = murl, .timeout_ms = 2000};
    ip_rpc_client_opts sc = {.urls = surl, .timeout_ms = 2000};
    CHECK_ST(ip_rpc_client_new(&imageproc__metadata__descriptor, &mc, &app.meta), IP_OK, murl);
    CHECK_ST(ip_rpc_client_new(&imageproc__storage__descriptor, &sc, &app.stor), IP_OK, surl);
    app.cfg.upload_max_bytes = 52428800;
    app.cfg.download_chunk_bytes = 65536;
    app.cfg.pixel_limit = 1234567;
    ip_admit_limits_default(&app.cfg.admit);
    app.cfg.admit.pixels = app.cfg.pixel_limit;
    app.cfg.accel = true;
    app.cfg.accel_location = "/_accel/";
    app.cfg.rpc_timeout_ms = 2000;
    app.cfg.delete_wait_ms = 300;
    app.cfg.purge_interval_ms = 1000;
    app.cfg.sweep_interval_ms = 1000;
    app.cfg.sweep_age_ms = 30000;
    app.cfg.sweep_enqueued_age_ms = 900000;
    gw_metrics_register(&app.m);
    start_kafka();
    CHECK_ST(gw_work_new(4, 16, &app.work), IP_OK, "work pool");
    /* One HTTP thread: a request whose work stayed on it would hold up every other. */
    daemon_ = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
        gw_routes_access, &app, MHD_OPTION_NOTIFY_COMPLETED, gw_routes_done, &app, MHD_OPTION_END);
    CHECK(daemon_ != NULL);
    port = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void stop(void)
{
    if (!daemon_)
        return;
    gw_work_free(app.work); /* drains before the daemon stops */
    MHD_stop_daemon(daemon_);
    ip_rpc_client_free(app.meta);
    ip_rpc_client_free(app.stor);
    ip_rpc_server_free(meta_srv);
    ip_rpc_server_free(stor_srv);
    gw_kafka_free(app.kafka);
    rd_kafka_destroy(mock_rk);
}

static int connect_gateway(void)
{
    start();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    return fd;
}

/* One request on its own connection, with `body` (blen bytes, NULL: none)
 * after the headers; the whole answer (head and body) in out (*len bytes,
 * NUL-terminated), its status returned (0 when the exchange failed or no
 * answer came within 5 s). */
static int http_body(const char *method, const char *path, const char *headers, const void *body,
                     size_t blen, char *out, size_t cap, size_t *len_out)
{
    int fd = connect_gateway();
    out[0] = '\0';
    char req[8192];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n",
                     method, path, headers ? headers : "");
    CHECK(n > 0 && (size_t)n < sizeof req);
    CHECK(write(fd, req, (size_t)n) == n);
    if (body)
        CHECK(write(fd, body, blen) == (ssize_t)blen);
    size_t len = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (len < cap - 1 && poll(&p, 1, 5000) > 0) {
        ssize_t r = read(fd, out + len, cap - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    out[len] = '\0';
    close(fd);
    if (len_out)
        *len_out = len;
    int status = 0;
    sscanf(out, "HTTP/1.1 %d", &status);
    return status;
}

static int http_n(const char *method, const char *path, const char *headers, char *out, size_t cap,
                  size_t *len_out)
{
    return http_body(method, path, headers, NULL, 0, out, cap, len_out);
}

static int http(const char *method, const char *path, const char *headers, char *out, size_t cap)
{
    return http_n(method, path, headers, out, cap, NULL);
}

static const char *body_of(const char *answer)
{
    const char *b = strstr(answer, "\r\n\r\n");
    return b ? b + 4 : "";
}

/* ------------------------------------------------------------ tests */

static void test_image_get_ready(void)
{
    char a[4096];
    /* Default: the requested variant of highest serve_rank (resized here). */
    EXPECT_EQ_INT(http("GET", "/image/" ID_A, NULL, a, sizeof a), 200);
    EXPECT_EQ_STR(body_of(a), "BYTES v/" ID_A "/resized.jpg");
    EXPECT(strstr(a, "Content-Type: image/jpeg\r\n") && strstr(a, "ETag: \"v-" ID_A "-resized\""));
    EXPECT_EQ_INT(
        http("GET", "/image/" ID_A, "If-None-Match: \"v-" ID_A "-resized\"\r\n", a, sizeof a), 304);
    EXPECT_EQ_INT(http("GET", "/api/image/" ID_A "?variant=thumbnail",
                       "X-Forwarded-For: 1.2.3.4\r\n", a, sizeof a),
                  200);
    EXPECT(strstr(a, "X-Accel-Redirect: /_accel/v/" ID_A "/thumbnail.jpg\r\n") != NULL);
    EXPECT_EQ_STR(body_of(a), "");
    /* The original: always through the gateway, private. */
    EXPECT_EQ_INT(http("GET", "/image/" ID_A "?variant=original",
                       bearer(keys[KEY_ADMIN], "X-Forwarded-For: 1.2.3.4\r\n"), a, sizeof a),
                  200);
    EXPECT_EQ_STR(body_of(a), "BYTES o/" ID_A);
    EXPECT(strstr(a, "Content-Type: image/png\r\n") && strstr(a, "private, no-cache") &&
           !strstr(a, "X-Accel-Redirect"));
    EXPECT_EQ_INT(http("HEAD", "/image/" ID_A, NULL, a, sizeof a), 200);
    EXPECT_EQ_STR(body_of(a), "");
}

/* The file by Accept, or by ?format=; Vary: Accept on what Accept chose. */
static void test_image_get_formats(void)
{
    char a[4096];
    const char *th = "/image/" ID_A "?variant=thumbnail";
    /* Streamed: WebP for a client that names it, the JPEG for the others. */
    EXPECT_EQ_INT(http("GET", th, "Accept: image/avif,image/webp,*/*\r\n", a, sizeof a), 200);
    EXPECT_EQ_STR(body_of(a), "BYTES v/" ID_A "/thumbnail.webp");
    EXPECT(strstr(a, "Content-Type: image/webp\r\n") && strstr(a, "Vary: Accept\r\n") &&
           strstr(a, "ETag: \"v-" ID_A "-thumbnail-webp\"\r\n"));
    EXPECT_EQ_INT(http("GET", th, "Accept: */*\r\n", a, sizeof a), 200);
    EXPECT_EQ_STR(body_of(a), "BYTES v/" ID_A "/thumbnail.jpg");
    EXPECT(strstr(a, "Content-Type: image/jpeg\r\n") && strstr(a, "Vary: Accept\r\n") &&
           strstr(a, "ETag: \"v-" ID_A "-thumbnail\"\r\n"));
    EXPECT_EQ_INT(http("GET", th, "Accept: image/webp;q=0, image/jpeg\r\n", a, sizeof a), 200);
    EXPECT_EQ_STR(body_of(a), "BYTES v/" ID_A "/thumbnail.jpg");
    /* Two Accept lines are one list. */
    EXPECT_EQ_INT(
        http("GET", th, "Accept: image/jpeg;q=0.5\r\nAccept: image/webp\r\n", a, sizeof a), 200);
    EXPECT_EQ_STR(body_of(a), "BYTES v/" ID_A "/thumbnail.webp");
    /* Behind the proxy: the redirect names the chosen key and keeps Vary. */
    EXPECT_EQ_INT(http("GET", "/api/image/" ID_A "?variant=thumbnail",
                       "X-Forwarded-For: 1.2.3.4\r\nAccept: image/webp\r\n", a, sizeof a),
                  200);
    EXPECT(strstr(a, "X-Accel-Redirect: /_accel/v/" ID_A "/thumbnail.webp\r\n") &&
           strstr(a, "Content-Type: image/webp\r\n") && strstr(a, "Vary: Accept\r\n"));
    /* 304 for the representation the client holds, with Vary. */
    EXPECT_EQ_INT(http("GET", th,
                       "Accept: image/webp\r\nIf-None-Match: \"v-" ID_A "-thumbnail-webp\"\r\n", a,
                       sizeof a),
                  304);
    EXPECT(strstr(a, "Vary: Accept\r\n") != NULL);
    EXPECT_EQ_INT(http("GET", th, "If-None-Match: \"v-" ID_A "-thumbnail-webp\"\r\n", a, sizeof a),
                  200); /* without Accept it is the JPEG, another ETag */
    /* ?format= forces, whatever Accept says, and does not vary. */
    EXPECT_EQ_INT(http("GET", "/image/" ID_A "?variant=thumbnail&format=webp",
                       "Accept: image/jpeg\r\n", a, sizeof a),
                  200);
    EXPECT_EQ_STR(body_of(a), "BYTES v/" ID_A "/thumbnail.webp");
    EXPECT(!strstr(a, "Vary:"));
    EXPECT_EQ_INT(http("GET", "/image/" ID_A "?variant=thumbnail&format=jpeg",
                       "Accept: image/webp\r\n", a, sizeof a),
                  200);
    EXPECT_EQ_STR(body_of(a), "BYTES v/" ID_A "/thumbnail.jpg");
    /* A format the variant lacks: 404 naming format and what it has. */
    EXPECT_EQ_INT(http("GET", "/image/" ID_A "?variant=thumbnail&format=avif", NULL, a, sizeof a),
                  404);
    EXPECT(strstr(a, "\"param\":\"format\"") &&
           strstr(a, "not stored as avif (it is stored as: jpeg, webp)"));
    /* A record without files: its primary; webp is not there. */
    EXPECT_EQ_INT(
        http("GET", "/image/" ID_A "?variant=resized", "Accept: image/webp\r\n", a, sizeof a), 200);
    EXPECT_EQ_STR(body_of(a), "BYTES v/" ID_A "/resized.jpg");
    EXPECT_EQ_INT(http("GET", "/image/" ID_A "?format=webp", NULL, a, sizeof a), 404);
    /* Unknown names, and format with the original: 400 naming format. */
    EXPECT_EQ_INT(http("GET", "/image/" ID_A "?format=gif", NULL, a, sizeof a), 400);
    EXPECT(strstr(a, "\"param\":\"format\"") != NULL);
    EXPECT_EQ_INT(http("GET", "/image/" ID_A "?format=original", NULL, a, sizeof a), 400);
    EXPECT_EQ_INT(http("GET", "/image/" ID_A "?variant=original&format=jpeg",
                       bearer(keys[KEY_ADMIN], NULL), a, sizeof a),
                  400);
    EXPECT(strstr(a, "\"param\":\"format\"") != NULL);
    /* A hostile Accept is served as none: the primary. */
    char hdr[GW_ACCEPT_MAX_BYTES + 64];
    int len = snprintf(hdr, sizeof hdr, "Accept: image/webp");
    while (len < GW_ACCEPT_MAX_BYTES + 20)
        hdr[len++] = ',';
    snprintf(hdr + len, sizeof hdr - (size_t)len, "\r\n");
    EXPECT_EQ_INT(http("GET", th, hdr, a, sizeof a), 200);
    EXPECT_EQ_STR(body_of(a), "BYTES v/" ID_A "/thumbnail.jpg");
}

static void test_image_get_states(void)
{
    char a[4096];
    EXPECT_EQ_INT(http("GET", "/image/" ID_A "?variant=watermarked", NULL, a, sizeof a), 404);
    EXPECT(strstr(a, "\"param\":\"variant\"") != NULL);
    /* Watermarked requested, not ready yet: 202 with the info. */
    EXPECT_EQ_INT(http("GET", "/image/" ID_B, NULL, a, sizeof a), 202);
    EXPECT(strstr(a, "Retry-After: 1\r\n") && strstr(body_of(a), "\"id\":\"" ID_B "\""));
    EXPECT_EQ_INT(http("GET", "/image/" ID_B "?variant=thumbnail", NULL, a, sizeof a), 200);
    EXPECT_EQ_INT(http("GET", "/image/" ID_C "?variant=thumbnail", NULL, a, sizeof a), 422);
    EXPECT(strstr(a, "the thumbnail variant failed: cannot decode") != NULL);
    EXPECT_EQ_INT(http("GET", "/image/" ID_C, NULL, a, sizeof a), 422);
    EXPECT(strstr(a, "processing failed: cannot decode") != NULL);
    EXPECT_EQ_INT(http("GET", "/image/0190f2a4-5b6c-7d8e-9f00-000000000999", NULL, a, sizeof a),
                  404);
    EXPECT_EQ_INT(http("GET", "/image/nope", NULL, a, sizeof a), 400);
    EXPECT(strstr(a, "\"param\":\"id\"") != NULL);
}

static void test_info_and_listing(void)
{
    char a[16384];
    EXPECT_EQ_INT(http("GET", "/image/" ID_A "/info", NULL, a, sizeof a), 200);
    json_t *j = json_loads(body_of(a), 0, NULL);
    CHECK(j != NULL);
    char *ops = json_dumps(json_object_get(j, "ops"), JSON_COMPACT);
    EXPECT_EQ_STR(ops, "[\"thumbnail\",\"resized\"]");
    free(ops);
    json_decref(j);
    EXPECT_EQ_INT(http("GET", "/images", NULL, a, sizeof a), 200);
    EXPECT_EQ_INT(listed_with, IP_VARIANT_NONE);
    j = json_loads(body_of(a), 0, NULL);
    CHECK(j != NULL);
    json_t *items = json_object_get(j, "items");
    EXPECT_EQ_INT(json_array_size(items), 3);
    EXPECT_EQ_STR(json_string_value(json_object_get(json_array_get(items, 0), "url")),
                  "/media/" ID_A "/thumbnail.jpg");
    EXPECT(json_is_null(json_object_get(j, "next")));
    json_decref(j);
    EXPECT_EQ_INT(http("GET", "/images?mode=watermarked", NULL, a, sizeof a), 200);
    EXPECT_EQ_INT(listed_with, IP_VARIANT_WATERMARKED);
    j = json_loads(body_of(a), 0, NULL);
    CHECK(j != NULL);
    items = json_object_get(j, "items");
    EXPECT_EQ_INT(json_array_size(items), 2); /* B and C requested it */
    EXPECT(json_is_null(json_object_get(json_array_get(items, 0), "url")));
    json_decref(j);
}

/* The value of one sample of the metrics exposition ("" label set: none), 0 when absent. */
static double metric_value(const char *sample)
{
    char *text = ip_metrics_render();
    const char *at = text ? strstr(text, sample) : NULL;
    double v = at ? strtod(at + strlen(sample), NULL) : 0;
    free(text);
    return v;
}

static void test_delete(void)
{
    char a[4096];
    fake_reset();
    double before = metric_value("gw_purges_total{by=\"request\",result=\"done\"}");
    EXPECT_EQ_INT(http("DELETE", "/image/" ID_A, bearer(keys[KEY_DELETE], NULL), a, sizeof a), 204);
    EXPECT_EQ_STR(body_of(a), "");
    pthread_mutex_lock(&fake_mu);
    EXPECT_EQ_INT(npurged, 4);
    EXPECT_EQ_STR(purged[0], a_th_key);
    EXPECT_EQ_STR(purged[1], a_rs_key);
    EXPECT_EQ_STR(purged[2], "o/" ID_A);
    EXPECT_EQ_STR(purged[3], "v/" ID_A "/");
    EXPECT_EQ_INT(nfinished, 1);
    EXPECT_EQ_STR(finished[0], ID_A);
    EXPECT_EQ_STR(finish_err[0], "");
    pthread_mutex_unlock(&fake_mu);
    EXPECT(metric_value("gw_purges_total{by=\"request\",result=\"done\"}") == before + 1);
    /* The purge finished elsewhere already (FinishPurge NOT_FOUND): done too. */
    EXPECT_EQ_INT(http("DELETE", "/image/" ID_D, bearer(keys[KEY_DELETE], NULL), a, sizeof a), 204);
    /* Unknown, or deleted before: 404, and nothing purged. */
    fake_reset();
    EXPECT_EQ_INT(http("DELETE", "/image/" ID_B, bearer(keys[KEY_DELETE], NULL), a, sizeof a), 404);
    EXPECT(strstr(a, "application/problem+json") != NULL);
    EXPECT_EQ_INT(deletes_returned(), 0);
    EXPECT_EQ_INT(http("DELETE", "/image/not-a-uuid", bearer(keys[KEY_DELETE], NULL), a, sizeof a),
                  400);
}

/* A DELETE that must answer 202 {"id", "status": "deleting"}, without
 * FinishPurge, within about IP_GATEWAY_DELETE_WAIT_MS. */
static void expect_deferred(const char *why)
{
    char a[4096];
    int64_t t0 = ip_mono_ms();
    EXPECTF(http("DELETE", "/image/" ID_A, bearer(keys[KEY_ADMIN], NULL), a, sizeof a) == 202,
            "%s: %.200s", why, a);
    EXPECTF(ip_mono_ms() - t0 < 1500, "%s: took %lld ms", why, (long long)(ip_mono_ms() - t0));
    EXPECT(strstr(a, "Content-Type: application/json") != NULL);
    json_t *j = json_loads(body_of(a), 0, NULL);
    CHECK(j != NULL);
    EXPECT_EQ_INT(json_object_size(j), 2);
    EXPECT_EQ_STR(json_string_value(json_object_get(j, "id")), ID_A);
    EXPECT_EQ_STR(json_string_value(json_object_get(j, "status")), "deleting");
    json_decref(j);
    pthread_mutex_lock(&fake_mu);
    EXPECTF(nfinished == 0, "%s: FinishPurge called", why);
    pthread_mutex_unlock(&fake_mu);
}

static void test_delete_deferred(void)
{
    start();
    double before = metric_value("gw_purges_total{by=\"request\",result=\"failed\"}");
    /* storage-svc answers that S3 is down. */
    fake_reset();
    stor_answer = IP_UNAVAILABLE;
    expect_deferred("storage failing");
    /* storage-svc slower than IP_GATEWAY_DELETE_WAIT_MS (300 ms here). */
    fake_reset();
    stor_sleep_ms = 1000;
    expect_deferred("storage slow");
    for (int i = 0; i < 100 && deletes_returned() == 0; i++)
        usleep(20000); /* let the slow call end before the next case */
    /* storage-svc not running at all. */
    fake_reset();
    ip_rpc_client *live = app.stor, *dead = NULL;
    char url[96];
    snprintf(url, sizeof url, "ipc:///tmp/gw_routes_test_nobody_%d", (int)getpid());
    ip_rpc_client_opts dc = {.urls = url, .timeout_ms = 2000};
    CHECK_ST(ip_rpc_client_new(&imageproc__storage__descriptor, &dc, &dead), IP_OK, url);
    app.stor = dead;
    expect_deferred("storage down");
    app.stor = live;
    ip_rpc_client_free(dead);
    EXPECT(metric_value("gw_purges_total{by=\"request\",result=\"failed\"}") == before + 3);
}

/* The purger: P1 finished (""), P2's failure recorded with its error and the
 * pass goes on, P3's transient failure recorded and the pass ends before P4. */
static void test_purger_pass(void)
{
    start();
    fake_reset();
    int done = -1, failed = -1;
    EXPECT_ST(gw_purge_once(&app, &done, &failed), IP_UNAVAILABLE, "the pass");
    EXPECT_EQ_INT(done, 1);
    EXPECT_EQ_INT(failed, 2);
    pthread_mutex_lock(&fake_mu);
    EXPECT_EQ_INT(claimed.limit, GW_PURGE_BATCH);
    EXPECT_EQ_INT(claimed.claim_ms, 3 * 1000 + 2 * 2000);
    EXPECT_EQ_INT(nfinished, 3);
    EXPECT_EQ_STR(finished[0], ID_P1);
    EXPECT_EQ_STR(finish_err[0], "");
    EXPECT_EQ_STR(finished[1], ID_P2);
    EXPECTF(strstr(finish_err[1], "DeleteObjects: internal") &&
                strstr(finish_err[1], "S3 answered 503"),
            "%s", finish_err[1]);
    EXPECT_EQ_STR(finished[2], ID_P3);
    EXPECTF(strstr(finish_err[2], "DeleteObjects: unavailable") != NULL, "%s", finish_err[2]);
    /* The last DeleteObjects was P3's: exactly its keys (the variant's and
     * the original) and its prefix. */
    EXPECT_EQ_INT(npurged, 3);
    EXPECT_EQ_STR(purged[0], p_keys[2]);
    EXPECT_EQ_STR(purged[1], "o/" ID_P3);
    EXPECT_EQ_STR(purged[2], p_prefix[2]);
    pthread_mutex_unlock(&fake_mu);
    EXPECT(metric_value("gw_purges_total{by=\"purger\",result=\"done\"}") >= 1);
    EXPECT(metric_value("gw_purges_total{by=\"purger\",result=\"failed\"}") >= 2);
}

/* The sweep asks for all three kinds of stale rows with a claim of two
 * intervals; Kafka unreachable (transient) ends the pass at the first row. */
static void test_sweep_pass(void)
{
    start();
    fake_reset();
    gw_kafka *mock = app.kafka;
    CHECK_ST(gw_kafka_new("127.0.0.1:9", "image-jobs-test", 200, &app.kafka), IP_OK, "kafka");
    int requeued = -1;
    ip_status st = gw_sweep_once(&app, &requeued);
    EXPECT(ip_status_is_transient(st));
    EXPECT_EQ_INT(requeued, 0);
    pthread_mutex_lock(&fake_mu);
    EXPECT_EQ_INT(listed_stale.older_than_us, 30000LL * 1000);
    EXPECT_EQ_INT(listed_stale.enqueued_older_than_us, 900000LL * 1000);
    EXPECT(listed_stale.expired_leases);
    EXPECT_EQ_INT(listed_stale.claim_ms, 2 * 1000);
    EXPECT_EQ_INT(listed_stale.limit, GW_SWEEP_BATCH);
    EXPECT_EQ_INT(marked, 0); /* nothing produced, nothing marked */
    pthread_mutex_unlock(&fake_mu);
    gw_kafka_free(app.kafka);
    app.kafka = mock;
}

static int ticks;
static void count_tick(gw_app *a)
{
    (void)a;
    pthread_mutex_lock(&fake_mu);
    ticks++;
    pthread_mutex_unlock(&fake_mu);
}

/* The ticker calls its pass every interval and stops at once when freed. */
static void test_ticker(void)
{
    gw_ticker *t = NULL;
    CHECK_ST(gw_ticker_new(&app, "test", 20, count_tick, &t), IP_OK, "ticker");
    usleep(300000);
    gw_ticker_free(t);
    pthread_mutex_lock(&fake_mu);
    EXPECTF(ticks >= 3, "%d ticks", ticks);
    pthread_mutex_unlock(&fake_mu);
    CHECK_ST(gw_ticker_new(&app, "test", 3600000, count_tick, &t), IP_OK, "ticker");
    int64_t t0 = ip_mono_ms();
    gw_ticker_free(t);
    EXPECT(ip_mono_ms() - t0 < 1000);
    gw_ticker_free(NULL);
}

static void test_config_and_methods(void)
{
    char a[4096];
    EXPECT_EQ_INT(http("GET", "/api/config", NULL, a, sizeof a), 200);
    EXPECT(strstr(a, "Cache-Control: public, max-age=60\r\n") != NULL);
    json_t *j = json_loads(body_of(a), 0, NULL);
    CHECK(j != NULL);
    EXPECT_EQ_INT(json_integer_value(json_object_get(j, "upload_max_bytes")), 52428800);
    EXPECT_EQ_INT(json_integer_value(json_object_get(j, "pixel_limit")), 1234567);
    json_decref(j);
    EXPECT_EQ_INT(http("PUT", "/config", NULL, a, sizeof a), 405);
    EXPECT(strstr(a, "Allow: GET, HEAD\r\n") != NULL);
    EXPECT_EQ_INT(http("HEAD", "/events", NULL, a, sizeof a), 405);
    EXPECT(strstr(a, "Allow: GET\r\n") != NULL);
    EXPECT_EQ_INT(http("GET", "/upload", NULL, a, sizeof a), 405);
    EXPECT(strstr(a, "Allow: POST\r\n") != NULL);
    EXPECT_EQ_INT(http("GET", "/image/" ID_A "/other", NULL, a, sizeof a), 404);
    EXPECT_EQ_INT(http("GET", "/healthz", NULL, a, sizeof a), 200);
}

/* ------------------------------------------------------------ work pool, budget */

/* ip_budget_used() once cond holds of it (a charge is given back when
 * libmicrohttpd ends the request, just after the client has read it), or
 * after 5 s. */
static int64_t budget_used_when(bool (*cond)(int64_t))
{
    for (int i = 0; i < 500; i++) {
        int64_t u = ip_budget_used();
        if (cond(u))
            return u;
        usleep(10000);
    }
    return ip_budget_used();
}

static bool some_held(int64_t u)
{
    return u > 0;
}

static bool none_held(int64_t u)
{
    return u == 0;
}

/* A GET of B's original on its own thread (the fake may hold it). */
typedef struct bg_get {
    pthread_t t;
    int status;
    size_t len;
    char answer[BIG_LEN + 4096]; /* the whole answer: the download runs to its end */
} bg_get;

static void *bg_get_run(void *arg)
{
    bg_get *g = arg;
    g->status = http_n("GET", "/image/" ID_B "?variant=original", bearer(keys[KEY_ADMIN], NULL),
                       g->answer, sizeof g->answer, &g->len);
    return NULL;
}

static bg_get *bg_start(void)
{
    start();
    bg_get *g = calloc(1, sizeof *g);
    CHECK(g && pthread_create(&g->t, NULL, bg_get_run, g) == 0);
    return g;
}

/* Waits for the download to end; true when it was 200 with the whole object. */
static bool bg_join(bg_get *g)
{
    pthread_join(g->t, NULL);
    const char *body = body_of(g->answer);
    bool whole = g->status == 200 && g->len - (size_t)(body - g->answer) == BIG_LEN &&
                 memcmp(body, big, BIG_LEN) == 0;
    if (!whole)
        fprintf(stderr, "download: status %d, %zu bytes: %.200s\n", g->status, g->len, g->answer);
    free(g);
    return whole;
}

/* storage-svc hangs: the download waits on the work pool while the listing,
 * /info and /healthz answer on the one HTTP thread. */
static void test_slow_storage_stalls_only_its_requests(void)
{
    char a[16384];
    start();
    set_hang(true);
    bg_get *g = bg_start();
    wait_hung(1);
    EXPECT_EQ_INT(http("GET", "/images", NULL, a, sizeof a), 200);
    EXPECT_EQ_INT(http("GET", "/image/" ID_A "/info", NULL, a, sizeof a), 200);
    EXPECT_EQ_INT(http("GET", "/healthz", NULL, a, sizeof a), 200);
    pthread_mutex_lock(&fake_mu);
    EXPECTF(hung == 1, "the GetObject returned before the other requests answered (%d)", hung);
    pthread_mutex_unlock(&fake_mu);
    set_hang(false);
    EXPECT(bg_join(g));
}

/* An original of six chunks arrives whole, in order, with its Content-Length. */
static void test_original_streamed_in_chunks(void)
{
    static char a[BIG_LEN + 4096];
    start();
    pthread_mutex_lock(&fake_mu);
    int gets0 = gets;
    pthread_mutex_unlock(&fake_mu);
    size_t len = 0;
    EXPECT_EQ_INT(http_n("GET", "/image/" ID_B "?variant=original", bearer(keys[KEY_ADMIN], NULL),
                         a, sizeof a, &len),
                  200);
    const char *body = body_of(a);
    size_t blen = len - (size_t)(body - a);
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %d\r\n", BIG_LEN);
    EXPECT(strstr(a, cl) != NULL);
    EXPECT_EQ_INT(blen, BIG_LEN);
    EXPECT(blen == BIG_LEN && memcmp(body, big, BIG_LEN) == 0);
    EXPECT(strstr(a, "ETag: \"o-" ID_B "\"") && strstr(a, "private, no-cache"));
    pthread_mutex_lock(&fake_mu);
    EXPECTF(gets - gets0 == 6, "%d GetObject calls", gets - gets0);
    pthread_mutex_unlock(&fake_mu);
    EXPECT_EQ_INT(budget_used_when(none_held), 0); /* every chunk's charge given back */
    /* HEAD: the size, no body. */
    EXPECT_EQ_INT(http_n("HEAD", "/image/" ID_B "?variant=original", bearer(keys[KEY_ADMIN], NULL),
                         a, sizeof a, &len),
                  200);
    EXPECT(strstr(a, cl) != NULL);
    EXPECT_EQ_STR(body_of(a), "");
}

/* storage-svc failing mid-stream: 200 with the full Content-Length, the body
 * ends short (the client can tell), the budget is given back. */
static void test_original_cut_short(void)
{
    static char a[BIG_LEN + 4096];
    start();
    size_t len = 0;
    EXPECT_EQ_INT(
        http_n("GET", "/image/" ID_C "?variant=original", bearer(tok_c, NULL), a, sizeof a, &len),
        200);
    const char *body = body_of(a);
    size_t blen = len - (size_t)(body - a);
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %d\r\n", BIG_LEN);
    EXPECT(strstr(a, cl) != NULL);
    EXPECTF(blen == 65536, "%zu bytes", blen);
    EXPECT(memcmp(body, big, blen < 65536 ? blen : 65536) == 0);
    EXPECT_EQ_INT(budget_used_when(none_held), 0);
}

/* A budget with no room for a download chunk (2 × 64 KiB) or an upload
 * buffer (64 KiB) answers 503 busy, and counts it. */
static void test_budget_too_small_is_busy(void)
{
    char a[4096];
    start();
    double before = metric_value("\ngw_memory_refusals_total ");
    ip_budget_set_limit(32 * 1024);
    EXPECT_EQ_INT(http("GET", "/image/" ID_A "?variant=original", bearer(tok_a, NULL), a, sizeof a),
                  503);
    EXPECT(strstr(a, "Retry-After: 2\r\n") && strstr(a, "too much data"));
    EXPECT_EQ_INT(http("POST", "/upload",
                       "Content-Type: image/png\r\nContent-Length: 10\r\n\r\n0123456789", a,
                       sizeof a),
                  503);
    EXPECT(strstr(a, "Retry-After: 2\r\n") && strstr(a, "too much data"));
    ip_budget_set_limit(1024LL * 1024 * 1024);
    EXPECT(metric_value("\ngw_memory_refusals_total ") == before + 2);
    EXPECT_EQ_INT(budget_used_when(none_held), 0);
}

/* A raw upload announcing 50 MB that sends 10 bytes and stalls holds one
 * 64 KiB buffer, not 50 MB; closing it gives the buffer back. */
static void test_stalled_upload_holds_little(void)
{
    int fd = connect_gateway();
    const char req[] = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                       "Content-Length: 50000000\r\n\r\n0123456789";
    CHECK(write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1));
    int64_t held = budget_used_when(some_held);
    EXPECTF(held > 0 && held <= 65536, "%lld bytes charged", (long long)held);
    close(fd);
    EXPECT_EQ_INT(budget_used_when(none_held), 0);
}

/* One worker, room for one job: a hung download takes the worker, a second
 * waits in the queue, a third is refused at once with 503. */
static void test_work_queue_full_is_busy(void)
{
    char a[4096];
    start();
    gw_work *roomy = app.work, *tight = NULL;
    CHECK_ST(gw_work_new(1, 1, &tight), IP_OK, "tight pool");
    app.work = tight;
    set_hang(true);
    bg_get *g1 = bg_start();
    wait_hung(1);
    bg_get *g2 = bg_start();
    for (int i = 0; i < 500 && gw_work_queued(tight) < 1; i++)
        usleep(10000); /* the second request reaches the queue */
    EXPECT_EQ_INT(gw_work_queued(tight), 1);
    double before = metric_value("\ngw_work_rejected_total ");
    int64_t t0 = ip_mono_ms();
    EXPECT_EQ_INT(http("GET", "/image/" ID_A "?variant=original", bearer(tok_a, NULL), a, sizeof a),
                  503);
    EXPECT(ip_mono_ms() - t0 < 1000);
    EXPECT(strstr(a, "too much work queued") && strstr(a, "Retry-After: 2\r\n"));
    EXPECT(metric_value("\ngw_work_rejected_total ") == before + 1);
    set_hang(false);
    EXPECT(bg_join(g1));
    EXPECT(bg_join(g2));
    app.work = roomy;
    gw_work_free(tight);
    EXPECT_EQ_INT(budget_used_when(none_held), 0);
}

/* ------------------------------------------------------------ access */

/* An answer's header line, e.g. has_header(a, "WWW-Authenticate: Bearer realm=\"imageprocessor\"").
 */
static bool has_header(const char *answer, const char *line)
{
    char l[256];
    snprintf(l, sizeof l, "%s\r\n", line);
    const char *end = strstr(answer, "\r\n\r\n");
    const char *at = strstr(answer, l);
    return at && (!end || at < end);
}

#define CHALLENGE "WWW-Authenticate: Bearer realm=\"imageprocessor\""
#define CHALLENGE_INVALID CHALLENGE ", error=\"invalid_token\""

/* A 401 or 403 problem with the challenge a 401 needs; `secret` (NULL: none)
 * never appears in it. */
static void expect_denied(const char *what, int got, const char *a, int want, bool invalid,
                          const char *secret)
{
    EXPECTF(got == want, "%s: %d, want %d: %.300s", what, got, want, a);
    EXPECTF(strstr(a, "Content-Type: application/problem+json") != NULL, "%s: not a problem", what);
    if (want == 401)
        EXPECTF(has_header(a, invalid ? CHALLENGE_INVALID : CHALLENGE), "%s: challenge: %.300s",
                what, a);
    else
        EXPECTF(!strstr(a, "WWW-Authenticate"), "%s: a 403 with a challenge", what);
    EXPECTF(!secret || !strstr(a, secret), "%s: the secret is in the answer", what);
}

/* A malformed, unknown or revoked credential is 401 on every route, open
 * ones included; a valid one of any kind is welcome on the open routes. */
static void test_invalid_credentials_everywhere(void)
{
    static char a[65536];
    start();
    fake_reset();
    static const char *const paths[] = {"/images",        ("/image/" ID_A "/info"),
                                        ("/image/" ID_A), "/config",
                                        "/healthz",       "/openapi.json",
                                        "/events",        "/readyz",
                                        "/metrics",       "/api/images"};
    const char *bad[] = {"Authorization: Basic dXNlcjpwYXNz\r\n", "Authorization: Bearer nope\r\n",
                         bearer(keys[KEY_UNKNOWN], NULL), bearer(keys[KEY_REVOKED], NULL)};
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++)
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
            char what[160];
            snprintf(what, sizeof what, "%s with credential %zu", paths[p], b);
            int st = http("GET", paths[p], bad[b], a, sizeof a);
            expect_denied(what, st, a, 401, true, b >= 2 ? bad[b] + 22 : NULL);
        }
    EXPECT(strstr(a, "unknown or revoked") != NULL);
    /* Open routes take any valid credential. */
    const char *good[] = {bearer(tok_a, NULL),
                          bearer(tok_x, NULL),
                          bearer(keys[KEY_READ], NULL),
                          bearer(keys[KEY_UPLOAD], NULL),
                          bearer(keys[KEY_DELETE], NULL),
                          bearer(keys[KEY_ADMIN], NULL)};
    for (size_t g = 0; g < sizeof good / sizeof good[0]; g++) {
        EXPECTF(http("GET", "/images", good[g], a, sizeof a) == 200, "list, credential %zu", g);
        EXPECTF(http("GET", "/image/" ID_A "/info", good[g], a, sizeof a) == 200,
                "info, credential %zu", g);
        EXPECTF(http("GET", "/image/" ID_A "?variant=thumbnail", good[g], a, sizeof a) == 200,
                "public variant, credential %zu", g);
    }
    EXPECT_EQ_INT(fake_count(&lookups), 4 * 3 + 10 * 2); /* owner tokens are not looked up */
    /* metadata-svc cannot look a key up: 503, while the anonymous still list. */
    pthread_mutex_lock(&fake_mu);
    keys_down = true;
    pthread_mutex_unlock(&fake_mu);
    EXPECT_EQ_INT(http("GET", "/images", bearer(keys[KEY_READ], NULL), a, sizeof a), 503);
    EXPECT(strstr(a, "Retry-After: 2\r\n") != NULL);
    EXPECT_EQ_INT(http("GET", "/images", NULL, a, sizeof a), 200);
    fake_reset();
}

/* A PNG of 8×8 black pixels, made by libvips (g_free it). */
static void *make_png(size_t *len)
{
    VipsImage *im = NULL;
    void *buf = NULL;
    CHECK(vips_black(&im, 8, 8, NULL) == 0);
    CHECK(vips_pngsave_buffer(im, &buf, len, NULL) == 0);
    g_object_unref(im);
    return buf;
}

/* POST /upload of the PNG as a raw body with `auth` (NULL: none). */
static int upload_png(const char *auth, char *a, size_t cap)
{
    size_t len = 0;
    void *png = make_png(&len);
    char h[512];
    snprintf(h, sizeof h, "%sContent-Type: image/png\r\nContent-Length: %zu\r\n", auth ? auth : "",
             len);
    int st = http_body("POST", "/upload", h, png, len, a, cap, NULL);
    g_free(png);
    return st;
}

/* The 202's owner_token into tok; true when it has the owner token's form
 * and CreateImage got its hash (not the token). */
static bool accepted_with_token(const char *a, char tok[IP_SECRET_MAX])
{
    json_t *j = json_loads(body_of(a), 0, NULL);
    const char *t = j ? json_string_value(json_object_get(j, "owner_token")) : NULL;
    snprintf(tok, IP_SECRET_MAX, "%s", t ? t : "");
    json_decref(j);
    if (ip_access_kind(tok) != IP_SECRET_OWNER) {
        fprintf(stderr, "no owner token in %.300s\n", a);
        return false;
    }
    char want[IP_ACCESS_HASH_MAX];
    ip_access_hash(tok, want);
    pthread_mutex_lock(&fake_mu);
    bool ok = !strcmp(created_owner, want) && !strstr(created_owner, tok);
    if (!ok)
        fprintf(stderr, "CreateImage got owner_hash \"%s\"\n", created_owner);
    pthread_mutex_unlock(&fake_mu);
    return ok;
}

/* Open uploads: anyone, each 202 with a new owner token whose hash (only)
 * reaches CreateImage; a bad credential is still 401. */
static void test_upload_open(void)
{
    char a[8192], t1[IP_SECRET_MAX], t2[IP_SECRET_MAX];
    start();
    fake_reset();
    EXPECTF(upload_png(NULL, a, sizeof a) == 202, "%.400s", a);
    EXPECT(accepted_with_token(a, t1));
    EXPECTF(upload_png(bearer(keys[KEY_READ], NULL), a, sizeof a) == 202, "%.400s", a);
    EXPECT(accepted_with_token(a, t2));
    EXPECT(strcmp(t1, t2) != 0);
    EXPECT_EQ_INT(fake_count(&created), 2);
    int st = upload_png(bearer(keys[KEY_REVOKED], NULL), a, sizeof a);
    expect_denied("upload with a revoked key", st, a, 401, true, keys[KEY_REVOKED]);
    EXPECT_EQ_INT(fake_count(&created), 2);
}

/* With IP_GATEWAY_UPLOAD_NEEDS_KEY, a caller without an upload-scope key is
 * refused at the headers: the answer comes although the 50 MB body is never
 * sent, and nothing is charged or created. */
static void test_upload_needs_key(void)
{
    char a[8192], tok[IP_SECRET_MAX];
    start();
    fake_reset();
    app.cfg.upload_needs_key = true;
    static const char big_upload[] = "Content-Type: image/png\r\nContent-Length: 50000000\r\n";
    struct {
        const char *what, *secret;
        int want;
    } refused[] = {{"anonymous", NULL, 401},
                   {"owner token", tok_a, 403},
                   {"read key", keys[KEY_READ], 403},
                   {"delete key", keys[KEY_DELETE], 403},
                   {"revoked key", keys[KEY_REVOKED], 401}};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const char *h = refused[i].secret ? bearer(refused[i].secret, big_upload) : big_upload;
        int64_t t0 = ip_mono_ms();
        int st = http("POST", "/upload", h, a, sizeof a);
        expect_denied(refused[i].what, st, a, refused[i].want, i == 4, refused[i].secret);
        EXPECTF(ip_mono_ms() - t0 < 2000, "%s: the answer waited for the body", refused[i].what);
    }
    EXPECT(strstr(a, "unknown or revoked") != NULL);
    EXPECT_EQ_INT(budget_used_when(none_held), 0);
    EXPECT_EQ_INT(fake_count(&created), 0);
    EXPECTF(upload_png(bearer(keys[KEY_UPLOAD], NULL), a, sizeof a) == 202, "%.400s", a);
    EXPECT(accepted_with_token(a, tok));
    EXPECTF(upload_png(bearer(keys[KEY_ADMIN], NULL), a, sizeof a) == 202, "%.400s", a);
    EXPECT(accepted_with_token(a, tok));
    app.cfg.upload_needs_key = false;
}

typedef struct access_case {
    const char *what, *secret; /* secret NULL: anonymous */
    int want;
} access_case;

/* `method path` by each case's caller. */
static void expect_access(const char *method, const char *path, const access_case *cases, size_t n)
{
    static char a[16384];
    for (size_t i = 0; i < n; i++) {
        char what[200];
        snprintf(what, sizeof what, "%s %s by %s", method, path, cases[i].what);
        const char *h = cases[i].secret ? bearer(cases[i].secret, NULL) : NULL;
        int st = http(method, path, h, a, sizeof a);
        if (cases[i].want == 401 || cases[i].want == 403)
            expect_denied(what, st, a, cases[i].want,
                          cases[i].secret && ip_access_kind(cases[i].secret) == IP_SECRET_KEY &&
                              cases[i].want == 401,
                          cases[i].secret);
        else
            EXPECTF(st == cases[i].want, "%s: %d, want %d: %.300s", what, st, cases[i].want, a);
    }
}

#define NCASES(c) (sizeof(c) / sizeof((c)[0]))

/* The original: its owner token or an admin key; the variants stay public. */
static void test_original_access(void)
{
    start();
    fake_reset();
    pthread_mutex_lock(&fake_mu);
    int gets0 = gets;
    pthread_mutex_unlock(&fake_mu);
    const access_case refused[] = {{"anonymous", NULL, 401},
                                   {"another image's owner", tok_c, 403},
                                   {"an unknown owner", tok_x, 403},
                                   {"a read key", keys[KEY_READ], 403},
                                   {"an upload key", keys[KEY_UPLOAD], 403},
                                   {"a delete key", keys[KEY_DELETE], 403},
                                   {"a revoked key", keys[KEY_REVOKED], 401}};
    expect_access("GET", "/image/" ID_A "?variant=original", refused, NCASES(refused));
    pthread_mutex_lock(&fake_mu);
    EXPECTF(gets == gets0, "storage-svc was asked %d times", gets - gets0);
    pthread_mutex_unlock(&fake_mu);
    const access_case allowed[] = {{"its owner", tok_a, 200},
                                   {"an admin key", keys[KEY_ADMIN], 200}};
    expect_access("GET", "/image/" ID_A "?variant=original", allowed, NCASES(allowed));
    /* B is from before owners: no owner token opens it, an admin key does. */
    const access_case old[] = {{"an owner token", tok_a, 403},
                               {"an admin key", keys[KEY_ADMIN], 200}};
    expect_access("HEAD", "/image/" ID_B "?variant=original", old, NCASES(old));
    const access_case open[] = {{"anonymous", NULL, 200}, {"another owner", tok_c, 200}};
    expect_access("GET", "/image/" ID_A "?variant=thumbnail", open, NCASES(open));
    /* Unknown image: 404 for whoever may read originals. */
    const access_case unknown[] = {{"an admin key", keys[KEY_ADMIN], 404}};
    expect_access("GET", "/image/" ID_NONE "?variant=original", unknown, NCASES(unknown));
}

/* DELETE: the owner token or a delete/admin key; refusals change nothing. */
static void test_delete_access(void)
{
    start();
    fake_reset();
    pthread_mutex_lock(&fake_mu);
    e_deleted = false;
    pthread_mutex_unlock(&fake_mu);
    const access_case refused[] = {{"anonymous", NULL, 401},
                                   {"another image's owner", tok_c, 403},
                                   {"an unknown owner", tok_x, 403},
                                   {"a read key", keys[KEY_READ], 403},
                                   {"an upload key", keys[KEY_UPLOAD], 403},
                                   {"a revoked key", keys[KEY_REVOKED], 401}};
    expect_access("DELETE", "/image/" ID_A, refused, NCASES(refused));
    /* B has no owner: only a key deletes it. */
    const access_case old[] = {{"an owner token", tok_a, 403}};
    expect_access("DELETE", "/image/" ID_B, old, NCASES(old));
    EXPECT_EQ_INT(fake_count(&meta_deletes), 0);
    EXPECT_EQ_INT(deletes_returned(), 0);
    const access_case allowed[] = {{"its owner", tok_a, 204},
                                   {"a delete key", keys[KEY_DELETE], 204},
                                   {"an admin key", keys[KEY_ADMIN], 204}};
    expect_access("DELETE", "/image/" ID_A, allowed, NCASES(allowed));
    EXPECT_EQ_INT(fake_count(&meta_deletes), 3);
    /* The owner deletes E; a second DELETE by the owner finds nothing. */
    const access_case twice[] = {{"its owner", tok_e, 204}, {"its owner again", tok_e, 404}};
    expect_access("DELETE", "/image/" ID_E, twice, NCASES(twice));
    const access_case unknown[] = {{"an owner token", tok_a, 404},
                                   {"a delete key", keys[KEY_DELETE], 404}};
    expect_access("DELETE", "/image/" ID_NONE, unknown, NCASES(unknown));
}

/* POST /image/{id}/retry: the owner token or an admin key; 409 for an image
 * that is not failed; the job reaches Kafka and MarkEnqueued follows. */
static void test_retry_access(void)
{
    char a[8192];
    start();
    fake_reset();
    const access_case refused[] = {{"anonymous", NULL, 401},
                                   {"another image's owner", tok_a, 403},
                                   {"an unknown owner", tok_x, 403},
                                   {"a read key", keys[KEY_READ], 403},
                                   {"an upload key", keys[KEY_UPLOAD], 403},
                                   {"a delete key", keys[KEY_DELETE], 403},
                                   {"a revoked key", keys[KEY_REVOKED], 401}};
    expect_access("POST", "/image/" ID_C "/retry", refused, NCASES(refused));
    EXPECT_EQ_INT(fake_count(&retries), 0);
    EXPECT_EQ_INT(http("POST", "/api/image/" ID_C "/retry", bearer(tok_c, NULL), a, sizeof a), 202);
    json_t *j = json_loads(body_of(a), 0, NULL);
    CHECK(j != NULL);
    EXPECT_EQ_STR(json_string_value(json_object_get(j, "id")), ID_C);
    EXPECT_EQ_STR(json_string_value(json_object_get(j, "status")), "pending");
    json_decref(j);
    EXPECT_EQ_INT(fake_count(&retries), 1);
    EXPECT_EQ_INT(fake_count(&marked), 1); /* Kafka acknowledged the job */
    const access_case more[] = {{"an admin key", keys[KEY_ADMIN], 202},
                                {"A's owner, A is ready", tok_a, 409},
                                {"an admin key, unknown image", keys[KEY_ADMIN], 404}};
    expect_access("POST", "/image/" ID_C "/retry", more, 1);
    expect_access("POST", "/image/" ID_A "/retry", more + 1, 1);
    expect_access("POST", "/image/" ID_NONE "/retry", more + 2, 1);
    EXPECT_EQ_INT(http("POST", "/image/" ID_A "/retry", bearer(keys[KEY_ADMIN], NULL), a, sizeof a),
                  409);
    EXPECT(strstr(a, "only a failed image can be retried") != NULL);
    EXPECT_EQ_INT(http("GET", "/image/" ID_C "/retry", NULL, a, sizeof a), 405);
    EXPECT(has_header(a, "Allow: POST"));
    EXPECT_EQ_INT(http("POST", "/image/nope/retry", bearer(keys[KEY_ADMIN], NULL), a, sizeof a),
                  400);
}

/* /metrics and /readyz's details: anyone directly, only an admin key through
 * the proxy (X-Forwarded-For). */
static void test_internals_access(void)
{
    static char a[65536];
    start();
    fake_reset();
    static const char xff[] = "X-Forwarded-For: 203.0.113.7\r\n";
    EXPECT_EQ_INT(http("GET", "/metrics", NULL, a, sizeof a), 200);
    EXPECT(strstr(a, "gw_http_requests_total") != NULL);
    struct {
        const char *what, *secret;
        int want;
    } proxied[] = {{"anonymous", NULL, 401},
                   {"an owner", tok_a, 403},
                   {"a read key", keys[KEY_READ], 403},
                   {"a delete key", keys[KEY_DELETE], 403},
                   {"an upload key", keys[KEY_UPLOAD], 403},
                   {"a revoked key", keys[KEY_REVOKED], 401},
                   {"an admin key", keys[KEY_ADMIN], 200}};
    for (size_t i = 0; i < NCASES(proxied); i++) {
        const char *h = proxied[i].secret ? bearer(proxied[i].secret, xff) : xff;
        int st = http("GET", "/api/metrics", h, a, sizeof a);
        char what[120];
        snprintf(what, sizeof what, "proxied /metrics by %s", proxied[i].what);
        if (proxied[i].want == 200)
            EXPECTF(st == 200 && strstr(a, "gw_http_requests_total"), "%s: %d", what, st);
        else
            expect_denied(what, st, a, proxied[i].want, i == 5, proxied[i].secret);
    }
    /* Ready: the details directly or with an admin key, the status alone else. */
    EXPECT_EQ_INT(http("GET", "/readyz", NULL, a, sizeof a), 200);
    EXPECT(strstr(body_of(a), "\"checks\"") != NULL);
    EXPECT_EQ_INT(http("GET", "/api/readyz", xff, a, sizeof a), 200);
    EXPECT_EQ_STR(body_of(a), "{\"status\":\"ready\"}");
    EXPECT_EQ_INT(http("GET", "/api/readyz", bearer(keys[KEY_READ], xff), a, sizeof a), 200);
    EXPECT_EQ_STR(body_of(a), "{\"status\":\"ready\"}");
    EXPECT_EQ_INT(http("GET", "/api/readyz", bearer(keys[KEY_ADMIN], xff), a, sizeof a), 200);
    EXPECT(strstr(body_of(a), "\"checks\"") != NULL);
    /* Not ready (storage-svc gone): which dependency, only to those who may see it. */
    ip_rpc_client *live = app.stor, *dead = NULL;
    char url[96];
    snprintf(url, sizeof url, "ipc:///tmp/gw_routes_test_nobody_%d", (int)getpid());
    ip_rpc_client_opts dc = {.urls = url, .timeout_ms = 500};
    CHECK_ST(ip_rpc_client_new(&imageproc__storage__descriptor, &dc, &dead), IP_OK, url);
    app.stor = dead;
    EXPECT_EQ_INT(http("GET", "/readyz", NULL, a, sizeof a), 503);
    EXPECT(strstr(a, "storage-svc") != NULL);
    EXPECT_EQ_INT(http("GET", "/api/readyz", xff, a, sizeof a), 503);
    EXPECTF(!strstr(a, "storage") && !strstr(a, "metadata") && !strstr(a, "kafka"), "%.400s", a);
    EXPECT_EQ_INT(http("GET", "/api/readyz", bearer(keys[KEY_ADMIN], xff), a, sizeof a), 503);
    EXPECT(strstr(a, "storage-svc") != NULL);
    app.stor = live;
    ip_rpc_client_free(dead);
}

static const ip_test_case tests[] = {
    IP_TEST(image_get_ready),
    IP_TEST(image_get_formats),
    IP_TEST(image_get_states),
    IP_TEST(info_and_listing),
    IP_TEST(delete),
    IP_TEST(delete_deferred),
    IP_TEST(purger_pass),
    IP_TEST(sweep_pass),
    IP_TEST(ticker),
    IP_TEST(config_and_methods),
    IP_TEST(slow_storage_stalls_only_its_requests),
    IP_TEST(original_streamed_in_chunks),
    IP_TEST(original_cut_short),
    IP_TEST(budget_too_small_is_busy),
    IP_TEST(stalled_upload_holds_little),
    IP_TEST(work_queue_full_is_busy),
    IP_TEST(invalid_credentials_everywhere),
    IP_TEST(upload_open),
    IP_TEST(upload_needs_key),
    IP_TEST(original_access),
    IP_TEST(delete_access),
    IP_TEST(retry_access),
    IP_TEST(internals_access),
};

/* libvips checks uploads' headers (gw_image_check), restricted as in the gateway. */
int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0]))
        return 1;
    ip_vips_restrict();
    int rc = ip_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
    stop();
    vips_shutdown();
    return rc;
}
