/**
 * What the lab's curve charts draw, from the points each run reported: per mode (and cell) the
 * mean over seeds at each step with a band (±1 sample std, or the 95% CI of the mean, Student t,
 * from the report's stats.ts), and optionally smoothed per run first (TensorBoard's debiased
 * exponential moving average) for the noisy mini-batch loss.
 *
 * Seeds are averaged only where they have a point: while seed 2 is still training, the mean at
 * its later steps is over the seeds that got there, and `n` says how many.
 */
import { meanConfidenceInterval } from '../../src/lab/experiment/stats.js';

export interface CurvePoint {
  run: string;
  cell: string;
  arm: string;
  seed: number;
  step: number;
  value: number;
}

export type Spread = 'std' | 'ci' | 'none';

export interface MeanRow {
  cell: string;
  arm: string;
  step: number;
  value: number;
  n: number;
}

export interface BandRow {
  cell: string;
  arm: string;
  step: number;
  lo: number;
  hi: number;
  n: number;
}

/**
 * Debiased EMA over one run's values in step order (TensorBoard's smoothing): weight 0 leaves
 * them as they are, 0.99 smooths hard. The debiasing keeps the first points from being pulled
 * towards 0.
 */
export function smoothEma(values: readonly number[], weight: number): number[] {
  if (!(weight >= 0 && weight < 1)) throw new Error(`smoothEma: weight must be in [0, 1), got ${weight}`);
  if (weight === 0) return [...values];
  let last = 0;
  let debias = 0;
  return values.map((v) => {
    // A NaN (a diverged run) stays NaN and does not poison later points.
    if (!Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    debias = debias * weight + (1 - weight);
    return last / debias;
  });
}

/** The points with each run's values smoothed (runs kept apart; order by step inside a run). */
export function smoothRuns(points: readonly CurvePoint[], weight: number): CurvePoint[] {
  if (weight === 0) return [...points];
  const byRun = new Map<string, CurvePoint[]>();
  for (const p of points) {
    let list = byRun.get(p.run);
    if (!list) byRun.set(p.run, (list = []));
    list.push(p);
  }
  const out: CurvePoint[] = [];
  for (const list of byRun.values()) {
    list.sort((a, b) => a.step - b.step);
    const smoothed = smoothEma(
      list.map((p) => p.value),
      weight,
    );
    list.forEach((p, i) => out.push({ ...p, value: smoothed[i] }));
  }
  return out;
}

/** Mean over seeds per (cell, arm, step), and the band where at least two seeds have a finite value. */
export function seedStats(points: readonly CurvePoint[], spread: Spread): { means: MeanRow[]; bands: BandRow[] } {
  const groups = new Map<string, { cell: string; arm: string; step: number; values: number[] }>();
  for (const p of points) {
    if (!Number.isFinite(p.value)) continue;
    const key = `${p.cell}\u0000${p.arm}\u0000${p.step}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { cell: p.cell, arm: p.arm, step: p.step, values: [] }));
    g.values.push(p.value);
  }
  const means: MeanRow[] = [];
  const bands: BandRow[] = [];
  for (const g of groups.values()) {
    const ci = meanConfidenceInterval(g.values, 0.95);
    means.push({ cell: g.cell, arm: g.arm, step: g.step, value: ci.mean, n: ci.n });
    if (spread === 'none' || ci.n < 2) continue;
    const lo = spread === 'std' ? ci.mean - ci.std : ci.lo;
    const hi = spread === 'std' ? ci.mean + ci.std : ci.hi;
    if (Number.isFinite(lo) && Number.isFinite(hi)) bands.push({ cell: g.cell, arm: g.arm, step: g.step, lo, hi, n: ci.n });
  }
  const order = (a: { step: number }, b: { step: number }) => a.step - b.step;
  return { means: means.sort(order), bands: bands.sort(order) };
}
