/**
 * `npm run lab -- --browser`: the experiment runner in headless Chromium (WebGPU; SwiftShader
 * unless WGTRAIN_BROWSER_GPU=1), on src/cli/lab-page.html served by Vite, with the page's file
 * operations carried out here (lab-protocol.ts), so the output folder is the same as a Node run's
 * and a run can be resumed by either. Reuses bench/browser.ts's Chromium and Vite launchers.
 *
 * Bundled on its own (scripts/build-node.mjs ... --external-packages -> dist-node/lab-browser.mjs)
 * and loaded by lab.ts only for --browser.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, startPageServer, watchPage, type ChromiumSession, type PageServer } from '../../bench/browser.js';
import { FASHION_MNIST_FILES, fashionMnistDir } from '../lab/data/fashion-mnist.js';
import { AbortError, type RunnerProgress } from '../lab/experiment/runner.js';
import { nodeStore } from '../lab/experiment/store.js';
import type { ExperimentSpec, RunResult } from '../lab/experiment/types.js';
import type { LabPageConfig, LabPageOutcome, StoreOp, StorePayload } from './lab-protocol.js';

/** The repository root: this file runs as src/cli/lab-browser.ts or dist-node/lab-browser.mjs. */
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, HERE.endsWith('dist-node') ? '..' : '../..');
const PAGE_LOAD_TIMEOUT_MS = 180_000;

export interface BrowserRunOptions {
  spec: ExperimentSpec;
  outDir: string;
  quick: boolean;
  checkpointEvery: number;
  onProgress: (p: RunnerProgress) => void;
  log: (line: string) => void;
  signal: AbortSignal;
}

export async function runInBrowser(o: BrowserRunOptions): Promise<{ spec: ExperimentSpec; results: RunResult[]; adapter: string }> {
  const store = await nodeStore(o.outDir);
  const fashionFiles = new Set<string>(Object.values(FASHION_MNIST_FILES));
  let server: PageServer | null = null;
  let chromium: ChromiumSession | null = null;
  try {
    server = await startPageServer(ROOT, join(ROOT, 'node_modules/.vite-lab'), ['wgsl-preprocessor/wgsl-preprocessor.js']);
    chromium = await launchChromium();
    const page = await chromium.browser.newPage();
    const log = watchPage(page, (line) => {
      if (line.startsWith('[page error]') || line.startsWith('[page request failed]') || line.startsWith('[page error ')) o.log(line);
    });
    let finish!: (outcome: LabPageOutcome) => void;
    const finished = new Promise<LabPageOutcome>((r) => (finish = r));
    const config: LabPageConfig = { spec: o.spec, quick: o.quick, checkpointEvery: o.checkpointEvery, outDir: o.outDir };
    await page.exposeFunction('__labConfig', () => config);
    await page.exposeFunction('__labStore', async (op: StoreOp, path: string, payload?: StorePayload): Promise<string | null> => {
      const data = payload === undefined ? undefined : 'text' in payload ? payload.text : new Uint8Array(Buffer.from(payload.base64, 'base64'));
      switch (op) {
        case 'readText':
          return store.readText(path);
        case 'readBytes': {
          const b = await store.readBytes(path);
          return b === null ? null : Buffer.from(b).toString('base64');
        }
        case 'write':
          await store.write(path, data ?? '');
          return null;
        case 'append':
          await store.append(path, typeof data === 'string' ? data : '');
          return null;
        case 'remove':
          await store.remove(path);
          return null;
        default:
          throw new Error(`lab page: unknown store operation ${String(op)}`);
      }
    });
    await page.exposeFunction('__labFashionFile', async (name: string) => {
      if (!fashionFiles.has(name)) throw new Error(`lab page: ${name} is not a Fashion-MNIST file`);
      return (await readFile(join(fashionMnistDir(), name))).toString('base64');
    });
    await page.exposeFunction('__labProgress', (p: RunnerProgress) => o.onProgress(p));
    await page.exposeFunction('__labFinish', (outcome: LabPageOutcome) => finish(outcome));
    const onAbort = () => void page.evaluate(() => window.__labAbort?.()).catch(() => {});
    o.signal.addEventListener('abort', onAbort, { once: true });
    const version = await chromium.browser.version();
    o.log(`lab: headless ${version} (${process.env.WGTRAIN_BROWSER_GPU === '1' ? 'GPU' : 'SwiftShader'}), ${server.origin}/src/cli/lab-page.html`);
    await page.goto(`${server.origin}/src/cli/lab-page.html`, { waitUntil: 'load', timeout: PAGE_LOAD_TIMEOUT_MS });
    // A page that dies (crash, uncaught error before main) would never call __labFinish.
    const crashed = new Promise<LabPageOutcome>((r) => page.on('error', (e) => r({ ok: false, aborted: false, error: `the page crashed: ${e.message}` })));
    const outcome = await Promise.race([finished, crashed]);
    o.signal.removeEventListener('abort', onAbort);
    if (!outcome.ok) {
      if (outcome.aborted) throw new AbortError(outcome.error);
      throw new Error(`the lab page failed: ${outcome.error}${log.errors.length ? `\npage errors:\n${log.errors.join('\n')}` : ''}`);
    }
    return { spec: outcome.spec, results: outcome.results, adapter: `${outcome.adapter}, ${version}` };
  } finally {
    await chromium?.close();
    await server?.close();
  }
}
