/**
 * Planning without a GPU: shares (deterministic, contiguous, complete, cost-balanced), the cost
 * model (multiply-adds and checkpoint counts against independent counts), `--plan` output for
 * every preset (parts that fit the GPU window, MDE per comparison from a pilot or the defaults),
 * and the merge rules (same spec, duplicates, conflicts, missing runs) on constructed folders.
 */
import { describe, expect, test } from 'vitest';
import { checkpointCount, isCheckpointStep, forwardMacsPerImage, GPU_ASSUMPTION, gpuStepFactor, runCostOf } from '../src/lab/experiment/cost.js';
import { mergeRunFolders, parseResults, type RunFolder } from '../src/lab/experiment/merge.js';
import { formatPlan, makePlan } from '../src/lab/experiment/plan.js';
import { DEFAULT_PAIRED_SD, PAPER_EFFECTS, PilotSds, plannedComparisons, powerTable, seedsForEffect } from '../src/lab/experiment/power.js';
import { PRESET_NAMES, preset, presetParts } from '../src/lab/experiment/presets/index.js';
import { planRuns } from '../src/lab/experiment/runner.js';
import { parseShard, shareIndices, shareOf, shareOfAll } from '../src/lab/experiment/shard.js';
import { quickSpec, resolveCells, validateSpec } from '../src/lab/experiment/spec.js';
import { minimumDetectableEffect, sampleStd } from '../src/lab/experiment/stats.js';
import type { CellTiming } from '../src/lab/experiment/timing.js';
import { runKey, type ExperimentSpec, type RunResult } from '../src/lab/experiment/types.js';

