import { describe, expect, test } from 'vitest';
import { crossEntropy, liveTensorCount, setCheckedMode, tensor, tidy, type CrossEntropyOptions } from '../src/index.js';
import { useGpu } from './helpers/gpu.js';
import { lengthOf, onPath } from './helpers/rows.js';
import { expectClose, f32, numericGrad, randomArray, randomInts, weightedSum } from './helpers/check.js';
import { shortRowMaxLen, type RowPath } from '../src/nn/functional/rows.js';

useGpu();

type Reduction = NonNullable<CrossEntropyOptions['reduction']>;

/** float64 per-row losses: -(1-ε)·logp[y] - (ε/C)·Σ_c logp[c], NaN for labels outside [0, C). */
function refRowLosses(logits: ArrayLike<number>, labels: ArrayLike<number>, n: number, c: number, eps: number): Float64Array {
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const row = Array.from({ length: c }, (_, k) => logits[r * c + k]);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    const y = labels[r];
    if (!(y >= 0 && y < c)) {
      out[r] = NaN;
      continue;
    }
    const sumLogp = row.reduce((s, v) => s + (v - lse), 0);
    out[r] = -(1 - eps) * (row[y] - lse) - (eps / c) * sumLogp;
  }
  return out;
}

function refLoss(logits: ArrayLike<number>, labels: ArrayLike<number>, n: number, c: number, eps: number, reduction: Reduction): Float64Array {
  const rows = refRowLosses(logits, labels, n, c, eps);
  if (reduction === 'none') return rows;
  const s = rows.reduce((a, b) => a + b, 0);
  return Float64Array.of(reduction === 'mean' ? s / n : s);
}

const REDUCTIONS: Reduction[] = ['mean', 'sum', 'none'];

describe('crossEntropy forward', () => {
  test('odd shapes, smoothing 0 and 0.1, every reduction', async () => {
    let seed = 1;
    for (const n of [1, 3, 17, 65]) {
      for (const c of [1, 3, 17, 129]) {
        const logits = f32(randomArray(n * c, seed++, -4, 4));
        const labels = randomInts(n, seed++, c);
        const tl = tensor(logits, [n, c]);
        const ty = tensor(labels);
        for (const eps of [0, 0.1]) {
          for (const reduction of REDUCTIONS) {
            const loss = crossEntropy(tl, ty, { labelSmoothing: eps, reduction });
            expect(loss.shape).toEqual(reduction === 'none' ? [n] : []);
            expectClose(await loss.toArray(), refLoss(logits, labels, n, c, eps, reduction), { what: `[${n}, ${c}] ε=${eps} ${reduction}` });
            loss.dispose();
          }
        }
        tl.dispose();
        ty.dispose();
      }
    }
  });

  test('many classes (1000), u32 labels, smoothing 1', async () => {
    const [n, c] = [5, 1000];
    const logits = f32(randomArray(n * c, 7, -6, 6));
    const labels = Uint32Array.from(randomInts(n, 8, c));
    for (const eps of [0, 1]) {
      const loss = crossEntropy(tensor(logits, [n, c]), tensor(labels), { labelSmoothing: eps, reduction: 'none' });
      expectClose(await loss.toArray(), refLoss(logits, labels, n, c, eps, 'none'));
    }
  });

  test('large-magnitude logits (around 1e3) keep full precision with smoothing', async () => {
    const [n, c] = [4, 17];
    const raw = randomArray(n * c, 9, -30, 30);
    const logits = f32(raw.map((v, i) => (i < 2 * c ? 1000 : -1000) + v));
    const labels = randomInts(n, 10, c);
    for (const eps of [0, 0.1]) {
      const loss = crossEntropy(tensor(logits, [n, c]), tensor(labels), { labelSmoothing: eps, reduction: 'none' });
      const got = await loss.toArray();
      expect(got.every(Number.isFinite)).toBe(true);
      expectClose(got, refLoss(logits, labels, n, c, eps, 'none'), { what: `ε=${eps}` });
    }
  });

  // Checked mode (the default) turns them into an error: tests/reliability.test.ts.
  test('labels outside [0, C) give NaN for their rows without checked mode', async () => {
    setCheckedMode(false);
    try {
      await labelsOutOfRange();
    } finally {
      setCheckedMode(true);
    }
  });

  async function labelsOutOfRange() {
    const [n, c] = [4, 5];
    const logits = f32(randomArray(n * c, 11));
    const labels = Int32Array.of(0, 5, -1, 4);
    const tl = tensor(logits, [n, c], { requiresGrad: true });
    const none = await crossEntropy(tl, tensor(labels), { reduction: 'none' }).toArray();
    expect(Number.isNaN(none[1]) && Number.isNaN(none[2])).toBe(true);
    expectClose([none[0], none[3]], [refRowLosses(logits, labels, n, c, 0)[0], refRowLosses(logits, labels, n, c, 0)[3]]);
    const mean = crossEntropy(tl, tensor(labels));
    expect(Number.isNaN(await mean.item())).toBe(true);
    mean.backward();
    const g = await tl.grad!.toArray();
    const nanRows = [0, 1, 2, 3].map((r) => g.slice(r * c, (r + 1) * c).every(Number.isNaN));
    expect(nanRows).toEqual([false, true, true, false]);
    // A u32 label of 2^31 or more must not wrap into range.
    const big = crossEntropy(tensor(logits, [n, c]), tensor(Uint32Array.of(0, 2 ** 31 + 1, 2 ** 32 - 1, 1)), { reduction: 'none' });
    const b = await big.toArray();
    expect([0, 1, 2, 3].map((r) => Number.isNaN(b[r]))).toEqual([false, true, true, false]);
  }
});

