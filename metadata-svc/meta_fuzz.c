/* meta_fuzz.c — fuzz target of the request checks of metadata-svc.
 *
 * LLVMFuzzerTestOneInput takes the bytes of a request body as the RPC
 * transport would hand them over: it unpacks them as every Metadata request
 * type in turn and runs the checks the handler would run on whatever unpacks,
 * and runs the free-text check on the raw bytes. Nothing may crash, hang or
 * leak; a check must answer OK or INVALID_ARGUMENT with a message, and a
 * CreateImage that passes must request a non-empty set of known variants
 * (any int32 may arrive in a VariantKind field), and a CreateApiKey that
 * passes a non-empty set of known scopes, a CreateWebhook that passes a
 * non-empty set of known events; an attempt's error, cleaned, is always valid
 * UTF-8 within its bound.
 *
 * Built with META_FUZZ_DRIVER (the default here) it is its own driver:
 * `meta_fuzz N` runs N inputs: random bytes, and valid requests with random
 * bytes flipped, inserted or cut (ctest runs a short smoke). Built with clang
 * -fsanitize=fuzzer and without the driver it is a libFuzzer target.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <metadata.pb-c.h>

#include "ip_keys.h"
#include "ip_variants.h"
#include "meta_validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void expect(ip_status st, const char *err)
{
    if (st != IP_OK && (st != IP_INVALID_ARGUMENT || err[0] == '\0')) {
        fprintf(stderr, "check answered %d '%s'\n", st, err);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    unsigned requested;
    bool cur;

    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    err[0] = '\0';
    expect(meta_check_text(text, "f", err, sizeof(err)), err);
    err[0] = '\0';
    expect(meta_check_id(text, "id", err, sizeof(err)), err);
    free(text);

    Imageproc__CreateImageRequest *cr = imageproc__create_image_request__unpack(NULL, size, data);
    if (cr != NULL) {
        err[0] = '\0';
        ip_status st = meta_check_create_request(cr, &requested, err, sizeof(err));
        expect(st, err);
        /* What passes is a set of real variants, never empty. */
        if (st == IP_OK && (requested == 0 || (requested & ~IP_VARIANT_MASK_ALL) != 0)) {
            fprintf(stderr, "check passed the requested set %#x\n", requested);
            abort();
        }
        imageproc__create_image_request__free_unpacked(cr, NULL);
    }
    Imageproc__ListImagesRequest *lr = imageproc__list_images_request__unpack(NULL, size, data);
    if (lr != NULL) {
        err[0] = '\0';
        expect(meta_check_list(lr->last_created_at_us, lr->last_id, lr->with_variant, lr->limit,
                               &cur, err, sizeof(err)),
               err);
        err[0] = '\0';
        expect(meta_check_list_filters(lr->sha256, lr->key_id, err, sizeof(err)), err);
        imageproc__list_images_request__free_unpacked(lr, NULL);
    }
    Imageproc__GetIdempotencyRequest *gi =
        imageproc__get_idempotency_request__unpack(NULL, size, data);
    if (gi != NULL) {
        err[0] = '\0';
        expect(meta_check_idempotency_key(gi->scope, gi->key, "", err, sizeof(err)), err);
        imageproc__get_idempotency_request__free_unpacked(gi, NULL);
    }
    Imageproc__PutVariantRequest *pv = imageproc__put_variant_request__unpack(NULL, size, data);
    if (pv != NULL) {
        err[0] = '\0';
        expect(meta_check_id(pv->image_id, "image_id", err, sizeof(err)), err);
        err[0] = '\0';
        expect(meta_check_variant(pv->image_id, pv->variant, err, sizeof(err)), err);
        imageproc__put_variant_request__free_unpacked(pv, NULL);
    }
    Imageproc__FinishImageRequest *fi = imageproc__finish_image_request__unpack(NULL, size, data);
    if (fi != NULL) {
        err[0] = '\0';
        expect(meta_check_finish(fi->id, fi->variants, fi->n_variants, fi->regenerate, err,
                                 sizeof(err)),
               err);
        err[0] = '\0';
        expect(meta_check_placeholder(fi->thumbhash, fi->dominant_color, err, sizeof(err)), err);
        imageproc__finish_image_request__free_unpacked(fi, NULL);
    }
    Imageproc__ListRegenerateRequest *lg =
        imageproc__list_regenerate_request__unpack(NULL, size, data);
    if (lg != NULL) {
        err[0] = '\0';
        expect(meta_check_regenerate(lg, err, sizeof(err)), err);
        imageproc__list_regenerate_request__free_unpacked(lg, NULL);
    }
    Imageproc__ListStaleRequest *ls = imageproc__list_stale_request__unpack(NULL, size, data);
    if (ls != NULL) {
        err[0] = '\0';
        expect(meta_check_stale(ls->older_than_us, ls->enqueued_older_than_us, ls->limit,
                                ls->claim_ms, err, sizeof(err)),
               err);
        imageproc__list_stale_request__free_unpacked(ls, NULL);
    }
    Imageproc__MarkProcessingRequest *mp =
        imageproc__mark_processing_request__unpack(NULL, size, data);
    if (mp != NULL) {
        err[0] = '\0';
        expect(meta_check_lease(mp->lease_ms, err, sizeof(err)), err);
        imageproc__mark_processing_request__free_unpacked(mp, NULL);
    }
    Imageproc__ClaimPurgesRequest *cp = imageproc__claim_purges_request__unpack(NULL, size, data);
    if (cp != NULL) {
        err[0] = '\0';
        expect(meta_check_claim(cp->limit, cp->claim_ms, err, sizeof(err)), err);
        imageproc__claim_purges_request__free_unpacked(cp, NULL);
    }
    Imageproc__FinishPurgeRequest *fp = imageproc__finish_purge_request__unpack(NULL, size, data);
    if (fp != NULL) {
        err[0] = '\0';
        expect(meta_check_id(fp->image_id, "image_id", err, sizeof(err)), err);
        err[0] = '\0';
        expect(meta_check_text(fp->error, "error", err, sizeof(err)), err);
        imageproc__finish_purge_request__free_unpacked(fp, NULL);
    }
    Imageproc__FailImageRequest *fr = imageproc__fail_image_request__unpack(NULL, size, data);
    if (fr != NULL) {
        err[0] = '\0';
        expect(meta_check_id(fr->id, "id", err, sizeof(err)), err);
        err[0] = '\0';
        expect(meta_check_text(fr->error, "error", err, sizeof(err)), err);
        imageproc__fail_image_request__free_unpacked(fr, NULL);
    }
    Imageproc__CreateApiKeyRequest *kr =
        imageproc__create_api_key_request__unpack(NULL, size, data);
    if (kr != NULL) {
        uint32_t scopes = 0;
        err[0] = '\0';
        ip_status st = meta_check_api_key(kr, &scopes, err, sizeof(err));
        expect(st, err);
        /* What passes has known scopes (read..admin), at least one. */
        if (st == IP_OK && (scopes == 0 || (scopes & ~UINT32_C(0x1e)) != 0)) {
            fprintf(stderr, "CreateApiKey passed with scopes %#x\n", (unsigned)scopes);
            abort();
        }
        imageproc__create_api_key_request__free_unpacked(kr, NULL);
    }
    Imageproc__LookupApiKeyRequest *lk =
        imageproc__lookup_api_key_request__unpack(NULL, size, data);
    if (lk != NULL) {
        err[0] = '\0';
        expect(meta_check_hash(lk->hash, "hash", false, err, sizeof(err)), err);
        imageproc__lookup_api_key_request__free_unpacked(lk, NULL);
    }
    Imageproc__CreateWebhookRequest *cw =
        imageproc__create_webhook_request__unpack(NULL, size, data);
    if (cw != NULL) {
        unsigned events = 0;
        err[0] = '\0';
        ip_status st = meta_check_webhook(cw, &events, err, sizeof(err));
        expect(st, err);
        /* What passes has known events (ready, failed, deleted), at least one. */
        if (st == IP_OK && (events == 0 || (events & ~0xeu) != 0)) {
            fprintf(stderr, "CreateWebhook passed with events %#x\n", events);
            abort();
        }
        imageproc__create_webhook_request__free_unpacked(cw, NULL);
    }
    Imageproc__ListDeliveriesRequest *ld =
        imageproc__list_deliveries_request__unpack(NULL, size, data);
    if (ld != NULL) {
        err[0] = '\0';
        expect(meta_check_list_deliveries(ld, &cur, err, sizeof(err)), err);
        imageproc__list_deliveries_request__free_unpacked(ld, NULL);
    }
    Imageproc__FinishDeliveryRequest *fd =
        imageproc__finish_delivery_request__unpack(NULL, size, data);
    if (fd != NULL) {
        char cleaned[META_DELIVERY_ERROR_MAX + 1];
        err[0] = '\0';
        expect(meta_check_finish_delivery(fd, err, sizeof(err)), err);
        /* The error as stored is valid UTF-8 within its bound, whatever came. */
        meta_delivery_error_clean(fd->error, cleaned);
        if (strlen(cleaned) > META_DELIVERY_ERROR_MAX ||
            meta_check_text(cleaned, "error", err, sizeof(err)) != IP_OK) {
            fprintf(stderr, "FinishDelivery error cleaned to invalid text\n");
            abort();
        }
        imageproc__finish_delivery_request__free_unpacked(fd, NULL);
    }
    return 0;
}

