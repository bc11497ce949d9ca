/* imgctl_keys.c — `imgctl keys create|list|revoke`: API keys, made and
 * revoked through metadata-svc.
 *
 *   create --name NAME --scopes read,upload,delete,admin
 *           makes a key here ("ipk_" + 43 base64url characters of 256 bits
 *           from getrandom, common/ip_access.h), sends only its hash, its
 *           prefix, the name and the scopes (CreateApiKey), and prints one
 *           JSON line: id, key, prefix, name, scopes, created_at. That line is
 *           the only place the key ever appears: metadata-svc stores its
 *           SHA-256, nothing logs it, and it cannot be shown again.
 *   list [--all]
 *           one JSON line per key, oldest first (ListApiKeys): id, prefix,
 *           name, scopes, created_at, revoked_at (null while active); the
 *           revoked keys only with --all. Never the key, never its hash.
 *   revoke ID|PREFIX
 *           RevokeApiKey of the key with that id, or with that prefix (as
 *           lists show it: "ipk_" + 8 characters; the prefix is looked up in
 *           the list first). Prints the key's line with revoked_at. Revoking
 *           a revoked key again is fine and keeps the first time.
 * Every usage error (exit 2) is found before metadata-svc is called.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgctl_internal.h"
#include "ip_access.h"
#include "ip_rpc_stubs.h"
#include "ip_time.h"
#include "ip_uuid.h"
#include "metadata.pb-c.h"

#define KEY_NAME_MAX 200 /* bytes, as metadata-svc checks */

/* What the words after "keys" ask for. */
typedef struct keys_args {
    enum { KEYS_CREATE, KEYS_LIST, KEYS_REVOKE } cmd;
    const char *name;   /* create */
    uint32_t scopes;    /* create: ip_access.h mask */
    bool all;           /* list */
    const char *target; /* revoke: an id or a prefix */
    bool by_prefix;     /* revoke: target is a prefix */
} keys_args;

static const char keys_usage[] = "usage: imgctl keys create --name NAME --scopes SCOPE[,SCOPE...]\n"
                                 "       imgctl keys list [--all]\n"
                                 "       imgctl keys revoke KEY-ID|KEY-PREFIX\n"
                                 "scopes: read, upload, delete, admin (admin allows everything)\n";

/* Says what is wrong with the command line, then the usage; false. */
static bool usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "imgctl: keys: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n%s", keys_usage);
    va_end(ap);
    return false;
}

/* `create --name NAME --scopes LIST`, the two options in either order. */
static bool parse_create(char **args, int nargs, keys_args *k)
{
    char err[160];
    const char *scopes = NULL;
    for (int i = 1; i < nargs; i += 2) {
        if (i + 1 >= nargs)
            return usage_error("%s needs a value", args[i]);
        if (strcmp(args[i], "--name") == 0 && k->name == NULL)
            k->name = args[i + 1];
        else if (strcmp(args[i], "--scopes") == 0 && scopes == NULL)
            scopes = args[i + 1];
        else
            return usage_error("unexpected \"%s\"", args[i]);
    }
    if (k->name == NULL || scopes == NULL)
        return usage_error("create needs %s", "--name and --scopes");
    if (k->name[0] == '\0' || strlen(k->name) > KEY_NAME_MAX)
        return usage_error("--name takes %s", "1..200 bytes");
    if (ip_scopes_parse_list(scopes, &k->scopes, err, sizeof err) != IP_OK)
        return usage_error("--scopes: %s", err);
    return true;
}

