/**
 * The gradient analyses (src/lab/analysis.ts) on real kernels: flat vectors, mini-batch and
 * whole-split gradients against a float64 MLP reference, GDV/GDE/bias²/variance against float64
 * references (pairwise definition and running-sum form), their known limits, and the key property
 * of measure(): a run with measurements gives bit-identical losses to one without.
 */
import { describe, expect, test } from 'vitest';
import { liveTensorCount, memoryStats } from '../src/index.js';
import { keep } from '../src/runtime/scope.js';
import type { Tensor } from '../src/runtime/tensor.js';
import { tensor } from '../src/nn/functional/creation.js';
import { dropout } from '../src/nn/functional/dropout.js';
import { defaultGenerator, Generator } from '../src/runtime/generator.js';
import { crossEntropy } from '../src/nn/functional/loss.js';
import { MLP } from '../src/nn/models/mlp.js';
import { AdamW } from '../src/nn/optim.js';
import { GpuDataset } from '../src/lab/data/gpu-dataset.js';
import { makeSyntheticImages } from '../src/lab/data/synthetic.js';
import { Trainer, type StepMetrics } from '../src/lab/trainer.js';
import type { MetricPoint } from '../src/lab/experiment/types.js';
import {
  DirectionAccumulator, flattenGrads, flattenParams, fullGradient, gradientDirectionStats, measure,
  measurementBatches, measurementDropoutKey, miniBatchGradient, paramCount,
} from '../src/lab/analysis.js';
import { directionStatsPairwise, directionStatsRunningSum, mlpGradRef, type DirectionRef } from './reference/analysis.js';
import { expectClose, randomArray } from './helpers/check.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

const IN = 16;
const HIDDEN = 8;
const CLASSES = 3;
const N = 64;
const data = makeSyntheticImages({ seed: 5, trainSize: N, testSize: 8, height: 4, width: 4, numClasses: CLASSES, maxShift: 0, noise: 0.3, shared: 0.3 });

function makeModel(seed = 3, dropRate = 0): MLP {
  return new MLP({ inFeatures: IN, hiddenSizes: [HIDDEN], numClasses: CLASSES, seed, dropRate });
}

async function read(t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.toArray());
}

/** The model's parameters as one flat host vector (the GPU copy is disposed). */
async function readParams(model: MLP): Promise<Float64Array> {
  const flat = flattenParams(model.parameters());
  try {
    return await read(flat);
  } finally {
    flat.dispose();
  }
}

async function weightsOf(model: MLP) {
  const [W1, b1, W2, b2] = await Promise.all(model.parameters().map(read));
  return { W1, b1, W2, b2 };
}

/** Host copies of samples `rows` of the training split. */
function hostBatch(rows: ArrayLike<number>) {
  const x = new Float64Array(rows.length * IN);
  const y = new Int32Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    for (let k = 0; k < IN; k++) x[r * IN + k] = data.train.images[rows[r] * IN + k];
    y[r] = data.train.labels[rows[r]];
  }
  return { x, y };
}

function gpuBatch(train: GpuDataset, rows: Int32Array) {
  const index = tensor(rows, [rows.length], { dtype: 'i32' });
  const b = train.gather(index);
  index.dispose();
  return b;
}

/** Every value of `a` equals `b` exactly (f32 bit patterns, via the float64 copies). */
function expectSame(a: ArrayLike<number>, b: ArrayLike<number>, what: string) {
  expect(Array.from(a), what).toEqual(Array.from(b));
}

function expectStats(actual: { gdv: number; variance: number; meanNorm?: number; gde?: number; bias2?: number }, ref: DirectionRef, atol: number) {
  expect(Math.abs(actual.gdv - ref.gdv), `gdv ${actual.gdv} vs ${ref.gdv}`).toBeLessThan(atol);
  expect(Math.abs(actual.variance - ref.variance), `variance ${actual.variance} vs ${ref.variance}`).toBeLessThan(atol);
  if (actual.meanNorm !== undefined) expect(Math.abs(actual.meanNorm - ref.meanNorm)).toBeLessThan(1e-5 * ref.meanNorm + 1e-7);
  if (ref.gde !== undefined) {
    expect(Math.abs(actual.gde! - ref.gde), `gde ${actual.gde} vs ${ref.gde}`).toBeLessThan(atol);
    expect(Math.abs(actual.bias2! - ref.bias2!), `bias2 ${actual.bias2} vs ${ref.bias2}`).toBeLessThan(3 * atol);
  }
}

