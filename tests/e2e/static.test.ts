/**
 * End to end, the static site as `npm run build` writes it (vite build of demos/ into a temporary
 * folder, served by vite preview), in headless Chromium with WebGPU on SwiftShader: the pages load
 * without console errors, the lab's worker starts from the bundle, the dev-server-only button for
 * Fashion-MNIST is really not displayed, and the engine check passes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { build, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { launchChromium, type ChromiumSession } from '../../bench/browser.js';
import type { EngineCheckOutcome } from '../../demos/engine-check.js';
import { openPage, ROOT, waitInPage, type DemoSession } from './helpers.js';

const LOAD_MS = 60_000;
const outDir = mkdtempSync(join(tmpdir(), 'wgtrain-e2e-static-'));
let server: PreviewServer;
let chromium: ChromiumSession;
let origin = '';

beforeAll(async () => {
  const configFile = resolve(ROOT, 'vite.config.ts');
  await build({ root: join(ROOT, 'demos'), configFile, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  server = await preview({ root: join(ROOT, 'demos'), configFile, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: true, open: false } });
  origin = `http://127.0.0.1:${(server.httpServer.address() as AddressInfo).port}`;
  chromium = await launchChromium();
}, 180_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  rmSync(outDir, { recursive: true, force: true });
});

/** openPage wants a session; the static site needs only its browser. */
const session = () => ({ chromium }) as unknown as DemoSession;

test('the built lab page starts its worker and does not display the dev-server button', async () => {
  const { page, log } = await openPage(session());
  await page.goto(`${origin}/lab.html`, { waitUntil: 'load', timeout: LOAD_MS });
  await waitInPage(page, log, 'the lab worker from the bundle', () => window.__lab?.state === 'ready' || window.__lab?.state === 'error', LOAD_MS);
  expect(await page.evaluate(() => window.__lab?.state)).toBe('ready');
  // No dev server, no data route: the button is hidden, and hidden really means not displayed.
  expect(await page.$('meta[name="wgtrain-fashion-mnist"]')).toBeNull();
  const button = await page.$eval('#fashion-server', (b) => ({ hidden: (b as HTMLButtonElement).hidden, display: getComputedStyle(b).display, height: (b as HTMLElement).offsetHeight }));
  expect(button).toEqual({ hidden: true, display: 'none', height: 0 });
  expect(log.errors).toEqual([]);
  await page.close();
});

test('the built landing page loads without console errors', async () => {
  const { page, log } = await openPage(session());
  await page.goto(`${origin}/index.html`, { waitUntil: 'load', timeout: LOAD_MS });
  await waitInPage(page, log, 'landing page adapter report', () => window.__landing !== undefined, LOAD_MS);
  expect(await page.evaluate(() => window.__landing?.ok)).toBe(true);
  expect(log.errors).toEqual([]);
  await page.close();
});

test('the built engine-check page passes', async () => {
  const { page, log } = await openPage(session());
  await page.goto(`${origin}/engine-check.html`, { waitUntil: 'load', timeout: LOAD_MS });
  await waitInPage(page, log, 'engine check', () => window.__engineCheck !== undefined, LOAD_MS);
  const outcome = (await page.evaluate(() => window.__engineCheck)) as EngineCheckOutcome;
  expect(outcome.ok && outcome.verdict.pass, JSON.stringify(outcome.ok ? outcome.verdict : outcome)).toBe(true);
  expect(log.errors).toEqual([]);
  await page.close();
});
