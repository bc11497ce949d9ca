// The viewer: one image large, in a modal <dialog>.
//
// A radio group switches between the original and the variants the image
// was asked for (served from /media/, public), in the server's order
// (config.js). The original keeps the uploader's EXIF and GPS, so the
// gateway gives it only to the image's owner token or an admin key: it is
// listed only when this browser holds one of them (access.js), and its bytes
// are fetched with that credential into a blob: URL (an <img> cannot send a
// header), which is given up when the viewer moves on. It opens on the
// largest ready variant (a copy made to be seen in a browser; the first of
// equals in that order), else on the original. A variant still in work is
// listed but disabled and becomes selectable when its event arrives, because
// the viewer follows the store while it is open. A variant is shown in a
// <picture> with a <source> per extra format (AVIF, WebP: picture.js) ahead
// of the <img> on its primary JPEG or PNG, so the browser loads the best it
// can show; the original has no sources. The facts list shows the
// dimensions and size of the version on screen and of the original, the
// formats the version is served in with their sizes, and a note when it was
// made with earlier settings (a newer version is on its way). "Copy link"
// copies the absolute URL of the version on screen, its primary (which every
// browser can show; "Open in new tab" opens the same), and the original has
// none worth sharing: it opens for nobody else. "Delete…" is offered when
// this browser holds the image's owner token or a key that may delete;
// otherwise a short note says why it and the original are missing. It asks for confirmation inside the
// dialog; once the API says 204 (or 404: already gone) the image is removed
// from the store, which takes it out of the gallery, and the dialog closes
// with focus on the neighbouring card.
//
// The native dialog gives the focus trap and Escape; a click on the backdrop
// closes it too. Previous/next (buttons, or the arrow keys outside the
// switcher) walk the gallery's order. On close, focus returns to the card of
// the image last shown.

import { deleteImage, fetchOriginal, describeError, ApiError } from './api.js';
import {
  credentialFor, forgetOwnerToken, mayDelete, mayOpenOriginal, onAccessChange,
} from './access.js';
import { store } from './store.js';
import { variantNames, variantTitle } from './config.js';
import { formatBytes, formatDate, formatDims, h, STATUS_LABELS } from './format.js';
import { setSources, variantSources } from './picture.js';

// Originals a browser can draw; TIFF and HEIC usually not.
const BROWSER_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif']);

const OWNER_ONLY = 'Only the browser that uploaded this image can delete it or open its original.';
const NO_ORIGINAL = 'Only the browser that uploaded this image, or an admin access key, can open its original.';

export class Viewer {
  constructor({ announce, focusAfterDelete, neighbours }) {
    this.dialog = document.getElementById('viewer');
    this.title = document.getElementById('viewer-title');
    this.image = document.getElementById('viewer-image');
    this.picture = document.getElementById('viewer-picture');
    this.stageNote = document.getElementById('viewer-stage-note');
    this.switcher = document.getElementById('variant-switch');
    this.facts = document.getElementById('viewer-facts');
    this.copyButton = document.getElementById('viewer-copy');
    this.openLink = document.getElementById('viewer-open');
    this.deleteButton = document.getElementById('viewer-delete');
    this.confirm = document.getElementById('delete-confirm');
    this.confirmYes = document.getElementById('delete-yes');
    this.confirmNo = document.getElementById('delete-cancel');
    this.message = document.getElementById('viewer-message');
    this.ownerNote = document.getElementById('viewer-owner-note');
    this.announce = announce;
    this.focusAfterDelete = focusAfterDelete;
    this.neighbours = neighbours;
    this.prevButton = document.getElementById('viewer-prev');
    this.nextButton = document.getElementById('viewer-next');

    this.id = null;
    this.variant = null;
    this.opener = null;
    this.focusNext = null;
    this.deleting = false;
    this.original = null; // { id, url, controller, promise } of the fetched original

    document.getElementById('viewer-close').addEventListener('click', () => this.close());
    this.prevButton.addEventListener('click', () => this.step(-1));
    this.nextButton.addEventListener('click', () => this.step(1));
    this.dialog.addEventListener('keydown', (e) => {
      // Arrows belong to the version switcher while it has focus.
      if (e.target.closest('input, textarea, select') || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.key === 'ArrowLeft') this.step(-1);
      else if (e.key === 'ArrowRight') this.step(1);
      else return;
      e.preventDefault();
    });
    this.dialog.addEventListener('click', (e) => {
      if (e.target === this.dialog) this.close(); // the backdrop
    });
    this.dialog.addEventListener('close', () => this.onClosed());
    this.switcher.addEventListener('change', (e) => {
      if (e.target.name === 'variant') this.show(e.target.value);
    });
    this.image.addEventListener('load', () => {
      this.image.classList.remove('is-loading');
      this.stageNote.hidden = true;
    });
    this.image.addEventListener('error', () => {
      if (!this.image.getAttribute('src')) return;
      this.image.classList.remove('is-loading');
      const info = store.get(this.id);
      const type = info && info.content_type ? info.content_type : '';
      this.stageNote.textContent = this.variant === 'original' && type && !BROWSER_TYPES.has(type)
        ? `This browser cannot show ${type.replace('image/', '').toUpperCase()} images. The other versions are made to be seen here; "Open in new tab" downloads the original.`
        : 'This version could not be loaded.';
      this.stageNote.hidden = false;
    });
    this.copyButton.addEventListener('click', () => this.copyLink());
    this.deleteButton.addEventListener('click', () => this.askDelete());
    this.confirmNo.addEventListener('click', () => this.cancelDelete());
    this.confirmYes.addEventListener('click', () => this.doDelete());
    store.subscribe((id, info) => {
      if (id !== this.id || !this.dialog.open) return;
      if (!info) {
        if (!this.deleting) {
          this.announce('This image was deleted.');
          this.close();
        }
        return;
      }
      this.render(info);
    });
    onAccessChange(() => {
      const info = this.dialog.open ? store.get(this.id) : null;
      if (info) this.render(info);
    });
  }

