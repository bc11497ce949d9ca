/* ip_webhook.h — the webhook vocabulary shared by the gateway, imgctl and
 * metadata-svc: event names, subscription secrets, the Standard Webhooks
 * signature, and the form of a subscription's URL.
 *
 * Signing follows Standard Webhooks (standardwebhooks.com): a secret is
 * "whsec_" + standard base64 of 24..64 random bytes, the HMAC key is the
 * decoded bytes, and each attempt sends
 *   webhook-id: <delivery id, "msg_" + 32 hex>
 *   webhook-timestamp: <unix seconds of the attempt>
 *   webhook-signature: v1,<standard base64 of HMAC-SHA256(key, id "." timestamp "." body)>
 * A receiver recomputes the HMAC over the bytes it received and compares in
 * constant time, and refuses timestamps too far from its clock.
 *
 * A subscription URL is checked by form only here (scheme http or https,
 * a host, no userinfo, no fragment, at most IP_WEBHOOK_URL_MAX bytes, no
 * spaces or control characters); where it may connect (private ranges) is
 * the dispatcher's check at connect time.
 *
 * Lives in the ip_access library (it links OpenSSL's libcrypto).
 */
#ifndef IP_WEBHOOK_H
#define IP_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_status.h"
#include "webhook.pb-c.h"

#define IP_WEBHOOK_SECRET_PREFIX "whsec_"
/* "whsec_" + base64 of at most 64 bytes (88 characters) + NUL */
#define IP_WEBHOOK_SECRET_MAX 96
/* bytes of a new secret */
#define IP_WEBHOOK_SECRET_BYTES 32
#define IP_WEBHOOK_URL_MAX 2048
/* "v1," + base64 of 32 bytes (44) + NUL */
#define IP_WEBHOOK_SIGNATURE_MAX 48
/* "msg_" + 32 hex + NUL */
#define IP_WEBHOOK_ID_MAX 37

/* Event names: "image.ready", "image.failed", "image.deleted"; NULL for
 * an unknown value. */
const char *ip_webhook_event_name(Imageproc__WebhookEvent e);
/* The event of a name; WEBHOOK_EVENT_UNSPECIFIED for an unknown one.
 * The short forms "ready", "failed", "deleted" are accepted too (imgctl). */
Imageproc__WebhookEvent ip_webhook_event_parse(const char *name);

/* Delivery states: "pending", "delivered", "failed", "cancelled"; NULL for
 * an unknown value. */
const char *ip_delivery_state_name(Imageproc__DeliveryState s);

/* A new secret (IP_WEBHOOK_SECRET_BYTES from getrandom) into out.
 * IP_INTERNAL when the system gives no randomness. */
ip_status ip_webhook_new_secret(char out[IP_WEBHOOK_SECRET_MAX]);

/* true when `secret` has the form above (prefix, base64 of 24..64 bytes). */
bool ip_webhook_secret_valid(const char *secret);

/* The Standard Webhooks signature of one attempt into
 * out[IP_WEBHOOK_SIGNATURE_MAX] ("v1,<base64>"). IP_INVALID_ARGUMENT when
 * the secret is not valid. */
ip_status ip_webhook_sign(const char *secret, const char *msg_id, int64_t timestamp_s,
                          const char *body, size_t body_len, char out[IP_WEBHOOK_SIGNATURE_MAX]);

/* true when some "v1,<sig>" among the space-separated signatures in
 * `header` matches (constant-time comparison). For tests and for people
 * writing receivers in C. */
bool ip_webhook_verify(const char *secret, const char *msg_id, int64_t timestamp_s,
                       const char *body, size_t body_len, const char *header);

/* IP_OK when `url` has a subscription URL's form; else IP_INVALID_ARGUMENT
 * with the reason in err (e.g. "the url's scheme must be http or https"). */
ip_status ip_webhook_url_check(const char *url, char *err, size_t errlen);

#endif
