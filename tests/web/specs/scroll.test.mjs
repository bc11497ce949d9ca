// Infinite scroll over 60 freshly seeded images: pages load as the reader
// scrolls (no button pressed), every image shows exactly once and in the
// API's order, and two images uploaded while scrolling appear at the top
// without disturbing the pages below. Nothing reaches the console.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makePng } from '../lib/png.mjs';
import {
  requireStack, openBrowser, assertNoConsoleErrors, screenshot, runToken,
  apiUpload, apiDelete, mapLimit, waitFor, BASE_URL,
} from '../lib/harness.mjs';

const SEEDED = 60;
let browser;
const token = runToken();
let seeded = [];
const live = [];

before(async () => {
  await requireStack();
  // Tiny images, a few at a time: the test is about the page, not the
  // processor's speed.
  seeded = await mapLimit([...Array(SEEDED).keys()], 6,
    (i) => apiUpload(makePng(24, 16, i), `scroll-${token}-${String(i).padStart(2, '0')}.png`, { ops: 'thumbnail' }));
  browser = await openBrowser({ viewport: { width: 1280, height: 800 } });
});

after(async () => {
  if (browser) await browser.close();
  await mapLimit([...seeded, ...live].map((x) => x.id), 6, (id) => apiDelete(id).catch(() => {}));
});

// The API's own order of our images: newest first, read page by page.
async function apiOrder(ids) {
  const want = new Set(ids);
  const order = [];
  let cursor = null;
  for (let pages = 0; pages < 50 && order.length < want.size; pages += 1) {
    const q = new URLSearchParams({ limit: '100' });
    if (cursor) {
      q.set('last_created_at', cursor.last_created_at);
      q.set('last_id', cursor.last_id);
    }
    const res = await fetch(`${BASE_URL}/api/images?${q}`);
    assert.equal(res.status, 200);
    const page = await res.json();
    for (const item of page.items) if (want.has(item.id)) order.push(item.id);
    if (!page.next) break;
    cursor = page.next;
  }
  return order;
}

test('scrolling through 60 images shows each once, in order, with live uploads on top', async () => {
  const { page, errors } = browser;
  // The listing requests: the first page, the cursor pages that scrolling
  // asks for, and re-reads of the first page when new images are announced.
  const pages = [];
  page.on('response', async (r) => {
    if (!r.url().includes('/api/images?')) return;
    const entry = { url: r.url(), cursor: /last_id=/.test(r.url()), ids: [] };
    pages.push(entry);
    try {
      entry.ids = (await r.json()).items.map((i) => i.id);
    } catch {
      // a body that is not JSON leaves ids empty and fails the checks below
    }
  });

  await page.goto('/');
  const cards = page.locator('#gallery > li.card');
  await cards.first().waitFor();
  const firstPageCount = await cards.count();
  assert.ok(firstPageCount < SEEDED, `the first screen loads a page, not everything (${firstPageCount})`);

  const seededIds = seeded.map((x) => x.id);
  const domIds = () => cards.evaluateAll((els) => els.map((el) => el.dataset.id));
  const present = async () => {
    const ids = new Set(await domIds());
    return seededIds.filter((id) => ids.has(id)).length;
  };

  let uploadedLive = false;
  await waitFor('all 60 seeded images to be shown by scrolling', async () => {
    if (!uploadedLive && (await present()) > 0) {
      // New images arrive while the reader is down the list.
      uploadedLive = true;
      await page.mouse.wheel(0, 1500);
      for (let i = 0; i < 2; i += 1) {
        live.push(await apiUpload(makePng(32, 32, 100 + i), `scroll-live-${token}-${i}.png`, { ops: 'thumbnail' }));
      }
    }
    await page.mouse.wheel(0, 1500);
    return (await present()) === SEEDED;
  }, { timeoutMs: 60000, intervalMs: 300 });

  const cursorPages = pages.filter((p) => p.cursor);
  assert.ok(cursorPages.length >= 2, `pages were loaded while scrolling (${cursorPages.length} cursor pages)`);
  assert.ok(cursorPages.every((p) => /last_created_at=/.test(p.url)), 'later pages use the keyset cursor');
  const paged = [pages[0], ...cursorPages].flatMap((p) => p.ids);
  const apiDuplicates = paged.filter((id, i) => paged.indexOf(id) !== i);
  assert.deepEqual(apiDuplicates, [], 'no image came on two pages');

  // The live uploads appear without a reload, above everything that was
  // there before them.
  let lastSeen = [];
  await waitFor('the live uploads above the seeded images', async () => {
    const ids = await domIds();
    lastSeen = ids;
    const firstSeeded = Math.min(...seededIds.map((id) => ids.indexOf(id)).filter((i) => i >= 0));
    return live.every((x) => ids.includes(x.id) && ids.indexOf(x.id) < firstSeeded);
  }, { timeoutMs: 20000 }).catch((err) => {
    const where = live.map((x) => `${x.id}@${lastSeen.indexOf(x.id)}`).join(', ');
    throw new Error(`${err.message} (live uploads at ${where}; ${lastSeen.length} cards)`);
  });

  const ids = await domIds();
  const duplicates = ids.filter((id, i) => ids.indexOf(id) !== i);
  assert.deepEqual(duplicates, [], 'no card is shown twice');
  const ours = [...live, ...seeded].map((x) => x.id);
  const shownOrder = ids.filter((id) => ours.includes(id));
  assert.deepEqual(shownOrder, await apiOrder(ours), 'the gallery shows the API order, newest first');
  assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1);
  assert.equal(await page.locator('#gallery-error').isHidden(), true);

  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'gallery-scrolled');
  assertNoConsoleErrors(errors, { ownIds: [...seeded, ...live].map((x) => x.id) });
});
