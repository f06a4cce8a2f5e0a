/**
 * The presets the lab page offers: the repository's experiment presets (src/lab/experiment/presets,
 * the same files `npm run lab -- --preset NAME` runs) plus two small synthetic demos that need no
 * dataset files: 'demo' (about a minute on a GPU) and 'demo-tiny' (seconds, even on a software
 * adapter; the end-to-end test trains it).
 */
import { PRESETS, PRESET_NAMES } from '../../src/lab/experiment/presets/index.js';
import type { ExperimentSpec } from '../../src/lab/experiment/types.js';

export const DEMO_PRESETS: Record<string, ExperimentSpec> = {
  demo: {
    name: 'demo',
    description:
      'A small synthetic demo (no files needed): no dropout vs standard dropout (p = 0.1) vs early dropout (p = 0.1, linear, first epoch of 6) on a two-layer MLP, 3 paired seeds, with the gradient analyses dense over the first 100 steps.',
    model: { kind: 'mlp', hiddenSizes: [256, 256], activation: 'gelu' },
    data: { kind: 'synthetic', trainSize: 3000, testSize: 1000, imageSize: 28, seed: 0 },
    arms: [
      { name: 'none', regularizer: 'dropout', mode: 'none' },
      { name: 'standard', regularizer: 'dropout', mode: 'standard', p: 0.1 },
      { name: 'early', regularizer: 'dropout', mode: 'early', p: 0.1, shape: 'linear', cutoffEpochs: 1 },
    ],
    seeds: [0, 1, 2],
    epochs: 6,
    batchSize: 64,
    lr: 0.001,
    minLr: 1e-6,
    weightDecay: 0.05,
    warmupEpochs: 1,
    labelSmoothing: 0.1,
    metrics: { denseEvery: 10, denseUntil: 100, every: 50, numBatches: 8, directions: true },
  },
  'demo-tiny': {
    name: 'demo-tiny',
    description: 'A tiny synthetic smoke run (8×8 images, one small MLP, 8 steps per run): none vs early dropout, 2 seeds. Seconds even on a software adapter; the numbers mean nothing.',
    model: { kind: 'mlp', hiddenSizes: [16] },
    data: { kind: 'synthetic', trainSize: 64, testSize: 32, imageSize: 8, seed: 0 },
    arms: [
      { name: 'none', regularizer: 'dropout', mode: 'none' },
      { name: 'early', regularizer: 'dropout', mode: 'early', p: 0.2, shape: 'linear', cutoffEpochs: 1 },
    ],
    seeds: [0, 1],
    epochs: 2,
    batchSize: 16,
    lr: 0.003,
    weightDecay: 0.05,
    warmupEpochs: 0,
    labelSmoothing: 0,
    metrics: { denseEvery: 2, denseUntil: 4, every: 4, numBatches: 2, directions: true },
  },
};

export interface PresetEntry {
  name: string;
  label: string;
  /** A fresh, unvalidated copy (the form edits it). */
  spec(): unknown;
}

const LABELS: Record<string, string> = {
  demo: 'demo — synthetic, MLP, 3 modes × 3 seeds',
  'demo-tiny': 'demo-tiny — synthetic 8×8, seconds',
  'regime-finder': '1 · regime finder (Fashion-MNIST)',
  'early-dropout': '2 · early dropout, underfitting cell (Fashion-MNIST)',
  analysis: '3 · gradient analyses (Fashion-MNIST)',
  'late-dropout': '4 · late dropout, overfitting cell (Fashion-MNIST)',
  ablations: '5 · ablations: cutoff and rate (Fashion-MNIST)',
};

export const PRESET_ENTRIES: PresetEntry[] = [
  ...Object.entries(DEMO_PRESETS).map(([name, spec]) => ({ name, label: LABELS[name] ?? name, spec: () => structuredClone(spec) as unknown })),
  ...PRESET_NAMES.map((name) => ({ name, label: LABELS[name] ?? name, spec: () => structuredClone(PRESETS[name]) })),
];

export function presetEntry(name: string): PresetEntry | undefined {
  return PRESET_ENTRIES.find((p) => p.name === name);
}
