// The GPU-resident dataset (src/lab/data/gpu-dataset.ts) and its data order (sampler.ts): batches
// gathered on the GPU equal the rows picked on the CPU, every sample once per epoch, order fixed by
// (seed, epoch), exact resume from a position, eval over the whole split, GPU augmentation in the
// sampler, flat memory, no per-step uploads, and clear errors.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { useGpu } from './helpers/gpu.js';
import { engine, liveTensorCount, memoryStats, tensor, Tensor, tidy } from '../src/index.js';
import {
  augmentDecisions,
  augmentSampleCpu,
  batchesPerEpoch,
  BatchSampler,
  epochPermutation,
  fashionMnistDir,
  GpuDataset,
  loadFashionMnist,
  makeSyntheticImages,
  type ImageSplit,
  type TrainBatch,
} from '../src/lab/data/index.js';

useGpu();

/** Synthetic, small and odd-sized: 103 train samples of 1 × 6 × 5. */
const synthetic = makeSyntheticImages({ seed: 3, trainSize: 103, testSize: 37, height: 6, width: 5, numClasses: 4 });

/** A split whose pixel values say which sample they belong to: value = sample · per + pixel (exact in f32). */
function taggedSplit(count: number, channels = 2, height = 3, width = 3): ImageSplit {
  const per = channels * height * width;
  return {
    images: Float32Array.from({ length: count * per }, (_, i) => i),
    labels: Int32Array.from({ length: count }, (_, i) => i % 7),
    count,
    channels,
    height,
    width,
  };
}

/** Rows `idx` of a split, on the CPU. */
function cpuRows(split: ImageSplit, idx: ArrayLike<number>): { images: Float32Array; labels: Int32Array } {
  const per = split.channels * split.height * split.width;
  const images = new Float32Array(idx.length * per);
  const labels = new Int32Array(idx.length);
  for (let j = 0; j < idx.length; j++) {
    images.set(split.images.subarray(idx[j] * per, (idx[j] + 1) * per), j * per);
    labels[j] = split.labels[idx[j]];
  }
  return { images, labels };
}

/** Exact equality of two large arrays (vitest's deep equality is slow on hundreds of thousands of elements). */
function expectSameValues(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let firstDiff = -1;
  for (let i = 0; i < expected.length && firstDiff < 0; i++) if (!Object.is(actual[i], expected[i])) firstDiff = i;
  expect(firstDiff, firstDiff < 0 ? what : `${what}: element ${firstDiff} is ${actual[firstDiff]}, expected ${expected[firstDiff]}`).toBe(-1);
}

interface ReadBatch {
  epoch: number;
  step: number;
  images: Float32Array;
  labels: Int32Array;
}

async function read(b: TrainBatch): Promise<ReadBatch> {
  const out = { epoch: b.epoch, step: b.step, images: (await b.images.toArray()) as Float32Array, labels: (await b.labels.toArray()) as Int32Array };
  b.images.dispose();
  b.labels.dispose();
  return out;
}

async function take(sampler: BatchSampler, steps: number): Promise<ReadBatch[]> {
  const out: ReadBatch[] = [];
  for (let s = 0; s < steps; s++) out.push(await read(sampler.next()));
  return out;
}

describe('epoch order on the host', () => {
  test('a permutation of 0..n-1, fixed by (seed, epoch)', () => {
    for (const n of [1, 2, 17, 1000]) {
      const p = epochPermutation(n, 5, 0);
      expect([...p].sort((a, b) => a - b)).toEqual([...Array(n).keys()]);
    }
    const a = epochPermutation(500, 42, 3);
    expect(epochPermutation(500, 42, 3)).toEqual(a);
    expect(epochPermutation(500, 42, 4)).not.toEqual(a);
    expect(epochPermutation(500, 43, 3)).not.toEqual(a);
    expect(epochPermutation(500, 2 ** 40 + 42, 3)).not.toEqual(a);
    expect(batchesPerEpoch(103, 10, true)).toBe(10);
    expect(batchesPerEpoch(103, 10, false)).toBe(11);
    expect(batchesPerEpoch(100, 10, false)).toBe(10);
  });

  test('positions are uniform: every index lands in every slot about equally often', () => {
    const n = 5;
    const counts = Array.from({ length: n }, () => new Array(n).fill(0));
    const epochs = 2000;
    for (let e = 0; e < epochs; e++) epochPermutation(n, 7, e).forEach((v, slot) => counts[slot][v]++);
    // Each cell expects 400 with sd 18: a biased shuffle (e.g. j in 0..n-1 at every step) fails this.
    for (const row of counts) for (const c of row) expect(Math.abs(c - epochs / n)).toBeLessThan(90);
  });
});

