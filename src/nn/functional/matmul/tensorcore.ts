/**
 * Tensor-core matrix multiplication (matmul_subgroup_matrix.wgsl, beside this file) through Dawn's
 * experimental `chromium-experimental-subgroup-matrix` feature: f32 tensors in and out, operands
 * rounded to f16 on their way into workgroup memory, f32 accumulation ("medium" precision).
 *
 * The feature is experimental: Dawn offers it only with `allow_unsafe_apis`, and it needs
 * `shader-f16` and `subgroups` as well (on NVIDIA's Vulkan driver, shader-f16 also needs Dawn's
 * `vulkan_enable_f16_on_nvidia` toggle). `subgroupMatrixSupport()` says whether the current device
 * can run the kernel and, if not, why; `tensorCoreMatmul` throws that reason.
 *
 *   await init({ optionalFeatures: [...TENSOR_CORE_FEATURES, 'timestamp-query'], dawnFlags: TENSOR_CORE_DAWN_FLAGS });
 *   if (canUseTensorCoreMatmul()) y = tensorCoreMatmul(a, b);
 *
 * `runTensorCoreMatmul` is the primitive (no autograd, batch strides, stored layouts) for callers
 * that already checked their shapes, e.g. the main matmul choosing this path.
 */
import subgroupMatrixSrc from './matmul_subgroup_matrix.wgsl';
import tileLoadSrc from './tile_load.wgsl';
import { engine, isInitialized } from '../../../runtime/engine.js';
import { defineKernel, preprocess, snippet, type Defines } from '../../../runtime/kernel.js';
import { record } from '../../../runtime/autograd.js';
import { Params } from '../../../runtime/params.js';
import { shapeSize, Tensor, type Shape } from '../../../runtime/tensor.js';
import { assertFloat, assertLive } from '../util.js';

const KERNEL = defineKernel('matmul_subgroup_matrix', subgroupMatrixSrc, {
  LOAD_A: snippet('tile_load.wgsl', tileLoadSrc, { OPERAND: 'a', OPERAND_VEC4: '${A_VEC4}' }),
  LOAD_B: snippet('tile_load.wgsl', tileLoadSrc, { OPERAND: 'b', OPERAND_VEC4: '${B_VEC4}' }),
}, 'src/nn/functional/matmul/matmul_subgroup_matrix.wgsl');

/** The WebGPU feature behind WGSL's `chromium_experimental_subgroup_matrix`. */
export const SUBGROUP_MATRIX_FEATURE = 'chromium-experimental-subgroup-matrix';
/** Device features the kernel needs (f16 operands, subgroup size, subgroup matrices). */
export const TENSOR_CORE_FEATURES = ['shader-f16', 'subgroups', SUBGROUP_MATRIX_FEATURE] as GPUFeatureName[];
/**
 * Dawn for Node `create()` flags under which Dawn offers the features: experimental features need
 * `allow_unsafe_apis`; NVIDIA's Vulkan driver gets `shader-f16` only with `vulkan_enable_f16_on_nvidia`.
 */
export const TENSOR_CORE_DAWN_FLAGS = ['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia'];

// ---- what the adapter offers ----

/** One entry of GPUAdapterInfo.subgroupMatrixConfigs (not in @webgpu/types yet). */
export interface SubgroupMatrixConfig {
  M: number;
  N: number;
  K: number;
  componentType: string;
  resultComponentType: string;
}

