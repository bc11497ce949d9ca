// Small formatting and DOM helpers shared by the page's modules.

const UNITS = ['bytes', 'KB', 'MB', 'GB'];

export function formatBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return '';
  if (n < 1024) return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${UNITS[i]}`;
}

export function formatDims(w, h) {
  if (!w || !h) return '';
  return `${w} × ${h} px`;
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDate(s) {
  const t = Date.parse(s);
  return Number.isNaN(t) ? '' : dateFmt.format(new Date(t));
}

// A limit in bytes as people read it: "50 MiB", "1.5 MiB", "512 KiB".
export function formatLimit(n) {
  const units = [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]];
  for (const [unit, size] of units) {
    if (n >= size) return `${Number((n / size).toFixed(1))} ${unit}`;
  }
  return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
}

// A pixel count as people read it: "100 megapixels".
export function formatPixels(n) {
  return n >= 1e6 ? `${Number((n / 1e6).toFixed(1))} megapixels` : `${n} pixels`;
}

export const STATUS_LABELS = {
  pending: 'Queued',
  processing: 'Processing',
  ready: 'Ready',
  failed: 'Failed',
};

// A sort key for (created_at, id) that keeps the microseconds that Date
// drops, so that the page orders exactly as the API does.
export function sortKey(info) {
  const s = String(info.created_at || '');
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/.exec(s);
  let micros = 0;
  if (m) {
    const secs = Date.parse(m[1] + (m[3] || 'Z'));
    const frac = (m[2] || '').padEnd(6, '0').slice(0, 6);
    micros = (Number.isNaN(secs) ? 0 : secs) * 1000 + Number(frac);
  } else {
    const t = Date.parse(s);
    micros = Number.isNaN(t) ? 0 : t * 1000;
  }
  return { micros, id: String(info.id || '') };
}

// Newest first: negative when a comes before b.
export function compareNewestFirst(a, b) {
  const ka = sortKey(a);
  const kb = sortKey(b);
  if (ka.micros !== kb.micros) return kb.micros - ka.micros;
  if (ka.id === kb.id) return 0;
  return ka.id < kb.id ? 1 : -1;
}

// Creates an element with attributes and children; `text` sets textContent.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// The variant to show for an image in a grid: the chosen one when filtering,
// otherwise the first ready one in `order` (the server's canonical order,
// which starts with the smallest). Null while none is ready.
export function displayVariant(info, mode, order) {
  const v = info && info.variants ? info.variants : {};
  const ready = (name) => (v[name] && v[name].status === 'ready' && v[name].url ? v[name] : null);
  if (mode) return ready(mode);
  for (const name of order) if (ready(name)) return ready(name);
  return null;
}
