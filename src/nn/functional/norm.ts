/**
 * layer_norm over the last dimension (shaders/norm.wgsl), with optional affine weight and bias.
 *
 * Forward saves the per-row mean and rstd; backward computes dx row by row (one thread per short
 * row, one workgroup per long row: src/nn/functional/rows.ts) and dweight / dbias with a
 * deterministic two-stage column sum over rows.
 */
import layerNormSrc from '../../../shaders/norm.wgsl';
import { engine } from '../../runtime/engine.js';
import { defineKernel } from '../../runtime/kernel.js';
import { record } from '../../runtime/autograd.js';
import { Tensor } from '../../runtime/tensor.js';
import { assertFloat, assertLive } from './util.js';
import { grid1d, Params } from '../../runtime/params.js';
import { rowLaunch } from './rows.js';
import { full } from './creation.js';

const LAYER_NORM = defineKernel('layer_norm', layerNormSrc);

/** Rows one thread sums per chunk in the dweight/dbias stage (more chunks: more parallel threads). */
const PARAM_CHUNK_ROWS = 32;
/** Threads per workgroup of the column-parallel stages. */
const COLUMN_WG = 64;

type Stage = 'FORWARD' | 'DX' | 'PARAM_PARTIAL' | 'COLUMN_SUM';

interface Variant {
  stage: Stage;
  wg: number;
  /** Row stages only: one thread per row instead of one workgroup per row. */
  short?: boolean;
  hasWeight?: boolean;
  hasBias?: boolean;
  biasBinding?: number;
}

function dispatch(v: Variant, uniforms: Params, buffers: GPUBuffer[], workgroups: [number, number, number]): void {
  engine().dispatch({
    kernel: LAYER_NORM,
    defines: {
      FORWARD: v.stage === 'FORWARD',
      DX: v.stage === 'DX',
      PARAM_PARTIAL: v.stage === 'PARAM_PARTIAL',
      COLUMN_SUM: v.stage === 'COLUMN_SUM',
      WG: v.wg,
      SHORT: v.short ?? false,
      HAS_WEIGHT: v.hasWeight ?? false,
      HAS_BIAS: v.hasBias ?? false,
      BIAS_BINDING: v.biasBinding ?? 0,
    },
    buffers,
    uniforms,
    workgroups,
  });
}

function uniforms(rows: number, d: number, eps: number, chunkRows = 0): Params {
  return new Params().u32('rows', rows).u32('d', d).f32('eps', eps).u32('chunk_rows', chunkRows);
}

function checkArguments(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): void {
  const op = 'layerNorm';
  if (!(x instanceof Tensor)) throw new Error(`${op}: input must be a Tensor, got ${typeof x}`);
  assertLive(op, x);
  assertFloat(op, x);
  if (x.rank === 0) throw new Error(`${op}: input must have at least one dimension, got a scalar (shape [])`);
  const d = x.shape[x.rank - 1];
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p === null) continue;
    if (!(p instanceof Tensor)) throw new Error(`${op}: ${name} must be a Tensor or null, got ${typeof p}`);
    assertLive(op, p);
    assertFloat(op, p);
    if (p.rank !== 1 || p.shape[0] !== d) {
      throw new Error(`${op}: ${name} must have shape [${d}] (the last dimension of input [${x.shape}]), got [${p.shape}]`);
    }
  }
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0) {
    throw new Error(`${op}: eps must be a positive finite number, got ${eps}`);
  }
}

/**
 * dweight = Σ_rows dy·xhat and dbias = Σ_rows dy, as [D] tensors (null where not wanted).
 * Rows are split into chunks summed in parallel, then the chunks are added in order.
 */
