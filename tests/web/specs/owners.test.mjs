// Owners: the browser that uploads an image may delete it and open its
// original; another browser sees the image but neither of those.
//
// Two browser profiles with their own storage, A and B. A uploads through
// the page: the 202's owner token goes into A's storage and nowhere else (not
// in the page's markup, not in a URL). A's viewer offers Delete and the
// original (fetched with the token); A deletes the image, the API then says
// 404 and the token leaves A's storage. A uploads a second image: B sees it
// in the gallery and the viewer, with neither Delete nor the original but a
// note saying why, and the API refuses B's page: DELETE and the original
// without a credential are 401, with B's own owner token (of B's own upload)
// 403, and the image is still there.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makePng } from '../lib/png.mjs';
import {
  requireStack, openBrowser, assertNoConsoleErrors, screenshot, runToken,
  apiInfo, apiDelete, apiFetch, pageOwnerTokens, pageUpload, openViewerOn,
} from '../lib/harness.mjs';

const NOTE = 'Only the browser that uploaded this image can delete it or open its original';

let a;
let b;
const made = []; // { id, token } of every image the test made, for cleanup
const run = runToken();

before(async () => {
  await requireStack();
  a = await openBrowser();
  b = await openBrowser();
  // Every URL each browser asks for, to show the token never travels in one.
  for (const side of [a, b]) {
    side.urls = [];
    side.page.on('request', (r) => side.urls.push(r.url()));
  }
});

after(async () => {
  for (const side of [a, b]) if (side) await side.close();
  for (const { id, token } of made) await apiDelete(id, { token }).catch(() => {});
});

async function closeViewer(page) {
  await page.keyboard.press('Escape');
  await page.locator('#viewer').waitFor({ state: 'hidden' });
}

// A call made by the page itself (same origin, the browser's own fetch).
function pageFetch(page, path, { method = 'GET', bearer = null } = {}) {
  return page.evaluate(async ([p, m, t]) => {
    const r = await fetch(p, { method: m, headers: t ? { Authorization: `Bearer ${t}` } : {}, cache: 'no-store' });
    return {
      status: r.status,
      type: r.headers.get('content-type') || '',
      authenticate: r.headers.get('www-authenticate') || '',
    };
  }, [path, method, bearer]);
}

test('the uploading browser sees Delete and the original, and deletes its image', async () => {
  const { page, errors } = a;
  await page.goto('/');
  const mine = await pageUpload(page, `owners-a1-${run}.png`, makePng(500, 300, 51), { made });

  // The token is kept by image id, and shown nowhere.
  assert.equal((await pageOwnerTokens(page))[mine.id], mine.token, 'the token is kept for its image');
  const markup = await page.evaluate(() => document.documentElement.outerHTML);
  assert.ok(!markup.includes(mine.token), 'the token is not in the page');

  await openViewerOn(page, mine.id);
  assert.equal(await page.locator('#viewer-delete').isVisible(), true, 'Delete is offered');
  assert.equal(await page.locator('#viewer-owner-note').isVisible(), false, 'no note for the owner');

  // The original: fetched with the token, shown from a blob: URL.
  const originalAsked = page.waitForRequest((r) => r.url().includes(`/api/image/${mine.id}?variant=original`));
  await page.locator('#variant-switch label[for="variant-original"]').click();
  const request = await originalAsked;
  assert.equal(request.headers().authorization, `Bearer ${mine.token}`, 'the original is asked for with the token');
  const shown = await page.waitForFunction(() => {
    const img = document.getElementById('viewer-image');
    const src = img.getAttribute('src') || '';
    return src.startsWith('blob:') && img.complete && img.naturalWidth > 0
      ? { w: img.naturalWidth, h: img.naturalHeight } : null;
  }).then((h) => h.jsonValue());
  assert.deepEqual(shown, { w: 500, h: 300 }, 'the original\'s own pixels');

  // Delete it.
  await page.locator('#viewer-delete').click();
  const deleted = page.waitForResponse((r) => r.url().endsWith(`/api/image/${mine.id}`) && r.request().method() === 'DELETE');
  await page.locator('#delete-yes').click();
  const answer = await deleted;
  assert.ok([202, 204].includes(answer.status()), `DELETE answered ${answer.status()}`);
  await page.locator('#viewer').waitFor({ state: 'hidden' });
  await page.locator(`#gallery [data-id="${mine.id}"]`).waitFor({ state: 'detached' });

  const info = await apiFetch(`/api/image/${mine.id}/info`);
  assert.equal(info.status, 404, 'the API no longer knows the image');
  assert.equal((await pageOwnerTokens(page))[mine.id], undefined, 'the token of the deleted image is dropped');
  assert.equal(await apiDelete(mine.id, { token: mine.token }), 404, 'a second DELETE by its owner is 404');

  assert.ok(!a.urls.some((u) => u.includes(mine.token)), 'the token never travels in a URL');
  assertNoConsoleErrors(errors, { ownIds: [mine.id] });
});

