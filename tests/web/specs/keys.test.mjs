// Access keys in the page: a key entered under "Access key" in another
// browser lets it do what the key's scopes allow.
//
// Browser A uploads an image through the page. Browser B (its own storage)
// sees it without Delete. In B's "Access key" dialog: text of the wrong form
// is refused before anything is sent; a `read` key (made with `imgctl keys
// create`) is checked, kept and shown masked, and still gives no Delete;
// once revoked (`imgctl keys revoke`) it is refused in plain words; an
// `admin` key makes Delete and the original appear on A's image, the
// original loads with the key, and Delete works (the API says 404 after).
// Removing the key takes them away again. A closed deployment (uploads need
// a key) is played in the browser: B's uploads are answered 401 unless they
// carry an API key; without one the row says to enter one under Access key,
// with the admin key the upload goes through.
//
// imgctl is the one of the build under test: $IP_IMGCTL (ctest sets it),
// else $IP_BUILD_DIR/common/imgctl; it reaches metadata-svc at
// $IP_METADATA_RPC_URL like the stack. The test fails when it is missing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { makePng } from '../lib/png.mjs';
import {
  requireStack, openBrowser, assertNoConsoleErrors, runToken, REPO_ROOT,
  apiDelete, apiFetch, pageUpload, openViewerOn,
} from '../lib/harness.mjs';

const ACCESS_KEY = 'imageprocessor.access-key';
const NOTE = 'Only the browser that uploaded this image can delete it or open its original';

let a;
let b;
const made = [];
const keys = []; // ids of the keys this test made, revoked at the end
const run = runToken();

function imgctlPath() {
  const found = [process.env.IP_IMGCTL && path.resolve(REPO_ROOT, process.env.IP_IMGCTL)];
  const dir = process.env.IP_BUILD_DIR;
  if (dir) found.push(path.join(path.resolve(REPO_ROOT, dir), 'common', 'imgctl'));
  const bin = found.find((p) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  assert.ok(bin, 'no imgctl: set IP_IMGCTL, or IP_BUILD_DIR to a build with common/imgctl');
  return bin;
}

function imgctl(...args) {
  return execFileSync(imgctlPath(), args, { encoding: 'utf8', timeout: 30000 });
}

// A new key with `scopes`: { id, key, prefix }.
function makeKey(scopes) {
  const out = JSON.parse(imgctl('keys', 'create', '--name', `web-keys-${scopes}-${run}`, '--scopes', scopes));
  assert.match(out.key || '', /^ipk_[A-Za-z0-9_-]{43}$/, `imgctl printed a key: ${JSON.stringify({ ...out, key: '…' })}`);
  keys.push(out.id);
  return out;
}

before(async () => {
  await requireStack();
  imgctlPath();
  a = await openBrowser();
  b = await openBrowser();
});

after(async () => {
  for (const side of [a, b]) if (side) await side.close();
  for (const { id, token } of made) await apiDelete(id, { token }).catch(() => {});
  for (const id of keys) {
    try {
      imgctl('keys', 'revoke', id);
    } catch {
      // already revoked by the test
    }
  }
});

async function enterKey(page, key) {
  await page.locator('#access-open').click();
  await page.locator('#access-dialog').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => document.activeElement.id), 'access-input', 'focus on the key field');
  await page.locator('#access-input').fill(key);
  await page.locator('#access-save').click();
  const message = page.locator('#access-message');
  await page.waitForFunction(() => {
    const text = document.getElementById('access-message').textContent;
    return text && !text.startsWith('Checking');
  });
  return message.textContent();
}

async function closeDialog(page, id) {
  await page.keyboard.press('Escape');
  await page.locator(id).waitFor({ state: 'hidden' });
}

