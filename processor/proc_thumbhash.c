/* proc_thumbhash.c — ThumbHash encoder and decoder (proc_thumbhash.h).
 *
 * HOW IT WORKS
 * Encode. The average colour is taken weighted by alpha; every pixel is then
 * composited over that average and turned into four channels: L (luminance,
 * (r+g+b)/3), P (yellow-blue, (r+g)/2-b), Q (red-green, r-g) and A (alpha),
 * all 0..1. Each channel gets a 2-D cosine transform keeping only the terms
 * (cx, cy) of a triangle, cx*ny < nx*(ny-cy): L keeps up to 7 terms along the
 * longer side (5 when there is alpha, to leave room for A) and
 * proportionally fewer along the shorter one, which is how the hash carries
 * the aspect ratio; P and Q keep 3x3, A 5x5. The constant (DC) terms and the
 * largest magnitude of each channel's varying (AC) terms go into a 5-byte
 * header (6 with alpha); every AC term, divided by that magnitude, becomes
 * one 4-bit number, two to a byte, in the order L, P, Q, A.
 * Decode is the reverse at PROC_THUMBHASH_DECODE_SIDE pixels on the longer
 * side, with the colour terms boosted by 1.25 as the format prescribes, to
 * make up for the saturation the 4-bit rounding loses.
 */
#include "proc_thumbhash.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TERMS 49 /* 7 x 7 */

typedef struct channel_terms {
    double dc;
    double ac[MAX_TERMS];
    int n_ac;
    double scale; /* the largest |ac| */
} channel_terms;

/* The cosine transform of the w x h channel `px`, terms of the nx x ny
 * triangle; the AC terms normalised to 0..1 by their largest magnitude. */
static void encode_channel(const float *px, int w, int h, int nx, int ny, channel_terms *t)
{
    double fx[PROC_THUMBHASH_SIDE_MAX];
    memset(t, 0, sizeof(*t));
    for (int cy = 0; cy < ny; cy++) {
        for (int cx = 0; cx * ny < nx * (ny - cy); cx++) {
            for (int x = 0; x < w; x++)
                fx[x] = cos(M_PI / w * cx * (x + 0.5));
            double f = 0;
            for (int y = 0; y < h; y++) {
                double fy = cos(M_PI / h * cy * (y + 0.5));
                for (int x = 0; x < w; x++)
                    f += px[x + y * w] * fx[x] * fy;
            }
            f /= (double)w * h;
            if (cx == 0 && cy == 0) {
                t->dc = f;
            } else if (t->n_ac < MAX_TERMS) {
                t->ac[t->n_ac++] = f;
                t->scale = fmax(t->scale, fabs(f));
            }
        }
    }
    if (t->scale > 0)
        for (int i = 0; i < t->n_ac; i++)
            t->ac[i] = 0.5 + 0.5 / t->scale * t->ac[i];
}

/* Appends 4-bit values, low nibble first. */
typedef struct nibbles {
    uint8_t *out;
    size_t len, cap;
    int odd;
} nibbles;

static void put_nibble(nibbles *nb, unsigned v)
{
    v &= 15;
    if (nb->odd) {
        nb->out[nb->len - 1] |= (uint8_t)(v << 4);
    } else if (nb->len < nb->cap) {
        nb->out[nb->len++] = (uint8_t)v;
    } else {
        return;
    }
    nb->odd = !nb->odd;
}

static void put_terms(nibbles *nb, const channel_terms *t)
{
    for (int i = 0; i < t->n_ac; i++)
        put_nibble(nb, (unsigned)lround(15.0 * t->ac[i]));
}

