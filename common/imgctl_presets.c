/* imgctl_presets.c — `imgctl presets show|set|logo`: the variant presets,
 * read and changed through metadata-svc.
 *
 *   show [--json]
 *           GetPresets: one table row per kind (version, box, fit, qualities
 *           of the formats stored, the watermark) and the number of stale
 *           variants (made with an older version than their preset's);
 *           --json prints the reply as JSON instead.
 *   set KIND key=value ...
 *           reads the current preset of KIND (GetPresets), applies the
 *           changes in order (imgctl_preset_apply), checks the result with
 *           ip_preset_check (the same bounds metadata-svc keeps), then
 *           SetPreset, and prints "KIND: version N" or "KIND: unchanged
 *           (version N)" when the definition was already that.
 *   logo FILE [KIND] | logo --none [KIND]
 *           the watermark of KIND (default watermarked) becomes the PNG in
 *           FILE: at most IMGCTL_LOGO_MAX bytes and admitted as a PNG by
 *           ip_admit_check; stored with storage-svc's PutObject at
 *           ip_key_logo(its SHA-256) in the private part of the bucket (the
 *           same bytes always land on the same key, so a put again is
 *           harmless), then SetPreset with watermark.logo_key. --none clears
 *           the logo: the watermark is the text again.
 * A usage error, an unknown key, a value that does not parse or that
 * ip_preset_check refuses is said with the field's name before anything is
 * changed (exit 2); an RPC that fails is exit 1.
 */
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgctl_internal.h"
#include "ip_admit.h"
#include "ip_keys.h"
#include "ip_pbjson.h"
#include "ip_presets.h"
#include "ip_rpc_stubs.h"
#include "ip_variants.h"
#include "metadata.pb-c.h"
#include "storage.pb-c.h"

static const char presets_usage[] =
    "usage: imgctl presets [show [--json]]\n"
    "       imgctl presets set KIND key=value ...\n"
    "       imgctl presets logo FILE|--none [KIND]\n"
    "kinds: thumbnail, resized, watermarked (logo: default watermarked)\n"
    "keys:  width, height (1..8192), fit=cover|inside, jpeg_quality (1..100),\n"
    "       webp=true|false, webp_quality, avif=true|false, avif_quality,\n"
    "       watermark.text=TEXT, watermark.position=bottom-right|bottom-left|top-right|\n"
    "       top-left|center, watermark.margin (0..0.25), watermark.scale (0.01..1),\n"
    "       watermark.opacity (0..1), watermark=none\n";

/* ------------------------------------------------------------ key=value */

void imgctl_preset_edit_init(imgctl_preset_edit *e, const Imageproc__Preset *cur)
{
    e->p = *cur;
    if (cur->watermark != NULL) {
        e->wm = *cur->watermark;
        e->p.watermark = &e->wm;
    } else {
        e->p.watermark = NULL;
    }
}

static bool parse_int(const char *v, int lo, int hi, int32_t *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (v[0] == '\0' || *end != '\0' || errno != 0 || n < lo || n > hi)
        return false;
    *out = (int32_t)n;
    return true;
}

static bool parse_double(const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (v[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(d))
        return false;
    *out = d;
    return true;
}

static bool parse_bool(const char *v, protobuf_c_boolean *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "on") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "off") == 0)
        *out = 0;
    else
        return false;
    return true;
}

/* The watermark being edited, made from the defaults when the preset had
 * none. */
static Imageproc__Watermark *edit_watermark(imgctl_preset_edit *e)
{
    if (e->p.watermark == NULL) {
        Imageproc__Preset def;
        ip_preset_default(IP_VARIANT_WATERMARKED, &def, &e->wm);
        e->p.watermark = &e->wm;
    }
    return e->p.watermark;
}

