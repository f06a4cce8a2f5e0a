// Per-step drop-rate and learning-rate schedules (src/nn/schedules.ts) against the definitions in
// paper.md, written out again here step by step as the reference.
import { describe, expect, test } from 'vitest';
import {
  dropRateAt,
  dropRateSchedule,
  dropSchedule,
  learningRateAt,
  learningRateSchedule,
  lrSchedule,
  stochasticDepthRate,
  type DropScheduleConfig,
} from '../src/nn/schedules.js';

/** paper.md, "Modes and schedules", as a plain loop: the reference the module is checked against. */
function referenceDrop(mode: string, shape: string, p: number, T: number, E: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < T; t++) {
    let r: number;
    if (mode === 'none') r = 0;
    else if (mode === 'standard') r = p;
    else if (mode === 'late') r = t < E ? 0 : p;
    else if (shape === 'constant') r = t < E ? p : 0;
    else if (t >= E) r = 0;
    else r = E === 1 ? p : p * (1 - t / (E - 1));
    out.push(r);
  }
  return out;
}

const arr = (a: Float64Array) => Array.from(a);

describe('drop-rate schedules', () => {
  const p = 0.3;
  const T = 10;

  test('every mode and shape matches the definition for T=10, E=4', () => {
    const cases: Array<[DropScheduleConfig['mode'], 'constant' | 'linear']> = [
      ['none', 'constant'],
      ['standard', 'constant'],
      ['early', 'constant'],
      ['early', 'linear'],
      ['late', 'constant'],
    ];
    for (const [mode, shape] of cases) {
      const cutoff = mode === 'early' || mode === 'late' ? { cutoffSteps: 4 } : {};
      const got = dropRateSchedule({ mode, shape, p, totalSteps: T, ...cutoff });
      expect(got.length).toBe(T);
      const want = referenceDrop(mode, shape, p, T, 4);
      for (let t = 0; t < T; t++) expect(got[t], `${mode}/${shape} t=${t}`).toBeCloseTo(want[t], 15);
    }
  });

  test('explicit values: early linear goes p, 2p/3, p/3, 0 then stays 0; late switches on at E', () => {
    const lin = arr(dropRateSchedule({ mode: 'early', shape: 'linear', p, totalSteps: T, cutoffSteps: 4 }));
    expect(lin[0]).toBe(p);
    expect(lin[1]).toBeCloseTo((2 * p) / 3, 15);
    expect(lin[2]).toBeCloseTo(p / 3, 15);
    expect(lin[3]).toBe(0); // exactly 0 at t = E-1, not a rounding residue
    expect(lin.slice(4)).toEqual(new Array(6).fill(0));
    const late = arr(dropRateSchedule({ mode: 'late', p, totalSteps: T, cutoffSteps: 4 }));
    expect(late).toEqual([0, 0, 0, 0, p, p, p, p, p, p]);
    const early = arr(dropRateSchedule({ mode: 'early', p, totalSteps: T, cutoffSteps: 4 }));
    expect(early).toEqual([p, p, p, p, 0, 0, 0, 0, 0, 0]);
    expect(arr(dropRateSchedule({ mode: 'none', p, totalSteps: 3 }))).toEqual([0, 0, 0]);
    expect(arr(dropRateSchedule({ mode: 'standard', p, totalSteps: 3 }))).toEqual([p, p, p]);
  });

  test('shape defaults to constant', () => {
    expect(dropSchedule({ mode: 'early', p, totalSteps: T, cutoffSteps: 2 }).shape).toBe('constant');
  });

  test('cutoff 0: early is off from the start, late is on from the start', () => {
    expect(arr(dropRateSchedule({ mode: 'early', p, totalSteps: 5, cutoffSteps: 0 }))).toEqual([0, 0, 0, 0, 0]);
    expect(arr(dropRateSchedule({ mode: 'early', shape: 'linear', p, totalSteps: 5, cutoffSteps: 0 }))).toEqual([0, 0, 0, 0, 0]);
    expect(arr(dropRateSchedule({ mode: 'late', p, totalSteps: 5, cutoffSteps: 0 }))).toEqual([p, p, p, p, p]);
  });

  test('cutoff = total: early covers the whole run (linear reaches 0 at the last step), late never starts', () => {
    expect(arr(dropRateSchedule({ mode: 'early', p, totalSteps: 5, cutoffSteps: 5 }))).toEqual([p, p, p, p, p]);
    const lin = arr(dropRateSchedule({ mode: 'early', shape: 'linear', p: 0.4, totalSteps: 5, cutoffSteps: 5 }));
    expect(lin[0]).toBe(0.4);
    expect(lin[4]).toBe(0);
    for (let t = 0; t < 5; t++) expect(lin[t]).toBeCloseTo(0.4 * (1 - t / 4), 15);
    expect(arr(dropRateSchedule({ mode: 'late', p, totalSteps: 5, cutoffSteps: 5 }))).toEqual([0, 0, 0, 0, 0]);
  });

  test('one-step early phase (E = 1): p at t = 0, then 0, for both shapes', () => {
    expect(arr(dropRateSchedule({ mode: 'early', shape: 'linear', p, totalSteps: 4, cutoffSteps: 1 }))).toEqual([p, 0, 0, 0]);
    expect(arr(dropRateSchedule({ mode: 'early', shape: 'constant', p, totalSteps: 4, cutoffSteps: 1 }))).toEqual([p, 0, 0, 0]);
    expect(arr(dropRateSchedule({ mode: 'late', p, totalSteps: 4, cutoffSteps: 1 }))).toEqual([0, p, p, p]);
  });

  test('a single-step run works for every mode', () => {
    expect(arr(dropRateSchedule({ mode: 'early', shape: 'linear', p, totalSteps: 1, cutoffSteps: 1 }))).toEqual([p]);
    expect(arr(dropRateSchedule({ mode: 'late', p, totalSteps: 1, cutoffSteps: 1 }))).toEqual([0]);
    expect(arr(dropRateSchedule({ mode: 'standard', p, totalSteps: 1 }))).toEqual([p]);
  });

  test('p = 0 is allowed and gives all zeros', () => {
    expect(arr(dropRateSchedule({ mode: 'standard', p: 0, totalSteps: 3 }))).toEqual([0, 0, 0]);
  });

  test('cutoff in epochs is cutoffEpochs × stepsPerEpoch steps', () => {
    const s = dropSchedule({ mode: 'early', shape: 'linear', p: 0.1, totalSteps: 300 * 7, cutoffEpochs: 50, stepsPerEpoch: 7 });
    expect(s.cutoffStep).toBe(350);
    // paper default: cutoff 50 of 300 epochs = 1/6 of training
    expect(s.cutoffStep / s.totalSteps).toBeCloseTo(1 / 6, 12);
    const viaEpochs = dropRateSchedule({ mode: 'late', p, totalSteps: 12, cutoffEpochs: 2, stepsPerEpoch: 3 });
    const viaSteps = dropRateSchedule({ mode: 'late', p, totalSteps: 12, cutoffSteps: 6 });
    expect(arr(viaEpochs)).toEqual(arr(viaSteps));
    // fractional epochs are fine when they land on a whole step (0.7 × 10 is 7.000000000000001 in f64)
    expect(dropSchedule({ mode: 'early', p, totalSteps: 20, cutoffEpochs: 0.7, stepsPerEpoch: 10 }).cutoffStep).toBe(7);
    expect(dropSchedule({ mode: 'early', p, totalSteps: 20, cutoffEpochs: 0.5, stepsPerEpoch: 4 }).cutoffStep).toBe(2);
  });

  test('dropRateAt equals the array and accepts a validated schedule', () => {
    const cfg: DropScheduleConfig = { mode: 'early', shape: 'linear', p: 0.5, totalSteps: 9, cutoffSteps: 6 };
    const s = dropSchedule(cfg);
    expect(dropSchedule(s)).toBe(s);
    const all = dropRateSchedule(cfg);
    for (let t = 0; t < 9; t++) {
      expect(dropRateAt(s, t)).toBe(all[t]);
      expect(dropRateAt(cfg, t)).toBe(all[t]);
    }
  });

  test('bad configs name the field', () => {
    const base = { totalSteps: 10, cutoffSteps: 3 } as const;
    const bad = (c: unknown) => () => dropSchedule(c as DropScheduleConfig);
    expect(bad({ mode: 'early', p: 1, ...base })).toThrow(/dropSchedule: p must be in \[0, 1\), got 1/);
    expect(bad({ mode: 'early', p: -0.1, ...base })).toThrow(/p must be in \[0, 1\), got -0.1/);
    expect(bad({ mode: 'early', p: NaN, ...base })).toThrow(/p must be in \[0, 1\), got NaN/);
    expect(bad({ mode: 'early', p: '0.1', ...base })).toThrow(/p must be in \[0, 1\)/);
    expect(bad({ mode: 'sometimes', p, ...base })).toThrow(/unknown mode 'sometimes' \(expected one of none, standard, early, late\)/);
    expect(bad({ mode: 'early', shape: 'cosine', p, ...base })).toThrow(/unknown shape 'cosine' \(expected one of constant, linear\)/);
    expect(bad({ mode: 'late', shape: 'linear', p, ...base })).toThrow(/shape 'linear' is defined for mode 'early' only, got mode 'late'/);
    expect(bad({ mode: 'standard', shape: 'linear', p, totalSteps: 10 })).toThrow(/shape 'linear' is defined for mode 'early' only, got mode 'standard'/);
    expect(bad({ mode: 'early', p, totalSteps: 10, cutoffSteps: -1 })).toThrow(/cutoffSteps = -1 is outside \[0, totalSteps = 10\]/);
    expect(bad({ mode: 'late', p, totalSteps: 10, cutoffSteps: 11 })).toThrow(/cutoffSteps = 11 is outside \[0, totalSteps = 10\]/);
    expect(bad({ mode: 'early', p, totalSteps: 10, cutoffSteps: 2.5 })).toThrow(/cutoffSteps must be a whole number of steps, got 2.5/);
    expect(bad({ mode: 'early', p, totalSteps: 10 })).toThrow(/cutoffSteps or cutoffEpochs is required/);
    expect(bad({ mode: 'early', p, totalSteps: 10, cutoffSteps: 2, cutoffEpochs: 1, stepsPerEpoch: 2 })).toThrow(/either cutoffSteps or cutoffEpochs, not both/);
    expect(bad({ mode: 'early', p, totalSteps: 10, cutoffEpochs: 1 })).toThrow(/cutoffEpochs needs stepsPerEpoch/);
    expect(bad({ mode: 'early', p, totalSteps: 10, cutoffEpochs: 1, stepsPerEpoch: 0 })).toThrow(/stepsPerEpoch must be a positive integer, got 0/);
    expect(bad({ mode: 'early', p, totalSteps: 10, cutoffEpochs: 1, stepsPerEpoch: 2.5 })).toThrow(/stepsPerEpoch must be a positive integer, got 2.5/);
    expect(bad({ mode: 'early', p, totalSteps: 10, cutoffEpochs: 0.5, stepsPerEpoch: 3 })).toThrow(/cutoffEpochs × stepsPerEpoch = 0.5 × 3 = 1.5 is not a whole number of steps/);
    expect(bad({ mode: 'early', p, totalSteps: 10, cutoffEpochs: 4, stepsPerEpoch: 3 })).toThrow(/cutoffEpochs × stepsPerEpoch \(4 × 3\) = 12 is outside \[0, totalSteps = 10\]/);
    expect(bad({ mode: 'early', p, totalSteps: 10, cutoffEpochs: -1, stepsPerEpoch: 3 })).toThrow(/= -3 is outside \[0, totalSteps = 10\]/);
    expect(bad({ mode: 'early', p, totalSteps: 0, cutoffSteps: 0 })).toThrow(/totalSteps must be a positive integer, got 0/);
    expect(bad({ mode: 'standard', p, totalSteps: 7.5 })).toThrow(/totalSteps must be a positive integer, got 7.5/);
    expect(bad({ mode: 'standard', p, totalSteps: 10, cutoffSteps: 3 })).toThrow(/mode 'standard' takes no cutoff/);
    expect(bad(null)).toThrow(/dropSchedule: config must be an object/);
  });

  test('steps outside the run are errors', () => {
    const s = dropSchedule({ mode: 'standard', p, totalSteps: 4 });
    expect(() => dropRateAt(s, 4)).toThrow(/dropSchedule: step t must be an integer in \[0, 3\], got 4/);
    expect(() => dropRateAt(s, -1)).toThrow(/step t must be an integer in \[0, 3\], got -1/);
    expect(() => dropRateAt(s, 1.5)).toThrow(/got 1.5/);
  });
});

