import { describe, expect, test } from 'vitest';
import { liveTensorCount, logSoftmax, softmax, tensor, tidy, type Tensor } from '../src/index.js';
import { useGpu } from './helpers/gpu.js';
import { lengthOf, onPath } from './helpers/rows.js';
import { expectClose, f32, numericGrad, randomArray, weightedSum } from './helpers/check.js';
import { rowPath, shortRowGrid, shortRowMaxLen, SHORT_ROW_WG, type RowPath } from '../src/nn/functional/rows.js';

useGpu();

/** float64 softmax / log_softmax of a row-major tensor along `axis` (already non-negative). */
function refSoftmax(x: ArrayLike<number>, shape: number[], axis: number, log: boolean): Float64Array {
  const len = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const y = new Float64Array(x.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      let m = -Infinity;
      for (let k = 0; k < len; k++) m = Math.max(m, x[base + k * inner]);
      let s = 0;
      for (let k = 0; k < len; k++) s += Math.exp(x[base + k * inner] - m);
      for (let k = 0; k < len; k++) {
        const j = base + k * inner;
        y[j] = log ? x[j] - m - Math.log(s) : Math.exp(x[j] - m) / s;
      }
    }
  }
  return y;
}

const OPS = [
  { name: 'softmax', fn: softmax, log: false },
  { name: 'logSoftmax', fn: logSoftmax, log: true },
] as const;

async function forward(fn: (x: Tensor, axis?: number) => Tensor, data: Float32Array, shape: number[], axis: number): Promise<Float32Array> {
  const x = tensor(data, shape);
  const y = fn(x, axis);
  expect(y.shape).toEqual(shape);
  const out = (await y.toArray()) as Float32Array;
  x.dispose();
  y.dispose();
  return out;
}

describe.each(OPS)('$name forward', ({ fn, log }) => {
  test('last axis, odd row counts and lengths (incl. 1 and 1000)', async () => {
    let seed = 1;
    for (const rows of [1, 3, 17, 65]) {
      for (const len of [1, 3, 17, 129, 1000]) {
        if (rows * len > 20_000) continue;
        const data = f32(randomArray(rows * len, seed++, -4, 4));
        const got = await forward(fn, data, [rows, len], -1);
        expectClose(got, refSoftmax(data, [rows, len], 1, log), { what: `[${rows}, ${len}]` });
      }
    }
  });

  test('every axis of a 3-D tensor, positive and negative', async () => {
    const shape = [5, 17, 3];
    const data = f32(randomArray(5 * 17 * 3, 11, -3, 3));
    for (const axis of [0, 1, 2, -1, -2, -3]) {
      const got = await forward(fn, data, shape, axis);
      const a = axis < 0 ? axis + 3 : axis;
      expectClose(got, refSoftmax(data, shape, a, log), { what: `axis ${axis}` });
    }
  });

  test('a long non-last axis (workgroup reduction over a strided row)', async () => {
    const shape = [2, 300, 3];
    const data = f32(randomArray(shape[0] * shape[1] * shape[2], 12, -5, 5));
    const got = await forward(fn, data, shape, 1);
    expectClose(got, refSoftmax(data, shape, 1, log));
  });

  test('large-magnitude logits (around 1e3) do not overflow', async () => {
    const shape = [3, 129];
    const raw = randomArray(3 * 129, 13, -20, 20);
    // Rows centred at +1000, -1000 and spread over +-1e3 (where all but one element underflow).
    const data = f32(raw.map((v, i) => (i < 129 ? 1000 + v : i < 258 ? -1000 + v : v * 50)));
    const got = await forward(fn, data, shape, -1);
    expect(got.every(Number.isFinite)).toBe(true);
    expectClose(got, refSoftmax(data, shape, 1, log), { what: 'large logits' });
  });

  test('a scalar and an empty tensor', async () => {
    expectClose(await forward(fn, f32([3.5]), [], -1), [log ? 0 : 1]);
    const e = fn(tensor(new Float32Array(0), [0, 4]));
    expect(e.shape).toEqual([0, 4]);
    expect((await e.toArray()).length).toBe(0);
  });
});

