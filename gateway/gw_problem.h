/* gw_problem.h — RFC 9457 problem details (application/problem+json). */
#ifndef GW_PROBLEM_H
#define GW_PROBLEM_H

#include <stddef.h>

/* The reason phrase of an HTTP status ("Not Found"); "Error" when unknown. */
const char *gw_http_reason(int status);

/* {"type":"about:blank","title":<reason>,"status":<status>,"detail":<detail>[,
 * "param":<param>]} as an owned, NUL-terminated string (free()); *len is its
 * length. `param` may be NULL. `detail` is escaped (any bytes: invalid UTF-8 is
 * replaced). NULL only when out of memory. */
char *gw_problem_json(int status, const char *detail, const char *param, size_t *len);

#endif
