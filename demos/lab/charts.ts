/**
 * The lab's live charts: one line per run (mode × seed, and cell when there are several), coloured
 * by mode with the report's palette (plots.ts armPalette) so a mode keeps its colour between the
 * page and the headless report's figures.
 *
 * Sources: training loss from the points the runner appends to each run's curve stream; learning
 * rate and drop rate at those same steps from the schedules the trainer itself uses
 * (nn/schedules.ts with build.ts's armSchedule); gradient norm, model distance, GDV and GDE from
 * the runner's metric points; test accuracy from evaluations at metric steps and from each
 * finished run.
 */
import { armSchedule } from '../../src/lab/experiment/build.js';
import { armPalette } from '../../src/lab/experiment/plots.js';
import { resolveCells, stepsPerEpochOf, totalStepsOf } from '../../src/lab/experiment/spec.js';
import type { ExperimentSpec, MetricPoint, RunResult } from '../../src/lab/experiment/types.js';
import { dropRateAt, dropSchedule, learningRateAt, lrSchedule, type DropSchedule, type LrSchedule } from '../../src/nn/schedules.js';
import { Chart } from '../shared/chart.js';
import type { RunId } from './protocol.js';

export type ChartId = 'train-loss' | 'test-accuracy' | 'lr' | 'drop-rate' | 'grad-norm' | 'distance' | 'gdv' | 'gde';

interface ChartDef {
  id: ChartId;
  title: string;
  yTitle: string;
  points: boolean;
  empty: string;
}

const DEFS: ChartDef[] = [
  { id: 'train-loss', title: 'Training loss', yTitle: 'mini-batch loss', points: false, empty: 'training loss appears as the runs go' },
  { id: 'test-accuracy', title: 'Test accuracy', yTitle: 'test accuracy (%)', points: true, empty: 'at metric steps and at the end of each run' },
  { id: 'lr', title: 'Learning rate', yTitle: 'learning rate', points: false, empty: 'the schedule appears as the runs go' },
  { id: 'drop-rate', title: 'Drop rate', yTitle: 'drop rate p_t', points: false, empty: 'the schedule appears as the runs go' },
  { id: 'grad-norm', title: 'Gradient norm', yTitle: '‖g‖₂ (mini-batch)', points: true, empty: 'measured at the metric steps' },
  { id: 'distance', title: 'Model distance from init', yTitle: '‖θ_t − θ₀‖₂', points: true, empty: 'measured at the metric steps' },
  { id: 'gdv', title: 'Gradient direction variance (GDV)', yTitle: 'GDV', points: true, empty: 'measured at the metric steps' },
  { id: 'gde', title: 'Gradient direction error (GDE)', yTitle: 'GDE', points: true, empty: 'measured at the metric steps' },
];

interface Row {
  run: string;
  arm: string;
  seed: number;
  cell: string;
  step: number;
  value: number;
}

export class LabCharts {
  readonly charts = new Map<ChartId, Chart>();
  /** Steps already plotted per chart and run: a resumed run re-sends nothing twice. */
  private readonly seen = new Set<string>();
  private readonly schedules = new Map<string, { lr: LrSchedule; drop: DropSchedule; totalSteps: number }>();

  private constructor(private readonly spec: ExperimentSpec) {}

  static async create(parent: HTMLElement, spec: ExperimentSpec): Promise<LabCharts> {
    const lab = new LabCharts(spec);
    const baseline = spec.arms.find((a) => a.mode === 'none')?.name;
    const palette = armPalette(
      spec.arms.map((a) => a.name),
      baseline,
    );
    const multiCell = (spec.cells?.length ?? 0) > 1;
    for (const def of DEFS) {
      const encoding: Record<string, unknown> = {
        x: { field: 'step', type: 'quantitative', title: 'optimizer step' },
        y: { field: 'value', type: 'quantitative', title: def.yTitle, scale: { zero: false } },
        color: { field: 'arm', type: 'nominal', title: 'mode', scale: { domain: palette.domain, range: palette.range }, sort: palette.domain },
        detail: { field: 'run', type: 'nominal' },
        tooltip: [
          { field: 'run', type: 'nominal' },
          { field: 'step', type: 'quantitative' },
          { field: 'value', type: 'quantitative', format: '.4~g' },
        ],
      };
      if (multiCell) encoding.strokeDash = { field: 'cell', type: 'nominal', title: 'cell' };
      const metricsOff = !spec.metrics && ['grad-norm', 'distance', 'gdv', 'gde'].includes(def.id);
      const directionsOff = spec.metrics?.directions === false && (def.id === 'gdv' || def.id === 'gde');
      const chart = await Chart.create(parent, {
        id: def.id,
        title: def.title,
        filePrefix: () => spec.name,
        emptyText: metricsOff ? 'not measured: the analysis metrics are off' : directionsOff ? 'not measured: GDV and GDE are off' : def.empty,
        spec: {
          mark: { type: 'line', strokeWidth: 1.6, interpolate: 'linear', ...(def.points ? { point: { size: 16, filled: true } } : {}) },
          encoding,
        },
      });
      lab.charts.set(def.id, chart);
    }
    return lab;
  }

  private schedulesOf(run: RunId) {
    let s = this.schedules.get(run.key);
    if (!s) {
      const spec = this.spec;
      const cell = resolveCells(spec).find((c) => c.name === run.cell) ?? resolveCells(spec)[0];
      const arm = spec.arms.find((a) => a.name === run.arm)!;
      const steps = { totalSteps: totalStepsOf(spec, cell), stepsPerEpoch: stepsPerEpochOf(spec, cell) };
      // The trainer's configuration (build.ts buildRun): warmup then cosine; the arm's drop schedule.
      s = {
        lr: lrSchedule({ lr: spec.lr, warmupEpochs: spec.warmupEpochs, minLr: spec.minLr ?? 0, ...steps }),
        drop: dropSchedule({ ...armSchedule(arm), ...steps }),
        totalSteps: steps.totalSteps,
      };
      this.schedules.set(run.key, s);
    }
    return s;
  }

  private push(id: ChartId, run: RunId, step: number, value: number): void {
    if (!Number.isFinite(value)) return;
    const key = `${id}|${run.key}|${step}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const row: Row = { run: run.key, arm: run.arm, seed: run.seed, cell: run.cell, step, value };
    this.charts.get(id)!.add([row]);
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

  /** Points received per chart (for the page's test hook). */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.charts].map(([id, c]) => [id, c.points]));
  }

  async flush(): Promise<void> {
    await Promise.all([...this.charts.values()].map((c) => c.flush()));
  }

  dispose(): void {
    for (const c of this.charts.values()) c.dispose();
    this.charts.clear();
  }
}