test('another browser sees the image but may neither delete it nor open its original', async () => {
  const theirs = await pageUpload(a.page, `owners-a2-${run}.png`, makePng(480, 320, 52), { made });

  const { page, errors } = b;
  await page.goto('/');
  await openViewerOn(page, theirs.id);
  assert.equal(await page.locator('#viewer-title').textContent(), `owners-a2-${run}.png`);
  assert.equal(await page.locator('#viewer-delete').isVisible(), false, 'no Delete for another browser');
  assert.equal(await page.locator('#variant-original').count(), 0, 'no original among the versions');
  const note = page.locator('#viewer-owner-note');
  assert.equal(await note.isVisible(), true, 'a note says why');
  assert.ok((await note.textContent()).includes(NOTE), `the note: ${await note.textContent()}`);
  const versions = await page.locator('#variant-switch input[name="variant"]').evaluateAll((els) => els.map((e) => e.value));
  assert.ok(versions.length > 0, 'the public copies are offered');
  await screenshot(page, 'viewer-not-owner');
  await closeViewer(page);

  // B's page tries anyway, without a credential: 401, as problem+json.
  for (const [what, path, method] of [
    ['DELETE', `/api/image/${theirs.id}`, 'DELETE'],
    ['the original', `/api/image/${theirs.id}?variant=original`, 'GET'],
  ]) {
    const r = await pageFetch(page, path, { method });
    assert.equal(r.status, 401, `${what} without a credential`);
    assert.match(r.type, /problem\+json/, `${what}: a problem`);
    assert.match(r.authenticate, /^Bearer/, `${what}: WWW-Authenticate`);
  }

  // With B's own owner token (of B's own upload): 403.
  const own = await pageUpload(page, `owners-b-${run}.png`, makePng(200, 200, 53), { made });
  for (const [what, path, method] of [
    ['DELETE', `/api/image/${theirs.id}`, 'DELETE'],
    ['the original', `/api/image/${theirs.id}?variant=original`, 'GET'],
  ]) {
    const r = await pageFetch(page, path, { method, bearer: own.token });
    assert.equal(r.status, 403, `${what} with another image's owner token`);
  }
  assert.ok(await apiInfo(theirs.id), 'the image is still there');

  // B is the owner of its own upload: there it sees Delete.
  await openViewerOn(page, own.id);
  assert.equal(await page.locator('#viewer-delete').isVisible(), true, 'Delete on B\'s own image');
  await closeViewer(page);

  // And A still holds the token of the image B could not touch.
  assert.equal((await pageOwnerTokens(a.page))[theirs.id], theirs.token);

  assertNoConsoleErrors(errors, { allowStatus: [401, 403], ownIds: [theirs.id, own.id] });
  assertNoConsoleErrors(a.errors, { ownIds: made.map((m) => m.id) });
});
