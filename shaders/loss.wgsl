// Fused cross-entropy on logits [N, C] with integer class labels [N] and label smoothing eps,
// following PyTorch: loss_n = -(1 - eps) * logp[n, y_n] - (eps / C) * sum_c logp[n, c],
// with logp = log_softmax(logits) along the classes.
//
// Three stages, one per define:
//   FORWARD   per-row loss, plus the row's max m and log(sum exp(x - m)) saved for backward (kept
//             apart rather than added, so large logits keep their precision). Two launch shapes
//             (src/nn/functional/rows.ts picks one by C): SHORT, one thread per row looping over it
//             serially in a fixed order (max and the shifted sum, then the sum of exp), WG rows per
//             workgroup; otherwise one workgroup of WG threads per row with a tree reduction.
//   REDUCE    one workgroup, deterministic: out = scale * sum_n loss_n (scale 1/N for 'mean', 1 for 'sum').
//   BACKWARD  one thread per logit: dlogits = (softmax - q) * g_n * scale with
//             q = (1 - eps) * onehot(y) + eps / C; g_n = g[n] for reduction 'none', g[0] otherwise.
//
// Labels are read as i32 whether the tensor is i32 or u32 (a u32 label of 2^31 or more reads as a
// negative number, which is out of range either way). A row whose label is outside [0, C) gets a
// NaN loss and NaN gradients: the GPU cannot raise an error, and NaN makes the bad batch visible
// instead of silently training on garbage. With CHECK_LABELS (the engine's checked mode) FORWARD
// also records the first such row in the engine's check buffer, [code 1, row, label, C], which the
// next readback turns into an error (src/runtime/engine.ts).
//
// NaN logits: a row holding a NaN has a NaN loss and a NaN gradient throughout, as in PyTorch, on
// every adapter. WGSL leaves max and exp of NaN to the implementation (SwiftShader's max drops it
// and its exp(NaN) is inf, which gave inf beside finite values), so FORWARD notes a NaN by its bits
// and saves the row's max as NaN, which BACKWARD tests. Other rows take the same arithmetic as before.

struct Params {
  rows: u32,
  classes: u32,
  smoothing: f32,
  scale: f32,
};

@group(0) @binding(0) var<uniform> params: Params;

// NaN built from a runtime value: a constant NaN is a WGSL compile error.
fn nan_f32() -> f32 {
  return bitcast<f32>(0x7fc00000u | (params.rows & 0u));
}

fn label_is_valid(label: i32) -> bool {
  return label >= 0 && u32(label) < params.classes;
}

fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

#if ${FORWARD}

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
// Per row: (max, log of the sum of exp(x - max)); (NaN, NaN) for a row holding a NaN.
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
#if ${CHECK_LABELS}
@group(0) @binding(5) var<storage, read_write> checks: array<atomic<u32>, 4>;

// First violation wins: whoever turns word 0 from 0 to 1 writes the rest.
fn report_bad_label(row: u32, label: i32) {
  loop {
    let r = atomicCompareExchangeWeak(&checks[0], 0u, 1u);
    if (r.exchanged) {
      atomicStore(&checks[1], row);
      atomicStore(&checks[2], bitcast<u32>(label));
      atomicStore(&checks[3], params.classes);
      return;
    }
    if (r.old_value != 0u) { return; }
  }
}
#endif

const WG = ${WG}u;
// Most negative finite f32, the identity of max (a constant -inf would not compile).
const LOWEST = -3.4028234663852886e38;

// Writes the row's stats and loss from its max, log-sum-exp about the max and sum_c (x_c - x_0).
fn finish_row(row: u32, base: u32, row_max: f32, log_sum: f32, shifted: f32, row_nan: bool) {
  let c = params.classes;
  stats[2u * row] = select(row_max, nan_f32(), row_nan);
  stats[2u * row + 1u] = select(log_sum, nan_f32(), row_nan);
  let label = labels[row];
  if (!label_is_valid(label)) {
#if ${CHECK_LABELS}
    report_bad_label(row, label);
#endif
    loss[row] = nan_f32();
    return;
  }
  if (row_nan) {
    loss[row] = nan_f32();
    return;
  }
  let eps = params.smoothing;
  let x_label = logits[base + u32(label)];
  // -logp[y] = (m - x_y) + log_sum, and -(1/C) sum_c logp[c] = (m - x_0) + log_sum - shifted / C,
  // each written with differences of nearby values.
  let nll = (row_max - x_label) + log_sum;
  let uniform_nll = (row_max - logits[base]) + log_sum - shifted / f32(c);
  loss[row] = (1.0 - eps) * nll + eps * uniform_nll;
}

