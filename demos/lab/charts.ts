/**
 * The lab's charts, drawn to compare modes at a glance: per mode (and cell) the mean over seeds
 * with a shaded band (±1 std or the 95% CI of the mean), every seed as a faint line (optional),
 * a dashed marker at each early / late cutoff, an optional epoch axis, log scale for the loss and
 * the gradient norm, and smoothing of the noisy mini-batch loss. Colours per mode are the
 * report's (plots.ts armPalette), so a mode keeps its colour between the page and the figures of
 * the headless report. Two more charts show each mode's paired difference to the no-dropout mode
 * (final training loss, test accuracy) with its 95% CI and the seeds behind it; under the charts
 * that carry a claim's evidence, the claim with the paper's reported effect and this run's verdict.
 *
 * Sources: training loss from the points the runner appends to each run's curve stream; learning
 * rate and drop rate at those same steps from the schedules the trainer itself uses
 * (nn/schedules.ts with build.ts's armSchedule); gradient norm, model distance, GDV and GDE from
 * the runner's metric points; test accuracy from evaluations at metric steps and from each
 * finished run; the paired differences from the report's analyzeExperiment.
 */
import { armSchedule } from '../../src/lab/experiment/build.js';
import { armPalette, type ArmPalette } from '../../src/lab/experiment/plots.js';
import type { ExperimentAnalysis } from '../../src/lab/experiment/report.js';
import { resolveCells, stepsPerEpochOf, totalStepsOf } from '../../src/lab/experiment/spec.js';
import type { ExperimentSpec, MetricPoint, RunResult } from '../../src/lab/experiment/types.js';
import { dropRateAt, dropSchedule, learningRateAt, lrSchedule, type DropSchedule, type LrSchedule } from '../../src/nn/schedules.js';
import { Chart, type ChartCaption } from '../common/chart.js';
import { h } from '../common/dom.js';
import { seedStats, smoothRuns, type CurvePoint, type Spread } from './aggregate.js';
import { claimBoxes } from './claims.js';
import type { RunId } from './protocol.js';

export type CurveChartId = 'train-loss' | 'test-accuracy' | 'lr' | 'drop-rate' | 'grad-norm' | 'distance' | 'gdv' | 'gde';
export type DiffChartId = 'diff-loss' | 'diff-acc';

interface CurveDef {
  id: CurveChartId;
  title: string;
  yTitle: string;
  /** Dots on the mean line (sparse series: metric steps). */
  points: boolean;
  /** The same value for every seed (a schedule): no seeds, no band. */
  schedule?: boolean;
  /** Offers a log-scale toggle. */
  log?: boolean;
  /** Smoothing applies (the noisy mini-batch loss). */
  smooth?: boolean;
  empty: string;
}

const CURVES: CurveDef[] = [
  { id: 'train-loss', title: 'Training loss', yTitle: 'mini-batch loss', points: false, log: true, smooth: true, empty: 'training loss appears as the runs go' },
  { id: 'test-accuracy', title: 'Test accuracy', yTitle: 'test accuracy (%)', points: true, empty: 'at metric steps and at the end of each run' },
  { id: 'lr', title: 'Learning rate', yTitle: 'learning rate', points: false, schedule: true, empty: 'the schedule appears as the runs go' },
  { id: 'drop-rate', title: 'Drop rate', yTitle: 'drop rate p_t', points: false, schedule: true, empty: 'the schedule appears as the runs go' },
  { id: 'grad-norm', title: 'Gradient norm', yTitle: '‖g‖₂ (mini-batch)', points: true, log: true, empty: 'measured at the metric steps' },
  { id: 'distance', title: 'Model distance from init', yTitle: '‖θ_t − θ₀‖₂', points: true, empty: 'measured at the metric steps' },
  { id: 'gdv', title: 'Gradient direction variance (GDV)', yTitle: 'GDV', points: true, empty: 'measured at the metric steps' },
  { id: 'gde', title: 'Gradient direction error (GDE)', yTitle: 'GDE', points: true, empty: 'measured at the metric steps' },
];

