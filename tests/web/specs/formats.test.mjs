// The browser takes the best format it can show: every variant is a
// <picture> with a <source> per extra format (AVIF when the operator made
// it, WebP) ahead of the <img> on the primary JPEG or PNG. Chromium shows
// both, so the gallery's thumbnail and the viewer's picture are loaded from
// the best extra format the API lists, never from the primary; the <img>
// keeps the primary as the fallback, Copy link gives it, and the original
// (a blob: URL) has no sources.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makePng } from '../lib/png.mjs';
import {
  requireStack, openBrowser, assertNoConsoleErrors, runToken, apiUpload, apiWaitReady, apiDelete,
  handOwnerTokens, openViewerOn, BASE_URL,
} from '../lib/harness.mjs';

let browser;
let info;
let accepted;

before(async () => {
  await requireStack();
  accepted = await apiUpload(makePng(600, 400, 61), `formats-${runToken()}.png`);
  info = await apiWaitReady(accepted.id);
  browser = await openBrowser();
  await handOwnerTokens(browser.page, [accepted]);
});

after(async () => {
  if (browser) await browser.close();
  if (info) await apiDelete(info.id).catch(() => {});
});

const abs = (url) => new URL(url, BASE_URL).href;

// The URL a browser that shows AVIF and WebP should load for a variant.
function best(variant) {
  const f = variant.formats || {};
  return (f.avif || f.webp).url;
}

test('thumbnails and the viewer load the best format; the primary stays the fallback', async () => {
  const { page, errors } = browser;
  const thumb = info.variants.thumbnail;
  const formats = Object.keys(thumb.formats || {});
  assert.ok(['jpeg', 'png'].includes(formats[0]), `the primary format comes first: ${formats}`);
  assert.equal(thumb.formats[formats[0]].url, thumb.url, 'the primary is the variant\'s url');
  assert.ok(thumb.formats.webp && thumb.formats.webp.url, `a WebP is listed: ${JSON.stringify(thumb.formats)}`);

  const asked = [];
  page.on('request', (r) => {
    if (r.url().includes(`/media/${info.id}/`)) asked.push(r.url());
  });
  await page.goto('/');
  const card = page.locator(`#gallery > li.card[data-id="${info.id}"]`);
  await page.waitForFunction((id) => {
    const img = document.querySelector(`#gallery > li.card[data-id="${id}"] .thumb img`);
    return img && img.complete && img.naturalWidth > 0;
  }, info.id);
  const shown = await card.locator('.thumb img').evaluate((img) => ({
    src: img.getAttribute('src'),
    current: img.currentSrc,
    sources: [...img.parentElement.querySelectorAll('source')].map((s) => ({ type: s.type, srcset: s.srcset })),
    width: img.getAttribute('width'),
    height: img.getAttribute('height'),
  }));
  assert.equal(shown.current, abs(best(thumb)), 'the gallery shows the thumbnail in the best format');
  assert.ok(asked.includes(abs(best(thumb))), `the best format was requested (${asked.join(', ')})`);
  assert.ok(!asked.includes(abs(thumb.url)), 'the primary was not downloaded as well');
  assert.equal(shown.src, thumb.url, 'the <img> keeps the primary for browsers without the others');
  const expectedSources = [['avif', 'image/avif'], ['webp', 'image/webp']]
    .filter(([f]) => thumb.formats[f])
    .map(([f, type]) => ({ type, srcset: thumb.formats[f].url }));
  assert.deepEqual(shown.sources, expectedSources, 'one <source> per extra format, best first');
  assert.deepEqual([shown.width, shown.height], [String(thumb.width), String(thumb.height)],
    'the <img> has its size, so nothing moves when it loads');

  // The viewer opens on the largest variant, in the best format too.
  await openViewerOn(page, info.id);
  const variant = await page.locator('#viewer').getAttribute('data-variant');
  const v = info.variants[variant];
  const stage = await page.evaluate(() => {
    const img = document.getElementById('viewer-image');
    return { src: img.getAttribute('src'), current: img.currentSrc };
  });
  assert.equal(stage.src, v.url);
  assert.equal(stage.current, abs(best(v)), `the viewer shows the ${variant} copy in the best format`);
  const facts = await page.locator('#viewer-facts').innerText();
  assert.ok(facts.includes('WEBP'), `the formats are listed (${facts})`);

  // The original: its blob: URL, with no source left from the variant.
  await page.locator('#variant-switch label[for="variant-original"]').click();
  await page.waitForFunction(() => {
    const img = document.getElementById('viewer-image');
    return (img.getAttribute('src') || '').startsWith('blob:') && img.complete && img.naturalWidth > 0
      && img.currentSrc.startsWith('blob:');
  });
  assert.equal(await page.locator('#viewer-picture source').count(), 0, 'the original has no other formats');

  // Back to a variant: its sources come back.
  await page.locator(`#variant-switch label[for="variant-${variant}"]`).click();
  await page.waitForFunction((want) => {
    const img = document.getElementById('viewer-image');
    return img.currentSrc === want && img.complete && img.naturalWidth > 0;
  }, abs(best(v)));

  assertNoConsoleErrors(errors, { ownIds: [info.id] });
});
