// softmax / log_softmax along one axis of a contiguous f32 tensor, forward and backward.
//
// The tensor is seen as [outer, len, inner]: the reduced axis has length `len` and stride `inner`,
// so row r (of outer * inner rows) starts at (r / inner) * len * inner + r % inner and its k-th
// element sits at base + k * inner. No transpose is needed for a non-last axis.
//
// Two launch shapes (src/nn/functional/rows.ts picks one by row length):
//   SHORT   one thread per row, WG rows per workgroup. The thread walks its row serially, in order:
//           max, then sum of exp(x - max), then the write (backward: the sum, then the write).
//           No workgroup memory or barriers; the summation order is fixed, so results are
//           deterministic. Neighbouring threads own neighbouring rows.
//   long    one workgroup of WG threads per row (rows spill into the grid's y dimension past
//           65535). Each thread walks the row with stride WG, then the workgroup combines the
//           per-thread partials with a tree reduction in workgroup memory.
//
// forward:  m = max_k x_k, s = sum_k exp(x_k - m) (long path: one pass, "online": the running
//           sum is rescaled whenever the running max grows), then y = exp(x - m) / s, or for LOG
//           y = x - m - log(s). Subtracting the max keeps exp from overflowing for large logits.
// backward: softmax      dx = y * (dy - sum_k dy_k * y_k)
//           log_softmax  dx = dy - exp(y) * sum_k dy_k
//           (y is the saved forward output).
//
// NaN: a row holding a NaN is NaN throughout, as in PyTorch, on every adapter. WGSL leaves max and
// exp of NaN to the implementation (SwiftShader's max drops it, its exp(NaN) is inf), so the
// forward pass notes a NaN by its bits while it finds the max and writes NaN over the whole row;
// backward passes a NaN of y on. Rows without NaN take exactly the same arithmetic as before.

struct Params {
  rows: u32,
  len: u32,
  inner: u32,
  _pad: u32,
};

const WG = ${WG}u;
// Most negative finite f32: the identity of max without writing -inf (a constant inf is a
// compile error in WGSL).
const LOWEST = -3.4028234663852886e38;

@group(0) @binding(0) var<uniform> params: Params;

fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// NaN built from a runtime value: a constant NaN is a WGSL compile error.
fn nan_f32() -> f32 {
  return bitcast<f32>(0x7fc00000u | (params.rows & 0u));
}
#if ${BACKWARD}
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
#endif

fn row_base(row: u32) -> u32 {
  let o = row / params.inner;
  let i = row - o * params.inner;
  return o * params.len * params.inner + i;
}

#if ${SHORT}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= params.rows) { return; }
  let base = row_base(row);
  let stride = params.inner;
  let len = params.len;

#if ${BACKWARD}
  var total = 0.0;
  for (var k = 0u; k < len; k++) {
    let j = base + k * stride;
#if ${LOG}
    total += dy[j];
#else
    total += dy[j] * y[j];
#endif
  }
  for (var k = 0u; k < len; k++) {
    let j = base + k * stride;
    let yj = y[j];
#if ${LOG}
    dx[j] = select(dy[j] - exp(yj) * total, yj, is_nan(yj));
#else
    dx[j] = select(yj * (dy[j] - total), yj, is_nan(yj));
#endif
  }
#else
  var row_max = LOWEST;
  var row_nan = false;
  for (var k = 0u; k < len; k++) {
    let v = x[base + k * stride];
    row_max = max(row_max, v);
    row_nan = row_nan || is_nan(v);
  }
  var row_sum = 0.0;
  for (var k = 0u; k < len; k++) { row_sum += exp(x[base + k * stride] - row_max); }
#if ${LOG}
  let shift = row_max + log(row_sum);
  for (var k = 0u; k < len; k++) {
    let j = base + k * stride;
    y[j] = select(x[j] - shift, nan_f32(), row_nan);
  }
#else
  let inv = 1.0 / row_sum;
  for (var k = 0u; k < len; k++) {
    let j = base + k * stride;
    y[j] = select(exp(x[j] - row_max) * inv, nan_f32(), row_nan);
  }
#endif
#endif
}

#else

var<workgroup> red_a: array<f32, WG>;
var<workgroup> red_b: array<f32, WG>;

#if ${BACKWARD}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let base = row_base(row);
  let stride = params.inner;

  var acc = 0.0;
  for (var k = lid; k < params.len; k += WG) {
    let j = base + k * stride;
#if ${LOG}
    acc += dy[j];
#else
    acc += dy[j] * y[j];
#endif
  }
  red_a[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red_a[lid] += red_a[lid + s]; }
    workgroupBarrier();
  }
  let total = red_a[0];

  for (var k = lid; k < params.len; k += WG) {
    let j = base + k * stride;
    let yj = y[j];
#if ${LOG}
    dx[j] = select(dy[j] - exp(yj) * total, yj, is_nan(yj));
#else
    dx[j] = select(yj * (dy[j] - total), yj, is_nan(yj));
#endif
  }
}

#else

var<workgroup> red_nan: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let base = row_base(row);
  let stride = params.inner;

  // Per-thread running max m and sum s of exp(x - m), and whether a NaN was seen.
  var m = LOWEST;
  var s = 0.0;
  var seen_nan = 0u;
  for (var k = lid; k < params.len; k += WG) {
    let v = x[base + k * stride];
    seen_nan |= u32(is_nan(v));
    if (v > m) {
      s = s * exp(m - v) + 1.0;
      m = v;
    } else {
      s += exp(v - m);
    }
  }
  red_a[lid] = m;
  red_b[lid] = s;
  red_nan[lid] = seen_nan;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (lid < h) {
      let m1 = red_a[lid];
      let m2 = red_a[lid + h];
      let mm = max(m1, m2);
      red_b[lid] = red_b[lid] * exp(m1 - mm) + red_b[lid + h] * exp(m2 - mm);
      red_a[lid] = mm;
      red_nan[lid] |= red_nan[lid + h];
    }
    workgroupBarrier();
  }
  let row_max = red_a[0];
  let row_sum = red_b[0];
  let row_nan = red_nan[0] != 0u;

#if ${LOG}
  let shift = row_max + log(row_sum);
  for (var k = lid; k < params.len; k += WG) {
    let j = base + k * stride;
    y[j] = select(x[j] - shift, nan_f32(), row_nan);
  }
#else
  let inv = 1.0 / row_sum;
  for (var k = lid; k < params.len; k += WG) {
    let j = base + k * stride;
    y[j] = select(exp(x[j] - row_max) * inv, nan_f32(), row_nan);
  }
#endif
}

#endif

#endif
