import { describe, expect, it } from 'vitest';
import {
  classifyRegime,
  comparePaired,
  countImproved,
  logGamma,
  mean,
  meanConfidenceInterval,
  minimumDetectableEffect,
  pairedDifferences,
  regularizedIncompleteBeta,
  sampleStd,
  studentTCdf,
  studentTQuantile,
  decideVerdict,
  equivalenceTest,
  holm,
  pairedTest,
  pairedTTestP,
} from '../src/lab/experiment/stats';

describe('summaries', () => {
  it('mean and sample standard deviation (n − 1)', () => {
    const xs = [2, 4, 4, 4, 5, 5, 7, 9];
    expect(mean(xs)).toBe(5);
    // Σ(x − 5)² = 32, so s = √(32/7).
    expect(sampleStd(xs)).toBeCloseTo(Math.sqrt(32 / 7), 14);
  });

  it('has no value rather than a made-up one for too few samples', () => {
    expect(mean([])).toBeNaN();
    expect(sampleStd([3])).toBeNaN();
    expect(sampleStd([])).toBeNaN();
  });
});

describe('special functions', () => {
  it('logGamma matches factorials and Γ(1/2) = √π', () => {
    expect(logGamma(1)).toBeCloseTo(0, 13);
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    expect(logGamma(0.1)).toBeCloseTo(Math.log(9.513507698668732), 12);
    expect(logGamma(101)).toBeCloseTo(363.73937555556347, 9); // ln 100!
  });

  it('regularized incomplete beta matches its closed forms', () => {
    for (const x of [0.01, 0.2, 0.5, 0.77, 0.999]) {
      expect(regularizedIncompleteBeta(x, 1, 1)).toBeCloseTo(x, 13);
      expect(regularizedIncompleteBeta(x, 3, 1)).toBeCloseTo(x ** 3, 13);
      expect(regularizedIncompleteBeta(x, 1, 4)).toBeCloseTo(1 - (1 - x) ** 4, 13);
      // I_x(1/2, 1/2) = (2/π)·asin(√x)
      expect(regularizedIncompleteBeta(x, 0.5, 0.5)).toBeCloseTo((2 / Math.PI) * Math.asin(Math.sqrt(x)), 12);
    }
    expect(regularizedIncompleteBeta(0.5, 7.5, 7.5)).toBeCloseTo(0.5, 13);
    expect(regularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).toBe(1);
    expect(() => regularizedIncompleteBeta(1.5, 2, 3)).toThrow(/regularizedIncompleteBeta: x must be in \[0, 1\], got 1.5/);
    expect(() => regularizedIncompleteBeta(0.5, 0, 3)).toThrow(/regularizedIncompleteBeta: a and b must be > 0/);
  });
});

