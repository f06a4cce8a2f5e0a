import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { analyzeExperiment, renderReport, writeReport } from '../src/lab/experiment/report';
import { renderSvg, curveSpec, armPalette } from '../src/lab/experiment/plots';
import { formatNumber } from '../src/lab/experiment/format';
import type { ExperimentSpec, MetricPoint, RunResult } from '../src/lab/experiment/types';

// ---------------------------------------------------------------------------------------------
// Fixtures with known, hand-computable effects (4 paired seeds).
// ---------------------------------------------------------------------------------------------

const SEEDS = [0, 1, 2, 3];
const NONE_LOSS = [0.3, 0.32, 0.28, 0.31];
const NONE_ACC = [0.8, 0.82, 0.81, 0.83];
/** Per-seed jitter of the analysis metrics (so their paired differences have a spread). */
const JITTER = [0.004, -0.002, 0.003, -0.005];

/** Per-arm paired offsets from the baseline (arm − none) for each seed. */
interface Effect {
  loss: number[];
  acc: number[];
  /** Offset of GDV / GDE / gradient norm (early window), and a factor on the distance. */
  gdv?: number;
  distance?: number;
}

const UNDERFIT_EFFECTS: Record<string, Effect> = {
  none: { loss: [0, 0, 0, 0], acc: [0, 0, 0, 0] },
  // Standard dropout hurts: underfitting cell.
  standard: { loss: [0.05, 0.06, 0.05, 0.06], acc: [-0.02, -0.03, -0.02, -0.03], gdv: -0.05, distance: 1.2 },
  // Early dropout helps in every seed: loss diffs mean −0.02, s = 0.008165; acc diffs mean +0.015, s = 0.005774.
  early: { loss: [-0.02, -0.03, -0.01, -0.02], acc: [0.01, 0.02, 0.01, 0.02], gdv: -0.04, distance: 1.1 },
  // A null effect: half the seeds better, half worse.
  'early-null': { loss: [0.01, -0.01, 0.01, -0.01], acc: [-0.01, 0.01, -0.01, 0.01], gdv: 0, distance: 1 },
};

const MARGINS = {
  testAccuracy: { value: 0.002, reason: 'Fixture: 0.2 pp, the smallest gain the paper reports.' },
  finalTrainLoss: { value: 0.005, reason: 'Fixture: about 1% of the loss.' },
};

function underfitSpec(seeds = SEEDS): ExperimentSpec {
  return {
    name: 'early-underfit',
    description: 'Early dropout in an underfitting cell (synthetic fixture).',
    model: { kind: 'vit', patchSize: 7, dim: 32, depth: 2, numHeads: 2 },
    data: { kind: 'synthetic', trainSize: 640, testSize: 256 },
    arms: [
      { name: 'none', regularizer: 'dropout', mode: 'none' },
      { name: 'standard', regularizer: 'dropout', mode: 'standard', p: 0.1 },
      { name: 'early', regularizer: 'dropout', mode: 'early', p: 0.1, shape: 'linear', cutoffEpochs: 3 },
      { name: 'early-null', regularizer: 'dropout', mode: 'early', p: 0.1, cutoffEpochs: 3 },
    ],
    seeds,
    epochs: 10,
    batchSize: 64,
    lr: 1e-3,
    weightDecay: 0.05,
    warmupEpochs: 1,
    labelSmoothing: 0.1,
    metrics: { denseEvery: 5, denseUntil: 50, every: 20, numBatches: 8, dropoutDiagnostic: { p: 0.1 } },
    margins: MARGINS,
    alpha: 0.05,
    selection: { note: 'Fixture cell, chosen before any run.', preset: 'fixture-finder', seeds: [90, 91] },
  };
}

