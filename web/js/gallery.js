// The gallery: every image, newest first, loaded page by page as the reader
// scrolls, with new uploads appearing at the top while it is open.
//
// HOW IT WORKS
// The API pages with a keyset cursor over (created_at, id) descending, so a
// page is never shifted by images added above it. The gallery keeps `order`,
// the ids it shows in that same order, and a Set of them: an id is never
// shown twice, whichever way it arrived (a page, an upload's 202, an event).
// An image that arrives live is placed by its sort key; if it sorts below the
// last image loaded while more pages remain, it is left for pagination to
// bring, so nothing is shown out of order or twice.
//
// An IntersectionObserver watches a sentinel below the grid and loads the
// next page when it comes within a screen of the viewport. Observing it again
// after each page makes the observer report at once if the sentinel is still
// in view (a tall screen), so loading continues until the screen is full.
//
// The filter offers one choice per variant the server lists (config.js), so
// the gallery is built only once the page has the server's settings.
// Changing the filter (`mode`) starts a new generation: answers to requests
// of an older generation are dropped. Cards follow the store: a card whose
// image is still in work shows a placeholder that turns into its preview
// (the first ready variant in the server's order, or the filter's variant)
// when that is ready; a removed image leaves at once.
//
// A preview is a <picture> (picture.js: AVIF and WebP sources ahead of the
// <img> on the primary), so the browser loads the best format it can show.
// When the image has a placeholder (placeholder.js), its box is painted with
// the dominant colour and the decoded ThumbHash underneath as soon as the
// card is drawn; the preview starts transparent, fades in when its `load`
// event fires, and the placeholder is hidden after the fade (style.css; no
// fade with reduced motion).

import { listImages, ApiError } from './api.js';
import { config, variantNames } from './config.js';
import { store, isInWork } from './store.js';
import { compareNewestFirst, displayVariant, formatBytes, formatDims, h, STATUS_LABELS } from './format.js';
import { paintPlaceholder, placeholderOf } from './placeholder.js';
import { pictureKey, setSources, variantSources } from './picture.js';

const PAGE_SIZE = 24;
const MIN_RETRY_MS = 2000;
const MAX_RETRY_MS = 30000;

