/**
 * The engine check: one small training-step computation on fixed data, run unchanged in the
 * browser (demos/engine-check.html) and in Node (tests/browser.test.ts), so the two runtimes can be
 * compared value for value.
 *
 *   loss = mean(logSoftmax(dropout(relu(x @ w), p, { seed, offset }), -1)),  then loss.backward()
 *
 * The inputs are exact rationals built from integer arithmetic (no Math.sin/log), so both sides
 * upload bit-identical data. The dropout mask is read from dropout() applied to ones with the
 * same shape, seed and offset: the mask depends only on (seed, offset, element index).
 *
 * engineCheckReference() is the same computation in float64 on the mask the GPU drew, and
 * judgeEngineCheck() the page's pass / fail verdict against it.
 */
import { ones, tensor, tidy, type Tensor } from '../src/index.js';

export const ENGINE_CHECK = {
  rows: 16,
  inner: 24,
  cols: 33,
  p: 0.3,
  seed: 1234,
  offset: 7,
} as const;

export interface EngineCheckInputs {
  x: Float32Array;
  w: Float32Array;
}

export function engineCheckInputs(): EngineCheckInputs {
  const { rows, inner, cols } = ENGINE_CHECK;
  const x = new Float32Array(rows * inner);
  const w = new Float32Array(inner * cols);
  // Values in [-2, 2] and [-0.4, 0.4], with enough spread that relu and dropout both bite.
  for (let i = 0; i < x.length; i++) x[i] = (((i * 37 + 11) % 101) - 50) / 25;
  for (let i = 0; i < w.length; i++) w[i] = (((i * 53 + 7) % 97) - 48) / 120;
  return { x, w };
}

export interface EngineCheckResult {
  loss: number;
  /** d loss / d w, [inner, cols] row-major. */
  gradW: number[];
  /** The dropped activations dropout(relu(x @ w)), [rows, cols]. */
  dropped: number[];
  /** 1 where dropout kept the element, 0 where it dropped it, [rows, cols]. */
  mask: number[];
  /** dropout(ones) values: 0 or 1 / (1 - p). */
  maskScale: number[];
}

/** Runs the check on the initialised engine (call `await init()` first); frees what it creates. */
export async function runEngineCheck(): Promise<EngineCheckResult> {
  const { rows, inner, cols, p, seed, offset } = ENGINE_CHECK;
  const { x: xData, w: wData } = engineCheckInputs();
  const x = tensor(xData, [rows, inner]);
  const w = tensor(wData, [inner, cols], { requiresGrad: true });
  const { loss, dropped, maskScale } = tidy(() => {
    const dropped = x.matmul(w).relu().dropout(p, { seed, offset });
    const loss = dropped.logSoftmax(-1).mean();
    const maskScale = ones([rows, cols]).dropout(p, { seed, offset });
    return { loss, dropped, maskScale };
  });
  try {
    loss.backward();
    if (!w.grad) throw new Error('engine check: backward() left w.grad empty');
    const [lossValue, gradW, droppedValues, scaleValues] = [
      await loss.toArray(),
      await w.grad.toArray(),
      await dropped.toArray(),
      await maskScale.toArray(),
    ];
    return {
      loss: lossValue[0],
      gradW: Array.from(gradW),
      dropped: Array.from(droppedValues),
      mask: Array.from(scaleValues, (v) => (v !== 0 ? 1 : 0)),
      maskScale: Array.from(scaleValues),
    };
  } finally {
    for (const t of [x, w, loss, dropped, maskScale] as Tensor[]) t.dispose();
  }
}

export interface EngineCheckReference {
  loss: number;
  gradW: Float64Array;
  dropped: Float64Array;
  /** Smallest |x @ w| entry: relu's kink must be far from every input for the gradient to be comparable. */
  minAbsPreActivation: number;
}

