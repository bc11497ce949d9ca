// The filter by variant (`mode`): only images for which that variant was
// requested are listed, each shown by that variant; live uploads follow the
// filter too. Nothing reaches the console.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makePng } from '../lib/png.mjs';
import {
  requireStack, openBrowser, assertNoConsoleErrors, runToken, apiUpload, apiWaitReady, apiDelete, waitFor,
} from '../lib/harness.mjs';

let browser;
let resizedOnly;
let thumbOnly;
const created = [];

before(async () => {
  await requireStack();
  const token = runToken();
  const a = await apiUpload(makePng(200, 150, 31), `filter-resized-${token}.png`, { ops: 'resized' });
  const b = await apiUpload(makePng(200, 150, 32), `filter-thumb-${token}.png`, { ops: 'thumbnail' });
  created.push(a.id, b.id);
  resizedOnly = await apiWaitReady(a.id);
  thumbOnly = await apiWaitReady(b.id);
  browser = await openBrowser();
});

after(async () => {
  if (browser) await browser.close();
  for (const id of created) await apiDelete(id).catch(() => {});
});

test('filtering by variant lists only images with it, live uploads included', async () => {
  const { page, errors } = browser;
  const card = (id) => page.locator(`#gallery > li.card[data-id="${id}"]`);
  const filter = page.locator('#mode-filter');
  await page.goto('/');

  // All images: both, each with whatever preview it has.
  await card(resizedOnly.id).locator('img').waitFor();
  await card(thumbOnly.id).locator('img').waitFor();
  assert.equal(await card(resizedOnly.id).locator('img').getAttribute('src'), resizedOnly.variants.resized.url);
  assert.equal(await card(thumbOnly.id).locator('img').getAttribute('src'), thumbOnly.variants.thumbnail.url);

  const settle = () => page.locator('#gallery[aria-busy="false"]').waitFor({ state: 'attached' });
  const listed = async () => {
    const req = await page.evaluate(() => [...document.querySelectorAll('#gallery > li.card')].map((li) => li.dataset.id));
    return new Set(req);
  };

  await filter.selectOption('thumbnail');
  await card(thumbOnly.id).locator('img').waitFor();
  await settle();
  assert.equal((await listed()).has(resizedOnly.id), false, 'no thumbnail asked: not listed');

  await filter.selectOption('resized');
  await card(resizedOnly.id).locator('img').waitFor();
  await settle();
  assert.equal(await card(resizedOnly.id).locator('img').getAttribute('src'), resizedOnly.variants.resized.url);
  assert.equal((await listed()).has(thumbOnly.id), false, 'no resized copy asked: not listed');

  // Live uploads under the filter: only the matching one comes in.
  const token = runToken();
  const wrong = await apiUpload(makePng(64, 64, 33), `filter-live-thumb-${token}.png`, { ops: 'thumbnail' });
  const right = await apiUpload(makePng(64, 64, 34), `filter-live-resized-${token}.png`, { ops: 'resized' });
  created.push(wrong.id, right.id);
  await card(right.id).waitFor({ timeout: 20000 });
  await apiWaitReady(wrong.id);
  await card(right.id).locator('img').waitFor({ timeout: 30000 });
  assert.equal((await listed()).has(wrong.id), false, 'a live upload without the variant stays out');

  await filter.selectOption('watermarked');
  await settle();
  await waitFor('the watermarked list to load', async () => !(await listed()).has(right.id));
  const none = await listed();
  for (const id of created) assert.equal(none.has(id), false, `${id} has no watermarked copy`);

  await filter.selectOption('');
  await card(wrong.id).waitFor();
  await card(right.id).waitFor();

  assertNoConsoleErrors(errors, { ownIds: created });
});
