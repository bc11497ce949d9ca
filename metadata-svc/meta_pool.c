/* meta_pool.c — a fixed pool of PostgreSQL connections that heals itself.
 *
 * HOW IT WORKS
 * Slots are handed out from a free stack under one mutex; a borrower that
 * finds none waits on a condition variable (CLOCK_MONOTONIC) until its
 * timeout. All network work happens outside the mutex: once a borrower owns a
 * slot it checks the connection: PQconsumeInput reads whatever the server sent
 * while the connection sat idle, and a poll for POLLRDHUP sees a server that
 * hung up (a restart or pg_terminate_backend sends a FATAL message and closes
 * its end, which PQstatus alone does not show until the next statement fails).
 * It remakes a bad or missing connection with PQconnectdbParams, then runs
 * on_connect (prepared statements live per connection, so they are prepared
 * again after every reconnect).
 *
 * OUTAGES
 * A connection that dies with the server while borrowed, or whose hang-up had
 * not arrived yet, fails its statement; the store repeats a read, or a
 * transaction whose BEGIN failed, once on a fresh connection
 * (meta_store_exec.c), so a restart between calls is invisible to callers.
 *
 * A failed connect records the time and the message. For backoff_ms after that
 * every borrower that would have to connect answers IP_UNAVAILABLE with the
 * recorded message instead of trying again, so an outage costs callers
 * microseconds, not a connect each. Connections that are still good keep
 * serving. connect_timeout bounds a connect to an address that does not answer.
 */
#include "meta_pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ip_log.h"
#include "ip_time.h"

typedef struct pool_slot {
    PGconn *conn;
    bool prepared;
} pool_slot;

struct meta_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pool_slot *slots;
    int *free_idx; /* stack of free slot indices */
    int nfree;
    int size;
    char *dsn;
    char timeout_text[16];
    bool add_timeout;
    int backoff_ms;
    int64_t last_fail_ms; /* monotonic ms of the last failed connect, under mu */
    char last_err[256];   /* its message, under mu */
    meta_pool_on_connect on_connect;
    void *user;
};

static void copy_err(char *err, size_t errlen, const char *msg)
{
    if (err == NULL || errlen == 0)
        return;
    snprintf(err, errlen, "%s", msg);
    /* libpq messages span lines ("...\n\tIs the server running..."); one line
     * reads better in logs and replies. */
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    size_t n = strlen(err);
    while (n > 0 && err[n - 1] == ' ')
        err[--n] = '\0';
}

ip_status meta_pool_new(const meta_pool_opts *opts, meta_pool **out, char *err, size_t errlen)
{
    ip_status st = IP_INTERNAL;
    char *perr = NULL;
    PQconninfoOption *info = NULL;
    meta_pool *p = NULL;

    *out = NULL;
    if (opts == NULL || opts->dsn == NULL || opts->size < 1) {
        copy_err(err, errlen, "pool: dsn and a size >= 1 are required");
        return IP_INVALID_ARGUMENT;
    }
    info = PQconninfoParse(opts->dsn, &perr);
    if (info == NULL) {
        copy_err(err, errlen, perr != NULL ? perr : "IP_PG_DSN: does not parse");
        st = IP_INVALID_ARGUMENT;
        goto out;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        goto nomem;
    p->add_timeout = true;
    for (PQconninfoOption *o = info; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "connect_timeout") == 0 && o->val != NULL && o->val[0] != '\0')
            p->add_timeout = false;
    snprintf(p->timeout_text, sizeof(p->timeout_text), "%d",
             opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 2);
    p->size = opts->size;
    p->backoff_ms = opts->backoff_ms > 0 ? opts->backoff_ms : 100;
    p->on_connect = opts->on_connect;
    p->user = opts->user;
    p->last_fail_ms = INT64_MIN / 2;
    p->dsn = strdup(opts->dsn);
    p->slots = calloc((size_t)p->size, sizeof(*p->slots));
    p->free_idx = calloc((size_t)p->size, sizeof(*p->free_idx));
    if (p->dsn == NULL || p->slots == NULL || p->free_idx == NULL)
        goto nomem;
    for (int i = 0; i < p->size; i++)
        p->free_idx[p->nfree++] = p->size - 1 - i;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    p = NULL;
    st = IP_OK;
    goto out;
nomem:
    copy_err(err, errlen, "pool: out of memory");
    st = IP_RESOURCE_EXHAUSTED;
out:
    if (p != NULL) {
        free(p->dsn);
        free(p->slots);
        free(p->free_idx);
        free(p);
    }
    PQconninfoFree(info);
    PQfreemem(perr);
    return st;
}

void meta_pool_free(meta_pool *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->size; i++)
        if (p->slots[i].conn != NULL)
            PQfinish(p->slots[i].conn);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->dsn);
    free(p->slots);
    free(p->free_idx);
    free(p);
}

static int slot_of(meta_pool *p, PGconn *conn)
{
    for (int i = 0; i < p->size; i++)
        if (p->slots[i].conn == conn)
            return i;
    return -1;
}

