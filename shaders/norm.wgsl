// layer_norm over the last dimension D of a contiguous f32 tensor seen as [rows, D]:
//   y = (x - mean) * rstd * weight + bias,  rstd = 1 / sqrt(var + eps),  var the biased variance.
//
// Stages (one define true at a time):
//   FORWARD        Two passes over the row (mean, then the centred sum of squares) so the variance
//                  does not suffer the cancellation of E[x^2] - E[x]^2, then the write.
//                  Both passes work on x - x_0 (x_0 the row's first element), which is exact in f32
//                  for nearby values: with a large common offset (mean 1e3, spread 1) a plain f32
//                  sum of x would lose about 1e-4 of the mean to rounding at the offset's scale.
//                  Saves mean and rstd per row for backward.
//   DX             With xhat = (x - mean) * rstd and gy = dy * weight:
//                  dx = rstd * (gy - mean(gy) - xhat * mean(gy * xhat)).
//   Both row stages come in two launch shapes (src/nn/functional/rows.ts picks one by D):
//   SHORT true     one thread per row, WG rows per workgroup, looping over the row serially in a
//                  fixed order (deterministic, no workgroup memory or barriers);
//   SHORT false    one workgroup of WG threads per row, strided loops and a tree reduction.
//   PARAM_PARTIAL  dweight = sum_rows dy * xhat, dbias = sum_rows dy. One thread per column sums a
//                  chunk of chunk_rows rows; chunk k writes row k of a [chunks, D] partial buffer
//                  (or the final [D] result when there is a single chunk).
//   COLUMN_SUM     one thread per column adds up the [chunks, D] partials in order. Both parameter
//                  stages use fixed summation orders, so the results are deterministic.
//
// Bindings that a variant does not use are not declared, so the others keep consecutive numbers;
// BIAS_BINDING says where the bias (FORWARD) or dbias partials (PARAM_PARTIAL) sit.

struct Params {
  rows: u32,
  d: u32,
  eps: f32,
  chunk_rows: u32,
};

@group(0) @binding(0) var<uniform> params: Params;

const WG = ${WG}u;

#if ${FORWARD}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd_out: array<f32>;
#if ${HAS_WEIGHT}
@group(0) @binding(5) var<storage, read> weight: array<f32>;
#endif
#if ${HAS_BIAS}
@group(0) @binding(${BIAS_BINDING}) var<storage, read> bias: array<f32>;
#endif
#elif ${DX}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> mean_in: array<f32>;
@group(0) @binding(4) var<storage, read> rstd_in: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
#if ${HAS_WEIGHT}
@group(0) @binding(6) var<storage, read> weight: array<f32>;
#endif
#elif ${PARAM_PARTIAL}
@group(0) @binding(1) var<storage, read> dy: array<f32>;
#if ${HAS_WEIGHT}
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> mean_in: array<f32>;
@group(0) @binding(4) var<storage, read> rstd_in: array<f32>;
@group(0) @binding(5) var<storage, read_write> dweight_part: array<f32>;
#endif
#if ${HAS_BIAS}
@group(0) @binding(${BIAS_BINDING}) var<storage, read_write> dbias_part: array<f32>;
#endif
#elif ${COLUMN_SUM}
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> total: array<f32>;
#endif

#if ${FORWARD}
#if ${SHORT}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= params.rows) { return; }
  let d = params.d;
  let base = row * d;

  // Sums of x - x_0 (see the header): shift = mean - x_0.
  let x0 = x[base];
  var acc = 0.0;
  for (var k = 0u; k < d; k++) { acc += x[base + k] - x0; }
  let shift = acc / f32(d);
  var sq = 0.0;
  for (var k = 0u; k < d; k++) {
    let c = (x[base + k] - x0) - shift;
    sq += c * c;
  }
  let rstd = inverseSqrt(sq / f32(d) + params.eps);

  for (var k = 0u; k < d; k++) {
    var v = ((x[base + k] - x0) - shift) * rstd;
#if ${HAS_WEIGHT}
    v *= weight[k];
#endif
#if ${HAS_BIAS}
    v += bias[k];
#endif
    y[base + k] = v;
  }
  mean_out[row] = x0 + shift;
  rstd_out[row] = rstd;
}

#else
var<workgroup> red: array<f32, WG>;

