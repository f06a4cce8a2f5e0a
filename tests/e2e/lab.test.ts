/**
 * End to end, the early-dropout lab page in headless Chromium (WebGPU on SwiftShader): the
 * demo-tiny preset trains through the runner in the page's worker while the page stays
 * responsive, with a pause and a resume halfway; every live chart receives points, the results
 * table fills with mean ± std and paired differences, and the JSON export holds every run. Bad
 * Fashion-MNIST files get the loader's error message on the page; the dev server's copy of the
 * Debian dataset loads when it is installed. Screenshots go to artifacts/screenshots/.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ElementHandle } from 'puppeteer';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { init, shutdown } from '../../src/index.js';
import { runExperiment } from '../../src/lab/experiment/runner.js';
import type { RunResult } from '../../src/lab/experiment/types.js';
import { DEMO_PRESETS } from '../../demos/lab/presets.js';
import { expectClose } from '../helpers/check.js';
import { allowDownloads, openDemoSession, openPage, screenshots, VIEWPORTS, waitForFile, waitInPage, type DemoSession } from './helpers.js';

const LOAD_MS = 60_000;
const FASHION_DIR = process.env.WGTRAIN_FASHION_MNIST_DIR || '/usr/share/datasets/fashion-mnist';
const CHART_IDS = ['train-loss', 'test-accuracy', 'lr', 'drop-rate', 'grad-norm', 'distance', 'gdv', 'gde', 'diff-loss', 'diff-acc'];
const CURVE_IDS = CHART_IDS.slice(0, 8);

let session: DemoSession;
const temp = mkdtempSync(join(tmpdir(), 'wgtrain-e2e-lab-'));

beforeAll(async () => {
  session = await openDemoSession('lab');
}, 120_000);

afterAll(async () => {
  shutdown();
  await session?.close();
  rmSync(temp, { recursive: true, force: true });
});

test('the lab trains a tiny preset with live charts, pause and resume, a results table and a JSON export', async () => {
  const { page, log } = await openPage(session);
  const downloads = join(temp, 'downloads');
  await allowDownloads(page, downloads);

  await page.goto(`${session.server.origin}/demos/lab.html`, { waitUntil: 'load', timeout: LOAD_MS });
  await waitInPage(page, log, 'the training worker starting WebGPU', () => window.__lab?.state === 'ready' || window.__lab?.state === 'error', LOAD_MS);
  expect(await page.evaluate(() => window.__lab?.error)).toBeUndefined();
  expect(await page.$$eval('#charts .chart-card', (cards) => cards.map((c) => (c as HTMLElement).dataset.chart))).toEqual(CHART_IDS);

  await page.select('#preset', 'demo-tiny');
  expect(await page.$eval('#plan-summary', (e) => e.textContent)).toContain('4 runs');
  // The form shows the preset: two modes, the early one with its cutoff.
  expect(await page.$$eval('#spec-form table.arms tbody tr', (rows) => rows.length)).toBe(2);
  expect(await page.$eval('[data-field="arms[1].cutoffEpochs"]', (e) => (e as HTMLInputElement).value)).toBe('1');

  await page.click('#run');
  await waitInPage(page, log, 'the first training-loss points', () => (window.__lab?.charts()['train-loss'] ?? 0) > 0 || window.__lab?.state !== 'running', 90_000);
  expect(await page.evaluate(() => window.__lab?.state)).toBe('running');

  // Pause (the runner checkpoints after the current step), check nothing moves, resume.
  await page.click('#pause');
  await waitInPage(page, log, 'pause', () => window.__lab?.state === 'paused' || window.__lab?.state === 'done', 60_000);
  expect(await page.evaluate(() => window.__lab?.state), 'paused before the end').toBe('paused');
  const before = await page.evaluate(() => window.__lab!.progress.stepsDone);
  expect(before).toBeLessThan(32);
  expect(await page.$eval('#run-status', (e) => e.textContent)).toContain('Paused');
  await new Promise((r) => setTimeout(r, 1000));
  expect(await page.evaluate(() => window.__lab!.progress.stepsDone), 'steps while paused').toBe(before);
  expect(await page.$eval('#resume', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
  // The status changes with the click, not at the next progress message.
  const afterResume = await page.evaluate(() => {
    document.getElementById('resume')!.click();
    return document.getElementById('run-status')!.textContent ?? '';
  });
  expect(afterResume).not.toContain('Paused');
  expect(afterResume).toBe(`Resuming at step ${before} of 32 from the checkpoint…`);
  await page.waitForFunction((b: number) => window.__lab!.progress.stepsDone > b || window.__lab!.state === 'done', { timeout: 30_000, polling: 100 }, before);

  // The page stays responsive while the worker trains: timers fire on time (a frozen main thread
  // would delay them by the length of its GPU work).
  const lateness = await page.evaluate(async () => {
    let worst = 0;
    let last = performance.now();
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const now = performance.now();
      worst = Math.max(worst, now - last - 50);
      last = now;
    }
    return worst;
  });
  expect(lateness, 'worst timer lateness (ms) on the page during training').toBeLessThan(1000);

  await waitInPage(page, log, 'the experiment finishing', () => ['done', 'error', 'stopped'].includes(window.__lab?.state ?? ''), 120_000);
  expect(await page.evaluate(() => window.__lab?.error)).toBeUndefined();
  expect(await page.evaluate(() => window.__lab?.state)).toBe('done');

  // Every chart got points: 2 modes × 2 seeds × (8 loss points, 4 metric points, ...).
  const counts = await page.evaluate(() => window.__lab!.charts());
  for (const id of CURVE_IDS) expect(counts[id], `points in chart ${id}`).toBeGreaterThan(0);
  expect(counts['train-loss']).toBe(4 * 8);
  expect(counts['grad-norm']).toBe(4 * 4);
  expect(counts['test-accuracy']).toBe(4 * (4 + 1));

  const results = (await page.evaluate(() => window.__lab!.results())) as RunResult[];
  expect(results.map((r) => `${r.arm}/${r.seed}`).sort()).toEqual(['early/0', 'early/1', 'none/0', 'none/1']);
  for (const r of results) {
    expect(r.steps).toBe(8);
    expect(Number.isFinite(r.finalTrainLoss)).toBe(true);
    expect(r.testAccuracy).toBeGreaterThanOrEqual(0);
    expect(r.metrics.map((m) => m.step)).toEqual([0, 2, 4, 7]);
  }

  // The table: one row per mode, mean ± std over the 2 seeds, the paired difference with its CI.
  const rows = await page.$$eval('#results table.results tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '')));
  expect(rows.map((r) => r[0])).toEqual(['none', 'early']);
  expect(rows[0][1]).toBe('2');
  expect(rows[0][2]).toMatch(/^\d+\.\d+ ± \d/);
  expect(rows[0][3]).toMatch(/^\d+\.\d+% ± \d/);
  expect(rows[0][4]).toBe('baseline');
  expect(rows[1][4]).toMatch(/^[+−-]?\d.* \[.*, .*\]$/);
  expect(rows[1][6]).toMatch(/^\d\/2$/);
  expect(await page.$$eval('#results .claims > li', (lis) => lis.length)).toBe(await page.evaluate(() => window.__lab!.analysis!.claims.length));
  expect(await page.$eval('#results-progress', (e) => e.textContent)).toBe('4 of 4 runs finished.');
  // The tables fit their box on a laptop and on a phone (no sideways scrolling, nothing cut off).
  for (const viewport of [VIEWPORTS.laptop, VIEWPORTS.phone]) {
    await page.setViewport(viewport);
    const overflow = await page.$$eval('#results .table-wrap', (boxes) => boxes.map((b) => b.scrollWidth - b.clientWidth));
    expect(overflow.length).toBeGreaterThan(0);
    expect(overflow, `table overflow (px) at ${viewport.width} px`).toEqual(overflow.map(() => 0));
  }
  await page.setViewport(VIEWPORTS.laptop);

  // Export: the results as JSON (the download itself, and its content)...
  await page.click('#export-json');
  const exported = JSON.parse((await waitForFile(join(downloads, 'demo-tiny-results.json'))).toString('utf8')) as { format: string; spec: { name: string }; results: RunResult[]; complete: boolean };
  expect(exported.format).toBe('wgtrain-lab-results');
  expect(exported.spec.name).toBe('demo-tiny');
  expect(exported.complete).toBe(true);
  expect(exported.results).toHaveLength(4);
  expect(exported.results.map((r) => r.finalTrainLoss).sort()).toEqual(results.map((r) => r.finalTrainLoss).sort());
  // ... and a chart as PNG and SVG.
  await page.click('[data-chart="train-loss"] button[data-export="png"]');
  const png = await waitForFile(join(downloads, 'demo-tiny-train-loss.png'));
  expect(png.subarray(1, 4).toString('latin1'), 'PNG signature').toBe('PNG');
  await page.click('[data-chart="gdv"] button[data-export="svg"]');
  expect((await waitForFile(join(downloads, 'demo-tiny-gdv.svg'))).toString('utf8')).toMatch(/^<svg/);

  // The same experiment through the same runner in Node (Dawn), uninterrupted and without the
  // page's test-accuracy evaluations: the same runs, up to the two Dawn builds' f32 rounding.
  await init();
  const node = await runExperiment(DEMO_PRESETS['demo-tiny'], { outDir: join(temp, 'node-run') });
  for (const n of node.results) {
    const b = results.find((r) => r.arm === n.arm && r.seed === n.seed)!;
    expectClose([b.finalTrainLoss, b.testLoss], [n.finalTrainLoss, n.testLoss], { rtol: 1e-4, atol: 1e-6, what: `${n.arm}/seed${n.seed}: browser (paused and resumed) vs Node` });
    expectClose(b.trainCurve.map((p) => p.loss), n.trainCurve.map((p) => p.loss), { rtol: 1e-4, atol: 1e-6, what: `${n.arm}/seed${n.seed} training curve` });
    expectClose(b.metrics.map((m) => m.gradNorm), n.metrics.map((m) => m.gradNorm), { rtol: 1e-3, atol: 1e-6, what: `${n.arm}/seed${n.seed} gradient norms` });
  }

  const shots = await screenshots(page, 'lab');
  expect(shots.overflow).toEqual({ laptop: 0, phone: 0 });
  expect(log.errors).toEqual([]);
  await page.close();
}, 240_000);

/** An IDX labels file of n labels. */
function idxLabels(n: number): Buffer {
  const b = Buffer.alloc(8 + n);
  b.writeUInt32BE(0x00000801, 0);
  b.writeUInt32BE(n, 4);
  for (let i = 0; i < n; i++) b[8 + i] = i % 10;
  return b;
}

