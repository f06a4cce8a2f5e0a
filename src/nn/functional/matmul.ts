/**
 * Matrix multiplication (shaders/matmul.wgsl): batched with torch.matmul broadcasting, transposed
 * operands without a transpose copy, and `linear` with a fused bias + activation epilogue.
 *
 * Every product goes through `runMatmul`, which multiplies op(A) @ op(B) over a batch and can also
 * sum over batch dimensions the output does not have. That one primitive covers the forward pass
 * and every gradient: dA = dC·op(B)ᵀ and dB = op(A)ᵀ·dC are products with transposed operands, and
 * the gradient of a broadcast operand is the same product summed over the broadcast dimensions.
 *
 * Kernel choice: a tile config per product (MATMUL_CANDIDATES), from the autotuner's stored choice
 * for the product's class when there is one (`autotune()`, `autotuneMatmul`), else the fixed
 * heuristic `matmulVariant`. Precision: `setFloat32MatmulPrecision('medium')` rounds operands to
 * f16 inside the kernel (ROUND_F16), for every product here, forward and backward.
 */
import matmulSrc from '../../../shaders/matmul.wgsl';
import { engine, isInitialized } from '../../runtime/engine.js';
import { defineKernel, type Defines } from '../../runtime/kernel.js';
import { record } from '../../runtime/autograd.js';
import { needsGrad, shapeSize, Tensor, type Shape } from '../../runtime/tensor.js';
import { assertFloat, assertLive, contiguousStrides, grid1d, Params } from './util.js';
import { tensor } from './creation.js';
import { canUseTensorCoreMatmul, runTensorCoreMatmul } from './matmul-tensorcore.js';
import {
  adapterFingerprint, autotuneEnabled, bucketPow2, gpuTimer, registerTunableOp, sharedAutotuner,
  type Autotuner, type Candidate, type Timer, type TuneResult,
} from '../../runtime/autotune.js';

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

/** One compiled tile shape: a workgroup computes tileM x tileN of C, a thread threadM x threadN. */
export interface TileConfig {
  tileM: number;
  tileN: number;
  tileK: number;
  /** Rows of C per thread (4 or 8); the workgroup is (tileN / threadN) x (tileM / threadM). */
  threadM: number;
  /** Columns of C per thread (4 or 8). */
  threadN: number;
  /**
   * Register prefetch (PREFETCH in matmul.wgsl; default false): each thread loads the next K-step's
   * share of the tiles into registers while the workgroup multiplies the current one, so global-load
   * latency overlaps the FMAs. At most 4 vec4s of each tile per thread. Same results, bit for bit.
   */
  prefetch?: boolean;
  /**
   * With `prefetch`: two copies of the tiles in workgroup memory (twice the bytes), one written while
   * the other is multiplied, so a step needs one barrier instead of two (DOUBLE_BUFFER).
   */
  doubleBuffer?: boolean;
  /**
   * No workgroup memory and no barriers (DIRECT in matmul.wgsl): each thread reads its operands
   * straight from the storage buffers, four k's at a time. For software adapters, where workgroup
   * memory is ordinary memory and a barrier switches every invocation of the workgroup. `tileK` is
   * 4 (the step along K). Same products in the same order: bit-identical to the tiled configs.
   */
  direct?: boolean;
}

/** A tile config plus the vec4 paths the operands' layouts allow. */
export interface MatmulVariant extends TileConfig {
  aVec4: boolean;
  bVec4: boolean;
  cVec4: boolean;
}

const tiles = (tileM: number, tileN: number, tileK: number, threadM: number, threadN: number): TileConfig =>
  ({ tileM, tileN, tileK, threadM, threadN });

/** The same tiles with register prefetch, and with it double-buffered workgroup memory. */
const prefetched = (c: TileConfig): TileConfig => ({ ...c, prefetch: true });
const doubleBuffered = (c: TileConfig): TileConfig => ({ ...c, prefetch: true, doubleBuffer: true });
const direct = (tileM: number, tileN: number, threadM: number, threadN: number): TileConfig =>
  ({ tileM, tileN, tileK: 4, threadM, threadN, direct: true });

/** 16 x 16 threads, each a 4 x 4 block: the workhorse for anything at least 64 on both sides. */
const LARGE_TILES = tiles(64, 64, 16, 4, 4);
/** 8 x 8 threads for thin or small products, where 64-wide tiles would be mostly padding. */
const SMALL_TILES = tiles(32, 32, 16, 4, 4);

