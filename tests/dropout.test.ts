import { describe, expect, test } from 'vitest';
import { useGpu } from './helpers/gpu.js';
import { expectClose, numericGrad, randomArray, weightedSum } from './helpers/check.js';
import {
  DEFAULT_SEED,
  defaultGenerator,
  dropout,
  liveTensorCount,
  memoryStats,
  ones,
  tensor,
  Tensor,
  type DropoutOptions,
} from '../src/index.js';
import { autotuneDropout, dropoutChoice, dropoutLaunchId, DROPOUT_LAUNCHES, setDropoutLaunchForTests } from '../src/nn/functional/dropout.js';
import { blockDraw, dropoutKeepMask, keepThreshold, mulhilo32, philox4x32 } from './reference/philox.js';

useGpu();

const hex = (a: ArrayLike<number>) => Array.from(a, (v) => (v >>> 0).toString(16).padStart(8, '0'));

/** The kernel's documented formula for a kept element: x * f32(1 / (1 - p)), rounded to f32. */
const keptValue = (x: number, p: number) => Math.fround(x * Math.fround(1 / (1 - p)));

/** Non-zero f32 data (so that "output is 0" means "dropped"), both signs, magnitudes in [0.5, 2). */
function nonZeroData(n: number, seed: number): Float32Array {
  const mag = randomArray(n, seed, 0.5, 2);
  const sign = randomArray(n, seed + 1);
  return Float32Array.from(mag, (m, i) => (sign[i] < 0 ? -m : m));
}

/** The GPU keep mask for `shape`: dropout of ones, 1 where the output is non-zero. */
async function gpuMask(shape: number[], p: number, options: DropoutOptions): Promise<Uint8Array> {
  const x = ones(shape);
  const y = dropout(x, p, options);
  const v = await y.toArray();
  x.dispose();
  y.dispose();
  return Uint8Array.from(v, (e) => (e !== 0 ? 1 : 0));
}

function countDiffs(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += a[i] !== b[i] ? 1 : 0;
  return d;
}

/** Pearson correlation of m[i] and m[i + lag]. */
function lagCorrelation(m: Uint8Array, lag: number): { r: number; pairs: number } {
  const pairs = m.length - lag;
  let sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < pairs; i++) {
    const a = m[i], b = m[i + lag];
    sa += a; sb += b; sab += a * b; saa += a * a; sbb += b * b;
  }
  const cov = sab / pairs - (sa / pairs) * (sb / pairs);
  const va = saa / pairs - (sa / pairs) ** 2;
  const vb = sbb / pairs - (sb / pairs) ** 2;
  return { r: cov / Math.sqrt(va * vb), pairs };
}

/** Checks GPU output y against the reference mask and the kept-value formula, bit for bit. */
function expectDropoutOutput(y: ArrayLike<number>, x: Float32Array, mask: Uint8Array, p: number): void {
  expect(y.length).toBe(x.length);
  let bad = -1, badCount = 0;
  for (let i = 0; i < x.length; i++) {
    const want = mask[i] ? keptValue(x[i], p) : 0;
    if (!Object.is(y[i], want)) {
      badCount++;
      if (bad < 0) bad = i;
    }
  }
  if (badCount > 0) {
    throw new Error(`p=${p}: ${badCount} of ${x.length} elements differ; first at ${bad}: got ${y[bad]}, ` +
      `expected ${mask[bad] ? keptValue(x[bad], p) : 0} (reference mask ${mask[bad]}, x ${x[bad]})`);
  }
}

