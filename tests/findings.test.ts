/**
 * The findings as data (src/lab/experiment/findings.ts) on constructed paired differences with
 * known answers: the four verdicts, Holm over the judged family only, the comparisons the paper
 * makes (late vs standard, the premise as a check, the baseline LR check), the analysis spans
 * (early window without step 0, whole-run time averages), identical measurements counted once,
 * "not measurable", bias² + variance = 2·GDE, and the dropout on/off diagnostic.
 */
import { describe, expect, it } from 'vitest';
import { analyzeExperiment, pointValue, spanValue, type Comparison, type EarlyWindow } from '../src/lab/experiment/findings';
import { holm, pairedTTestP } from '../src/lab/experiment/stats';
import type { ArmSpec, ExperimentSpec, MetricPoint, RunResult } from '../src/lab/experiment/types';

const SEEDS = [10, 11, 12, 13, 14, 15];
const BASE_LOSS = [0.5, 0.52, 0.49, 0.51, 0.5, 0.53];
const BASE_ACC = [0.8, 0.81, 0.79, 0.82, 0.8, 0.81];

/** Paired offsets (arm − none) per seed with a known character (see the scipy values in tests/stats.test.ts). */
const D = {
  zero: [0, 0, 0, 0, 0, 0],
  // Clearly negative, p = 1.44e-5 (scipy.stats.ttest_1samp).
  down: [-0.02, -0.03, -0.025, -0.028, -0.022, -0.026],
  up: [0.02, 0.03, 0.025, 0.028, 0.022, 0.026],
  // Inside ±0.005 (TOST p = 1.6e-7) and inside ±0.002 when scaled by 0.4.
  tiny: [0.0005, -0.0004, 0.0002, -0.0001, 0.0003, -0.0002],
  // Wide: neither test rejects.
  wide: [0.01, -0.02, 0.015, -0.01, 0.02, -0.012],
};
const scale = (xs: number[], f: number) => xs.map((x) => x * f);

const MARGINS = {
  testAccuracy: { value: 0.002, reason: 'the smallest gain the paper reports (fixture)' },
  finalTrainLoss: { value: 0.005, reason: 'about 1% of the loss (fixture)' },
};

function baseSpec(arms: ArmSpec[], extra: Partial<ExperimentSpec> = {}): ExperimentSpec {
  return {
    name: 'fixture',
    model: { kind: 'mlp', hiddenSizes: [8] },
    data: { kind: 'synthetic', trainSize: 1000, testSize: 100 },
    arms,
    seeds: SEEDS,
    epochs: 10,
    batchSize: 100,
    lr: 1e-3,
    weightDecay: 0.05,
    warmupEpochs: 1,
    labelSmoothing: 0.1,
    margins: MARGINS,
    ...extra,
  };
}

const NONE: ArmSpec = { name: 'none', regularizer: 'dropout', mode: 'none' };
const early = (name: string, extra: Partial<ArmSpec> = {}): ArmSpec => ({ name, regularizer: 'dropout', mode: 'early', p: 0.1, shape: 'linear', cutoffEpochs: 3, ...extra });

function run(spec: ExperimentSpec, arm: string, i: number, dLoss: number, dAcc: number, metrics: MetricPoint[] = []): RunResult {
  return {
    experiment: spec.name,
    cell: 'default',
    arm,
    seed: SEEDS[i],
    finalTrainLoss: BASE_LOSS[i] + dLoss,
    testLoss: 0.6,
    testAccuracy: BASE_ACC[i] + dAcc,
    steps: 100,
    trainCurve: [],
    metrics,
    seconds: 1,
    adapter: 'fixture',
  };
}

function results(spec: ExperimentSpec, effects: Record<string, { loss: number[]; acc: number[]; metrics?: (i: number) => MetricPoint[] }>): RunResult[] {
  return spec.arms.flatMap((a) => SEEDS.map((_, i) => run(spec, a.name, i, effects[a.name].loss[i], effects[a.name].acc[i], effects[a.name].metrics?.(i) ?? [])));
}

const find = (cs: readonly Comparison[], arm: string, measure: string) => {
  const c = cs.find((x) => x.arm === arm && x.measure === measure);
  if (!c) throw new Error(`no comparison ${arm}/${measure}`);
  return c;
};