// Sum of v over the workgroup; every thread gets the result. Must be called in uniform control flow.
fn workgroup_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (lid < h) { red[lid] += red[lid + h]; }
    workgroupBarrier();
  }
  let s = red[0];
  // The next call overwrites red: everyone must have read the total first.
  workgroupBarrier();
  return s;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let d = params.d;
  let base = row * d;

  let x0 = x[base];
  var acc = 0.0;
  for (var k = lid; k < d; k += WG) { acc += x[base + k] - x0; }
  let shift = workgroup_sum(lid, acc) / f32(d);

  var sq = 0.0;
  for (var k = lid; k < d; k += WG) {
    let c = (x[base + k] - x0) - shift;
    sq += c * c;
  }
  let rstd = inverseSqrt(workgroup_sum(lid, sq) / f32(d) + params.eps);

  for (var k = lid; k < d; k += WG) {
    var v = ((x[base + k] - x0) - shift) * rstd;
#if ${HAS_WEIGHT}
    v *= weight[k];
#endif
#if ${HAS_BIAS}
    v += bias[k];
#endif
    y[base + k] = v;
  }
  if (lid == 0u) {
    mean_out[row] = x0 + shift;
    rstd_out[row] = rstd;
  }
}

#endif

#elif ${DX}

fn scaled_dy(j: u32, k: u32) -> f32 {
#if ${HAS_WEIGHT}
  return dy[j] * weight[k];
#else
  return dy[j];
#endif
}

#if ${SHORT}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= params.rows) { return; }
  let d = params.d;
  let base = row * d;
  let mean = mean_in[row];
  let rstd = rstd_in[row];

  // (sum gy, sum gy * xhat) over the row, then divided by D.
  var acc = vec2f(0.0);
  for (var k = 0u; k < d; k++) {
    let gy = scaled_dy(base + k, k);
    acc += vec2f(gy, gy * (x[base + k] - mean) * rstd);
  }
  let sums = acc / f32(d);

  for (var k = 0u; k < d; k++) {
    let xhat = (x[base + k] - mean) * rstd;
    dx[base + k] = rstd * (scaled_dy(base + k, k) - sums.x - xhat * sums.y);
  }
}

#else
var<workgroup> red: array<vec2f, WG>;

fn workgroup_sum2(lid: u32, v: vec2f) -> vec2f {
  red[lid] = v;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (lid < h) { red[lid] += red[lid + h]; }
    workgroupBarrier();
  }
  return red[0];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let d = params.d;
  let base = row * d;
  let mean = mean_in[row];
  let rstd = rstd_in[row];

  // (sum gy, sum gy * xhat) over the row.
  var acc = vec2f(0.0);
  for (var k = lid; k < d; k += WG) {
    let gy = scaled_dy(base + k, k);
    acc += vec2f(gy, gy * (x[base + k] - mean) * rstd);
  }
  let sums = workgroup_sum2(lid, acc) / f32(d);

  for (var k = lid; k < d; k += WG) {
    let xhat = (x[base + k] - mean) * rstd;
    dx[base + k] = rstd * (scaled_dy(base + k, k) - sums.x - xhat * sums.y);
  }
}

#endif

#elif ${PARAM_PARTIAL}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let col = gid.x;
  let d = params.d;
  if (col >= d) { return; }
  let chunk = wid.y;
  let r0 = chunk * params.chunk_rows;
  let r1 = min(params.rows, r0 + params.chunk_rows);
  var dw = 0.0;
  var db = 0.0;
  for (var r = r0; r < r1; r++) {
    let j = r * d + col;
    let g = dy[j];
    db += g;
#if ${HAS_WEIGHT}
    dw += g * (x[j] - mean_in[r]) * rstd_in[r];
#endif
  }
#if ${HAS_WEIGHT}
  dweight_part[chunk * d + col] = dw;
#endif
#if ${HAS_BIAS}
  dbias_part[chunk * d + col] = db;
#endif
}

#elif ${COLUMN_SUM}

// params.rows holds the number of chunks here.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let col = gid.x + gid.y * nwg.x * WG;
  let d = params.d;
  if (col >= d) { return; }
  var s = 0.0;
  for (var k = 0u; k < params.rows; k++) { s += partial[k * d + col]; }
  total[col] = s;
}

#endif