#ifndef META_FUZZ_NO_DRIVER

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* A few valid requests to mutate. */
static size_t seed(int k, uint8_t *buf)
{
    static ip_variant_kind requested[] = {IP_VARIANT_THUMBNAIL, IP_VARIANT_RESIZED,
                                          IP_VARIANT_WATERMARKED, (ip_variant_kind)5};
    switch (k % 7) {
    case 0: {
        Imageproc__Image img = IMAGEPROC__IMAGE__INIT;
        img.id = "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6";
        img.filename = "a 'b'; DROP TABLE images; -- \xc3\xbc.jpg";
        img.requested = requested;
        img.n_requested = (size_t)(k % 7 == 0 ? 4 : 3); /* sometimes one that is no variant */
        img.created_at_us = 1764375760123456;
        img.owner_hash = "4f596011b7dacf318adee3f2581d96905e4a64e92200304c351171f28d3d36f1";
        img.sha256 = img.owner_hash;
        Imageproc__CreateImageRequest r = IMAGEPROC__CREATE_IMAGE_REQUEST__INIT;
        r.image = &img;
        /* Every other one an upload with a key, a duplicate check and a record. */
        static uint8_t response[] = "{\"id\":\"0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6\"}";
        Imageproc__IdempotencyRecord rec = IMAGEPROC__IDEMPOTENCY_RECORD__INIT;
        if (k % 2 == 1) {
            img.key_id = "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5b7";
            r.dedupe = true;
            rec.scope = img.key_id;
            rec.key = "order-42/upload#1";
            rec.request_sha256 = img.sha256;
            rec.status = 202;
            rec.response.data = response;
            rec.response.len = sizeof(response) - 1;
            r.idempotency = &rec;
        }
        return imageproc__create_image_request__pack(&r, buf);
    }
    case 1: {
        Imageproc__ListImagesRequest r = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
        r.last_created_at_us = 1764375760123456;
        r.last_id = "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6";
        r.with_variant = IP_VARIANT_RESIZED;
        r.limit = 24;
        r.sha256 = "4f596011b7dacf318adee3f2581d96905e4a64e92200304c351171f28d3d36f1";
        r.key_id = k % 2 == 1 ? "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5b7" : "";
        return imageproc__list_images_request__pack(&r, buf);
    }
    case 2: {
        Imageproc__ListStaleRequest r = IMAGEPROC__LIST_STALE_REQUEST__INIT;
        r.older_than_us = 600000000;
        r.enqueued_older_than_us = 900000000;
        r.expired_leases = true;
        r.claim_ms = 10000;
        r.limit = 100;
        return imageproc__list_stale_request__pack(&r, buf);
    }
    case 3: {
        static Imageproc__ApiScope scopes[] = {IMAGEPROC__API_SCOPE__API_SCOPE_READ,
                                               IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN,
                                               (Imageproc__ApiScope)7};
        Imageproc__ApiKey key = IMAGEPROC__API_KEY__INIT;
        key.id = "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6";
        key.name = "ci \xc3\xbc uploader";
        key.prefix = "ipk_AbCdEfGh";
        key.scopes = scopes;
        key.n_scopes = (size_t)(k % 3 == 0 ? 3 : 2); /* sometimes one that is no scope */
        Imageproc__CreateApiKeyRequest r = IMAGEPROC__CREATE_API_KEY_REQUEST__INIT;
        r.key = &key;
        r.hash = "4f596011b7dacf318adee3f2581d96905e4a64e92200304c351171f28d3d36f1";
        return imageproc__create_api_key_request__pack(&r, buf);
    }
    case 5: {
        static Imageproc__WebhookEvent events[] = {IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_DELETED,
                                                   IMAGEPROC__WEBHOOK_EVENT__WEBHOOK_IMAGE_READY,
                                                   (Imageproc__WebhookEvent)9};
        Imageproc__WebhookSubscription w = IMAGEPROC__WEBHOOK_SUBSCRIPTION__INIT;
        w.id = "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6";
        w.url = "https://hooks.example.com:8443/in?token=a%20b";
        w.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw6jv3H6rvw2k=";
        w.events = events;
        w.n_events = (size_t)(k % 3 == 0 ? 3 : 2); /* sometimes one that is no event */
        w.key_id = "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5b7";
        w.own_images_only = true;
        w.description = "ci \xc3\xbc";
        Imageproc__CreateWebhookRequest r = IMAGEPROC__CREATE_WEBHOOK_REQUEST__INIT;
        r.subscription = &w;
        return imageproc__create_webhook_request__pack(&r, buf);
    }
    case 6: {
        Imageproc__FinishDeliveryRequest r = IMAGEPROC__FINISH_DELIVERY_REQUEST__INIT;
        r.id = "msg_0123456789abcdef0123456789abcdef";
        r.status = 503;
        r.error = "HTTP 503: \xc3\xbc";
        r.duration_ms = 12;
        r.retry_after_ms = 5000;
        r.horizon_ms = 86400000;
        return imageproc__finish_delivery_request__pack(&r, buf);
    }
    default: {
        static char id[] = "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6";
        char key[IP_KEY_MAX];
        ip_key_variant(key, id, IP_VARIANT_THUMBNAIL, &ip_format_jpeg);
        Imageproc__Variant v = IMAGEPROC__VARIANT__INIT;
        v.kind = IP_VARIANT_THUMBNAIL;
        v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
        v.object_key = key;
        v.width = v.height = 320;
        v.size_bytes = 1000;
        v.format = (char *)ip_format_jpeg.name;
        Imageproc__PutVariantRequest r = IMAGEPROC__PUT_VARIANT_REQUEST__INIT;
        r.image_id = id;
        r.variant = &v;
        return imageproc__put_variant_request__pack(&r, buf);
    }
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    uint8_t buf[1024];
    for (long i = 0; i < n; i++) {
        size_t len;
        if (i % 4 == 0) {
            len = next() % 200;
            for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t)next();
        } else {
            len = seed((int)i, buf);
            int edits = 1 + (int)(next() % 4);
            for (int e = 0; e < edits && len > 0; e++) {
                size_t at = next() % len;
                switch (next() % 3) {
                case 0:
                    buf[at] = (uint8_t)next();
                    break;
                case 1:
                    if (len < sizeof(buf)) {
                        memmove(buf + at + 1, buf + at, len - at);
                        buf[at] = (uint8_t)next();
                        len++;
                    }
                    break;
                default:
                    len = at;
                    break;
                }
            }
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("%ld inputs\n", n);
    return 0;
}

#endif