const T64_8x8 = tiles(64, 64, 16, 8, 8);
const T128x64 = tiles(128, 64, 16, 8, 4);
const T64x128 = tiles(64, 128, 16, 4, 8);
const T128K8 = tiles(128, 128, 8, 8, 8);
const T128K16 = tiles(128, 128, 16, 8, 8);
/** 4 x 2 threads with 8 x 8 each, no workgroup memory: the software adapters' default (see matmulVariant). */
const DIRECT_16x32 = direct(16, 32, 8, 8);

/**
 * What the autotuner chooses from. Big tiles with 8 x 8 per thread reuse each staged value 8 times
 * per operand (what fast GPU kernels do); small ones keep more workgroups busy on small products.
 * The big ones also come with register prefetch ('+pf'), which fast GPU SGEMMs use to hide
 * global-memory latency, and the two with 16 KiB of double-buffered tiles ('+pf2', within WebGPU's
 * default workgroup memory limit) with one barrier per step; a CPU-emulated adapter gains little
 * from either, which is why the tuner, not a rule, picks them. The direct configs ('+direct') stage
 * nothing in workgroup memory, for software adapters (where they are the default). `matmulCandidates`
 * drops those the device cannot run.
 */
export const MATMUL_CANDIDATES: readonly TileConfig[] = [
  SMALL_TILES,
  LARGE_TILES,
  tiles(64, 64, 32, 4, 4),
  tiles(64, 64, 8, 4, 4),
  T64_8x8,
  T128x64,
  T64x128,
  T128K8,
  T128K16,
  tiles(128, 128, 32, 8, 8),
  ...[T64_8x8, T128x64, T64x128, T128K8, T128K16].map(prefetched),
  ...[T64_8x8, T128K8].map(doubleBuffered),
  direct(32, 32, 4, 4),
  DIRECT_16x32,
  direct(32, 16, 8, 8),
  direct(32, 32, 8, 8),
  direct(64, 32, 8, 8),
];

/**
 * E.g. '64x64x16/4x4': tiles M x N x K / per-thread block M x N, then '+pf' with register prefetch,
 * '+pf2' with prefetch and double-buffered workgroup memory.
 */
export function tileConfigId(c: TileConfig): string {
  if (c.direct) return `${c.tileM}x${c.tileN}/${c.threadM}x${c.threadN}+direct`;
  const suffix = c.doubleBuffer ? '+pf2' : c.prefetch ? '+pf' : '';
  return `${c.tileM}x${c.tileN}x${c.tileK}/${c.threadM}x${c.threadN}${suffix}`;
}

/** Workgroup memory a config uses (As and Bs; two copies of each with double buffering). */
export function tileConfigSharedBytes(c: TileConfig): number {
  if (c.direct) return 0;
  return (c.tileM + c.tileN) * c.tileK * 4 * (c.doubleBuffer ? 2 : 1);
}

/** Shader side of the register prefetch: Staged holds up to this many vec4s of each tile per thread. */
const MAX_PREFETCH_LOADS = 4;

/** The limits that decide which tile configs exist on a device (part of the autotune fingerprint). */
export const MATMUL_LIMITS = [
  'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
] as const;

type Limits = Pick<GPUSupportedLimits, (typeof MATMUL_LIMITS)[number]>;

/** Why a config cannot run on a device with these limits, or null when it can. */
export function tileConfigProblem(c: TileConfig, limits: Limits): string | null {
  const wgX = c.tileN / c.threadN;
  const wgY = c.tileM / c.threadM;
  const threads = wgX * wgY;
  const shared = tileConfigSharedBytes(c);
  if (![4, 8].includes(c.threadM) || ![4, 8].includes(c.threadN)) return 'the shader has 4 or 8 rows / columns per thread';
  if (c.direct) {
    if (c.prefetch || c.doubleBuffer) return 'the direct kernel stages nothing to prefetch or double-buffer';
    if (c.tileK !== 4) return 'the direct kernel steps K by 4 (tileK 4)';
  }
  if (c.tileM % c.threadM || c.tileN % c.threadN || (!c.direct && ![8, 16, 32].includes(c.tileK))) return 'tiles must be multiples of the thread block, TILE_K 8, 16 or 32';
  if (c.doubleBuffer && !c.prefetch) return 'double buffering works with prefetch only';
  if (c.prefetch) {
    const loads = Math.ceil(Math.max(c.tileM, c.tileN) * c.tileK / 4 / threads);
    if (loads > MAX_PREFETCH_LOADS) return `prefetch of ${loads} vec4s of a tile per thread, over ${MAX_PREFETCH_LOADS}`;
  }
  if (shared > limits.maxComputeWorkgroupStorageSize) return `${shared} bytes of workgroup memory, over ${limits.maxComputeWorkgroupStorageSize}`;
  if (threads > limits.maxComputeInvocationsPerWorkgroup) return `${threads} threads, over ${limits.maxComputeInvocationsPerWorkgroup}`;
  if (wgX > limits.maxComputeWorkgroupSizeX || wgY > limits.maxComputeWorkgroupSizeY) return `workgroup ${wgX}x${wgY} over the ${limits.maxComputeWorkgroupSizeX}x${limits.maxComputeWorkgroupSizeY} limit`;
  return null;
}