describe('crossEntropy backward', () => {
  const cases = [
    { n: 3, c: 5 },
    { n: 17, c: 3 },
    { n: 2, c: 129 },
    { n: 4, c: 1 },
  ];
  for (const { n, c } of cases) {
    for (const eps of [0, 0.1]) {
      test.each(REDUCTIONS)(`[${n}, ${c}] ε=${eps} reduction %s matches finite differences`, async (reduction) => {
        const logits = f32(randomArray(n * c, 100 + n * c, -3, 3));
        const labels = randomInts(n, 200 + n, c);
        const w = f32(randomArray(reduction === 'none' ? n : 1, 300 + n, 0.5, 1.5));
        const tl = tensor(logits, [n, c], { requiresGrad: true });
        const loss = crossEntropy(tl, tensor(labels), { labelSmoothing: eps, reduction });
        expect(loss.gradFn?.op).toBe('crossEntropy');
        loss.backward({ grad: tensor(w, loss.shape) });
        const got = await tl.grad!.toArray();
        const [expected] = numericGrad(([x]) => weightedSum(refLoss(x, labels, n, c, eps, reduction), w), [Float64Array.from(logits)]);
        expectClose(got, expected, { rtol: 1e-4, atol: 1e-5, what: 'dlogits' });
      });
    }
  }

  test('large-magnitude logits: gradient finite and correct', async () => {
    const [n, c] = [3, 17];
    const raw = randomArray(n * c, 401, -10, 10);
    const logits = f32(raw.map((v) => 1000 + v));
    const labels = randomInts(n, 402, c);
    const tl = tensor(logits, [n, c], { requiresGrad: true });
    crossEntropy(tl, tensor(labels), { labelSmoothing: 0.1 }).backward();
    const got = await tl.grad!.toArray();
    // The loss is shift-invariant per row, so differentiate the reference around 0 for precision.
    const shifted = Float64Array.from(logits, (v) => v - 1000);
    const [expected] = numericGrad(([x]) => refLoss(x, labels, n, c, 0.1, 'mean')[0], [shifted]);
    expectClose(got, expected, { rtol: 1e-4, atol: 1e-6 });
  });

  test('labels get no gradient and the graph leaks nothing', async () => {
    const before = liveTensorCount();
    tidy(() => {
      const tl = tensor(f32(randomArray(12, 501)), [3, 4], { requiresGrad: true });
      const labels = tensor(Int32Array.of(1, 0, 3));
      crossEntropy(tl, labels, { labelSmoothing: 0.2 }).backward();
      expect(labels.grad).toBeNull();
      expect(tl.grad?.shape).toEqual([3, 4]);
      return undefined;
    });
    expect(liveTensorCount()).toBe(before);
  });
});