describe('verdicts on constructed paired differences', () => {
  const spec = baseSpec([NONE, early('e-rep'), early('e-contra'), early('e-null'), early('e-wide')]);
  const a = analyzeExperiment(
    spec,
    results(spec, {
      none: { loss: D.zero, acc: D.zero },
      'e-rep': { loss: D.down, acc: D.up },
      'e-contra': { loss: D.up, acc: D.down },
      'e-null': { loss: D.tiny, acc: scale(D.tiny, 0.4) },
      'e-wide': { loss: D.wide, acc: D.wide },
    }),
  );
  const claim = a.claims.find((c) => c.id === 'early-underfitting')!;

  it('gives each of the four outcomes', () => {
    for (const m of ['finalTrainLoss', 'testAccuracy']) {
      expect(find(claim.comparisons, 'e-rep', m).verdict.verdict).toBe('reproduced');
      expect(find(claim.comparisons, 'e-contra', m).verdict.verdict).toBe('contradicted');
      expect(find(claim.comparisons, 'e-null', m).verdict.verdict).toBe('no effect beyond the margin');
      expect(find(claim.comparisons, 'e-wide', m).verdict.verdict).toBe('inconclusive');
    }
    expect(claim.status).toBe('mixed');
  });

  it('adjusts with Holm over the judged family and records raw and adjusted p, margin and MDE', () => {
    expect(a.family).toEqual({ size: 8, equivalenceSize: 8 });
    const rep = find(claim.comparisons, 'e-rep', 'finalTrainLoss');
    expect(rep.test.pDifference).toBeCloseTo(1.4426420285354323e-5, 12); // scipy
    const raw = claim.comparisons.map((c) => c.test.pDifference);
    const adj = holm(raw);
    claim.comparisons.forEach((c, i) => expect(c.pAdjusted).toBe(adj[i]));
    // The two smallest raw p (e-rep and e-contra on loss tie with their accuracy twins) are multiplied by 8, 7, ...
    expect(Math.min(...claim.comparisons.map((c) => c.pAdjusted!))).toBeCloseTo(8 * Math.min(...raw), 15);
    expect(rep.margin?.value).toBe(0.005);
    expect(rep.test.equivalence?.margin).toBe(0.005);
    expect(rep.pEquivalenceAdjusted).toBeGreaterThan(0.05);
    // MDE at α/k with the observed SD of the differences.
    expect(rep.mdeAlpha).toBeCloseTo(0.05 / 8, 15);
    expect(rep.mde).toBeGreaterThan(0);
    expect(rep.mde).toBeLessThan(0.02);
  });

  it('a raw rejection can become inconclusive after Holm', () => {
    // p ≈ 0.02 on its own; with 8 comparisons its adjusted p exceeds 0.05.
    const mild = [-0.01, -0.03, 0.005, -0.02, -0.012, -0.025];
    expect(pairedTTestP(mild)).toBeLessThan(0.05);
    const s = baseSpec([NONE, early('e-rep'), early('e-contra'), early('e-mild'), early('e-wide')]);
    const b = analyzeExperiment(
      s,
      results(s, {
        none: { loss: D.zero, acc: D.zero },
        'e-rep': { loss: D.down, acc: D.up },
        'e-contra': { loss: D.up, acc: D.down },
        'e-mild': { loss: mild, acc: D.wide },
        'e-wide': { loss: D.wide, acc: D.wide },
      }),
    );
    const c = find(b.claims[0].comparisons, 'e-mild', 'finalTrainLoss');
    expect(c.pAdjusted!).toBeGreaterThan(0.05);
    expect(c.verdict.verdict).toBe('inconclusive');
  });

  it('without margins a null cannot be stated', () => {
    const s = { ...spec, margins: undefined };
    const b = analyzeExperiment(s, results(s, { none: { loss: D.zero, acc: D.zero }, 'e-rep': { loss: D.down, acc: D.up }, 'e-contra': { loss: D.up, acc: D.down }, 'e-null': { loss: D.tiny, acc: D.tiny }, 'e-wide': { loss: D.wide, acc: D.wide } }));
    const c = find(b.claims[0].comparisons, 'e-null', 'finalTrainLoss');
    expect(c.verdict.verdict).toBe('inconclusive');
    expect(c.verdict.reason).toMatch(/no margin was set/);
    expect(b.family.equivalenceSize).toBe(0);
  });
});