/** The parts of GPUAdapterInfo this module reads; Dawn adds them with the subgroup features. */
export interface SubgroupAdapterInfo {
  subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[];
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

/** Shape of one subgroup matrix product: an M x K block times a K x N block. */
export interface MatrixShape {
  M: number;
  N: number;
  K: number;
}

export interface SubgroupMatrixSupport {
  /** The f16 -> f32 shape the kernel will use, or null when the device cannot run it. */
  config: MatrixShape | null;
  /** Why `config` is null (names the missing feature or configuration); null when supported. */
  reason: string | null;
  /** The adapter's maximum subgroup size (the kernel's warp width); 0 when not reported. */
  subgroupSize: number;
  /** Every configuration the adapter reports, for logs. */
  configs: SubgroupMatrixConfig[];
}

/** What subgroupMatrixSupport needs to know about a device (a GPUDevice has features and limits). */
export interface SupportTarget {
  features: { has(name: string): boolean };
  limits: Pick<GPUSupportedLimits, 'maxComputeWorkgroupStorageSize' | 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupSizeX'>;
  adapterInfo: SubgroupAdapterInfo;
  /** The adapter's features, to tell "not offered" from "not requested"; optional. */
  adapterFeatures?: Iterable<string>;
}

/** Preferred f16 -> f32 shapes, best first (NVIDIA offers the first three, Apple 8x8x8). */
const PREFERRED_SHAPES: readonly MatrixShape[] = [
  { M: 16, N: 16, K: 16 },
  { M: 16, N: 8, K: 16 },
  { M: 16, N: 8, K: 8 },
  { M: 8, N: 8, K: 8 },
];

/** The adapter's subgroup matrix configurations as plain objects (for logs and reports). */
export function listSubgroupMatrixConfigs(info: SubgroupAdapterInfo): SubgroupMatrixConfig[] {
  // Dawn exposes the fields as getters: copy them into plain objects.
  return [...(info.subgroupMatrixConfigs ?? [])].map((c) => ({
    M: c.M, N: c.N, K: c.K, componentType: c.componentType, resultComponentType: c.resultComponentType,
  }));
}

/**
 * The f16 x f16 -> f32 shape to use among `configs`: a preferred one when offered, else the largest
 * whose sides are multiples of 8 up to 32 (staged rows must stay 16-byte aligned), else null.
 */
export function chooseSubgroupMatrixShape(configs: readonly SubgroupMatrixConfig[]): MatrixShape | null {
  const usable = configs.filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32');
  for (const p of PREFERRED_SHAPES) {
    if (usable.some((c) => c.M === p.M && c.N === p.N && c.K === p.K)) return { ...p };
  }
  const fits = (d: number) => d % 8 === 0 && d <= 32;
  const other = usable.filter((c) => fits(c.M) && fits(c.N) && fits(c.K)).sort((x, y) => y.M * y.N * y.K - x.M * x.N * x.K)[0];
  return other ? { M: other.M, N: other.N, K: other.K } : null;
}

const supportCache = new WeakMap<object, SubgroupMatrixSupport>();

/** Set by tests: run the kernel with its builtins emulated in plain WGSL (see the shader). */
let emulation: { shape: MatrixShape; subgroupSize: number } | null = null;

/**
 * @internal Tests: with a matrix shape, the kernel runs with EMULATE (the three subgroup matrix
 * builtins written out in plain WGSL, f16 rounding through pack2x16float), on any device, so that
 * the tiling, staging, edges, stores and this module's host code can be checked where there are no
 * tensor cores. null turns it off. Never faster than the f32 kernel: not for real use.
 */
export function setTensorCoreEmulationForTests(shape: MatrixShape | null, subgroupSize = 32): void {
  emulation = shape ? { shape: { ...shape }, subgroupSize } : null;
}

/** Bytes per staged element: f16, or f32 under emulation. */
const stagedBytes = () => (emulation ? 4 : 2);

function currentTarget(): SupportTarget {
  const e = engine();
  return {
    features: e.device.features,
    limits: e.device.limits,
    adapterInfo: e.ctx.adapter.info as unknown as SubgroupAdapterInfo,
    adapterFeatures: e.report.adapterFeatures,
  };
}

/**
 * Whether the device can run the tensor-core kernel: the f16 -> f32 subgroup matrix shape it will
 * use, or null and the reason. Without an argument it asks the engine's device (after init()).
 */
export function subgroupMatrixSupport(target?: SupportTarget): SubgroupMatrixSupport {
  if (emulation && !target) return { config: { ...emulation.shape }, reason: null, subgroupSize: emulation.subgroupSize, configs: [] };
  const key: object | null = target ? null : engine().device;
  if (key && supportCache.has(key)) return supportCache.get(key)!;
  const t = target ?? currentTarget();
  const result = computeSupport(t);
  if (key) supportCache.set(key, result);
  return result;
}

function computeSupport(t: SupportTarget): SubgroupMatrixSupport {
  const configs = listSubgroupMatrixConfigs(t.adapterInfo);
  const subgroupSize = t.adapterInfo.subgroupMaxSize ?? 0;
  const fail = (reason: string): SubgroupMatrixSupport => ({ config: null, reason, subgroupSize, configs });

  const missing = TENSOR_CORE_FEATURES.filter((f) => !t.features.has(f));
  if (missing.length) {
    const offered = t.adapterFeatures ? new Set(t.adapterFeatures) : null;
    const notOffered = offered ? missing.filter((f) => !offered.has(f)) : missing;
    const notRequested = offered ? missing.filter((f) => offered.has(f)) : [];
    const parts: string[] = [];
    if (notOffered.length) {
      parts.push(`the adapter does not offer ${notOffered.map((f) => `'${f}'`).join(', ')}` +
        ` (Dawn offers them only with create(['${TENSOR_CORE_DAWN_FLAGS[0]}']) and only on GPUs with subgroup matrix support)`);
    }
    if (notRequested.length) {
      parts.push(`the device was created without ${notRequested.map((f) => `'${f}'`).join(', ')}` +
        ` (pass init({ optionalFeatures: [${TENSOR_CORE_FEATURES.map((f) => `'${f}'`).join(', ')}, ...] }))`);
    }
    return fail(`the device lacks ${missing.map((f) => `'${f}'`).join(', ')}: ${parts.join('; ')}`);
  }
  const config = chooseSubgroupMatrixShape(configs);
  if (!config) {
    const list = configs.map((c) => `${c.M}x${c.N}x${c.K} ${c.componentType}->${c.resultComponentType}`).join(', ') || 'none';
    return fail(`'${SUBGROUP_MATRIX_FEATURE}' offers no f16 x f16 -> f32 configuration with sides that are multiples of 8 (adapter reports: ${list})`);
  }
  if (!(subgroupSize > 0)) return fail('the adapter does not report its subgroup size (GPUAdapterInfo.subgroupMaxSize)');
  const plans = PRESETS.map((p) => planTiles(p, config, subgroupSize, t.limits));
  if (plans.every((p) => typeof p === 'string')) return fail(`no tile preset fits: ${plans[plans.length - 1]}`);
  return { config, reason: null, subgroupSize, configs };
}

/** True when init() has run and the device can run the tensor-core kernel. */
export function canUseTensorCoreMatmul(): boolean {
  return isInitialized() && subgroupMatrixSupport().config !== null;
}

// ---- tiles ----

/**
 * Workgroup shape: warpsM x warpsN subgroups, each computing a warpTileM x warpTileN block of C
 * (multiples of the matrix shape), stepping bk along K (a multiple of the matrix K and of 8).
 */
export interface TensorCoreTiles {
  name: string;
  warpsM: number;
  warpsN: number;
  warpTileM: number;
  warpTileN: number;
  bk: number;
}

/** Largest first; the autotuner (or a benchmark) may pass any of them, or its own, as `tiles`. */
export const TENSOR_CORE_PRESETS: Record<string, TensorCoreTiles> = {
  '128x128-w8': { name: '128x128-w8', warpsM: 2, warpsN: 4, warpTileM: 64, warpTileN: 32, bk: 32 },
  '128x128-w4': { name: '128x128-w4', warpsM: 2, warpsN: 2, warpTileM: 64, warpTileN: 64, bk: 32 },
  '64x64-w4': { name: '64x64-w4', warpsM: 2, warpsN: 2, warpTileM: 32, warpTileN: 32, bk: 32 },
  '32x32-w4': { name: '32x32-w4', warpsM: 2, warpsN: 2, warpTileM: 16, warpTileN: 16, bk: 16 },
};
const PRESETS = Object.values(TENSOR_CORE_PRESETS);

export interface TilePlan {
  tiles: TensorCoreTiles;
  BM: number;
  BN: number;
  threads: number;
  doubleBuffer: boolean;
  workgroupBytes: number;
}

function workgroupBytes(tiles: TensorCoreTiles, shape: MatrixShape, stages: number, elementBytes: number): number {
  const BM = tiles.warpsM * tiles.warpTileM;
  const BN = tiles.warpsN * tiles.warpTileN;
  // Padded rows of 8 halves; the layout (which side is the row) does not change the total much,
  // so take the larger of the two layouts of each operand.
  const aHalves = Math.max(BM * (tiles.bk + 8), tiles.bk * (BM + 8));
  const bHalves = Math.max(tiles.bk * (BN + 8), BN * (tiles.bk + 8));
  const scratch = tiles.warpsM * tiles.warpsN * shape.M * shape.N * 4;
  return stages * (aHalves + bHalves) * elementBytes + scratch;
}

/**
 * Checks a tile shape against the matrix shape and the device; returns the plan or why it does not
 * fit. `elementBytes`: size of a staged element (2; 4 under test emulation).
 */
export function planTiles(tiles: TensorCoreTiles, shape: MatrixShape, subgroupSize: number, limits: SupportTarget['limits'], elementBytes = 2): TilePlan | string {
  const { warpsM, warpsN, warpTileM, warpTileN, bk } = tiles;
  if (warpTileM % shape.M || warpTileN % shape.N || bk % shape.K || bk % 8) {
    return `tiles ${tiles.name} (warp ${warpTileM}x${warpTileN}, bk ${bk}) do not fit the ${shape.M}x${shape.N}x${shape.K} matrices (bk must also be a multiple of 8)`;
  }
  const threads = warpsM * warpsN * subgroupSize;
  if (threads > limits.maxComputeInvocationsPerWorkgroup || threads > limits.maxComputeWorkgroupSizeX) {
    return `tiles ${tiles.name} need ${threads} invocations per workgroup (subgroups of ${subgroupSize}), over the device's ${Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX)}`;
  }
  const limit = limits.maxComputeWorkgroupStorageSize;
  if ((shape.M * shape.N) % subgroupSize) {
    return `${shape.M}x${shape.N} result blocks do not split evenly over subgroups of ${subgroupSize}`;
  }
  for (const stages of [2, 1]) {
    const bytes = workgroupBytes(tiles, shape, stages, elementBytes);
    if (bytes <= limit) {
      return { tiles, BM: warpsM * warpTileM, BN: warpsN * warpTileN, threads, doubleBuffer: stages === 2, workgroupBytes: bytes };
    }
  }
  return `tiles ${tiles.name} need ${workgroupBytes(tiles, shape, 1, elementBytes)} bytes of workgroup memory, over the device's ${limit}`;
}

/**
 * Default tiles for a product: 128 x 128 blocks when there are enough of them to fill a GPU
 * (64 or more), else the largest smaller preset that still gives 64 blocks, else the smallest.
 * The autotuner may override this per adapter with `tiles`.
 */
export function chooseTensorCoreTiles(M: number, N: number, batch: number, shape: MatrixShape, subgroupSize: number, limits: SupportTarget['limits'], elementBytes = 2): TilePlan {
  let fitting: TilePlan | null = null;
  let refusal = 'no preset';
  for (const tiles of PRESETS) {
    const plan = planTiles(tiles, shape, subgroupSize, limits, elementBytes);
    if (typeof plan === 'string') {
      refusal = plan;
      continue;
    }
    fitting = plan;
    const blocks = Math.ceil(M / plan.BM) * Math.ceil(N / plan.BN) * batch;
    if (blocks >= 64) return plan;
  }
  if (!fitting) throw new Error(`wgtrain internal: no tensor-core tiles fit this device (${refusal})`);
  return fitting;
}

export interface TensorCoreVariant {
  transA: boolean;
  transB: boolean;
  /** vec4 global loads: the operand's contiguous dimension is a multiple of 4. */
  aVec4: boolean;
  bVec4: boolean;
  /** Interior tiles stored straight from the matrices: N a multiple of 4 (16-byte aligned rows). */
  directStore: boolean;
}

export function tensorCoreVariant(M: number, N: number, K: number, transA: boolean, transB: boolean): TensorCoreVariant {
  return {
    transA,
    transB,
    aVec4: (transA ? M : K) % 4 === 0,
    bVec4: (transB ? K : N) % 4 === 0,
    directStore: N % 4 === 0,
  };
}

/** Every placeholder of matmul_subgroup_matrix.wgsl (exported so tests can compile each variant). */
export function tensorCoreDefines(shape: MatrixShape, subgroupSize: number, plan: Pick<TilePlan, 'tiles' | 'doubleBuffer'>, v: TensorCoreVariant, emulate = false): Defines {
  const t = plan.tiles;
  return {
    SG_M: shape.M, SG_N: shape.N, SG_K: shape.K,
    SUBGROUP_SIZE: subgroupSize,
    WARPS_M: t.warpsM, WARPS_N: t.warpsN,
    FRAG_M: t.warpTileM / shape.M, FRAG_N: t.warpTileN / shape.N,
    BK: t.bk,
    TRANS_A: v.transA, TRANS_B: v.transB,
    A_VEC4: v.aVec4, B_VEC4: v.bVec4,
    DIRECT_STORE: v.directStore,
    DOUBLE_BUFFER: plan.doubleBuffer,
    EMULATE: emulate,
  };
}

/** The WGSL of one variant, as compiled (for tests and for reading). */
export function tensorCoreSource(defines: Defines): string {
  return preprocess(KERNEL, defines);
}

// ---- the primitive ----

export interface TensorCoreSpec {
  /** Names the caller in error messages. */
  op?: string;
  /** Stored [M, K] (or [K, M] with transA) per batch, contiguous. */
  a: Tensor;
  /** Stored [K, N] (or [N, K] with transB) per batch, contiguous. */
  b: Tensor;
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  /** Output batches; batch z reads A at z * aBatchStride and B at z * bBatchStride (0 = shared). */
  batch: number;
  aBatchStride: number;
  bBatchStride: number;
  /** Shape of the returned tensor: any shape of batch * M * N elements. */
  outShape: Shape;
  /** Tile override (benchmarks, the autotuner); default from chooseTensorCoreTiles. */
  tiles?: TensorCoreTiles;
}

function unsupportedError(op: string, reason: string | null): Error {
  return new Error(`${op}: tensor cores (subgroup matrices) are not available on this device: ${reason}`);
}

/**
 * C[z] = opA(A[z]) @ opB(B[z]) on tensor cores, into a fresh [batch, M, N] tensor (shaped outShape).
 * No autograd and no shape checks beyond the device's support: the caller checked the sizes.
 */
export function runTensorCoreMatmul(spec: TensorCoreSpec): Tensor {
  const op = spec.op ?? 'tensorCoreMatmul';
  const support = subgroupMatrixSupport();
  if (!support.config) throw unsupportedError(op, support.reason);
  const { M, N, K, batch } = spec;
  if (shapeSize(spec.outShape) !== batch * M * N) {
    throw new Error(`wgtrain internal: ${op} output shape [${spec.outShape}] does not hold ${batch} x ${M} x ${N}`);
  }
  const e = engine();
  const limits = e.device.limits;
  let plan: TilePlan;
  if (spec.tiles) {
    const p = planTiles(spec.tiles, support.config, support.subgroupSize, limits, stagedBytes());
    if (typeof p === 'string') throw new Error(`${op}: ${p}`);
    plan = p;
  } else {
    plan = chooseTensorCoreTiles(M, N, batch, support.config, support.subgroupSize, limits, stagedBytes());
  }
  const out = Tensor.empty(spec.outShape);
  if (out.size === 0) return out;
  const variant = tensorCoreVariant(M, N, K, spec.transA, spec.transB);
  const defines = tensorCoreDefines(support.config, support.subgroupSize, plan, variant, !!emulation);
  const buffers = [spec.a.buffer(op), spec.b.buffer(op), out.buffer(op)];
  const maxGroups = limits.maxComputeWorkgroupsPerDimension;
  const rowTiles = Math.ceil(M / plan.BM);
  const colTiles = Math.ceil(N / plan.BN);
  // One dispatch unless the batch or a tile count passes the per-dimension limit.
  for (let z0 = 0; z0 < batch; z0 += maxGroups) {
    for (let y0 = 0; y0 < rowTiles; y0 += maxGroups) {
      for (let x0 = 0; x0 < colTiles; x0 += maxGroups) {
        const params = new Params()
          .u32('M', M).u32('N', N).u32('K', K).u32('batch_offset', z0)
          .u32('a_batch_stride', spec.aBatchStride).u32('b_batch_stride', spec.bBatchStride).u32('row_tile_offset', y0).u32('col_tile_offset', x0);
        e.dispatch({
          kernel: KERNEL,
          defines,
          buffers,
          uniforms: params,
          workgroups: [Math.min(maxGroups, colTiles - x0), Math.min(maxGroups, rowTiles - y0), Math.min(maxGroups, batch - z0)],
        });
      }
    }
  }
  return out;
}

// ---- the op ----

export interface TensorCoreMatmulOptions {
  /** Use the transpose of a's last two dimensions, without copying. */
  transposeA?: boolean;
  /** Use the transpose of b's last two dimensions, without copying. */
  transposeB?: boolean;
  /** Tile override (benchmarks, the autotuner). */
  tiles?: TensorCoreTiles;
}

const fmt = (s: Shape) => `[${s}]`;

/**
 * a @ b on tensor cores with f16 operands and f32 accumulation: [M, K] @ [K, N] -> [M, N], or
 * batched [B, M, K] @ [B, K, N] -> [B, M, N] (same batch on both sides, no broadcasting).
 * `transposeA` / `transposeB` read an operand's last two dimensions transposed. Values beyond the
 * f16 range (|x| > 65504) do not survive the rounding. Gradients use the same kernel (so they are
 * f16-operand products too).
 */
export function tensorCoreMatmul(a: Tensor, b: Tensor, options: TensorCoreMatmulOptions = {}): Tensor {
  const op = 'tensorCoreMatmul';
  if (!(a instanceof Tensor) || !(b instanceof Tensor)) throw new Error(`${op}: both operands must be Tensors`);
  assertLive(op, a, b);
  assertFloat(op, a, b);
  if (a.rank < 2 || a.rank > 3 || b.rank !== a.rank) {
    throw new Error(`${op}: operands must both be 2-D [M, K] @ [K, N] or both 3-D [B, M, K] @ [B, K, N], got shapes ${fmt(a.shape)} and ${fmt(b.shape)}`);
  }
  const transA = !!options.transposeA;
  const transB = !!options.transposeB;
  const r = a.rank;
  const M = a.shape[transA ? r - 1 : r - 2];
  const Ka = a.shape[transA ? r - 2 : r - 1];
  const Kb = b.shape[transB ? r - 1 : r - 2];
  const N = b.shape[transB ? r - 2 : r - 1];
  if (Ka !== Kb) {
    const how = transA || transB ? ` with ${[transA && 'transposeA', transB && 'transposeB'].filter(Boolean).join(' and ')}` : '';
    throw new Error(`${op}: shapes ${fmt(a.shape)} and ${fmt(b.shape)} are not compatible (${Ka} != ${Kb})${how}`);
  }
  const batch = r === 3 ? a.shape[0] : 1;
  if (r === 3 && b.shape[0] !== batch) {
    throw new Error(`${op}: batch sizes of shapes ${fmt(a.shape)} and ${fmt(b.shape)} differ (${batch} != ${b.shape[0]}); broadcasting is not supported`);
  }
  const support = subgroupMatrixSupport();
  if (!support.config) throw unsupportedError(op, support.reason);

  const K = Ka;
  const lead = r === 3 ? [batch] : [];
  const product = (x: Tensor, y: Tensor, tx: boolean, ty: boolean, m: number, n: number, k: number, what: string) =>
    runTensorCoreMatmul({
      op: what, a: x, b: y, transA: tx, transB: ty, M: m, N: n, K: k,
      batch, aBatchStride: m * k, bBatchStride: k * n, outShape: [...lead, m, n], tiles: options.tiles,
    });
  const out = product(a, b, transA, transB, M, N, K, op);
  const needA = a.requiresGrad;
  const needB = b.requiresGrad;
  const save = [...(needB ? [a] : []), ...(needA ? [b] : [])];
  return record(op, [a, b], out, (g, saved) => {
    const sa = needB ? saved[0] : null!;
    const sb = needA ? saved[saved.length - 1] : null!;
    const back = `${op} backward`;
    // C = op(A) op(B): d op(A) = g op(B)ᵀ and d op(B) = op(A)ᵀ g, written for the stored layouts.
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (needA) {
      ga = transA
        ? product(sb, g, transB, true, K, M, N, back) // stored [K, M] = op(B) gᵀ
        : product(g, sb, false, !transB, M, K, N, back); // [M, K] = g op(B)ᵀ
    }
    if (needB) {
      gb = transB
        ? product(g, sa, true, transA, N, K, M, back) // stored [N, K] = gᵀ op(A)
        : product(sa, g, !transA, false, K, N, M, back); // [K, N] = op(A)ᵀ g
    }
    return [ga, gb];
  }, save);
}

// ---- checks for benchmarks and device bring-up ----

export interface KernelCheck {
  variant: string;
  /** Compiler or pipeline messages (errors and warnings); empty when the pipeline was created cleanly. */
  messages: string[];
  ok: boolean;
}

/**
 * Compiles the kernel's variants on the current device inside error scopes and reports what the
 * compiler said, instead of leaving a failure to surface as an uncaptured error at the next read.
 * Meant for device bring-up scripts; the pipelines made here are not cached.
 */
export async function checkTensorCoreKernels(tiles: TensorCoreTiles[] = PRESETS): Promise<KernelCheck[]> {
  const support = subgroupMatrixSupport();
  if (!support.config) throw unsupportedError('checkTensorCoreKernels', support.reason);
  const device = engine().device;
  const results: KernelCheck[] = [];
  for (const t of tiles) {
    const plan = planTiles(t, support.config, support.subgroupSize, device.limits, stagedBytes());
    if (typeof plan === 'string') {
      results.push({ variant: t.name, messages: [plan], ok: false });
      continue;
    }
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const aligned of [true, false]) {
          const v: TensorCoreVariant = { transA, transB, aVec4: aligned, bVec4: aligned, directStore: aligned };
          const defines = tensorCoreDefines(support.config, support.subgroupSize, plan, v, !!emulation);
          const name = `${t.name}${plan.doubleBuffer ? '' : ' (single buffer)'} transA=${transA} transB=${transB} ${aligned ? 'vec4' : 'scalar'}`;
          const messages: string[] = [];
          device.pushErrorScope('validation');
          const module = device.createShaderModule({ code: tensorCoreSource(defines), label: name });
          const info = await module.getCompilationInfo();
          for (const m of info.messages) {
            if (m.type !== 'info') messages.push(`${m.type} ${m.lineNum}:${m.linePos} ${m.message}`);
          }
          let failed = info.messages.some((m) => m.type === 'error');
          try {
            await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: name });
          } catch (err) {
            messages.push(`pipeline: ${(err as Error).message}`);
            failed = true;
          }
          const scoped = await device.popErrorScope();
          if (scoped) {
            messages.push(`validation: ${scoped.message}`);
            failed = true;
          }
          results.push({ variant: name, messages, ok: !failed });
        }
      }
    }
  }
  return results;
}
