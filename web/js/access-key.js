// The "Access key" dialog, opened from the header: enter, see and remove the
// API key this browser sends (access.js keeps it).
//
// A key typed in is first checked for its form ("ipk_" + 43 characters),
// then with the API (checkKey in api.js), which also finds what it may do;
// only a key the API accepts is kept. The key in use is shown masked, as
// `imgctl keys list` shows it (its first 12 characters), with what it
// allows, and can be removed. The header button names the key's power
// ("admin", "delete", "in use") so that the state is visible without opening
// the dialog. The native <dialog> gives the focus trap and Escape; focus
// returns to the header button on close.

import { checkKey, ApiError } from './api.js';
import {
  accessKey, describeKeyPowers, forgetAccessKey, isApiKeyForm, keepAccessKey, maskedKey, onAccessChange,
} from './access.js';

export class AccessKeyDialog {
  constructor({ announce }) {
    const $ = (id) => document.getElementById(id);
    this.opener = $('access-open');
    this.badge = $('access-state');
    this.dialog = $('access-dialog');
    this.current = $('access-current');
    this.masked = $('access-masked');
    this.powers = $('access-powers');
    this.removeButton = $('access-remove');
    this.form = $('access-form');
    this.input = $('access-input');
    this.saveButton = $('access-save');
    this.message = $('access-message');
    this.announce = announce;

    this.opener.addEventListener('click', () => this.open());
    $('access-close').addEventListener('click', () => this.dialog.close());
    this.dialog.addEventListener('close', () => this.opener.focus());
    this.dialog.addEventListener('click', (e) => {
      if (e.target === this.dialog) this.dialog.close(); // the backdrop
    });
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.save();
    });
    this.removeButton.addEventListener('click', () => this.remove());
    onAccessChange(() => this.render());
    this.render();
  }

  open() {
    this.say('');
    this.input.value = '';
    this.render();
    if (!this.dialog.open) this.dialog.showModal();
    this.input.focus();
  }

  render() {
    const k = accessKey();
    this.badge.textContent = !k ? '' : k.admin ? 'admin' : k.delete ? 'delete' : 'in use';
    this.current.hidden = !k;
    if (k) {
      this.masked.textContent = maskedKey(k.key);
      this.powers.textContent = `This key: ${describeKeyPowers(k)}.`;
    }
    this.saveButton.textContent = k ? 'Use this key instead' : 'Use this key';
  }

  say(text, { error = false } = {}) {
    this.message.textContent = text;
    this.message.classList.toggle('is-error', error);
  }

  async save() {
    const key = this.input.value.trim();
    if (!isApiKeyForm(key)) {
      this.say('That is not an API key: a key starts with ipk_ and has 47 characters.', { error: true });
      this.input.focus();
      return;
    }
    this.saveButton.disabled = true;
    this.say('Checking the key…');
    try {
      const powers = await checkKey(key);
      keepAccessKey({ key, ...powers });
      this.input.value = '';
      this.say(`Key saved. ${capitalise(describeKeyPowers(powers))}.`);
      this.announce('Access key saved.');
    } catch (err) {
      const text = err instanceof ApiError && err.status === 401
        ? 'This key was not accepted: it is unknown or was revoked. Nothing was saved.'
        : `The key could not be checked, so it was not saved. ${err && err.message ? err.message : ''}`.trim();
      this.say(text, { error: true });
      this.input.focus();
    } finally {
      this.saveButton.disabled = false;
    }
  }

  remove() {
    forgetAccessKey();
    this.say('Key removed. This browser now acts only for its own uploads.');
    this.announce('Access key removed.');
    this.input.focus();
  }
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