/** 100 steps (10 per epoch); early cutoff 3 epochs = step 30, so the early window is steps 5..25. */
function metricsFor(e: Effect, seed: number, arm: string): MetricPoint[] {
  const out: MetricPoint[] = [];
  const j = JITTER[SEEDS.indexOf(seed)];
  for (let step = 0; step < 100; step += step < 50 ? 5 : 20) {
    const early = step > 0 && step < 30;
    const gdv = 0.8 - step / 500 + (early ? (e.gdv ?? 0) * (1 + j) : 0) + 0.001 * seed;
    const gde = 0.5 - step / 800 + (early ? ((e.gdv ?? 0) / 2) * (1 + j) : 0) + 0.001 * seed;
    const variance = (gdv * 7) / 8; // |G| = 8
    const p: MetricPoint = {
      step,
      lr: 1e-3,
      dropRate: 0.1,
      gradNorm: 2 - step / 100 + (early ? (e.gdv ?? 0) * 4 : 0) + 0.01 * seed,
      distance: Math.sqrt(step) * 0.1 * (e.distance ?? 1) * (1 + 0.01 * seed + j),
      gdv,
      gde,
      bias2: 2 * gde - gdv, // the old definition: the report must not use it
      variance,
    };
    // The no-dropout arm's diagnostic: dropout on lowers GDV on the same weights early in training.
    if (arm === 'none') Object.assign(p, { gdvDropoutOn: gdv - (early ? 0.03 * (1 + 5 * j) : 0), gdeDropoutOn: gde + (early ? j : 0), diagnosticDropRate: 0.1 });
    out.push(p);
  }
  return out;
}

function makeResults(spec: ExperimentSpec, effects: Record<string, Effect>, cell = 'default', shift = { loss: 0, acc: 0 }): RunResult[] {
  const out: RunResult[] = [];
  for (const arm of spec.arms) {
    const e = effects[arm.name];
    for (const seed of spec.seeds) {
      const i = SEEDS.indexOf(seed);
      out.push({
        experiment: spec.name,
        cell,
        arm: arm.name,
        seed,
        finalTrainLoss: NONE_LOSS[i] + shift.loss + e.loss[i],
        testLoss: 0.5,
        testAccuracy: NONE_ACC[i] + shift.acc + e.acc[i],
        steps: 100,
        trainCurve: Array.from({ length: 20 }, (_, k) => ({ step: 5 * k, loss: 2.3 * Math.exp(-k / 6) + 0.3 + e.loss[i] + 0.01 * seed })),
        metrics: spec.metrics ? metricsFor(e, seed, arm.name) : [],
        seconds: 3,
        adapter: 'fixture-adapter',
      });
    }
  }
  return out;
}

const OPTIONS = { adapter: 'fixture-adapter', date: '2024-05-06' };

/** The first markdown table row for `key` after the heading `after`, split into its cells. */
function row(markdown: string, key: string, after = '## Results'): string[] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(after);
  if (start < 0) throw new Error(`no section ${after}`);
  const line = lines.slice(start).find((l) => l.startsWith(`| ${key} |`));
  if (!line) throw new Error(`no table row for ${key} after ${after}`);
  return line
    .slice(2, -2)
    .split(' | ')
    .map((c) => c.trim());
}

/** A claim in "What reproduced": its headline, its table and its notes (up to the next claim). */
function claimBlock(markdown: string, index: number): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`${index}. *`));
  if (start < 0) throw new Error(`no claim ${index}`);
  const block = [lines[start]];
  for (let i = start + 1; i < lines.length && (lines[i].startsWith('   ') || lines[i] === ''); i++) block.push(lines[i]);
  return block.join('\n').trimEnd();
}

/** The cells of the row of claim `index`'s table whose comparison is `comparison` and measure starts with `measure`. */
function claimRow(markdown: string, index: number, comparison: string, measure: string): string[] {
  const line = claimBlock(markdown, index)
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith(`| ${comparison} | ${measure}`));
  if (!line) throw new Error(`no row ${comparison} / ${measure} in claim ${index}`);
  return line
    .slice(2, -2)
    .split(' | ')
    .map((c) => c.trim());
}

/** Minimal XML well-formedness: balanced tags, one root <svg>, no stray '<'. */
function expectWellFormedSvg(svg: string): void {
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>/g;
  let last = 0;
  let roots = 0;
  for (let m = tag.exec(svg); m; m = tag.exec(svg)) {
    expect(svg.slice(last, m.index)).not.toMatch(/[<>]/); // text between tags must be escaped
    last = tag.lastIndex;
    const [, close, name, , selfClose] = m;
    if (close) expect(stack.pop()).toBe(name);
    else if (!selfClose) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
  }
  expect(svg.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
}

let warn: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  warn = vi.spyOn(console, 'warn');
});
afterEach(() => {
  // Vega / Vega-Lite warnings (dropped encodings, bad scales) would show up here.
  expect(warn).not.toHaveBeenCalled();
  warn.mockRestore();
});

