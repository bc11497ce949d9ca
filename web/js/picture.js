// A variant as a <picture>: one <source> per extra format the server made
// (AVIF first, then WebP: the smaller first) and the <img> on the primary
// JPEG or PNG, so the browser takes the best format it can show and any
// browser still has the primary.
//
// A variant object (`variants.<name>` of an image document) carries `url`
// (the primary) and `formats` ({"jpeg"|"png": {url, size}, "webp": {...},
// "avif": {...}}, `{}` until ready; AVIF only where the operator enabled
// it). Only /media/ URLs become sources, so a srcset can never be given a
// URL with spaces or commas (which it would split).

const SOURCE_TYPES = [['avif', 'image/avif'], ['webp', 'image/webp']];
const SAFE_URL = /^\/media\/[^\s,]+$/;

// [{ type, url }] of the extra formats a variant has, best first.
export function variantSources(variant) {
  const formats = variant && variant.formats && typeof variant.formats === 'object' ? variant.formats : {};
  const out = [];
  for (const [format, type] of SOURCE_TYPES) {
    const f = formats[format];
    if (f && typeof f.url === 'string' && SAFE_URL.test(f.url)) out.push({ type, url: f.url });
  }
  return out;
}

// Puts `sources` (variantSources) into `picture` ahead of its <img>,
// replacing any it had. Call it before setting the img's src: the browser
// chooses again when either changes.
export function setSources(picture, sources) {
  for (const old of picture.querySelectorAll('source')) old.remove();
  const img = picture.querySelector('img');
  for (const { type, url } of sources) {
    const source = document.createElement('source');
    source.type = type;
    source.srcset = url;
    picture.insertBefore(source, img);
  }
}

// A signature of what a variant shows (primary and extra URLs), to tell
// whether a <picture> must be rebuilt.
export function pictureKey(variant) {
  if (!variant || !variant.url) return '';
  return [variant.url, ...variantSources(variant).map((s) => s.url)].join(' ');
}
