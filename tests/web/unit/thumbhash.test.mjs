// The page's ThumbHash decoder (web/js/thumbhash.js), in node, against
// hashes built here by hand from the format's description: the header's bit
// fields packed from a chosen colour, aspect ratio and alpha, and chosen
// cosine terms. What each should decode to follows from the description
// alone (the colour space, the term counts per side, the direction of each
// cosine), never from running the decoder.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  base64ToBytes, decodeThumbHash, thumbHashAspectRatio, thumbHashAverageRGBA, MAX_HASH_BYTES,
} from '../../../web/js/thumbhash.js';

// Terms kept for a channel of nx by ny: cx * ny < nx * (ny - cy), minus (0, 0).
function termCount(nx, ny) {
  let n = 0;
  for (let cy = 0; cy < ny; cy += 1) {
    for (let cx = cy === 0 ? 1 : 0; cx * ny < nx * (ny - cy); cx += 1) n += 1;
  }
  return n;
}

// Packs a hash: DCs and scales already as the integers the header stores,
// `nibbles` as the 4-bit AC values in order (missing ones are 0).
function packHash({ lDc, pDc, qDc, lScale = 0, hasAlpha = 0, shortSide, pScale = 0, qScale = 0,
  landscape, aDc = 15, aScale = 0, nibbles = [] }) {
  const longSide = hasAlpha ? 5 : 7;
  const lx = landscape ? longSide : shortSide;
  const ly = landscape ? shortSide : longSide;
  const count = termCount(Math.max(3, lx), Math.max(3, ly)) + 2 * termCount(3, 3) + (hasAlpha ? termCount(5, 5) : 0);
  const h24 = lDc | (pDc << 6) | (qDc << 12) | (lScale << 18) | (hasAlpha << 23);
  const h16 = shortSide | (pScale << 3) | (qScale << 9) | (landscape << 15);
  const head = [h24 & 255, (h24 >> 8) & 255, (h24 >> 16) & 255, h16 & 255, h16 >> 8];
  if (hasAlpha) head.push(aDc | (aScale << 4));
  const ac = new Array(Math.ceil(count / 2)).fill(0);
  nibbles.forEach((v, k) => { ac[k >> 1] |= v << ((k & 1) * 4); });
  return Uint8Array.from([...head, ...ac]);
}

// A solid colour's L, P, Q (each in 0..1 or -1..1) as the header stores them.
function quantiseColour([r, g, b]) {
  const [R, G, B] = [r / 255, g / 255, b / 255];
  const l = (R + G + B) / 3;
  const p = (R + G) / 2 - B;
  const q = R - G;
  return { lDc: Math.round(63 * l), pDc: Math.round(31.5 + 31.5 * p), qDc: Math.round(31.5 + 31.5 * q) };
}

const base64 = (bytes) => Buffer.from(bytes).toString('base64');

// The largest error the header's quantisation allows on a channel, in
// 0-255: half a step of L (1/63) plus two thirds of half a step of P or Q
// (2/63), rounded up.
const COLOUR_SLACK = Math.ceil(255 * (0.5 / 63 + (2 / 3) * (1 / 63) + 0.5 / 63));

function pixelsOf({ width, height, rgba }) {
  const at = (x, y) => {
    const i = 4 * (y * width + x);
    return [rgba[i], rgba[i + 1], rgba[i + 2], rgba[i + 3]];
  };
  return { at, width, height };
}

test('a solid landscape colour: the aspect ratio of its term counts, the colour everywhere', () => {
  const colour = [230, 120, 40];
  // 2:1, no alpha: 7 terms along the width, round(7 / 2) = 4 along the height.
  const hash = packHash({ ...quantiseColour(colour), landscape: 1, shortSide: 4 });
  assert.equal(hash.length, 5 + Math.ceil((termCount(7, 4) + 2 * termCount(3, 3)) / 2));
  const bytes = base64ToBytes(base64(hash));
  assert.deepEqual([...bytes], [...hash], 'standard base64 decodes to the same bytes');

  assert.equal(thumbHashAspectRatio(bytes), 7 / 4);
  const picture = decodeThumbHash(bytes);
  assert.ok(picture, 'the hash decodes');
  assert.equal(picture.width, 32, 'the long side is 32 pixels');
  assert.equal(picture.height, Math.round(32 / (7 / 4)));
  assert.ok(Math.abs(picture.width / picture.height - 2) < 0.25, 'about as wide as the 2:1 original');

  const px = pixelsOf(picture);
  for (let y = 0; y < px.height; y += 1) {
    for (let x = 0; x < px.width; x += 1) {
      const [r, g, b, a] = px.at(x, y);
      for (const [got, want] of [[r, colour[0]], [g, colour[1]], [b, colour[2]]]) {
        assert.ok(Math.abs(got - want) <= COLOUR_SLACK, `pixel (${x}, ${y}) is ${[r, g, b]}, not near ${colour}`);
      }
      assert.equal(a, 255, 'opaque without alpha');
    }
  }
  const avg = thumbHashAverageRGBA(bytes);
  colour.forEach((c, i) => assert.ok(Math.abs(avg[i] - c) <= COLOUR_SLACK, `average ${avg} near ${colour}`));
  assert.equal(avg[3], 255);
});