describe('GpuDataset on synthetic data', () => {
  let ds: GpuDataset;
  let test_: GpuDataset;
  beforeAll(() => {
    ds = GpuDataset.upload(synthetic.train, { name: 'synthetic train', numClasses: 4 });
    test_ = GpuDataset.upload(synthetic.test, { name: 'synthetic test' });
  });
  afterAll(() => {
    ds.dispose();
    test_.dispose();
  });

  test('upload keeps shapes and values exactly', async () => {
    expect(ds.images.shape).toEqual([103, 1, 6, 5]);
    expect(ds.labels.shape).toEqual([103]);
    expect(ds.labels.dtype).toBe('i32');
    expect(ds.byteSize).toBe(103 * 31 * 4);
    expect(await ds.images.toArray()).toEqual(synthetic.train.images);
    expect(await ds.labels.toArray()).toEqual(synthetic.train.labels);
  });

  test('every training batch equals the CPU-gathered rows; every sample once per epoch', async () => {
    for (const dropLast of [true, false]) {
      const sampler = ds.batches({ batchSize: 10, seed: 9, dropLast });
      expect(sampler.stepsPerEpoch).toBe(dropLast ? 10 : 11);
      const seen = new Set<number>();
      const batches = await take(sampler, sampler.stepsPerEpoch);
      batches.forEach((b, s) => {
        const idx = sampler.indices(0, s);
        expect(b.epoch).toBe(0);
        expect(b.step).toBe(s);
        expect(idx.length).toBe(s === 10 ? 3 : 10);
        const ref = cpuRows(synthetic.train, idx);
        expect(b.images).toEqual(ref.images);
        expect(b.labels).toEqual(ref.labels);
        idx.forEach((i) => seen.add(i));
      });
      expect(seen.size).toBe(dropLast ? 100 : 103);
      expect(sampler.position).toEqual({ epoch: 1, step: 0 });
      sampler.dispose();
    }
  });

  test('the GPU batches themselves hold each sample once per epoch (tagged pixels)', async () => {
    const split = taggedSplit(29);
    const tagged = GpuDataset.upload(split);
    const per = 18;
    const sampler = tagged.batches({ batchSize: 4, seed: 1, dropLast: false });
    for (let epoch = 0; epoch < 2; epoch++) {
      const owners: number[] = [];
      for (const b of sampler.epochBatches()) {
        const r = await read(b);
        expect(r.epoch).toBe(epoch);
        for (let j = 0; j < r.labels.length; j++) {
          const owner = r.images[j * per] / per;
          // The whole row belongs to that sample and the label travels with it.
          expect(Array.from(r.images.subarray(j * per, (j + 1) * per))).toEqual(Array.from({ length: per }, (_, k) => owner * per + k));
          expect(r.labels[j]).toBe(owner % 7);
          owners.push(owner);
        }
      }
      expect(owners.length).toBe(29);
      expect([...owners].sort((a, b) => a - b)).toEqual([...Array(29).keys()]);
      if (epoch === 0) expect(owners).not.toEqual([...Array(29).keys()]);
    }
    sampler.dispose();
    tagged.dispose();
  });

  test('same seed and epoch give the same order, another epoch or seed another one', async () => {
    const a = ds.batches({ batchSize: 16, seed: 5 });
    const b = ds.batches({ batchSize: 16, seed: 5 });
    const c = ds.batches({ batchSize: 16, seed: 6 });
    const steps = a.stepsPerEpoch;
    const ra = await take(a, 2 * steps);
    const rb = await take(b, 2 * steps);
    const rc = await take(c, steps);
    expect(rb).toEqual(ra);
    const labelsOf = (rs: ReadBatch[]) => rs.map((r) => Array.from(r.labels));
    const imagesOf = (rs: ReadBatch[]) => rs.map((r) => Array.from(r.images));
    expect(imagesOf(ra.slice(steps))).not.toEqual(imagesOf(ra.slice(0, steps)));
    expect(imagesOf(rc)).not.toEqual(imagesOf(ra.slice(0, steps)));
    expect(labelsOf(ra).length).toBe(2 * steps);
    expect(a.indices(1, 0)).not.toEqual(a.indices(0, 0));
    for (const s of [a, b, c]) s.dispose();
  });

  test('shuffle: false walks the split in order', async () => {
    const s = ds.batches({ batchSize: 25, seed: 0, shuffle: false });
    expect(s.stepsPerEpoch).toBe(4);
    const [first] = await take(s, 1);
    expect(first.images).toEqual(synthetic.train.images.subarray(0, 25 * 30));
    s.dispose();
  });

  test('resume from (epoch, step) reproduces the remaining batches', async () => {
    const opts = { batchSize: 12, seed: 77, augment: { shift: 1, flip: true } };
    const full = ds.batches(opts);
    const steps = full.stepsPerEpoch; // 8
    const all = await take(full, 3 * steps);

    // Stop mid-epoch 1 and resume from the saved state in a fresh sampler.
    const first = ds.batches(opts);
    await take(first, steps + 3);
    const state = JSON.parse(JSON.stringify(first.state()));
    expect(state).toMatchObject({ epoch: 1, step: 3, seed: 77, batchSize: 12, count: 103, dropLast: true, shuffle: true });
    first.dispose();
    const resumed = ds.batches(opts);
    resumed.restore(state);
    expect(resumed.globalStep).toBe(steps + 3);
    expect(await take(resumed, 2 * steps - 3)).toEqual(all.slice(steps + 3));

    // The position option and seek() do the same; a position at an epoch boundary too.
    const viaOption = ds.batches({ ...opts, position: { epoch: 2, step: 0 } });
    expect(await take(viaOption, steps)).toEqual(all.slice(2 * steps));
    viaOption.seek({ epoch: 0, step: 5 });
    expect(await take(viaOption, 4)).toEqual(all.slice(5, 9));
    for (const s of [full, resumed, viaOption]) s.dispose();
  });

  test('restore refuses a state from another data order', () => {
    const s = ds.batches({ batchSize: 12, seed: 77 });
    const good = s.state();
    expect(() => s.restore({ ...good, batchSize: 13 })).toThrow('synthetic train.batches restore: the saved data order has batchSize 13, this sampler has 12');
    expect(() => s.restore({ ...good, seed: 1 })).toThrow(/has seed 1, this sampler has 77/);
    expect(() => s.restore({ ...good, count: 60000 })).toThrow(/has count 60000, this sampler has 103/);
    expect(() => s.restore({ ...good, augment: { shift: 1, flipProbability: 0, fill: 0, seed: 77 } })).toThrow(/the saved augmentation .* differs/);
    expect(() => s.restore({ ...good, step: 8 })).toThrow('synthetic train.batches seek: step 8 is outside 0..7 (8 steps per epoch)');
    expect(() => s.seek({ epoch: -1, step: 0 })).toThrow(/epoch must be a non-negative integer/);
    expect(() => s.indices(0, 8)).toThrow(/step 8 is outside 0..7/);
    s.dispose();
  });

  test('eval covers every sample once, in order, the partial batch included', async () => {
    expect(test_.evalBatchCount(10)).toBe(4);
    const images: number[] = [];
    const labels: number[] = [];
    const sizes: number[] = [];
    for (const b of test_.evalBatches(10)) {
      expect(b.start).toBe(sizes.length * 10);
      sizes.push(b.count);
      expect(b.images.shape).toEqual([b.count, 1, 6, 5]);
      images.push(...(await b.images.toArray()));
      labels.push(...(await b.labels.toArray()));
      b.images.dispose();
      b.labels.dispose();
    }
    expect(sizes).toEqual([10, 10, 10, 7]);
    expect(Float32Array.from(images)).toEqual(synthetic.test.images);
    expect(Int32Array.from(labels)).toEqual(synthetic.test.labels);
    // A batch size over the split's size: one batch with everything.
    const whole = [...test_.evalBatches(1000)];
    expect(whole.map((b) => b.count)).toEqual([37]);
    expect(await whole[0].labels.toArray()).toEqual(synthetic.test.labels);
    whole[0].images.dispose();
    whole[0].labels.dispose();
  });

  test('augmented batches: the fused gather + augment equals the CPU reference of the same decisions', async () => {
    const mean = 0.3;
    const std = 0.4;
    const norm = GpuDataset.upload(synthetic.train, { normalize: { mean, std } });
    expect(norm.fill).toBe(Math.fround(-mean / std));
    const normalised = Float32Array.from(synthetic.train.images, (v) => (v - mean) / std);
    const stored = (await norm.images.toArray()) as Float32Array;
    for (let i = 0; i < stored.length; i++) expect(Math.abs(stored[i] - normalised[i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(normalised[i])));

    const aug = { shift: 2, flip: true, seed: 1234 };
    const sampler = norm.batches({ batchSize: 9, seed: 3, augment: aug });
    expect(sampler.augment).toEqual({ shift: 2, flipProbability: 0.5, fill: norm.fill, seed: 1234 });
    const plain = norm.batches({ batchSize: 9, seed: 3 });
    sampler.seek({ epoch: 1, step: 4 });
    plain.seek({ epoch: 1, step: 4 });
    const globalStep = sampler.globalStep;
    expect(globalStep).toBe(sampler.stepsPerEpoch + 4);
    const [b] = await take(sampler, 1);
    const [p] = await take(plain, 1);
    const idx = sampler.indices(1, 4);
    expect(p.labels).toEqual(cpuRows(synthetic.train, idx).labels);
    expect(b.labels).toEqual(p.labels);
    const decisions = augmentDecisions(1234, globalStep, 9, aug);
    expect(decisions.some((d) => d.flip) && decisions.some((d) => d.dx !== 0 || d.dy !== 0)).toBe(true);
    const per = 30;
    for (let j = 0; j < 9; j++) {
      const want = augmentSampleCpu(p.images.subarray(j * per, (j + 1) * per), 1, 6, 5, decisions[j], norm.fill);
      expect(b.images.subarray(j * per, (j + 1) * per)).toEqual(Float32Array.from(want));
    }
    // Augmentation options that change nothing are the plain gather.
    const off = norm.batches({ batchSize: 9, seed: 3, augment: { shift: 0, flip: false } });
    expect(off.augment).toBeNull();
    expect((await take(off, 1))[0].images).toEqual((await take(norm.batches({ batchSize: 9, seed: 3 }), 1))[0].images);
    for (const s of [sampler, plain, off]) s.dispose();
    norm.dispose();
  });

  test('memory stays flat and nothing is uploaded per step (one order upload per epoch)', async () => {
    const sampler = ds.batches({ batchSize: 16, seed: 2, augment: { shift: 1, flip: true } });
    expect(sampler.stepsPerEpoch).toBe(6);
    // First step inside a tidy: the order buffer it creates must survive the scope.
    tidy(() => {
      sampler.next();
    });
    const first = sampler.next();
    first.images.dispose();
    first.labels.dispose();
    const before = memoryStats();
    const tensorsBefore = liveTensorCount();
    const write = vi.spyOn(engine(), 'write');
    const steps = 60; // 10 epochs, crossing 10 epoch boundaries
    let lastLabel = -1;
    for (let s = 0; s < steps; s++) {
      const b = sampler.next();
      if (s % 20 === 19) lastLabel = (await b.labels.toArray())[0];
      b.images.dispose();
      b.labels.dispose();
    }
    const uploads = write.mock.calls.length;
    write.mockRestore();
    const after = memoryStats();
    expect(lastLabel).toBeGreaterThanOrEqual(0);
    expect(sampler.position).toEqual({ epoch: 10, step: 2 });
    expect(uploads).toBe(10);
    expect(after.liveBuffers).toBe(before.liveBuffers);
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(after.createdBuffers).toBe(before.createdBuffers);
    expect(liveTensorCount()).toBe(tensorsBefore);
    sampler.dispose();
    // The sampler's two buffers: the epoch's order and the labels gathered in that order.
    expect(memoryStats().liveBuffers).toBe(before.liveBuffers - 2);
    expect(ds.isDisposed).toBe(false);
  });
});

describe('errors', () => {
  const base = taggedSplit(10);

  test('upload: counts, shapes, types and labels', () => {
    expect(() => GpuDataset.upload({ ...base, labels: new Int32Array(9) }, { name: 'train' })).toThrow('GpuDataset.upload (train): 9 labels for 10 images');
    expect(() => GpuDataset.upload({ ...base, images: new Float32Array(179) })).toThrow(
      'GpuDataset.upload (dataset): images hold 179 values, expected count × C × H × W = 10 × 2 × 3 × 3 = 180',
    );
    expect(() => GpuDataset.upload({ ...base, height: 0 })).toThrow('GpuDataset.upload (dataset): height must be a positive integer, got 0');
    expect(() => GpuDataset.upload({ ...base, count: 0, images: new Float32Array(0), labels: new Int32Array(0) })).toThrow(/count must be a positive integer, got 0/);
    expect(() => GpuDataset.upload({ ...base, channels: 1.5 })).toThrow(/channels must be a positive integer, got 1.5/);
    expect(() => GpuDataset.upload({ ...base, images: Array.from(base.images) as unknown as Float32Array })).toThrow(/images must be a Float32Array, got Array/);
    expect(() => GpuDataset.upload({ ...base, labels: Uint8Array.from(base.labels) as unknown as Int32Array })).toThrow(/labels must be an Int32Array, got Uint8Array/);
    expect(() => GpuDataset.upload({ ...base, labels: Int32Array.from([0, 1, 2, 3, 4, 5, 6, 0, 1, 7]) }, { numClasses: 7 })).toThrow(
      'GpuDataset.upload (dataset): label 7 at index 9 is outside 0..6',
    );
    expect(() => GpuDataset.upload({ ...base, labels: Int32Array.from([0, -1, 2, 3, 4, 5, 6, 0, 1, 2]) })).toThrow(/label -1 at index 1 is outside 0 and up/);
    expect(() => GpuDataset.upload(base, { normalize: { mean: 0.5, std: 0 } })).toThrow(/normalize needs a finite mean and a positive std/);
    expect(() => GpuDataset.upload(null as unknown as ImageSplit)).toThrow(/expected an image split, got null/);
  });

  test('fromTensors: shapes and dtypes', () => {
    const images = tensor(new Float32Array(2 * 1 * 2 * 2), [2, 1, 2, 2]);
    const flat = tensor(new Float32Array(8), [2, 4]);
    const labels = tensor(Int32Array.from([0, 1]), [2], { dtype: 'i32' });
    const labels3 = tensor(Int32Array.from([0, 1, 2]), [3], { dtype: 'i32' });
    const labelsF = tensor([0, 1]);
    const labels2d = tensor(Int32Array.from([0, 1]), [1, 2], { dtype: 'i32' });
    expect(() => GpuDataset.fromTensors(flat, labels)).toThrow('GpuDataset.fromTensors (dataset): images must have shape [n, C, H, W], got [2,4]');
    expect(() => GpuDataset.fromTensors(images, labels3)).toThrow('GpuDataset.fromTensors (dataset): 3 labels for 2 images');
    expect(() => GpuDataset.fromTensors(images, labelsF)).toThrow('GpuDataset.fromTensors (dataset): labels must be i32, got f32');
    expect(() => GpuDataset.fromTensors(images, labels2d)).toThrow('GpuDataset.fromTensors (dataset): labels must have shape [n], got [1,2]');
    expect(() => GpuDataset.fromTensors(labels as Tensor, labels)).toThrow(/images must have shape \[n, C, H, W\], got \[2\]/);
    const ok = GpuDataset.fromTensors(images, labels, { name: 'tiny' });
    expect(ok.count).toBe(2);
    ok.dispose();
    expect(images.isDisposed).toBe(true);
    for (const t of [flat, labels3, labelsF, labels2d]) t.dispose();
  });

  test('sampler and eval: batch sizes and options', () => {
    const ds = GpuDataset.upload(base, { name: 'tiny' });
    expect(() => ds.batches({ batchSize: 0, seed: 1 })).toThrow('tiny.batches: batch size must be a positive integer, got 0');
    expect(() => ds.batches({ batchSize: -3, seed: 1 })).toThrow('tiny.batches: batch size must be a positive integer, got -3');
    expect(() => ds.batches({ batchSize: 2.5, seed: 1 })).toThrow(/batch size must be a positive integer, got 2.5/);
    expect(() => ds.batches({ batchSize: 11, seed: 1 })).toThrow('tiny.batches: batch size 11 is larger than the 10 samples of the split');
    expect(() => ds.batches({ batchSize: 2, seed: -1 })).toThrow('tiny.batches: seed must be a non-negative integer below 2^53, got -1');
    expect(() => ds.batches({ batchSize: 2, seed: 1, dropLast: 'yes' as unknown as boolean })).toThrow(/dropLast must be true or false, got "yes"/);
    expect(() => ds.batches({ batchSize: 2, seed: 1, augment: { shift: -2 } })).toThrow(/tiny.batches: shift must be an integer in 0..65536/);
    expect(() => ds.batches({ batchSize: 2, seed: 1, augment: null as unknown as {} })).toThrow('tiny.batches: augment must be an object like { shift: 2, flip: true }, got null');
    expect(() => ds.batches({ batchSize: 2, seed: 1, position: { epoch: 0, step: 5 } })).toThrow(/step 5 is outside 0..4 \(5 steps per epoch\)/);
    expect(() => ds.evalBatchCount(0)).toThrow('tiny.evalBatches: batch size must be a positive integer, got 0');
    expect(() => ds.evalBatches(-1)).toThrow('tiny.evalBatches: batch size must be a positive integer, got -1');
    const s = ds.batches({ batchSize: 2, seed: 1 });
    ds.dispose();
    expect(() => s.next()).toThrow(/was disposed/);
    s.dispose();
  });
});

describe('real Fashion-MNIST', () => {
  const dir = fashionMnistDir();
  const present = existsSync(dir);
  if (!present) console.log(`Fashion-MNIST check skipped: ${dir} does not exist (apt-get install dataset-fashion-mnist, or set WGTRAIN_FASHION_MNIST_DIR)`);

  test.skipIf(!present)('the full train split (188 MB) lives on the GPU and batches equal the CPU rows', async () => {
    const fm = await loadFashionMnist();
    const ds = GpuDataset.upload(fm.train, { name: 'fashion-mnist train', numClasses: 10 });
    const testDs = GpuDataset.upload(fm.test, { name: 'fashion-mnist test', numClasses: 10 });
    try {
      expect(ds.images.shape).toEqual([60000, 1, 28, 28]);
      expect(ds.byteSize).toBe(60000 * 785 * 4);
      const sampler = ds.batches({ batchSize: 128, seed: 2024 });
      expect(sampler.stepsPerEpoch).toBe(468);
      sampler.seek({ epoch: 3, step: 467 });
      for (const b of await take(sampler, 2)) {
        const ref = cpuRows(fm.train, sampler.indices(b.epoch, b.step));
        expectSameValues(b.images, ref.images, `images of epoch ${b.epoch} step ${b.step}`);
        expectSameValues(b.labels, ref.labels, `labels of epoch ${b.epoch} step ${b.step}`);
      }
      // Eval over the test split: 10000 in batches of 3000, the last one 1000, labels all there.
      const counts = new Array(10).fill(0);
      const sizes: number[] = [];
      for (const b of testDs.evalBatches(3000)) {
        sizes.push(b.count);
        for (const y of await b.labels.toArray()) counts[y]++;
        if (b.start === 9000) expectSameValues(await b.images.toArray(), fm.test.images.subarray(9000 * 784), 'the last eval batch');
        b.images.dispose();
        b.labels.dispose();
      }
      expect(sizes).toEqual([3000, 3000, 3000, 1000]);
      expect(counts).toEqual(new Array(10).fill(1000));
      sampler.dispose();
    } finally {
      ds.dispose();
      testDs.dispose();
    }
  });
});