describe('Student t', () => {
  it('0.975 quantiles match the table', () => {
    // Textbook values (3 decimals) ...
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.706, 3);
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.303, 3);
    expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.776, 3);
    expect(studentTQuantile(0.975, 9)).toBeCloseTo(2.262, 3);
    expect(studentTQuantile(0.975, 30)).toBeCloseTo(2.042, 3);
    // ... and to full precision (R: qt(0.975, df)).
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.706204736174698, 9);
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.302652729749464, 11);
    expect(studentTQuantile(0.975, 3)).toBeCloseTo(3.182446305284263, 11);
    expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.776445105197799, 11);
    expect(studentTQuantile(0.975, 9)).toBeCloseTo(2.262157162798205, 11);
    expect(studentTQuantile(0.975, 30)).toBeCloseTo(2.042272456301238, 11);
    expect(studentTQuantile(0.995, 4)).toBeCloseTo(4.604094871415897, 9);
  });

  it('matches the closed forms for 1 and 2 degrees of freedom at many probabilities', () => {
    for (const p of [0.5001, 0.6, 0.75, 0.9, 0.95, 0.99, 0.999]) {
      // df = 1 is the Cauchy distribution: t = tan(π(p − 1/2)).
      const cauchy = Math.tan(Math.PI * (p - 0.5));
      expect(Math.abs(studentTQuantile(p, 1) - cauchy)).toBeLessThan(1e-9 * Math.max(1, cauchy));
      // df = 2: t = (2p − 1)/√(2p(1 − p)).
      const two = (2 * p - 1) / Math.sqrt(2 * p * (1 - p));
      expect(Math.abs(studentTQuantile(p, 2) - two)).toBeLessThan(1e-9 * Math.max(1, two));
    }
  });

  it('tends to the normal quantile, is symmetric, and inverts the CDF', () => {
    expect(studentTQuantile(0.975, 1e6)).toBeCloseTo(1.959966, 5);
    expect(studentTQuantile(0.5, 7)).toBe(0);
    expect(studentTQuantile(0.025, 9)).toBeCloseTo(-studentTQuantile(0.975, 9), 12);
    for (const df of [1, 2.5, 5, 17, 200]) {
      for (const p of [0.01, 0.3, 0.8, 0.975]) expect(studentTCdf(studentTQuantile(p, df), df)).toBeCloseTo(p, 11);
    }
    expect(studentTCdf(0, 3)).toBe(0.5);
    expect(studentTCdf(Infinity, 3)).toBe(1);
    // df = 1 CDF: 1/2 + atan(t)/π.
    expect(studentTCdf(-2, 1)).toBeCloseTo(0.5 + Math.atan(-2) / Math.PI, 13);
  });

  it('rejects probabilities outside (0, 1) and non-positive degrees of freedom', () => {
    expect(() => studentTQuantile(1, 3)).toThrow(/studentTQuantile: probability p must be in \(0, 1\), got 1/);
    expect(() => studentTQuantile(0, 3)).toThrow(/studentTQuantile: probability p must be in \(0, 1\)/);
    expect(() => studentTQuantile(0.9, 0)).toThrow(/studentTQuantile: degrees of freedom must be a finite number > 0, got 0/);
    expect(() => studentTCdf(1, -1)).toThrow(/studentTCdf: degrees of freedom/);
  });
});

describe('confidence intervals and paired differences', () => {
  it('computes the t interval of a hand-worked example', () => {
    // x = 1, 2, 3, 4: mean 2.5, s = √(5/3), se = s/2, t(0.975, 3) = 3.182446305284263.
    const ci = meanConfidenceInterval([1, 2, 3, 4]);
    const half = (3.182446305284263 * Math.sqrt(5 / 3)) / 2;
    expect(ci.n).toBe(4);
    expect(ci.mean).toBe(2.5);
    expect(ci.std).toBeCloseTo(Math.sqrt(5 / 3), 14);
    expect(ci.lo).toBeCloseTo(2.5 - half, 10); // 0.4457
    expect(ci.hi).toBeCloseTo(2.5 + half, 10); // 4.5543
    expect(ci.lo).toBeCloseTo(0.44571, 4);
    // A 90% interval is narrower: t(0.95, 3) = 2.353363434801823.
    const ci90 = meanConfidenceInterval([1, 2, 3, 4], 0.9);
    expect(ci90.hi - ci90.mean).toBeCloseTo((2.353363434801823 * Math.sqrt(5 / 3)) / 2, 10);
  });

  it('gives no interval for fewer than two values or non-finite values', () => {
    const one = meanConfidenceInterval([0.3]);
    expect(one.mean).toBe(0.3);
    expect(one.lo).toBeNaN();
    expect(one.hi).toBeNaN();
    const diverged = meanConfidenceInterval([0.1, NaN, 0.2]);
    expect(diverged.lo).toBeNaN();
  });

  it('pairs by seed, leaving out seeds run in one arm only', () => {
    const arm = new Map([
      [3, 1.0],
      [1, 2.0],
      [7, 5.0],
    ]);
    const base = new Map([
      [1, 1.5],
      [3, 1.25],
      [4, 9.0],
    ]);
    expect(pairedDifferences(arm, base)).toEqual([
      { seed: 1, diff: 0.5 },
      { seed: 3, diff: -0.25 },
    ]);
  });

  it('counts seeds moved in the given direction, ties not counted', () => {
    expect(countImproved([-1, 0, 2, -3], 'decrease')).toBe(2);
    expect(countImproved([-1, 0, 2, -3], 'increase')).toBe(1);
    const cmp = comparePaired(
      new Map([
        [0, 1],
        [1, 2],
        [2, 3],
      ]),
      new Map([
        [0, 2],
        [1, 2],
        [2, 1],
      ]),
      'decrease',
    );
    expect(cmp.diffs.map((d) => d.diff)).toEqual([-1, 0, 2]);
    expect(cmp.improved).toBe(1);
    expect(cmp.n).toBe(3);
    expect(cmp.mean).toBeCloseTo(1 / 3, 14);
  });
});

