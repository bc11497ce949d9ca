// Uploading: the drop zone, the file picker, paste, and one row per file.
//
// Each file gets a row at once, with a progress bar that follows the bytes
// sent (XMLHttpRequest upload progress). At most three files travel at a
// time; the others wait in line. When the API accepts a file (202) the row
// switches to the image's live status, drawn from the store, which events.js
// keeps current: pending -> processing -> ready, or failed with the reason,
// with a chip per requested variant. The accepted image is also put into the
// store at once, which places it at the top of the gallery as a placeholder.
// A refused file shows the API's error in plain words (see api.js).
//
// The 202's owner token goes straight into access.js (this browser's store
// of tokens, by image id) and nowhere else; uploads send the access key when
// one is set, for deployments where uploading needs one.
//
// The copies on offer, which of them are ticked at first, and the size limit
// are the server's (config.js): the picker stays disabled until enable() has
// built the choices from them. Files dropped or pasted before that wait and
// go in line once it has.

import { uploadFile, describeError } from './api.js';
import { config, isVariant, listTitles, variantTitle } from './config.js';
import { store } from './store.js';
import { keepOwnerToken, uploadCredential } from './access.js';
import { formatBytes, formatLimit, h, STATUS_LABELS } from './format.js';

const PARALLEL = 3;
const FINISHED = new Set(['ready', 'failed', 'rejected', 'cancelled', 'deleted']);

