/**
 * Resuming from torn files (issue 16, defect 5). A results or stream line cut by a kill (with or
 * without its newline) is dropped with a warning naming the file and line, and the run it belonged
 * to is done again; a bad line anywhere else is an error naming the file and line. A torn, empty or
 * bit-flipped run checkpoint is set aside as <run>.damaged.ckpt and the run restarts from its first
 * step. Either way the final results equal an uninterrupted run's. Includes a SIGKILLed child
 * process whose results line and checkpoint are then torn. The store refuses paths that would
 * leave its folder.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { runExperiment, runFiles, RESULTS_FILE, type RunnerProgress } from '../src/lab/experiment/runner.js';
import { validateSpec } from '../src/lab/experiment/spec.js';
import { nodeStore } from '../src/lab/experiment/store.js';
import type { ExperimentSpec, RunResult } from '../src/lab/experiment/types.js';
import { useGpu } from './helpers/gpu.js';
import { runChildUntilKilled } from './helpers/kill-child.js';
import { EARLY_DROPOUT, tinySpec } from './helpers/specs.js';

useGpu();

const TMP = mkdtempSync(join(tmpdir(), 'wgtrain-torn-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
let dirCount = 0;
const newDir = () => join(TMP, `out${dirCount++}`);

let warnings: string[] = [];
beforeEach(() => {
  warnings = [];
  vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void warnings.push(args.join(' ')));
});
afterEach(() => vi.restoreAllMocks());

/** 2 seeds × 1 arm of an MLP on 8×8 synthetic images: 6 steps per epoch, 12 per run, metrics at 0, 3, 6, 9, 11. */
const spec = (): ExperimentSpec => tinySpec({
  name: 'torn',
  model: { kind: 'mlp', hiddenSizes: [8] },
  data: { kind: 'synthetic', trainSize: 48, testSize: 16, imageSize: 8, seed: 1 },
  arms: [EARLY_DROPOUT],
  epochs: 2,
  metrics: { denseEvery: 3, denseUntil: 0, every: 3, numBatches: 2 },
});

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
const comparable = ({ seconds, adapter, ...rest }: RunResult) => rest;

let reference: RunResult[] | null = null;
async function uninterrupted(): Promise<RunResult[]> {
  reference ??= (await runExperiment(spec(), { outDir: newDir(), checkpointEvery: 4 })).results;
  return reference;
}

async function expectSameAsUninterrupted(dir: string, results: RunResult[]): Promise<void> {
  expect(results.map(comparable)).toEqual((await uninterrupted()).map(comparable));
  expect(lines(join(dir, RESULTS_FILE)).map((l) => JSON.parse(l)).map(comparable)).toEqual(results.map(comparable));
  for (const r of results) {
    const files = runFiles(`${r.cell}/${r.arm}/seed${r.seed}`);
    expect(lines(join(dir, files.metrics)).map((l) => JSON.parse(l))).toEqual(r.metrics);
    expect(existsSync(join(dir, files.checkpoint))).toBe(false);
  }
}

/** Runs until the first checkpoint of the second run is written, then throws (a crash). */
async function crashInSecondRun(dir: string): Promise<void> {
  await expect(runExperiment(spec(), {
    outDir: dir,
    checkpointEvery: 4,
    onProgress: (p: RunnerProgress) => {
      if (p.kind === 'step' && p.runsDone === 1 && p.step === 5) throw new Error('simulated crash');
    },
  })).rejects.toThrow('simulated crash');
}

const SECOND = runFiles('default/early/seed2');

describe('torn lines', () => {
  test('a results line cut in the middle, with or without a newline after it, is dropped and its run done again', async () => {
    for (const newline of [false, true]) {
      const dir = newDir();
      await runExperiment(spec(), { outDir: dir, checkpointEvery: 4 });
      const [first, second] = lines(join(dir, RESULTS_FILE));
      writeFileSync(join(dir, RESULTS_FILE), `${first}\n${second.slice(0, second.length >> 1)}${newline ? '\n' : ''}`);
      const { results, trained } = await runExperiment(spec(), { outDir: dir, checkpointEvery: 4 });
      expect(trained).toBe(1);
      expect(warnings.join('\n')).toMatch(new RegExp(`${RESULTS_FILE}: line 2 was torn \\(cut off mid-write, as by a kill\\) and is dropped`));
      await expectSameAsUninterrupted(dir, results);
      warnings = [];
    }
  });

  test('a torn metrics line of the run in progress is dropped and measured again', async () => {
    const dir = newDir();
    await crashInSecondRun(dir);
    const file = join(dir, SECOND.metrics);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, `${text}{"step":6,"gradNorm":0.1\n`);
    const { results } = await runExperiment(spec(), { outDir: dir, checkpointEvery: 4 });
    expect(warnings.join('\n')).toMatch(/seed2\.metrics\.jsonl: line 3 was torn/);
    await expectSameAsUninterrupted(dir, results);
  });

  test('a bad line before the last is an error naming the file and the line', async () => {
    const dir = newDir();
    await runExperiment(spec(), { outDir: dir, checkpointEvery: 4 });
    const [first, second] = lines(join(dir, RESULTS_FILE));
    writeFileSync(join(dir, RESULTS_FILE), `${first.slice(0, 40)}\n${second}\n`);
    await expect(runExperiment(spec(), { outDir: dir })).rejects.toThrow(
      new RegExp(`${RESULTS_FILE}: line 1 is not a complete JSON object \\(.*\\); only a last line can be torn by a kill`),
    );
    writeFileSync(join(dir, RESULTS_FILE), `${first}\n[1, 2]\n${second}\n`);
    await expect(runExperiment(spec(), { outDir: dir })).rejects.toThrow(/line 2 is not a complete JSON object \(a JSON array, not an object\)/);
  });
});

