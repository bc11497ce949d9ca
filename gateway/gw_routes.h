/* gw_routes.h — the REST API's routes: which path is which route, and the
 * libmicrohttpd callbacks that carry a request through its route's handler
 * (the dispatch table is in gw_routes.c; the handlers in gw_routes_*.c). */
#ifndef GW_ROUTES_H
#define GW_ROUTES_H

#include <microhttpd.h>

/* Route of a path (after an optional "/api" prefix), for dispatch and metrics. */
typedef enum gw_route {
    GW_R_UNKNOWN = 0,
    GW_R_UPLOAD,
    GW_R_IMAGE,
    GW_R_INFO,
    GW_R_RETRY,
    GW_R_IMAGES,
    GW_R_EVENTS,
    GW_R_HEALTHZ,
    GW_R_READYZ,
    GW_R_METRICS,
    GW_R_OPENAPI,
    GW_R_CONFIG,
    GW_R_ACCESS,
    GW_R_WEBHOOKS,   /* /webhooks */
    GW_R_WEBHOOK,    /* /webhooks/{id} */
    GW_R_DELIVERIES, /* /webhooks/{id}/deliveries */
    GW_R_RESEND,     /* /webhooks/{id}/deliveries/{delivery_id}/resend */
    GW_R_COUNT
} gw_route;

/* Matches `path`; for GW_R_IMAGE, GW_R_INFO and GW_R_RETRY copies the id segment (at most
 * 63 bytes, unchecked) into id, else makes it "". */
gw_route gw_route_match(const char *path, char id[64]);
/* The same, also copying the second id segment (the {delivery_id} of
 * GW_R_RESEND, at most 63 bytes, unchecked) into id2, else "". For the
 * webhook routes id is the subscription's {id}. */
gw_route gw_route_match_ids(const char *path, char id[64], char id2[64]);
/* The route's metrics label ("image_info"); "unknown" for GW_R_UNKNOWN. */
const char *gw_route_name(gw_route r);

/* MHD_AccessHandlerCallback; cls is the gw_app. */
enum MHD_Result gw_routes_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls);

/* MHD_RequestCompletedCallback: metrics, then the request's memory (its
 * deferred cleanups run here). */
void gw_routes_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe);

#endif
