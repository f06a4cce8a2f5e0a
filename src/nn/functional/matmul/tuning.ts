/**
 * Which tile variant a product runs with: the explicit config, the test override, the autotuner's
 * stored choice for the product's class, or the fixed heuristic (`pickVariant`); and matmul's
 * entry to the autotuner (`autotuneMatmul`, and what `autotune()` runs for the classes seen).
 */
import { engine, isInitialized } from '../../../runtime/engine.js';
import {
  autotuneEnabled, bucketPow2, engineAutotuner, registerTunableOp, type Candidate, type Timer, type TuneResult,
} from '../../../runtime/autotune.js';
import type { Tensor } from '../../../runtime/tensor.js';
import { tensor } from '../creation.js';
import {
  matmulCandidates, matmulVariant, tileConfigId, tileConfigProblem, vec4Paths, withVec4, type MatmulVariant, type TileConfig,
} from './configs.js';
import { launchMatmul, type MatmulSpec } from './launch.js';

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
  const v = vec4Paths(M, N, K, transA, transB);
  const f = (b: boolean) => (b ? '+' : '-');
  return `M${bucketPow2(M)}xN${bucketPow2(N)}xK${bucketPow2(K)}|tA${f(transA)}|tB${f(transB)}|v4:${+v.aVec4},${+v.bVec4},${+v.cVec4}`;
}

/** Problems matmul has run, one per class (the first seen), for `autotune()`. */
const seenClasses = new Map<string, Required<MatmulProblem>>();

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
    const rec = engineAutotuner().lookup('matmul', problemClass);
    const config = rec && matmulCandidates().find((c) => tileConfigId(c) === rec.choice);
    if (rec && config) return { config: withVec4(config, M, N, K, transA, transB), id: rec.choice, tuned: true, problemClass, timesMs: rec.timesMs };
  }
  const config = matmulVariant(M, N, K, transA, transB);
  return { config, id: tileConfigId(config), tuned: false, problemClass };
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

/** Whether the product's config is fixed (explicitly or by the test override): no other kernel may take it. */
export function configIsForced(spec: Pick<MatmulSpec, 'config'>): boolean {
  return !!(spec.config ?? configOverride);
}

/** The explicit config, the test override, the tuned choice or the heuristic, in that order. */
export function pickVariant(spec: MatmulSpec): MatmulVariant {
  const { M, N, K, transA, transB } = spec;
  const forced = spec.config ?? configOverride;
  if (forced) return withVec4(forced, M, N, K, transA, transB);
  if (!autotuneEnabled()) return matmulVariant(M, N, K, transA, transB);
  const choice = matmulChoice(M, N, K, transA, transB);
  if (!choice.tuned && !seenClasses.has(choice.problemClass)) seenClasses.set(choice.problemClass, { M, N, K, transA, transB });
  return choice.config;
}

/** @internal Tests: forget the problem classes seen so far. */
export function clearSeenMatmulClassesForTests(): void {
  seenClasses.clear();
}

/** Problem classes run since start-up (or the last clear), with the first problem seen of each. */
export function seenMatmulClasses(): Map<string, Required<MatmulProblem>> {
  return new Map(seenClasses);
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
  const tuner = engineAutotuner();
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
        const spec: MatmulSpec = { op: 'autotuneMatmul', a, b, transA: p.transA, transB: p.transB, M: p.M, N: p.N, K: p.K, aBatch: [], bBatch: [], outBatch: [], outShape: [p.M, p.N], config };
        launchMatmul(spec, pickVariant(spec)).out.dispose();
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