export class Uploader {
  constructor({ dropzone, input, list, clearButton, opsFieldset, limitText, onView, announce }) {
    this.dropzone = dropzone;
    this.clearButton = clearButton;
    this.input = input;
    this.list = list;
    this.opsFieldset = opsFieldset;
    this.limitText = limitText;
    this.opsInputs = [];
    this.enabled = false;
    this.early = []; // files given before enable()
    this.onView = onView;
    this.announce = announce;
    this.queue = [];
    this.active = 0;
    this.rows = new Map(); // image id -> row
    this.seq = 0;

    input.addEventListener('change', () => {
      this.addFiles(input.files);
      input.value = '';
    });

    let depth = 0;
    dropzone.addEventListener('dragenter', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth += 1;
      dropzone.classList.add('is-dragover');
    });
    dropzone.addEventListener('dragover', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    });
    dropzone.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (!depth) dropzone.classList.remove('is-dragover');
    });
    dropzone.addEventListener('drop', (e) => {
      e.preventDefault();
      depth = 0;
      dropzone.classList.remove('is-dragover');
      if (e.dataTransfer && e.dataTransfer.files.length) this.addFiles(e.dataTransfer.files);
    });
    // A file dropped beside the zone must not replace the page with itself.
    window.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
    window.addEventListener('drop', (e) => {
      if (hasFiles(e) && !dropzone.contains(e.target)) {
        e.preventDefault();
        this.addFiles(e.dataTransfer.files);
      }
    });
    window.addEventListener('paste', (e) => {
      const files = e.clipboardData ? [...e.clipboardData.files] : [];
      if (files.length) {
        e.preventDefault();
        this.addFiles(files);
      }
    });

    store.subscribe((id, info) => {
      const row = this.rows.get(id);
      if (row) this.renderStatus(row, info);
    });
    clearButton.addEventListener('click', () => {
      for (const li of [...this.list.children]) {
        if (FINISHED.has(li.dataset.state)) {
          if (li.dataset.id) this.rows.delete(li.dataset.id);
          li.remove();
        }
      }
      this.updateClear();
      this.input.focus();
    });
    // Rows change state in many places; one observer keeps the button right.
    new MutationObserver(() => this.updateClear())
      .observe(list, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-state'] });
  }

  // Builds the copy choices from the server's settings and opens the picker;
  // files that arrived before go in line now.
  enable() {
    const legend = this.opsFieldset.querySelector('legend');
    this.opsInputs = config.variants.map((v) => h('input', {
      type: 'checkbox', name: 'op', value: v.name, checked: config.defaultOps.includes(v.name),
    }));
    this.opsFieldset.replaceChildren(legend,
      ...this.opsInputs.map((input, i) => h('label', {}, input, config.variants[i].title)));
    this.opsFieldset.hidden = false;
    this.limitText.textContent = `, up to ${formatLimit(config.uploadMaxBytes)} each`;
    this.input.disabled = false;
    this.enabled = true;
    if (this.early.length) this.addFiles(this.early.splice(0));
  }

  updateClear() {
    this.clearButton.hidden = ![...this.list.children].some((li) => FINISHED.has(li.dataset.state));
  }

  selectedOps() {
    return this.opsInputs.filter((i) => i.checked).map((i) => i.value);
  }

  addFiles(fileList) {
    const files = [...fileList];
    if (!files.length) return;
    if (!this.enabled) {
      this.early.push(...files);
      this.announce('The page is still loading; your files will upload once it is ready.');
      return;
    }
    const ops = this.selectedOps();
    // The newest batch goes on top, its files in the order they were picked.
    const batch = document.createDocumentFragment();
    for (const file of files) {
      const row = this.createRow(file);
      batch.append(row.el);
      if (!ops.length) {
        this.fail(row, `Choose at least one copy to make (${listTitles('or')}).`);
      } else if (file.size > config.uploadMaxBytes) {
        this.fail(row, describeError(413));
      } else if (file.size === 0) {
        this.fail(row, 'This file is empty.');
      } else {
        row.ops = ops;
        this.queue.push(row);
      }
    }
    this.list.prepend(batch);
    this.announce(`${files.length} ${files.length === 1 ? 'file' : 'files'} added to the uploads.`);
    this.pump();
  }

  pump() {
    while (this.active < PARALLEL && this.queue.length) {
      const row = this.queue.shift();
      if (row.cancelled) continue;
      this.active += 1;
      this.start(row).finally(() => {
        this.active -= 1;
        this.pump();
      });
    }
  }

  createRow(file) {
    this.seq += 1;
    const key = `upload-${this.seq}`;
    const progress = h('progress', { max: '100', value: '0', id: `${key}-progress`, 'aria-label': `Upload of ${file.name}` });
    const state = h('span', { class: 'upload-state', id: `${key}-state`, text: 'Waiting to upload…' });
    const chips = h('span', { class: 'chips' });
    const error = h('p', { class: 'upload-error', hidden: true });
    const cancel = h('button', { type: 'button', class: 'btn btn-small', text: 'Cancel', 'aria-describedby': `${key}-name` });
    const view = h('button', { type: 'button', class: 'btn btn-small', text: 'View', hidden: true, 'aria-describedby': `${key}-name` });
    const dismiss = h('button', { type: 'button', class: 'btn btn-small btn-quiet', text: 'Dismiss', hidden: true, 'aria-describedby': `${key}-name` });
    const el = h('li', { class: 'upload', dataset: { state: 'queued' } },
      h('div', { class: 'upload-main' },
        h('span', { class: 'upload-name', id: `${key}-name`, text: file.name }),
        h('span', { class: 'upload-size', text: formatBytes(file.size) })),
      progress,
      h('div', { class: 'upload-status' }, state, chips),
      error,
      h('div', { class: 'upload-actions' }, cancel, view, dismiss));
    const row = { el, file, progress, state, chips, error, cancel, view, dismiss, id: null, ops: [], handle: null, cancelled: false };
    cancel.addEventListener('click', () => {
      row.cancelled = true;
      if (row.handle) row.handle.abort();
      else this.fail(row, 'Upload cancelled.', 'cancelled');
    });
    view.addEventListener('click', () => { if (row.id) this.onView(row.id, view); });
    dismiss.addEventListener('click', () => {
      const next = el.nextElementSibling || el.previousElementSibling;
      el.remove();
      if (row.id) this.rows.delete(row.id);
      const target = next ? next.querySelector('button:not([hidden])') : this.input;
      if (target) target.focus();
    });
    return row;
  }

  async start(row) {
    row.el.dataset.state = 'uploading';
    row.state.textContent = 'Uploading… 0%';
    row.handle = uploadFile(row.file, {
      ops: row.ops,
      credential: uploadCredential(),
      onProgress: (f) => {
        const pct = Math.min(100, Math.round(f * 100));
        row.progress.value = pct;
        row.state.textContent = pct < 100 ? `Uploading… ${pct}%` : 'Uploaded, checking the image…';
      },
    });
    try {
      const accepted = await row.handle.promise;
      row.handle = null;
      keepOwnerToken(accepted.id, accepted.owner_token);
      row.id = accepted.id;
      row.progress.value = 100;
      row.el.dataset.id = accepted.id;
      row.el.dataset.state = 'accepted';
      row.cancel.hidden = true;
      this.rows.set(accepted.id, row);
      const ops = Array.isArray(accepted.ops) ? accepted.ops
        : typeof accepted.ops === 'string' ? accepted.ops.split(',') : row.ops;
      const variants = {};
      for (const name of ops) if (isVariant(name)) variants[name] = { status: 'pending' };
      // Enough for a placeholder at the top of the gallery until /info answers.
      store.update({
        id: accepted.id,
        status: accepted.status || 'pending',
        created_at: accepted.created_at,
        filename: row.file.name,
        size: row.file.size,
        variants,
      });
      this.renderStatus(row, store.get(accepted.id));
      // Events sent before this page knew the id are caught by one read.
      store.refresh(accepted.id);
    } catch (err) {
      row.handle = null;
      if (err && err.aborted) this.fail(row, 'Upload cancelled.', 'cancelled');
      else this.fail(row, err && err.message ? err.message : 'The upload failed.');
    }
  }

  fail(row, message, state = 'rejected') {
    row.el.dataset.state = state;
    row.progress.hidden = true;
    row.state.textContent = state === 'cancelled' ? 'Cancelled' : 'Not uploaded';
    row.error.textContent = state === 'cancelled' ? '' : message;
    row.error.hidden = state === 'cancelled';
    row.cancel.hidden = true;
    row.dismiss.hidden = false;
    if (state !== 'cancelled') this.announce(`${row.file.name}: ${message}`);
  }

  renderStatus(row, info) {
    if (!info) {
      row.el.dataset.state = 'deleted';
      row.state.textContent = 'Deleted';
      row.chips.replaceChildren();
      row.view.hidden = true;
      row.dismiss.hidden = false;
      return;
    }
    const status = info.status || 'pending';
    const before = row.el.dataset.state;
    row.el.dataset.state = status;
    row.progress.value = 100;
    row.state.textContent = {
      pending: 'Uploaded. Waiting for processing…',
      processing: 'Processing…',
      ready: 'Ready',
      failed: 'Processing failed',
    }[status] || status;
    row.state.className = `upload-state status-${status}`;
    row.chips.replaceChildren(...Object.entries(info.variants || {}).map(([name, v]) => {
      const s = v.status || 'pending';
      return h('span', { class: `chip status-${s}`, dataset: { variant: name, status: s } },
        `${variantTitle(name)}: ${(STATUS_LABELS[s] || s).toLowerCase()}`);
    }));
    if (status === 'failed') {
      row.error.textContent = info.error ? `Reason: ${info.error}` : 'The image could not be processed.';
      row.error.hidden = false;
    } else {
      row.error.hidden = true;
    }
    row.view.hidden = false;
    row.dismiss.hidden = !(status === 'ready' || status === 'failed');
    if (before !== status && (status === 'ready' || status === 'failed')) {
      this.announce(`${row.file.name}: ${status === 'ready' ? 'ready' : `processing failed${info.error ? ` (${info.error})` : ''}`}.`);
    }
  }
}

function hasFiles(e) {
  return !!(e.dataTransfer && [...(e.dataTransfer.types || [])].includes('Files'));
}
