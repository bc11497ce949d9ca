/* imgctl_presets_test.c — `imgctl presets` and `imgctl regenerate` without a
 * stack: ctest common.imgctl.presets_*, regenerate_*, label unit.
 *
 * presets_apply drives imgctl_preset_apply (one key=value on a preset) from
 * a table, pure. The other cases run the imgctl binary (IMGCTL) against a
 * fake metadata-svc served in this process (port 7295) that answers
 * GetPresets with the defaults (thumbnail at version 1) and records what
 * SetPreset receives: a change is sent and its new version printed, a bad
 * key or value is named on stderr with exit 2 and nothing is sent.
 */
#include <math.h>
#include <pthread.h>

#include "imgctl_internal.h"
#include "imgctl_testing.h"
#include "ip_presets.h"
#include "ip_rpc_stubs.h"
#include "ip_testing.h"
#include "ip_job.h"
#include "ip_variants.h"
#include "job.pb-c.h"
#include "metadata.pb-c.h"

#define URL "tcp://127.0.0.1:7295"

/* ---------------------------------------------------------------- apply */

typedef struct apply_row {
    const char *kv;
    bool ok;
    const char *err_has; /* when refused: within the message */
} apply_row;

static void test_presets_apply(void)
{
    static const apply_row rows[] = {
        {"width=640", true, NULL},
        {"height=480", true, NULL},
        {"fit=inside", true, NULL},
        {"jpeg_quality=90", true, NULL},
        {"webp=false", true, NULL},
        {"avif=true", true, NULL},
        {"avif_quality=40", true, NULL},
        {"watermark.text=Hello there", true, NULL},
        {"watermark.position=top-left", true, NULL},
        {"watermark.opacity=0.5", true, NULL},
        {"width=", false, "width"},
        {"width=12px", false, "width"},
        {"width=99999", false, "width"},
        {"width=-1", false, "width"},
        {"fit=stretch", false, "fit"},
        {"webp=maybe", false, "webp"},
        {"jpeg_quality=101", false, "jpeg_quality"},
        {"watermark.margin=nan", false, "watermark.margin"},
        {"watermark.position=middle", false, "watermark.position"},
        {"watermark=some", false, "watermark"},
        {"colour=red", false, "colour"},
        {"width", false, "key=value"},
        {"=3", false, "key=value"},
    };
    Imageproc__Preset def;
    Imageproc__Watermark wm;
    CHECK(ip_preset_default(IP_VARIANT_THUMBNAIL, &def, &wm) == IP_OK);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        imgctl_preset_edit e;
        imgctl_preset_edit_init(&e, &def);
        char err[256] = "";
        ip_status st = imgctl_preset_apply(&e, rows[i].kv, err, sizeof err);
        EXPECTF((st == IP_OK) == rows[i].ok, "%s: %s (%s)", rows[i].kv, ip_strerror(st), err);
        if (!rows[i].ok)
            EXPECTF(strstr(err, rows[i].err_has) != NULL, "%s: \"%s\" does not name %s", rows[i].kv,
                    err, rows[i].err_has);
    }

    /* The values land where they belong; a watermark key on a preset without
     * one starts from the default watermark; watermark=none removes it. */
    imgctl_preset_edit e;
    imgctl_preset_edit_init(&e, &def);
    char err[256];
    const char *kvs[] = {"width=640", "fit=inside", "webp=off", "watermark.text=Mine",
                         "watermark.scale=0.5"};
    for (size_t i = 0; i < sizeof kvs / sizeof kvs[0]; i++)
        CHECK(imgctl_preset_apply(&e, kvs[i], err, sizeof err) == IP_OK);
    EXPECT_EQ_INT(e.p.width, 640);
    EXPECT_EQ_INT(e.p.height, def.height);
    EXPECT_EQ_INT(e.p.fit, IMAGEPROC__PRESET_FIT__FIT_INSIDE);
    EXPECT(!e.p.webp);
    CHECK(e.p.watermark != NULL);
    EXPECT_EQ_STR(e.p.watermark->text, "Mine");
    EXPECT(fabs(e.p.watermark->scale - 0.5) < 1e-9);
    EXPECT(e.p.watermark->position != 0);
    EXPECT(ip_preset_check(&e.p, err, sizeof err) == IP_OK);
    CHECK(imgctl_preset_apply(&e, "watermark=none", err, sizeof err) == IP_OK);
    EXPECT(e.p.watermark == NULL);

    /* Parsed but out of the preset's bounds: ip_preset_check names the field. */
    imgctl_preset_edit_init(&e, &def);
    CHECK(imgctl_preset_apply(&e, "watermark.opacity=1.5", err, sizeof err) == IP_OK);
    EXPECT(ip_preset_check(&e.p, err, sizeof err) == IP_INVALID_ARGUMENT);
    EXPECTF(strstr(err, "opacity") != NULL, "%s", err);
}