/** A small deterministic generator for the constructed data (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('shares', () => {
  test('parseShard reads K/N and names the option in its errors', () => {
    expect(parseShard('3/8')).toEqual({ index: 3, count: 8 });
    expect(parseShard(' 1 / 1 ')).toEqual({ index: 1, count: 1 });
    for (const bad of ['0/2', '3/2', '2', 'a/b', '1/0', '-1/2', '1.5/2']) {
      expect(() => parseShard(bad, '--shard'), bad).toThrow(`--shard must be K/N with 1 <= K <= N (for example 2/4), got '${bad}'`);
    }
  });

  test('every item in exactly one share, shares contiguous and in order, balanced by cost, the same every time', () => {
    const next = rng(7);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(next() * 40);
      const count = 1 + Math.floor(next() * 9);
      const costs = Array.from({ length: n }, () => 0.1 + next() * (next() < 0.2 ? 20 : 1));
      const shares = shareIndices(costs, count);
      expect(shareIndices(costs, count)).toEqual(shares);
      // Non-decreasing: each share is one contiguous block, in plan order.
      for (let i = 1; i < n; i++) expect(shares[i]).toBeGreaterThanOrEqual(shares[i - 1]);
      expect(shares.every((s) => Number.isInteger(s) && s >= 0 && s < count)).toBe(true);
      // Balanced: no share exceeds the fair share by more than the dearest item.
      const total = costs.reduce((a, b) => a + b, 0);
      const perShare = Array.from({ length: count }, (_, k) => costs.filter((_, i) => shares[i] === k).reduce((a, b) => a + b, 0));
      const dearest = Math.max(...costs);
      for (const c of perShare) expect(c).toBeLessThanOrEqual(total / count + dearest + 1e-9);
      // shareOf gives the same partition, items in order.
      const items = costs.map((c, i) => ({ i, c }));
      const union = Array.from({ length: count }, (_, k) => shareOf(items, (x) => x.c, { index: k + 1, count })).flat();
      expect(union.map((x) => x.i)).toEqual(items.map((x) => x.i));
    }
    // Equal costs split evenly.
    expect(shareIndices([1, 1, 1, 1, 1, 1], 3)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(() => shareIndices([1, 0], 2)).toThrow('cost 1 must be a positive finite number');
  });

  test('shares of shares: a part split among workers covers the part exactly', () => {
    const spec = preset('regime-finder');
    const plan = planRuns(spec);
    const cost = runCostOf(spec);
    const parts = presetParts('regime-finder');
    const seen: string[] = [];
    for (let k = 1; k <= parts; k++) {
      const part = shareOf(plan, cost, { index: k, count: parts });
      const workers = [1, 2, 3].flatMap((j) => shareOfAll(plan, cost, [{ index: k, count: parts }, { index: j, count: 3 }]));
      expect(workers.map((r) => r.key)).toEqual(part.map((r) => r.key));
      seen.push(...part.map((r) => r.key));
    }
    expect(seen).toEqual(plan.map((r) => r.key));
  });
});

describe('cost model', () => {
  test('multiply-adds: an MLP counts its weights; a ViT its layers per token and attention', () => {
    // 784-32-32-10: the weight matrices.
    expect(forwardMacsPerImage({ kind: 'mlp', hiddenSizes: [32, 32] }, 28)).toBe(784 * 32 + 32 * 32 + 32 * 10);
    // ViT, 28x28 in patches of 14: 4 patches + cls = 5 tokens, dim 8, MLP 16 (ratio 2), depth 1, 10 classes.
    const embed = 4 * 14 * 14 * 8;
    const perToken = 8 * 24 /* qkv */ + 8 * 8 /* proj */ + 8 * 16 + 16 * 8; /* MLP */
    const attention = 5 * 5 * 8 /* scores */ + 5 * 5 * 8; /* weighted sum */
    expect(forwardMacsPerImage({ kind: 'vit', patchSize: 14, dim: 8, depth: 1, numHeads: 2, mlpRatio: 2 }, 28)).toBe(embed + 5 * perToken + attention + 8 * 10);
    // Mixer, 4 patches of 14, dim 8: token MLP 4 -> 4 (0.5 · dim) -> 4 per channel, channel MLP 8 -> 32 -> 8 per token.
    const mixer = 4 * 196 * 8 + 8 * (4 * 4 + 4 * 4) + 4 * (8 * 32 + 32 * 8) + 8 * 10;
    expect(forwardMacsPerImage({ kind: 'mixer', patchSize: 14, dim: 8, depth: 1 }, 28)).toBe(mixer);
  });

  test('the GPU factor: 1 for vit-xs at batch 128 and for anything smaller, proportional above', () => {
    const ref = GPU_ASSUMPTION.reference;
    expect(gpuStepFactor(ref, 28, 128)).toBe(1);
    expect(gpuStepFactor({ kind: 'mlp', hiddenSizes: [32, 32] }, 28, 250)).toBe(1);
    expect(gpuStepFactor(ref, 28, 256)).toBeCloseTo(2, 12);
    const vitM = { kind: 'vit', patchSize: 7, dim: 128, depth: 4, numHeads: 4 } as const;
    expect(gpuStepFactor(vitM, 28, 128)).toBeCloseTo(forwardMacsPerImage(vitM, 28) / forwardMacsPerImage(ref, 28), 12);
  });

  test('checkpoint writes: every checkpointEvery steps and every epoch end of epochs at least a quarter that long, counted once where both fall', () => {
    expect(isCheckpointStep(8, 8, 200)).toBe(false); // an 8-step epoch: no checkpoint at its end
    expect(isCheckpointStep(200, 8, 200)).toBe(true);
    expect(isCheckpointStep(50, 50, 200)).toBe(true);
    for (const [T, perEpoch, every] of [[1800, 100, 200], [600, 10, 200], [720, 240, 200], [18, 6, 4], [7, 7, 3], [100, 3, 7], [720, 8, 200], [300, 50, 200]]) {
      let brute = 0;
      for (let s = 1; s <= T; s++) if (s % every === 0 || (4 * perEpoch >= every && s % perEpoch === 0)) brute++;
      expect(checkpointCount(T, perEpoch, every), `${T}/${perEpoch}/${every}`).toBe(brute);
    }
  });
});

