/* bench_port.h — a free TCP port on 127.0.0.1 for a service a benchmark
 * starts itself.
 *
 * Several stacks may run on one machine, each on ports of its own: a fixed
 * port for the benchmark's own storage-svc or metadata-svc could already
 * belong to one of them, and the benchmark would then measure someone
 * else's service. The kernel picks a port that is free (bind to port 0),
 * the socket is closed and the port handed to the service; another process
 * taking it in between would make the service fail to start, which the
 * benchmark sees.
 */
#ifndef BENCH_PORT_H
#define BENCH_PORT_H

#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* "tcp://127.0.0.1:<free port>" into out; 0 when no socket could be had. */
static inline int bench_free_tcp_url(char *out, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
             getsockname(fd, (struct sockaddr *)&a, &al) == 0;
    if (fd >= 0)
        close(fd);
    if (ok)
        snprintf(out, len, "tcp://127.0.0.1:%d", (int)ntohs(a.sin_port));
    return ok;
}

#endif
