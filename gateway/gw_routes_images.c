/* gw_routes_images.c — GET /images: one page of the listing, newest first.
 *
 * The query (gw_query_list: cursor, mode, limit) becomes a ListImagesRequest;
 * `mode` travels as the kind of variant the images must have requested
 * (with_variant) and picks each item's `url`; without it every image is
 * listed and the url is the listing's default variant (gw_json.h). `next` is
 * the cursor of the page's last row when metadata-svc says more follow, else
 * null. metadata-svc's reply belongs to the request until the answer is sent.
 */
#include "gw_handlers.h"
#include "gw_json.h"
#include "gw_response.h"
#include "ip_rpc_stubs.h"

static json_t *page_json(const Imageproc__ListImagesReply *rep, ip_variant_kind mode)
{
    json_t *items = json_array();
    for (size_t i = 0; i < rep->n_images; i++)
        json_array_append_new(items, gw_image_item_json(rep->images[i], mode));
    json_t *next = json_null();
    if (rep->has_more && rep->n_images > 0) {
        const Imageproc__Image *last = rep->images[rep->n_images - 1];
        json_decref(next);
        next = json_pack("{s:o,s:s}", "last_created_at", gw_json_time(last->created_at_us),
                         "last_id", last->id);
    }
    return json_pack("{s:o,s:o}", "items", items, "next", next);
}

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
    Imageproc__ListImagesReply *reply = NULL;
    ip_status st = ip_metadata_list_images(app->meta, &in, &reply, NULL, err, sizeof err);
    gw_req_defer_message(rq, reply);
    if (st == IP_INVALID_ARGUMENT)
        return gw_send_problem(conn, rq, 400, err, NULL);
    if (st != IP_OK)
        return gw_send_dependency(conn, rq, "metadata service", st);
    return gw_send_json(conn, rq, 200, page_json(reply, q.mode));
}
