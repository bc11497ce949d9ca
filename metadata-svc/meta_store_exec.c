/* meta_store_exec.c — how the store runs SQL: statements within the call's
 * deadline, transactions on pooled connections, and the per-call context.
 *
 * DEADLINES
 * Every statement answers by the call's deadline (exec_bounded): the query is
 * sent and its answer awaited with poll(2), so a database that stops answering
 * (a lock held elsewhere, a stalled server) costs a call its deadline, never a
 * hang. The connection is then left mid-query; meta_pool_release sees that and
 * closes it, and the server rolls the transaction back when it finds the
 * client gone.
 *
 * DEAD CONNECTIONS
 * A pooled connection may have died since its last use (the server restarted
 * or dropped it) in a way the pool could not see yet. Nothing ran on it, so a
 * read (meta_db_query), or a write whose BEGIN fails that way (meta_db_begin),
 * runs once more on a fresh connection. Nothing else is repeated: a write that
 * failed after its BEGIN reports its error.
 *
 * The context (meta_ctx) carries the call's arena, its deadline and the
 * message of a failure; every function here that fails writes cx->err.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ip_log.h"
#include "ip_time.h"
#include "meta_pool.h"
#include "meta_store_internal.h"

/* ------------------------------------------------------------- context */

void *meta_cx_alloc(meta_ctx *cx, size_t n)
{
    return cx->alloc(cx->arena, n);
}

char *meta_cx_strdup(meta_ctx *cx, const char *s)
{
    size_t n = strlen(s);
    char *p = meta_cx_alloc(cx, n + 1);
    if (p != NULL)
        memcpy(p, s, n + 1);
    return p;
}

ip_status meta_cx_fail(meta_ctx *cx, ip_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cx->err, sizeof(cx->err), fmt, ap);
    va_end(ap);
    return st;
}

ip_status meta_cx_nomem(meta_ctx *cx)
{
    return meta_cx_fail(cx, IP_RESOURCE_EXHAUSTED, "out of memory");
}

/* ------------------------------------------------------------- statements */

/* Runs one statement (prepared `name`, or the simple query `sql` when name is
 * NULL) and waits for its result until cx->deadline_ms. Without a deadline it
 * is PQexec/PQexecPrepared. With one, the query is sent and its answer awaited
 * with poll(2), so a database that stops answering (a lock held elsewhere, a
 * stalled server) costs the caller its deadline, not a hang: on timeout the
 * result is NULL, *st is IP_DEADLINE_EXCEEDED and the connection is left
 * mid-query, which meta_pool_release recognises and closes (the server rolls
 * the transaction back when it finds the client gone). Otherwise *st is
 * IP_OK and the last result is returned (the caller checks and clears it). */
static PGresult *exec_bounded(meta_ctx *cx, PGconn *conn, const char *name, const char *sql,
                              int nparams, const char *const *params, ip_status *st)
{
    *st = IP_OK;
    if (cx->deadline_ms <= 0)
        return name ? PQexecPrepared(conn, name, nparams, params, NULL, NULL, 0)
                    : PQexec(conn, sql);
    int sent = name ? PQsendQueryPrepared(conn, name, nparams, params, NULL, NULL, 0)
                    : PQsendQuery(conn, sql);
    if (!sent)
        return NULL; /* meta_pg_error reads the connection's message */
    PGresult *last = NULL;
    for (;;) {
        while (PQisBusy(conn)) {
            int64_t left = cx->deadline_ms - ip_mono_ms();
            struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
            int rc = left > 0 ? poll(&pfd, 1, (int)left) : 0;
            if (rc == 0) {
                PQclear(last);
                *st = meta_cx_fail(cx, IP_DEADLINE_EXCEEDED,
                                   "database: no answer before the deadline");
                return NULL;
            }
            if (rc < 0 && errno == EINTR)
                continue;
            if (rc < 0 || !PQconsumeInput(conn)) {
                PQclear(last);
                return NULL;
            }
        }
        PGresult *r = PQgetResult(conn);
        if (r == NULL)
            return last;
        /* Keep the first error, else the last result. */
        ExecStatusType es = PQresultStatus(r);
        if (last != NULL &&
            (PQresultStatus(last) == PGRES_FATAL_ERROR ||
             (es != PGRES_FATAL_ERROR && es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK))) {
            PQclear(r);
            continue;
        }
        PQclear(last);
        last = r;
    }
}

