// Philox 4x32-10, the counter-based generator shared by dropout.wgsl and augment.wgsl.
// Not a kernel on its own: a kernel includes it by a PHILOX placeholder line (see defineKernel in src/runtime/kernel.ts).

// Philox 4x32 constants (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC11).
const PHILOX_M0 = 0xD2511F53u;
const PHILOX_M1 = 0xCD9E8D57u;
const PHILOX_W0 = 0x9E3779B9u;
const PHILOX_W1 = 0xBB67AE85u;

// The full 64-bit product a * b as (hi, lo). WGSL has no 64-bit integers and no mul-high, so the
// high word is assembled from 16-bit limbs (Hacker's Delight, mulhu): every partial sum below
// stays under 2^32 (t <= (2^16 - 1)^2 + 2^16 - 1, and so for w1); the low word is the wrapping
// 32-bit product, which WGSL's u32 multiply gives exactly.
fn mulhilo(a: u32, b: u32) -> vec2u {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let t = a1 * b0 + ((a0 * b0) >> 16u);
  let w1 = a0 * b1 + (t & 0xffffu);
  return vec2u(a1 * b1 + (t >> 16u) + (w1 >> 16u), a * b);
}

// The high words of PHILOX_M0 * b and PHILOX_M1 * b, with the multiplier's limbs written as
// constants: the round function is nearly all of a dropout thread's work, and a software
// rasteriser (SwiftShader) folds nothing, so every operation saved here is time saved there.
//
// M0 = 0xD251 * 2^16 + 0x1F53. Its low limb is small, so the whole middle column fits in 32 bits
// without a carry split: 0xD251 * b0 + 0x1F53 * b1 + ((0x1F53 * b0) >> 16)
// <= (0xD251 + 0x1F53) * 0xFFFF + 0x1F52 = 4054003118 < 2^32.
fn philox_mulhi_m0(b: u32) -> u32 {
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let mid = 0xD251u * b0 + 0x1F53u * b1 + ((0x1F53u * b0) >> 16u);
  return 0xD251u * b1 + (mid >> 16u);
}

// M1 = 0xCD9E * 2^16 + 0x8D57: both limbs are large, so the middle column is summed in two
// steps as in mulhilo (each under 2^32).
fn philox_mulhi_m1(b: u32) -> u32 {
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let t = 0xCD9Eu * b0 + ((0x8D57u * b0) >> 16u);
  let w1 = 0x8D57u * b1 + (t & 0xffffu);
  return 0xCD9Eu * b1 + (t >> 16u) + (w1 >> 16u);
}

// One round: (hi(M1 * c.z) ^ c.y ^ k.x, lo(M1 * c.z), hi(M0 * c.x) ^ c.w ^ k.y, lo(M0 * c.x)).
fn philox_round(c: vec4u, k: vec2u) -> vec4u {
  return vec4u(
    philox_mulhi_m1(c.z) ^ c.y ^ k.x,
    PHILOX_M1 * c.z,
    philox_mulhi_m0(c.x) ^ c.w ^ k.y,
    PHILOX_M0 * c.x
  );
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