size_t proc_thumbhash_encode(int w, int h, const uint8_t *rgba, uint8_t out[PROC_THUMBHASH_MAX])
{
    if (w < 1 || h < 1 || w > PROC_THUMBHASH_SIDE_MAX || h > PROC_THUMBHASH_SIDE_MAX)
        return 0;
    int n = w * h;
    double ar = 0, ag = 0, ab = 0, aa = 0;
    for (int i = 0; i < n; i++) {
        const uint8_t *p = rgba + 4 * i;
        double a = p[3] / 255.0;
        ar += a / 255.0 * p[0];
        ag += a / 255.0 * p[1];
        ab += a / 255.0 * p[2];
        aa += a;
    }
    if (aa > 0) {
        ar /= aa;
        ag /= aa;
        ab /= aa;
    }
    int has_alpha = aa < n;
    int l_limit = has_alpha ? 5 : 7;
    int longer = w > h ? w : h;
    int lx = (int)fmax(1, lround((double)l_limit * w / longer));
    int ly = (int)fmax(1, lround((double)l_limit * h / longer));

    /* The four channels side by side: at most 160 KB, so not on the stack. */
    float *L = malloc(sizeof(float) * 4 * (size_t)n);
    if (!L)
        return 0;
    float *P = L + n, *Q = P + n, *A = Q + n;
    for (int i = 0; i < n; i++) {
        const uint8_t *p = rgba + 4 * i;
        double a = p[3] / 255.0;
        double r = ar * (1 - a) + a / 255.0 * p[0];
        double g = ag * (1 - a) + a / 255.0 * p[1];
        double b = ab * (1 - a) + a / 255.0 * p[2];
        L[i] = (float)((r + g + b) / 3.0);
        P[i] = (float)((r + g) / 2.0 - b);
        Q[i] = (float)(r - g);
        A[i] = (float)a;
    }
    channel_terms l, pc, qc, ac = {.dc = 1, .scale = 1};
    encode_channel(L, w, h, lx > 3 ? lx : 3, ly > 3 ? ly : 3, &l);
    encode_channel(P, w, h, 3, 3, &pc);
    encode_channel(Q, w, h, 3, 3, &qc);
    if (has_alpha)
        encode_channel(A, w, h, 5, 5, &ac);
    free(L);

    int landscape = w > h;
    uint32_t h24 = (uint32_t)lround(63.0 * l.dc) | (uint32_t)lround(31.5 + 31.5 * pc.dc) << 6 |
                   (uint32_t)lround(31.5 + 31.5 * qc.dc) << 12 |
                   (uint32_t)lround(31.0 * l.scale) << 18 | (has_alpha ? 1u << 23 : 0u);
    uint32_t h16 = (uint32_t)(landscape ? ly : lx) | (uint32_t)lround(63.0 * pc.scale) << 3 |
                   (uint32_t)lround(63.0 * qc.scale) << 9 | (landscape ? 1u << 15 : 0u);
    nibbles nb = {.out = out, .cap = PROC_THUMBHASH_MAX};
    out[nb.len++] = (uint8_t)(h24 & 255);
    out[nb.len++] = (uint8_t)((h24 >> 8) & 255);
    out[nb.len++] = (uint8_t)((h24 >> 16) & 255);
    out[nb.len++] = (uint8_t)(h16 & 255);
    out[nb.len++] = (uint8_t)((h16 >> 8) & 255);
    if (has_alpha)
        out[nb.len++] = (uint8_t)(lround(15.0 * ac.dc) | lround(15.0 * ac.scale) << 4);
    put_terms(&nb, &l);
    put_terms(&nb, &pc);
    put_terms(&nb, &qc);
    if (has_alpha)
        put_terms(&nb, &ac);
    return nb.len;
}

/* Reads 4-bit values back in put_nibble's order; -1 past the end. */
typedef struct nibble_reader {
    const uint8_t *in;
    size_t len, pos;
    int odd;
} nibble_reader;

static int get_nibble(nibble_reader *r)
{
    if (r->pos >= r->len)
        return -1;
    int v = r->odd ? r->in[r->pos++] >> 4 : r->in[r->pos] & 15;
    r->odd = !r->odd;
    return v;
}

static int get_terms(nibble_reader *r, int nx, int ny, double scale, double *ac, int *n)
{
    *n = 0;
    for (int cy = 0; cy < ny; cy++)
        for (int cx = cy ? 0 : 1; cx * ny < nx * (ny - cy); cx++) {
            int v = get_nibble(r);
            if (v < 0 || *n >= MAX_TERMS)
                return -1;
            ac[(*n)++] = (v / 7.5 - 1.0) * scale;
        }
    return 0;
}

static uint8_t unit_byte(double v)
{
    return (uint8_t)(fmin(1.0, fmax(0.0, v)) * 255.0);
}

