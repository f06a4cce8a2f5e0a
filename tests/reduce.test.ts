/**
 * Reductions (shaders/reduce.wgsl): sum, mean, max, argmax, sumToShape, sumSquares, dot against
 * float64 references, their gradients against finite differences, the multi-pass (chunked) paths,
 * determinism, and error messages. Also the broadcasting gradients of add/sub/mul/div, which rest
 * on sumToShape.
 */
import { describe, expect, test } from 'vitest';
import {
  add, argmax, div, dot, liveTensorCount, max, mean, mul, sub, sum, sumSquares, sumToShape, tensor, type Tensor,
} from '../src/index.js';
import { useGpu } from './helpers/gpu.js';
import { expectClose, f32, numericGrad, randomArray, weightedSum } from './helpers/check.js';

useGpu();

type Kind = 'sum' | 'mean' | 'max' | 'argmax';

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Axes as the ops take them, normalised: sorted, non-negative; undefined means all. */
function normalise(axes: number | number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  return (Array.isArray(axes) ? axes : [axes]).map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
}

/** float64 reduction; the result is in row-major order of the kept dims. */
function reduceRef(x: ArrayLike<number>, shape: number[], axes: number[], kind: Kind): Float64Array {
  const rank = shape.length;
  const kept = shape.map((_, k) => k).filter((k) => !axes.includes(k));
  const outSize = size(kept.map((k) => shape[k]));
  const count = size(axes.map((k) => shape[k]));
  const acc = new Float64Array(outSize).fill(kind === 'sum' || kind === 'mean' ? 0 : -Infinity);
  const arg = new Float64Array(outSize).fill(-1);
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < x.length; i++) {
    let rem = i;
    for (let k = rank - 1; k >= 0; k--) {
      idx[k] = rem % shape[k];
      rem = Math.floor(rem / shape[k]);
    }
    let o = 0;
    for (const k of kept) o = o * shape[k] + idx[k];
    let r = 0;
    for (const k of axes) r = r * shape[k] + idx[k];
    const v = x[i];
    if (kind === 'sum' || kind === 'mean') acc[o] += v;
    else if (v > acc[o] || (Number.isNaN(v) && !Number.isNaN(acc[o]))) {
      acc[o] = v;
      arg[o] = r;
    }
  }
  if (kind === 'mean') for (let o = 0; o < outSize; o++) acc[o] /= count;
  return kind === 'argmax' ? arg : acc;
}

function outShapeOf(shape: number[], axes: number[], keepdim: boolean): number[] {
  return keepdim ? shape.map((d, k) => (axes.includes(k) ? 1 : d)) : shape.filter((_, k) => !axes.includes(k));
}

const run = (kind: Exclude<Kind, 'argmax'>, x: Tensor, axes: number | number[] | undefined, keepdim: boolean) =>
  kind === 'sum' ? sum(x, axes, keepdim) : kind === 'mean' ? mean(x, axes, keepdim) : max(x, axes, keepdim);

/** Data rounded to f32 once, so that GPU and reference see the same numbers. */
const data = (n: number, seed: number, lo = -1, hi = 1) => Float64Array.from(f32(randomArray(n, seed, lo, hi)));

const axisCases: [number[], (number | number[] | undefined)[]][] = [
  [[1], [undefined, 0, -1, []]],
  [[17], [undefined, 0, -1]],
  [[3, 5], [undefined, 0, 1, -1, -2, [0, 1], [-1, 0]]],
  // Every subset of the 4 axes, odd ones written negative.
  [[2, 3, 4, 5], [...Array(16).keys()].map((m) => [0, 1, 2, 3].filter((k) => m & (1 << k)).map((k) => (k % 2 ? k - 4 : k)))],
  [[65, 129], [undefined, 0, 1, -1]],
  [[7, 1, 9], [undefined, 0, 1, 2, [0, 2], [1, 2], -2, [0, 1]]],
];

