/**
 * Recording matmul.wgsl's dispatches: one product op(A) @ op(B) over a batch with a given tile
 * variant (`launchMatmul`), and the two small kernels a linear layer's backward pass needs
 * (`activationGrad`, `columnSum`). Which variant runs is tuning.ts's choice; whether this kernel or
 * the tensor cores run is ops.ts's.
 */
import matmulSrc from './matmul.wgsl';
import tileLoadSrc from './tile_load.wgsl';
import activationSrc from '../../../../shaders/activation.wgsl';
import { engine } from '../../../runtime/engine.js';
import { defineKernel, snippet, type Defines } from '../../../runtime/kernel.js';
import { grid1d, Params } from '../../../runtime/params.js';
import { shapeSize, Tensor, type Shape } from '../../../runtime/tensor.js';
import { contiguousStrides } from '../util.js';
import { quads2x2, tileConfigId, tileConfigProblem, type MatmulVariant, type TileConfig } from './configs.js';
import { getFloat32MatmulPrecision } from './precision.js';

const MATMUL = defineKernel('matmul', matmulSrc, {
  LOAD_A: snippet('tile_load.wgsl', tileLoadSrc, { OPERAND: 'a', OPERAND_VEC4: '${A_VEC4}' }),
  LOAD_B: snippet('tile_load.wgsl', tileLoadSrc, { OPERAND: 'b', OPERAND_VEC4: '${B_VEC4}' }),
  ACTIVATION: snippet('activation.wgsl', activationSrc, { T: 'vec4f' }),
}, 'src/nn/functional/matmul/matmul.wgsl');

export type Activation = 'none' | 'relu' | 'gelu' | 'gelu_tanh';
export const ACTIVATIONS: readonly Activation[] = ['none', 'relu', 'gelu', 'gelu_tanh'];

export interface MatmulSpec {
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
  /**
   * With transA: also return the sums of A's stored columns (a linear layer's bias gradient, from the
   * dW product), of this shape, when the kernel can add them in columnSum's order (see
   * fusedColumnSum); otherwise `colSum` comes back null and the caller runs columnSum.
   */
  colSumShape?: Shape;
  /** Use this tile config (autotuning); otherwise the test override, the tuned choice or the heuristic. */
  config?: TileConfig;
}

export interface BatchDims {
  shape: number[];
  aStrides: number[];
  bStrides: number[];
}