test('bad Fashion-MNIST files get the loader’s error message on the page', async () => {
  const { page, log } = await openPage(session);
  await page.goto(`${session.server.origin}/demos/lab.html`, { waitUntil: 'load', timeout: LOAD_MS });
  await waitInPage(page, log, 'the lab page', () => window.__lab?.state === 'ready', LOAD_MS);

  const dir = mkdtempSync(join(temp, 'idx-'));
  // A gzip stream cut short (a download that stopped halfway).
  const gz = gzipSync(idxLabels(5000));
  const truncated = join(dir, 'train-labels-idx1-ubyte.gz');
  writeFileSync(truncated, gz.subarray(0, Math.floor(gz.length / 2)));
  // A well-formed gzip of something that is not an IDX file.
  const notIdx = join(dir, 't10k-images-idx3-ubyte.gz');
  writeFileSync(notIdx, gzipSync(Buffer.from('<html>404 Not Found</html>')));
  // A file that is none of the four.
  const stray = join(dir, 'notes.txt');
  writeFileSync(stray, 'hello');

  const input = (await page.$('#fashion-files')) as ElementHandle<HTMLInputElement>;
  await input.uploadFile(truncated, notIdx, stray);
  await waitInPage(page, log, 'the file errors', () => (document.getElementById('fashion-error')?.querySelectorAll('li').length ?? 0) >= 3, 20_000);
  const messages = await page.$$eval('#fashion-error li', (lis) => lis.map((li) => li.textContent ?? ''));
  expect(messages.find((m) => m.startsWith('train-labels-idx1-ubyte.gz:'))).toMatch(/bad gzip data/);
  expect(messages.find((m) => m.startsWith('t10k-images-idx3-ubyte.gz:'))).toMatch(/bad magic number/);
  expect(messages.find((m) => m.includes('notes.txt'))).toMatch(/not one of the Fashion-MNIST files/);
  expect(await page.$eval('#fashion-error', (e) => e.getAttribute('role'))).toBe('alert');
  expect(await page.$eval('#fashion-status', (e) => (e as HTMLElement).dataset.loaded)).toBe('false');
  expect(await page.$$eval('#fashion-list li', (lis) => lis.map((li) => li.className))).toEqual(['missing', 'error', 'error', 'missing']);

  // A Fashion-MNIST preset cannot run without the data: the page says so instead of starting.
  if (!existsSync(FASHION_DIR)) {
    await page.select('#preset', 'analysis');
    await page.click('#run');
    await page.waitForFunction(() => (document.getElementById('run-error')?.textContent ?? '').includes('Fashion-MNIST'), { timeout: 10_000 });
  }
  const shots = await screenshots(page, 'lab-bad-files');
  expect(shots.overflow).toEqual({ laptop: 0, phone: 0 });
  expect(log.errors).toEqual([]);
  await page.close();
}, 120_000);