describe('sum, mean, max: forward against a float64 reference', () => {
  for (const [shape, axesList] of axisCases) {
    test(`shape [${shape}]`, async () => {
      const xv = data(size(shape), shape.length * 100 + shape[0]);
      const x = tensor(f32(xv), shape);
      for (const axes of axesList) {
        const norm = normalise(axes, shape.length);
        for (const kind of ['sum', 'mean', 'max'] as const) {
          for (const keepdim of [false, true]) {
            const what = `${kind}([${shape}], ${JSON.stringify(axes)}, keepdim=${keepdim})`;
            const y = run(kind, x, axes, keepdim);
            expect(y.shape, what).toEqual(outShapeOf(shape, norm, keepdim));
            const ref = reduceRef(xv, shape, norm, kind);
            // max picks one of the inputs: exact. Sums: f32 rounding of at most a few thousand terms.
            const tol = kind === 'max' ? { rtol: 0, atol: 0 } : { rtol: 1e-5, atol: 2e-5 };
            expectClose(await y.toArray(), ref, { ...tol, what });
            y.dispose();
          }
        }
      }
      x.dispose();
    });
  }

  test('a 0-d tensor reduces to itself', async () => {
    const x = tensor([2.5], []);
    for (const y of [sum(x), mean(x, 0), max(x, [-1], true)]) {
      expect(y.shape).toEqual([]);
      expect(await y.item()).toBe(2.5);
      y.dispose();
    }
    const i = argmax(x, -1);
    expect(i.dtype).toBe('i32');
    expect(await i.item()).toBe(0);
    expect(() => sum(x, 1)).toThrow(/sum: axis 1 is out of range for a tensor of rank 0/);
    i.dispose();
    x.dispose();
  });

  test('empty reductions: sum is 0, mean is NaN; empty outputs have the right shape', async () => {
    const x = tensor(new Float32Array(0), [3, 0]);
    const s = sum(x, 1);
    const m = mean(x, 1, true);
    expect(s.shape).toEqual([3]);
    expect([...(await s.toArray())]).toEqual([0, 0, 0]);
    expect(m.shape).toEqual([3, 1]);
    expect((await m.toArray()).every(Number.isNaN)).toBe(true);
    const e = max(x, 0);
    expect(e.shape).toEqual([0]);
    for (const t of [x, s, m, e]) t.dispose();
  });

  test('max propagates NaN and argmax points at the first NaN', async () => {
    const x = tensor([1, NaN, 3, NaN, -1, 2], [2, 3]);
    const m = await max(x, 1).toArray();
    expect(Number.isNaN(m[0])).toBe(true);
    expect(Number.isNaN(m[1])).toBe(true);
    expect([...(await argmax(x, 1).toArray())]).toEqual([1, 0]);
    expect([...(await max(x, 0).toArray())].map(Number.isNaN)).toEqual([true, true, false]);
    x.dispose();
  });

  test('max handles -Infinity inputs', async () => {
    const x = tensor([-Infinity, -Infinity, -Infinity, 5], [2, 2]);
    expect([...(await max(x, 1).toArray())]).toEqual([-Infinity, 5]);
    expect([...(await argmax(x, 1).toArray())]).toEqual([0, 1]);
    x.dispose();
  });
});

