// GPU augmentation (shaders/augment.wgsl, src/lab/data/augment.ts): random shift with fill and
// horizontal flip, drawn per sample from Philox keyed by (seed, step). The GPU output is compared
// exactly with a CPU reference, and the per-sample decisions are recovered from the output itself
// (images with a unique value per pixel) and compared with the CPU twin augmentDecision.
import { describe, expect, test } from 'vitest';
import { useGpu } from './helpers/gpu.js';
import { randomArray } from './helpers/check.js';
import { indexSelect, liveTensorCount, memoryStats, randn, tensor, Tensor } from '../src/index.js';
import {
  AUGMENT_PHILOX_DOMAIN,
  augmentDecision,
  augmentDecisions,
  augmentImages,
  augmentSampleCpu,
  philox4x32_10,
  type AugmentDecision,
  type AugmentOptions,
} from '../src/lab/data/augment.js';
import { philox4x32 } from './reference/philox.js';

useGpu();

const hex = (a: ArrayLike<number>) => Array.from(a, (v) => (v >>> 0).toString(16).padStart(8, '0'));

/** Images [B, C, H, W] where every value is distinct and positive: 1 + its flat index. */
function uniqueImages(B: number, C: number, H: number, W: number): Float32Array {
  return Float32Array.from({ length: B * C * H * W }, (_, i) => 1 + i);
}

/** The CPU reference of a whole batch under given decisions. */
function referenceBatch(x: ArrayLike<number>, shape: number[], decisions: AugmentDecision[], fill = 0): Float32Array {
  const [B, C, H, W] = shape;
  const per = C * H * W;
  const out = new Float32Array(B * per);
  for (let b = 0; b < B; b++) {
    const sample = Array.prototype.slice.call(x, b * per, (b + 1) * per) as number[];
    out.set(augmentSampleCpu(sample, C, H, W, decisions[b], fill), b * per);
  }
  return out;
}

/**
 * Which (dy, dx, flip) with |dy|, |dx| <= k explain sample b of `out`, found by brute force with the
 * pixel rule; with unique pixel values exactly one does (unless the shift pushes everything out).
 */
function recoverDecisions(x: Float32Array, out: Float32Array, shape: number[], k: number, fill = 0): AugmentDecision[] {
  const [B, C, H, W] = shape;
  const per = C * H * W;
  const found: AugmentDecision[] = [];
  for (let b = 0; b < B; b++) {
    const sample = x.subarray(b * per, (b + 1) * per);
    const got = out.subarray(b * per, (b + 1) * per);
    const matches: AugmentDecision[] = [];
    for (let dy = -k; dy <= k; dy++) {
      for (let dx = -k; dx <= k; dx++) {
        for (const flip of [false, true]) {
          const d = { dy, dx, flip };
          const ref = augmentSampleCpu(sample, C, H, W, d, fill);
          if (ref.every((v, i) => v === got[i])) matches.push(d);
        }
      }
    }
    expect(matches.length, `sample ${b}: decisions consistent with the output`).toBe(1);
    found.push(matches[0]);
  }
  return found;
}

async function runAugment(data: Float32Array, shape: number[], options: Parameters<typeof augmentImages>[1]): Promise<Float32Array> {
  const x = tensor(data, shape);
  const y = augmentImages(x, options);
  const v = await y.toArray();
  expect(y.shape).toEqual(options.index ? [options.index.size, ...shape.slice(1)] : shape);
  x.dispose();
  y.dispose();
  return v as Float32Array;
}