describe('flat vectors', () => {
  test('flattenParams and flattenGrads concatenate in parameter order; a null grad gives zeros', async () => {
    const model = makeModel();
    const params = model.parameters();
    expect(paramCount(params)).toBe(HIDDEN * IN + HIDDEN + CLASSES * HIDDEN + CLASSES);
    const flat = flattenParams(params);
    const expected = (await Promise.all(params.map(read))).flatMap((a) => Array.from(a));
    expectSame(await read(flat), expected, 'flattenParams');
    flat.dispose();

    const grads = params.map((p, i) => (i === 1 ? null : keep(tensor(Float32Array.from(randomArray(p.size, 10 + i)), p.shape))));
    params.forEach((p, i) => { p.grad = grads[i]; });
    const g = flattenGrads(params);
    const want: number[] = [];
    for (const [i, p] of params.entries()) want.push(...(grads[i] ? Array.from(await read(grads[i]!)) : new Array<number>(p.size).fill(0)));
    expectSame(await read(g), want, 'flattenGrads');
    g.dispose();
    model.zeroGrad();
    model.dispose();
  });

  test('bad arguments are rejected by name', () => {
    expect(() => flattenGrads([])).toThrow(/flattenGrads: needs a non-empty array of parameters/);
    const t = tensor(new Int32Array([1, 2]), [2]);
    expect(() => flattenParams([t])).toThrow(/flattenParams: parameter 0 \(shape \[2\]\) is i32, not f32/);
    t.dispose();
  });
});

