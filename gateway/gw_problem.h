/* gw_problem.h — RFC 9457 problem details (application/problem+json). */
#ifndef GW_PROBLEM_H
#define GW_PROBLEM_H

#include <stddef.h>

/* The reason phrase of an HTTP status ("Not Found"); "Error" when unknown. */
const char *gw_http_reason(int status);

/* {"type":<type>,"title":<reason phrase>,"status":<status>,"detail":<detail>[,
 * "param":<param>][,"reason":<code>]} as an owned, NUL-terminated string
 * (free()); *len is its length. `type` NULL is "about:blank" (the status says
 * it all); `param` and `code` (a stable machine-readable cause, e.g.
 * "metadata_too_large") may be NULL. `detail` is escaped (any bytes: invalid
 * UTF-8 is replaced). NULL only when out of memory. */
char *gw_problem_json(int status, const char *type, const char *detail, const char *param,
                      const char *code, size_t *len);

#endif