describe('torn checkpoints', () => {
  for (const [what, damage] of [
    ['a truncated', (f: string) => truncateSync(f, statSync(f).size >> 1)],
    ['an empty', (f: string) => truncateSync(f, 0)],
    ['a bit-flipped', (f: string) => {
      const b = readFileSync(f);
      b[b.length - 3] ^= 0x10;
      writeFileSync(f, b);
    }],
  ] as [string, (f: string) => void][]) {
    test(`${what} checkpoint is set aside, named, and its run restarts from its first step`, async () => {
      const dir = newDir();
      await crashInSecondRun(dir);
      const ckpt = join(dir, SECOND.checkpoint);
      expect(existsSync(ckpt)).toBe(true);
      damage(ckpt);
      const damaged = readFileSync(ckpt);
      const starts: RunnerProgress[] = [];
      const { results, trained } = await runExperiment(spec(), {
        outDir: dir,
        checkpointEvery: 4,
        onProgress: (p) => p.kind === 'start' && starts.push(p),
      });
      expect(trained).toBe(1);
      expect(starts.map((s) => [s.key, s.step, s.resumedFrom])).toEqual([['default/early/seed2', 0, undefined]]);
      expect(warnings.join('\n')).toMatch(new RegExp(`${SECOND.checkpoint.replace(/[.]/g, '\\.')}: .*\\n  Set aside as .*seed2\\.damaged\\.ckpt; default/early/seed2 restarts from its first step`));
      expect(readFileSync(join(dir, SECOND.checkpoint.replace(/\.ckpt$/, '.damaged.ckpt')))).toEqual(damaged);
      await expectSameAsUninterrupted(dir, results);
    });
  }

  test('a sound checkpoint of another run is still an error (not set aside)', async () => {
    const dir = newDir();
    await crashInSecondRun(dir);
    const other = readFileSync(join(dir, SECOND.checkpoint));
    const wider = validateSpec({ ...spec(), model: { kind: 'mlp', hiddenSizes: [9] } });
    rmSync(join(dir, 'spec.json'));
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(wider));
    await expect(runExperiment(wider, { outDir: dir, checkpointEvery: 4 })).rejects.toThrow(/seed2\.ckpt does not match this run: .*layers\.0\.weight: expected shape \[9,64\], got \[8,64\]/);
    expect(readFileSync(join(dir, SECOND.checkpoint))).toEqual(other);
  });
});

test('a SIGKILLed process whose results line and checkpoint are then torn: the re-run finishes with identical results', async () => {
  const dir = newDir();
  // Second run, past its step-4 checkpoint: kill without warning.
  await runChildUntilKilled('torn-child-test', spec(), dir, 4, { runsDone: 1, fromStep: 6 });
  // As if the kill had also caught a results append and a checkpoint write half-way (the store
  // writes atomically, so only outside damage does the latter).
  const results = join(dir, RESULTS_FILE);
  writeFileSync(results, readFileSync(results, 'utf8') + '{"experiment":"torn","cell":"def');
  const ckpt = join(dir, SECOND.checkpoint);
  truncateSync(ckpt, statSync(ckpt).size - 100);
  const rerun = await runExperiment(spec(), { outDir: dir, checkpointEvery: 4 });
  expect(rerun.trained).toBe(1);
  expect(warnings.join('\n')).toMatch(/results\.jsonl: line 2 was torn/);
  expect(warnings.join('\n')).toMatch(/Set aside as .*seed2\.damaged\.ckpt/);
  await expectSameAsUninterrupted(dir, rerun.results);
});

describe('the store stays in its folder', () => {
  test('paths that would leave it are refused, whatever the name', async () => {
    const dir = newDir();
    const store = await nodeStore(join(dir, 'inner'));
    for (const bad of ['../escape.txt', 'runs/../../escape.txt', '/etc/escape', 'a//b', './a', 'runs\\..\\..\\x', 'C:evil', 'a\0b', '', '..']) {
      await expect(store.write(bad, 'x'), JSON.stringify(bad)).rejects.toThrow(/refusing the path/);
      await expect(store.append(bad, 'x')).rejects.toThrow(/refusing the path/);
      await expect(store.readText(bad)).rejects.toThrow(/refusing the path/);
      await expect(store.remove(bad)).rejects.toThrow(/refusing the path/);
    }
    expect(existsSync(join(dir, 'escape.txt'))).toBe(false);
    await store.write('runs/ok.txt', 'fine');
    expect(await store.readText('runs/ok.txt')).toBe('fine');
  });
});
