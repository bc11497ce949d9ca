/* meta_validate.h — pure checks and mappings of the Metadata service.
 *
 * Everything here is free of I/O so that unit tests cover it: the text stored
 * for each status, and the checks that turn a bad request into
 * IP_INVALID_ARGUMENT with a message naming the field. Variants are the
 * VariantKind enum throughout; their names (for PostgreSQL and for messages)
 * come only from common/ip_variants.h, and a set of requested variants is
 * checked into an ip_variants mask. Messages go into a caller's buffer (err,
 * errlen); NULL err is allowed.
 */
#ifndef META_VALIDATE_H
#define META_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <image.pb-c.h>
#include <metadata.pb-c.h>

#include "ip_status.h"
#include "ip_variants.h"

#define META_LIST_MAX 100
#define META_SWEEP_MAX 1000                     /* most rows of one ListStale or ClaimPurges */
#define META_CLAIM_MAX_MS INT64_C(3600000)      /* longest claim of a sweep or a purger: 1 h */
#define META_LEASE_MAX_MS INT64_C(3600000)      /* longest lease of a processor: 1 h */
#define META_MAX_US INT64_C(253402300799999999) /* 9999-12-31T23:59:59.999999Z */

/* Image status <-> the text stored in images.status. Unknown text gives
 * IMAGE_STATUS_UNSPECIFIED; an unknown enum gives NULL. */
Imageproc__ImageStatus meta_image_status_parse(const char *s);
const char *meta_image_status_text(Imageproc__ImageStatus st);
Imageproc__VariantStatus meta_variant_status_parse(const char *s);
const char *meta_variant_status_text(Imageproc__VariantStatus st);

#define META_TEXT_MAX 65536 /* longest free-text field accepted, in bytes */

/* A free-text field (file name, content type, keys, reasons): valid UTF-8 (no
 * overlong forms, surrogates or code points past U+10FFFF) and at most
 * META_TEXT_MAX bytes. NULL counts as "". */
ip_status meta_check_text(const char *s, const char *field, char *err, size_t errlen);

/* Checks a requested list of variants (`field` names it in messages) and
 * writes the set into *mask (ip_variant_bit of each kind). Duplicates are
 * folded; an empty list or a value that is not a variant (UNSPECIFIED
 * included) is IP_INVALID_ARGUMENT and *mask is 0. */
ip_status meta_check_requested(const Imageproc__VariantKind *kinds, size_t n, const char *field,
                               unsigned *mask, char *err, size_t errlen);

/* An image id in a request: present and a UUID. */
ip_status meta_check_id(const char *id, const char *field, char *err, size_t errlen);

/* ListImages: with_variant UNSPECIFIED (all) or a variant; limit 1..100; the
 * cursor both unset (first page) or both set (a UUID and a time in range).
 * *has_cursor says which. */
ip_status meta_check_list(int64_t last_created_at_us, const char *last_id,
                          Imageproc__VariantKind with_variant, int32_t limit, bool *has_cursor,
                          char *err, size_t errlen);

/* CreateImage: the image is present, its id a UUID, sizes non-negative, times
 * in range, text fields valid (meta_check_text), owner_hash "" or a hash
 * (meta_check_hash), key_id "" or a UUID, `requested` valid (its set into
 * *requested, as meta_check_requested). */
ip_status meta_check_create(const Imageproc__Image *img, unsigned *requested, char *err,
                            size_t errlen);

#define META_IDEM_KEY_MAX 255       /* bytes of an Idempotency-Key */
#define META_IDEM_RESPONSE_MAX 8192 /* bytes of a recorded response */

/* An idempotency record's address: scope "" (NULL too) or a UUID, key 1..255
 * bytes of visible ASCII (0x21..0x7e). `prefix` ("" or "idempotency.") starts
 * the field names in messages. */
ip_status meta_check_idempotency_key(const char *scope, const char *key, const char *prefix,
                                     char *err, size_t errlen);

