// ThumbHash decoding: a few bytes that describe a tiny, blurred version of an
// image (its colours, light and shade, and aspect ratio), turned back into
// RGBA pixels. The server computes the hash from the thumbnail; the page
// paints it while the thumbnail itself is still on its way.
//
// HOW IT WORKS
// The image is held in an LPQA colour space: L the lightness (average of
// R, G, B), P the yellow-blue axis ((R + G) / 2 - B), Q the red-green axis
// (R - G), A the alpha. Each channel is a constant (DC) plus a few cosine
// (DCT) terms. The hash is, little-endian:
//   bytes 0-2  (24 bits): L DC (6 bits, / 63), P DC (6, / 31.5 - 1),
//              Q DC (6, / 31.5 - 1), L scale (5, / 31), has-alpha (1);
//   bytes 3-4  (16 bits): the count of L terms along the image's short
//              side (3 bits; the long side has 7, or 5 with alpha),
//              P scale (6, / 63), Q scale (6, / 63), is-landscape (1);
//   byte 5     (with alpha only): A DC (low 4 bits, / 15), A scale (high 4);
//   then one 4-bit value per AC term, low nibble first, each mapped to
//   (v / 7.5 - 1) * the channel's scale: L's terms, then P's, Q's, A's.
// A channel with nx by ny terms keeps the triangle of (cx, cy) with
// cx * ny < nx * (ny - cy), in rows of cy, without (0, 0) (the DC). P and Q
// have 3 by 3 terms, A 5 by 5; P and Q's scales are raised by 1.25 to make
// up for the saturation lost to quantisation. A term (cx, cy) adds
// 2 * value * cos(pi / w * (x + 0.5) * cx) * cos(pi / h * (y + 0.5) * cy)
// at pixel (x, y) of a w by h picture. The picture is 32 pixels on its long
// side, its aspect ratio that of the term counts (nx / ny).
//
// Everything here is pure computation (no DOM), so node can test it. Input
// is bounded: a hash longer than MAX_HASH_BYTES, malformed base64 or a hash
// shorter than its header says is refused (null), never read past its end.

export const MAX_HASH_BYTES = 48;
const MAX_BASE64_CHARS = 4 * Math.ceil(MAX_HASH_BYTES / 3);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const SIDE = 32;

// Standard base64 (with padding) to bytes; null when it is not that or too long.
export function base64ToBytes(text) {
  if (typeof text !== 'string' || !text || text.length > MAX_BASE64_CHARS || !BASE64.test(text)) return null;
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
  return out;
}

// The (cx, cy) terms of a channel with nx by ny terms, in the hash's order.
function terms(nx, ny) {
  const out = [];
  for (let cy = 0; cy < ny; cy += 1) {
    for (let cx = cy === 0 ? 1 : 0; cx * ny < nx * (ny - cy); cx += 1) out.push([cx, cy]);
  }
  return out;
}

// The header's fields, or null when `bytes` is too short for them.
function readHeader(bytes) {
  if (!bytes || bytes.length < 5 || bytes.length > MAX_HASH_BYTES) return null;
  const h24 = bytes[0] | (bytes[1] << 8) | (bytes[2] << 16);
  const h16 = bytes[3] | (bytes[4] << 8);
  const hasAlpha = (h24 >> 23) & 1;
  const landscape = (h16 >> 15) & 1;
  if (hasAlpha && bytes.length < 6) return null;
  const longSide = hasAlpha ? 5 : 7;
  const shortSide = h16 & 7;
  const lxStored = landscape ? longSide : shortSide;
  const lyStored = landscape ? shortSide : longSide;
  return {
    lDc: (h24 & 63) / 63,
    pDc: ((h24 >> 6) & 63) / 31.5 - 1,
    qDc: ((h24 >> 12) & 63) / 31.5 - 1,
    lScale: ((h24 >> 18) & 31) / 31,
    hasAlpha,
    pScale: ((h16 >> 3) & 63) / 63,
    qScale: ((h16 >> 9) & 63) / 63,
    aDc: hasAlpha ? (bytes[5] & 15) / 15 : 1,
    aScale: hasAlpha ? (bytes[5] >> 4) / 15 : 0,
    // The aspect ratio comes from the stored counts; the term counts are
    // never fewer than 3.
    ratio: lyStored ? lxStored / lyStored : 0,
    lx: Math.max(3, lxStored),
    ly: Math.max(3, lyStored),
    acStart: hasAlpha ? 6 : 5,
  };
}

