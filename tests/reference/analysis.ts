/**
 * Float64 references for the gradient analyses (src/lab/analysis.ts), written from the definitions
 * in docs/paper.md and sharing nothing with the GPU code: the direction statistics both by the
 * pairwise definition and by the running-sum form, and the gradient of a one-hidden-layer ReLU MLP
 * with (label-smoothed) cross entropy, flattened in the model's parameter order.
 */
export type Arr = ArrayLike<number>;

const dotRef = (a: Arr, b: Arr) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const normRef = (a: Arr) => Math.sqrt(dotRef(a, a));
const cosRef = (a: Arr, b: Arr) => dotRef(a, b) / (normRef(a) * normRef(b));

export interface DirectionRef {
  gdv: number;
  variance: number;
  meanNorm: number;
  gde?: number;
  /** ‖mean u − ĝ/‖ĝ‖‖²: the bias² of the decomposition 2·GDE = bias² + variance. */
  bias2?: number;
}

/** By the definitions: GDV = mean over pairs i<j of 1 − cos; variance = 1 − ‖mean u‖². */
export function directionStatsPairwise(gs: Arr[], ghat?: Arr): DirectionRef {
  const m = gs.length;
  let pairs = 0;
  let sum = 0;
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) {
      sum += 1 - cosRef(gs[i], gs[j]);
      pairs++;
    }
  }
  const units = gs.map((g) => {
    const n = normRef(g);
    return Float64Array.from(g, (v) => v / n);
  });
  const meanU = new Float64Array(gs[0].length);
  for (const u of units) for (let k = 0; k < u.length; k++) meanU[k] += u[k] / m;
  const out: DirectionRef = {
    gdv: sum / pairs,
    variance: 1 - dotRef(meanU, meanU),
    meanNorm: gs.reduce((s, g) => s + normRef(g), 0) / m,
  };
  if (ghat) {
    out.gde = gs.reduce((s, g) => s + (1 - cosRef(g, ghat)), 0) / m;
    const nh = normRef(ghat);
    let e = 0;
    for (let k = 0; k < meanU.length; k++) e += (meanU[k] - ghat[k] / nh) ** 2;
    out.bias2 = e;
  }
  return out;
}

/** The running-sum form: U = Σ u_i, mean pairwise cos = (‖U‖² − M) / (M(M−1)). */
export function directionStatsRunningSum(gs: Arr[], ghat?: Arr): DirectionRef {
  const m = gs.length;
  const U = new Float64Array(gs[0].length);
  let cosSum = 0;
  let normSum = 0;
  for (const g of gs) {
    const n = normRef(g);
    normSum += n;
    for (let k = 0; k < U.length; k++) U[k] += g[k] / n;
    if (ghat) cosSum += cosRef(g, ghat);
  }
  const uu = dotRef(U, U);
  const out: DirectionRef = { gdv: 1 - (uu - m) / (m * (m - 1)), variance: 1 - uu / (m * m), meanNorm: normSum / m };
  if (ghat) {
    out.gde = 1 - cosSum / m;
    // ‖U/M − ĥ‖² = ‖U‖²/M² − 2·U·ĥ/M + 1, with U·ĥ = Σ cos(g_i, ĝ).
    out.bias2 = uu / (m * m) - (2 * cosSum) / m + 1;
  }
  return out;
}

/** Weights of MLP(inF → hidden ReLU → classes): W1 [hidden, inF], b1, W2 [classes, hidden], b2. */
export interface MlpWeights {
  W1: Arr;
  b1: Arr;
  W2: Arr;
  b2: Arr;
}

/**
 * ∇ of the mean (label-smoothed, PyTorch's rule) cross entropy of the MLP over `rows` samples,
 * flattened as [W1, b1, W2, b2] (the registration order of the MLP's parameters). `mask`
 * (rows × hidden, 0 or 1/(1 − p)) is a dropout mask applied after the hidden ReLU.
 */
export function mlpGradRef(x: Arr, labels: Arr, rows: number, inF: number, hidden: number, classes: number, w: MlpWeights, smoothing = 0, mask?: Arr): Float64Array {
  const gW1 = new Float64Array(hidden * inF);
  const gb1 = new Float64Array(hidden);
  const gW2 = new Float64Array(classes * hidden);
  const gb2 = new Float64Array(classes);
  for (let r = 0; r < rows; r++) {
    const h = new Float64Array(hidden);
    for (let o = 0; o < hidden; o++) {
      let s = w.b1[o];
      for (let i = 0; i < inF; i++) s += w.W1[o * inF + i] * x[r * inF + i];
      h[o] = Math.max(0, s) * (mask ? mask[r * hidden + o] : 1);
    }
    const z = new Float64Array(classes);
    for (let c = 0; c < classes; c++) {
      let s = w.b2[c];
      for (let k = 0; k < hidden; k++) s += w.W2[c * hidden + k] * h[k];
      z[c] = s;
    }
    const zmax = Math.max(...z);
    let den = 0;
    for (let c = 0; c < classes; c++) den += Math.exp(z[c] - zmax);
    // dL/dz = softmax − target, target = (1 − ε)·onehot + ε/C; mean over rows.
    const dz = new Float64Array(classes);
    for (let c = 0; c < classes; c++) {
      const target = (c === labels[r] ? 1 - smoothing : 0) + smoothing / classes;
      dz[c] = (Math.exp(z[c] - zmax) / den - target) / rows;
    }
    const dh = new Float64Array(hidden);
    for (let c = 0; c < classes; c++) {
      gb2[c] += dz[c];
      for (let k = 0; k < hidden; k++) {
        gW2[c * hidden + k] += dz[c] * h[k];
        dh[k] += dz[c] * w.W2[c * hidden + k];
      }
    }
    for (let o = 0; o < hidden; o++) {
      // Through the mask and the ReLU: h = relu(a)·mask, so dh/da = mask where a > 0.
      if (h[o] <= 0) continue;
      if (mask) dh[o] *= mask[r * hidden + o];
      gb1[o] += dh[o];
      for (let i = 0; i < inF; i++) gW1[o * inF + i] += dh[o] * x[r * inF + i];
    }
  }
  const out = new Float64Array(gW1.length + gb1.length + gW2.length + gb2.length);
  let at = 0;
  for (const part of [gW1, gb1, gW2, gb2]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
