/**
 * The statistics behind the report: per-arm summaries over seeds, paired differences (matched by
 * seed, so init and data order cancel), Student-t confidence intervals of the mean paired
 * difference, the paired t-test, the equivalence test against a pre-registered margin (TOST),
 * Holm's multiplicity adjustment, the minimum detectable effect, and the verdict rule that turns
 * the tests into 'reproduced' / 'contradicted' / 'no effect beyond the margin' / 'inconclusive'.
 * Pure functions, no dependencies, browser-safe.
 */

// ---------------------------------------------------------------------------------------------
// Summaries
// ---------------------------------------------------------------------------------------------

/** Arithmetic mean; NaN for an empty list (no value is better than a made-up 0). */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (divides by n − 1); NaN when n < 2. */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return Math.sqrt(ss / (xs.length - 1));
}

// ---------------------------------------------------------------------------------------------
// Student t distribution
// ---------------------------------------------------------------------------------------------

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15). */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new Error(`logGamma: x must be > 0, got ${x}`);
  if (x < 0.5) {
    // Reflection keeps the series in its accurate range.
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  }
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Continued fraction of the incomplete beta function (modified Lentz), valid and fast for
 * x < (a + 1) / (a + b + 2); the caller uses the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) otherwise.
 */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  const eps = 1e-16;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    // Even step.
    let num = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    // Odd step.
    num = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < eps) return h;
  }
  throw new Error(`regularizedIncompleteBeta: continued fraction did not converge (x=${x}, a=${a}, b=${b})`);
}

/** The regularized incomplete beta function I_x(a, b), for x in [0, 1], a, b > 0. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0)) throw new Error(`regularizedIncompleteBeta: a and b must be > 0, got a=${a}, b=${b}`);
  if (!(x >= 0 && x <= 1)) throw new Error(`regularizedIncompleteBeta: x must be in [0, 1], got ${x}`);
  if (x === 0 || x === 1) return x;
  const logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(logFront) * betaContinuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(logFront) * betaContinuedFraction(1 - x, b, a)) / b;
}

function checkDf(where: string, df: number): void {
  if (!(df > 0) || !Number.isFinite(df)) throw new Error(`${where}: degrees of freedom must be a finite number > 0, got ${df}`);
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  checkDf('studentTCdf', df);
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  // Two-sided tail mass P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2).
  const tail = regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail / 2 : tail / 2;
}

/**
 * The p-quantile of Student's t with `df` degrees of freedom (e.g. studentTQuantile(0.975, 4) =
 * 2.776). Solves I_x(df/2, 1/2) = 2·(1 − p) for x by bisection (the function is monotone in x, so
 * bisection cannot fail), then t = √(df·(1 − x)/x). Exact to ~1e-12 relative.
 */
