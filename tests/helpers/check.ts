/**
 * Comparing GPU results with float64 references, and finite-difference gradients.
 */
import { expect } from 'vitest';
import { Rng } from '../../src/nn/functional/creation.js';

/** Deterministic test data in [lo, hi). */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const r = new Rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r.uniform();
  return out;
}

export function randomInts(n: number, seed: number, hi: number): Int32Array {
  const r = new Rng(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = r.nextU32() % hi;
  return out;
}

export const f32 = (a: ArrayLike<number>) => Float32Array.from(a);

/**
 * Elementwise |actual - expected| <= atol + rtol * |expected|, reporting the worst element.
 * Defaults suit f32 kernels against a float64 reference on O(1) data.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, opts: { rtol?: number; atol?: number; what?: string } = {}): void {
  const { rtol = 1e-4, atol = 1e-5, what = 'values' } = opts;
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (Number.isNaN(a) !== Number.isNaN(e) || excess > worstExcess || (Number.isNaN(excess) && !Number.isNaN(e))) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    throw new Error(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol}; ${expected.length} elements)`);
  }
}

/**
 * Central finite differences of a scalar float64 function with respect to each of its inputs.
 * `f` receives the inputs (which it must not keep) and returns the scalar.
 */
export function numericGrad(f: (inputs: Float64Array[]) => number, inputs: Float64Array[], eps = 1e-6): Float64Array[] {
  return inputs.map((x) => {
    const g = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const orig = x[i];
      x[i] = orig + eps;
      const up = f(inputs);
      x[i] = orig - eps;
      const down = f(inputs);
      x[i] = orig;
      g[i] = (up - down) / (2 * eps);
    }
    return g;
  });
}

/** Σ y_i * w_i: turns a tensor-valued op into a scalar whose gradient w.r.t. y is w. */
export function weightedSum(y: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * w[i];
  return s;
}
