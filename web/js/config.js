// What the server says the page may offer: its variants and its limits.
//
// The gateway answers GET /api/config with
//   {"variants": [{"name": "...", "title": "..."}, ...],   canonical order
//    "default_ops": ["...", ...],                           asked for by default
//    "upload_max_bytes": 52428800, "pixel_limit": 100000000}
// and the page names no variant of its own: the upload choices, the gallery
// filter, the viewer's versions and the size check all come from here.
// setConfig() checks an answer and keeps it; until one was kept, `loaded` is
// false and the lists are empty. config-load.js does the fetching.

const NAME = /^[a-z][a-z0-9_-]{0,31}$/;

export const config = {
  loaded: false,
  variants: [], // [{name, title}] in the server's order
  defaultOps: [], // names
  uploadMaxBytes: 0,
  pixelLimit: 0, // 0 when the server did not say
};

function isPositiveInteger(n) {
  return Number.isSafeInteger(n) && n > 0;
}

// Checks `json` (the parsed /api/config body) and keeps it. Throws an Error
// saying what is wrong, and keeps nothing, when it is not a usable answer.
export function setConfig(json) {
  if (!json || typeof json !== 'object') throw new Error('the answer is not a JSON object');
  const list = json.variants;
  if (!Array.isArray(list) || !list.length) throw new Error('it lists no variants');
  const variants = [];
  for (const v of list) {
    const name = v && typeof v.name === 'string' ? v.name : '';
    if (!NAME.test(name) || variants.some((x) => x.name === name)) {
      throw new Error(`it lists a bad variant name (${JSON.stringify(name)})`);
    }
    const title = typeof v.title === 'string' && v.title.trim() ? v.title.trim() : name;
    variants.push({ name, title });
  }
  if (!isPositiveInteger(json.upload_max_bytes)) throw new Error('it gives no upload limit');
  const known = new Set(variants.map((v) => v.name));
  const defaults = Array.isArray(json.default_ops) ? json.default_ops.filter((n) => known.has(n)) : [];
  Object.assign(config, {
    loaded: true,
    variants,
    defaultOps: defaults.length ? defaults : [...known],
    uploadMaxBytes: json.upload_max_bytes,
    pixelLimit: isPositiveInteger(json.pixel_limit) ? json.pixel_limit : 0,
  });
}

export function variantNames() {
  return config.variants.map((v) => v.name);
}

export function isVariant(name) {
  return config.variants.some((v) => v.name === name);
}

// The title a person reads for a variant ("original" is not a variant but a
// version the viewer offers too); the name itself when the server gave none.
export function variantTitle(name) {
  if (name === 'original') return 'Original';
  const v = config.variants.find((x) => x.name === name);
  return v ? v.title : name;
}

// "a, b and c" (or "a, b or c"), for sentences that list every variant.
export function listTitles(word = 'and') {
  const t = config.variants.map((v) => v.title.toLowerCase());
  return t.length < 2 ? t.join('') : `${t.slice(0, -1).join(', ')} ${word} ${t[t.length - 1]}`;
}
