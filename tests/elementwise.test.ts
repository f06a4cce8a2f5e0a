/**
 * Elementwise ops (shaders/elementwise_unary.wgsl, shaders/elementwise_binary.wgsl) against float64 references, and their
 * gradients against finite differences.
 */
import { describe, expect, test } from 'vitest';
import { tensor, where, maskedFill, gelu, affine, type Tensor } from '../src/index.js';
import { useGpu } from './helpers/gpu.js';
import { expectClose, numericGrad, randomArray, weightedSum } from './helpers/check.js';

useGpu();

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

// float64 erf by numerical integration (independent of the kernel's A&S approximation).
function erf64(x: number): number {
  // Composite Simpson on [0, |x|] with 2000 intervals: error far below f32 resolution.
  const a = Math.abs(x);
  const n = 2000;
  const h = a / n;
  let s = 0;
  for (let i = 0; i <= n; i++) {
    const t = i * h;
    const w = i === 0 || i === n ? 1 : i % 2 ? 4 : 2;
    s += w * Math.exp(-t * t);
  }
  const v = ((h / 3) * s * 2) / Math.sqrt(Math.PI);
  return x < 0 ? -v : v;
}

interface UnaryCase {
  name: string;
  run: (x: Tensor) => Tensor;
  ref: (x: number) => number;
  /** Input range: keep away from domain edges (log, sqrt) and kinks (relu at 0). */
  lo: number;
  hi: number;
}

const unaryCases: UnaryCase[] = [
  { name: 'exp', run: (x) => x.exp(), ref: Math.exp, lo: -3, hi: 3 },
  { name: 'log', run: (x) => x.log(), ref: Math.log, lo: 0.2, hi: 4 },
  { name: 'sqrt', run: (x) => x.sqrt(), ref: Math.sqrt, lo: 0.2, hi: 4 },
  { name: 'neg', run: (x) => x.neg(), ref: (v) => -v, lo: -2, hi: 2 },
  { name: 'pow 3', run: (x) => x.pow(3), ref: (v) => v ** 3, lo: -2, hi: 2 },
  { name: 'pow 2', run: (x) => x.pow(2), ref: (v) => v * v, lo: -2, hi: 2 },
  { name: 'pow 0.5', run: (x) => x.pow(0.5), ref: Math.sqrt, lo: 0.2, hi: 3 },
  { name: 'pow -1', run: (x) => x.pow(-1), ref: (v) => 1 / v, lo: 0.5, hi: 3 },
  { name: 'relu', run: (x) => x.relu(), ref: (v) => Math.max(v, 0), lo: -2, hi: 2 },
  { name: 'gelu erf', run: (x) => x.gelu(), ref: (v) => 0.5 * v * (1 + erf64(v / Math.SQRT2)), lo: -5, hi: 5 },
  {
    name: 'gelu tanh',
    run: (x) => gelu(x, { approximate: 'tanh' }),
    ref: (v) => 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v ** 3))),
    lo: -5,
    hi: 5,
  },
  { name: 'tanh', run: (x) => x.tanh(), ref: Math.tanh, lo: -4, hi: 4 },
  { name: 'sigmoid', run: (x) => x.sigmoid(), ref: (v) => 1 / (1 + Math.exp(-v)), lo: -6, hi: 6 },
  { name: 'affine', run: (x) => affine(x, -1.5, 0.25), ref: (v) => -1.5 * v + 0.25, lo: -2, hi: 2 },
  { name: 'add scalar', run: (x) => x.add(2), ref: (v) => v + 2, lo: -2, hi: 2 },
  { name: 'div scalar', run: (x) => x.div(4), ref: (v) => v / 4, lo: -2, hi: 2 },
];

