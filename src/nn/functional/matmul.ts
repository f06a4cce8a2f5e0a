/**
 * Matrix multiplication (shaders/matmul.wgsl): batched with torch.matmul broadcasting, transposed
 * operands without a transpose copy, and `linear` with a fused bias + activation epilogue.
 *
 * Every product goes through `runMatmul`, which multiplies op(A) @ op(B) over a batch and can also
 * sum over batch dimensions the output does not have. That one primitive covers the forward pass
 * and every gradient: dA = dC·op(B)ᵀ and dB = op(A)ᵀ·dC are products with transposed operands, and
 * the gradient of a broadcast operand is the same product summed over the broadcast dimensions.
 */
import matmulSrc from '../../../shaders/matmul.wgsl';
import { engine } from '../../runtime/engine.js';
import { defineKernel, type Defines } from '../../runtime/kernel.js';
import { record } from '../../runtime/autograd.js';
import { needsGrad, shapeSize, Tensor, type Shape } from '../../runtime/tensor.js';
import { assertFloat, assertLive, contiguousStrides, grid1d, Params } from './util.js';

const MATMUL = defineKernel('matmul', matmulSrc);

export type Activation = 'none' | 'relu' | 'gelu' | 'gelu_tanh';
export interface LinearOptions { activation?: Activation }
export interface MatmulOptions {
  /** Use the transpose of a's last two dimensions (PyTorch: a.mT @ b), without copying. */
  transposeA?: boolean;
  /** Use the transpose of b's last two dimensions (a @ b.mT, e.g. attention scores q @ kᵀ). */
  transposeB?: boolean;
}

const ACTIVATIONS: readonly Activation[] = ['none', 'relu', 'gelu', 'gelu_tanh'];

// ---- kernel configuration ----

export interface TileConfig {
  tileM: number;
  tileN: number;
  tileK: number;
}

/** 16 x 16 threads, each a 4 x 4 block: the workhorse for anything at least 64 on both sides. */
const LARGE_TILES: TileConfig = { tileM: 64, tileN: 64, tileK: 16 };
/** 8 x 8 threads for thin or small products, where 64-wide tiles would be mostly padding. */
const SMALL_TILES: TileConfig = { tileM: 32, tileN: 32, tileK: 16 };

/** Which compiled variant a product of op(A) [M, K] and op(B) [K, N] uses (exported for tests and benchmarks). */
export function matmulVariant(M: number, N: number, K: number, transA = false, transB = false) {
  const tiles = M >= 64 && N >= 64 ? LARGE_TILES : SMALL_TILES;
  return {
    ...tiles,
    // vec4 loads / stores need the contiguous dimension of that operand to be a multiple of 4.
    aVec4: (transA ? M : K) % 4 === 0,
    bVec4: (transB ? K : N) % 4 === 0,
    cVec4: N % 4 === 0,
  };
}

function activationDefines(activation: Activation): Defines {
  return { ACT_RELU: activation === 'relu', ACT_GELU: activation === 'gelu', ACT_GELU_TANH: activation === 'gelu_tanh' };
}

/** Every placeholder of matmul.wgsl needs a value, whichever entry point is compiled. */
function defines(overrides: Defines): Defines {
  return {
    MODE_MATMUL: false, MODE_ACT_GRAD: false, MODE_COLUMN_SUM: false,
    TILE_M: 64, TILE_N: 64, TILE_K: 16,
    TRANS_A: false, TRANS_B: false, A_VEC4: false, B_VEC4: false, C_VEC4: false,
    HAS_BIAS: false, SAVE_PREACT: false, PREACT_BINDING: 4,
    ...activationDefines('none'),
    ...overrides,
  };
}

let dispatchLimitOverride: number | null = null;

/**
 * @internal Tests: cap workgroups per dispatch dimension (normally the device's 65535) so the
 * paths that split a product over several dispatches run on small inputs. null restores it.
 */
export function setMatmulDispatchLimitForTests(limit: number | null): void {
  dispatchLimitOverride = limit;
}

// ---- the core product ----

