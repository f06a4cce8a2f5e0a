/**
 * Float64 references for matmul and linear (torch.matmul semantics: 1-D operands, broadcast batch
 * dimensions, optional transposes of the last two dimensions).
 */

export type Activation = 'none' | 'relu' | 'gelu' | 'gelu_tanh';

export interface Mat {
  data: Float64Array;
  shape: number[];
}

const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

/** erf by its Maclaurin series (|x| <= 4, error far below 1e-9 there); ±1 beyond, where erfc(4) < 2e-8. */
export function erf(x: number): number {
  if (Math.abs(x) > 4) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

export function activate(z: number, activation: Activation): number {
  switch (activation) {
    case 'none': return z;
    case 'relu': return Math.max(z, 0);
    case 'gelu': return 0.5 * z * (1 + erf(z / Math.SQRT2));
    case 'gelu_tanh': return 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z)));
  }
}

/** torch.matmul(a, b), with a.mT / b.mT first when transA / transB. */
export function matmulRef(a: Float64Array, aShape: number[], b: Float64Array, bShape: number[], transA = false, transB = false): Mat {
  const ra = aShape.length;
  const rb = bShape.length;
  // Logical [M, K] and [K, N] with element accessors into the stored layouts.
  const M = ra === 1 ? 1 : aShape[transA ? ra - 1 : ra - 2];
  const K = ra === 1 ? aShape[0] : aShape[transA ? ra - 2 : ra - 1];
  const N = rb === 1 ? 1 : bShape[transB ? rb - 2 : rb - 1];
  const aBatch = aShape.slice(0, Math.max(0, ra - 2));
  const bBatch = bShape.slice(0, Math.max(0, rb - 2));
  const rank = Math.max(aBatch.length, bBatch.length);
  const pa = [...Array(rank - aBatch.length).fill(1), ...aBatch];
  const pb = [...Array(rank - bBatch.length).fill(1), ...bBatch];
  const batch = pa.map((d, i) => (d === 1 ? pb[i] : d));
  const out = new Float64Array(size(batch) * M * N);
  const idx = new Array<number>(rank).fill(0);
  for (let z = 0; z < size(batch); z++) {
    let rem = z;
    for (let i = rank - 1; i >= 0; i--) {
      idx[i] = rem % batch[i];
      rem = Math.floor(rem / batch[i]);
    }
    let za = 0;
    let zb = 0;
    for (let i = 0; i < rank; i++) {
      za = za * pa[i] + (pa[i] === 1 ? 0 : idx[i]);
      zb = zb * pb[i] + (pb[i] === 1 ? 0 : idx[i]);
    }
    const ao = za * M * K;
    const bo = zb * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a[ao + (transA ? k * M + m : m * K + k)];
          const bv = b[bo + (transB ? n * K + k : k * N + n)];
          s += av * bv;
        }
        out[z * M * N + m * N + n] = s;
      }
    }
  }
  return { data: out, shape: [...batch, ...(ra > 1 ? [M] : []), ...(rb > 1 ? [N] : [])] };
}

/** act(x @ weightᵀ + bias), weight [out, in]. */
export function linearRef(x: Float64Array, xShape: number[], w: Float64Array, wShape: number[], bias: Float64Array | null, activation: Activation): Mat {
  const [outF, inF] = wShape;
  const rows = x.length / inF;
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = activate(s, activation);
    }
  }
  return { data: y, shape: [...xShape.slice(0, -1), outF] };
}

/**
 * x rounded to the nearest IEEE binary16 value (ties to even), as a float64: subnormals down to
 * 2^-24, |x| >= 65520 (65504 plus half an f16 ulp) to inf with x's sign, NaN stays NaN. The
 * 'medium' matmul precision rounds its operands like this.
 */
export function roundToF16(x: number): number {
  if (Number.isNaN(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  // f16 has 10 fraction bits; below 2^-14 the spacing stays 2^-24 (subnormals).
  const quantum = 2 ** (Math.max(e, -14) - 10);
  const t = a / quantum; // exact: a power-of-two scaling
  let r = Math.floor(t);
  const frac = t - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  return Math.sign(x) * r * quantum;
}

export const roundArrayToF16 = (xs: Float64Array): Float64Array => xs.map(roundToF16);
