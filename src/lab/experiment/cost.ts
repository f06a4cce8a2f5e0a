/**
 * What an experiment costs, computed from its spec alone (no GPU, no timing): optimizer steps,
 * metric measurements and evaluations of every run in step-equivalents, checkpoint writes, the
 * model's multiply-adds, and a GPU time estimate under a stated assumption. `--plan` prints these
 * (plan.ts), and sharding (shard.ts) balances shares by them, so they must be deterministic.
 *
 * A step-equivalent is one training step of the run's own model and batch (forward, backward,
 * optimizer update). The other work is counted in those units by its passes:
 * - a metric point (analysis.ts `measure`) computes |G| mini-batch gradients (one when directions
 *   are off) and, with directions, the gradient over the whole training set: |G| + n_train / batch;
 *   with the dropout on/off diagnostic (metrics.dropoutDiagnostic), |G| more at the points of the
 *   no-dropout arms, which are the only ones that measure it;
 * - the evaluation after each run is a forward pass over the training and the test set, and a
 *   forward pass costs about a third of a training step (backward ≈ twice forward):
 *   (n_train + n_test) / (3 · batch).
 * The optimizer update and the readbacks are folded into "a step"; on a GPU the small models here
 * are launch-bound, where this is close enough; `--plan` measures the real ratio on the adapter.
 */
import { metricSteps, imageSizeOf, resolveCells, stepsPerEpochOf, testCountOf, totalStepsOf, trainCountOf, type ResolvedCell } from './spec.js';
import type { ArmSpec, ExperimentSpec, ModelSpec } from './types.js';
import { modelKind } from './models.js';

/**
 * The GPU assumption of the issue (until a GPU run measures it): a step of vit-xs (the presets'
 * ViT: patch 7, dim 32, depth 4, 2 heads, on 28×28 images) at batch 128 takes 3 ms on an H200-class
 * GPU. Another model's step is scaled by its multiply-adds per step (MACs per image × batch)
 * relative to that, and never below 3 ms: a smaller model does not get faster on a GPU, whose time
 * at these sizes goes to kernel launches, not arithmetic. For a larger model the proportional scaling
 * is an upper bound (a bigger matmul uses the GPU better), so the estimate errs on the safe side of
 * a time window.
 */
export const GPU_ASSUMPTION = {
  msPerStep: 3,
  reference: { kind: 'vit', patchSize: 7, dim: 32, depth: 4, numHeads: 2 } as ModelSpec,
  referenceBatch: 128,
  referenceImageSize: 28,
  /** What the GPU windows are: about 10 minutes, of which a part may plan 8 (the rest: start-up, data, slack). */
  windowSeconds: 8 * 60,
} as const;

/** Classes of the presets' data (Fashion-MNIST and the synthetic images both have 10). */
const NUM_CLASSES = 10;

/**
 * Multiply-adds of one forward pass of one image (weights × activations; attention's two
 * token-by-token products included; norms, activations and softmax left out as O(width) each).
 */
export function forwardMacsPerImage(model: ModelSpec, imageSize: number, channels = 1, numClasses = NUM_CLASSES): number {
  return modelKind(model).forwardMacsPerImage(model, imageSize, channels, numClasses);
}

/**
 * Trainable parameters (weights, biases, norms, cls token, position embedding), as the models in
 * src/nn/models build them: what a checkpoint holds three times (weights and AdamW's two moments).
 */
export function parameterCount(model: ModelSpec, imageSize: number, channels = 1, numClasses = NUM_CLASSES): number {
  return modelKind(model).parameterCount(model, imageSize, channels, numClasses);
}

/** Multiply-adds of one training step's forward pass (per image × batch). */
export function stepMacs(model: ModelSpec, imageSize: number, batchSize: number): number {
  return forwardMacsPerImage(model, imageSize) * batchSize;
}

/** The factor applied to the assumed 3 ms for this model and batch (see GPU_ASSUMPTION): at least 1. */
export function gpuStepFactor(model: ModelSpec, imageSize: number, batchSize: number): number {
  const ref = stepMacs(GPU_ASSUMPTION.reference, GPU_ASSUMPTION.referenceImageSize, GPU_ASSUMPTION.referenceBatch);
  return Math.max(1, stepMacs(model, imageSize, batchSize) / ref);
}

/**
 * Whether the runner checkpoints after step `step` (1-based count of steps done): every
 * `checkpointEvery` steps, and at epoch ends when an epoch is at least a quarter of that long.
 * Short epochs (a small training set) would otherwise write a checkpoint every few steps: the
 * 2000-image MLP cell of cpu-late spent most of its time writing one every 8 steps. Checkpoints
 * never change training, only how much a killed process loses.
 */
export function isCheckpointStep(step: number, stepsPerEpoch: number, checkpointEvery: number): boolean {
  return step % checkpointEvery === 0 || (4 * stepsPerEpoch >= checkpointEvery && step % stepsPerEpoch === 0);
}

