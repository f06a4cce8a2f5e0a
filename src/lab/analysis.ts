/**
 * The paper's gradient analyses (docs/paper.md, "Analyses"), computed on the GPU over the whole
 * flattened parameter vector, with one small readback per measurement:
 *
 *  - gradient norm ‖g‖₂ of fresh mini-batch gradients (training mode, current drop rate);
 *  - model distance ‖θ_t − θ_0‖₂ from the run's own initialisation;
 *  - gradient direction variance GDV = mean over pairs i<j of (1 − cos(g_i, g_j)) over a set G of
 *    |G| = M mini-batch gradients on disjoint random batches with fresh dropout masks, by the exact
 *    running-sum form: with u_i = g_i/‖g_i‖ and U = Σ u_i, Σ_{i≠j} cos = ‖U‖² − M, so
 *    GDV = 1 − (‖U‖² − M) / (M(M−1)) (the paper's pairwise mean, unbiased);
 *  - gradient direction error GDE = mean over G of (1 − cos(g_i, ĝ)), ĝ the gradient of the loss
 *    over the whole training set in eval mode (dropout off);
 *  - the decomposition of GDE with ū = U/M and the unit ĝ: variance = 1 − ‖ū‖² (the plug-in
 *    spread of the directions; GDV = variance·M/(M−1)) and bias² = ‖ū − ĝ/‖ĝ‖‖², computed as that
 *    squared distance so it is never negative; 2·GDE = bias² + variance holds exactly (here to
 *    float32 rounding, tests/analysis.test.ts);
 *  - optionally the dropout on/off diagnostic: GDV and GDE of the same weights measured once more
 *    with dropout active at a given rate, on the same batches and against the same ĝ (for the
 *    no-dropout run, whose own measurement has dropout off).
 *
 * A direction needs a non-zero gradient: an exactly zero mini-batch gradient or ĝ is an error that
 * says so (never a silent NaN); non-finite gradients (a diverged run) give NaN statistics.
 *
 * Measuring must not disturb training: `measure()` leaves the parameters, their `.grad`, the
 * optimizer state, the trainer's sampler position and its dropout stream as they were. Its
 * mini-batches come from index lists drawn from (seed, step) with a generator of its own, its
 * dropout masks from a `Generator` of its own per gradient (the trainer's generator is not
 * touched), and the model's mode, generator and drop rates are restored afterwards. A run
 * with measurements therefore gives bit-identical losses to one without (tests/analysis.test.ts).
 *
 * The mini-batch gradients are streamed (DirectionAccumulator): only U, ĝ and a few scalars live on
 * the GPU at once, so |G| costs time, not memory.
 */
import { noGrad } from '../runtime/autograd.js';
import { keep, tidy } from '../runtime/scope.js';
import { Tensor } from '../runtime/tensor.js';
import { tensor, zeros } from '../nn/functional/creation.js';
import { add, div, mul, sqrt, sub } from '../nn/functional/elementwise.js';
import { concat } from '../nn/functional/shape.js';
import { backward } from '../nn/functional/backward.js';
import { dot, sumSquares } from '../nn/functional/reduce.js';
import { crossEntropy } from '../nn/functional/loss.js';
import { Generator, mixWords } from '../runtime/generator.js';
import type { GpuDataset } from './data/gpu-dataset.js';
import { SeededRng } from './data/synthetic.js';
import type { MetricPoint } from './experiment/types.js';
import type { TrainableModel, Trainer } from './trainer.js';

// ---- flat vectors ----

/** Total number of scalars in `params`. */
export function paramCount(params: readonly Tensor[]): number {
  return params.reduce((n, p) => n + p.size, 0);
}

function checkParams(op: string, params: readonly Tensor[]): void {
  if (!Array.isArray(params) || params.length === 0) throw new Error(`${op}: needs a non-empty array of parameters`);
  params.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new Error(`${op}: parameter ${i} is not a Tensor`);
    if (p.dtype !== 'f32') throw new Error(`${op}: parameter ${i} (shape [${p.shape}]) is ${p.dtype}, not f32`);
    p.buffer(op);
  });
}

/** Concatenates one flat view per tensor (GPU copies, no readback, not recorded for autograd). */
function flatConcat(parts: Tensor[]): Tensor {
  return noGrad(() => tidy(() => concat(parts.map((t) => t.view([t.size])), 0)));
}

/**
 * All parameters' gradients as one flat f32 vector, in order; a parameter whose `.grad` is null
 * contributes zeros (it had no gradient, as PyTorch's set_to_none).
 */