interface MatmulSpec {
  op: string;
  /** Stored [M, K] (or [K, M] with transA) per batch. */
  a: Tensor;
  /** Stored [K, N] (or [N, K] with transB) per batch. */
  b: Tensor;
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  /** Batch dimensions of a, b and the output, right-aligned against each other. A dimension of
   *  the broadcast batch that the output has as 1 is summed over. */
  aBatch: Shape;
  bBatch: Shape;
  outBatch: Shape;
  /** Shape of the returned tensor: any shape with the output's element count. */
  outShape: Shape;
  bias?: Tensor | null;
  activation?: Activation;
  /** Also return the pre-activation (bias included), for the activation's backward. */
  savePreact?: boolean;
}

interface BatchDims {
  shape: number[];
  aStrides: number[];
  bStrides: number[];
}

/** Splits the broadcast batch into dims the output keeps (outer) and dims it sums over (reduce). */
function planBatch(spec: MatmulSpec): { outer: BatchDims; reduce: BatchDims } {
  const rank = Math.max(spec.aBatch.length, spec.bBatch.length, spec.outBatch.length);
  const pad = (s: Shape) => [...new Array<number>(rank - s.length).fill(1), ...s];
  const [A, B, O] = [pad(spec.aBatch), pad(spec.bBatch), pad(spec.outBatch)];
  const aStrides = contiguousStrides(A).map((s) => s * spec.M * spec.K);
  const bStrides = contiguousStrides(B).map((s) => s * spec.K * spec.N);
  const outer: BatchDims = { shape: [], aStrides: [], bStrides: [] };
  const reduce: BatchDims = { shape: [], aStrides: [], bStrides: [] };
  for (let i = 0; i < rank; i++) {
    const size = A[i] !== 1 ? A[i] : B[i] !== 1 ? B[i] : O[i];
    if (size === 1) continue;
    const dims = O[i] === size ? outer : reduce;
    dims.shape.push(size);
    dims.aStrides.push(A[i] === 1 ? 0 : aStrides[i]);
    dims.bStrides.push(B[i] === 1 ? 0 : bStrides[i]);
  }
  return { outer, reduce };
}

function runMatmul(spec: MatmulSpec): { out: Tensor; preact: Tensor | null } {
  const { op, M, N, K, transA, transB } = spec;
  const activation = spec.activation ?? 'none';
  const out = Tensor.empty(spec.outShape);
  const preact = spec.savePreact ? Tensor.empty(spec.outShape) : null;
  const { outer, reduce } = planBatch(spec);
  const outerCount = shapeSize(outer.shape);
  const reduceCount = shapeSize(reduce.shape);
  const v = matmulVariant(M, N, K, transA, transB);
  const hasBias = !!spec.bias;
  const kernelDefines = defines({
    MODE_MATMUL: true,
    TILE_M: v.tileM, TILE_N: v.tileN, TILE_K: v.tileK,
    TRANS_A: transA, TRANS_B: transB, A_VEC4: v.aVec4, B_VEC4: v.bVec4, C_VEC4: v.cVec4,
    HAS_BIAS: hasBias, SAVE_PREACT: !!preact, PREACT_BINDING: hasBias ? 5 : 4,
    ...activationDefines(activation),
  });
  const buffers = [spec.a.buffer(op), spec.b.buffer(op), out.buffer(op)];
  if (spec.bias) buffers.push(spec.bias.buffer(op));
  if (preact) buffers.push(preact.buffer(op));

  const e = engine();
  const sharedBytes = (v.tileM + v.tileN) * v.tileK * 4;
  if (sharedBytes > e.device.limits.maxComputeWorkgroupStorageSize) {
    throw new Error(`wgtrain internal: matmul tiles ${v.tileM}x${v.tileN}x${v.tileK} need ${sharedBytes} bytes of workgroup memory, over the device's ${e.device.limits.maxComputeWorkgroupStorageSize}`);
  }
  const limit = dispatchLimitOverride ?? e.device.limits.maxComputeWorkgroupsPerDimension;
  const rowTiles = Math.ceil(M / v.tileM);
  const colTiles = Math.ceil(N / v.tileN);
  // Usually one dispatch; more only when the batch count or a tile count passes the per-dimension limit.
  for (let z0 = 0; z0 < outerCount; z0 += limit) {
    for (let y0 = 0; y0 < rowTiles; y0 += limit) {
      for (let x0 = 0; x0 < colTiles; x0 += limit) {
        const p = new Params()
          .u32(M).u32(N).u32(K).u32(outer.shape.length)
          .u32(reduce.shape.length).u32(reduceCount).u32(z0).u32(y0)
          .u32(x0).u32(0).u32(0).u32(0)
          .dims(outer.shape).dims(outer.aStrides, 0).dims(outer.bStrides, 0)
          .dims(reduce.shape).dims(reduce.aStrides, 0).dims(reduce.bStrides, 0);
        e.dispatch({
          kernel: MATMUL,
          defines: kernelDefines,
          buffers,
          uniforms: p.bytes(),
          workgroups: [Math.min(limit, colTiles - x0), Math.min(limit, rowTiles - y0), Math.min(limit, outerCount - z0)],
        });
      }
    }
  }
  return { out, preact };
}