test('an admin key entered in another browser offers Delete and the original on any image', async () => {
  await a.page.goto('/');
  const theirs = await pageUpload(a.page, `keys-a-${run}.png`, makePng(420, 280, 61), { made });

  const { page, errors } = b;
  // A closed deployment, as B sees it: no key, no upload.
  await page.route('**/api/upload', (route) => {
    if ((route.request().headers().authorization || '').startsWith('Bearer ipk_')) return route.continue();
    return route.fulfill({
      status: 401,
      contentType: 'application/problem+json',
      headers: { 'WWW-Authenticate': 'Bearer' },
      body: JSON.stringify({ type: 'about:blank', title: 'Unauthorized', status: 401,
        detail: 'uploads on this service need an API key with upload scope' }),
    });
  });
  await page.goto('/');
  await page.locator('#file-input').setInputFiles([
    { name: `keys-refused-${run}.png`, mimeType: 'image/png', buffer: makePng(64, 64, 62) }]);
  const refused = page.locator('#upload-list > li[data-state="rejected"] .upload-error');
  await refused.waitFor();
  assert.equal(await refused.textContent(), 'This service needs an access key to upload: enter one under Access key.');

  await openViewerOn(page, theirs.id);
  assert.equal(await page.locator('#viewer-delete').isVisible(), false, 'no Delete without a key');
  await closeDialog(page, '#viewer');

  // Not a key at all: refused before anything is sent.
  const said = await enterKey(page, 'ipk_short');
  assert.match(said, /starts with ipk_ and has 47 characters/, `the message: ${said}`);
  await closeDialog(page, '#access-dialog');

  // A read key: kept, shown masked, but gives no Delete.
  const read = makeKey('read');
  const readSaid = await enterKey(page, read.key);
  assert.match(readSaid, /Key saved/, `the message: ${readSaid}`);
  assert.equal(await page.locator('#access-masked').textContent(), `${read.key.slice(0, 12)}…`, 'shown masked');
  const markup = await page.evaluate(() => document.documentElement.outerHTML);
  assert.ok(!markup.includes(read.key), 'the whole key is not in the page');
  assert.equal(await page.locator('#access-input').inputValue(), '', 'the field is cleared');
  await closeDialog(page, '#access-dialog');
  // The header button says a key is in use (its accessible name too).
  await page.getByRole('button', { name: 'Access key in use', exact: true }).waitFor();
  await openViewerOn(page, theirs.id);
  assert.equal(await page.locator('#viewer-delete').isVisible(), false, 'a read key gives no Delete');
  assert.ok((await page.locator('#viewer-owner-note').textContent()).includes(NOTE));
  await closeDialog(page, '#viewer');

  // Revoked, the same key is refused in plain words.
  imgctl('keys', 'revoke', read.id);
  const revokedSaid = await enterKey(page, read.key);
  assert.match(revokedSaid, /not accepted: it is unknown or was revoked/, `the message: ${revokedSaid}`);
  await closeDialog(page, '#access-dialog');

  // An admin key: Delete and the original on A's image.
  const admin = makeKey('admin');
  const adminSaid = await enterKey(page, admin.key);
  assert.match(adminSaid, /Key saved\. Admin/, `the message: ${adminSaid}`);
  await closeDialog(page, '#access-dialog');
  await page.getByRole('button', { name: 'Access key admin', exact: true }).waitFor();
  await openViewerOn(page, theirs.id);
  assert.equal(await page.locator('#viewer-delete').isVisible(), true, 'Delete with an admin key');
  assert.equal(await page.locator('#viewer-owner-note').isVisible(), false);

  const asked = page.waitForRequest((r) => r.url().includes(`/api/image/${theirs.id}?variant=original`));
  await page.locator('#variant-switch label[for="variant-original"]').click();
  assert.equal((await asked).headers().authorization, `Bearer ${admin.key}`, 'the original is asked for with the key');
  const shown = await page.waitForFunction(() => {
    const img = document.getElementById('viewer-image');
    return (img.getAttribute('src') || '').startsWith('blob:') && img.complete && img.naturalWidth > 0
      ? { w: img.naturalWidth, h: img.naturalHeight } : null;
  }).then((h) => h.jsonValue(), async (err) => {
    const note = await page.locator('#viewer-stage-note').textContent();
    throw new Error(`the original is not shown (stage note: "${note}"): ${err.message}`);
  });
  assert.deepEqual(shown, { w: 420, h: 280 });

  await page.locator('#viewer-delete').click();
  const deleted = page.waitForResponse((r) => r.url().endsWith(`/api/image/${theirs.id}`) && r.request().method() === 'DELETE');
  await page.locator('#delete-yes').click();
  const answer = await deleted;
  assert.ok([202, 204].includes(answer.status()), `DELETE answered ${answer.status()}`);
  assert.equal(answer.request().headers().authorization, `Bearer ${admin.key}`);
  await page.locator('#viewer').waitFor({ state: 'hidden' });
  assert.equal((await apiFetch(`/api/image/${theirs.id}/info`)).status, 404, 'the API no longer knows the image');
  // A's page follows the deletion and drops its token.
  await a.page.locator(`#gallery [data-id="${theirs.id}"]`).waitFor({ state: 'detached' });

  // With the key, B's upload goes through (the route lets only a keyed one
  // pass) and B owns it.
  await pageUpload(page, `keys-b-${run}.png`, makePng(96, 96, 63), { made });
  await page.unroute('**/api/upload');

  // Removing the key takes the powers away.
  await page.locator('#access-open').click();
  await page.locator('#access-remove').click();
  await page.locator('#access-message', { hasText: 'Key removed' }).waitFor();
  assert.equal(await page.evaluate((k) => window.localStorage.getItem(k), ACCESS_KEY), null, 'the key left the storage');
  assert.equal(await page.locator('#access-current').isVisible(), false);
  await closeDialog(page, '#access-dialog');
  await page.getByRole('button', { name: 'Access key', exact: true }).waitFor();

  // The key check answers 401 on purpose (the revoked key).
  assertNoConsoleErrors(errors, { allowStatus: [401], ownIds: [theirs.id] });
  assertNoConsoleErrors(a.errors, { ownIds: [theirs.id] });
});
