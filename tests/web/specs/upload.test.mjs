// Upload three files at once: three rows with their own progress bars, then
// three thumbnails appear in the gallery live (no reload), and the rows say
// "Ready". Nothing reaches the console.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makePng } from '../lib/png.mjs';
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

test('three files picked at once get three progress bars, then three live thumbnails', async () => {
  const { page, errors } = browser;
  const token = runToken();
  const files = [0, 1, 2].map((i) => ({
    name: `upload-${token}-${i}.png`,
    mimeType: 'image/png',
    buffer: makePng(480 + i * 40, 320, i + 1),
  }));

  await page.goto('/');
  await page.locator('#gallery[aria-busy="false"]').waitFor({ state: 'attached' });

  // Record, in the page, every progress bar that ever shows, so a fast
  // upload cannot hide its bar before we look.
  await page.evaluate(() => {
    window.__progressSeen = new Set();
    const list = document.getElementById('upload-list');
    new MutationObserver(() => {
      for (const p of list.querySelectorAll('li progress')) window.__progressSeen.add(p.id);
    }).observe(list, { childList: true, subtree: true, attributes: true });
    // And every state each gallery card went through (placeholder or image).
    window.__cardStates = {};
    const gallery = document.getElementById('gallery');
    const note = () => {
      for (const li of gallery.querySelectorAll('li.card')) {
        const states = (window.__cardStates[li.dataset.id] ||= []);
        const s = li.querySelector('img') ? 'image' : 'placeholder';
        if (states[states.length - 1] !== s) states.push(s);
      }
    };
    new MutationObserver(note).observe(gallery, { childList: true, subtree: true });
  });

  await page.locator('#file-input').setInputFiles(files);

  const rows = page.locator('#upload-list > li');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 3, 'one upload row per file');
  assert.equal(await page.locator('#upload-list > li progress').count(), 3, 'one progress bar per file');
  const seen = await page.evaluate(() => window.__progressSeen.size);
  assert.equal(seen, 3, 'three distinct progress bars were shown');
  for (const f of files) {
    await page.locator('#upload-list > li', { hasText: f.name }).locator('progress').waitFor();
  }

  // Every row reaches "ready" through live events, and its bar is full.
  for (const f of files) {
    const row = page.locator('#upload-list > li', { hasText: f.name });
    await row.and(page.locator('[data-state="ready"]')).waitFor({ timeout: 60000 });
    assert.equal(await row.locator('progress').evaluate((p) => p.value), 100);
    const id = await row.getAttribute('data-id');
    assert.match(id, /^[0-9a-f-]{36}$/);
    created.push(id);
  }

  // The gallery shows them at the top, as thumbnails loaded from /media/,
  // without a reload.
  const cards = page.locator('#gallery > li.card');
  for (const id of created) {
    const img = page.locator(`#gallery > li.card[data-id="${id}"] img`);
    await img.waitFor({ timeout: 30000 });
    await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
    const src = await img.getAttribute('src');
    // thumbnail.<ext>, or thumbnail.v<N>.<ext> once the preset moved past version 1
    assert.match(src, new RegExp(`^/media/${id}/thumbnail(\\.v\\d+)?\\.\\w+$`));
    assert.match(await img.getAttribute('alt'), /upload-.*\.png/);
  }
  // Each appeared first as a placeholder that turned into its thumbnail.
  const states = await page.evaluate(() => window.__cardStates);
  for (const id of created) {
    assert.deepEqual(states[id], ['placeholder', 'image'], `card ${id} went placeholder -> thumbnail`);
  }
  const topIds = await cards.evaluateAll((els) => els.slice(0, 3).map((el) => el.dataset.id));
  assert.deepEqual(new Set(topIds), new Set(created), 'the new uploads are the newest three in the gallery');
  const navigations = await page.evaluate(() => performance.getEntriesByType('navigation').length);
  assert.equal(navigations, 1, 'the page was not reloaded');

  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'gallery');
  assertNoConsoleErrors(errors, { ownIds: created });
});

test('a file dropped on the drop zone is uploaded the same way', async () => {
  const { page, errors } = browser;
  const name = `dropped-${runToken()}.png`;
  const bytes = makePng(300, 200, 9).toString('base64');
  const dataTransfer = await page.evaluateHandle(({ name, bytes }) => {
    const dt = new DataTransfer();
    const raw = Uint8Array.from(atob(bytes), (c) => c.charCodeAt(0));
    dt.items.add(new File([raw], name, { type: 'image/png' }));
    return dt;
  }, { name, bytes });
  const zone = page.locator('#dropzone');
  await zone.dispatchEvent('dragenter', { dataTransfer });
  assert.equal(await zone.evaluate((el) => el.classList.contains('is-dragover')), true, 'the zone lights up');
  await zone.dispatchEvent('drop', { dataTransfer });
  assert.equal(await zone.evaluate((el) => el.classList.contains('is-dragover')), false);

  const row = page.locator('#upload-list > li', { hasText: name });
  await row.and(page.locator('[data-state="ready"]')).waitFor({ timeout: 60000 });
  const id = await row.getAttribute('data-id');
  created.push(id);
  await page.locator(`#gallery > li.card[data-id="${id}"] img`).waitFor();
  assertNoConsoleErrors(errors, { ownIds: created });
});
