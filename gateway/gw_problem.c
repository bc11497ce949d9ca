/* gw_problem.c — problem+json bodies, built with jansson so that any detail
 * text (which may quote user input) is escaped correctly. */
#include "gw_problem.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

const char *gw_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Error";
    }
}

char *gw_problem_json(int status, const char *type, const char *detail, const char *param,
                      const char *code, size_t *len)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "type", json_string(type ? type : "about:blank"));
    json_object_set_new(o, "title", json_string(gw_http_reason(status)));
    json_object_set_new(o, "status", json_integer(status));
    const char *d = detail ? detail : gw_http_reason(status);
    json_t *js = json_string(d);
    if (!js) { /* not valid UTF-8: keep the ASCII */
        char *copy = strdup(d);
        if (copy)
            for (char *c = copy; *c; c++)
                if ((unsigned char)*c >= 0x80)
                    *c = '?';
        js = json_string(copy ? copy : "invalid detail");
        free(copy);
    }
    json_object_set_new(o, "detail", js);
    if (param)
        json_object_set_new(o, "param", json_string(param));
    if (code)
        json_object_set_new(o, "reason", json_string(code));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s && len)
        *len = strlen(s);
    return s;
}