export class Gallery {
  constructor({ list, sentinel, loading, more, end, empty, error, filter, onOpen }) {
    this.list = list;
    this.sentinel = sentinel;
    this.loadingEl = loading;
    this.moreButton = more;
    this.endEl = end;
    this.emptyEl = empty;
    this.errorEl = error;
    this.filter = filter;
    this.onOpen = onOpen;

    filter.append(...config.variants.map((v) => {
      const title = v.title.toLowerCase();
      return h('option', { value: v.name, text: `With ${/^[aeiou]/.test(title) ? 'an' : 'a'} ${title} copy` });
    }));
    this.mode = filter.value || '';
    this.order = [];
    this.shown = new Set();
    this.cards = new Map();
    this.cursor = null;
    this.done = false;
    this.loading = false;
    this.generation = 0;
    this.retryTimer = 0;
    this.retryDelay = MIN_RETRY_MS;

    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadMore();
    }, { rootMargin: '0px 0px 100% 0px' });
    this.observer.observe(this.sentinel);

    this.moreButton.addEventListener('click', () => this.loadMore());
    this.filter.addEventListener('change', () => this.setMode(this.filter.value));
    this.list.addEventListener('click', (e) => {
      const button = e.target.closest('.card-open');
      if (button) this.onOpen(button.closest('.card').dataset.id, button);
    });
    store.subscribe((id, info) => this.onStoreChange(id, info));
  }

  setMode(mode) {
    this.mode = mode || '';
    this.generation += 1;
    this.order = [];
    this.shown.clear();
    this.cards.clear();
    this.list.replaceChildren();
    this.cursor = null;
    this.done = false;
    this.loading = false;
    this.errorEl.hidden = true;
    this.retryDelay = MIN_RETRY_MS;
    this.renderFooter();
    this.loadMore();
  }

  matches(info) {
    if (!info || store.isRemoved(info.id)) return false;
    if (!this.mode) return true;
    return !!(info.variants && info.variants[this.mode]);
  }

  async loadMore() {
    if (this.loading || this.done) return;
    clearTimeout(this.retryTimer);
    this.loading = true;
    const generation = this.generation;
    this.renderFooter();
    try {
      const page = await listImages({ limit: PAGE_SIZE, cursor: this.cursor, mode: this.mode });
      if (generation !== this.generation) return;
      for (const info of page.items || []) {
        store.update(info);
        this.place(store.get(info.id) || info, { fromPage: true });
      }
      this.cursor = page.next || null;
      this.done = !page.next;
      this.errorEl.hidden = true;
      this.retryDelay = MIN_RETRY_MS;
    } catch (err) {
      if (generation !== this.generation) return;
      this.errorEl.textContent = err instanceof ApiError && !err.offline
        ? `The gallery could not be loaded. ${err.message} Trying again shortly.`
        : 'The gallery could not be loaded. It will load when the server is back.';
      this.errorEl.hidden = false;
      // Try again by itself, with a growing pause, whatever the cause.
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.loadMore(), this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_MS);
    } finally {
      if (generation === this.generation) {
        this.loading = false;
        this.renderFooter();
        // Re-observing makes the observer report the sentinel's current
        // state, so a screen taller than the pages loaded keeps filling.
        if (!this.done && this.errorEl.hidden) {
          this.observer.unobserve(this.sentinel);
          this.observer.observe(this.sentinel);
        }
      }
    }
  }

  // Catches up after the API or the event stream was away: images added in
  // the meantime come in at the top, images still in work are read again.
  async resync() {
    if (!this.order.length && !this.done) {
      this.errorEl.hidden = true;
      this.loadMore();
      return;
    }
    if (!(await this.refreshTop())) return;
    for (const id of this.order) {
      if (isInWork(store.get(id))) store.refresh(id);
    }
  }

  // Reads the first page again and places what is new in it. This is how
  // images uploaded elsewhere come in: a listing never answers 404 for an
  // image deleted a moment ago, and it applies the filter. Resolves true when
  // the page was read.
  async refreshTop() {
    if (!this.order.length && !this.done) return false; // the first page is still to come
    const generation = this.generation;
    try {
      const page = await listImages({ limit: PAGE_SIZE, mode: this.mode });
      if (generation !== this.generation) return false;
      for (const info of page.items || []) {
        if (store.isRemoved(info.id)) continue;
        store.update(info);
        this.place(store.get(info.id) || info, { fromPage: true });
      }
      return true;
    } catch {
      return false;
    }
  }

  // Shows an image at its place in the order, unless it is shown already or
  // belongs to a page not loaded yet.
  place(info, { fromPage = false } = {}) {
    if (!this.matches(info)) return;
    if (this.shown.has(info.id)) {
      this.renderCard(info);
      return;
    }
    // Binary search for the first shown image that sorts after this one.
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const other = store.get(this.order[mid]);
      if (other && compareNewestFirst(other, info) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (!fromPage && lo === this.order.length && !this.done && this.order.length) return;
    this.order.splice(lo, 0, info.id);
    this.shown.add(info.id);
    const card = this.createCard(info);
    const before = lo + 1 < this.order.length ? this.cards.get(this.order[lo + 1]) : null;
    this.list.insertBefore(card, before || null);
    this.renderFooter();
  }

  remove(id) {
    if (!this.shown.has(id)) return;
    this.shown.delete(id);
    const i = this.order.indexOf(id);
    if (i >= 0) this.order.splice(i, 1);
    const card = this.cards.get(id);
    this.cards.delete(id);
    if (card) {
      const hadFocus = card.contains(document.activeElement);
      const next = card.nextElementSibling || card.previousElementSibling;
      card.remove();
      if (hadFocus) {
        const target = next ? next.querySelector('.card-open') : document.getElementById('gallery-heading');
        if (target) target.focus();
      }
    }
    this.renderFooter();
  }

  // The images shown before and after `id`, with their card buttons.
  neighboursOf(id) {
    const i = this.order.indexOf(id);
    const at = (j) => (j >= 0 && j < this.order.length
      ? { id: this.order[j], button: this.cards.get(this.order[j])?.querySelector('.card-open') || null }
      : null);
    return i < 0 ? { prev: null, next: null } : { prev: at(i - 1), next: at(i + 1) };
  }

  // Where focus goes when an image's card goes away: the next card, else
  // the previous one, else the gallery's heading.
  neighbourOf(id) {
    const card = this.cards.get(id);
    const next = card && (card.nextElementSibling || card.previousElementSibling);
    return (next && next.querySelector('.card-open')) || document.getElementById('gallery-heading');
  }

  onStoreChange(id, info) {
    if (!info) {
      this.remove(id);
      return;
    }
    if (this.shown.has(id)) this.renderCard(info);
    else this.place(info);
  }

  createCard(info) {
    const li = h('li', { class: 'card', dataset: { id: info.id } });
    const button = h('button', { type: 'button', class: 'card-open' });
    li.append(button);
    this.cards.set(info.id, li);
    this.renderCard(info);
    return li;
  }

  renderCard(info) {
    const li = this.cards.get(info.id);
    if (!li) return;
    const button = li.querySelector('.card-open');
    const name = info.filename || 'Untitled image';
    const variant = displayVariant(info, this.mode, variantNames());
    const url = variant ? variant.url : null;
    const status = info.status || 'pending';
    li.dataset.status = status;
    li.dataset.ready = url ? 'true' : 'false';
    // The button's name comes from its content (the preview's alt text and
    // the visible caption), so what a screen reader says matches the screen.
    if (status === 'failed' && info.error) button.title = `Failed: ${info.error}`;
    else button.removeAttribute('title');

    // The box: the placeholder painted underneath at once (when the image
    // has one), the preview or a status note above it. The preview's
    // <picture> is kept while what it shows is the same, so a card does not
    // flash when unrelated fields change.
    const thumb = li.querySelector('.thumb') || h('div', { class: 'thumb' });
    const ph = placeholderOf(info);
    let paint = thumb.querySelector('.thumb-paint');
    if (ph && !paint) {
      paint = h('span', { class: 'thumb-paint', 'aria-hidden': 'true' });
      thumb.prepend(paint);
    } else if (!ph && paint) {
      paint.remove();
      paint = null;
    }
    if (paint && paint.dataset.key !== ph.key) {
      paint.dataset.key = ph.key;
      paintPlaceholder(paint, ph);
    }
    const show = (el) => {
      for (const child of [...thumb.children]) if (child !== paint) child.remove();
      thumb.append(el);
    };
    const picture = thumb.querySelector('picture');
    const key = pictureKey(variant);
    if (url) {
      if (!picture || picture.dataset.key !== key) {
        thumb.classList.remove('is-loaded');
        const next = h('img', {
          alt: `Preview of ${name}`,
          loading: 'lazy',
          decoding: 'async',
          width: variant.width || undefined,
          height: variant.height || undefined,
        });
        const frame = h('picture', { dataset: { key } }, next);
        setSources(frame, variantSources(variant));
        next.dataset.src = url;
        next.addEventListener('load', () => {
          next.classList.add('is-loaded');
          if (next.isConnected) thumb.classList.add('is-loaded');
        }, { once: true });
        next.addEventListener('error', () => {
          show(placeholder('missing', 'Preview unavailable'));
        }, { once: true });
        next.src = url;
        show(frame);
      }
    } else if (status === 'failed') {
      thumb.classList.remove('is-loaded');
      show(placeholder('failed', 'Processing failed'));
    } else if (!thumb.querySelector(`.placeholder[data-kind="${status}"]`)) {
      thumb.classList.remove('is-loaded');
      show(placeholder(status, status === 'ready' ? 'No preview' : `${STATUS_LABELS[status] || 'Working'}…`));
    }

    const facts = [];
    if (status === 'ready') {
      const dims = formatDims(info.width, info.height);
      if (dims) facts.push(dims);
      const size = formatBytes(info.size);
      if (size) facts.push(size);
    } else {
      facts.push(STATUS_LABELS[status] || status);
    }
    const meta = h('span', { class: 'card-meta' },
      h('span', { class: 'card-name', id: `card-${info.id}-name`, text: name }),
      h('span', { class: `card-sub status-${status}`, id: `card-${info.id}-sub`, text: facts.join(' · ') }));
    button.replaceChildren(thumb, meta);
  }

  renderFooter() {
    const empty = !this.order.length;
    this.emptyEl.hidden = !(empty && this.done);
    this.loadingEl.hidden = !this.loading;
    this.list.setAttribute('aria-busy', this.loading ? 'true' : 'false');
    this.endEl.hidden = !(this.done && !empty);
    // A button for when scrolling is not how one moves (keyboard, no
    // IntersectionObserver); hidden while a page is loading.
    const failed = !this.errorEl.hidden;
    this.moreButton.textContent = failed ? 'Try again' : 'Load more';
    this.moreButton.hidden = this.done || this.loading || (empty && !failed);
  }
}

function placeholder(kind, text) {
  const el = h('span', { class: 'placeholder', dataset: { kind } });
  if (kind === 'pending' || kind === 'processing') el.append(h('span', { class: 'spinner', 'aria-hidden': 'true' }));
  el.append(h('span', { class: 'placeholder-text', text }));
  return el;
}
