/**
 * wgtrain as a user gets it: `npm pack` (which builds lib/ first, the `prepack` script), the tarball
 * installed into a temporary project outside the repository (it cannot see the source tree or its
 * node_modules), and then:
 *   1. the tarball holds the package's files only (no tests, benchmarks, demos, docs or caches), every
 *      kernel inlined, and its size is printed;
 *   2. Node imports 'wgtrain', 'wgtrain/nn' and 'wgtrain/optim' and runs tests/package/computation.ts
 *      (a matmul with gradients, a ViT step with dropout): bit-identical to the same run from source;
 *      the package's types check in a strict TypeScript project;
 *   3. the `wgtrain` bin: --help, `bench --help`, and `lab --preset analysis --quick --plan` printing
 *      what the repository's own lab bundle prints;
 *   4. a Vite app depending on the tarball is built and opened in headless Chromium (SwiftShader),
 *      and a plain page imports the one-file browser bundle: both run the same computation, without
 *      console errors, and agree with the source run.
 * One file, in order: the tarball is packed and installed once.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { transform } from 'esbuild';
import { build as viteBuild, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as wg from '../../src/index.js';
import { chromiumPath, launchChromium, watchPage, type ChromiumSession } from '../../bench/browser.js';
import { expectClose } from '../helpers/check.js';
import { API, computation, type ComputationResult } from './computation.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TMP = mkdtempSync(join(tmpdir(), 'wgtrain-package-'));
const APP = join(TMP, 'app');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
/** SwiftShader compiles every pipeline on the CPU. */
const PAGE_TIMEOUT_MS = 180_000;

interface PackInfo {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

/** Runs a program; resolves with its output, rejects with it when the exit status is not 0. */
function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    execFile(file, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) fail(new Error(`${basename(file)} ${args.join(' ')} (in ${cwd}) failed: ${error.message}\n${stdout}${stderr}`));
      else done({ stdout, stderr });
    });
  });
}
const npm = (args: string[], cwd: string) => run('npm', args, cwd, { npm_config_update_notifier: 'false' });

/** The import line of each entry the computation uses, and the object it is given. */
function apiImports(): string {
  const lines = Object.entries(API).map(([from, names]) => `import { ${names.join(', ')} } from '${from}';`);
  return `${lines.join('\n')}\nconst api = { ${Object.values(API).flat().join(', ')} };\n`;
}

