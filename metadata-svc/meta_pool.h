/* meta_pool.h — a fixed pool of PostgreSQL connections that heals itself.
 *
 * The pool holds `size` slots. A caller borrows one with meta_pool_acquire
 * (waiting at most timeout_ms for a free slot) and gives it back with
 * meta_pool_release. Connections are made lazily and remade on the way out of
 * acquire whenever libpq says the connection is bad (PQstatus after a
 * non-blocking PQconsumeInput, so a server restart is noticed before the first
 * statement fails); each new connection runs the pool's on_connect hook (which
 * prepares the statements) before it is handed out.
 *
 * While PostgreSQL is down every acquire answers IP_UNAVAILABLE at once: a
 * failed connect is remembered for a short back-off, during which no further
 * connect is tried, and connects themselves carry a small connect_timeout.
 */
#ifndef META_POOL_H
#define META_POOL_H

#include <libpq-fe.h>
#include <stddef.h>

#include "ip_status.h"

typedef struct meta_pool meta_pool;

/* Prepares a fresh connection (statements, settings). Returns IP_OK or an error
 * with a message in err. */
typedef ip_status (*meta_pool_on_connect)(void *user, PGconn *conn, char *err, size_t errlen);

typedef struct meta_pool_opts {
    const char *dsn;       /* libpq URI or key=value string (borrowed, copied) */
    int size;              /* connections, >= 1 */
    int connect_timeout_s; /* added unless the dsn sets connect_timeout; <= 0 means 2 */
    int backoff_ms;        /* no reconnect within this long after a failed one; <= 0 means 100 */
    meta_pool_on_connect on_connect; /* may be NULL */
    void *user;
} meta_pool_opts;

/* Makes the pool; no connection is made yet. IP_INVALID_ARGUMENT for a dsn that
 * does not parse (message in err). */
ip_status meta_pool_new(const meta_pool_opts *opts, meta_pool **out, char *err, size_t errlen);

/* Closes every connection. No connection may be borrowed. NULL does nothing. */
void meta_pool_free(meta_pool *p);

/* Borrows a connected, prepared connection. IP_DEADLINE_EXCEEDED when no slot
 * frees within timeout_ms, IP_UNAVAILABLE when the database cannot be reached
 * (message in err). On IP_OK *conn is borrowed until meta_pool_release. */
ip_status meta_pool_acquire(meta_pool *p, int timeout_ms, PGconn **conn, char *err, size_t errlen);

/* Gives `conn` back. A connection left inside a transaction is rolled back;
 * a broken one is remade by a later acquire. */
void meta_pool_release(meta_pool *p, PGconn *conn);

/* Translates a failed libpq result (NULL allowed) on `conn` into a status by its
 * SQLSTATE: connection problems and shutdowns -> IP_UNAVAILABLE, unique
 * violation -> IP_ALREADY_EXISTS, data and constraint errors ->
 * IP_INVALID_ARGUMENT, serialization/deadlock -> IP_UNAVAILABLE, anything else
 * -> IP_INTERNAL. The message goes to err. */
ip_status meta_pg_error(PGconn *conn, const PGresult *res, char *err, size_t errlen);

#endif