export const CHART_IDS: (CurveChartId | DiffChartId)[] = [...CURVES.map((c) => c.id), 'diff-loss', 'diff-acc'];

export interface ViewOptions {
  spread: Spread;
  /** Every seed as a faint line. */
  seeds: boolean;
  x: 'step' | 'epoch';
  /** EMA weight for the training loss (0 = raw). */
  smoothing: number;
  /** Charts drawn on a log y scale. */
  log: Set<CurveChartId>;
}

export const DEFAULT_VIEW: ViewOptions = { spread: 'std', seeds: true, x: 'step', smoothing: 0.6, log: new Set() };

const SPREAD_WORDS: Record<Spread, string> = { std: 'band: ±1 std over seeds', ci: 'band: 95% CI of the mean over seeds', none: 'no band' };

export class LabCharts {
  readonly charts = new Map<CurveChartId | DiffChartId, Chart>();
  private readonly points = new Map<CurveChartId, CurvePoint[]>(CURVES.map((c) => [c.id, []]));
  /** Steps already plotted per chart and run: a resumed run re-sends nothing twice. */
  private readonly seen = new Set<string>();
  private readonly schedules = new Map<string, { lr: LrSchedule; drop: DropSchedule; totalSteps: number }>();
  private readonly stepsPerEpoch = new Map<string, number>();
  private readonly claimSlots = new Map<string, HTMLElement>();
  private readonly palette: ArmPalette;
  private readonly multiCell: boolean;
  private view: ViewOptions = { ...DEFAULT_VIEW, log: new Set(DEFAULT_VIEW.log) };
  private pending = new Set<CurveChartId>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  private constructor(
    private readonly spec: ExperimentSpec,
    private readonly caption: (chartTitle: string) => ChartCaption,
  ) {
    const baseline = spec.arms.find((a) => a.mode === 'none')?.name;
    this.palette = armPalette(
      spec.arms.map((a) => a.name),
      baseline,
    );
    this.multiCell = (spec.cells?.length ?? 0) > 1;
    for (const c of resolveCells(spec)) this.stepsPerEpoch.set(c.name, stepsPerEpochOf(spec, c));
  }

  static async create(parent: HTMLElement, spec: ExperimentSpec, view: ViewOptions, caption: (chartTitle: string) => ChartCaption): Promise<LabCharts> {
    const lab = new LabCharts(spec, caption);
    const baseline = spec.arms.find((a) => a.mode === 'none')?.name;
    lab.view = { ...view, log: new Set(view.log) };
    for (const def of CURVES) {
      const metricsOff = !spec.metrics && ['grad-norm', 'distance', 'gdv', 'gde'].includes(def.id);
      const directionsOff = spec.metrics?.directions === false && (def.id === 'gdv' || def.id === 'gde');
      const controls: HTMLElement[] = [];
      if (def.log) {
        const box = h('input', { type: 'checkbox', 'data-log': def.id, 'aria-label': `${def.title}: log scale` });
        box.checked = lab.view.log.has(def.id);
        box.addEventListener('change', () => {
          if (box.checked) lab.view.log.add(def.id);
          else lab.view.log.delete(def.id);
          void lab.respec(def.id);
        });
        controls.push(h('label', { class: 'field inline small log-toggle', title: 'logarithmic y axis' }, box, h('span', {}, 'log')));
      }
      const chart = await Chart.create(parent, {
        id: def.id,
        title: def.title,
        filePrefix: () => spec.name,
        caption: () => lab.caption(`${def.title} (${lab.describeView(def)})`),
        emptyText: metricsOff ? 'not measured: the analysis metrics are off' : directionsOff ? 'not measured: GDV and GDE are off' : def.empty,
        controls,
        spec: lab.curveBody(def),
      });
      lab.charts.set(def.id, chart);
      lab.addClaimSlot(def.id, chart);
    }
    for (const id of ['diff-loss', 'diff-acc'] as DiffChartId[]) {
      const title = lab.diffTitle(id);
      const chart = await Chart.create(parent, {
        id,
        title,
        filePrefix: () => spec.name,
        caption: () => lab.caption(`${title} (mean with 95% CI, Student t; dots: seeds)`),
        emptyText: baseline ? 'after the first paired seeds finish' : 'no mode is “none”: nothing to pair with',
        height: Math.max(90, 30 * lab.diffLabels().length),
        spec: lab.diffBody(id),
      });
      lab.charts.set(id, chart);
      lab.addClaimSlot(id, chart);
    }
    lab.drawMarkers();
    return lab;
  }

