// Browser test of the `groundsharp serve` page, in Debian's chromium driven by playwright-core.
// Usage: node serve-page.mjs BASE_URL IMAGE_TO_UPLOAD SCREENSHOT_PNG
// Loads the page, uploads the image, types two phrases, waits for both overlays, checks that the canvases
// hold a drawn picture, moves the opacity slider, and saves a screenshot. Exit code 0 = passed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [baseUrl, imagePath, screenshotPath] = process.argv.slice(2);
if (!baseUrl || !imagePath || !screenshotPath) {
  console.error('usage: node serve-page.mjs BASE_URL IMAGE_TO_UPLOAD SCREENSHOT_PNG');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const profile = mkdtempSync(join(tmpdir(), 'groundsharp-chromium-'));
const phrases = ['the red circle', 'the blue square'];

// A fresh profile each run (playwright passes it to chromium as --user-data-dir).
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: { width: 1200, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // Anything not from the server under test would be a CDN or network dependency: fail on it.
  const foreign = [];
  page.on('request', (r) => { if (!r.url().startsWith(baseUrl) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) foreign.push(r.url()); });

  await page.goto(baseUrl, { waitUntil: 'load' });
  await page.waitForFunction(() => !document.getElementById('model-info').textContent.startsWith('loading'));
  await page.waitForSelector('.samples button');

  await page.setInputFiles('#image-input', imagePath);
  await page.waitForSelector('#preview:not([hidden])');
  await page.fill('#phrases', phrases.join('\n'));
  await page.click('#ground-button');
  await page.waitForFunction((n) => document.querySelectorAll('.result[data-rendered="true"]').length === n, phrases.length, { timeout: 60_000 });

  const errorShown = await page.isVisible('#error');
  assert.equal(errorShown, false, 'the page shows an error: ' + (await page.textContent('#error')));
  const titles = await page.$$eval('.result h3', (hs) => hs.map((h) => h.textContent));
  assert.deepEqual(titles, phrases);

  // A rendered overlay: many distinct colours (image + jet heatmap), fully opaque, with the white point drawn.
  const drawn = await page.$$eval('.result canvas', (canvases) => canvases.map((c) => {
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    let opaque = 0;
    for (let i = 0; i < px.length; i += 4 * 7) {
      colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
      if (px[i + 3] === 255) opaque++;
    }
    return { width: c.width, height: c.height, colours: colours.size, opaqueFraction: opaque / Math.ceil(px.length / 28) };
  }));
  for (const d of drawn) {
    assert.ok(d.width > 0 && d.height > 0, 'empty canvas');
    assert.ok(d.colours > 50, `canvas looks blank: ${d.colours} colours`);
    assert.ok(d.opaqueFraction > 0.99, `canvas not fully drawn: ${d.opaqueFraction}`);
  }
  const scores = await page.$$eval('.result dd:first-of-type', (dds) => dds.map((d) => Number(d.textContent)));
  for (const s of scores) assert.ok(s >= 0 && s <= 1, `score ${s}`);

  // The slider re-blends on the client: the picture changes, no new request.
  const before = await page.$eval('.result canvas', (c) => c.toDataURL());
  await page.$eval('#opacity', (input) => { input.value = '0.8'; input.dispatchEvent(new Event('input')); });
  const after = await page.$eval('.result canvas', (c) => c.toDataURL());
  assert.notEqual(after, before, 'moving the opacity slider did not redraw');
  await page.$eval('#opacity', (input) => { input.value = '0.5'; input.dispatchEvent(new Event('input')); });

  assert.deepEqual(pageErrors, [], 'script errors on the page');
  assert.deepEqual(foreign, [], 'the page requested something outside the server');
  await page.screenshot({ path: screenshotPath, fullPage: true });
  console.log(JSON.stringify({ passed: true, results: titles.length, canvases: drawn, scores, screenshot: screenshotPath }));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
