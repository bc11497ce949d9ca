/* meta_store_keys.c — API keys in PostgreSQL: CreateApiKey, ListApiKeys,
 * RevokeApiKey, LookupApiKey.
 *
 * A key is one row of api_keys: its id, name, the prefix people recognise it
 * by, the hex SHA-256 of the whole key (the key itself never reaches this
 * service: `imgctl keys create` makes it and sends only the hash), its scopes
 * by name (common/ip_access.h has the one spelling) and when it was made and
 * revoked. Each call is one statement outside a transaction (meta_db_query):
 *   - create inserts with ON CONFLICT DO NOTHING, so a taken id or hash is
 *     IP_ALREADY_EXISTS without an error in the server's log;
 *   - lookup reads through the unique index on hash and sees active keys
 *     only: a revoked key never matches again;
 *   - revoke sets revoked_at once; revoking again keeps the first time, so
 *     repeating the call is harmless;
 *   - list is oldest first, (created_at, id).
 * Scopes are written in the enum's order from the caller's mask, so a key's
 * scopes come back in one canonical order whatever order they were given in.
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "ip_access.h"
#include "meta_store_internal.h"

#define SCOPE_LIST_MAX 64 /* "read,upload,delete,admin" and room to spare */

/* The names of the scopes in `mask`, comma-separated, in enum order. */
static void scopes_text(uint32_t mask, char out[SCOPE_LIST_MAX])
{
    size_t n = 0;
    out[0] = '\0';
    for (int s = 1; s < 32; s++) {
        const char *name = ip_scope_name((Imageproc__ApiScope)s);
        if (name == NULL || !(mask & (1u << s)))
            continue;
        n += (size_t)snprintf(out + n, SCOPE_LIST_MAX - n, "%s%s", n ? "," : "", name);
    }
}

/* api_keys.scopes (as "read,upload") into the key's scopes, from the arena. A
 * name that is not a scope is IP_INTERNAL: the schema's CHECK allows none. */
static ip_status row_scopes(meta_ctx *cx, const char *text, Imageproc__ApiKey *k)
{
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    k->scopes = meta_cx_alloc(cx, cap * sizeof(*k->scopes));
    if (k->scopes == NULL)
        return meta_cx_nomem(cx);
    char name[16];
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, ",");
        snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), p);
        if (n >= sizeof(name) || ip_scope_parse(name, &k->scopes[k->n_scopes]) != IP_OK)
            return meta_cx_fail(cx, IP_INTERNAL, "api_keys.scopes: unknown scope in '%s'", text);
        k->n_scopes++;
        p += n + (p[n] == ',');
    }
    return IP_OK;
}

/* The key of row `i` (columns META_K_*), from the arena. */
static ip_status row_key(meta_ctx *cx, const PGresult *r, int i, Imageproc__ApiKey **out)
{
    Imageproc__ApiKey *k = meta_cx_alloc(cx, sizeof(*k));
    if (k == NULL)
        return meta_cx_nomem(cx);
    imageproc__api_key__init(k);
    k->id = meta_cx_strdup(cx, PQgetvalue(r, i, META_K_ID));
    k->name = meta_cx_strdup(cx, PQgetvalue(r, i, META_K_NAME));
    k->prefix = meta_cx_strdup(cx, PQgetvalue(r, i, META_K_PREFIX));
    k->created_at_us = meta_db_i64(r, i, META_K_CREATED);
    k->revoked_at_us = meta_db_i64(r, i, META_K_REVOKED);
    if (k->id == NULL || k->name == NULL || k->prefix == NULL)
        return meta_cx_nomem(cx);
    *out = k;
    return row_scopes(cx, PQgetvalue(r, i, META_K_SCOPES), k);
}

/* The one key of a result, or `missing` (with its message) when there is
 * none. Clears r. */
static ip_status one_key(meta_ctx *cx, PGresult *r, ip_status missing, const char *what,
                         Imageproc__ApiKey **out)
{
    ip_status st =
        PQntuples(r) > 0 ? row_key(cx, r, 0, out) : meta_cx_fail(cx, missing, "%s", what);
    PQclear(r);
    return st;
}

ip_status meta_store_key_create(meta_store *s, meta_ctx *cx, const meta_key_new *k,
                                Imageproc__ApiKey **out)
{
    PGresult *r = NULL;
    char scopes[SCOPE_LIST_MAX];
    scopes_text(k->scopes, scopes);
    const char *params[] = {k->id, k->name, k->prefix, k->hash, scopes};
    ip_status st = meta_db_query(s, cx, META_ST_KEY_CREATE, 5, params, &r);
    if (st != IP_OK)
        return st;
    return one_key(cx, r, IP_ALREADY_EXISTS, "a key with this id or hash exists", out);
}

ip_status meta_store_key_list(meta_store *s, meta_ctx *cx, bool include_revoked,
                              Imageproc__ApiKey ***keys, size_t *n)
{
    PGresult *r = NULL;
    const char *params[] = {include_revoked ? "true" : "false"};
    *keys = NULL;
    *n = 0;
    ip_status st = meta_db_query(s, cx, META_ST_KEY_LIST, 1, params, &r);
    if (st != IP_OK)
        return st;
    int rows = PQntuples(r);
    Imageproc__ApiKey **arr = meta_cx_alloc(cx, (size_t)(rows ? rows : 1) * sizeof(*arr));
    if (arr == NULL) {
        PQclear(r);
        return meta_cx_nomem(cx);
    }
    for (int i = 0; i < rows && st == IP_OK; i++)
        st = row_key(cx, r, i, &arr[i]);
    PQclear(r);
    if (st != IP_OK)
        return st;
    *keys = arr;
    *n = (size_t)rows;
    return IP_OK;
}

ip_status meta_store_key_revoke(meta_store *s, meta_ctx *cx, const char *id,
                                Imageproc__ApiKey **out)
{
    PGresult *r = NULL;
    const char *params[] = {id};
    ip_status st = meta_db_query(s, cx, META_ST_KEY_REVOKE, 1, params, &r);
    if (st != IP_OK)
        return st;
    return one_key(cx, r, IP_NOT_FOUND, "no such key", out);
}

ip_status meta_store_key_lookup(meta_store *s, meta_ctx *cx, const char *hash,
                                Imageproc__ApiKey **out)
{
    PGresult *r = NULL;
    const char *params[] = {hash};
    ip_status st = meta_db_query(s, cx, META_ST_KEY_LOOKUP, 1, params, &r);
    if (st != IP_OK)
        return st;
    return one_key(cx, r, IP_NOT_FOUND, "no active key has this hash", out);
}
