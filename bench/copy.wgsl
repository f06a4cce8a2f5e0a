// The benchmark's bandwidth baseline, not a library kernel: y = x for n f32 moved as vec4s, the
// least work any kernel that reads x once and writes y once can do. Dropout reads and writes the
// same bytes, so bench-core.ts reports its GB/s as a share of this kernel's on the same adapter in
// the same run (the best of a few VEC4S variants).
//
// Thread l of workgroup w copies the VEC4S vec4s base + k * WG (k = 0 .. VEC4S - 1) with
// base = w * WG * VEC4S + l: neighbouring threads touch neighbouring 16-byte words at every step
// (coalesced on a GPU), and more vec4s per thread amortise the per-thread cost (which dominates on a
// CPU-emulated GPU). nvec = ceil(n / 4): a partial last vec4 is copied whole, which the bench's
// buffers (whole 256-byte size classes of wgtrain's pool, owned by the bench) allow.

struct Params {
  nvec: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4f>;

const WG = 256u;
const VEC4S = ${VEC4S}u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) l: u32, @builtin(num_workgroups) nwg: vec3u) {
  let base = (wid.x + wid.y * nwg.x) * (WG * VEC4S) + l;
  for (var k = 0u; k < VEC4S; k++) {
    let q = base + k * WG;
    if (q < params.nvec) {
      y[q] = x[q];
    }
  }
}