/* A key's prefix as lists show it: "ipk_" and 8 base64url characters. */
static bool is_prefix(const char *s)
{
    size_t n = strlen(s);
    return n == IP_KEY_PREFIX_LEN && strncmp(s, IP_API_KEY_PREFIX, 4) == 0 &&
           strspn(s + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
               n - 4;
}

/* The words after "keys"; false (said on stderr) for a usage error. */
static bool parse_keys(char **args, int nargs, keys_args *k)
{
    memset(k, 0, sizeof *k);
    const char *w = nargs >= 1 ? args[0] : "";
    if (strcmp(w, "create") == 0) {
        k->cmd = KEYS_CREATE;
        return parse_create(args, nargs, k);
    }
    if (strcmp(w, "list") == 0) {
        k->cmd = KEYS_LIST;
        k->all = nargs == 2 && strcmp(args[1], "--all") == 0;
        if (nargs > 2 || (nargs == 2 && !k->all))
            return usage_error("list takes only %s", "--all");
        return true;
    }
    if (strcmp(w, "revoke") == 0) {
        k->cmd = KEYS_REVOKE;
        if (nargs != 2)
            return usage_error("revoke takes %s", "one key id or prefix");
        k->target = args[1];
        k->by_prefix = is_prefix(k->target);
        if (!k->by_prefix && !ip_uuid_valid(k->target))
            return usage_error("\"%s\" is neither a key id nor a key prefix (ipk_ and 8 "
                               "characters)",
                               k->target);
        return true;
    }
    return usage_error("unknown command \"%s\"", w);
}

/* ------------------------------------------------------------------ output */

static json_t *time_or_null(int64_t us)
{
    char t[IP_RFC3339_LEN + 1];
    if (us == 0)
        return json_null();
    ip_time_format(us, t);
    return json_string(t);
}

/* A key's line (never its secret or hash); `secret` adds "key" (create). */
static json_t *key_json(const Imageproc__ApiKey *k, const char *secret, bool with_revoked)
{
    json_t *scopes = json_array();
    for (size_t i = 0; i < k->n_scopes; i++) {
        const char *name = ip_scope_name(k->scopes[i]);
        json_array_append_new(scopes, name != NULL ? json_string(name) : json_null());
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(k->id));
    if (secret != NULL)
        json_object_set_new(o, "key", json_string(secret));
    json_object_set_new(o, "prefix", json_string(k->prefix));
    json_object_set_new(o, "name", json_string(k->name));
    json_object_set_new(o, "scopes", scopes);
    json_object_set_new(o, "created_at", time_or_null(k->created_at_us));
    if (with_revoked)
        json_object_set_new(o, "revoked_at", time_or_null(k->revoked_at_us));
    return o;
}

/* Prints the line; false when it could not be made. */
static bool print_key(const Imageproc__ApiKey *k, const char *secret, bool with_revoked)
{
    if (k == NULL) {
        fprintf(stderr, "imgctl: keys: metadata-svc replied without the key\n");
        return false;
    }
    json_t *o = key_json(k, secret, with_revoked);
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (s == NULL) {
        fprintf(stderr, "imgctl: keys: cannot format the key\n");
        return false;
    }
    printf("%s\n", s);
    free(s);
    return true;
}

/* ------------------------------------------------------------------ commands */

static int rpc_failed(const char *what, ip_status st, const char *err)
{
    fprintf(stderr, "imgctl: keys %s: %s: %s\n", what, ip_strerror(st), err);
    return IMGCTL_EXIT_FAILED;
}

static int keys_create(ip_rpc_client *meta, const keys_args *a)
{
    char secret[IP_SECRET_MAX], hash[IP_ACCESS_HASH_MAX], prefix[IP_KEY_PREFIX_LEN + 1];
    char id[IP_UUID_STRLEN + 1], err[512];
    Imageproc__ApiScope scopes[32];
    size_t n = 0;
    for (int s = 1; s < 32; s++)
        if ((a->scopes & (1u << s)) && ip_scope_name((Imageproc__ApiScope)s) != NULL)
            scopes[n++] = (Imageproc__ApiScope)s;
    ip_status st = ip_access_new_secret(IP_SECRET_KEY, secret);
    if (st != IP_OK)
        return rpc_failed("create", st, "no randomness from the system");
    ip_access_hash(secret, hash);
    ip_access_prefix(secret, prefix);
    ip_uuid_v7_str(id);

    Imageproc__ApiKey k = IMAGEPROC__API_KEY__INIT;
    k.id = id;
    k.name = (char *)a->name;
    k.prefix = prefix;
    k.scopes = scopes;
    k.n_scopes = n;
    Imageproc__CreateApiKeyRequest in = IMAGEPROC__CREATE_API_KEY_REQUEST__INIT;
    in.key = &k;
    in.hash = hash;
    Imageproc__CreateApiKeyReply *out = NULL;
    st = ip_metadata_create_api_key(meta, &in, &out, NULL, err, sizeof err);
    int rc = IMGCTL_EXIT_FAILED;
    if (st != IP_OK)
        rc = rpc_failed("create", st, err);
    else if (print_key(out->key, secret, false))
        rc = IMGCTL_EXIT_OK;
    if (out != NULL)
        imageproc__create_api_key_reply__free_unpacked(out, NULL);
    memset(secret, 0, sizeof secret);
    return rc;
}

/* ListApiKeys into *out (free it). */
static ip_status list_keys(ip_rpc_client *meta, bool all, Imageproc__ListApiKeysReply **out,
                           char *err, size_t errlen)
{
    Imageproc__ListApiKeysRequest in = IMAGEPROC__LIST_API_KEYS_REQUEST__INIT;
    in.include_revoked = all;
    return ip_metadata_list_api_keys(meta, &in, out, NULL, err, errlen);
}

static int keys_list(ip_rpc_client *meta, const keys_args *a)
{
    char err[512];
    Imageproc__ListApiKeysReply *out = NULL;
    ip_status st = list_keys(meta, a->all, &out, err, sizeof err);
    if (st != IP_OK)
        return rpc_failed("list", st, err);
    int rc = IMGCTL_EXIT_OK;
    for (size_t i = 0; i < out->n_keys && rc == IMGCTL_EXIT_OK; i++)
        if (!print_key(out->keys[i], NULL, true))
            rc = IMGCTL_EXIT_FAILED;
    imageproc__list_api_keys_reply__free_unpacked(out, NULL);
    return rc;
}

/* The id of the one key (revoked ones included) whose prefix is `prefix`,
 * into id; IMGCTL_EXIT_OK, or the exit status after saying why not. */
static int id_of_prefix(ip_rpc_client *meta, const char *prefix, char id[IP_UUID_STRLEN + 1])
{
    char err[512];
    Imageproc__ListApiKeysReply *out = NULL;
    ip_status st = list_keys(meta, true, &out, err, sizeof err);
    if (st != IP_OK)
        return rpc_failed("revoke", st, err);
    size_t found = 0;
    for (size_t i = 0; i < out->n_keys; i++)
        if (strcmp(out->keys[i]->prefix, prefix) == 0 && found++ == 0)
            snprintf(id, IP_UUID_STRLEN + 1, "%s", out->keys[i]->id);
    imageproc__list_api_keys_reply__free_unpacked(out, NULL);
    if (found == 1)
        return IMGCTL_EXIT_OK;
    fprintf(stderr,
            found == 0 ? "imgctl: keys revoke: no key has the prefix %s\n"
                       : "imgctl: keys revoke: several keys have the prefix %s: give the id\n",
            prefix);
    return IMGCTL_EXIT_FAILED;
}

static int keys_revoke(ip_rpc_client *meta, const keys_args *a)
{
    char id[IP_UUID_STRLEN + 1], err[512];
    snprintf(id, sizeof id, "%s", a->target);
    int rc = a->by_prefix ? id_of_prefix(meta, a->target, id) : IMGCTL_EXIT_OK;
    if (rc != IMGCTL_EXIT_OK)
        return rc;
    Imageproc__RevokeApiKeyRequest in = IMAGEPROC__REVOKE_API_KEY_REQUEST__INIT;
    in.id = id;
    Imageproc__RevokeApiKeyReply *out = NULL;
    ip_status st = ip_metadata_revoke_api_key(meta, &in, &out, NULL, err, sizeof err);
    if (st == IP_NOT_FOUND) {
        fprintf(stderr, "imgctl: keys revoke: no key has the id %s\n", id);
        rc = IMGCTL_EXIT_FAILED;
    } else if (st != IP_OK) {
        rc = rpc_failed("revoke", st, err);
    } else if (!print_key(out->key, NULL, true)) {
        rc = IMGCTL_EXIT_FAILED;
    }
    if (out != NULL)
        imageproc__revoke_api_key_reply__free_unpacked(out, NULL);
    return rc;
}

int imgctl_cmd_keys(const imgctl_env *env, char **args, int nargs)
{
    keys_args a;
    if (!parse_keys(args, nargs, &a))
        return IMGCTL_EXIT_USAGE;
    ip_rpc_client *meta = imgctl_client(env, &imageproc__metadata__descriptor, env->metadata_url);
    if (meta == NULL)
        return IMGCTL_EXIT_USAGE;
    int rc = a.cmd == KEYS_CREATE ? keys_create(meta, &a)
             : a.cmd == KEYS_LIST ? keys_list(meta, &a)
                                  : keys_revoke(meta, &a);
    ip_rpc_client_free(meta);
    return rc;
}
