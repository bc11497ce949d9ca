// What every browser test shares: where the stack is, a fresh Chromium,
// console-error collection, screenshots, and the API calls used to seed and
// check images.
//
// Images seeded through the API are owned by the test: apiUpload keeps each
// 202's owner token, apiDelete sends it (DELETE needs it), and
// handOwnerTokens gives a browser the tokens of seeded images exactly as the
// page keeps those of its own uploads (localStorage, OWNER_TOKENS_KEY), so
// that a scenario about the viewer or deleting finds itself the owner.
//
// The page is reached through nginx at http://$IP_HTTP_LISTEN (default
// 127.0.0.1:8080), exactly as a person would reach it. Chromium is Debian's
// (/usr/bin/chromium, or $IP_CHROMIUM), started headless with a fresh
// profile directory that is removed afterwards; nothing is downloaded.
// Screenshots go to $IP_VAR_DIR/screenshots when IP_VAR_DIR is set (relative
// paths are taken from the repository root), else to var/test/screenshots.
//
// Waiting is always for a real condition with a deadline (waitFor), never a
// fixed sleep standing in for readiness.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..', '..');

const listen = process.env.IP_HTTP_LISTEN || '127.0.0.1:8080';
export const BASE_URL = (process.env.IP_WEB_BASE_URL || `http://${listen}`).replace(/\/$/, '');

export const SCREENSHOT_DIR = process.env.IP_VAR_DIR
  ? path.resolve(REPO_ROOT, process.env.IP_VAR_DIR, 'screenshots')
  : path.join(REPO_ROOT, 'var', 'test', 'screenshots');

const CHROMIUM = process.env.IP_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// A unique word for this run, put into file names so a test finds its own
// images among whatever earlier tests left behind.
export function runToken() {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
}

