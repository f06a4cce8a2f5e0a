/**
 * The lab's findings as data: from a spec and its finished runs (the lines of results.jsonl) to
 * per-arm summaries, paired comparisons with their tests, a verdict per comparison and a status
 * per claim of the paper (docs/paper.md), plus the checks a referee asks for first: is the cell in
 * the regime the claim is about (premise), and was the baseline's learning rate reasonable.
 *
 * Pure, synchronous and browser-safe: no Node imports, no markup, no report prose (markdown.ts
 * words these findings for report.md, the lab page lays them out as HTML). The short `reason`
 * strings are one-line explanations a UI may show as they are.
 *
 * The rules are fixed in advance and stated in the report's Method section:
 * - every comparison is paired by seed (same initial weights and data order in both arms);
 * - a judged comparison gets a two-sided paired t-test and, where the spec pre-registers a margin
 *   for its measure, a TOST equivalence test; Holm's adjustment runs over all judged comparisons
 *   of the report (difference p-values as one family, equivalence p-values as another), and the
 *   verdict (stats.ts decideVerdict) uses the adjusted p-values;
 * - premise checks, baseline checks and reference comparisons are shown with raw p-values and
 *   are not findings, so they are not in the family.
 */
import type { ArmSpec, CellSpec, DataSpec, ExperimentSpec, MarginSpec, MetricPoint, ModelSpec, RunResult } from './types.js';
import { runKey } from './types.js';
import { median } from '../../runtime/timing.js';
import {
  classifyRegime,
  decideVerdict,
  holm,
  meanConfidenceInterval,
  minimumDetectableEffect,
  pairedTest,
  type Direction,
  type MeanInterval,
  type PairedTest,
  type RegimeResult,
  type Verdict,
  type VerdictResult,
} from './stats.js';

// ---------------------------------------------------------------------------------------------
// Measures
// ---------------------------------------------------------------------------------------------

/** Per-run quantities summarised from the metric points (see SPAN_OF). */
export type WindowMeasure = 'gdv' | 'gde' | 'bias2' | 'variance' | 'gradNorm' | 'distance' | 'gdvDropoutOn' | 'gdeDropoutOn';
export type Measure = 'finalTrainLoss' | 'testAccuracy' | WindowMeasure;

/**
 * Over which steps a run's metric points are summarised: the direction statistics early in
 * training (the paper's claim is about the early phase), gradient norm and distance over the whole
 * run (as the paper plots them).
 */
export type Span = 'final' | 'early-window' | 'whole-run';

export const SPAN_OF: Record<Measure, Span> = {
  finalTrainLoss: 'final',
  testAccuracy: 'final',
  gdv: 'early-window',
  gde: 'early-window',
  bias2: 'early-window',
  variance: 'early-window',
  gdvDropoutOn: 'early-window',
  gdeDropoutOn: 'early-window',
  gradNorm: 'whole-run',
  distance: 'whole-run',
};

export const WINDOW_MEASURES: WindowMeasure[] = ['gdv', 'gde', 'bias2', 'variance', 'gdvDropoutOn', 'gdeDropoutOn', 'gradNorm', 'distance'];

/**
 * A point's value of a measure. bias² is derived as 2·GDE − variance (= ‖mean u − ĝ/‖ĝ‖‖², the
 * decomposition's bias²) rather than read from the point: runs logged before bias² was defined
 * that way stored 2·GDE − GDV, while GDE and the plug-in variance mean the same in every run. So
 * the report's bias² and variance columns add up to 2·GDE by construction.
 */
export function pointValue(p: MetricPoint, key: WindowMeasure): number | undefined {
  if (key === 'bias2') return typeof p.gde === 'number' && typeof p.variance === 'number' ? 2 * p.gde - p.variance : undefined;
  const v = p[key];
  return typeof v === 'number' ? v : undefined;
}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export interface EarlyWindow {
  /** Points with 0 < step < `steps` form the early window (step 0 is the shared initialisation). */
  steps: number;
  basis: { kind: 'early-cutoff'; arm: string } | { kind: 'dense-span' } | { kind: 'first-sixth' };
  /** The same in words, e.g. "steps 1-119, before the early-dropout cutoff of arm early-linear". */
  source: string;
}

