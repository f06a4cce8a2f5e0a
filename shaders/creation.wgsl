// Fills a buffer with one 32-bit pattern (f32, i32 or u32 alike); also arange for index tensors.

struct Params {
  n: u32,
  bits: u32,
  _pad0: u32,
  _pad1: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

const WG = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
#if ${ARANGE}
  out[i] = i;
#else
  out[i] = params.bits;
#endif
}
