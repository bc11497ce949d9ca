/* meta_service_admin.c — the Metadata handlers that change no image: the API
 * keys (CreateApiKey, ListApiKeys, RevokeApiKey, LookupApiKey), the presets
 * (GetPresets, SetPreset) and ListRegenerate. None takes an image's stripe or
 * publishes an event; each checks its request, calls the store and fills the
 * reply from the call's memory, with the helpers of meta_service.c
 * (meta_service_internal.h).
 */
#include <stdio.h>

#include "ip_log.h"
#include "ip_presets.h"
#include "ip_uuid.h"
#include "ip_variants.h"
#include "meta_service_internal.h"
#include "meta_validate.h"

/* ------------------------------------------------------------- API keys */

/* Keys change no image: no stripe, no event. Only the key's prefix is ever
 * logged, never its hash. */
ip_status meta_h_create_api_key(void *user, ip_rpc_call *call,
                                const Imageproc__CreateApiKeyRequest *req,
                                Imageproc__CreateApiKeyReply *rep)
{
    meta_service *svc = user;
    char err[160], id[IP_UUID_STRLEN + 1];
    ip_uuid u;
    meta_ctx cx;
    meta_key_new k = {0};
    ip_status st = meta_check_api_key(req, &k.scopes, err, sizeof(err));
    if (st != IP_OK)
        return meta_svc_fail(call, st, err, NULL);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    ip_uuid_parse(req->key->id, &u);
    ip_uuid_format(&u, id);
    k.id = id;
    k.name = req->key->name;
    k.prefix = req->key->prefix;
    k.hash = req->hash;
    st = meta_store_key_create(svc->store, &cx, &k, &rep->key);
    if (st != IP_OK)
        return meta_svc_fail(call, st, cx.err, NULL);
    ip_log(IP_LOG_INFO, "key.created", IP_LS("key_id", id), IP_LS("prefix", k.prefix));
    return IP_OK;
}

ip_status meta_h_list_api_keys(void *user, ip_rpc_call *call,
                               const Imageproc__ListApiKeysRequest *req,
                               Imageproc__ListApiKeysReply *rep)
{
    meta_service *svc = user;
    meta_ctx cx;
    ip_status st = meta_svc_ctx_init(&cx, call);
    if (st != IP_OK)
        return st;
    st = meta_store_key_list(svc->store, &cx, req->include_revoked, &rep->keys, &rep->n_keys);
    return st == IP_OK ? IP_OK : meta_svc_fail(call, st, cx.err, NULL);
}

ip_status meta_h_revoke_api_key(void *user, ip_rpc_call *call,
                                const Imageproc__RevokeApiKeyRequest *req,
                                Imageproc__RevokeApiKeyReply *rep)
{
    meta_service *svc = user;
    char id[IP_UUID_STRLEN + 1];
    ip_uuid u;
    meta_ctx cx;
    ip_status st;
    if ((st = meta_svc_canon_id(call, req->id, "id", id, &u)) != IP_OK ||
        (st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    st = meta_store_key_revoke(svc->store, &cx, id, &rep->key);
    if (st != IP_OK)
        return meta_svc_fail(call, st, cx.err, NULL);
    ip_log(IP_LOG_INFO, "key.revoked", IP_LS("key_id", id), IP_LS("prefix", rep->key->prefix));
    return IP_OK;
}

ip_status meta_h_lookup_api_key(void *user, ip_rpc_call *call,
                                const Imageproc__LookupApiKeyRequest *req,
                                Imageproc__LookupApiKeyReply *rep)
{
    meta_service *svc = user;
    char err[128];
    meta_ctx cx;
    ip_status st = meta_check_hash(req->hash, "hash", false, err, sizeof(err));
    if (st != IP_OK)
        return meta_svc_fail(call, st, err, NULL);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    st = meta_store_key_lookup(svc->store, &cx, req->hash, &rep->key);
    return st == IP_OK ? IP_OK : meta_svc_fail(call, st, cx.err, NULL);
}

/* ------------------------------------------------------------- presets */

/* Presets and ListRegenerate change no image: no stripe, no event. */
ip_status meta_h_get_presets(void *user, ip_rpc_call *call, const Imageproc__GetPresetsRequest *req,
                             Imageproc__GetPresetsReply *rep)
{
    (void)req;
    meta_service *svc = user;
    meta_ctx cx;
    ip_status st = meta_svc_ctx_init(&cx, call);
    if (st != IP_OK)
        return st;
    st = meta_store_presets(svc->store, &cx, &rep->presets, &rep->n_presets, &rep->stale_variants);
    return st == IP_OK ? IP_OK : meta_svc_fail(call, st, cx.err, NULL);
}

ip_status meta_h_set_preset(void *user, ip_rpc_call *call, const Imageproc__SetPresetRequest *req,
                            Imageproc__SetPresetReply *rep)
{
    meta_service *svc = user;
    char err[160] = "preset: required";
    meta_ctx cx;
    ip_status st = IP_INVALID_ARGUMENT;
    if (req->preset == NULL || (st = ip_preset_check(req->preset, err, sizeof(err))) != IP_OK) {
        char msg[200];
        snprintf(msg, sizeof(msg), "%s%s", req->preset != NULL ? "preset." : "", err);
        return meta_svc_fail(call, st, msg, NULL);
    }
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    bool changed = false;
    st = meta_store_set_preset(svc->store, &cx, req->preset, &rep->preset, &changed);
    if (st != IP_OK)
        return meta_svc_fail(call, st, cx.err, NULL);
    rep->changed = changed;
    if (changed)
        ip_log(IP_LOG_INFO, "preset.changed", IP_LS("variant", ip_variant_name(rep->preset->kind)),
               IP_LI("version", rep->preset->version));
    return IP_OK;
}

ip_status meta_h_list_regenerate(void *user, ip_rpc_call *call,
                                 const Imageproc__ListRegenerateRequest *req,
                                 Imageproc__ListRegenerateReply *rep)
{
    meta_service *svc = user;
    char err[128], after[IP_UUID_STRLEN + 1] = "";
    meta_ctx cx;
    ip_uuid u;
    ip_status st = meta_check_regenerate(req, err, sizeof(err));
    if (st != IP_OK)
        return meta_svc_fail(call, st, err, NULL);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    char **ids = NULL;
    if (req->n_ids > 0) {
        ids = ip_rpc_call_alloc(call, req->n_ids * sizeof(*ids));
        for (size_t i = 0; ids != NULL && i < req->n_ids; i++) {
            if ((ids[i] = ip_rpc_call_alloc(call, IP_UUID_STRLEN + 1)) == NULL)
                ids = NULL;
            else {
                ip_uuid_parse(req->ids[i], &u);
                ip_uuid_format(&u, ids[i]);
            }
        }
        if (ids == NULL)
            return meta_svc_fail(call, IP_RESOURCE_EXHAUSTED, "out of memory", NULL);
    } else if (req->after_id != NULL && req->after_id[0] != '\0') {
        ip_uuid_parse(req->after_id, &u);
        ip_uuid_format(&u, after);
    }
    meta_regen_query q = {.stale_only = req->stale_only,
                          .after_id = after,
                          .limit = req->limit,
                          .ids = ids,
                          .n_ids = req->n_ids};
    bool has_more = false;
    st = meta_store_list_regenerate(svc->store, &cx, &q, &rep->images, &rep->n_images, &has_more);
    if (st != IP_OK)
        return meta_svc_fail(call, st, cx.err, NULL);
    rep->has_more = has_more;
    return IP_OK;
}
