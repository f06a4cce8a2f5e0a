import { describe, expect, test } from 'vitest';
import { layerNorm, liveTensorCount, tensor, tidy, type Tensor } from '../src/index.js';
import { useGpu } from './helpers/gpu.js';
import { lengthOf, onPath } from './helpers/rows.js';
import { layerNormRef } from './reference/nn.js';
import { expectClose, f32, numericGrad, randomArray, weightedSum } from './helpers/check.js';
import { shortRowMaxLen, type RowPath } from '../src/nn/functional/rows.js';

useGpu();

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

async function runForward(xData: Float32Array, shape: number[], w: Float32Array | null, b: Float32Array | null, eps?: number): Promise<Float32Array> {
  const d = shape[shape.length - 1];
  const x = tensor(xData, shape);
  const tw = w && tensor(w, [d]);
  const tb = b && tensor(b, [d]);
  const y = layerNorm(x, tw, tb, eps);
  expect(y.shape).toEqual(shape);
  const out = (await y.toArray()) as Float32Array;
  for (const t of [x, tw, tb, y]) t?.dispose();
  return out;
}

describe('layerNorm forward', () => {
  test('odd row counts and widths, with weight and bias', async () => {
    let seed = 1;
    for (const rows of [1, 3, 17, 65]) {
      for (const d of [1, 3, 17, 129]) {
        const x = f32(randomArray(rows * d, seed++, -2, 2));
        const w = f32(randomArray(d, seed++, 0.5, 1.5));
        const b = f32(randomArray(d, seed++, -1, 1));
        const got = await runForward(x, [rows, d], w, b);
        expectClose(got, layerNormRef(x, d, w, b, 1e-5), { what: `[${rows}, ${d}]` });
      }
    }
  });

  test('weight and/or bias null, 3-D input, custom eps', async () => {
    const shape = [2, 3, 17];
    const x = f32(randomArray(size(shape), 50, -3, 3));
    const w = f32(randomArray(17, 51, -1.5, 1.5));
    const b = f32(randomArray(17, 52, -1, 1));
    for (const [pw, pb] of [[null, null], [w, null], [null, b], [w, b]] as const) {
      for (const eps of [1e-5, 0.1]) {
        const got = await runForward(x, shape, pw, pb, eps);
        expectClose(got, layerNormRef(x, 17, pw, pb, eps), { what: `weight ${!!pw} bias ${!!pb} eps ${eps}` });
      }
    }
  });

  test('wide rows (1000 and 1500) use larger workgroups correctly', async () => {
    for (const d of [1000, 1500]) {
      const x = f32(randomArray(3 * d, 60 + d, -2, 2));
      const w = f32(randomArray(d, 61, 0.5, 1.5));
      const got = await runForward(x, [3, d], w, null);
      expectClose(got, layerNormRef(x, d, w, null, 1e-5), { what: `d=${d}` });
    }
  });

  test('a large common offset (mean 1e3, spread 1) keeps the variance accurate', async () => {
    const [rows, d] = [5, 129];
    const x = f32(randomArray(rows * d, 70, -1, 1).map((v) => 1000 + v));
    const got = await runForward(x, [rows, d], null, null);
    // Inputs near 1000 carry f32 spacing 6e-5, so the mean is known to about that; relative to
    // the unit spread this bounds the error of y near 1e-4 (a one-pass E[x^2]-E[x]^2 would be off by O(1)).
    expectClose(got, layerNormRef(x, d, null, null, 1e-5), { rtol: 1e-4, atol: 1e-4 });
  });

  test('an empty batch gives an empty output', async () => {
    const y = layerNorm(tensor(new Float32Array(0), [0, 5]), null, null);
    expect(y.shape).toEqual([0, 5]);
    expect((await y.toArray()).length).toBe(0);
  });
});

interface GradCase {
  shape: number[];
  weight: boolean;
  bias: boolean;
}