// Polls `fn` until it returns a truthy value, or fails with `what` after
// `timeoutMs`.
export async function waitFor(what, fn, { timeoutMs = 30000, intervalMs = 200 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// Fails at once, with a plain reason, when nginx or the gateway behind it
// does not answer: an e2e test never skips.
export async function requireStack() {
  let res;
  try {
    res = await fetch(`${BASE_URL}/api/healthz`);
  } catch (err) {
    assert.fail(`nginx is not reachable at ${BASE_URL} (${err.cause ? err.cause.code || err.cause.message : err.message}); start the stack first`);
  }
  assert.equal(res.status, 200, `${BASE_URL}/api/healthz answered ${res.status}: the gateway is not up behind nginx`);
  const page = await fetch(`${BASE_URL}/`);
  assert.equal(page.status, 200, `${BASE_URL}/ answered ${page.status}: nginx does not serve web/`);
}

// Starts Chromium with a fresh profile and one page. Console errors and
// uncaught page errors are collected in `errors` (strings).
export async function openBrowser({ viewport = { width: 1280, height: 860 }, permissions = [] } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ip-web-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    baseURL: BASE_URL,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  if (permissions.length) await context.grantPermissions(permissions, { origin: BASE_URL });
  const page = context.pages()[0] || await context.newPage();
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  // The console says "Failed to load resource" without the URL: keep the
  // failed requests beside it, so a failure names what failed.
  const failures = [];
  page.on('response', (r) => {
    if (r.status() >= 400) failures.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText || '';
    // A request the page dropped itself (a card replaced, the page left)
    // is not a failure.
    if (!/ERR_ABORTED/.test(why)) failures.push(`failed ${r.method()} ${r.url()}: ${why}`);
  });
  errors.failures = failures;
  page.setDefaultTimeout(20000);
  return {
    context,
    page,
    errors,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Asserts that the page logged no error of its own: no uncaught exception,
// no console.error, no CSP violation, and no failed request for the page's
// files, the API's lists and streams, or the images this test made
// (`ownIds`). A failed request whose status is in `allowStatus` is expected
// by the test. A failed request about another test's image (a /media/ or
// /api/image/ URL with an id not in `ownIds`) is tolerated: the gallery shows
// whatever the shared database holds, and that data is not under test here.
// Chromium's "Failed to load resource" console line carries no URL, so those
// lines are matched against the failed requests recorded beside them.
const IMAGE_URL = /\/(?:media|api\/image)\/([0-9a-f-]{36})(?:[/?]|$)/i;

export function assertNoConsoleErrors(errors, { allowStatus = [], ownIds = null } = {}) {
  const resourceLine = /Failed to load resource/;
  const own = ownIds ? new Set(ownIds) : null;
  const unexpected = errors.filter((e) => !resourceLine.test(e));
  const failures = errors.failures || [];
  const badRequests = failures.filter((f) => {
    const [status] = f.split(' ');
    if (allowStatus.includes(Number(status))) return false;
    const m = IMAGE_URL.exec(f);
    if (m && own && !own.has(m[1])) return false; // another test's image
    return true;
  });
  const resourceLines = errors.filter((e) => resourceLine.test(e)).length;
  const explained = failures.length;
  if (resourceLines > explained) {
    unexpected.push(`${resourceLines - explained} failed resource load(s) with no recorded request`);
  }
  unexpected.push(...badRequests.map((f) => `request: ${f}`));
  assert.deepEqual(unexpected, [], `unexpected errors in the page:\n${unexpected.join('\n')}`
    + (failures.length ? `\nall failed requests:\n${failures.join('\n')}` : ''));
}

export async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

// --- owner tokens in the browser --------------------------------------------

// Where web/js/access.js keeps the owner tokens of this browser's uploads:
// a JSON object, image id -> "ipo_…" token.
export const OWNER_TOKENS_KEY = 'imageprocessor.owner-tokens';

// The owner tokens the page holds ({id: token}).
export async function pageOwnerTokens(page) {
  return page.evaluate((k) => JSON.parse(window.localStorage.getItem(k) || '{}'), OWNER_TOKENS_KEY);
}

// Gives the browser of `page` the owner tokens of images seeded by
// apiUpload (their 202 bodies), as if it had uploaded them itself. Loads the
// page to reach its storage; the caller loads it again to use them.
export async function handOwnerTokens(page, accepted) {
  await page.goto('/');
  const add = Object.fromEntries(accepted.map((a) => {
    assert.match(a.owner_token || '', /^ipo_[A-Za-z0-9_-]{43}$/, `the 202 of ${a.id} carries an owner token`);
    return [a.id, a.owner_token];
  }));
  await page.evaluate(([k, tokens]) => {
    const held = JSON.parse(window.localStorage.getItem(k) || '{}');
    window.localStorage.setItem(k, JSON.stringify({ ...held, ...tokens }));
  }, [OWNER_TOKENS_KEY, add]);
}

// Uploads one PNG with the page's picker; resolves with { id, token } (the
// owner token of its 202) once the upload row says the image is ready.
// `made`, when given, gets the pair at once (for the test's cleanup).
export async function pageUpload(page, name, png, { made = null } = {}) {
  const answered = page.waitForResponse((r) => r.url().endsWith('/api/upload') && r.request().method() === 'POST');
  await page.locator('#file-input').setInputFiles([{ name, mimeType: 'image/png', buffer: png }]);
  const response = await answered;
  assert.equal(response.status(), 202, `the upload of ${name} is accepted`);
  const body = await response.json();
  assert.match(body.owner_token || '', /^ipo_[A-Za-z0-9_-]{43}$/, 'the 202 carries an owner token');
  if (made) made.push({ id: body.id, token: body.owner_token });
  const state = await page.waitForFunction((id) => {
    const s = document.querySelector(`#upload-list > li[data-id="${id}"]`)?.dataset.state;
    return s === 'ready' || s === 'failed' ? s : null;
  }, body.id, { timeout: 90000 }).then((h) => h.jsonValue());
  assert.equal(state, 'ready', `${name} is processed`);
  return { id: body.id, token: body.owner_token };
}

// Opens the viewer on the gallery's card of `id` and waits for its picture.
export async function openViewerOn(page, id) {
  const card = page.locator(`#gallery > li.card[data-id="${id}"]`);
  await card.locator('img').waitFor({ timeout: 30000 });
  await card.locator('.card-open').click();
  await page.locator('#viewer').waitFor({ state: 'visible' });
  await page.waitForFunction(() => {
    const img = document.getElementById('viewer-image');
    return img.complete && img.naturalWidth > 0 && !img.classList.contains('is-loading');
  });
}

// --- the API, called directly (seeding and checking) ----------------------

// Owner tokens of the images this process seeded, by id (apiDelete's).
const seededTokens = new Map();

// A fetch of BASE_URL + path with `Authorization: Bearer <bearer>` when given.
export async function apiFetch(path, { method = 'GET', bearer = null } = {}) {
  const headers = bearer ? { Authorization: `Bearer ${bearer}` } : {};
  return fetch(`${BASE_URL}${path}`, { method, headers, cache: 'no-store' });
}

// Seeds one image. A 503 ("try again later", nothing was left behind) is
// retried a few times, as any client of the API would; these tests are
// about the page, not about a dependency's hiccup.
export async function apiUpload(bytes, filename, { type = 'image/png', ops } = {}) {
  for (let attempt = 1; ; attempt += 1) {
    const form = new FormData();
    if (ops) form.append('ops', ops);
    form.append('file', new Blob([bytes], { type }), filename);
    const res = await fetch(`${BASE_URL}/api/upload`, { method: 'POST', body: form });
    const body = await res.json().catch(() => ({}));
    if (res.status === 202) {
      if (body.owner_token) seededTokens.set(body.id, body.owner_token);
      return body;
    }
    if (res.status !== 503 || attempt >= 4) {
      throw new Error(`upload of ${filename} answered ${res.status}: ${JSON.stringify(body)}`);
    }
    await new Promise((r) => setTimeout(r, 1000 * attempt));
  }
}

// The server's variants and limits, as the page reads them at start:
// {variants: [{name, title}], default_ops, upload_max_bytes, pixel_limit}.
export async function apiConfig() {
  const res = await fetch(`${BASE_URL}/api/config`);
  assert.equal(res.status, 200, `${BASE_URL}/api/config answered ${res.status}`);
  const cfg = await res.json();
  assert.ok(Array.isArray(cfg.variants) && cfg.variants.length, `/api/config lists no variants: ${JSON.stringify(cfg)}`);
  return cfg;
}

export async function apiInfo(id) {
  const res = await fetch(`${BASE_URL}/api/image/${id}/info`);
  if (res.status === 404) return null;
  if (res.status !== 200) throw new Error(`info of ${id} answered ${res.status}`);
  return res.json();
}

// DELETE with `token`, else the owner token apiUpload kept for `id`;
// resolves with the status.
export async function apiDelete(id, { token = seededTokens.get(id) || null } = {}) {
  const res = await apiFetch(`/api/image/${id}`, { method: 'DELETE', bearer: token });
  return res.status;
}

export async function apiWaitReady(id, { timeoutMs = 90000 } = {}) {
  return waitFor(`image ${id} to be ready`, async () => {
    const info = await apiInfo(id);
    if (info && info.status === 'failed') throw new Error(`image ${id} failed: ${info.error}`);
    return info && info.status === 'ready' ? info : null;
  }, { timeoutMs, intervalMs: 250 });
}

// Runs `fn` over `items` with at most `limit` at once, keeping the order of
// results.
export async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}