/* CreateImage's whole request: the image as meta_check_create; dedupe only
 * with image.key_id set and image.sha256 a hash (meta_check_hash); the
 * idempotency record, when present: scope equal to image.key_id (as UUIDs;
 * both "" for none), key as meta_check_idempotency_key, request_sha256 equal
 * to image.sha256 and a hash, status 200..299, response 1..8192 bytes,
 * image_id "" or image.id. */
ip_status meta_check_create_request(const Imageproc__CreateImageRequest *req, unsigned *requested,
                                    char *err, size_t errlen);

/* ListImages' filters: sha256 "" (NULL too) or 64 lowercase hex digits;
 * key_id "" (NULL too) or a UUID. */
ip_status meta_check_list_filters(const char *sha256, const char *key_id, char *err, size_t errlen);

/* A hex SHA-256 (an owner token's or a key's hash): exactly 64 lowercase hex
 * digits. With `may_be_empty`, "" (and NULL) pass too: an image without owner. */
ip_status meta_check_hash(const char *hash, const char *field, bool may_be_empty, char *err,
                          size_t errlen);

#define META_KEY_NAME_MAX 200  /* bytes of ApiKey.name */
#define META_KEY_PREFIX_MAX 16 /* bytes of ApiKey.prefix */

/* CreateApiKey: the key is present, its id a UUID, its name 1..200 bytes of
 * valid UTF-8, its prefix "ipk_..." of at most 16 bytes, at least one scope,
 * each known and given once (the set into *scopes, an ip_access.h mask); the
 * hash as meta_check_hash. */
ip_status meta_check_api_key(const Imageproc__CreateApiKeyRequest *req, uint32_t *scopes, char *err,
                             size_t errlen);

/* PutVariant, and each of FinishImage's variants, of the image `image_id`
 * (canonical): a variant kind; FAILED (error optional, no files) or READY
 * with width, height, size_bytes > 0, format jpeg or png (the primary file)
 * and object_key ip_key_variant_version(image_id, kind, format,
 * preset_version). Its files (Variant.files): none (a processor from before
 * files existed: the primary is the one file) or the primary first, equal to
 * object_key/format/size_bytes, then webp and avif, each at most once, each
 * with size_bytes > 0 and the key ip_key_variant_version gives its format.
 * preset_version: 0 ("unknown", counted as 1) only without files; with files
 * at least 1. Text fields valid. */
ip_status meta_check_variant(const char *image_id, const Imageproc__Variant *v, char *err,
                             size_t errlen);

/* FinishImage's variants: at most IP_VARIANT_COUNT, each one as
 * meta_check_variant, no kind twice; with `regenerate` every one ready (a
 * regeneration replaces ready variants with ready ones). A message names the
 * entry ("variants[1].width: ..."). */
ip_status meta_check_finish(const char *image_id, Imageproc__Variant *const *variants, size_t n,
                            bool regenerate, char *err, size_t errlen);

#define META_THUMBHASH_MAX 64 /* characters of Image.thumbhash */

/* FinishImage's placeholder: thumbhash "" or standard base64 with padding
 * (a multiple of 4 characters, at most META_THUMBHASH_MAX); dominant_color
 * "" or "#rrggbb" in lowercase hex. */
ip_status meta_check_placeholder(const char *thumbhash, const char *dominant_color, char *err,
                                 size_t errlen);

#define META_REGEN_MAX 1000 /* most images of a ListRegenerate page, and most ids */

/* ListRegenerate: limit 1..META_REGEN_MAX, at most META_REGEN_MAX ids, each a
 * UUID, after_id "" or a UUID. */
ip_status meta_check_regenerate(const Imageproc__ListRegenerateRequest *req, char *err,
                                size_t errlen);

/* ListStale: older_than_us and enqueued_older_than_us 0..META_MAX_US, limit
 * 1..META_SWEEP_MAX, claim_ms 0..META_CLAIM_MAX_MS. */
ip_status meta_check_stale(int64_t older_than_us, int64_t enqueued_older_than_us, int32_t limit,
                           int64_t claim_ms, char *err, size_t errlen);

