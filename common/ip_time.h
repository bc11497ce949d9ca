/* ip_time.h — clocks and RFC 3339 times with microseconds.
 *
 * Times travel as int64 microseconds since the Unix epoch (UTC). Text is
 * RFC 3339 with exactly six fractional digits and "Z":
 * 2026-11-29T00:22:40.123456Z. Parsing accepts 0–6 fractional digits and a
 * "Z" or ±hh:mm offset, so text -> us -> text round-trips exactly.
 */
#ifndef IP_TIME_H
#define IP_TIME_H

#include <stdint.h>

#include "ip_status.h"

#define IP_RFC3339_LEN 27 /* "YYYY-MM-DDTHH:MM:SS.ffffffZ" without the NUL */

int64_t ip_now_us(void);  /* wall clock, CLOCK_REALTIME */
int64_t ip_now_ms(void);  /* wall clock in milliseconds */
int64_t ip_mono_ms(void); /* CLOCK_MONOTONIC, for timeouts and durations */
int64_t ip_mono_us(void);

/* Formats `us` into out (IP_RFC3339_LEN + 1 bytes). */
void ip_time_format(int64_t us, char out[IP_RFC3339_LEN + 1]);

/* Parses RFC 3339; IP_INVALID_ARGUMENT on anything malformed (including
 * trailing bytes, more than 6 fractional digits, out-of-range fields). */
ip_status ip_time_parse(const char *s, int64_t *us);

#endif
