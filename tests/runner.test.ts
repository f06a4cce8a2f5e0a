/**
 * The experiment runner on real kernels, with tiny synthetic specs: runs are paired (same seed,
 * same initial weights and data order in every arm), results are written run by run, a finished
 * experiment is skipped on re-run, a folder with another spec is refused, and an interrupted
 * experiment (an exception from onProgress, an AbortSignal, a SIGKILLed child process) resumes to
 * results bit-identical to an uninterrupted run, with no finished run lost or repeated. Shares of
 * the plan (`--part`, `--shard`, `--jobs` workers) run into one folder or into several merged
 * ones give the uninterrupted results too.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { flattenParams } from '../src/lab/analysis.js';
import { buildModel, buildRun, DataCache } from '../src/lab/experiment/build.js';
import { parameterCount } from '../src/lab/experiment/cost.js';
import { mergeFolders } from '../src/lab/experiment/merge.js';
import { AbortError, planRuns, runExperiment, runFiles, RESULTS_FILE, SPEC_FILE, type RunnerProgress } from '../src/lab/experiment/runner.js';
import { metricSteps, resolveCells, validateSpec } from '../src/lab/experiment/spec.js';
import type { ExperimentSpec, ModelSpec, RunResult } from '../src/lab/experiment/types.js';
import { useGpu } from './helpers/gpu.js';
import { runChildUntilKilled } from './helpers/kill-child.js';
import { NO_DROPOUT, tinySpec } from './helpers/specs.js';

useGpu();

const TMP = mkdtempSync(join(tmpdir(), 'wgtrain-runner-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
let dirCount = 0;
const newDir = () => join(TMP, `out${dirCount++}`);

const readLines = <T>(file: string): T[] => readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);

/** A result without the fields that legitimately differ between processes (wall time). */
const comparable = ({ seconds, adapter, ...rest }: RunResult) => {
  expect(seconds).toBeGreaterThan(0);
  expect(adapter.length).toBeGreaterThan(0);
  return rest;
};

let reference: { dir: string; results: RunResult[] } | null = null;

/** The uninterrupted run every interrupted one is compared with (made once). */
async function uninterrupted(): Promise<{ dir: string; results: RunResult[] }> {
  if (!reference) {
    const dir = newDir();
    const { results } = await runExperiment(tinySpec(), { outDir: dir, checkpointEvery: 4 });
    reference = { dir, results };
  }
  return reference;
}

/** Same results as the uninterrupted run, one line per run in results.jsonl, clean streams, no checkpoints left. */
async function expectSameAsUninterrupted(dir: string, results: RunResult[]): Promise<void> {
  const ref = await uninterrupted();
  expect(results.map(comparable)).toEqual(ref.results.map(comparable));
  const lines = readLines<RunResult>(join(dir, RESULTS_FILE));
  expect(lines.map((r) => `${r.cell}/${r.arm}/seed${r.seed}`).sort()).toEqual(planRuns(tinySpec()).map((r) => r.key).sort());
  for (const r of results) {
    const files = runFiles(`${r.cell}/${r.arm}/seed${r.seed}`);
    expect(readLines(join(dir, files.metrics))).toEqual(r.metrics);
    expect(readLines(join(dir, files.curve))).toEqual(r.trainCurve);
    expect(existsSync(join(dir, files.checkpoint))).toBe(false);
  }
}