export function flattenGrads(params: readonly Tensor[]): Tensor {
  checkParams('flattenGrads', params);
  return noGrad(() => tidy(() => flatConcat(params.map((p) => p.grad ?? zeros([p.size])))));
}

/** All parameters' values as one flat f32 vector (a copy): θ₀ snapshots and distances. */
export function flattenParams(params: readonly Tensor[]): Tensor {
  checkParams('flattenParams', params);
  return flatConcat([...params]);
}

// ---- gradients that leave the model as it was ----

export interface GradientOptions {
  /** Label smoothing of the loss (as in training). Default 0. */
  labelSmoothing?: number;
  /** Training mode (dropout active) or eval mode. The model's own mode is restored afterwards. */
  train: boolean;
  /**
   * The generator of this gradient's masks (training mode), set on the model for the call; the
   * model's own generator is put back afterwards. Without it the masks come from the model's own
   * generator, which then advances.
   */
  generator?: Generator;
}

function checkSmoothing(op: string, ls: number): void {
  if (typeof ls !== 'number' || !(ls >= 0 && ls <= 1)) throw new Error(`${op}: labelSmoothing must be in [0, 1], got ${String(ls)}`);
}

/**
 * Runs `fn` (which calls backward) with the parameters' existing gradients moved aside, returns the
 * gradients it produced as one flat vector, and puts the old ones back: the caller's `.grad` (and
 * so what an optimizer step would use) is untouched.
 */
function isolatedGradient(params: readonly Tensor[], fn: () => void): Tensor {
  const saved = params.map((p) => p.grad);
  for (const p of params) p.grad = null;
  try {
    fn();
    return flattenGrads(params);
  } finally {
    params.forEach((p, i) => {
      if (p.grad !== saved[i]) p.grad?.dispose();
      p.grad = saved[i];
    });
  }
}

/**
 * Runs `fn` with the model in the given mode and (optionally) drawing from `generator`; restores
 * both. Every module's generator is put back as it was (they need not all be the same one).
 */
function withModelMode<T>(model: TrainableModel, train: boolean, generator: Generator | undefined, fn: () => T): T {
  const wasTraining = model.training;
  const modules = generator ? model.namedModules().map(([, m]) => m) : [];
  const previous = modules.map((m) => m.generator);
  model.train(train);
  if (generator) model.setGenerator(generator);
  try {
    return fn();
  } finally {
    modules.forEach((m, i) => { m.generator = previous[i]; });
    model.train(wasTraining);
  }
}

/**
 * The flat gradient of the (mean) cross-entropy loss on one batch, without touching the model's
 * parameters, their `.grad`, its mode or any optimizer. The caller owns the result.
 */
export function miniBatchGradient(model: TrainableModel, images: Tensor, labels: Tensor, options: GradientOptions): Tensor {
  const op = 'miniBatchGradient';
  const ls = options.labelSmoothing ?? 0;
  checkSmoothing(op, ls);
  if (typeof options.train !== 'boolean') throw new Error(`${op}: train must be true or false, got ${String(options.train)}`);
  const params = model.parameters();
  checkParams(op, params);
  if (options.generator !== undefined && !(options.generator instanceof Generator)) {
    throw new Error(`${op}: generator must be a Generator, got ${String(options.generator)}`);
  }
  return withModelMode(model, options.train, options.generator, () =>
    isolatedGradient(params, () => {
      tidy(() => {
        const logits = model.forward(images);
        backward(crossEntropy(logits, labels, { labelSmoothing: ls }));
      });
    }));
}

export interface FullGradientOptions {
  /** Samples per forward pass (memory only: the result is the gradient of the mean over all). Default 500. */
  batchSize?: number;
  labelSmoothing?: number;
}

/**
 * ĝ: the flat gradient of the mean loss over the whole split, in eval mode (dropout off). Each
 * batch's summed loss is scaled by 1/N before its backward, so the parameters' gradients
 * accumulate Σ_b (1/N)·∇ Σ_{x∈b} ℓ(x) = ∇ mean ℓ on the GPU; one flat copy at the end.
 */
