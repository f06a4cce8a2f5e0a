/**
 * Experiment specs: validateSpec accepts the presets and rejects bad specs with a message naming
 * the field; quickSpec shrinks deterministically and keeps cutoffs on whole steps; the run plan is
 * seed-major. No GPU needed.
 */
import { describe, expect, test } from 'vitest';
import { metricSteps, quickSpec, resolveCells, SpecError, stepsPerEpochOf, totalStepsOf, validateSpec } from '../src/lab/experiment/spec.js';
import { DEFAULT_PRESET, PRESET_NAMES, PRESETS, preset } from '../src/lab/experiment/presets/index.js';
import { planRuns } from '../src/lab/experiment/runner.js';
import type { ExperimentSpec } from '../src/lab/experiment/types.js';

function base(): Record<string, any> {
  return {
    name: 'unit',
    model: { kind: 'vit', patchSize: 4, dim: 16, depth: 2, numHeads: 2 },
    data: { kind: 'synthetic', trainSize: 100, testSize: 20, imageSize: 8 },
    arms: [
      { name: 'none', regularizer: 'dropout', mode: 'none' },
      { name: 'standard', regularizer: 'dropout', mode: 'standard', p: 0.1 },
      { name: 'early', regularizer: 'dropout', mode: 'early', p: 0.1, shape: 'linear', cutoffEpochs: 2 },
    ],
    seeds: [0, 1],
    epochs: 4,
    batchSize: 10,
    lr: 1e-3,
    weightDecay: 0.05,
    warmupEpochs: 1,
    labelSmoothing: 0.1,
  };
}

/** The message validateSpec throws for `spec` (fails the test if it does not throw). */
function problem(spec: unknown): string {
  try {
    validateSpec(spec);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as Error).message;
  }
  throw new Error('validateSpec accepted a bad spec');
}

