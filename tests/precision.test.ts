/**
 * setFloat32MatmulPrecision('medium'): operands rounded to f16 (nearest, ties to even) as the kernel
 * stages them, products and sums in f32. Checked against float64 references of the rounded and of
 * the unrounded operands, in matmul and linear, forward and backward, and in a short mixed-precision
 * training run beside 'highest'.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { useGpu } from './helpers/gpu.js';
import { expectClose, randomArray } from './helpers/check.js';
import { linearRef, matmulRef, roundArrayToF16, roundToF16 } from './reference/matmul.js';
import { crossEntropy, getFloat32MatmulPrecision, linear, matmul, setFloat32MatmulPrecision, tensor, type Float32MatmulPrecision } from '../src/index.js';
import { MLP } from '../src/nn/models/mlp.js';
import { AdamW } from '../src/nn/optim.js';
import { makeSyntheticImages } from '../src/lab/data/synthetic.js';
import { setTensorCoreEmulationForTests, tensorCoreMatmul } from '../src/nn/functional/matmul/tensorcore.js';

// Tuning is never triggered here; this only keeps lookups away from the real home directory.
process.env.WGTRAIN_CACHE_DIR = mkdtempSync(join(tmpdir(), 'wgtrain-precision-'));

useGpu();

afterEach(() => setFloat32MatmulPrecision('highest'));

const size = (s: number[]) => s.reduce((p, d) => p * d, 1);
const data = (shape: number[], seed: number) => Float64Array.from(Float32Array.from(randomArray(size(shape), seed)));
const abs = (x: Float64Array) => x.map(Math.abs);

/** f32 accumulation of K products of values in [-1, 1] (the bound tests/matmul.test.ts uses). */
const f32Tol = (K: number) => ({ rtol: 1e-4, atol: 4e-6 * Math.max(1, Math.sqrt(K)) });

/** Unit roundoff of f16 (10 fraction bits, round to nearest). */
const U16 = 2 ** -11;

/**
 * |C_medium - C_exact| elementwise, against the error bound of rounding the operands to f16:
 * each operand has relative error <= u = 2^-11, so each product a·b has relative error
 * <= 2u + u², and the sum is off by at most (2u + u²)·Σ|a_k·b_k| (S, from the reference on |A|, |B|),
 * plus the f32 accumulation error that 'highest' has too. (An operand below 2^-14 lands on f16's
 * subnormal grid with absolute error <= 2^-25 instead, far inside the f32 term.)
 */
function expectWithinF16Bound(actual: ArrayLike<number>, exact: Float64Array, S: Float64Array, K: number, what: string) {
  const { rtol, atol } = f32Tol(K);
  let worst = 0;
  for (let i = 0; i < exact.length; i++) {
    const bound = (2 * U16 + U16 * U16) * S[i] + atol + rtol * Math.abs(exact[i]);
    const ratio = Math.abs(actual[i] - exact[i]) / bound;
    if (!(ratio <= 1)) throw new Error(`${what}: element ${i} is ${actual[i]}, expected ${exact[i]} within ${bound}`);
    worst = Math.max(worst, ratio);
  }
  return worst;
}

describe('precision setting', () => {
  test('default highest; set / get; unknown names rejected', () => {
    expect(getFloat32MatmulPrecision()).toBe('highest');
    setFloat32MatmulPrecision('medium');
    expect(getFloat32MatmulPrecision()).toBe('medium');
    setFloat32MatmulPrecision('highest');
    expect(getFloat32MatmulPrecision()).toBe('highest');
    expect(() => setFloat32MatmulPrecision('high' as Float32MatmulPrecision)).toThrow(/setFloat32MatmulPrecision: unknown precision 'high' \(expected 'highest' or 'medium'\)/);
    expect(getFloat32MatmulPrecision()).toBe('highest');
  });
});

