// What a box shows before its picture arrives: the image's dominant colour
// and its ThumbHash, from the image document's `placeholder`
// ({"thumbhash": base64, "color": "#rrggbb"}, or null for an image that has
// none yet or was made before placeholders).
//
// The hash is decoded (thumbhash.js) into a 32-pixel RGBA picture, drawn on a
// small canvas and turned into a PNG data: URL (the page's CSP allows data:
// images). `paintPlaceholder` sets an element's background colour to the
// dominant colour and its background image to that URL, through the style
// object (no inline style in the markup). Decoded URLs are kept in a small
// map, oldest dropped first, so a card drawn again decodes nothing.

import { base64ToBytes, decodeThumbHash } from './thumbhash.js';

const COLOR = /^#[0-9a-f]{6}$/i;
const MAX_CACHED = 256;
const cache = new Map(); // base64 hash -> data: URL ('' when it did not decode)

function dataUrlOf(hash) {
  if (cache.has(hash)) return cache.get(hash);
  let url = '';
  const picture = decodeThumbHash(base64ToBytes(hash));
  if (picture) {
    const canvas = document.createElement('canvas');
    canvas.width = picture.width;
    canvas.height = picture.height;
    const ctx = canvas.getContext('2d');
    if (ctx) {
      const pixels = ctx.createImageData(picture.width, picture.height);
      pixels.data.set(picture.rgba);
      ctx.putImageData(pixels, 0, 0);
      url = canvas.toDataURL('image/png');
    }
  }
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value);
  cache.set(hash, url);
  return url;
}

// { color, url, key } for an image document, or null when it has no usable
// placeholder. `color` is "#rrggbb" or '', `url` a data: URL or ''.
export function placeholderOf(info) {
  const p = info && info.placeholder;
  if (!p || typeof p !== 'object') return null;
  const color = typeof p.color === 'string' && COLOR.test(p.color) ? p.color.toLowerCase() : '';
  const url = typeof p.thumbhash === 'string' ? dataUrlOf(p.thumbhash) : '';
  if (!color && !url) return null;
  return { color, url, key: `${color} ${p.thumbhash || ''}` };
}

// Paints `el` with a placeholder from placeholderOf (or clears it for null).
export function paintPlaceholder(el, placeholder) {
  el.style.backgroundColor = placeholder && placeholder.color ? placeholder.color : '';
  el.style.backgroundImage = placeholder && placeholder.url ? `url("${placeholder.url}")` : '';
}
