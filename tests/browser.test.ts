/**
 * The engine in a real browser: headless Chromium (WebGPU on SwiftShader) loads
 * demos/engine-check.html from a Vite dev server, runs matmul + relu + dropout + logSoftmax + mean
 * + backward on fixed data, and the results must match the same computation in Node (Dawn):
 * loss and gradients within f32 tolerance, dropout masks identical. Both are also checked against
 * a float64 CPU reference built on the GPU's mask.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { init, shutdown } from '../src/index.js';
import { chromiumPath, launchChromium, startPageServer, watchPage, type ChromiumSession, type PageServer } from '../bench/browser.js';
import { ENGINE_CHECK, engineCheckReference, runEngineCheck, type EngineCheckResult } from '../demos/engine-check-compute.js';
import type { EngineCheckOutcome } from '../demos/engine-check.js';
import { expectClose } from './helpers/check.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** SwiftShader compiles every pipeline on the CPU; the first page load also pre-bundles deps. */
const PAGE_TIMEOUT_MS = 120_000;

let chromium: ChromiumSession | null = null;
let server: PageServer | null = null;

afterAll(async () => {
  try {
    await chromium?.close();
  } finally {
    await server?.close();
    shutdown();
  }
});

async function runInChromium(): Promise<EngineCheckResult> {
  chromiumPath(); // a clear error when Chromium is missing, before anything starts
  server = await startPageServer(ROOT, join(ROOT, 'node_modules/.vite-browser-test'), ['wgsl-preprocessor/wgsl-preprocessor.js']);
  chromium = await launchChromium();
  const page = await chromium.browser.newPage();
  const log = watchPage(page, (line) => console.log(line));
  const url = `${server.origin}/demos/engine-check.html`;
  await page.goto(url, { waitUntil: 'load', timeout: PAGE_TIMEOUT_MS });
  try {
    await page.waitForFunction(() => window.__engineCheck !== undefined, { timeout: PAGE_TIMEOUT_MS, polling: 250 });
  } catch (e) {
    throw new Error(`${url} did not finish within ${PAGE_TIMEOUT_MS / 1000} s (${(e as Error).message}). Page output:\n${log.lines.join('\n') || '(none)'}`);
  }
  const outcome = (await page.evaluate(() => window.__engineCheck)) as EngineCheckOutcome;
  if (!outcome.ok) {
    throw new Error(`The engine check failed in Chromium: ${outcome.error}\nPage output:\n${log.lines.join('\n') || '(none)'}`);
  }
  console.log(`Chromium adapter: ${outcome.adapter.vendor} / ${outcome.adapter.architecture} / ${outcome.adapter.description}`);
  expect(log.errors, 'console errors or page errors in Chromium').toEqual([]);
  return outcome.result;
}

test(
  'Chromium and Node give the same loss, gradient and dropout mask',
  async () => {
    const browser = await runInChromium();

    const adapter = await init();
    console.log(`Node adapter: ${adapter.vendor} / ${adapter.architecture} / ${adapter.description}`);
    const node = await runEngineCheck();

    const { rows, cols, p } = ENGINE_CHECK;
    // The same Philox stream: identical masks, element for element.
    expect(browser.mask.length).toBe(node.mask.length);
    const differing = node.mask.flatMap((m, i) => (m !== browser.mask[i] ? [i] : []));
    expect(differing, 'dropout mask positions that differ between Chromium and Node').toEqual([]);
    const kept = node.mask.reduce((a, b) => a + b, 0) / (rows * cols);
    expect(kept, 'kept fraction').toBeGreaterThan(1 - p - 0.1);
    expect(kept, 'kept fraction').toBeLessThan(1 - p + 0.1);
    const oddValues = node.maskScale.filter((v) => v !== 0 && Math.abs(v - 1 / (1 - p)) > 1e-6);
    expect(oddValues, 'dropout(ones) is 0 or 1/(1-p)').toEqual([]);

    // Each runtime against float64 arithmetic on the same mask, stage by stage, so that a mismatch
    // names the runtime and the stage that went wrong.
    const ref = engineCheckReference(node.mask);
    expect(ref.minAbsPreActivation, 'test data keeps relu inputs away from 0').toBeGreaterThan(1e-5);
    const gScale = Math.max(...ref.gradW.map(Math.abs));
    for (const [name, r] of [['Node', node], ['Chromium', browser]] as const) {
      expectClose(r.dropped, ref.dropped, { rtol: 1e-4, atol: 1e-5, what: `${name}: dropout(relu(x @ w)) vs float64` });
      expectClose([r.loss], [ref.loss], { rtol: 1e-4, atol: 1e-6, what: `${name}: loss vs float64` });
      expectClose(r.gradW, ref.gradW, { rtol: 1e-3, atol: 1e-4 * gScale, what: `${name}: grad w vs float64` });
    }

    // And the two runtimes agree with each other to f32 rounding.
    expectClose(browser.dropped, node.dropped, { rtol: 1e-5, atol: 1e-6, what: 'dropout output (Chromium vs Node)' });
    expectClose([browser.loss], [node.loss], { rtol: 1e-5, atol: 0, what: 'loss (Chromium vs Node)' });
    expectClose(browser.gradW, node.gradW, { rtol: 1e-5, atol: 1e-6 * gScale, what: 'grad w (Chromium vs Node)' });
  },
  PAGE_TIMEOUT_MS * 2,
);