/* ClaimPurges: limit 1..META_SWEEP_MAX, claim_ms 0..META_CLAIM_MAX_MS. */
ip_status meta_check_claim(int32_t limit, int64_t claim_ms, char *err, size_t errlen);

/* MarkProcessing: lease_ms 0 (the default lease) ..META_LEASE_MAX_MS. */
ip_status meta_check_lease(int64_t lease_ms, char *err, size_t errlen);


/* ------------------------------------------------------------- webhooks
 * (meta_validate_webhooks.c) */

#define META_WEBHOOK_DESCRIPTION_MAX 200 /* bytes of WebhookSubscription.description */
#define META_DELIVERIES_MAX 100          /* most deliveries of one ListDeliveries or claim */
#define META_DELIVERY_CLAIM_MIN_MS INT64_C(1000)
#define META_DELIVERY_CLAIM_MAX_MS INT64_C(600000) /* 10 min */
#define META_RETRY_AFTER_MIN_MS INT64_C(1000)
#define META_RETRY_AFTER_MAX_MS INT64_C(86400000) /* 24 h */
#define META_HORIZON_MIN_MS INT64_C(60000)        /* 1 min */
#define META_HORIZON_MAX_MS INT64_C(604800000)    /* 7 d */
#define META_DELIVERY_ERROR_MAX 500               /* bytes of an attempt's error kept */

/* CreateWebhook: the subscription is present; its id a UUID; its url of a
 * subscription URL's form (ip_webhook_url_check); its secret valid
 * (ip_webhook_secret_valid); at least one event, each known and given once
 * (the set into *events, 1u << WebhookEvent); key_id "" or a UUID;
 * own_images_only only with a key_id; description valid UTF-8 of at most
 * META_WEBHOOK_DESCRIPTION_MAX bytes. created_at_us is ignored. */
ip_status meta_check_webhook(const Imageproc__CreateWebhookRequest *req, unsigned *events,
                             char *err, size_t errlen);

/* ListWebhooks: key_id "" or a UUID (with `all`, key_id is ignored). */
ip_status meta_check_list_webhooks(const Imageproc__ListWebhooksRequest *req, char *err,
                                   size_t errlen);

/* A delivery id: "msg_" + 32 lowercase hex digits. */
ip_status meta_check_delivery_id(const char *id, const char *field, char *err, size_t errlen);

/* ListDeliveries: subscription_id a UUID; limit 1..META_DELIVERIES_MAX; the
 * cursor both unset or both set (a time in range and a delivery id);
 * *has_cursor says which. */
ip_status meta_check_list_deliveries(const Imageproc__ListDeliveriesRequest *req, bool *has_cursor,
                                     char *err, size_t errlen);

/* ResendDelivery: subscription_id a UUID, id a delivery id. */
ip_status meta_check_resend(const Imageproc__ResendDeliveryRequest *req, char *err, size_t errlen);

/* ClaimDeliveries: limit 1..META_DELIVERIES_MAX, claim_ms 1 s..10 min. */
ip_status meta_check_claim_deliveries(int32_t limit, int64_t claim_ms, char *err, size_t errlen);

/* FinishDelivery: id a delivery id; status 0..999 (0 = no answer), 2xx
 * when delivered; duration_ms >= 0; when not delivered, retry_after_ms
 * 1 s..24 h and horizon_ms 1 min..7 d. The error is not checked: it is
 * cleaned (meta_delivery_error_clean). */
ip_status meta_check_finish_delivery(const Imageproc__FinishDeliveryRequest *req, char *err,
                                     size_t errlen);

/* An attempt's error as stored: at most META_DELIVERY_ERROR_MAX bytes, cut at
 * a character boundary, each byte that does not start valid UTF-8 replaced by
 * '?'. NULL counts as "". */
void meta_delivery_error_clean(const char *error, char out[META_DELIVERY_ERROR_MAX + 1]);

#endif