describe('argmax', () => {
  test('first index on ties, any axis, keepdim', async () => {
    // Rows and columns with repeated maxima.
    const xv = [
      3, 1, 3, 0, 3, 2,
      0, 0, 0, 0, 0, 0,
      -1, 5, 2, 5, 5, 4,
      2, 5, 3, 5, 1, 4,
    ];
    const x = tensor(xv, [4, 6]);
    const a1 = argmax(x, 1);
    expect(a1.dtype).toBe('i32');
    expect(a1.shape).toEqual([4]);
    expect([...(await a1.toArray())]).toEqual([0, 0, 1, 1]);
    const a0 = argmax(x, -2, true);
    expect(a0.shape).toEqual([1, 6]);
    expect([...(await a0.toArray())]).toEqual([0, 2, 0, 2, 2, 2]);
    for (const t of [x, a1, a0]) t.dispose();
  });

  test('random data in several shapes matches the reference', async () => {
    for (const [shape, axis] of [[[17], 0], [[3, 5], -1], [[2, 3, 4, 5], 2], [[65, 129], 0], [[7, 1, 9], 1], [[7, 1, 9], -1]] as [number[], number][]) {
      const xv = data(size(shape), 77 + shape.length);
      const x = tensor(f32(xv), shape);
      const a = argmax(x, axis, true);
      const norm = normalise(axis, shape.length);
      expect(a.shape).toEqual(outShapeOf(shape, norm, true));
      expect([...(await a.toArray())]).toEqual([...reduceRef(xv, shape, norm, 'argmax')]);
      x.dispose();
      a.dispose();
    }
  });

  test('ties across chunks of a long reduction still give the first index', async () => {
    // 9001 elements along the axis: both kernels cut this into chunks and reduce in two passes.
    const n = 9001;
    const rows = new Float32Array(2 * n).fill(0.25);
    rows[100] = 5; rows[8000] = 5; // row 0: first max at 100
    rows[n + 3000] = 7; rows[n + 8999] = 7; rows[n + 5] = 6; // row 1: first max at 3000
    const x = tensor(rows, [2, n]);
    expect([...(await argmax(x, 1).toArray())]).toEqual([100, 3000]);
    // The same data transposed: the reduced axis is the strided one (one thread per output).
    const cols = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < 2; j++) cols[i * 2 + j] = rows[j * n + i];
    const xt = tensor(cols, [n, 2]);
    expect([...(await argmax(xt, 0).toArray())]).toEqual([100, 3000]);
    expect([...(await max(xt, 0).toArray())]).toEqual([5, 7]);
    x.dispose();
    xt.dispose();
  });

  test('ties in reductions long enough for a tree in pass 2, or for three passes', async () => {
    // A long vector: hundreds of chunk partials, reduced by a workgroup tree in pass 2.
    const n = 200_003;
    const v = new Float32Array(n).fill(-2);
    v[7] = 1; v[150_001] = 3; v[150_002] = 3; v[199_999] = 3;
    const x = tensor(v);
    expect(await argmax(x, 0).item()).toBe(150_001);
    expect(await max(x).item()).toBe(3);
    // A long strided axis with two outputs: partials of partials (three passes).
    const m = 100_003;
    const c = new Float32Array(2 * m).fill(0);
    c[2 * 90_000] = 4; c[2 * 99_999] = 4; c[2 * 3] = 2; // column 0: first max at 90000
    c[2 * 10 + 1] = -0; c[2 * 11 + 1] = 0; // column 1: all zeros (+-0 tie): first index
    const xc = tensor(c, [m, 2]);
    expect([...(await argmax(xc, 0).toArray())]).toEqual([90_000, 0]);
    const ref = reduceRef(c, [m, 2], [0], 'sum');
    expectClose(await sum(xc, 0).toArray(), ref, { rtol: 1e-6, atol: 0 });
    x.dispose();
    xc.dispose();
  });
});