describe('pairing', () => {
  test('same seed: same initial weights and first batches in every arm; another seed differs', async () => {
    const spec = tinySpec({
      model: { kind: 'vit', patchSize: 4, dim: 8, depth: 2, numHeads: 2 },
      arms: [
        NO_DROPOUT,
        { name: 'standard', regularizer: 'dropout', mode: 'standard', p: 0.3 },
        { name: 'late', regularizer: 'dropout', mode: 'late', p: 0.1, cutoffEpochs: 2 },
        { name: 'early-sd', regularizer: 'stochastic-depth', mode: 'early', p: 0.5, shape: 'linear', cutoffEpochs: 1 },
      ],
    });
    const [cell] = resolveCells(spec);
    const cache = new DataCache([cell]);
    try {
      const data = await cache.get(cell);
      expect(await cache.get(cell)).toBe(data); // uploaded once per cell
      const snapshot = async (arm: number, seed: number) => {
        const run = buildRun(spec, cell, spec.arms[arm], seed, data);
        try {
          const theta = flattenParams(run.model.parameters());
          const weights = await theta.toArray();
          theta.dispose();
          return { weights: Array.from(weights), first: Array.from(run.trainer.sampler.indices(0, 0)), second: Array.from(run.trainer.sampler.indices(1, 3)) };
        } finally {
          run.dispose();
        }
      };
      const a = await snapshot(0, 7);
      for (const arm of [1, 2, 3]) expect(await snapshot(arm, 7), spec.arms[arm].name).toEqual(a);
      const other = await snapshot(0, 8);
      expect(other.weights).not.toEqual(a.weights);
      expect(other.first).not.toEqual(a.first);
    } finally {
      cache.dispose();
    }
  });
});

describe('cost model', () => {
  test('parameterCount (what --plan sizes checkpoints by) is what the models build', () => {
    const shapes = { numClasses: 10, channels: 1, imageSize: 28 };
    const models: ModelSpec[] = [
      { kind: 'mlp', hiddenSizes: [32, 16] },
      { kind: 'vit', patchSize: 7, dim: 32, depth: 2, numHeads: 2 },
      { kind: 'vit', patchSize: 14, dim: 16, depth: 1, numHeads: 4, mlpRatio: 2 },
      { kind: 'mixer', patchSize: 7, dim: 16, depth: 2 },
    ];
    for (const m of models) {
      const model = buildModel(m, shapes, 1);
      try {
        expect(parameterCount(m, 28), JSON.stringify(m)).toBe(model.parameters().reduce((n, p) => n + p.size, 0));
      } finally {
        model.dispose();
      }
    }
  });
});