  open(id, opener) {
    const info = store.get(id);
    if (!info) return;
    if (this.original && this.original.id !== id) this.dropOriginal();
    this.id = id;
    this.opener = opener || null;
    this.variant = null;
    this.deleting = false;
    this.cancelDelete(false);
    this.message.textContent = '';
    this.clearImage();
    this.render(info);
    if (!this.dialog.open) this.dialog.showModal();
    const checked = this.switcher.querySelector('input:checked');
    if (checked) checked.focus();
    store.refresh(id);
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  // Moves to the image before (-1) or after (+1) this one in the gallery;
  // closing later returns focus to the card of the image last shown.
  step(direction) {
    if (!this.id) return;
    const { prev, next } = this.neighbours(this.id);
    const target = direction < 0 ? prev : next;
    if (!target) return;
    const hadFocus = document.activeElement;
    this.open(target.id, target.button);
    // Keep focus where the reader had it (open() puts it on the switcher).
    if (hadFocus === this.prevButton || hadFocus === this.nextButton) {
      const again = direction < 0 ? this.prevButton : this.nextButton;
      (again.disabled ? (direction < 0 ? this.nextButton : this.prevButton) : again).focus();
    } else if (hadFocus && hadFocus.isConnected && this.dialog.contains(hadFocus) && !hadFocus.disabled
      && !hadFocus.hidden && hadFocus.name !== 'variant') {
      hadFocus.focus();
    }
  }

  renderNav() {
    const { prev, next } = this.id ? this.neighbours(this.id) : {};
    this.prevButton.disabled = !prev;
    this.nextButton.disabled = !next;
  }

  // The close event comes a task after close(): focus goes to where the
  // delete path asked, else back to the card that opened the viewer.
  onClosed() {
    const id = this.id;
    this.id = null;
    this.clearImage();
    this.dropOriginal();
    let target = this.focusNext;
    this.focusNext = null;
    if (!target || !target.isConnected) {
      target = (this.opener && this.opener.isConnected) ? this.opener : this.focusAfterDelete(id);
    }
    if (target) target.focus();
  }

  // Versions the image has, in switcher order, with whether each can be
  // shown. The original is there only for its owner or an admin; its URL is
  // the blob: one once its bytes are here.
  versions(info) {
    const out = [];
    if (mayOpenOriginal(info.id)) {
      const fetched = this.original && this.original.id === info.id ? this.original.url : null;
      out.push({ name: 'original', ready: true, url: fetched, status: 'ready' });
    }
    const v = info.variants || {};
    for (const name of variantNames()) {
      if (!v[name]) continue;
      out.push({
        name,
        ready: v[name].status === 'ready' && !!v[name].url,
        url: v[name].url || null,
        sources: variantSources(v[name]),
        status: v[name].status || 'pending',
        area: (v[name].width || 0) * (v[name].height || 0),
      });
    }
    return out;
  }

  // The version to open on: the largest ready variant, else the original
  // when it is offered, else none (null).
  static preferred(versions) {
    let best = null;
    for (const x of versions) {
      if (x.name !== 'original' && x.ready && (!best || x.area > best.area)) best = x;
    }
    if (best) return best.name;
    return versions.some((x) => x.name === 'original') ? 'original' : null;
  }

  render(info) {
    const name = info.filename || 'Untitled image';
    this.title.textContent = name;
    const versions = this.versions(info);
    if (!this.variant || !versions.some((x) => x.name === this.variant && x.ready)) {
      this.variant = Viewer.preferred(versions);
    }

    // Rebuild the radio group only when what it offers changed, so the
    // keyboard focus inside it survives live updates.
    const signature = versions.map((x) => `${x.name}:${x.ready}:${x.status}`).join(',');
    if (this.switcher.dataset.signature !== signature || this.switcher.dataset.id !== info.id) {
      const hadFocus = this.switcher.contains(document.activeElement);
      this.switcher.dataset.signature = signature;
      this.switcher.dataset.id = info.id;
      const legend = this.switcher.querySelector('legend');
      const options = versions.map((x) => {
        const input = h('input', {
          type: 'radio',
          name: 'variant',
          value: x.name,
          id: `variant-${x.name}`,
          disabled: !x.ready,
        });
        const note = x.ready ? '' : (x.status === 'failed' ? ' (failed)' : ' (in work)');
        return h('span', { class: 'segment' },
          input,
          h('label', { for: `variant-${x.name}`, text: `${variantTitle(x.name)}${note}` }));
      });
      this.switcher.replaceChildren(legend, ...options);
      this.switcher.hidden = !options.length;
      if (hadFocus) {
        const again = this.switcher.querySelector(`input[value="${this.variant}"]`);
        if (again) again.focus();
      }
    }
    const selected = this.switcher.querySelector(`input[value="${this.variant}"]`);
    if (selected) selected.checked = true;
    this.show(this.variant, info);
    this.renderAccess(info);
    this.renderNav();
  }

  // Delete and the original are offered only with a credential that allows
  // them; otherwise the note says why they are missing.
  renderAccess(info) {
    const canDelete = mayDelete(info.id);
    const canOriginal = mayOpenOriginal(info.id);
    if (!canDelete && !this.confirm.hidden) this.cancelDelete(false);
    if (this.confirm.hidden) this.deleteButton.hidden = !canDelete;
    let note = '';
    if (!canDelete) note = OWNER_ONLY;
    else if (!canOriginal) note = NO_ORIGINAL;
    this.ownerNote.textContent = note;
    this.ownerNote.hidden = !note;
  }

  show(variant, info = store.get(this.id)) {
    if (!info) return;
    this.variant = variant;
    this.dialog.dataset.variant = variant || '';
    if (variant === 'original' && !(this.original && this.original.id === info.id && this.original.url)) {
      this.awaitOriginal(info);
    }
    const version = this.versions(info).find((x) => x.name === variant);
    const url = version && version.ready ? version.url : null;
    const name = info.filename || 'image';
    if (url && this.image.getAttribute('src') !== url) {
      this.stageNote.hidden = true;
      this.image.classList.add('is-loading');
      this.image.alt = `${name}, ${variantTitle(variant).toLowerCase()} version`;
      setSources(this.picture, version.sources || []);
      this.image.src = url;
    } else if (!variant) {
      this.clearImage();
      this.stageNote.textContent = 'No copy of this image is ready yet.';
      this.stageNote.hidden = false;
    }
    this.openLink.href = url || '#';
    if (variant) this.renderFacts(info, variant);
  }

  // Empties the stage: no source either, or the browser would load one.
  clearImage() {
    setSources(this.picture, []);
    this.image.removeAttribute('src');
  }

  // Fetches the original with this browser's credential for it, then shows
  // it if the reader is still looking at it; a failure is said on the stage.
  awaitOriginal(info) {
    const id = info.id;
    this.image.classList.add('is-loading');
    this.loadOriginal(id).then((url) => {
      if (url && this.id === id && this.variant === 'original') this.show('original');
    }, (err) => {
      if (err && err.name === 'AbortError') return;
      if (this.id !== id || this.variant !== 'original') return;
      this.image.classList.remove('is-loading');
      this.stageNote.textContent = `The original could not be loaded. ${err && err.message ? err.message : ''}`.trim();
      this.stageNote.hidden = false;
      if (err instanceof ApiError && err.status === 404) store.refresh(id);
    });
  }

  // The original's blob: URL for `id`, fetched once per viewing; a failed
  // fetch is forgotten so that choosing the original again tries again.
  loadOriginal(id) {
    if (this.original && this.original.id === id) return this.original.promise;
    this.dropOriginal();
    const entry = { id, url: null, controller: new AbortController(), promise: null };
    this.original = entry;
    entry.promise = (async () => {
      const credential = credentialFor(id, 'original');
      if (!credential) throw new ApiError(describeError(401, {}, 'original'), { status: 401 });
      const blob = await fetchOriginal(id, credential, { signal: entry.controller.signal });
      if (this.original !== entry) return null;
      entry.url = URL.createObjectURL(blob);
      return entry.url;
    })();
    entry.promise.catch(() => {
      if (this.original === entry) this.original = null;
    });
    return entry.promise;
  }

  dropOriginal() {
    const entry = this.original;
    if (!entry) return;
    this.original = null;
    entry.controller.abort();
    if (entry.url) URL.revokeObjectURL(entry.url);
  }

  renderFacts(info, variant) {
    const rows = [];
    const add = (term, value) => {
      if (value) rows.push(h('dt', { text: term }), h('dd', { text: value }));
    };
    if (variant !== 'original') {
      const v = (info.variants || {})[variant] || {};
      add(`${variantTitle(variant)} size`, [formatDims(v.width, v.height), formatBytes(v.size)].filter(Boolean).join(', '));
      const formats = Object.keys(v.formats && typeof v.formats === 'object' ? v.formats : {});
      if (formats.length) {
        add('Formats', formats.map((f) => [f.toUpperCase(), formatBytes(v.formats[f] && v.formats[f].size)]
          .filter(Boolean).join(' ')).join(', '));
      }
      else if (v.format) add('Format', String(v.format).toUpperCase());
      if (v.stale === true) add('Note', 'Made with earlier settings; a new version is on its way.');
    }
    add('Original', [formatDims(info.width, info.height), formatBytes(info.size)].filter(Boolean).join(', '));
    if (info.content_type) add('Type', info.content_type);
    add('Status', info.status === 'failed' && info.error
      ? `Failed: ${info.error}`
      : (STATUS_LABELS[info.status] || info.status));
    add('Uploaded', formatDate(info.created_at));
    const others = Object.entries(info.variants || {})
      .filter(([, v]) => v.status === 'failed')
      .map(([n]) => variantTitle(n));
    if (others.length) add('Could not make', others.join(', '));
    this.facts.replaceChildren(...rows);
  }

  currentUrl() {
    const info = store.get(this.id);
    if (!info) return null;
    const version = this.versions(info).find((x) => x.name === this.variant);
    return version && version.url ? new URL(version.url, window.location.href).href : null;
  }

  async copyLink() {
    if (this.variant === 'original') {
      this.dialog.dataset.copied = '';
      this.message.textContent = 'The original is private: a link to it would open for nobody else. Choose one of the copies to share.';
      return;
    }
    const url = this.currentUrl();
    if (!url) return;
    let copied = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(url);
        copied = true;
      }
    } catch {
      copied = false;
    }
    if (!copied) {
      // Older browsers and insecure origins: a selected text area and the
      // copy command.
      const area = h('textarea', { class: 'visually-hidden', readonly: true });
      area.value = url;
      this.dialog.append(area);
      area.select();
      try {
        copied = document.execCommand('copy');
      } catch {
        copied = false;
      }
      area.remove();
      this.copyButton.focus();
    }
    this.dialog.dataset.copied = copied ? url : '';
    this.message.textContent = copied ? 'Link copied.' : `Copy this link: ${url}`;
  }

  askDelete() {
    this.confirm.hidden = false;
    this.deleteButton.hidden = true;
    this.confirmNo.focus();
  }

  cancelDelete(focus = true) {
    this.confirm.hidden = true;
    this.deleteButton.hidden = !(this.id && mayDelete(this.id));
    this.confirmYes.disabled = false;
    if (focus && !this.deleteButton.hidden) this.deleteButton.focus();
  }

  async doDelete() {
    const id = this.id;
    const info = store.get(id);
    const name = (info && info.filename) || 'The image';
    this.confirmYes.disabled = true;
    this.message.textContent = 'Deleting…';
    // The stream's "deleted" event can arrive before the 204 and take the
    // card away: find the neighbour now, and keep this viewer in charge.
    const neighbour = this.focusAfterDelete(id);
    this.deleting = true;
    try {
      const credential = credentialFor(id, 'delete');
      if (!credential) throw new ApiError(describeError(401, {}, 'delete'), { status: 401 });
      await deleteImage(id, credential);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) {
        this.deleting = false;
        this.confirmYes.disabled = false;
        this.message.textContent = `Could not delete: ${err.message}`;
        return;
      }
      // 404: someone else deleted it already; the outcome is the same.
    }
    this.focusNext = neighbour && neighbour.isConnected ? neighbour : this.focusAfterDelete(id);
    forgetOwnerToken(id);
    store.remove(id);
    this.deleting = false;
    this.close();
    this.announce(`${name} was deleted.`);
  }
}
