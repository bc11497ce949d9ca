/* gw_auth.c — the caller of a request and the access rules.
 *
 * IDENTIFYING. "Authorization: Bearer <secret>" (the scheme in any case, one
 * or more spaces, nothing after the secret but spaces). The secret's form
 * says its kind (ip_access_kind): an owner token is taken as it is — only its
 * hash is kept, and whether it matches is decided per image by comparing
 * hashes in constant time; an API key is hashed and looked up in
 * metadata-svc (LookupApiKey: NOT_FOUND for an unknown or revoked key, which
 * is 401 like a malformed header). The secret is copied only into a stack
 * buffer that is wiped once hashed. No cache: a revoked key stops working on
 * the next request.
 *
 * THE RULES. Each gw_auth_may_* says whether the caller may, and when not,
 * what would be needed: 401 for an anonymous caller (a credential could
 * help), 403 for one whose credential does not grant it. An admin key may do
 * everything (ip_scopes_allow).
 */
#include "gw_auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ip_rpc_stubs.h"

static void caller_anonymous(gw_caller *c)
{
    memset(c, 0, sizeof *c);
    c->kind = GW_CALLER_ANONYMOUS;
    snprintf(c->label, sizeof c->label, "anonymous");
}

/* The secret of "Bearer <secret>" into out (at most IP_SECRET_MAX bytes with
 * the NUL); false when the header has another form or the value is longer
 * than any secret. */
static bool bearer_secret(const char *h, char out[IP_SECRET_MAX + 1])
{
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return false;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    size_t n = strcspn(h, " \t");
    for (const char *t = h + n; *t; t++)
        if (*t != ' ' && *t != '\t')
            return false; /* more than one word */
    if (n == 0 || n > IP_SECRET_MAX)
        return false;
    memcpy(out, h, n);
    out[n] = '\0';
    return true;
}

/* LookupApiKey of the key's hash: its scopes into c. */
static ip_status lookup_key(ip_rpc_client *meta, const char *hash, gw_caller *c, char *err,
                            size_t errlen)
{
    Imageproc__LookupApiKeyRequest in = IMAGEPROC__LOOKUP_API_KEY_REQUEST__INIT;
    in.hash = (char *)hash;
    Imageproc__LookupApiKeyReply *out = NULL;
    ip_status st = ip_metadata_lookup_api_key(meta, &in, &out, NULL, err, errlen);
    if (st == IP_OK && (!out->key || out->key->revoked_at_us != 0))
        st = IP_NOT_FOUND; /* a revoked key never matches, whatever the reply holds */
    if (st == IP_OK) {
        c->scopes = ip_scopes_mask(out->key->scopes, out->key->n_scopes);
        snprintf(c->key_id, sizeof c->key_id, "%s", out->key->id ? out->key->id : "");
        if (c->scopes == 0)
            st = IP_NOT_FOUND; /* a key granting nothing is no key */
    }
    if (out)
        imageproc__lookup_api_key_reply__free_unpacked(out, NULL);
    if (st == IP_NOT_FOUND) {
        snprintf(err, errlen, "the API key %s is unknown or revoked", c->label);
        return IP_INVALID_ARGUMENT;
    }
    return st;
}

ip_status gw_auth_parse(const char *authorization, gw_caller *out, char *err, size_t errlen)
{
    caller_anonymous(out);
    if (!authorization)
        return IP_OK;
    char secret[IP_SECRET_MAX + 1];
    if (!bearer_secret(authorization, secret)) {
        snprintf(err, errlen,
                 "the Authorization header must be \"Bearer <owner token or API key>\"");
        return IP_INVALID_ARGUMENT;
    }
    ip_secret_kind kind = ip_access_kind(secret);
    if (kind != IP_SECRET_NONE)
        ip_access_hash(secret, out->hash);
    if (kind == IP_SECRET_KEY)
        ip_access_prefix(secret, out->label);
    explicit_bzero(secret, sizeof secret);
    switch (kind) {
    case IP_SECRET_OWNER:
        out->kind = GW_CALLER_OWNER;
        snprintf(out->label, sizeof out->label, "owner");
        return IP_OK;
    case IP_SECRET_KEY:
        out->kind = GW_CALLER_KEY;
        return IP_OK;
    default:
        snprintf(err, errlen,
                 "the bearer value is neither an owner token (ipo_…) nor an API key (ipk_…)");
        return IP_INVALID_ARGUMENT;
    }
}

