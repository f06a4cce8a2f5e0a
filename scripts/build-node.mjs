#!/usr/bin/env node
/**
 * Bundles a TypeScript entry for Node into one ESM file, dist-node/<name>.mjs, with the `webgpu`
 * package (Dawn's native addon) left external and shaders/*.wgsl inlined as text. The result runs
 * with plain `node` here, and on a GPU server without Node through the kit of scripts/gpu-kit.sh.
 *
 *   node scripts/build-node.mjs                       default entries (bench/bench-node.ts -> bench.mjs)
 *   node scripts/build-node.mjs ENTRY.ts [--name N]   one entry -> dist-node/N.mjs (N: entry's base name)
 *   --external-packages                               leave every npm package external (tools that
 *                                                     run here only, e.g. the browser bench runner)
 */
import { build } from 'esbuild';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBundleOptions } from './node-bundle.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_ENTRIES = [{ entry: 'bench/bench-node.ts', name: 'bench' }];

function parseArgs(argv) {
  const entries = [];
  let externalPackages = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--external-packages') externalPackages = true;
    else if (a === '--name') {
      const name = argv[++i];
      if (!name || !entries.length) throw new Error('build-node: --name NAME must follow an entry');
      entries[entries.length - 1].name = name;
    } else if (a.startsWith('-')) throw new Error(`build-node: unknown option ${a}`);
    else entries.push({ entry: a, name: basename(a, extname(a)) });
  }
  return { entries: entries.length ? entries : DEFAULT_ENTRIES, externalPackages };
}

const { entries, externalPackages } = parseArgs(process.argv.slice(2));
for (const { entry, name } of entries) {
  const outfile = join(root, 'dist-node', `${name}.mjs`);
  await build(nodeBundleOptions({ entry: resolve(root, entry), outfile, externalPackages }));
  console.error(`build-node: ${entry} -> ${outfile.slice(root.length + 1)}`);
}