describe('long reductions (two passes)', () => {
  const cases: [string, number[], number | number[] | undefined][] = [
    ['strided axis, few outputs', [4099, 3], 0],
    ['contiguous axis, few outputs', [3, 70001], 1],
    ['middle axis', [2, 3000, 5], 1],
    ['many outputs, strided', [300, 700], 0],
    ['many outputs, contiguous', [600, 130], -1],
    ['all of a 3-d tensor', [33, 40, 51], undefined],
  ];
  for (const [name, shape, axes] of cases) {
    test(`${name}: [${shape}] over ${JSON.stringify(axes)}`, async () => {
      const xv = data(size(shape), shape[0] + shape[1]);
      const x = tensor(f32(xv), shape);
      const norm = normalise(axes, shape.length);
      for (const kind of ['sum', 'mean', 'max'] as const) {
        const y = run(kind, x, axes, false);
        const tol = kind === 'max' ? { rtol: 0, atol: 0 } : { rtol: 1e-5, atol: 1e-4 };
        expectClose(await y.toArray(), reduceRef(xv, shape, norm, kind), { ...tol, what: `${kind} ${name}` });
        y.dispose();
      }
      x.dispose();
    });
  }

  const N = 1_048_583;

  test(`sum of ${N} elements is accurate and identical on every run`, async () => {
    // Mostly positive, so the result is large and a naive running f32 sum would be off by ~1e-4.
    const xv = data(N, 5, -0.5, 1.5);
    let ref = 0;
    for (const v of xv) ref += v;
    const x = tensor(f32(xv));
    const a = sum(x);
    const b = sum(x);
    const [va, vb] = [await a.item(), await b.item()];
    expect(Math.abs(va - ref) / ref).toBeLessThan(1e-5);
    expect(va).toBe(vb);
    const m = mean(x);
    expect(Math.abs((await m.item()) - ref / N) / (ref / N)).toBeLessThan(1e-5);
    for (const t of [x, a, b, m]) t.dispose();
  });

  test(`sumSquares of ${N} elements`, async () => {
    const xv = data(N, 6);
    let ref = 0;
    for (const v of xv) ref += v * v;
    const x = tensor(f32(xv));
    const s = sumSquares(x);
    expect(s.shape).toEqual([]);
    expect(Math.abs((await s.item()) - ref) / ref).toBeLessThan(1e-5);
    x.dispose();
    s.dispose();
  });

  test(`dot of ${N} elements, same-sign and mixed-sign data`, async () => {
    const av = data(N, 7, 0, 1);
    const bv = data(N, 8, 0.5, 1.5);
    const cv = data(N, 9);
    let ab = 0;
    let ac = 0;
    let acAbs = 0;
    for (let i = 0; i < N; i++) {
      ab += av[i] * bv[i];
      ac += av[i] * cv[i];
      acAbs += Math.abs(av[i] * cv[i]);
    }
    const a = tensor(f32(av), [N]);
    const b = tensor(f32(bv), [1, N]); // different shape, same size: allowed
    const c = tensor(f32(cv));
    const d1 = dot(a, b);
    const d2 = dot(a, c);
    expect(Math.abs((await d1.item()) - ab) / ab).toBeLessThan(1e-5);
    // With cancellation, measure the error against the sum of magnitudes.
    expect(Math.abs((await d2.item()) - ac) / acAbs).toBeLessThan(1e-6);
    for (const t of [a, b, c, d1, d2]) t.dispose();
  });
});

describe('gradients', () => {
  /** Checks d(Σ w·op(x))/dx on the GPU against finite differences of the float64 reference. */
  async function checkGrad(shape: number[], op: (x: Tensor) => Tensor, ref: (x: Float64Array) => Float64Array, seed: number) {
    const xv = data(size(shape), seed);
    const x = tensor(f32(xv), shape, { requiresGrad: true });
    const y = op(x);
    const wv = data(y.size, seed + 1);
    const w = tensor(f32(wv), y.shape);
    y.backward(w);
    const [g] = numericGrad(([v]) => weightedSum(ref(v), wv), [xv]);
    expectClose(await x.grad!.toArray(), g, { rtol: 1e-4, atol: 1e-5, what: 'grad' });
    for (const t of [x, y, w]) t.dispose();
  }

  test('sum over axes, with and without keepdim', async () => {
    await checkGrad([2, 3, 4], (x) => sum(x, [0, 2]), (v) => reduceRef(v, [2, 3, 4], [0, 2], 'sum'), 11);
    await checkGrad([2, 3, 4], (x) => sum(x, -1, true), (v) => reduceRef(v, [2, 3, 4], [2], 'sum'), 12);
    await checkGrad([7, 1, 9], (x) => sum(x), (v) => reduceRef(v, [7, 1, 9], [0, 1, 2], 'sum'), 13);
  });

  test('mean', async () => {
    await checkGrad([3, 5], (x) => mean(x, -1, true), (v) => reduceRef(v, [3, 5], [1], 'mean'), 21);
    await checkGrad([2, 3, 4, 5], (x) => mean(x, [1, 3]), (v) => reduceRef(v, [2, 3, 4, 5], [1, 3], 'mean'), 22);
  });

  test('max (no ties)', async () => {
    await checkGrad([4, 6], (x) => max(x, 1), (v) => reduceRef(v, [4, 6], [1], 'max'), 31);
    await checkGrad([2, 3, 4], (x) => max(x, [0, 2], true), (v) => reduceRef(v, [2, 3, 4], [0, 2], 'max'), 32);
  });

  test('max splits the gradient evenly among tied maxima', async () => {
    const x = tensor([1, 3, 3, 2, 5, 5, 5, 0], [2, 4], { requiresGrad: true });
    const y = max(x, 1);
    y.backward(tensor([2, 6], [2]));
    expect([...(await x.grad!.toArray())]).toEqual([0, 1, 1, 0, 2, 2, 2, 0]);
    x.zeroGrad();
    const all = max(x);
    all.backward();
    expectClose(await x.grad!.toArray(), [0, 0, 0, 0, 1 / 3, 1 / 3, 1 / 3, 0], { rtol: 1e-6, atol: 0 });
    for (const t of [x, y, all]) t.dispose();
  });

  test('sumSquares and dot', async () => {
    await checkGrad([3, 7], (x) => sumSquares(x), (v) => Float64Array.of(v.reduce((s, a) => s + a * a, 0)), 41);
    const av = data(21, 42);
    const bv = data(21, 43);
    const a = tensor(f32(av), [3, 7], { requiresGrad: true });
    const b = tensor(f32(bv), [21], { requiresGrad: true });
    const d = dot(a, b);
    d.backward();
    expectClose(await a.grad!.toArray(), bv, { rtol: 1e-6, atol: 0 });
    expectClose(await b.grad!.toArray(), av, { rtol: 1e-6, atol: 0 });
    expect(a.grad!.shape).toEqual([3, 7]);
    expect(b.grad!.shape).toEqual([21]);
    for (const t of [a, b, d]) t.dispose();
  });
});