function paramGrads(x: Tensor, dy: Tensor, mean: Tensor, rstd: Tensor, wantWeight: boolean, wantBias: boolean): [Tensor | null, Tensor | null] {
  const op = 'layerNorm backward';
  const d = x.shape[x.rank - 1];
  const rows = x.size / d;
  const chunkRows = Math.max(PARAM_CHUNK_ROWS, Math.ceil(rows / 65535));
  const chunks = Math.ceil(rows / chunkRows);
  const single = chunks <= 1;
  const dw = wantWeight ? Tensor.empty([d]) : null;
  const db = wantBias ? Tensor.empty([d]) : null;
  // With one chunk the partial stage writes the results directly.
  const dwPart = dw && !single ? Tensor.empty([chunks, d]) : dw;
  const dbPart = db && !single ? Tensor.empty([chunks, d]) : db;

  const buffers = [dy.buffer(op)];
  if (dwPart) buffers.push(x.buffer(op), mean.buffer(op), rstd.buffer(op), dwPart.buffer(op));
  if (dbPart) buffers.push(dbPart.buffer(op));
  dispatch({ stage: 'PARAM_PARTIAL', wg: COLUMN_WG, hasWeight: wantWeight, hasBias: wantBias, biasBinding: wantWeight ? 6 : 2 },
    uniforms(rows, d, 0, chunkRows), buffers, [Math.ceil(d / COLUMN_WG), Math.max(chunks, 1), 1]);

  if (!single) {
    for (const [part, out] of [[dwPart, dw], [dbPart, db]]) {
      if (!part || !out) continue;
      dispatch({ stage: 'COLUMN_SUM', wg: COLUMN_WG }, uniforms(chunks, d, 0), [part.buffer(op), out.buffer(op)], grid1d(d, COLUMN_WG));
      part.dispose();
    }
  }
  return [dw, db];
}

/**
 * PyTorch's layer_norm with normalized_shape = [D], the last dimension of x:
 * (x - mean) / sqrt(var + eps) * weight + bias, weight and bias [D] or null.
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  weight ??= null;
  bias ??= null;
  checkArguments(x, weight, bias, eps);
  const op = 'layerNorm';
  const d = x.shape[x.rank - 1];
  const rows = d === 0 ? 0 : x.size / d;
  const launch = rowLaunch(rows, d);

  const y = Tensor.empty(x.shape);
  const mean = Tensor.empty([rows]);
  const rstd = Tensor.empty([rows]);
  const buffers = [x.buffer(op), y.buffer(op), mean.buffer(op), rstd.buffer(op)];
  if (weight) buffers.push(weight.buffer(op));
  if (bias) buffers.push(bias.buffer(op));
  if (x.size > 0) {
    dispatch({ stage: 'FORWARD', wg: launch.wg, short: launch.short, hasWeight: !!weight, hasBias: !!bias, biasBinding: weight ? 6 : 5 },
      uniforms(rows, d, eps), buffers, launch.workgroups);
  }

  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  // Which gradients are wanted is fixed when the graph is built; skip the work for the others.
  const wantX = x.requiresGrad;
  const wantWeight = !!weight?.requiresGrad;
  const wantBias = !!bias?.requiresGrad;
  const result = record(op, inputs, y, (g, [sx, smean, srstd, sweight]) => {
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    let db: Tensor | null = null;
    if (x.size > 0) {
      if (wantX) {
        dx = Tensor.empty(sx.shape);
        const b = [sx.buffer(op), g.buffer(op), smean.buffer(op), srstd.buffer(op), dx.buffer(op)];
        if (sweight) b.push(sweight.buffer(op));
        const dxLaunch = rowLaunch(rows, d);
        dispatch({ stage: 'DX', wg: dxLaunch.wg, short: dxLaunch.short, hasWeight: !!sweight }, uniforms(rows, d, eps), b, dxLaunch.workgroups);
      }
      if (wantWeight || wantBias) [dw, db] = paramGrads(sx, g, smean, srstd, wantWeight, wantBias);
    } else {
      // Empty input: nothing flows back, but each wanted gradient still has its input's shape.
      if (wantX) dx = Tensor.empty(sx.shape);
      if (wantWeight) dw = full([d], 0);
      if (wantBias) db = full([d], 0);
    }
    return [dx, ...(weight ? [dw] : []), ...(bias ? [db] : [])];
  }, [x, mean, rstd, ...(weight ? [weight] : [])]);
  mean.dispose();
  rstd.dispose();
  return result;
}
