/**
 * The experiment format shared by the runner (runner.ts), the analysis metrics (../analysis.ts),
 * the report (report.ts) and the demo pages. A spec is JSON (presets live in presets/*.json);
 * results are JSON lines, one per finished run, plus one metrics stream per run.
 *
 * An experiment is a grid: cells (model and data variants, e.g. the regime finder's sizes) ×
 * arms (regularisation modes: none, standard, early, late, early stochastic depth, ...) × seeds.
 * Runs are paired: for a given cell and seed, every arm starts from the same initial weights and
 * sees the same data order.
 */
import type { DropMode, DropShape } from '../../nn/schedules.js';

/** The model kinds and their spec types are declared in models.ts (one place per kind). */
export type { ModelSpec } from './models.js';
import type { ModelSpec } from './models.js';

export interface DataSpec {
  kind: 'fashion-mnist' | 'synthetic';
  /** Training images used (the first N of the split; default: all). */
  trainSize?: number;
  /** Test images used (default: all). */
  testSize?: number;
  /** Synthetic only: generator seed (default 0) and image side (default 28). */
  seed?: number;
  imageSize?: number;
}

/** One regularisation arm: which regulariser, its rate and its schedule. */
export interface ArmSpec {
  /** Label in tables and plots, e.g. 'early-linear'. Unique within the experiment. */
  name: string;
  regularizer: 'dropout' | 'stochastic-depth';
  mode: DropMode;
  /** Drop rate p in [0, 1); ignored (must be 0 or absent) for mode 'none'. */
  p?: number;
  shape?: DropShape;
  /** Cutoff in epochs for early / late (may be fractional as long as it is a whole number of steps). */
  cutoffEpochs?: number;
  /**
   * Peak learning rate of this arm (default: the experiment's `lr`). For the baseline check of
   * the regime finder: the no-dropout arm at a few learning rates, so that an effect of dropout
   * is not an artefact of a mistuned baseline. Arms that differ only in `lr` are LR-check arms.
   */
  lr?: number;
}

/**
 * A pre-registered equivalence margin: the smallest difference (in the result field's own units:
 * test accuracy as a fraction, loss in nats) that the experiment treats as an effect, and why.
 * Fixed in the preset before any run; a difference whose CI lies inside ±value is "no effect
 * beyond the margin".
 */
export interface MarginSpec {
  value: number;
  reason: string;
}

/** Margins per judged result field. */
export interface MarginsSpec {
  testAccuracy: MarginSpec;
  finalTrainLoss: MarginSpec;
}

/** How the cells of an experiment were chosen (printed in the report, so a reader can tell selection from confirmation). */
export interface SelectionSpec {
  /** Why these cells, in plain words, written before any run of this experiment. */
  note: string;
  /** The experiment whose runs selected the cells, if any, and the seeds it used (never reused here). */
  preset?: string;
  seeds?: number[];
}

/** A model/data variant; fields override the experiment's top-level model and data. */
export interface CellSpec {
  name: string;
  model?: ModelSpec;
  data?: Partial<DataSpec>;
}

/** When to measure gradient norm, model distance, GDV, GDE (steps, dense early). */
export interface MetricScheduleSpec {
  /** Measure every `denseEvery` steps until `denseUntil`, then every `every` steps (and at the last step). */
  denseEvery: number;
  denseUntil: number;
  every: number;
  /** |G|: mini-batch gradients per GDV/GDE measurement (default 16). */
  numBatches?: number;
  /** Compute GDV/GDE (costly: |G| gradients plus one full-train-set gradient). Default true. */
  directions?: boolean;
  /**
   * The dropout on/off diagnostic: at each point of the no-dropout arm, GDV and GDE of the same
   * weights also with dropout active at rate `p` (|G| more gradients per point). Needs directions.
   */
  dropoutDiagnostic?: { p: number };
}

export interface ExperimentSpec {
  name: string;
  description?: string;
  model: ModelSpec;
  data: DataSpec;
  cells?: CellSpec[];
  arms: ArmSpec[];
  seeds: number[];
  epochs: number;
  batchSize: number;
  lr: number;
  minLr?: number;
  weightDecay: number;
  warmupEpochs: number;
  labelSmoothing: number;
  augment?: { shift?: number; flip?: boolean };
  metrics?: MetricScheduleSpec;
  /** Steps between training-loss points kept in the result (default: about 100 points per run). */
  curveEvery?: number;
  /** Pre-registered equivalence margins of the judged comparisons (see MarginSpec). */
  margins?: MarginsSpec;
  /** Level of the two-sided intervals and of each one-sided equivalence test (default 0.05). */
  alpha?: number;
  /** How the cells were chosen (see SelectionSpec). */
  selection?: SelectionSpec;
}

/** One measurement of the analysis metrics (analysis.ts) during a run. */
export interface MetricPoint {
  step: number;
  lr: number;
  dropRate: number;
  /** Stochastic-depth rate at this step (present when non-zero). */
  dropPathRate?: number;
  /** ‖g‖₂ of the mini-batch gradient at this step (training mode). */
  gradNorm: number;
  /** ‖θ_t − θ_0‖₂. */
  distance: number;
  /** Present when directions were measured. */
  gdv?: number;
  gde?: number;
  /**
   * ‖mean u − ĝ/‖ĝ‖‖², so that 2·GDE = bias² + variance. (Runs logged before this definition stored
   * 2·GDE − GDV here; the report derives bias² from gde and variance, which mean the same in both.)
   */
  bias2?: number;
  /** 1 − ‖mean u‖² (the plug-in spread of the unit directions; GDV = variance·|G|/(|G| − 1)). */
  variance?: number;
  /** Dropout on/off diagnostic (metrics.dropoutDiagnostic): GDV and GDE of the same weights with dropout active at `diagnosticDropRate`. */
  gdvDropoutOn?: number;
  gdeDropoutOn?: number;
  diagnosticDropRate?: number;
}

/** One finished run: a line of results.jsonl. */
export interface RunResult {
  experiment: string;
  cell: string;
  arm: string;
  seed: number;
  /** Eval-mode plain cross entropy over the whole training set, after the last step. */
  finalTrainLoss: number;
  testLoss: number;
  testAccuracy: number;
  steps: number;
  /** Mini-batch training loss (as optimised) every `curveEvery` steps. */
  trainCurve: { step: number; loss: number }[];
  metrics: MetricPoint[];
  seconds: number;
  adapter: string;
}

/** A run's identity: the key that makes re-running skip it. */
export function runKey(r: Pick<RunResult, 'cell' | 'arm' | 'seed'>): string {
  return `${r.cell}/${r.arm}/seed${r.seed}`;
}
