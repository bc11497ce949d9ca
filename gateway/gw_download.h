/* gw_download.h — an object's bytes streamed to the client in chunks.
 *
 * GET /image/{id} answers an original (and a variant when nginx does not
 * fetch it) from storage-svc without ever holding the whole object: ranged
 * GetObject calls of IP_GATEWAY_DOWNLOAD_CHUNK_BYTES, one chunk in memory at
 * a time, each fetched on the work pool (gw_work.h) while the connection is
 * suspended. Twice the chunk (the reply message that holds the chunk, and
 * room for the next one) is charged to the memory budget for the download's
 * life.
 */
#ifndef GW_DOWNLOAD_H
#define GW_DOWNLOAD_H

#include <microhttpd.h>

#include "gw_app.h"
#include "gw_request.h"

/* What the answer says besides the bytes. All borrowed for the call (copied). */
typedef struct gw_download_head {
    const char *key;           /* the bucket key */
    const char *content_type;  /* Content-Type */
    const char *etag;          /* ETag */
    const char *cache_control; /* Cache-Control */
    const char *vary;          /* Vary; NULL: none */
} gw_download_head;

/* Answers `rq` with the object: 503 busy at once when the budget has no room
 * for a chunk; else the first chunk is fetched on the work pool (which gives
 * the size), and then 200 with Content-Length and the bytes streamed, or 404
 * (the object is gone) or 503 (storage-svc failed). A failure after the first
 * chunk ends the body short of its Content-Length and is logged
 * (download.failed). */
enum MHD_Result gw_download_start(gw_app *app, struct MHD_Connection *conn, gw_req *rq,
                                  const gw_download_head *head);

#endif
