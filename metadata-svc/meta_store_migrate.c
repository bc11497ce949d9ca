/* meta_store_migrate.c — the schema: applies sql/NNNN_*.sql at start.
 *
 * The migrations travel inside the binary (meta_migrations.h, generated from
 * sql/ by embed_sql.cmake). meta_store_migrate opens a connection of its own
 * (pooled connections prepare statements on tables that may not exist yet),
 * takes a transaction-scoped advisory lock so that services starting at once
 * wait for each other, creates schema_migrations if needed, and applies in
 * name order every migration it does not list, recording each, all in one
 * transaction: a failed migration leaves the schema as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ip_log.h"
#include "meta_migrations.h"
#include "meta_store_internal.h"

#define META_MIGRATION_LOCK "7101001" /* pg_advisory_xact_lock key of the migrations */

ip_status meta_store_migrate(meta_store *s, meta_ctx *cx, int *applied)
{
    ip_status st;
    int done = 0;
    PGresult *r = NULL;
    char *have = NULL; /* one flag per embedded migration */
    if (applied != NULL)
        *applied = 0;

    /* A connection of its own: pooled connections prepare statements on
     * tables that may not exist before this runs. */
    char tmo[16];
    snprintf(tmo, sizeof(tmo), "%d", s->connect_timeout_s > 0 ? s->connect_timeout_s : 2);
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *vals[] = {s->dsn, tmo, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        st = meta_pg_error(conn, NULL, cx->err, sizeof(cx->err));
        goto out;
    }
    PQclear(PQexec(conn, "SET client_min_messages = warning"));
    if ((st = meta_db_run_simple(cx, conn, "BEGIN")) != IP_OK ||
        (st = meta_db_run_simple(
             cx, conn, "SELECT pg_advisory_xact_lock(" META_MIGRATION_LOCK ")")) != IP_OK ||
        (st = meta_db_run_simple(
             cx, conn,
             "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY,"
             " applied_at timestamptz NOT NULL DEFAULT now())")) != IP_OK)
        goto out;
    r = PQexec(conn, "SELECT version FROM schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        st = meta_pg_error(conn, r, cx->err, sizeof(cx->err));
        goto out;
    }
    have = calloc(meta_migrations_count + 1, 1);
    if (have == NULL) {
        st = meta_cx_nomem(cx);
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++)
        for (size_t m = 0; m < meta_migrations_count; m++)
            if (strcmp(PQgetvalue(r, i, 0), meta_migrations[m].version) == 0)
                have[m] = 1;
    PQclear(r);
    r = NULL;
    for (size_t m = 0; m < meta_migrations_count; m++) {
        if (have[m])
            continue;
        if ((st = meta_db_run_simple(cx, conn, meta_migrations[m].sql)) != IP_OK) {
            char msg[200];
            snprintf(msg, sizeof(msg), "%.199s", cx->err);
            snprintf(cx->err, sizeof(cx->err), "migration %.40s: %s", meta_migrations[m].version,
                     msg);
            goto out;
        }
        const char *params[] = {meta_migrations[m].version};
        r = PQexecParams(conn, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, NULL,
                         params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            st = meta_pg_error(conn, r, cx->err, sizeof(cx->err));
            goto out;
        }
        PQclear(r);
        r = NULL;
        ip_log(IP_LOG_INFO, "migration.applied", IP_LS("version", meta_migrations[m].version));
        done++;
    }
    if ((st = meta_db_commit(cx, conn)) != IP_OK)
        goto out;
    if (applied != NULL)
        *applied = done;
out:
    free(have);
    PQclear(r);
    if (conn != NULL)
        PQfinish(conn); /* an open transaction is rolled back by the server */
    return st;
}