describe('runExperiment', () => {
  test('writes one result line per finished run as it goes, streams metrics, and skips finished runs on re-run', async () => {
    const dir = newDir();
    const spec = tinySpec();
    const linesAtStart: number[] = [];
    const events: RunnerProgress[] = [];
    const { results, trained } = await runExperiment(spec, {
      outDir: dir,
      checkpointEvery: 4,
      onProgress: (p) => {
        if (p.kind !== 'step') events.push(p);
        if (p.kind === 'start') linesAtStart.push(existsSync(join(dir, RESULTS_FILE)) ? readLines(join(dir, RESULTS_FILE)).length : 0);
      },
    });
    expect(trained).toBe(4);
    expect(linesAtStart).toEqual([0, 1, 2, 3]); // each run's line is written before the next starts
    expect(results.map((r) => `${r.cell}/${r.arm}/seed${r.seed}`)).toEqual(['default/none/seed1', 'default/early/seed1', 'default/none/seed2', 'default/early/seed2']);
    const steps = metricSteps(spec.metrics, 18);
    for (const r of results) {
      expect(r.experiment).toBe('tiny');
      expect(r.steps).toBe(18);
      expect(Number.isFinite(r.finalTrainLoss) && r.finalTrainLoss > 0).toBe(true);
      expect(r.testAccuracy).toBeGreaterThanOrEqual(0);
      expect(r.testAccuracy).toBeLessThanOrEqual(1);
      expect(r.trainCurve.map((c) => c.step)).toEqual([...Array(18).keys()]);
      expect(r.metrics.map((m) => m.step)).toEqual(steps);
      expect(r.metrics[0].distance).toBe(0);
      expect(r.metrics.every((m) => Number.isFinite(m.gdv!) && Number.isFinite(m.gde!) && m.gradNorm > 0)).toBe(true);
    }
    // The early arm logs its drop rate; none logs 0.
    expect(results[1].metrics[0].dropRate).toBeCloseTo(0.2, 12);
    expect(results[0].metrics.every((m) => m.dropRate === 0)).toBe(true);
    // Paired: the none and early arms of a seed start from the same weights on the same batch,
    // so step 0's measurement (dropout on, rate 0.2, vs off) differs only through dropout.
    expect(results[1].metrics[0].distance).toBe(0);
    expect(events.filter((e) => e.kind === 'measure').length).toBe(4 * steps.length);
    const last = events[events.length - 1];
    expect([last.kind, last.runsDone, last.stepsDone, last.stepsTotal]).toEqual(['finish', 4, 72, 72]);
    expect(JSON.parse(readFileSync(join(dir, SPEC_FILE), 'utf8')).name).toBe('tiny');
    await expectSameAsUninterrupted(dir, results);

    // Again into the same folder: nothing is trained, the same results come back.
    const kinds: string[] = [];
    const again = await runExperiment(spec, { outDir: dir, onProgress: (p) => kinds.push(p.kind) });
    expect(again.trained).toBe(0);
    expect(kinds).toEqual(['plan', 'skip', 'skip', 'skip', 'skip']);
    expect(again.results).toEqual(results);
  });

  test('refuses a folder that holds another spec', async () => {
    const { dir } = await uninterrupted();
    const other = structuredClone(tinySpec());
    other.arms[1].p = 0.3;
    await expect(runExperiment(other, { outDir: dir })).rejects.toThrow(/already holds results of a different experiment spec \(arms\[1\]\.p: 0\.2 there, 0\.3 here\)/);
    // The description is prose: changing it is not a different experiment.
    const reworded = { ...tinySpec(), description: 'the same runs, described anew' };
    expect((await runExperiment(reworded, { outDir: dir })).trained).toBe(0);
  });

  test('an exception mid-run: re-running resumes from the last checkpoint, results identical, nothing lost or repeated', async () => {
    const dir = newDir();
    const spec = tinySpec();
    const crashAt = (kind: RunnerProgress['kind'], step: number) => (p: RunnerProgress) => {
      if (p.kind === kind && p.runsDone === 2 && p.step === step) throw new Error('simulated crash');
    };
    // In the third run, right after measuring step 6, which is also a checkpoint (epoch end): the
    // stream holds a point the resumed run measures again, so it must be cut back.
    await expect(runExperiment(spec, { outDir: dir, checkpointEvery: 4, onProgress: crashAt('measure', 6) })).rejects.toThrow('simulated crash');
    expect(readLines(join(dir, runFiles('default/none/seed2').metrics)).map((m: any) => m.step)).toEqual([0, 2, 4, 6]);
    // Again in the same run at step 9: its last checkpoint is at step 8 (every 4 steps).
    const starts: RunnerProgress[] = [];
    const crash9 = crashAt('step', 9);
    await expect(runExperiment(spec, {
      outDir: dir,
      checkpointEvery: 4,
      onProgress: (p) => {
        if (p.kind === 'start') starts.push(p);
        crash9(p);
      },
    })).rejects.toThrow('simulated crash');
    expect(readLines(join(dir, RESULTS_FILE)).length).toBe(2);
    // A torn last line, as if the process had died while appending.
    appendFileSync(join(dir, RESULTS_FILE), '{"experiment":"tiny","cell":"def');
    const { results, trained } = await runExperiment(spec, {
      outDir: dir,
      checkpointEvery: 4,
      onProgress: (p) => {
        if (p.kind === 'start') starts.push(p);
      },
    });
    expect(trained).toBe(2);
    expect(starts.map((s) => [s.key, s.resumedFrom])).toEqual([['default/none/seed2', 6], ['default/none/seed2', 8], ['default/early/seed2', undefined]]);
    await expectSameAsUninterrupted(dir, results);
  });

  test('an AbortSignal stops after a checkpoint; the re-run loses no step', async () => {
    const dir = newDir();
    const spec = tinySpec();
    const controller = new AbortController();
    await expect(runExperiment(spec, {
      outDir: dir,
      checkpointEvery: 100, // only epoch ends and the stop itself
      signal: controller.signal,
      onProgress: (p) => {
        if (p.kind === 'step' && p.runsDone === 1 && p.step === 5) controller.abort();
      },
    })).rejects.toBeInstanceOf(AbortError);
    expect(existsSync(join(dir, runFiles('default/early/seed1').checkpoint))).toBe(true);
    const starts: RunnerProgress[] = [];
    const { results } = await runExperiment(spec, { outDir: dir, onProgress: (p) => p.kind === 'start' && starts.push(p) });
    expect(starts[0].resumedFrom).toBe(5);
    await expectSameAsUninterrupted(dir, results);
  });

  test('a SIGKILLed process: the re-run finishes with identical results', async () => {
    const dir = newDir();
    // Second run (one finished), past its step-4 checkpoint: kill without warning.
    const killedAt = await runChildUntilKilled('runner-child-test', tinySpec(), dir, 4, { runsDone: 1, fromStep: 6 });
    expect(killedAt).toMatch(/^step 1 \d+$/);
    expect(readLines(join(dir, RESULTS_FILE)).length).toBe(1);
    const { results, trained } = await runExperiment(tinySpec(), { outDir: dir, checkpointEvery: 4 });
    expect(trained).toBe(3);
    await expectSameAsUninterrupted(dir, results);
  });
});