ip_status imgctl_preset_apply(imgctl_preset_edit *e, const char *kv, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    if (eq == NULL || eq == kv) {
        snprintf(err, errlen, "\"%.64s\" is not key=value", kv);
        return IP_INVALID_ARGUMENT;
    }
    char key[32];
    size_t klen = (size_t)(eq - kv);
    if (klen >= sizeof key) {
        snprintf(err, errlen, "unknown key \"%.64s\"", kv);
        return IP_INVALID_ARGUMENT;
    }
    memcpy(key, kv, klen);
    key[klen] = '\0';
    const char *v = eq + 1;
    Imageproc__Preset *p = &e->p;
    bool ok = true;
    if (strcmp(key, "width") == 0)
        ok = parse_int(v, 1, IP_PRESET_SIZE_MAX, &p->width);
    else if (strcmp(key, "height") == 0)
        ok = parse_int(v, 1, IP_PRESET_SIZE_MAX, &p->height);
    else if (strcmp(key, "fit") == 0)
        ok = (p->fit = ip_preset_fit_parse(v)) != 0;
    else if (strcmp(key, "jpeg_quality") == 0)
        ok = parse_int(v, 1, 100, &p->jpeg_quality);
    else if (strcmp(key, "webp") == 0)
        ok = parse_bool(v, &p->webp);
    else if (strcmp(key, "webp_quality") == 0)
        ok = parse_int(v, 1, 100, &p->webp_quality);
    else if (strcmp(key, "avif") == 0)
        ok = parse_bool(v, &p->avif);
    else if (strcmp(key, "avif_quality") == 0)
        ok = parse_int(v, 1, 100, &p->avif_quality);
    else if (strcmp(key, "watermark") == 0) {
        ok = strcmp(v, "none") == 0;
        if (ok)
            p->watermark = NULL;
    } else if (strcmp(key, "watermark.text") == 0)
        edit_watermark(e)->text = (char *)v;
    else if (strcmp(key, "watermark.position") == 0)
        ok = (edit_watermark(e)->position = ip_watermark_position_parse(v)) != 0;
    else if (strcmp(key, "watermark.margin") == 0)
        ok = parse_double(v, &edit_watermark(e)->margin);
    else if (strcmp(key, "watermark.scale") == 0)
        ok = parse_double(v, &edit_watermark(e)->scale);
    else if (strcmp(key, "watermark.opacity") == 0)
        ok = parse_double(v, &edit_watermark(e)->opacity);
    else {
        snprintf(err, errlen, "unknown key \"%s\"", key);
        return IP_INVALID_ARGUMENT;
    }
    if (!ok) {
        snprintf(err, errlen, "%s: \"%.64s\" is not a valid value", key, v);
        return IP_INVALID_ARGUMENT;
    }
    return IP_OK;
}

/* ------------------------------------------------------------------ RPC */

/* GetPresets; NULL (said on stderr) when it fails. */
static Imageproc__GetPresetsReply *get_presets(ip_rpc_client *meta)
{
    char err[512];
    Imageproc__GetPresetsRequest in = IMAGEPROC__GET_PRESETS_REQUEST__INIT;
    Imageproc__GetPresetsReply *out = NULL;
    ip_status st = ip_metadata_get_presets(meta, &in, &out, NULL, err, sizeof err);
    if (st != IP_OK) {
        fprintf(stderr, "imgctl: presets: GetPresets: %s: %s\n", ip_strerror(st), err);
        return NULL;
    }
    return out;
}

static const Imageproc__Preset *find_preset(const Imageproc__GetPresetsReply *r,
                                            ip_variant_kind kind)
{
    for (size_t i = 0; i < r->n_presets; i++)
        if (r->presets[i] != NULL && r->presets[i]->kind == kind)
            return r->presets[i];
    return NULL;
}

/* SetPreset of `p`; prints the outcome. Returns the exit status. */
static int set_preset(ip_rpc_client *meta, const Imageproc__Preset *p)
{
    char err[512];
    Imageproc__SetPresetRequest in = IMAGEPROC__SET_PRESET_REQUEST__INIT;
    in.preset = (Imageproc__Preset *)p;
    Imageproc__SetPresetReply *out = NULL;
    ip_status st = ip_metadata_set_preset(meta, &in, &out, NULL, err, sizeof err);
    const char *name = ip_variant_name(p->kind);
    if (st != IP_OK) {
        fprintf(stderr, "imgctl: presets: SetPreset %s: %s: %s\n", name, ip_strerror(st), err);
        return IMGCTL_EXIT_FAILED;
    }
    int version = out->preset != NULL ? out->preset->version : 0;
    if (out->changed)
        printf("%s: version %d\n", name, version);
    else
        printf("%s: unchanged (version %d)\n", name, version);
    imageproc__set_preset_reply__free_unpacked(out, NULL);
    return IMGCTL_EXIT_OK;
}

/* ----------------------------------------------------------------- show */

static void print_format(bool on, int quality)
{
    if (on)
        printf("  %-4d", quality);
    else
        printf("  %-4s", "off");
}

static void print_row(const Imageproc__Preset *p)
{
    char box[32];
    snprintf(box, sizeof box, "%dx%d", p->width, p->height);
    const char *fit = ip_preset_fit_name(p->fit);
    printf("%-12s %7d  %-10s %-6s  %-4d", ip_variant_name(p->kind) ? ip_variant_name(p->kind) : "?",
           p->version, box, fit ? fit : "?", p->jpeg_quality);
    print_format(p->webp, p->webp_quality);
    print_format(p->avif, p->avif_quality);
    const Imageproc__Watermark *w = p->watermark;
    if (!ip_preset_has_watermark(p)) {
        printf("  none\n");
        return;
    }
    const char *pos = ip_watermark_position_name(w->position);
    if (w->logo_key != NULL && w->logo_key[0] != '\0')
        printf("  logo %s", w->logo_key);
    else
        printf("  text \"%s\"", w->text);
    printf(" %s margin %.2f scale %.2f opacity %.2f\n", pos ? pos : "?", w->margin, w->scale,
           w->opacity);
}

