// Who this browser is to the API: the owner tokens of its own uploads and,
// optionally, one API key entered under "Access key".
//
// An upload's 202 carries the image's owner token ("ipo_…", shown only that
// once). It is kept in localStorage under OWNER_TOKENS, one entry per image
// id, and sent as `Authorization: Bearer …` for that image's owner actions:
// DELETE and the original. It is never shown and never put in a URL. A token
// is dropped when its image is deleted or found gone.
//
// An API key ("ipk_…", made with `imgctl keys create`) is kept under
// ACCESS_KEY together with what the page found it may do when it was saved
// (checkKey in api.js): `admin` (originals and deletes of every image) and
// `delete` (deletes of every image). Uploads send the key whenever one is
// set (closed deployments need it); an owner action sends the image's own
// token when the browser holds one, else the key if its scopes allow it.
// Nothing else sends a credential: the gallery, info and events are open,
// and a revoked key must not take them down with a 401.
//
// When storage is unavailable (a locked-down private window) both live in
// memory for the life of the page. Changes, including those made in
// another tab of the same browser (the `storage` event), are announced to
// subscribers so that the viewer and the header follow at once.

const OWNER_TOKENS = 'imageprocessor.owner-tokens';
const ACCESS_KEY = 'imageprocessor.access-key';

// "ipo_"/"ipk_" + 43 base64url characters: the forms of common/ip_access.h.
const OWNER_TOKEN_FORM = /^ipo_[A-Za-z0-9_-]{43}$/;
const API_KEY_FORM = /^ipk_[A-Za-z0-9_-]{43}$/;
// What `imgctl keys list` shows of a key: its prefix and 8 characters.
const KEY_SHOWN = 12;

const memory = new Map();
const listeners = new Set();

function readItem(name) {
  try {
    return window.localStorage.getItem(name);
  } catch {
    return memory.has(name) ? memory.get(name) : null;
  }
}

function writeItem(name, value) {
  try {
    if (value === null) window.localStorage.removeItem(name);
    else window.localStorage.setItem(name, value);
  } catch {
    if (value === null) memory.delete(name);
    else memory.set(name, value);
  }
}

function readJson(name, fallback) {
  const text = readItem(name);
  if (!text) return fallback;
  try {
    const value = JSON.parse(text);
    return value && typeof value === 'object' ? value : fallback;
  } catch {
    return fallback;
  }
}

function emit() {
  for (const fn of listeners) fn();
}

window.addEventListener('storage', (e) => {
  if (e.key === null || e.key === OWNER_TOKENS || e.key === ACCESS_KEY) emit();
});

export function isApiKeyForm(text) {
  return API_KEY_FORM.test(text);
}

// Calls fn() after any change of tokens or key; returns the unsubscribe.
export function onAccessChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// --- owner tokens ----------------------------------------------------------

export function ownerToken(id) {
  const token = readJson(OWNER_TOKENS, {})[id];
  return typeof token === 'string' && OWNER_TOKEN_FORM.test(token) ? token : null;
}

export function keepOwnerToken(id, token) {
  if (!id || typeof token !== 'string' || !OWNER_TOKEN_FORM.test(token)) return;
  const tokens = readJson(OWNER_TOKENS, {});
  tokens[id] = token;
  writeItem(OWNER_TOKENS, JSON.stringify(tokens));
  emit();
}

export function forgetOwnerToken(id) {
  const tokens = readJson(OWNER_TOKENS, {});
  if (!(id in tokens)) return;
  delete tokens[id];
  writeItem(OWNER_TOKENS, Object.keys(tokens).length ? JSON.stringify(tokens) : null);
  emit();
}

// --- the API key -----------------------------------------------------------

// { key, admin, delete } or null.
export function accessKey() {
  const stored = readJson(ACCESS_KEY, null);
  if (!stored || typeof stored.key !== 'string' || !API_KEY_FORM.test(stored.key)) return null;
  return { key: stored.key, admin: stored.admin === true, delete: stored.delete === true || stored.admin === true };
}

export function keepAccessKey({ key, admin, delete: mayDelete }) {
  writeItem(ACCESS_KEY, JSON.stringify({ key, admin: !!admin, delete: !!(mayDelete || admin) }));
  emit();
}

export function forgetAccessKey() {
  writeItem(ACCESS_KEY, null);
  emit();
}

// The key as lists show it ("ipk_Ab12Cd34…"), never the whole of it.
export function maskedKey(key) {
  return `${key.slice(0, KEY_SHOWN)}…`;
}

// What the key lets this page do, in words ("deletes and originals of every
// image", …).
export function describeKeyPowers(k) {
  if (k.admin) return 'admin: it may delete any image and open any original';
  if (k.delete) return 'it may delete any image';
  return 'it is sent with uploads; it does not allow deleting images or opening originals';
}

// --- what this browser may do with an image ---------------------------------

export function mayDelete(id) {
  const k = accessKey();
  return !!ownerToken(id) || !!(k && k.delete);
}

export function mayOpenOriginal(id) {
  const k = accessKey();
  return !!ownerToken(id) || !!(k && k.admin);
}

// The bearer value for an owner action on `id` ('delete' or 'original'):
// { secret, kind: 'owner'|'key' } or null when the browser has none that
// allows it.
export function credentialFor(id, action) {
  const token = ownerToken(id);
  if (token) return { secret: token, kind: 'owner' };
  const k = accessKey();
  if (k && (action === 'delete' ? k.delete : k.admin)) return { secret: k.key, kind: 'key' };
  return null;
}

// The key sent with uploads, or null.
export function uploadCredential() {
  const k = accessKey();
  return k ? { secret: k.key, kind: 'key' } : null;
}
