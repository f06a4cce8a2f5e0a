/**
 * How the lab writes numbers, intervals, p-values and the model and data of a spec: shared by the
 * markdown report (markdown.ts) and the lab page so both print the same figures the same way.
 * Plain text, browser-safe.
 */
import type { Measure } from './findings.js';
import type { MeanInterval } from './stats.js';
import type { DataSpec, ModelSpec } from './types.js';
import { modelKind } from './models.js';

/** `sig` significant digits without exponent notation for everyday magnitudes. */
export function formatNumber(x: number, sig = 4): string {
  if (Number.isNaN(x)) return 'n/a';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  if (x === 0) return '0';
  const ax = Math.abs(x);
  if (ax < 1e-4 || ax >= 1e6) return x.toExponential(sig - 1);
  const decimals = Math.max(0, sig - 1 - Math.floor(Math.log10(ax)));
  return x.toFixed(decimals);
}

function signed(s: string, x: number): string {
  return x > 0 ? `+${s}` : s;
}

export const isAccuracy = (m: Measure): boolean => m === 'testAccuracy';

/** A value of a measure: accuracy as a percentage, everything else with 4 significant digits. */
export function formatValue(m: Measure, x: number): string {
  if (isAccuracy(m)) return Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : formatNumber(x);
  return formatNumber(x, 4);
}

/** A difference: accuracy in percentage points, everything else with 3 significant digits, signed. */
export function formatDelta(m: Measure, d: number): string {
  if (isAccuracy(m)) return Number.isFinite(d) ? `${signed((100 * d).toFixed(2), d)} pp` : formatNumber(d);
  return Number.isFinite(d) ? signed(formatNumber(d, 3), d) : formatNumber(d);
}

/** A margin (unsigned): accuracy in percentage points. */
export function formatMargin(m: Measure, x: number): string {
  return isAccuracy(m) ? `±${(100 * x).toFixed(2)} pp` : `±${formatNumber(x, 3)}`;
}

/** "[lo, hi]" of an interval in the measure's units, or why there is none. */
export function formatBounds(m: Measure, ci: Pick<MeanInterval, 'n' | 'lo' | 'hi'>): string {
  if (ci.n < 2) return `(n = ${ci.n}, no CI)`;
  if (!Number.isFinite(ci.lo) || !Number.isFinite(ci.hi)) return '(no CI: non-finite values)';
  if (isAccuracy(m)) return `[${signed((100 * ci.lo).toFixed(2), ci.lo)}, ${signed((100 * ci.hi).toFixed(2), ci.hi)}]`;
  return `[${signed(formatNumber(ci.lo, 3), ci.lo)}, ${signed(formatNumber(ci.hi, 3), ci.hi)}]`;
}

/** "[lo, hi] 95% CI". */
export function formatInterval(m: Measure, ci: Pick<MeanInterval, 'n' | 'lo' | 'hi' | 'level'>): string {
  const b = formatBounds(m, ci);
  return b.startsWith('[') ? `${b} ${formatLevel(ci.level)} CI` : b;
}

export function formatLevel(level: number): string {
  return `${+(100 * level).toFixed(1)}%`;
}

/** mean ± sample std over seeds. */
export function meanStd(m: Measure, ci: MeanInterval): string {
  if (ci.n === 0) return 'no runs';
  if (!Number.isFinite(ci.mean)) return 'n/a (non-finite values)';
  if (ci.n < 2) return `${formatValue(m, ci.mean)} (1 seed)`;
  const std = isAccuracy(m) ? `${(100 * ci.std).toFixed(2)}` : formatNumber(ci.std, 3);
  return `${formatValue(m, ci.mean)} ± ${std}`;
}

/** A p-value: 3 significant digits, '< 0.0001' below that, 'n/a' without a test. */
export function formatP(p: number | undefined): string {
  if (p === undefined || Number.isNaN(p)) return 'n/a';
  if (p < 1e-4) return '< 0.0001';
  return formatNumber(p, 2);
}

export function describeModel(m: ModelSpec): string {
  return modelKind(m).describe(m);
}

export function describeData(d: DataSpec): string {
  const name = d.kind === 'fashion-mnist' ? 'Fashion-MNIST' : `synthetic (seed ${d.seed ?? 0}, ${d.imageSize ?? 28}×${d.imageSize ?? 28})`;
  const train = d.trainSize !== undefined ? `${d.trainSize} train` : 'all train';
  const test = d.testSize !== undefined ? `${d.testSize} test` : 'all test';
  return `${name}, ${train} / ${test} images`;
}