export function fullGradient(model: TrainableModel, dataset: GpuDataset, options: FullGradientOptions = {}): Tensor {
  const op = 'fullGradient';
  const ls = options.labelSmoothing ?? 0;
  checkSmoothing(op, ls);
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`${op}: batchSize must be a positive integer, got ${String(batchSize)}`);
  const params = model.parameters();
  checkParams(op, params);
  const n = dataset.count;
  return withModelMode(model, false, undefined, () =>
    isolatedGradient(params, () => {
      for (const b of dataset.evalBatches(batchSize)) {
        try {
          tidy(() => {
            const logits = model.forward(b.images);
            backward(mul(crossEntropy(logits, b.labels, { labelSmoothing: ls, reduction: 'sum' }), 1 / n));
          });
        } finally {
          b.images.dispose();
          b.labels.dispose();
        }
      }
    }));
}

// ---- direction statistics ----

export interface DirectionStats {
  /** M = |G|. */
  count: number;
  /** Mean over pairs i<j of 1 − cos(g_i, g_j). */
  gdv: number;
  /** 1 − ‖mean u‖². */
  variance: number;
  /** Mean ‖g_i‖₂. */
  meanNorm: number;
  /** Mean of 1 − cos(g_i, ĝ) (when ĝ was given). */
  gde?: number;
  /** ‖mean u − ĝ/‖ĝ‖‖² (when ĝ was given): 2·GDE = bias² + variance. */
  bias2?: number;
}

/**
 * Streams mini-batch gradients into the sums the statistics need, on the GPU:
 * U = Σ g_i/‖g_i‖, Σ cos(g_i, ĝ) and each ‖g_i‖. Each added gradient may be disposed right after.
 */
export class DirectionAccumulator {
  readonly size: number;
  private count = 0;
  private unitSum: Tensor | null = null;
  private cosSum: Tensor | null = null;
  /** ‖g_i‖ of every added gradient (scalars), read back to find a zero one. */
  private norms: Tensor[] = [];
  /** ĝ/‖ĝ‖ and ‖ĝ‖, or null when no GDE is wanted. */
  private readonly ghatUnit: Tensor | null;
  private readonly ghatNorm: Tensor | null;

  /** `size`: the length of the flat gradients; `ghat`: the full gradient (copied, may be disposed after). */
  constructor(size: number, ghat?: Tensor | null) {
    if (!Number.isInteger(size) || size <= 0) throw new Error(`DirectionAccumulator: size must be a positive integer, got ${String(size)}`);
    this.size = size;
    if (ghat) {
      this.checkVector('ghat', ghat);
      const { unit, norm } = noGrad(() => tidy(() => {
        const n = sqrt(sumSquares(ghat));
        return { unit: div(ghat.view([size]), n), norm: n };
      }));
      this.ghatUnit = keep(unit);
      this.ghatNorm = keep(norm);
    } else {
      this.ghatUnit = null;
      this.ghatNorm = null;
    }
  }

  get added(): number {
    return this.count;
  }

  /** Length of the vector `sums()` returns. */
  get sumsLength(): number {
    return 1 + (this.ghatUnit ? 3 : 0) + this.count;
  }

  private checkVector(what: string, g: Tensor): void {
    if (!(g instanceof Tensor)) throw new Error(`DirectionAccumulator: ${what} must be a Tensor`);
    g.buffer(`DirectionAccumulator (${what})`);
    if (g.dtype !== 'f32') throw new Error(`DirectionAccumulator: ${what} must be f32, got ${g.dtype}`);
    if (g.size !== this.size) throw new Error(`DirectionAccumulator: ${what} has ${g.size} elements, expected ${this.size} (one flat gradient of all parameters)`);
  }

  /** Adds one flat gradient g (not kept). */
  add(g: Tensor): void {
    this.checkVector(`gradient ${this.count}`, g);
    const next = noGrad(() => tidy(() => {
      const flat = g.view([this.size]);
      const norm = sqrt(sumSquares(flat));
      const u = div(flat, norm);
      const acc = (prev: Tensor | null, v: Tensor) => (prev ? add(prev, v) : v.view(v.shape));
      return {
        unitSum: acc(this.unitSum, u),
        norm,
        cosSum: this.ghatUnit ? acc(this.cosSum, dot(u, this.ghatUnit)) : null,
      };
    }));
    for (const t of [this.unitSum, this.cosSum]) t?.dispose();
    this.unitSum = keep(next.unitSum);
    this.norms.push(keep(next.norm));
    this.cosSum = next.cosSum ? keep(next.cosSum) : null;
    this.count++;
  }

