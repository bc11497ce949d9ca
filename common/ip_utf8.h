/* ip_utf8.h — the one check of UTF-8 byte sequences (RFC 3629), shared by the
 * log writer, the protobuf JSON formatter and the services' text checks.
 */
#ifndef IP_UTF8_H
#define IP_UTF8_H

#include <stddef.h>

/* Length (1 to 4) of the valid UTF-8 sequence that starts at s, where n bytes
 * (n >= 1) can be read; 0 when the bytes there are not one: a stray
 * continuation byte, an overlong form, a surrogate (U+D800..U+DFFF), a code
 * point past U+10FFFF, or a sequence cut short by the end of the n bytes or by
 * a byte that is not a continuation byte (a NUL included). */
size_t ip_utf8_seq(const unsigned char *s, size_t n);

#endif