/** Checkpoint writes of a run (isCheckpointStep), once where an epoch end and the interval fall together. */
export function checkpointCount(totalSteps: number, stepsPerEpoch: number, checkpointEvery: number): number {
  const every = Math.floor(totalSteps / checkpointEvery);
  if (4 * stepsPerEpoch < checkpointEvery) return every;
  const epochs = Math.floor(totalSteps / stepsPerEpoch);
  const lcm = (checkpointEvery / gcd(checkpointEvery, stepsPerEpoch)) * stepsPerEpoch;
  return every + epochs - Math.floor(totalSteps / lcm);
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * The cost of one run of a cell. Every arm and seed of a cell costs the same, up to the
 * regulariser's own kernels, except the dropout diagnostic's gradients (runSteq adds them).
 */
export interface CellCost {
  cell: string;
  model: ModelSpec;
  imageSize: number;
  batchSize: number;
  trainImages: number;
  testImages: number;
  steps: number;
  stepsPerEpoch: number;
  metricPoints: number;
  /** Step-equivalents of one metric point, of all of them, and of the evaluation (see the module comment). */
  metricPointSteq: number;
  metricSteq: number;
  evalSteq: number;
  /** steps + metricSteq + evalSteq (without the diagnostic). */
  totalSteq: number;
  /** Extra step-equivalents per metric point of a no-dropout arm (the dropout diagnostic), else 0. */
  diagnosticPointSteq: number;
  checkpoints: number;
  /** Bytes of one checkpoint's tensors: f32 weights and AdamW's two moments. */
  checkpointBytes: number;
  macsPerImage: number;
  gpuFactor: number;
  /** Estimated seconds of one run on the assumed GPU (without the diagnostic; see runGpuSeconds). */
  gpuSeconds: number;
  /** ms per step assumed for the GPU estimate (the cell's factor included). */
  gpuMsPerStep: number;
}

/** Metric-point step-equivalents: gradients computed by `measure` (analysis.ts). */
export function metricPointSteq(spec: ExperimentSpec, cell: ResolvedCell): number {
  const m = spec.metrics;
  if (!m) return 0;
  const directions = m.directions ?? true;
  const batches = directions ? (m.numBatches ?? 16) : 1;
  const whole = directions ? trainCountOf(cell.data) / spec.batchSize : 0;
  return batches + whole;
}

export function cellCost(spec: ExperimentSpec, cell: ResolvedCell, checkpointEvery = 200, msPerStep: number = GPU_ASSUMPTION.msPerStep): CellCost {
  const steps = totalStepsOf(spec, cell);
  const perEpoch = stepsPerEpochOf(spec, cell);
  const points = metricSteps(spec.metrics, steps).length;
  const pointSteq = metricPointSteq(spec, cell);
  const trainImages = trainCountOf(cell.data);
  const testImages = testCountOf(cell.data);
  const evalSteq = (trainImages + testImages) / (3 * spec.batchSize);
  const imageSize = imageSizeOf(cell.data);
  const totalSteq = steps + points * pointSteq + evalSteq;
  const gpuFactor = gpuStepFactor(cell.model, imageSize, spec.batchSize);
  return {
    cell: cell.name,
    model: cell.model,
    imageSize,
    batchSize: spec.batchSize,
    trainImages,
    testImages,
    steps,
    stepsPerEpoch: perEpoch,
    metricPoints: points,
    metricPointSteq: pointSteq,
    metricSteq: points * pointSteq,
    evalSteq,
    totalSteq,
    diagnosticPointSteq: spec.metrics?.dropoutDiagnostic ? (spec.metrics.numBatches ?? 16) : 0,
    checkpoints: checkpointCount(steps, perEpoch, checkpointEvery),
    checkpointBytes: 3 * 4 * parameterCount(cell.model, imageSize),
    macsPerImage: forwardMacsPerImage(cell.model, imageSize),
    gpuFactor,
    gpuSeconds: (totalSteq * gpuFactor * msPerStep) / 1000,
    gpuMsPerStep: gpuFactor * msPerStep,
  };
}

/** Cost of every cell of a spec, by cell name. */
export function cellCosts(spec: ExperimentSpec, checkpointEvery = 200, msPerStep: number = GPU_ASSUMPTION.msPerStep): Map<string, CellCost> {
  return new Map(resolveCells(spec).map((c) => [c.name, cellCost(spec, c, checkpointEvery, msPerStep)]));
}

/** Metric step-equivalents of one run of this arm (the dropout diagnostic counted where it is measured). */
export function runMetricSteq(cost: CellCost, arm: Pick<ArmSpec, 'mode'>): number {
  return cost.metricSteq + (arm.mode === 'none' ? cost.metricPoints * cost.diagnosticPointSteq : 0);
}

/** Step-equivalents of one run of this arm. */
export function runSteq(cost: CellCost, arm: Pick<ArmSpec, 'mode'>): number {
  return cost.steps + runMetricSteq(cost, arm) + cost.evalSteq;
}

/** Estimated GPU seconds of one run of this arm. */
export function runGpuSeconds(cost: CellCost, arm: Pick<ArmSpec, 'mode'>): number {
  return (runSteq(cost, arm) * cost.gpuMsPerStep) / 1000;
}

/**
 * The cost by which shares are balanced (shard.ts): a run's estimated GPU seconds under
 * GPU_ASSUMPTION. From the spec only, so every machine and every part computes the same shares.
 */
export function runCostOf(spec: ExperimentSpec): (run: { cell: ResolvedCell; arm: Pick<ArmSpec, 'mode'> }) => number {
  const costs = cellCosts(spec);
  return (run) => runGpuSeconds(costs.get(run.cell.name)!, run.arm);
}