describe('gradients that leave the model as it was', () => {
  test('miniBatchGradient equals the float64 MLP gradient (eval and train at p = 0, with label smoothing)', async () => {
    const model = makeModel(4);
    const train = GpuDataset.upload(data.train);
    const rows = Int32Array.from({ length: 17 }, (_, i) => (i * 5 + 2) % N);
    const b = gpuBatch(train, rows);
    const { x, y } = hostBatch(rows);
    const w = await weightsOf(model);
    for (const ls of [0, 0.1]) {
      const ref = mlpGradRef(x, y, rows.length, IN, HIDDEN, CLASSES, w, ls);
      for (const mode of [false, true]) {
        const g = miniBatchGradient(model, b.images, b.labels, { train: mode, labelSmoothing: ls });
        expectClose(await read(g), ref, { rtol: 1e-4, atol: 1e-6, what: `gradient (ls ${ls}, train ${mode})` });
        g.dispose();
      }
    }
    b.images.dispose();
    b.labels.dispose();
    train.dispose();
    model.dispose();
  });

  test('miniBatchGradient leaves params, existing grads, optimizer state, mode and the dropout generator untouched', async () => {
    const model = makeModel(5, 0.3);
    const train = GpuDataset.upload(data.train);
    const optimizer = new AdamW(model.namedParameters(), { lr: 0.01 });
    // Give the optimizer some state and the params existing grads.
    const b = train.range(0, 16);
    const step = () => {
      const l = crossEntropy(model.forward(b.images), b.labels);
      l.backward();
      l.dispose();
    };
    step();
    optimizer.step();
    optimizer.zeroGrad();
    step();
    const params = model.parameters();
    const before = {
      params: await Promise.all(params.map(read)),
      grads: await Promise.all(params.map((p) => read(p.grad!))),
      gradIds: params.map((p) => p.grad!.id),
      state: await Promise.all(Object.values(optimizer.stateDict().tensors).map(read)),
      steps: optimizer.stateDict().step,
    };
    const own = new Generator(77);
    model.setGenerator(own);
    const gen = own.getState();
    const defaultState = defaultGenerator.getState();
    /** The model's generator, and every generator involved, as they were. */
    const expectGeneratorsUntouched = () => {
      expect(model.namedModules().every(([, m]) => m.generator === own)).toBe(true);
      expect(own.getState()).toEqual(gen);
      expect(defaultGenerator.getState()).toEqual(defaultState);
    };
    model.eval();
    const g = miniBatchGradient(model, b.images, b.labels, { train: true, generator: new Generator(123) });
    expect(model.training).toBe(false);
    expectGeneratorsUntouched();
    expect(params.map((p) => p.grad!.id)).toEqual(before.gradIds);
    for (const [i, p] of params.entries()) {
      expectSame(await read(p), before.params[i], `param ${i}`);
      expectSame(await read(p.grad!), before.grads[i], `grad ${i}`);
    }
    const st = optimizer.stateDict();
    expect(st.step).toBe(before.steps);
    (await Promise.all(Object.values(st.tensors).map(read))).forEach((s, i) => expectSame(s, before.state[i], `optimizer state ${i}`));

    // The same dropout key gives the same masks; another key other masks; the result is not the p = 0 gradient.
    const again = miniBatchGradient(model, b.images, b.labels, { train: true, generator: new Generator(123) });
    const other = miniBatchGradient(model, b.images, b.labels, { train: true, generator: new Generator(124) });
    const plain = miniBatchGradient(model, b.images, b.labels, { train: false });
    const [gv, av, ov, pv] = await Promise.all([g, again, other, plain].map(read));
    expectSame(av, gv, 'same dropout key');
    expect(Array.from(ov)).not.toEqual(Array.from(gv));
    expect(Array.from(pv)).not.toEqual(Array.from(gv));
    expectGeneratorsUntouched();
    for (const t of [g, again, other, plain]) t.dispose();
    b.images.dispose();
    b.labels.dispose();
    model.zeroGrad();
    optimizer.dispose();
    train.dispose();
    model.dispose();
  });

  test('fullGradient is the mean-loss gradient of the whole split: the weighted sum of batch gradients and one big batch, in eval mode', async () => {
    const model = makeModel(6, 0.5); // dropout set but fullGradient runs in eval mode
    const train = GpuDataset.upload(data.train);
    const ls = 0.1;
    const ghat = fullGradient(model, train, { batchSize: 24, labelSmoothing: ls }); // 24 + 24 + 16
    const gv = await read(ghat);

    // float64 sum over the same batches of read-back batch gradients, weighted by count / N
    const sum = new Float64Array(gv.length);
    for (const b of train.evalBatches(24)) {
      const g = miniBatchGradient(model, b.images, b.labels, { train: false, labelSmoothing: ls });
      const v = await read(g);
      for (let k = 0; k < v.length; k++) sum[k] += (b.count / N) * v[k];
      g.dispose();
      b.images.dispose();
      b.labels.dispose();
    }
    expectClose(gv, sum, { rtol: 1e-5, atol: 1e-7, what: 'ĝ vs Σ (b/N)·g_b' });

    // one batch of everything
    const all = train.range(0, N);
    const big = miniBatchGradient(model, all.images, all.labels, { train: false, labelSmoothing: ls });
    expectClose(gv, await read(big), { rtol: 1e-5, atol: 1e-7, what: 'ĝ vs one big batch' });
    // and the float64 reference of the whole split
    const { x, y } = hostBatch(Int32Array.from({ length: N }, (_, i) => i));
    expectClose(gv, mlpGradRef(x, y, N, IN, HIDDEN, CLASSES, await weightsOf(model), ls), { rtol: 1e-4, atol: 1e-6, what: 'ĝ vs float64 reference' });
    expect(model.training).toBe(true);
    expect(model.parameters().every((p) => p.grad === null)).toBe(true);
    for (const t of [ghat, big, all.images, all.labels]) t.dispose();
    train.dispose();
    model.dispose();
  });
});