/** A stand-in timing: what the CLI measures on the adapter, made up here so the test needs no GPU. */
function fakeTimings(spec: ExperimentSpec): Map<string, CellTiming> {
  return new Map(resolveCells(spec).map((c) => [c.name, {
    cell: c.name, timedOn: c.name, stepsTimed: 3, secondsPerStep: 0.5, secondsPerEvalImage: 0.001,
    secondsPerCheckpoint: 0.01, secondsPerMetricPoint: 7, metricTimed: false,
  }]));
}

describe('--plan', () => {
  test.each(PRESET_NAMES)('%s: runs, steps, costs, GPU parts and the MDE of every comparison', (name) => {
    const spec = preset(name);
    const parts = presetParts(name);
    const plan = makePlan(spec, { parts, timings: fakeTimings(spec), adapter: 'a fake adapter' });
    const text = formatPlan(plan, { name });
    const cells = resolveCells(spec);
    const runs = spec.arms.length * cells.length * spec.seeds.length;
    expect(plan.runs.length).toBe(runs);
    expect(text).toContain(`= ${runs} runs (nothing is trained or written)`);
    expect(plan.steps).toBe(planRuns(spec).reduce((n, r) => n + r.totalSteps, 0));
    expect(text).toContain(`${plan.steps.toLocaleString('en-US')} optimizer steps`);
    expect(plan.totalSteq).toBeGreaterThan(plan.steps);
    if (spec.metrics) expect(plan.metricSteq).toBeGreaterThan(0);
    else expect(plan.metricSteq).toBe(0);
    // This adapter: the fake timing, extrapolated.
    expect(text).toContain('On this adapter (a fake adapter), measured:');
    expect(plan.hereSeconds).toBeGreaterThan(plan.steps * 0.5);
    // GPU: parts partition the runs; every part of presets 1 to 4 fits the window (the rule).
    if (parts > 1) {
      expect(plan.parts.length).toBe(parts);
      expect(plan.parts.flatMap((p) => p.runs.map((r) => r.key))).toEqual(plan.runs.map((r) => r.key));
      expect(plan.parts.reduce((n, p) => n + p.gpuSeconds, 0)).toBeCloseTo(plan.gpuSeconds, 6);
      expect(text).toContain(`part ${parts}/${parts}: runs`);
    }
    if (['regime-finder', 'early-dropout', 'analysis', 'late-dropout'].includes(name)) {
      const shares = parts > 1 ? plan.parts : [{ gpuSeconds: plan.gpuSeconds }];
      for (const p of shares) expect(p.gpuSeconds).toBeLessThanOrEqual(GPU_ASSUMPTION.windowSeconds);
      expect(text).not.toContain('does NOT fit');
    }
    // Power: one row per comparison and field, each printed.
    const comparisons = plannedComparisons(spec);
    expect(plan.power.length).toBe(2 * comparisons.length);
    for (const c of comparisons) expect(text).toContain(`${c.cell}: ${c.arm} vs ${c.comparator} (${c.role}), test accuracy: SD`);
    expect(text).toContain(`paired t-test over ${spec.seeds.length} seeds, two-sided alpha ${spec.alpha ?? 0.05}`);
    expect(text).toContain(DEFAULT_PAIRED_SD.testAccuracy.source);
  });

  test('the quick variant plans too, and a --shard / --jobs split is shown', () => {
    const spec = quickSpec(preset('analysis'));
    const plan = makePlan(spec, { shards: [{ index: 2, count: 2 }], jobs: 2 });
    expect(plan.share!.runs.map((r) => r.key)).toEqual(shareOf(planRuns(spec), runCostOf(spec), { index: 2, count: 2 }).map((r) => r.key));
    expect(plan.workers.flatMap((w) => w.runs)).toEqual(plan.share!.runs);
    const text = formatPlan(plan);
    expect(text).toContain('this share (2/2)');
    expect(text).toContain('worker 2/2:');
    expect(text).not.toContain('On this adapter'); // no timing given
  });

  test('comparisons: early vs none (claim), late vs standard (claim) and vs none (shown), standard vs none (premise), LR arms (baseline check)', () => {
    const late = plannedComparisons(preset('late-dropout')).map((c) => `${c.arm}/${c.comparator}/${c.role}`);
    expect(late).toEqual(['standard/none/premise', 'late/standard/claim', 'late/none/shown']);
    const regime = plannedComparisons(preset('cpu-regime')).filter((c) => c.cell === 'mlp32').map((c) => `${c.arm}/${c.comparator}/${c.role}`);
    expect(regime).toEqual(['standard/none/premise', 'none-lr3e-4/none/baseline check', 'none-lr3e-3/none/baseline check']);
    const early = plannedComparisons(preset('early-dropout'));
    expect(early.filter((c) => c.role === 'claim').every((c) => c.paperEffect === PAPER_EFFECTS.early && c.comparator === 'none')).toBe(true);
  });

  test('a pilot supplies the SD of each comparison (same cell, else the same arms in another cell); the MDE follows from it', () => {
    const spec = validateSpec({ ...preset('cpu-early'), seeds: [51, 52, 53, 54, 55, 56] });
    const next = rng(3);
    const results: RunResult[] = [];
    const diffs: Record<string, number[]> = { standard: [], 'early-linear': [] };
    for (const seed of [10, 11, 12, 13, 14]) {
      const base = 0.8 + 0.01 * next();
      const make = (arm: string, acc: number): RunResult => ({
        experiment: 'pilot', cell: 'mlp32', arm, seed, finalTrainLoss: 0.5 + 0.01 * next(), testLoss: 0.5, testAccuracy: acc, steps: 1, trainCurve: [], metrics: [], seconds: 1, adapter: 'x',
      });
      results.push(make('none', base));
      for (const arm of ['standard', 'early-linear']) {
        const d = (next() - 0.5) * 0.01;
        diffs[arm].push(d);
        results.push(make(arm, base + d));
      }
    }
    const pilot = new PilotSds(results, 'reports/pilot');
    const rows = powerTable(spec, pilot).filter((r) => r.field === 'testAccuracy');
    for (const r of rows) {
      const sd = sampleStd(diffs[r.arm]);
      expect(r.sd.sd).toBeCloseTo(sd, 12);
      expect(r.sd.source).toBe('pilot reports/pilot: 5 pairs');
      expect(r.mde).toBeCloseTo(minimumDetectableEffect({ sd, n: 6, alpha: 0.05, power: 0.8 }), 12);
    }
    // Another cell name: the same arms' SD, saying from which cell.
    const other = validateSpec({ ...spec, cells: [{ name: 'wider', model: { kind: 'mlp', hiddenSizes: [64, 64] } }] });
    const row = powerTable(other, pilot).find((r) => r.arm === 'early-linear' && r.field === 'testAccuracy')!;
    expect(row.sd.source).toBe('pilot reports/pilot, cell mlp32: 5 pairs');
    // Fewer than three pairs: not used, the default is.
    const thin = new PilotSds(results.filter((r) => r.seed < 12), 'thin');
    expect(powerTable(spec, thin)[0].sd).toBe(DEFAULT_PAIRED_SD[powerTable(spec, thin)[0].field]);
  });

  test('seedsForEffect is the smallest n whose MDE reaches the target', () => {
    const sd = 0.004;
    const n = seedsForEffect(sd, 0.003, 0.05)!;
    expect(minimumDetectableEffect({ sd, n, alpha: 0.05 })).toBeLessThanOrEqual(0.003);
    expect(minimumDetectableEffect({ sd, n: n - 1, alpha: 0.05 })).toBeGreaterThan(0.003);
    expect(seedsForEffect(NaN, 0.003, 0.05)).toBeNull();
  });

  test('the main-claim presets have seeds enough for the paper\'s effect at the default SDs', () => {
    for (const name of ['early-dropout', 'late-dropout']) {
      const rows = powerTable(preset(name)).filter((r) => r.role === 'claim' && r.field === 'testAccuracy');
      expect(rows.length, name).toBeGreaterThan(0);
      for (const r of rows) expect(r.mde, `${name}: ${r.arm} vs ${r.comparator}`).toBeLessThanOrEqual(r.paperEffect!.testAccuracy);
    }
  });
});