describe('the Philox twin on the CPU', () => {
  test('matches the Random123 known-answer vectors and the test reference', () => {
    expect(hex(philox4x32_10([0, 0, 0, 0], [0, 0]))).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    expect(hex(philox4x32_10([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]))).toEqual([
      '408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd',
    ]);
    const r = randomArray(600, 11, 0, 2 ** 32);
    for (let t = 0; t < 100; t++) {
      const c = [0, 1, 2, 3].map((i) => Math.floor(r[6 * t + i]));
      const k = [4, 5].map((i) => Math.floor(r[6 * t + i]));
      expect(philox4x32_10(c, k)).toEqual(Array.from(philox4x32(c, k)));
    }
  });

  test('decisions are the documented function of the Philox words', () => {
    const seed = 2 ** 40 + 17;
    const step = 2 ** 33 + 5;
    const k = 3;
    for (let b = 0; b < 50; b++) {
      const w = philox4x32(
        [b, step % 2 ** 32, Math.floor(step / 2 ** 32), AUGMENT_PHILOX_DOMAIN],
        [seed % 2 ** 32, Math.floor(seed / 2 ** 32)],
      );
      const d = augmentDecision(seed, step, b, { shift: k, flip: 0.3 });
      expect(d.dy).toBe(Math.floor((w[0] / 2 ** 32) * (2 * k + 1)) - k);
      expect(d.dx).toBe(Math.floor((w[1] / 2 ** 32) * (2 * k + 1)) - k);
      expect(d.flip).toBe(w[2] >>> 8 < Math.round(0.3 * 2 ** 24));
    }
  });

  test('shifts cover -k..k about uniformly, flips happen with probability p', () => {
    const k = 2;
    const n = 5000;
    const ds = augmentDecisions(9, 4, n, { shift: k, flip: true });
    const countY = new Array(2 * k + 1).fill(0);
    const countX = new Array(2 * k + 1).fill(0);
    let flips = 0;
    for (const d of ds) {
      countY[d.dy + k]++;
      countX[d.dx + k]++;
      if (d.flip) flips++;
    }
    // Each bin expects 1000 with sd ~ 28; 5 sd either way.
    for (const c of [...countY, ...countX]) expect(Math.abs(c - n / (2 * k + 1))).toBeLessThan(150);
    expect(Math.abs(flips - n / 2)).toBeLessThan(5 * Math.sqrt(n / 4));
    expect(augmentDecisions(9, 4, 200, { shift: 0, flip: 1 }).every((d) => d.dy === 0 && d.dx === 0 && d.flip)).toBe(true);
    expect(augmentDecisions(9, 4, 200, { shift: 1, flip: 0 }).some((d) => d.flip)).toBe(false);
    // Another step, another draw.
    const other = augmentDecisions(9, 5, 200, { shift: k, flip: true });
    expect(other).not.toEqual(ds.slice(0, 200));
  });
});