describe('validateSpec', () => {
  test('accepts a sound spec and every preset', () => {
    expect(validateSpec(base()).name).toBe('unit');
    for (const name of PRESET_NAMES) expect(() => preset(name), name).not.toThrow();
    expect(PRESET_NAMES).toContain(DEFAULT_PRESET);
    for (const name of ['regime-finder', 'early-dropout', 'analysis', 'late-dropout', 'ablations', 'cpu-regime', 'cpu-early', 'cpu-late', 'cpu-analysis', 'cpu-early-lr3e-3']) {
      expect(PRESET_NAMES).toContain(name);
    }
  });

  test('the CPU presets: MLPs, at least 10 paired seeds (analysis: 5), seeds never shared between them, the recipe of paper.md', () => {
    const cpu = ['cpu-regime', 'cpu-early', 'cpu-late', 'cpu-analysis', 'cpu-early-lr3e-3'].map((n) => preset(n));
    const seen = new Map<number, string>();
    for (const s of cpu) {
      for (const cell of resolveCells(s)) {
        expect(cell.model.kind, s.name).toBe('mlp');
        expect(cell.data.kind).toBe('fashion-mnist');
        expect(cell.data.testSize).toBe(10000);
        // warmup = 1/6 of training (and so is every early cutoff)
        expect(s.warmupEpochs / s.epochs).toBeCloseTo(1 / 6, 12);
      }
      for (const a of s.arms) if (a.cutoffEpochs !== undefined) expect(a.cutoffEpochs / s.epochs, `${s.name} ${a.name}`).toBeCloseTo(1 / 6, 12);
      expect(s.seeds.length).toBeGreaterThanOrEqual(s.name === 'cpu-analysis' ? 5 : 10);
      for (const seed of s.seeds) {
        expect(seen.get(seed), `${s.name} reuses seed ${seed}`).toBeUndefined();
        seen.set(seed, s.name);
      }
      expect(s.margins?.testAccuracy.reason.length).toBeGreaterThan(20);
      expect(s.margins?.finalTrainLoss.reason.length).toBeGreaterThan(20);
      expect(s.selection?.note.length).toBeGreaterThan(20);
    }
    // The underfitting cells train on the whole training set; cpu-regime checks the baseline LR.
    expect(resolveCells(preset('cpu-early')).map((c) => c.data.trainSize)).toEqual([60000]);
    expect(preset('cpu-regime').arms.filter((a) => a.mode === 'none').map((a) => a.lr ?? preset('cpu-regime').lr).sort()).toEqual([0.0003, 0.001, 0.003]);
    expect(preset('cpu-late').arms.map((a) => a.mode)).toEqual(['none', 'standard', 'late']);
    // cpu-early-lr3e-3 is cpu-early at the lr cpu-regime's baseline check found best, on fresh seeds.
    const { name: _a, description: _b, seeds: _c, lr, selection: _d, ...rest } = preset('cpu-early-lr3e-3');
    const { name: _e, description: _f, seeds: _g, lr: lrEarly, selection: _h, ...restEarly } = preset('cpu-early');
    expect([lr, lrEarly]).toEqual([0.003, 0.001]);
    expect(rest).toEqual(restEarly);
  });

  test('margins, alpha, selection and arm lr are checked', () => {
    const good = { ...base(), margins: { testAccuracy: { value: 0.002, reason: 'r' }, finalTrainLoss: { value: 0.005, reason: 'r' } }, alpha: 0.05, selection: { note: 'why', preset: 'x', seeds: [7] } };
    expect(validateSpec(good).margins?.testAccuracy.value).toBe(0.002);
    expect(problem({ ...good, margins: { testAccuracy: { value: -1, reason: 'r' }, finalTrainLoss: { value: 0.005, reason: 'r' } } })).toMatch(/margins\.testAccuracy\.value: must be a positive margin/);
    expect(problem({ ...good, margins: { testAccuracy: { value: 0.002 }, finalTrainLoss: { value: 0.005, reason: 'r' } } })).toMatch(/margins\.testAccuracy\.reason: must be a non-empty string/);
    expect(problem({ ...good, margins: { testAccuracy: { value: 0.002, reason: 'r' } } })).toMatch(/margins\.finalTrainLoss: must be an object/);
    expect(problem({ ...good, alpha: 0.7 })).toMatch(/alpha: must be a level in \(0, 0\.5\)/);
    expect(problem({ ...good, selection: { note: 'why', seeds: [1] } })).toMatch(/seeds: seed 1 selected the cells .* use fresh seeds/);
    expect(problem({ ...good, selection: { seeds: [9] } })).toMatch(/selection\.note: must be a non-empty string/);
    const lrArm = { name: 'none-lr', regularizer: 'dropout', mode: 'none', lr: 3e-3 };
    expect(validateSpec({ ...base(), arms: [...base().arms, lrArm] }).arms[3].lr).toBe(3e-3);
    expect(problem({ ...base(), arms: [...base().arms, { ...lrArm, lr: 0 }] })).toMatch(/arms\[3\]\.lr: must be a positive learning rate/);
    expect(problem({ ...base(), minLr: 1e-4, arms: [...base().arms, { ...lrArm, lr: 1e-5 }] })).toMatch(/arms\[3\]\.lr: must not be below minLr/);
  });

  test('the presets are what the issue asks for', () => {
    const arms = (n: string) => preset(n).arms.map((a) => `${a.regularizer}:${a.mode}`);
    expect(arms('early-dropout')).toEqual(['dropout:none', 'dropout:standard', 'dropout:early', 'dropout:early', 'stochastic-depth:early']);
    expect(preset('early-dropout').arms.map((a) => a.shape ?? 'constant').slice(2)).toEqual(['linear', 'constant', 'linear']);
    expect(preset('early-dropout').seeds.length).toBeGreaterThanOrEqual(5);
    expect(arms('late-dropout')).toEqual(['dropout:none', 'dropout:standard', 'dropout:late']);
    expect(preset('late-dropout').seeds.length).toBeGreaterThanOrEqual(3);
    expect(arms('regime-finder')).toEqual(['dropout:none', 'dropout:standard', 'dropout:none', 'dropout:none']);
    expect(preset('regime-finder').arms.map((a) => a.lr ?? preset('regime-finder').lr)).toEqual([0.001, 0.001, 0.0003, 0.003]);
    expect(resolveCells(preset('regime-finder')).length).toBeGreaterThanOrEqual(4);
    const analysis = preset('analysis');
    expect(analysis.metrics?.directions).not.toBe(false);
    expect(analysis.arms.map((a) => a.p ?? 0)).toEqual([0, 0.1, 0.1]);
    // ablations: cutoffs from 2% to 50% of training, rates from 0.05 to 0.3
    const ab = preset('ablations');
    const fractions = ab.arms.filter((a) => a.cutoffEpochs !== undefined).map((a) => a.cutoffEpochs! / ab.epochs);
    expect(Math.min(...fractions)).toBeCloseTo(0.02, 10);
    expect(Math.max(...fractions)).toBeCloseTo(0.5, 10);
    const rates = ab.arms.map((a) => a.p ?? 0).filter((p) => p > 0);
    expect(Math.min(...rates)).toBe(0.05);
    expect(Math.max(...rates)).toBe(0.3);
  });

  test('unknown mode', () => {
    const s = base();
    s.arms[1].mode = 'sometimes';
    expect(problem(s)).toMatch(/arms\[1\]\.mode: unknown mode "sometimes" \(expected one of none, standard, early, late\)/);
  });

  test('rate outside [0, 1)', () => {
    for (const p of [1.2, 1, -0.1]) {
      const s = base();
      s.arms[2].p = p;
      expect(problem(s)).toMatch(new RegExp(`arms\\[2\\]\\.p: rate must be in \\[0, 1\\), got ${p}`));
    }
    const s = base();
    s.arms[1].p = 'high';
    expect(problem(s)).toMatch(/arms\[1\]\.p: rate must be in \[0, 1\), got "high"/);
    const none = base();
    none.arms[0].p = 0.1;
    expect(problem(none)).toMatch(/arms\[0\]\.p: mode 'none' takes no rate/);
    const missing = base();
    delete missing.arms[1].p;
    expect(problem(missing)).toMatch(/arms\[1\]\.p: mode 'standard' needs a rate/);
  });

  test('cutoff beyond training, or not on a whole step', () => {
    const s = base();
    s.arms[2].cutoffEpochs = 5;
    expect(problem(s)).toMatch(/arms\[2\]\.cutoffEpochs: cutoff 5 is beyond training \(epochs = 4\)/);
    const frac = base();
    frac.arms[2].cutoffEpochs = 0.25; // 10 steps per epoch: 2.5 steps
    expect(problem(frac)).toMatch(/arms\[2\]\.cutoffEpochs: 0.25 epochs × 10 steps per epoch \(cell 'default'\) = 2.5 is not a whole number of steps/);
    const none = base();
    none.arms[1].cutoffEpochs = 1;
    expect(problem(none)).toMatch(/arms\[1\]\.cutoffEpochs: mode 'standard' takes no cutoff/);
    const early = base();
    delete early.arms[2].cutoffEpochs;
    expect(problem(early)).toMatch(/arms\[2\]\.cutoffEpochs: mode 'early' needs a cutoff/);
    const warm = base();
    warm.warmupEpochs = 9;
    expect(problem(warm)).toMatch(/warmupEpochs: warmup 9 is beyond training \(epochs = 4\)/);
  });

  test('dropout and stochastic depth together in one arm', () => {
    const both = base();
    both.arms[1] = { name: 'both', regularizer: 'dropout', mode: 'standard', p: 0.1, dropPathRate: 0.1 };
    expect(problem(both)).toMatch(/arms\[1\]: dropout and stochastic depth together in one arm/);
    const both2 = base();
    both2.arms[1] = { name: 'both', regularizer: 'stochastic-depth', mode: 'standard', p: 0.1, dropout: 0.1 };
    expect(problem(both2)).toMatch(/arms\[1\]: dropout and stochastic depth together/);
    const list = base();
    list.arms[1].regularizer = ['dropout', 'stochastic-depth'];
    expect(problem(list)).toMatch(/arms\[1\]: dropout and stochastic depth together/);
    // Stochastic depth alone is fine on a ViT, not on an MLP.
    const sd = base();
    sd.arms[1].regularizer = 'stochastic-depth';
    expect(() => validateSpec(sd)).not.toThrow();
    sd.model = { kind: 'mlp', hiddenSizes: [8] };
    expect(problem(sd)).toMatch(/arms\[1\]\.regularizer: stochastic depth needs residual blocks \(a ViT or Mixer\), but cell 'default' has an MLP/);
  });

  test('unknown keys are named, at every level', () => {
    const s = base();
    s.arms[2].cutoffEpoch = 2; // typo
    expect(problem(s)).toMatch(/arms\[2\]\.cutoffEpoch: unknown key/);
    const top = base();
    top.learningRate = 1;
    expect(problem(top)).toMatch(/learningRate: unknown key/);
    const model = base();
    model.model.heads = 2;
    expect(problem(model)).toMatch(/model\.heads: unknown key/);
    const metrics = base();
    metrics.metrics = { denseEvery: 1, denseUntil: 4, every: 2, batches: 8 };
    expect(problem(metrics)).toMatch(/metrics\.batches: unknown key/);
  });

  test('duplicate names, empty or repeated seeds, other fields', () => {
    const dup = base();
    dup.arms[2].name = 'none';
    expect(problem(dup)).toMatch(/arms\[2\]\.name: duplicate arm name 'none' \(also arms\[0\]\)/);
    const empty = base();
    empty.seeds = [];
    expect(problem(empty)).toMatch(/seeds: is empty: give at least one seed/);
    const rep = base();
    rep.seeds = [3, 3];
    expect(problem(rep)).toMatch(/seeds\[1\]: seed 3 appears twice/);
    const neg = base();
    neg.seeds = [-1];
    expect(problem(neg)).toMatch(/seeds\[0\]: must be an integer in \[0, 4294967295\], got -1/);
    const noArms = base();
    noArms.arms = [];
    expect(problem(noArms)).toMatch(/arms: is empty/);
    const heads = base();
    heads.model.numHeads = 3;
    expect(problem(heads)).toMatch(/model\.numHeads: dim 16 is not divisible by numHeads 3/);
    const patch = base();
    patch.model.patchSize = 3;
    expect(problem(patch)).toMatch(/model\.patchSize: 3 does not divide the image side 8/);
    const fm = base();
    fm.data = { kind: 'fashion-mnist', trainSize: 70000 };
    expect(problem(fm)).toMatch(/data\.trainSize: Fashion-MNIST has 60000 training images, got 70000/);
    const kind = base();
    kind.data.kind = 'cifar';
    expect(problem(kind)).toMatch(/data\.kind: unknown data kind "cifar"/);
    const linear = base();
    linear.arms[1].shape = 'linear';
    expect(problem(linear)).toMatch(/arms\[1\]\.shape: 'linear' is defined for mode 'early' only/);
    const batch = base();
    batch.batchSize = 101;
    expect(problem(batch)).toMatch(/batchSize: 101 is larger than the 100 training images of cell 'default'/);
    const cells = base();
    cells.cells = [{ name: 'a' }, { name: 'a', data: { trainSize: 50 } }];
    expect(problem(cells)).toMatch(/cells\[1\]\.name: duplicate cell name 'a'/);
    const badName = base();
    badName.arms[0].name = 'no/slash';
    expect(problem(badName)).toMatch(/arms\[0\]\.name: "no\/slash" is not a usable name/);
    expect(problem(null)).toMatch(/spec: must be an object/);
  });

  test('every problem is listed at once', () => {
    const s = base();
    s.arms[1].p = 2;
    s.arms[2].mode = 'x';
    s.seeds = [];
    const msg = problem(s);
    expect(msg).toMatch(/3 problems/);
    expect(msg).toMatch(/arms\[1\]\.p/);
    expect(msg).toMatch(/arms\[2\]\.mode/);
    expect(msg).toMatch(/seeds/);
  });
});