/** The candidates this device can run. */
export function matmulCandidates(limits: Limits = engine().device.limits): TileConfig[] {
  return MATMUL_CANDIDATES.filter((c) => tileConfigProblem(c, limits) === null);
}

/**
 * Which compiled variant the fixed heuristic picks for op(A) [M, K] @ op(B) [K, N] (no tuning);
 * `software` defaults to whether the adapter in use is one.
 *
 * Software adapters (SwiftShader) get the direct kernel with 8 x 8 per thread in 16 x 32 blocks at
 * every size: workgroup memory is ordinary memory there, each barrier switches every invocation of
 * the workgroup, and the per-lane loads are what costs (a loop with its loads replaced by arithmetic
 * ran 6x faster), so a thread's 8 x 8 block with its 16 loads per k is what counts. Measured in CPU
 * time per product, interleaved in one process, against the 64x64x16/8x8 tiles that were the
 * default before: 1.8x on the 784-32-32-10 MLP's first-layer products at batch 256 (forward and dW),
 * 1.5-4.5x on its small ones, 1.6-2.9x on vit-xs's MLP products, 1.1-1.3x at 128^3 and 256^3.
 */
export function matmulVariant(M: number, N: number, K: number, transA = false, transB = false, software = isInitialized() && engine().report.software): MatmulVariant {
  if (software) return withVec4(DIRECT_16x32, M, N, K, transA, transB);
  return withVec4(M >= 64 && N >= 64 ? LARGE_TILES : SMALL_TILES, M, N, K, transA, transB);
}

function withVec4(c: TileConfig, M: number, N: number, K: number, transA: boolean, transB: boolean): MatmulVariant {
  return {
    ...c,
    // vec4 loads / stores need the contiguous dimension of that operand to be a multiple of 4.
    aVec4: (transA ? M : K) % 4 === 0,
    bVec4: (transB ? K : N) % 4 === 0,
    cVec4: N % 4 === 0,
  };
}

// ---- precision ----

/**
 * torch.set_float32_matmul_precision's names. 'highest': f32 products and sums. 'medium': each
 * operand element rounded to f16 (nearest, ties to even; beyond +-65504 to inf as an IEEE
 * conversion would), products and sums in f32: the numerics of f16 tensor cores, computed by the f32
 * kernel on any adapter. (A tensor-core kernel can take over 'medium' on adapters that have one.)
 */
export type Float32MatmulPrecision = 'highest' | 'medium';

let matmulPrecision: Float32MatmulPrecision = 'highest';

/**
 * Sets the precision of every f32 matmul and linear, forward and backward, from the next kernel
 * recorded on (a backward pass uses the setting in force when it runs). Parameters, gradients and
 * optimizer state stay f32: 'medium' is mixed precision with f16 matmul inputs and f32 master
 * weights and accumulation.
 */
export function setFloat32MatmulPrecision(precision: Float32MatmulPrecision): void {
  if (precision !== 'highest' && precision !== 'medium') {
    throw new Error(`setFloat32MatmulPrecision: unknown precision '${String(precision)}' (expected 'highest' or 'medium')`);
  }
  matmulPrecision = precision;
}

export function getFloat32MatmulPrecision(): Float32MatmulPrecision {
  return matmulPrecision;
}

// ---- autotuning ----

export interface MatmulProblem {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
}