describe('augmentImages on the GPU', () => {
  test('shift + flip equal the CPU reference of the same decisions, and the decisions read back from the output', async () => {
    const shape = [13, 2, 7, 9];
    const x = uniqueImages(13, 2, 7, 9);
    const opts: AugmentOptions = { shift: 2, flip: true };
    const out = await runAugment(x, shape, { ...opts, seed: 123, step: 45 });
    const decisions = augmentDecisions(123, 45, 13, opts);
    // The test must see both flips and non-flips and non-zero shifts in both directions.
    expect(decisions.some((d) => d.flip) && decisions.some((d) => !d.flip)).toBe(true);
    expect(decisions.some((d) => d.dy !== 0) && decisions.some((d) => d.dx !== 0)).toBe(true);
    expect(out).toEqual(referenceBatch(x, shape, decisions));
    expect(recoverDecisions(x, out, shape, 2)).toEqual(decisions);
  });

  test('flip is an exact mirror', async () => {
    const shape = [5, 3, 4, 7];
    const [B, C, H, W] = shape;
    const x = Float32Array.from(randomArray(B * C * H * W, 3));
    const out = await runAugment(x, shape, { flip: 1, seed: 1, step: 0 });
    for (let b = 0; b < B; b++)
      for (let c = 0; c < C; c++)
        for (let y = 0; y < H; y++)
          for (let xx = 0; xx < W; xx++) {
            const base = ((b * C + c) * H + y) * W;
            expect(out[base + xx]).toBe(x[base + W - 1 - xx]);
          }
  });

  test('shifts are exact translations with zero fill', async () => {
    const shape = [17, 1, 6, 5];
    const [B, , H, W] = shape;
    const x = Float32Array.from(randomArray(B * H * W, 4, 0.5, 1)); // no zeros in the data itself
    const k = 3;
    const out = await runAugment(x, shape, { shift: k, seed: 77, step: 3 });
    const decisions = augmentDecisions(77, 3, B, { shift: k });
    let zeros = 0;
    for (let b = 0; b < B; b++) {
      const { dy, dx, flip } = decisions[b];
      expect(flip).toBe(false);
      for (let y = 0; y < H; y++)
        for (let xx = 0; xx < W; xx++) {
          const sy = y + dy;
          const sx = xx + dx;
          const got = out[(b * H + y) * W + xx];
          if (sy >= 0 && sy < H && sx >= 0 && sx < W) {
            expect(got).toBe(x[(b * H + sy) * W + sx]);
          } else {
            expect(got).toBe(0);
            zeros++;
          }
        }
    }
    expect(zeros).toBeGreaterThan(0);
    expect(recoverDecisions(uniqueImages(B, 1, H, W), await runAugment(uniqueImages(B, 1, H, W), shape, { shift: k, seed: 77, step: 3 }), shape, k)).toEqual(decisions);
  });

  test('the fill value pads the borders', async () => {
    const shape = [9, 1, 5, 5];
    const x = uniqueImages(9, 1, 5, 5);
    const fill = -0.8101983;
    const opts = { shift: 2, flip: 0.5, fill };
    const out = await runAugment(x, shape, { ...opts, seed: 5, step: 6 });
    const decisions = augmentDecisions(5, 6, 9, opts);
    expect(out).toEqual(referenceBatch(x, shape, decisions, Math.fround(fill)));
    expect(out.some((v) => v === Math.fround(fill))).toBe(true);
  });

  test('same seed and step give the same output; another step or seed another one', async () => {
    const shape = [8, 1, 6, 6];
    const x = uniqueImages(8, 1, 6, 6);
    const opts = { shift: 2, flip: true };
    const a = await runAugment(x, shape, { ...opts, seed: 3, step: 10 });
    const b = await runAugment(x, shape, { ...opts, seed: 3, step: 10 });
    const c = await runAugment(x, shape, { ...opts, seed: 3, step: 11 });
    const d = await runAugment(x, shape, { ...opts, seed: 4, step: 10 });
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(d).not.toEqual(a);
    // Steps and seeds above 2^32 use the high words too.
    const e = await runAugment(x, shape, { ...opts, seed: 3, step: 2 ** 32 + 10 });
    expect(e).not.toEqual(a);
    expect(e).toEqual(referenceBatch(x, shape, augmentDecisions(3, 2 ** 32 + 10, 8, opts)));
  });

  test('identity when off', async () => {
    const shape = [7, 3, 5, 3];
    const x = Float32Array.from(randomArray(7 * 3 * 5 * 3, 8));
    expect(await runAugment(x, shape, { seed: 1, step: 2 })).toEqual(x);
    expect(await runAugment(x, shape, { shift: 0, flip: false, seed: 9, step: 9 })).toEqual(x);
  });

  test('the fused gather equals indexSelect then augment; an out-of-range index gives a fill sample', async () => {
    const shape = [11, 1, 5, 4];
    const x = uniqueImages(11, 1, 5, 4);
    const idxValues = Int32Array.from([10, 0, 3, 3, 7, 11, -1]);
    const xt = tensor(x, shape);
    const idx = tensor(idxValues, [7], { dtype: 'i32' });
    const opts = { shift: 1, flip: true, fill: 0.25, seed: 21, step: 8 };
    const fused = augmentImages(xt, { ...opts, index: idx });
    const gathered = indexSelect(xt, 0, idx);
    const twoStep = augmentImages(gathered, opts);
    const [f, t, g] = [await fused.toArray(), await twoStep.toArray(), await gathered.toArray()];
    expect(fused.shape).toEqual([7, 1, 5, 4]);
    const per = 20;
    // Rows 0..4 are real samples: identical either way and equal to the CPU reference.
    expect(f.subarray(0, 5 * per)).toEqual(t.subarray(0, 5 * per));
    expect(f.subarray(0, 5 * per)).toEqual(referenceBatch(g, [7, 1, 5, 4], augmentDecisions(21, 8, 7, opts), 0.25).subarray(0, 5 * per));
    // Rows 5, 6 (indices 11 and -1) are out of range: the whole sample is fill.
    expect(Array.from(f.subarray(5 * per))).toEqual(new Array(2 * per).fill(0.25));
    for (const t2 of [xt, idx, fused, gathered, twoStep]) t2.dispose();
  });

  test('no buffers are left behind', async () => {
    const x = randn([4, 1, 6, 6], { seed: 2 });
    const idx = tensor(Int32Array.from([1, 2]), [2], { dtype: 'i32' });
    // Warm-up: one call of each variant fills the pool with the output sizes.
    augmentImages(x, { shift: 1, flip: true, seed: 1, step: 0 }).dispose();
    augmentImages(x, { shift: 1, flip: true, seed: 1, step: 0, index: idx }).dispose();
    const before = memoryStats();
    const live = liveTensorCount();
    for (let s = 0; s < 50; s++) {
      augmentImages(x, { shift: 1, flip: true, seed: 1, step: s }).dispose();
      augmentImages(x, { shift: 1, flip: true, seed: 1, step: s, index: idx }).dispose();
    }
    await x.toArray();
    const after = memoryStats();
    expect(after.liveBuffers).toBe(before.liveBuffers);
    expect(after.createdBuffers).toBe(before.createdBuffers);
    expect(liveTensorCount()).toBe(live);
    x.dispose();
    idx.dispose();
  });

  test('bad input is refused by message', () => {
    const x = randn([2, 1, 4, 4], { seed: 1 });
    const base = { seed: 1, step: 0 };
    expect(() => augmentImages(randn([2, 4, 4], { seed: 1 }), base)).toThrow('augmentImages: images must have shape [B, C, H, W], got [2,4,4]');
    const xi = tensor(Int32Array.from(new Array(32).fill(1)), [2, 1, 4, 4], { dtype: 'i32' });
    expect(() => augmentImages(xi, base)).toThrow(/augmentImages: expected a f32 tensor, got i32/);
    expect(() => augmentImages(x, { ...base, shift: -1 })).toThrow('augmentImages: shift must be an integer in 0..65536 (pixels), got -1');
    expect(() => augmentImages(x, { ...base, shift: 1.5 })).toThrow(/shift must be an integer/);
    expect(() => augmentImages(x, { ...base, flip: 1.5 })).toThrow('augmentImages: flip must be true, false or a probability in [0, 1], got 1.5');
    expect(() => augmentImages(x, { ...base, fill: NaN })).toThrow('augmentImages: fill must be a finite number, got NaN');
    expect(() => augmentImages(x, { seed: -1, step: 0 })).toThrow('augmentImages: seed must be a non-negative integer below 2^53, got -1');
    expect(() => augmentImages(x, { seed: 1, step: 0.5 })).toThrow('augmentImages: step must be a non-negative integer below 2^53, got 0.5');
    expect(() => augmentImages(x, undefined as unknown as { seed: number; step: number })).toThrow(/augmentImages: options with a seed and a step are required/);
    expect(() => augmentImages([1] as unknown as Tensor, base)).toThrow(/augmentImages: x must be a Tensor/);
    const idx2 = tensor(Int32Array.from([0, 1]), [1, 2], { dtype: 'i32' });
    expect(() => augmentImages(x, { ...base, index: idx2 })).toThrow('augmentImages: the index must be 1-D, got shape [1,2]');
    const idxF = tensor([0, 1]);
    expect(() => augmentImages(x, { ...base, index: idxF })).toThrow(/augmentImages \(index\): expected a i32 or u32 tensor, got f32/);
    const xg = randn([2, 1, 4, 4], { seed: 1, requiresGrad: true });
    expect(() => augmentImages(xg, base)).toThrow(/augmentImages: the input requires grad/);
    expect(() => augmentDecision(1, 1, -1)).toThrow('augmentDecision: sample must be an integer in 0..2^32-1, got -1');
    const gone = randn([1, 1, 2, 2], { seed: 1 });
    gone.dispose();
    expect(() => augmentImages(gone, base)).toThrow(/augmentImages: tensor #\d+ .* was disposed/);
    for (const t of [x, xi, idx2, idxF, xg]) t.dispose();
  });
});