describe('unary ops', () => {
  for (const c of unaryCases) {
    test(`${c.name}: forward and gradient`, async () => {
      for (const shape of [[1], [3, 17], [2, 65, 3]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        let xs = randomArray(n, n + 1, c.lo, c.hi);
        if (c.name === 'relu') xs = xs.map((v) => (Math.abs(v) < 1e-3 ? 0.5 : v)); // away from the kink
        const w = randomArray(n, n + 2);
        const x = tensor(Float32Array.from(xs), shape, { requiresGrad: true });
        const y = c.run(x);
        y.mul(tensor(Float32Array.from(w), shape)).sum().backward();
        const xs32 = Float64Array.from(Float32Array.from(xs));
        expectClose(await y.toArray(), xs32.map(c.ref), { rtol: 2e-5, atol: 2e-6, what: `${c.name} ${shape}` });
        // Each output depends on its own input only, so the finite difference is taken per element.
        const eps = 1e-6;
        const g = xs32.map((v, i) => (w[i] * (c.ref(v + eps) - c.ref(v - eps))) / (2 * eps));
        expectClose(await x.grad!.toArray(), g, { rtol: 1e-4, atol: 1e-5, what: `${c.name} grad ${shape}` });
      }
    });
  }

  test('gelu at large magnitudes stays finite (no tanh/exp overflow)', async () => {
    const x = tensor([-1e4, -100, -20, 20, 100, 1e4]);
    expectClose(await x.gelu({ approximate: 'tanh' }).toArray(), [-0, -0, -0, 20, 100, 1e4], { atol: 1e-6 });
    expectClose(await x.gelu().toArray(), [-0, -0, -0, 20, 100, 1e4], { atol: 1e-6 });
    expectClose(await x.sigmoid().toArray(), [0, 0, 2.0611536e-9, 1, 1, 1], { atol: 1e-9, rtol: 1e-5 });
  });

  test('pow of negative bases follows the sign rules; fractional powers give NaN like PyTorch', async () => {
    const x = tensor([-2, -0.5, 3]);
    expectClose(await x.pow(3).toArray(), [-8, -0.125, 27]);
    expectClose(await x.pow(2).toArray(), [4, 0.25, 9]);
    const half = await x.pow(0.5).toArray();
    expect(Number.isNaN(half[0]) && Number.isNaN(half[1])).toBe(true);
    expect(half[2]).toBeCloseTo(Math.sqrt(3), 6);
  });
});

type Bin = 'add' | 'sub' | 'mul' | 'div';
const binRef: Record<Bin, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
};

/** float64 NumPy-style broadcast of a binary function. */
function broadcastRef(f: (a: number, b: number) => number, a: Float64Array, as: number[], b: Float64Array, bs: number[]): { out: Float64Array; shape: number[] } {
  const rank = Math.max(as.length, bs.length);
  const pa = [...Array(rank - as.length).fill(1), ...as];
  const pb = [...Array(rank - bs.length).fill(1), ...bs];
  const shape = pa.map((d, i) => Math.max(d, pb[i]));
  const n = shape.reduce((x, y) => x * y, 1);
  const out = new Float64Array(n);
  const strides = (s: number[]) => s.map((_, i) => s.slice(i + 1).reduce((x, y) => x * y, 1));
  const sa = strides(pa);
  const sb = strides(pb);
  for (let i = 0; i < n; i++) {
    let rem = i;
    let ia = 0;
    let ib = 0;
    for (let k = rank - 1; k >= 0; k--) {
      const idx = rem % shape[k];
      rem = Math.floor(rem / shape[k]);
      if (pa[k] !== 1) ia += idx * sa[k];
      if (pb[k] !== 1) ib += idx * sb[k];
    }
    out[i] = f(a[ia], b[ib]);
  }
  return { out, shape };
}