describe('difference, equivalence and multiplicity tests', () => {
  it('paired t-test p matches scipy.stats.ttest_1samp', () => {
    expect(pairedTTestP([0.02, 0.03, 0.025, 0.028])).toBeCloseTo(0.0012950181109011557, 10);
    expect(pairedTTestP([0.01, 0.012, 0.009, -0.03])).toBeCloseTo(0.9818114823436882, 10);
    // Degenerate spread: all zero differences are no evidence, identical non-zero ones are.
    expect(pairedTTestP([0, 0, 0])).toBe(1);
    expect(pairedTTestP([0.1, 0.1])).toBe(0);
    expect(pairedTTestP([0.1])).toBeNaN();
    expect(pairedTTestP([0.1, NaN])).toBeNaN();
  });

  it('TOST matches the two one-sided scipy tests and the (1 − 2α) interval', () => {
    const inside = equivalenceTest([0.0005, -0.0004, 0.0002, -0.0001, 0.0003], 0.002);
    expect(inside.pLower).toBeCloseTo(9.287238175671392e-5, 12);
    expect(inside.pUpper).toBeCloseTo(0.00013746677682978666, 12);
    expect(inside.p).toBe(inside.pUpper);
    expect(inside.level).toBeCloseTo(0.9, 14);
    expect(inside.lo).toBeGreaterThan(-0.002);
    expect(inside.hi).toBeLessThan(0.002);
    const wide = equivalenceTest([0.001, 0.004, -0.002, 0.003], 0.002);
    expect(wide.pLower).toBeCloseTo(0.03863714499377282, 10);
    expect(wide.pUpper).toBeCloseTo(0.36530757645570006, 10);
    expect(wide.hi).toBeGreaterThan(0.002); // p ≥ α exactly when the 90% CI leaves the margin
    expect(() => equivalenceTest([1, 2], 0)).toThrow(/equivalenceTest: margin must be a finite number > 0, got 0/);
    expect(equivalenceTest([1], 0.1).p).toBeNaN();
  });

  it('Holm against a hand-worked example', () => {
    // k = 4. Sorted: 0.005·4 = 0.02; 0.01·3 = 0.03; 0.03·2 = 0.06; 0.04·1 = 0.04 -> max(0.06, 0.04) = 0.06.
    const adj = holm([0.01, 0.04, 0.03, 0.005]);
    [0.03, 0.06, 0.06, 0.02].forEach((want, i) => expect(adj[i]).toBeCloseTo(want, 15));
    // Capped at 1; a NaN counts in k (0.02·2 = 0.04, not 0.02) and stays NaN.
    const withNaN = holm([0.02, NaN, 0.6]);
    expect(withNaN[0]).toBeCloseTo(0.06, 15);
    expect(withNaN[1]).toBeNaN();
    expect(withNaN[2]).toBe(1);
    expect(holm([])).toEqual([]);
    expect(holm([0.2])).toEqual([0.2]);
    expect(() => holm([1.5])).toThrow(/holm: p-values must be in \[0, 1\]/);
  });
});

