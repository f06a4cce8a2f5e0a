/**
 * Power, planned before a run: for every comparison an experiment will judge, the minimum
 * detectable effect (MDE) of the paired t-test at the spec's seed count, from the spread of paired
 * differences in a pilot (a results folder) or, without one, a stated default, beside the effect the
 * paper reports. `--plan` prints it (plan.ts); the report prints the MDE it achieved beside each verdict.
 *
 * Comparisons (per cell, paired by seed): early arms against no dropout (the paper's main claim);
 * late arms against standard dropout (the paper's comparison; against none too, shown only);
 * standard against none (the regime premise); the no-dropout arm at another learning rate against
 * the recipe's (the baseline check). Browser-safe, no I/O.
 */
import { minimumDetectableEffect, sampleStd } from './stats.js';
import { resolveCells } from './spec.js';
import type { ArmSpec, ExperimentSpec, RunResult } from './types.js';

/** The judged result fields, in their units: accuracy as a fraction, loss in nats. */
export const POWER_FIELDS = ['testAccuracy', 'finalTrainLoss'] as const;
export type PowerField = (typeof POWER_FIELDS)[number];

export type ComparisonRole = 'claim' | 'premise' | 'baseline check' | 'shown';

/** An effect on test accuracy the paper reports, and where (docs/paper.md has the tables). */
export interface PaperEffect {
  testAccuracy: number;
  source: string;
}

export const PAPER_EFFECTS = {
  early: {
    testAccuracy: 0.003,
    source: 'early dropout / early s.d. on ImageNet-1K: +0.2 to +0.5 pp top-1, about 0.3 pp (ViT-T 73.9 -> 74.3, Mixer-S 71.0 -> 71.3, Swin-F 74.3 -> 74.7, ConvNeXt-F 76.1 -> 76.3; docs/paper.md)',
  },
  late: {
    testAccuracy: 0.006,
    source: 'late s.d. against standard s.d. on ImageNet-1K: +0.6 to +0.7 pp top-1 (Mixer-B 78.0 -> 78.6, ViT-B 81.6 -> 82.3; docs/paper.md)',
  },
} as const satisfies Record<string, PaperEffect>;

export interface PlannedComparison {
  cell: string;
  arm: string;
  comparator: string;
  role: ComparisonRole;
  /** Present where the paper reports a size for this comparison. */
  paperEffect?: PaperEffect;
}

/** The baseline of a spec: the no-dropout arm at the recipe's learning rate. */
function baselineArm(spec: ExperimentSpec): ArmSpec | undefined {
  return spec.arms.find((a) => a.mode === 'none' && (a.lr === undefined || a.lr === spec.lr));
}

/** The comparisons the report judges or shows (see the module comment), per cell. */
export function plannedComparisons(spec: ExperimentSpec): PlannedComparison[] {
  const base = baselineArm(spec);
  const standard = spec.arms.find((a) => a.mode === 'standard' && a.regularizer === 'dropout' && (a.lr === undefined || a.lr === spec.lr));
  const out: PlannedComparison[] = [];
  for (const cell of resolveCells(spec)) {
    for (const arm of spec.arms) {
      if (arm === base || !base) continue;
      const vs = (comparator: ArmSpec, role: ComparisonRole, paperEffect?: PaperEffect) =>
        out.push({ cell: cell.name, arm: arm.name, comparator: comparator.name, role, ...(paperEffect ? { paperEffect } : {}) });
      if (arm.mode === 'none') vs(base, 'baseline check');
      else if (arm.mode === 'standard') vs(base, 'premise');
      else if (arm.mode === 'early') vs(base, 'claim', PAPER_EFFECTS.early);
      else if (arm.mode === 'late') {
        if (standard && standard !== arm) {
          vs(standard, 'claim', PAPER_EFFECTS.late);
          vs(base, 'shown');
        } else vs(base, 'claim', PAPER_EFFECTS.late);
      }
    }
  }
  return out;
}

/** A standard deviation of paired differences and where it comes from. */
export interface SdEstimate {
  sd: number;
  source: string;
}

/**
 * The default paired-difference SDs when no pilot is given. Measured, not guessed, but on another
 * model and adapter: the ten paired seeds (100-109) of the CPU preset cpu-early (a 32-wide MLP on
 * SwiftShader), standard − none (0.22 pp, 0.0050 nats), the larger-spread of its two comparisons in
 * accuracy and loss alike (an arm that differs from the baseline at every step; early-linear − none,
 * which differs only before the cutoff: 0.19 pp, 0.0027 nats). No ViT run exists yet: replace them
 * with a pilot of the preset itself (`--pilot DIR`) once one does; the GPU presets' seed counts
 * leave room for a ViT spreading more (early-dropout's 16 seeds reach 0.3 pp up to an SD of about 0.4 pp).
 */
