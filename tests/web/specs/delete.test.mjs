// Delete from the viewer: the confirmation can be declined, then confirmed;
// the card leaves the gallery at once, the API no longer knows the image, and
// its variant URL stops answering. Nothing reaches the console. The images
// are seeded through the API and the browser is given their owner tokens, as
// if it had uploaded them (owners.test.mjs covers the page's own uploads);
// the deleted image's token leaves the browser's storage.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makePng } from '../lib/png.mjs';
import {
  requireStack, openBrowser, assertNoConsoleErrors, runToken,
  apiUpload, apiWaitReady, apiInfo, apiDelete, BASE_URL, waitFor, handOwnerTokens, pageOwnerTokens,
} from '../lib/harness.mjs';

let browser;
let keep;
let doomed;

before(async () => {
  await requireStack();
  const token = runToken();
  // Two images: the one to delete and a neighbour that must stay.
  const a = await apiUpload(makePng(300, 200, 11), `keep-${token}.png`);
  const b = await apiUpload(makePng(300, 200, 12), `delete-${token}.png`);
  keep = await apiWaitReady(a.id);
  doomed = await apiWaitReady(b.id);
  browser = await openBrowser();
  await handOwnerTokens(browser.page, [a, b]);
});

after(async () => {
  if (browser) await browser.close();
  if (keep) await apiDelete(keep.id).catch(() => {});
  if (doomed) await apiDelete(doomed.id).catch(() => {});
});

test('delete with confirmation removes the image from the gallery at once', async () => {
  const { page, errors } = browser;
  await page.goto('/');
  const card = page.locator(`#gallery > li.card[data-id="${doomed.id}"]`);
  const neighbour = page.locator(`#gallery > li.card[data-id="${keep.id}"]`);
  await card.locator('img').waitFor();
  await neighbour.waitFor();

  await card.locator('.card-open').click();
  const dialog = page.locator('#viewer');
  await dialog.waitFor({ state: 'visible' });

  // Declining keeps everything.
  await page.locator('#viewer-delete').click();
  await page.locator('#delete-confirm').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => document.activeElement.id), 'delete-cancel',
    'the safe choice has focus');
  await page.locator('#delete-cancel').click();
  await page.locator('#delete-confirm').waitFor({ state: 'hidden' });
  assert.ok(await apiInfo(doomed.id), 'still there after "Keep it"');

  // Confirming deletes; the card goes without a reload.
  const below = await card.evaluate((li) => li.nextElementSibling?.dataset.id || null);
  await page.locator('#viewer-delete').click();
  const deleted = page.waitForResponse((r) => r.url().endsWith(`/api/image/${doomed.id}`)
    && r.request().method() === 'DELETE');
  await page.locator('#delete-yes').click();
  const answer = await deleted;
  assert.equal(answer.status(), 204);
  assert.match(answer.request().headers().authorization || '', /^Bearer ipo_/, 'sent with the owner token');
  await dialog.waitFor({ state: 'hidden' });
  await card.waitFor({ state: 'detached', timeout: 2000 });
  assert.equal(await page.locator(`#gallery [data-id="${doomed.id}"]`).count(), 0);
  await neighbour.waitFor();
  // Focus moves to the card that was below the deleted one.
  await page.waitForFunction((id) => document.activeElement.closest('li.card')?.dataset.id === id, below,
    { timeout: 5000 }).catch(async (err) => {
    const active = await page.evaluate(() => {
      const el = document.activeElement;
      return `${el.tagName}#${el.id} in card ${el.closest('li.card')?.dataset.id}`;
    });
    throw new Error(`focus should be on the card ${below} after the delete, is on ${active}: ${err.message}`);
  });
  assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1);

  // The API agrees, and the public variant is gone; the browser no longer
  // keeps the token, and still keeps its neighbour's.
  assert.equal(await apiInfo(doomed.id), null);
  const held = await pageOwnerTokens(page);
  assert.equal(held[doomed.id], undefined, 'the deleted image\'s token is dropped');
  assert.ok(held[keep.id], 'the other image\'s token stays');
  await waitFor('the thumbnail URL to stop answering', async () => {
    const r = await fetch(new URL(doomed.variants.thumbnail.url, BASE_URL), { cache: 'no-store' });
    return r.status === 404;
  }, { timeoutMs: 10000 });

  // A reload does not bring it back.
  await page.reload();
  await neighbour.waitFor();
  assert.equal(await page.locator(`#gallery [data-id="${doomed.id}"]`).count(), 0);

  assertNoConsoleErrors(errors, { ownIds: [keep.id, doomed.id] });
});
