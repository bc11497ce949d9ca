/* ip_pbview.h — unpacking a protobuf-c message whose large bytes fields stay
 * in the packed buffer.
 *
 * protobuf-c's unpack copies every bytes field. For a message that carries a
 * large payload (an object's bytes, a packed message inside an envelope) the
 * copy is pure cost when the packed buffer outlives the message anyway (an
 * nng message held until the call ends). ip_pbview_unpack reads the top-level
 * fields first: every singular bytes field (not in a oneof, not required) with
 * an occurrence of at least `min_slice` bytes is taken out of what protobuf-c
 * unpacks and set afterwards to point into `data` (its last occurrence, as
 * protobuf-c would keep). Everything else, nested messages and repeated bytes
 * included, is unpacked and copied by protobuf-c as usual, so everything a
 * peer may send is checked the same way; a buffer the scan cannot walk (a
 * length past the end, a bad wire type) goes to protobuf-c whole, which
 * refuses it.
 *
 * The message is valid while `data` is; free it with ip_pbview_free and the
 * same buffer, which drops the slices before protobuf_c_message_free_unpacked.
 */
#ifndef IP_PBVIEW_H
#define IP_PBVIEW_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* The unpacked message (NULL when `data` does not unpack as `desc`, or out of
 * memory); see above. min_slice 0 slices every such field that is present. */
ProtobufCMessage *ip_pbview_unpack(const ProtobufCMessageDescriptor *desc, size_t len,
                                   const uint8_t *data, size_t min_slice);

/* The offset in the packed message `data` (len bytes) of its first top-level
 * field numbered above `number` (len when none): where a field `number`
 * goes when the message is written in field order. SIZE_MAX when `data`
 * cannot be walked. */
size_t ip_pbview_split(const uint8_t *data, size_t len, uint32_t number);

/* Frees `m` (from ip_pbview_unpack over the `len` bytes at `data`, or from
 * protobuf_c_message_unpack). NULL does nothing. */
void ip_pbview_free(ProtobufCMessage *m, const uint8_t *data, size_t len);

#endif