describe('derived quantities', () => {
  test('cells inherit and override; steps per epoch drop the last partial batch', () => {
    const s = validateSpec({ ...base(), cells: [{ name: 'small', data: { trainSize: 55 } }, { name: 'wide', model: { kind: 'vit', patchSize: 4, dim: 32, depth: 2, numHeads: 4 } }] });
    const cells = resolveCells(s);
    expect(cells.map((c) => [c.name, c.data.trainSize, c.data.kind, c.model.kind === 'vit' && c.model.dim])).toEqual([
      ['small', 55, 'synthetic', 16],
      ['wide', 100, 'synthetic', 32],
    ]);
    expect(stepsPerEpochOf(s, cells[0])).toBe(5);
    expect(totalStepsOf(s, cells[1])).toBe(40);
  });

  test('metric steps: dense early, sparse later, always the last step', () => {
    expect(metricSteps({ denseEvery: 2, denseUntil: 6, every: 5 }, 20)).toEqual([0, 2, 4, 6, 11, 16, 19]);
    expect(metricSteps({ denseEvery: 1, denseUntil: 0, every: 10 }, 10)).toEqual([0, 9]);
    expect(metricSteps(undefined, 10)).toEqual([]);
  });

  test('the plan is seed-major and covers every cell × arm × seed once', () => {
    const s = validateSpec({ ...base(), cells: [{ name: 'a' }, { name: 'b', data: { trainSize: 50 } }] });
    const plan = planRuns(s);
    expect(plan.length).toBe(2 * 3 * 2);
    expect(plan.slice(0, 6).every((r) => r.seed === 0)).toBe(true);
    expect(plan.map((r) => r.key).slice(0, 4)).toEqual(['a/none/seed0', 'a/standard/seed0', 'a/early/seed0', 'b/none/seed0']);
    expect(new Set(plan.map((r) => r.key)).size).toBe(plan.length);
  });

  test('quickSpec: deterministic, small, cutoffs keep their fraction on whole steps', () => {
    for (const name of PRESET_NAMES) {
      const full = preset(name);
      const q = quickSpec(full);
      expect(quickSpec(full), name).toEqual(q);
      expect(q.name).toBe(`${name}-quick`);
      expect(q.seeds).toEqual(full.seeds.slice(0, 2));
      expect(q.arms.map((a) => [a.name, a.mode, a.p, a.shape])).toEqual(full.arms.map((a) => [a.name, a.mode, a.p, a.shape]));
      for (const cell of resolveCells(q)) {
        expect(cell.data.trainSize).toBeLessThanOrEqual(96);
        expect(totalStepsOf(q, cell)).toBeLessThanOrEqual(12);
        if (cell.model.kind !== 'mlp') expect(cell.model.dim).toBeLessThanOrEqual(32);
      }
      if (q.metrics) {
        const T = Math.max(...resolveCells(q).map((c) => totalStepsOf(q, c)));
        expect(metricSteps(q.metrics, T).length).toBeLessThanOrEqual(4);
      }
      // early cutoff: 3 of 18 epochs stays 1/6 of training (2 of 12 steps)
      if (name === 'analysis') expect(q.arms[2].cutoffEpochs! * stepsPerEpochOf(q, resolveCells(q)[0])).toBeCloseTo(2, 9);
    }
    // The input is not modified.
    const json = JSON.stringify(PRESETS.analysis);
    quickSpec(preset('analysis'));
    expect(JSON.stringify(PRESETS.analysis)).toBe(json);
  });

  test('a regime-finder cell keeps its data ratio under --quick', () => {
    const q: ExperimentSpec = quickSpec(preset('regime-finder'));
    const sizes = resolveCells(q).map((c) => c.data.trainSize);
    expect(sizes).toEqual([32, 96, 32, 96]);
  });
});