describe('merge', () => {
  const spec = validateSpec({
    name: 'tiny', model: { kind: 'mlp', hiddenSizes: [4] }, data: { kind: 'synthetic', trainSize: 16, testSize: 8, imageSize: 4 },
    arms: [{ name: 'none', regularizer: 'dropout', mode: 'none' }, { name: 'standard', regularizer: 'dropout', mode: 'standard', p: 0.1 }],
    seeds: [1, 2, 3], epochs: 1, batchSize: 8, lr: 0.01, weightDecay: 0, warmupEpochs: 0, labelSmoothing: 0,
  });
  const result = (key: { cell: string; arm: string; seed: number }, seconds = 1): RunResult => ({
    experiment: 'tiny', ...key, finalTrainLoss: key.seed + (key.arm === 'none' ? 0.5 : 0.25), testLoss: 1, testAccuracy: 0.5, steps: 2,
    trainCurve: [{ step: 0, loss: 2 }], metrics: [], seconds, adapter: `adapter ${seconds}`,
  });
  const plan = planRuns(spec);
  const folder = (dir: string, keys: typeof plan, specJson: unknown = spec, seconds = 1): RunFolder => ({
    dir, specJson, spec: validateSpec(structuredClone(specJson)), results: keys.map((r) => result({ cell: r.cell.name, arm: r.arm.name, seed: r.seed }, seconds)),
  });

  test('shards merge into plan order; identical duplicates are kept once and named; missing runs are named', () => {
    const a = folder('a', [plan[4], plan[0], plan[1]]);
    const b = folder('b', [plan[2], plan[1]], spec, 9);
    const m = mergeRunFolders([a, b]);
    expect(m.results.map(runKey)).toEqual([0, 1, 2, 4].map((i) => plan[i].key));
    expect(m.duplicates).toEqual([{ key: plan[1].key, dirs: ['a', 'b'] }]);
    expect(m.missing).toEqual([plan[3].key, plan[5].key]);
    expect(m.results[1].seconds).toBe(1); // the first folder's copy
  });

  test('a different spec is refused naming the field; a reworded description is not different', () => {
    const other = { ...spec, arms: [spec.arms[0], { ...spec.arms[1], p: 0.2 }] };
    expect(() => mergeRunFolders([folder('a', []), folder('b', [], other)])).toThrow('merge: b holds a different experiment from a (arms[1].p: 0.1 in a, 0.2 in b)');
    expect(mergeRunFolders([folder('a', [plan[0]]), folder('b', [plan[1]], { ...spec, description: 'reworded' })]).results.length).toBe(2);
  });

  test('the same run with different numbers, or a run from another experiment, is an error naming it', () => {
    const a = folder('a', [plan[0]]);
    const b = folder('b', [plan[0]]);
    b.results[0].finalTrainLoss += 1e-9;
    expect(() => mergeRunFolders([a, b])).toThrow(`merge: run ${plan[0].key} appears twice with different results (finalTrainLoss: `);
    const c = folder('c', [plan[0]]);
    c.results[0] = { ...c.results[0], arm: 'late' };
    expect(() => mergeRunFolders([c])).toThrow(`merge: c/results.jsonl holds run default/late/seed1 of experiment 'tiny', which is not in the plan of 'tiny'`);
  });

  test('results.jsonl as the runner reads it: a torn last line is left out, a bad line elsewhere names file and line', () => {
    const line = JSON.stringify(result({ cell: 'default', arm: 'none', seed: 1 }));
    expect(parseResults(`${line}\n${line.slice(0, 20)}`, 'f').length).toBe(1);
    expect(parseResults(`${line}\n${line.slice(0, 20)}\n`, 'f').length).toBe(1);
    expect(parseResults('', 'f')).toEqual([]);
    expect(() => parseResults(`${line}\n{oops\n${line}\n`, 'dir/results.jsonl')).toThrow('dir/results.jsonl: line 2 is not a complete JSON object');
  });
});
