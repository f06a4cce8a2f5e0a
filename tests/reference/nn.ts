/**
 * Float64 references for the nn layers (tests/layers.test.ts, tests/norm.test.ts): written out
 * loop by loop from the definitions, sharing nothing with the GPU code. Tensors are flat row-major Float64Arrays.
 */
import { erf } from './matmul.js';

export type Arr = ArrayLike<number>;
export type MlpAct = 'gelu' | 'relu';

export const geluExact = (z: number) => 0.5 * z * (1 + erf(z / Math.SQRT2));

/** x [rows, in] @ W[out, in]ᵀ + b, then the activation. */
export function linearRef(x: Arr, rows: number, W: Arr, b: Arr | null, inF: number, outF: number, act: 'none' | MlpAct = 'none'): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * W[o * inF + i];
      y[r * outF + o] = act === 'gelu' ? geluExact(s) : act === 'relu' ? Math.max(0, s) : s;
    }
  }
  return y;
}

/** layer_norm over the last dimension d; weight / bias null for the plain normalisation. */
export function layerNormRef(x: Arr, d: number, w: Arr | null, b: Arr | null, eps: number): Float64Array {
  const rows = x.length / d;
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let k = 0; k < d; k++) mean += x[r * d + k];
    mean /= d;
    let v = 0;
    for (let k = 0; k < d; k++) v += (x[r * d + k] - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / d + eps);
    for (let k = 0; k < d; k++) y[r * d + k] = (x[r * d + k] - mean) * rstd * (w ? w[k] : 1) + (b ? b[k] : 0);
  }
  return y;
}

export interface AttentionParams { qkvW: Arr; qkvB: Arr; projW: Arr; projB: Arr }

/** timm Attention on x [B, T, C] with H heads (no dropout). */
export function attentionRef(x: Arr, B: number, T: number, C: number, H: number, p: AttentionParams): Float64Array {
  const D = C / H;
  const qkv = linearRef(x, B * T, p.qkvW, p.qkvB, C, 3 * C); // [B, T, 3, H, D]
  const at = (b: number, t: number, which: number, h: number, d: number) => qkv[(b * T + t) * 3 * C + which * C + h * D + d];
  const merged = new Float64Array(B * T * C);
  const scale = 1 / Math.sqrt(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const s = new Float64Array(T);
        let m = -Infinity;
        for (let j = 0; j < T; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += at(b, i, 0, h, d) * at(b, j, 1, h, d);
          s[j] = dot * scale;
          m = Math.max(m, s[j]);
        }
        let z = 0;
        for (let j = 0; j < T; j++) z += (s[j] = Math.exp(s[j] - m));
        for (let d = 0; d < D; d++) {
          let o = 0;
          for (let j = 0; j < T; j++) o += (s[j] / z) * at(b, j, 2, h, d);
          merged[(b * T + i) * C + h * D + d] = o;
        }
      }
    }
  }
  return linearRef(merged, B * T, p.projW, p.projB, C, C);
}

export interface MlpParams { fc1W: Arr; fc1B: Arr; fc2W: Arr; fc2B: Arr }

export function mlpRef(x: Arr, rows: number, inF: number, hidden: number, outF: number, p: MlpParams, act: MlpAct = 'gelu'): Float64Array {
  return linearRef(linearRef(x, rows, p.fc1W, p.fc1B, inF, hidden, act), rows, p.fc2W, p.fc2B, hidden, outF);
}

export interface BlockParams extends AttentionParams, MlpParams { n1W: Arr; n1B: Arr; n2W: Arr; n2B: Arr }

const addArr = (a: Arr, b: Arr) => Float64Array.from(a, (v, i) => v + b[i]);

/** Pre-LN block: x + attn(ln1 x); then + mlp(ln2 x). */
export function blockRef(x: Arr, B: number, T: number, C: number, H: number, hidden: number, eps: number, p: BlockParams): Float64Array {
  const h = addArr(x, attentionRef(layerNormRef(x, C, p.n1W, p.n1B, eps), B, T, C, H, p));
  return addArr(h, mlpRef(layerNormRef(h, C, p.n2W, p.n2B, eps), B * T, C, hidden, C, p));
}

/** Conv2d with kernel = stride = P on [B, Cin, Hh, Ww], weight [dim, Cin, P, P]: tokens [B, T, dim], row-major over the grid. */
export function patchEmbedRef(x: Arr, B: number, Cin: number, Hh: number, Ww: number, P: number, W: Arr, bias: Arr, dim: number): Float64Array {
  const rows = Hh / P;
  const cols = Ww / P;
  const out = new Float64Array(B * rows * cols * dim);
  for (let b = 0; b < B; b++) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        for (let o = 0; o < dim; o++) {
          let s = bias[o];
          for (let ch = 0; ch < Cin; ch++) {
            for (let i = 0; i < P; i++) {
              for (let j = 0; j < P; j++) {
                s += x[((b * Cin + ch) * Hh + r * P + i) * Ww + c * P + j] * W[((o * Cin + ch) * P + i) * P + j];
              }
            }
          }
          out[((b * rows + r) * cols + c) * dim + o] = s;
        }
      }
    }
  }
  return out;
}
