// Fused dropout: the keep mask is drawn from Philox 4x32-10 and kept values are scaled, in one pass.
//
//   y[i] = keep(i) ? x[i] * scale : 0.0      with scale = f32(1 / (1 - p)), rounded on the host
//
// The mask is a pure function of (seed, offset, i), never of the launch shape:
//   block c = floor(i / 8) and j = i % 8,
//   words = Philox4x32-10(counter = (c, offset_lo, offset_hi, 0), key = (seed_lo, seed_hi)),
//   draw(i) = the low 16 bits of words[j] for j < 4, the high 16 bits of words[j - 4] for j >= 4,
//   keep(i) = (draw(i) >= threshold), threshold = round(p * 2^16) in 0 .. 2^16 (host side),
// so P(keep) = 1 - threshold / 2^16: the rate is p rounded to a multiple of 1/65536 (p = 0.1 drops
// with probability 6554/65536 = 0.100006; a p within 2^-17 of 1 drops everything). Any tensor drawn with the same seed and offset therefore agrees
// on element i, whatever its length or the workgroup size; tests/reference/philox.ts is the CPU twin.
//
// Why 16-bit draws. The generator is this kernel's arithmetic: ten rounds of two 32x32 -> 64-bit
// products, which WGSL (no 64-bit integers, no mul-high) assembles from 16-bit limbs. At one
// element per 32-bit word that cost is several times the memory traffic's on a CPU-emulated GPU
// (SwiftShader) and comparable to it on a real one; one call per eight elements halves it. A
// 1/65536 step in p is far below anything dropout is tuned to (FlashAttention quantises p to 8 bits
// for the same reason), and Philox's output bits are all equally good, so halves are as random as
// whole words; each 16-bit field drives exactly one element, so no draw is shared.
//
// Layout: thread c handles block c as two vec4s, x[2c] (elements 8c .. 8c+3, the low halves of
// words x, y, z, w) and x[2c + 1] (8c+4 .. 8c+7, the high halves), so each vec4's four keep tests
// are one vector comparison. PARTIAL (n % 4 != 0): the last vec4 is partial. It still lies inside
// the bound buffer (the pool's size classes are multiples of 256 bytes and buffers are bound whole,
// src/runtime/pool.ts), so it is read whole, but written element by element below n only: the bytes
// past n may belong to nothing today, yet a view's data must never change outside its length. That check is its
// own variant because a CPU-emulated GPU runs both sides of every branch in every thread: the
// element-wise stores add about a fifth to the kernel's time there, and most tensors never need them.
//
// Backward runs this same entry point on the output gradient: dx = g * mask * scale is the forward
// formula applied to g, and the mask is regenerated from (seed, offset) instead of being stored.
// Storing it would cost a bitmask buffer kept alive from forward to backward plus a read of it in
// backward; the regeneration is a few dozen integer operations per element, cheaper than that read
// on a GPU, and it keeps the backward's traffic equal to a copy's.
//
// Dropped elements are written as exactly 0.0 with select(), not as x * 0.0: a dropped inf or NaN
// (in x, or in the incoming gradient) does not influence the output, so it must not leak into it.

struct Params {
  n: u32,
  // Keep an element when its 16-bit draw is >= threshold (at most 2^16: 2^16 keeps none).
  threshold: u32,
  scale: f32,
  _pad0: u32,
  key_lo: u32,
  key_hi: u32,
  offset_lo: u32,
  offset_hi: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4f>;

// Launch shape (the autotuner's choice per adapter, src/nn/functional/dropout.ts): WG threads per
// workgroup, each thread BLOCKS blocks of 8, one grid's width apart (block t, t + T, t + 2T, ... for
// T threads in the grid), so neighbouring threads always touch neighbouring memory. The mask is a
// function of the block index alone, so every launch shape writes the same output.
const WG = ${WG}u;
const BLOCKS = ${BLOCKS}u;

${PHILOX}

// Elements 4q .. 4q+3 given their four 16-bit draws; only those below n are written.
fn dropout_vec4(q: u32, draws: vec4u) {
  let first = 4u * q;
  let v = select(vec4f(0.0), x[q] * params.scale, draws >= vec4u(params.threshold));
#if ${PARTIAL}
  if (first + 4u <= params.n) {
    y[q] = v;
  } else if (first < params.n) {
    // The partial last vec4 holds 1 to 3 elements.
    y[q].x = v.x;
    if (first + 1u < params.n) { y[q].y = v.y; }
    if (first + 2u < params.n) { y[q].z = v.z; }
  }
#else
  if (first < params.n) { y[q] = v; }
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  let threads = nwg.x * nwg.y * WG;
  for (var b = 0u; b < BLOCKS; b++) {
    let c = t + b * threads;
    // n < 2^30 (storage buffers are under 4 GiB) and the grid has at most one thread per block, so
    // 8c < n + 8 * threads cannot wrap.
    if (8u * c >= params.n) { return; }
    let words = philox4x32_10(vec4u(c, params.offset_lo, params.offset_hi, 0u), vec2u(params.key_lo, params.key_hi));
    dropout_vec4(2u * c, words & vec4u(0xffffu));
    dropout_vec4(2u * c + 1u, words >> vec4u(16u));
  }
}