// ---------------------------------------------------------------------------------------------

describe('renderReport: early dropout in an underfitting cell', () => {
  const spec = underfitSpec();
  const results = makeResults(spec, UNDERFIT_EFFECTS);
  const analysis = analyzeExperiment(spec, results);
  let md = '';
  let plots: Record<string, string> = {};

  it('renders', async () => {
    ({ markdown: md, plots } = await renderReport(spec, results, OPTIONS));
    expect(md.length).toBeGreaterThan(0);
  });

  it('has the header and describes what ran from the spec', () => {
    expect(md).toMatch(/^# Experiment report: early-underfit\n/);
    expect(md).toContain('Early dropout in an underfitting cell (synthetic fixture).');
    expect(md).toContain('| Date | 2024-05-06 |');
    expect(md).toContain('| Adapter | fixture-adapter |');
    expect(md).toContain('| Variant | full preset |');
    expect(md).toContain('| Runs | 16 of 16 expected (1 cell × 4 arms × 4 seeds) |');
    expect(md).toContain('- Model: ViT, patch 7, dim 32, depth 2, 2 heads, MLP ratio 4');
    expect(md).toContain('- Data: synthetic (seed 0, 28×28), 640 train / 256 test images');
    expect(md).toContain('- Training: 10 epochs = 100 steps (10 per epoch), batch 64, AdamW lr 0.001, weight decay 0.05, warmup 1 epoch, label smoothing 0.1');
    expect(md).toContain('- Seeds: 0, 1, 2, 3');
    expect(md).toContain('- Analysis metrics: 14 points per run at steps 0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 70, 90, 99; GDV/GDE over |G| = 8 disjoint mini-batches of 64 (512 of 640 training images)');
    expect(md).toContain('- Dropout on/off diagnostic: at every point of the no-dropout arm, GDV and GDE of the same weights also with dropout on at p = 0.1');
    expect(row(md, 'early', '### Arms')).toEqual(['early', 'dropout', 'early', '0.1', 'linear', '3', '0.001']);
  });

  it('tables the baseline with mean ± sample std', () => {
    // loss 0.30, 0.32, 0.28, 0.31: mean 0.3025, s = √(8.75e-4/3) = 0.01708; acc mean 81.50%, s = 1.29 pp.
    expect(row(md, 'none')).toEqual(['none', '4', '0.3025 ± 0.0171', '81.50% ± 1.29', 'baseline', 'baseline', '—', '—']);
  });

  it('tables the paired differences with the hand-computed 95% CIs and seed counts', () => {
    // Δ loss: mean −0.02, half width 3.182446·0.008165/2 = 0.012992 → [−0.0330, −0.00701].
    // Δ acc: mean +1.50 pp, half width 3.182446·0.5774/2 = 0.919 pp → [+0.58, +2.42].
    const early = row(md, 'early');
    expect(early.slice(0, 3)).toEqual(['early', '4', '0.2825 ± 0.00957']);
    expect(early[4]).toBe('-0.0200 [-0.0330, -0.00701]');
    expect(early[5]).toBe('+1.50 pp [+0.58, +2.42]');
    expect(early.slice(6)).toEqual(['4/4', '4/4']);
    // Null arm: Δ loss mean 0, s = 0.011547 → ±0.018374.
    const nul = row(md, 'early-null');
    expect(nul[4]).toBe('0 [-0.0184, +0.0184]');
    expect(nul[5]).toBe('0.00 pp [-1.84, +1.84]');
    expect(nul.slice(6)).toEqual(['2/4', '2/4']);
    expect(row(md, 'standard').slice(6)).toEqual(['0/4', '0/4']);
  });

  it('the analysis-metric columns add up: bias² + variance = 2·GDE (not the stored old-definition bias²)', () => {
    const lines = md.split('\n');
    const at = lines.findIndex((l) => l.startsWith('| arm | GDV | GDE | bias² | variance | gradient norm | model distance |'));
    expect(at).toBeGreaterThan(0);
    for (const arm of ['none', 'standard', 'early', 'early-null']) {
      const cells = lines.slice(at).find((l) => l.startsWith(`| ${arm} |`))!.slice(2, -2).split(' | ');
      const [gde, bias2, variance] = cells.slice(2, 5).map((c) => Number(c.split(' ± ')[0]));
      expect(Math.abs(bias2 + variance - 2 * gde)).toBeLessThan(2e-4); // 4 significant digits each
    }
    expect(md).toContain('bias² = 2·GDE − variance = ‖mean u − ĝ/‖ĝ‖‖², so bias² + variance = 2·GDE');
    expect(md).toContain('the mean over the early window (steps 1-29, before the early-dropout cutoff of arm early (step 30))');
    expect(md).toContain('gradient norm and distance: the time average over the whole run');
  });

  it('checks the premise on these seeds and labels it a premise, not a finding', () => {
    expect(md).toContain('## Premise check');
    expect(md).toMatch(/"Standard dropout hurts underfitting models" is the paper's regime test, so it is the premise here, not a finding/);
    // Δ acc −0.025, s = 0.005774: t = −8.66, p = 0.0032; Δ loss +0.055, s = 0.005774: t = 19.05, p = 0.00032 (scipy).
    expect(row(md, 'default', '## Premise check')).toEqual(['default', '-2.50 pp [-3.42, -1.58]', '0.0032', '+0.0550 [+0.0458, +0.0642]', '0.00032', '0/4', 'underfitting']);
    expect(md).toContain('- Cell default: premise holds (underfitting).');
    expect(md).toContain('Baseline learning rate: this experiment has no LR-check arms; the baseline lr is checked in preset `fixture-finder`.');
  });

  it('states a verdict per comparison with raw and Holm p, margin, TOST and MDE, from the findings', () => {
    expect(md).toContain(`Holm family: ${analysis.family.size} judged comparisons (4 with an equivalence test).`);
    const claim = analysis.claims[0];
    const loss = claim.comparisons.find((c) => c.arm === 'early' && c.measure === 'finalTrainLoss')!;
    const r = claimRow(md, 1, 'early − none', 'final training loss');
    expect(r.slice(0, 4)).toEqual(['early − none', 'final training loss (after the last step)', '-0.0200 [-0.0330, -0.00701]', '4/4 lower']);
    expect(r[4]).toBe('0.016'); // scipy.stats.ttest_1samp([-0.02, -0.03, -0.01, -0.02], 0): p = 0.0161
    expect(r[5]).toBe(formatNumber(loss.pAdjusted!, 2));
    expect(loss.pAdjusted!).toBeGreaterThan(0.05); // 4 seeds and a family of many comparisons
    expect(r[6]).toBe('±0.00500');
    expect(r[7]).toMatch(/^0\.\d+ \/ \d/);
    expect(r[8]).toBe(formatNumber(loss.mde, 3));
    expect(r[9]).toBe('inconclusive');
    expect(claimRow(md, 1, 'early − none', 'test accuracy')[6]).toBe('±0.20 pp');
    expect(claimBlock(md, 1)).toMatch(/^1\. \*Early dropout \(or early stochastic depth\) lowers the final training loss and raises the test accuracy of underfitting models\.\* — inconclusive in all 4 judged comparisons\./);
    expect(claimBlock(md, 1)).toContain('Cell default: premise holds: the regime test on these seeds finds the cell underfitting.');

    expect(claimBlock(md, 2)).toMatch(/^2\. \*Late dropout .*compared with standard dropout\.\* — not tested by this experiment \(it has no late-mode arm with finished runs\)\.$/);
    // GDV: standard and early lower by about 0.05 / 0.04 in the window, early-null unchanged.
    expect(claimRow(md, 3, 'standard − none', 'GDV (early window)').at(-1)).toBe('**reproduced**');
    expect(claimRow(md, 3, 'early − none', 'GDV (early window)').at(-1)).toBe('**reproduced**');
    expect(claimRow(md, 3, 'early-null − none', 'GDV (early window)').at(-1)).toBe('inconclusive');
    expect(claimBlock(md, 3)).toMatch(/— mixed — of 3 judged comparisons: 2 reproduced, 1 inconclusive\./);
    // The diagnostic: dropout on lowers GDV of the no-dropout run's own weights; GDE moves with the jitter only.
    expect(claimRow(md, 5, 'none: dropout on (p = 0.1) − off', 'GDV (early window)').at(-1)).toBe('**reproduced**');
    expect(claimRow(md, 5, 'none: dropout on (p = 0.1) − off', 'GDE (early window)').at(-1)).toBe('inconclusive');
    expect(claimRow(md, 6, 'early − none', 'gradient norm (whole run (time average))').at(-1)).toBe('**reproduced**');
    expect(claimRow(md, 7, 'standard − none', 'model distance (whole run (time average))').at(-1)).toBe('**reproduced**');
  });

  it('states the method: tests, α, Holm over which family, the margins with their reasons, the selection, and that a null is a result', () => {
    const method = md.slice(md.indexOf('## Method'));
    expect(method).toContain('two-sided paired t-test');
    expect(method).toContain('TOST');
    expect(method).toContain('α = 0.05');
    expect(method).toContain(`Holm's step-down correction over the judged comparisons of this report (${analysis.family.size}:`);
    expect(method).toContain('final training loss: ±0.00500 nats — Fixture: about 1% of the loss.');
    expect(method).toContain('test accuracy: ±0.20 pp — Fixture: 0.2 pp, the smallest gain the paper reports.');
    expect(method).toContain('Selection: Fixture cell, chosen before any run. Selected by preset `fixture-finder` on seeds 90, 91; those seeds are not reused here.');
    expect(md).toContain('A null result is a result.');
    expect(method).toContain('docs/paper.md');
  });

  it('embeds every figure, and the figures are well-formed SVG with the arm names', () => {
    const files = Object.keys(plots).sort();
    expect(files).toEqual(
      [
        'default-final.svg',
        'default-gde.svg',
        'default-gdv.svg',
        'default-grad-norm.svg',
        'default-model-distance.svg',
        'default-paired-diff.svg',
        'default-train-loss.svg',
        'default-gdv-dropout-on-off.svg',
        'default-gde-dropout-on-off.svg',
      ].sort(),
    );
    for (const f of files) {
      expect(md).toContain(`](${f})`);
      expectWellFormedSvg(plots[f]);
    }
    for (const arm of ['none', 'standard', 'early', 'early-null']) {
      expect(plots['default-train-loss.svg']).toContain(`>${arm}</text>`);
      expect(plots['default-gdv.svg']).toContain(`>${arm}</text>`);
      expect(plots['default-final.svg']).toContain(`>${arm}</text>`);
    }
    expect(plots['default-paired-diff.svg']).not.toContain('>none</text>');
    expect(plots['default-train-loss.svg']).toContain('optimizer step');
    expect(plots['default-train-loss.svg']).toContain('cutoff: early, early-null');
    expect(plots['default-gde.svg']).toContain('Gradient direction error');
    expect(plots['default-gdv-dropout-on-off.svg']).toContain('>dropout on</text>');
  });

  it('is deterministic', async () => {
    const again = await renderReport(spec, results, OPTIONS);
    expect(again.markdown).toBe(md);
    expect(again.plots).toEqual(plots);
  });
});

describe('renderReport: late dropout in an overfitting cell, quick variant', () => {
  const spec: ExperimentSpec = {
    ...underfitSpec(),
    name: 'late-overfit',
    description: 'FULL PRESET PROSE: 12800 images, |G| = 16, every 20 steps, the underfitting cell.',
    metrics: undefined,
    arms: [
      { name: 'none', regularizer: 'stochastic-depth', mode: 'none' },
      { name: 'standard-sd', regularizer: 'stochastic-depth', mode: 'standard', p: 0.2 },
      { name: 'late-sd', regularizer: 'stochastic-depth', mode: 'late', p: 0.2, cutoffEpochs: 5 },
    ],
  };
  const effects: Record<string, Effect> = {
    none: { loss: [0, 0, 0, 0], acc: [0, 0, 0, 0] },
    // Standard helps test accuracy: overfitting.
    'standard-sd': { loss: [0.05, 0.06, 0.05, 0.06], acc: [0.02, 0.03, 0.02, 0.03] },
    // Late hurts test accuracy in every seed: against standard (the judged comparison) it is contradicted.
    'late-sd': { loss: [0.01, 0.02, 0.01, 0.02], acc: [-0.01, -0.02, -0.01, -0.02] },
  };

  it('judges late against standard, shows late against none for reference, and never prints the full preset prose', async () => {
    const { markdown: md, plots } = await renderReport(spec, makeResults(spec, effects), { ...OPTIONS, quick: true });
    expect(md).toContain('| Variant | quick');
    expect(md).not.toContain('FULL PRESET PROSE');
    expect(md).toContain('The `--quick` variant of preset `late-overfit`');
    expect(md).toContain('- Data: synthetic (seed 0, 28×28), 640 train / 256 test images');
    expect(row(md, 'default', '## Premise check').at(-1)).toBe('overfitting');
    // late − standard: −0.03, −0.05, −0.03, −0.05: mean −4.00 pp, t = −6.93, p = 0.0062 (scipy); a family of one.
    const judged = claimRow(md, 2, 'late-sd − standard-sd', 'test accuracy');
    expect(judged.slice(2, 6)).toEqual(['-4.00 pp [-5.84, -2.16]', '0/4 higher', '0.0062', '0.0062']);
    expect(judged.at(-1)).toBe('**contradicted**');
    const ref = claimRow(md, 2, 'late-sd − none', 'test accuracy');
    expect(ref[5]).toBe('—');
    expect(ref.at(-1)).toBe('reference, not judged (raw: contradicted)');
    expect(claimBlock(md, 2)).toMatch(/^2\. \*Late dropout .*\* — contradicted\./);
    expect(claimBlock(md, 2)).toContain('the paper compares with standard dropout');
    expect(claimBlock(md, 1)).toMatch(/— not tested by this experiment \(it has no early-mode arm with finished runs\)\.$/);
    for (const i of [3, 4, 6, 7]) expect(claimBlock(md, i)).toMatch(/— not tested by this experiment \(the metric was not measured\)\.$/);
    expect(Object.keys(plots).sort()).toEqual(['default-final.svg', 'default-paired-diff.svg', 'default-train-loss.svg']);
  });
});

describe('renderReport: edge cases', () => {
  it('one seed gives inconclusive verdicts with the reason, not a verdict from one sample', async () => {
    const spec = underfitSpec([0]);
    const { markdown: md } = await renderReport(spec, makeResults(spec, UNDERFIT_EFFECTS), OPTIONS);
    expect(row(md, 'early')[4]).toBe('-0.0200 (n = 1, no CI)');
    expect(row(md, 'none')[2]).toBe('0.3000 (1 seed)');
    expect(claimBlock(md, 1)).toMatch(/— inconclusive in all 4 judged comparisons\./);
    const a = analyzeExperiment(spec, makeResults(spec, UNDERFIT_EFFECTS));
    expect(a.claims[0].lines[0]).toContain('inconclusive — only 1 paired seed; a test needs at least 2');
    expect(row(md, 'default', '## Premise check').at(-1)).toBe('unclear');
  });

  it('reports missing runs, ignores other experiments and keeps the last of duplicate lines', async () => {
    const spec = underfitSpec();
    const results = makeResults(spec, UNDERFIT_EFFECTS).filter((r) => !(r.arm === 'early' && r.seed === 3));
    const other = { ...results[0], experiment: 'something-else' };
    // A stale line for none/seed0 followed by the real one: the last wins.
    const stale = { ...results[0], finalTrainLoss: 99 };
    const a = analyzeExperiment(spec, [stale, ...results, other]);
    expect(a.runs).toHaveLength(15);
    expect(a.missingRuns).toEqual(['default/early/seed3']);
    expect(a.ignoredOtherExperiments).toBe(1);
    expect(a.duplicatesDropped).toBe(1);
    const { markdown: md } = await renderReport(spec, [stale, ...results, other], OPTIONS);
    expect(md).toContain('| Runs | 15 of 16 expected');
    expect(md).toContain('**Incomplete:** 1 run missing (default/early/seed3)');
    expect(md).toContain('1 result line(s) of other experiments were ignored.');
    expect(row(md, 'none')[2]).toBe('0.3025 ± 0.0171');
    // Early is paired on the 3 seeds it has.
    expect(row(md, 'early').slice(6)).toEqual(['3/3', '3/3']);
  });

  it('a diverged run (NaN loss) makes the comparison inconclusive instead of breaking the report', async () => {
    const spec = underfitSpec();
    const results = makeResults(spec, UNDERFIT_EFFECTS).map((r) => (r.arm === 'early' && r.seed === 1 ? { ...r, finalTrainLoss: NaN } : r));
    const { markdown: md } = await renderReport(spec, results, OPTIONS);
    expect(row(md, 'early')[4]).toBe('n/a (no CI: non-finite values)');
    expect(claimRow(md, 1, 'early − none', 'final training loss')[4]).toBe('n/a');
    const a = analyzeExperiment(spec, results);
    expect(a.claims[0].lines[0]).toContain('non-finite value (diverged?)');
    // Every run diverged: still a report (and, checked after each test, no plotting warnings).
    const allNaN = results.map((r) => ({ ...r, finalTrainLoss: NaN, testAccuracy: NaN }));
    const broken = await renderReport(spec, allNaN, OPTIONS);
    expect(row(broken.markdown, 'none')[2]).toBe('n/a (non-finite values)');
    expect(broken.plots['default-final.svg']).toContain('no finite values');
  });

  it('an experiment without runs still renders', async () => {
    const { markdown: md, plots } = await renderReport(underfitSpec(), [], OPTIONS);
    expect(md).toContain('| Runs | 0 of 16 expected');
    expect(md).toContain('No finished runs yet.');
    expect(Object.keys(plots)).toEqual([]);
  });
});

describe('renderReport: the regime finder', () => {
  it('classifies each cell, draws the regime summary and checks the baseline learning rate', async () => {
    const spec: ExperimentSpec = {
      ...underfitSpec(),
      name: 'regime-finder',
      metrics: undefined,
      selection: undefined,
      arms: [
        { name: 'none', regularizer: 'dropout', mode: 'none' },
        { name: 'standard', regularizer: 'dropout', mode: 'standard', p: 0.1 },
        { name: 'none-lr3e-3', regularizer: 'dropout', mode: 'none', lr: 3e-3 },
      ],
      cells: [
        { name: 'small model, 640 images', model: { kind: 'vit', patchSize: 7, dim: 16, depth: 1, numHeads: 1 } },
        { name: 'large model, 128 images', data: { trainSize: 128 } },
        { name: 'noise', data: { trainSize: 256 } },
      ],
    };
    // The other lr is worse than the baseline by far more than the margins in every cell.
    const worse: Effect = { loss: [0.05, 0.06, 0.05, 0.06], acc: [-0.02, -0.03, -0.02, -0.03] };
    const under = makeResults(spec, { none: UNDERFIT_EFFECTS.none, standard: UNDERFIT_EFFECTS.standard, 'none-lr3e-3': worse }, 'small model, 640 images');
    const over = makeResults(spec, { none: UNDERFIT_EFFECTS.none, standard: { loss: [0.05, 0.06, 0.05, 0.06], acc: [0.02, 0.03, 0.02, 0.03] }, 'none-lr3e-3': worse }, 'large model, 128 images', { loss: -0.2, acc: 0.05 });
    const unclear = makeResults(spec, { none: UNDERFIT_EFFECTS.none, standard: UNDERFIT_EFFECTS['early-null'], 'none-lr3e-3': UNDERFIT_EFFECTS['early-null'] }, 'noise');
    const { markdown: md, plots } = await renderReport(spec, [...under, ...over, ...unclear], OPTIONS);
    expect(md).toContain('| Runs | 36 of 36 expected (3 cells × 3 arms × 4 seeds) |');
    expect(md).toContain('### Cell small model, 640 images');
    expect(md).toContain('ViT, patch 7, dim 16, depth 1, 1 heads, MLP ratio 4; synthetic (seed 0, 28×28), 640 train / 256 test images.');
    expect(md).toContain('ViT, patch 7, dim 32, depth 2, 2 heads, MLP ratio 4; synthetic (seed 0, 28×28), 128 train / 256 test images.');
    expect(md).not.toContain('## Premise check');
    expect(row(md, 'small model, 640 images', '## Regime test per cell')).toEqual(['small model, 640 images', '-2.50 pp [-3.42, -1.58]', '0.0032', '+0.0550 [+0.0458, +0.0642]', '0.00032', '0/4', 'underfitting']);
    expect(row(md, 'large model, 128 images', '## Regime test per cell').at(-1)).toBe('overfitting');
    expect(row(md, 'noise', '## Regime test per cell').at(-1)).toBe('unclear');
    expect(md).toContain('](regime.svg)');
    expectWellFormedSvg(plots['regime.svg']);
    for (const w of ['underfitting', 'overfitting', 'unclear', 'noise']) expect(plots['regime.svg']).toContain(`>${w}</text>`);
    // The LR check per cell.
    expect(md).toContain('## Baseline learning-rate check');
    expect(row(md, 'small model, 640 images', '## Baseline learning-rate check')).toEqual([
      'small model, 640 images',
      'none-lr3e-3 (lr 0.003)',
      '+0.0550 [+0.0458, +0.0642]',
      'baseline within the margin (or better)',
      '-2.50 pp [-3.42, -1.58]',
      'baseline within the margin (or better)',
    ]);
    expect(md).toContain('- Cell small model, 640 images: baseline lr 0.001 is within the margin of every other lr tried (or better).');
    expect(md).toContain('- Cell noise: baseline lr 0.001 cannot be shown to be within the margin of the other lrs tried');
    // Cell names become safe, distinct file names.
    expect(Object.keys(plots)).toContain('small-model-640-images-train-loss.svg');
    expect(Object.keys(plots)).toContain('large-model-128-images-final.svg');
  });
});

describe('writeReport', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wgtrain-report-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes report.md and one SVG per figure', async () => {
    const spec = underfitSpec();
    const results = makeResults(spec, UNDERFIT_EFFECTS);
    const out = join(dir, 'nested', 'early-underfit');
    const { reportPath, plots } = await writeReport(spec, results, out, OPTIONS);
    expect(reportPath).toBe(join(out, 'report.md'));
    const rendered = await renderReport(spec, results, OPTIONS);
    expect(rendered.markdown.endsWith('.\n')).toBe(true);
    expect(await readFile(reportPath, 'utf8')).toBe(rendered.markdown);
    expect(plots.map((p) => p.slice(out.length + 1)).sort()).toEqual(Object.keys(rendered.plots).sort());
    expect((await readdir(out)).sort()).toEqual(['report.md', ...Object.keys(rendered.plots)].sort());
    for (const p of plots) expect(await readFile(p, 'utf8')).toBe(rendered.plots[p.slice(out.length + 1)]);
  });
});