ip_status meta_db_run(meta_ctx *cx, PGconn *conn, meta_stmt st, int nparams,
                      const char *const *params, PGresult **res)
{
    ip_status s;
    *res = NULL;
    PGresult *r = exec_bounded(cx, conn, meta_stmt_name(st), NULL, nparams, params, &s);
    ExecStatusType es = PQresultStatus(r);
    if (s == IP_OK && (es == PGRES_TUPLES_OK || es == PGRES_COMMAND_OK)) {
        *res = r;
        return IP_OK;
    }
    if (s == IP_OK)
        s = meta_pg_error(conn, r, cx->err, sizeof(cx->err));
    ip_log(s == IP_INTERNAL ? IP_LOG_ERROR : IP_LOG_WARN, "pg.statement_failed",
           IP_LS("statement", meta_stmt_name(st)), IP_LS("code", ip_strerror(s)),
           IP_LS("err", cx->err));
    PQclear(r);
    return s;
}

ip_status meta_db_run_simple(meta_ctx *cx, PGconn *conn, const char *sql)
{
    ip_status s;
    PGresult *r = exec_bounded(cx, conn, NULL, sql, 0, NULL, &s);
    if (s == IP_OK &&
        (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)) {
        PQclear(r);
        return IP_OK;
    }
    if (s == IP_OK)
        s = meta_pg_error(conn, r, cx->err, sizeof(cx->err));
    PQclear(r);
    return s;
}

/* True when `conn` died under the statement that just failed: the server
 * restarted or dropped it while it sat in the pool. Nothing ran, so the
 * statement may go again on a fresh connection. */
static bool lost_connection(PGconn *conn)
{
    return PQstatus(conn) == CONNECTION_BAD;
}

/* ------------------------------------------------------------- transactions */

ip_status meta_db_begin(meta_store *s, meta_ctx *cx, PGconn **conn)
{
    ip_status st = IP_UNAVAILABLE;
    for (int attempt = 0; attempt < 2; attempt++) {
        st = meta_pool_acquire(s->pool, cx->timeout_ms, conn, cx->err, sizeof(cx->err));
        if (st != IP_OK)
            return st;
        if ((st = meta_db_run_simple(cx, *conn, "BEGIN")) == IP_OK)
            return IP_OK;
        bool retry = lost_connection(*conn);
        meta_pool_release(s->pool, *conn);
        *conn = NULL;
        if (!retry)
            break;
    }
    return st;
}

ip_status meta_db_query(meta_store *s, meta_ctx *cx, meta_stmt stmt, int nparams,
                        const char *const *params, PGresult **res)
{
    ip_status st = IP_UNAVAILABLE;
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *conn = NULL;
        st = meta_pool_acquire(s->pool, cx->timeout_ms, &conn, cx->err, sizeof(cx->err));
        if (st != IP_OK)
            return st;
        st = meta_db_run(cx, conn, stmt, nparams, params, res);
        bool retry = st != IP_OK && lost_connection(conn);
        meta_pool_release(s->pool, conn);
        if (!retry)
            break;
    }
    return st;
}

ip_status meta_db_commit(meta_ctx *cx, PGconn *conn)
{
    ip_status st;
    PGresult *r = exec_bounded(cx, conn, NULL, "COMMIT", 0, NULL, &st);
    /* A COMMIT of a failed transaction reports "ROLLBACK"; we never send one,
     * but a COMMIT is only a success when it says so. */
    if (st == IP_OK &&
        (PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(r), "COMMIT") != 0)) {
        st = meta_pg_error(conn, r, cx->err, sizeof(cx->err));
        if (st == IP_OK)
            st = IP_INTERNAL;
    }
    PQclear(r);
    return st;
}

int64_t meta_db_i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}