// Width / height of the hashed image, as the hash knows it (to about a
// seventh); 0 for bytes that are not a hash.
export function thumbHashAspectRatio(bytes) {
  const head = readHeader(bytes);
  return head ? head.ratio : 0;
}

function lpqToRgb(l, p, q) {
  const b = l - (2 / 3) * p;
  const r = (3 * l - b + q) / 2;
  const g = r - q;
  return [r, g, b];
}

const to8 = (v) => Math.round(255 * Math.min(1, Math.max(0, v)));

// The average colour (the DC terms) as [r, g, b, a], 0-255; null for bytes
// that are not a hash.
export function thumbHashAverageRGBA(bytes) {
  const head = readHeader(bytes);
  if (!head) return null;
  const [r, g, b] = lpqToRgb(head.lDc, head.pDc, head.qDc);
  return [to8(r), to8(g), to8(b), to8(head.aDc)];
}

// Decodes a hash (bytes) into { width, height, rgba } (rgba: Uint8ClampedArray,
// row by row, not premultiplied), 32 pixels on the long side; null when the
// bytes are not a whole hash.
export function decodeThumbHash(bytes) {
  const head = readHeader(bytes);
  if (!head || !(head.ratio > 0) || !Number.isFinite(head.ratio)) return null;
  const channels = [
    { dc: head.lDc, scale: head.lScale, terms: terms(head.lx, head.ly) },
    { dc: head.pDc, scale: head.pScale * 1.25, terms: terms(3, 3) },
    { dc: head.qDc, scale: head.qScale * 1.25, terms: terms(3, 3) },
  ];
  if (head.hasAlpha) channels.push({ dc: head.aDc, scale: head.aScale, terms: terms(5, 5) });
  const nibbles = channels.reduce((n, c) => n + c.terms.length, 0);
  if (bytes.length < head.acStart + Math.ceil(nibbles / 2)) return null;

  let k = 0;
  for (const c of channels) {
    c.values = c.terms.map(() => {
      const byte = bytes[head.acStart + (k >> 1)];
      const nibble = (k & 1) ? byte >> 4 : byte & 15;
      k += 1;
      return (nibble / 7.5 - 1) * c.scale;
    });
  }

  const width = Math.max(1, Math.round(head.ratio > 1 ? SIDE : SIDE * head.ratio));
  const height = Math.max(1, Math.round(head.ratio > 1 ? SIDE / head.ratio : SIDE));
  const maxTerms = Math.max(head.lx, head.ly, head.hasAlpha ? 5 : 3);
  // cosX[x][cx] and cosY[y][cy]: the cosine tables, computed once.
  const table = (n) => Array.from({ length: n }, (_, i) => Array.from({ length: maxTerms },
    (__, c) => Math.cos((Math.PI / n) * (i + 0.5) * c)));
  const cosX = table(width);
  const cosY = table(height);

  const rgba = new Uint8ClampedArray(width * height * 4);
  const sample = (c, fx, fy) => {
    let v = c.dc;
    for (let j = 0; j < c.terms.length; j += 1) {
      const [cx, cy] = c.terms[j];
      v += 2 * c.values[j] * fx[cx] * fy[cy];
    }
    return v;
  };
  for (let y = 0, i = 0; y < height; y += 1) {
    const fy = cosY[y];
    for (let x = 0; x < width; x += 1, i += 4) {
      const fx = cosX[x];
      const [r, g, b] = lpqToRgb(sample(channels[0], fx, fy), sample(channels[1], fx, fy), sample(channels[2], fx, fy));
      rgba[i] = to8(r);
      rgba[i + 1] = to8(g);
      rgba[i + 2] = to8(b);
      rgba[i + 3] = head.hasAlpha ? to8(sample(channels[3], fx, fy)) : 255;
    }
  }
  return { width, height, rgba };
}
