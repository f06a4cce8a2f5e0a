/**
 * The experiment presets (one JSON file each, next to this file), by name. `preset(name)` returns a
 * validated copy. DEFAULT_PRESET is what `npm run lab` runs without --preset: 'analysis', the
 * smallest preset that still answers a question of the paper (the gradient analyses, with the
 * final-loss table of none / standard / early on the side) and the one sized to finish in minutes
 * on a GPU; the others are larger (early-dropout: 80 runs, ablations: 120).
 */
import { validateSpec } from '../spec.js';
import type { ExperimentSpec } from '../types.js';
import regimeFinder from './regime-finder.json';
import earlyDropout from './early-dropout.json';
import analysis from './analysis.json';
import lateDropout from './late-dropout.json';
import ablations from './ablations.json';
import cpuRegime from './cpu-regime.json';
import cpuEarly from './cpu-early.json';
import cpuLate from './cpu-late.json';
import cpuAnalysis from './cpu-analysis.json';
import cpuEarlyLr3e3 from './cpu-early-lr3e-3.json';

/** GPU presets 1 regime finder, 2 early dropout, 3 analysis, 4 late dropout, 5 ablations; then the CPU-sized ones. */
export const PRESETS: Readonly<Record<string, unknown>> = {
  'regime-finder': regimeFinder,
  'early-dropout': earlyDropout,
  analysis,
  'late-dropout': lateDropout,
  ablations,
  // Sized for a software adapter (SwiftShader on a 2-core CPU): MLPs on the full training set.
  'cpu-regime': cpuRegime,
  'cpu-early': cpuEarly,
  'cpu-late': cpuLate,
  'cpu-analysis': cpuAnalysis,
  'cpu-early-lr3e-3': cpuEarlyLr3e3,
};

export const PRESET_NAMES = Object.keys(PRESETS);

export const DEFAULT_PRESET = 'analysis';

/**
 * Presets split into parts that each fit one GPU window (about 10 minutes, 8 planned) by
 * `--plan`'s estimate at the assumed GPU speed (src/lab/experiment/cost.ts). `--part K` runs the
 * K-th share of the runs (shard.ts: contiguous in seed-major order, balanced by estimated cost)
 * into the preset's usual folder, so the parts run one after the other, in any order, resuming
 * as always, and the last one leaves the complete results and report. Unlisted presets: one part.
 */
export const PRESET_PARTS: Readonly<Record<string, number>> = {
  'regime-finder': 4,
  analysis: 2,
  'late-dropout': 2,
  ablations: 2,
};

/** Parts of a preset (1 when it is not split). */
export const presetParts = (name: string): number => PRESET_PARTS[name] ?? 1;

/** A validated deep copy of a preset; an unknown name is an error listing the known ones. */
export function preset(name: string): ExperimentSpec {
  const json = PRESETS[name];
  if (json === undefined) throw new Error(`unknown preset '${name}' (known: ${PRESET_NAMES.join(', ')})`);
  try {
    return validateSpec(structuredClone(json));
  } catch (e) {
    throw new Error(`preset '${name}': ${(e as Error).message}`);
  }
}