describe('Philox4x32-10 CPU reference', () => {
  test('mulhilo32 gives the exact 64-bit product', () => {
    const cases: [number, number][] = [[0, 0], [0xffffffff, 0xffffffff], [0xd2511f53, 0xffffffff], [0xcd9e8d57, 1], [0x10000, 0x10000]];
    const r = randomArray(200, 3, 0, 2 ** 32);
    for (let i = 0; i < r.length; i += 2) cases.push([Math.floor(r[i]), Math.floor(r[i + 1])]);
    for (const [a, b] of cases) {
      const prod = BigInt(a) * BigInt(b);
      expect(mulhilo32(a, b), `${a} * ${b}`).toEqual([Number(prod >> 32n), Number(prod & 0xffffffffn)]);
    }
  });

  test('matches the Random123 known-answer vectors', () => {
    expect(hex(philox4x32([0, 0, 0, 0], [0, 0]))).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    const all = 0xffffffff;
    expect(hex(philox4x32([all, all, all, all], [all, all]))).toEqual(['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
    expect(hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])))
      .toEqual(['d16cfe09', '94fdcceb', '5001e420', '24126ea1']);
  });

  test('keep threshold is round(p * 2^16)', () => {
    expect(keepThreshold(0)).toBe(0);
    expect(keepThreshold(0.5)).toBe(2 ** 15);
    expect(keepThreshold(0.1)).toBe(6554); // 6553.6 rounds up: the rate is 6554 / 65536 = 0.100006
    expect(keepThreshold(2 ** -18)).toBe(0); // below 2^-17: nothing is dropped
    expect(keepThreshold(2 ** -17)).toBe(1); // half rounds up
    expect(keepThreshold(1 - 2 ** -16)).toBe(2 ** 16 - 1);
    expect(keepThreshold(1 - 2 ** -53)).toBe(2 ** 16); // within 2^-17 of 1: nothing is kept
  });

  test('a block of eight elements takes the low halves of the four words, then the high halves', () => {
    const words = philox4x32([3, 9, 0, 0], [17, 0]);
    const draws = Array.from({ length: 8 }, (_, j) => blockDraw(words, j));
    expect(draws).toEqual([...Array.from(words, (w) => w & 0xffff), ...Array.from(words, (w) => w >>> 16)]);
    // Elements 24 .. 31 are block 3 of offset 9 under seed 17.
    const threshold = keepThreshold(0.5);
    expect(Array.from(dropoutKeepMask(8, 0.5, 17, 9, 24))).toEqual(draws.map((d) => (d >= threshold ? 1 : 0)));
  });
});

