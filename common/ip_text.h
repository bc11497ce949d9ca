/* ip_text.h — small text helpers every part used to write for itself.
 *
 * ip_errorf fills the caller's error buffer (the `char *err, size_t errlen`
 * pair that the project's functions take) and does nothing when there is no
 * buffer; ip_hex_digit reads one hexadecimal digit. Pure, thread-safe.
 */
#ifndef IP_TEXT_H
#define IP_TEXT_H

#include <stddef.h>

/* printf into err[0..errlen) (always NUL-terminated, truncated to fit); does
 * nothing when err is NULL or errlen is 0. */
void ip_errorf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The value of one hex digit (0-9, a-f, A-F), or -1 for anything else. */
int ip_hex_digit(char c);

#endif
