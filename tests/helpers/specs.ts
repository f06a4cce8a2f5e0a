/**
 * The tiny experiment spec the runner tests train on real kernels (tests/runner.test.ts,
 * tests/resume-torn.test.ts): each test states only what it changes.
 */
import { validateSpec } from '../../src/lab/experiment/spec.js';
import type { ArmSpec, ExperimentSpec } from '../../src/lab/experiment/types.js';

export const NO_DROPOUT: ArmSpec = { name: 'none', regularizer: 'dropout', mode: 'none' };
export const EARLY_DROPOUT: ArmSpec = { name: 'early', regularizer: 'dropout', mode: 'early', p: 0.2, shape: 'linear', cutoffEpochs: 1 };

/** 2 seeds × 2 arms of an MLP on 8×8 synthetic images: 6 steps per epoch, 18 per run, 7 metric points. */
const TINY: ExperimentSpec = {
  name: 'tiny',
  model: { kind: 'mlp', hiddenSizes: [16] },
  data: { kind: 'synthetic', trainSize: 48, testSize: 32, imageSize: 8, seed: 1 },
  arms: [NO_DROPOUT, EARLY_DROPOUT],
  seeds: [1, 2],
  epochs: 3,
  batchSize: 8,
  lr: 1e-2,
  minLr: 1e-5,
  weightDecay: 0.05,
  warmupEpochs: 1,
  labelSmoothing: 0.1,
  metrics: { denseEvery: 2, denseUntil: 6, every: 5, numBatches: 3 },
  curveEvery: 1,
};

/** The tiny spec with `overrides` (whole top-level fields), validated; a fresh copy each call. */
export function tinySpec(overrides: Partial<ExperimentSpec> = {}): ExperimentSpec {
  return validateSpec(structuredClone({ ...TINY, ...overrides }));
}