describe('dropout forward', () => {
  test('over 1M elements: kept fraction within 4 sigma, values exact, mask equals the CPU Philox reference, no lag correlation', async () => {
    const n = 2 ** 20 + 3; // odd: the last Philox block is partial
    const xHost = nonZeroData(n, 11);
    const x = tensor(xHost);
    const offset = 7;
    for (const [k, p] of [0.1, 0.5, 0.9].entries()) {
      const seed = 1000 + k;
      const y = dropout(x, p, { seed, offset });
      const yHost = await y.toArray();
      y.dispose();
      const mask = dropoutKeepMask(n, p, seed, offset);
      expectDropoutOutput(yHost, xHost, mask, p);

      let kept = 0;
      for (let i = 0; i < n; i++) kept += yHost[i] !== 0 ? 1 : 0;
      const q = 1 - keepThreshold(p) / 2 ** 16; // the quantised rate (p itself is within 2^-17)
      const sigma = Math.sqrt(n * q * (1 - q));
      expect(Math.abs(kept - n * q), `p=${p}: kept ${kept} of ${n}`).toBeLessThan(4 * sigma);

      const keep = Uint8Array.from(yHost, (v) => (v !== 0 ? 1 : 0));
      // Lag 1 pairs neighbours inside one Philox block (and across blocks); lag 4 pairs the low and
      // high halves of one word; lag 8 pairs the same half-word of consecutive counters.
      for (const lag of [1, 4, 8]) {
        const { r, pairs } = lagCorrelation(keep, lag);
        expect(Math.abs(r), `p=${p}: lag-${lag} correlation`).toBeLessThan(4 / Math.sqrt(pairs));
      }
    }
    x.dispose();
  });

  test('odd sizes and shapes match the reference bit for bit', async () => {
    // Lengths that are multiples of 4 run the whole-vec4 variant, the others the partial-tail one;
    // 8 and 12 end on a block edge and mid-block.
    const shapes = [[1], [3], [4], [5], [8], [12], [17], [65], [129], [3, 5, 7], [2, 1, 9], [4, 33]];
    for (const [k, shape] of shapes.entries()) {
      const n = shape.reduce((a, b) => a * b, 1);
      const xHost = Float32Array.from(randomArray(n, 50 + k, -3, 3));
      const x = tensor(xHost, shape);
      const p = 0.37;
      const y = dropout(x, p, { seed: 77, offset: k });
      expect(y.shape).toEqual(shape);
      expectDropoutOutput(await y.toArray(), xHost, dropoutKeepMask(n, p, 77, k), p);
      x.dispose();
      y.dispose();
    }
    const empty = tensor(new Float32Array(0), [0, 3]);
    const y = dropout(empty, 0.5, { seed: 1 });
    expect(y.shape).toEqual([0, 3]);
    expect((await y.toArray()).length).toBe(0);
    empty.dispose();
    y.dispose();
  });

  test('every element of a partial last vec4 or block is written (lengths 1 .. 17, few drops)', async () => {
    // p = 0.05 keeps nearly everything, so an element the kernel forgot to write would show as a
    // mismatch; fresh offsets and data per length keep a reused pool buffer from hiding one.
    for (let n = 1; n <= 17; n++) {
      const xHost = nonZeroData(n, 300 + n);
      const x = tensor(xHost);
      const y = dropout(x, 0.05, { seed: 9, offset: 100 + n });
      expectDropoutOutput(await y.toArray(), xHost, dropoutKeepMask(n, 0.05, 9, 100 + n), 0.05);
      x.dispose();
      y.dispose();
    }
  });

  test('keep rule at the boundary: keep when the 16-bit draw >= round(p * 2^16)', async () => {
    // Choose p so that round(p * 2^16) lands on element j's draw h (seed 42, offset 0, block 0) or
    // just above it; the half-way cases pin the rounding (half up, not floor or ceil).
    const words = philox4x32([0, 0, 0, 0], [42, 0]);
    const draws = Array.from({ length: 8 }, (_, j) => blockDraw(words, j));
    expect(draws.every((h) => h >= 1 && h <= 2 ** 16 - 2), `draws ${draws} leave room on both sides`).toBe(true);
    const cases: [string, number, number][] = [
      ['threshold = h', 0, 1],
      ['threshold = round(h + 0.4) = h', 0.4, 1],
      ['threshold = round(h - 0.5) = h', -0.5, 1],
      ['threshold = round(h + 0.5) = h + 1', 0.5, 0],
      ['threshold = h + 1', 1, 0],
    ];
    for (let j = 0; j < 8; j++) {
      for (const [what, delta, kept] of cases) {
        const mask = await gpuMask([8], (draws[j] + delta) / 2 ** 16, { seed: 42 });
        expect(mask[j], `element ${j} (draw ${draws[j]}), ${what}`).toBe(kept);
      }
    }
  });

  test('p near 1: 1 - 2^-16 keeps only draws of 65535; within 2^-17 of 1 nothing is kept', async () => {
    const n = 1 << 18;
    const p = 1 - 2 ** -16;
    const mask = await gpuMask([n], p, { seed: 12 });
    const reference = dropoutKeepMask(n, p, 12, 0);
    expect(countDiffs(mask, reference)).toBe(0);
    const kept = mask.reduce((a, b) => a + b, 0);
    expect(kept, 'about 4 of 2^18 expected').toBeGreaterThan(0);
    expect(kept, 'about 4 of 2^18 expected').toBeLessThan(20);
    expect(kept).toBe(reference.reduce((a, b) => a + b, 0));
    // round(p * 2^16) = 2^16: a u32 threshold that no 16-bit draw reaches (it must not wrap to 0).
    const all = await gpuMask([4096], 1 - 2 ** -40, { seed: 12 });
    expect(all.reduce((a, b) => a + b, 0)).toBe(0);
  });

  test('the rate is quantised to 1/65536: p and its nearest multiple of 2^-16 give the same mask', async () => {
    const n = 4096;
    const base = await gpuMask([n], 6554 / 2 ** 16, { seed: 31 });
    for (const p of [0.1, 6553.6 / 2 ** 16, 6554.4 / 2 ** 16]) {
      expect(countDiffs(base, await gpuMask([n], p, { seed: 31 })), `p = ${p}`).toBe(0);
    }
    expect(countDiffs(base, dropoutKeepMask(n, 0.1, 31, 0))).toBe(0);
  });

  test('a dropped inf or NaN becomes 0; a kept one stays', async () => {
    const n = 64;
    const xHost = new Float32Array(n).map((_, i) => (i % 2 ? Infinity : NaN));
    const mask = dropoutKeepMask(n, 0.5, 3, 0);
    expect(mask.includes(0) && mask.includes(1)).toBe(true);
    const x = tensor(xHost);
    const y = dropout(x, 0.5, { seed: 3 });
    const v = await y.toArray();
    for (let i = 0; i < n; i++) expect(Object.is(v[i], mask[i] ? xHost[i] : 0), `element ${i}`).toBe(true);
    x.dispose();
    y.dispose();
  });

  test('the mask does not depend on how the work is split: element i agrees across lengths and shapes', async () => {
    const opts = { seed: 2024, offset: 3 };
    const long = await gpuMask([100_003], 0.5, opts);
    // Different lengths launch different workgroup counts and end in differently partial blocks;
    // multiples of 4 run the other shader variant than the long (odd) tensor.
    for (const n of [1, 2, 5, 8, 255, 1025, 1028, 4099, 70_001, 70_004]) {
      const short = await gpuMask([n], 0.5, opts);
      expect(countDiffs(short, long.subarray(0, n)), `n=${n}`).toBe(0);
    }
    const shaped = await gpuMask([17, 65], 0.5, opts);
    expect(countDiffs(shaped, long.subarray(0, 17 * 65))).toBe(0);
    // A long tensor's tail equals the reference started at that index.
    expect(countDiffs(long.subarray(99_000), dropoutKeepMask(1003, 0.5, 2024, 3, 99_000))).toBe(0);
  });

  test('every launch shape the autotuner can pick writes the same output, forward and backward', async () => {
    // 8 * 64 * 3 + 5 elements: several workgroups of the smallest size, a thread with blocks past the
    // end, and a partial last vec4; 17 and 4096 for one workgroup and an exact multiple.
    for (const n of [17, 4096, 8 * 64 * 3 + 5]) {
      const data = nonZeroData(n, n);
      const grad = nonZeroData(n, n + 7);
      const run = async () => {
        const x = tensor(data, [n], { requiresGrad: true });
        const y = dropout(x, 0.3, { seed: 77, offset: 5 });
        y.backward(tensor(grad, [n]));
        const out = [await y.toArray(), await x.grad!.toArray()];
        x.dispose();
        y.dispose();
        return out;
      };
      const [yDefault, gDefault] = await run();
      expect(countDiffs(Uint8Array.from(yDefault, (e) => +(e !== 0)), dropoutKeepMask(n, 0.3, 77, 5))).toBe(0);
      for (const launch of DROPOUT_LAUNCHES) {
        setDropoutLaunchForTests(launch);
        try {
          const [y, g] = await run();
          expect(Array.from(y), `n=${n} ${dropoutLaunchId(launch)}`).toEqual(Array.from(yDefault));
          expect(Array.from(g), `n=${n} ${dropoutLaunchId(launch)} backward`).toEqual(Array.from(gDefault));
        } finally {
          setDropoutLaunchForTests(null);
        }
      }
    }
  });

  test('autotuneDropout stores the fastest launch per length class, and dropout then uses it', async () => {
    const n = 5001;
    const slowest = Object.fromEntries(DROPOUT_LAUNCHES.map((l, i) => [dropoutLaunchId(l), 10 + i]));
    const pick = DROPOUT_LAUNCHES[4];
    slowest[dropoutLaunchId(pick)] = 1;
    let calls = 0;
    const timer = async (cs: readonly { id: string }[]) => {
      calls++;
      return Object.fromEntries(cs.map((c) => [c.id, slowest[c.id]]));
    };
    expect(dropoutChoice(n).tuned).toBe(false);
    const [r] = await autotuneDropout([n, n + 2], { timer });
    expect(calls).toBe(1); // n and n + 2 share a class (rounded up to 8192, both end in a partial vec4)
    expect(r.record.choice).toBe(dropoutLaunchId(pick));
    expect(dropoutChoice(n + 4)).toMatchObject({ tuned: true, id: dropoutLaunchId(pick) });
    expect(dropoutChoice(n + 3).tuned).toBe(false); // 5004 is a multiple of 4: the other class
    // A cached class is not timed again.
    await autotuneDropout([n], { timer });
    expect(calls).toBe(1);
    // And the tuned launch writes the reference mask.
    const mask = await gpuMask([n], 0.2, { seed: 9, offset: 1 });
    expect(countDiffs(mask, dropoutKeepMask(n, 0.2, 9, 1))).toBe(0);
  });

  test('same seed and offset give the same mask; another seed or offset gives an independent one', async () => {
    const n = 8192;
    const base = await gpuMask([n], 0.5, { seed: 5, offset: 0 });
    expect(countDiffs(base, await gpuMask([n], 0.5, { seed: 5, offset: 0 }))).toBe(0);
    expect(countDiffs(base, await gpuMask([n], 0.5, { seed: 5 }))).toBe(0); // offset defaults to 0
    // Independent p = 0.5 masks disagree on Binomial(n, 1/2) elements.
    const band = 4 * Math.sqrt(n) / 2;
    const others: [string, DropoutOptions][] = [
      ['seed 6', { seed: 6, offset: 0 }],
      ['offset 1', { seed: 5, offset: 1 }],
      ['seed + 2^32 (high key word)', { seed: 5 + 2 ** 32, offset: 0 }],
      ['offset 2^32 (high counter word)', { seed: 5, offset: 2 ** 32 }],
    ];
    for (const [what, opts] of others) {
      const d = countDiffs(base, await gpuMask([n], 0.5, opts));
      expect(Math.abs(d - n / 2), `${what}: ${d} of ${n} differ`).toBeLessThan(band);
    }
    expect(countDiffs(await gpuMask([n], 0.5, { seed: 5 + 2 ** 32, offset: 2 ** 32 + 9 }), dropoutKeepMask(n, 0.5, 5 + 2 ** 32, 2 ** 32 + 9))).toBe(0);
  });

  test('calls without a seed draw from an advancing default generator', async () => {
    const n = 4096;
    defaultGenerator.manualSeed(123);
    expect(defaultGenerator.count).toBe(0);
    const first = await gpuMask([n], 0.5, {});
    const second = await gpuMask([n], 0.5, {});
    expect(defaultGenerator.count).toBe(2);
    expect(countDiffs(first, second)).toBeGreaterThan(n / 4);
    // The k-th unseeded call is (seed, offset k); explicit seeds and identity calls do not advance it.
    expect(countDiffs(first, await gpuMask([n], 0.5, { seed: 123, offset: 0 }))).toBe(0);
    expect(countDiffs(second, await gpuMask([n], 0.5, { seed: 123, offset: 1 }))).toBe(0);
    await gpuMask([n], 0, {});
    await gpuMask([n], 0.5, { training: false });
    expect(defaultGenerator.count).toBe(2);
    defaultGenerator.manualSeed(123);
    expect(countDiffs(first, await gpuMask([n], 0.5, {}))).toBe(0);
    defaultGenerator.manualSeed(DEFAULT_SEED);
    expect(countDiffs(await gpuMask([n], 0.5, {}), dropoutKeepMask(n, 0.5, DEFAULT_SEED, 0))).toBe(0);
  });
});

