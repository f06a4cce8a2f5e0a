/**
 * Matrix multiplication: batched with torch.matmul broadcasting, transposed operands without a
 * transpose copy, and `linear` with a fused bias + activation epilogue.
 *
 * Every product goes through `runMatmul`, which multiplies op(A) @ op(B) over a batch and can also
 * sum over batch dimensions the output does not have. That one primitive covers the forward pass
 * and every gradient: dA = dC·op(B)ᵀ and dB = op(A)ᵀ·dC are products with transposed operands, and
 * the gradient of a broadcast operand is the same product summed over the broadcast dimensions.
 *
 * Kernel choice: the tensor cores for plain 'medium'-precision products where the device has them
 * (tensorcore.ts), else matmul.wgsl with a tile variant from tuning.ts (the autotuner's stored
 * choice for the product's class, else the fixed heuristic of configs.ts), recorded by launch.ts.
 * Precision: `setFloat32MatmulPrecision('medium')` (precision.ts) rounds operands to f16 inside the
 * kernel (ROUND_F16), for every product here, forward and backward.
 */
import { record } from '../../../runtime/autograd.js';
import { needsGrad, shapeSize, Tensor, type Shape } from '../../../runtime/tensor.js';
import { assertFloat, assertLive } from '../util.js';
import { canUseTensorCoreMatmul, runTensorCoreMatmul } from './tensorcore.js';
import { getFloat32MatmulPrecision } from './precision.js';
import { configIsForced, pickVariant } from './tuning.js';
import {
  activationGrad, ACTIVATIONS, columnSum, launchMatmul, planBatch, type Activation, type BatchDims, type MatmulRun, type MatmulSpec,
} from './launch.js';

export type { Activation };
export interface LinearOptions { activation?: Activation }
export interface MatmulOptions {
  /** Use the transpose of a's last two dimensions (PyTorch: a.mT @ b), without copying. */
  transposeA?: boolean;
  /** Use the transpose of b's last two dimensions (a @ b.mT, e.g. attention scores q @ kᵀ). */
  transposeB?: boolean;
}

const tensorCoresOff = typeof process !== 'undefined' && process.env?.WGTRAIN_TENSOR_CORES === 'off';

/**
 * 'medium' precision on a device with tensor cores (subgroup matrices): plain products (no bias,
 * activation or summed batch dims; at most one batch dim) go to the tensor-core kernel, which has
 * the same numerics (f16 operands, f32 accumulation) at tensor-core speed. Anything else, and every
 * device without them, uses the f32 kernel with ROUND_F16. WGTRAIN_TENSOR_CORES=off turns it off.
 */
function tryTensorCores(spec: MatmulSpec, outer: BatchDims, reduce: BatchDims): Tensor | null {
  if (getFloat32MatmulPrecision() !== 'medium' || tensorCoresOff || configIsForced(spec)) return null;
  if (spec.bias || (spec.activation ?? 'none') !== 'none' || spec.savePreact) return null;
  if (reduce.shape.length > 0 || outer.shape.length > 1 || !canUseTensorCoreMatmul()) return null;
  return runTensorCoreMatmul({
    op: spec.op, a: spec.a, b: spec.b, transA: spec.transA, transB: spec.transB, M: spec.M, N: spec.N, K: spec.K,
    batch: outer.shape[0] ?? 1, aBatchStride: outer.aStrides[0] ?? 0, bBatchStride: outer.bStrides[0] ?? 0, outShape: spec.outShape,
  });
}

/** One product, on the tensor cores or with matmul.wgsl's chosen tile variant. */
function runMatmul(spec: MatmulSpec): MatmulRun {
  const batch = planBatch(spec);
  const onTensorCores = tryTensorCores(spec, batch.outer, batch.reduce);
  if (onTensorCores) return { out: onTensorCores, preact: null, colSum: null };
  return launchMatmul(spec, pickVariant(spec), batch);
}

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
    // dW = dzᵀ @ x: dz stored [rows, out] is read transposed. The same kernel may sum dz's columns
    // for the bias gradient on the way (one dispatch fewer).
    const dwRun = needW
      ? runMatmul({ op: 'linear backward', a: dz, b: xs, transA: true, transB: false, M: outF, N: inF, K: rows, aBatch: [], bBatch: [], outBatch: [], outShape: weight.shape,
        colSumShape: bias && needB ? bias.shape : undefined })
      : null;
    const dw = dwRun ? dwRun.out : null;
    const db = bias && needB ? (dwRun?.colSum ?? columnSum(dz, rows, outF, bias.shape)) : null;
    return bias ? [dx, dw, db] : [dx, dw];
  }, saved);
  preact?.dispose();
  return result;
}
