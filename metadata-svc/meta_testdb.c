/* meta_testdb.c — see meta_testdb.h. libpq parses the connection string into
 * its keyword list; every keyword with a value is written back as keyword='value'
 * (quotes and backslashes escaped), dbname replaced.
 */
#include "meta_testdb.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <string.h>

/* Appends the n bytes of s at *len; false when they and a NUL do not fit. */
static bool put(char *out, size_t outlen, size_t *len, const char *s, size_t n)
{
    if (n >= outlen - *len)
        return false;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
    return true;
}

ip_status meta_dsn_with_db(const char *dsn, const char *db, char *out, size_t outlen)
{
    if (outlen == 0)
        return IP_INVALID_ARGUMENT;
    out[0] = '\0';
    PQconninfoOption *opts = PQconninfoParse(dsn, NULL);
    if (opts == NULL)
        return IP_INVALID_ARGUMENT;
    ip_status st = IP_OK;
    size_t len = 0;
    for (PQconninfoOption *o = opts; o->keyword != NULL && st == IP_OK; o++) {
        const char *v = strcmp(o->keyword, "dbname") == 0 ? db : o->val;
        if (v == NULL || v[0] == '\0')
            continue;
        bool ok = put(out, outlen, &len, o->keyword, strlen(o->keyword)) &&
                  put(out, outlen, &len, "='", 2);
        for (const char *p = v; ok && *p; p++) {
            if (*p == '\'' || *p == '\\')
                ok = put(out, outlen, &len, "\\", 1);
            ok = ok && put(out, outlen, &len, p, 1);
        }
        if (!ok || !put(out, outlen, &len, "' ", 2))
            st = IP_INVALID_ARGUMENT;
    }
    PQconninfoFree(opts);
    if (st != IP_OK)
        out[0] = '\0';
    return st;
}