export interface ArmAnalysis {
  arm: ArmSpec;
  /** This arm's runs in this cell, by seed. */
  runs: RunResult[];
  /** Mean over seeds with the (1 − α) CI of the mean (not paired). */
  finalTrainLoss: MeanInterval;
  testAccuracy: MeanInterval;
  /** Paired against the cell's baseline arm, raw (absent for the baseline itself or without one). */
  vsBaseline?: { finalTrainLoss: PairedTest; testAccuracy: PairedTest };
  /** Per-seed summary of each measured analysis metric over its span (SPAN_OF). */
  window: Partial<Record<WindowMeasure, Map<number, number>>>;
}

export type Role = 'judged' | 'reference';
export type ComparisonVerdict = Verdict | 'not measurable';

/** One paired comparison: arm − comparator on one measure, over the seeds both have. */
export interface Comparison {
  claim: ClaimId;
  /** 'judged': a finding, in the Holm family; 'reference': shown beside it with raw p-values only. */
  role: Role;
  cell: string;
  /** The arm (for the same-weights diagnostic: the baseline arm measured with dropout on). */
  arm: string;
  /** Other arms whose values equal `arm`'s in every seed: the same measurement, counted once. */
  sameAs: string[];
  comparator: string;
  /** What the comparison is about when it is not two arms: 'dropout-on-vs-off' (same weights). */
  kind: 'arms' | 'dropout-on-vs-off';
  /** Drop rate of the dropout-on measurement (kind 'dropout-on-vs-off'). */
  diagnosticRate?: number;
  measure: Measure;
  span: Span;
  /** The side of 0 the paper predicts for arm − comparator. */
  expected: Direction;
  /** Paired test at level α: n, mean, (1 − α) CI, per-seed differences, p-values, TOST. */
  test: PairedTest;
  margin?: MarginSpec;
  /** Holm-adjusted p-values (judged comparisons only). */
  pAdjusted?: number;
  pEquivalenceAdjusted?: number;
  /** Minimum detectable effect (paired t, 80% power) at level `mdeAlpha` and the observed SD. */
  mde: number;
  mdeAlpha: number;
  verdict: { verdict: ComparisonVerdict; reason: string; smallerThanMargin?: boolean };
}

export type ClaimId = 'early-underfitting' | 'late-overfitting' | 'gdv-early' | 'gde-early' | 'dropout-same-weights' | 'grad-norm' | 'distance';

export const PAPER_CLAIMS: { id: ClaimId; statement: string }[] = [
  { id: 'early-underfitting', statement: 'Early dropout (or early stochastic depth) lowers the final training loss and raises the test accuracy of underfitting models.' },
  { id: 'late-overfitting', statement: 'Late dropout (or late stochastic depth) raises the test accuracy of overfitting models compared with standard dropout.' },
  { id: 'gdv-early', statement: 'Dropout lowers the gradient direction variance (GDV) early in training.' },
  { id: 'gde-early', statement: 'Dropout lowers the gradient direction error (GDE) early in training.' },
  { id: 'dropout-same-weights', statement: 'On the same weights, turning dropout on lowers GDV and GDE (the mechanism the paper offers).' },
  { id: 'grad-norm', statement: 'Dropout lowers the gradient norm over training.' },
  { id: 'distance', statement: 'Dropout moves the model further from its initialisation over training.' },
];

export type ClaimStatus = Verdict | 'mixed' | 'not tested' | 'not measurable';

export interface Claim {
  id: ClaimId;
  statement: string;
  status: ClaimStatus;
  /** Judged comparisons first, then reference ones. */
  comparisons: Comparison[];
  /** When nothing was judged: why (short). */
  notTested?: string;
}

export interface CellRegime extends RegimeResult {
  /** The standard arm used for the test. */
  arm: string;
  dTrainLoss: PairedTest;
  dTestAcc: PairedTest;
}

/** Where the regime test puts the cell against what the experiment assumes of it. */
export interface PremiseCheck {
  cell: string;
  needed: 'underfitting' | 'overfitting';
  /** 'holds': the regime test on this experiment's seeds finds the assumed regime. */
  status: 'holds' | 'not established' | 'not checked';
  regime?: CellRegime;
}

export type LrOutcome = 'baseline within margin' | 'baseline mistuned' | 'unclear';

