/**
 * What the paper reports for each claim the lab judges, to print beside this run's verdict:
 * Liu, Xu, Jin, Shen, Darrell, "Dropout Reduces Underfitting", ICML 2023 (arXiv:2303.01500).
 * The accuracies are the paper's ImageNet-1K top-1 results with its basic recipe (the tables of
 * its early- and late-dropout sections, also in the authors' code release); the gradient analyses
 * are reported as curves only, so for those the effect is described, not quantified. The numbers
 * are those of the repository's own account of the paper, docs/paper.md.
 */

export const PAPER = {
  citation: 'Liu, Xu, Jin, Shen, Darrell. Dropout Reduces Underfitting. ICML 2023',
  short: 'Liu et al., ICML 2023',
  url: 'https://arxiv.org/abs/2303.01500',
} as const;

/** One reported comparison: model, the two accuracies (ImageNet-1K top-1, %), what was compared. */
export interface ReportedRow {
  model: string;
  from: number;
  to: number;
  /** e.g. 'no dropout → early dropout'. */
  comparison: string;
}

export interface ReportedEffect {
  /** The effect in one sentence. */
  summary: string;
  rows: ReportedRow[];
  /** Where in the paper. */
  source: string;
}

const IMAGENET = 'ImageNet-1K top-1 accuracy (%), basic recipe';

/** By the claim ids of the report's analysis (src/lab/experiment/report.ts). */
export const REPORTED: Record<string, ReportedEffect> = {
  'early-underfitting': {
    summary: 'Early dropout and early stochastic depth raise the accuracy of underfitting models by a few tenths of a point, with a lower final training loss.',
    rows: [
      { model: 'ViT-T', from: 73.9, to: 74.3, comparison: 'no dropout → early dropout' },
      { model: 'Mixer-S', from: 71.0, to: 71.3, comparison: 'no dropout → early dropout' },
      { model: 'Swin-F', from: 74.3, to: 74.7, comparison: 'no dropout → early dropout' },
      { model: 'ViT-T', from: 73.9, to: 74.4, comparison: 'no dropout → early stochastic depth' },
      { model: 'ConvNeXt-F', from: 76.1, to: 76.3, comparison: 'no dropout → early stochastic depth' },
    ],
    source: `${IMAGENET}, early-dropout results table; training-loss curves in the same section`,
  },
  /** The regime premise (a check, not a claim of the lab): standard dropout throughout hurts underfitting models. */
  premise: {
    summary: 'Standard dropout throughout training costs these small models several points: they underfit.',
    rows: [
      { model: 'ViT-T', from: 73.9, to: 67.9, comparison: 'no dropout → standard dropout' },
      { model: 'Mixer-S', from: 71.0, to: 67.1, comparison: 'no dropout → standard dropout' },
      { model: 'Swin-F', from: 74.3, to: 71.6, comparison: 'no dropout → standard dropout' },
    ],
    source: `${IMAGENET}, early-dropout results table (standard-dropout row)`,
  },
  'late-overfitting': {
    summary: 'Late stochastic depth beats standard stochastic depth on larger, overfitting models by 0.6 to 0.7 points.',
    rows: [
      { model: 'ViT-B', from: 81.6, to: 82.3, comparison: 'standard → late stochastic depth' },
      { model: 'Mixer-B', from: 78.0, to: 78.6, comparison: 'standard → late stochastic depth' },
    ],
    source: `${IMAGENET}, late-dropout results table`,
  },
  'gdv-early': {
    summary: 'With dropout, mini-batch gradients point in more similar directions early in training: lower gradient direction variance in the first epochs.',
    rows: [],
    source: 'gradient-analysis figures (curves over training, no table)',
  },
  'gde-early': {
    summary: 'With dropout, the mini-batch gradients lie closer to the whole-dataset gradient early in training: lower gradient direction error.',
    rows: [],
    source: 'gradient-analysis figures (curves over training, no table)',
  },
  'dropout-same-weights': {
    summary: 'The mechanism offered: with dropout the mini-batch gradients early in training vary less in direction and lie closer to the whole-dataset gradient (the lab measures it directly, on the same weights with dropout on and off).',
    rows: [],
    source: 'the gradient-analysis section (its argument; the same-weights measurement is the lab’s)',
  },
  'grad-norm': {
    summary: 'Dropout lowers the gradient norm.',
    rows: [],
    source: 'gradient-analysis figures (curves over training, no table)',
  },
  distance: {
    summary: 'Dropout models move further from their initialisation.',
    rows: [],
    source: 'gradient-analysis figures (curves over training, no table)',
  },
};

/** "ViT-T 73.9 → 74.3 (+0.4)". */
export function reportedRowText(r: ReportedRow): string {
  const d = r.to - r.from;
  return `${r.model} ${r.from.toFixed(1)} → ${r.to.toFixed(1)} (${d > 0 ? '+' : d < 0 ? '−' : '±'}${Math.abs(d).toFixed(1)})`;
}