ip_status gw_auth_identify(ip_rpc_client *meta, const char *authorization, gw_caller *out,
                           char *err, size_t errlen)
{
    ip_status st = gw_auth_parse(authorization, out, err, errlen);
    if (st != IP_OK || out->kind != GW_CALLER_KEY)
        return st;
    char hash[IP_ACCESS_HASH_MAX];
    memcpy(hash, out->hash, sizeof hash);
    out->hash[0] = '\0'; /* a key's hash is not an owner's */
    st = lookup_key(meta, hash, out, err, errlen);
    if (st != IP_OK) {
        out->scopes = 0;
        out->key_id[0] = '\0';
    }
    return st;
}

/* ------------------------------------------------------------ the rules */

static const gw_verdict allowed = {0, NULL};

static gw_verdict refuse(const gw_caller *c, const char *need)
{
    gw_verdict v = {c->kind == GW_CALLER_ANONYMOUS ? 401u : 403u, need};
    return v;
}

static bool has_scope(const gw_caller *c, Imageproc__ApiScope s)
{
    return c->kind == GW_CALLER_KEY && ip_scopes_allow(c->scopes, s);
}

bool gw_auth_is_owner(const gw_caller *c)
{
    return c->kind == GW_CALLER_OWNER;
}

/* The caller's owner token is the one whose hash the image's row keeps. */
static bool owns(const gw_caller *c, const char *owner_hash)
{
    return c->kind == GW_CALLER_OWNER && owner_hash && *owner_hash &&
           ip_access_hash_equal(c->hash, owner_hash);
}

gw_verdict gw_auth_may_upload(const gw_caller *c, bool needs_key)
{
    if (!needs_key || has_scope(c, IMAGEPROC__API_SCOPE__API_SCOPE_UPLOAD))
        return allowed;
    return refuse(c, "uploads on this service need an API key with upload scope "
                     "(Authorization: Bearer ipk_…)");
}

gw_verdict gw_auth_may_read_original(const gw_caller *c, const char *owner_hash)
{
    if (owns(c, owner_hash) || has_scope(c, IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN))
        return allowed;
    return refuse(c, "the original is private: it needs this image's owner token or an API key "
                     "with admin scope (Authorization: Bearer …)");
}

gw_verdict gw_auth_may_delete(const gw_caller *c, const char *owner_hash)
{
    if (owns(c, owner_hash) || has_scope(c, IMAGEPROC__API_SCOPE__API_SCOPE_DELETE))
        return allowed;
    return refuse(c, "deleting needs this image's owner token or an API key with delete scope "
                     "(Authorization: Bearer …)");
}

gw_verdict gw_auth_may_retry(const gw_caller *c, const char *owner_hash)
{
    if (owns(c, owner_hash) || has_scope(c, IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN))
        return allowed;
    return refuse(c, "retrying needs this image's owner token or an API key with admin scope "
                     "(Authorization: Bearer …)");
}

gw_verdict gw_auth_may_subscribe(const gw_caller *c, bool own_images_only)
{
    if (c->kind != GW_CALLER_KEY)
        return refuse(c, "webhooks need an API key (Authorization: Bearer ipk_…)");
    if (own_images_only || has_scope(c, IMAGEPROC__API_SCOPE__API_SCOPE_READ))
        return allowed;
    return refuse(c, "a subscription to every image's events needs an API key with read or "
                     "admin scope; with this key subscribe with \"images\": \"own\"");
}

gw_verdict gw_auth_may_manage_webhook(const gw_caller *c, const char *sub_key_id)
{
    if (c->kind != GW_CALLER_KEY)
        return refuse(c, "webhooks need an API key (Authorization: Bearer ipk_…)");
    if (has_scope(c, IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN))
        return allowed;
    if (sub_key_id && *sub_key_id && c->key_id[0] && strcmp(c->key_id, sub_key_id) == 0)
        return allowed;
    return refuse(c, "a subscription is managed by the API key that made it or an API key "
                     "with admin scope");
}

gw_verdict gw_auth_may_see_internals(const gw_caller *c, bool proxied)
{
    if (!proxied || has_scope(c, IMAGEPROC__API_SCOPE__API_SCOPE_ADMIN))
        return allowed;
    return refuse(c, "through the public address this needs an API key with admin scope; "
                     "the gateway's own address answers anyone");
}