let pack: PackInfo;
let fromSource: ComputationResult;
const timings: string[] = [];
async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    timings.push(`${what} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

beforeAll(async () => {
  // Pack (prepack: npm run build:lib) and install into a project of its own.
  const [info] = JSON.parse((await timed('npm pack (with build:lib)', () => npm(['pack', '--json', '--pack-destination', TMP], ROOT))).stdout) as PackInfo[];
  pack = info;
  mkdirSync(APP);
  writeFileSync(
    join(APP, 'package.json'),
    JSON.stringify({ name: 'wgtrain-package-test', private: true, type: 'module', dependencies: { [PKG.name]: `file:../${pack.filename}` } }, null, 2),
  );
  await timed('npm install of the tarball', () => npm(['install', '--prefer-offline', '--no-audit', '--no-fund'], APP));
  // The computation as plain JavaScript, for Node, the Vite app and the plain page.
  const js = (await transform(readFileSync(join(ROOT, 'tests/package/computation.ts'), 'utf8'), { loader: 'ts', format: 'esm' })).code;
  writeFileSync(join(APP, 'computation.js'), js);
  mkdirSync(join(APP, 'public'));
  writeFileSync(join(APP, 'public', 'computation.js'), js);
}, 600_000);

afterAll(() => {
  console.log(`package test timings: ${timings.join(', ')}`);
  rmSync(TMP, { recursive: true, force: true });
});

describe('the tarball', () => {
  test('holds the built package only, with every kernel inlined', () => {
    const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
    console.log(`${pack.filename}: ${kb(pack.size)} packed, ${kb(pack.unpackedSize)} unpacked, ${pack.files.length} files`);
    const paths = pack.files.map((f) => f.path);
    const allowed = /^(package\.json|README\.md|CHANGELOG\.md|LICENSE|lib\/.+)$/;
    expect(paths.filter((p) => !allowed.test(p))).toEqual([]);
    expect(paths.filter((p) => /(^|\/)(tests?|bench|demos|docs|reports|\.cache|\.vite|node_modules)\//.test(p) || /\.(test\.ts|wgsl|ts)$/.test(p.replace(/\.d\.ts$/, '')))).toEqual([]);
    for (const entry of ['lib/index.js', 'lib/nn.js', 'lib/optim.js', 'lib/lab.js', 'lib/wgtrain.browser.js', 'lib/types/index.d.ts', 'lib/cli/wgtrain.mjs']) expect(paths).toContain(entry);
    // No module of the installed package imports a .wgsl file: each kernel is a string in the code.
    // (A shader's file name may still appear as a label: defineKernel names it in errors.)
    const lib = join(APP, 'node_modules', PKG.name, 'lib');
    const js = readdirSync(lib, { recursive: true, encoding: 'utf8' }).filter((f) => /\.m?js$/.test(f));
    const wgslImport = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s*|\brequire\s*\(\s*)["'][^"']+\.wgsl["']/;
    expect(js.filter((f) => wgslImport.test(readFileSync(join(lib, f), 'utf8')))).toEqual([]);
    expect(readFileSync(join(lib, 'wgtrain.browser.js'), 'utf8')).toMatch(/@compute\s*@workgroup_size/);
  });
});

describe('Node, from the installed package', () => {
  test('matmul with gradients and a ViT step with dropout, bit-identical to the source tree', async () => {
    writeFileSync(
      join(APP, 'node-run.js'),
      `import { init, shutdown } from 'wgtrain';\n${apiImports()}import { computation } from './computation.js';\n` +
        `await init();\ntry {\n  process.stdout.write(JSON.stringify(await computation(api)));\n} finally {\n  shutdown(); // Dawn keeps Node alive while a device exists\n}\n`,
    );
    const installed = await timed('Node run (installed)', () => run(process.execPath, ['node-run.js'], APP));
    await wg.init();
    try {
      fromSource = await timed('Node run (source)', () => computation(wg));
    } finally {
      wg.shutdown();
    }
    expect(fromSource.vit.loss).toBeGreaterThan(0);
    expect(JSON.parse(installed.stdout)).toEqual(fromSource);
  }, 300_000);

  test('its types check in a strict TypeScript project', async () => {
    writeFileSync(
      join(APP, 'types-check.ts'),
      `import { init, randn, type Tensor } from 'wgtrain';\nimport { ViT } from 'wgtrain/nn';\nimport { AdamW } from 'wgtrain/optim';\nimport { Trainer, makeSyntheticImages } from 'wgtrain/lab';\n` +
        `await init();\nconst t: Tensor = randn([2, 3], { seed: 1 }).relu();\nconst model = new ViT({ imageSize: 8, patchSize: 4, numClasses: 3, dim: 8, depth: 1, numHeads: 2 });\n` +
        `new AdamW(model.namedParameters(), { lr: 1e-3 });\nconst data = makeSyntheticImages({ seed: 1 });\nexport const used = [t, data, Trainer];\n`,
    );
    writeFileSync(
      join(APP, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: false, types: [] }, files: ['types-check.ts'] }),
    );
    await timed('tsc of a user project', () => run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], APP));
  }, 300_000);
});

describe('the wgtrain command', () => {
  const wgtrain = (...args: string[]) => run('npx', ['wgtrain', ...args], APP);

  test('--help, --version, bench --help', async () => {
    expect((await wgtrain('--help')).stdout).toMatch(/Usage: wgtrain <command>[\s\S]*\blab\b[\s\S]*\bbench\b/);
    expect((await wgtrain('--version')).stdout.trim()).toBe(PKG.version);
    expect((await wgtrain('lab', '--help')).stdout).toMatch(/^Usage: wgtrain lab \[options\]/);
    expect((await wgtrain('bench', '--help')).stdout).toMatch(/^Usage: wgtrain bench/);
  });

  test('lab --plan prints what the repository lab prints', async () => {
    const args = ['--preset', 'analysis', '--quick', '--plan', '--plan-steps', '0'];
    const installed = await timed('wgtrain lab --plan', () => wgtrain('lab', ...args));
    const name = `package-test-lab-${process.pid}`;
    const bundle = join(ROOT, 'dist-node', `${name}.mjs`);
    try {
      await run(process.execPath, [join(ROOT, 'scripts/build-node.mjs'), 'src/cli/lab.ts', '--name', name], ROOT);
      const repo = await run(process.execPath, [bundle, ...args], TMP);
      expect(installed.stdout).toContain('analysis --quick');
      expect(installed.stdout).toBe(repo.stdout);
    } finally {
      rmSync(bundle, { force: true });
    }
  }, 300_000);
});

