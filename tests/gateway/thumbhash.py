"""A ThumbHash decoder, for the e2e tests that check the placeholders.

ThumbHash (Evan Wallace, 2023) packs a tiny picture into ~25 bytes: the
colours in an LPQ space (luminance L, and two chroma axes P = yellow-blue
and Q = red-green), each channel as a DC value plus a few low-frequency
cosine (DCT) coefficients, and alpha the same way when the picture has it.

Layout, little-endian bit fields:
  bytes 0-2 (24 bits): L DC (6 bits, /63), P DC (6, /31.5 - 1), Q DC (6,
      /31.5 - 1), L scale (5, /31), has-alpha (1)
  bytes 3-4 (16 bits): the coefficient count along the shorter side (3
      bits; the longer side has 7, or 5 with alpha), P scale (6, /63), Q
      scale (6, /63), is-landscape (1)
  byte 5 when has-alpha: A DC (4 bits, /15), A scale (4 bits, /15)
  then the AC coefficients, 4 bits each (low nibble first), value / 7.5 - 1
      times the channel's scale: L over an nx x ny triangle (cx * ny <
      nx * (ny - cy), the DC left out), P and Q over 3 x 3 (scaled by 1.25
      to undo the encoder's quantisation loss), A over 5 x 5.
The counts along each side follow the picture's shape (the encoder takes
round(7 * side / longer side)), so the hash alone gives the aspect ratio.
A pixel is the DC plus the sum of coefficient * cos(pi/w * (x + .5) * cx) *
cos(pi/h * (y + .5) * cy) * 2, and back to RGB by b = l - 2/3 p,
r = (3l - b + q) / 2, g = r - q.
"""
import base64
import math


class ThumbHash:
    def __init__(self, text):
        h = base64.b64decode(text, validate=True)
        if len(h) < 5:
            raise ValueError("a ThumbHash has at least 5 bytes, got %d" % len(h))
        self.raw = h
        h24 = h[0] | (h[1] << 8) | (h[2] << 16)
        h16 = h[3] | (h[4] << 8)
        self.l_dc = (h24 & 63) / 63
        self.p_dc = ((h24 >> 6) & 63) / 31.5 - 1
        self.q_dc = ((h24 >> 12) & 63) / 31.5 - 1
        self.l_scale = ((h24 >> 18) & 31) / 31
        self.has_alpha = bool(h24 >> 23)
        self.p_scale = ((h16 >> 3) & 63) / 63
        self.q_scale = ((h16 >> 9) & 63) / 63
        self.is_landscape = bool(h16 >> 15)
        longer = 5 if self.has_alpha else 7
        shorter = h16 & 7
        # The counts the encoder chose (they give the aspect ratio) ...
        self.nx = longer if self.is_landscape else shorter
        self.ny = shorter if self.is_landscape else longer
        # ... and the counts of L coefficients stored (never fewer than 3).
        self.lx, self.ly = max(3, self.nx), max(3, self.ny)
        self.a_dc = (h[5] & 15) / 15 if self.has_alpha else 1.0
        self.a_scale = (h[5] >> 4) / 15 if self.has_alpha else 0.0
        self._at = 6 if self.has_alpha else 5
        self._nibble = 0
        self.l_ac = self._channel(self.lx, self.ly, self.l_scale)
        self.p_ac = self._channel(3, 3, self.p_scale * 1.25)
        self.q_ac = self._channel(3, 3, self.q_scale * 1.25)
        self.a_ac = self._channel(5, 5, self.a_scale) if self.has_alpha else []

    def _channel(self, nx, ny, scale):
        out = []
        for cy in range(ny):
            cx = 0 if cy else 1
            while cx * ny < nx * (ny - cy):
                i = self._at + (self._nibble >> 1)
                if i >= len(self.raw):
                    raise ValueError("the ThumbHash ends inside its coefficients")
                v = (self.raw[i] >> ((self._nibble & 1) * 4)) & 15
                out.append((v / 7.5 - 1) * scale)
                self._nibble += 1
                cx += 1
        return out

    def aspect_ratio(self):
        """Width / height as the hash encodes it."""
        return self.nx / self.ny

    def average_rgb(self):
        """The DC colour: the picture's average, each channel 0..1."""
        return _rgb(self.l_dc, self.p_dc, self.q_dc)

    def size(self):
        """The decoded picture's size: 32 pixels on the longer side."""
        r = self.aspect_ratio()
        return (round(32 if r > 1 else 32 * r), round(32 / r if r > 1 else 32))

    def decode(self):
        """The tiny picture: (w, h, [(r, g, b, a)] row by row), 0..255."""
        w, h = self.size()
        px = []
        for y in range(h):
            for x in range(w):
                fx = [math.cos(math.pi / w * (x + 0.5) * c) for c in range(max(self.lx, 5))]
                fy = [math.cos(math.pi / h * (y + 0.5) * c) for c in range(max(self.ly, 5))]
                l = self.l_dc + _sum(self.l_ac, self.lx, self.ly, fx, fy)
                p = self.p_dc + _sum(self.p_ac, 3, 3, fx, fy)
                q = self.q_dc + _sum(self.q_ac, 3, 3, fx, fy)
                a = self.a_dc + (_sum(self.a_ac, 5, 5, fx, fy) if self.has_alpha else 0)
                r, g, b = _rgb(l, p, q)
                px.append(tuple(int(255 * min(1, max(0, c))) for c in (r, g, b, a)))
        return w, h, px


def _sum(ac, nx, ny, fx, fy):
    """The AC part of one pixel: the coefficients in _channel's order."""
    s, j = 0.0, 0
    for cy in range(ny):
        cx = 0 if cy else 1
        while cx * ny < nx * (ny - cy):
            s += ac[j] * fx[cx] * fy[cy] * 2
            j += 1
            cx += 1
    return s


def _rgb(l, p, q):
    b = l - 2 / 3 * p
    r = (3 * l - b + q) / 2
    return r, r - q, b
