/* gw_request.c — a request's life (made at the headers, freed at completion
 * with its deferred cleanups) and the small readers of the request that every
 * handler uses: query arguments, headers, the public prefix. */
#include "gw_request.h"

#include <assert.h>
#include <protobuf-c/protobuf-c.h>
#include <stdlib.h>
#include <string.h>

#include "gw_receive.h"
#include "ip_time.h"

gw_req *gw_req_new(const char *url)
{
    gw_req *rq = calloc(1, sizeof *rq);
    if (!rq)
        return NULL;
    rq->start_us = ip_now_us();
    rq->route = gw_route_match_ids(url, rq->id, rq->id2);
    return rq;
}

void gw_req_free(gw_req *rq)
{
    if (!rq)
        return;
    while (rq->ndefer > 0) {
        rq->ndefer--;
        rq->defer[rq->ndefer].fn(rq->defer[rq->ndefer].arg);
    }
    gw_receive_free(rq->rx);
    free(rq->body);
    free(rq);
}

void gw_req_defer(gw_req *rq, void (*fn)(void *), void *arg)
{
    assert(rq->ndefer < GW_REQ_DEFER_MAX);
    rq->defer[rq->ndefer].fn = fn;
    rq->defer[rq->ndefer].arg = arg;
    rq->ndefer++;
}

static void free_message(void *msg)
{
    protobuf_c_message_free_unpacked(msg, NULL);
}

void *gw_req_defer_message(gw_req *rq, void *msg)
{
    if (msg)
        gw_req_defer(rq, free_message, msg);
    return msg;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    gw_args *a = cls;
    if (a->n >= GW_MAX_QUERY_ARGS) {
        a->overflow = true;
        return MHD_NO;
    }
    a->kv[a->n].key = key ? key : "";
    a->kv[a->n].value = value ? value : "";
    a->n++;
    return MHD_YES;
}

bool gw_req_args(struct MHD_Connection *conn, gw_args *out)
{
    out->n = 0;
    out->overflow = false;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, out);
    return !out->overflow;
}

const char *gw_req_header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

const char *gw_req_public_prefix(struct MHD_Connection *conn)
{
    const char *p = gw_req_header(conn, "X-Forwarded-Prefix");
    if (!p || p[0] != '/' || strlen(p) > 64)
        return "";
    for (const char *c = p; *c; c++)
        if (!(*c == '/' || *c == '-' || *c == '_' || *c == '.' || (*c >= 'a' && *c <= 'z') ||
              (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
            return "";
    return strcmp(p, "/") == 0 ? "" : p;
}
