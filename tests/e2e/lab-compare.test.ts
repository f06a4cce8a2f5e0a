/**
 * End to end, the lab page as a researcher uses it (headless Chromium, WebGPU on SwiftShader),
 * on one small synthetic experiment with the analysis metrics on:
 *
 * - a link whose URL fragment holds the spec sets the page up with it;
 * - the time left it shows, a third of the way in, is within a factor 2 of the time it then takes;
 * - the charts draw a band around each mode's mean, mark the cutoff, write their axes without
 *   exponent notation, and export (SVG, PNG) with a title and the settings;
 * - "Download report" gives the headless lab's own report (renderReport, compared in Node) whose
 *   numbers are the page's;
 * - a reload brings the finished runs back (charts, table, claims).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, strFromU8 } from 'fflate';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DEMO_PRESETS } from '../../demos/lab/presets.js';
import { renderReport } from '../../src/lab/experiment/report.js';
import type { ExperimentSpec, RunResult } from '../../src/lab/experiment/types.js';
import { allowDownloads, openDemoSession, openPage, waitForFile, waitInPage, type DemoSession } from './helpers.js';

const LOAD_MS = 60_000;
let session: DemoSession;
const temp = mkdtempSync(join(tmpdir(), 'wgtrain-e2e-compare-'));

beforeAll(async () => {
  session = await openDemoSession('compare');
}, 120_000);

afterAll(async () => {
  await session?.close();
  rmSync(temp, { recursive: true, force: true });
});

/**
 * The lab page's demo-tiny, made longer: 4 runs of 192 steps (2 modes × 2 seeds), metrics every 2
 * steps up to 8 then every 8, an early cutoff at step 16: long enough on SwiftShader (several
 * seconds) for an ETA to mean something.
 */
const { description, ...DEMO_TINY } = DEMO_PRESETS['demo-tiny'];
const SPEC = {
  ...DEMO_TINY,
  name: 'compare-tiny',
  arms: [DEMO_TINY.arms[0], { ...DEMO_TINY.arms[1], cutoffEpochs: 4 }],
  epochs: 48,
  metrics: { ...DEMO_TINY.metrics, denseUntil: 8, every: 8 },
};

/** The lines of text in an SVG: each <text>, or each <tspan> of a multi-line one, entities decoded. */
function svgTexts(svg: string): string[] {
  const decode = (t: string) => t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
  return [...svg.matchAll(/<text[^>]*>(.*?)<\/text>/gs)].flatMap((m) => {
    const spans = [...m[1].matchAll(/<tspan[^>]*>([^<]*)<\/tspan>/g)].map((t) => t[1]);
    return (spans.length ? spans : [m[1]]).map(decode);
  });
}

