/**
 * Steps per second and the time left, from the runner's progress events (RunnerProgress) as the
 * lab's worker forwards them.
 *
 * Every kind of event carries the run and its step, and the work between two events counts
 * whatever the later event is: the worker thins 'step' events to a few per second, so the steps
 * before a 'measure' or 'finish' event are often reported by that event only (counting 'step'
 * events alone lost them, which made the ETA ten times too long with the metrics on). 'plan',
 * 'skip' and 'start' only set the mark: after a resume they report work done before this session.
 *
 * The time left is work left over the work rate so far, with work in step-equivalents from the
 * cost model `--plan` uses (cost.ts): a metric point costs its |G| gradients and a whole-set
 * gradient, the evaluation after a run a forward pass over both sets (plus, with the page's test
 * curve, one over the test set per metric point). So the dense metric points early in every run
 * do not make the estimate pessimistic a third of the way in.
 *
 * The clock starts at the first event of trained work, not at Run: the first step includes
 * compiling the kernels, which says nothing about the steps to come. Paused time does not count.
 */
import { cellCosts, runMetricSteq, runSteq } from '../../src/lab/experiment/cost.js';
import { planRuns, type RunnerProgress } from '../../src/lab/experiment/runner.js';
import { metricSteps } from '../../src/lab/experiment/spec.js';
import type { ExperimentSpec } from '../../src/lab/experiment/types.js';

type Progress = Pick<RunnerProgress, 'kind' | 'stepsDone' | 'key' | 'step'>;

interface PlannedWork {
  /** Work before this run starts (the runs before it in plan order). */
  before: number;
  /** Work of the whole run. */
  total: number;
  /** Metric-point steps, ascending, and the work of one point. */
  points: number[];
  pointWork: number;
}

export class Pace {
  private readonly runs = new Map<string, PlannedWork>();
  private readonly totalWork: number;
  /** Work and optimizer steps done at the last event (the experiment's, finished runs included). */
  private work = 0;
  private steps = 0;
  /** Work and steps counted since the clock started. */
  private countedWork = 0;
  private countedSteps = 0;
  private activeMs = 0;
  /** When the current running stretch started counting (null: paused or clock not started). */
  private since: number | null = null;
  private running = false;

  constructor(spec: ExperimentSpec, options: { testCurve: boolean }) {
    const costs = cellCosts(spec);
    let before = 0;
    for (const run of planRuns(spec)) {
      const cost = costs.get(run.cell.name)!;
      const points = metricSteps(spec.metrics, run.totalSteps);
      const testEval = options.testCurve && spec.metrics ? cost.testImages / (3 * cost.batchSize) : 0;
      const pointWork = points.length ? runMetricSteq(cost, run.arm) / points.length + testEval : 0;
      const total = runSteq(cost, run.arm) + points.length * testEval;
      this.runs.set(run.key, { before, total, points, pointWork });
      before += total;
    }
    this.totalWork = before;
  }

  /** Work done in a run at a progress event (see the module comment for what each event means). */
  private workIn(plan: PlannedWork, p: Progress): number {
    if (p.kind === 'finish') return plan.total;
    const step = p.step ?? 0;
    // At 'measure' the point at `step` is done; at 'step' (after the update to `step`) those before it.
    const measured = plan.points.filter((t) => (p.kind === 'measure' ? t <= step : t < step)).length;
    return Math.min(plan.total, step + measured * plan.pointWork);
  }

  /** Training runs (true) or is paused / over (false). */
  setRunning(on: boolean, now: number): void {
    if (!on && this.since !== null) {
      this.activeMs += now - this.since;
      this.since = null;
    }
    this.running = on;
  }

  onProgress(p: Progress, now: number): void {
    const plan = p.key ? this.runs.get(p.key) : undefined;
    const work = p.kind === 'plan' ? 0 : p.kind === 'skip' ? (plan ? plan.before + plan.total : this.work) : plan ? plan.before + this.workIn(plan, p) : this.work;
    const trains = p.kind === 'step' || p.kind === 'measure' || p.kind === 'finish';
    if (trains && this.running) {
      if (this.since === null) {
        // The first event of this stretch starts the clock; the work it reports is not counted.
        this.since = now;
      } else {
        this.countedWork += Math.max(0, work - this.work);
        this.countedSteps += Math.max(0, p.stepsDone - this.steps);
      }
    }
    this.work = work;
    this.steps = p.stepsDone;
  }

  /** Milliseconds of counted training time. */
  elapsedMs(now: number): number {
    return this.activeMs + (this.since !== null ? now - this.since : 0);
  }

  /** Optimizer steps per second so far (NaN until there is something to divide). */
  rate(now: number): number {
    const ms = this.elapsedMs(now);
    return this.countedSteps > 0 && ms > 0 ? this.countedSteps / (ms / 1000) : NaN;
  }

  /** Seconds left at the work rate so far (NaN while unknown). */
  etaSeconds(now: number): number {
    const ms = this.elapsedMs(now);
    const workRate = this.countedWork > 0 && ms > 0 ? this.countedWork / (ms / 1000) : NaN;
    return workRate > 0 ? Math.max(0, this.totalWork - this.work) / workRate : NaN;
  }
}

/** "42 s", "4 min 22 s", "1 h 5 min". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds - 60 * m)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