describe("matmul in 'medium'", () => {
  test('operands are rounded to the f16 grid: ties to even, subnormals, overflow to inf, inf and NaN kept', async () => {
    // x [R, 1] @ [[1]]: every output is one operand value times 1, so it shows the rounding alone.
    const specials = [
      1 + 2 ** -11, 1 + 3 * 2 ** -11, -(1 + 2 ** -11), 0.1, -0.1, 1 / 3, 1e-5, 6e-8, 2e-8, 3e-8, 1e-7,
      65504, 65519, 65520, 70000, -1e6, 3e38, Infinity, -Infinity, NaN, 0, -0,
    ].map(Math.fround);
    const x = tensor(Float32Array.from(specials), [specials.length, 1]);
    const one = tensor(Float32Array.of(1), [1, 1]);
    setFloat32MatmulPrecision('medium');
    const y = await matmul(x, one).toArray();
    specials.forEach((v, i) => {
      const expected = roundToF16(v);
      // Object.is tells NaN from NaN and -0 from 0... except that x·1 + 0 turns -0 into +0.
      expect(Object.is(y[i], expected) || (expected === 0 && y[i] === 0), `${v} -> ${y[i]}, expected ${expected}`).toBe(true);
    });
    // Same values in 'highest' pass through unrounded.
    setFloat32MatmulPrecision('highest');
    const z = await matmul(x, one).toArray();
    expect(z[0]).toBe(Math.fround(1 + 2 ** -11));
    expect(z[specials.indexOf(70000)]).toBe(70000);
  });

  test('forward, transposed and batched products: tight vs the rounded operands, within the f16 bound vs the exact ones', async () => {
    // (aShape, bShape, transA, transB): odd sizes, vec4 and scalar layouts, broadcasting.
    const cases: [number[], number[], boolean, boolean][] = [
      [[17, 65], [65, 33], false, false],
      [[64, 36], [48, 64], true, true],
      [[2, 5, 40], [40, 12], false, false],
    ];
    let worst = 0;
    for (const [aShape, bShape, tA, tB] of cases) {
      const A = data(aShape, 1);
      const B = data(bShape, 2);
      const K = aShape[aShape.length - (tA ? 2 : 1)];
      const what = `[${aShape}]${tA ? 'ᵀ' : ''} @ [${bShape}]${tB ? 'ᵀ' : ''}`;
      const a = tensor(Float32Array.from(A), aShape);
      const b = tensor(Float32Array.from(B), bShape);
      setFloat32MatmulPrecision('medium');
      const medium = await matmul(a, b, { transposeA: tA, transposeB: tB }).toArray();
      setFloat32MatmulPrecision('highest');
      const highest = await matmul(a, b, { transposeA: tA, transposeB: tB }).toArray();
      const rounded = matmulRef(roundArrayToF16(A), aShape, roundArrayToF16(B), bShape, tA, tB).data;
      const exact = matmulRef(A, aShape, B, bShape, tA, tB).data;
      const S = matmulRef(abs(A), aShape, abs(B), bShape, tA, tB).data;
      expectClose(medium, rounded, { ...f32Tol(K), what: `medium ${what} vs rounded operands` });
      worst = Math.max(worst, expectWithinF16Bound(medium, exact, S, K, `medium ${what} vs exact`));
      // The setting really changes the numerics: 'medium' is off the f32 result by far more than f32 noise.
      const maxDiff = Math.max(...Array.from(medium, (v, i) => Math.abs(v - highest[i])));
      expect(maxDiff, what).toBeGreaterThan(1e-3);
      a.dispose();
      b.dispose();
    }
    // The bound is a worst case; random signs keep the real error well inside it.
    expect(worst).toBeLessThan(0.5);
  });

  test('linear forward and backward use the setting: every product sees f16-rounded operands', async () => {
    const [rows, inF, outF] = [9, 20, 7];
    const X = data([rows, inF], 3);
    const W = data([outF, inF], 4);
    const Bv = data([outF], 5);
    const G = data([rows, outF], 6);
    const x = tensor(Float32Array.from(X), [rows, inF], { requiresGrad: true });
    const w = tensor(Float32Array.from(W), [outF, inF], { requiresGrad: true });
    const b = tensor(Float32Array.from(Bv), [outF], { requiresGrad: true });
    setFloat32MatmulPrecision('medium');
    const y = linear(x, w, b);
    y.backward({ grad: tensor(Float32Array.from(G), [rows, outF]) });
    const r = roundArrayToF16;
    // y = r(x) r(W)ᵀ + b (the bias is added in f32); dx = r(g) r(W); dW = r(g)ᵀ r(x); db = Σ g (no product).
    const yRef = linearRef(r(X), [rows, inF], r(W), [outF, inF], Bv, 'none').data;
    const dxRef = matmulRef(r(G), [rows, outF], r(W), [outF, inF]).data;
    const dwRef = matmulRef(r(G), [rows, outF], r(X), [rows, inF], true, false).data;
    const dbRef = new Float64Array(outF).map((_, o) => G.filter((_, i) => i % outF === o).reduce((s, v) => s + v, 0));
    expectClose(await y.toArray(), yRef, { ...f32Tol(inF), what: 'medium linear y' });
    expectClose(await x.grad!.toArray(), dxRef, { ...f32Tol(outF), what: 'medium linear dx' });
    expectClose(await w.grad!.toArray(), dwRef, { ...f32Tol(rows), what: 'medium linear dW' });
    expectClose(await b.grad!.toArray(), dbRef, { ...f32Tol(rows), what: 'medium linear db' });
    // Not what 'highest' gives: dx vs the unrounded product differs by more than f32 noise.
    const dxExact = matmulRef(G, [rows, outF], W, [outF, inF]).data;
    const dx = await x.grad!.toArray();
    expect(Math.max(...Array.from(dx, (v, i) => Math.abs(v - dxExact[i])))).toBeGreaterThan(1e-4);
    // Parameters and gradients stay f32 tensors.
    expect([w.dtype, w.grad!.dtype, x.grad!.dtype]).toEqual(['f32', 'f32', 'f32']);
    for (const t of [x, w, b, y]) t.dispose();
  });
});

