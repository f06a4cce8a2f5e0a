// General strided copy of 32-bit words (f32, i32 and u32 alike: the bits are moved, never converted).
//
// The copy iterates over an index space `shape` of up to 8 dimensions. Element idx is read from
//   src[in_offset + sum(idx_k * in_strides_k)]
// and written to
//   dst[out_offset + sum(idx_k * out_strides_k)].
// That one rule covers every shape op: permute/transpose (input strides permuted, output
// contiguous), slice (input offset and strides over the sliced shape), concat and slice-backward
// (output offset and strides: each piece lands in its slab of a larger tensor) and expand
// (input stride 0 along broadcast dimensions). The host merges dimensions that are contiguous on
// both sides first, so most copies run with rank 1 or 2 here. rank is at least 1: a copy that
// coalesces to rank 0 (a single element) or to one contiguous run is a plain buffer copy instead.

struct Params {
  n: u32,
  rank: u32,
  in_offset: u32,
  out_offset: u32,
  shape: array<vec4u, 2>,
  in_strides: array<vec4u, 2>,
  out_strides: array<vec4u, 2>,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

const WG = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  var rem = i;
  var si = params.in_offset;
  var di = params.out_offset;
  // Innermost dimensions first; the outermost one needs no modulo (what is left is its index).
  for (var k = params.rank - 1u; k > 0u; k--) {
    let q = k / 4u;
    let r = k % 4u;
    let d = params.shape[q][r];
    let idx = rem % d;
    rem = rem / d;
    si += idx * params.in_strides[q][r];
    di += idx * params.out_strides[q][r];
  }
  si += rem * params.in_strides[0].x;
  di += rem * params.out_strides[0].x;
  dst[di] = src[si];
}