describe('plots', () => {
  it('renders a curve without Vega-Lite warnings, and surfaces warnings of a broken spec', async () => {
    const warnings: string[] = [];
    const svg = await renderSvg(
      curveSpec({
        title: 'Test',
        yTitle: 'y',
        rows: [
          { arm: 'a', seed: 0, step: 0, value: 1 },
          { arm: 'a', seed: 0, step: 1, value: 0.5 },
          { arm: 'b', seed: 0, step: 0, value: 2 },
          { arm: 'b', seed: 0, step: 1, value: NaN },
        ],
        palette: armPalette(['a', 'b'], 'a'),
        spread: 'band',
      }),
      warnings,
    );
    expect(warnings).toEqual([]);
    expectWellFormedSvg(svg);
    expect(svg).toContain('>b</text>');
    // The baseline gets the dark grey, others the categorical colours in order.
    expect(armPalette(['x', 'none', 'y'], 'none').range).toEqual(['#1f77b4', '#3b3b3b', '#d62728']);

    // A quantitative field on the shape channel is invalid: Vega-Lite drops it with a warning.
    const broken = { data: { values: [{ a: 1 }] }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative' }, shape: { field: 'a', type: 'quantitative' } } };
    await renderSvg(broken as Parameters<typeof renderSvg>[0], warnings);
    expect(warnings.length).toBeGreaterThan(0);
  });
});
