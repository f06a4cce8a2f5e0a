#!/usr/bin/env node
/**
 * `npm run build:lib`: the npm package's files, in lib/ (dist/ is the demo site's, `npm run build`).
 *
 *   lib/<name>.js + chunk-*.js   ESM for Node and bundlers, one file per public entry of package.json
 *                                `exports`, shared code in chunks (one copy of the engine whichever
 *                                entries an app imports), every imported .wgsl file inlined as a string,
 *                                npm dependencies left as imports, source maps
 *   lib/types/**.d.ts            declarations (tsc, with declaration maps), the `types` of `exports`
 *   lib/wgtrain.browser.js       one self-contained, minified ESM file for a page without a bundler
 *   lib/cli/*.mjs                the `wgtrain` command (bin) and the commands it loads, each a
 *                                self-contained Node bundle (only `webgpu` external)
 *   lib/THIRD-PARTY-LICENSES.txt the licenses of the npm packages bundled into the files above
 *
 * The entries come from package.json: each `exports` condition `types: ./lib/types/P.d.ts` names its
 * source, src/P.ts; an `import` ending in .browser.js is the single-file bundle. The build fails if
 * any library output imports a Node built-in statically: Node-only code (reading files) must load
 * node:* with a dynamic import when called, so that browser bundlers can build an app that imports
 * wgtrain. `npm pack` runs this first (the `prepack` script).
 *
 * package.json's `sideEffects` lists the repository's source folders only: in the package, lib/ is
 * side-effect free for the apps that bundle it (the engine's code sits in chunks that every entry
 * imports bindings from, so nothing the core does when loaded can be left out), while this build,
 * the demo site and the Node bundles treat src/ as before (an import for its effect alone is kept).
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBundleOptions } from './node-bundle.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(root, 'lib');
const TYPES = './lib/types/';

/** The CLI: the bin's dispatcher and the command bundles it loads (src/cli/wgtrain.ts). */
const CLI_BUNDLES = [
  { entry: 'src/cli/wgtrain.ts', out: 'cli/wgtrain.mjs' },
  { entry: 'src/cli/lab.ts', out: 'cli/lab.mjs' },
  { entry: 'bench/bench-node.ts', out: 'cli/bench.mjs' },
];

/** The public entries of package.json `exports`: { name, source, browser }. */
export function packageEntries(pkg) {
  const entries = [];
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target !== 'object' || !target.types || !target.import) continue;
    if (!target.types.startsWith(TYPES) || !target.types.endsWith('.d.ts')) throw new Error(`build-lib: exports['${subpath}'].types must be ${TYPES}<path>.d.ts, got ${target.types}`);
    const source = join('src', `${target.types.slice(TYPES.length, -'.d.ts'.length)}.ts`);
    if (!existsSync(join(root, source))) throw new Error(`build-lib: exports['${subpath}'] names ${source}, which does not exist`);
    const out = target.import.replace(/^\.\/lib\//, '');
    entries.push({ subpath, source, out, browser: out.endsWith('.browser.js') });
  }
  return entries;
}

/** Every output's static imports of node:* (dynamic ones are allowed: they run only when called). */
function staticNodeImports(metafile) {
  const found = [];
  for (const [file, output] of Object.entries(metafile.outputs)) {
    for (const imp of output.imports) {
      if (imp.external && imp.path.startsWith('node:') && imp.kind === 'import-statement') found.push(`${file} imports ${imp.path}`);
    }
  }
  return found;
}

/** The npm packages whose code went into a bundle (from esbuild's inputs): name -> its folder. */
function bundledPackages(metafile, into) {
  for (const input of Object.keys(metafile.inputs)) {
    const m = input.match(/^(.*?node_modules\/((?:@[^/]+\/)?[^/]+))\//);
    if (m) into.set(m[2], resolve(m[1])); // esbuild's paths are relative to the working directory
  }
}

function licenseText([name, dir]) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const file = ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'license', 'LICENCE', 'LICENSE-MIT'].map((f) => join(dir, f)).find(existsSync);
  return `${name}@${pkg.version} (${pkg.license ?? 'license not stated'})\n\n${file ? readFileSync(file, 'utf8').trim() : '(no license file in the package)'}\n`;
}

async function buildLib() {
  const started = performance.now();
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const entries = packageEntries(pkg);
  rmSync(OUT, { recursive: true, force: true });
  const bundled = new Map();
  const wgsl = { '.wgsl': 'text' }; // any imported .wgsl file becomes a string module

  // The library: ESM with shared chunks; dependencies stay imports (npm installs them).
  const lib = await build({
    entryPoints: entries.filter((e) => !e.browser).map((e) => ({ in: join(root, e.source), out: e.out.replace(/\.js$/, '') })),
    outdir: OUT,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    packages: 'external',
    external: ['node:*'],
    loader: wgsl,
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  });

  // The page without a bundler: everything in one file, dependencies included.
  const browser = await build({
    entryPoints: entries.filter((e) => e.browser).map((e) => ({ in: join(root, e.source), out: e.out.replace(/\.js$/, '') })),
    outdir: OUT,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external: ['node:*'],
    loader: wgsl,
    minify: true,
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  });
  bundledPackages(browser.metafile, bundled);

  const nodeOnly = [...staticNodeImports(lib.metafile), ...staticNodeImports(browser.metafile)];
  if (nodeOnly.length) {
    throw new Error(`build-lib: the library imports Node built-ins statically, which breaks browser bundles (load them with await import() where they are used):\n  ${nodeOnly.join('\n  ')}`);
  }

  // The CLI: self-contained Node programs (no source maps: they would be megabytes of vega and tfjs).
  for (const { entry, out } of CLI_BUNDLES) {
    const r = await build({ ...nodeBundleOptions({ entry: join(root, entry), outfile: join(OUT, out), minify: true }), metafile: true });
    bundledPackages(r.metafile, bundled);
  }

  writeFileSync(
    join(OUT, 'THIRD-PARTY-LICENSES.txt'),
    `The npm packages bundled into lib/wgtrain.browser.js and lib/cli/*.mjs, with their licenses.\n\n${[...bundled].sort(([a], [b]) => a.localeCompare(b)).map(licenseText).join(`\n${'-'.repeat(80)}\n\n`)}`,
  );

  // Declarations for the entries' sources and everything they reach.
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.lib.json')], { stdio: 'inherit', cwd: root });

  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.error(`build-lib: ${entries.map((e) => `${e.subpath} <- ${e.source}`).join(', ')}; bin ${CLI_BUNDLES.length} bundles; ${bundled.size} bundled packages -> ${relative(root, OUT)}/ in ${seconds} s`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await buildLib();
export { buildLib };