static void give_back(meta_pool *p, int idx)
{
    pthread_mutex_lock(&p->mu);
    p->free_idx[p->nfree++] = idx;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Makes slot `s` usable: connected and prepared. Runs without the mutex. */
static ip_status slot_connect(meta_pool *p, pool_slot *s, char *err, size_t errlen)
{
    if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK) {
        /* Read what arrived while idle (a server that shut down sent a FATAL
         * message and closed its end); a closed socket marks the connection
         * bad, and so does a peer that hung up after its last message. */
        struct pollfd pfd = {.fd = PQsocket(s->conn), .events = POLLIN | POLLRDHUP};
        if (PQconsumeInput(s->conn) == 0 || PQstatus(s->conn) != CONNECTION_OK ||
            (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0)) {
            PQfinish(s->conn);
            s->conn = NULL;
        }
    }
    if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK && s->prepared)
        return IP_OK;

    pthread_mutex_lock(&p->mu);
    bool backing_off = ip_mono_ms() - p->last_fail_ms < p->backoff_ms;
    if (backing_off)
        copy_err(err, errlen, p->last_err);
    pthread_mutex_unlock(&p->mu);
    if (backing_off)
        return IP_UNAVAILABLE;

    if (s->conn != NULL) {
        PQfinish(s->conn);
        s->conn = NULL;
    }
    s->prepared = false;
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *vals[] = {p->dsn, p->timeout_text, NULL};
    if (!p->add_timeout)
        keys[1] = NULL;
    s->conn = PQconnectdbParams(keys, vals, 1);
    char msg[200];
    if (s->conn == NULL) {
        snprintf(msg, sizeof(msg), "database: out of memory");
    } else if (PQstatus(s->conn) != CONNECTION_OK) {
        copy_err(msg, sizeof(msg), PQerrorMessage(s->conn));
    } else if (p->on_connect != NULL &&
               p->on_connect(p->user, s->conn, msg, sizeof(msg)) != IP_OK) {
        /* keep msg */
    } else {
        s->prepared = true;
        ip_log(IP_LOG_INFO, "pg.connected", IP_LI("pid", PQbackendPID(s->conn)));
        return IP_OK;
    }
    ip_log(IP_LOG_WARN, "pg.connect_failed", IP_LS("err", msg));
    if (s->conn != NULL) {
        PQfinish(s->conn);
        s->conn = NULL;
    }
    pthread_mutex_lock(&p->mu);
    p->last_fail_ms = ip_mono_ms();
    snprintf(p->last_err, sizeof(p->last_err), "database unavailable: %s", msg);
    copy_err(err, errlen, p->last_err);
    pthread_mutex_unlock(&p->mu);
    return IP_UNAVAILABLE;
}

ip_status meta_pool_acquire(meta_pool *p, int timeout_ms, PGconn **conn, char *err, size_t errlen)
{
    *conn = NULL;
    int64_t deadline = ip_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};

    pthread_mutex_lock(&p->mu);
    while (p->nfree == 0) {
        int rc = pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (rc == ETIMEDOUT && p->nfree == 0) {
            pthread_mutex_unlock(&p->mu);
            copy_err(err, errlen, "database: no free connection before the deadline");
            return IP_DEADLINE_EXCEEDED;
        }
    }
    int idx = p->free_idx[--p->nfree];
    pthread_mutex_unlock(&p->mu);

    ip_status st = slot_connect(p, &p->slots[idx], err, errlen);
    if (st != IP_OK) {
        give_back(p, idx);
        return st;
    }
    *conn = p->slots[idx].conn;
    return IP_OK;
}

void meta_pool_release(meta_pool *p, PGconn *conn)
{
    if (conn == NULL)
        return;
    int idx = slot_of(p, conn);
    if (idx < 0)
        return; /* not ours: a programming error, but never a crash */
    pool_slot *s = &p->slots[idx];
    PGTransactionStatusType ts = PQtransactionStatus(conn);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
        PGresult *r = PQexec(conn, "ROLLBACK");
        PQclear(r);
    } else if (ts != PQTRANS_IDLE) {
        /* Busy or broken: drop it; the next acquire connects afresh. */
        PQfinish(conn);
        s->conn = NULL;
        s->prepared = false;
    }
    give_back(p, idx);
}

ip_status meta_pg_error(PGconn *conn, const PGresult *res, char *err, size_t errlen)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res != NULL ? PQresultErrorMessage(res) : NULL;
    if (msg == NULL || msg[0] == '\0')
        msg = conn != NULL ? PQerrorMessage(conn) : "database: no connection";
    char buf[256];
    copy_err(buf, sizeof(buf), msg);
    snprintf(err, errlen, "database: %s", buf);

    if (conn == NULL || PQstatus(conn) != CONNECTION_OK || state == NULL)
        return IP_UNAVAILABLE;
    if (strcmp(state, "23505") == 0)
        return IP_ALREADY_EXISTS;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
        strncmp(state, "53", 2) == 0 || strcmp(state, "40001") == 0 ||
        strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 || strcmp(state, "25P03") == 0 ||
        strcmp(state, "57014") == 0)
        return IP_UNAVAILABLE;
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
        return IP_INVALID_ARGUMENT;
    return IP_INTERNAL;
}