/** Float64 forward and backward of the check, given the dropout mask the GPU drew (1 = kept). */
export function engineCheckReference(mask: readonly number[]): EngineCheckReference {
  const { rows: R, inner: K, cols: C, p } = ENGINE_CHECK;
  const { x, w } = engineCheckInputs();
  const scale = 1 / (1 - p);
  const z = new Float64Array(R * C);
  for (let r = 0; r < R; r++)
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[r * K + k] * w[k * C + c];
      z[r * C + c] = s;
    }
  const d = z.map((v, i) => Math.max(v, 0) * mask[i] * scale);
  let loss = 0;
  const dz = new Float64Array(R * C);
  for (let r = 0; r < R; r++) {
    const row = d.subarray(r * C, (r + 1) * C);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((acc, v) => acc + Math.exp(v - m), 0));
    for (let c = 0; c < C; c++) {
      loss += row[c] - lse;
      // d mean(logSoftmax) / d d_rc = (1 - C softmax_rc) / (R C), then back through dropout and relu.
      const dd = (1 - C * Math.exp(row[c] - lse)) / (R * C);
      const i = r * C + c;
      dz[i] = z[i] > 0 ? dd * mask[i] * scale : 0;
    }
  }
  const gradW = new Float64Array(K * C);
  for (let k = 0; k < K; k++)
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let r = 0; r < R; r++) s += x[r * K + k] * dz[r * C + c];
      gradW[k * C + c] = s;
    }
  return { loss: loss / (R * C), gradW, dropped: d, minAbsPreActivation: Math.min(...z.map(Math.abs)) };
}

export interface EngineCheckVerdict {
  pass: boolean;
  checks: { name: string; pass: boolean; detail: string }[];
}

/** Worst |a − b| − (atol + rtol·|b|) over the elements: ≤ 0 when every element is within tolerance. */
function worstExcess(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number): { excess: number; maxAbs: number } {
  let excess = -Infinity;
  let maxAbs = 0;
  for (let i = 0; i < b.length; i++) {
    const diff = Math.abs(a[i] - b[i]);
    // A NaN anywhere fails the check (NaN comparisons are false, so test for it).
    const e = Number.isNaN(diff) ? Infinity : diff - (atol + rtol * Math.abs(b[i]));
    excess = Math.max(excess, e);
    maxAbs = Math.max(maxAbs, Number.isNaN(diff) ? Infinity : diff);
  }
  return { excess, maxAbs };
}

/**
 * Pass or fail of a GPU result against the float64 reference on the same mask, with the
 * tolerances of f32 arithmetic (those of tests/browser.test.ts), and the dropout mask against its
 * definition: values 0 or 1/(1 − p), a kept fraction within 4 binomial standard deviations of 1 − p.
 */
export function judgeEngineCheck(r: EngineCheckResult): EngineCheckVerdict {
  const { rows, cols, p } = ENGINE_CHECK;
  const n = rows * cols;
  const ref = engineCheckReference(r.mask);
  const gScale = Math.max(...ref.gradW.map(Math.abs));
  const checks: EngineCheckVerdict['checks'] = [];
  const close = (name: string, a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number) => {
    const { excess, maxAbs } = worstExcess(a, b, rtol, atol);
    checks.push({ name, pass: excess <= 0, detail: `largest |GPU − float64| = ${maxAbs.toPrecision(3)} (tolerance ${atol.toPrecision(2)} + ${rtol}·|value|)` });
  };
  const odd = r.maskScale.filter((v) => v !== 0 && Math.abs(v - 1 / (1 - p)) > 1e-6).length;
  const kept = r.mask.reduce((a, b) => a + b, 0);
  const sd = Math.sqrt(n * p * (1 - p));
  checks.push({ name: 'dropout(ones) is 0 or 1/(1 − p)', pass: odd === 0 && r.maskScale.length === n, detail: `${odd} of ${r.maskScale.length} values are neither` });
  checks.push({
    name: 'dropout keeps about 1 − p of the elements',
    pass: Math.abs(kept - n * (1 - p)) <= 4 * sd,
    detail: `kept ${kept} of ${n} (expected ${(n * (1 - p)).toFixed(1)} ± ${(4 * sd).toFixed(1)} at p = ${p})`,
  });
  close('dropout(relu(x @ w))', r.dropped, ref.dropped, 1e-4, 1e-5);
  close('loss', [r.loss], [ref.loss], 1e-4, 1e-6);
  close('gradient d loss / d w', r.gradW, ref.gradW, 1e-3, 1e-4 * gScale);
  return { pass: checks.every((c) => c.pass), checks };
}