describe('sumToShape', () => {
  test('sums the broadcast dims away', async () => {
    const gshape = [3, 4, 5];
    const gv = data(60, 51);
    const g = tensor(f32(gv), gshape);
    const cases: [number[], number[]][] = [
      [[4, 1], [0, 2]],
      [[1, 5], [0, 1]],
      [[5], [0, 1]],
      [[3, 1, 1], [1, 2]],
      [[1, 4, 5], [0]],
      [[], [0, 1, 2]],
    ];
    for (const [shape, axes] of cases) {
      const s = sumToShape(g, shape);
      expect(s.shape).toEqual(shape);
      expectClose(await s.toArray(), reduceRef(gv, gshape, axes, 'sum'), { rtol: 1e-5, atol: 1e-5, what: `sumToShape [${shape}]` });
      s.dispose();
    }
    g.dispose();
  });

  test('same shape (or only size-1 differences): a new handle on the same storage', async () => {
    const g = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const same = sumToShape(g, [2, 3]);
    expect(same).not.toBe(g);
    const lifted = sumToShape(tensor([1, 2, 3], [1, 3]), [3]);
    expect(lifted.shape).toEqual([3]);
    same.dispose();
    expect([...(await g.toArray())]).toEqual([1, 2, 3, 4, 5, 6]);
    g.dispose();
    lifted.dispose();
  });

  test('a shape that does not broadcast to g is an error', () => {
    const g = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(() => sumToShape(g, [2])).toThrow(/sumToShape: a tensor of shape \[2,3\] is not a broadcast of shape \[2\]/);
    expect(() => sumToShape(g, [1, 2, 3])).toThrow(/sumToShape: .*not a broadcast/);
    g.dispose();
  });
});

