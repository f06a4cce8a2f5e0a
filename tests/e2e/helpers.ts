/**
 * Shared by the end-to-end tests of the demo pages: a Vite dev server for the repository (pages
 * at /demos/*.html, as `npm run demo` serves them), headless Chromium with WebGPU on SwiftShader
 * (bench/browser.ts), console-error collection, and screenshots at a laptop and a phone size into
 * artifacts/screenshots/ (not committed) for a person to look at.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'puppeteer';
import { launchChromium, startPageServer, watchPage, type ChromiumSession, type PageLog, type PageServer } from '../../bench/browser.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SCREENSHOT_DIR = join(ROOT, 'artifacts', 'screenshots');

/** The npm packages the demo pages import, optimised before the first request (no mid-test reload). */
const PREBUNDLE = ['wgsl-preprocessor/wgsl-preprocessor.js', 'vega', 'vega-lite', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', 'idb-keyval', 'marked', 'fflate'];

export const VIEWPORTS = {
  laptop: { width: 1280, height: 800, deviceScaleFactor: 1 },
  // Not isMobile: switching that makes puppeteer reload the page (and lose its state).
  phone: { width: 390, height: 844, deviceScaleFactor: 1 },
} as const;

export interface DemoSession {
  server: PageServer;
  chromium: ChromiumSession;
  close(): Promise<void>;
}

/** A dev server (its own dependency cache, so test files can run side by side) and a browser. */
export async function openDemoSession(name: string): Promise<DemoSession> {
  const server = await startPageServer(ROOT, join(ROOT, 'node_modules', `.vite-e2e-${name}`), PREBUNDLE);
  let chromium: ChromiumSession;
  try {
    chromium = await launchChromium();
  } catch (e) {
    await server.close();
    throw e;
  }
  return {
    server,
    chromium,
    async close() {
      try {
        await chromium.close();
      } finally {
        await server.close();
      }
    },
  };
}

/**
 * A new page whose console errors, uncaught errors and failed requests are recorded. Each page
 * gets a browser context of its own, so what one test's page kept (the lab's IndexedDB) never
 * reaches another test; a reload keeps it.
 */
export async function openPage(session: DemoSession, options: { withoutWebGpu?: boolean } = {}): Promise<{ page: Page; log: PageLog }> {
  const context = await session.chromium.browser.createBrowserContext();
  const page = await context.newPage();
  page.once('close', () => void context.close().catch(() => {}));
  await page.setViewport(VIEWPORTS.laptop);
  if (options.withoutWebGpu) {
    // A browser without WebGPU, as far as the page can tell: navigator.gpu is undefined before any script runs.
    await page.evaluateOnNewDocument(() => {
      Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
    });
  }
  const log = watchPage(page, (line) => {
    if (process.env.WGTRAIN_E2E_VERBOSE) console.log(line);
  });
  // The lab asks before leaving a running page; tests that leave one say yes (and can see it asked).
  page.on('dialog', (dialog) => {
    log.lines.push(`[page dialog] ${dialog.type()}`);
    void dialog.accept();
  });
  return { page, log };
}

/** Lets the page's downloads land in `dir` (in the page's own browser context). */
export async function allowDownloads(page: Page, dir: string): Promise<void> {
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: dir, browserContextId: page.browserContext().id });
}

/** A finished download's bytes (Chromium writes a .crdownload first and renames it at the end). */
export async function waitForFile(path: string, timeoutMs = 10_000): Promise<Buffer> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (existsSync(path)) {
      const bytes = readFileSync(path);
      if (bytes.length > 0) return bytes;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the download ${path} did not appear within ${timeoutMs / 1000} s`);
}

/** Waits for `fn` in the page, or fails with what the page logged. */
export async function waitInPage<T>(page: Page, log: PageLog, what: string, fn: () => T, timeoutMs: number): Promise<void> {
  try {
    await page.waitForFunction(fn, { timeout: timeoutMs, polling: 200 });
  } catch (e) {
    // What the page says about itself, when it has a status line.
    const status = await page
      .evaluate(() => [document.body.dataset.labState ?? document.body.dataset.benchState, document.querySelector('[role="status"].status-line')?.textContent].filter(Boolean).join(': '))
      .catch(() => '');
    throw new Error(`${what}: not within ${timeoutMs / 1000} s (${(e as Error).message}).${status ? ` Page status: ${status}.` : ''} Page output:\n${log.lines.join('\n') || '(none)'}`);
  }
}

/**
 * Full-page screenshots at laptop and phone size: artifacts/screenshots/<name>-laptop.png and
 * -phone.png. Also measures, at each size, by how many pixels the page is wider than the screen
 * (0 when nothing sticks out sideways). The page is left at laptop size.
 */
export async function screenshots(page: Page, name: string): Promise<{ paths: string[]; overflow: Record<keyof typeof VIEWPORTS, number> }> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const paths: string[] = [];
  const overflow = { laptop: 0, phone: 0 };
  for (const size of Object.keys(VIEWPORTS) as (keyof typeof VIEWPORTS)[]) {
    await page.setViewport(VIEWPORTS[size]);
    // Charts follow their container's width on window resize; give them a moment to redraw.
    await new Promise((r) => setTimeout(r, 500));
    overflow[size] = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    const path = join(SCREENSHOT_DIR, `${name}-${size}.png`) as `${string}.png`;
    await page.screenshot({ path, fullPage: true });
    paths.push(path);
  }
  await page.setViewport(VIEWPORTS.laptop);
  return { paths, overflow };
}
