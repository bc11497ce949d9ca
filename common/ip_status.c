/* ip_status.c — names for the project-wide status codes (see ip_status.h). */
#include "ip_status.h"

static const char *const names[IP_STATUS_COUNT] = {
    [IP_OK] = "ok",
    [IP_INVALID_ARGUMENT] = "invalid_argument",
    [IP_NOT_FOUND] = "not_found",
    [IP_ALREADY_EXISTS] = "already_exists",
    [IP_FAILED_PRECONDITION] = "failed_precondition",
    [IP_UNAVAILABLE] = "unavailable",
    [IP_DEADLINE_EXCEEDED] = "deadline_exceeded",
    [IP_INTERNAL] = "internal",
    [IP_RESOURCE_EXHAUSTED] = "resource_exhausted",
};

const char *ip_strerror(ip_status st)
{
    if ((unsigned)st >= IP_STATUS_COUNT)
        return "unknown";
    return names[st];
}

bool ip_status_is_transient(ip_status st)
{
    return st == IP_UNAVAILABLE || st == IP_DEADLINE_EXCEEDED;
}