/** Width and height of a PNG (its IHDR chunk). */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(1, 4).toString('latin1'), 'PNG signature').toBe('PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

const rowsText = (page: import('puppeteer').Page) =>
  page.$$eval('#results table.results tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '')));

test('a linked spec runs with an honest ETA, banded charts, titled exports, the headless report, and survives a reload', async () => {
  const { page, log } = await openPage(session);
  const downloads = join(temp, 'downloads');
  await allowDownloads(page, downloads);

  // The link: the spec as base64url JSON in the fragment (encoded here independently of the page).
  const hash = `spec=${Buffer.from(JSON.stringify(SPEC)).toString('base64url')}`;
  await page.goto(`${session.server.origin}/demos/lab.html#${hash}`, { waitUntil: 'load', timeout: LOAD_MS });
  await waitInPage(page, log, 'the training worker starting WebGPU', () => window.__lab?.state === 'ready' || window.__lab?.state === 'error', LOAD_MS);
  expect(await page.$eval('#plan-summary', (e) => e.textContent)).toBe('4 runs · 2 modes × 2 seeds · 768 optimizer steps in all · synthetic.');
  const field = (f: string) => page.$eval(`[data-field="${f}"]`, (e) => (e as HTMLInputElement).value);
  expect([await field('epochs'), await field('seeds'), await field('arms[1].cutoffEpochs'), await field('metrics.every')]).toEqual(['48', '0, 1', '4', '8']);
  expect(JSON.parse(await page.$eval('#spec-json', (e) => (e as HTMLTextAreaElement).value))).toEqual(SPEC);

  // The ETA a third of the way in, against the time the rest then takes.
  await page.click('#run');
  await waitInPage(page, log, 'a third of the steps', () => {
    const p = window.__lab!.progress;
    return (p.stepsTotal > 0 && p.stepsDone >= p.stepsTotal / 3) || window.__lab!.state !== 'running';
  }, 180_000);
  const sample = await page.evaluate(() => ({ now: performance.now(), eta: window.__lab!.progress.etaSeconds, rate: window.__lab!.progress.stepsPerSecond, status: document.getElementById('run-status')!.textContent ?? '' }));
  expect(sample.status).toMatch(/ \d+ \/ 768 steps · [\d.]+ steps\/s · about \d+ (s|min \d+ s) left\.$/);
  await waitInPage(page, log, 'the experiment finishing', () => ['done', 'error', 'stopped'].includes(window.__lab?.state ?? ''), 240_000);
  expect(await page.evaluate(() => window.__lab?.error)).toBeUndefined();
  const finishedAt = await page.evaluate(() => window.__lab!.timing.finishedAt);
  const actual = (finishedAt - sample.now) / 1000;
  const ratio = sample.eta / actual;
  console.log(`ETA at a third: ${sample.eta.toFixed(1)} s (${sample.rate.toFixed(1)} steps/s); it took ${actual.toFixed(1)} s more; ratio ${ratio.toFixed(2)}`);
  expect(ratio, `ETA ${sample.eta.toFixed(1)} s vs ${actual.toFixed(1)} s taken`).toBeGreaterThan(0.5);
  expect(ratio, `ETA ${sample.eta.toFixed(1)} s vs ${actual.toFixed(1)} s taken`).toBeLessThan(2);

  // The training-loss chart as exported: a band per mode, the cutoff marker, plain-decimal axes, a title and the settings.
  await page.click('[data-chart="train-loss"] button[data-export="svg"]');
  await page.waitForFunction(() => window.__lastDownload?.name === 'compare-tiny-train-loss.svg', { timeout: 20_000 });
  const lossSvg = (await page.evaluate(() => window.__lastDownload!.text))!;
  // Vega draws an area per group (mode): a <g class="... band_marks"> holding one filled path each.
  const bandPaths = [...lossSvg.matchAll(/<g class="mark-area role-mark band_marks"[^>]*>\s*<path[^>]* d="M[^"]+"/g)];
  expect(bandPaths.length, 'one band path per mode').toBe(2);
  expect(lossSvg).toContain('early cutoff');
  const lossTexts = svgTexts(lossSvg);
  expect(lossTexts).toContain('Training loss (x: optimizer step; mean over seeds, band: ±1 std over seeds, faint lines: seeds; EMA smoothing 0.6)');
  expect(lossTexts).toContain('compare-tiny: MLP, hidden sizes [16], relu; synthetic (seed 0, 8×8), 64 train / 32 test images');
  expect(lossTexts.some((t) => t.startsWith('48 epochs, batch 16, lr 0.003') && t.endsWith('seeds 0, 1'))).toBe(true);
  expect(lossTexts.some((t) => /^4 of 4 runs finished · /.test(t))).toBe(true);

  // No axis label in exponent notation (the steps reach 192, accuracies tens of per cent, LRs 1e-3).
  const exponent = /^[-−]?\d[\d.,]*e[+-]?\d+$/i;
  for (const id of ['train-loss', 'test-accuracy', 'lr', 'grad-norm', 'diff-acc']) {
    const svg = await page.evaluate(async (chart) => {
      const card = document.querySelector(`[data-chart="${chart}"] button[data-export="svg"]`) as HTMLButtonElement;
      card.click();
      for (let i = 0; i < 200 && window.__lastDownload?.name !== `compare-tiny-${chart}.svg`; i++) await new Promise((r) => setTimeout(r, 50));
      return window.__lastDownload?.text ?? '';
    }, id);
    const labels = svgTexts(svg).filter((t) => /^[-−]?[\d.,]+(e[+-]?\d+)?$/i.test(t));
    expect(labels.length, `numeric axis labels in ${id}`).toBeGreaterThan(3);
    expect(labels.filter((t) => exponent.test(t)), `exponent notation in ${id}`).toEqual([]);
  }

  // The PNG: twice the export width, and taller than the chart on the page by the title and settings.
  await page.click('[data-chart="train-loss"] button[data-export="png"]');
  const png = pngSize(await waitForFile(join(downloads, 'compare-tiny-train-loss.png'), 20_000));
  const canvasHeight = await page.$eval('[data-chart="train-loss"] canvas', (c) => (c as HTMLCanvasElement).height);
  expect(png.width).toBeGreaterThanOrEqual(2 * 640);
  expect(png.height / 2 - canvasHeight, 'height of the title and settings lines (px)').toBeGreaterThan(50);

  // The paired-difference charts and the claims beside them.
  expect(await page.$eval('[data-chart="diff-loss"]', (e) => (e as HTMLElement).dataset.points)).toBe('1');
  expect(await page.$$eval('[data-chart="diff-acc"] .claim-box', (boxes) => boxes.map((b) => (b as HTMLElement).dataset.claim))).toContain('early-underfitting');
  const claimBox = await page.$eval('[data-chart="diff-acc"] .claim-box[data-claim="early-underfitting"]', (e) => e.textContent ?? '');
  expect(claimBox).toContain('ViT-T 73.9 → 74.3 (+0.4)');
  expect(claimBox).toMatch(/early − none, test accuracy: Δ [+−-]?\d+\.\d\d pp \[.*\] 95% CI, 2 paired seeds; p = /);
  expect(await page.$eval('[data-chart="diff-acc"] .claim-box a', (a) => a.getAttribute('href'))).toBe('https://arxiv.org/abs/2303.01500');

  // "Download report" (HTML): the headless report, whose table holds the page's numbers.
  const pageRows = await rowsText(page);
  expect(pageRows.map((r) => r[0])).toEqual(['none', 'early']);
  await page.click('#report-html');
  await page.waitForFunction(() => window.__lastDownload?.name === 'compare-tiny-report.html', { timeout: 30_000 });
  const html = (await page.evaluate(() => window.__lastDownload!.text))!;
  expect(html).toMatch(/^<!doctype html>/);
  expect(html).toContain('<h1>Experiment report: compare-tiny</h1>');
  for (const row of pageRows) {
    // mean ± std of the final training loss and the test accuracy, as the page shows them.
    expect(html, `report row of ${row[0]}`).toContain(`<td>${row[2]}</td>`);
    expect(html, `report row of ${row[0]}`).toContain(`<td>${row[3]}</td>`);
  }
  expect((html.match(/<figure><svg/g) ?? []).length, 'figures inlined').toBeGreaterThan(0);

  // (markdown + SVG zip): exactly what the headless lab writes, rendered again here in Node.
  await page.click('#report-zip');
  const zip = unzipSync(new Uint8Array(await waitForFile(join(downloads, 'compare-tiny-report.zip'), 30_000)));
  const markdown = strFromU8(zip['compare-tiny/report.md']);
  const results = (await page.evaluate(() => window.__lab!.results())) as RunResult[];
  const spec = (await page.evaluate(() => window.__lab!.analysis!.spec)) as ExperimentSpec;
  const date = /\| Date \| (\d{4}-\d\d-\d\d) \|/.exec(markdown)?.[1];
  expect(date).toBeDefined();
  const node = await renderReport(spec, results, { adapter: results[0].adapter, quick: false, date });
  expect(markdown).toBe(node.markdown);
  expect(Object.keys(zip).sort()).toEqual(['compare-tiny/report.md', ...Object.keys(node.plots).map((f) => `compare-tiny/${f}`)].sort());

  // A reload: the settings (from the URL), the finished runs, the charts and the table come back.
  const counts = await page.evaluate(() => window.__lab!.charts());
  const claims = await page.$$eval('#results .claims > li', (lis) => lis.map((li) => li.textContent));
  await page.reload({ waitUntil: 'load' });
  await page.waitForFunction(() => window.__lab !== undefined, { timeout: LOAD_MS });
  await page.evaluate(() => window.__lab!.loaded);
  await waitInPage(page, log, 'the worker after the reload', () => window.__lab?.state === 'ready', LOAD_MS);
  expect(await page.evaluate(() => window.__lab!.restored)).toBe(4);
  expect(await page.evaluate(() => window.__lab!.results().map((r) => r.finalTrainLoss))).toEqual(results.map((r) => r.finalTrainLoss));
  expect(await rowsText(page)).toEqual(pageRows);
  expect(await page.$$eval('#results .claims > li', (lis) => lis.map((li) => li.textContent))).toEqual(claims);
  await page.waitForFunction((c: Record<string, number>) => JSON.stringify(window.__lab!.charts()) === JSON.stringify(c), { timeout: 10_000 }, counts);
  expect(await page.$eval('#run-status', (e) => e.textContent)).toBe('Ready. Restored 4 finished runs of compare-tiny from this browser.');
  expect(await field('epochs')).toBe('48');
  expect(await page.$eval('#run', (b) => b.textContent)).toBe('Run');

  expect(log.errors).toEqual([]);
  await page.close();
}, 420_000);
