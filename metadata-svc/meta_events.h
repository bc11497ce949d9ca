/* meta_events.h — the StatusEvent publisher of metadata-svc.
 *
 * One nng pub0 socket listening on IP_METADATA_EVENTS_URL. Each event is a
 * packed StatusEvent (proto/events.proto) with no topic prefix: subscribers
 * subscribe to "" and unpack every message. A pub socket never blocks; a
 * subscriber that cannot keep up loses messages (nng drops them), so events
 * are hints for live status, never the record (GetImage is).
 */
#ifndef META_EVENTS_H
#define META_EVENTS_H

#include <events.pb-c.h>

#include "ip_status.h"

typedef struct meta_events meta_events;

/* Listens on `url` (borrowed). IP_UNAVAILABLE when the address cannot be bound. */
ip_status meta_events_new(const char *url, meta_events **out);

/* Closes the socket. NULL does nothing. */
void meta_events_free(meta_events *ev);

/* Stamps e->seq with the next sequence number of this publisher and sends
 * the event (borrowed); subscribers receive seq strictly increasing. The caller orders calls:
 * events of one image must be published in the order their changes committed (meta_service holds
 * the image's ordering lock across commit and publish). Never blocks. */
void meta_events_publish(meta_events *ev, Imageproc__StatusEvent *e);

#endif
