// The placeholder first: while a thumbnail's bytes are held back, its box
// already shows the image's dominant colour and its decoded ThumbHash; once
// the bytes arrive the thumbnail fades in to full opacity and the
// placeholder goes. With reduced motion there is no fade.
//
// The image is two flat colours side by side (red on the left 70 %, blue
// on the right), so what the placeholder must look like is known: the
// decoded picture is red at its left edge and blue at its right edge. The
// thumbnail's request (whichever format the browser chose) is held with a
// Playwright route until the checks of the "before" state are done.
//
// An image without a placeholder (`"placeholder": null`, as for images made
// before placeholders; made in the browser by rewriting the API's answers)
// shows no painted box and its thumbnail as before.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeTwoColourPng } from '../lib/png.mjs';
import {
  requireStack, openBrowser, assertNoConsoleErrors, runToken, apiUpload, apiWaitReady, apiDelete, screenshot, waitFor,
} from '../lib/harness.mjs';

const RED = [200, 40, 40];
const BLUE = [30, 60, 200];

let browser;
let info;

before(async () => {
  await requireStack();
  const accepted = await apiUpload(makeTwoColourPng(400, 400, 0.7, RED, BLUE), `placeholder-${runToken()}.png`);
  info = await apiWaitReady(accepted.id);
  browser = await openBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (info) await apiDelete(info.id).catch(() => {});
});

const hexToRgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
const distance = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

test('the placeholder is painted while the thumbnail loads, then the thumbnail fades in', async () => {
  const { page, errors } = browser;
  const ph = info.placeholder;
  assert.ok(ph && typeof ph === 'object', `a ready image has a placeholder: ${JSON.stringify(info)}`);
  assert.match(ph.thumbhash, /^[A-Za-z0-9+/]+={0,2}$/, 'the ThumbHash is standard base64');
  assert.match(ph.color, /^#[0-9a-f]{6}$/, 'the dominant colour is #rrggbb');
  assert.ok(distance(hexToRgb(ph.color), RED) < 40, `the dominant colour ${ph.color} is the red of most of the image`);

  // Hold every /media/ request for this image until released.
  let release;
  const released = new Promise((r) => { release = r; });
  const held = [];
  await page.route(`**/media/${info.id}/**`, async (route) => {
    held.push(route.request().url());
    await released;
    await route.continue();
  });

  await page.goto('/');
  const card = page.locator(`#gallery > li.card[data-id="${info.id}"]`);
  await card.locator('.thumb img').waitFor({ state: 'attached' });
  await waitFor('the thumbnail to be asked for', () => held.length > 0);

  const before = await card.evaluate(async (li) => {
    const paint = li.querySelector('.thumb-paint');
    const img = li.querySelector('.thumb img');
    if (!paint) return { paint: false };
    const style = getComputedStyle(paint);
    const m = /^url\("?(data:image\/png;base64,[^")]+)"?\)$/.exec(style.backgroundImage);
    // Decode the painted data: URL and read the colours at its two edges.
    let edges = null;
    if (m) {
      const picture = new Image();
      picture.src = m[1];
      await picture.decode();
      const canvas = document.createElement('canvas');
      canvas.width = picture.naturalWidth;
      canvas.height = picture.naturalHeight;
      const ctx = canvas.getContext('2d');
      ctx.drawImage(picture, 0, 0);
      const at = (x, y) => [...ctx.getImageData(x, y, 1, 1).data.slice(0, 3)];
      const mid = Math.floor(canvas.height / 2);
      edges = { width: canvas.width, height: canvas.height, left: at(0, mid), right: at(canvas.width - 1, mid) };
    }
    const box = paint.getBoundingClientRect();
    const thumb = li.querySelector('.thumb').getBoundingClientRect();
    return {
      paint: true,
      color: style.backgroundColor,
      dataUrl: !!m,
      visible: style.visibility === 'visible' && box.width === thumb.width && box.height === thumb.height && box.width > 0,
      edges,
      imgOpacity: getComputedStyle(img).opacity,
      imgLoaded: img.complete && img.naturalWidth > 0,
    };
  });
  assert.ok(before.paint, 'the card has a placeholder under its thumbnail');
  assert.equal(before.color, `rgb(${hexToRgb(ph.color).join(', ')})`, 'painted with the dominant colour');
  assert.ok(before.dataUrl, 'and the decoded ThumbHash as a data: URL image');
  assert.ok(before.visible, 'the placeholder fills the box');
  assert.equal(before.edges.width, before.edges.height, 'the square thumbnail\'s placeholder is square');
  assert.ok(distance(before.edges.left, RED) < distance(before.edges.left, BLUE),
    `the placeholder is red on the left (${before.edges.left})`);
  assert.ok(distance(before.edges.right, BLUE) < distance(before.edges.right, RED),
    `the placeholder is blue on the right (${before.edges.right})`);
  assert.equal(before.imgLoaded, false, 'the thumbnail has not loaded while its request is held');
  assert.equal(before.imgOpacity, '0', 'the thumbnail is not shown yet');
  await screenshot(page, 'gallery-placeholder');

  release();
  await page.waitForFunction((id) => {
    const li = document.querySelector(`#gallery > li.card[data-id="${id}"]`);
    const img = li && li.querySelector('.thumb img');
    const paint = li && li.querySelector('.thumb-paint');
    return img && img.complete && img.naturalWidth > 0 && getComputedStyle(img).opacity === '1'
      && paint && getComputedStyle(paint).visibility === 'hidden';
  }, info.id);

  // Reduced motion: the thumbnail appears without a fade.
  await page.emulateMedia({ reducedMotion: 'reduce' });
  const duration = await card.locator('.thumb img').evaluate((img) => getComputedStyle(img).transitionDuration);
  assert.equal(duration, '0s', 'no fade with prefers-reduced-motion');

  assertNoConsoleErrors(errors, { ownIds: [info.id] });
});

test('an image without a placeholder shows its thumbnail as before', async () => {
  const { page, errors } = browser;
  await page.unrouteAll({ behavior: 'wait' });
  await page.emulateMedia({ reducedMotion: 'no-preference' });
  const withoutPlaceholder = (doc) => (doc && doc.id === info.id ? { ...doc, placeholder: null } : doc);
  await page.route('**/api/images?*', async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    body.items = (body.items || []).map(withoutPlaceholder);
    await route.fulfill({ response, json: body });
  });
  await page.route(`**/api/image/${info.id}/info`, async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, json: withoutPlaceholder(await response.json()) });
  });

  await page.goto('/');
  const card = page.locator(`#gallery > li.card[data-id="${info.id}"]`);
  await page.waitForFunction((id) => {
    const img = document.querySelector(`#gallery > li.card[data-id="${id}"] .thumb img`);
    return img && img.complete && img.naturalWidth > 0 && getComputedStyle(img).opacity === '1';
  }, info.id);
  assert.equal(await card.locator('.thumb-paint').count(), 0, 'nothing is painted without a placeholder');
  await page.unrouteAll({ behavior: 'wait' });
  assertNoConsoleErrors(errors, { ownIds: [info.id] });
});
