/*
 * infra.pg.roundtrip — PostgreSQL is real and reachable the way metadata-svc
 * uses it: libpq connects with IP_PG_DSN (password auth over TCP), creates a
 * temporary table, writes a row with a parameterised INSERT (text, bigint,
 * timestamptz with microseconds) and reads it back exactly.
 */
#include <libpq-fe.h>
#include <string.h>

#include "infra_env.h"
#include "ip_testing.h"

static void test_roundtrip(void)
{
    const char *dsn =
        infra_env("IP_PG_DSN", "postgresql://imageproc:imageproc-local@127.0.0.1:55432/imageproc");
    PGconn *conn = PQconnectdb(dsn);
    char name[64];
    infra_unique(name, sizeof name, "infra");
    CHECKF(PQstatus(conn) == CONNECTION_OK, "connect: %s", PQerrorMessage(conn));

    PGresult *res = PQexec(conn, "create temporary table infra_rt (name text primary key, "
                                 "n bigint, at timestamptz not null)");
    CHECKF(PQresultStatus(res) == PGRES_COMMAND_OK, "create: %s", PQerrorMessage(conn));
    PQclear(res);

    const char *params[3] = {name, "9007199254740993", "2026-01-02T03:04:05.123456Z"};
    res = PQexecParams(conn, "insert into infra_rt (name, n, at) values ($1, $2, $3)", 3, NULL,
                       params, NULL, NULL, 0);
    CHECKF(PQresultStatus(res) == PGRES_COMMAND_OK, "insert: %s", PQerrorMessage(conn));
    PQclear(res);

    res = PQexecParams(conn,
                       "select n, to_char(at at time zone 'UTC', "
                       "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') from infra_rt where name = $1",
                       1, NULL, params, NULL, NULL, 0);
    CHECKF(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1, "select: %s (%d rows)",
           PQerrorMessage(conn), PQntuples(res));
    EXPECT_EQ_STR(PQgetvalue(res, 0, 0), params[1]);
    EXPECT_EQ_STR(PQgetvalue(res, 0, 1), params[2]);
    printf("infra.pg.roundtrip: server %d\n", PQserverVersion(conn));
    PQclear(res);
    PQfinish(conn);
}

static const ip_test_case tests[] = {IP_TEST(roundtrip)};
IP_TEST_MAIN(tests)