int proc_thumbhash_decode(const uint8_t *hash, size_t len, int *w, int *h,
                          uint8_t rgba[PROC_THUMBHASH_DECODE_SIDE * PROC_THUMBHASH_DECODE_SIDE * 4])
{
    if (len < 5)
        return -1;
    uint32_t h24 = hash[0] | (uint32_t)hash[1] << 8 | (uint32_t)hash[2] << 16;
    uint32_t h16 = hash[3] | (uint32_t)hash[4] << 8;
    double l_dc = (h24 & 63) / 63.0;
    double p_dc = ((h24 >> 6) & 63) / 31.5 - 1.0;
    double q_dc = ((h24 >> 12) & 63) / 31.5 - 1.0;
    double l_scale = ((h24 >> 18) & 31) / 31.0;
    int has_alpha = (h24 >> 23) != 0;
    double p_scale = ((h16 >> 3) & 63) / 63.0;
    double q_scale = ((h16 >> 9) & 63) / 63.0;
    int landscape = (h16 >> 15) != 0;
    int l_max = has_alpha ? 5 : 7;
    int l_min = (int)(h16 & 7);
    int lx0 = landscape ? l_max : l_min, ly0 = landscape ? l_min : l_max;
    if (lx0 < 1 || ly0 < 1)
        return -1;
    int lx = lx0 > 3 ? lx0 : 3, ly = ly0 > 3 ? ly0 : 3;
    double a_dc = 1, a_scale = 1;
    nibble_reader r = {.in = hash, .len = len, .pos = 5};
    if (has_alpha) {
        if (len < 6)
            return -1;
        a_dc = (hash[5] & 15) / 15.0;
        a_scale = (hash[5] >> 4) / 15.0;
        r.pos = 6;
    }
    double l_ac[MAX_TERMS], p_ac[MAX_TERMS], q_ac[MAX_TERMS], a_ac[MAX_TERMS];
    int nl, np, nq, na = 0;
    if (get_terms(&r, lx, ly, l_scale, l_ac, &nl) ||
        get_terms(&r, 3, 3, p_scale * 1.25, p_ac, &np) ||
        get_terms(&r, 3, 3, q_scale * 1.25, q_ac, &nq) ||
        (has_alpha && get_terms(&r, 5, 5, a_scale, a_ac, &na)))
        return -1;

    const int S = PROC_THUMBHASH_DECODE_SIDE;
    double ratio = (double)lx0 / ly0;
    int W = ratio > 1 ? S : (int)fmax(1, lround(S * ratio));
    int H = ratio > 1 ? (int)fmax(1, lround(S / ratio)) : S;
    double fx[7], fy[7];
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            double l = l_dc, p = p_dc, q = q_dc, a = a_dc;
            for (int c = 0; c < 7; c++) {
                fx[c] = cos(M_PI / W * (x + 0.5) * c);
                fy[c] = cos(M_PI / H * (y + 0.5) * c);
            }
            int j = 0;
            for (int cy = 0; cy < ly; cy++)
                for (int cx = cy ? 0 : 1; cx * ly < lx * (ly - cy); cx++, j++)
                    l += l_ac[j] * fx[cx] * fy[cy] * 2.0;
            j = 0;
            for (int cy = 0; cy < 3; cy++)
                for (int cx = cy ? 0 : 1; cx < 3 - cy; cx++, j++) {
                    double f = fx[cx] * fy[cy] * 2.0;
                    p += p_ac[j] * f;
                    q += q_ac[j] * f;
                }
            if (has_alpha) {
                j = 0;
                for (int cy = 0; cy < 5; cy++)
                    for (int cx = cy ? 0 : 1; cx < 5 - cy; cx++, j++)
                        a += a_ac[j] * fx[cx] * fy[cy] * 2.0;
            }
            double b = l - 2.0 / 3.0 * p;
            double rr = (3.0 * l - b + q) / 2.0;
            double g = rr - q;
            uint8_t *o = rgba + 4 * (y * W + x);
            o[0] = unit_byte(rr);
            o[1] = unit_byte(g);
            o[2] = unit_byte(b);
            o[3] = unit_byte(a);
        }
    }
    *w = W;
    *h = H;
    return 0;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t proc_thumbhash_base64(const uint8_t *hash, size_t len, char out[PROC_THUMBHASH_B64_MAX])
{
    size_t o = 0;
    if (len > PROC_THUMBHASH_MAX)
        len = PROC_THUMBHASH_MAX;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)hash[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)hash[i + 1] << 8;
        if (i + 2 < len)
            v |= hash[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? B64[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

size_t proc_thumbhash_unbase64(const char *text, uint8_t out[PROC_THUMBHASH_MAX])
{
    size_t n = strlen(text), o = 0;
    if (n == 0 || n % 4 != 0 || n / 4 * 3 > PROC_THUMBHASH_MAX + 2)
        return 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = text[i + k];
            const char *at = c && c != '=' ? strchr(B64, c) : NULL;
            if (c == '=' && i + 4 == n && k >= 2) {
                pad++;
                v <<= 6;
                continue;
            }
            if (!at || pad)
                return 0;
            v = v << 6 | (uint32_t)(at - B64);
        }
        uint8_t b[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        for (int k = 0; k < 3 - pad; k++) {
            if (o >= PROC_THUMBHASH_MAX)
                return 0;
            out[o++] = b[k];
        }
    }
    return o;
}
