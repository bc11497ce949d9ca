/* ip_status.h — the one status enum of the project.
 *
 * Every function that can fail returns an ip_status and hands its results out
 * through pointers. The codes are those of the RPC envelope (proto/rpc.proto,
 * RpcCode), so a status crosses a service boundary unchanged. Library errors
 * (libpq, libcurl, librdkafka, nng, libvips) are translated into these codes at
 * the edge where the library is called.
 */
#ifndef IP_STATUS_H
#define IP_STATUS_H

#include <stdbool.h>

typedef enum ip_status {
    IP_OK = 0,
    IP_INVALID_ARGUMENT = 1,    /* malformed input or a bad value */
    IP_NOT_FOUND = 2,           /* the thing named does not exist */
    IP_ALREADY_EXISTS = 3,      /* create of an id that is taken */
    IP_FAILED_PRECONDITION = 4, /* not possible in the current state (e.g. S3 403) */
    IP_UNAVAILABLE = 5,         /* a dependency or the peer is down: retry later */
    IP_DEADLINE_EXCEEDED = 6,   /* the deadline passed */
    IP_INTERNAL = 7,            /* a bug or an unexpected library failure */
    IP_RESOURCE_EXHAUSTED = 8,  /* over a size or count limit, or out of memory */
} ip_status;

#define IP_STATUS_COUNT 9

/* A stable lowercase name for `st` ("ok", "invalid_argument", ...), for logs
 * and metrics labels. Unknown values give "unknown". Never NULL. */
const char *ip_strerror(ip_status st);

/* The one answer, for every part, to "is this failure transient?": true for
 * UNAVAILABLE (a dependency or the peer is down, an S3 5xx or connection
 * error once storage-svc has translated it) and DEADLINE_EXCEEDED (too slow).
 * A transient failure says nothing about the request: the same request may
 * succeed later, so callers retry it (with backoff) instead of failing the
 * work. Every other status is about the request itself (bad input, missing
 * object, a bug: INTERNAL) and retrying it unchanged gives the same answer. */
bool ip_status_is_transient(ip_status st);

#endif
