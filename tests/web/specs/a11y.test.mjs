// Accessibility: axe-core (WCAG 2.1 A and AA rules) finds nothing on the
// gallery, the upload rows, the viewer (as the image's owner, with the delete
// confirmation, and as anyone else, with the note on what is missing) and the
// access key dialog, in light and dark colours and at phone width; every
// control is reachable with Tab and shows a visible focus.
// axe is evaluated through the devtools protocol, so the page's CSP (no
// inline script) stays as it is.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { makePng } from '../lib/png.mjs';
import {
  requireStack, openBrowser, assertNoConsoleErrors, runToken, apiUpload, apiWaitReady, apiDelete,
  handOwnerTokens,
} from '../lib/harness.mjs';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

let browser;
let image; // this browser holds its owner token
let other; // it does not

before(async () => {
  await requireStack();
  const token = runToken();
  const theirs = await apiUpload(makePng(640, 480, 42), `a11y-other-${token}.png`);
  const accepted = await apiUpload(makePng(640, 480, 41), `a11y-${token}.png`);
  other = await apiWaitReady(theirs.id);
  image = await apiWaitReady(accepted.id);
  browser = await openBrowser();
  await handOwnerTokens(browser.page, [accepted]);
});

after(async () => {
  if (browser) await browser.close();
  if (image) await apiDelete(image.id).catch(() => {});
  if (other) await apiDelete(other.id).catch(() => {});
});

async function axe(page, what) {
  await page.evaluate(AXE);
  const result = await page.evaluate((tags) => window.axe.run(document, {
    runOnly: { type: 'tag', values: tags },
    resultTypes: ['violations'],
  }), TAGS);
  const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.slice(0, 3)
    .map((n) => `${n.target.join(' ')}: ${(n.failureSummary || '').replace(/\s+/g, ' ')}`).join('\n    ')}`);
  assert.deepEqual(found, [], `axe on ${what}:\n${found.join('\n')}`);
}

test('no axe violations; keyboard reaches every control with a visible focus', async () => {
  const { page, errors } = browser;
  await page.goto('/');
  const card = page.locator(`#gallery > li.card[data-id="${image.id}"]`);
  await card.locator('img').waitFor();
  // An upload row too, so its controls are checked.
  await page.locator('#file-input').setInputFiles([
    { name: `a11y-row-${runToken()}.txt`, mimeType: 'text/plain', buffer: Buffer.from('not an image') },
  ]);
  await page.locator('#upload-list > li[data-state="rejected"]').waitFor();

  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme, reducedMotion: 'reduce' });
    await axe(page, `the gallery (${scheme})`);
    await card.locator('.card-open').click();
    await page.locator('#viewer').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.getElementById('viewer-image').naturalWidth > 0);
    await axe(page, `the viewer (${scheme})`);
    await page.locator('#viewer-delete').click();
    await axe(page, `the delete confirmation (${scheme})`);
    await page.locator('#delete-cancel').click();
    await page.keyboard.press('Escape');
    await page.locator('#viewer').waitFor({ state: 'hidden' });

    // Someone else's image: no Delete, a note instead.
    await page.locator(`#gallery > li.card[data-id="${other.id}"] .card-open`).click();
    await page.locator('#viewer-owner-note').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.getElementById('viewer-image').naturalWidth > 0);
    await axe(page, `the viewer of another's image (${scheme})`);
    await page.keyboard.press('Escape');
    await page.locator('#viewer').waitFor({ state: 'hidden' });

    // The access key dialog, with a refused key's message.
    await page.locator('#access-open').click();
    await page.locator('#access-dialog').waitFor({ state: 'visible' });
    await page.locator('#access-input').fill('not-a-key');
    await page.locator('#access-save').click();
    await page.locator('#access-message.is-error').waitFor();
    await axe(page, `the access key dialog (${scheme})`);
    await page.keyboard.press('Escape');
    await page.locator('#access-dialog').waitFor({ state: 'hidden' });
  }

  await page.setViewportSize({ width: 390, height: 844 });
  await axe(page, 'the gallery at phone width');

  // Tab from the top: the skip link, the file picker, the copy choices, the
  // filter and the card are all reached, each with a visible outline.
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.reload();
  await card.locator('img').waitFor();
  const reached = new Map();
  for (let i = 0; i < 40; i += 1) {
    await page.keyboard.press('Tab');
    const info = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const target = el.classList.contains('file-input') ? el.nextElementSibling : el;
      const cs = getComputedStyle(target);
      return {
        key: el.id || el.className || el.tagName,
        card: el.closest('li.card')?.dataset.id || null,
        outline: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2,
      };
    });
    if (!info) continue;
    reached.set(info.card ? `card:${info.card}` : info.key, info.outline);
  }
  for (const key of ['skip-link', 'access-open', 'file-input', 'mode-filter', `card:${image.id}`]) {
    assert.ok(reached.has(key), `Tab reaches ${key} (reached: ${[...reached.keys()].join(', ')})`);
    assert.equal(reached.get(key), true, `${key} shows a visible focus outline`);
  }

  assertNoConsoleErrors(errors, { allowStatus: [415], ownIds: [image.id] });
});
