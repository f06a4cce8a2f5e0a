/**
 * Timings for `--plan` on the current adapter: for each distinct model and batch of a spec, a few
 * optimizer steps after a warm-up step (which compiles the pipelines), one evaluation batch, one
 * checkpoint serialisation and, where the spec measures metrics and it is affordable, one metric
 * point on the cell's real data. Nothing is written anywhere: the runs are built in memory
 * (build.ts) and thrown away, so planning never touches an output folder.
 *
 * Needs an initialised device (runtime/engine.ts `init`).
 */
import { autotune } from '../../runtime/autotune.js';
import { flattenParams, measure } from '../analysis.js';
import { saveCheckpoint } from '../checkpoint.js';
import { GpuDataset } from '../data/gpu-dataset.js';
import { makeSyntheticImages } from '../data/synthetic.js';
import { buildRun, DataCache, nodeFashionMnist, type FashionMnistSource } from './build.js';
import { cellCost, type CellCost } from './cost.js';
import { imageSizeOf, resolveCells, type ResolvedCell } from './spec.js';
import type { ExperimentSpec } from './types.js';

/** Seconds measured for one cell on this adapter. */
export interface CellTiming {
  cell: string;
  /** The cell whose run was timed (cells with the same model and batch share one timing). */
  timedOn: string;
  stepsTimed: number;
  secondsPerStep: number;
  secondsPerEvalImage: number;
  secondsPerCheckpoint: number;
  /** One metric point: measured when `metricTimed`, else extrapolated from step-equivalents. */
  secondsPerMetricPoint: number;
  metricTimed: boolean;
}

export interface TimingOptions {
  /** Steps timed per model after the warm-up step (default 3). */
  steps?: number;
  /** A metric point predicted to take longer than this is extrapolated instead of timed (default 60 s). */
  metricBudgetSeconds?: number;
  /** Tune the matmul kernels after the warm-up step, as the runner does on a GPU. */
  autotune?: boolean;
  fashionMnist?: FashionMnistSource;
  log?: (line: string) => void;
}

/** Images in the timed evaluation (one evaluation batch of Trainer.evaluate). */
const EVAL_IMAGES = 500;

const now = () => performance.now() / 1000;

/** The arm timed: standard dropout where there is one (dropout on at every step: the dearest), else the first. */
function timedArm(spec: ExperimentSpec) {
  return spec.arms.find((a) => a.mode === 'standard') ?? spec.arms[0];
}

/** Measures every cell of `spec` (see the module comment). */
export async function measureTimings(spec: ExperimentSpec, options: TimingOptions = {}): Promise<Map<string, CellTiming>> {
  const steps = options.steps ?? 3;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`measureTimings: steps must be a positive integer, got ${steps}`);
  const budget = options.metricBudgetSeconds ?? 60;
  const cells = resolveCells(spec);
  const cache = new DataCache(cells, options.fashionMnist ?? nodeFashionMnist);
  const groups = new Map<string, ResolvedCell[]>();
  for (const c of cells) {
    const key = JSON.stringify(c.model);
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const out = new Map<string, CellTiming>();
  try {
    for (const group of groups.values()) {
      const cell = group[0];
      options.log?.(`plan: timing ${cell.name} (${steps} steps after a warm-up step)`);
      const timed = await timeCell(spec, cell, cache, steps, budget, options);
      const timedCost = cellCost(spec, cell);
      for (const c of group) {
        const cost = cellCost(spec, c);
        // Another cell of the same model differs only in data size: its metric point scales with it.
        const scale = timedCost.metricPointSteq > 0 ? cost.metricPointSteq / timedCost.metricPointSteq : 1;
        out.set(c.name, { ...timed, cell: c.name, secondsPerMetricPoint: timed.secondsPerMetricPoint * scale, metricTimed: timed.metricTimed && c === cell });
      }
    }
  } finally {
    cache.dispose();
  }
  return out;
}

async function timeCell(spec: ExperimentSpec, cell: ResolvedCell, cache: DataCache, steps: number, budget: number, options: TimingOptions): Promise<CellTiming> {
  const data = await cache.get(cell);
  const run = buildRun(spec, cell, timedArm(spec), spec.seeds[0], data, { metricsEvery: 1_000_000 });
  const theta0 = spec.metrics ? flattenParams(run.model.parameters()) : null;
  const side = imageSizeOf(cell.data);
  const synthetic = makeSyntheticImages({ seed: 0, trainSize: 1, testSize: EVAL_IMAGES, height: side, width: side });
  const evalSet = GpuDataset.upload(synthetic.test, { name: 'plan timing', normalize: data.normalize, numClasses: data.numClasses });
  try {
    const { trainer } = run;
    if (trainer.totalSteps < steps + 1) throw new Error(`cannot time ${steps} steps after a warm-up of cell '${cell.name}': it has ${trainer.totalSteps} steps; use fewer --plan-steps`);
    trainer.trainStep();
    await trainer.flushMetrics();
    if (options.autotune) await autotune();
    let t = now();
    for (let i = 0; i < steps; i++) trainer.trainStep();
    await trainer.flushMetrics(); // one readback: waits for every step's work
    const secondsPerStep = (now() - t) / steps;

    await trainer.evaluate(evalSet); // warm-up: eval-mode pipelines
    t = now();
    await trainer.evaluate(evalSet);
    const secondsPerEvalImage = (now() - t) / EVAL_IMAGES;

    t = now();
    await saveCheckpoint(trainer);
    const secondsPerCheckpoint = now() - t;

    const cost: CellCost = cellCost(spec, cell);
    let secondsPerMetricPoint = cost.metricPointSteq * secondsPerStep;
    let metricTimed = false;
    if (spec.metrics && theta0 && secondsPerMetricPoint <= budget) {
      const measureOptions = {
        theta0,
        numBatches: spec.metrics.numBatches ?? 16,
        directions: spec.metrics.directions ?? true,
        seed: spec.seeds[0],
        labelSmoothing: spec.labelSmoothing,
      };
      t = now();
      await measure(trainer, data.train, measureOptions);
      secondsPerMetricPoint = now() - t;
      // The first point compiles its pipelines (once per process in a real run too): time a second where affordable.
      if (secondsPerMetricPoint <= budget / 2) {
        t = now();
        await measure(trainer, data.train, measureOptions);
        secondsPerMetricPoint = now() - t;
      }
      metricTimed = true;
    }
    return { cell: cell.name, timedOn: cell.name, stepsTimed: steps, secondsPerStep, secondsPerEvalImage, secondsPerCheckpoint, secondsPerMetricPoint, metricTimed };
  } finally {
    evalSet.dispose();
    theta0?.dispose();
    run.dispose();
  }
}