describe('direction statistics', () => {
  /** M vectors sharing a common direction (so cosines are far from 0) plus noise. */
  function correlatedVectors(m: number, size: number, seed: number, shared: number): Float64Array[] {
    const common = randomArray(size, seed);
    return Array.from({ length: m }, (_, i) => {
      const noise = randomArray(size, seed + 1 + i);
      return Float64Array.from(common, (c, k) => shared * c + noise[k] * (1 + 0.1 * i));
    });
  }

  test('GPU statistics match the float64 pairwise definition and the running-sum form', async () => {
    for (const [m, size, shared] of [[2, 1, 1], [5, 129, 0.5], [16, 4099, 1.2], [7, 65537, 0.8]] as const) {
      const gs = correlatedVectors(m, size, 40 + m, shared);
      const ghatHost = correlatedVectors(1, size, 40 + m, shared * 2)[0];
      const pair = directionStatsPairwise(gs, ghatHost);
      const run = directionStatsRunningSum(gs, ghatHost);
      // The two float64 forms are the same quantity.
      for (const k of ['gdv', 'variance', 'gde', 'bias2', 'meanNorm'] as const) expect(run[k]).toBeCloseTo(pair[k]!, 12);
      // GDV = variance·M/(M−1), and 2·GDE = ‖mean u − û‖² + variance exactly.
      expect(pair.gdv).toBeCloseTo(pair.variance * m / (m - 1), 12);
      expect(2 * pair.gde!).toBeCloseTo(pair.bias2! + pair.variance, 12);

      const gpu = gs.map((g) => tensor(Float32Array.from(g)));
      const ghat = tensor(Float32Array.from(ghatHost));
      // The reference on the f32-rounded inputs the GPU sees.
      const ref = directionStatsPairwise(gs.map((g) => Float32Array.from(g)), Float32Array.from(ghatHost));
      const stats = await gradientDirectionStats(gpu, ghat);
      expect(stats.count).toBe(m);
      expectStats(stats, ref, 2e-6);
      // The GPU columns add up: bias² + variance = 2·GDE to float32 rounding, and bias² ≥ 0.
      expect(Math.abs(stats.bias2! + stats.variance - 2 * stats.gde!)).toBeLessThan(2e-6);
      expect(stats.bias2!).toBeGreaterThanOrEqual(0);
      const noGhat = await gradientDirectionStats(gpu);
      expect(noGhat.gde).toBeUndefined();
      expect(noGhat.bias2).toBeUndefined();
      expect(noGhat.gdv).toBe(stats.gdv);
      for (const t of [...gpu, ghat]) t.dispose();
    }
  });

  test('on real mini-batch gradients of a model with dropout', async () => {
    const model = makeModel(8, 0.3);
    const train = GpuDataset.upload(data.train);
    const batches = measurementBatches(N, 12, 5, 9, 0); // 60 of the 64 samples, disjoint
    const gs: Tensor[] = [];
    for (const [i, rows] of batches.entries()) {
      const b = gpuBatch(train, rows);
      gs.push(miniBatchGradient(model, b.images, b.labels, { train: true, generator: new Generator(500 + i) }));
      b.images.dispose();
      b.labels.dispose();
    }
    const ghat = fullGradient(model, train, { batchSize: 64 });
    const host = await Promise.all(gs.map(read));
    const ref = directionStatsPairwise(host, await read(ghat));
    expect(ref.gdv).toBeGreaterThan(0.01); // a test that can fail: the directions do differ
    const stats = await gradientDirectionStats(gs, ghat);
    expectStats(stats, ref, 2e-6);
    expect(Math.abs(stats.bias2! + stats.variance - 2 * stats.gde!)).toBeLessThan(2e-6);
    for (const t of [...gs, ghat]) t.dispose();
    train.dispose();
    model.dispose();
  });

  test('limits: identical gradients give GDV 0; GDE of ĝ with itself is 0; orthogonal 1; opposite 2', async () => {
    const v = Float32Array.from(randomArray(1001, 3));
    const same = [0, 1, 2, 3].map(() => tensor(v));
    const ghat = tensor(v);
    const s = await gradientDirectionStats(same, ghat);
    const eps = 2 ** -23;
    expect(Math.abs(s.gdv)).toBeLessThan(16 * eps);
    expect(Math.abs(s.variance)).toBeLessThan(16 * eps);
    expect(Math.abs(s.gde!)).toBeLessThan(16 * eps);
    expect(Math.abs(s.bias2!)).toBeLessThan(64 * eps);
    // Scaling a gradient changes no direction.
    const scaled = [tensor(v), tensor(v.map((x) => x * 1000)), tensor(v.map((x) => x * 1e-3))];
    expect(Math.abs((await gradientDirectionStats(scaled)).gdv)).toBeLessThan(16 * eps);

    const basis = [0, 1, 2].map((i) => tensor(Float32Array.from({ length: 5 }, (_, k) => (k === i ? 2 : 0))));
    const ortho = await gradientDirectionStats(basis);
    expect(ortho.gdv).toBeCloseTo(1, 6);
    expect(ortho.variance).toBeCloseTo(1 - 1 / 3, 6);
    const opposite = [tensor(v), tensor(v.map((x) => -x))];
    const opp = await gradientDirectionStats(opposite, ghat);
    expect(opp.gdv).toBeCloseTo(2, 6);
    expect(opp.gde).toBeCloseTo(1, 6);
    for (const t of [...same, ghat, ...scaled, ...basis, ...opposite]) t.dispose();
  });

  test('bad input is rejected by name', async () => {
    const a = tensor(new Float32Array([1, 2, 3]));
    const b = tensor(new Float32Array([1, 2]));
    await expect(gradientDirectionStats([a])).rejects.toThrow(/gradientDirectionStats: needs at least 2 gradients .* got 1/);
    await expect(gradientDirectionStats([a, b])).rejects.toThrow(/DirectionAccumulator: gradient 1 has 2 elements, expected 3/);
    await expect(gradientDirectionStats([a, a], b)).rejects.toThrow(/DirectionAccumulator: ghat has 2 elements, expected 3/);
    expect(() => new DirectionAccumulator(3).sums()).toThrow(/no gradient was added/);
    a.dispose();
    b.dispose();
  });

  test('a zero gradient or a zero ĝ is a clear error, never a NaN; a non-finite gradient gives NaN (NaN in, NaN out)', async () => {
    const g = tensor(new Float32Array([1, 2, 3]));
    const zero = tensor(new Float32Array(3));
    const inf = tensor(new Float32Array([1, Infinity, 0]));
    await expect(gradientDirectionStats([g, zero, g])).rejects.toThrow(/DirectionAccumulator: gradient 1 of 3 is exactly zero, so its direction g\/‖g‖ is undefined/);
    await expect(gradientDirectionStats([g, g], zero)).rejects.toThrow(/ĝ \(the whole-training-set gradient\) is exactly zero/);
    const bad = await gradientDirectionStats([g, inf], g);
    expect(bad.gdv).toBeNaN();
    expect(bad.gde).toBeNaN();
    for (const t of [g, zero, inf]) t.dispose();
  });
});