describe('dropout backward', () => {
  test('uses the forward mask: zero where the output was zero, g * scale elsewhere', async () => {
    const n = 3001;
    const p = 0.3;
    const xHost = nonZeroData(n, 21);
    const gHost = nonZeroData(n, 23);
    const x = tensor(xHost, [n], { requiresGrad: true });
    const g = tensor(gHost);
    defaultGenerator.manualSeed(99);
    const y = dropout(x, p); // unseeded: the backward must not depend on the generator moving on
    const decoy = dropout(ones([n]), p);
    y.backward({ grad: g });
    const yHost = await y.toArray();
    const grad = await x.grad!.toArray();
    const mask = dropoutKeepMask(n, p, 99, 0);
    expectDropoutOutput(yHost, xHost, mask, p);
    for (let i = 0; i < n; i++) {
      const want = yHost[i] === 0 ? 0 : keptValue(gHost[i], p);
      if (!Object.is(grad[i], want)) throw new Error(`grad element ${i}: got ${grad[i]}, expected ${want}`);
    }
    for (const t of [x, g, y, decoy]) t.dispose();
    defaultGenerator.manualSeed(DEFAULT_SEED);
  });

  test('gradient matches central finite differences of the float64 reference', async () => {
    const shape = [5, 13];
    const n = 65;
    const p = 0.45;
    const xHost = randomArray(n, 31);
    const w = randomArray(n, 32);
    const mask = dropoutKeepMask(n, p, 8, 2);
    const reference = ([xs]: Float64Array[]) => weightedSum(Array.from(xs, (v, i) => (mask[i] * v) / (1 - p)), w);
    const [expected] = numericGrad(reference, [Float64Array.from(xHost)]);
    const x = tensor(Float32Array.from(xHost), shape, { requiresGrad: true });
    const y = dropout(x, p, { seed: 8, offset: 2 });
    const wT = tensor(Float32Array.from(w), shape);
    y.backward({ grad: wT });
    expectClose(await x.grad!.toArray(), expected, { rtol: 1e-4, atol: 1e-5, what: 'dropout grad' });
    for (const t of [x, y, wT]) t.dispose();
  });

  test('leaves no tensor or buffer behind', async () => {
    const tensorsBefore = liveTensorCount();
    const buffersBefore = memoryStats().liveBuffers;
    const x = tensor(Float32Array.from(randomArray(300, 41)), [300], { requiresGrad: true });
    const y = dropout(x, 0.2, { seed: 4 });
    const g = ones([300]);
    y.backward({ grad: g });
    await x.grad!.toArray();
    for (const t of [x, y, g]) t.dispose();
    expect(liveTensorCount()).toBe(tensorsBefore);
    expect(memoryStats().liveBuffers).toBe(buffersBefore);
  });
});