export interface LrArmCheck {
  arm: string;
  lr: number;
  /** Paired alt − baseline per measure, with the outcome of the one-sided checks at level α. */
  finalTrainLoss: { test: PairedTest; outcome: LrOutcome };
  testAccuracy: { test: PairedTest; outcome: LrOutcome };
}

export interface LrCheck {
  cell: string;
  baselineLr: number;
  arms: LrArmCheck[];
  status: 'ok' | 'mistuned' | 'unclear';
}

export interface CellAnalysis {
  name: string;
  spec?: CellSpec;
  model: ModelSpec;
  data: DataSpec;
  /** Name of the no-dropout arm at the experiment's own learning rate, when there is one. */
  baseline?: string;
  arms: ArmAnalysis[];
  regime?: CellRegime;
  stepsPerEpoch?: number;
  window?: EarlyWindow;
}

export interface ExperimentAnalysis {
  spec: ExperimentSpec;
  alpha: number;
  cells: CellAnalysis[];
  /** Runs of this experiment after dropping other experiments' lines and duplicates. */
  runs: RunResult[];
  ignoredOtherExperiments: number;
  duplicatesDropped: number;
  expectedRuns: number;
  missingRuns: string[];
  /**
   * The regime the experiment is set in, read off its arms: early arms → an underfitting cell,
   * late arms only → an overfitting cell, neither → a regime finder.
   */
  intent?: 'underfitting' | 'overfitting';
  claims: Claim[];
  premises: PremiseCheck[];
  lrChecks: LrCheck[];
  /** Size of the Holm family (judged comparisons with a test) and of its equivalence part. */
  family: { size: number; equivalenceSize: number };
}

// ---------------------------------------------------------------------------------------------
// Per-run summaries
// ---------------------------------------------------------------------------------------------

function isDropping(arm: ArmSpec): boolean {
  return arm.mode !== 'none' && (arm.p ?? 0) > 0;
}

/** An arm that is the no-dropout baseline at another learning rate (the baseline LR check). */
function isLrArm(arm: ArmSpec, spec: ExperimentSpec): boolean {
  return arm.mode === 'none' && arm.lr !== undefined && arm.lr !== spec.lr;
}

