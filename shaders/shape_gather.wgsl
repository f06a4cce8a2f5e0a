// indexSelect along one axis, and its backward.
//
// x is seen as [outer, dim, inner] (dim: the selected axis), the index as [len] and the output as
// [outer, len, inner].
//
// Forward (one thread per output element): out[o, j, k] = x[o, index[j], k]. Words are copied raw,
// so any 32-bit dtype works. The index is read as u32: a negative i32 index becomes a huge u32,
// so one test (index < dim) rejects both negative and too-large indices. A rejected index writes 0
// (all-zero bits: 0.0 or 0) and never reads outside x.
//
// Backward (BACKWARD, f32, one thread per element of dx):
//   dx[o, r, k] = sum over j with index[j] == r of g[o, j, k].
// Each thread loops over the whole index, so the cost is O(x.size * len), but there are no
// atomics (WGSL has none for f32) and the summation order is fixed: results are deterministic.

struct Params {
  // Threads: output elements (forward) or elements of dx (backward).
  n: u32,
  len: u32,
  dim: u32,
  inner: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
#if ${BACKWARD}
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
#else
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
#endif

const WG = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let inner = params.inner;
  let k = i % inner;
#if ${BACKWARD}
  let r = (i / inner) % params.dim;
  let o = i / (inner * params.dim);
  var acc = 0.0;
  let base = o * params.len * inner + k;
  for (var j = 0u; j < params.len; j++) {
    if (indices[j] == r) {
      acc += g[base + j * inner];
    }
  }
  dx[i] = acc;
#else
  let j = (i / inner) % params.len;
  let o = i / (inner * params.len);
  let r = indices[j];
  var v = 0u;
  if (r < params.dim) {
    v = x[(o * params.dim + r) * inner + k];
  }
  out[i] = v;
#endif
}
