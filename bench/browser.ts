/**
 * Headless Chromium with WebGPU, and a Vite dev server to give it a page: shared by the browser
 * test (tests/browser.test.ts) and the browser benchmark (bench/run-browser.ts).
 *
 * WebGPU needs a secure context with navigator.gpu, which about:blank lacks, so pages are served
 * from http://127.0.0.1 by Vite (which also turns the engine's TypeScript and .wgsl imports into
 * modules the page can load). On machines without a GPU, Chromium's own SwiftShader provides the
 * adapter.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import puppeteer, { type Browser, type Page } from 'puppeteer';
import { createServer, type ViteDevServer } from 'vite';

/** The flags the project's browser runs use: WebGPU on, and on SwiftShader when no GPU is present. */
export const CHROMIUM_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--disable-gpu-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

/** For a machine with a real GPU (`WGTRAIN_BROWSER_GPU=1`): the same flags without the SwiftShader pins. */
const REAL_GPU_FLAGS = CHROMIUM_FLAGS.filter((f) => !f.includes('swiftshader'));

export function chromiumPath(): string {
  const path = process.env.WGTRAIN_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(path)) {
    throw new Error(
      `Chromium was not found at ${path}. Install it (Debian/Ubuntu: 'apt-get install chromium') ` +
        `or set WGTRAIN_CHROMIUM to a Chrome/Chromium binary with WebGPU (Chrome 113+).`,
    );
  }
  return path;
}

export interface ChromiumSession {
  browser: Browser;
  close(): Promise<void>;
}

/** Launches headless Chromium with a throw-away profile; close() removes the profile too. */
export async function launchChromium(): Promise<ChromiumSession> {
  const executablePath = chromiumPath();
  const userDataDir = mkdtempSync(join(tmpdir(), 'wgtrain-chromium-'));
  const args = process.env.WGTRAIN_BROWSER_GPU === '1' ? REAL_GPU_FLAGS : CHROMIUM_FLAGS;
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      userDataDir,
      args,
      protocolTimeout: 600_000,
    });
  } catch (e) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw new Error(`Launching Chromium (${executablePath}) failed: ${(e as Error).message}`);
  }
  return {
    browser,
    async close() {
      try {
        await browser.close();
      } finally {
        rmSync(userDataDir, { recursive: true, force: true });
      }
    },
  };
}

export interface PageServer {
  /** http://127.0.0.1:PORT (no trailing slash). */
  origin: string;
  close(): Promise<void>;
}

/**
 * Starts Vite's dev server on 127.0.0.1 at a free port, serving the repository root with the
 * repository's vite.config.ts. `prebundle` lists the npm packages the pages import, so that Vite
 * optimises them before the first request instead of reloading the page halfway through a run.
 * `cacheDir` keeps concurrent servers (test and benchmark) from sharing Vite's dependency cache.
 */
export async function startPageServer(root: string, cacheDir: string, prebundle: string[] = []): Promise<PageServer> {
  const server: ViteDevServer = await createServer({
    root,
    configFile: resolve(root, 'vite.config.ts'),
    cacheDir,
    logLevel: 'warn',
    clearScreen: false,
    server: { host: '127.0.0.1', port: 0, strictPort: true, hmr: false, watch: null },
    optimizeDeps: { include: prebundle },
  });
  await server.listen();
  const address = server.httpServer?.address() as AddressInfo | null;
  if (!address || typeof address !== 'object') {
    await server.close();
    throw new Error('The Vite dev server did not report a listening address');
  }
  return { origin: `http://127.0.0.1:${address.port}`, close: () => server.close() };
}

/** Console messages of type error/warning and uncaught page errors, gathered for the report. */
export interface PageLog {
  errors: string[];
  lines: string[];
}

/** Forwards the page's console and errors to `echo` (e.g. console.log) and records errors. */
export function watchPage(page: Page, echo?: (line: string) => void): PageLog {
  const log: PageLog = { errors: [], lines: [] };
  page.on('console', (msg) => {
    const line = `[page ${msg.type()}] ${msg.text()}`;
    log.lines.push(line);
    if (msg.type() === 'error') log.errors.push(line);
    echo?.(line);
  });
  page.on('pageerror', (err) => {
    const line = `[page error] ${(err as Error).stack ?? String(err)}`;
    log.lines.push(line);
    log.errors.push(line);
    echo?.(line);
  });
  page.on('requestfailed', (req) => {
    const line = `[page request failed] ${req.url()}: ${req.failure()?.errorText ?? ''}`;
    log.lines.push(line);
    log.errors.push(line);
    echo?.(line);
  });
  return log;
}