describe("'medium' picks the tensor-core kernel where the device has one (builtins emulated here)", () => {
  beforeAll(() => setTensorCoreEmulationForTests({ M: 16, N: 16, K: 16 }));
  afterAll(() => setTensorCoreEmulationForTests(null));

  test('plain products run on the tensor-core kernel, in both precisions only where asked', async () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[17, 65], [65, 33], false, false],
      [[64, 36], [48, 64], true, true],
    ];
    for (const [aShape, bShape, tA, tB] of cases) {
      const A = data(aShape, 3);
      const B = data(bShape, 4);
      const K = aShape[tA ? 0 : 1];
      const a = tensor(Float32Array.from(A), aShape);
      const b = tensor(Float32Array.from(B), bShape);
      setFloat32MatmulPrecision('medium');
      const medium = await matmul(a, b, { transposeA: tA, transposeB: tB }).toArray();
      const direct = await tensorCoreMatmul(a, b, { transposeA: tA, transposeB: tB }).toArray();
      // Bit-identical to the tensor-core kernel called directly: that is the kernel that ran.
      expect(Array.from(medium)).toEqual(Array.from(direct));
      const rounded = matmulRef(roundArrayToF16(A), aShape, roundArrayToF16(B), bShape, tA, tB).data;
      expectClose(medium, rounded, f32Tol(K));
      // 'highest' never goes there: exact f32 products differ from the f16-operand ones.
      setFloat32MatmulPrecision('highest');
      const highest = await matmul(a, b, { transposeA: tA, transposeB: tB }).toArray();
      expect(Array.from(highest)).not.toEqual(Array.from(medium));
      expectClose(highest, matmulRef(A, aShape, B, bShape, tA, tB).data, f32Tol(K));
    }
  });

  test('a linear with bias and activation stays on the f32 kernel with rounded operands (no epilogue on tensor cores)', async () => {
    const X = data([9, 24], 5);
    const W = data([20, 24], 6);
    const Bv = data([20], 7);
    const x = tensor(Float32Array.from(X), [9, 24]);
    const w = tensor(Float32Array.from(W), [20, 24]);
    const bias = tensor(Float32Array.from(Bv), [20]);
    setFloat32MatmulPrecision('medium');
    const withEmulation = await linear(x, w, bias, { activation: 'relu' }).toArray();
    setTensorCoreEmulationForTests(null);
    const f32Kernel = await linear(x, w, bias, { activation: 'relu' }).toArray();
    setTensorCoreEmulationForTests({ M: 16, N: 16, K: 16 });
    expect(Array.from(withEmulation)).toEqual(Array.from(f32Kernel));
    const ref = linearRef(roundArrayToF16(X), [9, 24], roundArrayToF16(W), [20, 24], Bv, 'relu').data;
    expectClose(withEmulation, ref, f32Tol(24));
  });
});