/** dz = dy * act'(s), s the saved pre-activation (relu: the output works as well). */
function activationGrad(dy: Tensor, saved: Tensor, activation: Activation): Tensor {
  const dz = Tensor.empty(dy.shape);
  engine().dispatch({
    kernel: MATMUL,
    entry: 'activation_grad',
    defines: defines({ MODE_ACT_GRAD: true, ...activationDefines(activation) }),
    buffers: [dy.buffer('linear'), saved.buffer('linear'), dz.buffer('linear')],
    uniforms: new Params().u32(dy.size).u32(0).u32(0).u32(0).bytes(),
    workgroups: grid1d(dy.size),
  });
  return dz;
}

const COLUMN_SUM_CHUNK = 256;

/**
 * Sums a row-major [rows, cols] matrix over its rows (the bias gradient). Each pass cuts the row
 * count by COLUMN_SUM_CHUNK, so any row count takes a few passes (a dedicated entry point because
 * the reduction ops live in another module).
 */
function columnSum(x: Tensor, rows: number, cols: number, outShape: Shape): Tensor {
  const e = engine();
  const limit = dispatchLimitOverride ?? e.device.limits.maxComputeWorkgroupsPerDimension;
  let current = x;
  let currentRows = rows;
  for (;;) {
    const chunk = Math.max(COLUMN_SUM_CHUNK, Math.ceil(currentRows / limit));
    const groups = Math.max(1, Math.ceil(currentRows / chunk));
    const out = Tensor.empty(groups === 1 ? outShape : [groups, cols]);
    e.dispatch({
      kernel: MATMUL,
      entry: 'column_sum',
      defines: defines({ MODE_COLUMN_SUM: true }),
      buffers: [current.buffer('linear'), out.buffer('linear')],
      uniforms: new Params().u32(currentRows).u32(cols).u32(chunk).u32(0).bytes(),
      workgroups: [Math.ceil(cols / 64), groups, 1],
    });
    if (current !== x) current.dispose();
    if (groups === 1) return out;
    current = out;
    currentRows = groups;
  }
}

// ---- public ops ----

const fmt = (s: Shape) => `[${s}]`;