function seedMap(runs: readonly RunResult[], pick: (r: RunResult) => number): Map<number, number> {
  return new Map(runs.map((r) => [r.seed, pick(r)]));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * The early window, one per cell so every arm is compared on the same steps: steps after 0 and
 * before the smallest cutoff of the early dropout arms (dropout is on in every dropout arm there);
 * without early arms, before the end of the dense-logging span of the metric schedule; failing
 * that, the first sixth of training (the paper's cutoff, 50 of 300 epochs).
 */
function earlyWindow(spec: ExperimentSpec, stepsPerEpoch: number | undefined, totalSteps: number | undefined): EarlyWindow | undefined {
  const cutoffs = spec.arms
    .filter((a) => a.regularizer === 'dropout' && a.mode === 'early' && isDropping(a) && a.cutoffEpochs !== undefined)
    .map((a) => ({ arm: a.name, steps: stepsPerEpoch === undefined ? NaN : Math.round(a.cutoffEpochs! * stepsPerEpoch) }))
    .filter((c) => c.steps > 0);
  const range = (steps: number) => (steps > 2 ? `steps 1-${steps - 1}` : steps === 2 ? 'step 1' : 'no step after 0');
  if (cutoffs.length > 0) {
    const min = cutoffs.reduce((a, b) => (b.steps < a.steps ? b : a));
    return { steps: min.steps, basis: { kind: 'early-cutoff', arm: min.arm }, source: `${range(min.steps)}, before the early-dropout cutoff of arm ${min.arm} (step ${min.steps})` };
  }
  if (spec.metrics && spec.metrics.denseUntil > 0) {
    const steps = spec.metrics.denseUntil;
    return { steps, basis: { kind: 'dense-span' }, source: `${range(steps)}, the dense-logging span of the metric schedule` };
  }
  if (totalSteps !== undefined && totalSteps > 0) {
    const steps = Math.ceil(totalSteps / 6);
    return { steps, basis: { kind: 'first-sixth' }, source: `${range(steps)}, the first sixth of training` };
  }
  return undefined;
}

/**
 * A run's value of an analysis metric over its span: over the early window the mean of its points
 * with 0 < step < window (evenly spaced there); over the whole run the time average (trapezoids
 * over the measured steps, so the dense early points do not outweigh the rest); undefined when no
 * point falls in the span.
 */
export function spanValue(metrics: readonly MetricPoint[], key: WindowMeasure, window: EarlyWindow | undefined): number | undefined {
  const pts: { step: number; v: number }[] = [];
  for (const p of metrics) {
    const v = pointValue(p, key);
    if (v !== undefined) pts.push({ step: p.step, v });
  }
  pts.sort((a, b) => a.step - b.step);
  if (SPAN_OF[key] === 'early-window') {
    if (!window) return undefined;
    const inside = pts.filter((p) => p.step > 0 && p.step < window.steps);
    if (inside.length === 0) return undefined;
    return inside.reduce((s, p) => s + p.v, 0) / inside.length;
  }
  if (pts.length === 0) return undefined;
  if (pts.length === 1) return pts[0].v;
  let area = 0;
  for (let i = 1; i < pts.length; i++) area += 0.5 * (pts[i].v + pts[i - 1].v) * (pts[i].step - pts[i - 1].step);
  const span = pts[pts.length - 1].step - pts[0].step;
  return span > 0 ? area / span : pts[0].v;
}

function cellNames(spec: ExperimentSpec, runs: readonly RunResult[]): string[] {
  const names = (spec.cells ?? []).map((c) => c.name);
  for (const r of runs) if (!names.includes(r.cell)) names.push(r.cell);
  return names;
}

function analyzeCell(spec: ExperimentSpec, alpha: number, name: string, runs: RunResult[]): CellAnalysis {
  const cellSpec = spec.cells?.find((c) => c.name === name);
  const model = cellSpec?.model ?? spec.model;
  const data = { ...spec.data, ...(cellSpec?.data ?? {}) } as DataSpec;
  const baseline = spec.arms.find((a) => a.mode === 'none' && !isLrArm(a, spec))?.name;
  const runsOf = (arm: string) => runs.filter((r) => r.arm === arm).sort((a, b) => a.seed - b.seed);
  const baseRuns = baseline ? runsOf(baseline) : [];

  const steps = runs.map((r) => r.steps).filter((s) => s > 0);
  const totalSteps = steps.length ? median(steps) : undefined;
  const stepsPerEpoch = totalSteps !== undefined && spec.epochs > 0 ? totalSteps / spec.epochs : undefined;
  const hasMetrics = runs.some((r) => r.metrics.length > 0);
  const window = hasMetrics ? earlyWindow(spec, stepsPerEpoch, totalSteps) : undefined;

  const arms: ArmAnalysis[] = spec.arms.map((arm) => {
    const armRuns = runsOf(arm.name);
    const loss = seedMap(armRuns, (r) => r.finalTrainLoss);
    const acc = seedMap(armRuns, (r) => r.testAccuracy);
    const summaries: ArmAnalysis['window'] = {};
    if (hasMetrics) {
      for (const key of WINDOW_MEASURES) {
        const m = new Map<number, number>();
        for (const r of armRuns) {
          const v = spanValue(r.metrics, key, window);
          if (v !== undefined) m.set(r.seed, v);
        }
        if (m.size > 0) summaries[key] = m;
      }
    }
    const a: ArmAnalysis = {
      arm,
      runs: armRuns,
      finalTrainLoss: meanConfidenceInterval([...loss.values()], 1 - alpha),
      testAccuracy: meanConfidenceInterval([...acc.values()], 1 - alpha),
      window: summaries,
    };
    if (baseline && arm.name !== baseline) {
      a.vsBaseline = {
        finalTrainLoss: pairedTest(loss, seedMap(baseRuns, (r) => r.finalTrainLoss), 'decrease', { alpha, margin: spec.margins?.finalTrainLoss.value }),
        testAccuracy: pairedTest(acc, seedMap(baseRuns, (r) => r.testAccuracy), 'increase', { alpha, margin: spec.margins?.testAccuracy.value }),
      };
    }
    return a;
  });

  // The regime test uses standard dropout (or, without it, standard stochastic depth).
  const standard =
    arms.find((a) => a.arm.mode === 'standard' && a.arm.regularizer === 'dropout' && isDropping(a.arm)) ??
    arms.find((a) => a.arm.mode === 'standard' && isDropping(a.arm));
  let regime: CellRegime | undefined;
  if (standard?.vsBaseline && standard.runs.length > 0 && baseRuns.length > 0) {
    const { finalTrainLoss: dTrainLoss, testAccuracy: dTestAcc } = standard.vsBaseline;
    regime = { ...classifyRegime(dTrainLoss, dTestAcc), arm: standard.arm.name, dTrainLoss, dTestAcc };
  }
  return { name, spec: cellSpec, model, data, baseline, arms, regime, stepsPerEpoch, window };
}

// ---------------------------------------------------------------------------------------------
// Comparisons and claims
// ---------------------------------------------------------------------------------------------

interface Draft {
  claim: ClaimId;
  role: Role;
  cell: string;
  arm: string;
  sameAs?: string[];
  comparator: string;
  kind?: Comparison['kind'];
  diagnosticRate?: number;
  measure: Measure;
  expected: Direction;
  values: ReadonlyMap<number, number>;
  comparatorValues: ReadonlyMap<number, number>;
  notMeasurable?: string;
}

function sameValues(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): boolean {
  if (a.size !== b.size || a.size === 0) return false;
  for (const [seed, v] of a) if (!Object.is(b.get(seed), v)) return false;
  return true;
}

function marginOf(spec: ExperimentSpec, measure: Measure): MarginSpec | undefined {
  if (measure === 'finalTrainLoss') return spec.margins?.finalTrainLoss;
  if (measure === 'testAccuracy') return spec.margins?.testAccuracy;
  return undefined;
}

/**
 * Drafts of arm-vs-comparator comparisons on one measure, folding arms whose values equal another
 * arm's in every seed into that one (e.g. standard and early dropout before the cutoff are the
 * same runs when the early schedule is constant: one measurement, not two comparisons).
 */
function armDrafts(
  claim: ClaimId,
  role: Role,
  cell: CellAnalysis,
  arms: readonly ArmAnalysis[],
  comparator: ArmAnalysis,
  measure: Measure,
  expected: Direction,
  valuesOf: (a: ArmAnalysis) => ReadonlyMap<number, number> | undefined,
): Draft[] {
  const out: Draft[] = [];
  const base = valuesOf(comparator);
  if (!base) return out;
  for (const arm of arms) {
    const values = valuesOf(arm);
    if (!values) continue;
    const twin = out.find((d) => sameValues(d.values, values));
    if (twin) {
      twin.sameAs!.push(arm.arm.name);
      continue;
    }
    out.push({ claim, role, cell: cell.name, arm: arm.arm.name, sameAs: [], comparator: comparator.arm.name, measure, expected, values, comparatorValues: base });
  }
  return out;
}

function windowValues(key: WindowMeasure) {
  return (a: ArmAnalysis) => a.window[key];
}

function finalValues(measure: 'finalTrainLoss' | 'testAccuracy') {
  return (a: ArmAnalysis) => (a.runs.length ? seedMap(a.runs, (r) => r[measure]) : undefined);
}

/** The drafts of one claim in one cell. */
function claimDrafts(id: ClaimId, cell: CellAnalysis, spec: ExperimentSpec): Draft[] {
  const base = cell.arms.find((x) => x.arm.name === cell.baseline);
  if (!base || base.runs.length === 0) return [];
  const withRuns = (pred: (a: ArmSpec) => boolean) => cell.arms.filter((x) => pred(x.arm) && x.runs.length > 0 && x.arm.name !== cell.baseline);
  const dropoutArms = withRuns((a) => a.regularizer === 'dropout' && (a.mode === 'standard' || a.mode === 'early') && isDropping(a));
  switch (id) {
    case 'early-underfitting': {
      const early = withRuns((a) => a.mode === 'early' && isDropping(a));
      return [
        ...armDrafts(id, 'judged', cell, early, base, 'finalTrainLoss', 'decrease', finalValues('finalTrainLoss')),
        ...armDrafts(id, 'judged', cell, early, base, 'testAccuracy', 'increase', finalValues('testAccuracy')),
      ];
    }
    case 'late-overfitting': {
      const out: Draft[] = [];
      for (const late of withRuns((a) => a.mode === 'late' && isDropping(a))) {
        // The paper's comparison: late against standard of the same regulariser.
        const standard = cell.arms.find((x) => x.arm.mode === 'standard' && x.arm.regularizer === late.arm.regularizer && isDropping(x.arm) && x.runs.length > 0);
        if (standard) out.push(...armDrafts(id, 'judged', cell, [late], standard, 'testAccuracy', 'increase', finalValues('testAccuracy')));
        // Against no dropout: shown, not judged (in a cell found overfitting it is nearly implied), unless there is no standard arm.
        out.push(...armDrafts(id, standard ? 'reference' : 'judged', cell, [late], base, 'testAccuracy', 'increase', finalValues('testAccuracy')));
      }
      return out;
    }
    case 'gdv-early':
    case 'gde-early':
    case 'grad-norm':
    case 'distance': {
      const key: WindowMeasure = id === 'gdv-early' ? 'gdv' : id === 'gde-early' ? 'gde' : id === 'grad-norm' ? 'gradNorm' : 'distance';
      const expected: Direction = key === 'distance' ? 'increase' : 'decrease';
      const measured = cell.arms.some((x) => x.runs.some((r) => r.metrics.some((p) => pointValue(p, key) !== undefined)));
      const drafts = armDrafts(id, 'judged', cell, dropoutArms, base, key, expected, windowValues(key));
      if (drafts.length === 0 && measured && dropoutArms.length > 0 && SPAN_OF[key] === 'early-window') {
        return [notMeasurableDraft(id, cell, dropoutArms.map((x) => x.arm.name).join(', '), key, expected)];
      }
      return drafts;
    }
    case 'dropout-same-weights': {
      const out: Draft[] = [];
      for (const [on, off] of [['gdvDropoutOn', 'gdv'], ['gdeDropoutOn', 'gde']] as const) {
        const measured = base.runs.some((r) => r.metrics.some((p) => pointValue(p, on) !== undefined));
        if (!measured) continue;
        const rate = base.runs.flatMap((r) => r.metrics).find((p) => p.diagnosticDropRate !== undefined)?.diagnosticDropRate ?? spec.metrics?.dropoutDiagnostic?.p;
        const values = base.window[on];
        const offValues = base.window[off];
        const common = { claim: id, role: 'judged' as const, cell: cell.name, arm: base.arm.name, sameAs: [], comparator: base.arm.name, kind: 'dropout-on-vs-off' as const, diagnosticRate: rate, measure: off, expected: 'decrease' as const };
        out.push(values && offValues ? { ...common, values, comparatorValues: offValues } : { ...common, values: new Map(), comparatorValues: new Map(), notMeasurable: notMeasurableReason(cell) });
      }
      return out;
    }
  }
}

function notMeasurableReason(cell: CellAnalysis): string {
  const w = cell.window;
  return w
    ? `no measurement in the early window (${w.source}): at step 0 every arm has the same initial weights, so there is nothing to compare`
    : 'no early window could be set (no metric points)';
}

function notMeasurableDraft(claim: ClaimId, cell: CellAnalysis, arm: string, measure: Measure, expected: Direction): Draft {
  return { claim, role: 'judged', cell: cell.name, arm, sameAs: [], comparator: cell.baseline!, measure, expected, values: new Map(), comparatorValues: new Map(), notMeasurable: notMeasurableReason(cell) };
}

/** Tests a draft at level α (raw); verdicts of judged comparisons are set after Holm. */
function testDraft(d: Draft, spec: ExperimentSpec, alpha: number): Comparison {
  const margin = marginOf(spec, d.measure);
  const test = pairedTest(d.values, d.comparatorValues, d.expected, { alpha, margin: margin?.value });
  const comparison: Comparison = {
    claim: d.claim,
    role: d.role,
    cell: d.cell,
    arm: d.arm,
    sameAs: d.sameAs ?? [],
    comparator: d.comparator,
    kind: d.kind ?? 'arms',
    measure: d.measure,
    span: SPAN_OF[d.measure],
    expected: d.expected,
    test,
    mde: NaN,
    mdeAlpha: alpha,
    verdict: d.notMeasurable ? { verdict: 'not measurable', reason: d.notMeasurable } : decideVerdict({ n: test.n, mean: test.mean, pDifference: test.pDifference, pEquivalence: test.equivalence?.p }, d.expected, alpha),
  };
  if (d.diagnosticRate !== undefined) comparison.diagnosticRate = d.diagnosticRate;
  if (margin) comparison.margin = margin;
  return comparison;
}

function claimStatus(comparisons: readonly Comparison[]): ClaimStatus {
  const judged = comparisons.filter((c) => c.role === 'judged');
  if (judged.length === 0) return 'not tested';
  const vs = new Set(judged.map((c) => c.verdict.verdict));
  if (vs.size === 1) return [...vs][0];
  vs.delete('not measurable');
  return vs.size === 1 ? [...vs][0] : 'mixed';
}

function notTestedReason(id: ClaimId, spec: ExperimentSpec, cells: readonly CellAnalysis[], runs: readonly RunResult[]): string {
  if (!cells.some((c) => c.baseline)) return 'it has no no-dropout arm to compare with';
  switch (id) {
    case 'early-underfitting':
      return 'it has no early-mode arm with finished runs';
    case 'late-overfitting':
      return 'it has no late-mode arm with finished runs';
    case 'dropout-same-weights':
      return spec.metrics?.dropoutDiagnostic ? 'the no-dropout arm has no diagnostic points yet' : 'the dropout on/off diagnostic was not enabled: metrics.dropoutDiagnostic';
    default: {
      const key: WindowMeasure = id === 'gdv-early' ? 'gdv' : id === 'gde-early' ? 'gde' : id === 'grad-norm' ? 'gradNorm' : 'distance';
      const measured = runs.some((r) => r.metrics.some((p) => pointValue(p, key) !== undefined));
      return measured ? 'no dropout arm (standard or early) with measurements to compare against the no-dropout arm' : 'the metric was not measured';
    }
  }
}

/** The baseline learning-rate check of one measure: is the alternative lr better beyond the margin? */
function lrOutcome(test: PairedTest, margin: number | undefined, better: Direction, alpha: number): LrOutcome {
  if (test.n < 2 || !Number.isFinite(test.mean) || margin === undefined) return 'unclear';
  // The alternative's advantage over the baseline, bounded by the one-sided (1 − α) bounds: the (1 − 2α) CI.
  const ci = meanConfidenceInterval(test.diffs.map((d) => d.diff), 1 - 2 * alpha);
  const [advLo, advHi] = better === 'increase' ? [ci.lo, ci.hi] : [-ci.hi, -ci.lo];
  if (advHi < margin) return 'baseline within margin';
  if (advLo > margin) return 'baseline mistuned';
  return 'unclear';
}

function lrChecks(spec: ExperimentSpec, cells: readonly CellAnalysis[], alpha: number): LrCheck[] {
  const out: LrCheck[] = [];
  for (const cell of cells) {
    const base = cell.arms.find((x) => x.arm.name === cell.baseline);
    const alts = cell.arms.filter((x) => isLrArm(x.arm, spec) && x.runs.length > 0);
    if (!base || base.runs.length === 0 || alts.length === 0) continue;
    const arms: LrArmCheck[] = alts.map((x) => {
      const loss = pairedTest(seedMap(x.runs, (r) => r.finalTrainLoss), seedMap(base.runs, (r) => r.finalTrainLoss), 'decrease', { alpha, margin: spec.margins?.finalTrainLoss.value });
      const acc = pairedTest(seedMap(x.runs, (r) => r.testAccuracy), seedMap(base.runs, (r) => r.testAccuracy), 'increase', { alpha, margin: spec.margins?.testAccuracy.value });
      return {
        arm: x.arm.name,
        lr: x.arm.lr!,
        finalTrainLoss: { test: loss, outcome: lrOutcome(loss, spec.margins?.finalTrainLoss.value, 'decrease', alpha) },
        testAccuracy: { test: acc, outcome: lrOutcome(acc, spec.margins?.testAccuracy.value, 'increase', alpha) },
      };
    });
    const outcomes = arms.flatMap((a) => [a.finalTrainLoss.outcome, a.testAccuracy.outcome]);
    const status = outcomes.includes('baseline mistuned') ? 'mistuned' : outcomes.every((o) => o === 'baseline within margin') ? 'ok' : 'unclear';
    out.push({ cell: cell.name, baselineLr: base.arm.lr ?? spec.lr, arms, status });
  }
  return out;
}

/** Everything the report states, computed from the spec and the results (pure, synchronous). */
export function analyzeExperiment(spec: ExperimentSpec, results: readonly RunResult[]): ExperimentAnalysis {
  const alpha = spec.alpha ?? 0.05;
  const own = results.filter((r) => r.experiment === spec.name);
  // A re-run may append a run twice; the last line wins.
  const byKey = new Map<string, RunResult>();
  for (const r of own) byKey.set(runKey(r), r);
  const runs = [...byKey.values()];
  const names = cellNames(spec, runs);
  const cells = names.map((n) =>
    analyzeCell(
      spec,
      alpha,
      n,
      runs.filter((r) => r.cell === n),
    ),
  );
  const expectedCells = spec.cells?.length ? spec.cells.map((c) => c.name) : names;
  const missingRuns: string[] = [];
  for (const cell of expectedCells) {
    for (const arm of spec.arms) {
      for (const seed of spec.seeds) {
        const key = runKey({ cell, arm: arm.name, seed });
        if (!byKey.has(key)) missingRuns.push(key);
      }
    }
  }
  const hasEarly = spec.arms.some((a) => a.mode === 'early' && isDropping(a));
  const hasLate = spec.arms.some((a) => a.mode === 'late' && isDropping(a));
  const intent = hasEarly ? 'underfitting' : hasLate ? 'overfitting' : undefined;

  // All comparisons, then Holm over the judged ones that have a test.
  const comparisons = PAPER_CLAIMS.flatMap((c) => cells.flatMap((cell) => claimDrafts(c.id, cell, spec))).map((d) => testDraft(d, spec, alpha));
  const family = comparisons.filter((c) => c.role === 'judged' && c.verdict.verdict !== 'not measurable');
  const pAdj = holm(family.map((c) => c.test.pDifference));
  const eqFamily = family.filter((c) => c.test.equivalence);
  const eqAdj = holm(eqFamily.map((c) => c.test.equivalence!.p));
  family.forEach((c, i) => {
    c.pAdjusted = pAdj[i];
  });
  eqFamily.forEach((c, i) => {
    c.pEquivalenceAdjusted = eqAdj[i];
  });
  const k = Math.max(1, family.length);
  for (const c of comparisons) {
    const judged = c.role === 'judged' && c.verdict.verdict !== 'not measurable';
    // MDE at α/k for judged comparisons (the level of Holm's first step: a conservative figure), at α otherwise.
    c.mdeAlpha = judged ? alpha / k : alpha;
    c.mde = minimumDetectableEffect({ sd: c.test.std, n: c.test.n, alpha: c.mdeAlpha });
    if (judged) {
      const v: VerdictResult = decideVerdict({ n: c.test.n, mean: c.test.mean, pDifference: c.pAdjusted!, pEquivalence: c.pEquivalenceAdjusted }, c.expected, alpha);
      c.verdict = v;
    }
  }
  const claims: Claim[] = PAPER_CLAIMS.map(({ id, statement }) => {
    const mine = comparisons.filter((c) => c.claim === id).sort((a, b) => (a.role === b.role ? 0 : a.role === 'judged' ? -1 : 1));
    const claim: Claim = { id, statement, status: claimStatus(mine), comparisons: mine };
    if (claim.status === 'not tested') claim.notTested = notTestedReason(id, spec, cells, runs);
    return claim;
  });

  const premises: PremiseCheck[] = intent
    ? cells
        .filter((c) => c.arms.some((x) => x.runs.length > 0))
        .map((c) => ({
          cell: c.name,
          needed: intent,
          status: !c.regime ? 'not checked' : c.regime.regime === intent ? 'holds' : 'not established',
          ...(c.regime ? { regime: c.regime } : {}),
        }))
    : [];

  return {
    spec,
    alpha,
    cells,
    runs,
    ignoredOtherExperiments: results.length - own.length,
    duplicatesDropped: own.length - runs.length,
    expectedRuns: Math.max(1, expectedCells.length) * spec.arms.length * spec.seeds.length,
    missingRuns,
    intent,
    claims,
    premises,
    lrChecks: lrChecks(spec, cells, alpha),
    family: { size: family.length, equivalenceSize: eqFamily.length },
  };
}