describe('layerNorm backward', () => {
  const cases: GradCase[] = [
    { shape: [3, 5], weight: true, bias: true },
    { shape: [17, 3], weight: true, bias: true },
    { shape: [65, 17], weight: true, bias: true }, // more rows than one dweight chunk: two-stage sum
    { shape: [2, 3, 4], weight: true, bias: false },
    { shape: [4, 7], weight: false, bias: true },
    { shape: [4, 7], weight: false, bias: false },
    { shape: [2, 129], weight: true, bias: true },
    { shape: [3, 1], weight: true, bias: true },
    { shape: [70, 2], weight: false, bias: true }, // dbias only, two-stage sum
  ];
  test.each(cases)('matches finite differences: shape $shape, weight $weight, bias $bias', async ({ shape, weight, bias }) => {
    const d = shape[shape.length - 1];
    const n = size(shape);
    const xData = f32(randomArray(n, 80 + n, -2, 2));
    const wData = f32(randomArray(d, 81 + d, 0.5, 1.5));
    const bData = f32(randomArray(d, 82 + d, -1, 1));
    const gData = f32(randomArray(n, 83 + n, -1, 1));
    const x = tensor(xData, shape, { requiresGrad: true });
    const w = weight ? tensor(wData, [d], { requiresGrad: true }) : null;
    const b = bias ? tensor(bData, [d], { requiresGrad: true }) : null;
    const y = layerNorm(x, w, b);
    expect(y.gradFn?.op).toBe('layerNorm');
    y.backward({ grad: tensor(gData, shape) });

    const inputs = [Float64Array.from(xData), Float64Array.from(wData), Float64Array.from(bData)];
    const [gx, gw, gb] = numericGrad(
      ([xs, ws, bs]) => weightedSum(layerNormRef(xs, d, weight ? ws : null, bias ? bs : null, 1e-5), gData),
      inputs,
    );
    expectClose(await x.grad!.toArray(), gx, { rtol: 1e-4, atol: 1e-5, what: 'dx' });
    if (w) expectClose(await w.grad!.toArray(), gw, { rtol: 1e-4, atol: 1e-5, what: 'dweight' });
    if (b) expectClose(await b.grad!.toArray(), gb, { rtol: 1e-4, atol: 1e-5, what: 'dbias' });
  });

  test('only the parameters require grad (x is data)', async () => {
    const [rows, d] = [40, 6];
    const xData = f32(randomArray(rows * d, 90, -2, 2));
    const wData = f32(randomArray(d, 91, 0.5, 1.5));
    const bData = f32(randomArray(d, 92, -1, 1));
    const x = tensor(xData, [rows, d]);
    const w = tensor(wData, [d], { requiresGrad: true });
    const b = tensor(bData, [d], { requiresGrad: true });
    const gData = f32(randomArray(rows * d, 93, -1, 1));
    layerNorm(x, w, b).backward({ grad: tensor(gData, [rows, d]) });
    expect(x.grad).toBeNull();
    const [, gw, gb] = numericGrad(([xs, ws, bs]) => weightedSum(layerNormRef(xs, d, ws, bs, 1e-5), gData), [Float64Array.from(xData), Float64Array.from(wData), Float64Array.from(bData)]);
    expectClose(await w.grad!.toArray(), gw, { rtol: 1e-4, atol: 1e-5, what: 'dweight' });
    expectClose(await b.grad!.toArray(), gb, { rtol: 1e-4, atol: 1e-5, what: 'dbias' });
  });

  test('parameter gradients are deterministic run to run', async () => {
    const [rows, d] = [200, 9];
    const x = tensor(f32(randomArray(rows * d, 95, -2, 2)), [rows, d]);
    const g = tensor(f32(randomArray(rows * d, 96, -1, 1)), [rows, d]);
    const results: Float32Array[] = [];
    for (let i = 0; i < 2; i++) {
      const w = tensor(f32(randomArray(d, 97)), [d], { requiresGrad: true });
      layerNorm(x, w, null).backward({ grad: g });
      results.push((await w.grad!.toArray()) as Float32Array);
    }
    expect(Array.from(results[1])).toEqual(Array.from(results[0]));
  });

  test('forward and backward leak no tensors', () => {
    const before = liveTensorCount();
    tidy(() => {
      const x = tensor(f32(randomArray(40 * 3, 98)), [40, 3], { requiresGrad: true });
      const w = tensor(f32([1, 2, 3]), [3], { requiresGrad: true });
      const b = tensor(f32([0, 1, 0]), [3], { requiresGrad: true });
      layerNorm(layerNorm(x, w, b), null, null).backward({ grad: tensor(f32(randomArray(120, 99)), [40, 3]) });
      return undefined;
    });
    expect(liveTensorCount()).toBe(before);
  });
});

