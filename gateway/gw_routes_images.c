/* gw_routes_images.c — GET /images: one page of the listing, newest first.
 *
 * The query (gw_query_list: cursor, mode, limit, sha256) becomes a
 * ListImagesRequest (sha256: only images whose original has that digest);
 * `mode` travels as the kind of variant the images must have requested
 * (with_variant) and picks each item's `url`; without it every image is
 * listed and the url is the listing's default variant (gw_json.h). `next` is
 * the cursor of the page's last row when metadata-svc says more follow, else
 * null. The page is written into the answer's one buffer (gw_json_write.h),
 * not built as a JSON tree. metadata-svc's reply belongs to the request until
 * the answer is sent.
 */
#include "gw_handlers.h"
#include "gw_json_write.h"
#include "gw_response.h"
#include "ip_rpc_stubs.h"

enum MHD_Result gw_handle_images(gw_app *app, struct MHD_Connection *conn, gw_req *rq)
{
    gw_args args;
    char detail[256], err[256];
    const char *param = NULL;
    gw_list_query q;
    if (!gw_req_args(conn, &args))
        return gw_send_problem(conn, rq, 400, "too many query parameters", NULL);
    if (gw_query_list(args.kv, args.n, &q, &param, detail, sizeof detail) != IP_OK)
        return gw_send_problem(conn, rq, 400, detail, param);
    Imageproc__ListImagesRequest in = IMAGEPROC__LIST_IMAGES_REQUEST__INIT;
    in.last_created_at_us = q.has_cursor ? q.last_created_at_us : 0;
    in.last_id = q.has_cursor ? q.last_id : "";
    in.with_variant = q.mode;
    in.limit = q.limit;
    in.sha256 = q.sha256; /* "" = every image */
    Imageproc__ListImagesReply *reply = NULL;
    ip_status st = ip_metadata_list_images(app->meta, &in, &reply, NULL, err, sizeof err);
    gw_req_defer_message(rq, reply);
    if (st == IP_INVALID_ARGUMENT)
        return gw_send_problem(conn, rq, 400, err, NULL);
    if (st != IP_OK)
        return gw_send_dependency(conn, rq, "metadata service", st);
    /* Written straight into the answer's buffer: no JSON tree per page. */
    gw_jbuf jb;
    gw_jbuf_init(&jb, 256 + (size_t)reply->n_images * GW_JSON_ITEM_FIRST, GW_JSON_MAX_BYTES);
    gw_images_page_write(&jb, reply, q.mode);
    return gw_send_jbuf_h(conn, rq, 200, &jb, NULL, NULL, NULL);
}
