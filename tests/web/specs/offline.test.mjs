// When the API cannot be reached the page says so in a banner and keeps
// trying; when it is back the banner goes away by itself, the gallery loads
// and the live event stream resumes, without a reload. The outage is made in the browser (every /api/
// request answered the way nginx answers when no gateway is up), so the
// shared stack is left alone.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makePng } from '../lib/png.mjs';
import {
  requireStack, openBrowser, assertNoConsoleErrors, runToken, apiUpload, apiDelete, screenshot, waitFor,
} from '../lib/harness.mjs';

let browser;
let image;

before(async () => {
  await requireStack();
  image = await apiUpload(makePng(64, 64, 21), `offline-${runToken()}.png`, { ops: 'thumbnail' });
  browser = await openBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (image) await apiDelete(image.id).catch(() => {});
});

const NGINX_API_DOWN = {
  status: 503,
  headers: { 'content-type': 'application/problem+json', 'retry-after': '2' },
  body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'the API is not reachable' }),
};

test('an unreachable API shows a banner that clears itself when the API is back', async () => {
  const { page, errors } = browser;
  let blocked = 0;
  const outage = (route) => {
    blocked += 1;
    return route.fulfill(NGINX_API_DOWN);
  };
  await page.route('**/api/**', outage);

  await page.goto('/');
  const banner = page.locator('#offline-banner');
  await banner.waitFor({ state: 'visible', timeout: 10000 });
  assert.equal(await banner.getAttribute('role'), 'alert');
  assert.match(await banner.innerText(), /cannot be reached/i);
  await page.locator('#gallery-error').waitFor({ state: 'visible' });
  await screenshot(page, 'offline-banner');

  // It keeps probing on its own while the API is away.
  const before = blocked;
  await page.waitForFunction(() => /Trying again|Checking/.test(document.getElementById('offline-text').textContent));
  await waitFor('the page to probe the API again by itself', () => blocked > before, { timeoutMs: 10000 });

  // The API comes back: the banner goes by itself, the gallery loads.
  await page.unroute('**/api/**', outage);
  await banner.waitFor({ state: 'hidden', timeout: 20000 });
  await page.locator(`#gallery > li.card[data-id="${image.id}"]`).waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#gallery-error').isHidden(), true);
  assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1);

  // The "Retry now" button probes at once.
  await page.route('**/api/**', outage);
  await page.evaluate(() => fetch('/api/healthz').catch(() => {})); // nothing notices this one
  await page.locator('#mode-filter').selectOption('thumbnail');
  await banner.waitFor({ state: 'visible', timeout: 10000 });
  await page.unroute('**/api/**', outage);
  await page.locator('#offline-retry').click();
  await banner.waitFor({ state: 'hidden', timeout: 5000 });
  await page.locator(`#gallery > li.card[data-id="${image.id}"]`).waitFor({ timeout: 10000 });

  // The event stream is back too: an upload made now appears live.
  await page.locator('#mode-filter').selectOption('');
  const later = await apiUpload(makePng(64, 64, 22), `offline-later-${runToken()}.png`, { ops: 'thumbnail' });
  await page.locator(`#gallery > li.card[data-id="${later.id}"]`).waitFor({ timeout: 15000 })
    .finally(() => apiDelete(later.id).catch(() => {}));

  assertNoConsoleErrors(errors, { allowStatus: [503], ownIds: [image.id, later.id] });
});