describe('shares of the plan', () => {
  const keys = (rs: RunResult[]) => rs.map((r) => `${r.cell}/${r.arm}/seed${r.seed}`);

  test('parts run one after the other into one folder: each trains its share only, together the uninterrupted results', async () => {
    const dir = newDir();
    const spec = tinySpec();
    const plan = planRuns(spec).map((r) => r.key);
    const first = await runExperiment(spec, { outDir: dir, checkpointEvery: 4, shards: [{ index: 1, count: 2 }] });
    // Four runs of equal cost: the first seed, then the second (whole seeds, so each part is paired on its own).
    expect([first.trained, keys(first.results)]).toEqual([2, plan.slice(0, 2)]);
    const second = await runExperiment(spec, { outDir: dir, checkpointEvery: 4, shards: [{ index: 2, count: 2 }] });
    expect([second.trained, keys(second.results)]).toEqual([2, plan.slice(2)]);
    const again = await runExperiment(spec, { outDir: dir, shards: [{ index: 1, count: 2 }] });
    expect(again.trained).toBe(0);
    const all = await runExperiment(spec, { outDir: dir });
    expect(all.trained).toBe(0);
    await expectSameAsUninterrupted(dir, all.results);
  });

  test('shards in separate folders, merged: the uninterrupted results, in plan order', async () => {
    const spec = tinySpec();
    const [a, b, out] = [newDir(), newDir(), newDir()];
    // Shares of shares, as a --jobs worker of a --shard machine cuts them: 2/2 of 1/1, 1/2 of 1/1.
    await runExperiment(spec, { outDir: b, checkpointEvery: 4, shards: [{ index: 1, count: 1 }, { index: 2, count: 2 }] });
    await runExperiment(spec, { outDir: a, checkpointEvery: 4, shards: [{ index: 1, count: 2 }] });
    const merged = await mergeFolders([b, a], out);
    expect([merged.missing, merged.duplicates]).toEqual([[], []]);
    const ref = await uninterrupted();
    expect(merged.results.map(comparable)).toEqual(ref.results.map(comparable));
    const lines = readLines<RunResult>(join(out, RESULTS_FILE));
    expect(lines.map(comparable)).toEqual(ref.results.map(comparable));
    expect(readFileSync(join(out, SPEC_FILE), 'utf8')).toBe(readFileSync(join(ref.dir, SPEC_FILE), 'utf8'));
    // The merged folder is an ordinary output folder: a run into it has nothing left to do.
    expect((await runExperiment(spec, { outDir: out })).trained).toBe(0);
  });

  test('a folder merged into itself keeps its results.jsonl as it is, a torn line of a run still being written included', async () => {
    const ref = await uninterrupted();
    const dir = newDir();
    mkdirSync(dir);
    for (const f of [SPEC_FILE, RESULTS_FILE]) writeFileSync(join(dir, f), readFileSync(join(ref.dir, f)));
    appendFileSync(join(dir, RESULTS_FILE), '{"experiment":"tiny","ce');
    const before = readFileSync(join(dir, RESULTS_FILE), 'utf8');
    const merged = await mergeFolders([dir], dir);
    expect(merged.results.map(comparable)).toEqual(ref.results.map(comparable));
    expect(readFileSync(join(dir, RESULTS_FILE), 'utf8')).toBe(before);
  });
});
