/**
 * The experiment report: from a spec and its finished runs (results.jsonl lines) to `report.md`
 * plus SVG figures. Three layers:
 *
 *   analyzeExperiment(spec, results)      pure, synchronous: summaries, paired comparisons against
 *                                         the no-dropout arm, the regime test, the claim verdicts;
 *   renderReport(spec, results, options)  the markdown and the SVG strings (browser-safe; async
 *                                         only because Vega renders asynchronously);
 *   writeReport(spec, results, dir, opts) Node: writes report.md and the SVGs into `dir`.
 *
 * Nothing here is tuned to a result: the decision rules (stats.ts verdictOf / classifyRegime, the
 * early window below) are fixed in advance and printed in the report's Method section.
 */
import type { ArmSpec, CellSpec, DataSpec, ExperimentSpec, MetricPoint, ModelSpec, RunResult } from './types.js';
import { runKey } from './types.js';
import {
  classifyRegime,
  comparePaired,
  meanConfidenceInterval,
  verdictOf,
  type Direction,
  type MeanInterval,
  type PairedComparison,
  type RegimeResult,
  type Verdict,
  type VerdictResult,
} from './stats.js';
import { armPalette, curveSpec, intervalSpec, renderSvg, type ArmPalette, type CurveRow, type IntervalRow, type PointRow, type StepMarker } from './plots.js';

export interface ReportOptions {
  /** The GPU adapter that produced the runs (printed in the header). */
  adapter: string;
  /** The reduced `--quick` variant of the preset. */
  quick?: boolean;
  /** Date printed in the header (default: today, YYYY-MM-DD). */
  date?: string;
}

