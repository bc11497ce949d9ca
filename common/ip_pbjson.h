/* ip_pbjson.h — JSON <-> protobuf-c messages, driven by the message descriptors.
 *
 * The mapping follows proto3 JSON where it matters to operators and tests:
 * field names as in the .proto (lowerCamelCase accepted on input), enums by
 * name (a number is accepted on input), bytes as standard base64, repeated
 * fields as arrays, messages as objects, absent nested messages as null.
 * Departures: int64/uint64 are written as JSON numbers (strings of digits are
 * accepted on input), and every field is written, defaults included.
 * Unknown fields, wrong types and out-of-range numbers are errors.
 */
#ifndef IP_PBJSON_H
#define IP_PBJSON_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "ip_status.h"

/* Parses the JSON object `json` (len bytes, need not be NUL-terminated) into a
 * new message of type `desc`. On IP_OK *out is owned by the caller: free it
 * with protobuf_c_message_free_unpacked(*out, NULL). On failure
 * (IP_INVALID_ARGUMENT, or IP_RESOURCE_EXHAUSTED) *out is NULL and errbuf (if
 * not NULL) says what and where ("image.width: expected an integer"). */
ip_status ip_pbjson_parse(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                          ProtobufCMessage **out, char *errbuf, size_t errlen);

/* Renders `msg` as JSON text: owned by the caller (free()); NULL when out of
 * memory. `pretty` indents by two spaces. */
char *ip_pbjson_format(const ProtobufCMessage *msg, int pretty);

/* Standard base64 (RFC 4648, with padding). Encode: owned NUL-terminated text,
 * NULL when out of memory. Decode: IP_INVALID_ARGUMENT on bad input; on IP_OK
 * *out (owned, free()) holds *outlen bytes (a non-NULL pointer even when empty). */
char *ip_base64_encode(const uint8_t *data, size_t len);
ip_status ip_base64_decode(const char *text, size_t len, uint8_t **out, size_t *outlen);

#endif
