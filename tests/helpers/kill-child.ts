/**
 * Runs an experiment in a child process (tests/helpers/runner-child.ts, bundled with esbuild) and
 * SIGKILLs it without warning once it reports a given step, as a crash would
 * (tests/runner.test.ts, tests/resume-torn.test.ts).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { ExperimentSpec } from '../../src/lab/experiment/types.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface KillAt {
  /** Kill once this many runs are finished ... */
  runsDone: number;
  /** ... and the current run reports this step or a later one. */
  fromStep: number;
}

/**
 * Runs `spec` into `outDir` (checkpointing every `checkpointEvery` steps) in a child process and
 * kills it at `at`; resolves with the child's line it was killed after ("step <runsDone> <step>").
 * `name` keeps the bundles of test files running at once apart.
 */
export async function runChildUntilKilled(name: string, spec: ExperimentSpec, outDir: string, checkpointEvery: number, at: KillAt): Promise<string> {
  mkdirSync(join(ROOT, 'dist-node'), { recursive: true });
  const bundle = join(ROOT, 'dist-node', `${name}-${process.pid}.mjs`);
  const specFile = `${bundle}.spec.json`;
  await build({
    entryPoints: [join(ROOT, 'tests/helpers/runner-child.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu'],
    loader: { '.wgsl': 'text' },
    logLevel: 'warning',
  });
  writeFileSync(specFile, JSON.stringify(spec));
  try {
    return await new Promise<string>((resolvePromise, reject) => {
      const child = spawn(process.execPath, [bundle, specFile, outDir, String(checkpointEvery)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      let killed = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = [...out.matchAll(/^step (\d+) (\d+)$/gm)].find((x) => Number(x[1]) === at.runsDone && Number(x[2]) >= at.fromStep);
        if (m && !killed) {
          killed = m[0];
          child.kill('SIGKILL');
        }
      });
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      child.on('exit', (code, signal) => {
        if (signal === 'SIGKILL') resolvePromise(killed);
        else reject(new Error(`the child was not killed (exit ${code}):\n${out}\n${err}`));
      });
    });
  } finally {
    rmSync(bundle, { force: true });
    rmSync(specFile, { force: true });
  }
}
