/**
 * Launch geometry shared by the row-wise kernels (softmax, cross_entropy, layer_norm). Each has two
 * paths, picked per call from the row length:
 *
 * - long rows: one workgroup per row, its threads stride over the row and combine partials with a
 *   tree reduction in workgroup memory;
 * - short rows: one thread per row, looping over it serially in a fixed order (so the result is
 *   deterministic), SHORT_ROW_WG rows per workgroup.
 *
 * Internal: not re-exported by the functional index.
 */
import { engine } from '../../runtime/engine.js';
import { grid1d } from '../../runtime/params.js';

const MAX_GROUPS_PER_DIM = 65535;

/**
 * Longest row that takes the one-thread-per-row path, by adapter kind.
 *
 * Software adapters (SwiftShader): the short path won at every length measured, so it runs up to
 * the longest length measured. bench/rows-bench.ts, 2 shared cores, time per call of the long path
 * / the short path, median of 3 interleaved batches (rows = 2^17 / length):
 *
 *   length               64     128     256     512    1024
 *   softmax fwd        10.3x   18.7x   10.2x   22.5x   11.0x
 *   softmax fwd+bwd     9.6x   14.2x    7.8x   12.4x    8.8x
 *   layerNorm fwd      14.6x   15.9x   16.9x   15.7x    9.2x
 *   layerNorm fwd+bwd   8.2x   18.7x    7.9x    7.8x    6.9x
 *   crossEntropy fwd [128, 100] 34x, [128, 1000] 23x
 *
 * (SwiftShader pays a large fixed cost per workgroup and per barrier; the long path spends one
 * workgroup and a tree of barriers on every row.)
 *
 * GPUs: not measured here (no GPU on the machine that measured the above). One thread per row
 * leaves a GPU idle when rows are few and long (128 rows of 1000 classes: 128 threads), so it is
 * used only for rows no longer than one long-path workgroup (32 threads), where that workgroup
 * would leave most of its threads idle and still pay a full tree reduction.
 */
const SHORT_ROW_MAX_LEN_SOFTWARE = 1024;
const SHORT_ROW_MAX_LEN_GPU = 32;

/** The short-path threshold on the current device (engine must be initialised). */
export function shortRowMaxLen(): number {
  return engine().report.software ? SHORT_ROW_MAX_LEN_SOFTWARE : SHORT_ROW_MAX_LEN_GPU;
}

/** Threads (= rows) per workgroup of the short-row kernels. */
export const SHORT_ROW_WG = 64;

export type RowPath = 'short' | 'long';

let forcedPath: RowPath | null = null;

/**
 * Forces one path regardless of the row length (null: back to choosing by length). For the tests,
 * which run both paths on the same shapes, and for bench/rows-bench.ts, which times them side by side.
 */
export function forceRowPath(path: RowPath | null): void {
  forcedPath = path;
}

/** The path a row of `len` elements takes. */
export function rowPath(len: number): RowPath {
  return forcedPath ?? (len <= shortRowMaxLen() ? 'short' : 'long');
}

/** Grid for one workgroup per row (long path); shaders read the row as `wid.x + wid.y * nwg.x`. */
function rowGrid(rows: number): [number, number, number] {
  if (rows <= MAX_GROUPS_PER_DIM) return [rows, 1, 1];
  const y = Math.ceil(rows / MAX_GROUPS_PER_DIM);
  return [Math.ceil(rows / y), y, 1];
}

/** Grid for one thread per row (short path); shaders read the row as `gid.x + gid.y * nwg.x * WG`. */
export function shortRowGrid(rows: number): [number, number, number] {
  return grid1d(rows, SHORT_ROW_WG);
}

/**
 * Threads per row workgroup (long path): a power of two (for the tree reduction) that leaves each
 * thread a few elements, at most 256 (WebGPU's default limit on invocations per workgroup).
 */
function rowWorkgroupSize(len: number): number {
  if (len <= 64) return 32;
  if (len <= 256) return 64;
  if (len <= 1024) return 128;
  return 256;
}

/** Kernel defines and grid for `rows` rows of length `len`: SHORT, WG and the workgroup count. */
export function rowLaunch(rows: number, len: number): { short: boolean; wg: number; workgroups: [number, number, number] } {
  if (rowPath(len) === 'short') return { short: true, wg: SHORT_ROW_WG, workgroups: shortRowGrid(rows) };
  return { short: false, wg: rowWorkgroupSize(len), workgroups: rowGrid(rows) };
}