describe('broadcasting binary ops: gradients reduce through sumToShape', () => {
  const refs = {
    add: (a: number, b: number) => a + b,
    sub: (a: number, b: number) => a - b,
    mul: (a: number, b: number) => a * b,
    div: (a: number, b: number) => a / b,
  };
  const ops = { add, sub, mul, div };

  /** float64 broadcast of [3,1,5] with [4,1] to [3,4,5]. */
  function bcast(f: (a: number, b: number) => number, a: Float64Array, b: Float64Array): Float64Array {
    const out = new Float64Array(60);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 5; k++) out[(i * 4 + j) * 5 + k] = f(a[i * 5 + k], b[j]);
    return out;
  }

  for (const op of ['add', 'sub', 'mul', 'div'] as const) {
    test(`${op}: [3,1,5] with [4,1]`, async () => {
      const av = data(15, 61);
      const bv = data(4, 62, 0.5, 1.5); // away from 0 for div
      const wv = data(60, 63);
      const a = tensor(f32(av), [3, 1, 5], { requiresGrad: true });
      const b = tensor(f32(bv), [4, 1], { requiresGrad: true });
      const y = ops[op](a, b);
      expect(y.shape).toEqual([3, 4, 5]);
      expectClose(await y.toArray(), bcast(refs[op], av, bv), { what: `${op} forward` });
      y.backward(tensor(f32(wv), [3, 4, 5]));
      const [ga, gb] = numericGrad(([x, z]) => weightedSum(bcast(refs[op], x, z), wv), [av, bv]);
      expect(a.grad!.shape).toEqual([3, 1, 5]);
      expect(b.grad!.shape).toEqual([4, 1]);
      expectClose(await a.grad!.toArray(), ga, { rtol: 1e-4, atol: 1e-5, what: `${op} grad a` });
      expectClose(await b.grad!.toArray(), gb, { rtol: 1e-4, atol: 1e-5, what: `${op} grad b` });
      for (const t of [a, b, y]) t.dispose();
    });
  }
});

describe('errors', () => {
  test('bad axes, dtypes and sizes name the op and the problem', () => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const i = tensor(new Int32Array([1, 2, 3]));
    expect(() => sum(x, 2)).toThrow(/sum: axis 2 is out of range for a tensor of rank 2/);
    expect(() => mean(x, -3)).toThrow(/mean: axis -3 is out of range for a tensor of rank 2/);
    expect(() => max(x, [0, 5])).toThrow(/max: axis 5 is out of range for a tensor of rank 2/);
    expect(() => argmax(x, 2)).toThrow(/argmax: axis 2 is out of range for a tensor of rank 2/);
    expect(() => sum(x, [1, 1])).toThrow(/sum: repeated axis in \[1,1\]/);
    expect(() => max(x, [0, -2])).toThrow(/max: repeated axis in \[0,-2\]/);
    expect(() => sum(i)).toThrow(/sum: expected a f32 tensor, got i32/);
    expect(() => mean(i)).toThrow(/mean: expected a f32 tensor, got i32/);
    expect(() => max(i)).toThrow(/max: expected a f32 tensor, got i32/);
    expect(() => sumSquares(i)).toThrow(/sumSquares: expected a f32 tensor, got i32/);
    expect(() => dot(x, i)).toThrow(/dot: expected a f32 tensor, got i32/);
    expect(() => dot(x, tensor([1, 2, 3, 4, 5]))).toThrow(/dot: the tensors have different sizes: \[2,3\] \(6 elements\) and \[5\] \(5 elements\)/);
    const empty = tensor(new Float32Array(0), [2, 0]);
    expect(() => max(empty, 1)).toThrow(/max: cannot reduce over zero elements \(shape \[2,0\]\)/);
    expect(() => argmax(empty, 1)).toThrow(/argmax: cannot reduce over zero elements/);
    x.dispose();
    expect(() => sum(x)).toThrow(/sum: tensor #\d+ \(shape \[2,3\], f32\) was disposed/);
    i.dispose();
    empty.dispose();
  });
});

describe('memory', () => {
  test('forward, multi-pass and backward leave no tensors behind', async () => {
    const before = liveTensorCount();
    const x = tensor(f32(data(3 * 9001, 71)), [3, 9001], { requiresGrad: true });
    const outs = [sum(x, 1), mean(x, 0), argmax(x, 1), sumSquares(x)];
    const d = dot(x, x);
    d.backward();
    const y = max(x, 1);
    const seed = tensor([1, 2, 3]);
    y.backward(seed);
    await x.grad!.toArray();
    const s = sum(x);
    s.backward();
    await x.grad!.toArray();
    for (const t of [...outs, d, y, seed, s, x]) t.dispose();
    expect(liveTensorCount()).toBe(before);
  });
});
