/**
 * Float64 references for products with f16 operands ("medium" precision: operands rounded to f16,
 * sums exact here, f32 on the GPU). Used by tests/matmul-tensorcore.test.ts and by
 * bench/tensorcore-check.ts on the GPU machine.
 */

export const F16_MAX = 65504;
/** Half-way between F16_MAX and 2^16: from here on, round-to-nearest-even overflows. */
const F16_OVERFLOW = 65520;
const F16_MIN_NORMAL = 2 ** -14;
/** Spacing of f16 subnormals (and of the normals in [2^-14, 2^-13)). */
const F16_SUBNORMAL_STEP = 2 ** -24;

/** Nearest integer to v, ties to even. v is an exact f64 (a power-of-two scaling of an f32). */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** x rounded to the nearest IEEE binary16 value, ties to even (IEEE's default; Math.f16round in newer JS). */
export function roundToF16(x: number): number {
  if (Number.isNaN(x) || x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  if (a >= F16_OVERFLOW) return Math.sign(x) * Infinity;
  let step: number;
  if (a < F16_MIN_NORMAL) {
    step = F16_SUBNORMAL_STEP;
  } else {
    // 10 fraction bits: the spacing in [2^e, 2^(e+1)) is 2^(e-10).
    let e = Math.floor(Math.log2(a));
    if (2 ** e > a) e--;
    else if (2 ** (e + 1) <= a) e++;
    step = 2 ** (e - 10);
  }
  // Below F16_OVERFLOW the rounded value is at most F16_MAX (a / 32 < 2047.5 rounds to <= 2047).
  return Math.sign(x) * roundHalfEven(a / step) * step;
}

export interface F16Product {
  /** [batch, M, N] row-major. */
  data: Float64Array;
  /** Σ_k |opA[m, k]| · |opB[k, n]| per output: the scale of the rounding error of a sum of products. */
  absSum: Float64Array;
  shape: number[];
}

export interface ProductLayout {
  M: number;
  N: number;
  K: number;
  batch: number;
  /** A stored [K, M] per batch instead of [M, K]. */
  transA: boolean;
  /** B stored [N, K] per batch instead of [K, N]. */
  transB: boolean;
}

/**
 * opA(A[z]) @ opB(B[z]) in float64 over operands first rounded to f16 (`round` false: as given).
 * `rows` limits the work to some output rows (of every batch); other rows are left 0.
 */
export function matmulF16Ref(a: ArrayLike<number>, b: ArrayLike<number>, l: ProductLayout, round = true, rows?: readonly number[]): F16Product {
  const { M, N, K, batch, transA, transB } = l;
  const q = round ? roundToF16 : (v: number) => v;
  const ah = Float64Array.from(a, q);
  const bh = Float64Array.from(b, q);
  const data = new Float64Array(batch * M * N);
  const absSum = new Float64Array(batch * M * N);
  const rowList = rows ?? [...Array(M).keys()];
  const colB = new Float64Array(K);
  for (let z = 0; z < batch; z++) {
    const ab = z * M * K;
    const bb = z * K * N;
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) colB[k] = bh[bb + (transB ? n * K + k : k * N + n)];
      for (const m of rowList) {
        let s = 0;
        let abs = 0;
        for (let k = 0; k < K; k++) {
          const x = ah[ab + (transA ? k * M + m : m * K + k)];
          const p = x * colB[k];
          s += p;
          abs += Math.abs(p);
        }
        data[z * M * N + m * N + n] = s;
        absSum[z * M * N + m * N + n] = abs;
      }
    }
  }
  return { data, absSum, shape: batch > 1 ? [batch, M, N] : [M, N] };
}

/**
 * The worst |actual - expected| / (rel · absSum + abs) over the outputs (at most 1 passes), and
 * where it is. `only` restricts the comparison to some flat indices.
 */
export function worstF16Error(actual: ArrayLike<number>, ref: F16Product, rel: number, abs: number, only?: Iterable<number>) {
  let worst = 0;
  let at = -1;
  let maxErrOverAbsSum = 0;
  const indices = only ?? ref.data.keys();
  for (const i of indices) {
    const err = Math.abs(actual[i] - ref.data[i]);
    const ratio = Number.isNaN(err) ? Infinity : err / (rel * ref.absSum[i] + abs);
    if (ratio > worst || at < 0) {
      worst = ratio;
      at = i;
    }
    if (ref.absSum[i] > 0) maxErrOverAbsSum = Math.max(maxErrOverAbsSum, Number.isNaN(err) ? Infinity : err / ref.absSum[i]);
  }
  return {
    /** <= 1 passes. */
    ratio: worst,
    index: at,
    actual: at >= 0 ? actual[at] : NaN,
    expected: at >= 0 ? ref.data[at] : NaN,
    /** max |error| / absSum: the measured relative error, for reports. */
    maxErrOverAbsSum,
  };
}
