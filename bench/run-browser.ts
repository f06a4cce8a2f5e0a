/**
 * `npm run bench`: serves bench/bench.html with Vite, opens it in headless Chromium (WebGPU; on
 * SwiftShader unless WGTRAIN_BROWSER_GPU=1), prints the tables and writes
 * bench/results/browser-<date>.json. Bundled by scripts/build-node.mjs (npm packages external).
 *
 * Environment: WGTRAIN_BENCH_MATMUL, WGTRAIN_BENCH_DROPOUT, WGTRAIN_BENCH_TRAIN,
 * WGTRAIN_BENCH_REPEATS (as for bench:node), WGTRAIN_BENCH_OUT (results folder), WGTRAIN_CHROMIUM
 * (browser binary).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, startPageServer, watchPage, type ChromiumSession, type PageServer } from './browser.js';
import { resultFileName } from './bench-core.js';
import type { BenchOutcome } from './bench-page.js';

/** The repository root: this file runs as dist-node/run-browser.mjs. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TIMEOUT_MS = 30 * 60_000;

async function main(): Promise<void> {
  let server: PageServer | null = null;
  let chromium: ChromiumSession | null = null;
  try {
    server = await startPageServer(ROOT, join(ROOT, 'node_modules/.vite-bench'), [
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-backend-webgpu',
      '@tensorflow/tfjs-core/dist/register_all_gradients.js', // bench-page.ts: tfjs-core's gradients
      'wgsl-preprocessor/wgsl-preprocessor.js',
    ]);
    chromium = await launchChromium();
    const page = await chromium.browser.newPage();
    // Progress lines and errors from the page go to stderr; the tables go to stdout.
    const log = watchPage(page, (line) => {
      if (!line.startsWith('[page debug] [vite]')) console.error(line.replace('[page log] [bench] ', '  '));
    });
    const params = new URLSearchParams();
    if (process.env.WGTRAIN_BENCH_MATMUL) params.set('matmul', process.env.WGTRAIN_BENCH_MATMUL);
    if (process.env.WGTRAIN_BENCH_DROPOUT) params.set('dropout', process.env.WGTRAIN_BENCH_DROPOUT);
    if (process.env.WGTRAIN_BENCH_TRAIN !== undefined) params.set('train', process.env.WGTRAIN_BENCH_TRAIN);
    if (process.env.WGTRAIN_BENCH_REPEATS) params.set('repeats', process.env.WGTRAIN_BENCH_REPEATS);
    const url = `${server.origin}/bench/bench.html${params.size ? `?${params}` : ''}`;
    console.error(`bench: ${url} in ${process.env.WGTRAIN_BROWSER_GPU === '1' ? 'Chromium (GPU)' : 'Chromium (SwiftShader)'}`);
    await page.goto(url, { waitUntil: 'load', timeout: 120_000 });
    await page.waitForFunction(() => window.__bench !== undefined, { timeout: TIMEOUT_MS, polling: 500 });
    const outcome = (await page.evaluate(() => window.__bench)) as BenchOutcome;
    if (!outcome.ok) throw new Error(`the benchmark page failed: ${outcome.error}`);
    if (log.errors.length) console.error(`bench: the page reported errors:\n${log.errors.join('\n')}`);
    const version = await chromium.browser.version();
    console.log(outcome.text.replace('browser (', `browser ${version} (`));
    const dir = process.env.WGTRAIN_BENCH_OUT ?? join(ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, resultFileName(outcome.results));
    writeFileSync(file, JSON.stringify({ ...outcome.results, browserVersion: version, pageErrors: log.errors }, null, 2) + '\n');
    console.log(`\nresults: ${file}`);
  } finally {
    await chromium?.close();
    await server?.close();
  }
}

main().catch((e: unknown) => {
  console.error(`bench (browser) failed: ${e instanceof Error ? (e.stack ?? e.message) : e}`);
  process.exitCode = 1;
});