/**
 * The autotuner's class of a product: M, N, K rounded up to powers of two (16 .. 8192) and the
 * transpose and vec4 flags, e.g. 'M4096xN64xK256|tA-|tB+|v4:1,1,1'.
 */
export function matmulProblemClass(M: number, N: number, K: number, transA = false, transB = false): string {
  const v = withVec4(SMALL_TILES, M, N, K, transA, transB);
  const f = (b: boolean) => (b ? '+' : '-');
  return `M${bucketPow2(M)}xN${bucketPow2(N)}xK${bucketPow2(K)}|tA${f(transA)}|tB${f(transB)}|v4:${+v.aVec4},${+v.bVec4},${+v.cVec4}`;
}

/** Problems matmul has run, one per class (the first seen), for `autotune()`. */
const seenClasses = new Map<string, Required<MatmulProblem>>();

function matmulTuner(): Autotuner {
  const e = engine();
  const fingerprint = adapterFingerprint(e.report, MATMUL_LIMITS);
  return sharedAutotuner(fingerprint, () => gpuTimer({ flush: () => e.flush(), done: () => e.device.queue.onSubmittedWorkDone() }));
}

export interface MatmulChoice {
  config: MatmulVariant;
  /** E.g. '64x64x16/4x4'. */
  id: string;
  /** True when an autotuned choice (this run's or a cached one) is used, false for the heuristic. */
  tuned: boolean;
  problemClass: string;
  /** The tuning measurements (median ms per call of every candidate), when tuned. */
  timesMs?: Record<string, number>;
}

/** The kernel a product of op(A) [M, K] and op(B) [K, N] runs with now, and whether it was tuned. */
export function matmulChoice(M: number, N: number, K: number, transA = false, transB = false): MatmulChoice {
  const problemClass = matmulProblemClass(M, N, K, transA, transB);
  if (autotuneEnabled()) {
    const rec = matmulTuner().lookup('matmul', problemClass);
    const config = rec && matmulCandidates().find((c) => tileConfigId(c) === rec.choice);
    if (rec && config) return { config: withVec4(config, M, N, K, transA, transB), id: rec.choice, tuned: true, problemClass, timesMs: rec.timesMs };
  }
  const config = matmulVariant(M, N, K, transA, transB);
  return { config, id: tileConfigId(config), tuned: false, problemClass };
}

/** Candidates worth timing for one problem: no tile past the problem's padded size (the heuristic's always). */
function candidatesFor(p: Required<MatmulProblem>): TileConfig[] {
  const heuristic = matmulVariant(p.M, p.N, p.K, p.transA, p.transB);
  const fits = (c: TileConfig) =>
    c.tileM <= Math.max(32, bucketPow2(p.M, 1)) && c.tileN <= Math.max(32, bucketPow2(p.N, 1)) && c.tileK <= Math.max(8, bucketPow2(p.K, 1));
  return matmulCandidates().filter((c) => fits(c) || tileConfigId(c) === tileConfigId(heuristic));
}

export interface MatmulTuneResult {
  problem: Required<MatmulProblem>;
  problemClass: string;
  /** The chosen config's id. */
  choice: string;
  config: TileConfig;
  timesMs: Record<string, number>;
  /** When it was measured (ISO date). */
  tunedAt: string;
  /** True when the choice was already stored (nothing timed). */
  cached: boolean;
}

export interface AutotuneMatmulOptions {
  /** Replaces GPU timing (tests). */
  timer?: Timer;
}

/**
 * Times the tile candidates on each problem's class (unless a choice is stored), keeps the fastest
 * and stores it, so later products of that class use it. Returns [] when tuning is off
 * (WGTRAIN_AUTOTUNE=off, configureAutotune({ enabled: false })).
 */