export interface RenderedReport {
  markdown: string;
  /** SVG figures by file name (relative to report.md, which links them). */
  plots: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Measures
// ---------------------------------------------------------------------------------------------

/** Per-run quantities measured over the early window (see earlyWindow). */
export type WindowMeasure = 'gdv' | 'gde' | 'bias2' | 'variance' | 'gradNorm' | 'distance';
export type Measure = 'finalTrainLoss' | 'testAccuracy' | WindowMeasure;

const MEASURE_LABEL: Record<Measure, string> = {
  finalTrainLoss: 'final training loss',
  testAccuracy: 'test accuracy',
  gdv: 'gradient direction variance (GDV)',
  gde: 'gradient direction error (GDE)',
  bias2: 'bias² (2·GDE − GDV)',
  variance: 'variance (1 − ‖mean u‖²)',
  gradNorm: 'gradient norm',
  distance: 'model distance ‖θ − θ₀‖',
};

const WINDOW_MEASURES: WindowMeasure[] = ['gdv', 'gde', 'bias2', 'variance', 'gradNorm', 'distance'];

// ---------------------------------------------------------------------------------------------
// Analysis (pure)
// ---------------------------------------------------------------------------------------------

export interface ArmAnalysis {
  arm: ArmSpec;
  /** This arm's runs in this cell, by seed. */
  runs: RunResult[];
  /** Mean over seeds with the CI of the mean (not paired). */
  finalTrainLoss: MeanInterval;
  testAccuracy: MeanInterval;
  /** Paired against the cell's baseline arm (absent for the baseline itself or without one). */
  vsBaseline?: { finalTrainLoss: PairedComparison; testAccuracy: PairedComparison };
  /** Per-seed early-window values of the analysis metrics (only the measured ones). */
  window: Partial<Record<WindowMeasure, Map<number, number>>>;
  windowVsBaseline: Partial<Record<WindowMeasure, PairedComparison>>;
}

export interface EarlyWindow {
  /** Metric points with step < `steps` form the early window. */
  steps: number;
  /** Why this window, in words. */
  source: string;
}

export interface CellRegime extends RegimeResult {
  /** The standard arm used for the test. */
  arm: string;
  dTrainLoss: PairedComparison;
  dTestAcc: PairedComparison;
}

export interface CellAnalysis {
  name: string;
  spec?: CellSpec;
  model: ModelSpec;
  data: DataSpec;
  /** Name of the no-dropout arm (mode 'none'), when the experiment has one. */
  baseline?: string;
  arms: ArmAnalysis[];
  regime?: CellRegime;
  stepsPerEpoch?: number;
  window?: EarlyWindow;
}

export type ClaimId =
  | 'early-underfitting'
  | 'standard-hurts-underfitting'
  | 'late-overfitting'
  | 'gdv-early'
  | 'gde-early'
  | 'grad-norm'
  | 'distance';

export const PAPER_CLAIMS: { id: ClaimId; statement: string }[] = [
  { id: 'early-underfitting', statement: 'Early dropout (or early stochastic depth) lowers the final training loss and raises the test accuracy of underfitting models.' },
  { id: 'standard-hurts-underfitting', statement: 'Standard dropout hurts underfitting models (the regime test: a model is underfitting if standard dropout makes it worse).' },
  { id: 'late-overfitting', statement: 'Late dropout (or late stochastic depth) helps overfitting models (higher test accuracy).' },
  { id: 'gdv-early', statement: 'Dropout lowers the gradient direction variance (GDV) early in training.' },
  { id: 'gde-early', statement: 'Dropout lowers the gradient direction error (GDE) early in training.' },
  { id: 'grad-norm', statement: 'Dropout lowers the gradient norm.' },
  { id: 'distance', statement: 'Dropout increases the distance of the model from its initialisation.' },
];

/** One paired comparison judged against the paper's prediction. */
export interface Finding {
  cell: string;
  arm: string;
  baseline: string;
  measure: Measure;
  expected: Direction;
  comparison: PairedComparison;
  verdict: VerdictResult;
}

export type ClaimStatus = Verdict | 'mixed' | 'not tested' | 'located';

export interface ClaimReport {
  id: ClaimId;
  statement: string;
  status: ClaimStatus;
  /** One-line outcome in words. */
  summary: string;
  findings: Finding[];
  /** Sentences with the numbers behind the outcome (markdown). */
  lines: string[];
}

export interface ExperimentAnalysis {
  spec: ExperimentSpec;
  cells: CellAnalysis[];
  /** Runs of this experiment after dropping other experiments' lines and duplicates. */
  runs: RunResult[];
  ignoredOtherExperiments: number;
  duplicatesDropped: number;
  expectedRuns: number;
  missingRuns: string[];
  /**
   * The regime the experiment is set in, read off its arms: early arms → an underfitting cell
   * (presets 2, 3, 5), late arms only → an overfitting cell (preset 4), neither → the regime finder.
   */
  intent?: 'underfitting' | 'overfitting';
  claims: ClaimReport[];
}

function isDropping(arm: ArmSpec): boolean {
  return arm.mode !== 'none' && (arm.p ?? 0) > 0;
}

function seedMap(runs: readonly RunResult[], pick: (r: RunResult) => number): Map<number, number> {
  return new Map(runs.map((r) => [r.seed, pick(r)]));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
}

/**
 * The "early in training" window for the analysis claims, one per cell so every arm is compared
 * on the same steps: up to the smallest cutoff of the early dropout arms (where dropout is on in
 * every dropout arm); without early arms, the dense-logging span of the metric schedule (the part
 * of training the preset marks as early); failing that, the first sixth of training (the paper's
 * cutoff, 50 of 300 epochs).
 */
function earlyWindow(spec: ExperimentSpec, stepsPerEpoch: number | undefined, totalSteps: number | undefined): EarlyWindow | undefined {
  const cutoffs = spec.arms
    .filter((a) => a.regularizer === 'dropout' && a.mode === 'early' && isDropping(a) && a.cutoffEpochs !== undefined)
    .map((a) => ({ arm: a.name, steps: stepsPerEpoch === undefined ? NaN : Math.round(a.cutoffEpochs! * stepsPerEpoch) }))
    .filter((c) => c.steps > 0);
  if (cutoffs.length > 0) {
    const min = cutoffs.reduce((a, b) => (b.steps < a.steps ? b : a));
    return { steps: min.steps, source: `steps before the early-dropout cutoff of arm ${min.arm} (step ${min.steps})` };
  }
  if (spec.metrics && spec.metrics.denseUntil > 0) {
    return { steps: spec.metrics.denseUntil, source: `steps before ${spec.metrics.denseUntil}, the dense-logging span of the metric schedule` };
  }
  if (totalSteps !== undefined && totalSteps > 0) {
    const steps = Math.ceil(totalSteps / 6);
    return { steps, source: `the first sixth of training (steps before ${steps})` };
  }
  return undefined;
}

/** A run's value of an analysis metric over the window: the mean of its points, or for the distance the last point. */
function windowValue(metrics: readonly MetricPoint[], key: WindowMeasure, window: EarlyWindow): number | undefined {
  const pts = metrics.filter((p) => p.step < window.steps && typeof p[key] === 'number');
  if (pts.length === 0) return undefined;
  if (key === 'distance') return pts.reduce((a, b) => (b.step > a.step ? b : a))[key] as number;
  let s = 0;
  for (const p of pts) s += p[key] as number;
  return s / pts.length;
}

function cellNames(spec: ExperimentSpec, runs: readonly RunResult[]): string[] {
  const names = (spec.cells ?? []).map((c) => c.name);
  for (const r of runs) if (!names.includes(r.cell)) names.push(r.cell);
  return names;
}

function analyzeCell(spec: ExperimentSpec, name: string, runs: RunResult[]): CellAnalysis {
  const cellSpec = spec.cells?.find((c) => c.name === name);
  const model = cellSpec?.model ?? spec.model;
  const data = { ...spec.data, ...(cellSpec?.data ?? {}) } as DataSpec;
  const baselineArm = spec.arms.find((a) => a.mode === 'none');
  const baseline = baselineArm?.name;
  const runsOf = (arm: string) => runs.filter((r) => r.arm === arm).sort((a, b) => a.seed - b.seed);
  const baseRuns = baseline ? runsOf(baseline) : [];

  const steps = runs.map((r) => r.steps).filter((s) => s > 0);
  const totalSteps = steps.length ? median(steps) : undefined;
  const stepsPerEpoch = totalSteps !== undefined && spec.epochs > 0 ? totalSteps / spec.epochs : undefined;
  const hasMetrics = runs.some((r) => r.metrics.length > 0);
  const window = hasMetrics ? earlyWindow(spec, stepsPerEpoch, totalSteps) : undefined;

  const windowMaps = (armRuns: RunResult[]) => {
    const out: Partial<Record<WindowMeasure, Map<number, number>>> = {};
    if (!window) return out;
    for (const key of WINDOW_MEASURES) {
      const m = new Map<number, number>();
      for (const r of armRuns) {
        const v = windowValue(r.metrics, key, window);
        if (v !== undefined) m.set(r.seed, v);
      }
      if (m.size > 0) out[key] = m;
    }
    return out;
  };
  const baseWindow = windowMaps(baseRuns);

  const arms: ArmAnalysis[] = spec.arms.map((arm) => {
    const armRuns = runsOf(arm.name);
    const loss = seedMap(armRuns, (r) => r.finalTrainLoss);
    const acc = seedMap(armRuns, (r) => r.testAccuracy);
    const window = windowMaps(armRuns);
    const a: ArmAnalysis = {
      arm,
      runs: armRuns,
      finalTrainLoss: meanConfidenceInterval([...loss.values()]),
      testAccuracy: meanConfidenceInterval([...acc.values()]),
      window,
      windowVsBaseline: {},
    };
    if (baseline && arm.name !== baseline) {
      a.vsBaseline = {
        finalTrainLoss: comparePaired(loss, seedMap(baseRuns, (r) => r.finalTrainLoss), 'decrease'),
        testAccuracy: comparePaired(acc, seedMap(baseRuns, (r) => r.testAccuracy), 'increase'),
      };
      for (const key of WINDOW_MEASURES) {
        const mine = window[key];
        const theirs = baseWindow[key];
        if (mine && theirs) a.windowVsBaseline[key] = comparePaired(mine, theirs, key === 'distance' ? 'increase' : 'decrease');
      }
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

/** Everything the report states, computed from the spec and the results (pure, synchronous). */
export function analyzeExperiment(spec: ExperimentSpec, results: readonly RunResult[]): ExperimentAnalysis {
  const own = results.filter((r) => r.experiment === spec.name);
  // A re-run may append a run twice; the last line wins.
  const byKey = new Map<string, RunResult>();
  for (const r of own) byKey.set(runKey(r), r);
  const runs = [...byKey.values()];
  const names = cellNames(spec, runs);
  const cells = names.map((n) =>
    analyzeCell(
      spec,
      n,
      runs.filter((r) => r.cell === n),
    ),
  );
  const expectedCells = spec.cells?.length ? spec.cells.map((c) => c.name) : names.length ? names : [];
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
  const analysis: ExperimentAnalysis = {
    spec,
    cells,
    runs,
    ignoredOtherExperiments: results.length - own.length,
    duplicatesDropped: own.length - runs.length,
    expectedRuns: Math.max(1, expectedCells.length) * spec.arms.length * spec.seeds.length,
    missingRuns,
    intent,
    claims: [],
  };
  analysis.claims = PAPER_CLAIMS.map((c) => judgeClaim(c.id, c.statement, analysis));
  return analysis;
}

// ---------------------------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------------------------

const VERDICT_WORDS: Record<Verdict, string> = {
  reproduced: '**reproduced**',
  contradicted: '**not reproduced (contradicted)**',
  inconclusive: '**inconclusive**',
};

function finding(cell: CellAnalysis, arm: ArmAnalysis, measure: Measure, expected: Direction, comparison: PairedComparison): Finding {
  return { cell: cell.name, arm: arm.arm.name, baseline: cell.baseline!, measure, expected, comparison, verdict: verdictOf(comparison, expected) };
}

/** "final training loss −0.0123 [−0.0201, −0.0045] (95% CI, 5 paired seeds; 5/5 lower): **reproduced**" */
function findingText(f: Finding): string {
  const c = f.comparison;
  const word = f.expected === 'decrease' ? 'lower' : 'higher';
  const numbers = `Δ ${MEASURE_LABEL[f.measure]} ${formatDelta(f.measure, c.mean)} ${formatInterval(f.measure, c)} (${c.n} paired seed${c.n === 1 ? '' : 's'}; ${c.improved}/${c.n} ${word})`;
  const why = f.verdict.verdict === 'inconclusive' ? ` — ${f.verdict.reason}` : '';
  return `${numbers}: ${VERDICT_WORDS[f.verdict.verdict]}${why}`;
}

function overallStatus(findings: readonly Finding[]): ClaimStatus {
  if (findings.length === 0) return 'not tested';
  const vs = new Set(findings.map((f) => f.verdict.verdict));
  return vs.size === 1 ? [...vs][0] : 'mixed';
}

function statusSummary(findings: readonly Finding[]): string {
  const status = overallStatus(findings);
  if (status === 'not tested') return 'not tested by this experiment';
  const count = (v: Verdict) => findings.filter((f) => f.verdict.verdict === v).length;
  const n = findings.length;
  if (status === 'mixed') {
    return `mixed — ${count('reproduced')} of ${n} comparisons reproduced, ${count('contradicted')} contradicted, ${count('inconclusive')} inconclusive`;
  }
  const label = status === 'contradicted' ? 'not reproduced (contradicted)' : status;
  return n === 1 ? label : `${label} in ${n === 2 ? 'both' : `all ${n}`} comparisons`;
}

function regimeText(r: CellRegime, baseline: string): string {
  return `${r.arm} − ${baseline}: Δ test accuracy ${formatDelta('testAccuracy', r.dTestAcc.mean)} ${formatInterval('testAccuracy', r.dTestAcc)}, Δ final training loss ${formatDelta('finalTrainLoss', r.dTrainLoss.mean)} ${formatInterval('finalTrainLoss', r.dTrainLoss)}; regime **${r.regime}**: ${r.reason}`;
}

function premiseNote(cell: CellAnalysis, needed: 'underfitting' | 'overfitting'): string {
  if (!cell.regime) return ` (this experiment has no standard arm, so the cell's regime is not checked here)`;
  if (cell.regime.regime === needed) return ` (premise holds: the regime test puts this cell in the ${needed} regime)`;
  return ` (premise NOT established: the regime test says ${cell.regime.regime} for this cell, the claim is about ${needed} models)`;
}

function judgeClaim(id: ClaimId, statement: string, a: ExperimentAnalysis): ClaimReport {
  const findings: Finding[] = [];
  const lines: string[] = [];
  const cellsWithBaseline = a.cells.filter((c) => c.baseline && c.arms.some((x) => x.arm.name === c.baseline && x.runs.length > 0));
  const withRuns = (c: CellAnalysis, pred: (arm: ArmSpec) => boolean) => c.arms.filter((x) => pred(x.arm) && x.runs.length > 0 && x.vsBaseline);
  const noBaseline = !a.spec.arms.some((x) => x.mode === 'none');

  switch (id) {
    case 'early-underfitting': {
      for (const cell of cellsWithBaseline) {
        for (const arm of withRuns(cell, (x) => x.mode === 'early' && isDropping(x))) {
          const loss = finding(cell, arm, 'finalTrainLoss', 'decrease', arm.vsBaseline!.finalTrainLoss);
          const acc = finding(cell, arm, 'testAccuracy', 'increase', arm.vsBaseline!.testAccuracy);
          findings.push(loss, acc);
          lines.push(`Cell ${cell.name}, ${arm.arm.name} vs ${cell.baseline}: ${findingText(loss)}; ${findingText(acc)}${premiseNote(cell, 'underfitting')}.`);
        }
      }
      break;
    }
    case 'standard-hurts-underfitting': {
      const regimes = a.cells.filter((c) => c.regime);
      if (regimes.length === 0) break;
      if (a.intent === 'underfitting') {
        // Set in a cell meant to be underfitting: the claim holds if standard dropout hurts it.
        for (const cell of regimes) {
          const r = cell.regime!;
          const standard = cell.arms.find((x) => x.arm.name === r.arm)!;
          const acc = finding(cell, standard, 'testAccuracy', 'decrease', r.dTestAcc);
          acc.verdict = {
            verdict: r.regime === 'underfitting' ? 'reproduced' : r.regime === 'overfitting' ? 'contradicted' : 'inconclusive',
            reason: r.reason,
          };
          findings.push(acc);
          lines.push(`Cell ${cell.name}, ${regimeText(r, cell.baseline!)} → ${VERDICT_WORDS[acc.verdict.verdict]} (the early-dropout arms of this experiment assume an underfitting cell).`);
        }
        break;
      }
      // The regime finder (or an overfitting cell): the test locates regimes; it does not test the claim.
      const count = (g: string) => regimes.filter((c) => c.regime!.regime === g).length;
      for (const cell of regimes) lines.push(`Cell ${cell.name}, ${regimeText(cell.regime!, cell.baseline!)}.`);
      const summary =
        a.intent === 'overfitting'
          ? 'not tested by this experiment (it is set in an overfitting cell; the regime test below is the premise check for late dropout)'
          : `located, not tested: this experiment applies the regime test to ${regimes.length} cell${regimes.length === 1 ? '' : 's'} — ${count('underfitting')} underfitting, ${count('overfitting')} overfitting, ${count('unclear')} unclear`;
      return { id, statement, status: a.intent === 'overfitting' ? 'not tested' : 'located', summary, findings, lines };
    }
    case 'late-overfitting': {
      for (const cell of cellsWithBaseline) {
        for (const arm of withRuns(cell, (x) => x.mode === 'late' && isDropping(x))) {
          const acc = finding(cell, arm, 'testAccuracy', 'increase', arm.vsBaseline!.testAccuracy);
          findings.push(acc);
          let line = `Cell ${cell.name}, ${arm.arm.name} vs ${cell.baseline}: ${findingText(acc)}`;
          // The paper's own comparison is late vs standard of the same regulariser: shown, not judged.
          const standard = cell.arms.find((x) => x.arm.mode === 'standard' && x.arm.regularizer === arm.arm.regularizer && x.runs.length > 0);
          if (standard) {
            const vsStd = comparePaired(
              seedMap(arm.runs, (r) => r.testAccuracy),
              seedMap(standard.runs, (r) => r.testAccuracy),
              'increase',
            );
            line += `; against ${standard.arm.name} (the paper's comparison, shown for reference): Δ test accuracy ${formatDelta('testAccuracy', vsStd.mean)} ${formatInterval('testAccuracy', vsStd)}, ${vsStd.improved}/${vsStd.n} higher`;
          }
          lines.push(`${line}${premiseNote(cell, 'overfitting')}.`);
        }
      }
      break;
    }
    case 'gdv-early':
    case 'gde-early':
    case 'grad-norm':
    case 'distance': {
      const key: WindowMeasure = id === 'gdv-early' ? 'gdv' : id === 'gde-early' ? 'gde' : id === 'grad-norm' ? 'gradNorm' : 'distance';
      const expected: Direction = key === 'distance' ? 'increase' : 'decrease';
      for (const cell of cellsWithBaseline) {
        if (!cell.window) continue;
        for (const arm of withRuns(cell, (x) => x.regularizer === 'dropout' && (x.mode === 'standard' || x.mode === 'early') && isDropping(x))) {
          const cmp = arm.windowVsBaseline[key];
          if (!cmp) continue;
          const f = finding(cell, arm, key, expected, cmp);
          findings.push(f);
          lines.push(`Cell ${cell.name}, ${arm.arm.name} vs ${cell.baseline}: ${findingText(f)}.`);
        }
        if (findings.some((f) => f.cell === cell.name)) {
          const how = key === 'distance' ? 'value at the last measured step of' : 'mean over';
          lines.push(`(Per run: the ${how} the early window of cell ${cell.name}, ${cell.window.source}.)`);
        }
      }
      if (findings.length === 0) {
        const measured = a.runs.some((r) => r.metrics.some((p) => typeof p[key] === 'number'));
        const why = !measured
          ? `${MEASURE_LABEL[key]} was not measured`
          : 'no dropout arm (standard or early) with measurements to compare against a no-dropout arm';
        const reason = noBaseline ? 'it has no no-dropout arm to compare with' : why;
        return { id, statement, status: 'not tested', summary: `not tested by this experiment (${reason})`, findings, lines };
      }
      break;
    }
  }
  if (findings.length === 0) {
    const kind = id === 'early-underfitting' ? 'early' : id === 'late-overfitting' ? 'late' : 'standard';
    const why = noBaseline ? 'it has no no-dropout arm to compare with' : `it has no ${kind}-mode arm with finished runs`;
    return { id, statement, status: 'not tested', summary: `not tested by this experiment (${why})`, findings, lines };
  }
  return { id, statement, status: overallStatus(findings), summary: statusSummary(findings), findings, lines };
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

/** `sig` significant digits without exponent notation for everyday magnitudes. */
export function formatNumber(x: number, sig = 4): string {
  if (Number.isNaN(x)) return 'n/a';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  if (x === 0) return '0';
  const ax = Math.abs(x);
  if (ax < 1e-4 || ax >= 1e6) return x.toExponential(sig - 1);
  const decimals = Math.max(0, sig - 1 - Math.floor(Math.log10(ax)));
  return x.toFixed(decimals);
}

function signed(s: string, x: number): string {
  return x > 0 ? `+${s}` : s;
}

const isAccuracy = (m: Measure) => m === 'testAccuracy';

/** A value of a measure: accuracy as a percentage, everything else with 4 significant digits. */
export function formatValue(m: Measure, x: number): string {
  if (isAccuracy(m)) return Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : formatNumber(x);
  return formatNumber(x, 4);
}

/** A difference: accuracy in percentage points, everything else with 3 significant digits, signed. */
export function formatDelta(m: Measure, d: number): string {
  if (isAccuracy(m)) return Number.isFinite(d) ? `${signed((100 * d).toFixed(2), d)} pp` : formatNumber(d);
  return Number.isFinite(d) ? signed(formatNumber(d, 3), d) : formatNumber(d);
}

function formatInterval(m: Measure, ci: Pick<MeanInterval, 'n' | 'lo' | 'hi' | 'level'>): string {
  if (ci.n < 2) return `(n = ${ci.n}, no CI)`;
  if (!Number.isFinite(ci.lo) || !Number.isFinite(ci.hi)) return '(no CI: non-finite values)';
  const pct = Math.round(ci.level * 100);
  if (isAccuracy(m)) return `[${signed((100 * ci.lo).toFixed(2), ci.lo)}, ${signed((100 * ci.hi).toFixed(2), ci.hi)}] ${pct}% CI`;
  return `[${signed(formatNumber(ci.lo, 3), ci.lo)}, ${signed(formatNumber(ci.hi, 3), ci.hi)}] ${pct}% CI`;
}

function meanStd(m: Measure, ci: MeanInterval): string {
  if (ci.n === 0) return 'no runs';
  if (!Number.isFinite(ci.mean)) return 'n/a (non-finite values)';
  if (ci.n < 2) return `${formatValue(m, ci.mean)} (1 seed)`;
  const std = isAccuracy(m) ? `${(100 * ci.std).toFixed(2)}` : formatNumber(ci.std, 3);
  return `${formatValue(m, ci.mean)} ± ${std}`;
}

function deltaCell(m: Measure, c: PairedComparison | undefined): string {
  if (!c) return '—';
  if (c.n === 0) return 'no paired seeds';
  return `${formatDelta(m, c.mean)} ${formatInterval(m, c).replace(/ \d+% CI$/, '')}`;
}

export function describeModel(m: ModelSpec): string {
  switch (m.kind) {
    case 'mlp':
      return `MLP, hidden sizes [${m.hiddenSizes.join(', ')}], ${m.activation ?? 'relu'}`;
    case 'vit':
      return `ViT, patch ${m.patchSize}, dim ${m.dim}, depth ${m.depth}, ${m.numHeads} heads, MLP ratio ${m.mlpRatio ?? 4}`;
    case 'mixer':
      return `MLP-Mixer, patch ${m.patchSize}, dim ${m.dim}, depth ${m.depth}, token-MLP ratio ${m.tokenMlpRatio ?? 0.5}, channel-MLP ratio ${m.channelMlpRatio ?? 4}`;
  }
}

export function describeData(d: DataSpec): string {
  const name = d.kind === 'fashion-mnist' ? 'Fashion-MNIST' : `synthetic (seed ${d.seed ?? 0}, ${d.imageSize ?? 28}×${d.imageSize ?? 28})`;
  const train = d.trainSize !== undefined ? `${d.trainSize} train` : 'all train';
  const test = d.testSize !== undefined ? `${d.testSize} test` : 'all test';
  return `${name}, ${train} / ${test} images`;
}

function describeArm(a: ArmSpec): string[] {
  const cutoff = a.mode === 'early' || a.mode === 'late' ? String(a.cutoffEpochs ?? '—') : '—';
  return [
    a.name,
    a.mode === 'none' ? '—' : a.regularizer,
    a.mode,
    a.mode === 'none' ? '—' : String(a.p ?? 0),
    a.mode === 'early' ? (a.shape ?? 'constant') : a.mode === 'none' ? '—' : 'constant',
    cutoff,
  ];
}

function table(header: string[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'cell'
  );
}

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

interface PlannedFigure {
  file: string;
  alt: string;
  spec: Parameters<typeof renderSvg>[0];
}

function cutoffMarkers(spec: ExperimentSpec, stepsPerEpoch: number | undefined): StepMarker[] {
  if (stepsPerEpoch === undefined) return [];
  const bySteps = new Map<number, string[]>();
  for (const a of spec.arms) {
    if ((a.mode === 'early' || a.mode === 'late') && a.cutoffEpochs !== undefined && isDropping(a)) {
      const s = Math.round(a.cutoffEpochs * stepsPerEpoch);
      bySteps.set(s, [...(bySteps.get(s) ?? []), a.name]);
    }
  }
  // Labels only while they fit; the ablation's many cutoffs get bare lines.
  const label = bySteps.size <= 3;
  return [...bySteps].map(([step, arms]) => ({ step, label: label ? `cutoff: ${arms.join(', ')}` : '' }));
}

const METRIC_FIGURES: { key: WindowMeasure; file: string; title: string; yTitle: string }[] = [
  { key: 'gradNorm', file: 'grad-norm', title: 'Gradient norm', yTitle: 'mini-batch gradient norm ‖g‖₂' },
  { key: 'distance', file: 'model-distance', title: 'Model distance from initialisation', yTitle: '‖θ_t − θ_0‖₂' },
  { key: 'gdv', file: 'gdv', title: 'Gradient direction variance', yTitle: 'GDV: mean 1 − cos(g_i, g_j)' },
  { key: 'gde', file: 'gde', title: 'Gradient direction error', yTitle: 'GDE: mean 1 − cos(g, ĝ)' },
];

function planFigures(a: ExperimentAnalysis, palette: ArmPalette): Map<string, PlannedFigure[]> {
  const out = new Map<string, PlannedFigure[]>();
  const used = new Set<string>();
  for (const cell of a.cells) {
    let base = slug(cell.name);
    for (let i = 2; used.has(base); i++) base = `${slug(cell.name)}-${i}`;
    used.add(base);
    const figs: PlannedFigure[] = [];
    const runs = cell.arms.flatMap((x) => x.runs);
    const markers = cutoffMarkers(a.spec, cell.stepsPerEpoch);
    const cellLabel = a.cells.length > 1 ? ` — ${cell.name}` : '';
    const seedsNote = (spread: string) => `mean over seeds (thick), ${spread}`;

    const lossRows: CurveRow[] = runs.flatMap((r) => r.trainCurve.map((p) => ({ arm: r.arm, seed: r.seed, step: p.step, value: p.loss })));
    if (lossRows.length > 0) {
      figs.push({
        file: `${base}-train-loss.svg`,
        alt: `Training loss per arm${cellLabel}`,
        spec: curveSpec({ title: `Training loss${cellLabel}`, subtitle: seedsNote('each seed (thin)'), yTitle: 'mini-batch training loss', rows: lossRows, palette, markers, spread: 'seeds' }),
      });
    }
    for (const m of METRIC_FIGURES) {
      const rows: CurveRow[] = runs.flatMap((r) =>
        r.metrics.filter((p) => typeof p[m.key] === 'number').map((p) => ({ arm: r.arm, seed: r.seed, step: p.step, value: p[m.key] as number })),
      );
      if (rows.length === 0) continue;
      figs.push({
        file: `${base}-${m.file}.svg`,
        alt: `${m.title} per arm${cellLabel}`,
        spec: curveSpec({ title: `${m.title}${cellLabel}`, subtitle: seedsNote('band ±1 std over seeds'), yTitle: m.yTitle, rows, palette, markers, spread: 'band' }),
      });
    }

    const armsWithRuns = cell.arms.filter((x) => x.runs.length > 0);
    if (armsWithRuns.length > 0) {
      const labels = armsWithRuns.map((x) => x.arm.name);
      const intervals: IntervalRow[] = [];
      const points: PointRow[] = [];
      for (const x of armsWithRuns) {
        const arm = x.arm.name;
        intervals.push({ label: arm, colour: arm, panel: 'loss', mean: x.finalTrainLoss.mean, lo: x.finalTrainLoss.lo, hi: x.finalTrainLoss.hi });
        intervals.push({ label: arm, colour: arm, panel: 'acc', mean: 100 * x.testAccuracy.mean, lo: 100 * x.testAccuracy.lo, hi: 100 * x.testAccuracy.hi });
        for (const r of x.runs) {
          points.push({ label: arm, colour: arm, panel: 'loss', value: r.finalTrainLoss });
          points.push({ label: arm, colour: arm, panel: 'acc', value: 100 * r.testAccuracy });
        }
      }
      figs.push({
        file: `${base}-final.svg`,
        alt: `Final training loss and test accuracy per arm${cellLabel}`,
        spec: intervalSpec({
          title: `Final training loss and test accuracy${cellLabel}`,
          subtitle: 'mean (filled) with 95% CI of the mean; open dots: seeds',
          panels: [
            { name: 'loss', xTitle: 'final training loss (eval mode, whole train set)' },
            { name: 'acc', xTitle: 'test accuracy (%)' },
          ],
          labels,
          yTitle: 'arm',
          intervals,
          points,
          palette,
          colourTitle: 'arm',
          legend: false,
        }),
      });

      const compared = armsWithRuns.filter((x) => x.vsBaseline && x.vsBaseline.finalTrainLoss.n > 0);
      if (compared.length > 0) {
        const dIntervals: IntervalRow[] = [];
        const dPoints: PointRow[] = [];
        for (const x of compared) {
          const arm = x.arm.name;
          const l = x.vsBaseline!.finalTrainLoss;
          const c = x.vsBaseline!.testAccuracy;
          dIntervals.push({ label: arm, colour: arm, panel: 'loss', mean: l.mean, lo: l.lo, hi: l.hi });
          dIntervals.push({ label: arm, colour: arm, panel: 'acc', mean: 100 * c.mean, lo: 100 * c.lo, hi: 100 * c.hi });
          for (const d of l.diffs) dPoints.push({ label: arm, colour: arm, panel: 'loss', value: d.diff });
          for (const d of c.diffs) dPoints.push({ label: arm, colour: arm, panel: 'acc', value: 100 * d.diff });
        }
        figs.push({
          file: `${base}-paired-diff.svg`,
          alt: `Paired difference to ${cell.baseline} per arm${cellLabel}`,
          spec: intervalSpec({
            title: `Paired difference to ${cell.baseline} (same seed)${cellLabel}`,
            subtitle: 'mean (filled) with 95% CI (Student t); open dots: seeds. Left of 0 = lower loss; right of 0 = higher accuracy',
            panels: [
              { name: 'loss', xTitle: `Δ final training loss (arm − ${cell.baseline})`, zeroLine: true },
              { name: 'acc', xTitle: `Δ test accuracy (pp, arm − ${cell.baseline})`, zeroLine: true },
            ],
            labels: compared.map((x) => x.arm.name),
            yTitle: 'arm',
            intervals: dIntervals,
            points: dPoints,
            palette,
            colourTitle: 'arm',
            legend: false,
          }),
        });
      }
    }
    out.set(cell.name, figs);
  }
  return out;
}

const REGIME_PALETTE: ArmPalette = { domain: ['underfitting', 'overfitting', 'unclear'], range: ['#d62728', '#1f77b4', '#8c8c8c'] };

function regimeFigure(a: ExperimentAnalysis): PlannedFigure | undefined {
  const cells = a.cells.filter((c) => c.regime);
  if (cells.length < 2) return undefined;
  const intervals: IntervalRow[] = [];
  const points: PointRow[] = [];
  for (const c of cells) {
    const r = c.regime!;
    intervals.push({ label: c.name, colour: r.regime, panel: 'acc', mean: 100 * r.dTestAcc.mean, lo: 100 * r.dTestAcc.lo, hi: 100 * r.dTestAcc.hi });
    intervals.push({ label: c.name, colour: r.regime, panel: 'loss', mean: r.dTrainLoss.mean, lo: r.dTrainLoss.lo, hi: r.dTrainLoss.hi });
    for (const d of r.dTestAcc.diffs) points.push({ label: c.name, colour: r.regime, panel: 'acc', value: 100 * d.diff });
    for (const d of r.dTrainLoss.diffs) points.push({ label: c.name, colour: r.regime, panel: 'loss', value: d.diff });
  }
  return {
    file: 'regime.svg',
    alt: 'Regime test per cell: standard dropout minus no dropout',
    spec: intervalSpec({
      title: 'Regime test: standard dropout − no dropout, per cell',
      subtitle: 'mean with 95% CI (paired seeds); underfitting = lower test accuracy and higher training loss',
      panels: [
        { name: 'acc', xTitle: 'Δ test accuracy (pp)', zeroLine: true },
        { name: 'loss', xTitle: 'Δ final training loss', zeroLine: true },
      ],
      labels: cells.map((c) => c.name),
      yTitle: 'cell',
      intervals,
      points,
      palette: REGIME_PALETTE,
      colourTitle: 'regime',
      legend: true,
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------

function headerSection(a: ExperimentAnalysis, options: ReportOptions): string[] {
  const spec = a.spec;
  const date = options.date ?? new Date().toISOString().slice(0, 10);
  const cellCount = Math.max(1, spec.cells?.length || a.cells.length);
  const adapters = [...new Set(a.runs.map((r) => r.adapter))].filter((x) => x && x !== options.adapter);
  const out = [`# Experiment report: ${spec.name}`, ''];
  if (spec.description) out.push(spec.description, '');
  const runsLine = `${a.runs.length} of ${a.expectedRuns} expected (${cellCount} cell${cellCount === 1 ? '' : 's'} × ${spec.arms.length} arms × ${spec.seeds.length} seeds)`;
  const rows = [
    ['Date', date],
    ['Adapter', options.adapter + (adapters.length ? ` (runs also report: ${adapters.join(', ')})` : '')],
    ['Variant', options.quick ? 'quick (reduced sizes, for a software adapter; a smoke test more than evidence)' : 'full'],
    ['Runs', runsLine],
  ];
  const totalSeconds = a.runs.reduce((s, r) => s + (r.seconds || 0), 0);
  if (totalSeconds > 0) rows.push(['Training time', `${formatNumber(totalSeconds / 60, 3)} min summed over runs`]);
  out.push(table(['', ''], rows), '');
  if (a.missingRuns.length > 0) {
    const shown = a.missingRuns.slice(0, 20).join(', ');
    out.push(`**Incomplete:** ${a.missingRuns.length} run${a.missingRuns.length === 1 ? '' : 's'} missing (${shown}${a.missingRuns.length > 20 ? ', …' : ''}). Comparisons use the seeds present in both arms.`, '');
  }
  if (a.ignoredOtherExperiments > 0) out.push(`${a.ignoredOtherExperiments} result line(s) of other experiments were ignored.`, '');
  if (a.duplicatesDropped > 0) out.push(`${a.duplicatesDropped} duplicate result line(s) were dropped (the last line of a run wins).`, '');
  return out;
}

function setupSection(a: ExperimentAnalysis): string[] {
  const s = a.spec;
  const aug = s.augment && (s.augment.shift || s.augment.flip) ? [s.augment.shift ? `random shift ±${s.augment.shift} px` : '', s.augment.flip ? 'horizontal flip' : ''].filter(Boolean).join(', ') : 'none';
  const lines = [
    '## Setup',
    '',
    `- Model: ${describeModel(s.model)}`,
    `- Data: ${describeData(s.data)}`,
    `- Training: ${s.epochs} epochs, batch ${s.batchSize}, lr ${s.lr}${s.minLr !== undefined ? ` (min ${s.minLr})` : ''}, weight decay ${s.weightDecay}, warmup ${s.warmupEpochs} epoch${s.warmupEpochs === 1 ? '' : 's'}, label smoothing ${s.labelSmoothing}, augmentation: ${aug}`,
    `- Seeds: ${s.seeds.join(', ')} (paired: a seed gives the same initial weights and data order in every arm)`,
  ];
  if (s.metrics) {
    const m = s.metrics;
    lines.push(
      `- Analysis metrics: every ${m.denseEvery} steps until step ${m.denseUntil}, then every ${m.every}; ${m.directions === false ? 'gradient norm and distance only' : `GDV/GDE over |G| = ${m.numBatches ?? 16} mini-batch gradients`}`,
    );
  }
  lines.push('', '### Arms', '', table(['arm', 'regulariser', 'mode', 'p', 'shape', 'cutoff (epochs)'], s.arms.map(describeArm)), '');
  if (s.cells && s.cells.length > 0) {
    lines.push('### Cells', '', table(['cell', 'model', 'data'], a.cells.map((c) => [c.name, describeModel(c.model), describeData(c.data)])), '');
  }
  return lines;
}

function cellSection(a: ExperimentAnalysis, cell: CellAnalysis, figures: PlannedFigure[]): string[] {
  const out: string[] = [];
  // A single implicit cell needs no heading of its own.
  if (a.cells.length > 1 || a.spec.cells?.length) {
    out.push(`### Cell ${cell.name}`, '', `${describeModel(cell.model)}; ${describeData(cell.data)}.`, '');
  }
  const base = cell.baseline ?? 'none';
  const rows = cell.arms.map((x) => {
    const v = x.vsBaseline;
    const isBase = x.arm.name === cell.baseline;
    return [
      x.arm.name,
      String(x.runs.length),
      meanStd('finalTrainLoss', x.finalTrainLoss),
      meanStd('testAccuracy', x.testAccuracy),
      isBase ? 'baseline' : deltaCell('finalTrainLoss', v?.finalTrainLoss),
      isBase ? 'baseline' : deltaCell('testAccuracy', v?.testAccuracy),
      isBase || !v ? '—' : `${v.finalTrainLoss.improved}/${v.finalTrainLoss.n}`,
      isBase || !v ? '—' : `${v.testAccuracy.improved}/${v.testAccuracy.n}`,
    ];
  });
  out.push(
    table(
      [
        'arm',
        'seeds',
        'final train loss (mean ± std)',
        'test acc (mean ± std)',
        `Δ train loss vs ${base} (mean [95% CI])`,
        `Δ test acc vs ${base} (mean [95% CI])`,
        'seeds with lower loss',
        'seeds with higher acc',
      ],
      rows,
    ),
    '',
  );
  if (!cell.baseline) out.push('This experiment has no no-dropout arm, so there are no paired differences.', '');
  if (cell.regime) out.push(`Regime test, ${regimeText(cell.regime, base)}.`, '');

  const measured = WINDOW_MEASURES.filter((k) => cell.arms.some((x) => x.window[k]));
  if (cell.window && measured.length > 0) {
    out.push(`Analysis metrics over the early window (${cell.window.source}); per run the mean over the window (distance: its last measured step), then mean ± std over seeds:`, '');
    const mrows = cell.arms
      .filter((x) => x.runs.length > 0)
      .map((x) => [
        x.arm.name,
        ...measured.map((k) => {
          const m = x.window[k];
          if (!m) return '—';
          const ci = meanConfidenceInterval([...m.values()]);
          return ci.n < 2 ? formatNumber(ci.mean, 4) : `${formatNumber(ci.mean, 4)} ± ${formatNumber(ci.std, 2)}`;
        }),
      ]);
    out.push(table(['arm', ...measured.map((k) => MEASURE_LABEL[k])], mrows), '');
  }
  for (const f of figures) out.push(`![${f.alt}](${f.file})`, '');
  return out;
}

function regimeSection(a: ExperimentAnalysis, figure: PlannedFigure | undefined): string[] {
  const cells = a.cells.filter((c) => c.regime);
  if (cells.length < 2) return [];
  const rows = cells.map((c) => {
    const r = c.regime!;
    return [
      c.name,
      `${formatDelta('testAccuracy', r.dTestAcc.mean)} ${formatInterval('testAccuracy', r.dTestAcc).replace(/ \d+% CI$/, '')}`,
      `${formatDelta('finalTrainLoss', r.dTrainLoss.mean)} ${formatInterval('finalTrainLoss', r.dTrainLoss).replace(/ \d+% CI$/, '')}`,
      `${r.dTestAcc.improved}/${r.dTestAcc.n}`,
      r.regime,
    ];
  });
  const out = [
    '## Regime summary',
    '',
    table(['cell', 'Δ test acc, standard − none (95% CI)', 'Δ final train loss, standard − none (95% CI)', 'seeds where standard is better', 'regime'], rows),
    '',
  ];
  if (figure) out.push(`![${figure.alt}](${figure.file})`, '');
  return out;
}

function claimsSection(a: ExperimentAnalysis): string[] {
  const out = ['## What reproduced', ''];
  out.push(
    'Each claim of the paper, judged only from this experiment’s numbers with the rules fixed in the Method section. A comparison is **reproduced** when the 95% confidence interval of the mean paired difference lies entirely on the side the paper predicts, **not reproduced (contradicted)** when it lies entirely on the other side, and **inconclusive** when it contains 0.',
    '',
  );
  a.claims.forEach((c, i) => {
    out.push(`${i + 1}. *${c.statement}* — ${c.summary}.`);
    for (const l of c.lines) out.push(`   - ${l}`);
  });
  out.push('');
  return out;
}

function methodSection(): string[] {
  return [
    '## Method',
    '',
    '- Final training loss: plain cross entropy in eval mode over the whole training set after the last step; test accuracy over the whole test split.',
    '- Paired differences: for each seed, arm minus the no-dropout arm of the same cell (same initial weights and data order); seeds missing from either arm are left out.',
    '- 95% CI of the mean paired difference: mean ± t(0.975, n−1)·s/√n with the Student t quantile and the sample standard deviation s; n < 2 gives no interval and an inconclusive verdict.',
    '- Regime test (standard − none, paired): underfitting when the CI of Δ test accuracy lies below 0 and the CI of Δ final training loss lies above 0; overfitting when the CI of Δ test accuracy lies above 0; unclear otherwise.',
    '- Analysis claims (GDV, GDE, gradient norm, distance) compare dropout arms (standard or early dropout) with no dropout over an early window: up to the smallest early-dropout cutoff of the experiment, else the dense-logging span of the metric schedule, else the first sixth of training. A run contributes the mean of its measurements in the window (the distance: its value at the last measured step of the window).',
    '- A claim about underfitting (overfitting) models is judged in every cell; where the regime test does not place the cell in that regime, the sentence says so.',
    '- Nothing was tuned to make a claim pass; null and inverted results are reported as they are.',
    '',
  ];
}

/** The markdown report and its SVG figures (browser-safe). */
export async function renderReport(spec: ExperimentSpec, results: readonly RunResult[], options: ReportOptions): Promise<RenderedReport> {
  const a = analyzeExperiment(spec, results);
  const palette = armPalette(
    spec.arms.map((x) => x.name),
    spec.arms.find((x) => x.mode === 'none')?.name,
  );
  const figures = planFigures(a, palette);
  const regimeFig = regimeFigure(a);
  const lines = [...headerSection(a, options), ...setupSection(a), '## Results', ''];
  for (const cell of a.cells) lines.push(...cellSection(a, cell, figures.get(cell.name) ?? []));
  if (a.cells.length === 0) lines.push('No finished runs yet.', '');
  lines.push(...regimeSection(a, regimeFig), ...claimsSection(a), ...methodSection());

  const all = [...[...figures.values()].flat(), ...(regimeFig ? [regimeFig] : [])];
  const plots: Record<string, string> = {};
  for (const f of all) plots[f.file] = await renderSvg(f.spec);
  return { markdown: `${lines.join('\n').trimEnd()}\n`, plots };
}

/** Node: renders the report and writes `report.md` and the SVGs into `outDir` (created if needed). */
export async function writeReport(
  spec: ExperimentSpec,
  results: RunResult[],
  outDir: string,
  options: { adapter: string; quick?: boolean; date?: string },
): Promise<{ reportPath: string; plots: string[] }> {
  const [{ mkdir, writeFile }, { join }] = await Promise.all([import('node:fs/promises'), import('node:path')]);
  const { markdown, plots } = await renderReport(spec, results, options);
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const [file, svg] of Object.entries(plots)) {
    const path = join(outDir, file);
    await writeFile(path, svg, 'utf8');
    written.push(path);
  }
  const reportPath = join(outDir, 'report.md');
  await writeFile(reportPath, markdown, 'utf8');
  return { reportPath, plots: written };
}