describe.each(OPS)('$name backward', ({ name, fn, log }) => {
  test.each([
    { shape: [4, 7], axis: -1 },
    { shape: [3, 17], axis: 1 },
    { shape: [5, 1], axis: 1 },
    { shape: [3, 5, 4], axis: 0 },
    { shape: [3, 5, 4], axis: 1 },
    { shape: [3, 5, 4], axis: -1 },
    { shape: [2, 129], axis: -1 },
  ])('matches finite differences, shape $shape axis $axis', async ({ shape, axis }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = axis < 0 ? axis + shape.length : axis;
    const xData = f32(randomArray(n, 21 + n, -2, 2));
    const w = f32(randomArray(n, 22 + n, -1, 1));
    const x = tensor(xData, shape, { requiresGrad: true });
    const y = fn(x, axis);
    expect(y.gradFn?.op).toBe(name);
    const wt = tensor(w, shape);
    y.backward({ grad: wt });
    const got = await x.grad!.toArray();
    const [expected] = numericGrad(([xs]) => weightedSum(refSoftmax(xs, shape, a, log), w), [Float64Array.from(xData)]);
    expectClose(got, expected, { rtol: 1e-4, atol: 1e-5, what: `d${name}/dx` });
    x.dispose();
    y.dispose();
    wt.dispose();
  });

  test('gradient of large-magnitude logits stays finite and correct', async () => {
    const shape = [2, 65];
    const xData = f32(randomArray(130, 31, -10, 10).map((v) => 1000 + v));
    const w = f32(randomArray(130, 32, -1, 1));
    const x = tensor(xData, shape, { requiresGrad: true });
    const y = fn(x);
    y.backward({ grad: tensor(w, shape) });
    const got = await x.grad!.toArray();
    // Differentiate the reference in shifted coordinates (x - 1000) so the f64 finite differences
    // keep full precision; softmax is shift-invariant along the row.
    const shifted = Float64Array.from(xData, (v) => v - 1000);
    const [expected] = numericGrad(([xs]) => weightedSum(refSoftmax(xs, shape, 1, log), w), [shifted]);
    expectClose(got, expected, { rtol: 1e-4, atol: 1e-5 });
  });
});

describe.each(OPS)('$name short and long row paths', ({ name, fn, log }) => {
  test('the path follows the row length around the threshold', () => {
    const T = shortRowMaxLen();
    expect([1, 17, T - 1, T].map(rowPath)).toEqual(['short', 'short', 'short', 'short']);
    expect([T + 1, 4 * T].map(rowPath)).toEqual(['long', 'long']);
  });

  test.each([null, 'short', 'long'] as const)('forward, path %s: lengths around the threshold, odd row counts', async (path) => {
    const T = shortRowMaxLen();
    let seed = 100;
    for (const rows of [65, 129]) {
      for (const len of rows === 65 ? [1, 3, 17, 300, T - 1, T, T + 1] : [1, 3, 17, 33]) {
        const data = f32(randomArray(rows * len, seed++, -4, 4));
        const got = await onPath(path, () => forward(fn, data, [rows, len], -1));
        expectClose(got, refSoftmax(data, [rows, len], 1, log), { what: `[${rows}, ${len}] path ${path}` });
      }
    }
  });

  test.each(['short', 'long'] as const)('forward, path %s: a non-last axis and large logits', async (path) => {
    const shape = [3, 17, 5];
    const data = f32(randomArray(3 * 17 * 5, 120, -3, 3));
    for (const axis of [0, 1]) {
      const got = await onPath(path, () => forward(fn, data, shape, axis));
      expectClose(got, refSoftmax(data, shape, axis, log), { what: `axis ${axis}` });
    }
    const big = f32(randomArray(2 * 33, 121, -20, 20).map((v, i) => (i < 33 ? 1000 : -1000) + v));
    const got = await onPath(path, () => forward(fn, big, [2, 33], -1));
    expect(got.every(Number.isFinite)).toBe(true);
    expectClose(got, refSoftmax(big, [2, 33], 1, log), { what: 'large logits' });
  });

  test.each(([
    { path: null, shape: [65, 3], axis: -1 },
    { path: null, rows: 2, dT: 0, axis: -1 },
    { path: null, rows: 2, dT: 1, axis: -1 },
    { path: 'short', shape: [5, 1], axis: -1 },
    { path: 'short', shape: [3, 17, 4], axis: 1 },
    { path: 'short', shape: [2, 300], axis: -1 },
    { path: 'long', shape: [7, 17], axis: -1 },
    { path: 'long', shape: [3, 17, 4], axis: 1 },
  ] as { path: RowPath | null; shape?: number[]; rows?: number; dT?: number; axis: number }[]).map((c) => ({ ...c, label: c.shape ? `[${c.shape}]` : `[${c.rows}, T${c.dT ? `+${c.dT}` : ''}]` })))('backward, path $path, shape $label, axis $axis: finite differences', async (c) => {
    const { path, axis } = c;
    const shape = c.shape ?? [c.rows!, lengthOf(c)];
    const n = shape.reduce((a, b) => a * b, 1);
    const a = axis < 0 ? axis + shape.length : axis;
    const xData = f32(randomArray(n, 130 + n, -2, 2));
    const w = f32(randomArray(n, 131 + n, -1, 1));
    const got = await onPath(path, async () => {
      const x = tensor(xData, [...shape], { requiresGrad: true });
      const y = fn(x, axis);
      const wt = tensor(w, [...shape]);
      y.backward({ grad: wt });
      const g = await x.grad!.toArray();
      [x, y, wt].forEach((t) => t.dispose());
      return g;
    });
    const [expected] = numericGrad(([xs]) => weightedSum(refSoftmax(xs, [...shape], a, log), w), [Float64Array.from(xData)]);
    expectClose(got, expected, { rtol: 1e-4, atol: 1e-5, what: `d${name}/dx` });
  });
});

