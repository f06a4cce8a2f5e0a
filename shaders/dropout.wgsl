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

// Philox 4x32 constants (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC11).
const PHILOX_M0 = 0xD2511F53u;
const PHILOX_M1 = 0xCD9E8D57u;
const PHILOX_W0 = 0x9E3779B9u;
const PHILOX_W1 = 0xBB67AE85u;

// The full 64-bit product a * b as (hi, lo). WGSL has no 64-bit integers, so the product is
// assembled from 16-bit limbs: every partial product fits in 32 bits, and `mid` (three terms
// below 2^16 each) cannot overflow.
fn mulhilo(a: u32, b: u32) -> vec2u {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  let hi = p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
  let lo = (mid << 16u) | (p00 & 0xffffu);
  return vec2u(hi, lo);
}

fn philox_round(c: vec4u, k: vec2u) -> vec4u {
  let r0 = mulhilo(PHILOX_M0, c.x);
  let r1 = mulhilo(PHILOX_M1, c.z);
  return vec4u(r1.x ^ c.y ^ k.x, r1.y, r0.x ^ c.w ^ k.y, r0.y);
}

// Ten rounds, the key bumped by the Weyl constants between rounds (nine bumps), as in Random123.
fn philox4x32_10(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var r = 0u; r < 9u; r++) {
    c = philox_round(c, k);
    k += vec2u(PHILOX_W0, PHILOX_W1);
  }
  return philox_round(c, k);
}

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