static int cmd_show(ip_rpc_client *meta, bool json)
{
    Imageproc__GetPresetsReply *r = get_presets(meta);
    if (r == NULL)
        return IMGCTL_EXIT_FAILED;
    if (json) {
        char *text = ip_pbjson_format(&r->base, 1);
        if (text != NULL)
            printf("%s\n", text);
        free(text);
    } else {
        printf("%-12s %7s  %-10s %-6s  %-4s  %-4s  %-4s  %s\n", "KIND", "VERSION", "BOX", "FIT",
               "JPEG", "WEBP", "AVIF", "WATERMARK");
        for (size_t i = 0; i < r->n_presets; i++)
            if (r->presets[i] != NULL)
                print_row(r->presets[i]);
        printf("stale variants: %lld\n", (long long)r->stale_variants);
    }
    imageproc__get_presets_reply__free_unpacked(r, NULL);
    return IMGCTL_EXIT_OK;
}

/* ------------------------------------------------------------------ set */

static ip_variant_kind parse_kind(const char *name)
{
    return ip_variant_parse(name, strlen(name));
}

static int cmd_set(ip_rpc_client *meta, ip_variant_kind kind, char **kvs, int nkvs)
{
    char err[512];
    Imageproc__GetPresetsReply *r = get_presets(meta);
    if (r == NULL)
        return IMGCTL_EXIT_FAILED;
    int rc = IMGCTL_EXIT_USAGE;
    const Imageproc__Preset *cur = find_preset(r, kind);
    if (cur == NULL) {
        fprintf(stderr, "imgctl: presets: metadata-svc has no preset for %s\n",
                ip_variant_name(kind));
        rc = IMGCTL_EXIT_FAILED;
        goto out;
    }
    imgctl_preset_edit e;
    imgctl_preset_edit_init(&e, cur);
    for (int i = 0; i < nkvs; i++) {
        if (imgctl_preset_apply(&e, kvs[i], err, sizeof err) != IP_OK) {
            fprintf(stderr, "imgctl: presets set: %s\n%s", err, presets_usage);
            goto out;
        }
    }
    if (ip_preset_check(&e.p, err, sizeof err) != IP_OK) {
        fprintf(stderr, "imgctl: presets set: %s\n", err);
        goto out;
    }
    rc = set_preset(meta, &e.p);
out:
    imageproc__get_presets_reply__free_unpacked(r, NULL);
    return rc;
}

/* ----------------------------------------------------------------- logo */

/* Reads FILE, at most IMGCTL_LOGO_MAX bytes, into *buf (owned). */
static bool read_logo(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "imgctl: presets logo: cannot open %s: %s\n", path, strerror(errno));
        return false;
    }
    uint8_t *b = malloc(IMGCTL_LOGO_MAX + 1);
    size_t n = b != NULL ? fread(b, 1, IMGCTL_LOGO_MAX + 1, f) : 0;
    bool bad = ferror(f) != 0;
    fclose(f);
    if (b == NULL || bad || n > IMGCTL_LOGO_MAX) {
        fprintf(stderr, "imgctl: presets logo: %s: %s\n", path,
                b == NULL ? "out of memory"
                : bad     ? "read error"
                          : "larger than 4 MiB");
        free(b);
        return false;
    }
    *buf = b;
    *len = n;
    return true;
}