describe('errors and memory', () => {
  test('more rows than 65535 workgroups per grid dimension (long path: grid spills into y)', async () => {
    // Slow on SwiftShader (seconds: one workgroup per row), so run once; all row ops share the grid code.
    const shape = [66_000, 2];
    const data = f32(randomArray(shape[0] * shape[1], 14, -3, 3));
    const got = await onPath('long', () => forward(softmax, data, shape, -1));
    expectClose(got, refSoftmax(data, shape, 1, false), { what: 'rows past the grid limit' });
  });

  test('short-path grid covers every row, spilling into y past 65535 workgroups', () => {
    for (const rows of [1, 64, 65, 66_000, 65_535 * SHORT_ROW_WG + 1, 10_000_000]) {
      const [x, y, z] = shortRowGrid(rows);
      expect(x).toBeLessThanOrEqual(65_535);
      expect(z).toBe(1);
      expect(x * y * SHORT_ROW_WG).toBeGreaterThanOrEqual(rows);
      // No whole workgroup row beyond the last needed one.
      expect((x * (y - 1)) * SHORT_ROW_WG).toBeLessThan(rows);
    }
  });

  test('bad axis and dtype name the op', () => {
    const x = tensor(f32([1, 2, 3, 4, 5, 6]), [2, 3]);
    expect(() => softmax(x, 2)).toThrow(/softmax: axis 2 is out of range for a tensor of rank 2/);
    expect(() => logSoftmax(x, -3)).toThrow(/logSoftmax: axis -3 is out of range/);
    expect(() => softmax(x, 0.5)).toThrow(/softmax: axis 0.5/);
    const i = tensor(new Int32Array([1, 2, 3]));
    expect(() => softmax(i)).toThrow(/softmax: expected a f32 tensor, got i32/);
    x.dispose();
    i.dispose();
    expect(() => softmax(x)).toThrow(/softmax: tensor #\d+ .* was disposed/);
  });

  test('forward and backward leak no tensors', async () => {
    const before = liveTensorCount();
    tidy(() => {
      const x = tensor(f32(randomArray(12, 41)), [3, 4], { requiresGrad: true });
      const y = logSoftmax(softmax(x, 0), 1);
      y.backward({ grad: tensor(f32(randomArray(12, 42)), [3, 4]) });
      return undefined;
    });
    expect(liveTensorCount()).toBe(before);
  });
});
