/**
 * Per-step schedules for training: the learning rate (linear warmup, then cosine) and the drop rate
 * of dropout / stochastic depth (none, standard, early, late), as defined in docs/paper.md of the lab
 * ("Dropout Reduces Underfitting", Liu et al. 2023).
 *
 * Everything here is evaluated per optimizer step t = 0 .. T-1 (the paper sets the rate once per
 * step, not per epoch). Cutoffs and warmups may be given in epochs; they are converted to steps with
 * `stepsPerEpoch` and must land on a whole number of steps, so the step at which a schedule changes
 * is never a rounding accident.
 *
 * Pure TypeScript, no GPU: the trainer asks `dropRateAt(schedule, t)` and `learningRateAt(schedule,
 * t)` each step, and tests / plots use the whole-array forms.
 */

// ---------------------------------------------------------------------------------------------
// Shared argument checks
// ---------------------------------------------------------------------------------------------

/** Relative slack for "a whole number of steps": 0.7 epochs × 10 steps is 7.000000000000001 in f64. */
const WHOLE_STEPS_EPS = 1e-9;

function fail(where: string, message: string): never {
  throw new Error(`${where}: ${message}`);
}

function checkPositiveInteger(where: string, field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    fail(where, `${field} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

function checkStepsInRange(where: string, field: string, v: unknown, totalSteps: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, `${field} must be a number of steps, got ${String(v)}`);
  if (!Number.isInteger(v)) fail(where, `${field} must be a whole number of steps, got ${v}`);
  if (v < 0 || v > totalSteps) fail(where, `${field} = ${v} is outside [0, totalSteps = ${totalSteps}]`);
  return v;
}

/**
 * A span given either in steps (`steps`) or in epochs (`epochs` × `stepsPerEpoch`), as a whole
 * number of steps in [0, totalSteps]. Exactly one of the two must be given.
 */
function resolveSpan(
  where: string,
  stepsField: string,
  epochsField: string,
  steps: number | undefined,
  epochs: number | undefined,
  stepsPerEpoch: number | undefined,
  totalSteps: number,
): number {
  if (steps !== undefined && epochs !== undefined) {
    fail(where, `give either ${stepsField} or ${epochsField}, not both`);
  }
  if (steps === undefined && epochs === undefined) {
    fail(where, `${stepsField} or ${epochsField} is required`);
  }
  if (steps !== undefined) return checkStepsInRange(where, stepsField, steps, totalSteps);
  if (typeof epochs !== 'number' || !Number.isFinite(epochs)) {
    fail(where, `${epochsField} must be a number of epochs, got ${String(epochs)}`);
  }
  if (stepsPerEpoch === undefined) fail(where, `${epochsField} needs stepsPerEpoch`);
  checkPositiveInteger(where, 'stepsPerEpoch', stepsPerEpoch);
  const exact = epochs * stepsPerEpoch;
  const rounded = Math.round(exact);
  if (Math.abs(exact - rounded) > WHOLE_STEPS_EPS * Math.max(1, Math.abs(exact))) {
    fail(where, `${epochsField} × stepsPerEpoch = ${epochs} × ${stepsPerEpoch} = ${exact} is not a whole number of steps`);
  }
  return checkStepsInRange(where, `${epochsField} × stepsPerEpoch (${epochs} × ${stepsPerEpoch})`, rounded, totalSteps);
}

/**
 * Schedules this module has validated (and frozen), so the per-step functions can take either a
 * config or a validated schedule without re-checking it every step.
 */
const validatedDrop = new WeakSet<object>();
const validatedLr = new WeakSet<object>();

function remember<T extends object>(set: WeakSet<object>, schedule: T): T {
  set.add(schedule);
  return schedule;
}

function checkStep(where: string, t: unknown, totalSteps: number): number {
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= totalSteps) {
    fail(where, `step t must be an integer in [0, ${totalSteps - 1}], got ${String(t)}`);
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// Drop-rate schedules (dropout and stochastic depth)
// ---------------------------------------------------------------------------------------------

export const DROP_MODES = ['none', 'standard', 'early', 'late'] as const;
export const DROP_SHAPES = ['constant', 'linear'] as const;
export type DropMode = (typeof DROP_MODES)[number];
export type DropShape = (typeof DROP_SHAPES)[number];

export interface DropScheduleConfig {
  mode: DropMode;
  /** The drop rate p, in [0, 1). */
  p: number;
  /** 'constant' (default) or 'linear'; 'linear' is defined for early mode only. */
  shape?: DropShape;
  /** T: optimizer steps in the whole run. */
  totalSteps: number;
  /** Cutoff E in steps (early / late). Exactly one of cutoffSteps and cutoffEpochs. */
  cutoffSteps?: number;
  /** Cutoff in epochs (E = cutoffEpochs × stepsPerEpoch, which must be a whole number). */
  cutoffEpochs?: number;
  /** Needed with cutoffEpochs. */
  stepsPerEpoch?: number;
}

/** A validated drop schedule, with the cutoff in steps. */
export interface DropSchedule {
  readonly mode: DropMode;
  readonly shape: DropShape;
  readonly p: number;
  readonly totalSteps: number;
  /** E in steps; 0 for none / standard (unused there). */
  readonly cutoffStep: number;
}

const DROP_WHERE = 'dropSchedule';

/**
 * Validates a drop-schedule config and converts its cutoff to steps. Errors name the field:
 * p outside [0, 1), unknown mode or shape, linear with a mode other than early, cutoff missing,
 * negative, beyond totalSteps or not a whole number of steps.
 */
export function dropSchedule(input: DropScheduleConfig | DropSchedule): DropSchedule {
  if (validatedDrop.has(input)) return input as DropSchedule;
  const config = input as DropScheduleConfig;
  const where = DROP_WHERE;
  if (config === null || typeof config !== 'object') fail(where, `config must be an object, got ${String(config)}`);
  const { mode, p } = config;
  const shape = config.shape ?? 'constant';
  if (!(DROP_MODES as readonly string[]).includes(mode)) {
    fail(where, `unknown mode '${String(mode)}' (expected one of ${DROP_MODES.join(', ')})`);
  }
  if (!(DROP_SHAPES as readonly string[]).includes(shape)) {
    fail(where, `unknown shape '${String(shape)}' (expected one of ${DROP_SHAPES.join(', ')})`);
  }
  if (shape === 'linear' && mode !== 'early') {
    fail(where, `shape 'linear' is defined for mode 'early' only, got mode '${mode}' (late dropout is constant)`);
  }
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) fail(where, `p must be in [0, 1), got ${String(p)}`);
  const totalSteps = checkPositiveInteger(where, 'totalSteps', config.totalSteps);

  let cutoffStep = 0;
  if (mode === 'early' || mode === 'late') {
    cutoffStep = resolveSpan(where, 'cutoffSteps', 'cutoffEpochs', config.cutoffSteps, config.cutoffEpochs, config.stepsPerEpoch, totalSteps);
  } else if (config.cutoffSteps !== undefined || config.cutoffEpochs !== undefined) {
    // A cutoff on none / standard is almost certainly a config mix-up; say so rather than ignore it.
    fail(where, `mode '${mode}' takes no cutoff (cutoffSteps / cutoffEpochs are for early and late)`);
  }
  return remember(validatedDrop, Object.freeze({ mode, shape, p, totalSteps, cutoffStep }));
}

/**
 * The drop rate at optimizer step t (0-based), exactly as in the paper (E = cutoff step):
 *   none 0; standard p;
 *   early constant: p for t < E, then 0;
 *   early linear: p·(1 − t/(E−1)) for t < E (p at t = 0, 0 at t = E−1), then 0; with E = 1, p at t = 0;
 *   late: 0 for t < E, then p.
 */
export function dropRateAt(schedule: DropScheduleConfig | DropSchedule, t: number): number {
  const s = dropSchedule(schedule);
  checkStep(DROP_WHERE, t, s.totalSteps);
  const E = s.cutoffStep;
  switch (s.mode) {
    case 'none':
      return 0;
    case 'standard':
      return s.p;
    case 'late':
      return t < E ? 0 : s.p;
    case 'early':
      if (t >= E) return 0;
      if (s.shape === 'constant' || E === 1) return s.p;
      return s.p * (1 - t / (E - 1));
  }
}

/** The drop rate of every step 0 .. T-1 (for tests, plots and logs). */
export function dropRateSchedule(schedule: DropScheduleConfig | DropSchedule): Float64Array {
  const s = dropSchedule(schedule);
  const out = new Float64Array(s.totalSteps);
  for (let t = 0; t < s.totalSteps; t++) out[t] = dropRateAt(s, t);
  return out;
}

/**
 * Stochastic depth: block ℓ of L (0-based) gets p_t · ℓ/(L−1), 0 for the first block (paper.md);
 * a single block gets 0 (there is no deeper block to scale to).
 */
export function stochasticDepthRate(rate: number, block: number, numBlocks: number): number {
  const where = 'stochasticDepthRate';
  checkPositiveInteger(where, 'numBlocks', numBlocks);
  if (!Number.isInteger(block) || block < 0 || block >= numBlocks) {
    fail(where, `block must be an integer in [0, ${numBlocks - 1}], got ${block}`);
  }
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) fail(where, `rate must be in [0, 1), got ${String(rate)}`);
  return numBlocks === 1 ? 0 : (rate * block) / (numBlocks - 1);
}

// ---------------------------------------------------------------------------------------------
// Learning rate: linear warmup, then cosine to a floor
// ---------------------------------------------------------------------------------------------

export interface LrScheduleConfig {
  /** Peak learning rate, reached at the last warmup step and at the first cosine step. */
  lr: number;
  /** Floor reached at the last step t = T−1. Default 0; must be in [0, lr]. */
  minLr?: number;
  /** T: optimizer steps in the whole run. */
  totalSteps: number;
  /** W in steps (default 0 when neither warmupSteps nor warmupEpochs is given). */
  warmupSteps?: number;
  /** W in epochs (× stepsPerEpoch, a whole number of steps). */
  warmupEpochs?: number;
  stepsPerEpoch?: number;
}

export interface LrSchedule {
  readonly lr: number;
  readonly minLr: number;
  readonly totalSteps: number;
  readonly warmupSteps: number;
}

const LR_WHERE = 'lrSchedule';

export function lrSchedule(config: LrScheduleConfig | LrSchedule): LrSchedule {
  if (validatedLr.has(config)) return config as LrSchedule;
  const where = LR_WHERE;
  const c = config as LrScheduleConfig;
  if (c === null || typeof c !== 'object') fail(where, `config must be an object, got ${String(c)}`);
  const { lr } = c;
  const minLr = c.minLr ?? 0;
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0) fail(where, `lr must be a positive number, got ${String(lr)}`);
  if (typeof minLr !== 'number' || !(minLr >= 0 && minLr <= lr)) fail(where, `minLr must be in [0, lr = ${lr}], got ${String(minLr)}`);
  const totalSteps = checkPositiveInteger(where, 'totalSteps', c.totalSteps);
  const warmupSteps =
    c.warmupSteps === undefined && c.warmupEpochs === undefined
      ? 0
      : resolveSpan(where, 'warmupSteps', 'warmupEpochs', c.warmupSteps, c.warmupEpochs, c.stepsPerEpoch, totalSteps);
  return remember(validatedLr, Object.freeze({ lr, minLr, totalSteps, warmupSteps }));
}

/**
 * Learning rate at optimizer step t (0-based), W warmup steps, T total:
 *   t < W:  lr · (t+1)/W        linear warmup from lr/W (never 0, so step 0 is not wasted) to lr at t = W−1;
 *                               this is PyTorch's LinearLR(start_factor = 1/W) / timm with warmup_lr_init = 0,
 *                               shifted by one step so the last warmup step reaches the peak;
 *   t ≥ W:  minLr + (lr − minLr) · ½(1 + cos(π · (t−W)/(T−1−W)))
 *                               cosine from lr at t = W down to minLr at t = T−1.
 * Edge cases: W = 0 starts the cosine at t = 0 with lr; a cosine phase of a single step (W = T−1) is
 * that last step, at minLr; W = T is warmup only (the run ends at lr).
 */
export function learningRateAt(schedule: LrScheduleConfig | LrSchedule, t: number): number {
  const s = lrSchedule(schedule);
  checkStep(LR_WHERE, t, s.totalSteps);
  const W = s.warmupSteps;
  if (t < W) return (s.lr * (t + 1)) / W;
  const cosineSteps = s.totalSteps - 1 - W;
  const progress = cosineSteps === 0 ? 1 : (t - W) / cosineSteps;
  return s.minLr + (s.lr - s.minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** The learning rate of every step 0 .. T-1. */
export function learningRateSchedule(schedule: LrScheduleConfig | LrSchedule): Float64Array {
  const s = lrSchedule(schedule);
  const out = new Float64Array(s.totalSteps);
  for (let t = 0; t < s.totalSteps; t++) out[t] = learningRateAt(s, t);
  return out;
}