  /**
   * The sums as a small GPU vector (the caller disposes it) of `sumsLength` values:
   * [‖U‖², (with ĝ:) ‖U/M − ĝ/‖ĝ‖‖², Σ cos(g_i, ĝ), ‖ĝ‖, then ‖g_1‖ … ‖g_M‖]. `finish` turns its
   * values into statistics; a caller can fold more scalars into the same readback.
   */
  sums(): Tensor {
    if (this.count === 0 || !this.unitSum) throw new Error('DirectionAccumulator: no gradient was added');
    const m = this.count;
    return noGrad(() => tidy(() => {
      const parts = [sumSquares(this.unitSum!)];
      if (this.ghatUnit) parts.push(sumSquares(sub(div(this.unitSum!, m), this.ghatUnit)), this.cosSum!, this.ghatNorm!);
      parts.push(...this.norms);
      return concat(parts.map((t) => t.view([1])), 0);
    }));
  }

  /**
   * Statistics from the values of `sums()` (float64 arithmetic on the host). Throws when a gradient
   * or ĝ is exactly zero: its direction is undefined, and a NaN would pass for a measurement.
   */
  finish(values: ArrayLike<number>): DirectionStats {
    const m = this.count;
    if (values.length < this.sumsLength) throw new Error(`DirectionAccumulator.finish: expected ${this.sumsLength} values (see sums()), got ${values.length}`);
    const withGhat = this.ghatUnit !== null;
    const normsAt = withGhat ? 4 : 1;
    let normSum = 0;
    for (let i = 0; i < m; i++) {
      const n = values[normsAt + i];
      if (n === 0) throw new Error(`DirectionAccumulator: gradient ${i} of ${m} is exactly zero, so its direction g/‖g‖ is undefined (GDV and GDE need every direction)`);
      normSum += n;
    }
    if (withGhat && values[3] === 0) throw new Error('DirectionAccumulator: ĝ (the whole-training-set gradient) is exactly zero, so its direction is undefined and GDE cannot be measured');
    const unitSq = values[0];
    const stats: DirectionStats = {
      count: m,
      gdv: m >= 2 ? 1 - (unitSq - m) / (m * (m - 1)) : NaN,
      variance: 1 - unitSq / (m * m),
      meanNorm: normSum / m,
    };
    if (withGhat) {
      stats.gde = 1 - values[2] / m;
      stats.bias2 = values[1];
    }
    return stats;
  }

  /** Reads the statistics back (one readback). */
  async read(): Promise<DirectionStats> {
    const s = this.sums();
    try {
      return this.finish(await s.toArray());
    } finally {
      s.dispose();
    }
  }

  dispose(): void {
    for (const t of [this.unitSum, this.cosSum, this.ghatUnit, this.ghatNorm, ...this.norms]) t?.dispose();
    this.unitSum = this.cosSum = null;
    this.norms = [];
  }
}

/**
 * GDV, variance and (with ĝ) GDE and bias² of a set of flat gradients (at least 2, same size),
 * computed on the GPU; one readback of three scalars.
 */
export async function gradientDirectionStats(gs: readonly Tensor[], ghat?: Tensor): Promise<DirectionStats> {
  if (!Array.isArray(gs) || gs.length < 2) {
    throw new Error(`gradientDirectionStats: needs at least 2 gradients for pairwise directions, got ${Array.isArray(gs) ? gs.length : String(gs)}`);
  }
  if (!(gs[0] instanceof Tensor)) throw new Error('gradientDirectionStats: gradient 0 must be a Tensor');
  const acc = new DirectionAccumulator(gs[0].size, ghat);
  try {
    for (const g of gs) acc.add(g);
    return await acc.read();
  } finally {
    acc.dispose();
  }
}

// ---- a measurement during training ----

export interface MeasureOptions {
  /** θ₀: flattenParams(model.parameters()) taken before the first step (owned by the caller). */
  theta0: Tensor;
  /** |G|: mini-batch gradients per measurement (default 16; at least 2 when directions are on). */
  numBatches?: number;
  /** Seed of the measurement batches and dropout masks (default: the trainer's data seed, so paired runs measure on the same batches). */
  seed?: number;
  /** Compute GDV/GDE/bias²/variance (costly: |G| gradients and one full-split gradient). Default true. */
  directions?: boolean;
  /** Label smoothing of the loss whose gradients are measured. Default: the trainer's own. */
  labelSmoothing?: number;
  /** Mini-batch size of G (default: the trainer's). */
  batchSize?: number;
  /** Forward-pass size for ĝ (default 500). */
  fullBatchSize?: number;
  /**
   * The dropout on/off diagnostic: GDV and GDE of the same weights once more with dropout active at
   * rate `p` (same batches, same ĝ), as `gdvDropoutOn` / `gdeDropoutOn`. Only where the run's own
   * rates are 0 at this step (the no-dropout run), so the point's gdv / gde are the "off" values.
   */
  dropoutDiagnostic?: { p: number };
}