/** Splits the broadcast batch into dims the output keeps (outer) and dims it sums over (reduce). */
export function planBatch(spec: MatmulSpec): { outer: BatchDims; reduce: BatchDims } {
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

export interface MatmulRun {
  out: Tensor;
  preact: Tensor | null;
  colSum: Tensor | null;
}

function activationDefines(activation: Activation): Defines {
  return { ACT_RELU: activation === 'relu', ACT_GELU: activation === 'gelu', ACT_GELU_TANH: activation === 'gelu_tanh' };
}

/** Every placeholder of matmul.wgsl needs a value, whichever entry point is compiled. */
function defines(overrides: Defines): Defines {
  return {
    MODE_MATMUL: false, MODE_ACT_GRAD: false, MODE_COLUMN_SUM: false,
    TILE_M: 64, TILE_N: 64, TILE_K: 16, TM8: false, TN8: false, PREFETCH: false, DOUBLE_BUFFER: false, DIRECT: false, ROUND_F16: false,
    TRANS_A: false, TRANS_B: false, A_VEC4: false, B_VEC4: false, C_VEC4: false,
    HAS_BIAS: false, SAVE_PREACT: false, PREACT_BINDING: 4, COL_SUM: false, QUAD: false, QUAD_2X2: false,
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

const COLUMN_SUM_CHUNK = 256;

/**
 * Whether the dW product can also give the bias gradient (COL_SUM): the direct kernel sums A's
 * stored columns while it multiplies, in columnSum's order, which it matches only when one
 * columnSum pass covers the rows (K <= COLUMN_SUM_CHUNK), with no batch dims and with the operands
 * as stored (not rounded to f16).
 */
function fusedColumnSum(spec: MatmulSpec, v: MatmulVariant, outer: BatchDims, reduce: BatchDims): boolean {
  return !!spec.colSumShape && !!v.direct && spec.transA && !spec.bias && outer.shape.length === 0 && reduce.shape.length === 0 &&
    spec.K <= COLUMN_SUM_CHUNK && getFloat32MatmulPrecision() === 'highest';
}

/** Records the product of `spec` with tile variant `v` into fresh tensors (batch dims as planBatch splits them). */
export function launchMatmul(spec: MatmulSpec, v: MatmulVariant, { outer, reduce } = planBatch(spec)): MatmulRun {
  const { op, M, N, K, transA, transB } = spec;
  const activation = spec.activation ?? 'none';
  const out = Tensor.empty(spec.outShape);
  const preact = spec.savePreact ? Tensor.empty(spec.outShape) : null;
  const outerCount = shapeSize(outer.shape);
  const reduceCount = shapeSize(reduce.shape);
  const colSum = fusedColumnSum(spec, v, outer, reduce) ? Tensor.empty(spec.colSumShape!) : null;
  const hasBias = !!spec.bias;
  const quad = !!v.direct && engine().hasFeature('subgroups' as GPUFeatureName);
  const kernelDefines = defines({
    MODE_MATMUL: true,
    TILE_M: v.tileM, TILE_N: v.tileN, TILE_K: v.tileK, TM8: v.threadM === 8, TN8: v.threadN === 8,
    PREFETCH: !!v.prefetch, DOUBLE_BUFFER: !!v.doubleBuffer, DIRECT: !!v.direct,
    // The direct kernel shares loads within quads where the device has subgroups (a shader check
    // falls back to per-lane loads where a quad's lanes are not laid out as it expects): 8 x 8
    // blocks on an even grid share both operands in 2 x 2 quads, others A in row quads.
    QUAD: quad, QUAD_2X2: quad && quads2x2(v),
    ROUND_F16: getFloat32MatmulPrecision() === 'medium',
    TRANS_A: transA, TRANS_B: transB, A_VEC4: v.aVec4, B_VEC4: v.bVec4, C_VEC4: v.cVec4,
    HAS_BIAS: hasBias, SAVE_PREACT: !!preact, PREACT_BINDING: hasBias ? 5 : 4, COL_SUM: !!colSum,
    ...activationDefines(activation),
  });
  const buffers = [spec.a.buffer(op), spec.b.buffer(op), out.buffer(op)];
  if (spec.bias) buffers.push(spec.bias.buffer(op));
  if (preact) buffers.push(preact.buffer(op));
  if (colSum) buffers.push(colSum.buffer(op));

  const e = engine();
  const why = tileConfigProblem(v, e.device.limits);
  if (why) throw new Error(`wgtrain internal: matmul tiles ${tileConfigId(v)} cannot run on this device (${why})`);
  const limit = dispatchLimitOverride ?? e.device.limits.maxComputeWorkgroupsPerDimension;
  const rowTiles = Math.ceil(M / v.tileM);
  const colTiles = Math.ceil(N / v.tileN);
  // Usually one dispatch; more only when the batch count or a tile count passes the per-dimension limit.
  for (let z0 = 0; z0 < outerCount; z0 += limit) {
    for (let y0 = 0; y0 < rowTiles; y0 += limit) {
      for (let x0 = 0; x0 < colTiles; x0 += limit) {
        const p = new Params()
          .u32('M', M).u32('N', N).u32('K', K).u32('outer_rank', outer.shape.length)
          .u32('reduce_rank', reduce.shape.length).u32('reduce_count', reduceCount).u32('batch_offset', z0).u32('row_tile_offset', y0)
          .u32('col_tile_offset', x0).pad(3)
          .dims('outer_shape', outer.shape).dims('outer_a_strides', outer.aStrides, 0).dims('outer_b_strides', outer.bStrides, 0)
          .dims('reduce_shape', reduce.shape).dims('reduce_a_strides', reduce.aStrides, 0).dims('reduce_b_strides', reduce.bStrides, 0);
        e.dispatch({
          kernel: MATMUL,
          defines: kernelDefines,
          buffers,
          uniforms: p,
          workgroups: [Math.min(limit, colTiles - x0), Math.min(limit, rowTiles - y0), Math.min(limit, outerCount - z0)],
        });
      }
    }
  }
  return { out, preact, colSum };
}

/** dz = dy * act'(s), s the saved pre-activation (relu: the output works as well). */
export function activationGrad(dy: Tensor, saved: Tensor, activation: Activation): Tensor {
  const dz = Tensor.empty(dy.shape);
  engine().dispatch({
    kernel: MATMUL,
    entry: 'activation_grad',
    defines: defines({ MODE_ACT_GRAD: true, ...activationDefines(activation) }),
    buffers: [dy.buffer('linear'), saved.buffer('linear'), dz.buffer('linear')],
    uniforms: new Params().u32('n', dy.size).pad(3),
    workgroups: grid1d(dy.size),
  });
  return dz;
}

/**
 * Sums a row-major [rows, cols] matrix over its rows (the bias gradient). Each pass cuts the row
 * count by COLUMN_SUM_CHUNK, so any row count takes a few passes (a dedicated entry point because
 * the reduction ops live in another module).
 */
export function columnSum(x: Tensor, rows: number, cols: number, outShape: Shape): Tensor {
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
      uniforms: new Params().u32('rows', currentRows).u32('cols', cols).u32('chunk', chunk).pad(),
      workgroups: [Math.ceil(cols / 64), groups, 1],
    });
    if (current !== x) current.dispose();
    if (groups === 1) return out;
    current = out;
    currentRows = groups;
  }
}