describe('Chromium, from the installed package', () => {
  let server: PreviewServer | null = null;
  let chromium: ChromiumSession | null = null;
  let origin = '';

  beforeAll(async () => {
    chromiumPath(); // a clear error when Chromium is missing
    // A Vite app that imports the package by name, and a plain page that imports the one-file bundle.
    const page = (script: string) =>
      `<!doctype html>\n<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>wgtrain</title></head>\n<body><script type="module">\n${script}</script></body></html>\n`;
    const report = `try {\n  await init();\n  window.__result = { ok: true, result: await computation(api) };\n} catch (e) {\n  window.__result = { ok: false, error: String(e?.stack ?? e) };\n}\n`;
    writeFileSync(join(APP, 'index.html'), page(`import { init } from 'wgtrain';\n${apiImports()}import { computation } from './computation.js';\n${report}`));
    copyFileSync(join(APP, 'node_modules', PKG.name, 'lib', 'wgtrain.browser.js'), join(APP, 'public', 'wgtrain.browser.js'));
    const allNames = ['init', ...Object.values(API).flat()];
    writeFileSync(
      join(APP, 'public', 'plain.html'),
      page(`import { ${allNames.join(', ')} } from './wgtrain.browser.js';\nimport { computation } from './computation.js';\nconst api = { ${Object.values(API).flat().join(', ')} };\n${report}`),
    );
    await timed('vite build of the app', () => viteBuild({ root: APP, configFile: false, logLevel: 'warn', build: { outDir: 'dist', target: 'es2022' } }));
    server = await preview({ root: APP, configFile: false, logLevel: 'warn', preview: { host: '127.0.0.1', port: 0, strictPort: true } });
    const address = server.httpServer.address() as AddressInfo;
    origin = `http://127.0.0.1:${address.port}`;
    chromium = await launchChromium();
  }, 600_000);

  afterAll(async () => {
    try {
      await chromium?.close();
    } finally {
      await server?.close();
    }
  });

  async function runPage(path: string): Promise<ComputationResult> {
    const page = await chromium!.browser.newPage();
    const log = watchPage(page);
    try {
      await page.goto(`${origin}/${path}`, { waitUntil: 'load', timeout: PAGE_TIMEOUT_MS });
      await page.waitForFunction(() => (window as { __result?: unknown }).__result !== undefined, { timeout: PAGE_TIMEOUT_MS, polling: 250 });
      const outcome = (await page.evaluate(() => (window as { __result?: unknown }).__result)) as { ok: boolean; result: ComputationResult; error: string };
      if (!outcome.ok) throw new Error(`${path}: ${outcome.error}\nPage output:\n${log.lines.join('\n')}`);
      expect(log.errors, `${path}: console errors`).toEqual([]);
      return outcome.result;
    } finally {
      await page.close();
    }
  }

  /** Chromium's Dawn is not Node's: same kernels, compared within f32 tolerance (as tests/browser.test.ts does). */
  function expectAgrees(browser: ComputationResult): void {
    expect(fromSource, 'the Node test ran first').toBeDefined();
    for (const k of ['y', 'gradA', 'gradB'] as const) expectClose(browser.matmul[k], fromSource.matmul[k], { what: `matmul ${k}` });
    expectClose([browser.vit.loss], [fromSource.vit.loss], { what: 'ViT loss' });
    expect(Object.keys(browser.vit.parameters)).toEqual(Object.keys(fromSource.vit.parameters));
    for (const [name, v] of Object.entries(fromSource.vit.parameters)) expectClose(browser.vit.parameters[name], v, { what: `ViT ${name} after the step` });
  }

  test('a Vite app that depends on the tarball', async () => {
    expectAgrees(await timed('Vite app in Chromium', () => runPage('index.html')));
  }, 300_000);

  test('a plain page that imports lib/wgtrain.browser.js', async () => {
    expectAgrees(await timed('plain page in Chromium', () => runPage('plain.html')));
  }, 300_000);
});