test('a portrait with alpha: 5 terms along the height, the alpha of its DC', () => {
  const colour = [20, 90, 200];
  // 1:2 with alpha: 5 terms along the height, round(5 / 2) = 3 along the width.
  const hash = packHash({ ...quantiseColour(colour), landscape: 0, shortSide: 3, hasAlpha: 1, aDc: 8 });
  assert.equal(hash.length, 6 + Math.ceil((termCount(3, 5) + 2 * termCount(3, 3) + termCount(5, 5)) / 2));
  assert.equal(thumbHashAspectRatio(hash), 3 / 5);
  const picture = decodeThumbHash(hash);
  assert.equal(picture.height, 32);
  assert.equal(picture.width, Math.round(32 * (3 / 5)));
  const [r, g, b, a] = pixelsOf(picture).at(5, 20);
  [r, g, b].forEach((c, i) => assert.ok(Math.abs(c - colour[i]) <= COLOUR_SLACK, `${[r, g, b]} near ${colour}`));
  assert.ok(Math.abs(a - (255 * 8) / 15) <= 1, `alpha ${a} is 8/15`);
  assert.ok(Math.abs(thumbHashAverageRGBA(hash)[3] - (255 * 8) / 15) <= 1);
});

// Mean lightness ((r + g + b) / 3) over the pixels where `where(x, y)` holds.
function meanLight(picture, where) {
  const px = pixelsOf(picture);
  let sum = 0;
  let n = 0;
  for (let y = 0; y < px.height; y += 1) {
    for (let x = 0; x < px.width; x += 1) {
      if (!where(x, y, px)) continue;
      const [r, g, b] = px.at(x, y);
      sum += (r + g + b) / 3;
      n += 1;
    }
  }
  return sum / n;
}

test('the first cosine terms light the left or the top', () => {
  // A square (7 by 7 terms), mid grey, small L scale so nothing clips. The
  // other terms sit at 8 (a nudge of 1/15 of the scale each); term 0 is
  // (cx 1, cy 0), cos(pi (x + 0.5) / w), positive on the left half; term 6
  // (the first of row cy 1) is (cx 0, cy 1), positive on the top half.
  const grey = { lDc: 32, pDc: 32, qDc: 32, lScale: 3, landscape: 0, shortSide: 7 };
  const count = termCount(7, 7);
  const withTerm = (index, value) => {
    const nibbles = new Array(count).fill(8);
    nibbles[index] = value;
    return decodeThumbHash(packHash({ ...grey, nibbles }));
  };
  const left = (x, y, px) => x < px.width / 2;
  const right = (x, y, px) => x >= px.width / 2;
  const top = (x, y, px) => y < px.height / 2;
  const bottom = (x, y, px) => y >= px.height / 2;

  const lit = withTerm(0, 15);
  assert.equal(lit.width, 32);
  assert.equal(lit.height, 32);
  assert.ok(meanLight(lit, left) > meanLight(lit, right) + 10, 'a positive (1, 0) term: brighter on the left');
  const dim = withTerm(0, 0);
  assert.ok(meanLight(dim, left) < meanLight(dim, right) - 10, 'a negative (1, 0) term: darker on the left');
  const above = withTerm(6, 15);
  assert.ok(meanLight(above, top) > meanLight(above, bottom) + 10, 'a positive (0, 1) term: brighter on top');
});

test('what is not a whole hash is refused, never read past its end', () => {
  const good = packHash({ ...quantiseColour([1, 2, 3]), landscape: 1, shortSide: 4 });
  assert.equal(decodeThumbHash(good.subarray(0, good.length - 1)), null, 'one byte short');
  assert.equal(decodeThumbHash(good.subarray(0, 4)), null, 'shorter than the header');
  assert.equal(decodeThumbHash(new Uint8Array(MAX_HASH_BYTES + 1)), null, 'longer than any hash');
  assert.equal(decodeThumbHash(null), null);
  const noHeight = packHash({ ...quantiseColour([1, 2, 3]), landscape: 1, shortSide: 0 });
  assert.equal(decodeThumbHash(noHeight), null, 'a side of no terms');
  assert.equal(base64ToBytes('not base64!'), null);
  assert.equal(base64ToBytes('YWJj'.repeat(40)), null, 'too long');
  assert.equal(base64ToBytes('YWJjZA'), null, 'padding is required');
  assert.equal(base64ToBytes(''), null);
  assert.equal(base64ToBytes(42), null);
});
