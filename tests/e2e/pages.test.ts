/**
 * End to end, in headless Chromium with WebGPU on SwiftShader: the landing page (adapter report,
 * and the explanation when WebGPU is missing), the kernel benchmark page (a small run filling its
 * charts and tables; progress with the time left, and Cancel), and the engine-check page (site
 * layout, a way back, a pass / fail verdict against the float64 reference; not in the main
 * navigation). Screenshots of each page go to artifacts/screenshots/.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { LandingOutcome } from '../../demos/landing.js';
import type { BenchDemoState } from '../../demos/bench/main.js';
import type { EngineCheckOutcome } from '../../demos/engine-check.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openDemoSession, openPage, ROOT, screenshots, waitInPage, type DemoSession } from './helpers.js';

const LOAD_MS = 60_000;
let session: DemoSession;

beforeAll(async () => {
  session = await openDemoSession('pages');
}, 120_000);

afterAll(async () => {
  await session?.close();
});

test('the landing page reports the adapter in use', async () => {
  const { page, log } = await openPage(session);
  await page.goto(`${session.server.origin}/demos/index.html`, { waitUntil: 'load', timeout: LOAD_MS });
  await waitInPage(page, log, 'landing page adapter report', () => window.__landing !== undefined, LOAD_MS);
  const outcome = (await page.evaluate(() => window.__landing)) as LandingOutcome;
  expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
  if (!outcome.ok) return;
  expect(await page.$eval('#adapter', (e) => (e as HTMLElement).hidden)).toBe(false);
  const facts = await page.$eval('#adapter-facts', (e) => e.textContent ?? '');
  expect(facts).toContain(outcome.adapter.vendor);
  expect(facts).toContain(outcome.adapter.software ? 'software' : 'hardware');
  expect(await page.$$eval('#adapter-features .tag', (tags) => tags.length)).toBe(outcome.adapter.adapterFeatures.length);
  // The two pages for users are linked; the engine check (a developer's page) only from the footer.
  const links = await page.$$eval('#links a', (as) => as.map((a) => a.getAttribute('href')));
  expect(links).toEqual(['./lab.html', './bench.html']);
  expect(await page.$$eval('.site-header nav a', (as) => as.map((a) => a.getAttribute('href')))).toEqual(['./index.html', './lab.html', './bench.html']);
  expect(await page.$$eval('footer a', (as) => as.map((a) => a.getAttribute('href')))).toContain('./engine-check.html');
  expect(await page.$eval('#paper', (e) => e.textContent ?? '')).toMatch(/early dropout/i);
  const shots = await screenshots(page, 'landing');
  expect(shots.overflow, 'pixels the page sticks out sideways').toEqual({ laptop: 0, phone: 0 });
  expect(log.errors).toEqual([]);
  await page.close();
});

test('without WebGPU the landing and lab pages explain what to do instead of failing', async () => {
  const { page, log } = await openPage(session, { withoutWebGpu: true });
  await page.goto(`${session.server.origin}/demos/index.html`, { waitUntil: 'load', timeout: LOAD_MS });
  await waitInPage(page, log, 'landing page without WebGPU', () => window.__landing !== undefined, LOAD_MS);
  const outcome = (await page.evaluate(() => window.__landing)) as LandingOutcome;
  expect(outcome.ok).toBe(false);
  const notice = await page.$eval('#webgpu-status', (e) => ({ text: e.textContent ?? '', role: e.getAttribute('role'), visible: (e as HTMLElement).offsetHeight > 0 }));
  expect(notice.visible).toBe(true);
  expect(notice.role).toBe('alert');
  expect(notice.text).toContain('WebGPU is not available here');
  expect(notice.text).toContain('navigator.gpu is undefined');
  expect(notice.text).toMatch(/Chrome or Edge 113/);
  expect(notice.text).toContain('--enable-unsafe-webgpu');
  expect(await page.$eval('#adapter', (e) => (e as HTMLElement).hidden)).toBe(true);
  expect((await screenshots(page, 'landing-no-webgpu')).overflow).toEqual({ laptop: 0, phone: 0 });

  await page.goto(`${session.server.origin}/demos/lab.html`, { waitUntil: 'load', timeout: LOAD_MS });
  await waitInPage(page, log, 'lab page without WebGPU', () => window.__lab?.state === 'unavailable', LOAD_MS);
  expect(await page.$eval('#webgpu-status', (e) => e.textContent ?? '')).toContain('WebGPU is not available here');
  expect(await page.$eval('#run', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
  expect(log.errors).toEqual([]);
  await page.close();
});

test('the benchmark page runs a small benchmark into charts and tables', async () => {
  const { page, log } = await openPage(session);
  const url = `${session.server.origin}/demos/bench.html?run=1&matmul=32,64&dropout=2^14&repeats=2&train=none&shapes=none`;
  await page.goto(url, { waitUntil: 'load', timeout: LOAD_MS });
  await waitInPage(page, log, 'benchmark run', () => ['done', 'error', 'unavailable'].includes(window.__benchDemo?.state ?? ''), 90_000);
  const outcome = (await page.evaluate(() => window.__benchDemo)) as BenchDemoState;
  expect(outcome.state, JSON.stringify(outcome)).toBe('done');
  if (outcome.state !== 'done') return;
  expect(outcome.results.matmul.map((m) => m.n)).toEqual([32, 64]);
  for (const m of outcome.results.matmul) {
    expect(m.wgtrain.gflops).toBeGreaterThan(0);
    expect(m.tfjs.gflops).toBeGreaterThan(0);
  }
  expect(outcome.results.dropout.map((d) => d.elements)).toEqual([2 ** 14]);
  // Two engines per matmul size, three dropout variants.
  const points = await page.$$eval('#bench-charts .chart-card', (cards) => Object.fromEntries(cards.map((c) => [(c as HTMLElement).dataset.chart, Number((c as HTMLElement).dataset.points)])));
  expect(points).toEqual({ 'matmul-gflops': 4, 'dropout-gbps': 3, 'training-steps': 0 });
  const tables = await page.$$eval('#bench-results table', (ts) => ts.map((t) => t.querySelectorAll('tbody tr').length));
  expect(tables).toEqual([2, 1]);
  await page.click('[data-chart="matmul-gflops"] button[data-export="svg"]');
  await page.waitForFunction(() => window.__lastDownload?.name.endsWith('matmul-gflops.svg'), { timeout: 10_000 });
  expect(await page.evaluate(() => window.__lastDownload?.text?.startsWith('<svg'))).toBe(true);
  await page.click('#bench-export');
  const exported = await page.evaluate(() => window.__lastDownload);
  expect(JSON.parse(exported!.text!).matmul).toHaveLength(2);
  expect((await screenshots(page, 'bench')).overflow).toEqual({ laptop: 0, phone: 0 });
  if (process.env.WGTRAIN_DOCS_SCREENSHOTS === '1') {
    mkdirSync(join(ROOT, 'docs', 'screenshots'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'docs', 'screenshots', 'bench.png'), clip: { x: 0, y: 0, width: 1280, height: 1100 } });
  }
  expect(log.errors).toEqual([]);
  await page.close();
}, 150_000);

test('the benchmark page shows progress with the time left, and Cancel stops it', async () => {
  const { page, log } = await openPage(session);
  // Four matmul sizes and a dropout size: five timed cases.
  const url = `${session.server.origin}/demos/bench.html?matmul=32,48,64,80&dropout=2^12&repeats=2&train=none&shapes=none`;
  await page.goto(url, { waitUntil: 'load', timeout: LOAD_MS });
  await waitInPage(page, log, 'benchmark page ready', () => window.__benchDemo?.state === 'ready', LOAD_MS);
  expect(await page.$eval('#bench-cancel', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
  await page.click('#bench-run');
  // After the first case: the cases done, the total and an estimate of the time left.
  await waitInPage(page, log, 'the first finished case', () => {
    const s = window.__benchDemo;
    return !!s && s.state === 'running' && (s.progress?.finished ?? 0) >= 1;
  }, 90_000);
  const running = (await page.evaluate(() => window.__benchDemo)) as Exclude<BenchDemoState, { state: 'done' }>;
  expect(running.progress?.total).toBe(5);
  expect(running.progress!.etaSeconds).toBeGreaterThanOrEqual(0);
  expect(await page.$eval('#bench-status', (e) => e.textContent)).toMatch(/^\d of 5 cases done · about \d+ (s|min \d+ s) left/);
  expect(await page.$eval('#bench-progress', (e) => [(e as HTMLProgressElement).value, (e as HTMLProgressElement).max])).toEqual([running.progress!.finished, 5]);
  await page.click('#bench-cancel');
  await waitInPage(page, log, 'the cancelled run', () => ['cancelled', 'done', 'error'].includes(window.__benchDemo?.state ?? ''), 90_000);
  expect(await page.evaluate(() => window.__benchDemo?.state)).toBe('cancelled');
  expect(await page.$eval('#bench-status', (e) => e.textContent)).toMatch(/^Cancelled after \d of 5 cases/);
  expect(await page.$eval('#bench-run', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
  expect(await page.$eval('#bench-export', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
  expect(log.errors).toEqual([]);
  await page.close();
}, 150_000);

test('the engine-check page has the site layout, a way back and a pass verdict against the CPU reference', async () => {
  const { page, log } = await openPage(session);
  await page.goto(`${session.server.origin}/demos/engine-check.html`, { waitUntil: 'load', timeout: LOAD_MS });
  await waitInPage(page, log, 'engine check', () => window.__engineCheck !== undefined, LOAD_MS);
  const outcome = (await page.evaluate(() => window.__engineCheck)) as EngineCheckOutcome;
  expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
  if (!outcome.ok) return;
  // The site's header and stylesheet, and the navigation without the engine check itself.
  expect(await page.$eval('.site-header .brand', (a) => a.getAttribute('href'))).toBe('./index.html');
  expect(await page.$$eval('.site-header nav a', (as) => as.map((a) => a.getAttribute('href')))).toEqual(['./index.html', './lab.html', './bench.html']);
  expect(await page.$eval('#back', (a) => a.getAttribute('href'))).toBe('./index.html');
  expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(246, 247, 249)');
  // The verdict: every check against the float64 reference on the GPU's own mask passes.
  expect(outcome.verdict.checks.map((c) => [c.name, c.pass])).toEqual(outcome.verdict.checks.map((c) => [c.name, true]));
  expect(outcome.verdict.pass).toBe(true);
  expect(await page.$eval('#verdict', (e) => [(e as HTMLElement).dataset.verdict, e.textContent])).toEqual(['pass', expect.stringMatching(/^Pass: all 5 checks agree/)]);
  expect(await page.$$eval('#checks tbody tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.pass))).toEqual(['true', 'true', 'true', 'true', 'true']);
  // A corrupted result fails the same judgement (the verdict can say no).
  // (A string, so that vitest leaves the page's dynamic import alone.)
  const failing = (await page.evaluate(`(async () => {
    const { judgeEngineCheck } = await import('/demos/engine-check-compute.ts');
    const o = window.__engineCheck;
    const gradW = [...o.result.gradW];
    gradW[5] += 1e-2;
    return judgeEngineCheck({ ...o.result, gradW }).checks.filter((c) => !c.pass).map((c) => c.name);
  })()`)) as string[];
  expect(failing).toEqual(['gradient d loss / d w']);
  expect((await screenshots(page, 'engine-check')).overflow).toEqual({ laptop: 0, phone: 0 });
  expect(log.errors).toEqual([]);
  await page.close();
});
