/* imgctl_client.c — the RPC client every imgctl command that talks to a
 * service opens: the address it is given (a comma list, dialled by nng), the
 * RPC timeout and message bound of imgctl's environment, and one message on
 * stderr when the address is not usable, so each command only checks for
 * NULL and exits with its usage code.
 */
#include <stdio.h>

#include "imgctl_internal.h"

ip_rpc_client *imgctl_client(const imgctl_env *env, const ProtobufCServiceDescriptor *svc,
                             const char *url)
{
    ip_rpc_client *c = NULL;
    ip_rpc_client_opts co = {.urls = url,
                             .timeout_ms = env->rpc_timeout_ms,
                             .max_msg_bytes = (size_t)env->cfg->max_msg_bytes};
    ip_status st = ip_rpc_client_new(svc, &co, &c);
    if (st != IP_OK)
        fprintf(stderr, "imgctl: %s: cannot use address %s\n", ip_strerror(st), url);
    return c;
}
