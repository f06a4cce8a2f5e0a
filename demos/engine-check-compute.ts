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
