/**
 * Spec validation of the analysis-metric options added for the gradient analyses: the dropout
 * on/off diagnostic, and |G| × batch within the training set (measurement batches never overlap).
 */
import { describe, expect, it } from 'vitest';
import { validateSpec } from '../src/lab/experiment/spec';
import type { ExperimentSpec } from '../src/lab/experiment/types';

const spec = (metrics: unknown, trainSize = 1000): unknown => ({
  name: 'm',
  model: { kind: 'mlp', hiddenSizes: [8] },
  data: { kind: 'synthetic', trainSize, testSize: 100 },
  arms: [{ name: 'none', regularizer: 'dropout', mode: 'none' }],
  seeds: [0, 1],
  epochs: 2,
  batchSize: 100,
  lr: 1e-3,
  weightDecay: 0,
  warmupEpochs: 0,
  labelSmoothing: 0,
  metrics,
});

const M = { denseEvery: 2, denseUntil: 4, every: 5, numBatches: 4 };

describe('metrics spec', () => {
  it('accepts the dropout diagnostic with a rate and rejects a bad one by path', () => {
    const ok = validateSpec(spec({ ...M, dropoutDiagnostic: { p: 0.1 } })) as ExperimentSpec;
    expect(ok.metrics?.dropoutDiagnostic).toEqual({ p: 0.1 });
    expect(() => validateSpec(spec({ ...M, dropoutDiagnostic: { p: 1 } }))).toThrow(/metrics\.dropoutDiagnostic\.p: must be a drop rate in \(0, 1\), got 1/);
    expect(() => validateSpec(spec({ ...M, dropoutDiagnostic: { rate: 0.1 } }))).toThrow(/metrics\.dropoutDiagnostic\.rate: unknown key/);
    expect(() => validateSpec(spec({ ...M, directions: false, dropoutDiagnostic: { p: 0.1 } }))).toThrow(/metrics\.dropoutDiagnostic: measures GDV and GDE, so it needs directions/);
  });

  it('rejects |G| × batch beyond the training set (the measurement batches would overlap)', () => {
    expect(() => validateSpec(spec({ ...M, numBatches: 11 }))).toThrow(/metrics\.numBatches: \|G\| = 11 batches × batch 100 = 1100 samples exceed the 1000 training images of cell 'default': measurement batches would overlap/);
    expect(() => validateSpec(spec({ ...M, numBatches: 10 }))).not.toThrow();
    // Without directions only one batch is drawn per point.
    expect(() => validateSpec(spec({ ...M, numBatches: 11, directions: false }))).not.toThrow();
  });
});
