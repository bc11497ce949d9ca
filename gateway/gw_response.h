/* gw_response.h — queuing a request's answer.
 *
 * Every handler answers through these: JSON (Cache-Control no-store unless
 * told otherwise), problem+json for every 4xx/5xx (RFC 9457; a bad parameter
 * names itself in `param`), text, or a response the handler built. Each
 * records the status in the gw_req (for the metrics) and marks it answered.
 * They return what libmicrohttpd's access handler returns: MHD_NO only when
 * the answer could not be made (out of memory), which closes the connection.
 */
#ifndef GW_RESPONSE_H
#define GW_RESPONSE_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>

#include "gw_jbuf.h"
#include "gw_request.h"
#include "ip_status.h"

/* Queues `r` (consumed, even on failure; NULL gives MHD_NO) with `status`. */
enum MHD_Result gw_queue(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                         struct MHD_Response *r);
/* An empty body to add headers to (queue it with gw_queue). NULL when out of memory. */
struct MHD_Response *gw_response_empty(void);

/* `body` of `len` bytes as `ctype`. owned: handed over (freed by the response,
 * or here on failure); else it must outlive the response (static text). */
enum MHD_Result gw_send_text(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                             const char *ctype, char *body, size_t len, bool owned);

/* problem+json with `detail` (any text; escaped) and `param` (NULL: none). */
enum MHD_Result gw_send_problem(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                const char *detail, const char *param);
/* The same with one extra header (`hname`: hval), e.g. Retry-After or Allow. */
enum MHD_Result gw_send_problem_h(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                  const char *detail, const char *param, const char *hname,
                                  const char *hval);
/* The same with `code`, a stable machine-readable cause, as the body's
 * "reason" member (NULL: none). */
enum MHD_Result gw_send_refusal(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                const char *code, const char *detail, const char *param,
                                const char *hname, const char *hval);
/* The same with a problem `type` of its own (a URI; NULL: "about:blank"). */
enum MHD_Result gw_send_refusal_typed(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                                      const char *type, const char *code, const char *detail,
                                      const char *param, const char *hname, const char *hval);
/* A refusal by the access rules: 401 with `WWW-Authenticate: Bearer
 * realm="imageprocessor"` (and error="invalid_token" when `invalid`: the
 * credential sent was malformed, unknown or revoked), or 403; problem+json
 * with `detail` (what would be allowed). */
enum MHD_Result gw_send_denied(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                               const char *detail, bool invalid);
/* The same for a gw_verdict that refused (gw_auth.h). */
enum MHD_Result gw_send_verdict(struct MHD_Connection *conn, gw_req *rq, gw_verdict v);

/* 503 with Retry-After for a dependency (`what`: "metadata service") that
 * failed with `st`. */
enum MHD_Result gw_send_dependency(struct MHD_Connection *conn, gw_req *rq, const char *what,
                                   ip_status st);

/* `j` as application/json; `j` is consumed (json_decref). A NULL `j` (out of
 * memory while building it) or one that does not encode answers 500. */
enum MHD_Result gw_send_json(struct MHD_Connection *conn, gw_req *rq, unsigned status, json_t *j);
/* The same with Cache-Control `cache` (NULL: "no-store") and one extra header
 * (hname NULL: none). */
enum MHD_Result gw_send_json_h(struct MHD_Connection *conn, gw_req *rq, unsigned status, json_t *j,
                               const char *cache, const char *hname, const char *hval);

/* The text of `jb` as application/json (gw_jbuf_take: the text is handed to
 * the response, and jb is left empty); Cache-Control `cache` (NULL:
 * "no-store") and one extra header (hname NULL: none). A writer that failed
 * (out of room or memory, or a text that does not encode) answers 500. */
enum MHD_Result gw_send_jbuf_h(struct MHD_Connection *conn, gw_req *rq, unsigned status,
                               gw_jbuf *jb, const char *cache, const char *hname, const char *hval);

#endif