describe("the paper's comparisons", () => {
  it('late dropout is judged against standard dropout; against none it is a reference outside the Holm family', () => {
    const spec = baseSpec([NONE, { name: 'standard', regularizer: 'dropout', mode: 'standard', p: 0.1 }, { name: 'late', regularizer: 'dropout', mode: 'late', p: 0.1, cutoffEpochs: 2 }]);
    const a = analyzeExperiment(
      spec,
      results(spec, {
        none: { loss: D.zero, acc: D.zero },
        // standard helps on test: overfitting cell.
        standard: { loss: D.up, acc: D.up },
        // late beats none clearly but not standard.
        late: { loss: D.up, acc: D.up.map((x, i) => x + D.tiny[i] * 0.4) },
      }),
    );
    expect(a.intent).toBe('overfitting');
    const late = a.claims.find((c) => c.id === 'late-overfitting')!;
    const judged = late.comparisons.filter((c) => c.role === 'judged');
    expect(judged.map((c) => `${c.arm}-${c.comparator}`)).toEqual(['late-standard']);
    expect(judged[0].verdict.verdict).toBe('no effect beyond the margin');
    const ref = late.comparisons.find((c) => c.role === 'reference')!;
    expect(ref.comparator).toBe('none');
    expect(ref.pAdjusted).toBeUndefined();
    expect(a.family.size).toBe(1);
    expect(late.status).toBe('no effect beyond the margin');
    // The premise (standard vs none) is a check, not a finding.
    expect(a.premises).toEqual([expect.objectContaining({ cell: 'default', needed: 'overfitting', status: 'holds' })]);
    expect(a.claims.flatMap((c) => c.comparisons).some((c) => c.arm === 'standard')).toBe(false);
  });

  it('the premise of an early-dropout experiment is checked on its own seeds and can fail', () => {
    const spec = baseSpec([NONE, { name: 'standard', regularizer: 'dropout', mode: 'standard', p: 0.1 }, early('early')]);
    const a = analyzeExperiment(spec, results(spec, { none: { loss: D.zero, acc: D.zero }, standard: { loss: D.wide, acc: D.wide }, early: { loss: D.down, acc: D.up } }));
    expect(a.premises[0]).toMatchObject({ needed: 'underfitting', status: 'not established' });
    expect(a.premises[0].regime!.regime).toBe('unclear');
  });

  it('the baseline LR check: arms that differ from none only by lr, judged against the margins', () => {
    const spec = baseSpec([NONE, { name: 'standard', regularizer: 'dropout', mode: 'standard', p: 0.1 }, { ...NONE, name: 'lr-low', lr: 3e-4 }, { ...NONE, name: 'lr-high', lr: 3e-3 }]);
    const a = analyzeExperiment(
      spec,
      results(spec, {
        none: { loss: D.zero, acc: D.zero },
        standard: { loss: D.up, acc: D.down },
        // Clearly worse than the baseline on both: baseline within the margin.
        'lr-low': { loss: D.up, acc: D.down },
        // Better beyond the margin on loss (−0.025 ≫ 0.005), a tie inside the margin on accuracy.
        'lr-high': { loss: D.down, acc: scale(D.tiny, 0.4) },
      }),
    );
    expect(a.cells[0].baseline).toBe('none');
    expect(a.lrChecks).toHaveLength(1);
    const [low, high] = a.lrChecks[0].arms;
    expect(low).toMatchObject({ arm: 'lr-low', lr: 3e-4 });
    expect(low.finalTrainLoss.outcome).toBe('baseline within margin');
    expect(low.testAccuracy.outcome).toBe('baseline within margin');
    expect(high.finalTrainLoss.outcome).toBe('baseline mistuned');
    expect(high.testAccuracy.outcome).toBe('baseline within margin');
    expect(a.lrChecks[0].status).toBe('mistuned');
    // LR arms are never treated as dropout arms or as the baseline.
    expect(a.claims.flatMap((c) => c.comparisons).some((c) => c.arm.startsWith('lr-'))).toBe(false);
  });
});