describe('dropout identity cases', () => {
  for (const [what, p, opts] of [
    ['p = 0', 0, { seed: 1 }],
    ['training: false', 0.5, { training: false }],
  ] as [string, number, DropoutOptions][]) {
    test(`${what} returns x unchanged and passes the gradient through`, async () => {
      const n = 129;
      const xHost = Float32Array.from(randomArray(n, 61));
      const gHost = Float32Array.from(randomArray(n, 62));
      const x = tensor(xHost, [n], { requiresGrad: true });
      const g = tensor(gHost);
      const drawn = defaultGenerator.count;
      const y = dropout(x, p, opts);
      expect(y.requiresGrad).toBe(true);
      expect(Array.from(await y.toArray())).toEqual(Array.from(xHost));
      y.backward({ grad: g });
      expect(Array.from(await x.grad!.toArray())).toEqual(Array.from(gHost));
      expect(defaultGenerator.count).toBe(drawn);
      y.dispose(); // a view: x stays usable
      expect(Array.from(await x.toArray())).toEqual(Array.from(xHost));
      x.dispose();
      g.dispose();
    });
  }
});

describe('dropout errors', () => {
  test('p outside [0, 1) or not a number', () => {
    const x = ones([4]);
    for (const p of [1, 1.5, -0.1, NaN, Infinity]) {
      expect(() => dropout(x, p, { seed: 1 })).toThrow(`dropout: p must be in [0, 1), got ${p}`);
    }
    expect(() => dropout(x, '0.5' as unknown as number)).toThrow('dropout: p must be in [0, 1), got "0.5"');
    expect(() => dropout(x, undefined as unknown as number)).toThrow('dropout: p must be in [0, 1), got undefined');
    // Checked in eval mode too: a bad rate is a bug whatever the mode.
    expect(() => dropout(x, 1, { training: false })).toThrow(/dropout: p must be in \[0, 1\), got 1/);
    x.dispose();
  });

  test('non-f32, disposed or non-tensor input', () => {
    const xi = tensor(Int32Array.of(1, 2, 3));
    expect(() => dropout(xi, 0.5)).toThrow(/dropout: expected a f32 tensor, got i32 \(shape \[3\]\)/);
    xi.dispose();
    const xd = ones([2]);
    xd.dispose();
    expect(() => dropout(xd, 0.5)).toThrow(/dropout: tensor #\d+ \(shape \[2\], f32\) was disposed/);
    expect(() => dropout([1, 2] as unknown as Tensor, 0.5)).toThrow(/dropout: x must be a Tensor/);
  });

  test('bad seed, offset or training flag', () => {
    const x = ones([4]);
    for (const seed of [-1, 1.5, 2 ** 53, NaN]) {
      expect(() => dropout(x, 0.5, { seed })).toThrow(/dropout: seed must be a non-negative integer below 2\^53/);
    }
    expect(() => dropout(x, 0.5, { seed: 1, offset: -2 })).toThrow(/dropout: offset must be a non-negative integer below 2\^53, got -2/);
    expect(() => dropout(x, 0.5, { offset: 3 })).toThrow(/dropout: an offset needs an explicit seed/);
    expect(() => dropout(x, 0.5, { training: 'no' as unknown as boolean })).toThrow(/dropout: training must be true or false, got "no"/);
    expect(() => defaultGenerator.manualSeed(-5)).toThrow(/Generator.manualSeed: seed must be a non-negative integer/);
    x.dispose();
  });
});