describe('binary ops with broadcasting', () => {
  const shapes: [number[], number[]][] = [
    [[17], [17]],
    [[3, 5], [3, 5]],
    [[3, 1, 5], [4, 1]],
    [[1], [2, 3]],
    [[65, 3], [3]],
    [[2, 1, 3, 1], [1, 4, 1, 5]],
    [[], [3, 2]],
  ];
  test('forward values and reduced gradients match the reference', async () => {
    for (const op of ['add', 'sub', 'mul', 'div'] as Bin[]) {
      for (const [as, bs] of shapes) {
        const na = as.reduce((x, y) => x * y, 1);
        const nb = bs.reduce((x, y) => x * y, 1);
        const av = Float64Array.from(Float32Array.from(randomArray(na, na * 7 + 1, -2, 2)));
        const bv = Float64Array.from(Float32Array.from(randomArray(nb, nb * 7 + 2, 0.5, 2).map((v, i) => (i % 2 ? v : -v))));
        const { out, shape } = broadcastRef(binRef[op], av, as, bv, bs);
        const w = randomArray(out.length, 99);
        const a = tensor(Float32Array.from(av), as, { requiresGrad: true });
        const b = tensor(Float32Array.from(bv), bs, { requiresGrad: true });
        const y = a[op](b);
        y.mul(tensor(Float32Array.from(w), shape)).sum().backward();
        const what = `${op} [${as}] x [${bs}]`;
        expectClose(await y.toArray(), out, { rtol: 1e-6, atol: 1e-6, what });
        const [ga, gb] = numericGrad(([x, z]) => weightedSum(broadcastRef(binRef[op], x, as, z, bs).out, w), [av, bv]);
        expectClose(await a.grad!.toArray(), ga, { rtol: 1e-4, atol: 1e-5, what: `${what} grad a` });
        expectClose(await b.grad!.toArray(), gb, { rtol: 1e-4, atol: 1e-5, what: `${what} grad b` });
      }
    }
  });

  test('mismatched shapes give an error naming both shapes', () => {
    const a = tensor(new Float32Array(6), [2, 3]);
    const b = tensor(new Float32Array(8), [2, 4]);
    expect(() => a.add(b)).toThrow(/add: shapes \[2,3\] and \[2,4\] cannot be broadcast together/);
    expect(() => a.mul(tensor(new Float32Array(4), [4]))).toThrow(/mul: shapes \[2,3\] and \[4\]/);
  });

  test('arithmetic on integer tensors is a dtype error', () => {
    const labels = tensor(Int32Array.from([1, 2, 3]));
    expect(() => labels.exp()).toThrow(/exp: expected a f32 tensor, got i32/);
    expect(() => labels.add(tensor([1, 2, 3]))).toThrow(/add: expected a f32 tensor, got i32/);
  });
});

describe('where and maskedFill', () => {
  test('select with broadcasting and route gradients by the mask', async () => {
    const cond = tensor(Int32Array.from([1, 0, 0, 1, 1, 0]), [2, 3]);
    const av = [1, 2, 3, 4, 5, 6];
    const a = tensor(av, [2, 3], { requiresGrad: true });
    const b = tensor([10, 20, 30], [3], { requiresGrad: true });
    const y = where(cond, a, b);
    expectClose(await y.toArray(), [1, 20, 30, 4, 5, 30]);
    y.mul(tensor([1, 2, 3, 4, 5, 6], [2, 3])).sum().backward();
    expectClose(await a.grad!.toArray(), [1, 0, 0, 4, 5, 0]);
    expectClose(await b.grad!.toArray(), [0, 2, 3 + 6]);
  });

  test('maskedFill puts the value where the mask is set (f32 mask too)', async () => {
    const x = tensor([1, 2, 3, 4]);
    const mask = tensor([0, 1, 0, 1]);
    expectClose(await maskedFill(x, mask, -1e9).toArray(), [1, -1e9, 3, -1e9]);
    const causal = tensor(Uint32Array.from([0, 1, 0, 0]), [2, 2]);
    expectClose(await x.reshape([2, 2]).maskedFill(causal, 0).toArray(), [1, 0, 3, 4]);
  });
});