describe('verdicts', () => {
  /** The verdict of constructed paired differences, unadjusted (a family of one). */
  const judge = (diffs: number[], expected: 'increase' | 'decrease', margin?: number) => {
    const t = pairedTest(new Map(diffs.map((d, i) => [i, d])), new Map(diffs.map((_, i) => [i, 0])), expected, { margin });
    return { t, v: decideVerdict({ n: t.n, mean: t.mean, pDifference: t.pDifference, pEquivalence: t.equivalence?.p }, expected) };
  };

  it('reproduced when the difference is significant on the predicted side, i.e. the 95% CI lies there', () => {
    const { t, v } = judge([0.02, 0.03, 0.025, 0.028], 'increase', 0.002);
    expect(v.verdict).toBe('reproduced');
    expect(t.lo).toBeGreaterThan(0);
    expect(v.smallerThanMargin).toBeUndefined();
    expect(judge([-0.02, -0.03, -0.025, -0.028], 'decrease').v.verdict).toBe('reproduced');
  });

  it('contradicted when it is significant on the other side', () => {
    const { t, v } = judge([-0.02, -0.03, -0.025, -0.028], 'increase', 0.002);
    expect(v.verdict).toBe('contradicted');
    expect(t.hi).toBeLessThan(0);
    expect(v.reason).toMatch(/opposite direction/);
  });

  it('no effect beyond the margin when TOST rejects both sides', () => {
    const { t, v } = judge([0.0005, -0.0004, 0.0002, -0.0001, 0.0003], 'increase', 0.002);
    expect(t.lo).toBeLessThan(0);
    expect(t.hi).toBeGreaterThan(0);
    expect(t.equivalence!.p).toBeLessThan(0.05);
    expect(v.verdict).toBe('no effect beyond the margin');
  });

  it('inconclusive when neither test rejects, even when most seeds point the predicted way', () => {
    // 3 of 4 seeds improve, the CI contains 0, and the interval is far wider than the margin.
    const { t, v } = judge([0.01, 0.012, 0.009, -0.03], 'increase', 0.002);
    expect(t.improved).toBe(3);
    expect(v.verdict).toBe('inconclusive');
    expect(v.reason).toMatch(/not shown to lie inside the margin/);
    // The same near-zero differences without a margin cannot be called a null.
    expect(judge([0.0005, -0.0004, 0.0002, -0.0001, 0.0003], 'increase').v.reason).toMatch(/no margin was set/);
  });

  it('a tiny but certain effect is reproduced and flagged as smaller than the margin', () => {
    const { v } = judge([0.0010, 0.0011, 0.0009, 0.0010, 0.0012], 'increase', 0.002);
    expect(v.verdict).toBe('reproduced');
    expect(v.smallerThanMargin).toBe(true);
  });

  it('uses the p it is given: a Holm-adjusted p can turn a raw rejection into inconclusive', () => {
    expect(decideVerdict({ n: 5, mean: 0.01, pDifference: 0.03 }, 'increase').verdict).toBe('reproduced');
    expect(decideVerdict({ n: 5, mean: 0.01, pDifference: 0.03 * 3 }, 'increase').verdict).toBe('inconclusive');
    expect(decideVerdict({ n: 5, mean: 0.01, pDifference: 0.03 }, 'increase', 0.01).verdict).toBe('inconclusive');
  });

  it('inconclusive with a reason for n < 2 and for diverged runs; all-zero differences are not an effect', () => {
    const v = judge([0.5], 'increase').v;
    expect(v.verdict).toBe('inconclusive');
    expect(v.reason).toMatch(/only 1 paired seed; a test needs at least 2/);
    expect(judge([], 'increase').v.reason).toMatch(/only 0 paired seeds/);
    expect(judge([0.1, Infinity], 'increase').v.reason).toMatch(/non-finite/);
    expect(judge([0, 0, 0], 'decrease').v.verdict).toBe('inconclusive');
    expect(judge([0, 0, 0], 'decrease', 0.01).v.verdict).toBe('no effect beyond the margin');
  });
});