export async function autotuneMatmul(problems: readonly MatmulProblem[], options: AutotuneMatmulOptions = {}): Promise<MatmulTuneResult[]> {
  if (!autotuneEnabled()) return [];
  const tuner = matmulTuner();
  const done = new Set<string>();
  const out: MatmulTuneResult[] = [];
  for (const q of problems) {
    const p = { M: q.M, N: q.N, K: q.K, transA: !!q.transA, transB: !!q.transB };
    for (const d of [p.M, p.N, p.K]) {
      if (!Number.isInteger(d) || d < 1) throw new Error(`autotuneMatmul: sizes must be positive integers, got M=${p.M} N=${p.N} K=${p.K}`);
    }
    const problemClass = matmulProblemClass(p.M, p.N, p.K, p.transA, p.transB);
    if (done.has(problemClass)) continue;
    done.add(problemClass);
    const configs = candidatesFor(p);
    // Operands only when something is timed: a cached class costs no allocation.
    let operands: Tensor[] = [];
    const candidates: Candidate[] = configs.map((config) => ({
      id: tileConfigId(config),
      run: () => {
        if (operands.length === 0) operands = tuneOperands(p);
        const [a, b] = operands;
        runMatmul({ op: 'autotuneMatmul', a, b, transA: p.transA, transB: p.transB, M: p.M, N: p.N, K: p.K, aBatch: [], bBatch: [], outBatch: [], outShape: [p.M, p.N], config }).out.dispose();
      },
    }));
    try {
      const r = await tuner.tune('matmul', problemClass, candidates, p, options.timer);
      const config = configs.find((c) => tileConfigId(c) === r.record.choice)!;
      out.push({ problem: p, problemClass, choice: r.record.choice, config, timesMs: r.record.timesMs, tunedAt: r.record.tunedAt, cached: r.cached });
    } finally {
      for (const t of operands) t.dispose();
    }
  }
  return out;
}

/** Random operands in [-1, 1) in the stored layouts of a problem. */
function tuneOperands(p: Required<MatmulProblem>): Tensor[] {
  let seed = 12345;
  const rand = (n: number) => {
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      x[i] = seed / 2 ** 31 - 1;
    }
    return x;
  };
  return [
    tensor(rand(p.M * p.K), p.transA ? [p.K, p.M] : [p.M, p.K]),
    tensor(rand(p.K * p.N), p.transB ? [p.N, p.K] : [p.K, p.N]),
  ];
}

/** Tunes every class matmul has run and has no stored choice for (what `autotune()` calls). */
async function tuneSeenMatmuls(): Promise<TuneResult[]> {
  if (!isInitialized()) return [];
  const results = await autotuneMatmul([...seenClasses.values()]);
  return results.map((r) => ({ key: `matmul|${r.problemClass}`, cached: r.cached, record: { choice: r.choice, timesMs: r.timesMs, tunedAt: r.tunedAt, problem: r.problem } }));
}

registerTunableOp('matmul', tuneSeenMatmuls);

function activationDefines(activation: Activation): Defines {
  return { ACT_RELU: activation === 'relu', ACT_GELU: activation === 'gelu', ACT_GELU_TANH: activation === 'gelu_tanh' };
}

