/* gw_routes.h — the REST API's request handling (libmicrohttpd callbacks). */
#ifndef GW_ROUTES_H
#define GW_ROUTES_H

#include <microhttpd.h>

/* MHD_AccessHandlerCallback; cls is the gw_app. */
enum MHD_Result gw_routes_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls);

/* MHD_RequestCompletedCallback: metrics and the request's memory. */
void gw_routes_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe);

#endif
