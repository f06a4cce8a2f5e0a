/**
 * The README's screenshots (docs/screenshots/), taken only when asked: WGTRAIN_DOCS_SCREENSHOTS=1.
 * A small Fashion-MNIST experiment from the dev server's copy of the Debian dataset (an MLP on
 * 2000 images, no dropout vs standard vs early dropout, 3 seeds) so the charts show learning; a
 * minute or two on SwiftShader.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'puppeteer';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DEMO_PRESETS } from '../../demos/lab/presets.js';
import { openDemoSession, openPage, ROOT, VIEWPORTS, waitInPage, type DemoSession } from './helpers.js';

const WANTED = process.env.WGTRAIN_DOCS_SCREENSHOTS === '1';
const FASHION_DIR = process.env.WGTRAIN_FASHION_MNIST_DIR || '/usr/share/datasets/fashion-mnist';
const DIR = join(ROOT, 'docs', 'screenshots');
let session: DemoSession | null = null;

/** The lab page's demo preset, smaller and on Fashion-MNIST. */
const DEMO = DEMO_PRESETS.demo;
const SPEC = {
  ...DEMO,
  name: 'screenshot',
  description: 'A small Fashion-MNIST experiment for the README: a two-layer MLP on 2000 training images, no dropout vs standard vs early dropout, 3 paired seeds.',
  model: { ...DEMO.model, hiddenSizes: [64, 64] },
  data: { kind: 'fashion-mnist', trainSize: 2000, testSize: 1000 },
  arms: [...DEMO.arms.slice(0, 2), { ...DEMO.arms[2], cutoffEpochs: 2 }],
  epochs: 8,
  batchSize: 100,
  lr: 0.002,
  metrics: { denseEvery: 5, denseUntil: 40, every: 20, numBatches: 4, directions: true },
};

beforeAll(async () => {
  if (WANTED) session = await openDemoSession('screenshots');
}, 120_000);

afterAll(async () => {
  await session?.close();
});

async function clip(page: Page, selector: string, file: string, maxHeight = 1500): Promise<void> {
  const box = await page.$eval(selector, (e) => {
    const r = e.getBoundingClientRect();
    return { x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height };
  });
  await page.screenshot({ path: join(DIR, file) as `${string}.png`, clip: { x: Math.max(0, box.x - 8), y: Math.max(0, box.y - 8), width: box.width + 16, height: Math.min(maxHeight, box.height + 16) } });
}

test.skipIf(!WANTED || !existsSync(join(FASHION_DIR, 'train-images-idx3-ubyte.gz')))('docs screenshots of the lab after a small Fashion-MNIST experiment', async () => {
  mkdirSync(DIR, { recursive: true });
  const { page, log } = await openPage(session!);
  const hash = `spec=${Buffer.from(JSON.stringify(SPEC)).toString('base64url')}`;
  await page.goto(`${session!.server.origin}/demos/lab.html#${hash}`, { waitUntil: 'load' });
  await waitInPage(page, log, 'the lab page', () => window.__lab?.state === 'ready', 60_000);
  await page.click('#run');
  await waitInPage(page, log, 'the experiment', () => ['done', 'error', 'stopped'].includes(window.__lab?.state ?? ''), 900_000);
  expect(await page.evaluate(() => window.__lab?.state)).toBe('done');
  await page.evaluate(() => window.scrollTo(0, 0));
  await new Promise((r) => setTimeout(r, 1000));
  await clip(page, '.cols-2', 'lab-experiment.png');
  await clip(page, '#charts', 'lab-charts.png', 1900);
  await clip(page, '#results-card', 'lab-results.png', 1900);
  // On a phone: the charts (one per row) and the results as cards.
  await page.setViewport(VIEWPORTS.phone);
  await new Promise((r) => setTimeout(r, 1500));
  const top = await page.$eval('#charts', (e) => e.getBoundingClientRect().top + window.scrollY);
  await page.screenshot({ path: join(DIR, 'lab-phone.png'), clip: { x: 0, y: top - 60, width: VIEWPORTS.phone.width, height: 1300 } });
  const results = await page.$eval('#results', (e) => e.getBoundingClientRect().top + window.scrollY);
  await page.screenshot({ path: join(DIR, 'lab-phone-results.png'), clip: { x: 0, y: results - 60, width: VIEWPORTS.phone.width, height: 900 } });
  await page.goto(`${session!.server.origin}/demos/engine-check.html`, { waitUntil: 'load' });
  await page.setViewport(VIEWPORTS.laptop);
  await waitInPage(page, log, 'engine check', () => window.__engineCheck !== undefined, 60_000);
  await page.screenshot({ path: join(DIR, 'engine-check.png') });
  expect(log.errors).toEqual([]);
  await page.close();
}, 1_000_000);
