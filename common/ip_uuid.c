/* ip_uuid.c — UUIDv7 / v4 generation and strict parsing (see ip_uuid.h).
 *
 * Randomness comes from getrandom(2). A v7 id is 48 bits of Unix
 * milliseconds, the version, a 12-bit counter (rand_a), the variant and 62
 * random bits. Monotonicity within the process (RFC 9562, method 1): under a
 * mutex, the first id of a new millisecond seeds the counter with 11 random
 * bits (so there is room to count up); further ids in the same millisecond,
 * or after the clock stepped back, reuse the last timestamp and increment the
 * counter; when it overflows the timestamp advances by one. So ids made by
 * one process compare (as bytes or as text) in the order they were made.
 */
#include "ip_uuid.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ip_time.h"
#include "ip_text.h"

static void fill_random(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            abort(); /* no entropy source at all: nothing sane to return */
        }
        p += r;
        n -= (size_t)r;
    }
}

static pthread_mutex_t v7_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t v7_last_ms = -1;
static uint16_t v7_counter;

void ip_uuid_v7(ip_uuid *out)
{
    uint8_t rnd[10];
    fill_random(rnd, sizeof rnd);
    int64_t ms = ip_now_ms();
    uint16_t counter;

    pthread_mutex_lock(&v7_mu);
    if (ms > v7_last_ms) {
        v7_last_ms = ms;
        v7_counter = (uint16_t)(((rnd[0] << 8) | rnd[1]) & 0x7ff);
    } else {
        ms = v7_last_ms;
        if (++v7_counter > 0xfff) {
            ms = ++v7_last_ms;
            v7_counter = (uint16_t)(((rnd[0] << 8) | rnd[1]) & 0x7ff);
        }
    }
    counter = v7_counter;
    pthread_mutex_unlock(&v7_mu);

    for (int i = 0; i < 6; i++)
        out->b[i] = (uint8_t)((uint64_t)ms >> (40 - 8 * i));
    out->b[6] = (uint8_t)(0x70 | (counter >> 8));
    out->b[7] = (uint8_t)(counter & 0xff);
    memcpy(&out->b[8], &rnd[2], 8);
    out->b[8] = (uint8_t)(0x80 | (out->b[8] & 0x3f));
}

void ip_uuid_v4(ip_uuid *out)
{
    fill_random(out->b, sizeof out->b);
    out->b[6] = (uint8_t)(0x40 | (out->b[6] & 0x0f));
    out->b[8] = (uint8_t)(0x80 | (out->b[8] & 0x3f));
}

bool ip_uuid_parse(const char *s, ip_uuid *out)
{
    if (s == NULL)
        return false;
    ip_uuid u;
    int bi = 0;
    for (int i = 0; i < IP_UUID_STRLEN; i++) {
        if (s[i] == '\0')
            return false;
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
            continue;
        }
        int hi = ip_hex_digit(s[i]), lo = ip_hex_digit(s[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        u.b[bi++] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    if (s[IP_UUID_STRLEN] != '\0')
        return false;
    if (out != NULL)
        *out = u;
    return true;
}

bool ip_uuid_valid(const char *s)
{
    return ip_uuid_parse(s, NULL);
}

void ip_uuid_format(const ip_uuid *u, char out[IP_UUID_STRLEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u->b[i] >> 4];
        out[o++] = hex[u->b[i] & 15];
    }
    out[o] = '\0';
}

void ip_uuid_v7_str(char out[IP_UUID_STRLEN + 1])
{
    ip_uuid u;
    ip_uuid_v7(&u);
    ip_uuid_format(&u, out);
}

void ip_uuid_v4_str(char out[IP_UUID_STRLEN + 1])
{
    ip_uuid u;
    ip_uuid_v4(&u);
    ip_uuid_format(&u, out);
}
