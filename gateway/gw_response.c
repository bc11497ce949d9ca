/* gw_response.c — the answers handlers queue: JSON, problem+json, text, or a
 * prepared response. Bodies are handed to libmicrohttpd (MUST_FREE) or are
 * static; each answer records its status in the request for the metrics. */
#include "gw_response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_problem.h"

enum MHD_Result gw_queue(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                         struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    rq->status = status;
    rq->responded = true;
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

struct MHD_Response *gw_response_empty(void)
{
    return MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
}

enum MHD_Result gw_send_text(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                             const char *ctype, char *body, size_t len, bool owned)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    return gw_queue(conn, rq, status, r);
}

enum MHD_Result gw_send_problem_h(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                  const char *detail, const char *param, const char *hname,
                                  const char *hval)
{
    return gw_send_refusal(conn, rq, status, NULL, detail, param, hname, hval);
}

enum MHD_Result gw_send_refusal(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                const char *code, const char *detail, const char *param,
                                const char *hname, const char *hval)
{
    return gw_send_refusal_typed(conn, rq, status, NULL, code, detail, param, hname, hval);
}

enum MHD_Result gw_send_refusal_typed(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                      const char *type, const char *code, const char *detail,
                                      const char *param, const char *hname, const char *hval)
{
    size_t len = 0;
    char *body = gw_problem_json((int)status, type, detail, param, code, &len);
    if (!body)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/problem+json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (hname)
        MHD_add_response_header(r, hname, hval);
    return gw_queue(conn, rq, status, r);
}

enum MHD_Result gw_send_problem(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                const char *detail, const char *param)
{
    return gw_send_problem_h(conn, rq, status, detail, param, NULL, NULL);
}

enum MHD_Result gw_send_dependency(struct MHD_Connection *conn, gw_req *rq, const char *what,
                                   ip_status st)
{
    char d[200];
    snprintf(d, sizeof d, "the %s is not available right now (%s); try again shortly", what,
             ip_strerror(st));
    return gw_send_problem_h(conn, rq, 503, d, NULL, "Retry-After", "2");
}

/* `s` (owned, `len` bytes; NULL: it could not be made) as application/json. */
static enum MHD_Result send_json_text(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                      char *s, size_t len, const char *cache, const char *hname,
                                      const char *hval)
{
    if (!s)
        return gw_send_problem(conn, rq, 500, "the answer could not be encoded", NULL);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, s, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", cache ? cache : "no-store");
    if (hname)
        MHD_add_response_header(r, hname, hval);
    return gw_queue(conn, rq, status, r);
}

enum MHD_Result gw_send_json_h(struct MHD_Connection *conn, gw_req *rq, unsigned status, json_t *j,
                               const char *cache, const char *hname, const char *hval)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return send_json_text(conn, rq, status, s, s ? strlen(s) : 0, cache, hname, hval);
}

enum MHD_Result gw_send_jbuf_h(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                               gw_jbuf *jb, const char *cache, const char *hname, const char *hval)
{
    size_t len = 0;
    char *s = gw_jbuf_take(jb, &len);
    return send_json_text(conn, rq, status, s, len, cache, hname, hval);
}

enum MHD_Result gw_send_json(struct MHD_Connection *conn, gw_req *rq, unsigned status, json_t *j)
{
    return gw_send_json_h(conn, rq, status, j, NULL, NULL, NULL);
}

enum MHD_Result gw_send_denied(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                               const char *detail, bool invalid)
{
    if (status != 401)
        return gw_send_problem(conn, rq, status, detail, NULL);
    const char *challenge = invalid ? "Bearer realm=\"imageprocessor\", error=\"invalid_token\""
                                    : "Bearer realm=\"imageprocessor\"";
    return gw_send_problem_h(conn, rq, 401, detail, NULL, "WWW-Authenticate", challenge);
}

enum MHD_Result gw_send_verdict(struct MHD_Connection *conn, gw_req *rq, gw_verdict v)
{
    return gw_send_denied(conn, rq, v.status, v.need, false);
}