describe('layerNorm short and long row paths', () => {
  test.each([null, 'short', 'long'] as const)('forward, path %s: widths around the threshold, odd row counts', async (path) => {
    const T = shortRowMaxLen();
    let seed = 200;
    for (const rows of [65, 129]) {
      for (const d of rows === 65 ? [1, 3, 17, 300, T - 1, T, T + 1] : [1, 3, 17, 33]) {
        const x = f32(randomArray(rows * d, seed++, -2, 2));
        const w = f32(randomArray(d, seed++, 0.5, 1.5));
        const b = f32(randomArray(d, seed++, -1, 1));
        const got = await onPath(path, () => runForward(x, [rows, d], w, b));
        expectClose(got, layerNormRef(x, d, w, b, 1e-5), { what: `[${rows}, ${d}] path ${path}` });
      }
    }
  });

  test.each(['short', 'long'] as const)('forward, path %s: no affine, and a large common offset', async (path) => {
    const x = f32(randomArray(5 * 33, 230, -1, 1).map((v) => 1000 + v));
    const got = await onPath(path, () => runForward(x, [5, 33], null, null));
    expectClose(got, layerNormRef(x, 33, null, null, 1e-5), { rtol: 1e-4, atol: 1e-4 });
  });

  const cases = ([
    { path: null, shape: [65, 5], weight: true, bias: true },
    { path: null, rows: 2, dT: 0, weight: true, bias: true },
    { path: null, rows: 2, dT: 1, weight: false, bias: true },
    { path: 'short', shape: [3, 1], weight: true, bias: true },
    { path: 'short', shape: [2, 300], weight: true, bias: true },
    { path: 'short', shape: [4, 7], weight: false, bias: false },
    { path: 'long', shape: [33, 17], weight: true, bias: true },
    { path: 'long', shape: [4, 7], weight: false, bias: false },
  ] as { path: RowPath | null; shape?: number[]; rows?: number; dT?: number; weight: boolean; bias: boolean }[]).map((c) => ({ ...c, label: c.shape ? `[${c.shape}]` : `[${c.rows}, T${c.dT ? `+${c.dT}` : ''}]` }));
  test.each(cases)('backward, path $path, shape $label, weight $weight, bias $bias: finite differences', async (c) => {
    const { path, weight, bias } = c;
    const shape = c.shape ?? [c.rows!, lengthOf(c)];
    const d = shape[shape.length - 1];
    const n = size([...shape]);
    const xData = f32(randomArray(n, 240 + n, -2, 2));
    const wData = f32(randomArray(d, 241 + d, 0.5, 1.5));
    const bData = f32(randomArray(d, 242 + d, -1, 1));
    const gData = f32(randomArray(n, 243 + n, -1, 1));
    const [gotX, gotW, gotB] = await onPath(path, async () => {
      const x = tensor(xData, [...shape], { requiresGrad: true });
      const w = weight ? tensor(wData, [d], { requiresGrad: true }) : null;
      const b = bias ? tensor(bData, [d], { requiresGrad: true }) : null;
      layerNorm(x, w, b).backward({ grad: tensor(gData, [...shape]) });
      return [await x.grad!.toArray(), w && (await w.grad!.toArray()), b && (await b.grad!.toArray())];
    });
    const [gx, gw, gb] = numericGrad(
      ([xs, ws, bs]) => weightedSum(layerNormRef(xs, d, weight ? ws : null, bias ? bs : null, 1e-5), gData),
      [Float64Array.from(xData), Float64Array.from(wData), Float64Array.from(bData)],
    );
    expectClose(gotX, gx, { rtol: 1e-4, atol: 1e-5, what: 'dx' });
    if (gotW) expectClose(gotW, gw, { rtol: 1e-4, atol: 1e-5, what: 'dweight' });
    if (gotB) expectClose(gotB, gb, { rtol: 1e-4, atol: 1e-5, what: 'dbias' });
  });
});

describe('layerNorm errors', () => {
  test('shapes, dtypes and eps are checked with clear messages', () => {
    const x = tensor(f32(randomArray(12, 100)), [3, 4]);
    const w4 = tensor(f32([1, 1, 1, 1]));
    expect(() => layerNorm(x, tensor(f32([1, 1, 1])), null)).toThrow(/layerNorm: weight must have shape \[4\] \(the last dimension of input \[3,4\]\), got \[3\]/);
    expect(() => layerNorm(x, null, tensor(f32(randomArray(8, 101)), [2, 4]))).toThrow(/layerNorm: bias must have shape \[4\] .* got \[2,4\]/);
    expect(() => layerNorm(x, w4, null, 0)).toThrow(/layerNorm: eps must be a positive finite number, got 0/);
    expect(() => layerNorm(x, w4, null, -1e-5)).toThrow(/eps must be a positive finite number, got -0.00001/);
    expect(() => layerNorm(x, w4, null, Infinity)).toThrow(/got Infinity/);
    expect(() => layerNorm(x, w4, null, NaN)).toThrow(/got NaN/);
    expect(() => layerNorm(tensor(Int32Array.of(1, 2, 3, 4), [1, 4]), null, null)).toThrow(/layerNorm: expected a f32 tensor, got i32/);
    expect(() => layerNorm(x, tensor(Int32Array.of(1, 2, 3, 4)), null)).toThrow(/layerNorm: expected a f32 tensor, got i32 \(shape \[4\]\)/);
    expect(() => layerNorm(tensor(f32([2]), []), null, null)).toThrow(/layerNorm: input must have at least one dimension, got a scalar/);
    const gone: Tensor = tensor(f32([1, 2]));
    gone.dispose();
    expect(() => layerNorm(x, gone, null)).toThrow(/layerNorm: tensor #\d+ .* was disposed/);
  });
});