/* The lowercase hex SHA-256 of the bytes. */
static bool sha256_hex(const uint8_t *b, size_t n, char hex[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(b, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return false;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return true;
}

/* FILE as a PNG at its ip_key_logo key; the key in `key`. */
static int put_logo(const imgctl_env *env, const char *path, char key[IP_KEY_MAX])
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!read_logo(path, &buf, &len))
        return IMGCTL_EXIT_USAGE;
    int rc = IMGCTL_EXIT_USAGE;
    ip_admit_limits lim;
    ip_admit_limits_default(&lim);
    ip_admit_result ar;
    char hex[65];
    ip_rpc_client *stor = NULL;
    if (ip_img_sniff(buf, len) != IP_IMG_PNG) {
        fprintf(stderr, "imgctl: presets logo: %s is not a PNG\n", path);
        goto out;
    }
    if (ip_admit_check(buf, len, &lim, &ar) != IP_OK) {
        fprintf(stderr, "imgctl: presets logo: %s: %s\n", path, ar.detail);
        goto out;
    }
    if (!sha256_hex(buf, len, hex) || ip_key_logo(key, hex) != IP_OK) {
        fprintf(stderr, "imgctl: presets logo: cannot hash %s\n", path);
        rc = IMGCTL_EXIT_FAILED;
        goto out;
    }
    rc = IMGCTL_EXIT_FAILED;
    stor = imgctl_client(env, &imageproc__storage__descriptor, env->cfg->storage_url);
    if (stor == NULL)
        goto out;
    char err[512];
    Imageproc__PutObjectRequest in = IMAGEPROC__PUT_OBJECT_REQUEST__INIT;
    in.key = key;
    in.data.data = buf;
    in.data.len = len;
    in.content_type = (char *)"image/png";
    in.content_sha256 = hex;
    Imageproc__PutObjectReply *out = NULL;
    ip_status st = ip_storage_put_object(stor, &in, &out, NULL, err, sizeof err);
    if (st != IP_OK) {
        fprintf(stderr, "imgctl: presets logo: PutObject %s: %s: %s\n", key, ip_strerror(st), err);
        goto out;
    }
    imageproc__put_object_reply__free_unpacked(out, NULL);
    printf("logo stored at %s (%zu bytes)\n", key, len);
    rc = IMGCTL_EXIT_OK;
out:
    ip_rpc_client_free(stor);
    free(buf);
    return rc;
}

static int cmd_logo(const imgctl_env *env, ip_rpc_client *meta, const char *file,
                    ip_variant_kind kind)
{
    char key[IP_KEY_MAX] = "";
    if (file != NULL) {
        int rc = put_logo(env, file, key);
        if (rc != IMGCTL_EXIT_OK)
            return rc;
    }
    Imageproc__GetPresetsReply *r = get_presets(meta);
    if (r == NULL)
        return IMGCTL_EXIT_FAILED;
    int rc = IMGCTL_EXIT_FAILED;
    const Imageproc__Preset *cur = find_preset(r, kind);
    if (cur == NULL) {
        fprintf(stderr, "imgctl: presets: metadata-svc has no preset for %s\n",
                ip_variant_name(kind));
        goto out;
    }
    imgctl_preset_edit e;
    imgctl_preset_edit_init(&e, cur);
    edit_watermark(&e)->logo_key = key;
    char err[512];
    if (ip_preset_check(&e.p, err, sizeof err) != IP_OK) {
        fprintf(stderr, "imgctl: presets logo: %s\n", err);
        rc = IMGCTL_EXIT_USAGE;
        goto out;
    }
    rc = set_preset(meta, &e.p);
out:
    imageproc__get_presets_reply__free_unpacked(r, NULL);
    return rc;
}

/* --------------------------------------------------------------- command */

/* Says what is wrong, then the usage; the usage exit status. */
static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "imgctl: presets: %s%s%s%s\n%s", what, arg ? " \"" : "", arg ? arg : "",
            arg ? "\"" : "", presets_usage);
    return IMGCTL_EXIT_USAGE;
}

int imgctl_cmd_presets(const imgctl_env *env, char **args, int nargs)
{
    const char *sub = nargs >= 1 ? args[0] : "show";
    bool json = false;
    const char *file = NULL;
    ip_variant_kind kind = IP_VARIANT_WATERMARKED;
    if (strcmp(sub, "show") == 0) {
        if (nargs > 2 || (nargs == 2 && strcmp(args[1], "--json") != 0))
            return usage_error("show takes only --json", NULL);
        json = nargs == 2;
    } else if (strcmp(sub, "set") == 0) {
        if (nargs < 3)
            return usage_error("set needs a kind and at least one key=value", NULL);
        if ((kind = parse_kind(args[1])) == IP_VARIANT_NONE)
            return usage_error("unknown kind", args[1]);
    } else if (strcmp(sub, "logo") == 0) {
        if (nargs < 2 || nargs > 3)
            return usage_error("logo needs FILE or --none, and at most a kind", NULL);
        if (strcmp(args[1], "--none") != 0)
            file = args[1];
        if (nargs == 3 && (kind = parse_kind(args[2])) == IP_VARIANT_NONE)
            return usage_error("unknown kind", args[2]);
    } else {
        return usage_error("unknown command", sub);
    }

    ip_rpc_client *meta = imgctl_client(env, &imageproc__metadata__descriptor, env->metadata_url);
    if (meta == NULL)
        return IMGCTL_EXIT_USAGE;
    int rc = strcmp(sub, "show") == 0  ? cmd_show(meta, json)
             : strcmp(sub, "set") == 0 ? cmd_set(meta, kind, args + 2, nargs - 2)
                                       : cmd_logo(env, meta, file, kind);
    ip_rpc_client_free(meta);
    return rc;
}
