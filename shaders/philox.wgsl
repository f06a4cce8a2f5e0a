// Philox 4x32-10, the counter-based generator shared by dropout.wgsl and augment.wgsl.
// Not a kernel on its own: a kernel includes it by a PHILOX placeholder line (see defineKernel in src/runtime/kernel.ts).

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
