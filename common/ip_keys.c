/* ip_keys.c — object keys and the bucket policy (see ip_keys.h). */
#include "ip_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    return n > 0 && n <= IP_KEY_ID_MAX && strchr(id, '/') == NULL;
}

static ip_status put(char buf[IP_KEY_MAX], int n)
{
    if (n < 0 || n >= IP_KEY_MAX) {
        buf[0] = '\0';
        return IP_INVALID_ARGUMENT;
    }
    return IP_OK;
}

ip_status ip_key_original(char buf[IP_KEY_MAX], const char *id)
{
    if (!id_ok(id))
        return put(buf, -1);
    return put(buf, snprintf(buf, IP_KEY_MAX, IP_KEY_ORIGINAL_PREFIX "%s", id));
}

ip_status ip_key_variant(char buf[IP_KEY_MAX], const char *id, ip_variant_kind kind,
                         const ip_format_def *fmt)
{
    const char *name = ip_variant_name(kind);
    if (!id_ok(id) || name == NULL || fmt == NULL)
        return put(buf, -1);
    return put(buf, snprintf(buf, IP_KEY_MAX, IP_KEY_PUBLIC_PREFIX "%s/%s.%s", id, name, fmt->ext));
}

ip_status ip_key_variant_version(char buf[IP_KEY_MAX], const char *id, ip_variant_kind kind,
                                 const ip_format_def *fmt, int preset_version)
{
    if (preset_version <= 1)
        return ip_key_variant(buf, id, kind, fmt);
    const char *name = ip_variant_name(kind);
    if (!id_ok(id) || name == NULL || fmt == NULL)
        return put(buf, -1);
    return put(buf, snprintf(buf, IP_KEY_MAX, IP_KEY_PUBLIC_PREFIX "%s/%s.v%d.%s", id, name,
                             preset_version, fmt->ext));
}

ip_status ip_key_logo(char buf[IP_KEY_MAX], const char *sha256_hex)
{
    size_t n = sha256_hex ? strlen(sha256_hex) : 0;
    if (n != 64 || strspn(sha256_hex, "0123456789abcdef") != 64)
        return put(buf, -1);
    return put(buf, snprintf(buf, IP_KEY_MAX, IP_KEY_LOGO_PREFIX "%s.png", sha256_hex));
}

bool ip_key_is_logo(const char *key)
{
    size_t n = strlen(IP_KEY_LOGO_PREFIX);
    return key != NULL && strlen(key) == n + 64 + 4 && strncmp(key, IP_KEY_LOGO_PREFIX, n) == 0 &&
           strspn(key + n, "0123456789abcdef") == 64 && strcmp(key + n + 64, ".png") == 0;
}

ip_status ip_key_variant_prefix(char buf[IP_KEY_MAX], const char *id)
{
    if (!id_ok(id))
        return put(buf, -1);
    return put(buf, snprintf(buf, IP_KEY_MAX, IP_KEY_PUBLIC_PREFIX "%s/", id));
}

bool ip_key_is_public(const char *key)
{
    size_t n = strlen(IP_KEY_PUBLIC_PREFIX);
    return key != NULL && strncmp(key, IP_KEY_PUBLIC_PREFIX, n) == 0 && key[n] != '\0';
}

char *ip_key_media_path(const char *key)
{
    if (!ip_key_is_public(key))
        return NULL;
    const char *rest = key + strlen(IP_KEY_PUBLIC_PREFIX);
    char *path = NULL;
    if (asprintf(&path, IP_MEDIA_PATH_PREFIX "%s", rest) < 0)
        return NULL;
    return path;
}

/* A bucket name as S3 allows it (3-63 of a-z, 0-9, '.', '-'), which also
 * needs no escaping inside the policy's JSON string. */
static bool bucket_ok(const char *bucket)
{
    size_t n = bucket != NULL ? strlen(bucket) : 0;
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = bucket[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-'))
            return false;
    }
    return true;
}

char *ip_bucket_policy_json(const char *bucket)
{
    char *body = NULL;
    if (!bucket_ok(bucket))
        return NULL;
    if (asprintf(&body,
                 "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"PublicVariants\","
                 "\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"*\"]},"
                 "\"Action\":[\"s3:GetObject\"],"
                 "\"Resource\":[\"arn:aws:s3:::%s/" IP_KEY_PUBLIC_PREFIX "*\"]}]}",
                 bucket) < 0)
        return NULL;
    return body;
}