const DEFAULT_SOURCE = 'default: standard - none over the 10 paired seeds (100-109) of docs/results/cpu-early/results.jsonl (32-wide MLP, SwiftShader), not a ViT; use --pilot DIR once a pilot of this preset exists';
export const DEFAULT_PAIRED_SD: Record<PowerField, SdEstimate> = {
  testAccuracy: { sd: 0.0022, source: DEFAULT_SOURCE },
  finalTrainLoss: { sd: 0.005, source: DEFAULT_SOURCE },
};

/** Paired-difference SDs read from a pilot's results, by comparison. */
export class PilotSds {
  /** key `cell/arm/comparator` -> field -> { sd, n }. */
  private readonly byKey = new Map<string, Map<PowerField, { sd: number; n: number }>>();

  constructor(
    results: readonly RunResult[],
    /** Where the results came from, for the source line ("pilot reports/x"). */
    readonly name: string,
  ) {
    const cells = new Map<string, Map<string, Map<number, RunResult>>>();
    for (const r of results) {
      const arms = cells.get(r.cell) ?? new Map<string, Map<number, RunResult>>();
      cells.set(r.cell, arms);
      const seeds = arms.get(r.arm) ?? new Map<number, RunResult>();
      arms.set(r.arm, seeds);
      seeds.set(r.seed, r);
    }
    for (const [cell, arms] of cells) {
      for (const [arm, seeds] of arms) {
        for (const [comparator, base] of arms) {
          if (comparator === arm) continue;
          const fields = new Map<PowerField, { sd: number; n: number }>();
          for (const field of POWER_FIELDS) {
            const diffs: number[] = [];
            for (const [seed, r] of seeds) {
              const b = base.get(seed);
              if (b) diffs.push(r[field] - b[field]);
            }
            if (diffs.length >= PilotSds.MIN_PAIRS) fields.set(field, { sd: sampleStd(diffs), n: diffs.length });
          }
          if (fields.size) this.byKey.set(`${cell}/${arm}/${comparator}`, fields);
        }
      }
    }
  }

  /** Pairs a pilot comparison needs before its SD is used (two give an SD, but one that is mostly noise). */
  static readonly MIN_PAIRS = 3;

  /** The pilot's SD for this comparison (same cell; else the same arms in another cell), or null. */
  lookup(c: Pick<PlannedComparison, 'cell' | 'arm' | 'comparator'>, field: PowerField): SdEstimate | null {
    const exact = this.byKey.get(`${c.cell}/${c.arm}/${c.comparator}`)?.get(field);
    if (exact) return { sd: exact.sd, source: `pilot ${this.name}: ${exact.n} pairs` };
    for (const [key, fields] of this.byKey) {
      const [cell, arm, comparator] = key.split('/');
      const hit = arm === c.arm && comparator === c.comparator ? fields.get(field) : undefined;
      if (hit) return { sd: hit.sd, source: `pilot ${this.name}, cell ${cell}: ${hit.n} pairs` };
    }
    return null;
  }
}

export interface PowerRow extends PlannedComparison {
  field: PowerField;
  n: number;
  alpha: number;
  power: number;
  sd: SdEstimate;
  /** Minimum detectable effect (field units); NaN when it cannot be computed (n < 2, no SD). */
  mde: number;
  /** The spec's equivalence margin for this field, if it has one. */
  margin?: number;
  /** Seeds needed for an MDE no larger than the paper's effect (accuracy rows with one); null beyond 1000. */
  seedsForPaperEffect?: number | null;
}

/** Power of a paired t-test: two-sided level alpha (the spec's, default 0.05), power 0.8. */
export const PLANNED_POWER = 0.8;

/** Smallest seed count whose MDE is at most `target`, or null when over `max`. */
export function seedsForEffect(sd: number, target: number, alpha: number, power = PLANNED_POWER, max = 1000): number | null {
  if (!(sd >= 0) || !(target > 0)) return null;
  for (let n = 2; n <= max; n++) if (minimumDetectableEffect({ sd, n, alpha, power }) <= target) return n;
  return null;
}

/** MDE of every planned comparison and field at the spec's seed count. */
export function powerTable(spec: ExperimentSpec, pilot?: PilotSds | null): PowerRow[] {
  const alpha = spec.alpha ?? 0.05;
  const n = spec.seeds.length;
  const rows: PowerRow[] = [];
  for (const c of plannedComparisons(spec)) {
    for (const field of POWER_FIELDS) {
      const sd = pilot?.lookup(c, field) ?? DEFAULT_PAIRED_SD[field];
      const row: PowerRow = { ...c, field, n, alpha, power: PLANNED_POWER, sd, mde: minimumDetectableEffect({ sd: sd.sd, n, alpha, power: PLANNED_POWER }) };
      const margin = spec.margins?.[field]?.value;
      if (margin !== undefined) row.margin = margin;
      if (field === 'testAccuracy' && c.paperEffect) row.seedsForPaperEffect = seedsForEffect(sd.sd, c.paperEffect.testAccuracy, alpha);
      rows.push(row);
    }
  }
  return rows;
}
