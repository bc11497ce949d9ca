// The viewer: open an image from the gallery with the keyboard, switch
// between the original and each variant, listed in the server's order from
// /api/config (each loads, with its own dimensions shown), copy the link, step to the next image and back,
// close with Escape (focus returns to the card). Also a look at phone width.
// Nothing reaches the console. The browser holds the image's owner token
// (handOwnerTokens), so the original is offered; it is fetched with the
// token and shown from a blob: URL, never from a URL that names the token.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makePng } from '../lib/png.mjs';
import {
  requireStack, openBrowser, assertNoConsoleErrors, screenshot, runToken,
  apiUpload, apiWaitReady, apiDelete, apiConfig, BASE_URL, handOwnerTokens,
} from '../lib/harness.mjs';

let browser;
let info;
let cfg;
const neighbours = [];

before(async () => {
  await requireStack();
  cfg = await apiConfig();
  // Two older images, so that the one under test (the newest) has a next
  // image, and that one a next again, whatever else the gallery holds.
  for (const seed of [8, 9]) {
    const older = await apiUpload(makePng(300, 200, seed), `viewer-older-${runToken()}.png`);
    neighbours.push(older.id);
    await apiWaitReady(older.id);
  }
  const accepted = await apiUpload(makePng(900, 600, 7), `viewer-${runToken()}.png`);
  info = await apiWaitReady(accepted.id);
  browser = await openBrowser({ permissions: ['clipboard-read', 'clipboard-write'] });
  await handOwnerTokens(browser.page, [accepted]);
});

after(async () => {
  if (browser) await browser.close();
  if (info) await apiDelete(info.id).catch(() => {});
  for (const id of neighbours) await apiDelete(id).catch(() => {});
});

async function shownImage(page) {
  return page.waitForFunction(() => {
    const img = document.getElementById('viewer-image');
    return img.complete && img.naturalWidth > 0 && !img.classList.contains('is-loading')
      ? { src: img.getAttribute('src'), w: img.naturalWidth, h: img.naturalHeight, alt: img.alt }
      : null;
  }).then((h) => h.jsonValue());
}

test('switching versions in the viewer, copy link, keyboard', async () => {
  const { page, errors } = browser;
  await page.goto('/');
  const button = page.locator(`#gallery > li.card[data-id="${info.id}"] .card-open`);
  await button.locator('img').waitFor();

  // Keyboard: focus the card and press Enter.
  await button.focus();
  await page.keyboard.press('Enter');
  const dialog = page.locator('#viewer');
  await dialog.waitFor({ state: 'visible' });
  assert.equal(await page.locator('#viewer-title').textContent(), info.filename);

  // The original, then every variant the image has, in the server's order.
  const order = ['original', ...cfg.variants.map((v) => v.name).filter((n) => info.variants[n])];
  const titles = Object.fromEntries([['original', 'Original'], ...cfg.variants.map((v) => [v.name, v.title])]);
  const options = await page.locator('#variant-switch input[name="variant"]').evaluateAll(
    (els) => els.map((e) => ({ value: e.value, disabled: e.disabled, label: e.labels[0]?.textContent })));
  assert.deepEqual(options.map((o) => o.value), order);
  assert.deepEqual(options.map((o) => o.label), order.map((n) => titles[n]), 'each version by its title');
  assert.ok(options.every((o) => !o.disabled), 'every version of a ready image can be chosen');

  // The original's bytes come from a blob: URL (fetched with the token).
  const expected = {
    original: { src: 'blob:', w: info.width, h: info.height },
  };
  for (const name of order.slice(1)) {
    const v = info.variants[name];
    expected[name] = { src: v.url, w: v.width, h: v.height };
  }

  // Last to first, so the original is on screen when the arrow keys are tried.
  for (const name of [...order].reverse()) {
    await page.locator(`#variant-switch label[for="variant-${name}"]`).click();
    await page.waitForFunction((src) => {
      const shown = document.getElementById('viewer-image').getAttribute('src') || '';
      return src === 'blob:' ? shown.startsWith(src) : shown === src;
    }, expected[name].src);
    const shown = await shownImage(page);
    assert.equal(shown.w, expected[name].w, `${name}: width of the bytes shown`);
    assert.equal(shown.h, expected[name].h, `${name}: height of the bytes shown`);
    assert.ok(shown.alt.includes(`${titles[name].toLowerCase()} version`), `${name}: alt text (${shown.alt})`);
    const facts = await page.locator('#viewer-facts').innerText();
    assert.ok(facts.includes(`${expected[name].w} × ${expected[name].h} px`), `${name}: dimensions shown (${facts})`);
    assert.equal(await dialog.getAttribute('data-variant'), name);
  }
  // The thumbnail is 320x320 by default, the resized copy never enlarged.
  assert.equal(expected.thumbnail.w, 320);
  assert.equal(expected.resized.w, 900);

  // Arrow keys move between versions (a native radio group): right from
  // the resized copy is the one after it in the server's order.
  const afterResized = order[order.indexOf('resized') + 1];
  assert.equal(afterResized, 'watermarked', `the version after the resized copy (${order.join(', ')})`);
  await page.locator('#variant-resized').focus();
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction((src) => document.getElementById('viewer-image').getAttribute('src') === src,
    expected.watermarked.src);
  await shownImage(page);

  // Copy link puts the absolute URL of the version on screen on the clipboard.
  await page.locator('#viewer-copy').click();
  await page.locator('#viewer-message', { hasText: 'Link copied' }).waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, new URL(expected.watermarked.src, BASE_URL).href);
  const fetched = await fetch(copied);
  assert.equal(fetched.status, 200, 'the copied link works');

  await screenshot(page, 'viewer');

  // Previous/next walk the gallery: the newest image has no previous one;
  // the arrow key (outside the switcher) goes on to the next and back.
  assert.equal(await page.locator('#viewer-prev').isDisabled(), true, 'nothing before the newest image');
  const nextName = await page.locator(`#gallery > li.card[data-id="${info.id}"] + li.card .card-name`).textContent();
  await page.locator('#viewer-next').click();
  await page.waitForFunction((n) => document.getElementById('viewer-title').textContent === n, nextName);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'viewer-next', 'focus stays on the button');
  await page.locator('#viewer-copy').focus();
  await page.keyboard.press('ArrowLeft');
  await page.waitForFunction((n) => document.getElementById('viewer-title').textContent === n, info.filename);
  await shownImage(page);

  // Escape closes, and focus goes back to the card that opened it.
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement.closest('li.card')?.dataset.id), info.id);

  // Phone width: the gallery and the viewer still fit.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator(`#gallery > li.card[data-id="${info.id}"]`).scrollIntoViewIfNeeded();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling at phone width (${overflow}px too wide)`);
  await screenshot(page, 'gallery-phone');
  await button.click();
  await dialog.waitFor({ state: 'visible' });
  await shownImage(page);
  await screenshot(page, 'viewer-phone');
  await page.locator('#viewer-close').click();
  await dialog.waitFor({ state: 'hidden' });

  assertNoConsoleErrors(errors, { ownIds: [info.id] });
});
