// What every browser test shares: where the stack is, a fresh Chromium,
// console-error collection, screenshots, and the API calls used to seed and
// check images.
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

// --- the API, called directly (seeding and checking) ----------------------

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
    if (res.status === 202) return body;
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

export async function apiDelete(id) {
  const res = await fetch(`${BASE_URL}/api/image/${id}`, { method: 'DELETE' });
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