describe('measurement batches', () => {
  test('are disjoint within one measurement and drawn from (seed, step)', () => {
    const bs = measurementBatches(64, 8, 8, 3, 10);
    const all = bs.flatMap((b) => Array.from(b));
    expect(all.length).toBe(64);
    expect(new Set(all).size).toBe(64); // every sample once: no overlap
    expect(measurementBatches(64, 8, 8, 3, 10)).toEqual(bs);
    expect(measurementBatches(64, 8, 8, 3, 11)).not.toEqual(bs);
  });

  test('overlapping batches are rejected, naming |G|, the batch and the training-set size', () => {
    expect(() => measurementBatches(64, 8, 9, 3, 10)).toThrow(/measure: \|G\| = 9 mini-batches × batch 8 = 72 samples exceed the 64 training samples, so the measurement batches would overlap/);
  });
});

describe('measure', () => {
  const seed = 11;
  function setup(mode: 'early' | 'none' = 'early') {
    const train = GpuDataset.upload(data.train);
    const model = makeModel(9);
    const optimizer = new AdamW(model.namedParameters(), { lr: 1e-2, weightDecay: 0.05 });
    const losses: StepMetrics[] = [];
    const trainer = new Trainer({
      model, optimizer, train, batchSize: 8, epochs: 2, seed,
      lr: { lr: 1e-2, warmupSteps: 2, minLr: 1e-4 },
      dropout: mode === 'early' ? { mode: 'early', p: 0.3, shape: 'linear', cutoffEpochs: 1 } : undefined,
      labelSmoothing: 0.1,
      augment: { shift: 1, flip: true },
      metricsEvery: 5,
      onMetrics: (m) => losses.push(...m),
    });
    const theta0 = keep(flattenParams(model.parameters()));
    const dispose = () => {
      theta0.dispose();
      trainer.dispose();
      optimizer.dispose();
      model.dispose();
      train.dispose();
    };
    return { train, model, optimizer, trainer, losses, theta0, dispose };
  }

  test('metrics on and off give bit-identical training losses and final weights', async () => {
    const steps = 12;
    const off = setup();
    await off.trainer.run(steps);
    const offParams = await readParams(off.model);
    off.dispose();

    const on = setup();
    const points: MetricPoint[] = [];
    while (on.trainer.step < steps) {
      if (on.trainer.step % 3 === 0) {
        points.push(await measure(on.trainer, on.train, { theta0: on.theta0, numBatches: 3, labelSmoothing: 0.1, fullBatchSize: 32 }));
      }
      on.trainer.trainStep();
    }
    await on.trainer.flushMetrics();
    const onParams = await readParams(on.model);
    on.dispose();

    expect(on.losses.length).toBe(steps);
    expect(on.losses.map((m) => m.loss)).toEqual(off.losses.map((m) => m.loss));
    expectSame(onParams, offParams, 'final weights');
    // The points are real measurements at the scheduled steps and rates.
    expect(points.map((p) => p.step)).toEqual([0, 3, 6, 9]);
    expect(points[0].distance).toBe(0);
    expect(points[3].distance).toBeGreaterThan(0);
    expect(points[0].dropRate).toBeCloseTo(0.3, 12);
    expect(points.every((p) => p.gradNorm > 0 && p.gdv! > 0 && p.gdv! < 2 && p.gde! > 0 && p.gde! < 2)).toBe(true);
    expect(points.map((p) => p.lr)).toEqual(points.map((p) => on.trainer.ratesAt(p.step).lr));
  });

  test('measure leaves the trainer, model, optimizer and dropout generator as they were, and repeats exactly', async () => {
    const s = setup();
    await s.trainer.run(5);
    const state = s.trainer.state();
    const gen = defaultGenerator.getState();
    const params = await readParams(s.model);
    const opt = await Promise.all(Object.values(s.optimizer.stateDict().tensors).map(read));
    const dropRate = s.model.dropRate;
    const a = await measure(s.trainer, s.train, { theta0: s.theta0, numBatches: 4, labelSmoothing: 0.1 });
    const b = await measure(s.trainer, s.train, { theta0: s.theta0, numBatches: 4, labelSmoothing: 0.1 });
    expect(b).toEqual(a);
    const other = await measure(s.trainer, s.train, { theta0: s.theta0, numBatches: 4, labelSmoothing: 0.1, seed: 99 });
    expect(other.gdv).not.toBe(a.gdv);
    const light = await measure(s.trainer, s.train, { theta0: s.theta0, directions: false });
    expect(light.gdv).toBeUndefined();
    expect(light.distance).toBe(a.distance);
    expect(s.trainer.state()).toEqual(state);
    expect(defaultGenerator.getState()).toEqual(gen);
    expect(s.model.namedModules().every(([, m]) => m.generator === s.trainer.generator)).toBe(true);
    expect(s.model.dropRate).toBe(dropRate);
    expect(s.model.training).toBe(true);
    expect(s.model.parameters().every((p) => p.grad === null)).toBe(true);
    expectSame(await readParams(s.model), params, 'params');
    (await Promise.all(Object.values(s.optimizer.stateDict().tensors).map(read))).forEach((t, i) => expectSame(t, opt[i], `optimizer state ${i}`));
    s.dispose();
  });

  test('values equal the float64 reference of the same batches (no dropout), and the distance of the read-back weights', async () => {
    const s = setup('none');
    await s.trainer.run(4);
    const m = 5;
    const point = await measure(s.trainer, s.train, { theta0: s.theta0, numBatches: m, labelSmoothing: 0.1, seed: 21 });
    // The same batches (measurementBatches is the documented draw), gradients by the reference.
    const w = await weightsOf(s.model);
    const gs = measurementBatches(N, 8, m, 21, 4).map((rows) => {
      const { x, y } = hostBatch(rows);
      return mlpGradRef(x, y, rows.length, IN, HIDDEN, CLASSES, w, 0.1);
    });
    const all = hostBatch(Int32Array.from({ length: N }, (_, i) => i));
    const ghat = mlpGradRef(all.x, all.y, N, IN, HIDDEN, CLASSES, w, 0.1);
    const ref = directionStatsPairwise(gs, ghat);
    expect(point.dropRate).toBe(0);
    expect(Math.abs(point.gradNorm - ref.meanNorm)).toBeLessThan(1e-4 * ref.meanNorm);
    // f32 gradients vs float64 ones: cosines agree to ~1e-5.
    expectStats({ gdv: point.gdv!, variance: point.variance!, gde: point.gde, bias2: point.bias2 }, ref, 3e-5);
    const t0 = await read(s.theta0);
    const now = [w.W1, w.b1, w.W2, w.b2].flatMap((a) => Array.from(a));
    const dist = Math.sqrt(now.reduce((acc, v, k) => acc + (v - t0[k]) ** 2, 0));
    expect(Math.abs(point.distance - dist)).toBeLessThan(1e-5 * dist);
    // The stored columns add up: 2·GDE = bias² + variance.
    expect(Math.abs(point.bias2! + point.variance! - 2 * point.gde!)).toBeLessThan(2e-6);
    s.dispose();
  });

  test('the dropout on/off diagnostic: GDV and GDE of the same weights with dropout on equal the float64 reference with the same masks', async () => {
    const s = setup('none');
    await s.trainer.run(4);
    const m = 5;
    const p = 0.3;
    const point = await measure(s.trainer, s.train, { theta0: s.theta0, numBatches: m, labelSmoothing: 0.1, seed: 21, dropoutDiagnostic: { p } });
    const w = await weightsOf(s.model);
    const all = hostBatch(Int32Array.from({ length: N }, (_, i) => i));
    const ghat = mlpGradRef(all.x, all.y, N, IN, HIDDEN, CLASSES, w, 0.1); // ĝ: eval mode, dropout off
    const batches = measurementBatches(N, 8, m, 21, 4);
    const off: Float64Array[] = [];
    const on: Float64Array[] = [];
    for (const [i, rows] of batches.entries()) {
      const { x, y } = hostBatch(rows);
      off.push(mlpGradRef(x, y, rows.length, IN, HIDDEN, CLASSES, w, 0.1));
      // The MLP's one dropout call per forward pass draws the generator's mask at offset 0.
      const ones = tensor(new Float32Array(rows.length * HIDDEN).fill(1), [rows.length, HIDDEN]);
      const maskT = dropout(ones, p, { seed: measurementDropoutKey(21, 4, i), offset: 0 });
      const mask = await read(maskT);
      ones.dispose();
      maskT.dispose();
      expect(mask.some((v) => v === 0)).toBe(true); // units were dropped
      on.push(mlpGradRef(x, y, rows.length, IN, HIDDEN, CLASSES, w, 0.1, mask));
    }
    const refOff = directionStatsPairwise(off, ghat);
    const refOn = directionStatsPairwise(on, ghat);
    expect(point.diagnosticDropRate).toBe(p);
    expect(Math.abs(point.gdv! - refOff.gdv)).toBeLessThan(3e-5);
    expect(Math.abs(point.gde! - refOff.gde!)).toBeLessThan(3e-5);
    expect(Math.abs(point.gdvDropoutOn! - refOn.gdv)).toBeLessThan(3e-5);
    expect(Math.abs(point.gdeDropoutOn! - refOn.gde!)).toBeLessThan(3e-5);
    // Dropout does change the directions here (a test that can fail), and the run was not touched.
    expect(Math.abs(refOn.gdv - refOff.gdv)).toBeGreaterThan(1e-3);
    expect(s.model.dropRate).toBe(0);
    expect(s.trainer.ratesAt(4).dropRate).toBe(0);
    s.dispose();
  });

  test('with the diagnostic on, training is still bit-identical to a run without measurements', async () => {
    const steps = 6;
    const off = setup('none');
    await off.trainer.run(steps);
    const offParams = await readParams(off.model);
    off.dispose();
    const on = setup('none');
    while (on.trainer.step < steps) {
      if (on.trainer.step % 2 === 0) await measure(on.trainer, on.train, { theta0: on.theta0, numBatches: 3, labelSmoothing: 0.1, dropoutDiagnostic: { p: 0.5 } });
      on.trainer.trainStep();
    }
    await on.trainer.flushMetrics();
    const onParams = await readParams(on.model);
    expect(on.model.dropRate).toBe(0);
    on.dispose();
    expect(on.losses.map((m) => m.loss)).toEqual(off.losses.map((m) => m.loss));
    expectSame(onParams, offParams, 'final weights');
  });

  test('the diagnostic is refused where the run itself drops units, and needs directions', async () => {
    const s = setup('early');
    await expect(measure(s.trainer, s.train, { theta0: s.theta0, numBatches: 2, dropoutDiagnostic: { p: 0.1 } })).rejects.toThrow(/measure: dropoutDiagnostic compares dropout on with the run's own measurement as "off", but at step 0 the run drops at rate 0\.3/);
    await expect(measure(s.trainer, s.train, { theta0: s.theta0, directions: false, dropoutDiagnostic: { p: 0.1 } })).rejects.toThrow(/needs directions/);
    await expect(measure(s.trainer, s.train, { theta0: s.theta0, dropoutDiagnostic: { p: 1 } })).rejects.toThrow(/dropoutDiagnostic.p must be a rate in \(0, 1\), got 1/);
    s.dispose();
  });

  test('bad options are rejected by name', async () => {
    const s = setup();
    await expect(measure(s.trainer, s.train, { theta0: s.theta0, numBatches: 1 })).rejects.toThrow(/measure: numBatches must be an integer >= 2 \(GDV needs pairs\), got 1/);
    const short = tensor(new Float32Array(3));
    await expect(measure(s.trainer, s.train, { theta0: short })).rejects.toThrow(/measure: theta0 has 3 elements, the model has 163 parameters/);
    await expect(measure(s.trainer, s.train, { theta0: s.theta0, batchSize: 65 })).rejects.toThrow(/measure: batch size must be an integer in 1\.\.64/);
    await expect(measure(s.trainer, s.train, { theta0: s.theta0, labelSmoothing: 2 })).rejects.toThrow(/measure: labelSmoothing must be in \[0, 1\], got 2/);
    short.dispose();
    s.dispose();
  });

  test('repeated measure() leaves GPU memory flat', async () => {
    const s = setup();
    await s.trainer.run(2);
    const opts = { theta0: s.theta0, numBatches: 3, labelSmoothing: 0.1 };
    await measure(s.trainer, s.train, opts); // warm the pool's size classes
    const before = memoryStats();
    const tensors = liveTensorCount();
    for (let i = 0; i < 4; i++) await measure(s.trainer, s.train, opts);
    const after = memoryStats();
    expect(after.liveBuffers).toBe(before.liveBuffers);
    expect(liveTensorCount()).toBe(tensors);
    s.dispose();
  });
});