export function studentTQuantile(p: number, df: number): number {
  checkDf('studentTQuantile', df);
  if (!(p > 0 && p < 1)) throw new Error(`studentTQuantile: probability p must be in (0, 1), got ${p}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  const target = 2 * (1 - p); // two-sided tail mass beyond t, in (0, 1)
  let lo = 0; // I_0 = 0 < target
  let hi = 1; // I_1 = 1 > target
  for (let i = 0; i < 2000 && hi - lo > 1e-17 * Math.max(lo, 1e-300); i++) {
    const mid = 0.5 * (lo + hi);
    if (mid === lo || mid === hi) break;
    if (regularizedIncompleteBeta(mid, df / 2, 0.5) < target) lo = mid;
    else hi = mid;
  }
  const x = 0.5 * (lo + hi);
  return Math.sqrt((df * (1 - x)) / x);
}

// ---------------------------------------------------------------------------------------------
// Confidence intervals and paired differences
// ---------------------------------------------------------------------------------------------

/** The mean of a sample with its Student-t confidence interval. */
export interface MeanInterval {
  n: number;
  mean: number;
  /** Sample standard deviation (NaN when n < 2). */
  std: number;
  /** Interval bounds (NaN when n < 2 or a value is not finite). */
  lo: number;
  hi: number;
  /** Confidence level, e.g. 0.95. */
  level: number;
}

/** mean ± t_{(1+level)/2, n−1} · s/√n. */
export function meanConfidenceInterval(xs: readonly number[], level = 0.95): MeanInterval {
  if (!(level > 0 && level < 1)) throw new Error(`meanConfidenceInterval: level must be in (0, 1), got ${level}`);
  const n = xs.length;
  const m = mean(xs);
  const s = sampleStd(xs);
  if (n < 2 || !Number.isFinite(m) || !Number.isFinite(s)) return { n, mean: m, std: s, lo: NaN, hi: NaN, level };
  const half = (studentTQuantile((1 + level) / 2, n - 1) * s) / Math.sqrt(n);
  return { n, mean: m, std: s, lo: m - half, hi: m + half, level };
}

/** A value per seed (one arm of one cell). */
export type SeedValues = ReadonlyMap<number, number>;

export interface PairedDifference {
  seed: number;
  /** arm − baseline for this seed. */
  diff: number;
}

/**
 * arm − baseline for every seed present in both (sorted by seed). Seeds run in only one arm are
 * left out: an unpaired seed would bring back the init / data-order noise pairing removes.
 */
export function pairedDifferences(arm: SeedValues, baseline: SeedValues): PairedDifference[] {
  const out: PairedDifference[] = [];
  for (const [seed, v] of arm) {
    const b = baseline.get(seed);
    if (b !== undefined) out.push({ seed, diff: v - b });
  }
  return out.sort((x, y) => x.seed - y.seed);
}

/** Which way a quantity should move for the arm to count as better / for a claim to hold. */
export type Direction = 'decrease' | 'increase';

/** How many paired differences point strictly in `direction` (ties count as not improved). */
export function countImproved(diffs: readonly PairedDifference[] | readonly number[], direction: Direction): number {
  let k = 0;
  for (const d of diffs) {
    const v = typeof d === 'number' ? d : d.diff;
    if (direction === 'decrease' ? v < 0 : v > 0) k++;
  }
  return k;
}

/** The full paired comparison of one arm against the baseline on one quantity. */
export interface PairedComparison extends MeanInterval {
  diffs: PairedDifference[];
  /** Seeds whose difference points in `direction` (e.g. lower loss). */
  improved: number;
  direction: Direction;
}

/** Paired differences, their mean with a CI, and the count of seeds that moved in `direction`. */
export function comparePaired(arm: SeedValues, baseline: SeedValues, direction: Direction, level = 0.95): PairedComparison {
  const diffs = pairedDifferences(arm, baseline);
  const ci = meanConfidenceInterval(
    diffs.map((d) => d.diff),
    level,
  );
  return { ...ci, diffs, improved: countImproved(diffs, direction), direction };
}

// ---------------------------------------------------------------------------------------------
// Power
// ---------------------------------------------------------------------------------------------

/**
 * The minimum detectable effect of a paired t-test: the smallest true mean difference that a
 * two-sided test at level `alpha` on `n` paired seeds with per-seed SD `sd` detects with
 * probability `power`. Uses the standard formula (t_{1−α/2, n−1} + t_{power, n−1}) · sd / √n,
 * which replaces the noncentral t by a shifted central one; it is within about 1% of the exact
 * noncentral-t answer for n ≥ 5 (slightly optimistic). NaN when sd is not a finite number or
 * n < 2 (no SD, no power).
 */
export function minimumDetectableEffect({ sd, n, alpha = 0.05, power = 0.8 }: { sd: number; n: number; alpha?: number; power?: number }): number {
  if (!(alpha > 0 && alpha < 1)) throw new Error(`minimumDetectableEffect: alpha must be in (0, 1), got ${alpha}`);
  if (!(power > 0 && power < 1)) throw new Error(`minimumDetectableEffect: power must be in (0, 1), got ${power}`);
  if (!Number.isInteger(n) || n < 0) throw new Error(`minimumDetectableEffect: n must be a whole number of paired seeds, got ${n}`);
  if (sd < 0) throw new Error(`minimumDetectableEffect: sd must be >= 0, got ${sd}`);
  if (n < 2 || !Number.isFinite(sd)) return NaN;
  const df = n - 1;
  return ((studentTQuantile(1 - alpha / 2, df) + studentTQuantile(power, df)) * sd) / Math.sqrt(n);
}

// ---------------------------------------------------------------------------------------------
// Tests: difference (paired t), equivalence (TOST), multiplicity (Holm)
// ---------------------------------------------------------------------------------------------

/**
 * Two-sided p-value of the paired t-test H0: mean difference = 0 (one-sample t on the
 * differences, n − 1 degrees of freedom). NaN with fewer than 2 values or a non-finite one. With
 * zero spread the test is degenerate: p = 1 when every difference is 0, else 0.
 */
export function pairedTTestP(diffs: readonly number[]): number {
  const n = diffs.length;
  const m = mean(diffs);
  const s = sampleStd(diffs);
  if (n < 2 || !Number.isFinite(m) || !Number.isFinite(s)) return NaN;
  if (s === 0) return m === 0 ? 1 : 0;
  const t = m / (s / Math.sqrt(n));
  return 2 * studentTCdf(-Math.abs(t), n - 1);
}

/** Two one-sided tests (TOST) of |mean difference| < margin. */
export interface EquivalenceTest {
  margin: number;
  /** p of H0: mean ≤ −margin (small when the mean is clearly above −margin). */
  pLower: number;
  /** p of H0: mean ≥ +margin. */
  pUpper: number;
  /** max(pLower, pUpper): equivalence at level α when p < α. */
  p: number;
  /** The (1 − 2α) interval of the mean; p < α exactly when it lies inside (−margin, +margin). */
  lo: number;
  hi: number;
  level: number;
}

/**
 * TOST (Schuirmann): the mean paired difference lies within ±margin when both one-sided t-tests
 * reject at level α, i.e. when the (1 − 2α) CI lies inside (−margin, margin). NaN p-values with
 * fewer than 2 values or a non-finite one.
 */
export function equivalenceTest(diffs: readonly number[], margin: number, alpha = 0.05): EquivalenceTest {
  if (!(margin > 0) || !Number.isFinite(margin)) throw new Error(`equivalenceTest: margin must be a finite number > 0, got ${margin}`);
  if (!(alpha > 0 && alpha < 0.5)) throw new Error(`equivalenceTest: alpha must be in (0, 0.5), got ${alpha}`);
  const n = diffs.length;
  const m = mean(diffs);
  const s = sampleStd(diffs);
  const ci = meanConfidenceInterval(diffs, 1 - 2 * alpha);
  const out = { margin, pLower: NaN, pUpper: NaN, p: NaN, lo: ci.lo, hi: ci.hi, level: ci.level };
  if (n < 2 || !Number.isFinite(m) || !Number.isFinite(s)) return out;
  if (s === 0) {
    out.pLower = m > -margin ? 0 : 1;
    out.pUpper = m < margin ? 0 : 1;
  } else {
    const se = s / Math.sqrt(n);
    out.pLower = 1 - studentTCdf((m + margin) / se, n - 1);
    out.pUpper = studentTCdf((m - margin) / se, n - 1);
  }
  out.p = Math.max(out.pLower, out.pUpper);
  return out;
}

/**
 * Holm's step-down adjustment of k p-values (same order as given): sort ascending, multiply the
 * i-th smallest (1-based) by k − i + 1, cap at 1 and keep the running maximum so the order is
 * preserved. Rejecting where adjusted p < α controls the family-wise error rate at α. A NaN
 * (a comparison without a test) still counts in k, so it cannot make the others easier to
 * reject; its adjusted value is NaN.
 */
export function holm(ps: readonly number[]): number[] {
  const k = ps.length;
  const order = ps
    .map((p, i) => ({ p, i }))
    .filter((x) => !Number.isNaN(x.p))
    .sort((a, b) => a.p - b.p);
  for (const { p } of order) if (!(p >= 0 && p <= 1)) throw new Error(`holm: p-values must be in [0, 1] (or NaN), got ${p}`);
  const out = new Array<number>(k).fill(NaN);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (k - rank) * p));
    out[i] = running;
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Verdicts
// ---------------------------------------------------------------------------------------------

export type Verdict = 'reproduced' | 'contradicted' | 'no effect beyond the margin' | 'inconclusive';

export interface VerdictResult {
  verdict: Verdict;
  /** Why, in a short plain sentence (no markup). */
  reason: string;
  /**
   * 'reproduced' / 'contradicted' whose (1 − 2α) interval also lies inside ±margin: a real effect,
   * but smaller than the pre-registered margin.
   */
  smallerThanMargin?: boolean;
}

export interface VerdictInput {
  /** Paired seeds. */
  n: number;
  /** Mean paired difference (arm − comparator). */
  mean: number;
  /** p of the difference test (two-sided; Holm-adjusted where a family is judged). */
  pDifference: number;
  /** p of the equivalence test (TOST; adjusted likewise); absent when no margin was set. */
  pEquivalence?: number;
}

/**
 * The decision rule, fixed in advance. With `expected` the side of 0 the paper predicts:
 * - 'reproduced': the difference test rejects (p < α) and the mean lies on the predicted side;
 *   with an unadjusted p this is exactly "the (1 − α) CI lies entirely on the predicted side";
 * - 'contradicted': it rejects with the mean on the other side;
 * - 'no effect beyond the margin': it does not reject, and the equivalence test (TOST) does;
 * - 'inconclusive': neither (or fewer than 2 paired seeds, or a non-finite value).
 */
export function decideVerdict(t: VerdictInput, expected: Direction, alpha = 0.05): VerdictResult {
  if (t.n < 2) return { verdict: 'inconclusive', reason: `only ${t.n} paired seed${t.n === 1 ? '' : 's'}; a test needs at least 2` };
  if (!Number.isFinite(t.mean) || Number.isNaN(t.pDifference)) {
    return { verdict: 'inconclusive', reason: 'a run has a non-finite value (diverged?), so there is no test' };
  }
  const eq = t.pEquivalence !== undefined && t.pEquivalence < alpha;
  if (t.pDifference < alpha) {
    const onSide = expected === 'increase' ? t.mean > 0 : t.mean < 0;
    const small = eq ? { smallerThanMargin: true } : {};
    return onSide
      ? { verdict: 'reproduced', reason: `the difference is significant (p < ${alpha}) in the predicted direction (${expected})`, ...small }
      : { verdict: 'contradicted', reason: `the difference is significant (p < ${alpha}) in the opposite direction (predicted: ${expected})`, ...small };
  }
  if (eq) return { verdict: 'no effect beyond the margin', reason: `both one-sided tests put the difference inside the margin (p < ${alpha})` };
  if (t.pEquivalence === undefined) return { verdict: 'inconclusive', reason: 'no significant difference, and no margin was set to test equivalence' };
  return { verdict: 'inconclusive', reason: 'no significant difference, and the difference is not shown to lie inside the margin' };
}

/** A paired comparison with its tests: what one row of the report's tables shows. */
export interface PairedTest extends PairedComparison {
  alpha: number;
  /** Two-sided paired t-test p (raw). */
  pDifference: number;
  /** TOST against the margin, when one is set. */
  equivalence?: EquivalenceTest;
}

/** comparePaired plus the difference test and, with a margin, the equivalence test, at level alpha. */
export function pairedTest(arm: SeedValues, baseline: SeedValues, direction: Direction, options: { alpha?: number; margin?: number } = {}): PairedTest {
  const alpha = options.alpha ?? 0.05;
  const cmp = comparePaired(arm, baseline, direction, 1 - alpha);
  const xs = cmp.diffs.map((d) => d.diff);
  const out: PairedTest = { ...cmp, alpha, pDifference: pairedTTestP(xs) };
  if (options.margin !== undefined) out.equivalence = equivalenceTest(xs, options.margin, alpha);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Regime (the paper's operational test)
// ---------------------------------------------------------------------------------------------

export type Regime = 'underfitting' | 'overfitting' | 'unclear';

export interface RegimeResult {
  regime: Regime;
  reason: string;
}

/**
 * The regime test with paired differences standard − none:
 * - underfitting: standard dropout hurts — the CI of Δ test accuracy lies below 0 AND the CI of
 *   Δ final training loss lies above 0 (it fits the training set worse and generalises worse);
 * - overfitting: standard dropout helps — the CI of Δ test accuracy lies above 0 (a higher
 *   training loss is then just the regulariser at work);
 * - unclear: anything else (test accuracy unchanged within the CI, or lower test accuracy
 *   without a measurably worse fit, or fewer than 2 paired seeds).
 */
export function classifyRegime(
  dTrainLoss: Pick<MeanInterval, 'n' | 'lo' | 'hi'>,
  dTestAcc: Pick<MeanInterval, 'n' | 'lo' | 'hi'>,
): RegimeResult {
  const n = Math.min(dTrainLoss.n, dTestAcc.n);
  if (n < 2) return { regime: 'unclear', reason: `only ${n} paired seed${n === 1 ? '' : 's'}; no interval` };
  if (![dTrainLoss.lo, dTrainLoss.hi, dTestAcc.lo, dTestAcc.hi].every(Number.isFinite)) {
    return { regime: 'unclear', reason: 'a run has a non-finite value (diverged?)' };
  }
  if (dTestAcc.hi < 0 && dTrainLoss.lo > 0) {
    return { regime: 'underfitting', reason: 'standard dropout lowers test accuracy and raises the final training loss (both CIs exclude 0)' };
  }
  if (dTestAcc.lo > 0) return { regime: 'overfitting', reason: 'standard dropout raises test accuracy (CI excludes 0)' };
  if (dTestAcc.hi < 0) {
    return { regime: 'unclear', reason: 'standard dropout lowers test accuracy, but its effect on the final training loss is within noise' };
  }
  return { regime: 'unclear', reason: 'the effect of standard dropout on test accuracy is within noise (CI contains 0)' };
}