describe('regime test', () => {
  const ci = (xs: number[]) => meanConfidenceInterval(xs);
  const up = ci([0.05, 0.06, 0.055, 0.052]);
  const down = ci([-0.02, -0.03, -0.025, -0.022]);
  const zero = ci([0.01, -0.01, 0.012, -0.011]);

  it('underfitting when standard dropout lowers test accuracy and raises the training loss', () => {
    expect(classifyRegime(up, down).regime).toBe('underfitting');
  });

  it('overfitting when standard dropout raises test accuracy (training loss whatever it is)', () => {
    expect(classifyRegime(up, ci([0.02, 0.03, 0.025])).regime).toBe('overfitting');
    expect(classifyRegime(zero, ci([0.02, 0.03, 0.025])).regime).toBe('overfitting');
  });

  it('unclear when test accuracy is within noise, or drops without a worse fit, or n < 2', () => {
    expect(classifyRegime(up, zero)).toEqual({ regime: 'unclear', reason: expect.stringMatching(/within noise \(CI contains 0\)/) });
    expect(classifyRegime(zero, down).reason).toMatch(/effect on the final training loss is within noise/);
    expect(classifyRegime(ci([0.05]), ci([-0.02])).reason).toMatch(/only 1 paired seed/);
  });
});

describe('minimum detectable effect (paired t-test)', () => {
  it('is (t_{1−α/2,n−1} + t_{power,n−1})·sd/√n and close to the exact noncentral-t answer', () => {
    // Formula with the table quantiles t_{0.975,9} = 2.2622, t_{0.8,9} = 0.8834 (scipy).
    expect(minimumDetectableEffect({ sd: 1, n: 10 })).toBeCloseTo((2.262157 + 0.883404) / Math.sqrt(10), 5);
    expect(minimumDetectableEffect({ sd: 0.02, n: 10 })).toBeCloseTo((0.02 * (2.262157 + 0.883404)) / Math.sqrt(10), 7);
    // scipy.stats.nct, solving power = 0.8 exactly: n = 5 -> 1.68200 (the formula gives 1.66248, 1.2% low).
    const exact5 = 1.681997;
    const got5 = minimumDetectableEffect({ sd: 1, n: 5 });
    expect(got5).toBeLessThan(exact5);
    expect(got5 / exact5).toBeGreaterThan(0.985);
    // More power or a stricter alpha needs a larger effect.
    expect(minimumDetectableEffect({ sd: 1, n: 10, power: 0.9 })).toBeGreaterThan(minimumDetectableEffect({ sd: 1, n: 10 }));
    expect(minimumDetectableEffect({ sd: 1, n: 10, alpha: 0.01 })).toBeGreaterThan(minimumDetectableEffect({ sd: 1, n: 10 }));
  });

  it('has no value without an SD and rejects bad arguments by name', () => {
    expect(minimumDetectableEffect({ sd: 1, n: 1 })).toBeNaN();
    expect(minimumDetectableEffect({ sd: NaN, n: 10 })).toBeNaN();
    expect(() => minimumDetectableEffect({ sd: 1, n: 10, alpha: 0 })).toThrow(/minimumDetectableEffect: alpha must be in \(0, 1\), got 0/);
    expect(() => minimumDetectableEffect({ sd: 1, n: 10, power: 1 })).toThrow(/power must be in \(0, 1\)/);
    expect(() => minimumDetectableEffect({ sd: -1, n: 10 })).toThrow(/sd must be >= 0/);
    expect(() => minimumDetectableEffect({ sd: 1, n: 2.5 })).toThrow(/n must be a whole number/);
  });
});
