// The ImageProcessor page: wires the modules in js/ together.
//
//   connection.js  whether the API answers; the offline banner and its retries
//   config.js      the server's variants and limits (from /api/config)
//   config-load.js loads them at start and keeps trying until it has them
//   api.js         REST calls and uploads, errors in plain words
//   access.js      this browser's owner tokens (one per own upload) and API key
//   access-key.js  the "Access key" dialog in the header
//   store.js       what the page knows about each image; everyone draws from it
//   events.js      the live status stream (/api/events) feeding the store
//   upload.js      drop zone, picker, one progress row per file
//   gallery.js     newest first, infinite scroll, filter, live placeholders
//   viewer.js      the large view: versions, facts, copy link, delete
//   picture.js     a variant's <source>s (AVIF, WebP) before its primary <img>
//   placeholder.js an image's dominant colour and ThumbHash painted in its box
//   thumbhash.js   the ThumbHash decoder
//
// The access key dialog works from the start (it needs no settings). An
// image that leaves the store (deleted here or elsewhere, or found gone)
// takes its owner token out of the browser's storage with it.
//
// The page names no variant and no limit of its own: it first loads the
// server's settings, and only then opens the picker (built at once but
// disabled), builds the gallery with its filter and the viewer, and opens
// the event stream. Until then the gallery's status line says what is wrong.
//
// Status events for images the page shows are applied to the store at once;
// when a variant or the whole image reaches an outcome (ready/failed) the
// image's /info is read again for its URLs and sizes. A new image the page
// does not know yet (an upload from elsewhere) is found by reading the top of
// the gallery again. A slow poll re-reads images still in work, in
// case an event was lost while the stream was reconnecting.

import { connection } from './js/connection.js';
import { listTitles } from './js/config.js';
import { loadConfig } from './js/config-load.js';
import { events } from './js/events.js';
import { store, isInWork } from './js/store.js';
import { Gallery } from './js/gallery.js';
import { Uploader } from './js/upload.js';
import { Viewer } from './js/viewer.js';
import { AccessKeyDialog } from './js/access-key.js';
import { forgetOwnerToken } from './js/access.js';

const POLL_IN_WORK_MS = 15000;

const $ = (id) => document.getElementById(id);

const announcer = $('announcer');
function announce(text) {
  // Clearing first makes screen readers repeat an identical message.
  announcer.textContent = '';
  window.setTimeout(() => { announcer.textContent = text; }, 50);
}

connection.attach({ banner: $('offline-banner'), text: $('offline-text'), retryButton: $('offline-retry') });

new AccessKeyDialog({ announce });
store.subscribe((id, info) => {
  if (!info) forgetOwnerToken(id);
});

let gallery = null;
let viewer = null;

// Built at once, disabled, so that a file dropped early does not replace
// the page with itself; enable() opens it once the settings are in.
const uploader = new Uploader({
  dropzone: $('dropzone'),
  input: $('file-input'),
  list: $('upload-list'),
  clearButton: $('upload-clear'),
  opsFieldset: $('upload-ops'),
  limitText: $('upload-limit'),
  onView: (id, opener) => viewer.open(id, opener),
  announce,
});

// Everything that needs the server's settings; runs once they are loaded.
function start() {
  $('tagline-copies').textContent = `${listTitles('and')} copies`;
  uploader.enable();
  gallery = new Gallery({
    list: $('gallery'),
    sentinel: $('gallery-sentinel'),
    loading: $('gallery-loading'),
    more: $('gallery-more'),
    end: $('gallery-end'),
    empty: $('gallery-empty'),
    error: $('gallery-error'),
    filter: $('mode-filter'),
    onOpen: (id, opener) => viewer.open(id, opener),
  });
  viewer = new Viewer({
    announce,
    focusAfterDelete: (id) => gallery.neighbourOf(id),
    neighbours: (id) => gallery.neighboursOf(id),
  });
  events.onOpen((again) => {
    if (again) gallery.resync();
  });
  connection.onReconnect(() => gallery.resync());
  events.connect();
  gallery.loadMore();
}

// Images the page does not know yet are found by reading the top of the
// gallery again, at most a few times a second however many arrive.
const DISCOVER_MS = 400;
let discoverTimer = 0;
function discoverSoon() {
  if (discoverTimer) return;
  discoverTimer = window.setTimeout(() => {
    discoverTimer = 0;
    if (gallery) gallery.refreshTop();
  }, DISCOVER_MS);
}

events.onStatus((ev) => {
  if (ev.status === 'deleted' || ev.deleted === true) {
    store.remove(ev.id);
    return;
  }
  if (store.isRemoved(ev.id)) return;
  if (store.has(ev.id)) {
    store.applyEvent(ev);
    const outcome = (s) => s === 'ready' || s === 'failed';
    if (outcome(ev.variant_status) || outcome(ev.status)) store.refresh(ev.id);
  } else {
    // Most likely a new upload from elsewhere.
    discoverSoon();
  }
});

window.setInterval(() => {
  if (!connection.reachable || document.hidden) return;
  for (const [id, info] of store.items) if (isInWork(info)) store.refresh(id);
}, POLL_IN_WORK_MS);

loadConfig({ statusEl: $('gallery-error'), announce }).then(start);
