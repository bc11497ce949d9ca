// The page's one copy of what it knows about each image, keyed by id.
//
// Gallery cards, upload rows and the viewer all draw from here and subscribe
// to changes, so an event or a fresh /info lands everywhere at once. refresh()
// fetches /info for an id; calls for the same id within a short window are
// coalesced into one request, and a request already in flight is followed by
// exactly one more (so the last word is always a fresh read). A 404 means the
// image is gone and removes it; any other failure is retried a few times
// with a growing pause.
//
// Listeners get (id, info) on change and (id, null) on removal.

import { getInfo } from './api.js';

const COALESCE_MS = 120;
const RETRIES = 6;

class Store {
  constructor() {
    this.items = new Map();
    this.listeners = new Set();
    this.removed = new Set();
    this.pending = new Map(); // id -> { timer, inflight, again, waiters }
  }

  get(id) {
    return this.items.get(id) || null;
  }

  has(id) {
    return this.items.has(id);
  }

  isRemoved(id) {
    return this.removed.has(id);
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(id, info) {
    for (const fn of this.listeners) fn(id, info);
  }

  // Merges what is known about an image. A partial info (from an upload's 202
  // or an event) never erases fields that a fuller one already set.
  update(info) {
    if (!info || !info.id || this.removed.has(info.id)) return;
    const old = this.items.get(info.id);
    const merged = old ? { ...old, ...stripUndefined(info) } : { ...info };
    if (old && old.variants && info.variants) {
      merged.variants = { ...old.variants };
      for (const [name, v] of Object.entries(info.variants)) {
        merged.variants[name] = { ...(old.variants[name] || {}), ...stripUndefined(v) };
      }
    }
    this.items.set(info.id, merged);
    this.emit(info.id, merged);
  }

  // Applies one status event without a round trip (a fuller read follows
  // when something worth showing happened).
  applyEvent(ev) {
    const info = this.items.get(ev.id);
    if (!info) return;
    const patch = { id: ev.id };
    if (ev.status) patch.status = ev.status;
    if (ev.error) patch.error = ev.error;
    if (ev.variant && ev.variant_status) {
      patch.variants = { [ev.variant]: { status: ev.variant_status } };
    }
    this.update(patch);
  }

  remove(id) {
    this.removed.add(id);
    const p = this.pending.get(id);
    if (p && !p.inflight) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      for (const w of p.waiters.splice(0)) w(null);
    }
    if (this.items.delete(id)) this.emit(id, null);
  }

  // Schedules a fresh read of one image; resolves with its info, or null if
  // it is gone. Errors other than 404 leave the known state as it is.
  refresh(id) {
    if (this.removed.has(id)) return Promise.resolve(null);
    let p = this.pending.get(id);
    if (!p) {
      p = { timer: 0, inflight: false, again: false, waiters: [] };
      this.pending.set(id, p);
    }
    const promise = new Promise((resolve) => p.waiters.push(resolve));
    if (p.inflight) {
      p.again = true;
    } else if (!p.timer) {
      p.timer = setTimeout(() => this.run(id), COALESCE_MS);
    }
    return promise;
  }

  async run(id) {
    const p = this.pending.get(id);
    if (!p) return;
    p.timer = 0;
    p.inflight = true;
    const waiters = p.waiters.splice(0);
    let result = this.items.get(id) || null;
    let failed = false;
    try {
      const info = await getInfo(id);
      this.update(info);
      result = this.items.get(id) || null;
      p.failures = 0;
    } catch (err) {
      if (err && err.status === 404) {
        this.remove(id);
        result = null;
      } else {
        failed = true;
      }
    }
    p.inflight = false;
    for (const w of waiters) w(result);
    if (this.removed.has(id)) {
      this.pending.delete(id);
      for (const w of p.waiters.splice(0)) w(null);
    } else if (failed && (p.failures = (p.failures || 0) + 1) <= RETRIES) {
      // The read that would bring URLs and sizes failed (a busy or restarting
      // service): try again with a growing pause rather than leave a card
      // without its picture.
      p.again = false;
      p.timer = setTimeout(() => this.run(id), Math.min(1000 * 2 ** (p.failures - 1), 15000));
    } else if (p.again) {
      p.again = false;
      p.timer = setTimeout(() => this.run(id), COALESCE_MS);
    } else if (!p.waiters.length) {
      this.pending.delete(id);
    } else {
      p.timer = setTimeout(() => this.run(id), COALESCE_MS);
    }
  }
}

function stripUndefined(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out;
}

// True while an image may still change on its own: in work, or reported
// ready by an event whose fuller read (URLs, sizes) has not landed yet.
export function isInWork(info) {
  if (!info) return false;
  if (info.status === 'pending' || info.status === 'processing') return true;
  return Object.values(info.variants || {}).some((v) => v.status === 'pending' || (v.status === 'ready' && !v.url));
}

export const store = new Store();
