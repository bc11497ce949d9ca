/* ip_time.c — clocks and RFC 3339 text (see ip_time.h).
 *
 * Conversion between civil dates and days since the epoch is done with the
 * proleptic Gregorian formulas (days_from_civil / civil_from_days), so neither
 * direction depends on the process time zone or on timegm. Formatting clamps to
 * years 0000..9999, the range the fixed-width text can hold; parsing accepts
 * exactly the RFC 3339 grammar (T or t, Z or z or ±hh:mm, 0-6 fraction digits,
 * no leap second 60) and nothing after it.
 */
#include "ip_time.h"

#include <stdbool.h>
#include <time.h>

static int64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ip_now_us(void)
{
    return clock_us(CLOCK_REALTIME);
}

int64_t ip_now_ms(void)
{
    return clock_us(CLOCK_REALTIME) / 1000;
}

int64_t ip_mono_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}

int64_t ip_mono_ms(void)
{
    return clock_us(CLOCK_MONOTONIC) / 1000;
}

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

#define MIN_US (days_from_civil(0, 1, 1) * 86400 * INT64_C(1000000))
#define MAX_US ((days_from_civil(10000, 1, 1) * 86400 * INT64_C(1000000)) - 1)

/* Writes v as exactly n decimal digits (v is within range by construction). */
static void put_digits(char *out, int v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void ip_time_format(int64_t us, char out[IP_RFC3339_LEN + 1])
{
    if (us < MIN_US)
        us = MIN_US;
    if (us > MAX_US)
        us = MAX_US;
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days -= 1;
    }
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    put_digits(out, y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, (int)(sod / 3600), 2);
    out[13] = ':';
    put_digits(out + 14, (int)(sod / 60 % 60), 2);
    out[16] = ':';
    put_digits(out + 17, (int)(sod % 60), 2);
    out[19] = '.';
    put_digits(out + 20, (int)frac, 6);
    out[26] = 'Z';
    out[27] = '\0';
}

/* Reads exactly n decimal digits at *p, advancing it. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

ip_status ip_time_parse(const char *s, int64_t *us)
{
    if (s == NULL || us == NULL)
        return IP_INVALID_ARGUMENT;
    const char *p = s;
    int y, mo, d, h, mi, se, frac = 0;
    if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) || !expect(&p, '-') ||
        !digits(&p, 2, &d))
        return IP_INVALID_ARGUMENT;
    if (*p != 'T' && *p != 't')
        return IP_INVALID_ARGUMENT;
    p++;
    if (!digits(&p, 2, &h) || !expect(&p, ':') || !digits(&p, 2, &mi) || !expect(&p, ':') ||
        !digits(&p, 2, &se))
        return IP_INVALID_ARGUMENT;
    if (*p == '.') {
        p++;
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            if (++n > 6)
                return IP_INVALID_ARGUMENT;
            frac = frac * 10 + (*p - '0');
            p++;
        }
        if (n == 0)
            return IP_INVALID_ARGUMENT;
        for (; n < 6; n++)
            frac *= 10;
    }
    int off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (!digits(&p, 2, &oh) || !expect(&p, ':') || !digits(&p, 2, &om) || oh > 23 || om > 59)
            return IP_INVALID_ARGUMENT;
        off_min = sign * (oh * 60 + om);
    } else {
        return IP_INVALID_ARGUMENT;
    }
    if (*p != '\0')
        return IP_INVALID_ARGUMENT;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59)
        return IP_INVALID_ARGUMENT;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off_min * 60;
    *us = secs * 1000000 + frac;
    return IP_OK;
}

int64_t ip_backoff_cap(int64_t first_ms, int64_t max_ms, int n)
{
    int64_t cap = first_ms;
    for (int i = 0; i < n && cap < max_ms; i++)
        cap = cap > INT64_MAX / 2 ? INT64_MAX : cap * 2;
    return cap < max_ms ? cap : max_ms;
}
