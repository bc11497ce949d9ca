// Errors a person can read: a text file is refused with "not an image we can
// read" (the API's 415), an image of 400 megapixels with "too many pixels"
// (422), and a damaged PNG ends either refused (422) or failed with its
// reason, each in words, on its own row. (A file over the upload limit is
// refused before it is sent: see config.test.mjs.) The only console errors
// are the browser's notes about those refused requests.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { makePng, pngClaimingSize } from '../lib/png.mjs';
import {
  requireStack, openBrowser, assertNoConsoleErrors, screenshot, runToken, apiDelete, pageOwnerTokens,
} from '../lib/harness.mjs';

let browser;
const created = [];

before(async () => {
  await requireStack();
  browser = await openBrowser();
});

after(async () => {
  // The page's uploads are deleted with the owner tokens it kept.
  const held = browser ? await pageOwnerTokens(browser.page).catch(() => ({})) : {};
  if (browser) await browser.close();
  for (const id of created) await apiDelete(id, { token: held[id] || null }).catch(() => {});
});

// A PNG whose header is sound but whose pixel data is not a zlib stream.
function damagedPng() {
  const good = makePng(64, 64, 3);
  const idat = good.indexOf(Buffer.from('IDAT'));
  const out = Buffer.from(good);
  out.fill(0x5a, idat + 4, Math.min(out.length - 12, idat + 4 + 40));
  // Keep it unmistakably not deflate, even where 0x5a bytes happened to parse.
  assert.throws(() => zlib.inflateSync(out.subarray(idat + 4, out.length - 16)));
  return out;
}

test('a text file and a damaged image get errors in plain words', async () => {
  const { page, errors } = browser;
  const token = runToken();
  await page.goto('/');
  await page.locator('#gallery[aria-busy="false"]').waitFor({ state: 'attached' });

  const textName = `notes-${token}.txt`;
  const brokenName = `broken-${token}.png`;
  const giantName = `giant-${token}.png`;
  await page.locator('#file-input').setInputFiles([
    { name: textName, mimeType: 'text/plain', buffer: Buffer.from('these are notes, not pixels\n'.repeat(20)) },
    { name: brokenName, mimeType: 'image/png', buffer: damagedPng() },
    { name: giantName, mimeType: 'image/png', buffer: pngClaimingSize(20000, 20000) },
  ]);

  const textRow = page.locator('#upload-list > li', { hasText: textName });
  await textRow.and(page.locator('[data-state="rejected"]')).waitFor({ timeout: 20000 });
  const message = await textRow.locator('.upload-error').innerText();
  assert.match(message, /not an image we can read/i);
  assert.equal(await textRow.locator('.upload-error').isVisible(), true);
  assert.equal(await textRow.locator('progress').isHidden(), true, 'no progress bar left on a refused file');
  assert.equal(await textRow.getAttribute('data-id'), null, 'nothing was created');

  // 400 megapixels by its header: refused (422) before anything is stored.
  const giantRow = page.locator('#upload-list > li', { hasText: giantName });
  await giantRow.and(page.locator('[data-state="rejected"]')).waitFor({ timeout: 20000 });
  assert.match(await giantRow.locator('.upload-error').innerText(), /too many pixels/i);

  // The damaged image: refused from its header (422), or accepted and then
  // failed by the processor with a reason. Either way the row says why.
  const brokenRow = page.locator('#upload-list > li', { hasText: brokenName });
  await brokenRow.and(page.locator('[data-state="rejected"], [data-state="failed"]')).waitFor({ timeout: 60000 });
  const state = await brokenRow.getAttribute('data-state');
  const brokenMessage = await brokenRow.locator('.upload-error').innerText();
  if (state === 'rejected') {
    assert.match(brokenMessage, /could not be read|damaged|too many pixels/i);
  } else {
    created.push(await brokenRow.getAttribute('data-id'));
    assert.match(brokenMessage, /^Reason: \S/);
    // Its gallery card says it failed instead of spinning for ever.
    const card = page.locator(`#gallery > li.card[data-id="${created[0]}"]`);
    await card.and(page.locator('[data-status="failed"]')).waitFor();
  }

  await screenshot(page, 'upload-errors');
  assertNoConsoleErrors(errors, { allowStatus: [413, 415, 422], ownIds: created });
});
