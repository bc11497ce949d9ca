// Test images made on the spot: small RGB PNGs encoded with node's zlib, so
// the tests need no image files and download nothing.
//
// makePng(width, height, seed) draws a soft diagonal gradient in a hue picked
// from the seed, with a few circles, so screenshots show distinct pictures
// and each file has different bytes. makeTwoColourPng(width, height, share,
// left, right) is two flat colours side by side.

import zlib from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

function hsl(h, s, l) {
  const a = s * Math.min(l, 1 - l);
  const f = (n) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

export function makePng(width, height, seed = 0) {
  const hue = (seed * 47) % 360;
  const circles = [0, 1, 2].map((i) => ({
    x: ((seed * 31 + i * 97) % 100) / 100 * width,
    y: ((seed * 17 + i * 53) % 100) / 100 * height,
    r: (0.12 + 0.08 * i) * Math.min(width, height),
    c: hsl((hue + 120 + i * 60) % 360, 0.7, 0.6),
  }));
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let o = 0;
  for (let y = 0; y < height; y += 1) {
    raw[o++] = 0; // filter: none
    for (let x = 0; x < width; x += 1) {
      const t = (x / width + y / height) / 2;
      let [r, g, b] = hsl((hue + t * 50) % 360, 0.65, 0.35 + 0.3 * t);
      for (const c of circles) {
        if ((x - c.x) ** 2 + (y - c.y) ** 2 < c.r ** 2) [r, g, b] = c.c;
      }
      raw[o++] = r;
      raw[o++] = g;
      raw[o++] = b;
    }
  }
  return rgbPng(width, height, raw);
}

// A PNG in two colours ([r, g, b], 0-255): `left` on the first `share`
// (0-1) of every row, `right` on the rest. What its placeholder must look
// like (which colour where) is known in advance.
export function makeTwoColourPng(width, height, share, left, right) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  const edge = Math.round(share * width);
  for (let y = 0, o = 0; y < height; y += 1) {
    raw[o++] = 0; // filter: none
    for (let x = 0; x < width; x += 1) {
      const c = x < edge ? left : right;
      raw[o++] = c[0];
      raw[o++] = c[1];
      raw[o++] = c[2];
    }
  }
  return rgbPng(width, height, raw);
}

// An 8-bit RGB PNG of `raw` (rows, each after its filter byte).
function rgbPng(width, height, raw) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// A PNG whose header claims `width` x `height` but whose pixel data is one
// tiny row: enough for a header check (the pixel limit) without the bytes.
export function pngClaimingSize(width, height) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(4))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
