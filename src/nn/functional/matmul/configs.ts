/**
 * Matmul tile configs: the compiled variants of matmul.wgsl (tile shape, per-thread block, prefetch,
 * direct), which of them a device can run, and the fixed heuristic used when nothing is tuned.
 */
import { engine, isInitialized } from '../../../runtime/engine.js';
import { TUNING_LIMITS } from '../../../runtime/autotune.js';

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
  /**
   * With `direct`, where the device has subgroups: share only A's loads, within quads of four
   * threads of one row ('+rows'), even where the block (8 x 8) and an even thread grid allow 2 x 2
   * quads that share both operands (the default there). Same results, bit for bit.
   */
  rowQuads?: boolean;
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
const direct = (tileM: number, tileN: number, threadM: number, threadN: number, rowQuads = false): TileConfig =>
  ({ tileM, tileN, tileK: 4, threadM, threadN, direct: true, ...(rowQuads ? { rowQuads } : {}) });

/** Whether the direct kernel shares loads in 2 x 2 quads for this config (on a device with subgroups). */
export function quads2x2(c: TileConfig): boolean {
  return !!c.direct && !c.rowQuads && c.threadM === 8 && c.threadN === 8 && (c.tileN / c.threadN) % 2 === 0 && (c.tileM / c.threadM) % 2 === 0;
}

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
  direct(16, 32, 8, 8, true),
  direct(32, 16, 8, 8),
  direct(32, 32, 8, 8),
  direct(64, 32, 8, 8),
];

/**
 * E.g. '64x64x16/4x4': tiles M x N x K / per-thread block M x N, then '+pf' with register prefetch,
 * '+pf2' with prefetch and double-buffered workgroup memory.
 */
export function tileConfigId(c: TileConfig): string {
  if (c.direct) return `${c.tileM}x${c.tileN}/${c.threadM}x${c.threadN}+direct${c.rowQuads ? '+rows' : ''}`;
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

/**
 * The limits that decide which tile configs exist on a device. They are the autotuner's
 * (TUNING_LIMITS: part of the adapter fingerprint every op's choices are stored under).
 */
export const MATMUL_LIMITS = TUNING_LIMITS;

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
  } else if (c.rowQuads) {
    return 'only the direct kernel shares loads in quads';
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

/** Which operands can use vec4 loads / stores: the contiguous dimension must be a multiple of 4. */
export function vec4Paths(M: number, N: number, K: number, transA: boolean, transB: boolean): Pick<MatmulVariant, 'aVec4' | 'bVec4' | 'cVec4'> {
  return { aVec4: (transA ? M : K) % 4 === 0, bVec4: (transB ? K : N) % 4 === 0, cVec4: N % 4 === 0 };
}

/** A tile config with the vec4 paths the operands' layouts allow. */
export function withVec4(c: TileConfig, M: number, N: number, K: number, transA: boolean, transB: boolean): MatmulVariant {
  return { ...c, ...vec4Paths(M, N, K, transA, transB) };
}
