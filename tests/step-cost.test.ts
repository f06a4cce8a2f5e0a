/**
 * What one training step costs the GPU queue, and that the cheaper paths compute exactly what the
 * paths they replace computed:
 * - Trainer.trainStep() of a two-hidden-layer MLP with dropout and AdamW records a fixed list of
 *   dispatches (counted by kernel), no submit, no readback, no upload and no new buffer;
 * - GpuDataset.imageRows (buffer copies) gives the bytes the gather kernel gives;
 * - the bias gradient summed inside the direct kernel's dW product equals column_sum's, bit for bit.
 * Counts, not times: nothing here is timed.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { engine, memoryStats, tensor } from '../src/index.js';
import { linear, matmulVariant, setMatmulConfigForTests, MATMUL_CANDIDATES, tileConfigId } from '../src/nn/functional/matmul/index.js';
import { MLP } from '../src/nn/models/mlp.js';
import { AdamW } from '../src/nn/optim.js';
import { GpuDataset } from '../src/lab/data/gpu-dataset.js';
import { makeSyntheticImages } from '../src/lab/data/synthetic.js';
import { Trainer } from '../src/lab/trainer.js';
import { indexSelect } from '../src/nn/functional/shape.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

afterEach(() => setMatmulConfigForTests(null));

const data = makeSyntheticImages({ seed: 5, trainSize: 96, testSize: 8, height: 8, width: 8, numClasses: 4 });

function bits(a: ArrayLike<number>): number[] {
  return Array.from(new Uint32Array(Float32Array.from(a).buffer));
}

/** Random values in [-1, 1), fixed by the seed. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

describe('one training step', () => {
  test('records a fixed list of dispatches and nothing else: no submit, readback, upload or new buffer', async () => {
    const train = GpuDataset.upload(data.train, { normalize: { mean: 0.2, std: 0.2 } });
    const model = new MLP({ inFeatures: 64, hiddenSizes: [32, 32], numClasses: 4, seed: 3 });
    const optimizer = new AdamW(model.namedParameters(), { lr: 1e-3, weightDecay: 0.05 });
    const trainer = new Trainer({
      model, optimizer, train, batchSize: 16, epochs: 3, seed: 9, labelSmoothing: 0.1,
      lr: { lr: 1e-3, warmupSteps: 2, minLr: 1e-6 }, dropout: { mode: 'standard', p: 0.1 }, metricsEvery: 1000,
    });
    try {
      // Warm-up as many steps as are counted (each holds its loss until the metrics are read): the
      // pipelines compiled, the pool filled, the epoch's order uploaded.
      const steps = 3; // within one epoch (6 steps of 16): no order upload is due
      for (let i = 0; i < steps; i++) trainer.trainStep();
      await trainer.flushMetrics();
      const e = engine();
      const kernels: string[] = [];
      const dispatch = e.dispatch.bind(e);
      const spyDispatch = vi.spyOn(e, 'dispatch').mockImplementation((d) => {
        kernels.push(d.entry && d.entry !== 'main' ? `${d.kernel.name}:${d.entry}` : d.kernel.name);
        dispatch(d);
      });
      const read = vi.spyOn(e, 'read');
      const write = vi.spyOn(e, 'write');
      const before = { submits: e.submits, created: memoryStats().createdBuffers };
      for (let i = 0; i < steps; i++) trainer.trainStep();
      const after = { submits: e.submits, created: memoryStats().createdBuffers };
      spyDispatch.mockRestore();
      read.mockRestore();
      write.mockRestore();

      const perStep = kernels.length / steps;
      const count = (name: string) => kernels.filter((k) => k === name).length / steps;
      // Per step: 3 products forward (bias + ReLU fused), 2 dropout masks, cross entropy (row losses
      // + mean); backward: the loss's seed, cross entropy, the head's dx and dW, 2 dropout masks, 2
      // ReLU derivatives, layer 1's dx and dW, layer 0's dW (its input needs no gradient); AdamW.
      // The bias gradients come with the dW products where the direct kernel runs them (software
      // adapters), else one column_sum each. The batch is copied, not gathered.
      const fusedBias = !!matmulVariant(32, 64, 16, true, false).direct;
      const optimizerDispatches = 6; // one per parameter
      expect({
        matmul: count('matmul'),
        dropout: count('dropout'),
        crossEntropy: count('cross_entropy'),
        reluGrad: count('matmul:activation_grad'),
        columnSum: count('matmul:column_sum'),
        optimizer: count('optim'),
        gather: count('gather'),
      }).toEqual({ matmul: 3 + 5, dropout: 4, crossEntropy: 3, reluGrad: 2, columnSum: fusedBias ? 0 : 3, optimizer: optimizerDispatches, gather: 0 });
      expect(perStep, kernels.slice(0, kernels.length / steps).join(', ')).toBe(18 + optimizerDispatches + (fusedBias ? 0 : 3));
      expect(after.submits - before.submits).toBe(steps); // one per step: the trainer hands each step to the GPU at once
      expect(read).not.toHaveBeenCalled();
      expect(write).not.toHaveBeenCalled();
      expect(after.created).toBe(before.created);
      // The steps still train: their losses come back finite in one readback.
      const metrics = await trainer.flushMetrics();
      expect(metrics.map((m) => m.step)).toEqual([3, 4, 5]);
      expect(metrics.every((m) => Number.isFinite(m.loss))).toBe(true);
    } finally {
      trainer.dispose();
      optimizer.dispose();
      model.dispose();
      train.dispose();
    }
  });
});

describe('GpuDataset.imageRows', () => {
  test('equals the gather kernel bit for bit, with runs of consecutive indices merged into one copy each', async () => {
    const ds = GpuDataset.upload(data.train, { normalize: { mean: 0.2, std: 0.2 } });
    try {
      const order = Int32Array.from([5, 6, 7, 8, 90, 3, 4, 95, 0, 1, 2, 40, 41, 17]);
      const copy = vi.spyOn(engine(), 'copy');
      const rows = ds.imageRows(order, 2, 13);
      // Runs: 7 8 | 90 | 3 4 | 95 | 0 1 2 | 40 41 -> 6 copies.
      expect(copy).toHaveBeenCalledTimes(6);
      copy.mockRestore();
      const index = tensor(order.slice(2, 13), [11]);
      const gathered = indexSelect(ds.images, 0, index);
      expect(rows.shape).toEqual([11, 1, 8, 8]);
      expect(bits(await rows.toArray())).toEqual(bits(await gathered.toArray()));
      for (const t of [rows, index, gathered]) t.dispose();
    } finally {
      ds.dispose();
    }
  });

  test('bad ranges and indices are errors naming the dataset and the problem', () => {
    const ds = GpuDataset.upload(data.train, { name: 'tiny' });
    try {
      const order = Int32Array.from([1, 2, 96]);
      expect(() => ds.imageRows(order, 0, 3)).toThrow(/tiny\.imageRows: index 96 at position 2 is outside 0\.\.95/);
      expect(() => ds.imageRows(order, 2, 4)).toThrow(/tiny\.imageRows: \[2, 4\) is not a range of the 3 indices/);
      expect(() => ds.imageRows(Int32Array.from([-1]), 0, 1)).toThrow(/index -1 at position 0/);
    } finally {
      ds.dispose();
    }
  });
});

describe('bias gradient inside the dW product', () => {
  // rows <= 256: one column_sum pass, which the direct kernel's sums reproduce. 250 and 256 are the
  // lab's and the bench's batches; 37 is odd; 300 takes column_sum's chunked path.
  const cases: [number, number, number, 'none' | 'relu'][] = [[250, 33, 10, 'relu'], [256, 40, 32, 'relu'], [37, 12, 7, 'none'], [300, 9, 16, 'relu']];
  // Direct configs with 8 and 4 rows per thread, quads sharing A's loads (four threads a row) and
  // not (two threads a row: the per-lane fallback).
  const direct = MATMUL_CANDIDATES.filter((c) => ['16x32/8x8+direct', '32x16/8x8+direct', '32x32/4x4+direct'].includes(tileConfigId(c)));
  const tiled = MATMUL_CANDIDATES.find((c) => tileConfigId(c) === '32x32x16/4x4')!;

  test.each(cases)('rows %i, in %i, out %i, %s: the direct configs give column_sum\'s bits (and the same dW)', async (rows, inF, outF, activation) => {
    expect(direct).toHaveLength(3);
    const x = tensor(values(rows * inF, rows + inF), [rows, inF]);
    const w = tensor(values(outF * inF, outF), [outF, inF], { requiresGrad: true });
    const b = tensor(values(outF, 7), [outF], { requiresGrad: true });
    const g = tensor(values(rows * outF, 11), [rows, outF]);
    const gradients = async () => {
      w.zeroGrad();
      b.zeroGrad();
      const y = linear(x, w, b, { activation });
      y.backward(g);
      y.dispose();
      return { dw: bits(await w.grad!.toArray()), db: bits(await b.grad!.toArray()) };
    };
    setMatmulConfigForTests(tiled); // column_sum computes the bias gradient
    const reference = await gradients();
    for (const c of direct) {
      setMatmulConfigForTests(c);
      const got = await gradients();
      expect(got.db, `${tileConfigId(c)} bias gradient`).toEqual(reference.db);
      expect(got.dw, `${tileConfigId(c)} weight gradient`).toEqual(reference.dw);
    }
    for (const t of [x, w, b, g]) t.dispose();
  });
});
