/**
 * The one timing harness, used by the autotuner (autotune.ts) and the benchmarks (bench/).
 *
 * A case is timed in batches: `calls` calls recorded back to back, then one wait for the GPU to
 * finish them all; the batch's wall time over `calls` is one sample of ms per call. Each case is
 * warmed up (pipelines compiled, buffers pooled), its batch sized from one timed call to last
 * about `targetMs`, then `repeats` rounds time every case once per round, interleaved, so that
 * drift (clocks, thermals, other processes) hits all cases alike. The median sample is what counts.
 * (Timestamp queries would need the engine's compute pass opened with timestampWrites, so they are
 * not used.)
 */

/** Milliseconds from a monotonic clock where there is one. */
export const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** The median: the middle value, or the mean of the two middle values of an even count. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One sample: ms per call over a batch (a case may add what else it measured, e.g. CPU time). */
export interface Sample {
  ms: number;
}

/** Runs `calls` calls back to back, waits until they have finished, and returns the sample. */
export type Batch<S extends Sample = Sample> = (calls: number) => Promise<S>;

/** What a batch's wait is for: when its first call was recorded, and how many calls it has. */
export interface BatchInfo {
  startedAt: number;
  calls: number;
}

/**
 * A batch from "record one call" and "submit what was recorded and wait for the GPU" (`sync` may
 * use the batch's info to wait patiently, see patient-wait.ts).
 */
export function callBatch(run: () => void, sync: (batch: BatchInfo) => Promise<unknown>): Batch {
  return async (calls) => {
    const t0 = now();
    for (let i = 0; i < calls; i++) run();
    await sync({ startedAt: t0, calls });
    return { ms: (now() - t0) / calls };
  };
}

/** Calls per batch so that a batch lasts about `targetMs`, given one call's `onceMs` (at least 1, at most `maxCalls`). */
export function callsFor(onceMs: number, targetMs: number, maxCalls: number): number {
  return Math.max(1, Math.min(maxCalls, Math.round(targetMs / Math.max(onceMs, 1e-3))));
}

export interface InterleaveOptions {
  /** Timed batches per case. */
  repeats: number;
  /** Target length of one batch, ms. */
  targetMs: number;
  /** Most calls in a batch. */
  maxCalls: number;
  /** Untimed one-call batches per case before the calibration call (default 1). */
  warmups?: number;
  /** A case that throws is dropped (its `error` set, `ms` Infinity) and the others go on; default: the error propagates. */
  tolerateErrors?: boolean;
}

export interface CaseTiming<S extends Sample = Sample> {
  /** Median ms per call over the samples (Infinity for a case that failed). */
  ms: number;
  samples: S[];
  /** Calls per timed batch. */
  calls: number;
  /** What a failed case threw (with `tolerateErrors`). */
  error?: unknown;
}

/** Warm-up, batch sizing, then `repeats` interleaved rounds (see the module comment). */
export async function timeInterleaved<S extends Sample>(cases: readonly Batch<S>[], o: InterleaveOptions): Promise<CaseTiming<S>[]> {
  const out: CaseTiming<S>[] = cases.map(() => ({ ms: Infinity, samples: [], calls: 0 }));
  const attempt = async (i: number, calls: number): Promise<S | undefined> => {
    if (!o.tolerateErrors) return cases[i](calls);
    try {
      return await cases[i](calls);
    } catch (error) {
      out[i].error = error;
      return undefined;
    }
  };
  for (let i = 0; i < cases.length; i++) {
    for (let w = 0; w < (o.warmups ?? 1) && !('error' in out[i]); w++) await attempt(i, 1);
    const once = 'error' in out[i] ? undefined : await attempt(i, 1);
    if (once) out[i].calls = callsFor(once.ms, o.targetMs, o.maxCalls);
  }
  for (let r = 0; r < o.repeats; r++) {
    for (let i = 0; i < cases.length; i++) {
      if ('error' in out[i]) continue;
      const s = await attempt(i, out[i].calls);
      if (s) out[i].samples.push(s);
    }
  }
  for (const t of out) if (!('error' in t)) t.ms = median(t.samples.map((s) => s.ms));
  return out;
}