#if ${SHORT}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= params.rows) { return; }
  let c = params.classes;
  let base = row * c;
  // See the long path below for why the smoothing term sums x - x_0.
  let ref_value = logits[base];
  var m = LOWEST;
  var shifted = 0.0;
  var row_nan = false;
  for (var k = 0u; k < c; k++) {
    let v = logits[base + k];
    m = max(m, v);
    shifted += v - ref_value;
    row_nan = row_nan || is_nan(v);
  }
  var s = 0.0;
  for (var k = 0u; k < c; k++) { s += exp(logits[base + k] - m); }
  finish_row(row, base, m, log(s), shifted, row_nan);
}

#else

var<workgroup> red_max: array<f32, WG>;
var<workgroup> red_sum: array<f32, WG>;
var<workgroup> red_shifted: array<f32, WG>;
var<workgroup> red_nan: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let c = params.classes;
  let base = row * c;
  // The smoothing term needs sum_c x_c; summing x - x_0 instead keeps it small, so that it does
  // not cancel catastrophically against the log-sum-exp when logits are large (about 1e3).
  let ref_value = logits[base];

  // Online log-sum-exp: running max m, running sum s of exp(x - m) rescaled when m grows.
  var m = LOWEST;
  var s = 0.0;
  var shifted = 0.0;
  var seen_nan = 0u;
  for (var k = lid; k < c; k += WG) {
    let v = logits[base + k];
    shifted += v - ref_value;
    seen_nan |= u32(is_nan(v));
    if (v > m) {
      s = s * exp(m - v) + 1.0;
      m = v;
    } else {
      s += exp(v - m);
    }
  }
  red_max[lid] = m;
  red_sum[lid] = s;
  red_shifted[lid] = shifted;
  red_nan[lid] = seen_nan;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (lid < h) {
      let m1 = red_max[lid];
      let m2 = red_max[lid + h];
      let mm = max(m1, m2);
      red_sum[lid] = red_sum[lid] * exp(m1 - mm) + red_sum[lid + h] * exp(m2 - mm);
      red_max[lid] = mm;
      red_shifted[lid] += red_shifted[lid + h];
      red_nan[lid] |= red_nan[lid + h];
    }
    workgroupBarrier();
  }

  if (lid == 0u) {
    finish_row(row, base, red_max[0], log(red_sum[0]), red_shifted[0], red_nan[0] != 0u);
  }
}

#endif

#elif ${REDUCE}

@group(0) @binding(1) var<storage, read> loss: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const WG = 256u;
var<workgroup> red: array<f32, WG>;

// A single workgroup sums all rows in a fixed order, so the result is bit-for-bit reproducible.
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < params.rows; i += WG) {
    acc += loss[i];
  }
  red[lid] = acc;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (lid < h) { red[lid] += red[lid + h]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[0] = red[0] * params.scale;
  }
}

#elif ${BACKWARD}

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;

const WG = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  let c = params.classes;
  if (i >= params.rows * c) { return; }
  let row = i / c;
  let k = i - row * c;
  let label = labels[row];
  let row_max = stats[2u * row];
  if (!label_is_valid(label) || is_nan(row_max)) {
    dlogits[i] = nan_f32();
    return;
  }
  let eps = params.smoothing;
  let p = exp((logits[i] - row_max) - stats[2u * row + 1u]);
  let q = select(0.0, 1.0 - eps, u32(label) == k) + eps / f32(c);
#if ${REDUCTION_NONE}
  let scale = g[row];
#else
  let scale = g[0] * params.scale;
#endif
  dlogits[i] = (p - q) * scale;
}

#endif