describe('mixed-precision training', () => {
  /**
   * MLP 64 -> 32 -> 4 (ReLU), AdamW lr 1e-2, batch 32 of synthetic 8x8 images, 30 steps, from the
   * same init and batches in 'highest' and in 'medium'.
   *
   * Tolerance: each step's loss within 2% (relative) of the f32 run. Why that is enough and not too
   * much: 'medium' perturbs every matmul input by at most 2^-11 relative (about 5e-4), so a step's
   * logits move by about 1e-3 relative and the loss (about 1.4 falling to about 0.6 here) by a few
   * 1e-4 at a given set of weights. The weights then drift apart through the optimizer (Adam's
   * normalised step makes tiny gradient differences count once gradients are small), which grows
   * the gap over the run; 2% leaves an order of magnitude above the gap seen here (printed) while
   * still far below the loss's own movement over the run (more than 50%), so a broken 'medium'
   * (wrong products, dropped operand, NaN) fails it.
   */
  test("30 AdamW steps: 'medium' loss curve within 2% of 'highest' at every step; the setting is restored", async () => {
    const dataset = makeSyntheticImages({ seed: 3, trainSize: 320, testSize: 10, height: 8, width: 8, numClasses: 4, maxShift: 1, noise: 0.2, shared: 0.2 });
    const batch = 32;
    const steps = 30;
    const run = async (precision: Float32MatmulPrecision) => {
      const before = getFloat32MatmulPrecision();
      setFloat32MatmulPrecision(precision);
      const model = new MLP({ inFeatures: 64, hiddenSizes: [32], numClasses: 4, seed: 7 });
      const optimizer = new AdamW(model.namedParameters(), { lr: 1e-2, weightDecay: 0.05 });
      const losses: number[] = [];
      try {
        for (let s = 0; s < steps; s++) {
          const start = (s * batch) % dataset.train.count;
          const images = dataset.train.images.subarray(start * 64, (start + batch) * 64).map((v) => (v - 0.2) / 0.21);
          const x = tensor(images, [batch, 64]);
          const labels = tensor(dataset.train.labels.subarray(start, start + batch), [batch]);
          optimizer.zeroGrad();
          const logits = model.forward(x);
          const loss = crossEntropy(logits, labels);
          loss.backward();
          optimizer.step();
          losses.push(await loss.item());
          for (const t of [x, labels, logits, loss]) t.dispose();
        }
        // Master weights stay f32.
        expect(model.parameters().every((p) => p.dtype === 'f32')).toBe(true);
      } finally {
        optimizer.dispose();
        model.dispose();
        setFloat32MatmulPrecision(before);
      }
      return losses;
    };
    const highest = await run('highest');
    const medium = await run('medium');
    expect(getFloat32MatmulPrecision()).toBe('highest');
    const rel = medium.map((l, i) => Math.abs(l - highest[i]) / highest[i]);
    console.log(`mixed precision: loss ${highest[0].toFixed(4)} -> ${highest[steps - 1].toFixed(4)} (highest), ${medium[steps - 1].toFixed(4)} (medium); largest relative gap ${Math.max(...rel).toExponential(2)}`);
    expect(medium.every(Number.isFinite)).toBe(true);
    rel.forEach((r, i) => expect(r, `step ${i}: ${medium[i]} vs ${highest[i]}`).toBeLessThan(0.02));
    // Both runs learn, and 'medium' really ran different numerics.
    expect(highest[steps - 1]).toBeLessThan(0.7 * highest[0]);
    expect(medium[steps - 1]).toBeLessThan(0.7 * medium[0]);
    expect(Math.max(...rel)).toBeGreaterThan(0);
  });
});