/** Every placeholder of matmul.wgsl needs a value, whichever entry point is compiled. */
function defines(overrides: Defines): Defines {
  return {
    MODE_MATMUL: false, MODE_ACT_GRAD: false, MODE_COLUMN_SUM: false,
    TILE_M: 64, TILE_N: 64, TILE_K: 16, TM8: false, TN8: false, PREFETCH: false, DOUBLE_BUFFER: false, DIRECT: false, ROUND_F16: false,
    TRANS_A: false, TRANS_B: false, A_VEC4: false, B_VEC4: false, C_VEC4: false,
    HAS_BIAS: false, SAVE_PREACT: false, PREACT_BINDING: 4, COL_SUM: false, QUAD: false,
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

let configOverride: TileConfig | null = null;

/** @internal Tests: run every product with this tile config (null: the normal choice). */
export function setMatmulConfigForTests(config: TileConfig | null): void {
  if (config) {
    const why = tileConfigProblem(config, engine().device.limits);
    if (why) throw new Error(`setMatmulConfigForTests: ${tileConfigId(config)} cannot run here (${why})`);
  }
  configOverride = config;
}

/** @internal Tests: forget the problem classes seen so far. */
export function clearSeenMatmulClassesForTests(): void {
  seenClasses.clear();
}

/** Problem classes run since start-up (or the last clear), with the first problem seen of each. */
export function seenMatmulClasses(): Map<string, Required<MatmulProblem>> {
  return new Map(seenClasses);
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
  /**
   * With transA: also return the sums of A's stored columns (a linear layer's bias gradient, from the
   * dW product), of this shape, when the kernel can add them in columnSum's order (see
   * fusedColumnSum); otherwise `colSum` comes back null and the caller runs columnSum.
   */
  colSumShape?: Shape;
  /** Use this tile config (autotuning); otherwise the test override, the tuned choice or the heuristic. */
  config?: TileConfig;
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

/**
 * 'medium' precision on a device with tensor cores (subgroup matrices): plain products (no bias,
 * activation or summed batch dims; at most one batch dim) go to the tensor-core kernel, which has
 * the same numerics (f16 operands, f32 accumulation) at tensor-core speed. Anything else, and every
 * device without them, uses the f32 kernel with ROUND_F16. WGTRAIN_TENSOR_CORES=off turns it off.
 */
function tryTensorCores(spec: MatmulSpec, outer: BatchDims, reduce: BatchDims): Tensor | null {
  if (matmulPrecision !== 'medium' || tensorCoresOff || spec.config || configOverride) return null;
  if (spec.bias || (spec.activation ?? 'none') !== 'none' || spec.savePreact) return null;
  if (reduce.shape.length > 0 || outer.shape.length > 1 || !canUseTensorCoreMatmul()) return null;
  return runTensorCoreMatmul({
    op: spec.op, a: spec.a, b: spec.b, transA: spec.transA, transB: spec.transB, M: spec.M, N: spec.N, K: spec.K,
    batch: outer.shape[0] ?? 1, aBatchStride: outer.aStrides[0] ?? 0, bBatchStride: outer.bStrides[0] ?? 0, outShape: spec.outShape,
  });
}

const tensorCoresOff = typeof process !== 'undefined' && process.env?.WGTRAIN_TENSOR_CORES === 'off';

/**
 * Whether the dW product can also give the bias gradient (COL_SUM): the direct kernel sums A's
 * stored columns while it multiplies, in columnSum's order, which it matches only when one
 * columnSum pass covers the rows (K <= COLUMN_SUM_CHUNK), with no batch dims and with the operands
 * as stored (not rounded to f16).
 */
function fusedColumnSum(spec: MatmulSpec, v: MatmulVariant, outer: BatchDims, reduce: BatchDims): boolean {
  return !!spec.colSumShape && !!v.direct && spec.transA && !spec.bias && outer.shape.length === 0 && reduce.shape.length === 0 &&
    spec.K <= COLUMN_SUM_CHUNK && matmulPrecision === 'highest';
}

function runMatmul(spec: MatmulSpec): { out: Tensor; preact: Tensor | null; colSum: Tensor | null } {
  const { op, M, N, K, transA, transB } = spec;
  const activation = spec.activation ?? 'none';
  const { outer, reduce } = planBatch(spec);
  const onTensorCores = tryTensorCores(spec, outer, reduce);
  if (onTensorCores) return { out: onTensorCores, preact: null, colSum: null };
  const out = Tensor.empty(spec.outShape);
  const preact = spec.savePreact ? Tensor.empty(spec.outShape) : null;
  const outerCount = shapeSize(outer.shape);
  const reduceCount = shapeSize(reduce.shape);
  const v = pickVariant(spec);
  const colSum = fusedColumnSum(spec, v, outer, reduce) ? Tensor.empty(spec.colSumShape!) : null;
  const hasBias = !!spec.bias;
  const kernelDefines = defines({
    MODE_MATMUL: true,
    TILE_M: v.tileM, TILE_N: v.tileN, TILE_K: v.tileK, TM8: v.threadM === 8, TN8: v.threadN === 8,
    PREFETCH: !!v.prefetch, DOUBLE_BUFFER: !!v.doubleBuffer, DIRECT: !!v.direct,
    // The direct kernel shares its A loads within quads where the device has subgroups (a shader
    // check falls back to per-lane loads where a quad is not four threads of one row).
    QUAD: !!v.direct && engine().hasFeature('subgroups' as GPUFeatureName),
    ROUND_F16: matmulPrecision === 'medium',
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
  return { out, preact, colSum };
}

/** The explicit config, the test override, the tuned choice or the heuristic, in that order. */
function pickVariant(spec: MatmulSpec): MatmulVariant {
  const { M, N, K, transA, transB } = spec;
  const forced = spec.config ?? configOverride;
  if (forced) return withVec4(forced, M, N, K, transA, transB);
  if (!autotuneEnabled()) return matmulVariant(M, N, K, transA, transB);
  const choice = matmulChoice(M, N, K, transA, transB);
  if (!choice.tuned && !seenClasses.has(choice.problemClass)) seenClasses.set(choice.problemClass, { M, N, K, transA, transB });
  return choice.config;
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
