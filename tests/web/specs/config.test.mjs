// The page takes its variants and its upload limit from GET /api/config and
// names none of its own: the copy checkboxes and the filter's options are
// exactly the server's variants, in its order, ticked as its defaults say;
// the hint and the refusal of a file over the limit name the server's limit,
// and such a file is refused before a byte is sent. A different answer
// (made in the browser, the shared stack is left alone) changes the page to
// match. While /api/config fails, the page says so, keeps uploading closed,
// and tries again by itself until it loads. Nothing else reaches the console.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makePng } from '../lib/png.mjs';
import {
  requireStack, openBrowser, assertNoConsoleErrors, runToken, apiConfig, waitFor,
} from '../lib/harness.mjs';

let cfg;

before(async () => {
  await requireStack();
  cfg = await apiConfig();
});

// The limit as the page writes it ("50 MiB", "1.5 MiB").
function limitWords(bytes) {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]]) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} bytes`;
}

async function withBrowser(fn) {
  const browser = await openBrowser();
  try {
    await fn(browser);
  } finally {
    await browser.close();
  }
}

async function pageReady(page) {
  await page.goto('/');
  await page.locator('#file-input:enabled').waitFor({ state: 'attached' });
  await page.locator('#gallery[aria-busy="false"]').waitFor({ state: 'attached' });
}

// What the page offers: [{name, title, checked}] for the checkboxes and
// [{name, text}] for the filter's variant options.
async function offered(page) {
  const boxes = await page.locator('#upload-ops input').evaluateAll((els) => els.map((e) => ({
    type: e.type, name: e.value, title: e.labels[0]?.textContent.trim(), checked: e.checked,
  })));
  const options = await page.locator('#mode-filter option').evaluateAll((els) => els.map((o) => ({
    name: o.value, text: o.textContent.trim(),
  })));
  return { boxes, options };
}

function assertOffers({ boxes, options }, variants, defaults) {
  assert.deepEqual(boxes, variants.map((v) => ({
    type: 'checkbox', name: v.name, title: v.title, checked: defaults.includes(v.name),
  })), 'one checkbox per variant, in the server\'s order, ticked as its defaults');
  assert.deepEqual(options.map((o) => o.name), ['', ...variants.map((v) => v.name)],
    'the filter offers all images, then each variant in the server\'s order');
  variants.forEach((v, i) => assert.ok(options[i + 1].text.toLowerCase().includes(v.title.toLowerCase()),
    `the option for ${v.name} names it (${options[i + 1].text})`));
}

// Picks a sparse file one byte over `limit` and checks that the row refuses
// it naming the limit, without any request to /api/upload.
async function refusesOversized(page, limit) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ip-web-big-'));
  const name = `huge-${runToken()}.png`;
  const file = path.join(dir, name);
  fs.writeFileSync(file, makePng(8, 8, 1));
  fs.truncateSync(file, limit + 1); // sparse: nothing that big is written
  let uploadsSeen = 0;
  const countUploads = (r) => { if (r.url().endsWith('/api/upload')) uploadsSeen += 1; };
  page.on('request', countUploads);
  try {
    await page.locator('#file-input').setInputFiles(file);
    const row = page.locator('#upload-list > li', { hasText: name });
    await row.and(page.locator('[data-state="rejected"]')).waitFor();
    const message = await row.locator('.upload-error').innerText();
    assert.ok(message.includes(`larger than ${limitWords(limit)}`), `the refusal names the limit (${message})`);
    assert.equal(uploadsSeen, 0, 'the oversized file was not sent');
  } finally {
    page.off('request', countUploads);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('the copies, the filter and the size limit are the ones /api/config gives', async () => {
  await withBrowser(async ({ page, errors }) => {
    await pageReady(page);
    assertOffers(await offered(page), cfg.variants, cfg.default_ops);
    for (const v of cfg.variants) {
      assert.equal(await page.getByRole('checkbox', { name: v.title, exact: true }).count(), 1,
        `the ${v.name} checkbox is labelled ${v.title}`);
    }
    const hint = await page.locator('#upload-hint').innerText();
    assert.ok(hint.includes(`up to ${limitWords(cfg.upload_max_bytes)}`), `the hint names the limit (${hint})`);
    await refusesOversized(page, cfg.upload_max_bytes);
    assertNoConsoleErrors(errors, { ownIds: [] });
  });
});

test('another answer from /api/config changes what the page offers', async () => {
  assert.ok(cfg.variants.length >= 2, 'the server lists at least two variants');
  // Two of the server's variants, in the other order, with other titles,
  // one ticked by default, and a smaller limit.
  const [first, second] = cfg.variants;
  const other = {
    variants: [{ name: second.name, title: 'Second kind' }, { name: first.name, title: 'First kind' }],
    default_ops: [first.name],
    upload_max_bytes: 1.5 * 1024 * 1024,
    pixel_limit: cfg.pixel_limit,
  };
  await withBrowser(async ({ page, errors }) => {
    await page.route('**/api/config', (route) => route.fulfill({
      status: 200, contentType: 'application/json', body: JSON.stringify(other),
    }));
    await pageReady(page);
    assertOffers(await offered(page), other.variants, other.default_ops);
    assert.ok((await page.locator('#upload-hint').innerText()).includes('up to 1.5 MiB'));
    await refusesOversized(page, other.upload_max_bytes);
    assertNoConsoleErrors(errors, { ownIds: [] });
  });
});

test('while /api/config fails the page says so, keeps uploads closed and tries again', async () => {
  await withBrowser(async ({ page, errors }) => {
    let failures = 0;
    const broken = (route) => {
      failures += 1;
      return route.fulfill({
        status: 500,
        contentType: 'application/problem+json',
        body: JSON.stringify({ type: 'about:blank', title: 'Internal Server Error', status: 500, detail: 'config test' }),
      });
    };
    await page.route('**/api/config', broken);
    await page.goto('/');
    const status = page.locator('#gallery-error');
    await status.waitFor({ state: 'visible' });
    assert.match(await status.innerText(), /could not load the server's settings/i);
    assert.match(await status.innerText(), /500/);
    assert.equal(await page.locator('#file-input').isDisabled(), true, 'no upload before the settings');
    assert.equal(await page.locator('#upload-ops input').count(), 0, 'no copies offered from a list of its own');
    assert.deepEqual(await page.locator('#mode-filter option').evaluateAll((els) => els.map((o) => o.value)), ['']);
    // The API answers, so this is not the offline banner's business.
    assert.equal(await page.locator('#offline-banner').isHidden(), true);

    await waitFor('the page to ask /api/config again by itself', () => failures >= 2, { timeoutMs: 10000 });
    await page.unroute('**/api/config', broken);
    await page.locator('#file-input:enabled').waitFor({ state: 'attached', timeout: 20000 });
    await status.waitFor({ state: 'hidden' });
    assertOffers(await offered(page), cfg.variants, cfg.default_ops);
    assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1);
    assertNoConsoleErrors(errors, { allowStatus: [500], ownIds: [] });
  });
});