/* ----------------------------------------------------- fake metadata-svc */

static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;
static int fake_sets;       /* SetPreset calls */
static int fake_last_width; /* the width of the last one */
static int fake_last_kind;  /* its kind */

static ip_status h_get_presets(void *user, ip_rpc_call *call,
                               const Imageproc__GetPresetsRequest *req,
                               Imageproc__GetPresetsReply *rep)
{
    (void)user;
    (void)req;
    rep->presets = ip_rpc_call_alloc(call, IP_VARIANT_COUNT * sizeof *rep->presets);
    for (int k = 1; k <= IP_VARIANT_COUNT; k++) {
        Imageproc__Preset *p = ip_rpc_call_alloc(call, sizeof *p);
        Imageproc__Watermark *wm = ip_rpc_call_alloc(call, sizeof *wm);
        ip_preset_default((ip_variant_kind)k, p, wm);
        rep->presets[rep->n_presets++] = p;
    }
    rep->stale_variants = 7;
    return IP_OK;
}

static ip_status h_set_preset(void *user, ip_rpc_call *call, const Imageproc__SetPresetRequest *req,
                              Imageproc__SetPresetReply *rep)
{
    (void)user;
    pthread_mutex_lock(&fake_mu);
    fake_sets++;
    fake_last_width = req->preset ? req->preset->width : -1;
    fake_last_kind = req->preset ? (int)req->preset->kind : -1;
    pthread_mutex_unlock(&fake_mu);
    Imageproc__Preset *p = ip_rpc_call_alloc(call, sizeof *p);
    imageproc__preset__init(p);
    p->kind = req->preset ? req->preset->kind : 0;
    p->version = 2;
    rep->preset = p;
    rep->changed = req->preset && req->preset->width != 320;
    return IP_OK;
}

static ip_rpc_server *fake_start(void)
{
    static const ip_metadata_impl impl = {.get_presets = h_get_presets, .set_preset = h_set_preset};
    ip_rpc_server *srv = NULL;
    ip_rpc_server_opts so = {.url = URL, .workers = 2};
    CHECK_EQ_INT(ip_metadata_server_new(&impl, &so, &srv), IP_OK);
    fake_sets = 0;
    return srv;
}

/* `presets set`: a change is sent and its version printed; an identical
 * definition is "unchanged"; bad keys and values exit 2 naming the field and
 * send nothing. */
static void test_presets_set(void)
{
    ip_rpc_server *srv = fake_start();
    imgctl_expect(0, "thumbnail: version 2", NULL, "--url " URL " presets set thumbnail width=400");
    EXPECT_EQ_INT(fake_sets, 1);
    EXPECT_EQ_INT(fake_last_width, 400);
    EXPECT_EQ_INT(fake_last_kind, IP_VARIANT_THUMBNAIL);
    imgctl_expect(0, "thumbnail: unchanged (version 2)", NULL,
                  "--url " URL " presets set thumbnail width=320");

    int before = fake_sets;
    imgctl_expect(2, NULL, "width", "--url " URL " presets set thumbnail width=0");
    imgctl_expect(2, NULL, "width", "--url " URL " presets set thumbnail width=wide");
    imgctl_expect(2, NULL, "colour", "--url " URL " presets set thumbnail colour=red");
    imgctl_expect(2, NULL, "watermark.opacity",
                  "--url " URL " presets set watermarked watermark.opacity=1.5");
    imgctl_expect(2, NULL, "fit", "--url " URL " presets set resized fit=stretch");
    imgctl_expect(2, NULL, "unknown kind", "--url " URL " presets set original width=10");
    imgctl_expect(2, NULL, "key=value", "--url " URL " presets set thumbnail");
    EXPECT_EQ_INT(fake_sets, before);
    ip_rpc_server_free(srv);
}