/** Streams of the measurement generator: far from the sampler's ('ORDR' + epoch) and the synthetic data's (0, 1, 2). */
const BATCH_STREAM_BASE = 0x414e4c59; // 'ANLY'

/**
 * The dropout key of gradient `index` of the measurement at `step` with `seed`: its masks are those
 * of dropout(x, p, { seed: key, offset: k }) for the k-th dropout call of the forward pass. Public
 * so a test can rebuild the masks for a float64 reference.
 */
export function measurementDropoutKey(seed: number, step: number, index: number): number {
  return mixWords(seed, step, index);
}

/**
 * `count` disjoint batches of `batchSize` indices of 0..n-1, drawn from (seed, step): consecutive
 * stretches of one Fisher–Yates shuffle. Batches of one measurement never share a sample (the
 * directions would be correlated by construction), so count × batchSize may not exceed n.
 */
export function measurementBatches(n: number, batchSize: number, count: number, seed: number, step: number): Int32Array[] {
  if (!Number.isInteger(batchSize) || batchSize <= 0 || batchSize > n) {
    throw new Error(`measure: batch size must be an integer in 1..${n} (the split's size), got ${String(batchSize)}`);
  }
  if (!Number.isInteger(count) || count < 1) throw new Error(`measure: the number of batches must be a positive integer, got ${String(count)}`);
  if (count * batchSize > n) {
    throw new Error(
      `measure: |G| = ${count} mini-batches × batch ${batchSize} = ${count * batchSize} samples exceed the ${n} training samples, so the measurement batches would overlap; lower |G| (metrics.numBatches) or the batch size`,
    );
  }
  const rng = new SeededRng(seed, BATCH_STREAM_BASE + step);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const out: Int32Array[] = [];
  for (let b = 0, at = 0; b < count; b++, at += batchSize) {
    for (let i = at; i < at + batchSize; i++) {
      const j = i + rng.int(n - i);
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    out.push(order.slice(at, at + batchSize));
  }
  return out;
}

interface RateModel {
  dropRate?: number;
  dropPathRate?: number;
}

/** Sets both rates, the zero one first (models refuse dropout and drop path on together). */
function setRates(model: TrainableModel, dropRate: number, dropPathRate: number): void {
  model.setDropRate?.(0);
  model.setDropPathRate?.(0);
  if (dropRate) model.setDropRate?.(dropRate);
  if (dropPathRate) model.setDropPathRate?.(dropPathRate);
}

/**
 * Measures the analysis metrics at the trainer's current step (the state before step
 * `trainer.step`, with that step's LR and drop rates): the mean norm of fresh mini-batch gradients
 * (|G| of them with directions, one without), the distance from θ₀, GDV/GDE/bias²/variance, and
 * with `dropoutDiagnostic` GDV/GDE of the same weights with dropout on. Nothing of the run changes
 * (see the module comment); one readback.
 */
export async function measure(trainer: Trainer, train: GpuDataset, options: MeasureOptions): Promise<MetricPoint> {
  const op = 'measure';
  if (!options || !(options.theta0 instanceof Tensor)) throw new Error(`${op}: options.theta0 (flattenParams of the initial parameters) is required`);
  const model = trainer.model;
  const params = model.parameters();
  checkParams(op, params);
  const size = paramCount(params);
  options.theta0.buffer(`${op} (theta0)`);
  if (options.theta0.size !== size) throw new Error(`${op}: theta0 has ${options.theta0.size} elements, the model has ${size} parameters`);
  const directions = options.directions ?? true;
  const numBatches = options.numBatches ?? 16;
  if (!Number.isInteger(numBatches) || numBatches < (directions ? 2 : 1)) {
    throw new Error(`${op}: numBatches must be an integer >= ${directions ? 2 : 1}${directions ? ' (GDV needs pairs)' : ''}, got ${String(numBatches)}`);
  }
  const ls = options.labelSmoothing ?? trainer.labelSmoothing;
  checkSmoothing(op, ls);
  const seed = options.seed ?? trainer.sampler.seed;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`${op}: seed must be a non-negative integer, got ${String(seed)}`);
  const batchSize = options.batchSize ?? trainer.sampler.batchSize;

  const step = trainer.step;
  const rates = trainer.ratesAt(step);
  const diag = options.dropoutDiagnostic;
  if (diag !== undefined) {
    if (!diag || typeof diag.p !== 'number' || !(diag.p > 0 && diag.p < 1)) throw new Error(`${op}: dropoutDiagnostic.p must be a rate in (0, 1), got ${String(diag?.p)}`);
    if (!directions) throw new Error(`${op}: dropoutDiagnostic measures GDV and GDE, so it needs directions (directions: false was given)`);
    if (rates.dropRate !== 0 || rates.dropPathRate !== 0) {
      throw new Error(`${op}: dropoutDiagnostic compares dropout on with the run's own measurement as "off", but at step ${step} the run drops at rate ${rates.dropRate || rates.dropPathRate}; use it on the no-dropout run`);
    }
    if (!model.setDropRate) throw new Error(`${op}: dropoutDiagnostic needs a model with setDropRate(); ${model.constructor.name} has none`);
  }
  const m = directions ? numBatches : 1;
  const batches = measurementBatches(train.count, batchSize, m, seed, step);

  const rateModel = model as TrainableModel & RateModel;
  const before = { drop: rateModel.dropRate ?? 0, dropPath: rateModel.dropPathRate ?? 0 };
  let acc: DirectionAccumulator | null = null;
  let accOn: DirectionAccumulator | null = null;
  let single: Tensor | null = null;
  let scalars: Tensor | null = null;
  /** |G| training-mode gradients at the model's current rates, each handed to `use` and disposed. */
  const gradients = (use: (g: Tensor) => void) => {
    for (let i = 0; i < m; i++) {
      const index = tensor(batches[i], [batchSize], { dtype: 'i32' });
      const batch = train.gather(index);
      index.dispose();
      try {
        const g = miniBatchGradient(model, batch.images, batch.labels, {
          train: true, labelSmoothing: ls, generator: new Generator(measurementDropoutKey(seed, step, i)),
        });
        try {
          use(g);
        } finally {
          g.dispose();
        }
      } finally {
        batch.images.dispose();
        batch.labels.dispose();
      }
    }
  };
  try {
    if (directions) {
      const ghat = fullGradient(model, train, { batchSize: options.fullBatchSize, labelSmoothing: ls });
      try {
        acc = new DirectionAccumulator(size, ghat);
        if (diag) accOn = new DirectionAccumulator(size, ghat);
      } finally {
        ghat.dispose();
      }
    }
    setRates(model, rates.dropRate, rates.dropPathRate);
    if (acc) {
      const a = acc;
      gradients((g) => a.add(g));
    } else {
      gradients((g) => { single = keep(noGrad(() => tidy(() => sqrt(sumSquares(g))))); });
    }
    if (accOn && diag) {
      const a = accOn;
      setRates(model, diag.p, 0);
      gradients((g) => a.add(g));
    }
    const a = acc;
    const on = accOn;
    const norm = single as Tensor | null;
    scalars = noGrad(() => tidy(() => {
      const distance = sqrt(sumSquares(sub(flattenParams(params), options.theta0.view([size]))));
      const parts = [distance.view([1]), a ? a.sums() : norm!.view([1])];
      if (on) parts.push(on.sums());
      return concat(parts, 0);
    }));
    const values = await scalars.toArray();
    const point: MetricPoint = { step, lr: rates.lr, dropRate: rates.dropRate, gradNorm: NaN, distance: values[0] };
    if (rates.dropPathRate) point.dropPathRate = rates.dropPathRate;
    try {
      if (!a) {
        point.gradNorm = values[1];
      } else {
        const stats = a.finish(values.subarray(1, 1 + a.sumsLength));
        point.gradNorm = stats.meanNorm;
        point.gdv = stats.gdv;
        point.gde = stats.gde;
        point.bias2 = stats.bias2;
        point.variance = stats.variance;
        if (on && diag) {
          const o = on.finish(values.subarray(1 + a.sumsLength));
          point.gdvDropoutOn = o.gdv;
          point.gdeDropoutOn = o.gde;
          point.diagnosticDropRate = diag.p;
        }
      }
    } catch (e) {
      throw new Error(`${op} (step ${step}${accOn ? ', dropout diagnostic included' : ''}): ${(e as Error).message}`);
    }
    return point;
  } finally {
    scalars?.dispose();
    (single as Tensor | null)?.dispose();
    acc?.dispose();
    accOn?.dispose();
    setRates(model, before.drop, before.dropPath);
  }
}