describe('crossEntropy short and long row paths', () => {
  test.each([null, 'short', 'long'] as const)('forward, path %s: classes around the threshold, odd row counts', async (path) => {
    const T = shortRowMaxLen();
    let seed = 700;
    for (const n of [65, 129]) {
      for (const c of n === 65 ? [1, 3, 10, 300, T - 1, T, T + 1] : [1, 3, 10, 33]) {
        const logits = f32(randomArray(n * c, seed++, -4, 4));
        const labels = randomInts(n, seed++, c);
        const got = await onPath(path, async () => {
          const loss = crossEntropy(tensor(logits, [n, c]), tensor(labels), { labelSmoothing: 0.1, reduction: 'none' });
          return loss.toArray();
        });
        expectClose(got, refLoss(logits, labels, n, c, 0.1, 'none'), { what: `[${n}, ${c}] path ${path}` });
      }
    }
  });

  test.each(['short', 'long'] as const)('forward, path %s: large logits and out-of-range labels', async (path) => {
    const [n, c] = [4, 17];
    const logits = f32(randomArray(n * c, 720, -30, 30).map((v, i) => (i < 2 * c ? 1000 : -1000) + v));
    const labels = Int32Array.of(3, 17, -1, 0);
    setCheckedMode(false); // else the labels are an error (tests/reliability.test.ts)
    const got = await onPath(path, async () => crossEntropy(tensor(logits, [n, c]), tensor(labels), { labelSmoothing: 0.1, reduction: 'none' }).toArray())
      .finally(() => setCheckedMode(true));
    expect([0, 1, 2, 3].map((r) => Number.isNaN(got[r]))).toEqual([false, true, true, false]);
    const ref = refRowLosses(logits, labels, n, c, 0.1);
    expectClose([got[0], got[3]], [ref[0], ref[3]]);
  });

  test.each(([
    { path: null, n: 65, len: 10 },
    { path: null, n: 2, dT: 0 },
    { path: null, n: 2, dT: 1 },
    { path: 'short', n: 3, len: 300 },
    { path: 'long', n: 17, len: 10 },
  ] as { path: RowPath | null; n: number; len?: number; dT?: number }[]).map((c) => ({ ...c, label: `[${c.n}, ${c.len ?? `T${c.dT ? `+${c.dT}` : ''}`}]` })))('backward, path $path, logits $label: finite differences through the saved row stats', async (cs) => {
    const { path, n } = cs;
    const c = lengthOf(cs);
    const logits = f32(randomArray(n * c, 730 + n * c, -3, 3));
    const labels = randomInts(n, 731 + n, c);
    const w = f32(randomArray(n, 732 + n, 0.5, 1.5));
    const got = await onPath(path, async () => {
      const tl = tensor(logits, [n, c], { requiresGrad: true });
      crossEntropy(tl, tensor(labels), { labelSmoothing: 0.1, reduction: 'none' }).backward({ grad: tensor(w, [n]) });
      return tl.grad!.toArray();
    });
    const [expected] = numericGrad(([x]) => weightedSum(refLoss(x, labels, n, c, 0.1, 'none'), w), [Float64Array.from(logits)]);
    expectClose(got, expected, { rtol: 1e-4, atol: 1e-5, what: 'dlogits' });
  });
});

describe('crossEntropy errors', () => {
  test('shapes, dtypes and options are checked with clear messages', () => {
    const logits = tensor(f32(randomArray(12, 601)), [3, 4]);
    const labels = tensor(Int32Array.of(0, 1, 2));
    expect(() => crossEntropy(tensor(f32(randomArray(24, 602)), [2, 3, 4]), labels)).toThrow(/crossEntropy: logits must be 2-D \[N, C\], got shape \[2,3,4\]/);
    expect(() => crossEntropy(logits, tensor(Int32Array.of(0, 1)))).toThrow(/crossEntropy: labels must have shape \[3\] to match logits of shape \[3,4\], got labels of shape \[2\]/);
    expect(() => crossEntropy(logits, tensor(Int32Array.of(0, 1, 2, 0, 1, 2), [3, 2]))).toThrow(/got labels of shape \[3,2\]/);
    expect(() => crossEntropy(logits, tensor(f32([0, 1, 2])))).toThrow('crossEntropy: labels must be i32 or u32 class indices, got f32');
    expect(() => crossEntropy(tensor(Int32Array.of(1, 2, 3, 4), [2, 2]), tensor(Int32Array.of(0, 1)))).toThrow(/crossEntropy: expected a f32 tensor, got i32/);
    expect(() => crossEntropy(logits, labels, { labelSmoothing: 1.5 })).toThrow(/crossEntropy: labelSmoothing must be a number in \[0, 1\], got 1.5/);
    expect(() => crossEntropy(logits, labels, { labelSmoothing: -0.1 })).toThrow(/labelSmoothing .* got -0.1/);
    expect(() => crossEntropy(logits, labels, { labelSmoothing: NaN })).toThrow(/labelSmoothing .* got NaN/);
    expect(() => crossEntropy(logits, labels, { reduction: 'avg' as Reduction })).toThrow(/crossEntropy: unknown reduction 'avg' \(expected 'mean', 'sum' or 'none'\)/);
    expect(() => crossEntropy(tensor(new Float32Array(0), [3, 0]), labels)).toThrow(/crossEntropy: logits have no classes \(shape \[3,0\]\)/);
  });
});
