/* proc_it_proxy.c — the switchable TCP proxy of the integration tests (see
 * proc_it_proxy.h).
 *
 * An accept thread runs while the proxy is up; each accepted connection gets
 * a connection to the target and two pump threads (one per direction) that
 * copy until either side closes. Going down closes the listener (which ends
 * the accept thread) and shuts every connection down (which ends its pumps);
 * the threads are joined before set_up returns, so a test knows the outage
 * has begun. An armed cut counts what each connection carried towards the
 * target; the pump that would pass the limit closes its connection instead
 * and marks the proxy cut, after which the accept thread closes every new
 * connection at once; going down and up again clears it.
 */
#include "proc_it_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IT_PROXY_MAX_CONNS 64

typedef struct it_conn {
    int fd[2]; /* client, target */
    pthread_t pump[2];
    bool used;
    int finished;   /* pumps that ended (under the proxy's mu) */
    size_t carried; /* bytes towards the target (its pump only) */
} it_conn;

struct it_proxy {
    int port;
    struct sockaddr_in target;
    pthread_mutex_t mu;
    bool up;
    size_t cut_after; /* 0: no cut armed (under mu) */
    bool cut;         /* the cut happened (under mu) */
    int listen_fd;
    pthread_t acceptor;
    it_conn conns[IT_PROXY_MAX_CONNS];
};

typedef struct pump_arg {
    int from, to;
    it_proxy *p;
    it_conn *c;
} pump_arg;

static void *pump_main(void *arg)
{
    pump_arg a = *(pump_arg *)arg;
    free(arg);
    char buf[65536];
    bool towards_target = a.from == a.c->fd[0];
    for (;;) {
        ssize_t n = read(a.from, buf, sizeof(buf));
        if (n <= 0)
            break;
        if (towards_target) {
            a.c->carried += (size_t)n;
            pthread_mutex_lock(&a.p->mu);
            bool cut = a.p->cut_after > 0 && a.c->carried > a.p->cut_after;
            if (cut)
                a.p->cut = true;
            pthread_mutex_unlock(&a.p->mu);
            if (cut)
                break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(a.to, buf + off, (size_t)(n - off));
            if (w <= 0)
                goto out;
            off += w;
        }
    }
out:
    shutdown(a.from, SHUT_RDWR);
    shutdown(a.to, SHUT_RDWR);
    pthread_mutex_lock(&a.p->mu);
    a.c->finished++;
    pthread_mutex_unlock(&a.p->mu);
    return NULL;
}

static bool pump_start(it_proxy *p, it_conn *c, int dir)
{
    pump_arg *a = malloc(sizeof(*a));
    if (!a)
        return false;
    a->from = c->fd[dir];
    a->to = c->fd[1 - dir];
    a->p = p;
    a->c = c;
    if (pthread_create(&c->pump[dir], NULL, pump_main, a) != 0) {
        free(a);
        return false;
    }
    return true;
}

/* Joins and closes connection `c` (both pumps ended or shut down). Caller
 * does not hold mu. */
static void conn_reap(it_conn *c)
{
    shutdown(c->fd[0], SHUT_RDWR);
    shutdown(c->fd[1], SHUT_RDWR);
    pthread_join(c->pump[0], NULL);
    pthread_join(c->pump[1], NULL);
    close(c->fd[0]);
    close(c->fd[1]);
    c->finished = 0;
    c->used = false;
}

/* A free slot, after reaping the connections that ended; NULL when full.
 * Only the accept thread takes slots. */
static it_conn *conn_slot(it_proxy *p)
{
    it_conn *free_slot = NULL;
    for (int i = 0; i < IT_PROXY_MAX_CONNS; i++) {
        it_conn *c = &p->conns[i];
        pthread_mutex_lock(&p->mu);
        bool ended = c->used && c->finished == 2;
        pthread_mutex_unlock(&p->mu);
        if (ended)
            conn_reap(c);
        if (!c->used && !free_slot)
            free_slot = c;
    }
    return free_slot;
}

/* Connects accepted `client` to the target and starts its pumps. */
static void conn_start(it_proxy *p, int client)
{
    it_conn *c = conn_slot(p);
    int target = c ? socket(AF_INET, SOCK_STREAM, 0) : -1;
    if (target < 0 || connect(target, (struct sockaddr *)&p->target, sizeof(p->target)) != 0) {
        if (target >= 0)
            close(target);
        close(client);
        return;
    }
    c->fd[0] = client;
    c->fd[1] = target;
    c->finished = 0;
    c->carried = 0;
    if (!pump_start(p, c, 0)) {
        close(client);
        close(target);
        return;
    }
    if (!pump_start(p, c, 1)) {
        shutdown(client, SHUT_RDWR);
        pthread_join(c->pump[0], NULL);
        close(client);
        close(target);
        return;
    }
    c->used = true;
}

static void *accept_main(void *arg)
{
    it_proxy *p = arg;
    for (;;) {
        int client = accept(p->listen_fd, NULL, NULL);
        if (client < 0)
            break; /* the listener was shut down */
        pthread_mutex_lock(&p->mu);
        bool cut = p->cut;
        pthread_mutex_unlock(&p->mu);
        if (cut)
            close(client);
        else
            conn_start(p, client);
    }
    return NULL;
}

it_proxy *it_proxy_new(int port, const char *target_url)
{
    char host[64];
    int tport = 0;
    if (sscanf(target_url, "tcp://%63[^:]:%d", host, &tport) != 2)
        return NULL;
    it_proxy *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->port = port;
    p->target.sin_family = AF_INET;
    p->target.sin_port = htons((uint16_t)tport);
    if (inet_pton(AF_INET, host, &p->target.sin_addr) != 1) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    p->listen_fd = -1;
    return p;
}

static bool go_up(it_proxy *p)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    p->listen_fd = fd;
    p->up = true;
    if (pthread_create(&p->acceptor, NULL, accept_main, p) != 0) {
        close(fd);
        p->listen_fd = -1;
        p->up = false;
        return false;
    }
    return true;
}

static void go_down(it_proxy *p)
{
    pthread_mutex_lock(&p->mu);
    p->up = false;
    p->cut = false;
    pthread_mutex_unlock(&p->mu);
    shutdown(p->listen_fd, SHUT_RDWR);
    pthread_join(p->acceptor, NULL);
    close(p->listen_fd);
    p->listen_fd = -1;
    for (int i = 0; i < IT_PROXY_MAX_CONNS; i++)
        if (p->conns[i].used)
            conn_reap(&p->conns[i]);
}

bool it_proxy_set_up(it_proxy *p, bool up)
{
    if (up == p->up)
        return true;
    if (up)
        return go_up(p);
    go_down(p);
    return true;
}

void it_proxy_cut_after(it_proxy *p, size_t bytes)
{
    pthread_mutex_lock(&p->mu);
    p->cut_after = bytes;
    pthread_mutex_unlock(&p->mu);
}

bool it_proxy_was_cut(it_proxy *p)
{
    pthread_mutex_lock(&p->mu);
    bool cut = p->cut;
    pthread_mutex_unlock(&p->mu);
    return cut;
}

void it_proxy_free(it_proxy *p)
{
    if (!p)
        return;
    it_proxy_set_up(p, false);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
