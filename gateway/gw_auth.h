/* gw_auth.h — who is calling (from the Authorization header), and what the
 * access rules let them do.
 *
 * A request's caller is anonymous (no Authorization header), an owner token
 * ("ipo_…", kept only as its hash: it proves ownership of the one image whose
 * row holds that hash) or an API key ("ipk_…", looked up in metadata-svc by
 * its hash: its scopes). Every rule of the gateway is one gw_auth_may_*
 * function below, so the rules sit in one place and are tested as a table
 * (gw_auth_test.c); a handler asks one and, when it refuses, answers its
 * status with its `need` as the detail (gw_send_denied in gw_response.h).
 *
 * A refusal is 401 when the caller presented nothing (a credential could
 * help) and 403 when it presented a valid one that does not grant the
 * action. A secret never leaves this file: the caller keeps the owner
 * token's hash and, for logs, a label ("anonymous", "owner", or the key's
 * prefix "ipk_" + 8 characters).
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip_access.h"
#include "ip_rpc.h"
#include "ip_status.h"

typedef enum gw_caller_kind {
    GW_CALLER_ANONYMOUS = 0,
    GW_CALLER_OWNER, /* an owner token: `hash` */
    GW_CALLER_KEY,   /* an active API key: `scopes` */
} gw_caller_kind;

typedef struct gw_caller {
    gw_caller_kind kind;
    char hash[IP_ACCESS_HASH_MAX];     /* owner: hex SHA-256 of the token; else "" */
    uint32_t scopes;                   /* key: ip_scopes_mask of its scopes; else 0 */
    char key_id[37];                   /* key: its id (UUID, from LookupApiKey); else "" */
    char label[IP_KEY_PREFIX_LEN + 1]; /* for logs: "anonymous", "owner" or the key's prefix */
} gw_caller;

/* The caller of a request whose Authorization header is `authorization`
 * (NULL: none, anonymous). An API key is looked up with LookupApiKey on
 * `meta` (bounded by the client's deadline). IP_OK: *out filled.
 * IP_INVALID_ARGUMENT: the header is not "Bearer <secret>", the secret is of
 * neither form, or the key is unknown or revoked — answer 401; err says which
 * (never the secret). Any other status: metadata-svc failed (answer 503); err
 * has its message. */
ip_status gw_auth_identify(ip_rpc_client *meta, const char *authorization, gw_caller *out,
                           char *err, size_t errlen);

/* The parsing half of gw_auth_identify, without the lookup: the same
 * answers for everything but an API key, which comes back as
 * GW_CALLER_KEY with its hash in out->hash, its prefix as label and no scopes
 * (not yet known to be active). */
ip_status gw_auth_parse(const char *authorization, gw_caller *out, char *err, size_t errlen);

/* A rule's answer: status 0 allowed, else 401 or 403 with `need` (static
 * text) saying what would be allowed, for the problem's detail. */
typedef struct gw_verdict {
    unsigned status;
    const char *need;
} gw_verdict;

/* POST /upload: anyone, unless the service needs a key for uploads
 * (IP_GATEWAY_UPLOAD_NEEDS_KEY): then a key with upload (or admin) scope. */
gw_verdict gw_auth_may_upload(const gw_caller *c, bool needs_key);

/* The rules on one image take its row's owner_hash ("" or NULL: an image from
 * before owners, which no owner token matches). For a caller that is not an
 * owner token the answer does not depend on it, so a handler looks the image
 * up first only when gw_auth_is_owner(c). */
bool gw_auth_is_owner(const gw_caller *c);

/* GET /image/{id}?variant=original: the image's owner token or an admin key. */
gw_verdict gw_auth_may_read_original(const gw_caller *c, const char *owner_hash);
/* DELETE /image/{id}: the image's owner token or a key with delete (or admin) scope. */
gw_verdict gw_auth_may_delete(const gw_caller *c, const char *owner_hash);
/* POST /image/{id}/retry: the image's owner token or an admin key. */
gw_verdict gw_auth_may_retry(const gw_caller *c, const char *owner_hash);

/* POST /webhooks: any active API key (the subscription belongs to it). A
 * subscription to every image's events (own_images_only false) tells of
 * every image, so it needs read (or admin) scope; 401 without a key, 403
 * otherwise. */
gw_verdict gw_auth_may_subscribe(const gw_caller *c, bool own_images_only);
/* GET/DELETE /webhooks/{id}, its deliveries and resends: the key that made
 * the subscription (sub_key_id, its id) or an admin key; "" (made by an
 * operator with imgctl) is admin only. 401 without a key, 403 otherwise.
 * (A handler answers 404 rather than 403 for another key's subscription, so
 * ids of others are not confirmed.) */
gw_verdict gw_auth_may_manage_webhook(const gw_caller *c, const char *sub_key_id);

/* /metrics and /readyz's details: anyone on the gateway's own address; a
 * request that came through the proxy (`proxied`: it carries
 * X-Forwarded-For) needs an admin key. */
gw_verdict gw_auth_may_see_internals(const gw_caller *c, bool proxied);

#endif