/**
 * a @ b as torch.matmul: 1-D operands are vectors (a [K] is a row, b [K] a column, and that
 * dimension is dropped from the result); otherwise the last two dimensions multiply and the leading
 * (batch) dimensions broadcast, so [2,3,5,7] @ [7,4] and [3,1,5,6] @ [1,2,6,4] both work.
 * `transposeA` / `transposeB` use an operand's last two dimensions transposed, without a copy.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  if (!(a instanceof Tensor) || !(b instanceof Tensor)) throw new Error('matmul: both operands must be Tensors');
  assertLive('matmul', a, b);
  assertFloat('matmul', a, b);
  if (a.rank < 1 || b.rank < 1) {
    throw new Error(`matmul: both operands need at least one dimension, got shapes ${fmt(a.shape)} and ${fmt(b.shape)}`);
  }
  const transA = !!options.transposeA;
  const transB = !!options.transposeB;
  if ((transA && a.rank < 2) || (transB && b.rank < 2)) {
    throw new Error(`matmul: transposeA / transposeB need an operand with at least 2 dimensions, got shapes ${fmt(a.shape)} and ${fmt(b.shape)}`);
  }
  const ra = a.rank;
  const rb = b.rank;
  const M = ra === 1 ? 1 : a.shape[transA ? ra - 1 : ra - 2];
  const Ka = ra === 1 ? a.shape[0] : a.shape[transA ? ra - 2 : ra - 1];
  const Kb = rb === 1 ? b.shape[0] : b.shape[transB ? rb - 1 : rb - 2];
  const N = rb === 1 ? 1 : b.shape[transB ? rb - 2 : rb - 1];
  if (Ka !== Kb) {
    const how = transA || transB ? ` with ${[transA && 'transposeA', transB && 'transposeB'].filter(Boolean).join(' and ')}` : '';
    throw new Error(`matmul: shapes ${fmt(a.shape)} and ${fmt(b.shape)} are not compatible (${Ka} != ${Kb})${how}`);
  }
  const K = Ka;
  const aBatch = a.shape.slice(0, Math.max(0, ra - 2));
  const bBatch = b.shape.slice(0, Math.max(0, rb - 2));
  const batch = broadcastBatch(a.shape, b.shape, aBatch, bBatch);
  const outShape = [...batch, ...(ra > 1 ? [M] : []), ...(rb > 1 ? [N] : [])];

  const { out } = runMatmul({ op: 'matmul', a, b, transA, transB, M, N, K, aBatch, bBatch, outBatch: batch, outShape });
  const needA = a.requiresGrad;
  const needB = b.requiresGrad;
  // dA needs b and dB needs a: keep only what the gradients that will be asked for read.
  const save = [...(needB ? [a] : []), ...(needA ? [b] : [])];
  return record('matmul', [a, b], out, (g, saved) => {
    const sa = needB ? saved[0] : null!;
    const sb = needA ? saved[saved.length - 1] : null!;
    // g is [batch, M, N] in memory whatever dims the 1-D cases dropped. With C = op(A) op(B):
    // d op(A) = g op(B)ᵀ and d op(B) = op(A)ᵀ g, written for the stored layouts of A and B; each
    // gradient sums over the batch dims its operand was broadcast along.
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (needA) {
      ga = transA
        ? runMatmul({ op: 'matmul backward', a: sb, b: g, transA: transB, transB: true, M: K, N: M, K: N, aBatch: bBatch, bBatch: batch, outBatch: aBatch, outShape: a.shape }).out
        : runMatmul({ op: 'matmul backward', a: g, b: sb, transA: false, transB: !transB, M, N: K, K: N, aBatch: batch, bBatch, outBatch: aBatch, outShape: a.shape }).out;
    }
    if (needB) {
      gb = transB
        ? runMatmul({ op: 'matmul backward', a: g, b: sa, transA: true, transB: transA, M: N, N: K, K: M, aBatch: batch, bBatch: aBatch, outBatch: bBatch, outShape: b.shape }).out
        : runMatmul({ op: 'matmul backward', a: sa, b: g, transA: !transA, transB: false, M: K, N, K: M, aBatch, bBatch: batch, outBatch: bBatch, outShape: b.shape }).out;
    }
    return [ga, gb];
  }, save);
}

function broadcastBatch(aShape: Shape, bShape: Shape, aBatch: Shape, bBatch: Shape): number[] {
  const rank = Math.max(aBatch.length, bBatch.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = aBatch[aBatch.length - rank + i] ?? 1;
    const db = bBatch[bBatch.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`matmul: batch dimensions of shapes ${fmt(aShape)} and ${fmt(bShape)} cannot be broadcast together (${fmt(aBatch)} vs ${fmt(bBatch)})`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/**
 * x @ weightᵀ + bias, weight [out, in] as in PyTorch, with an optional fused activation:
 * x [..., in] gives [..., out]. One kernel computes the product, adds the bias and applies the
 * activation. For the backward pass, gelu / gelu_tanh save the pre-activation (written by the same
 * kernel, one extra store per output, only when a gradient is needed) and relu saves its output
 * (relu'(z) = [y > 0]), so nothing is recomputed. The bias gradient is a column sum of the
 * pre-activation gradient (column_sum in matmul.wgsl).
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, options: LinearOptions = {}): Tensor {
  const op = 'linear';
  if (!(x instanceof Tensor) || !(weight instanceof Tensor)) throw new Error('linear: input and weight must be Tensors');
  if (bias !== undefined && bias !== null && !(bias instanceof Tensor)) throw new Error('linear: bias must be a Tensor, null or undefined');
  const activation = options.activation ?? 'none';
  if (!ACTIVATIONS.includes(activation)) {
    throw new Error(`linear: unknown activation '${activation}' (expected one of ${ACTIVATIONS.join(', ')})`);
  }
  const inputs = bias ? [x, weight, bias] : [x, weight];
  assertLive(op, ...inputs);
  assertFloat(op, ...inputs);
  if (weight.rank !== 2) throw new Error(`linear: weight must be 2-D [out_features, in_features], got shape ${fmt(weight.shape)}`);
  const [outF, inF] = weight.shape;
  if (x.rank < 1) throw new Error(`linear: input needs at least one dimension, got shape ${fmt(x.shape)}`);
  if (x.shape[x.rank - 1] !== inF) {
    throw new Error(`linear: input of shape ${fmt(x.shape)} and weight of shape ${fmt(weight.shape)} are not compatible (${x.shape[x.rank - 1]} != ${inF} input features)`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outF)) {
    throw new Error(`linear: bias of shape ${fmt(bias.shape)} does not match weight of shape ${fmt(weight.shape)} (expected [${outF}])`);
  }
  const rows = shapeSize(x.shape.slice(0, -1));
  const outShape = [...x.shape.slice(0, -1), outF];
  const tracking = needsGrad(...inputs);
  const savePreact = tracking && (activation === 'gelu' || activation === 'gelu_tanh');

  // x viewed as [rows, in] times weight stored [out, in]: opB = weightᵀ, the TRANS_B variant.
  const { out, preact } = runMatmul({
    op, a: x, b: weight, transA: false, transB: true, M: rows, N: outF, K: inF,
    aBatch: [], bBatch: [], outBatch: [], outShape, bias, activation, savePreact,
  });
  if (!tracking) return out;

  const [needX, needW, needB] = inputs.map((t) => t.requiresGrad);
  // dx needs the weight, dW needs x; the activation's derivative reads the saved (pre-)activation.
  const saved: Tensor[] = [];
  if (needW) saved.push(x);
  if (needX) saved.push(weight);
  if (activation !== 'none') saved.push(preact ?? out);
  const result = record(op, inputs, out, (g, savedTensors) => {
    // (Read by index: the array is the graph node's own list, which frees them later.)
    let i = 0;
    const xs = needW ? savedTensors[i++] : null!;
    const ws = needX ? savedTensors[i++] : null!;
    const s = savedTensors[i];
    const dz = activation === 'none' ? g : activationGrad(g, s, activation);
    const dx = needX
      ? runMatmul({ op: 'linear backward', a: dz, b: ws, transA: false, transB: false, M: rows, N: inF, K: outF, aBatch: [], bBatch: [], outBatch: [], outShape: x.shape }).out
      : null;
    // dW = dzᵀ @ x: dz stored [rows, out] is read transposed.
    const dw = needW
      ? runMatmul({ op: 'linear backward', a: dz, b: xs, transA: true, transB: false, M: outF, N: inF, K: rows, aBatch: [], bBatch: [], outBatch: [], outShape: weight.shape }).out
      : null;
    const db = bias && needB ? columnSum(dz, rows, outF, bias.shape) : null;
    return bias ? [dx, dw, db] : [dx, dw];
  }, saved);
  preact?.dispose();
  return result;
}