/** An IDX images file of n images of side × side pixels. */
function idxImages(n: number, side: number): Buffer {
  const b = Buffer.alloc(16 + n * side * side);
  b.writeUInt32BE(0x00000803, 0);
  b.writeUInt32BE(n, 4);
  b.writeUInt32BE(side, 8);
  b.writeUInt32BE(side, 12);
  for (let i = 16; i < b.length; i++) b[i] = (i * 37) % 256;
  return b;
}

test('each dropped Fashion-MNIST file is decompressed once', async () => {
  const { page, log } = await openPage(session);
  await page.goto(`${session.server.origin}/demos/lab.html`, { waitUntil: 'load', timeout: LOAD_MS });
  await waitInPage(page, log, 'the lab page', () => window.__lab?.state === 'ready', LOAD_MS);
  // Count the gzip streams the training worker opens (the IDX loader gunzips with DecompressionStream).
  const worker = page.workers().find((w) => w.url().includes('worker'));
  expect(worker, 'the training worker').toBeDefined();
  await worker!.evaluate(() => {
    const scope = self as unknown as { DecompressionStream: typeof DecompressionStream; __gunzips: number };
    const Original = scope.DecompressionStream;
    scope.__gunzips = 0;
    scope.DecompressionStream = class extends Original {
      constructor(format: CompressionFormat) {
        super(format);
        scope.__gunzips++;
      }
    };
  });
  const dir = mkdtempSync(join(temp, 'small-fashion-'));
  const files = [
    ['train-images-idx3-ubyte.gz', idxImages(40, 28)],
    ['train-labels-idx1-ubyte.gz', idxLabels(40)],
    ['t10k-images-idx3-ubyte.gz', idxImages(20, 28)],
    ['t10k-labels-idx1-ubyte.gz', idxLabels(20)],
  ] as const;
  for (const [name, bytes] of files) writeFileSync(join(dir, name), gzipSync(bytes));
  const input = (await page.$('#fashion-files')) as ElementHandle<HTMLInputElement>;
  await input.uploadFile(...files.map(([name]) => join(dir, name)));
  await waitInPage(page, log, 'the four small files loaded', () => document.getElementById('fashion-status')?.dataset.loaded === 'true' || (document.getElementById('fashion-error')?.textContent ?? '') !== '', 30_000);
  expect(await page.$eval('#fashion-error', (e) => e.textContent)).toBe('');
  expect(await page.$eval('#fashion-status', (e) => e.textContent)).toContain('40 training and 20 test images');
  expect(await worker!.evaluate(() => (self as unknown as { __gunzips: number }).__gunzips), 'gzip streams opened for 4 files').toBe(4);
  expect(log.errors).toEqual([]);
  await page.close();
}, 120_000);

test.skipIf(!existsSync(join(FASHION_DIR, 'train-images-idx3-ubyte.gz')))('under the dev server the lab loads the installed Fashion-MNIST', async () => {
  const { page, log } = await openPage(session);
  await page.goto(`${session.server.origin}/demos/lab.html`, { waitUntil: 'load', timeout: LOAD_MS });
  await waitInPage(page, log, 'the lab page', () => window.__lab?.state === 'ready', LOAD_MS);
  expect(await page.$eval('#fashion-server', (b) => (b as HTMLButtonElement).hidden)).toBe(false);
  await page.click('#fashion-server');
  await waitInPage(page, log, 'Fashion-MNIST from the dev server', () => document.getElementById('fashion-status')?.dataset.loaded === 'true' || (document.getElementById('fashion-error')?.textContent ?? '') !== '', 60_000);
  expect(await page.$eval('#fashion-error', (e) => e.textContent)).toBe('');
  expect(await page.$eval('#fashion-status', (e) => e.textContent)).toContain('60000 training and 10000 test images');
  expect(log.errors).toEqual([]);
  await page.close();
}, 120_000);
