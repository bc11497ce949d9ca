/* meta_testdb.h — what the integration tests and the benchmark of metadata-svc
 * share to reach a database of their own (test and benchmark code only; the
 * service does not link it).
 */
#ifndef META_TESTDB_H
#define META_TESTDB_H

#include <stddef.h>

#include "ip_status.h"

/* Writes the connection string dsn (URI or key=value) with its database name
 * replaced by db into out, as key=value pairs with quoted values, NUL-terminated.
 * IP_INVALID_ARGUMENT when dsn does not parse or the result does not fit in
 * outlen bytes (out is then empty). */
ip_status meta_dsn_with_db(const char *dsn, const char *db, char *out, size_t outlen);

#endif