/* `presets show`: the table with every kind and the stale count. */
static void test_presets_show(void)
{
    ip_rpc_server *srv = fake_start();
    imgctl_expect(0, "thumbnail", NULL, "--url " URL " presets show");
    imgctl_expect(0, "stale variants: 7", NULL, "--url " URL " presets");
    imgctl_expect(0, "text \"ImageProcessor\" bottom-right", NULL, "--url " URL " presets show");
    imgctl_expect(0, "\"stale_variants\"", NULL, "--url " URL " presets show --json");
    imgctl_expect(2, NULL, "--json", "--url " URL " presets show --table");
    ip_rpc_server_free(srv);
}

/* `presets logo`: a file that is not a PNG, or missing, is refused before
 * anything is stored or set. */
static void test_presets_logo(void)
{
    ip_rpc_server *srv = fake_start();
    char path[] = "/tmp/imgctl-logo-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, "GIF89a not a png at all", 23) == 23);
    close(fd);
    imgctl_expect(2, NULL, "not a PNG", "--url " URL " presets logo %s", path);
    imgctl_expect(2, NULL, "cannot open", "--url " URL " presets logo %s.missing", path);
    imgctl_expect(2, NULL, "unknown kind", "--url " URL " presets logo %s nosuch", path);
    EXPECT_EQ_INT(fake_sets, 0);
    unlink(path);
    ip_rpc_server_free(srv);
}

/* `regenerate`: which images must be said, ids must be UUIDs; exit 2 before
 * any call. */
static void test_regenerate_usage(void)
{
    imgctl_expect(2, NULL, "one of --stale, --all, --id", "--url " URL " regenerate");
    imgctl_expect(2, NULL, "one of --stale, --all, --id", "--url " URL " regenerate --stale --all");
    imgctl_expect(2, NULL, "not an image id", "--url " URL " regenerate --id nope");
    imgctl_expect(2, NULL, "at least one image id", "--url " URL " regenerate --id --wait");
    imgctl_expect(2, NULL, "unexpected", "--url " URL " regenerate --stale --fast");
}

/* The job `regenerate` produces: regenerate set, attempt 1, the image's
 * kinds and original; the upload's job leaves regenerate unset. */
static void test_regenerate_job(void)
{
    const char *id = "0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f";
    ip_variant_kind kinds[] = {IP_VARIANT_THUMBNAIL, IP_VARIANT_WATERMARKED};
    uint8_t *buf = NULL;
    size_t n = 0;
    char err[256];
    CHECK(ip_job_pack_regenerate(id, NULL, "image/jpeg", kinds, 2, &buf, &n, err, sizeof err) ==
          IP_OK);
    Imageproc__ProcessJob *job = imageproc__process_job__unpack(NULL, n, buf);
    CHECK(job != NULL);
    EXPECT(job->regenerate);
    EXPECT_EQ_INT(job->attempt, 1);
    EXPECT_EQ_STR(job->id, id);
    EXPECT_EQ_STR(job->original_key, "o/0192d4e8-7c1a-7b3e-9f00-1a2b3c4d5e6f");
    EXPECT_EQ_INT(job->n_requested, 2);
    EXPECT_EQ_INT(job->requested[1], IP_VARIANT_WATERMARKED);
    EXPECT(job->enqueued_at_us > 0);
    imageproc__process_job__free_unpacked(job, NULL);
    free(buf);

    CHECK(ip_job_pack(id, NULL, "image/jpeg", kinds, 2, 3, &buf, &n, err, sizeof err) == IP_OK);
    job = imageproc__process_job__unpack(NULL, n, buf);
    CHECK(job != NULL);
    EXPECT(!job->regenerate);
    EXPECT_EQ_INT(job->attempt, 3);
    imageproc__process_job__free_unpacked(job, NULL);
    free(buf);
    EXPECT(ip_job_pack_regenerate("a/b", NULL, "image/jpeg", kinds, 1, &buf, &n, err, sizeof err) ==
           IP_INVALID_ARGUMENT);
}

static const ip_test_case tests[] = {
    IP_TEST(presets_apply), IP_TEST(presets_set),      IP_TEST(presets_show),
    IP_TEST(presets_logo),  IP_TEST(regenerate_usage), IP_TEST(regenerate_job),
};

IP_TEST_MAIN(tests)