  private addClaimSlot(id: string, chart: Chart): void {
    const slot = h('div', { class: 'claim-slot' });
    chart.card.append(slot);
    this.claimSlots.set(id, slot);
  }

  private diffTitle(id: DiffChartId): string {
    const base = this.spec.arms.find((a) => a.mode === 'none')?.name ?? 'none';
    return id === 'diff-loss' ? `Δ final training loss vs ${base} (paired)` : `Δ test accuracy vs ${base} (paired, pp)`;
  }

  private describeView(def: CurveDef): string {
    const parts = [this.view.x === 'epoch' ? 'x: epoch' : 'x: optimizer step'];
    if (!def.schedule) parts.push(`mean over seeds, ${SPREAD_WORDS[this.view.spread]}${this.view.seeds ? ', faint lines: seeds' : ''}`);
    if (def.smooth && this.view.smoothing > 0) parts.push(`EMA smoothing ${this.view.smoothing}`);
    if (this.view.log.has(def.id)) parts.push('log scale');
    return parts.join('; ');
  }

  // ---- specs ----

  private colour(): Record<string, unknown> {
    return { field: 'arm', type: 'nominal', title: 'mode', scale: { domain: this.palette.domain, range: this.palette.range }, sort: this.palette.domain, legend: { symbolType: 'stroke' } };
  }

