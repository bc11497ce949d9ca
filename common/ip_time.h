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

/* The cap of the n-th retry delay (n = 0, 1, ...) of a capped exponential
 * backoff: min(max_ms, first_ms * 2^n), without overflow however large n
 * (n <= 0: first_ms, or max_ms when that is smaller). Jitter is the caller's:
 * the processor's job retries and the gateway's webhook retries draw theirs
 * differently from this one cap. */
int64_t ip_backoff_cap(int64_t first_ms, int64_t max_ms, int n);

/* Parses RFC 3339; IP_INVALID_ARGUMENT on anything malformed (including
 * trailing bytes, more than 6 fractional digits, out-of-range fields). */
ip_status ip_time_parse(const char *s, int64_t *us);

#endif
