/**
 * The training loop end to end on real kernels: loss goes down, runs are deterministic, a resumed
 * run continues exactly, checkpoints that do not fit are rejected, memory stays flat, and a short
 * Fashion-MNIST run reaches a stated accuracy.
 */
import { existsSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { defaultGenerator, memoryStats, liveTensorCount } from '../src/index.js';
import { MLP } from '../src/nn/models/mlp.js';
import { AdamW, SGD } from '../src/nn/optim.js';
import { GpuDataset } from '../src/lab/data/gpu-dataset.js';
import { makeSyntheticImages } from '../src/lab/data/synthetic.js';
import { loadFashionMnist, DEFAULT_FASHION_MNIST_DIR, FASHION_MNIST_MEAN, FASHION_MNIST_STD } from '../src/lab/data/fashion-mnist.js';
import { Trainer, type StepMetrics, type TrainerOptions } from '../src/lab/trainer.js';
import { loadCheckpoint, saveCheckpoint } from '../src/lab/checkpoint.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

// Small and easy enough to learn in a few SwiftShader seconds: 8x8, little shift, mild noise.
const data = makeSyntheticImages({ seed: 3, trainSize: 240, testSize: 120, height: 8, width: 8, numClasses: 4, maxShift: 1, noise: 0.2, shared: 0.2 });
const normalize = { mean: 0.2, std: 0.21 };

function setup(overrides: Partial<TrainerOptions> = {}, hidden = [32]) {
  const train = GpuDataset.upload(data.train, { normalize });
  const model = new MLP({ inFeatures: 64, hiddenSizes: hidden, numClasses: 4, seed: 7 });
  const optimizer = new AdamW(model.namedParameters(), { lr: 1e-2, weightDecay: 0.05 });
  const losses: StepMetrics[] = [];
  const trainer = new Trainer({
    model, optimizer, train, batchSize: 16, epochs: 4, seed: 11,
    lr: { lr: 1e-2, warmupSteps: 5, minLr: 1e-5 },
    dropout: { mode: 'early', p: 0.2, shape: 'linear', cutoffEpochs: 1 },
    labelSmoothing: 0.1,
    metricsEvery: 7,
    onMetrics: (m) => losses.push(...m),
    ...overrides,
  });
  const dispose = () => {
    trainer.dispose();
    optimizer.dispose();
    model.dispose();
    train.dispose();
  };
  return { train, model, optimizer, trainer, losses, dispose };
}

describe('Trainer', () => {
  test('trains: eval loss falls and accuracy beats chance; schedules are applied per step', async () => {
    const s = setup();
    const test = GpuDataset.upload(data.test, { normalize });
    const before = await s.trainer.evaluate(test, 50);
    await s.trainer.run();
    const after = await s.trainer.evaluate(test, 50);
    expect(s.losses.length).toBe(s.trainer.totalSteps);
    expect(s.losses.map((m) => m.step)).toEqual([...Array(s.trainer.totalSteps).keys()]);
    expect(after.loss).toBeLessThan(before.loss * 0.8);
    expect(after.accuracy).toBeGreaterThan(0.4); // chance is 0.25
    expect(after.count).toBe(120);
    // early-linear dropout: p at step 0, 0 from the cutoff (one epoch = 15 steps) on
    expect(s.losses[0].dropRate).toBeCloseTo(0.2, 12);
    expect(s.losses[14].dropRate).toBe(0);
    expect(s.losses.slice(15).every((m) => m.dropRate === 0)).toBe(true);
    expect(s.losses[4].lr).toBeCloseTo(1e-2, 12); // end of warmup
    test.dispose();
    s.dispose();
  });

  test('the same seed gives the same losses step for step', async () => {
    const a = setup();
    await a.trainer.run(20);
    a.dispose();
    const b = setup();
    await b.trainer.run(20);
    b.dispose();
    expect(b.losses.map((m) => m.loss)).toEqual(a.losses.map((m) => m.loss));
    const c = setup({ seed: 12 });
    await c.trainer.run(20);
    c.dispose();
    expect(c.losses.map((m) => m.loss)).not.toEqual(a.losses.map((m) => m.loss));
  });

  test('two trainers stepped in turn give the losses each gives alone: each draws from its own generator', async () => {
    const steps = 6;
    const alone = [];
    for (const seed of [11, 12]) {
      const s = setup({ seed });
      await s.trainer.run(steps);
      alone.push(s.losses.map((m) => m.loss));
      s.dispose();
    }
    const a = setup({ seed: 11 });
    const b = setup({ seed: 12 });
    expect(a.model.namedModules().every(([, m]) => m.generator === a.trainer.generator)).toBe(true);
    const before = defaultGenerator.getState();
    for (let i = 0; i < steps; i++) {
      a.trainer.trainStep();
      b.trainer.trainStep();
    }
    await a.trainer.flushMetrics();
    await b.trainer.flushMetrics();
    expect(a.losses.map((m) => m.loss)).toEqual(alone[0]);
    expect(b.losses.map((m) => m.loss)).toEqual(alone[1]);
    expect(alone[1]).not.toEqual(alone[0]);
    // The masks came from the trainers' generators (one dropout site, rate > 0 before the cutoff), none from the default.
    expect(a.losses.every((m) => m.dropRate > 0)).toBe(true);
    expect(a.trainer.generator.count).toBe(steps);
    expect(defaultGenerator.getState()).toEqual(before);
    a.dispose();
    b.dispose();
  });

  test('resume from a checkpoint continues exactly as the uninterrupted run', async () => {
    const N = 10; // inside the early-dropout phase, mid-epoch
    const M = 12; // across the cutoff and an epoch boundary
    const whole = setup();
    await whole.trainer.run(N + M);
    const expected = whole.losses.slice(N).map((m) => m.loss);
    whole.dispose();

    const first = setup();
    await first.trainer.run(N);
    const bytes = await saveCheckpoint(first.trainer);
    first.dispose();

    // A fresh model (other init seed), optimizer, sampler and trainer: everything comes from the file.
    const train = GpuDataset.upload(data.train, { normalize });
    const model = new MLP({ inFeatures: 64, hiddenSizes: [32], numClasses: 4, seed: 999 });
    const optimizer = new AdamW(model.namedParameters(), { lr: 1e-2, weightDecay: 0.05 });
    const resumed: StepMetrics[] = [];
    const trainer = new Trainer({
      model, optimizer, train, batchSize: 16, epochs: 4, seed: 11,
      lr: { lr: 1e-2, warmupSteps: 5, minLr: 1e-5 },
      dropout: { mode: 'early', p: 0.2, shape: 'linear', cutoffEpochs: 1 },
      labelSmoothing: 0.1, metricsEvery: 7, onMetrics: (m) => resumed.push(...m),
    });
    loadCheckpoint(trainer, bytes);
    expect(trainer.step).toBe(N);
    await trainer.run(N + M);
    expect(resumed.map((m) => m.loss)).toEqual(expected);
    trainer.dispose();
    optimizer.dispose();
    model.dispose();
    train.dispose();
  });

  test('a checkpoint that does not fit the model is a clear error', async () => {
    const a = setup();
    await a.trainer.run(3);
    const bytes = await saveCheckpoint(a.trainer);
    a.dispose();
    const wider = setup({}, [48]);
    expect(() => loadCheckpoint(wider.trainer, bytes)).toThrow(/checkpoint does not match this run: .*layers\.0\.weight: expected shape \[48,64\], got \[32,64\]/);
    wider.dispose();
    const deeper = setup({}, [32, 32]);
    expect(() => loadCheckpoint(deeper.trainer, bytes)).toThrow(/missing .*layers\.1\.weight/);
    deeper.dispose();
    expect(() => loadCheckpoint(setup().trainer, new Uint8Array([1, 2, 3]))).toThrow(/safetensors|too short|header/i);
  });

  test('memory stays flat over a few hundred steps', async () => {
    const s = setup({ epochs: 20, metricsEvery: 50 });
    // Warm-up past one metrics period: until a readback, each step's loss holds a small buffer.
    await s.trainer.run(60);
    const before = memoryStats();
    const tensors = liveTensorCount();
    await s.trainer.run(360);
    const after = memoryStats();
    expect(after.liveBuffers).toBe(before.liveBuffers);
    expect(after.createdBuffers).toBe(before.createdBuffers);
    expect(liveTensorCount()).toBe(tensors);
    s.dispose();
  });

  test('bad settings are rejected by name', () => {
    const train = GpuDataset.upload(data.train, { normalize });
    const model = new MLP({ inFeatures: 64, hiddenSizes: [8], numClasses: 4 });
    const optimizer = new SGD(model.parameters(), { lr: 0.1 });
    const base = { model, optimizer, train, batchSize: 16, epochs: 1, seed: 1, lr: { lr: 0.1 } };
    expect(() => new Trainer({ ...base, epochs: 0 })).toThrow(/epochs must be a positive integer, got 0/);
    expect(() => new Trainer({ ...base, dropout: { mode: 'standard', p: 0.1 }, dropPath: { mode: 'early', p: 0.1, cutoffSteps: 2 } })).toThrow(/dropout and stochastic depth .* not combined/);
    expect(() => new Trainer({ ...base, dropPath: { mode: 'standard', p: 0.1 } })).toThrow(/MLP has no residual blocks for stochastic depth/);
    expect(() => new Trainer({ ...base, dropout: { mode: 'early', p: 1.5, cutoffSteps: 2 } })).toThrow(/p must be in \[0, 1\)/);
    expect(() => new Trainer({ ...base, labelSmoothing: 2 })).toThrow(/labelSmoothing must be in \[0, 1\], got 2/);
    optimizer.dispose();
    model.dispose();
    train.dispose();
  });
});

const haveFashion = existsSync(`${DEFAULT_FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`);

test.runIf(haveFashion)('a short Fashion-MNIST run (6000 images, 2 epochs, MLP) reaches 75% test accuracy', async () => {
  const ds = await loadFashionMnist({ limit: { train: 6000, test: 1000 } });
  const normalize = { mean: FASHION_MNIST_MEAN, std: FASHION_MNIST_STD };
  const train = GpuDataset.upload(ds.train, { normalize });
  const test = GpuDataset.upload(ds.test, { normalize });
  const model = new MLP({ inFeatures: 784, hiddenSizes: [128], numClasses: 10, seed: 1 });
  const optimizer = new AdamW(model.namedParameters(), { lr: 2e-3, weightDecay: 0.05 });
  const trainer = new Trainer({ model, optimizer, train, batchSize: 100, epochs: 2, seed: 1, lr: { lr: 2e-3, warmupSteps: 10 } });
  await trainer.run();
  const result = await trainer.evaluate(test, 500);
  console.log(`Fashion-MNIST slice: test accuracy ${result.accuracy.toFixed(3)}, loss ${result.loss.toFixed(3)}`);
  expect(result.accuracy).toBeGreaterThan(0.75);
  trainer.dispose();
  optimizer.dispose();
  model.dispose();
  train.dispose();
  test.dispose();
});

test('accuracy compares argmax with integer labels and checks its inputs', async () => {
  const { tensor } = await import('../src/index.js');
  const { accuracy } = await import('../src/nn/metrics.js');
  const logits = tensor([[0.1, 2, 0.3], [5, 1, 0], [0, 0, 9], [1, 3, 2]]);
  const labels = tensor(Int32Array.from([1, 0, 1, 1]), [4], { dtype: 'i32' });
  expect(await accuracy(logits, labels)).toBe(0.75);
  await expect(accuracy(logits, tensor([1, 0, 1, 1]))).rejects.toThrow(/labels must be i32 or u32 class indices, got f32/);
  await expect(accuracy(logits, tensor(Int32Array.from([1, 0]), [2], { dtype: 'i32' }))).rejects.toThrow(/labels must be \[4\] for logits \[4,3\], got \[2\]/);
});