  private curveBody(def: CurveDef): Record<string, unknown> {
    const epoch = this.view.x === 'epoch';
    const x = { field: 'x', type: 'quantitative', title: epoch ? 'epoch' : 'optimizer step' };
    const log = this.view.log.has(def.id);
    const scale = log ? { type: 'log' } : { zero: false };
    const y = (field: string) => ({ field, type: 'quantitative', title: def.yTitle, scale });
    const color = this.colour();
    const cellDash = this.multiCell ? { strokeDash: { field: 'cell', type: 'nominal', title: 'cell' } } : {};
    const layer: unknown[] = [];
    if (!def.schedule) {
      layer.push(
        { name: 'band', data: { name: 'band' }, mark: { type: 'area', opacity: 0.18 }, encoding: { x, y: y('lo'), y2: { field: 'hi' }, color, detail: { field: 'cell' } } },
        { name: 'seeds', data: { name: 'seeds' }, mark: { type: 'line', strokeWidth: 0.8, opacity: 0.32 }, encoding: { x, y: y('value'), color, detail: { field: 'run' }, ...cellDash } },
      );
    }
    layer.push(
      {
        name: 'mean',
        data: { name: 'mean' },
        mark: { type: 'line', strokeWidth: 2, interpolate: 'linear', ...(def.points ? { point: { size: 18, filled: true } } : {}) },
        encoding: {
          x,
          y: y('value'),
          color,
          detail: { field: 'cell' },
          ...cellDash,
          tooltip: [
            { field: 'arm', title: 'mode' },
            ...(this.multiCell ? [{ field: 'cell' }] : []),
            { field: 'x', title: epoch ? 'epoch' : 'step', format: ',.4~r' },
            { field: 'value', title: def.schedule ? def.yTitle : `mean ${def.yTitle}`, format: '.4~r' },
            { field: 'n', title: 'seeds' },
          ],
        },
      },
      { name: 'cutoff', data: { name: 'markers' }, mark: { type: 'rule', strokeDash: [4, 4], color: '#6b7580', strokeWidth: 1 }, encoding: { x: { field: 'x', type: 'quantitative' } } },
      {
        data: { name: 'markers' },
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, dy: 2, fontSize: 10, color: '#4a545e' },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
      },
    );
    return { layer };
  }

  private diffBody(id: DiffChartId): Record<string, unknown> {
    const xTitle = id === 'diff-loss' ? 'Δ final training loss (mode − baseline, same seed)' : 'Δ test accuracy (pp, mode − baseline, same seed)';
    const labels = this.diffLabels();
    const y = { field: 'label', type: 'nominal', title: null, sort: labels, scale: { domain: labels } };
    const color = { ...this.colour(), legend: null };
    return {
      layer: [
        { data: { values: [{ zero: 0 }] }, mark: { type: 'rule', color: '#555', strokeDash: [4, 3] }, encoding: { x: { field: 'zero', type: 'quantitative' } } },
        { name: 'seed_diffs', data: { name: 'seeds' }, mark: { type: 'point', size: 30, opacity: 0.55 }, encoding: { x: { field: 'value', type: 'quantitative', title: xTitle, scale: { zero: false } }, y, color } },
        { name: 'ci', data: { name: 'ci' }, mark: { type: 'rule', strokeWidth: 2.5 }, encoding: { x: { field: 'lo', type: 'quantitative', title: xTitle }, x2: { field: 'hi' }, y, color } },
        {
          name: 'mean',
          data: { name: 'mean' },
          mark: { type: 'point', filled: true, size: 80, opacity: 1 },
          encoding: {
            x: { field: 'value', type: 'quantitative', title: xTitle },
            y,
            color,
            tooltip: [
              { field: 'label', title: 'mode' },
              { field: 'value', title: 'mean Δ', format: '.4~r' },
              { field: 'lo', title: '95% CI low', format: '.4~r' },
              { field: 'hi', title: '95% CI high', format: '.4~r' },
              { field: 'n', title: 'paired seeds' },
            ],
          },
        },
      ],
    };
  }

  /** Rows of the paired-difference charts: every mode but the baseline (per cell when there are several). */
  private diffLabels(): string[] {
    const arms = this.spec.arms.filter((a) => a.mode !== 'none').map((a) => a.name);
    return this.multiCell ? resolveCells(this.spec).flatMap((c) => arms.map((a) => `${c.name}: ${a}`)) : arms;
  }

  // ---- options ----

  get options(): ViewOptions {
    return { ...this.view, log: new Set(this.view.log) };
  }

  /** New view options: every curve chart redrawn from the points it has. */
  async setOptions(view: ViewOptions): Promise<void> {
    const xChanged = view.x !== this.view.x;
    this.view = { ...view, log: new Set(view.log) };
    for (const box of Array.from(document.querySelectorAll<HTMLInputElement>('input[data-log]'))) box.checked = this.view.log.has(box.dataset.log as CurveChartId);
    await Promise.all(CURVES.map((def) => this.respec(def.id)));
    if (xChanged) this.drawMarkers();
  }

  private async respec(id: CurveChartId): Promise<void> {
    const def = CURVES.find((d) => d.id === id)!;
    this.derive(id);
    await this.charts.get(id)!.setSpec(this.curveBody(def));
  }

  /** The x of a step on the current axis. */
  private xOf(cell: string, step: number): number {
    return this.view.x === 'epoch' ? step / (this.stepsPerEpoch.get(cell) ?? 1) : step;
  }

  /** Dashed markers at the early / late cutoffs (one per distinct position; labels joined). */
  private drawMarkers(): void {
    const byX = new Map<number, string[]>();
    for (const c of resolveCells(this.spec)) {
      for (const a of this.spec.arms) {
        if ((a.mode !== 'early' && a.mode !== 'late') || a.cutoffEpochs === undefined || !(a.p ?? 0)) continue;
        const x = this.view.x === 'epoch' ? a.cutoffEpochs : Math.round(a.cutoffEpochs * stepsPerEpochOf(this.spec, c));
        const label = `${a.name} cutoff`;
        const labels = byX.get(x) ?? [];
        if (!labels.includes(label)) labels.push(label);
        byX.set(x, labels);
      }
    }
    const markers = [...byX].map(([x, labels]) => ({ x, label: labels.join(', ') }));
    for (const def of CURVES) this.charts.get(def.id)?.setData('markers', markers);
  }

  // ---- data ----

  private schedulesOf(run: RunId) {
    let s = this.schedules.get(run.key);
    if (!s) {
      const spec = this.spec;
      const cell = resolveCells(spec).find((c) => c.name === run.cell) ?? resolveCells(spec)[0];
      const arm = spec.arms.find((a) => a.name === run.arm)!;
      const steps = { totalSteps: totalStepsOf(spec, cell), stepsPerEpoch: stepsPerEpochOf(spec, cell) };
      // The trainer's configuration (build.ts buildRun): warmup then cosine; the arm's drop schedule.
      s = {
        lr: lrSchedule({ lr: arm.lr ?? spec.lr, warmupEpochs: spec.warmupEpochs, minLr: spec.minLr ?? 0, ...steps }),
        drop: dropSchedule({ ...armSchedule(arm), ...steps }),
        totalSteps: steps.totalSteps,
      };
      this.schedules.set(run.key, s);
    }
    return s;
  }

  private push(id: CurveChartId, run: RunId, step: number, value: number): void {
    if (!Number.isFinite(value)) return;
    const key = `${id}|${run.key}|${step}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.points.get(id)!.push({ run: run.key, arm: run.arm, seed: run.seed, cell: run.cell, step, value });
    this.pending.add(id);
    this.timer ??= setTimeout(() => {
      this.timer = null;
      for (const p of this.pending) this.derive(p);
      this.pending.clear();
    }, 200);
  }

  /** Mean, band and seed lines of one chart from its points and the view options. */
  private derive(id: CurveChartId): void {
    const def = CURVES.find((d) => d.id === id)!;
    const chart = this.charts.get(id);
    if (!chart) return;
    const log = this.view.log.has(id);
    const raw = this.points.get(id)!;
    const positive = (v: number) => !log || v > 0;
    const smoothed = def.smooth && this.view.smoothing > 0 ? smoothRuns(raw, this.view.smoothing) : raw;
    const { means, bands } = seedStats(smoothed, def.schedule ? 'none' : this.view.spread);
    const xy = <T extends { cell: string; step: number }>(r: T) => ({ ...r, x: this.xOf(r.cell, r.step) });
    // A schedule is the same for every seed: one line per mode.
    chart.setData('mean', means.filter((r) => positive(r.value)).map(xy));
    const [lo, hi] = bandLimits([...means.map((r) => r.value), ...raw.map((r) => r.value)].filter(positive), log);
    chart.setData(
      'band',
      bands.map((r) => ({ ...r, lo: Math.max(lo, r.lo), hi: Math.min(hi, r.hi) })).filter((r) => positive(r.lo) && r.lo <= r.hi).map(xy),
    );
    // Faint seed lines show the raw values (as TensorBoard shows the unsmoothed run under the smoothed one).
    chart.setData('seeds', this.view.seeds && !def.schedule ? raw.filter((r) => positive(r.value)).map(xy) : []);
    chart.card.dataset.points = String(raw.length);
  }

  onCurve(run: RunId, points: { step: number; loss: number }[]): void {
    const s = this.schedulesOf(run);
    for (const p of points) {
      this.push('train-loss', run, p.step, p.loss);
      if (p.step < s.totalSteps) {
        this.push('lr', run, p.step, learningRateAt(s.lr, p.step));
        this.push('drop-rate', run, p.step, dropRateAt(s.drop, p.step));
      }
    }
  }

  onMetric(run: RunId, m: MetricPoint): void {
    this.push('grad-norm', run, m.step, m.gradNorm);
    this.push('distance', run, m.step, m.distance);
    if (m.gdv !== undefined) this.push('gdv', run, m.step, m.gdv);
    if (m.gde !== undefined) this.push('gde', run, m.step, m.gde);
  }

  onTestEval(run: RunId, step: number, accuracy: number): void {
    this.push('test-accuracy', run, step, 100 * accuracy);
  }

  onFinished(run: RunId, r: RunResult): void {
    // The final evaluation follows the last update: it sits at step T.
    this.push('test-accuracy', run, r.steps, 100 * r.testAccuracy);
  }

  /** A finished run's curves and metrics (a run restored after a reload). */
  replay(run: RunId, r: RunResult, testEvals: { step: number; accuracy: number }[] = []): void {
    this.onCurve(run, r.trainCurve);
    for (const m of r.metrics) this.onMetric(run, m);
    for (const e of testEvals) this.onTestEval(run, e.step, e.accuracy);
    this.onFinished(run, r);
  }

  /** The paired-difference charts and the claim boxes, from the report's analysis of the finished runs. */
  setAnalysis(a: ExperimentAnalysis): void {
    for (const id of ['diff-loss', 'diff-acc'] as DiffChartId[]) {
      const measure = id === 'diff-loss' ? 'finalTrainLoss' : 'testAccuracy';
      const scale = id === 'diff-acc' ? 100 : 1;
      const mean: object[] = [];
      const ci: object[] = [];
      const seeds: object[] = [];
      for (const cell of a.cells) {
        for (const x of cell.arms) {
          const c = x.vsBaseline?.[measure];
          if (!c || c.n === 0) continue;
          const row = { arm: x.arm.name, label: this.multiCell ? `${cell.name}: ${x.arm.name}` : x.arm.name };
          mean.push({ ...row, value: scale * c.mean, lo: scale * c.lo, hi: scale * c.hi, n: c.n });
          if (c.n >= 2 && Number.isFinite(c.lo) && Number.isFinite(c.hi)) ci.push({ ...row, lo: scale * c.lo, hi: scale * c.hi });
          for (const d of c.diffs) seeds.push({ ...row, seed: d.seed, value: scale * d.diff });
        }
      }
      const chart = this.charts.get(id)!;
      chart.setData('mean', mean);
      chart.setData('ci', ci);
      chart.setData('seeds', seeds);
      chart.card.dataset.points = String(mean.length);
    }
    for (const [id, slot] of this.claimSlots) slot.replaceChildren(...claimBoxes(a, id));
  }

  /** Points received per chart (for the page's test hook). */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.points].map(([id, pts]) => [id, pts.length]));
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const p of this.pending) this.derive(p);
    this.pending.clear();
    await Promise.all([...this.charts.values()].map((c) => c.flush()));
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const c of this.charts.values()) c.dispose();
    this.charts.clear();
  }
}

/**
 * How far a band may reach beyond the lines: a fifth of their range on either side (in log units
 * on a log scale). With two seeds the 95% CI is ±12.7 standard errors, and a band that wide would
 * squash every line into a sliver; cut there, it runs off the plotted range instead, as a band
 * too wide to show should.
 */
function bandLimits(values: number[], log: boolean): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [-Infinity, Infinity];
  const f = log ? Math.log10 : (x: number) => x;
  const g = log ? (x: number) => 10 ** x : (x: number) => x;
  const min = f(Math.min(...finite));
  const max = f(Math.max(...finite));
  const pad = max > min ? 0.2 * (max - min) : Math.abs(max) * 0.2 || 1;
  return [g(min - pad), g(max + pad)];
}
