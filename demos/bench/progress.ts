/**
 * Progress of a benchmark run on the page: which of the planned cases are done, read from the
 * lines bench-core's runBenchmarks logs when it finishes a case, and the time left from the time
 * the finished cases took (per kind of case, since a training step costs far more than a small
 * matmul; kinds not started yet are assumed to cost the average so far).
 */

export type CaseKind = 'matmul' | 'shape' | 'dropout' | 'train';

export interface BenchPlan {
  matmul: number;
  shape: number;
  dropout: number;
  train: number;
}

/** The kind of case a runBenchmarks log line reports as finished, or null for other lines. */
export function finishedCase(line: string): CaseKind | null {
  if (/^matmul n=\d+:/.test(line)) return 'matmul';
  if (/^matmul .+ \d+x\d+x\d+:/.test(line)) return 'shape';
  if (/^dropout n=\d+:/.test(line)) return 'dropout';
  if (/^train .+: wgtrain /.test(line)) return 'train';
  return null;
}

export class BenchProgress {
  private readonly done: Record<CaseKind, number[]> = { matmul: [], shape: [], dropout: [], train: [] };
  private last: number;

  constructor(
    readonly plan: BenchPlan,
    private readonly startedAt: number,
  ) {
    this.last = startedAt;
  }

  get total(): number {
    return this.plan.matmul + this.plan.shape + this.plan.dropout + this.plan.train;
  }

  get finished(): number {
    return Object.values(this.done).reduce((n, d) => n + d.length, 0);
  }

  /** Records a finished case; true when the line was one. */
  onLine(line: string, now: number): boolean {
    const kind = finishedCase(line);
    if (!kind) return false;
    this.done[kind].push(now - this.last);
    this.last = now;
    return true;
  }

  /** Seconds left (NaN before the first case finished). */
  etaSeconds(now: number): number {
    const all = Object.values(this.done).flat();
    if (all.length === 0) return NaN;
    const average = all.reduce((a, b) => a + b, 0) / all.length;
    let ms = 0;
    for (const kind of Object.keys(this.plan) as CaseKind[]) {
      const left = this.plan[kind] - this.done[kind].length;
      const own = this.done[kind];
      ms += left * (own.length ? own.reduce((a, b) => a + b, 0) / own.length : average);
    }
    // The case in progress has already run for a while.
    return Math.max(0, ms - (now - this.last)) / 1000;
  }

  elapsedSeconds(now: number): number {
    return (now - this.startedAt) / 1000;
  }
}
