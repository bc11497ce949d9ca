/* ip_admit_internal.h — what the container walks of ip_admit_check share.
 *
 * One admit_ctx per check: the bytes, the limits, the result being filled and
 * a scratch buffer for measuring compressed metadata (allocated at most once
 * per check, only by the PNG walk). Each walk returns IP_OK or the status of
 * admit_refuse(), which writes the stable reason and a sentence for a person.
 * The counting helpers (admit_add_*) refuse as soon as a count passes its
 * limit, so no walk does more work than the limit allows past that point.
 */
#ifndef IP_ADMIT_INTERNAL_H
#define IP_ADMIT_INTERNAL_H

#include <stdint.h>

#include "ip_admit.h"

typedef struct admit_ctx {
    const uint8_t *p;
    size_t len;
    const ip_admit_limits *lim;
    ip_admit_result *out;
    const char *type_name; /* "PNG", "JPEG", ... for details */
    int64_t chunks, scans;
} admit_ctx;

#if defined(__GNUC__)
#define ADMIT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ADMIT_PRINTF(a, b)
#endif

/* Fills out->reason and out->detail; returns `st`. */
ip_status admit_refuse(admit_ctx *c, ip_status st, const char *reason, const char *fmt, ...)
    ADMIT_PRINTF(4, 5);

/* "412.0 MiB", "12.5 KiB", "300 bytes". */
void admit_size_text(int64_t n, char *buf, size_t len);

/* Counters against the limits; `what` names the thing counted in the detail
 * ("compressed text (zTXt)", "APP2 segments", ...). */
ip_status admit_add_metadata(admit_ctx *c, int64_t n, const char *what);
ip_status admit_add_chunk(admit_ctx *c, const char *what);
ip_status admit_add_frame(admit_ctx *c, const char *what);
ip_status admit_add_scan(admit_ctx *c);

/* IP_OK when the file ends at `end` (give or take `slack` padding bytes);
 * else the "trailing_data" refusal: `what` ("the PNG") is followed by more
 * bytes after `where` ("its end chunk (IEND)") — a polyglot. */
ip_status admit_end(admit_ctx *c, uint64_t end, uint64_t slack, const char *what,
                    const char *where);

/* Sets the declared size (the first one given wins). */
void admit_set_size(admit_ctx *c, int64_t w, int64_t h);

static inline uint32_t admit_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint16_t admit_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t admit_le32(const uint8_t *p)
{
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}
static inline uint16_t admit_le16(const uint8_t *p)
{
    return (uint16_t)((p[1] << 8) | p[0]);
}
static inline uint32_t admit_le24(const uint8_t *p)
{
    return ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

/* The container walks, one per type. */
ip_status ip_admit_png(admit_ctx *c);
ip_status ip_admit_jpeg(admit_ctx *c);
ip_status ip_admit_gif(admit_ctx *c);
ip_status ip_admit_riff(admit_ctx *c);
ip_status ip_admit_tiff(admit_ctx *c);
ip_status ip_admit_bmff(admit_ctx *c);

#endif
