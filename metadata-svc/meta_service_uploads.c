/* meta_service_uploads.c — GetIdempotency: the record an earlier upload with
 * the same Idempotency-Key left (CreateImage writes it with the row; see
 * meta_store_create.c). The gateway asks before it does any work for an
 * upload that carries a key, and answers a live record from it. It changes
 * no image: no stripe, no event. A missing record (none, or older than 24 h)
 * is NOT_FOUND, which is not logged: it is the common answer.
 */
#include "ip_uuid.h"
#include "meta_service_internal.h"
#include "meta_validate.h"

ip_status meta_h_get_idempotency(void *user, ip_rpc_call *call,
                                 const Imageproc__GetIdempotencyRequest *req,
                                 Imageproc__GetIdempotencyReply *rep)
{
    meta_service *svc = user;
    char err[128], scope[IP_UUID_STRLEN + 1] = "";
    meta_ctx cx;
    ip_uuid u;
    ip_status st = meta_check_idempotency_key(req->scope, req->key, "", err, sizeof(err));
    if (st != IP_OK)
        return meta_svc_fail(call, st, err, NULL);
    if ((st = meta_svc_ctx_init(&cx, call)) != IP_OK)
        return st;
    if (ip_uuid_parse(req->scope, &u))
        ip_uuid_format(&u, scope);
    st = meta_store_get_idempotency(svc->store, &cx, scope, req->key, &rep->record);
    return st == IP_OK ? IP_OK : meta_svc_fail(call, st, cx.err, NULL);
}
