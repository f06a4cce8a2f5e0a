/**
 * The report's figures, planned from the findings (findings.ts) as Vega-Lite specs (plots.ts):
 * per cell the training loss, the analysis metrics over steps, the dropout on/off diagnostic,
 * final values per arm and paired differences to the no-dropout arm; across cells the regime test.
 * Browser-safe; rendering to SVG is plots.ts's renderSvg.
 */
import type { ExperimentSpec } from './types.js';
import type { CellAnalysis, ExperimentAnalysis, WindowMeasure } from './findings.js';
import { pointValue } from './findings.js';
import { formatLevel } from './format.js';
import { curveSpec, intervalSpec, renderSvg, type ArmPalette, type CurveRow, type IntervalRow, type PointRow, type StepMarker } from './plots.js';

export interface PlannedFigure {
  file: string;
  alt: string;
  spec: Parameters<typeof renderSvg>[0];
}

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'cell'
  );
}

function cutoffMarkers(spec: ExperimentSpec, stepsPerEpoch: number | undefined): StepMarker[] {
  if (stepsPerEpoch === undefined) return [];
  const bySteps = new Map<number, string[]>();
  for (const a of spec.arms) {
    if ((a.mode === 'early' || a.mode === 'late') && a.cutoffEpochs !== undefined && (a.p ?? 0) > 0) {
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

const DIAGNOSTIC_FIGURES = [
  { on: 'gdvDropoutOn', off: 'gdv', file: 'gdv-dropout-on-off', title: 'GDV of the no-dropout run, dropout on vs off', yTitle: 'GDV' },
  { on: 'gdeDropoutOn', off: 'gde', file: 'gde-dropout-on-off', title: 'GDE of the no-dropout run, dropout on vs off', yTitle: 'GDE' },
] as const;

const ON_OFF_PALETTE: ArmPalette = { domain: ['dropout off', 'dropout on'], range: ['#3b3b3b', '#d62728'] };

function cellFigures(a: ExperimentAnalysis, cell: CellAnalysis, base: string, palette: ArmPalette): PlannedFigure[] {
  const figs: PlannedFigure[] = [];
  const runs = cell.arms.flatMap((x) => x.runs);
  const markers = cutoffMarkers(a.spec, cell.stepsPerEpoch);
  const cellLabel = a.cells.length > 1 ? ` — ${cell.name}` : '';
  const seedsNote = (spread: string) => `mean over seeds (thick), ${spread}`;
  const level = formatLevel(1 - a.alpha);

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
      r.metrics.filter((p) => pointValue(p, m.key) !== undefined).map((p) => ({ arm: r.arm, seed: r.seed, step: p.step, value: pointValue(p, m.key)! })),
    );
    if (rows.length === 0) continue;
    figs.push({
      file: `${base}-${m.file}.svg`,
      alt: `${m.title} per arm${cellLabel}`,
      spec: curveSpec({ title: `${m.title}${cellLabel}`, subtitle: seedsNote('band ±1 std over seeds'), yTitle: m.yTitle, rows, palette, markers, spread: 'band' }),
    });
  }
  const baseRuns = cell.arms.find((x) => x.arm.name === cell.baseline)?.runs ?? [];
  for (const d of DIAGNOSTIC_FIGURES) {
    const rows: CurveRow[] = [];
    for (const r of baseRuns) {
      for (const p of r.metrics) {
        const on = pointValue(p, d.on);
        const off = pointValue(p, d.off);
        if (on === undefined || off === undefined) continue;
        rows.push({ arm: 'dropout off', seed: r.seed, step: p.step, value: off }, { arm: 'dropout on', seed: r.seed, step: p.step, value: on });
      }
    }
    if (rows.length === 0) continue;
    const rate = baseRuns.flatMap((r) => r.metrics).find((p) => p.diagnosticDropRate !== undefined)?.diagnosticDropRate;
    figs.push({
      file: `${base}-${d.file}.svg`,
      alt: `${d.title}${cellLabel}`,
      spec: curveSpec({
        title: `${d.title}${cellLabel}`,
        subtitle: `same weights (the ${cell.baseline} run's checkpoints), same batches; on: p = ${rate ?? '?'}; band ±1 std over seeds`,
        yTitle: d.yTitle,
        rows,
        palette: ON_OFF_PALETTE,
        markers,
        spread: 'band',
      }),
    });
  }

  const armsWithRuns = cell.arms.filter((x) => x.runs.length > 0);
  if (armsWithRuns.length === 0) return figs;
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
      subtitle: `mean (filled) with ${level} CI of the mean; open dots: seeds`,
      panels: [
        { name: 'loss', xTitle: 'final training loss (eval mode, whole train set)' },
        { name: 'acc', xTitle: 'test accuracy (%)' },
      ],
      labels: armsWithRuns.map((x) => x.arm.name),
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
        subtitle: `mean (filled) with ${level} CI (Student t, unadjusted); open dots: seeds. Left of 0 = lower loss; right of 0 = higher accuracy`,
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
  return figs;
}

/** The figures of each cell, by cell name (file names unique across cells). */
export function planFigures(a: ExperimentAnalysis, palette: ArmPalette): Map<string, PlannedFigure[]> {
  const out = new Map<string, PlannedFigure[]>();
  const used = new Set<string>();
  for (const cell of a.cells) {
    let base = slug(cell.name);
    for (let i = 2; used.has(base); i++) base = `${slug(cell.name)}-${i}`;
    used.add(base);
    out.set(cell.name, cellFigures(a, cell, base, palette));
  }
  return out;
}

const REGIME_PALETTE: ArmPalette = { domain: ['underfitting', 'overfitting', 'unclear'], range: ['#d62728', '#1f77b4', '#8c8c8c'] };

/** The regime test across cells (only with two or more cells). */
export function regimeFigure(a: ExperimentAnalysis): PlannedFigure | undefined {
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
      subtitle: `mean with ${formatLevel(1 - a.alpha)} CI (paired seeds); underfitting = lower test accuracy and higher training loss`,
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
