// Fused dropout: the keep mask is drawn from Philox 4x32-10 and kept values are scaled, in one pass.
//
//   y[i] = keep(i) ? x[i] * scale : 0.0      with scale = f32(1 / (1 - p)), rounded on the host
//
// The mask is a pure function of (seed, offset, i), never of the launch shape:
//   thread t handles the four consecutive elements 4t .. 4t+3 with ONE Philox call,
//   counter = (t, offset_lo, offset_hi, 0), key = (seed_lo, seed_hi),
//   element i = 4t + j takes output word j, and keep(i) = (word >= threshold),
//   threshold = min(round(p * 2^32), 2^32 - 1) (host side), so P(keep) = 1 - threshold / 2^32.
// Any tensor drawn with the same seed and offset therefore agrees on element i, whatever its
// length or the workgroup size; tests/reference/philox.ts is the CPU twin of this rule.
//
// Backward runs this same entry point on the output gradient: dx = g * mask * scale is the forward
// formula applied to g, and the mask is regenerated from (seed, offset) instead of being stored.
// Storing it would cost a bitmask buffer kept alive from forward to backward plus a read of it in
// backward; ten Philox rounds are a few dozen integer ops per four elements, which a
// bandwidth-bound elementwise kernel hides completely, so regeneration is both smaller and faster.
//
// Dropped elements are written as exactly 0.0 with select(), not as x * 0.0: a dropped inf or NaN
// (in x, or in the incoming gradient) does not influence the output, so it must not leak into it.

struct Params {
  n: u32,
  // Keep an element when its 32-bit Philox word is >= threshold.
  threshold: u32,
  scale: f32,
  _pad0: u32,
  key_lo: u32,
  key_hi: u32,
  offset_lo: u32,
  offset_hi: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

const WG = 256u;

${PHILOX}

fn emit(i: u32, word: u32) {
  if (i < params.n) {
    y[i] = select(0.0, x[i] * params.scale, word >= params.threshold);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  // n < 2^30 (storage buffers are under 4 GiB), so 4t cannot wrap for any thread that is launched.
  let base = t * 4u;
  if (base >= params.n) { return; }
  let words = philox4x32_10(vec4u(t, params.offset_lo, params.offset_hi, 0u), vec2u(params.key_lo, params.key_hi));
  emit(base, words.x);
  emit(base + 1u, words.y);
  emit(base + 2u, words.z);
  emit(base + 3u, words.w);
}