/** Metric points every 5 steps to 50, then every 25 to 99 (100 steps); values from `f`. */
function points(f: (step: number) => Partial<MetricPoint>): MetricPoint[] {
  const out: MetricPoint[] = [];
  for (let step = 0; step < 100; step += step < 50 ? 5 : 25) out.push({ step, lr: 1e-3, dropRate: 0, gradNorm: 1, distance: 0, ...f(step) });
  out.push({ step: 99, lr: 1e-3, dropRate: 0, gradNorm: 1, distance: 0, ...f(99) });
  return out;
}

describe('analysis spans', () => {
  const window: EarlyWindow = { steps: 30, basis: { kind: 'dense-span' }, source: '' };

  it('the early window leaves out step 0 and ends before the cutoff; the whole run is a time average', () => {
    const pts = points((s) => ({ gdv: s === 0 ? 100 : s < 30 ? 0.5 : 9, gradNorm: s < 50 ? 2 : 1 }));
    expect(spanValue(pts, 'gdv', window)).toBe(0.5);
    // Trapezoids over steps 0..99: 2 on [0, 45], a ramp 2 → 1 over [45, 50], 1 on [50, 99].
    const area = 2 * 45 + 1.5 * 5 + 1 * 49;
    expect(spanValue(pts, 'gradNorm', window)).toBeCloseTo(area / 99, 14);
    // A window with nothing after step 0 has no value.
    expect(spanValue(pts, 'gdv', { ...window, steps: 1 })).toBeUndefined();
  });

  it('bias² is 2·GDE − variance of each point, so bias² + variance = 2·GDE in every summary', () => {
    // Old-style points stored bias2 = 2·GDE − GDV; it is ignored.
    const p: MetricPoint = { step: 5, lr: 0, dropRate: 0, gradNorm: 1, distance: 1, gdv: 0.8, gde: 0.5, variance: 0.7, bias2: 0.2 };
    expect(pointValue(p, 'bias2')).toBeCloseTo(0.3, 15);
    const pts = points((s) => ({ gdv: 0.9 - s / 1000, gde: 0.6 - s / 2000, variance: 0.8 - s / 900 }));
    const b = spanValue(pts, 'bias2', window)!;
    const v = spanValue(pts, 'variance', window)!;
    const g = spanValue(pts, 'gde', window)!;
    expect(b + v).toBeCloseTo(2 * g, 14);
    expect(b).toBeGreaterThan(0);
  });

  const metricSpec = (arms: ArmSpec[], cutoff = 3) =>
    baseSpec(
      arms.map((a) => (a.mode === 'early' ? { ...a, cutoffEpochs: cutoff } : a)),
      { metrics: { denseEvery: 5, denseUntil: 50, every: 25, numBatches: 4, dropoutDiagnostic: { p: 0.1 } } },
    );

  it('identical measurements in a window are one comparison; different ones are judged separately', () => {
    const arms: ArmSpec[] = [NONE, { name: 'standard', regularizer: 'dropout', mode: 'standard', p: 0.1 }, early('early-constant', { shape: 'constant' }), early('early-linear')];
    const spec = metricSpec(arms);
    // Before the cutoff (step 30) standard and early-constant are the same runs: the same values.
    const gdvOf = (arm: string, i: number) => (s: number) => 0.8 - (arm === 'none' ? 0 : arm === 'early-linear' ? 0.03 : 0.05) - 0.001 * i + (s >= 30 && arm === 'early-constant' ? 0.2 : 0);
    const m = (arm: string) => (i: number) => points((s) => ({ gdv: gdvOf(arm, i)(s), gde: 0.5, variance: 0.7, gradNorm: 1 + (arm === 'none' ? 0.1 : arm === 'early-linear' ? 0.02 : 0) + (s >= 30 && arm === 'early-constant' ? 0.01 : 0) + 0.01 * i, distance: s * (arm === 'none' ? 1 : 1.1) }));
    const a = analyzeExperiment(
      spec,
      results(spec, {
        none: { loss: D.zero, acc: D.zero, metrics: m('none') },
        standard: { loss: D.up, acc: D.down, metrics: m('standard') },
        'early-constant': { loss: D.wide, acc: D.wide, metrics: m('early-constant') },
        'early-linear': { loss: D.wide, acc: D.wide, metrics: m('early-linear') },
      }),
    );
    expect(a.cells[0].window?.steps).toBe(30);
    const gdv = a.claims.find((c) => c.id === 'gdv-early')!;
    expect(gdv.comparisons.map((c) => [c.arm, c.sameAs])).toEqual([
      ['standard', ['early-constant']],
      ['early-linear', []],
    ]);
    expect(gdv.comparisons.every((c) => c.verdict.verdict === 'reproduced')).toBe(true);
    // Over the whole run the arms differ, so gradient norm has a comparison per arm.
    const norm = a.claims.find((c) => c.id === 'grad-norm')!;
    expect(norm.comparisons.map((c) => c.arm)).toEqual(['standard', 'early-constant', 'early-linear']);
    expect(norm.comparisons.every((c) => c.span === 'whole-run')).toBe(true);
    expect(a.claims.find((c) => c.id === 'distance')!.status).toBe('reproduced');
  });

  it('a window that holds only the initial weights is "not measurable", while the whole-run claims are still judged', () => {
    // Cutoff 0.1 epoch = step 1: the window is step 0 only.
    const spec = metricSpec([NONE, { name: 'standard', regularizer: 'dropout', mode: 'standard', p: 0.1 }, early('early')], 0.1);
    const m = (arm: string) => (i: number) => points(() => ({ gdv: 0.8 - (arm === 'none' ? 0 : 0.05) + 0.001 * i, gde: 0.5, variance: 0.7, gradNorm: arm === 'none' ? 2 + 0.01 * i : 1 + 0.02 * i }));
    const a = analyzeExperiment(spec, results(spec, { none: { loss: D.zero, acc: D.zero, metrics: m('none') }, standard: { loss: D.up, acc: D.down, metrics: m('standard') }, early: { loss: D.down, acc: D.up, metrics: m('early') } }));
    const gdv = a.claims.find((c) => c.id === 'gdv-early')!;
    expect(gdv.status).toBe('not measurable');
    expect(gdv.comparisons[0].verdict.reason).toMatch(/no measurement in the early window.*at step 0 every arm has the same initial weights/);
    // Not measurable is not a test: it is outside the Holm family.
    expect(gdv.comparisons[0].pAdjusted).toBeUndefined();
    expect(a.claims.find((c) => c.id === 'grad-norm')!.status).toBe('reproduced');
  });

  it('the dropout on/off diagnostic compares the no-dropout run with itself, dropout on vs off', () => {
    const spec = metricSpec([NONE, { name: 'standard', regularizer: 'dropout', mode: 'standard', p: 0.1 }, early('early')]);
    const noneMetrics = (i: number) => points((s) => ({ gdv: 0.8 + 0.001 * i, gde: 0.5, variance: 0.7, gdvDropoutOn: s < 30 ? 0.7 + 0.002 * i : 0.85, gdeDropoutOn: 0.5 + 0.001 * (i % 2 ? 1 : -1), diagnosticDropRate: 0.1 }));
    const m = () => points(() => ({ gdv: 0.8, gde: 0.5, variance: 0.7 }));
    const a = analyzeExperiment(spec, results(spec, { none: { loss: D.zero, acc: D.zero, metrics: noneMetrics }, standard: { loss: D.up, acc: D.down, metrics: m }, early: { loss: D.down, acc: D.up, metrics: m } }));
    const diag = a.claims.find((c) => c.id === 'dropout-same-weights')!;
    expect(diag.comparisons.map((c) => [c.kind, c.arm, c.comparator, c.measure, c.diagnosticRate])).toEqual([
      ['dropout-on-vs-off', 'none', 'none', 'gdv', 0.1],
      ['dropout-on-vs-off', 'none', 'none', 'gde', 0.1],
    ]);
    // GDV: on − off = −0.1 + 0.001·i in the window: lower with dropout on. GDE: ±0.001, no trend.
    expect(diag.comparisons[0].test.mean).toBeCloseTo(-0.1 + 0.001 * 2.5, 12);
    expect(diag.comparisons[0].verdict.verdict).toBe('reproduced');
    expect(diag.comparisons[1].verdict.verdict).toBe('inconclusive');
    expect(diag.status).toBe('mixed');
  });
});