describe('stochastic depth per block', () => {
  test('block ℓ of L gets p·ℓ/(L−1), 0 for the first', () => {
    const L = 5;
    const rates = Array.from({ length: L }, (_, l) => stochasticDepthRate(0.4, l, L));
    expect(rates[0]).toBe(0);
    expect(rates[L - 1]).toBeCloseTo(0.4, 15);
    for (let l = 0; l < L; l++) expect(rates[l]).toBeCloseTo((0.4 * l) / 4, 15);
    expect(stochasticDepthRate(0.4, 0, 1)).toBe(0);
  });

  test('bad arguments', () => {
    expect(() => stochasticDepthRate(0.4, 5, 5)).toThrow(/stochasticDepthRate: block must be an integer in \[0, 4\], got 5/);
    expect(() => stochasticDepthRate(1, 1, 5)).toThrow(/rate must be in \[0, 1\), got 1/);
    expect(() => stochasticDepthRate(0.1, 0, 0)).toThrow(/numBlocks must be a positive integer, got 0/);
  });
});

describe('learning-rate schedule', () => {
  /** Reference: lr·(t+1)/W during warmup, then cosine from lr at t = W to minLr at t = T−1. */
  function referenceLr(lr: number, minLr: number, W: number, T: number): number[] {
    const out: number[] = [];
    for (let t = 0; t < T; t++) {
      if (t < W) out.push((lr * (t + 1)) / W);
      else {
        const span = T - 1 - W;
        const progress = span === 0 ? 1 : (t - W) / span;
        out.push(minLr + ((lr - minLr) * (1 + Math.cos(Math.PI * progress))) / 2);
      }
    }
    return out;
  }

  test('warmup endpoints, cosine endpoints, the values in between', () => {
    const cfg = { lr: 4e-3, minLr: 1e-6, warmupSteps: 5, totalSteps: 30 };
    const got = learningRateSchedule(cfg);
    expect(got[0]).toBeCloseTo(4e-3 / 5, 15); // from ~0: the first step is lr/W
    expect(got[4]).toBe(4e-3); // the last warmup step reaches the peak
    expect(got[5]).toBe(4e-3); // the cosine starts at the peak
    expect(got[29]).toBeCloseTo(1e-6, 18); // and ends at the floor at t = T−1
    // halfway through the cosine phase: the mean of peak and floor
    const mid = 5 + (30 - 1 - 5) / 2;
    expect(got[mid]).toBeCloseTo((4e-3 + 1e-6) / 2, 15);
    const want = referenceLr(4e-3, 1e-6, 5, 30);
    for (let t = 0; t < 30; t++) expect(got[t], `t=${t}`).toBeCloseTo(want[t], 15);
  });

  test('monotone: strictly up during warmup, strictly down during the cosine, never below the floor', () => {
    const got = learningRateSchedule({ lr: 1, minLr: 0.01, warmupSteps: 7, totalSteps: 50 });
    for (let t = 1; t < 7; t++) expect(got[t]).toBeGreaterThan(got[t - 1]);
    for (let t = 8; t < 50; t++) expect(got[t]).toBeLessThan(got[t - 1]);
    for (const v of got) expect(v).toBeGreaterThanOrEqual(0.01);
    for (const v of got) expect(v).toBeLessThanOrEqual(1);
  });

  test('no warmup: cosine from lr at t = 0; minLr defaults to 0', () => {
    const got = learningRateSchedule({ lr: 2, totalSteps: 11 });
    expect(got[0]).toBe(2);
    expect(got[5]).toBeCloseTo(1, 15);
    expect(got[10]).toBe(0);
  });

  test('edge cases: warmup over the whole run, one cosine step, a one-step run', () => {
    expect(arr(learningRateSchedule({ lr: 1, warmupSteps: 4, totalSteps: 4 }))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(arr(learningRateSchedule({ lr: 1, minLr: 0.1, warmupSteps: 3, totalSteps: 4 })).map((v) => +v.toFixed(12))).toEqual([
      0.333333333333, 0.666666666667, 1, 0.1,
    ]);
    expect(arr(learningRateSchedule({ lr: 1, minLr: 0.1, totalSteps: 1 }))).toEqual([0.1]);
    // minLr = lr: flat after warmup
    expect(arr(learningRateSchedule({ lr: 1, minLr: 1, warmupSteps: 2, totalSteps: 5 }))).toEqual([0.5, 1, 1, 1, 1]);
  });

  test('warmup in epochs', () => {
    const a = learningRateSchedule({ lr: 1, warmupEpochs: 2, stepsPerEpoch: 3, totalSteps: 12 });
    const b = learningRateSchedule({ lr: 1, warmupSteps: 6, totalSteps: 12 });
    expect(arr(a)).toEqual(arr(b));
    expect(lrSchedule({ lr: 1, warmupEpochs: 50, stepsPerEpoch: 10, totalSteps: 3000 }).warmupSteps).toBe(500);
  });

  test('learningRateAt agrees with the array', () => {
    const s = lrSchedule({ lr: 0.5, minLr: 0.001, warmupSteps: 3, totalSteps: 17 });
    const all = learningRateSchedule(s);
    for (let t = 0; t < 17; t++) expect(learningRateAt(s, t)).toBe(all[t]);
  });

  test('bad configs name the field', () => {
    const bad = (c: unknown) => () => lrSchedule(c as never);
    expect(bad({ lr: 0, totalSteps: 10 })).toThrow(/lrSchedule: lr must be a positive number, got 0/);
    expect(bad({ lr: Infinity, totalSteps: 10 })).toThrow(/lr must be a positive number, got Infinity/);
    expect(bad({ lr: 1, minLr: 2, totalSteps: 10 })).toThrow(/minLr must be in \[0, lr = 1\], got 2/);
    expect(bad({ lr: 1, minLr: -1, totalSteps: 10 })).toThrow(/minLr must be in \[0, lr = 1\], got -1/);
    expect(bad({ lr: 1, totalSteps: 0 })).toThrow(/totalSteps must be a positive integer, got 0/);
    expect(bad({ lr: 1, warmupSteps: 11, totalSteps: 10 })).toThrow(/warmupSteps = 11 is outside \[0, totalSteps = 10\]/);
    expect(bad({ lr: 1, warmupSteps: 1.5, totalSteps: 10 })).toThrow(/warmupSteps must be a whole number of steps, got 1.5/);
    expect(bad({ lr: 1, warmupEpochs: 1, totalSteps: 10 })).toThrow(/warmupEpochs needs stepsPerEpoch/);
    expect(bad({ lr: 1, warmupEpochs: 1, warmupSteps: 1, stepsPerEpoch: 1, totalSteps: 10 })).toThrow(/either warmupSteps or warmupEpochs, not both/);
    expect(() => learningRateAt({ lr: 1, totalSteps: 3 }, 3)).toThrow(/lrSchedule: step t must be an integer in \[0, 2\], got 3/);
  });
});
