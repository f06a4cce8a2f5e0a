// Elementwise binary ops on f32 with NumPy broadcasting, plus `where` (a ternary select).
// Broadcasting is expressed through strides: an input's stride is 0 along a broadcast dimension,
// so out[i] reads a[sum(idx_k * a_stride_k)]. SAME_SHAPE skips the index arithmetic.

struct Params {
  n: u32,
  rank: u32,
  _pad0: u32,
  _pad1: u32,
  out_shape: array<vec4u, 2>,
  a_strides: array<vec4u, 2>,
  b_strides: array<vec4u, 2>,
  c_strides: array<vec4u, 2>,
};

@group(0) @binding(0) var<uniform> params: Params;
#if ${OP_WHERE}
// where(cond, a, b): cond is read as raw 32-bit words; any nonzero value (f32 -0.0 aside) is true.
@group(0) @binding(1) var<storage, read> cond: array<u32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#endif

const WG = 256u;

fn apply(x: f32, z: f32) -> f32 {
#if ${OP_ADD}
  return x + z;
#elif ${OP_SUB}
  return x - z;
#elif ${OP_MUL}
  return x * z;
#elif ${OP_DIV}
  return x / z;
#else
  return x;
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
#if ${SAME_SHAPE}
  let ia = i;
  let ib = i;
  let ic = i;
#else
  var rem = i;
  var ia = 0u;
  var ib = 0u;
  var ic = 0u;
  for (var k = i32(params.rank) - 1; k >= 0; k--) {
    let q = u32(k) / 4u;
    let r = u32(k) % 4u;
    let d = params.out_shape[q][r];
    let idx = rem % d;
    rem = rem / d;
    ia += idx * params.a_strides[q][r];
    ib += idx * params.b_strides[q][r];
    ic += idx * params.c_strides[q][r];
  }
#endif
#if ${OP_WHERE}
  let c = (cond[ic] & 0x7fffffffu) != 0u;
  out[i] = select(b[ib], a[ia], c);
#else
  out[i] = apply(a[ia], b[ib]);
#endif
}
